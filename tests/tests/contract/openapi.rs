//! The committed `openapi.json` is exactly what the code generates, and it covers every route.

use std::path::PathBuf;

use crate::common::{Store, TestApp};
use serde_json::{json, Value};

crate::cases! {
    both: [documented_limits_are_the_validators],
    plain: [committed_document_matches_the_code, every_route_is_documented],
}

fn committed_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("openapi.json");
    let committed = std::fs::read_to_string(&path).expect("openapi.json is committed");
    assert!(
        committed == runtype::openapi::document_text(),
        "openapi.json drifted from the code: regenerate it with `cargo run --bin runtype -- openapi > openapi.json`"
    );
}

fn every_route_is_documented() {
    let doc = runtype::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for route in runtype::router::routes() {
        let path = route.path.split('/').map(|s| match s.strip_prefix(':') {
            Some(n) => format!("{{{n}}}"),
            None => s.to_string(),
        });
        let path: Vec<String> = path.collect();
        let op = &doc["paths"][path.join("/")][route.method.as_str().to_lowercase()];
        assert_eq!(
            op["operationId"], route.function,
            "{} {}",
            route.method, route.path
        );
        assert!(op["responses"]["401"].is_object() && op["responses"]["404"].is_object());
        operations += 1;
    }
    assert_eq!(operations, runtype::router::routes().count());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The request body schema of the operation `function`, from the generated document.
fn body_schema(doc: &Value, function: &str) -> Value {
    let op = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .find(|op| op["operationId"] == function)
        .unwrap_or_else(|| panic!("{function} is documented"));
    op["requestBody"]["content"]["application/json"]["schema"].clone()
}

/// Every string length and integer range the document states for a create body is exactly
/// what the server enforces: a value at the limit is accepted, one past it is a 400 naming
/// that field. Nothing here repeats a limit: they are all read from the document.
async fn documented_limits_are_the_validators(store: Store) {
    let t = TestApp::new(store).await;
    let doc = runtype::openapi::document();
    let product = t.product("limits").await;
    let cases = [
        (
            "create-product",
            "/v1/products".to_string(),
            json!({ "name": "p" }),
        ),
        (
            "add-capability",
            format!("/v1/products/{product}/capabilities"),
            json!({ "capabilityName": "c", "flowId": "flow_1" }),
        ),
        (
            "create-surface",
            format!("/v1/products/{product}/surfaces"),
            json!({ "name": "s", "type": "api" }),
        ),
    ];
    let mut checked = 0;
    for (function, path, base) in cases {
        let schema = body_schema(&doc, function);
        for (field, rule) in schema["properties"].as_object().unwrap() {
            let rule = match &rule["anyOf"] {
                Value::Array(alts) => alts[0].clone(),
                _ => rule.clone(),
            };
            let (ok, bad) = match (rule["maxLength"].as_u64(), rule["maximum"].as_i64()) {
                (Some(max), _) if rule["pattern"].is_null() => (
                    json!("a".repeat(max as usize)),
                    json!("a".repeat(max as usize + 1)),
                ),
                (_, Some(max)) => (json!(max), json!(max + 1)),
                _ => continue,
            };
            // capability names are unique per product: each accepted one differs
            let ok = match (field.as_str(), &ok) {
                ("capabilityName", Value::String(s)) => json!(format!("{checked}{}", &s[1..])),
                _ => ok,
            };
            let mut body = base.clone();
            if function == "add-capability" && field != "capabilityName" {
                body["capabilityName"] = json!(format!("c{checked}"));
            }
            if field == "agentId" {
                // exactly one of flowId and agentId, as the document says
                body.as_object_mut().unwrap().remove("flowId");
            }
            body[field] = ok;
            let r = t.call("POST", &path, Some(body.clone())).await;
            assert_eq!(
                r.status, 201,
                "{function} {field} at its documented limit: {r:?}"
            );
            body[field] = bad;
            let r = t.call("POST", &path, Some(body)).await;
            assert_eq!(
                r.status, 400,
                "{function} {field} past its documented limit: {r:?}"
            );
            assert!(
                r.details().iter().any(|(p, _)| p == field),
                "{function} {field}: {r:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} limits checked");
}
