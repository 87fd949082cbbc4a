//! The Lambda functions as real processes behind a Runtime API emulator (what `sam local
//! invoke` does, without Docker), fed the API Gateway HTTP API v2 event files kept under
//! `tests/events/`, against DynamoDB Local.

use runtype::router;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::Store;
use runtype::model::ExecutionStatus;
use runtype::repo::Record;
use runtype::store::{Cond, Query};
use runtype_tests::runtime_api::{binaries_dir, spawn_function, Outcome, RuntimeApi};
use serde_json::{json, Value};

crate::cases! {
    dynamodb: [
        functions_serve_api_gateway_events,
        fire_schedules_runs_a_pass_on_an_eventbridge_event,
        deliver_executions_takes_stream_and_queue_events,
        deliver_executions_can_read_its_secret_from_the_extension,
        functions_answer_only_their_route_to_sam_events,
        deliver_executions_takes_sam_events,
        a_gateway_function_makes_a_waiting_callers_attempt,
    ],
}

pub struct Deployment {
    pub t: crate::common::TestApp,
    table: String,
}

impl Deployment {
    pub async fn new() -> Deployment {
        Deployment::on(crate::common::TestApp::new(Store::Dynamo).await).await
    }

    /// A deployment over `t`'s DynamoDB table.
    pub async fn on(t: crate::common::TestApp) -> Deployment {
        let table = match &t.backend {
            runtype::app::Backend::DynamoDb { table, .. } => table.clone(),
            _ => unreachable!(),
        };
        Deployment { t, table }
    }

    /// Run `function` for one event as a fresh process; answers its Lambda response.
    async fn invoke(&self, function: &str, event: Value) -> Value {
        self.invoke_with(function, event, &[]).await.0
    }

    /// `invoke` with more environment; also answers what the function wrote to stderr.
    pub async fn invoke_with(
        &self,
        function: &str,
        event: Value,
        extra: &[(&str, String)],
    ) -> (Value, String) {
        let binary = binaries_dir().join(function);
        assert!(
            binary.exists(),
            "{} is not built: the test command builds every function first (cargo build --workspace --bins)",
            binary.display()
        );
        let mut env = vec![
            ("TABLE_NAME", self.table.clone()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                crate::common::dynamo_endpoint(),
            ),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ];
        env.extend(extra.iter().cloned());
        // A Runtime API of its own, as each Lambda execution environment has: a killed
        // process's pending `next` poll must not take the following invocation's event.
        let api = RuntimeApi::start().await;
        let mut child = spawn_function(&binary, &api, &env);
        let id = api.push(event);
        let outcome = api.outcome(&id, Duration::from_secs(30)).await;
        let _ = child.kill();
        let stderr = child
            .wait_with_output()
            .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
            .unwrap_or_default();
        match outcome {
            Some((Outcome::Response(v), _)) => (v, stderr),
            other => panic!("{function} gave {other:?}; stderr: {stderr}"),
        }
    }
}

pub fn event_file(name: &str, vars: &[(&str, &str)]) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(format!("{name}.json"));
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(!text.contains("{{"), "{name}: a placeholder was left");
    serde_json::from_str(&text).unwrap()
}

/// The Parameters and Secrets extension's local endpoint (a fake): the runner's secret, to a
/// caller presenting the session token `webhook_via_extension` gives the function.
pub async fn secrets_extension() -> runtype_tests::runner::Runner {
    use runtype_tests::runner::{ok, Answer, Runner};
    Runner::start(|_, got| {
        if got.header("x-aws-parameters-secrets-token") != Some("session-token") {
            return Answer::Status(403, "{}".into());
        }
        ok(
            &json!({ "Name": "runtype/runner", "SecretString": crate::delivery::SECRET })
                .to_string(),
        )
    })
    .await
}

/// A webhook runner at `runner` whose secret the function reads from the Parameters and
/// Secrets extension at `extension` (`secrets_extension`), with the session token it checks.
pub fn webhook_via_extension(
    runner: &runtype_tests::runner::Runner,
    extension: &runtype_tests::runner::Runner,
) -> Vec<(&'static str, String)> {
    vec![
        ("RUNTYPE_RUNNER", "webhook".to_string()),
        ("RUNTYPE_RUNNER_URL", runner.url.clone()),
        ("RUNTYPE_RUNNER_SECRET_ID", "runtype/runner".to_string()),
        ("RUNTYPE_RUNNER_SECRET_SOURCE", "extension".to_string()),
        (
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.url.rsplit(':').next().unwrap().to_string(),
        ),
        ("AWS_SESSION_TOKEN", "session-token".to_string()),
    ]
}

