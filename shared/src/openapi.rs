//! The OpenAPI 3.1 document, generated from the code: paths, methods, operation ids and path
//! parameters come from the route table, each operation's body, answer and query parameters
//! from its contract beside its handler (`api::<module>::doc`), the shared components from
//! here, and the field limits from the same constants the validators use. `runtype serve` answers it at `GET /openapi.json`; the committed
//! `openapi.json` is checked against this by a test.

use serde_json::{json, Map, Value};

use crate::schema::*;

use crate::model::{
    Environment, SurfaceEnvironment, SurfaceStatus, SurfaceType, TriggerType, Word,
};
use crate::router::{Access, Route};
use crate::rules::{self, item};

fn schemas() -> Value {
    let product = record(&[
        ("id", string()),
        ("name", string()),
        ("description", nullable(string())),
        ("icon", nullable(string())),
        ("canvas", object()),
        ("spec", object()),
        ("createdAt", time()),
        ("updatedAt", time()),
    ]);
    let capability = record(&[
        ("id", string()),
        ("productId", string()),
        ("flowId", nullable(string())),
        ("agentId", nullable(string())),
        ("capabilityName", string()),
        ("capabilityDescription", nullable(string())),
        ("enabled", boolean()),
        ("displayOrder", nullable(integer())),
        ("parametersSchema?", any()),
        ("createdAt", time()),
        ("updatedAt", time()),
    ]);
    let surface = record(&[
        ("id", string()),
        ("productId", string()),
        ("name", string()),
        ("type", enumeration(SurfaceType::NAMES)),
        ("status", enumeration(SurfaceStatus::NAMES)),
        ("environment", enumeration(SurfaceEnvironment::NAMES)),
        ("config", nullable(object())),
        ("behavior", nullable(object())),
        ("inbound", nullable(object())),
        ("outbound", nullable(object())),
        ("endpoint", nullable(string())),
        ("createdAt", time()),
        ("updatedAt", time()),
    ]);
    let item = record(&[
        ("id", string()),
        ("surfaceId", string()),
        ("capabilityId", string()),
        ("exposedName", nullable(string())),
        ("exposedDescription", nullable(string())),
        ("endpointSlug", nullable(string())),
        ("isEntryPoint", boolean()),
        ("enabled", boolean()),
        ("displayOrder", nullable(integer())),
        ("config", nullable(object())),
        ("presentation", nullable(object())),
        ("createdAt", time()),
        ("updatedAt", time()),
    ]);
    let item_detail = extend(
        "SurfaceItem",
        &[
            ("capabilityName", nullable(string())),
            ("flowId", nullable(string())),
            ("agentId", nullable(string())),
            ("parametersSchema?", any()),
        ],
    );
    let key_fields = |extra: &[(&'static str, Value)]| {
        let mut props = vec![
            ("id", string()),
            ("name", nullable(string())),
            ("keyPrefix", string()),
            ("keyHint", nullable(string())),
            ("scopes", array(string())),
            ("scopeTargetIds", array(string())),
            ("rateLimitPerMinute", nullable(integer())),
            ("rateLimitPerDay", nullable(integer())),
            ("expiresAt", nullable(time())),
            ("isActive", boolean()),
            ("environment", enumeration(Environment::NAMES)),
            ("createdAt", time()),
        ];
        props.extend(extra.iter().cloned());
        record(&props)
    };
    let key_view = key_fields(&[
        ("isDevelopment", boolean()),
        ("canReveal", boolean()),
        ("lastUsedAt?", nullable(time())),
        ("usageCount?", nullable(integer())),
    ]);
    let key_created = key_fields(&[("surfaceId", string()), ("key", string())]);
    let schedule = record(&[
        ("id", string()),
        ("name?", nullable(string())),
        ("productSurfaceId", string()),
        ("flowId", string()),
        ("agentId?", nullable(string())),
        ("triggerType", enumeration(TriggerType::NAMES)),
        ("cron?", nullable(string())),
        ("runAt?", nullable(time())),
        ("timezone", string()),
        ("enabled", boolean()),
        ("nextRunAt", nullable(time())),
        ("lastRunAt", nullable(time())),
        ("recordIds?", nullable(array(string()))),
        ("recordType?", nullable(string())),
        ("recordFilter?", nullable(object())),
        ("executionOptions", object()),
        ("inputs?", nullable(object())),
        ("messages?", any()),
        ("organizationId?", nullable(string())),
        ("userId", string()),
        ("createdAt", time()),
        ("updatedAt", time()),
    ]);
    let run = record(&[
        ("id", string()),
        (
            "status",
            enumeration(&["queued", "running", "completed", "failed"]),
        ),
        ("batchExecutionId", nullable(string())),
        ("startedAt", nullable(time())),
        ("completedAt", nullable(time())),
        ("error", nullable(string())),
        ("totalRecords", count()),
        ("processedRecords", count()),
        ("failedRecords", count()),
        ("createdAt", time()),
    ]);
    let pagination = record(&[
        ("limit", integer()),
        ("currentOffset", integer()),
        ("hasMore", boolean()),
        ("hasPrev", boolean()),
        ("nextCursor", nullable(string())),
    ]);
    let error = record(&[
        ("error", string()),
        ("code", string()),
        (
            "details?",
            array(schema(
                &[
                    ("path", string()),
                    ("code", string()),
                    ("message", string()),
                    ("suggestion", string()),
                ],
                &["path", "code", "message"],
            )),
        ),
    ]);
    let presentation = record(&[
        ("displayLabel", item::DISPLAY_LABEL.schema()),
        ("displayMode", enumeration(item::DISPLAY_MODES)),
        ("route", item::ROUTE.schema()),
        ("displayIcon?", rules::LABEL.schema()),
        ("displayOrder?", rules::POSITION.schema()),
        ("isDefault?", boolean()),
        ("visibility?", enumeration(item::VISIBILITIES)),
        (
            "formConfig?",
            optional(&[
                ("submitButtonLabel", rules::LABEL.schema()),
                ("successMessage", rules::DESCRIPTION.schema()),
                ("inputSchemaOverrides", rules::FREE_JSON.object_schema()),
            ]),
        ),
    ]);
    let mut s = Map::new();
    for (name, v) in [
        ("Error", error),
        ("Pagination", pagination),
        ("Product", product),
        ("Capability", capability),
        ("Surface", surface),
        ("SurfaceItem", item),
        ("SurfaceItemDetail", item_detail),
        ("SurfaceKey", key_view),
        ("SurfaceKeyCreated", key_created),
        ("Presentation", presentation),
        ("Schedule", schedule),
        (
            "ListedScheduleRun",
            extend("ScheduleRun", &[("scheduleId", string())]),
        ),
        ("ScheduleRun", run),
        ("Execution", execution()),
    ] {
        s.insert(name.to_string(), v);
    }
    Value::Object(s)
}

/// Every operation may answer these, with the contract's error body.
const ERRORS: [(&str, &str); 12] = [
    (
        "400",
        "Invalid request (VALIDATION_ERROR with details, INVALID_JSON, INVALID_CURSOR)",
    ),
    (
        "401",
        "Missing, malformed, unknown, revoked or expired credential",
    ),
    (
        "403",
        "The credential may not do this (a read-only key writing)",
    ),
    ("404", "No such resource for this owner"),
    ("405", "Method not allowed on this path"),
    (
        "409",
        "Conflict (a unique name, binding or slug is taken; a concurrent change; for products as code, external_modification or remote_changed with currentHash)",
    ),
    (
        "413",
        "Body too large (1 MiB; 256 KiB for a gateway invocation)",
    ),
    (
        "422",
        "The Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED); a contentHash that is not the definition's (content_hash_mismatch, with contentHash)",
    ),
    (
        "429",
        "A rate limit of the surface key or the surface (gateway; with Retry-After)",
    ),
    ("415", "Body is not JSON"),
    ("500", "Internal error"),
    ("503", "Storage unavailable"),
];

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": r("Error") } } })
}

