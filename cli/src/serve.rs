//! `runtype serve`: every route on one local HTTP server, on the chosen store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use runtype::app::{App, Config};
use runtype::delivery::runner::Settings;
use runtype::delivery::Deliverer;
use runtype::error::ApiError;
use runtype::repo::accounts;
use runtype::router::{self, MAX_BODY};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{failed, open, Failure, StoreArgs};

/// Serve on `host:port`; `config` as read from the environment (public URLs default to
/// the address listened on).
pub async fn run(
    store: &StoreArgs,
    config: Config,
    host: &str,
    port: u16,
    scheduler: bool,
    deliver: bool,
) -> Result<(), Failure> {
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| failed(format!("cannot listen on {host}:{port}: {e}")))?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|e| failed(format!("cannot read the listening address: {e}")))?;
    let shown_host = if local.is_ipv6() {
        format!("[{}]", local.ip())
    } else {
        local.ip().to_string()
    };
    let base = format!("http://{shown_host}:{}", local.port());
    let config = config.with_default_url(&base);
    // a runner set up wrong is said at start, not at the first execution
    let settings = match deliver {
        true => Settings::from_config(&config.runner).map_err(failed)?,
        false => Settings::with_runner(runtype::delivery::runner::Runner::None),
    };
    let mut app = open(store, config).await?;
    // the deliverer works in the background and makes a waiting caller's first attempt
    // (`Prefer: wait`) in its request
    let deliverer = (deliver && settings.delivers()).then(|| {
        Arc::new(
            Deliverer::new(
                app.table_handle(),
                settings,
                app.clock.clone(),
                &app.config.public_url,
            )
            .notifying(app.executions_settled.clone()),
        )
    });
    app.deliverer = deliverer.clone();
    let app = Arc::new(app);

    first_account(&app, &base).await;
    if scheduler {
        // what fell due while the server was down fires now, not at the next minute
        fire_pass(&app).await;
        tokio::spawn(fire_every_minute(app.clone()));
    }
    if let Some(deliverer) = deliverer {
        tokio::spawn(deliver_forever(app.clone(), deliverer));
    }
    println!("runtype: serving the Runtype Products API on {base}");
    runtype::log::line(json!({ "level": "info", "msg": "listening", "url": base }));

    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let header_timeout = app.config.header_read_timeout;
    loop {
        // past the limit, new connections wait in the listen queue until one closes
        let Ok(slot) = connections.clone().acquire_owned().await else {
            return Ok(());
        };
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                runtype::log::error("accept failed", &e.to_string());
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(serve_one(&app, req).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

/// Fire due schedules at the start of every minute, as EventBridge does in the cloud.
async fn fire_every_minute(app: Arc<App>) {
    loop {
        let now = app.now();
        let into_minute = now.timestamp_millis().rem_euclid(60_000) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(60_000 - into_minute)).await;
        fire_pass(&app).await;
    }
}

/// One scheduler pass, done before the next minute's: claims stop after 50 s.
async fn fire_pass(app: &App) {
    let options = runtype::scheduler::Options {
        deadline: Some(Instant::now() + Duration::from_secs(50)),
        ..Default::default()
    };
    let summary = runtype::scheduler::fire_due_with(app.table(), app.now(), &options).await;
    if summary.fired > 0 {
        app.new_executions.notify_one();
    }
    if summary.fired + summary.failed > 0 {
        runtype::log::line(
            json!({ "level": "info", "msg": "scheduler pass", "fired": summary.fired, "failed": summary.failed, "skipped": summary.skipped, "deferred": summary.deferred }),
        );
    }
}

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// The longest a deliverer sleeps between passes: executions written by another process
/// on the same data file are picked up within this.
const DELIVERY_POLL: Duration = Duration::from_secs(1);

/// Deliver in the background: a pass at once whenever this process writes an execution,
/// else when the next retry is due, else every `DELIVERY_POLL`.
async fn deliver_forever(app: Arc<App>, deliverer: Arc<Deliverer>) {
    loop {
        match deliverer.pass().await {
            Ok(s) if s.delivered + s.retried + s.failed > 0 => runtype::log::line(
                json!({ "level": "info", "msg": "delivery pass", "delivered": s.delivered, "retried": s.retried, "failed": s.failed }),
            ),
            Ok(_) => {}
            Err(e) => runtype::log::error("delivery pass failed", &e.message()),
        }
        let next = runtype::repo::executions::next_due(app.table())
            .await
            .ok()
            .flatten();
        let wait = next
            .map(|at| (at - app.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(DELIVERY_POLL)
            .clamp(Duration::from_millis(20), DELIVERY_POLL);
        tokio::select! {
            _ = app.new_executions.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// On a store with no account yet, make one and print its key — once, inside a command
/// that works as printed.
async fn first_account(app: &App, base: &str) {
    match accounts::any_account(app.table()).await {
        Ok(true) => {}
        Ok(false) => {
            match accounts::create_account(app.table(), "local", &app.clock.now_string()).await {
                Ok((account, key)) => {
                    println!(
                    "runtype: created account {} and its platform key, shown only now (in this command):",
                    account.id
                );
                    println!(
                        "  curl -H 'Authorization: Bearer {}' {base}/v1/products",
                        key.plaintext
                    );
                }
                Err(e) => eprintln!(
                    "runtype: could not create the first account: {}",
                    e.message()
                ),
            }
        }
        Err(e) => eprintln!(
            "runtype: storage is not reachable yet ({}); serving anyway",
            e.message()
        ),
    }
}

/// The local server's own GETs, beside the API's routes: the OpenAPI document, the metrics
/// and the health check.
async fn local(app: &App, path: &str) -> Option<hyper::Response<Full<Bytes>>> {
    let (status, content_type, body) = match path {
        "/openapi.json" => (200, "application/json", runtype::openapi::document_text()),
        "/metrics" => (
            200,
            crate::operate::METRICS_CONTENT_TYPE,
            crate::operate::metrics_text(),
        ),
        "/healthz" => match crate::operate::healthy(app).await {
            true => (200, "application/json", r#"{"status":"ok"}"#.to_string()),
            false => (
                503,
                "application/json",
                r#"{"status":"unavailable","error":"the store is not reachable"}"#.to_string(),
            ),
        },
        _ => return None,
    };
    let mut res = hyper::Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Some(res)
}

/// The log line of a request the API's routes do not serve.
fn log_local(method: &http::Method, path: &str, status: u16, started: Instant, request_id: &str) {
    let route = match path {
        "/openapi.json" | "/metrics" | "/healthz" => path,
        _ => "(unmatched)",
    };
    runtype::log::line(serde_json::json!({
        "level": "info",
        "msg": "request",
        "method": method.as_str(),
        "route": route,
        "status": status,
        "durationMs": (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        "requestId": request_id,
    }));
}

async fn serve_one(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = runtype::ids::request_id();
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    if method == http::Method::GET {
        if let Some(res) = local(app, parts.uri.path()).await {
            log_local(
                &method,
                parts.uri.path(),
                res.status().as_u16(),
                started,
                &request_id,
            );
            let mut res = res;
            if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                res.headers_mut().insert("x-request-id", v);
            }
            return res;
        }
    }
    // the whole body within its time, so a client trickling it cannot hold a connection slot
    let read = tokio::time::timeout(
        app.config.body_read_timeout,
        Limited::new(body, MAX_BODY).collect(),
    )
    .await;
    let Ok(read) = read else {
        let mut res = router::respond(Err(ApiError::RequestTimeout), &request_id);
        res.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        log_local(&method, parts.uri.path(), 408, started, &request_id);
        let (parts, body) = res.into_parts();
        return hyper::Response::from_parts(parts, Full::new(body));
    };
    let outcome = match read {
        Ok(collected) => {
            let req = http::Request::from_parts(parts, collected.to_bytes());
            router::handle(app, req, &request_id).await
        }
        Err(e) => {
            let err = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest {
                    code: "INVALID_JSON",
                    message: "Request body could not be read".into(),
                }
            };
            let route = router::find(&method, parts.uri.path()).ok().map(|(r, _)| r);
            router::Outcome {
                response: router::respond(Err(err), &request_id),
                route,
            }
        }
    };
    router::log_request(
        &method,
        outcome.route,
        outcome.response.status().as_u16(),
        started,
        &request_id,
    );
    outcome.response.map(Full::new)
}
