//! The `deliver-executions` function: fed by the table's DynamoDB stream (new executions:
//! the first attempt within about a second of the write) and by its own retry queue (each
//! message delayed until the retry is due). Each record names one execution; the delivery
//! core does the rest. A record whose execution could not be settled is reported as a batch
//! item failure, so Lambda hands just that record back.

use futures_util::future::join_all;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

use crate::app::App;
use crate::delivery::runner::Settings;
use crate::delivery::{Deliverer, Step};
use crate::lambda::Error;
use crate::lambda_secret::runner_secret;
use crate::store::dynamo::lambda_identity;

/// The longest an SQS message can be delayed.
const MAX_DELAY: i64 = 900;

/// Where retries wait: the function's SQS queue (`RETRY_QUEUE_URL`). Its client is made
/// on first use: most invocations never retry, and a cold start need not pay for it.
struct RetryQueue {
    client: std::sync::OnceLock<Result<aws_sdk_sqs::Client, String>>,
    url: String,
}

impl RetryQueue {
    fn of(config: &crate::config::Config) -> Result<RetryQueue, Error> {
        let url = config
            .retry_queue_url
            .clone()
            .ok_or("RETRY_QUEUE_URL is not set")?;
        Ok(RetryQueue {
            client: std::sync::OnceLock::new(),
            url,
        })
    }

    fn client(&self) -> Result<&aws_sdk_sqs::Client, String> {
        self.client
            .get_or_init(|| {
                let (region, credentials) = lambda_identity()?;
                let mut config = aws_sdk_sqs::Config::builder()
                    .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                    .region(region)
                    .credentials_provider(credentials)
                    .http_client(crate::aws_http::sdk_http_client());
                if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_SQS") {
                    config = config.endpoint_url(endpoint);
                }
                Ok(aws_sdk_sqs::Client::from_conf(config.build()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Send `id` back in `delay` seconds (at most SQS's 15 minutes; a longer wait comes
    /// round again and is sent on).
    async fn later(&self, id: &str, delay: i64) -> Result<(), String> {
        self.client()?
            .send_message()
            .queue_url(&self.url)
            .message_body(json!({ "executionId": id }).to_string())
            .delay_seconds(delay.clamp(0, MAX_DELAY) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))
    }
}

/// Serve stream and queue batches for the life of the process.
pub async fn serve_delivery(app: &App) -> Result<(), Error> {
    let runner = &app.config.runner;
    let settings = Settings::from_config_with(runner, runner_secret(runner).await?)?;
    let deliverer = Deliverer::new(
        app.table_handle(),
        settings,
        app.clock.clone(),
        &app.config.public_url,
    );
    let queue = RetryQueue::of(&app.config)?;
    let (deliverer, queue) = (&deliverer, &queue);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            Ok::<Value, Error>(handle(app, deliverer, queue, &event.payload).await)
        },
    ))
    .await
}

/// One record: the execution it names and how to report it failed.
struct Named {
    execution: Option<String>,
    /// The stream record's sequence number or the SQS message id.
    identifier: String,
}

fn name(record: &Value) -> Named {
    let text = |v: &Value| v.as_str().map(str::to_string);
    match record["eventSource"].as_str() {
        Some("aws:sqs") => Named {
            execution: record["body"]
                .as_str()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .and_then(|b| text(&b["executionId"])),
            identifier: text(&record["messageId"]).unwrap_or_default(),
        },
        _ => Named {
            execution: record["dynamodb"]["Keys"]["PK"]["S"]
                .as_str()
                .and_then(|pk| pk.strip_prefix("EXEC#"))
                .map(str::to_string),
            identifier: text(&record["dynamodb"]["SequenceNumber"]).unwrap_or_default(),
        },
    }
}

async fn handle(app: &App, deliverer: &Deliverer, queue: &RetryQueue, event: &Value) -> Value {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    // an execution named twice in one batch (its insert and a retry message, say) is
    // delivered once: the second would find it claimed by the first and queue a needless retry
    let mut seen = std::collections::HashSet::new();
    let named: Vec<(Named, bool)> = records
        .iter()
        .map(|record| {
            let named = name(record);
            let first = named
                .execution
                .as_ref()
                .is_some_and(|id| seen.insert(id.clone()));
            (named, first)
        })
        .collect();
    let outcomes = join_all(named.into_iter().map(|(named, first)| async move {
        let Some(id) = named
            .execution
            .filter(|id| first && crate::ids::is_valid("exec", id))
        else {
            // not an execution (or one named before): nothing to do, nothing to send back
            return Ok(());
        };
        let step = deliverer.deliver_id(&id).await.map_err(|e| {
            crate::log::error(
                "delivery: an attempt failed",
                &format!("{id}: {}", e.message()),
            );
            named.identifier.clone()
        })?;
        match step {
            Step::Retrying(at) | Step::Waiting(at) => {
                let wait = (at - app.now()).num_milliseconds();
                let delay = (wait + 999).div_euclid(1000);
                queue.later(&id, delay).await.map_err(|e| {
                    crate::log::error("delivery: cannot queue a retry", &format!("{id}: {e}"));
                    named.identifier.clone()
                })
            }
            // a runner that reports later: the scheduled function ends it if it never does
            Step::Completed | Step::Failed | Step::Skipped | Step::Accepted(_) => Ok(()),
        }
    }))
    .await;
    let failures: Vec<Value> = outcomes
        .into_iter()
        .filter_map(Result::err)
        .map(|identifier| json!({ "itemIdentifier": identifier }))
        .collect();
    let summary = json!({ "level": "info", "msg": "delivery batch", "records": records.len(), "failed": failures.len() });
    crate::log::invocation_line("deliver-executions", summary);
    json!({ "batchItemFailures": failures })
}
