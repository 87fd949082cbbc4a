//! A2A surfaces (API.md "A2A surfaces"): `POST …/a2a` speaks the Agent2Agent protocol's
//! JSON-RPC binding, its 1.0 methods with the 0.3 names as aliases, answering in the forms
//! of the version `A2A-Version` names (none: 0.3). A task is an execution of the surface,
//! made by `SendMessage` as a gateway call on the skill the message names and waited for;
//! the Agent Card beside it lists the skills (the enabled items) and is public.

use serde_json::{json, Map, Value};

use crate::api::gateway::{self, Invocation, Pick};
use crate::app::App;
use crate::auth::surface_key::{Door, Gateway};
use crate::call::{Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::jsonrpc::{self, Message, RpcError};
use crate::model::{Execution, ExecutionStatus, Surface, Word};
use crate::repo::executions::{self, Filter};
use crate::repo::layout as k;
use crate::repo::limits;
use crate::repo::listing::Paging;
use crate::repo::partition::Partition;

const TASK_NOT_FOUND: i64 = -32001;
const TASK_NOT_CANCELABLE: i64 = -32002;
const PUSH_NOTIFICATION_NOT_SUPPORTED: i64 = -32003;
const UNSUPPORTED_OPERATION: i64 = -32004;
const EXTENDED_CARD_NOT_CONFIGURED: i64 = -32007;
const VERSION_NOT_SUPPORTED: i64 = -32009;

/// The one artifact of a completed task.
const ARTIFACT_ID: &str = "result";
const MODES: [&str; 2] = ["text/plain", "application/json"];
/// The most tasks a `ListTasks` page holds, and how many when the caller does not say.
const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 50;

/// The protocol version a request speaks, which shapes its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// 1.0: ProtoJSON forms (`TASK_STATE_COMPLETED`, `ROLE_AGENT`, parts by their content).
    V1,
    /// 0.3 (and a request naming none): `kind` discriminators, lowercase states and roles.
    V03,
}

fn version(call: &Call) -> Result<Version, RpcError> {
    let named = call
        .headers
        .get("a2a-version")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| crate::validate::query_param(&call.query, "A2A-Version"));
    match named {
        None | Some("") | Some("0.3") | Some("0.3.0") => Ok(Version::V03),
        Some("1.0") | Some("1") | Some("1.0.0") => Ok(Version::V1),
        Some(other) => Err(a2a_error(
            VERSION_NOT_SUPPORTED,
            format!("A2A version {other} is not supported; this agent speaks 1.0 and 0.3"),
            "VERSION_NOT_SUPPORTED",
        )),
    }
}

/// An A2A error: its code, and (for 1.0 clients, harmless to 0.3 ones) the reason in a
/// `google.rpc.ErrorInfo` detail, as the JSON-RPC binding describes.
fn a2a_error(code: i64, message: impl Into<String>, reason: &str) -> RpcError {
    RpcError::new(code, message).data(json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "a2a-protocol.org",
    }]))
}

fn task_not_found(id: &str) -> RpcError {
    a2a_error(
        TASK_NOT_FOUND,
        format!("Task {id} not found"),
        "TASK_NOT_FOUND",
    )
}

