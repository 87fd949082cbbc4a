//! Delivery: executions reach a runner (a real HTTP server in the test process) — the
//! Standard Webhooks envelope and signature, Runtype's dispatch request, every retry rule,
//! run mirroring, cancel, two deliverers, secrets, cascades and retention. Time between
//! attempts is a clock the test moves.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use runtype::delivery::runner::Settings;
use runtype::delivery::{Deliverer, Summary};
use runtype::router;
use runtype::store::Key;
use runtype_tests::runner::{ok, Answer, Received, Runner};
use serde_json::{json, Value};

use crate::common::{everything_stored, Store};
use crate::gateway::Api;

crate::cases! {
    both: [
        a_large_call_and_a_large_answer_stay_within_the_record_limit,
        webhook_envelope_and_signature,
        retries_until_an_answer_with_one_webhook_id,
        retry_after_sets_the_wait,
        a_client_error_fails_at_once,
        always_failing_stops_at_the_attempt_limit,
        a_runner_that_never_answers_times_out,
        runtype_dispatch_requests,
        a_run_over_records_fans_out_and_mirrors_its_counts,
        a_fired_schedule_run_completes,
        cancel_stops_further_attempts,
        two_deliverers_send_each_attempt_once,
        secrets_stay_out_of_answers_and_storage,
        deleting_a_product_removes_its_executions_and_runs,
        executions_expire_after_retention,
        a_large_answer_is_kept_as_truncated,
    ],
}

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "rt_live_runner_token_for_tests_0123456789";

fn webhook(a: &Api, runner: &Runner, tune: impl FnOnce(&mut Settings)) -> Deliverer {
    let mut settings = Settings::webhook(&runner.url, SECRET).unwrap();
    tune(&mut settings);
    Deliverer::new(
        a.t.app.table_handle(),
        settings,
        a.t.app.clock.clone(),
        "http://test.local",
    )
}

fn runtype_runner(a: &Api, runner: &Runner) -> Deliverer {
    Deliverer::new(
        a.t.app.table_handle(),
        Settings::runtype(&runner.url, TOKEN).unwrap(),
        a.t.app.clock.clone(),
        "http://test.local",
    )
}

fn summary(delivered: usize, retried: usize, failed: usize) -> Summary {
    Summary {
        delivered,
        retried,
        failed,
        ..Summary::default()
    }
}

async fn pass(d: &Deliverer) -> Summary {
    d.pass().await.expect("a delivery pass")
}

/// A gateway call's execution id.
async fn execution(a: &Api) -> String {
    let r = a.invoke(json!({ "inputs": { "q": "why?" } })).await;
    assert_eq!(r.status, 202, "{r:?}");
    r.id()
}

async fn get_execution(a: &Api, id: &str) -> Value {
    let r = a.t.send(&router::GET_EXECUTION, [&a.p, id], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn advance(a: &Api, by: Duration) {
    a.t.app.clock.set(a.t.app.clock.now() + by);
}

/// The Standard Webhooks signature, checked with an HMAC of the test's own (ring), from the
/// specification: base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the
/// base64-decoded part of the secret after `whsec_`.
pub fn verify(got: &Received) {
    let id = got.header("webhook-id").expect("webhook-id");
    let ts = got.header("webhook-timestamp").expect("webhook-timestamp");
    let sig = got.header("webhook-signature").expect("webhook-signature");
    let key = STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&got.body);
    let expected = format!("v1,{}", STANDARD.encode(ring::hmac::sign(&key, &signed)));
    assert!(
        sig.split(' ').any(|s| s == expected),
        "signature {sig} is not {expected}"
    );
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a fresh timestamp, not {ts}");
}

async fn api(store: Store) -> Api {
    Api::new(store, json!(null), json!({ "name": "ci" })).await
}

async fn webhook_envelope_and_signature(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| ok(r#"{"answer":42}"#)).await;
    let d = webhook(&a, &runner, |_| {});
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    let got = runner.received();
    assert_eq!(got.len(), 1);
    let got = &got[0];
    verify(got);
    assert_eq!(got.header("webhook-id"), Some(id.as_str()));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let body = got.json();
    assert_eq!(body["type"], "execution.requested");
    assert!(runtype::time::parse(body["timestamp"].as_str().unwrap()).is_some());
    let data = &body["data"];
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["status"], "running");
    assert_eq!(data["attempts"], 1);
    assert_eq!(data["inputs"]["q"], "why?");
    assert_eq!(data["flowId"], "flow_1");
    assert!(data.get("owner").is_none() && data.get("delivery").is_none());
    // one runner serves every owner: it is told whose execution this is
    assert_eq!(data["ownerId"], a.t.owner.as_str());
    // the execution completed with the runner's answer
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["result"], json!({ "answer": 42 }));
    assert_eq!(e["attempts"], 1);
    assert_eq!(e["error"], Value::Null);
    assert!(e["startedAt"].is_string() && e["completedAt"].is_string());
    // and is not delivered again
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    assert_eq!(runner.count(), 1);
}

