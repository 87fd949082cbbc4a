//! Runners that answer later (API.md): a webhook runner's 202 leaves the execution running,
//! its delivery carries `data.callback {url, token}`, and `POST /v1/executions/:id/complete`
//! with that token ends it; repeated and conflicting reports; the report timeout; the token
//! never at rest, never in an answer but the delivery.

use bytes::Bytes;
use http::Request;
use runtype::delivery::runner::Settings;
use runtype::delivery::{Deliverer, Summary};
use runtype::router;
use runtype_tests::runner::{Answer, Runner};
use serde_json::{json, Value};

use crate::common::{send, Res, Store};
use crate::gateway::Api;

crate::cases! {
    both: [
        a_runner_that_accepts_reports_later,
        reports_are_checked_and_repeatable,
        a_silent_runner_fails_the_execution,
        a_schedule_run_completes_from_a_report,
        a_replayed_report_needs_its_token,
    ],
}

async fn runner_202() -> Runner {
    Runner::start(|_, _| Answer::Status(202, String::new())).await
}

fn deliverer(a: &Api, runner: &Runner) -> Deliverer {
    Deliverer::new(
        a.t.app.table_handle(),
        Settings::webhook(&runner.url, crate::delivery::SECRET).unwrap(),
        a.t.app.clock.clone(),
        "http://test.local",
    )
}

/// The callback a delivery carried: (url path, token).
fn callback(runner: &Runner, n: usize) -> (String, String) {
    let got = &runner.received()[n];
    let cb = &got.json()["data"]["callback"];
    let url = cb["url"].as_str().expect("a callback url");
    let path = url
        .strip_prefix("http://test.local")
        .expect("under the public URL");
    (path.to_string(), cb["token"].as_str().unwrap().to_string())
}

async fn report(a: &Api, path: &str, token: Option<&str>, body: Value) -> Res {
    let mut b = Request::builder().method("POST").uri(path);
    if let Some(token) = token {
        b = b.header("authorization", format!("Bearer {token}"));
    }
    let req = b.body(Bytes::from(body.to_string())).unwrap();
    send(&a.t.app, req).await
}

async fn a_runner_that_accepts_reports_later(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let runner = runner_202().await;
    let d = deliverer(&a, &runner);
    let id = a.invoke(json!({ "inputs": { "q": 1 } })).await.id();
    let summary = d.pass().await.unwrap();
    assert_eq!(
        summary,
        Summary {
            accepted: 1,
            ..Summary::default()
        }
    );
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert_eq!(
        (e.body["status"].clone(), e.body["attempts"].clone()),
        (json!("running"), json!(1))
    );
    // no retry while it waits for the report
    a.t.app
        .clock
        .set(a.t.app.clock.now() + chrono::Duration::minutes(30));
    assert_eq!(d.pass().await.unwrap(), Summary::default());
    assert_eq!(runner.count(), 1);
    let (path, token) = callback(&runner, 0);
    assert_eq!(path, format!("/v1/executions/{id}/complete"));
    assert!(token.len() >= 43, "32 random bytes at least: {token}");
    let r = report(
        &a,
        &path,
        Some(&token),
        json!({ "status": "completed", "result": { "answer": 7 } }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["result"], json!({ "answer": 7 }));
    // the token is nowhere but in the delivery: not at rest, not in an answer
    let stored = crate::common::everything_stored(&a.t).await;
    assert!(
        !stored.contains(&token),
        "the callback token reached storage"
    );
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert!(!e.body.to_string().contains(&token));
    assert!(!r.body.to_string().contains(&token));
}

async fn reports_are_checked_and_repeatable(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let runner = runner_202().await;
    let d = deliverer(&a, &runner);
    let first = a.invoke(json!({})).await.id();
    let second = a.invoke(json!({})).await.id();
    d.pass().await.unwrap();
    let tokens: Vec<(String, String)> = (0..2).map(|n| callback(&runner, n)).collect();
    let (path, token) = tokens
        .iter()
        .find(|(p, _)| p.contains(&first))
        .cloned()
        .unwrap();
    let (_, other_token) = tokens
        .iter()
        .find(|(p, _)| p.contains(&second))
        .cloned()
        .unwrap();
    let done = json!({ "status": "completed", "result": { "n": 1 } });
    // no token, a wrong one, another execution's, an unknown execution: 401 alike
    for (p, t) in [
        (path.as_str(), None),
        (path.as_str(), Some("cb_wrong")),
        (path.as_str(), Some(other_token.as_str())),
        (
            "/v1/executions/exec_00000000000000000000000000/complete",
            Some(token.as_str()),
        ),
        ("/v1/executions/nope/complete", Some(token.as_str())),
    ] {
        let r = report(&a, p, t, done.clone()).await;
        assert_eq!(r.status, 401, "{p} {t:?}: {r:?}");
    }
    // a bad body: 400 with details, and nothing changes
    let bad = report(
        &a,
        &path,
        Some(&token),
        json!({ "status": "maybe", "error": 5 }),
    )
    .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.has_detail("status", "INVALID_ENUM") && bad.has_detail("error", "INVALID_TYPE"));
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &first], None)
            .await
            .expect(200);
    assert_eq!(e.body["status"], "running");
    // the report; the same again: 200 again; another: 409
    let r = report(&a, &path, Some(&token), done.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let again = report(&a, &path, Some(&token), done.clone()).await;
    assert_eq!(
        (again.status, again.body["id"].clone()),
        (200, json!(first))
    );
    let changed = report(
        &a,
        &path,
        Some(&token),
        json!({ "status": "failed", "error": "no" }),
    )
    .await;
    assert_eq!(changed.status, 409, "{changed:?}");
    // a failure report fails the other
    let (path2, _) = tokens
        .iter()
        .find(|(p, _)| p.contains(&second))
        .cloned()
        .unwrap();
    let r = report(
        &a,
        &path2,
        Some(&other_token),
        json!({ "status": "failed", "error": "gave up" }),
    )
    .await;
    assert_eq!(
        (r.status, r.body["status"].clone(), r.body["error"].clone()),
        (200, json!("failed"), json!("gave up"))
    );
}