/// The status and parsed body of an API Gateway (payload 2.0) response.
fn answer(res: &Value) -> (u16, Value) {
    let status = res["statusCode"].as_u64().expect("statusCode") as u16;
    let body = serde_json::from_str(res["body"].as_str().unwrap_or("null")).expect("JSON body");
    (status, body)
}

async fn functions_serve_api_gateway_events() {
    let d = Deployment::new().await;
    let key = d.t.key.clone();

    let res = d
        .invoke(
            "create-product",
            event_file("create-product", &[("KEY", &key)]),
        )
        .await;
    let (status, product) = answer(&res);
    assert_eq!(status, 201, "{res}");
    assert_eq!(product["name"], "Support assistant");
    assert_eq!(
        res["headers"]["x-request-id"], "req-create-product-Jx8Hs0AAA=",
        "the API Gateway request id"
    );
    assert_eq!(res["headers"]["content-type"], "application/json");
    let p = product["id"].as_str().unwrap().to_string();

    let res = d
        .invoke(
            "create-surface",
            event_file("create-surface", &[("KEY", &key), ("PRODUCT_ID", &p)]),
        )
        .await;
    let (status, surface) = answer(&res);
    assert_eq!(status, 201, "{res}");
    let s = surface["id"].as_str().unwrap().to_string();
    // no public URL configured: the endpoint comes from the request's host
    assert_eq!(
        surface["endpoint"],
        format!("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/products/{p}/surfaces/{s}/api")
    );

    let c = d.t.capability(&p, "Answer questions").await;
    let vars = [
        ("KEY", key.as_str()),
        ("PRODUCT_ID", p.as_str()),
        ("SURFACE_ID", s.as_str()),
        ("CAPABILITY_ID", c.as_str()),
    ];
    let res = d
        .invoke("add-surface-item", event_file("add-surface-item", &vars))
        .await;
    let (status, item) = answer(&res);
    assert_eq!(status, 201, "{res}");
    assert_eq!(item["endpointSlug"], "answer-questions");

    let res = d
        .invoke(
            "create-surface-key",
            event_file("create-surface-key", &vars),
        )
        .await;
    let (status, created) = answer(&res);
    assert_eq!(status, 201, "{res}");
    let plaintext = created["key"].as_str().unwrap();
    assert!(plaintext.starts_with("papi_live_"));
    assert_eq!(created["scopeTargetIds"], json!([item["id"]]));

    let res = d
        .invoke("get-surface", event_file("get-surface", &vars))
        .await;
    let (status, got) = answer(&res);
    assert_eq!(status, 200, "{res}");
    assert_eq!(got["items"][0]["capabilityName"], "Answer questions");
    assert_eq!(got["keys"][0]["id"], created["id"]);
    assert!(!res.to_string().contains(plaintext));

    // the key opens the surface's endpoint: 202, an execution, its Location; the same
    // Idempotency-Key again answers the same execution
    let gw = [
        ("SURFACE_KEY", plaintext),
        ("PRODUCT_ID", p.as_str()),
        ("SURFACE_ID", s.as_str()),
    ];
    let res = d
        .invoke(
            "invoke-surface-endpoint",
            event_file("invoke-surface-endpoint", &gw),
        )
        .await;
    let (status, execution) = answer(&res);
    assert_eq!(status, 202, "{res}");
    assert_eq!(execution["source"], "surface");
    assert_eq!(execution["inputs"]["question"], "What is new?");
    assert_eq!(res["headers"]["location"], execution["statusUrl"]);
    assert_eq!(res["headers"]["cache-control"], "no-store");
    let again = d
        .invoke(
            "invoke-surface-endpoint",
            event_file("invoke-surface-endpoint", &gw),
        )
        .await;
    assert_eq!(answer(&again).1["id"], execution["id"]);
    assert_eq!(again["headers"]["idempotent-replayed"], "true");

    // behind a function URL there are no pathParameters: ids come from the raw path
    let mut raw = event_file("get-surface", &vars);
    raw.as_object_mut().unwrap().remove("pathParameters");
    let (status, got) = answer(&d.invoke("get-surface", raw).await);
    assert_eq!((status, got["id"].clone()), (200, json!(s)));

    // the function serves its route only, with the contract's errors
    let mut bad = event_file("create-product", &[("KEY", "rt_live_nope")]);
    bad["body"] = json!("{\"name\":");
    let (status, err) = answer(&d.invoke("create-product", bad).await);
    assert_eq!((status, err["code"].clone()), (401, json!("UNAUTHORIZED")));
    let mut malformed = event_file("create-product", &[("KEY", &key)]);
    malformed["body"] = json!("{\"name\":");
    let (status, err) = answer(&d.invoke("create-product", malformed).await);
    assert_eq!((status, err["code"].clone()), (400, json!("INVALID_JSON")));
}

