//! /v1/products/:id/surfaces/:surfaceId/schedules[/:scheduleId[/pause|/resume|/run-now]]

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::call::{Call, Reply};
use crate::cron::{self, Cron};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::Schedule;
use crate::model::TriggerType;
use crate::repo::listing::Paging;
use crate::repo::schedules::{self, next_fire, RECENT_RUNS};
use crate::rules::schedule::{self as schedule, MAX_RECORD_IDS};
use crate::rules::{self, Text};
use crate::validate::{self, query_param, Assign, Fields, Patch};

struct Ids<'a> {
    product: &'a str,
    surface: &'a str,
}

fn ids(call: &Call) -> ApiResult<Ids<'_>> {
    Ok(Ids {
        product: call.id("id", "prod", "Product")?,
        surface: call.id("surfaceId", "surf", "Surface")?,
    })
}

fn schedule_id(call: &Call) -> ApiResult<&str> {
    call.id("scheduleId", "sched", "Schedule")
}

/// `recordIds`: at most 1000 strings.
fn record_ids(f: &mut Fields) -> Patch<Vec<String>> {
    match f.raw("recordIds") {
        None => Patch::Absent,
        Some(Value::Null) => Patch::Null,
        Some(Value::Array(a)) if a.len() > MAX_RECORD_IDS => {
            f.fail(
                "recordIds",
                "TOO_LONG",
                format!("recordIds may hold at most {MAX_RECORD_IDS} ids"),
            );
            Patch::Absent
        }
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, v) in a.iter().enumerate() {
                match v.as_str() {
                    Some(s) if schedule::RECORD_ID.admits(s) => out.push(s.to_string()),
                    Some(_) => f.push(Detail::new(
                        format!("recordIds.{i}"),
                        "INVALID_FORMAT",
                        "each record id must be 1 to 255 characters",
                    )),
                    None => f.push(Detail::new(
                        format!("recordIds.{i}"),
                        "INVALID_TYPE",
                        "each record id must be a string",
                    )),
                }
            }
            Patch::Value(out)
        }
        Some(_) => {
            f.fail(
                "recordIds",
                "INVALID_TYPE",
                "recordIds must be a list of strings",
            );
            Patch::Absent
        }
    }
}

/// A `where` node at `path`: a condition `{field, op, value?}`, or (above `depth` 2) a
/// group `{op: and|or, conditions: [...]}`.
fn check_where(v: &Value, path: &str, depth: usize, errors: &mut Vec<Detail>) {
    let Some(obj) = v.as_object() else {
        errors.push(Detail::new(
            path,
            "INVALID_TYPE",
            format!("{path} must be an object"),
        ));
        return;
    };
    let mut f = Fields::nested(obj, path);
    if obj.contains_key("conditions") {
        if depth > 2 {
            errors.push(Detail::new(
                path,
                "INVALID_FORMAT",
                "recordFilter groups nest at most two deep",
            ));
            return;
        }
        f.required_one_of("op", &["and", "or"]);
        match obj.get("conditions") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, c) in items.iter().enumerate() {
                    check_where(
                        c,
                        &format!("{path}.conditions.{i}"),
                        depth + 1,
                        &mut f.errors,
                    );
                }
            }
            Some(Value::Array(_)) => f.fail(
                "conditions",
                "TOO_SHORT",
                format!("{path}.conditions must not be empty"),
            ),
            _ => f.fail(
                "conditions",
                "INVALID_TYPE",
                format!("{path}.conditions must be a list"),
            ),
        }
    } else {
        f.required_text(
            "field",
            Text {
                min: 1,
                ..rules::LABEL
            },
        );
        let op = f.required_one_of("op", schedule::FILTER_OPS);
        let value = obj.get("value");
        let fault = match op.as_deref() {
            Some("isSet" | "isNotSet" | "isTrue" | "isFalse") | None => None,
            Some("between") => value
                .and_then(Value::as_array)
                .is_none_or(|a| a.len() != 2)
                .then_some(("INVALID_FORMAT", "must be a list of two bounds for between")),
            Some("in" | "notIn") => (!value.is_some_and(Value::is_array))
                .then_some(("INVALID_TYPE", "must be a list for in/notIn")),
            Some("withinLastDays" | "olderThanDays") => value
                .and_then(Value::as_u64)
                .is_none()
                .then_some(("INVALID_TYPE", "must be a whole number of days")),
            Some(_) => value
                .is_none_or(Value::is_null)
                .then_some(("MISSING_REQUIRED_FIELD", "is required for this op")),
        };
        if let Some((code, what)) = fault {
            f.fail("value", code, format!("{path}.value {what}"));
        }
    }
    errors.append(&mut f.errors);
}