/// POST …/a2a: one JSON-RPC message.
pub async fn post(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    let (id, method, params) = match jsonrpc::parse(&call.body) {
        Ok(Message::Request { id, method, params }) => (id, method, params),
        Ok(Message::Notification { .. } | Message::Response) => return Ok(jsonrpc::taken()),
        Err(e) => return Ok(e.answer(None)),
    };
    let v = match version(&call) {
        Ok(v) => v,
        Err(e) => return Ok(e.answer(Some(&id))),
    };
    let answered = match method.as_str() {
        "SendMessage" | "message/send" => send_message(app, &call, &g, v, &params).await,
        "GetTask" | "tasks/get" => get_task(app, &call, &g, v, &params).await,
        "ListTasks" | "tasks/list" => list_tasks(app, &call, &g, v, &params).await,
        "CancelTask" | "tasks/cancel" => cancel_task(app, &call, &g, v, &params).await,
        "SendStreamingMessage" | "message/stream" | "SubscribeToTask" | "tasks/resubscribe" => {
            Err(a2a_error(
                UNSUPPORTED_OPERATION,
                "Streaming is not supported by this agent (capabilities.streaming is false); use SendMessage",
                "UNSUPPORTED_OPERATION",
            ))
        }
        "CreateTaskPushNotificationConfig"
        | "GetTaskPushNotificationConfig"
        | "ListTaskPushNotificationConfigs"
        | "DeleteTaskPushNotificationConfig"
        | "tasks/pushNotificationConfig/set"
        | "tasks/pushNotificationConfig/get"
        | "tasks/pushNotificationConfig/list"
        | "tasks/pushNotificationConfig/delete" => Err(a2a_error(
            PUSH_NOTIFICATION_NOT_SUPPORTED,
            "Push notifications are not supported by this agent",
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
        )),
        "GetExtendedAgentCard" | "agent/getAuthenticatedExtendedCard" => Err(a2a_error(
            EXTENDED_CARD_NOT_CONFIGURED,
            "This agent has no extended Agent Card",
            "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
        )),
        _ => Err(RpcError::new(
            jsonrpc::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )),
    };
    Ok(match answered {
        Ok((result, headers)) => jsonrpc::result(&id, result).headers(headers),
        Err(e) => e.answer(Some(&id)),
    })
}