/// Management routes take a platform key or session token; the gateway a surface key, in
/// `Authorization` or `X-API-Key`; discovery documents nothing.
fn security(route: &Route) -> Value {
    match route.access() {
        Access::Management => json!([{ "bearer": [] }]),
        Access::SurfaceKey => json!([{ "surfaceKey": [] }, { "surfaceApiKey": [] }]),
        Access::Callback => json!([{ "callbackToken": [] }]),
        Access::Public => json!([]),
    }
}

fn path_item(route: &Route, doc: Doc) -> (String, Value) {
    let Doc {
        body,
        status,
        answer,
        query,
        headers,
        also,
    } = doc;
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": string() }))
        .collect();
    parameters.extend(query);
    parameters.extend(headers);
    if route.method == http::Method::POST {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Answer a repeat of this request (same caller, method, path and body) as the first time, for 24 hours",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$" },
        }));
    }
    let mut responses = Map::new();
    responses.insert(
        status.to_string(),
        json!({ "description": "Success", "content": { "application/json": { "schema": answer } } }),
    );
    for (code, _) in ERRORS {
        responses.insert(
            code.to_string(),
            json!({ "$ref": format!("#/components/responses/Error{code}") }),
        );
    }
    // a route's own answers, which may stand for an error status too (a JSON-RPC error);
    // a null answer has no body at all
    for (code, answer, description) in also {
        let response = match answer {
            Value::Null => json!({ "description": description }),
            answer => {
                json!({ "description": description, "content": { "application/json": { "schema": answer } } })
            }
        };
        responses.insert(code.to_string(), response);
    }
    let mut op = json!({
        "operationId": route.function,
        "parameters": parameters,
        "responses": responses,
        "security": security(route),
    });
    if let Some(body) = body {
        // a body is required where it has required fields (or must be one of several shapes)
        let required = body["required"].as_array().is_some_and(|r| !r.is_empty())
            || body.get("oneOf").is_some();
        op["requestBody"] =
            json!({ "required": required, "content": { "application/json": { "schema": body } } });
    }
    let path = route
        .path
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    (path, json!({ route.method.as_str().to_lowercase(): op }))
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (route, doc) in crate::router::DOCS {
        let (path, item) = path_item(route, doc());
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        for (method, op) in item.as_object().unwrap() {
            entry[method] = op.clone();
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Runtype Products API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Products, capabilities, surfaces, surface items, surface API keys, schedules, executions, and the surface gateway.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": ERRORS.iter().map(|(code, what)| (format!("Error{code}"), error_response(what))).collect::<Map<String, Value>>(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A platform API key (rt_live_… / rt_test_…) or a session JWT" },
                "surfaceKey": { "type": "http", "scheme": "bearer", "description": "A surface API key (papi_live_… / papi_test_…), on the surface gateway" },
                "surfaceApiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A surface API key, on the surface gateway" },
                "callbackToken": { "type": "http", "scheme": "bearer", "description": "An execution's callback token (data.callback.token of its delivery), for its runner's report" }
            }
        },
        "security": [{ "bearer": [] }],
    })
}

/// The document as committed to `openapi.json` (pretty, with a final newline).
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("the document serialises");
    s.push('\n');
    s
}