/// `recordFilter`: `{type, where?}`.
fn record_filter(f: &mut Fields) -> Patch<Value> {
    let p = f.object("recordFilter", rules::FREE_JSON);
    match p {
        Patch::Value(obj) => {
            let mut g = Fields::nested(&obj, "recordFilter");
            g.required_text("type", schedule::RECORD_TYPE);
            if let Some(w) = obj.get("where").filter(|w| !w.is_null()) {
                check_where(w, "recordFilter.where", 1, &mut g.errors);
            }
            f.errors.append(&mut g.errors);
            Patch::Value(Value::Object(obj))
        }
        Patch::Null => Patch::Null,
        Patch::Absent => Patch::Absent,
    }
}

/// `executionOptions`: integers ≥ 0, `loggingPolicy`, `modelOverride`, `skipCacheWarm`.
fn execution_options(f: &mut Fields) -> Patch<Map<String, Value>> {
    let p = f.object("executionOptions", rules::FREE_JSON);
    if let Patch::Value(obj) = &p {
        let mut g = Fields::nested(obj, "executionOptions");
        for name in schedule::INTEGER_OPTIONS {
            g.integer(name, rules::COUNT);
        }
        g.one_of("loggingPolicy", schedule::LOGGING_POLICIES);
        g.text("modelOverride", schedule::MODEL_OVERRIDE);
        g.boolean("skipCacheWarm");
        f.errors.append(&mut g.errors);
    }
    p
}

/// `runAt`: an RFC 3339 instant in the future.
fn run_at(f: &mut Fields, now: DateTime<Utc>) -> Patch<String> {
    match f.text("runAt", rules::INSTANT) {
        Patch::Value(raw) => match crate::time::parse(&raw) {
            None => {
                f.push(
                    Detail::new(
                        "runAt",
                        "INVALID_FORMAT",
                        "runAt must be an RFC 3339 date-time",
                    )
                    .suggest("for example 2030-01-01T09:00:00Z"),
                );
                Patch::Absent
            }
            Some(t) if t <= now => {
                f.fail("runAt", "OUT_OF_RANGE", "runAt must be in the future");
                Patch::Absent
            }
            Some(t) => Patch::Value(crate::time::format(t)),
        },
        other => other,
    }
}

fn cron_field(f: &mut Fields) -> Patch<String> {
    match f.text("cron", schedule::CRON) {
        Patch::Value(expr) => match Cron::parse(&expr) {
            Ok(_) => Patch::Value(expr.split_whitespace().collect::<Vec<_>>().join(" ")),
            Err(msg) => {
                f.push(
                    Detail::new("cron", "INVALID_FORMAT", msg)
                        .suggest("for example \"0 9 * * MON-FRI\""),
                );
                Patch::Absent
            }
        },
        other => other,
    }
}

fn timezone(f: &mut Fields) -> Patch<String> {
    match f.text("timezone", schedule::TIMEZONE) {
        Patch::Value(tz) if cron::zone(&tz).is_none() => {
            f.push(
                Detail::new(
                    "timezone",
                    "INVALID_FORMAT",
                    format!("\"{tz}\" is not an IANA time zone"),
                )
                .suggest("for example America/New_York or UTC"),
            );
            Patch::Absent
        }
        other => other,
    }
}

/// Every field of the body, checked; `Patch` keeps absent and null apart for PUT.
struct Body {
    name: Patch<String>,
    flow_id: Patch<String>,
    agent_id: Patch<String>,
    trigger_type: Patch<TriggerType>,
    cron: Patch<String>,
    run_at: Patch<String>,
    timezone: Patch<String>,
    enabled: Patch<bool>,
    record_ids: Patch<Vec<String>>,
    record_type: Patch<String>,
    record_filter: Patch<Value>,
    execution_options: Patch<Map<String, Value>>,
    inputs: Patch<Map<String, Value>>,
    messages: Patch<Value>,
}

