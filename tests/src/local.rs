//! The API called in-process (no HTTP), for the benchmarks' set-up.

use bytes::Bytes;
use runtype::app::App;
use serde_json::Value;

/// One call with `key` as the bearer credential; the answer's body as JSON.
pub async fn call(app: &App, key: &str, method: &str, path: &str, body: Value) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let out = runtype::router::handle(app, req, "bench").await;
    serde_json::from_slice(out.response.body()).unwrap()
}
