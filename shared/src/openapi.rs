//! The OpenAPI 3.1 document, generated from the code: paths, methods, operation ids and path
//! parameters come from the route table; the field limits from the same constants the
//! validators use. `runtype serve` answers it at `GET /openapi.json`; the committed
//! `openapi.json` is checked against this by a test.

use serde_json::{json, Map, Value};

use crate::model::{
    Environment, ExecutionStatus, Source, SurfaceEnvironment, SurfaceStatus, SurfaceType,
    TriggerType, Word,
};
use crate::router::{routes, Access, Route};
use crate::rules::{self, capability, item, key, product, schedule, surface, Text};

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn string() -> Value {
    json!({ "type": "string" })
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

fn integer() -> Value {
    json!({ "type": "integer" })
}

/// A whole number ≥ 0.
fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

/// A page of a list: `data` and `pagination`.
fn page(entry: Value) -> Value {
    record(&[("data", array(entry)), ("pagination", r("Pagination"))])
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

/// An RFC 3339 date-time in a request (`runAt`, `expiresAt`).
fn instant() -> Value {
    let mut v = rules::INSTANT.schema();
    v["format"] = json!("date-time");
    v
}

fn cron() -> Value {
    let mut v = schedule::CRON.schema();
    v["description"] = json!("5 fields: minute hour day-of-month month day-of-week, with *, lists, ranges, steps and JAN-DEC / SUN-SAT names");
    v["pattern"] = json!(crate::cron::pattern());
    v
}

/// Every name `cron::zone` accepts.
fn timezone() -> Value {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    let mut v = schedule::TIMEZONE.schema();
    v["description"] = json!("an IANA time zone name, e.g. America/New_York");
    v["default"] = json!("UTC");
    v["enum"] = json!(names);
    v
}

fn slug() -> Value {
    let mut v = item::SLUG.schema();
    v["pattern"] = json!(item::SLUG_PATTERN);
    v
}

/// `config` of a surface: free, but `rateLimit.perMinute`/`perDay` are limits of calls.
fn surface_config() -> Value {
    let rate_limit = optional(&[
        ("perMinute", rules::RATE.schema()),
        ("perDay", rules::RATE.schema()),
    ]);
    let mut v = rules::FREE_JSON.object_schema();
    v["properties"] = json!({ "rateLimit": rate_limit });
    v
}

fn execution_options() -> Value {
    let mut props: Vec<(&str, Value)> = crate::api::schedules::INTEGER_OPTIONS
        .iter()
        .map(|name| (*name, rules::COUNT.schema()))
        .collect();
    props.push(("loggingPolicy", enumeration(schedule::LOGGING_POLICIES)));
    props.push(("modelOverride", schedule::MODEL_OVERRIDE.schema()));
    props.push(("skipCacheWarm", boolean()));
    optional(&props)
}

fn record_filter() -> Value {
    record(&[
        ("type", schedule::RECORD_TYPE.schema()),
        ("where?", nullable(record_condition(1))),
    ])
}

/// A `recordFilter.where`: a condition, or a group of them (groups nest at most two deep).
fn record_condition(depth: usize) -> Value {
    let field = Text {
        min: 1,
        ..rules::LABEL
    };
    let condition = json!({
        "type": "object",
        "properties": {
            "field": field.schema(),
            "op": enumeration(schedule::FILTER_OPS),
            "value": any(),
        },
        "required": ["field", "op"],
        "description": "`value` is required except for isSet, isNotSet, isTrue and isFalse: two bounds for between, a list for in/notIn, whole days for withinLastDays/olderThanDays",
    });
    if depth > 2 {
        return condition;
    }
    let group = json!({
        "type": "object",
        "properties": {
            "op": enumeration(&["and", "or"]),
            "conditions": { "type": "array", "minItems": 1, "items": record_condition(depth + 1) },
        },
        "required": ["op", "conditions"],
    });
    json!({ "oneOf": [condition, group] })
}

fn execution() -> Value {
    let id = || nullable(string());
    record(&[
        ("id", string()),
        ("status", enumeration(ExecutionStatus::NAMES)),
        ("source", enumeration(Source::NAMES)),
        ("productId", string()),
        ("surfaceId", string()),
        ("itemId", id()),
        ("scheduleId", id()),
        ("runId", id()),
        ("capabilityId", id()),
        ("flowId", id()),
        ("agentId", id()),
        ("keyId", id()),
        ("environment", enumeration(Environment::NAMES)),
        ("inputs", nullable(object())),
        ("messages", any()),
        ("record", nullable(object())),
        ("recordIds", nullable(array(string()))),
        ("result", any()),
        ("error", nullable(string())),
        ("attempts", count()),
        ("createdAt", time()),
        ("startedAt", nullable(time())),
        ("completedAt", nullable(time())),
        ("statusUrl", nullable(string())),
    ])
}

/// The body of a gateway invocation: only these fields.
fn invocation() -> Value {
    use crate::rules::gateway as g;
    let message = record(&[("role", enumeration(g::ROLES)), ("content", string())]);
    let record_field = || g::RECORD_FIELD.schema();
    let mut record = optional(&[
        ("id", record_field()),
        ("name", record_field()),
        ("type", record_field()),
        ("metadata", rules::FREE_JSON.object_schema()),
    ]);
    record["additionalProperties"] = json!(false);
    let mut body = optional(&[
        ("inputs", nullable(rules::FREE_JSON.object_schema())),
        (
            "messages",
            nullable(json!({ "type": "array", "items": message, "maxItems": g::MAX_MESSAGES })),
        ),
        ("record", nullable(record)),
        (
            "metadata",
            nullable(json!({
                "type": "object",
                "additionalProperties": g::METADATA_VALUE.schema(),
                "maxProperties": g::MAX_METADATA,
            })),
        ),
    ]);
    body["additionalProperties"] = json!(false);
    body["description"] = json!(format!("At most {} KiB.", g::MAX_BODY / 1024));
    body
}

fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// An object whose properties are all required but those whose name ends in `?`.
fn record(props: &[(&str, Value)]) -> Value {
    let required: Vec<&str> = props
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !k.ends_with('?'))
        .collect();
    let props: Vec<(&str, Value)> = props
        .iter()
        .map(|(k, v)| (k.trim_end_matches('?'), v.clone()))
        .collect();
    schema(&props, &required)
}

/// An object of these properties, none of them required.
fn optional(props: &[(&str, Value)]) -> Value {
    schema(props, &[])
}

fn schema(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert(k.to_string(), v.clone());
    }
    json!({ "type": "object", "properties": p, "required": required })
}