/// The body's fields; `now` decides whether `runAt` is in the future.
fn body(f: &mut Fields, now: DateTime<Utc>) -> Body {
    Body {
        name: f.text("name", rules::LABEL),
        flow_id: f.text("flowId", rules::REFERENCE),
        agent_id: f.text("agentId", rules::REFERENCE),
        trigger_type: f.word("triggerType"),
        cron: cron_field(f),
        run_at: run_at(f, now),
        timezone: timezone(f),
        enabled: f.boolean("enabled"),
        record_ids: record_ids(f),
        record_type: f.text("recordType", schedule::RECORD_TYPE),
        record_filter: record_filter(f),
        execution_options: execution_options(f),
        inputs: f.object("inputs", rules::FREE_JSON),
        messages: f.any("messages", rules::FREE_JSON),
    }
}

fn missing(path: &str, msg: &str) -> Detail {
    Detail::new(path, "MISSING_REQUIRED_FIELD", msg)
}

/// The flow and agent a schedule body names, against the operator's allow-list.
fn named_runs(app: &App, call: &Call, b: &Body) -> ApiResult<()> {
    for (field, id) in [("flowId", &b.flow_id), ("agentId", &b.agent_id)] {
        if let Patch::Value(id) = id {
            super::capabilities::may_name(app, call.owner(), field, Some(id))?;
        }
    }
    Ok(())
}

/// What a trigger lacks: `runAt` for a one-time schedule, `cron` for a recurring one.
fn trigger_lacks(trigger: Option<TriggerType>, run_at: bool, cron: bool) -> Option<Detail> {
    match trigger {
        Some(TriggerType::OneTime) if !run_at => Some(missing(
            "runAt",
            "runAt is required for a one_time schedule",
        )),
        Some(TriggerType::Recurring) if !cron => {
            Some(missing("cron", "cron is required for a recurring schedule"))
        }
        _ => None,
    }
}

/// What decides when a schedule fires: a change computes `nextRunAt` again.
fn timing(s: &Schedule) -> impl PartialEq {
    (
        s.trigger_type,
        s.cron.clone(),
        s.run_at.clone(),
        s.timezone.clone(),
        s.enabled,
    )
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let raw = call.json()?;
    let mut f = Fields::new(&raw);
    let b = body(&mut f, app.now());
    let bad = |f: &Fields, name: &str| f.errors.iter().any(|d| d.path == name);
    if b.flow_id.is_absent() && !bad(&f, "flowId") || matches!(b.flow_id, Patch::Null) {
        f.push(missing("flowId", "flowId is required"));
    }
    let trigger = b.trigger_type.clone().value();
    if trigger.is_none() && !bad(&f, "triggerType") {
        f.push(missing(
            "triggerType",
            "triggerType is required (one_time | recurring)",
        ));
    }
    let run_at = matches!(b.run_at, Patch::Value(_)) || bad(&f, "runAt");
    let cron = matches!(b.cron, Patch::Value(_)) || bad(&f, "cron");
    if let Some(d) = trigger_lacks(trigger, run_at, cron) {
        f.push(d);
    }
    let p = b.enabled.clone();
    let enabled = f.not_null("enabled", p).unwrap_or(true);
    f.finish()?;
    named_runs(app, &call, &b)?;

    let now = app.now();
    let mut schedule = Schedule {
        id: crate::ids::new_id("sched"),
        product_id: at.product.to_string(),
        surface_id: at.surface.to_string(),
        owner: call.owner().to_string(),
        name: b.name.value(),
        flow_id: b.flow_id.value().unwrap_or_default(),
        agent_id: b.agent_id.value(),
        trigger_type: trigger.unwrap_or_default(),
        cron: b.cron.value(),
        run_at: b.run_at.value(),
        timezone: b.timezone.value().unwrap_or_else(|| "UTC".into()),
        enabled,
        next_run_at: None,
        last_run_at: None,
        record_ids: b.record_ids.value(),
        record_type: b.record_type.value(),
        record_filter: b.record_filter.value(),
        execution_options: b.execution_options.value().unwrap_or_default(),
        inputs: b.inputs.value(),
        messages: b.messages.value(),
        organization_id: Some(call.owner().to_string()),
        user_id: call.caller.principal.clone(),
        created_at: crate::time::format(now),
        updated_at: crate::time::format(now),
    };
    schedule.next_run_at = next_fire(&schedule, now).map_err(|d| ApiError::Validation(vec![d]))?;
    schedules::create(app.table(), &schedule, &app.config.limits).await?;
    Ok(Reply::created(schedule.to_json()))
}