async fn a_silent_runner_fails_the_execution(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let runner = runner_202().await;
    let d = deliverer(&a, &runner);
    let first = a.invoke(json!({})).await.id();
    let second = a.invoke(json!({})).await.id();
    d.pass().await.unwrap();
    // past the report timeout (an hour by default): the scheduled function's sweep ends them...
    let later = a.t.app.clock.now() + chrono::Duration::minutes(61);
    let ended = runtype::repo::executions::fail_unreported(a.t.app.table(), later)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    for id in [&first, &second] {
        let e =
            a.t.send(&router::GET_EXECUTION, [&a.p, id], None)
                .await
                .expect(200);
        assert_eq!(
            (e.body["status"].clone(), e.body["error"].clone()),
            (json!("failed"), json!("the runner did not report"))
        );
        assert_eq!(e.body["attempts"], 1);
    }
    // ... and a background deliverer's pass does the same, without sending it again
    let third = a.invoke(json!({})).await.id();
    d.pass().await.unwrap();
    a.t.app.clock.set(later + chrono::Duration::minutes(61));
    let summary = d.pass().await.unwrap();
    assert_eq!(summary.failed, 1, "{summary:?}");
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &third], None)
            .await
            .expect(200);
    assert_eq!(e.body["error"], "the runner did not report");
    assert_eq!(runner.count(), 3, "nothing was sent again");
}

async fn a_schedule_run_completes_from_a_report(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let runner = runner_202().await;
    let d = deliverer(&a, &runner);
    let s = a.t.surface(&a.p, "cron", "schedule").await;
    let sched =
        a.t.send(
            &router::CREATE_SCHEDULE,
            [&a.p, &s],
            Some(json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "0 * * * *" })),
        )
        .await
        .expect(201)
        .id();
    a.t.send(&router::RUN_SCHEDULE_NOW, [&a.p, &s, &sched], None)
        .await
        .expect(202);
    d.pass().await.unwrap();
    let (path, token) = callback(&runner, 0);
    report(
        &a,
        &path,
        Some(&token),
        json!({ "status": "completed", "result": { "ok": true } }),
    )
    .await
    .expect(200);
    let runs =
        a.t.send(&router::LIST_SCHEDULE_RUNS, [&sched], None)
            .await
            .expect(200);
    assert_eq!(
        runs.body["data"][0]["status"], "completed",
        "{:?}",
        runs.body
    );
}

/// A report sent with an Idempotency-Key is replayed only to the same token: the same key and
/// body with another token is refused, never answered from the first.
async fn a_replayed_report_needs_its_token(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let runner = runner_202().await;
    let d = deliverer(&a, &runner);
    a.invoke(json!({})).await.id();
    d.pass().await.unwrap();
    let (path, token) = callback(&runner, 0);
    let body = json!({ "status": "completed", "result": "done" });
    let send_keyed = |token: String| {
        let (path, body) = (path.clone(), body.clone());
        let app = &a.t.app;
        async move {
            let req = Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("idempotency-key", "report-1")
                .body(Bytes::from(body.to_string()))
                .unwrap();
            send(app, req).await
        }
    };
    let first = send_keyed(token.clone()).await;
    assert_eq!(first.status, 200, "{first:?}");
    let stranger = send_keyed("cb_not_the_token".into()).await;
    assert_eq!(stranger.status, 401, "{stranger:?}");
    let again = send_keyed(token).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
}