type Answered = Result<(Value, Vec<(&'static str, String)>), RpcError>;

/// What a message says: its text parts joined, and its first data part that is an object.
type Said = (Option<String>, Option<Map<String, Value>>);

/// What a message's parts say, in either version's form (a part is text if it has `text`,
/// data if it has `data`).
fn parts_of(message: &Map<String, Value>) -> Result<Said, RpcError> {
    let Some(parts) = message.get("parts").and_then(Value::as_array) else {
        return Err(RpcError::invalid_params(
            "message.parts must be a list of parts",
        ));
    };
    if parts.is_empty() {
        return Err(RpcError::invalid_params(
            "message.parts needs at least one part",
        ));
    }
    let mut texts = Vec::new();
    let mut data = None;
    for part in parts {
        match (part.get("text"), part.get("data")) {
            (Some(Value::String(t)), _) => texts.push(t.as_str()),
            (_, Some(Value::Object(d))) if data.is_none() => data = Some(d.clone()),
            (_, Some(_)) => {}
            _ if part.get("url").is_some()
                || part.get("raw").is_some()
                || part.get("file").is_some() =>
            {
                return Err(a2a_error(
                    -32005,
                    "File parts are not supported; send text or data parts",
                    "CONTENT_TYPE_NOT_SUPPORTED",
                ))
            }
            _ => {
                return Err(RpcError::invalid_params(
                    "each part is a text or a data part",
                ))
            }
        }
    }
    let text = (!texts.is_empty()).then(|| texts.join("\n"));
    Ok((text, data))
}

/// `SendMessage {message, configuration?}`: a gateway call on the skill the message names
/// (`metadata.skillId`), else the entry point, else the only skill; its task, waited for
/// unless the caller asked to have it at once. An `Idempotency-Key` is remembered by what the
/// message asks.
async fn send_message(
    app: &App,
    call: &Call,
    g: &Gateway,
    v: Version,
    params: &Map<String, Value>,
) -> Answered {
    let Some(message) = params.get("message").and_then(Value::as_object) else {
        return Err(RpcError::invalid_params("SendMessage needs a message"));
    };
    if message
        .get("taskId")
        .is_some_and(|t| !t.is_null() && t != "")
    {
        return Err(a2a_error(
            UNSUPPORTED_OPERATION,
            "A task of this agent takes no further messages; send a new message (no taskId)",
            "UNSUPPORTED_OPERATION",
        ));
    }
    let (text, data) = parts_of(message)?;
    if text
        .as_ref()
        .is_some_and(|t| t.len() > crate::rules::gateway::MAX_BODY)
    {
        return Err(RpcError::invalid_params("the message's text is too long"));
    }
    let skill = message
        .get("metadata")
        .and_then(|m| m.get("skillId"))
        .or_else(|| params.get("metadata").and_then(|m| m.get("skillId")))
        .and_then(Value::as_str);
    let pick = match skill {
        Some(skill) => Pick::Named(skill),
        None => Pick::EntryOrOnly,
    };
    let configuration = params.get("configuration");
    let at_once = configuration
        .and_then(|c| c.get("returnImmediately"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || configuration
            .and_then(|c| c.get("blocking"))
            .and_then(Value::as_bool)
            == Some(false);
    let context_id = message
        .get("contextId")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty() && c.len() <= 255)
        .map_or_else(|| crate::ids::new_id("ctx"), str::to_string);
    let message_id = message
        .get("messageId")
        .and_then(Value::as_str)
        .filter(|m| m.len() <= 255)
        .map(str::to_string);
    let body = Ok(Invocation {
        inputs: data,
        messages: text.map(|t| json!([{ "role": "user", "content": t }])),
        context_id: Some(context_id.clone()),
        message_id: message_id.clone(),
        ..Invocation::default()
    });
    let wait = (!at_once).then_some(app.config.protocol_wait_s);
    let what = if skill.is_some() {
        "Skill"
    } else {
        "A skill to run (no skillId, entry point or only skill)"
    };
    let performed = async {
        let reply = gateway::perform(app, call, g, pick, what, body, wait).await?;
        // what is remembered is the task (in 1.0 form), so a replay names the same context
        let task = task(&reply.body, &context_id, message_id.as_deref());
        Ok(Reply::ok(task).headers(reply.headers))
    };
    let asked = serde_json::to_vec(params).unwrap_or_default();
    match gateway::remembered(app, call, g, "SendMessage", &asked, performed).await {
        Ok(reply) => {
            let task = shaped(v, reply.body);
            let result = match v {
                Version::V1 => json!({ "task": task }),
                Version::V03 => task,
            };
            Ok((result, jsonrpc::kept_headers(reply.headers)))
        }
        Err(e) if e.status() == 429 => Err(RpcError::new(
            jsonrpc::SERVER_ERROR,
            "Rate limited: this key or surface is over its limit; retry after the Retry-After seconds",
        )
        .status(429)
        .data(json!({ "code": "RATE_LIMITED" }))
        .headers(e.headers())),
        Err(e) => Err(RpcError::refused(e)),
    }
}

/// The task id a request names (`id`), checked to have an execution id's shape (anything
/// else is not found, without a read).
fn task_id(params: &Map<String, Value>) -> Result<&str, RpcError> {
    let id = params
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("the task's id is required"))?;
    if crate::ids::is_valid("exec", id) {
        Ok(id)
    } else {
        Err(task_not_found(id))
    }
}

/// A task of this key on this surface (another surface's, or another key's: not found),
/// read beside the key's read window.
async fn read_task(app: &App, g: &Gateway, id: &str) -> Result<Execution, RpcError> {
    let now = app.now();
    let read = limits::read_window(&g.key, app.config.gateway_reads_per_minute, now);
    let record = k::execution(id);
    let (found, counted) = tokio::join!(
        app.table().get(&record),
        limits::admit_read(app.table(), read, now)
    );
    counted.map_err(read_refused)?;
    let e: Execution = match found.map_err(|e| RpcError::refused(e.into()))? {
        Some(it) => crate::repo::decode(&it).map_err(RpcError::refused)?,
        None => return Err(task_not_found(id)),
    };
    let mine = e.key_id.as_deref() == Some(g.key.key_id.as_str())
        && e.surface_id == g.surface.id
        && e.product_id == g.surface.product_id;
    if mine {
        Ok(e)
    } else {
        Err(task_not_found(id))
    }
}

/// Over the read window: HTTP 429 with its headers.
fn read_refused(e: ApiError) -> RpcError {
    if e.status() == 429 {
        return RpcError::new(
            jsonrpc::SERVER_ERROR,
            "Rate limited: too many reads this minute",
        )
        .status(429)
        .data(json!({ "code": "RATE_LIMITED" }))
        .headers(e.headers());
    }
    RpcError::refused(e)
}

/// `historyLength`: 0 leaves the history out; absent or more keeps it (it is one message).
fn history_length(params: &Map<String, Value>) -> Result<Option<u64>, RpcError> {
    match params.get("historyLength") {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params("historyLength must be a whole number")),
    }
}

fn task_of(call: &Call, e: &Execution, history: Option<u64>) -> Value {
    let context = e.context_id.clone().unwrap_or_default();
    let mut t = task(
        &e.to_json(&call.public_url),
        &context,
        e.message_id.as_deref(),
    );
    if history == Some(0) {
        t.as_object_mut().map(|t| t.remove("history"));
    }
    t
}

/// `GetTask {id, historyLength?}`.
async fn get_task(
    app: &App,
    call: &Call,
    g: &Gateway,
    v: Version,
    params: &Map<String, Value>,
) -> Answered {
    let id = task_id(params)?;
    let history = history_length(params)?;
    let e = read_task(app, g, id).await?;
    Ok((shaped(v, task_of(call, &e, history)), Vec::new()))
}

/// `CancelTask {id}`: a submitted task (a queued execution) is canceled; any other is not
/// cancelable.
async fn cancel_task(
    app: &App,
    call: &Call,
    g: &Gateway,
    v: Version,
    params: &Map<String, Value>,
) -> Answered {
    let id = task_id(params)?;
    let e = read_task(app, g, id).await?;
    let not_cancelable = |status: ExecutionStatus| {
        a2a_error(
            TASK_NOT_CANCELABLE,
            format!(
                "Task {id} is {}; only a submitted task can be canceled",
                state_03(status)
            ),
            "TASK_NOT_CANCELABLE",
        )
    };
    if e.status != ExecutionStatus::Queued {
        return Err(not_cancelable(e.status));
    }
    let now = app.clock.now_string();
    let cancelled =
        executions::cancel(app.table(), &g.key.owner, &g.surface.product_id, id, &now).await;
    let e = match cancelled {
        Ok(e) => e,
        // it moved on meanwhile
        Err(ApiError::Conflict(_)) => {
            let now = read_task(app, g, id).await?;
            return Err(not_cancelable(now.status));
        }
        Err(e) => return Err(RpcError::refused(e)),
    };
    Ok((shaped(v, task_of(call, &e, None)), Vec::new()))
}

/// `ListTasks {pageSize?, pageToken?, status?, contextId?, historyLength?}`: this key's tasks
/// on this surface, newest first, from the product's executions index.
async fn list_tasks(
    app: &App,
    call: &Call,
    g: &Gateway,
    v: Version,
    params: &Map<String, Value>,
) -> Answered {
    let size = match params.get("pageSize") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(n) => match n.as_u64() {
            Some(n) if (1..=MAX_PAGE as u64).contains(&n) => n as usize,
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "pageSize must be 1 to {MAX_PAGE}"
                )))
            }
        },
    };
    let token = params
        .get("pageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let status = match params
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        None | Some("TASK_STATE_UNSPECIFIED") => None,
        Some(s) => Some(
            status_of(s)
                .ok_or_else(|| RpcError::invalid_params(format!("unknown task state {s}")))?,
        ),
    };
    let context_id = params
        .get("contextId")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    let history = history_length(params)?;
    let filter = Filter {
        surface_id: Some(&g.surface.id),
        status,
        key_id: Some(&g.key.key_id),
        context_id,
        ..Filter::default()
    };
    let paging = Paging {
        limit: size,
        cursor: token,
    };
    let now = app.now();
    let read = limits::read_window(&g.key, app.config.gateway_reads_per_minute, now);
    let (page, counted) = tokio::join!(
        executions::list_made(app.table(), &g.surface.product_id, paging, filter),
        limits::admit_read(app.table(), read, now)
    );
    counted.map_err(read_refused)?;
    let page = page.map_err(|e| match e.code() {
        "INVALID_CURSOR" => RpcError::invalid_params("pageToken is not one this agent gave"),
        _ => RpcError::refused(e),
    })?;
    let tasks: Vec<Value> = page
        .data
        .iter()
        .map(|e| shaped(v, task_of(call, e, history)))
        .collect();
    let total = page.offset + tasks.len() + usize::from(page.next_cursor.is_some());
    let result = json!({
        "tasks": tasks,
        "nextPageToken": page.next_cursor.unwrap_or_default(),
        "pageSize": size,
        "totalSize": total,
    });
    Ok((result, Vec::new()))
}