pub async fn update(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    let raw = call.json()?;
    let mut f = Fields::new(&raw);
    let b = body(&mut f, app.now());
    for (name, null) in [
        ("flowId", matches!(b.flow_id, Patch::Null)),
        ("triggerType", matches!(b.trigger_type, Patch::Null)),
        ("timezone", matches!(b.timezone, Patch::Null)),
        ("enabled", matches!(b.enabled, Patch::Null)),
    ] {
        if null {
            f.fail(name, "INVALID_TYPE", format!("{name} must not be null"));
        }
    }
    f.finish()?;
    named_runs(app, &call, &b)?;

    let schedule = schedules::update(
        app.table(),
        call.owner(),
        at.product,
        at.surface,
        id,
        &app.clock.now_string(),
        |s| {
            let before = timing(s);
            b.name.clone().nullable().assign(&mut s.name);
            b.flow_id.clone().value().assign(&mut s.flow_id);
            b.agent_id.clone().nullable().assign(&mut s.agent_id);
            if let Some(t) = b.trigger_type.clone().value() {
                s.trigger_type = t;
            }
            b.cron.clone().nullable().assign(&mut s.cron);
            b.run_at.clone().nullable().assign(&mut s.run_at);
            b.timezone.clone().value().assign(&mut s.timezone);
            b.enabled.clone().value().assign(&mut s.enabled);
            b.record_ids.clone().nullable().assign(&mut s.record_ids);
            b.record_type.clone().nullable().assign(&mut s.record_type);
            b.record_filter
                .clone()
                .nullable()
                .assign(&mut s.record_filter);
            if let Some(v) = b.execution_options.clone().nullable() {
                s.execution_options = v.unwrap_or_default();
            }
            b.inputs.clone().nullable().assign(&mut s.inputs);
            b.messages.clone().nullable().assign(&mut s.messages);
            let lacks = trigger_lacks(Some(s.trigger_type), s.run_at.is_some(), s.cron.is_some());
            if let Some(d) = lacks {
                return Err(ApiError::Validation(vec![d]));
            }
            Ok(before != timing(s))
        },
    )
    .await?;
    Ok(Reply::ok(schedule.to_json()))
}

pub async fn get(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    let (schedule, _) =
        schedules::get(app.table(), call.owner(), at.product, at.surface, id).await?;
    with_recent_runs(app, &schedule).await
}

/// The schedule with its newest runs.
async fn with_recent_runs(app: &App, schedule: &Schedule) -> ApiResult<Reply> {
    let runs = schedules::recent_runs(app.table(), &schedule.id, RECENT_RUNS).await?;
    let mut body = schedule.to_json();
    body["recentRuns"] = runs.iter().map(|r| r.to_json()).collect();
    Ok(Reply::ok(body))
}

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let list = schedules::list(app.table(), call.owner(), at.product, at.surface).await?;
    Ok(Reply::ok(
        json!({ "data": list.iter().map(Schedule::to_json).collect::<Vec<_>>() }),
    ))
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    schedules::delete(app.table(), call.owner(), at.product, at.surface, id).await?;
    Ok(Reply::deleted())
}

async fn set_enabled(app: &App, call: Call, enabled: bool) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    let schedule = schedules::update(app.table(), call.owner(), at.product, at.surface, id, &app.clock.now_string(), |s| {
        if enabled && s.trigger_type == TriggerType::OneTime {
            let passed = s.run_at.as_deref().and_then(crate::time::parse).is_none_or(|t| t <= app.now());
            if passed {
                return Err(ApiError::invalid(
                    "runAt",
                    "OUT_OF_RANGE",
                    "this one-time schedule's runAt has passed; PUT a new runAt to schedule it again",
                ));
            }
        }
        s.enabled = enabled;
        // Always from now: resuming never replays what was missed.
        Ok(true)
    })
    .await?;
    let status = if enabled { "active" } else { "paused" };
    Ok(Reply::ok(
        json!({ "status": status, "schedule": schedule.to_json() }),
    ))
}

pub async fn pause(app: &App, call: Call) -> ApiResult<Reply> {
    set_enabled(app, call, false).await
}

pub async fn resume(app: &App, call: Call) -> ApiResult<Reply> {
    set_enabled(app, call, true).await
}

pub async fn run_now(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    let now = app.now();
    let run =
        schedules::run_now(app.table(), call.owner(), at.product, at.surface, id, now).await?;
    app.new_executions.notify_one();
    Ok(Reply::accepted(json!({
        "batchExecutionId": run.batch_execution_id,
        "recordCount": run.record_count,
        "status": "queued",
    })))
}

// The owner-wide read side (Runtype's `schedules` client): /v1/schedules[/:id[/runs|/stats]].

/// `id` in an owner-wide path.
fn owned_schedule_id(call: &Call) -> ApiResult<&str> {
    call.id("id", "sched", "Schedule")
}

