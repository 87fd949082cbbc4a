//! Every route, once: method + path template → handler, and the function (Lambda) that
//! serves it. The local server, the tests and each Lambda binary all dispatch through here.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use crate::api;
use crate::app::App;
use crate::auth::{self, surface_key::Door, surface_key::Gateway};
use crate::call::{param, parse_query, percent_decode, Call, Params, Reply};
use crate::error::{ApiError, ApiResult};
use crate::schema::Doc;

/// Largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = ApiResult<Reply>> + Send + 'a>>;

/// What serves a route, which also says who may call it.
#[derive(Clone, Copy)]
pub enum Handler {
    /// The management API: platform keys and session tokens.
    Management(for<'a> fn(&'a App, Call) -> HandlerFuture<'a>),
    /// The gateway and the protocol surfaces: surface keys of the surfaces behind the door;
    /// the handler is handed the verified call.
    SurfaceKey(
        for<'a> fn(&'a App, Call, Gateway) -> HandlerFuture<'a>,
        Door,
    ),
    /// A runner's report: the callback token is the handler's to check (against the
    /// execution the path names).
    Callback(for<'a> fn(&'a App, Call) -> HandlerFuture<'a>),
    /// Public discovery documents (an MCP manifest, an Agent Card): no credentials.
    Public(for<'a> fn(&'a App, Call) -> HandlerFuture<'a>),
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Platform keys and session tokens (the management API).
    Management,
    /// Surface keys (the gateway).
    SurfaceKey,
    /// An execution's callback token (a runner reporting later); the handler checks it.
    Callback,
    /// Anyone (discovery documents).
    Public,
}

pub struct Route {
    pub method: Method,
    /// Path template with `:name` parameters, as in API.md.
    pub path: &'static str,
    /// The Lambda function (crate under `functions/`) that serves this route.
    pub function: &'static str,
    pub handler: Handler,
}

impl Route {
    /// Who may call it.
    pub fn access(&self) -> Access {
        match self.handler {
            Handler::Management(_) => Access::Management,
            Handler::SurfaceKey(..) => Access::SurfaceKey,
            Handler::Callback(_) => Access::Callback,
            Handler::Public(_) => Access::Public,
        }
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function)
    }
}

/// Each route is a `static`, so a Lambda binary that names only its own route links only
/// that route's handler; `ROUTES` lists them all for the local server and the tests.
macro_rules! routes {
    ($($name:ident: $method:ident $path:literal => $function:literal $module:ident::$handler:ident $([$($access:ident)+])?;)*) => {
        $(
            pub static $name: Route = Route {
                method: Method::$method,
                path: $path,
                function: $function,
                handler: routes!(@handler $module::$handler $(, $($access)+)?),
            };
        )*
        /// Every route, in the order of API.md.
        pub static ROUTES: &[&Route] = &[$(&$name),*];
        /// Every route with its contract, which lives beside its handler
        /// (`api::<module>::doc::<handler>`): the OpenAPI document is made from these. Only
        /// what names this table links the contracts in.
        pub static DOCS: &[(&Route, fn() -> Doc)] = &[$((&$name, $module::doc::$handler)),*];
    };
    (@handler $handler:path) => {{
        fn handler<'a>(app: &'a App, call: Call) -> HandlerFuture<'a> {
            Box::pin($handler(app, call))
        }
        Handler::Management(handler)
    }};
    (@handler $handler:path, callback) => {{
        fn handler<'a>(app: &'a App, call: Call) -> HandlerFuture<'a> {
            Box::pin($handler(app, call))
        }
        Handler::Callback(handler)
    }};
    (@handler $handler:path, public) => {{
        fn handler<'a>(app: &'a App, call: Call) -> HandlerFuture<'a> {
            Box::pin($handler(app, call))
        }
        Handler::Public(handler)
    }};
    (@handler $handler:path, key $door:ident) => {{
        fn handler<'a>(app: &'a App, call: Call, g: Gateway) -> HandlerFuture<'a> {
            Box::pin($handler(app, call, g))
        }
        Handler::SurfaceKey(handler, Door::$door)
    }};
}

use api::{
    a2a, as_code, capabilities, executions, gateway, items, mcp, products, schedules, surface_keys,
    surfaces,
};