/// An execution status as a 1.0 task state.
fn state_1(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Queued => "TASK_STATE_SUBMITTED",
        ExecutionStatus::Running => "TASK_STATE_WORKING",
        ExecutionStatus::Completed => "TASK_STATE_COMPLETED",
        ExecutionStatus::Failed => "TASK_STATE_FAILED",
        ExecutionStatus::Cancelled => "TASK_STATE_CANCELED",
    }
}

/// The same in 0.3's words.
fn state_03(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Queued => "submitted",
        ExecutionStatus::Running => "working",
        ExecutionStatus::Completed => "completed",
        ExecutionStatus::Failed => "failed",
        ExecutionStatus::Cancelled => "canceled",
    }
}

/// A task state in either version's words as the execution status it stands for.
fn status_of(state: &str) -> Option<ExecutionStatus> {
    ExecutionStatus::ALL
        .iter()
        .copied()
        .find(|s| state_1(*s) == state || state_03(*s) == state)
}

/// A part holding `value`: a string as text, anything else as data.
fn part(value: &Value) -> Value {
    match value {
        Value::String(s) => json!({ "text": s }),
        other => json!({ "data": other, "mediaType": "application/json" }),
    }
}

/// The task an execution is (API.md), in 1.0 form, from its public view: its state and
/// when, the result as its one artifact, the failure as the status message, the user's
/// message as its history.
fn task(e: &Value, context_id: &str, message_id: Option<&str>) -> Value {
    let id = e["id"].as_str().unwrap_or_default();
    let status = e["status"]
        .as_str()
        .and_then(ExecutionStatus::parse)
        .unwrap_or(ExecutionStatus::Queued);
    let when = ["completedAt", "startedAt", "createdAt"]
        .iter()
        .find_map(|f| e[*f].as_str())
        .unwrap_or_default();
    let mut status_json = json!({ "state": state_1(status), "timestamp": when });
    if matches!(status, ExecutionStatus::Failed | ExecutionStatus::Cancelled) {
        let text = e["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("The task was {}", state_03(status)));
        status_json["message"] = json!({
            "messageId": format!("{id}-status"),
            "contextId": context_id,
            "taskId": id,
            "role": "ROLE_AGENT",
            "parts": [{ "text": text }],
        });
    }
    let mut user_parts = Vec::new();
    if let Some(text) = e["messages"][0]["content"].as_str() {
        user_parts.push(json!({ "text": text }));
    }
    if e["inputs"].is_object() {
        user_parts.push(json!({ "data": e["inputs"], "mediaType": "application/json" }));
    }
    let mut t = json!({
        "id": id,
        "contextId": context_id,
        "status": status_json,
        "history": [{
            "messageId": message_id.unwrap_or(id),
            "contextId": context_id,
            "taskId": id,
            "role": "ROLE_USER",
            "parts": user_parts,
        }],
        "metadata": { "runtype/executionId": id },
    });
    if status == ExecutionStatus::Completed {
        t["artifacts"] = json!([{
            "artifactId": ARTIFACT_ID,
            "name": "result",
            "parts": [part(&e["result"])],
        }]);
    }
    t
}

/// A 1.0 task in the forms of the version asked for.
fn shaped(v: Version, task: Value) -> Value {
    match v {
        Version::V1 => task,
        Version::V03 => task_03(task),
    }
}

fn part_03(mut p: Value) -> Value {
    if let Some(obj) = p.as_object_mut() {
        let kind = if obj.contains_key("text") {
            "text"
        } else {
            "data"
        };
        obj.insert("kind".into(), json!(kind));
        obj.remove("mediaType");
    }
    p
}

fn message_03(mut m: Value) -> Value {
    if let Some(obj) = m.as_object_mut() {
        obj.insert("kind".into(), json!("message"));
        let role = match obj.get("role").and_then(Value::as_str) {
            Some("ROLE_USER") => "user",
            _ => "agent",
        };
        obj.insert("role".into(), json!(role));
        if let Some(Value::Array(parts)) = obj.remove("parts") {
            obj.insert("parts".into(), parts.into_iter().map(part_03).collect());
        }
    }
    m
}

fn task_03(mut t: Value) -> Value {
    let Some(obj) = t.as_object_mut() else {
        return t;
    };
    obj.insert("kind".into(), json!("task"));
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let state = status
            .get("state")
            .and_then(Value::as_str)
            .and_then(status_of)
            .map_or("unknown", state_03);
        status.insert("state".into(), json!(state));
        if let Some(m) = status.remove("message") {
            status.insert("message".into(), message_03(m));
        }
    }
    if let Some(Value::Array(history)) = obj.remove("history") {
        obj.insert(
            "history".into(),
            history.into_iter().map(message_03).collect(),
        );
    }
    if let Some(Value::Array(artifacts)) = obj.get_mut("artifacts") {
        for a in artifacts.iter_mut() {
            if let Some(Value::Array(parts)) = a.get_mut("parts").map(Value::take) {
                a["parts"] = parts.into_iter().map(part_03).collect();
            }
        }
    }
    t
}