async fn retries_until_an_answer_with_one_webhook_id(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|n, _| match n {
        0 | 1 => Answer::Status(503, "busy".into()),
        _ => ok("{}"),
    })
    .await;
    let d = webhook(&a, &runner, |_| {});
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "queued", "waiting for its retry: {e}");
    assert_eq!(e["attempts"], 1);
    assert_eq!(e["error"], "the runner answered 503");
    // not before its wait (the first retry: 1 s × [0.8, 1.2])
    advance(&a, Duration::milliseconds(790));
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    advance(&a, Duration::milliseconds(411));
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    // the second retry waits 2 s × [0.8, 1.2]
    advance(&a, Duration::milliseconds(1590));
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    advance(&a, Duration::milliseconds(811));
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "completed");
    assert_eq!(e["attempts"], 3);
    assert_eq!(e["error"], Value::Null);
    let ids: Vec<_> = runner
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![id.clone(), id.clone(), id]);
}

async fn retry_after_sets_the_wait(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|n, _| match n {
        0 => Answer::With(429, vec![("retry-after", "3".into())], String::new()),
        _ => ok("{}"),
    })
    .await;
    let d = webhook(&a, &runner, |_| {});
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    advance(&a, Duration::milliseconds(2999));
    assert_eq!(pass(&d).await, summary(0, 0, 0), "Retry-After: 3 is 3 s");
    advance(&a, Duration::milliseconds(1));
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    assert_eq!(get_execution(&a, &id).await["attempts"], 2);
}

async fn a_client_error_fails_at_once(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|n, _| match n {
        0 => Answer::Status(400, r#"{"error":"bad"}"#.into()),
        _ => Answer::Status(409, String::new()),
    })
    .await;
    let d = webhook(&a, &runner, |_| {});
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 0, 1));
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(e["error"], "the runner answered 400");
    assert_eq!(e["attempts"], 1);
    assert!(e["completedAt"].is_string());
    advance(&a, Duration::hours(1));
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    // 409 (like 408 and 429) is retried, not failed
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    assert_eq!(get_execution(&a, &id).await["status"], "queued");
}

async fn always_failing_stops_at_the_attempt_limit(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| Answer::Status(500, "down".into())).await;
    let d = webhook(&a, &runner, |s| s.max_attempts = 4);
    let id = execution(&a).await;
    let mut summaries = Vec::new();
    for _ in 0..6 {
        summaries.push(pass(&d).await);
        // longer than any wait (at most five minutes)
        advance(&a, Duration::minutes(6));
    }
    assert_eq!(
        summaries,
        vec![
            summary(0, 1, 0),
            summary(0, 1, 0),
            summary(0, 1, 0),
            summary(0, 0, 1),
            summary(0, 0, 0),
            summary(0, 0, 0)
        ],
        "{summaries:?}"
    );
    assert_eq!(runner.count(), 4);
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(e["attempts"], 4);
    assert_eq!(e["error"], "the runner answered 500", "the last error");
}

