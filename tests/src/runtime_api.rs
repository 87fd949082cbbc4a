//! A Lambda Runtime API emulator: hands queued events to a function process on
//! `GET /2018-06-01/runtime/invocation/next` and takes its answer on
//! `POST …/invocation/<id>/response` (or `…/error`), timing both.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::Notify;

/// What a function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When the event was handed to the function.
    pub handed_out: Instant,
    /// When its answer arrived.
    pub answered: Instant,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, (Outcome, Timing)>>,
    handed: Mutex<HashMap<String, Instant>>,
    answered: Notify,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
}

pub struct RuntimeApi {
    addr: String,
    state: Arc<State>,
    next_id: Mutex<u64>,
}

impl RuntimeApi {
    /// Listen on a free loopback port.
    pub async fn start() -> RuntimeApi {
        let state = Arc::new(State::default());
        let s = state.clone();
        let addr = crate::listen::serve(move |req| serve(s.clone(), req))
            .await
            .addr;
        RuntimeApi {
            addr,
            state,
            next_id: Mutex::new(0),
        }
    }

    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.addr
    }

    /// Queue an event; answers its request id.
    pub fn push(&self, event: Value) -> String {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            format!("00000000-0000-4000-8000-{:012}", *n)
        };
        self.state
            .queue
            .lock()
            .unwrap()
            .push_back((id.clone(), event));
        self.state.queued.notify_waiters();
        self.state.queued.notify_one();
        id
    }

    /// Wait (at most `limit`) for the answer to `id`.
    pub async fn outcome(&self, id: &str, limit: Duration) -> Option<(Outcome, Timing)> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.state.answered.notified();
            if let Some(o) = self.state.outcomes.lock().unwrap().get(id) {
                return Some(o.clone());
            }
            if let Some(err) = self.state.init_error.lock().unwrap().clone() {
                return Some((
                    Outcome::Error(err),
                    Timing {
                        handed_out: Instant::now(),
                        answered: Instant::now(),
                    },
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return None;
            }
        }
    }

    /// When the function first asked for an event (the end of its init).
    pub fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().unwrap()
    }
}

fn text(status: u16, body: &str) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    r
}

async fn serve(state: Arc<State>, req: hyper::Request<Incoming>) -> crate::listen::Response {
    let (head, body) = crate::listen::whole(req).await;
    let (path, method) = (head.uri.path().to_string(), head.method);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
            state
                .first_poll
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            loop {
                let notified = state.queued.notified();
                if let Some((id, event)) = state.queue.lock().unwrap().pop_front() {
                    state
                        .handed
                        .lock()
                        .unwrap()
                        .insert(id.clone(), Instant::now());
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 30_000;
                    let mut r = text(200, &event.to_string());
                    let h = r.headers_mut();
                    h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
                    h.insert(
                        "lambda-runtime-deadline-ms",
                        deadline.to_string().parse().unwrap(),
                    );
                    h.insert(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:000000000000:function:local"
                            .parse()
                            .unwrap(),
                    );
                    h.insert(
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
                    );
                    return r;
                }
                notified.await;
            }
        }
        ("POST", ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")]) => {
            let handed_out = state
                .handed
                .lock()
                .unwrap()
                .get(*id)
                .copied()
                .unwrap_or_else(Instant::now);
            let outcome = if *kind == "response" {
                Outcome::Response(parsed)
            } else {
                Outcome::Error(parsed)
            };
            let timing = Timing {
                handed_out,
                answered: Instant::now(),
            };
            state
                .outcomes
                .lock()
                .unwrap()
                .insert(id.to_string(), (outcome, timing));
            state.answered.notify_waiters();
            text(202, "{\"status\":\"OK\"}")
        }
        ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
            *state.init_error.lock().unwrap() = Some(parsed);
            state.answered.notify_waiters();
            text(202, "{\"status\":\"OK\"}")
        }
        _ => text(404, "{\"message\":\"unknown runtime API path\"}"),
    }
}

/// The directory holding the workspace's built binaries (next to the running test's).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    if dir.ends_with("deps") {
        dir.parent().unwrap().to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Start function `binary` as Lambda would, against `api`, with extra environment.
pub fn spawn_function(binary: &Path, api: &RuntimeApi, env: &[(&str, String)]) -> Child {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_string();
    let mut cmd = Command::new(binary);
    cmd.env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()))
}
