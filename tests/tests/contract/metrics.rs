//! Operating it (README "Operating it"): the functions' own log lines carry what each
//! invocation counted in CloudWatch Embedded Metric Format — a gateway call, a delivery (one
//! attempt completed, one failed), a scheduler pass — read from the functions' output behind
//! the Runtime API emulator and checked against the format's required structure. The local
//! `/metrics` is parsed by Prometheus' Python client in tests/protocol_clients.py.

use std::collections::BTreeMap;

use runtype::router;
use runtype_tests::runner::{ok, Answer, Runner};
use serde_json::{json, Value};

use crate::common::Store;
use crate::lambda::{event_file, webhook_via_extension, Deployment};

crate::cases! {
    both: [
        the_local_figures_count_a_scheduler_pass,
    ],
    dynamodb: [
        a_gateway_call_is_counted_in_its_log_line,
        deliveries_are_counted_by_outcome,
        a_scheduler_pass_is_counted,
    ],
    plain: [
        every_family_is_in_the_readme,
    ],
}

/// The one EMF record in a function's output, checked against the format's required
/// structure: `_aws.Timestamp` (ms), `CloudWatchMetrics[{Namespace, Dimensions, Metrics}]`,
/// every metric a top-level number (or list of numbers) and every dimension a top-level
/// string. Answers metric name → value.
fn emf(stderr: &str, namespace: &str) -> BTreeMap<String, Value> {
    let records: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(
        records.len(),
        1,
        "one metric record per invocation: {stderr}"
    );
    let r = &records[0];
    let aws = &r["_aws"];
    assert!(
        aws["Timestamp"]
            .as_i64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{r}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert_eq!(directives.len(), 1);
    let d = &directives[0];
    assert_eq!(d["Namespace"], namespace);
    for set in d["Dimensions"].as_array().expect("Dimensions") {
        for name in set.as_array().expect("a dimension set is a list") {
            let name = name.as_str().expect("dimension names are strings");
            assert!(
                r[name].is_string(),
                "dimension {name} is a top-level string: {r}"
            );
        }
    }
    let mut found = BTreeMap::new();
    for m in d["Metrics"].as_array().expect("Metrics") {
        let name = m["Name"].as_str().expect("Name").to_string();
        assert!(
            ["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap()),
            "{m}"
        );
        let v = &r[name.as_str()];
        let numeric = v.is_number() || v.as_array().is_some_and(|a| a.iter().all(Value::is_number));
        assert!(
            numeric,
            "{name} is a top-level number or list of numbers: {r}"
        );
        found.insert(name, v.clone());
    }
    // it is the invocation's own line, not one more
    assert!(r["msg"].is_string(), "{r}");
    found
}

fn namespace() -> (&'static str, String) {
    (
        "RUNTYPE_METRICS_NAMESPACE",
        "Runtype/test-stack".to_string(),
    )
}

async fn a_gateway_call_is_counted_in_its_log_line() {
    let a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    let (p, s, key) = (a.p.clone(), a.s.clone(), a.key.clone());
    let d = Deployment::on(a.t).await;
    let vars = [
        ("PRODUCT_ID", p.as_str()),
        ("SURFACE_ID", s.as_str()),
        ("SURFACE_KEY", key.as_str()),
    ];
    let mut event = event_file("invoke-surface-endpoint", &vars);
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    // the metrics are written whatever the log level
    let env = [namespace(), ("RUNTYPE_LOG_LEVEL", "warn".to_string())];
    let (res, stderr) = d
        .invoke_with("invoke-surface-endpoint", event.clone(), &env)
        .await;
    assert_eq!(res["statusCode"], 202, "{res}");
    let m = emf(&stderr, "Runtype/test-stack");
    assert_eq!(m["GatewayCallsAdmitted"], 1.0);
    assert_eq!(m["ExecutionsCreatedSurface"], 1.0);
    assert!(
        stderr.contains(r#""Function":"invoke-surface-endpoint""#),
        "{stderr}"
    );
    // a forged key: unauthorized, and nothing else
    let forged = "Bearer papi_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    event["headers"]["authorization"] = json!(forged);
    let (res, stderr) = d.invoke_with("invoke-surface-endpoint", event, &env).await;
    assert_eq!(res["statusCode"], 401, "{res}");
    let m = emf(&stderr, "Runtype/test-stack");
    assert_eq!(m.keys().collect::<Vec<_>>(), ["GatewayCallsUnauthorized"]);
}

async fn deliveries_are_counted_by_outcome() {
    let mut a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    a.t.app.clock = runtype::time::Clock::system();
    let done = a.invoke(json!({ "inputs": { "n": 1 } })).await.id();
    let refused = a.invoke(json!({ "inputs": { "n": 2 } })).await.id();
    let runner = Runner::start({
        let refused = refused.clone();
        move |_, got| match got.header("webhook-id") {
            Some(id) if id == refused => Answer::Status(400, r#"{"error":"bad input"}"#.into()),
            _ => ok(r#"{"ok":true}"#),
        }
    })
    .await;
    let extension = crate::lambda::secrets_extension().await;
    let d = Deployment::on(a.t).await;
    let env = [
        webhook_via_extension(&runner, &extension),
        vec![
            ("RETRY_QUEUE_URL", "http://127.0.0.1:9/q".to_string()),
            namespace(),
        ],
    ]
    .concat();
    let stream = event_file(
        "deliver-executions-stream",
        &[("EXECUTION_ID", &done), ("SECOND_EXECUTION_ID", &refused)],
    );
    let (res, stderr) = d.invoke_with("deliver-executions", stream, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let m = emf(&stderr, "Runtype/test-stack");
    assert_eq!(m["DeliveryAttemptsCompleted"], 1.0, "{m:?}");
    assert_eq!(m["DeliveryAttemptsFailed"], 1.0, "{m:?}");
    assert_eq!(m["DeliveryAttemptDuration"].as_array().unwrap().len(), 2);
    assert!(!m.contains_key("DeliveryAttemptsRetried"));
}

async fn a_scheduler_pass_is_counted() {
    let d = Deployment::new().await;
    let p = d.t.product("p").await;
    let s = d.t.surface(&p, "s", "schedule").await;
    let body = json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "*/5 * * * *" });
    let id =
        d.t.send(&router::CREATE_SCHEDULE, [&p, &s], Some(body))
            .await
            .expect(201)
            .id();
    let due = chrono::Utc::now() - chrono::Duration::minutes(1);
    crate::common::make_due(&d.t.app, &p, &s, &id, due).await;
    let (res, stderr) = d
        .invoke_with(
            "fire-schedules",
            event_file("fire-schedules", &[]),
            &[namespace()],
        )
        .await;
    assert_eq!(res["fired"], 1, "{res}");
    let m = emf(&stderr, "Runtype/test-stack");
    assert_eq!(m["SchedulerDue"], 1.0, "{m:?}");
    assert_eq!(m["SchedulerFired"], 1.0);
    assert_eq!(m["ExecutionsCreatedSchedule"], 1.0);
    assert_eq!(m["SchedulerPassDuration"].as_array().unwrap().len(), 1);
    assert!(!m.contains_key("SchedulerDeferred"));
}

/// The README's metrics table names every family, by both its names.
fn every_family_is_in_the_readme() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for f in runtype::metrics::FAMILIES {
        let prom = format!("runtype_{}", f.name);
        assert!(readme.contains(&prom), "README names {prom}");
        assert!(readme.contains(f.emf), "README names {}", f.emf);
    }
}

fn figure(family: &runtype::metrics::Family, value: Option<&str>) -> (u64, f64) {
    runtype::metrics::snapshot()
        .into_iter()
        .find(|f| std::ptr::eq(f.family, family) && f.value == value)
        .map(|f| (f.count, f.sum_secs))
        .unwrap()
}

/// The figures `/metrics` shows (the process's own) count a pass: its due occurrence, fired,
/// the execution it made, and its duration. Other tests in this process count too, so each
/// figure is compared by how much it grew.
async fn the_local_figures_count_a_scheduler_pass(store: Store) {
    use runtype::metrics::{EXECUTIONS_CREATED, SCHEDULER_OCCURRENCES, SCHEDULER_PASS_DURATION};
    let t = crate::common::TestApp::new(store).await;
    let p = t.product("p").await;
    let s = t.surface(&p, "s", "schedule").await;
    let body = json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "*/5 * * * *" });
    let id = t
        .send(&router::CREATE_SCHEDULE, [&p, &s], Some(body))
        .await
        .expect(201)
        .id();
    crate::common::make_due(
        &t.app,
        &p,
        &s,
        &id,
        t.app.now() - chrono::Duration::minutes(1),
    )
    .await;
    let table = t.app.table();
    let before = (
        figure(&SCHEDULER_OCCURRENCES, Some("fired")).0,
        figure(&SCHEDULER_OCCURRENCES, Some("due")).0,
        figure(&EXECUTIONS_CREATED, Some("schedule")).0,
        figure(&SCHEDULER_PASS_DURATION, None).0,
    );
    let summary = runtype::scheduler::fire_due(table, t.app.now()).await;
    assert!(summary.fired >= 1, "{summary:?}");
    assert!(figure(&SCHEDULER_OCCURRENCES, Some("fired")).0 > before.0);
    assert!(figure(&SCHEDULER_OCCURRENCES, Some("due")).0 > before.1);
    assert!(figure(&EXECUTIONS_CREATED, Some("schedule")).0 > before.2);
    assert!(figure(&SCHEDULER_PASS_DURATION, None).0 > before.3);
}
