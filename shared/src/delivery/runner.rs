//! The runners an execution can be handed to, configured from the environment, and the
//! requests each one is sent.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::webhook::{self, Secret};
use crate::config::{RunnerConfig, RunnerKind};
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
    /// Attempts before an execution fails.
    pub max_attempts: u32,
    /// How long one request may take.
    pub timeout: Duration,
    /// Requests one deliverer has in flight at most: two waves of half as many executions.
    pub concurrency: usize,
    /// How long a runner that answered 202 has to report.
    pub report_timeout: Duration,
}

/// Records of one run dispatched at once.
pub const RECORD_CONCURRENCY: usize = 4;

impl Settings {
    /// The configured runner, with its token or secret as the environment gives it
    /// (`RUNTYPE_RUNNER_TOKEN`, `RUNTYPE_WEBHOOK_SECRET`): for `runtype serve` and the
    /// command line.
    pub fn from_config(config: &RunnerConfig) -> Result<Settings, String> {
        Settings::from_config_with(config, config.inline_secret())
    }

    /// The configured runner with the token or secret given (on Lambda it comes from
    /// Secrets Manager, never from a variable).
    pub fn from_config_with(
        config: &RunnerConfig,
        secret: Option<String>,
    ) -> Result<Settings, String> {
        let url = || {
            config
                .url
                .clone()
                .ok_or("RUNTYPE_RUNNER_URL is required by this runner")
        };
        let runner = match config.kind {
            RunnerKind::None => Runner::None,
            RunnerKind::Webhook => Runner::Webhook {
                url: url()?,
                secret: Secret::parse(&secret.ok_or(
                    "the webhook runner needs its signing secret (RUNTYPE_WEBHOOK_SECRET)",
                )?)?,
            },
            RunnerKind::Runtype => {
                let base = url()?;
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
        };
        Ok(Settings {
            runner,
            max_attempts: config.max_attempts,
            timeout: config.timeout,
            concurrency: config.concurrency,
            report_timeout: config.report_timeout,
        })
    }

    /// Settings for `runner` with the defaults.
    pub fn with_runner(runner: Runner) -> Settings {
        let d = RunnerConfig::default_values();
        Settings {
            runner,
            max_attempts: d.max_attempts,
            timeout: d.timeout,
            concurrency: d.concurrency,
            report_timeout: d.report_timeout,
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
    token: Option<&str>,
    public_url: &str,
) -> Reply {
    // the real time, whatever clock the deliverer keeps: receivers check it against theirs
    let now = crate::time::Clock::system().now();
    let body = json!({
        "type": "execution.requested",
        "timestamp": crate::time::format(now),
        "data": webhook_data(e, token, public_url),
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
/// The webhook's `data`: the execution as its owner sees it, whose it is (one runner serves
/// every owner: it must know on whose behalf it runs), and where to report on it later
/// (`callback`, with this attempt's token).
pub fn webhook_data(e: &Execution, token: Option<&str>, public_url: &str) -> Value {
    let mut data = e.to_json(public_url);
    data["ownerId"] = json!(e.owner);
    if let Some(token) = token {
        data["callback"] = json!({
            "url": format!("{public_url}/v1/executions/{}/complete", e.id),
            "token": token,
        });
    }
    data
}

/// A new callback token: 32 bytes from the system's cryptographic generator, base64url.
pub fn callback_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    crate::secrets::fill_random(&mut bytes);
    format!(
        "cb_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The header naming the owner of a dispatched execution.
pub const OWNER_HEADER: &str = "x-runtype-owner-id";

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
    // whose execution it is, and which: the operator's token runs every owner's
    body.insert(
        "metadata".into(),
        json!({ "ownerId": e.owner, "executionId": e.id }),
    );
    Value::Object(body)
}

/// One Runtype dispatch.
pub async fn send_dispatch(
    client: &HttpClient,
    dispatch: &http::Uri,
    token: &Token,
    idempotency_key: String,
    owner: &str,
    body: &Value,
) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {}", token.0)),
        ("idempotency-key", idempotency_key),
        (OWNER_HEADER, owner.to_string()),
    ];
    let body = Bytes::from(serde_json::to_vec(body).expect("JSON serialises"));
    client.post(dispatch, &headers, body).await
}