#[rustfmt::skip]
routes! {
    CREATE_PRODUCT: POST "/v1/products" => "create-product" products::create;
    LIST_PRODUCTS: GET "/v1/products" => "list-products" products::list;
    GET_PRODUCT: GET "/v1/products/:id" => "get-product" products::get;
    UPDATE_PRODUCT: PUT "/v1/products/:id" => "update-product" products::update;
    DELETE_PRODUCT: DELETE "/v1/products/:id" => "delete-product" products::delete;
    ADD_CAPABILITY: POST "/v1/products/:id/capabilities" => "add-capability" capabilities::create;
    UPDATE_CAPABILITY: PUT "/v1/products/:id/capabilities/:capabilityId" => "update-capability" capabilities::update;
    DELETE_CAPABILITY: DELETE "/v1/products/:id/capabilities/:capabilityId" => "delete-capability" capabilities::delete;
    CREATE_SURFACE: POST "/v1/products/:id/surfaces" => "create-surface" surfaces::create;
    LIST_SURFACES: GET "/v1/products/:id/surfaces" => "list-surfaces" surfaces::list;
    GET_SURFACE: GET "/v1/products/:id/surfaces/:surfaceId" => "get-surface" surfaces::get;
    UPDATE_SURFACE: PUT "/v1/products/:id/surfaces/:surfaceId" => "update-surface" surfaces::update;
    DELETE_SURFACE: DELETE "/v1/products/:id/surfaces/:surfaceId" => "delete-surface" surfaces::delete;
    ADD_SURFACE_ITEM: POST "/v1/products/:id/surfaces/:surfaceId/items" => "add-surface-item" items::create;
    UPDATE_SURFACE_ITEM: PUT "/v1/products/:id/surfaces/:surfaceId/items/:itemId" => "update-surface-item" items::update;
    DELETE_SURFACE_ITEM: DELETE "/v1/products/:id/surfaces/:surfaceId/items/:itemId" => "delete-surface-item" items::delete;
    CREATE_SURFACE_KEY: POST "/v1/products/:id/surfaces/:surfaceId/keys" => "create-surface-key" surface_keys::create;
    DELETE_SURFACE_KEY: DELETE "/v1/products/:id/surfaces/:surfaceId/keys/:keyId" => "delete-surface-key" surface_keys::delete;
    CREATE_SCHEDULE: POST "/v1/products/:id/surfaces/:surfaceId/schedules" => "create-schedule" schedules::create;
    LIST_SCHEDULES: GET "/v1/products/:id/surfaces/:surfaceId/schedules" => "list-schedules" schedules::list;
    GET_SCHEDULE: GET "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId" => "get-schedule" schedules::get;
    UPDATE_SCHEDULE: PUT "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId" => "update-schedule" schedules::update;
    DELETE_SCHEDULE: DELETE "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId" => "delete-schedule" schedules::delete;
    PAUSE_SCHEDULE: POST "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId/pause" => "pause-schedule" schedules::pause;
    RESUME_SCHEDULE: POST "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId/resume" => "resume-schedule" schedules::resume;
    RUN_SCHEDULE_NOW: POST "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId/run-now" => "run-schedule-now" schedules::run_now;
    LIST_SURFACE_SCHEDULE_RUNS: GET "/v1/products/:id/surfaces/:surfaceId/schedules/:scheduleId/runs" => "list-surface-schedule-runs" schedules::surface_runs;
    LIST_ALL_SCHEDULES: GET "/v1/schedules" => "list-all-schedules" schedules::list_all;
    FIND_SCHEDULE: GET "/v1/schedules/:id" => "find-schedule" schedules::find;
    LIST_SCHEDULE_RUNS: GET "/v1/schedules/:id/runs" => "list-schedule-runs" schedules::runs;
    GET_SCHEDULE_STATS: GET "/v1/schedules/:id/stats" => "get-schedule-stats" schedules::stats;
    DESCRIBE_SURFACE_API: GET "/v1/products/:id/surfaces/:surfaceId/api" => "describe-surface-api" gateway::describe [key Api];
    INVOKE_SURFACE_ENTRY: POST "/v1/products/:id/surfaces/:surfaceId/api" => "invoke-surface-entry" gateway::invoke_entry [key Api];
    INVOKE_SURFACE_ENDPOINT: POST "/v1/products/:id/surfaces/:surfaceId/api/:endpointSlug" => "invoke-surface-endpoint" gateway::invoke [key Api];
    GET_SURFACE_EXECUTION: GET "/v1/products/:id/surfaces/:surfaceId/api/executions/:executionId" => "get-surface-execution" gateway::execution [key Executions];
    LIST_EXECUTIONS: GET "/v1/products/:id/executions" => "list-executions" executions::list;
    GET_EXECUTION: GET "/v1/products/:id/executions/:executionId" => "get-execution" executions::get;
    CANCEL_EXECUTION: POST "/v1/products/:id/executions/:executionId/cancel" => "cancel-execution" executions::cancel;
    MCP: POST "/v1/products/:id/surfaces/:surfaceId/mcp" => "mcp" mcp::post [key Mcp];
    MCP_MANIFEST: GET "/v1/products/:id/surfaces/:surfaceId/mcp/.well-known/mcp.json" => "mcp-manifest" mcp::manifest [public];
    MCP_INFO: GET "/v1/products/:id/surfaces/:surfaceId/mcp/info" => "mcp-info" mcp::info [public];
    MCP_PROTECTED_RESOURCE: GET "/v1/products/:id/surfaces/:surfaceId/mcp/.well-known/oauth-protected-resource" => "mcp-protected-resource" mcp::protected_resource [public];
    A2A: POST "/v1/products/:id/surfaces/:surfaceId/a2a" => "a2a" a2a::post [key A2a];
    A2A_AGENT_CARD: GET "/v1/products/:id/surfaces/:surfaceId/a2a/.well-known/agent-card.json" => "a2a-agent-card" a2a::agent_card [public];
    A2A_INFO: GET "/v1/products/:id/surfaces/:surfaceId/a2a/info" => "a2a-info" a2a::info [public];
    COMPLETE_EXECUTION: POST "/v1/executions/:executionId/complete" => "complete-execution" executions::complete [callback];
    ENSURE_PRODUCT: POST "/v1/products/ensure" => "ensure-product" as_code::ensure_product;
    PULL_PRODUCT: GET "/v1/products/pull" => "pull-product" as_code::pull_product;
    ENSURE_SURFACE: POST "/v1/products/:id/surfaces/ensure" => "ensure-surface" as_code::ensure_surface;
    PULL_SURFACE: GET "/v1/products/:id/surfaces/pull" => "pull-surface" as_code::pull_surface;
}

