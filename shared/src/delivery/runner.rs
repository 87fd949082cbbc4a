//! The runners an execution can be handed to, configured from the environment, and the
//! requests each one is sent.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::webhook::{self, Secret};
use crate::model::Execution;
use crate::outbound::{HttpClient, Reply};

/// Where executions go.
#[derive(Debug, Clone)]
pub enum Runner {
    /// Nowhere: executions stay `queued`.
    None,
    /// A Standard Webhooks endpoint of the user's own.
    Webhook { url: http::Uri, secret: Secret },
    /// Runtype's dispatch API (`<base>/v1/dispatch`).
    Runtype { dispatch: http::Uri, token: Token },
}

/// A bearer token; never printed.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Delivery's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runner: Runner,
    /// Attempts before an execution fails (`RUNTYPE_RUNNER_MAX_ATTEMPTS`, default 8).
    pub max_attempts: u32,
    /// How long one request may take (`RUNTYPE_RUNNER_TIMEOUT_MS`, default 30 s).
    pub timeout: Duration,
    /// Requests one deliverer has in flight at most (`RUNTYPE_DELIVERY_CONCURRENCY`, default
    /// 32): two waves of half as many executions.
    pub concurrency: usize,
}

/// Records of one run dispatched at once.
pub const RECORD_CONCURRENCY: usize = 4;

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(
    name: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| valid(n))
            .ok_or_else(|| format!("{name} must be a positive whole number, not {v:?}")),
    }
}

fn url(name: &str) -> Result<http::Uri, String> {
    let text = var(name).ok_or_else(|| format!("{name} is required by this runner"))?;
    let uri: http::Uri = text.parse().map_err(|_| format!("{name} is not a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") if uri.host().is_some() => Ok(uri),
        _ => Err(format!("{name} must be an http:// or https:// URL")),
    }
}

impl Settings {
    /// From the environment, the token or secret included (`RUNTYPE_RUNNER_TOKEN`,
    /// `RUNTYPE_WEBHOOK_SECRET`): for `runtype serve` and the command line.
    pub fn from_env() -> Result<Settings, String> {
        let secret = match var("RUNTYPE_RUNNER").as_deref() {
            Some("webhook") => var("RUNTYPE_WEBHOOK_SECRET"),
            Some("runtype") => var("RUNTYPE_RUNNER_TOKEN"),
            _ => None,
        };
        Settings::from_env_with(secret)
    }

    /// From the environment, with the token or secret given (on Lambda it comes from
    /// Secrets Manager, never from a variable).
    pub fn from_env_with(secret: Option<String>) -> Result<Settings, String> {
        let runner = match var("RUNTYPE_RUNNER").as_deref().unwrap_or("none") {
            "none" => Runner::None,
            "webhook" => Runner::Webhook {
                url: url("RUNTYPE_RUNNER_URL")?,
                secret: Secret::parse(&secret.ok_or(
                    "the webhook runner needs its signing secret (RUNTYPE_WEBHOOK_SECRET)",
                )?)?,
            },
            "runtype" => {
                let base = url("RUNTYPE_RUNNER_URL")?;
                let dispatch = format!("{}/v1/dispatch", base.to_string().trim_end_matches('/'))
                    .parse()
                    .map_err(|_| "RUNTYPE_RUNNER_URL is not a URL".to_string())?;
                Runner::Runtype {
                    dispatch,
                    token: Token(
                        secret.ok_or("the runtype runner needs a token (RUNTYPE_RUNNER_TOKEN)")?,
                    ),
                }
            }
            other => {
                return Err(format!(
                    "RUNTYPE_RUNNER must be none, webhook or runtype, not {other:?}"
                ))
            }
        };
        Ok(Settings {
            runner,
            max_attempts: number("RUNTYPE_RUNNER_MAX_ATTEMPTS", 8, |n| (1..=100).contains(n))?,
            timeout: Duration::from_millis(number(
                "RUNTYPE_RUNNER_TIMEOUT_MS",
                30_000,
                |n: &u64| (1..=900_000).contains(n),
            )?),
            concurrency: number("RUNTYPE_DELIVERY_CONCURRENCY", 32, |n| {
                (1..=1000).contains(n)
            })?,
        })
    }

    /// Settings for `runner` with the defaults.
    pub fn with_runner(runner: Runner) -> Settings {
        Settings {
            runner,
            max_attempts: 8,
            timeout: Duration::from_secs(30),
            concurrency: 32,
        }
    }

    pub fn webhook(url: &str, secret: &str) -> Result<Settings, String> {
        Ok(Settings::with_runner(Runner::Webhook {
            url: url.parse().map_err(|_| "not a URL".to_string())?,
            secret: Secret::parse(secret)?,
        }))
    }

    pub fn runtype(base: &str, token: &str) -> Result<Settings, String> {
        Ok(Settings::with_runner(Runner::Runtype {
            dispatch: format!("{}/v1/dispatch", base.trim_end_matches('/'))
                .parse()
                .map_err(|_| "not a URL".to_string())?,
            token: Token(token.to_string()),
        }))
    }

    pub fn delivers(&self) -> bool {
        !matches!(self.runner, Runner::None)
    }
}

/// The webhook request for `e`: the `execution.requested` envelope, signed now.
pub async fn send_webhook(
    client: &HttpClient,
    url: &http::Uri,
    secret: &Secret,
    e: &Execution,
    public_url: &str,
) -> Reply {
    // the real time, whatever clock the deliverer keeps: receivers check it against theirs
    let now = chrono::Utc::now();
    let body = json!({
        "type": "execution.requested",
        "timestamp": crate::time::format(now),
        "data": e.to_json(public_url),
    });
    let body = Bytes::from(serde_json::to_vec(&body).expect("JSON serialises"));
    let timestamp = now.timestamp();
    let signature = webhook::sign(secret, &e.id, timestamp, &body);
    let headers = [
        ("webhook-id", e.id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    client.post(url, &headers, body).await
}

/// The body of a Runtype dispatch for `e`, for `record` (a run's record, else the
/// execution's own).
pub fn dispatch_body(e: &Execution, record: Option<Value>) -> Value {
    let mut body = Map::new();
    match (&e.flow_id, &e.agent_id) {
        (Some(flow), _) => body.insert("flow".into(), json!({ "id": flow })),
        (None, Some(agent)) => body.insert("agent".into(), json!({ "agentId": agent })),
        (None, None) => None,
    };
    if let Some(inputs) = &e.inputs {
        body.insert("inputs".into(), Value::Object(inputs.clone()));
    }
    if let Some(messages) = &e.messages {
        body.insert("messages".into(), messages.clone());
    }
    if let Some(record) = record.or_else(|| e.record.clone()) {
        body.insert("record".into(), record);
    }
    body.insert("options".into(), json!({ "streamResponse": false }));
    Value::Object(body)
}

/// One Runtype dispatch.
pub async fn send_dispatch(
    client: &HttpClient,
    dispatch: &http::Uri,
    token: &Token,
    idempotency_key: String,
    body: &Value,
) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {}", token.0)),
        ("idempotency-key", idempotency_key),
    ];
    let body = Bytes::from(serde_json::to_vec(body).expect("JSON serialises"));
    client.post(dispatch, &headers, body).await
}