/// The Agent Card (API.md): the 1.0 fields with the 0.3 ones beside them, the skills, the
/// bearer scheme in the form both generations of clients read.
fn card(p: &Partition, surface: &Surface, url: &str) -> Value {
    let skills: Vec<Value> = p
        .items_of(&surface.id)
        .filter(|i| i.enabled)
        .map(|i| {
            let slug = i.protocol_name().to_string();
            let cap = p.capability(&i.capability_id);
            let name = i
                .exposed_name
                .clone()
                .or_else(|| cap.map(|c| c.capability_name.clone()))
                .unwrap_or_else(|| slug.clone());
            let description = i
                .exposed_description
                .clone()
                .or_else(|| cap.and_then(|c| c.capability_description.clone()))
                .unwrap_or_else(|| name.clone());
            json!({ "id": slug, "name": name, "description": description, "tags": [] })
        })
        .collect();
    let description = p
        .product
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| surface.name.clone());
    json!({
        "name": surface.name,
        "description": description,
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": [{ "url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0" }],
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "capabilities": { "streaming": false, "pushNotifications": false },
        "defaultInputModes": MODES,
        "defaultOutputModes": MODES,
        "skills": skills,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An a2a surface key (a2a_live_… / a2a_test_…) in Authorization: Bearer",
            },
        },
        "security": [{ "bearer": [] }],
        "securityRequirements": [{ "schemes": { "bearer": { "list": [] } } }],
    })
}