/// Every route.
pub fn routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().copied()
}

/// The route named by its function.
pub fn route_of(function: &str) -> Option<&'static Route> {
    routes().find(|r| r.function == function)
}

/// Match `path` against a template; answers the parameters.
pub fn match_path(template: &'static str, path: &str) -> Option<Params> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut t = template.split('/');
    let mut p = path.split('/');
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix(':') {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(ps, false)));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Find the route for a request: `Err` is the 404 or 405 to answer. A literal segment
/// beats a parameter (`/v1/products/pull` is not product "pull"), as on API Gateway.
pub fn find(method: &Method, path: &str) -> Result<(&'static Route, Params), ApiError> {
    let mut allowed = Vec::new();
    let mut best: Option<(&'static Route, Params)> = None;
    let params_of = |r: &Route| r.path.matches(':').count();
    for r in routes() {
        if let Some(params) = match_path(r.path, path) {
            if r.method == *method {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| params_of(r) < params_of(b))
                {
                    best = Some((r, params));
                }
            } else {
                allowed.push(r.method.as_str());
            }
        }
    }
    if let Some(found) = best {
        return Ok(found);
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound(format!("No route for {path}")))
    } else {
        allowed.sort_unstable();
        allowed.dedup();
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    match headers.get(http::header::CONTENT_TYPE) {
        None => true,
        Some(v) => {
            let v = v.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = v.split(';').next().unwrap_or("").trim();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        }
    }
}

/// What the log line of a request needs, beside the response.
pub struct Outcome {
    pub response: Response<Bytes>,
    pub route: Option<&'static Route>,
}

/// Serve one request end to end: route, limits, auth, handler, error mapping.
pub async fn handle(app: &App, req: Request<Bytes>, request_id: &str) -> Outcome {
    let (route, result) = match find(req.method(), req.uri().path()) {
        Ok((route, params)) => (Some(route), dispatch(app, route, params, req).await),
        Err(e) => (None, Err(e)),
    };
    Outcome {
        response: respond(result, request_id),
        route,
    }
}