async fn a_runner_that_never_answers_times_out(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| Answer::Hang).await;
    let d = webhook(&a, &runner, |s| {
        s.timeout = std::time::Duration::from_millis(300)
    });
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "queued");
    assert_eq!(e["error"], "the runner did not answer within 300 ms");
}

async fn runtype_dispatch_requests(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| ok(r#"{"executionId":"ex_1","status":"completed"}"#)).await;
    let d = runtype_runner(&a, &runner);
    let flow_exec = a
        .invoke(json!({
            "inputs": { "q": "why?" },
            "messages": [{ "role": "user", "content": "hi" }],
            "record": { "id": "rec_1", "name": "Ada" },
        }))
        .await
        .id();
    // an agent capability on another item of the surface
    let agent =
        a.t.send(
            &router::ADD_CAPABILITY,
            [&a.p],
            Some(json!({ "capabilityName": "Triage", "agentId": "agent_7" })),
        )
        .await
        .id();
    let r =
        a.t.send(
            &router::ADD_SURFACE_ITEM,
            [&a.p, &a.s],
            Some(json!({ "capabilityId": agent })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let slug = r.body["endpointSlug"].as_str().unwrap().to_string();
    let r = a
        .gw(
            "POST",
            &format!("{}/{slug}", a.base()),
            Some(&a.key),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let agent_exec = r.id();
    assert_eq!(pass(&d).await, summary(2, 0, 0));
    let got = runner.received();
    let by_key = |id: &str| {
        got.iter()
            .find(|r| r.header("idempotency-key") == Some(id))
            .unwrap_or_else(|| panic!("a dispatch keyed {id}"))
            .clone()
    };
    let flow = by_key(&flow_exec);
    assert_eq!(flow.path, "/v1/dispatch");
    assert_eq!(
        flow.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let owner = a.t.owner.as_str();
    assert_eq!(flow.header("x-runtype-owner-id"), Some(owner));
    assert_eq!(
        flow.json(),
        json!({
            "flow": { "id": "flow_1" },
            "inputs": { "q": "why?" },
            "messages": [{ "role": "user", "content": "hi" }],
            "record": { "id": "rec_1", "name": "Ada" },
            "options": { "streamResponse": false },
            "metadata": { "ownerId": owner, "executionId": flow_exec },
        })
    );
    let agent = by_key(&agent_exec);
    assert_eq!(
        agent.json(),
        json!({
            "agent": { "agentId": "agent_7" },
            "options": { "streamResponse": false },
            "metadata": { "ownerId": owner, "executionId": agent_exec },
        })
    );
    let e = get_execution(&a, &flow_exec).await;
    assert_eq!(e["result"]["executionId"], "ex_1");
}

/// A `schedule` surface with a schedule of `body`; (surface, schedule).
async fn schedule(a: &Api, body: Value) -> (String, String) {
    let s = a.surface("nightly", "schedule").await;
    let mut body = body;
    body["flowId"] = json!("flow_9");
    body["triggerType"] = json!("recurring");
    body["cron"] = json!("0 9 * * *");
    let r =
        a.t.send(&router::CREATE_SCHEDULE, [&a.p, &s], Some(body))
            .await;
    assert_eq!(r.status, 201, "{r:?}");
    (s, r.id())
}

async fn run_now(a: &Api, s: &str, sched: &str) -> String {
    let r =
        a.t.send(&router::RUN_SCHEDULE_NOW, [&a.p, s, sched], None)
            .await;
    assert_eq!(r.status, 202, "{r:?}");
    r.body["batchExecutionId"].as_str().unwrap().to_string()
}

async fn recent_run(a: &Api, s: &str, sched: &str) -> Value {
    let r =
        a.t.send(&router::GET_SCHEDULE, [&a.p, s, sched], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["recentRuns"][0].clone()
}

async fn a_run_over_records_fans_out_and_mirrors_its_counts(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, got| match got.json()["record"]["id"].as_str() {
        Some("r2") => Answer::Status(422, "no such record".into()),
        _ => ok("{}"),
    })
    .await;
    let d = runtype_runner(&a, &runner);
    let (s, sched) = schedule(
        &a,
        json!({ "recordIds": ["r1", "r2", "r3"], "inputs": { "x": 1 } }),
    )
    .await;
    let exec = run_now(&a, &s, &sched).await;
    let run = recent_run(&a, &s, &sched).await;
    assert_eq!(run["status"], "queued");
    assert_eq!(run["totalRecords"], 3);
    assert_eq!(pass(&d).await, summary(0, 0, 1));
    let got = runner.received();
    assert_eq!(got.len(), 3, "one dispatch per record");
    let mut records: Vec<_> = got
        .iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(body["flow"]["id"], "flow_9");
            assert_eq!(body["inputs"]["x"], 1);
            assert_eq!(body["options"]["streamResponse"], false);
            (
                body["record"]["id"].as_str().unwrap().to_string(),
                r.header("idempotency-key").unwrap().to_string(),
            )
        })
        .collect();
    records.sort();
    assert_eq!(
        records,
        vec![
            ("r1".to_string(), format!("{exec}:0")),
            ("r2".to_string(), format!("{exec}:1")),
            ("r3".to_string(), format!("{exec}:2")),
        ]
    );
    let run = recent_run(&a, &s, &sched).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"], "1 of 3 records failed");
    assert_eq!(run["totalRecords"], 3);
    assert_eq!(run["processedRecords"], 2);
    assert_eq!(run["failedRecords"], 1);
    assert!(run["startedAt"].is_string() && run["completedAt"].is_string());
    let e = get_execution(&a, &exec).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(
        e["result"],
        json!({ "records": 3, "processed": 2, "failed": 1 })
    );
}

async fn a_fired_schedule_run_completes(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| ok(r#"{"done":true}"#)).await;
    let d = webhook(&a, &runner, |_| {});
    let (s, sched) = schedule(&a, json!({})).await;
    // the scheduler fires it when due (its next fire was computed from the app's clock)
    let due = a.t.app.now() + Duration::days(2);
    let fired = runtype::scheduler::fire_due(a.t.app.table(), due).await;
    assert_eq!(fired.fired, 1, "{fired:?}");
    a.t.app.clock.set(due);
    let run = recent_run(&a, &s, &sched).await;
    assert_eq!(run["status"], "queued");
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    let run = recent_run(&a, &s, &sched).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(run["startedAt"].is_string() && run["completedAt"].is_string());
    assert_eq!(run["error"], Value::Null);
    let body = runner.received()[0].json();
    assert_eq!(body["data"]["source"], "schedule");
    assert_eq!(body["data"]["scheduleId"], sched.as_str());
    assert_eq!(body["data"]["runId"], run["id"]);
}

async fn cancel_stops_further_attempts(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| Answer::Status(503, String::new())).await;
    let d = webhook(&a, &runner, |_| {});
    let id = execution(&a).await;
    assert_eq!(pass(&d).await, summary(0, 1, 0));
    // under another product of the owner's it is not found, and nothing changes
    let other = a.t.product("other").await;
    let r =
        a.t.send(&router::CANCEL_EXECUTION, [&other, &id], None)
            .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (404, json!("NOT_FOUND")),
        "{r:?}"
    );
    let before = a.t.requests();
    let r = a.t.send(&router::CANCEL_EXECUTION, [&a.p, &id], None).await;
    assert_eq!(r.status, 200, "a retry-waiting execution is queued: {r:?}");
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(
        a.t.requests() - before,
        3,
        "the key, then the execution read and written once"
    );
    let r = a.t.send(&router::CANCEL_EXECUTION, [&a.p, &id], None).await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (409, json!("CONFLICT")),
        "{r:?}"
    );
    advance(&a, Duration::minutes(10));
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    assert_eq!(runner.count(), 1, "no attempt after the cancel");
    // a run's execution cancelled: the run ends failed, saying so
    let (s, sched) = schedule(&a, json!({})).await;
    let exec = run_now(&a, &s, &sched).await;
    let r =
        a.t.send(&router::CANCEL_EXECUTION, [&a.p, &exec], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(pass(&d).await, summary(0, 0, 0));
    assert_eq!(runner.count(), 1);
}

async fn two_deliverers_send_each_attempt_once(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|_, _| ok("{}")).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(execution(&a).await);
    }
    let other = a.t.sibling().await;
    let one = webhook(&a, &runner, |s| s.concurrency = 4);
    let two = Deliverer::new(
        other.table_handle(),
        Settings::webhook(&runner.url, SECRET).unwrap(),
        a.t.app.clock.clone(),
        "http://test.local",
    );
    let (x, y) = tokio::join!(pass(&one), pass(&two));
    assert_eq!(x.delivered + y.delivered, 30, "{x:?} {y:?}");
    let mut sent: Vec<_> = runner
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    sent.sort();
    ids.sort();
    assert_eq!(sent, ids, "each execution sent exactly once");
}