/// GET …/a2a/.well-known/agent-card.json: the card, with an `ETag` (a match is 304) and the
/// one `Cache-Control` that lets it be kept a minute.
pub async fn agent_card(app: &App, call: Call) -> ApiResult<Reply> {
    let (p, surface, url) = gateway::public_surface(app, &call, Door::A2a, "A2A surface").await?;
    let body = card(&p, &surface, &url);
    let etag = format!("\"{}\"", &crate::secrets::hash(&body.to_string())[..32]);
    let matches = call
        .headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let reply = if matches {
        Reply::with_status(304, Value::Null)
    } else {
        Reply::ok(body)
    };
    Ok(reply
        .header("etag", etag)
        .header("cache-control", "public, max-age=60"))
}

/// GET …/a2a/info: where the endpoint and its card are, and how to authenticate.
pub async fn info(app: &App, call: Call) -> ApiResult<Reply> {
    let (_, _, url) = gateway::public_surface(app, &call, Door::A2a, "A2A surface").await?;
    let card = format!("{url}/.well-known/agent-card.json");
    Ok(Reply::ok(gateway::protocol_info(
        &url,
        ("agentCard", card),
        "1.0",
        &["1.0", "0.3"],
        "a2a",
    )))
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use crate::jsonrpc::doc::{answer, message};
    use crate::schema::*;

    pub fn post() -> Doc {
        Doc::ok(answer())
            .body(message())
            .also(
                202,
                serde_json::Value::Null,
                "A notification or a response, taken (no body)",
            )
            .also(
                400,
                answer(),
                "Not one JSON-RPC 2.0 message (-32700, -32600)",
            )
            .also(
                409,
                answer(),
                "The Idempotency-Key's first call is still running",
            )
            .also(
                422,
                answer(),
                "The Idempotency-Key was used for another message",
            )
            .also(
                429,
                answer(),
                "A rate limit of the key or the surface (with Retry-After)",
            )
    }

    pub fn agent_card() -> Doc {
        let interface = record(&[
            ("url", string()),
            ("protocolBinding", string()),
            ("protocolVersion", string()),
        ]);
        let skill = record(&[
            ("id", string()),
            ("name", string()),
            ("description", string()),
            ("tags", array(string())),
        ]);
        Doc::ok(record(&[
            ("name", string()),
            ("description", string()),
            ("version", string()),
            ("supportedInterfaces", array(interface)),
            ("url", string()),
            ("preferredTransport", string()),
            ("protocolVersion", string()),
            ("capabilities", any()),
            ("defaultInputModes", array(string())),
            ("defaultOutputModes", array(string())),
            ("skills", array(skill)),
            ("securitySchemes", any()),
            ("security", any()),
            ("securityRequirements", any()),
        ]))
        .also(
            304,
            serde_json::Value::Null,
            "If-None-Match named the card's ETag",
        )
    }

    pub fn info() -> Doc {
        crate::api::gateway::doc::protocol_info("agentCard")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_in_both_versions() {
        let e = json!({
            "id": "exec_1", "status": "completed", "result": {"a": 1},
            "createdAt": "t0", "completedAt": "t1",
            "messages": [{"role": "user", "content": "hi"}], "inputs": {"x": 2},
        });
        let t = task(&e, "ctx_1", Some("m1"));
        assert_eq!(t["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(t["status"]["timestamp"], "t1");
        assert_eq!(t["artifacts"][0]["parts"][0]["data"], json!({"a": 1}));
        assert_eq!(t["history"][0]["messageId"], "m1");
        assert_eq!(t["history"][0]["parts"][0]["text"], "hi");
        let old = task_03(t);
        assert_eq!(old["kind"], "task");
        assert_eq!(old["status"]["state"], "completed");
        assert_eq!(old["history"][0]["role"], "user");
        assert_eq!(old["history"][0]["kind"], "message");
        assert_eq!(old["artifacts"][0]["parts"][0]["kind"], "data");
        let failed = task(
            &json!({"id": "exec_2", "status": "failed", "error": "boom", "createdAt": "t0"}),
            "c",
            None,
        );
        assert_eq!(failed["status"]["message"]["parts"][0]["text"], "boom");
        assert!(failed.get("artifacts").is_none());
        assert_eq!(task_03(failed)["status"]["message"]["role"], "agent");
    }

    #[test]
    fn states_read_in_either_version() {
        for s in ExecutionStatus::ALL {
            assert_eq!(status_of(state_1(*s)), Some(*s));
            assert_eq!(status_of(state_03(*s)), Some(*s));
        }
        assert_eq!(status_of("TASK_STATE_REJECTED"), None);
    }
}