/// `base` with more properties, as `record` takes them.
fn extend(base: &str, props: &[(&str, Value)]) -> Value {
    json!({ "allOf": [r(base), record(props)] })
}

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

/// Request body and success answer (status, schema) of each operation.
fn operation(function: &str) -> (Option<Value>, u16, Value) {
    let deleted = record(&[("success", boolean())]);
    let free = || nullable(rules::FREE_JSON.object_schema());
    let list = |entry: Text, max: usize| json!({ "type": "array", "items": entry.schema(), "maxItems": max });
    let schedule_body = |required: &[&str]| {
        schema(
            &[
                ("flowId", rules::REFERENCE.schema()),
                ("agentId", nullable(rules::REFERENCE.schema())),
                ("triggerType", enumeration(TriggerType::NAMES)),
                ("runAt", nullable(instant())),
                ("cron", nullable(cron())),
                ("timezone", timezone()),
                ("enabled", boolean()),
                ("name", nullable(rules::LABEL.schema())),
                (
                    "recordIds",
                    nullable(list(schedule::RECORD_ID, schedule::MAX_RECORD_IDS)),
                ),
                ("recordType", nullable(schedule::RECORD_TYPE.schema())),
                ("recordFilter", nullable(record_filter())),
                ("executionOptions", nullable(execution_options())),
                ("inputs", free()),
                ("messages", nullable(rules::FREE_JSON.any_schema())),
            ],
            required,
        )
    };
    let surface_body = |required: &[&str]| {
        schema(
            &[
                ("name", surface::NAME.schema()),
                ("type", enumeration(SurfaceType::NAMES)),
                ("status", enumeration(SurfaceStatus::NAMES)),
                ("environment", enumeration(SurfaceEnvironment::NAMES)),
                ("config", nullable(surface_config())),
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
                ("capabilityId", rules::REFERENCE.schema()),
                ("exposedName", nullable(item::EXPOSED_NAME.schema())),
                ("exposedDescription", nullable(rules::DESCRIPTION.schema())),
                ("endpointSlug", nullable(slug())),
                ("isEntryPoint", boolean()),
                ("enabled", boolean()),
                ("config", free()),
                ("presentation", nullable(r("Presentation"))),
            ],
            required,
        )
    };
    match function {
        "create-product" | "update-product" => {
            let create = function == "create-product";
            let body = schema(
                &[
                    ("name", product::NAME.schema()),
                    ("description", nullable(rules::DESCRIPTION.schema())),
                    ("icon", nullable(product::ICON.schema())),
                    ("canvas", free()),
                    ("spec", free()),
                ],
                if create { &["name"] } else { &[] },
            );
            if create {
                (
                    Some(body),
                    201,
                    extend(
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
                    ("capabilityCount", integer()),
                    (
                        "capabilities",
                        array(record(&[("capabilityName", string())])),
                    ),
                    ("surfaceCount", integer()),
                    (
                        "surfaces",
                        array(record(&[("name", string()), ("type", string())])),
                    ),
                ],
            );
            (None, 200, page(entry))
        }
        "get-product" => {
            let surface = extend("Surface", &[("items", array(r("SurfaceItemDetail")))]);
            (
                None,
                200,
                extend(
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
                ("capabilityName", capability::NAME.schema()),
                (
                    "capabilityDescription",
                    nullable(rules::DESCRIPTION.schema()),
                ),
                ("parametersSchema", rules::FREE_JSON.any_schema()),
                ("enabled", boolean()),
            ];
            if create {
                props.push(("flowId", rules::REFERENCE.schema()));
                props.push(("agentId", rules::REFERENCE.schema()));
            } else {
                props.push(("refreshSchema", boolean()));
            }
            let mut body = schema(&props, if create { &["capabilityName"] } else { &[] });
            if create {
                // exactly one of flowId and agentId
                body["oneOf"] = json!([{ "required": ["flowId"] }, { "required": ["agentId"] }]);
                body["description"] = json!("Give exactly one of flowId and agentId.");
            }
            (Some(body), if create { 201 } else { 200 }, r("Capability"))
        }
        "create-surface" => (
            Some(surface_body(&["name", "type"])),
            201,
            extend(
                "Surface",
                &[("items", array(any())), ("keys", array(any()))],
            ),
        ),
        "update-surface" => (Some(surface_body(&[])), 200, r("Surface")),
        "list-surfaces" => (None, 200, page(r("Surface"))),
        "get-surface" => {
            let target = record(&[
                ("id", string()),
                ("name", string()),
                ("capabilityId?", string()),
                ("surfaceItemId?", string()),
            ]);
            (
                None,
                200,
                extend(
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
            let body = optional(&[
                ("name", nullable(rules::LABEL.schema())),
                ("scopes", nullable(list(key::SCOPE, key::MAX_SCOPES))),
                ("rateLimitPerMinute", nullable(rules::RATE.schema())),
                ("rateLimitPerDay", nullable(rules::RATE.schema())),
                ("expiresAt", nullable(instant())),
                ("environment", enumeration(Environment::NAMES)),
            ]);
            (Some(body), 201, r("SurfaceKeyCreated"))
        }
        "create-schedule" => (
            Some({
                let mut body = schedule_body(&["flowId", "triggerType"]);
                // what each trigger needs
                body["oneOf"] = json!([
                    {
                        "properties": { "triggerType": { "const": "one_time" }, "runAt": instant() },
                        "required": ["runAt"],
                    },
                    {
                        "properties": { "triggerType": { "const": "recurring" }, "cron": cron() },
                        "required": ["cron"],
                    },
                ]);
                body
            }),
            201,
            r("Schedule"),
        ),
        "update-schedule" => (Some(schedule_body(&[])), 200, r("Schedule")),
        "list-schedules" => (None, 200, record(&[("data", array(r("Schedule")))])),
        "get-schedule" => (
            None,
            200,
            extend("Schedule", &[("recentRuns", array(r("ScheduleRun")))]),
        ),
        "pause-schedule" | "resume-schedule" => (
            None,
            200,
            record(&[
                ("status", enumeration(&["paused", "active"])),
                ("schedule", r("Schedule")),
            ]),
        ),
        "describe-surface-api" => {
            let limits = || {
                record(&[
                    ("perMinute", nullable(integer())),
                    ("perDay", nullable(integer())),
                ])
            };
            let endpoint = record(&[
                ("slug", string()),
                ("name", nullable(string())),
                ("description", nullable(string())),
                ("parametersSchema", any()),
                ("isEntryPoint", boolean()),
                ("method", enumeration(&["POST"])),
                ("url", string()),
            ]);
            let body = record(&[
                (
                    "surface",
                    record(&[
                        ("id", string()),
                        ("name", string()),
                        ("type", string()),
                        ("environment", string()),
                    ]),
                ),
                ("endpoints", array(endpoint)),
                (
                    "rateLimits",
                    record(&[("key", limits()), ("surface", limits())]),
                ),
            ]);
            (None, 200, body)
        }
        "invoke-surface-entry" | "invoke-surface-endpoint" => {
            (Some(invocation()), 202, r("Execution"))
        }
        "get-surface-execution" | "get-execution" | "cancel-execution" => {
            (None, 200, r("Execution"))
        }
        "list-executions" => (None, 200, page(r("Execution"))),
        "list-all-schedules" => (None, 200, page(r("Schedule"))),
        "find-schedule" => (
            None,
            200,
            extend("Schedule", &[("recentRuns", array(r("ScheduleRun")))]),
        ),
        "list-schedule-runs" | "list-surface-schedule-runs" => {
            (None, 200, page(r("ListedScheduleRun")))
        }
        "get-schedule-stats" => {
            let day = record(&[("date", string()), ("runs", count()), ("failed", count())]);
            let number = || nullable(json!({ "type": "number" }));
            let body = record(&[
                ("total", count()),
                ("completed", count()),
                ("failed", count()),
                ("successRate", number()),
                ("avgDurationMs", number()),
                ("avgCostUsd", number()),
                ("unpricedExecutions", count()),
                ("last7Days", array(day)),
            ]);
            (None, 200, body)
        }
        "run-schedule-now" => (
            None,
            202,
            record(&[
                ("batchExecutionId", string()),
                ("recordCount", integer()),
                ("status", enumeration(&["queued"])),
            ]),
        ),
        "ensure-product" | "ensure-surface" => {
            let (id_field, name, definition) = if function == "ensure-product" {
                (
                    "productId",
                    product::NAME.schema(),
                    record(&[
                        ("name", product::NAME.schema()),
                        ("description?", nullable(rules::DESCRIPTION.schema())),
                        ("icon?", nullable(product::ICON.schema())),
                        ("spec?", free()),
                    ]),
                )
            } else {
                (
                    "surfaceId",
                    surface::NAME.schema(),
                    record(&[
                        ("name", surface::NAME.schema()),
                        ("type", enumeration(SurfaceType::NAMES)),
                        ("status?", nullable(enumeration(SurfaceStatus::NAMES))),
                        (
                            "environment?",
                            nullable(enumeration(SurfaceEnvironment::NAMES)),
                        ),
                        ("behavior?", free()),
                        ("inbound?", free()),
                        ("outbound?", free()),
                    ]),
                )
            };
            let mut body = record(&[
                ("name", name),
                ("contentHash?", content_hash()),
                ("definition?", definition.clone()),
                ("dryRun?", boolean()),
                ("expectedRemoteHash?", content_hash()),
                ("onConflict?", enumeration(&["error", "overwrite"])),
            ]);
            body["description"] = json!("Identity is `name` (definition.name must equal it); give a definition, or a contentHash alone to probe.");
            body["anyOf"] =
                json!([{ "required": ["definition"] }, { "required": ["contentHash"] }]);
            let converged = record(&[
                ("result", enumeration(&["unchanged", "created", "updated"])),
                ("contentHash", content_hash()),
                (id_field, string()),
            ]);
            let required = record(&[("result", enumeration(&["definitionRequired"]))]);
            let plan = record(&[
                ("result", enumeration(&["plan"])),
                ("changes", enumeration(&["none", "create", "update"])),
                ("changedKeys", array(string())),
                ("contentHash", content_hash()),
                ("remoteHash?", content_hash()),
                (&format!("{id_field}?"), string()),
            ]);
            (
                Some(body),
                200,
                json!({ "anyOf": [converged, required, plan] }),
            )
        }
        "pull-product" | "pull-surface" => {
            let (id_field, fields): (&str, &[&str]) = if function == "pull-product" {
                ("productId", &["name"])
            } else {
                ("surfaceId", &["name", "type"])
            };
            let definition = json!({ "type": "object", "required": fields });
            let body = record(&[
                (id_field, string()),
                ("contentHash", content_hash()),
                ("definition", definition),
                ("lastModifiedSource", enumeration(&["api", "ensure", "cli"])),
                ("updatedAt", time()),
            ]);
            (None, 200, body)
        }
        other => unreachable!("no OpenAPI operation for {other}"),
    }
}

/// A content hash: lowercase hex SHA-256 of a definition's RFC 8785 form.
fn content_hash() -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64 })
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
            v.push(q("type", enumeration(SurfaceType::NAMES)));
            v.push(q("status", enumeration(SurfaceStatus::NAMES)));
            v
        }
        "list-all-schedules" => {
            let mut v = paging();
            v.push(q("status", enumeration(&["active", "paused"])));
            v.push(q("search", string()));
            v
        }
        "list-schedule-runs" | "list-surface-schedule-runs" => paging(),
        "pull-product" | "pull-surface" => vec![json!({
            "name": "name",
            "in": "query",
            "required": true,
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
        })],
        "list-executions" => {
            let mut v = paging();
            v.push(q("surfaceId", string()));
            v.push(q("status", enumeration(ExecutionStatus::NAMES)));
            v.push(q("source", enumeration(Source::NAMES)));
            v
        }
        _ => vec![],
    }
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
/// `Authorization` or `X-API-Key`.
fn security(route: &Route) -> Value {
    match route.access() {
        Access::Management => json!([{ "bearer": [] }]),
        Access::SurfaceKey => json!([{ "surfaceKey": [] }, { "surfaceApiKey": [] }]),
    }
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
            "description": "Products, capabilities, surfaces, surface items, surface API keys, schedules, executions, and the surface gateway.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": ERRORS.iter().map(|(code, what)| (format!("Error{code}"), error_response(what))).collect::<Map<String, Value>>(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A platform API key (rt_live_… / rt_test_…) or a session JWT" },
                "surfaceKey": { "type": "http", "scheme": "bearer", "description": "A surface API key (papi_live_… / papi_test_…), on the surface gateway" },
                "surfaceApiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A surface API key, on the surface gateway" }
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
