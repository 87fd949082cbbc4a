//! Waiting for a result (API.md "Waiting for a result"): `Prefer: wait=N` on a gateway call
//! makes the first attempt in the request and answers 200 with the ended execution, or 202
//! when N runs out; `?wait=N` long-polls an execution. The attempt is claimed like any other,
//! so a waiting caller and a background deliverer never both send it.

use std::sync::Arc;

use crate::common::{send, Res, Store};
use crate::gateway::Api;
use bytes::Bytes;
use http::Request;
use runtype::delivery::Deliverer;
use runtype::router;
use runtype_tests::runner::{ok, Answer, Runner};
use serde_json::{json, Value};

crate::cases! {
    both: [
        a_waiting_call_gets_the_answer,
        a_wait_that_runs_out_is_202_then_the_execution_goes_on,
        a_waiting_caller_and_a_deliverer_send_each_execution_once,
        a_long_poll_answers_when_the_execution_ends,
        without_a_runner_a_wait_is_202_at_once,
        a_wait_awaits_a_deliverer_elsewhere,
    ],
}

/// An app whose process has a webhook runner at `runner`.
async fn with_runner(store: Store, runner: &Runner) -> (Api, Arc<Deliverer>) {
    let mut a = Api::new(store, json!(null), json!({})).await;
    let d = crate::common::attempt_with_webhook(&mut a.t.app, &runner.url);
    (a, d)
}

async fn call_waiting(a: &Api, prefer: &str, body: Value) -> Res {
    let req = Request::builder()
        .method("POST")
        .uri(format!("{}/answer-questions", a.base()))
        .header("authorization", format!("Bearer {}", a.key))
        .header("prefer", prefer)
        .body(Bytes::from(body.to_string()))
        .unwrap();
    send(&a.t.app, req).await
}

fn header<'a>(r: &'a Res, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn a_waiting_call_gets_the_answer(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"answer":42}"#)).await;
    let (a, _) = with_runner(store, &runner).await;
    let rounds = a.t.app.requests.rounds();
    let r = call_waiting(&a, "wait=10", json!({ "inputs": { "q": "why?" } })).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["result"], json!({ "answer": 42 }));
    assert_eq!(r.body["attempts"], 1);
    assert_eq!(header(&r, "preference-applied"), Some("wait=10"));
    assert_eq!(header(&r, "location"), r.body["statusUrl"].as_str());
    // the admitted call's three, then the attempt's claim and outcome, and one read
    let used = a.t.app.requests.rounds() - rounds;
    assert!(used <= 6, "{used} round trips");
    assert_eq!(runner.count(), 1);
    // a wait past the most is the most; a malformed one is none
    let r = call_waiting(&a, "respond-async, wait=3600", json!({})).await;
    assert_eq!(header(&r, "preference-applied"), Some("wait=25"));
    let r = call_waiting(&a, "wait=soon", json!({})).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert!(header(&r, "preference-applied").is_none());
}

async fn a_wait_that_runs_out_is_202_then_the_execution_goes_on(store: Store) {
    // the first attempt is answered 503: retried later, past the caller's wait
    let runner = Runner::start(|n, _| match n {
        0 => Answer::Status(503, String::new()),
        _ => ok(r#"{"late":true}"#),
    })
    .await;
    let (a, d) = with_runner(store, &runner).await;
    let r = call_waiting(&a, "wait=1", json!({})).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert!(header(&r, "preference-applied").is_none());
    let id = r.id();
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert_eq!(
        (e.body["status"].clone(), e.body["attempts"].clone()),
        (json!("queued"), json!(1))
    );
    // delivery goes on as always: the retry, when due
    a.t.app
        .clock
        .set(a.t.app.clock.now() + chrono::Duration::minutes(1));
    d.pass().await.unwrap();
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert_eq!(e.body["status"], "completed");
    assert_eq!(e.body["result"], json!({ "late": true }));
    assert_eq!(runner.count(), 2);
}

/// Many trials of a waiting caller racing a background pass: each execution reaches the
/// runner exactly once.
async fn a_waiting_caller_and_a_deliverer_send_each_execution_once(store: Store) {
    let runner = Runner::start(|_, _| ok("{}")).await;
    let (a, d) = with_runner(store, &runner).await;
    let mut made = Vec::new();
    for _ in 0..15 {
        let (r, _) = tokio::join!(call_waiting(&a, "wait=5", json!({})), d.pass());
        assert!(r.status == 200 || r.status == 202, "{r:?}");
        made.push(r.id());
    }
    // whatever is left, delivered by passes
    d.pass().await.unwrap();
    let mut sent: Vec<String> = runner
        .received()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    sent.sort();
    made.sort();
    assert_eq!(sent, made, "each execution sent once");
}

async fn a_long_poll_answers_when_the_execution_ends(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"done":1}"#)).await;
    let (a, d) = with_runner(store, &runner).await;
    let id = a.invoke(json!({})).await.id();
    let path = format!("{}/executions/{id}", a.base());
    // still queued: the poll answers after its wait, with the state then, having read the
    // execution at most once a second
    let started = std::time::Instant::now();
    let requests = a.t.app.requests.get();
    let r = a
        .gw("GET", &format!("{path}?wait=2"), Some(&a.key), None)
        .await;
    assert_eq!((r.status, r.body["status"].clone()), (200, json!("queued")));
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
    let used = a.t.app.requests.get() - requests;
    eprintln!("a 2 s long poll: {used} storage requests");
    // the door (2), the execution read beside the read window (2), then the poll's reads: at
    // once, at 1 s and at 2 s
    assert!(used <= 7, "{used} storage requests for a 2 s poll");
    // delivered meanwhile: the poll answers at once (and the owner's the same)
    d.pass().await.unwrap();
    let r = a
        .gw("GET", &format!("{path}?wait=25"), Some(&a.key), None)
        .await;
    assert_eq!(r.body["status"], "completed", "{r:?}");
    let r =
        a.t.call(
            "GET",
            &format!("/v1/products/{}/executions/{id}?wait=25", a.p),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "completed", "{r:?}");
}

async fn without_a_runner_a_wait_is_202_at_once(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let r = call_waiting(&a, "wait=25", json!({})).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert!(header(&r, "preference-applied").is_none());
}

/// Where the runner is another process's (on AWS: the stream-triggered delivery function), a
/// waiting call awaits the execution's end, reading it once a second.
async fn a_wait_awaits_a_deliverer_elsewhere(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"elsewhere":true}"#)).await;
    let (mut a, d) = with_runner(store, &runner).await;
    a.t.app.deliverer = None;
    a.t.app.config.runner.kind = runtype::config::RunnerKind::Webhook;
    // the other deliverer goes when told of the new execution, as the stream tells it
    let elsewhere = async {
        a.t.app.new_executions.notified().await;
        d.pass().await
    };
    let (r, passed) = tokio::join!(call_waiting(&a, "wait=5", json!({})), elsewhere);
    assert_eq!(passed.unwrap().delivered, 1);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"], json!({ "elsewhere": true }));
    assert_eq!(header(&r, "preference-applied"), Some("wait=5"));
    assert_eq!(runner.count(), 1);
}
