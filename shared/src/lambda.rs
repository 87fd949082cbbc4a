//! Running on AWS Lambda: the app is built once per cold start and borrowed by every
//! invocation; each function serves exactly one route of the shared table (or the
//! scheduler pass).

use std::time::Instant;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use std::sync::Arc;

use crate::app::{App, Config};
use crate::error::ApiError;
use crate::router::{self, Route};
use crate::scheduler::{self, Summary};
use crate::store::dynamo::DynamoTable;
use crate::store::RequestCounter;
use crate::time::Clock;

pub type Error = lambda_runtime::Error;

/// The app from the function's environment: `TABLE_NAME`, the AWS environment, and the
/// `RUNTYPE_*` settings.
pub async fn app() -> Result<App, Error> {
    let config = Config::from_env()?;
    let table = config.table_name.clone().ok_or("TABLE_NAME is not set")?;
    // each invocation's log line carries what it counted (CloudWatch Embedded Metric Format)
    crate::metrics::enable_emf(&config.metrics_namespace);
    // DynamoDB directly (not `App::open`), so neither the embedded store nor the general
    // credentials chain is linked in or run.
    let requests = RequestCounter::default();
    let dynamo = DynamoTable::from_lambda_env(table, requests.clone())?;
    Ok(App::with_table(Arc::new(dynamo), requests, config))
}

/// The app of a gateway function: as `app`, and — where a runner is configured — able to make
/// the runner's deliverer the first time a caller waits (`Prefer: wait`), reading the runner's
/// secret then, so the call's first attempt is made in its request.
#[cfg(feature = "runner-secret")]
pub async fn gateway_app() -> Result<App, Error> {
    use crate::config::RunnerKind;
    use crate::delivery::{runner::Settings, Deliverer};
    let mut app = app().await?;
    if app.config.runner.kind == RunnerKind::None {
        return Ok(app);
    }
    let (table, runner, clock) = (
        app.table_handle(),
        app.config.runner.clone(),
        app.clock.clone(),
    );
    let (url, settled) = (
        app.config.public_url.clone(),
        app.executions_settled.clone(),
    );
    app.make_runner = Some(Box::new(move || {
        let (table, runner, clock) = (table.clone(), runner.clone(), clock.clone());
        let (url, settled) = (url.clone(), settled.clone());
        Box::pin(async move {
            let secret = crate::lambda_secret::runner_secret(&runner)
                .await
                .map_err(|e| e.to_string())?;
            let settings = Settings::from_config_with(&runner, secret)?;
            Ok(Deliverer::new(table, settings, clock, &url).notifying(settled))
        })
    }));
    Ok(app)
}

/// Serve `route` for the life of the process.
pub async fn serve(app: &App, route: &'static Route) -> Result<(), Error> {
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(handle(app, route, req).await)
    }))
    .await
}

fn request_id(req: &lambda_http::Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(crate::ids::request_id)
}

/// One API Gateway event through the route's handler — only if it is for the route: the
/// method and the path (the raw path, less a named stage) must be the route's, as on the
/// local server (405 for another method on the path, 404 for another path), whatever route
/// sent it (a `$default` route or a function URL sends everything). Path ids come from the
/// raw path, or from `pathParameters` where API Gateway decoded them.
pub async fn handle(
    app: &App,
    route: &'static Route,
    req: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let given = req.path_parameters();
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let path = req.uri().path().to_string();
    let path = stage
        .filter(|s| !s.is_empty() && s != "$default")
        .and_then(|s| path.strip_prefix(&format!("/{s}")).map(str::to_string))
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    let params = router::match_path(route.path, &path).map(|matched| {
        matched
            .into_iter()
            .map(|(name, value)| (name, given.first(name).map(str::to_string).unwrap_or(value)))
            .collect::<Vec<_>>()
    });
    let params = match params {
        None => Err(ApiError::NotFound(format!("No route for {path}"))),
        Some(_) if method != route.method => {
            Err(ApiError::MethodNotAllowed(vec![route.method.as_str()]))
        }
        Some(params) => Ok(params),
    };
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let result = match params {
        Ok(params) => {
            router::dispatch(app, route, params, http::Request::from_parts(parts, body)).await
        }
        Err(e) => Err(e),
    };
    let response = router::respond(result, &request_id);
    router::log_request(
        &method,
        Some(route),
        response.status().as_u16(),
        started,
        &request_id,
    );
    let (parts, bytes) = response.into_parts();
    let text = String::from_utf8(bytes.to_vec()).unwrap_or_default();
    lambda_http::Response::from_parts(parts, Body::Text(text))
}

/// What a scheduler invocation keeps back from its deadline: no claim starts later.
const BUDGET_RESERVE_MS: i64 = 10_000;

/// The scheduler function: each EventBridge tick runs one pass at the current time. Any
/// JSON payload is taken (EventBridge Scheduler may send its own input); a scheduled event's
/// id and time are logged.
pub async fn serve_scheduler(app: &App) -> Result<(), Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            let tick: Option<EventBridgeEvent<Value>> = serde_json::from_value(event.payload).ok();
            // stop claiming when less than BUDGET_RESERVE of the invocation is left
            let left_ms = event.context.deadline as i64 - Clock::system().now().timestamp_millis();
            let options = scheduler::Options {
                concurrency: app.config.scheduler_concurrency,
                deadline: Some(
                    std::time::Instant::now()
                        + std::time::Duration::from_millis(
                            (left_ms - BUDGET_RESERVE_MS).max(0) as u64
                        ),
                ),
                ..scheduler::Options::default()
            };
            let summary: Summary = scheduler::fire_due_with(app.table(), app.now(), &options).await;
            // runners that took an execution (202) and never reported: ended here, since the
            // delivery function runs only on events
            let unreported =
                match crate::repo::executions::fail_unreported(app.table(), app.now()).await {
                    Ok(n) => n,
                    Err(e) => {
                        crate::log::error("unreported executions not ended", &e.message());
                        0
                    }
                };
            crate::log::invocation_line(
                "fire-schedules",
                serde_json::json!({
                    "unreported": unreported,
                    "level": "info", "msg": "scheduler pass",
                    "event": tick.as_ref().and_then(|t| t.id.clone()),
                    "scheduledTime": tick.as_ref().and_then(|t| t.time).map(crate::time::format),
                    "fired": summary.fired, "failed": summary.failed, "skipped": summary.skipped,
                    "deferred": summary.deferred, "pages": summary.pages,
                }),
            );
            Ok::<_, Error>(summary)
        },
    ))
    .await
}