async fn secrets_stay_out_of_answers_and_storage(store: Store) {
    let a = api(store).await;
    let runner = Runner::start(|n, _| match n {
        0 => Answer::Status(500, String::new()),
        _ => ok("{}"),
    })
    .await;
    let d = runtype_runner(&a, &runner);
    let id = execution(&a).await;
    pass(&d).await;
    advance(&a, Duration::minutes(1));
    pass(&d).await;
    let d2 = webhook(&a, &runner, |_| {});
    execution(&a).await;
    pass(&d2).await;
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "completed");
    let list = a.t.send(&router::LIST_EXECUTIONS, [&a.p], None).await;
    let stored = everything_stored(&a.t).await;
    let webhook_key = SECRET.trim_start_matches("whsec_");
    for (what, text) in [
        ("an answer", e.to_string()),
        ("a list", list.body.to_string()),
        ("storage", stored),
        ("the settings' Debug", format!("{:?}", d.settings())),
        ("the settings' Debug", format!("{:?}", d2.settings())),
    ] {
        assert!(!text.contains(TOKEN), "the runner token is in {what}");
        assert!(
            !text.contains(webhook_key),
            "the webhook secret is in {what}"
        );
    }
}

async fn deleting_a_product_removes_its_executions_and_runs(store: Store) {
    let a = api(store).await;
    let gateway_exec = execution(&a).await;
    let (s, sched) = schedule(&a, json!({})).await;
    let run_exec = run_now(&a, &s, &sched).await;
    let run = recent_run(&a, &s, &sched).await;
    let table = a.t.app.table();
    let keys = [
        runtype::repo::layout::execution(&gateway_exec),
        runtype::repo::layout::execution(&run_exec),
        runtype::repo::layout::run(&sched, run["id"].as_str().unwrap()),
    ];
    for key in &keys {
        assert!(table.get(key).await.unwrap().is_some(), "{key:?} stored");
    }
    // deleting the schedule takes its run and execution, and nothing else
    let r =
        a.t.send(&router::DELETE_SCHEDULE, [&a.p, &s, &sched], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(table.get(&keys[1]).await.unwrap().is_none());
    assert!(table.get(&keys[2]).await.unwrap().is_none());
    assert!(table.get(&keys[0]).await.unwrap().is_some());
    let (s, sched) = schedule(&a, json!({})).await;
    let again = run_now(&a, &s, &sched).await;
    let r = a.t.send(&router::DELETE_PRODUCT, [&a.p], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    for key in [&keys[0], &runtype::repo::layout::execution(&again)] {
        assert!(table.get(key).await.unwrap().is_none(), "{key:?} remains");
    }
    let runs = table
        .query(&runtype::store::Query::partition(
            runtype::repo::layout::runs_pk(&sched),
        ))
        .await
        .unwrap();
    assert!(runs.items.is_empty(), "runs remain: {:?}", runs.items);
}

async fn executions_expire_after_retention(store: Store) {
    let a = api(store).await;
    let id = execution(&a).await;
    let (s, sched) = schedule(&a, json!({})).await;
    run_now(&a, &s, &sched).await;
    let run_id = recent_run(&a, &s, &sched).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let table = a.t.app.table();
    let days = runtype::repo::executions::retention_days();
    assert_eq!(days, 30);
    let created = a.t.app.clock.now().timestamp();
    for key in [
        runtype::repo::layout::execution(&id),
        runtype::repo::layout::run(&sched, &run_id),
    ] {
        let it = table.get(&key).await.unwrap().unwrap();
        let expires = it
            .expires_at
            .expect("an expiry (the table's TTL attribute)");
        assert_eq!(expires, created + days * 86_400, "{key:?}");
    }
    // the embedded store removes what expired on a delivery pass
    // (never ahead of the real clock: an execution made more than `days` ago is gone)
    if store == Store::Sqlite {
        use runtype::repo::Record;
        let runner = Runner::start(|_, _| ok("{}")).await;
        let d = webhook(&a, &runner, |_| {});
        let gone: Key = runtype::repo::layout::execution(&id);
        let found = table.get(&gone).await.unwrap().unwrap();
        let mut old: runtype::model::Execution = serde_json::from_value(found.data).unwrap();
        old.created_at = runtype::time::format(chrono::Utc::now() - Duration::days(days + 1));
        table
            .put(
                old.to_item(found.version + 1),
                runtype::store::Cond::Version(found.version),
            )
            .await
            .unwrap();
        let kept = runtype::repo::layout::run(&sched, &run_id);
        pass(&d).await;
        assert!(table.get(&gone).await.unwrap().is_none(), "expired: purged");
        assert!(
            table.get(&kept).await.unwrap().is_some(),
            "not expired: kept"
        );
    }
}

async fn a_large_answer_is_kept_as_truncated(store: Store) {
    let a = api(store).await;
    // just over 64 KiB of JSON
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(64 * 1024));
    let runner = Runner::start(move |n, _| match n {
        0 => ok(&big),
        _ => ok("not json"),
    })
    .await;
    let d = webhook(&a, &runner, |_| {});
    let first = execution(&a).await;
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    let e = get_execution(&a, &first).await;
    assert_eq!(e["status"], "completed");
    assert_eq!(e["result"], json!({ "truncated": true }));
    // an answer that is not JSON is kept as text
    let second = execution(&a).await;
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    assert_eq!(get_execution(&a, &second).await["result"], "not json");
}

/// A 256 KiB invocation answered with a 60 KiB result would make a record over 300 KiB: the
/// execution completes with `{"truncated": true}` as its result, and what is stored stays
/// within the limit.
async fn a_large_call_and_a_large_answer_stay_within_the_record_limit(store: Store) {
    let a = api(store).await;
    let answer = format!(r#"{{"answer":"{}"}}"#, "a".repeat(60 * 1024));
    let runner = Runner::start(move |_, _| ok(&answer)).await;
    let d = webhook(&a, &runner, |_| {});
    // as large an invocation as the gateway takes: the messages carry most of it
    let filler = "x".repeat(250 * 1024);
    let r = a
        .invoke(json!({ "messages": [{ "role": "user", "content": filler }] }))
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let id = r.id();
    assert_eq!(pass(&d).await, summary(1, 0, 0));
    let e = get_execution(&a, &id).await;
    assert_eq!(e["status"], "completed");
    assert_eq!(e["result"], json!({ "truncated": true }));
    let stored =
        a.t.app
            .table()
            .get(&runtype::repo::layout::execution(&id))
            .await
            .unwrap()
            .unwrap();
    let size = serde_json::to_vec(&stored.data).unwrap().len();
    assert!(size <= runtype::rules::MAX_RECORD, "{size} bytes stored");
}