async fn fire_schedules_runs_a_pass_on_an_eventbridge_event() {
    let d = Deployment::new().await;
    let p = d.t.product("p").await;
    let s = d.t.surface(&p, "s", "schedule").await;
    let r = d
        .t
        .send(&router::CREATE_SCHEDULE, [&p, &s],
            Some(json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "*/5 * * * *", "recordIds": ["a"] })),
        )
        .await.expect(201);
    let id = r.id();
    // make it due: its next fire a minute ago
    let due = chrono::Utc::now() - chrono::Duration::minutes(1);
    crate::common::make_due(&d.t.app, &p, &s, &id, due).await;
    let table = d.t.app.table();

    let res = d
        .invoke("fire-schedules", event_file("fire-schedules", &[]))
        .await;
    assert_eq!(res["fired"], 1, "{res}");
    assert_eq!(res["failed"], 0);
    let runs = table
        .query(&Query::partition(format!("SCHEDULE#{id}")))
        .await
        .unwrap();
    assert_eq!(runs.items.len(), 1, "the schedule fired");
    assert_eq!(runs.items[0].data["status"], "queued");
    // a second tick finds nothing due
    let res = d
        .invoke("fire-schedules", event_file("fire-schedules", &[]))
        .await;
    assert_eq!(res["fired"], 0, "{res}");
}

