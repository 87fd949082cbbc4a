//! Cold-start benchmark: each function started as a fresh process behind the Runtime API
//! emulator, N times, against DynamoDB Local. Reports init (process start → first request
//! for an event), first invoke (event handed out → response), peak RSS and binary size,
//! as a Markdown table on stdout. `bench/run.sh` drives it.
//!
//! `coldstart <runs> <dir-of-function-binaries> <dir-of-floor-binaries>`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runtype::app::{App, Backend, Config};
use runtype::store::dynamo::DynamoTable;
use runtype::store::RequestCounter;
use runtype_tests::runtime_api::{spawn_function, Outcome, RuntimeApi};
use runtype_tests::seed;
use serde_json::{json, Value};

struct Case {
    name: String,
    binary: PathBuf,
    event: Value,
    /// Beside the common environment.
    env: Vec<(&'static str, String)>,
}

struct Sample {
    init_ms: f64,
    invoke_ms: f64,
    rss_kb: u64,
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn event(name: &str, vars: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap();
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

async fn run_once(case: &Case, env: &[(&str, String)]) -> Sample {
    let api = RuntimeApi::start().await;
    let id = api.push(case.event.clone());
    let mut env = env.to_vec();
    env.extend(case.env.iter().cloned());
    let started = Instant::now();
    let mut child = spawn_function(&case.binary, &api, &env);
    let outcome = api.outcome(&id, Duration::from_secs(30)).await;
    let rss_kb = peak_rss_kb(child.id());
    let _ = child.kill();
    let stderr = child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
        .unwrap_or_default();
    let (outcome, timing) =
        outcome.unwrap_or_else(|| panic!("{}: no answer; stderr: {stderr}", case.name));
    let answered = match outcome {
        Outcome::Error(e) => panic!("{}: {e}", case.name),
        Outcome::Response(v) => v,
    };
    // an HTTP event must have been served, not refused (a refusal is faster than the work)
    if let Some(status) = answered.get("statusCode").and_then(Value::as_u64) {
        let body: Value = answered["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        // (a JSON-RPC answer must be a result: an error is a refusal)
        let refused = status >= 300
            || body.get("error").is_some_and(|e| !e.is_null())
            || (body.get("jsonrpc").is_some() && body.get("result").is_none());
        assert!(!refused, "{}: answered {status} {body}", case.name);
    }
    let first_poll = api.first_poll().expect("the function polled");
    Sample {
        init_ms: (first_poll - started).as_secs_f64() * 1000.0,
        invoke_ms: (timing.answered - timing.handed_out).as_secs_f64() * 1000.0,
        rss_kb,
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx]
}

fn size_mb(p: &Path) -> f64 {
    std::fs::metadata(p)
        .map(|m| m.len() as f64 / 1_048_576.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(20);
    let bins = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "target/release".into()),
    );
    let floors = args.get(2).map(PathBuf::from);
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB (DynamoDB Local)");

    // the data the functions work on
    let table = runtype::ids::new_id("bench");
    DynamoTable::from_env(
        table.clone(),
        Some(endpoint.clone()),
        RequestCounter::default(),
    )
    .await
    .create_table()
    .await
    .expect("create the bench table");
    let app = App::open(
        &Backend::DynamoDb {
            table: table.clone(),
            endpoint: Some(endpoint.clone()),
        },
        Config::local(""),
    )
    .await
    .unwrap();
    let key = seed::owner(&app, "bench").await;
    // a surface key whose limits never refuse a run
    let seeded = seed::api_surface(
        &app,
        &key,
        json!(null),
        json!({ "rateLimitPerMinute": 1_000_000, "rateLimitPerDay": 1_000_000 }),
    )
    .await;
    let (p, c, s, surface_key) = (
        seeded.product,
        seeded.capability,
        seeded.surface,
        seeded.key,
    );
    let mcp = seed::surface_of(
        &app,
        &key,
        "mcp",
        json!(null),
        json!({ "rateLimitPerMinute": 1_000_000, "rateLimitPerDay": 1_000_000 }),
    )
    .await;
    let a2a = seed::surface_of(
        &app,
        &key,
        "a2a",
        json!(null),
        json!({ "rateLimitPerMinute": 1_000_000, "rateLimitPerDay": 1_000_000 }),
    )
    .await;
    let vars = [
        ("A2A_PRODUCT_ID", a2a.product.as_str()),
        ("A2A_SURFACE_ID", a2a.surface.as_str()),
        ("A2A_KEY", a2a.key.as_str()),
        ("MCP_PRODUCT_ID", mcp.product.as_str()),
        ("MCP_SURFACE_ID", mcp.surface.as_str()),
        ("MCP_KEY", mcp.key.as_str()),
        ("KEY", key.as_str()),
        ("PRODUCT_ID", p.as_str()),
        ("SURFACE_ID", s.as_str()),
        ("CAPABILITY_ID", c.as_str()),
        ("SURFACE_KEY", surface_key.as_str()),
    ];
    // every run a new call, not an idempotent replay
    let mut invoke = event("invoke-surface-endpoint", &vars);
    invoke["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");

    let mut cases = vec![
        Case {
            name: "create-product".into(),
            binary: bins.join("create-product"),
            event: event("create-product", &vars),
            env: Vec::new(),
        },
        Case {
            name: "create-surface-key".into(),
            binary: bins.join("create-surface-key"),
            event: event("create-surface-key", &vars),
            env: Vec::new(),
        },
        Case {
            name: "get-surface".into(),
            binary: bins.join("get-surface"),
            event: event("get-surface", &vars),
            env: Vec::new(),
        },
        Case {
            name: "invoke-surface-endpoint".into(),
            binary: bins.join("invoke-surface-endpoint"),
            event: invoke,
            env: Vec::new(),
        },
        Case {
            name: "mcp (tools/call, 2026-07-28)".into(),
            binary: bins.join("mcp"),
            event: event("mcp", &vars),
            env: Vec::new(),
        },
        Case {
            name: "a2a (SendMessage, 1.0)".into(),
            binary: bins.join("a2a"),
            event: event("a2a", &vars),
            env: Vec::new(),
        },
        Case {
            name: "fire-schedules".into(),
            binary: bins.join("fire-schedules"),
            event: event("fire-schedules", &[]),
            env: Vec::new(),
        },
    ];
    // delivery: a queue record naming an execution that is not there (init is the point);
    // with no runner, then with a webhook runner whose secret comes from Secrets Manager
    // (a local endpoint answering GetSecretValue at once)
    let secrets = runtype_tests::runner::Runner::start(|_, _| {
        runtype_tests::runner::Answer::With(
            200,
            vec![("content-type", "application/x-amz-json-1.1".into())],
            json!({ "Name": "runtype/runner", "SecretString": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })
                .to_string(),
        )
    })
    .await;
    let queue_event = event(
        "deliver-executions-queue",
        &[("EXECUTION_ID", "exec_00000000000000000000000001")],
    );
    let queue_url = (
        "RETRY_QUEUE_URL",
        "http://127.0.0.1:9/000000000000/retries".to_string(),
    );
    cases.push(Case {
        name: "deliver-executions (no runner)".into(),
        binary: bins.join("deliver-executions"),
        event: queue_event.clone(),
        env: vec![queue_url.clone()],
    });
    cases.push(Case {
        name: "deliver-executions (webhook; secret via the Secrets Manager SDK)".into(),
        binary: bins.join("deliver-executions"),
        event: queue_event,
        env: vec![
            queue_url,
            ("RUNTYPE_RUNNER", "webhook".into()),
            ("RUNTYPE_RUNNER_URL", "http://127.0.0.1:9/hook".into()),
            ("RUNTYPE_RUNNER_SECRET_ID", "runtype/runner".into()),
            ("AWS_ENDPOINT_URL_SECRETSMANAGER", secrets.url.clone()),
        ],
    });
    // the same secret from the Parameters and Secrets extension's local endpoint (here a
    // server answering at once; on Lambda the extension's own start-up comes on top)
    let extension_port = secrets.url.rsplit(':').next().unwrap().to_string();
    cases.push(Case {
        name: "deliver-executions (webhook; secret via the Secrets extension's endpoint)".into(),
        binary: bins.join("deliver-executions"),
        event: event(
            "deliver-executions-queue",
            &[("EXECUTION_ID", "exec_00000000000000000000000001")],
        ),
        env: vec![
            (
                "RETRY_QUEUE_URL",
                "http://127.0.0.1:9/000000000000/retries".to_string(),
            ),
            ("RUNTYPE_RUNNER", "webhook".into()),
            ("RUNTYPE_RUNNER_URL", "http://127.0.0.1:9/hook".into()),
            ("RUNTYPE_RUNNER_SECRET_ID", "runtype/runner".into()),
            ("RUNTYPE_RUNNER_SECRET_SOURCE", "extension".into()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", extension_port),
        ],
    });
    if let Some(f) = &floors {
        cases.push(Case {
            name: "floor: hello-world lambda_http".into(),
            binary: f.join("hello"),
            event: event("get-surface", &vars),
            env: Vec::new(),
        });
        // the library decision (MCP): the official Rust SDK's stateless Streamable HTTP
        // server answering the same tools/call with no storage at all
        cases.push(Case {
            name: "floor: rmcp (official SDK) tools/call, no storage".into(),
            binary: f.join("rmcp-tools"),
            event: event("mcp", &vars),
            env: Vec::new(),
        });
        cases.push(Case {
            name: "floor: one PutItem, default features".into(),
            binary: f.join("putitem"),
            event: json!({}),
            env: Vec::new(),
        });
    }
    let env = [
        ("TABLE_NAME", table.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("RUNTYPE_LOG_LEVEL", "warn".to_string()),
    ];
    println!("| function | init median (ms) | init p95 (ms) | first invoke median (ms) | first invoke p95 (ms) | peak RSS (MB) | stripped size (MB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for case in &cases {
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(run_once(case, &env).await);
        }
        let init: Vec<f64> = samples.iter().map(|s| s.init_ms).collect();
        let invoke: Vec<f64> = samples.iter().map(|s| s.invoke_ms).collect();
        let rss = samples.iter().map(|s| s.rss_kb).max().unwrap_or(0) as f64 / 1024.0;
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} |",
            case.name,
            percentile(init.clone(), 0.5),
            percentile(init, 0.95),
            percentile(invoke.clone(), 0.5),
            percentile(invoke, 0.95),
            rss,
            size_mb(&case.binary)
        );
    }
}