/// Serve a request already routed (a Lambda function serves exactly one route).
pub async fn dispatch(
    app: &App,
    route: &Route,
    params: Params,
    req: Request<Bytes>,
) -> ApiResult<Reply> {
    let (parts, body) = req.into_parts();
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    if !body.is_empty() && !is_json(&parts.headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let headers = parts.headers.clone();
    let (product, surface) = (
        param(&params, "id").to_string(),
        param(&params, "surfaceId").to_string(),
    );
    let execution = param(&params, "executionId").to_string();
    let call = |caller| Call {
        caller,
        query: parse_query(parts.uri.query()),
        body: body.clone(),
        public_url: public_url(app, &parts.headers),
        headers: parts.headers,
        params,
    };
    // the door first: who is calling (the idempotency scope is theirs), then the handler
    let (scope, run) = match route.handler {
        Handler::Management(handler) => {
            let caller = auth::authenticate(app.table(), app.jwt.as_deref(), &headers).await?;
            if caller.read_only && method != Method::GET {
                return Err(ApiError::Forbidden(
                    "This API key is read-only; it may only make GET requests".into(),
                ));
            }
            (
                format!("OWNER#{}", caller.owner),
                handler(app, call(caller)),
            )
        }
        Handler::SurfaceKey(handler, door) => {
            let opened =
                auth::surface_key::open(app.table(), &headers, &product, &surface, door, app.now())
                    .await;
            if let Err(refused) = &opened {
                api::gateway::count_refusal(refused);
            }
            let g = match opened {
                Ok(g) => g,
                Err(refused) if door == Door::Mcp => {
                    let base = public_url(app, &headers);
                    return Err(api::mcp::refused(refused, &base, &product, &surface));
                }
                Err(refused) => return Err(refused),
            };
            if door != Door::Api {
                // the protocols remember a call by what it asks, not by its JSON-RPC envelope
                // (a new id each time): their handlers run idempotency around the gateway call
                return handler(app, call(g.caller()), g).await;
            }
            let scope = format!("KEY#{}", g.key.key_id);
            (scope, handler(app, call(g.caller()), g))
        }
        Handler::Public(handler) => {
            let anyone = auth::Caller {
                owner: String::new(),
                principal: "anyone".into(),
                read_only: true,
            };
            return handler(app, call(anyone)).await;
        }
        Handler::Callback(handler) => {
            let runner = auth::Caller {
                owner: String::new(),
                principal: format!("runner of {execution}"),
                read_only: false,
            };
            // the handler checks the token; an idempotent replay (answered before the handler
            // runs) is only ever to the same token
            let token = auth::bearer(&headers).map(crate::secrets::hash);
            let scope = format!("RUNNER#{execution}#{}", token.unwrap_or_default());
            (scope, handler(app, call(runner)))
        }
    };
    if method != Method::POST {
        return run.await;
    }
    let post = crate::idempotency::Post {
        scope: &scope,
        method: &method,
        path: &path,
        headers: &headers,
        body: &body,
    };
    crate::idempotency::run(app.table(), post, app.now(), run).await
}

/// The configured public base URL, else `https://<Host>` (behind API Gateway with no
/// configured URL).
fn public_url(app: &App, headers: &HeaderMap) -> String {
    if !app.config.public_url.is_empty() {
        return app.config.public_url.clone();
    }
    headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(|h| format!("https://{h}"))
        .unwrap_or_default()
}

/// Turn a handler's result into the HTTP response, with `x-request-id` always set.
pub fn respond(result: ApiResult<Reply>, request_id: &str) -> Response<Bytes> {
    if let Err(e) = &result {
        if e.code() == "QUOTA_EXCEEDED" {
            crate::metrics::count(&crate::metrics::QUOTA_REFUSALS, None, 1);
        }
    }
    let (status, body, extra) = match result {
        Ok(reply) => (reply.status, reply.body, reply.headers),
        Err(e) => (e.status(), e.body(), e.headers()),
    };
    // an answer with nothing to say (a JSON-RPC notification taken) has no body at all
    let empty = body.is_null();
    let mut res = Response::new(if empty {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    });
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = res.headers_mut();
    if !empty {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    // every answer: never cached (unless the route says otherwise), never sniffed
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    res
}

/// One JSON log line for a served request (never headers, bodies or keys), with what the
/// request counted when a function serves it.
pub fn log_request(
    method: &Method,
    route: Option<&Route>,
    status: u16,
    started: Instant,
    request_id: &str,
) {
    let function = route.map_or("runtype", |r| r.function);
    let route = route.map(|r| r.path);
    crate::log::invocation_line(
        function,
        serde_json::json!({
            "level": "info",
            "msg": "request",
            "method": method.as_str(),
            "route": route.unwrap_or("(unmatched)"),
            "status": status,
            "durationMs": (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
            "requestId": request_id,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates() {
        let p = match_path(
            "/v1/products/:id/capabilities/:capabilityId",
            "/v1/products/prod_1/capabilities/cap_2",
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                ("id", "prod_1".to_string()),
                ("capabilityId", "cap_2".to_string())
            ]
        );
        assert!(match_path("/v1/products/:id", "/v1/products/").is_none());
        assert!(match_path("/v1/products/:id", "/v1/products/a/b").is_none());
        assert!(match_path("/v1/products", "/v1/products/").is_some());
        // `+` is a plain character in a path segment
        assert_eq!(
            match_path("/v1/products/:id", "/v1/products/a+b%2Bc").unwrap(),
            vec![("id", "a+b+c".to_string())]
        );
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        assert_eq!(find(&Method::GET, "/nope").unwrap_err().status(), 404);
        let e = find(&Method::PATCH, "/v1/products").unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(e.headers()[0].1, "GET, POST");
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            parse_query(Some("limit=5&search=a%20b+c&x")),
            vec![
                ("limit".into(), "5".into()),
                ("search".into(), "a b c".into()),
                ("x".into(), "".into())
            ]
        );
    }
}