/// The delivery function behind the emulator: a stream batch of two new executions (one
/// the runner takes, one it answers 503 — queued for retry on SQS with its delay), then a
/// queue batch with the retry (taken) and an unknown execution (nothing to do). The
/// webhook secret comes from a Secrets Manager endpoint (fake, in the test), read once.
async fn deliver_executions_takes_stream_and_queue_events() {
    use runtype_tests::runner::{ok, Answer, Runner};
    let mut a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    // the function keeps real time: executions made now are due now
    a.t.app.clock = runtype::time::Clock::system();
    let first = a.invoke(json!({ "inputs": { "n": 1 } })).await.id();
    let second = a.invoke(json!({ "inputs": { "n": 2 } })).await.id();
    let runner = Runner::start({
        let second = second.clone();
        move |n, got| match got.header("webhook-id") {
            Some(id) if id == second && n < 2 => Answer::Status(503, String::new()),
            _ => ok(r#"{"ok":true}"#),
        }
    })
    .await;
    // Secrets Manager and SQS, as far as the function speaks to them
    let aws = Runner::start(|_, got| {
        let json = |body: Value| {
            Answer::With(
                200,
                vec![("content-type", "application/x-amz-json-1.0".into())],
                body.to_string(),
            )
        };
        match got.header("x-amz-target") {
            Some("secretsmanager.GetSecretValue") => json(json!({
                "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:runtype/runner-AbCdEf",
                "Name": "runtype/runner",
                "SecretString": crate::delivery::SECRET,
                "VersionId": "v1",
            })),
            Some("AmazonSQS.SendMessage") => json(json!({
                "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
                // (the Rust SDK does not check it)
                "MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e",
            })),
            _ => Answer::Status(400, "{}".into()),
        }
    })
    .await;
    let d = Deployment::on(a.t).await;
    let env = [
        ("RUNTYPE_RUNNER", "webhook".to_string()),
        ("RUNTYPE_RUNNER_URL", runner.url.clone()),
        ("RUNTYPE_RUNNER_SECRET_ID", "runtype/runner".to_string()),
        ("AWS_ENDPOINT_URL_SECRETSMANAGER", aws.url.clone()),
        ("AWS_ENDPOINT_URL_SQS", aws.url.clone()),
        (
            "RETRY_QUEUE_URL",
            format!("{}/123456789012/runtype-delivery-retries", aws.url),
        ),
    ];
    let stream = event_file(
        "deliver-executions-stream",
        &[("EXECUTION_ID", &first), ("SECOND_EXECUTION_ID", &second)],
    );
    let (res, stderr) = d.invoke_with("deliver-executions", stream, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let got = runner.received();
    assert_eq!(got.len(), 2, "one attempt each");
    for g in &got {
        crate::delivery::verify(g);
    }
    let table = d.t.app.table();
    let read = |id: String| async move {
        let it = table
            .get(&runtype::repo::layout::execution(&id))
            .await
            .unwrap()
            .unwrap();
        (
            serde_json::from_value::<runtype::model::Execution>(it.data.clone()).unwrap(),
            it.version,
        )
    };
    let (done, _) = read(first.clone()).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.result, Some(json!({ "ok": true })));
    let (mut waiting, version) = read(second.clone()).await;
    assert_eq!(waiting.status, ExecutionStatus::Queued);
    assert_eq!(waiting.attempts, 1);
    let calls = aws.received();
    let targets: Vec<_> = calls.iter().map(|c| c.header("x-amz-target")).collect();
    assert_eq!(
        targets,
        vec![
            Some("secretsmanager.GetSecretValue"),
            Some("AmazonSQS.SendMessage")
        ],
        "the secret read once, one retry queued"
    );
    let sent = calls[1].json();
    assert_eq!(
        serde_json::from_str::<Value>(sent["MessageBody"].as_str().unwrap()).unwrap(),
        json!({ "executionId": second })
    );
    let delay = sent["DelaySeconds"].as_i64().unwrap();
    assert!((1..=2).contains(&delay), "the first retry's wait: {delay}");
    assert!(
        !stderr.contains(crate::delivery::SECRET.trim_start_matches("whsec_")),
        "the secret is not logged"
    );

    // the retry comes back from the queue once due (made due here rather than waited for)
    waiting.delivery.next_attempt_at = Some(runtype::time::format(chrono::Utc::now()));
    table
        .put(waiting.to_item(version + 1), Cond::Version(version))
        .await
        .unwrap();
    let queue = event_file("deliver-executions-queue", &[("EXECUTION_ID", &second)]);
    let (res, stderr) = d.invoke_with("deliver-executions", queue, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let (done, _) = read(second.clone()).await;
    assert_eq!(done.status, ExecutionStatus::Completed);
    assert_eq!(done.attempts, 2);
    assert_eq!(runner.count(), 3);
    assert_eq!(
        aws.count(),
        3,
        "a second cold start reads the secret again, and queues nothing"
    );
}

/// With `RUNTYPE_RUNNER_SECRET_SOURCE=extension` the secret comes from the Parameters and
/// Secrets extension's local endpoint (a fake here), authorised by the session token.
async fn deliver_executions_can_read_its_secret_from_the_extension() {
    use runtype_tests::runner::{ok, Runner};
    let mut a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    // the function keeps real time: executions made now are due now
    a.t.app.clock = runtype::time::Clock::system();
    let id = a.invoke(json!({})).await.id();
    let runner = Runner::start(|_, _| ok("{}")).await;
    let extension = secrets_extension().await;
    let d = Deployment::on(a.t).await;
    let env = [
        webhook_via_extension(&runner, &extension),
        vec![("RETRY_QUEUE_URL", "http://127.0.0.1:9/q".to_string())],
    ]
    .concat();
    let stream = event_file(
        "deliver-executions-stream",
        &[("EXECUTION_ID", &id), ("SECOND_EXECUTION_ID", &id)],
    );
    let (res, stderr) = d.invoke_with("deliver-executions", stream, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let calls = extension.received();
    assert_eq!(calls.len(), 1, "read once");
    assert_eq!(calls[0].path, "/secretsmanager/get");
    let got = runner.received();
    assert_eq!(got.len(), 1, "the same execution named twice is sent once");
    crate::delivery::verify(&got[0]);
}

/// Events made by `sam local generate-event apigateway http-api-proxy` (edited to carry real
/// paths and a key; they keep SAM's base64 body, cookies, query string, authorizer block and
/// sample `pathParameters`): a function answers its own route's method and path only.
async fn functions_answer_only_their_route_to_sam_events() {
    let d = Deployment::new().await;
    let key = d.t.key.clone();
    let sam = |name: &str, vars: &[(&str, &str)]| event_file(&format!("sam/{name}"), vars);
    let with_key = [("KEY", key.as_str())];
    let res = d
        .invoke("create-product", sam("create-product", &with_key))
        .await;
    let (status, product) = answer(&res);
    assert_eq!(status, 201, "{res}");
    assert_eq!(product["name"], "From SAM", "the base64 body was read");
    // a GET /v1/products event sent to create-product: 405, and nothing made
    let res = d
        .invoke("create-product", sam("list-products", &with_key))
        .await;
    let (status, err) = answer(&res);
    assert_eq!(
        (status, err["code"].clone()),
        (405, json!("METHOD_NOT_ALLOWED")),
        "{res}"
    );
    // SAM's own sample (POST /path/to/resource, pathParameters and all) with a valid key: 404
    let res = d.invoke("create-product", sam("sample", &with_key)).await;
    assert_eq!(answer(&res).0, 404, "{res}");
    let listed = d
        .invoke("list-products", sam("list-products", &with_key))
        .await;
    let (status, list) = answer(&listed);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the one product: {list}"
    );
    // on a named stage the raw path carries it; no pathParameters (a function URL)
    let p = product["id"].as_str().unwrap().to_string();
    let s = d.t.surface(&p, "api", "api").await;
    let vars = [
        ("KEY", key.as_str()),
        ("PRODUCT_ID", &p),
        ("SURFACE_ID", &s),
    ];
    let res = d
        .invoke("get-surface", sam("get-surface-on-a-stage", &vars))
        .await;
    let (status, got) = answer(&res);
    assert_eq!((status, got["id"].clone()), (200, json!(s)), "{res}");
    // and another route's path to it: 404
    let res = d
        .invoke("get-surface", sam("list-products", &with_key))
        .await;
    assert_eq!(answer(&res).0, 404, "{res}");
}

/// The delivery function fed `sam local generate-event` stream and queue events (edited to
/// name executions): SAM's other records (not executions) are passed over, the named ones
/// delivered, and nothing is reported failed.
async fn deliver_executions_takes_sam_events() {
    use runtype_tests::runner::{ok, Runner};
    let mut a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    a.t.app.clock = runtype::time::Clock::system();
    let first = a.invoke(json!({})).await.id();
    let second = a.invoke(json!({})).await.id();
    let runner = Runner::start(|_, _| ok("{}")).await;
    let extension = secrets_extension().await;
    let d = Deployment::on(a.t).await;
    let env = [
        webhook_via_extension(&runner, &extension),
        vec![("RETRY_QUEUE_URL", "http://127.0.0.1:9/q".to_string())],
    ]
    .concat();
    let stream = event_file("sam/deliver-executions-stream", &[("EXECUTION_ID", &first)]);
    assert_eq!(stream["Records"].as_array().unwrap().len(), 3);
    let (res, stderr) = d.invoke_with("deliver-executions", stream, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let queue = event_file("sam/deliver-executions-queue", &[("EXECUTION_ID", &second)]);
    let (res, stderr) = d.invoke_with("deliver-executions", queue, &env).await;
    assert_eq!(res, json!({ "batchItemFailures": [] }), "{stderr}");
    let ids: Vec<String> = runner
        .received()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    assert_eq!(ids, [first, second]);
}

/// `Prefer: wait` on a gateway function: it reads the runner's secret (here through the
/// extension's endpoint, a fake) on the first waiting call and makes the attempt in the
/// request: 200 with the runner's answer.
async fn a_gateway_function_makes_a_waiting_callers_attempt() {
    use runtype_tests::runner::{ok, Runner};
    let mut a = crate::gateway::Api::new(Store::Dynamo, json!(null), json!({})).await;
    a.t.app.clock = runtype::time::Clock::system();
    let runner = Runner::start(|_, _| ok(r#"{"answer":"in the request"}"#)).await;
    let extension = secrets_extension().await;
    let (p, s, key) = (a.p.clone(), a.s.clone(), a.key.clone());
    let d = Deployment::on(a.t).await;
    let env = [
        webhook_via_extension(&runner, &extension),
        vec![("RUNTYPE_PUBLIC_URL", "https://api.example.com".to_string())],
    ]
    .concat();
    let gw = [
        ("SURFACE_KEY", key.as_str()),
        ("PRODUCT_ID", p.as_str()),
        ("SURFACE_ID", s.as_str()),
    ];
    let mut event = event_file("invoke-surface-endpoint", &gw);
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("idempotency-key");
    headers.insert("prefer".into(), json!("wait=10"));
    let (res, stderr) = d.invoke_with("invoke-surface-endpoint", event, &env).await;
    let (status, body) = answer(&res);
    assert_eq!(status, 200, "{res} {stderr}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["result"], json!({ "answer": "in the request" }));
    assert_eq!(res["headers"]["preference-applied"], "wait=10");
    assert_eq!(runner.count(), 1);
    assert_eq!(
        extension.count(),
        1,
        "the secret read once, for the waiting call"
    );
    // the delivery carried a callback under the public URL
    let got = &runner.received()[0];
    let url = got.json()["data"]["callback"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("https://api.example.com/v1/executions/"),
        "{url}"
    );
}
