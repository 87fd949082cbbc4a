//! The building blocks of the OpenAPI document's schemas, and `Doc`: an operation's
//! contract, written beside its handler (`api::<module>::doc`) and joined to its route by
//! the route table; `openapi` assembles the document from them.

use serde_json::{json, Map, Value};

use crate::model::{Environment, ExecutionStatus, Source, Word};
use crate::rules::{self, item, schedule, Text};

/// One operation's contract: its request body, its success answer (status and schema), and
/// its query parameters. The route table gives the rest (method, path, security).
#[derive(Debug, Clone)]
pub struct Doc {
    pub body: Option<Value>,
    pub status: u16,
    pub answer: Value,
    pub query: Vec<Value>,
    /// Header parameters beside the route's own.
    pub headers: Vec<Value>,
    /// Other successful answers (status, schema, description).
    pub also: Vec<(u16, Value, &'static str)>,
}

impl Doc {
    /// An answer of `status` with `answer`, no body, no query parameters.
    pub fn answers(status: u16, answer: Value) -> Doc {
        Doc {
            body: None,
            status,
            answer,
            query: Vec::new(),
            headers: Vec::new(),
            also: Vec::new(),
        }
    }

    pub fn ok(answer: Value) -> Doc {
        Doc::answers(200, answer)
    }

    pub fn body(mut self, body: Value) -> Doc {
        self.body = Some(body);
        self
    }

    pub fn query(mut self, params: Vec<Value>) -> Doc {
        self.query.extend(params);
        self
    }

    pub fn header(mut self, param: Value) -> Doc {
        self.headers.push(param);
        self
    }

    /// Another successful answer.
    pub fn also(mut self, status: u16, answer: Value, description: &'static str) -> Doc {
        self.also.push((status, answer, description));
        self
    }
}

/// `{ "success": true }`: what every delete answers.
pub fn deleted() -> Value {
    record(&[("success", boolean())])
}

/// A free-form object, or null.
pub fn free() -> Value {
    nullable(rules::FREE_JSON.object_schema())
}

/// A list of at most `max` texts as `entry` says.
pub fn texts(entry: Text, max: usize) -> Value {
    json!({ "type": "array", "items": entry.schema(), "maxItems": max })
}

/// An optional query parameter.
pub fn query(name: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema })
}

/// `wait` on an execution's GET: a long poll of up to 25 s.
pub fn long_poll() -> Value {
    let mut q = query(
        "wait",
        json!({ "type": "integer", "minimum": 1, "maximum": crate::rules::gateway::MAX_WAIT_SECS }),
    );
    q["description"] = json!(
        "answer as soon as the execution has ended, or after this many seconds with its state then"
    );
    q
}

/// `limit` and `cursor`, as every list takes them.
pub fn paging() -> Vec<Value> {
    vec![
        query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }),
        ),
        query("cursor", string()),
    ]
}

pub fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub fn string() -> Value {
    json!({ "type": "string" })
}

pub fn nullable(mut v: Value) -> Value {
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

pub fn integer() -> Value {
    json!({ "type": "integer" })
}

/// A whole number ≥ 0.
pub fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

/// A page of a list: `data` and `pagination`.
pub fn page(entry: Value) -> Value {
    record(&[("data", array(entry)), ("pagination", r("Pagination"))])
}

pub fn boolean() -> Value {
    json!({ "type": "boolean" })
}

pub fn object() -> Value {
    json!({ "type": "object" })
}

pub fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

pub fn enumeration(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

pub fn any() -> Value {
    json!({})
}

/// An RFC 3339 date-time in a request (`runAt`, `expiresAt`).
pub fn instant() -> Value {
    let mut v = rules::INSTANT.schema();
    v["format"] = json!("date-time");
    v
}

pub fn cron() -> Value {
    let mut v = schedule::CRON.schema();
    v["description"] = json!("5 fields: minute hour day-of-month month day-of-week, with *, lists, ranges, steps and JAN-DEC / SUN-SAT names");
    v["pattern"] = json!(crate::cron::pattern());
    v
}

/// Every name `cron::zone` accepts.
pub fn timezone() -> Value {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    let mut v = schedule::TIMEZONE.schema();
    v["description"] = json!("an IANA time zone name, e.g. America/New_York");
    v["default"] = json!("UTC");
    v["enum"] = json!(names);
    v
}

pub fn slug() -> Value {
    let mut v = item::SLUG.schema();
    v["pattern"] = json!(item::SLUG_PATTERN);
    v
}

/// `config` of a surface: free, but `rateLimit.perMinute`/`perDay` are limits of calls.
pub fn surface_config() -> Value {
    let rate_limit = optional(&[
        ("perMinute", rules::RATE.schema()),
        ("perDay", rules::RATE.schema()),
    ]);
    let mut v = rules::FREE_JSON.object_schema();
    v["properties"] = json!({ "rateLimit": rate_limit });
    v
}

pub fn execution_options() -> Value {
    let mut props: Vec<(&str, Value)> = schedule::INTEGER_OPTIONS
        .iter()
        .map(|name| (*name, rules::COUNT.schema()))
        .collect();
    props.push(("loggingPolicy", enumeration(schedule::LOGGING_POLICIES)));
    props.push(("modelOverride", schedule::MODEL_OVERRIDE.schema()));
    props.push(("skipCacheWarm", boolean()));
    optional(&props)
}

pub fn record_filter() -> Value {
    record(&[
        ("type", schedule::RECORD_TYPE.schema()),
        ("where?", nullable(record_condition(1))),
    ])
}

/// A `recordFilter.where`: a condition, or a group of them (groups nest at most two deep).
pub fn record_condition(depth: usize) -> Value {
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

pub fn execution() -> Value {
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
pub fn invocation() -> Value {
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

pub fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// An object whose properties are all required but those whose name ends in `?`.
pub fn record(props: &[(&str, Value)]) -> Value {
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
pub fn optional(props: &[(&str, Value)]) -> Value {
    schema(props, &[])
}

pub fn schema(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert(k.to_string(), v.clone());
    }
    json!({ "type": "object", "properties": p, "required": required })
}

/// `base` with more properties, as `record` takes them.
pub fn extend(base: &str, props: &[(&str, Value)]) -> Value {
    json!({ "allOf": [r(base), record(props)] })
}

/// A content hash: lowercase hex SHA-256 of a definition's RFC 8785 form.
pub fn content_hash() -> Value {
    json!({ "type": "string", "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64 })
}