pub async fn list_all(app: &App, call: Call) -> ApiResult<Reply> {
    let paging = Paging::of(&call.query)?;
    let mut errors = Vec::new();
    let status = validate::query_enum(&call.query, "status", &["active", "paused"], &mut errors);
    validate::finish(errors)?;
    let search = query_param(&call.query, "search");
    let page = schedules::list_all(app.table(), call.owner(), paging, status, search).await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn find(app: &App, call: Call) -> ApiResult<Reply> {
    let id = owned_schedule_id(&call)?;
    let (schedule, _) = schedules::find(app.table(), call.owner(), id).await?;
    with_recent_runs(app, &schedule).await
}

pub async fn runs(app: &App, call: Call) -> ApiResult<Reply> {
    let id = owned_schedule_id(&call)?;
    let paging = Paging::of(&call.query)?;
    schedules::find(app.table(), call.owner(), id).await?;
    let page = schedules::runs(app.table(), id, paging).await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn stats(app: &App, call: Call) -> ApiResult<Reply> {
    let id = owned_schedule_id(&call)?;
    schedules::find(app.table(), call.owner(), id).await?;
    Ok(Reply::ok(
        schedules::stats(app.table(), id, app.now()).await?,
    ))
}

/// The runs of a schedule under its surface.
pub async fn surface_runs(app: &App, call: Call) -> ApiResult<Reply> {
    let at = ids(&call)?;
    let id = schedule_id(&call)?;
    let paging = Paging::of(&call.query)?;
    schedules::get(app.table(), call.owner(), at.product, at.surface, id).await?;
    let page = schedules::runs(app.table(), id, paging).await?;
    Ok(Reply::ok(page.to_json()))
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::{json, Value};

    use crate::model::{TriggerType, Word};
    use crate::rules::{self, schedule};
    use crate::schema::*;

    fn body(required: &[&str]) -> Value {
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
                    nullable(texts(schedule::RECORD_ID, schedule::MAX_RECORD_IDS)),
                ),
                ("recordType", nullable(schedule::RECORD_TYPE.schema())),
                ("recordFilter", nullable(record_filter())),
                ("executionOptions", nullable(execution_options())),
                ("inputs", free()),
                ("messages", nullable(rules::FREE_JSON.any_schema())),
            ],
            required,
        )
    }

    /// A schedule with its newest runs.
    fn with_runs() -> Value {
        extend("Schedule", &[("recentRuns", array(r("ScheduleRun")))])
    }

    pub fn create() -> Doc {
        let mut body = body(&["flowId", "triggerType"]);
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
        Doc::answers(201, r("Schedule")).body(body)
    }

    pub fn update() -> Doc {
        Doc::ok(r("Schedule")).body(body(&[]))
    }

    pub fn list() -> Doc {
        Doc::ok(record(&[("data", array(r("Schedule")))]))
    }

    pub fn get() -> Doc {
        Doc::ok(with_runs())
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }

    fn enabled() -> Doc {
        Doc::ok(record(&[
            ("status", enumeration(&["paused", "active"])),
            ("schedule", r("Schedule")),
        ]))
    }

    pub fn pause() -> Doc {
        enabled()
    }

    pub fn resume() -> Doc {
        enabled()
    }

    pub fn run_now() -> Doc {
        Doc::answers(
            202,
            record(&[
                ("batchExecutionId", string()),
                ("recordCount", integer()),
                ("status", enumeration(&["queued"])),
            ]),
        )
    }

    pub fn surface_runs() -> Doc {
        Doc::ok(page(r("ListedScheduleRun"))).query(paging())
    }

    pub fn list_all() -> Doc {
        Doc::ok(page(r("Schedule"))).query(paging()).query(vec![
            query("status", enumeration(&["active", "paused"])),
            query("search", string()),
        ])
    }

    pub fn find() -> Doc {
        Doc::ok(with_runs())
    }

    pub fn runs() -> Doc {
        surface_runs()
    }

    pub fn stats() -> Doc {
        let day = record(&[("date", string()), ("runs", count()), ("failed", count())]);
        let number = || nullable(json!({ "type": "number" }));
        Doc::ok(record(&[
            ("total", count()),
            ("completed", count()),
            ("failed", count()),
            ("successRate", number()),
            ("avgDurationMs", number()),
            ("avgCostUsd", number()),
            ("unpricedExecutions", count()),
            ("last7Days", array(day)),
        ]))
    }
}
