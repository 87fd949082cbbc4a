//! Seeding a store through the API itself, in process (no HTTP): one owner, a product, and an
//! `api` surface with a bound capability and a key. Shared by the contract suite and the
//! benchmarks, which all start from this.

use bytes::Bytes;
use runtype::app::App;
use runtype::router::{self, Route};
use serde_json::{json, Value};

/// `route`'s path with `ids` in its parameters, in template order (all of them, no more).
pub fn path(route: &Route, ids: &[&str]) -> String {
    let mut ids = ids.iter();
    let path: Vec<String> = route
        .path
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(name) => ids
                .next()
                .unwrap_or_else(|| panic!("{route:?} needs a value for {name}"))
                .to_string(),
            None => seg.to_string(),
        })
        .collect();
    assert!(ids.next().is_none(), "{route:?} has fewer parameters");
    path.join("/")
}

/// `route` with `ids` in its path parameters (in template order), called with `key` as the
/// bearer credential; the answer's status and body.
pub async fn send(app: &App, key: &str, route: &Route, ids: &[&str], body: Value) -> (u16, Value) {
    call_path(app, key, route.method.as_str(), &path(route, ids), body).await
}

/// A request to `path` by hand (a query string, say).
pub async fn call_path(
    app: &App,
    key: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let out = runtype::router::handle(app, req, "seed").await;
    let status = out.response.status().as_u16();
    (status, serde_json::from_slice(out.response.body()).unwrap())
}

/// Like `send`, for a call that must succeed: its body.
pub async fn made(app: &App, key: &str, route: &Route, ids: &[&str], body: Value) -> Value {
    let (status, body) = send(app, key, route, ids, body).await;
    assert!((200..300).contains(&status), "{route:?}: {status} {body}");
    body
}

/// A new owner; the plaintext of its full-access platform key.
pub async fn owner(app: &App, name: &str) -> String {
    let (_, key) =
        runtype::repo::accounts::create_account(app.table(), name, &app.clock.now_string())
            .await
            .expect("an account");
    key.plaintext
}

/// What `api_surface` made.
#[derive(Debug, Clone)]
pub struct ApiSurface {
    pub product: String,
    pub capability: String,
    pub surface: String,
    pub item: String,
    /// The surface key's plaintext.
    pub key: String,
}

impl ApiSurface {
    /// The gateway path of the item (slug `answer-questions`).
    pub fn endpoint(&self) -> String {
        format!(
            "/v1/products/{}/surfaces/{}/api/answer-questions",
            self.product, self.surface
        )
    }
}

/// A product of `owner_key`'s owner with capability "Answer questions" (flow `flow_1`) bound
/// to a new `api` surface (`surface_config` its `config`) as its entry point, and a key of
/// the surface made with `key_body`.
pub async fn api_surface(
    app: &App,
    owner_key: &str,
    surface_config: Value,
    key_body: Value,
) -> ApiSurface {
    surface_of(app, owner_key, "api", surface_config, key_body).await
}

/// As `api_surface`, with a surface of type `kind` (`mcp`, `a2a`, …), made active.
pub async fn surface_of(
    app: &App,
    owner_key: &str,
    kind: &str,
    surface_config: Value,
    key_body: Value,
) -> ApiSurface {
    let id = |v: Value| v["id"].as_str().unwrap().to_string();
    let product = id(made(
        app,
        owner_key,
        &router::CREATE_PRODUCT,
        &[],
        json!({ "name": "seed" }),
    )
    .await);
    let capability = id(made(
        app,
        owner_key,
        &router::ADD_CAPABILITY,
        &[&product],
        json!({ "capabilityName": "Answer questions", "flowId": "flow_1" }),
    )
    .await);
    let surface = id(made(
        app,
        owner_key,
        &router::CREATE_SURFACE,
        &[&product],
        json!({ "name": "Public API", "type": kind, "status": "active", "config": surface_config }),
    )
    .await);
    let item = id(made(
        app,
        owner_key,
        &router::ADD_SURFACE_ITEM,
        &[&product, &surface],
        json!({ "capabilityId": capability, "isEntryPoint": true, "exposedDescription": "Answers" }),
    )
    .await);
    let key = made(
        app,
        owner_key,
        &router::CREATE_SURFACE_KEY,
        &[&product, &surface],
        key_body,
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    ApiSurface {
        product,
        capability,
        surface,
        item,
        key,
    }
}
