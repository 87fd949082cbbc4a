//! The OpenAPI 3.1 document, generated from the code: paths, methods, operation ids and path
//! parameters come from the route table; the field limits from the same constants the
//! validators use. `runtype serve` answers it at `GET /openapi.json`; the committed
//! `openapi.json` is checked against this by a test.

use serde_json::{json, Map, Value};

use crate::model::schedule::TRIGGER_TYPES;
use crate::model::surface::{ENVIRONMENTS as SURFACE_ENVIRONMENTS, STATUSES, TYPES};
use crate::model::surface_key::ENVIRONMENTS as KEY_ENVIRONMENTS;
use crate::router::{routes, Route};

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn text(min: usize, max: usize) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max })
}

fn nullable(mut v: Value) -> Value {
    if let Some(t) = v.get("type").cloned() {
        v["type"] = match t {
            Value::String(s) => json!([s, "null"]),
            other => other,
        };
        v
    } else {
        json!({ "anyOf": [v, { "type": "null" }] })
    }
}

fn integer(min: i64) -> Value {
    json!({ "type": "integer", "minimum": min })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn object() -> Value {
    json!({ "type": "object" })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn enumeration(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

fn any() -> Value {
    json!({})
}

fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn schema(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert(k.to_string(), v.clone());
    }
    json!({ "type": "object", "properties": p, "required": required })
}

fn extend(base: &str, props: &[(&str, Value)], required: &[&str]) -> Value {
    json!({ "allOf": [r(base), schema(props, required)] })
}

fn schemas() -> Value {
    let product = schema(
        &[
            ("id", string()),
            ("name", string()),
            ("description", nullable(string())),
            ("icon", nullable(string())),
            ("canvas", object()),
            ("spec", object()),
            ("createdAt", time()),
            ("updatedAt", time()),
        ],
        &[
            "id",
            "name",
            "description",
            "icon",
            "canvas",
            "spec",
            "createdAt",
            "updatedAt",
        ],
    );
    let capability = schema(
        &[
            ("id", string()),
            ("productId", string()),
            ("flowId", nullable(string())),
            ("agentId", nullable(string())),
            ("capabilityName", string()),
            ("capabilityDescription", nullable(string())),
            ("enabled", boolean()),
            ("displayOrder", nullable(json!({ "type": "integer" }))),
            ("parametersSchema", any()),
            ("createdAt", time()),
            ("updatedAt", time()),
        ],
        &[
            "id",
            "productId",
            "flowId",
            "agentId",
            "capabilityName",
            "capabilityDescription",
            "enabled",
            "displayOrder",
            "createdAt",
            "updatedAt",
        ],
    );
    let surface = schema(
        &[
            ("id", string()),
            ("productId", string()),
            ("name", string()),
            ("type", enumeration(TYPES)),
            ("status", enumeration(STATUSES)),
            ("environment", enumeration(SURFACE_ENVIRONMENTS)),
            ("config", nullable(object())),
            ("behavior", nullable(object())),
            ("inbound", nullable(object())),
            ("outbound", nullable(object())),
            ("endpoint", nullable(string())),
            ("createdAt", time()),
            ("updatedAt", time()),
        ],
        &[
            "id",
            "productId",
            "name",
            "type",
            "status",
            "environment",
            "config",
            "behavior",
            "inbound",
            "outbound",
            "endpoint",
            "createdAt",
            "updatedAt",
        ],
    );
    let item = schema(
        &[
            ("id", string()),
            ("surfaceId", string()),
            ("capabilityId", string()),
            ("exposedName", nullable(string())),
            ("exposedDescription", nullable(string())),
            ("endpointSlug", nullable(string())),
            ("isEntryPoint", boolean()),
            ("enabled", boolean()),
            ("displayOrder", nullable(json!({ "type": "integer" }))),
            ("config", nullable(object())),
            ("presentation", nullable(object())),
            ("createdAt", time()),
            ("updatedAt", time()),
        ],
        &[
            "id",
            "surfaceId",
            "capabilityId",
            "exposedName",
            "exposedDescription",
            "endpointSlug",
            "isEntryPoint",
            "enabled",
            "displayOrder",
            "config",
            "presentation",
            "createdAt",
            "updatedAt",
        ],
    );
    let item_detail = extend(
        "SurfaceItem",
        &[
            ("capabilityName", nullable(string())),
            ("flowId", nullable(string())),
            ("agentId", nullable(string())),
            ("parametersSchema", any()),
        ],
        &["capabilityName", "flowId", "agentId"],
    );
    let key_fields = |extra: &[(&str, Value)], required: &[&str]| {
        let mut props = vec![
            ("id", string()),
            ("name", nullable(string())),
            ("keyPrefix", string()),
            ("keyHint", nullable(string())),
            ("scopes", array(string())),
            ("scopeTargetIds", array(string())),
            ("rateLimitPerMinute", nullable(json!({ "type": "integer" }))),
            ("rateLimitPerDay", nullable(json!({ "type": "integer" }))),
            ("expiresAt", nullable(time())),
            ("isActive", boolean()),
            ("environment", enumeration(KEY_ENVIRONMENTS)),
            ("createdAt", time()),
        ];
        props.extend(extra.iter().cloned());
        let mut req = vec![
            "id",
            "name",
            "keyPrefix",
            "keyHint",
            "scopes",
            "scopeTargetIds",
            "rateLimitPerMinute",
            "rateLimitPerDay",
            "expiresAt",
            "isActive",
            "environment",
            "createdAt",
        ];
        req.extend(required.iter().copied());
        schema(&props, &req)
    };
    let key_view = key_fields(
        &[
            ("isDevelopment", boolean()),
            ("canReveal", boolean()),
            ("lastUsedAt", nullable(time())),
            ("usageCount", nullable(json!({ "type": "integer" }))),
        ],
        &["isDevelopment", "canReveal"],
    );
    let key_created = key_fields(
        &[("surfaceId", string()), ("key", string())],
        &["surfaceId", "key"],
    );
    let schedule = schema(
        &[
            ("id", string()),
            ("name", nullable(string())),
            ("productSurfaceId", string()),
            ("flowId", string()),
            ("agentId", nullable(string())),
            ("triggerType", enumeration(TRIGGER_TYPES)),
            ("cron", nullable(string())),
            ("runAt", nullable(time())),
            ("timezone", string()),
            ("enabled", boolean()),
            ("nextRunAt", nullable(time())),
            ("lastRunAt", nullable(time())),
            ("recordIds", nullable(array(string()))),
            ("recordType", nullable(string())),
            ("recordFilter", nullable(object())),
            ("executionOptions", object()),
            ("inputs", nullable(object())),
            ("messages", any()),
            ("organizationId", nullable(string())),
            ("userId", string()),
            ("createdAt", time()),
            ("updatedAt", time()),
        ],
        &[
            "id",
            "productSurfaceId",
            "flowId",
            "triggerType",
            "timezone",
            "enabled",
            "nextRunAt",
            "lastRunAt",
            "executionOptions",
            "userId",
            "createdAt",
            "updatedAt",
        ],
    );
    let run = schema(
        &[
            ("id", string()),
            ("status", string()),
            ("batchExecutionId", nullable(string())),
            ("startedAt", nullable(time())),
            ("completedAt", nullable(time())),
            ("error", nullable(string())),
            ("createdAt", time()),
        ],
        &[
            "id",
            "status",
            "batchExecutionId",
            "startedAt",
            "completedAt",
            "error",
            "createdAt",
        ],
    );
    let pagination = schema(
        &[
            ("limit", json!({ "type": "integer" })),
            ("currentOffset", json!({ "type": "integer" })),
            ("hasMore", boolean()),
            ("hasPrev", boolean()),
            ("nextCursor", nullable(string())),
        ],
        &["limit", "currentOffset", "hasMore", "hasPrev", "nextCursor"],
    );
    let error = schema(
        &[
            ("error", string()),
            ("code", string()),
            (
                "details",
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
        ],
        &["error", "code"],
    );
    let presentation = schema(
        &[
            ("displayLabel", text(1, 255)),
            ("displayMode", enumeration(&["chat", "form", "document"])),
            ("route", text(1, 2048)),
            ("displayIcon", text(0, 255)),
            ("displayOrder", json!({ "type": "integer" })),
            ("isDefault", boolean()),
            ("visibility", enumeration(&["public", "auth-only"])),
            ("formConfig", object()),
        ],
        &["displayLabel", "displayMode", "route"],
    );
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
        ("ScheduleRun", run),
    ] {
        s.insert(name.to_string(), v);
    }
    Value::Object(s)
}

/// Request body and success answer (status, schema) of each operation.
fn operation(function: &str) -> (Option<Value>, u16, Value) {
    let deleted = schema(&[("success", boolean())], &["success"]);
    let free = || nullable(object());
    let schedule_body = |required: &[&str]| {
        schema(
            &[
                ("flowId", text(1, 255)),
                ("agentId", nullable(text(1, 255))),
                ("triggerType", enumeration(TRIGGER_TYPES)),
                ("runAt", nullable(time())),
                (
                    "cron",
                    nullable(
                        json!({ "type": "string", "description": "5 fields: minute hour day-of-month month day-of-week" }),
                    ),
                ),
                (
                    "timezone",
                    json!({ "type": "string", "description": "IANA time zone", "default": "UTC" }),
                ),
                ("enabled", boolean()),
                ("name", nullable(text(0, 255))),
                (
                    "recordIds",
                    nullable(json!({ "type": "array", "items": text(1, 255), "maxItems": 1000 })),
                ),
                ("recordType", nullable(text(1, 255))),
                ("recordFilter", free()),
                ("executionOptions", free()),
                ("inputs", free()),
                ("messages", any()),
            ],
            required,
        )
    };
    let surface_body = |required: &[&str]| {
        schema(
            &[
                ("name", text(1, 255)),
                ("type", enumeration(TYPES)),
                ("status", enumeration(STATUSES)),
                ("environment", enumeration(SURFACE_ENVIRONMENTS)),
                ("config", free()),
                ("behavior", free()),
                ("inbound", free()),
                ("outbound", free()),
            ],
            required,
        )
    };
    let item_body = |required: &[&str]| {
        schema(
            &[
                ("capabilityId", text(1, 255)),
                ("exposedName", nullable(text(0, 100))),
                ("exposedDescription", nullable(text(0, 10_000))),
                (
                    "endpointSlug",
                    nullable(
                        json!({ "type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 1, "maxLength": 100 }),
                    ),
                ),
                ("isEntryPoint", boolean()),
                ("enabled", boolean()),
                ("config", free()),
                ("presentation", nullable(r("Presentation"))),
            ],
            required,
        )
    };
    let with_children = |base: &str, children: &[(&str, Value)]| {
        let names: Vec<&str> = children.iter().map(|(k, _)| *k).collect();
        extend(base, children, &names)
    };
    match function {
        "create-product" | "update-product" => {
            let body = schema(
                &[
                    ("name", text(1, 255)),
                    ("description", nullable(text(0, 10_000))),
                    ("icon", nullable(text(0, 50))),
                    ("canvas", free()),
                    ("spec", free()),
                ],
                if function == "create-product" {
                    &["name"]
                } else {
                    &[]
                },
            );
            if function == "create-product" {
                (
                    Some(body),
                    201,
                    with_children(
                        "Product",
                        &[("capabilities", array(any())), ("surfaces", array(any()))],
                    ),
                )
            } else {
                (Some(body), 200, r("Product"))
            }
        }
        "list-products" => {
            let entry = extend(
                "Product",
                &[
                    ("capabilityCount", json!({ "type": "integer" })),
                    (
                        "capabilities",
                        array(schema(&[("capabilityName", string())], &["capabilityName"])),
                    ),
                    ("surfaceCount", json!({ "type": "integer" })),
                    (
                        "surfaces",
                        array(schema(
                            &[("name", string()), ("type", string())],
                            &["name", "type"],
                        )),
                    ),
                ],
                &[
                    "capabilityCount",
                    "capabilities",
                    "surfaceCount",
                    "surfaces",
                ],
            );
            (
                None,
                200,
                schema(
                    &[("data", array(entry)), ("pagination", r("Pagination"))],
                    &["data", "pagination"],
                ),
            )
        }
        "get-product" => {
            let surface = with_children("Surface", &[("items", array(r("SurfaceItemDetail")))]);
            (
                None,
                200,
                with_children(
                    "Product",
                    &[
                        ("capabilities", array(r("Capability"))),
                        ("surfaces", array(surface)),
                    ],
                ),
            )
        }
        "delete-product"
        | "delete-capability"
        | "delete-surface"
        | "delete-surface-item"
        | "delete-surface-key"
        | "delete-schedule" => (None, 200, deleted),
        "add-capability" | "update-capability" => {
            let create = function == "add-capability";
            let mut props = vec![
                ("capabilityName", text(1, 100)),
                ("capabilityDescription", nullable(text(0, 10_000))),
                ("parametersSchema", any()),
                ("enabled", boolean()),
            ];
            if create {
                props.push(("flowId", text(1, 255)));
                props.push(("agentId", text(1, 255)));
            } else {
                props.push(("refreshSchema", boolean()));
            }
            let body = schema(&props, if create { &["capabilityName"] } else { &[] });
            (Some(body), if create { 201 } else { 200 }, r("Capability"))
        }
        "create-surface" => (
            Some(surface_body(&["name", "type"])),
            201,
            with_children(
                "Surface",
                &[("items", array(any())), ("keys", array(any()))],
            ),
        ),
        "update-surface" => (Some(surface_body(&[])), 200, r("Surface")),
        "list-surfaces" => (
            None,
            200,
            schema(
                &[
                    ("data", array(r("Surface"))),
                    ("pagination", r("Pagination")),
                ],
                &["data", "pagination"],
            ),
        ),
        "get-surface" => {
            let target = schema(
                &[
                    ("id", string()),
                    ("name", string()),
                    ("capabilityId", string()),
                    ("surfaceItemId", string()),
                ],
                &["id", "name"],
            );
            (
                None,
                200,
                with_children(
                    "Surface",
                    &[
                        ("items", array(r("SurfaceItemDetail"))),
                        ("keys", array(r("SurfaceKey"))),
                        ("scopeTargets", array(target)),
                    ],
                ),
            )
        }
        "add-surface-item" => (Some(item_body(&["capabilityId"])), 201, r("SurfaceItem")),
        "update-surface-item" => (Some(item_body(&[])), 200, r("SurfaceItem")),
        "create-surface-key" => {
            let body = schema(
                &[
                    ("name", nullable(text(0, 255))),
                    (
                        "scopes",
                        nullable(json!({ "type": "array", "items": text(1, 255), "maxItems": 50 })),
                    ),
                    ("rateLimitPerMinute", integer(1)),
                    ("rateLimitPerDay", integer(1)),
                    ("expiresAt", nullable(time())),
                    ("environment", enumeration(KEY_ENVIRONMENTS)),
                ],
                &[],
            );
            (Some(body), 201, r("SurfaceKeyCreated"))
        }
        "create-schedule" => (
            Some(schedule_body(&["flowId", "triggerType"])),
            201,
            r("Schedule"),
        ),
        "update-schedule" => (Some(schedule_body(&[])), 200, r("Schedule")),
        "list-schedules" => (
            None,
            200,
            schema(&[("data", array(r("Schedule")))], &["data"]),
        ),
        "get-schedule" => (
            None,
            200,
            with_children("Schedule", &[("recentRuns", array(r("ScheduleRun")))]),
        ),
        "pause-schedule" | "resume-schedule" => (
            None,
            200,
            schema(
                &[
                    ("status", enumeration(&["paused", "active"])),
                    ("schedule", r("Schedule")),
                ],
                &["status", "schedule"],
            ),
        ),
        "run-schedule-now" => (
            None,
            202,
            schema(
                &[
                    ("batchExecutionId", string()),
                    ("recordCount", json!({ "type": "integer" })),
                    ("status", enumeration(&["queued"])),
                ],
                &["batchExecutionId", "recordCount", "status"],
            ),
        ),
        other => unreachable!("no OpenAPI operation for {other}"),
    }
}

fn query_parameters(function: &str) -> Vec<Value> {
    let q = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    let paging = || {
        vec![
            q(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }),
            ),
            q("cursor", string()),
        ]
    };
    match function {
        "list-products" => {
            let mut v = paging();
            v.push(q("search", string()));
            v
        }
        "list-surfaces" => {
            let mut v = paging();
            v.push(q("type", enumeration(TYPES)));
            v.push(q("status", enumeration(STATUSES)));
            v
        }
        _ => vec![],
    }
}

/// Every operation may answer these, with the contract's error body.
const ERRORS: [(&str, &str); 10] = [
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
        "Conflict (a unique name, binding or slug is taken; a concurrent change)",
    ),
    ("413", "Body larger than 1 MiB"),
    ("415", "Body is not JSON"),
    ("500", "Internal error"),
    ("503", "Storage unavailable"),
];

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": r("Error") } } })
}

fn path_item(route: &Route) -> (String, Value) {
    let (body, status, answer) = operation(route.function);
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": string() }))
        .collect();
    parameters.extend(query_parameters(route.function));
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
    let mut op = json!({
        "operationId": route.function,
        "parameters": parameters,
        "responses": responses,
        "security": [{ "bearer": [] }],
    });
    if let Some(body) = body {
        op["requestBody"] =
            json!({ "required": false, "content": { "application/json": { "schema": body } } });
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
    for route in routes() {
        let (path, item) = path_item(route);
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
            "description": "Products, capabilities, surfaces, surface items, surface API keys and schedules.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": ERRORS.iter().map(|(code, what)| (format!("Error{code}"), error_response(what))).collect::<Map<String, Value>>(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A platform API key (rt_live_… / rt_test_…) or a session JWT" }
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
