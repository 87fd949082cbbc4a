//! MCP surfaces (API.md "MCP surfaces"): `POST …/mcp` speaks the Model Context Protocol's
//! Streamable HTTP transport, statelessly and with JSON answers only, in the handshake
//! revisions (`initialize`) and the stateless 2026-07-28 one (`server/discover`, the version in
//! every request); the surface's enabled items within the key's scopes are its tools, and a
//! `tools/call` is a gateway call waited for. Three public discovery documents sit beside it.

use serde_json::{json, Map, Value};

use crate::api::gateway::{self, Invocation, Pick};
use crate::app::App;
use crate::auth::surface_key::{self, Door, Gateway};
use crate::call::{Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::jsonrpc::{self, Message, RpcError};
use crate::model::{Capability, Surface, SurfaceItem};
use crate::repo::limits;
use crate::repo::partition::Partition;

/// The revisions opened with `initialize`, newest first: the newest is answered to a client
/// asking for one this server does not speak.
const HANDSHAKE_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// The stateless revisions: the version rides in every request's `_meta` and headers.
const STATELESS_VERSIONS: [&str; 1] = ["2026-07-28"];
/// A request of a handshake revision that names none (the header came in 2025-06-18).
const UNNAMED_VERSION: &str = "2025-03-26";

const VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
const SERVER_INFO_META: &str = "io.modelcontextprotocol/serverInfo";
const EXECUTION_META: &str = "runtype/executionId";
/// How long a client may keep a `tools/list` or `server/discover` answer.
const TTL_MS: u64 = 60_000;

/// `-32020`: the headers do not say what the body says (2026-07-28).
const HEADER_MISMATCH: i64 = -32020;
/// `-32022`: a protocol version this server does not speak.
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Which revision a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake(&'static str),
    Stateless(&'static str),
}

impl Era {
    fn version(self) -> &'static str {
        match self {
            Era::Handshake(v) | Era::Stateless(v) => v,
        }
    }

    /// A result of this revision: the stateless one marks every result complete and names
    /// the server in it.
    fn result(self, surface: &Surface, mut result: Value) -> Value {
        if let Era::Stateless(_) = self {
            result["resultType"] = json!("complete");
            let meta = result
                .as_object_mut()
                .map(|r| r.entry("_meta").or_insert_with(|| json!({})));
            if let Some(Value::Object(meta)) = meta {
                meta.insert(SERVER_INFO_META.into(), server_info(surface));
            }
        }
        result
    }
}

/// A refusal at the door (no key, a bad one): a 401 names where the resource's metadata is
/// (RFC 9728), as MCP's authorization asks.
pub fn refused(e: ApiError, public_url: &str, product_id: &str, surface_id: &str) -> ApiError {
    if e.status() != 401 {
        return e;
    }
    // (the surface was not read: the endpoint is the path the request named)
    let metadata = format!(
        "{public_url}/v1/products/{product_id}/surfaces/{surface_id}/mcp/.well-known/oauth-protected-resource"
    );
    e.with_headers(vec![(
        "www-authenticate",
        format!("Bearer resource_metadata=\"{metadata}\""),
    )])
}

fn server_info(surface: &Surface) -> Value {
    json!({ "name": surface.name, "version": env!("CARGO_PKG_VERSION") })
}

/// POST …/mcp: one JSON-RPC message.
pub async fn post(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    allowed_origin(&call, &g.surface)?;
    let (id, method, params) = match jsonrpc::parse(&call.body) {
        Ok(Message::Request { id, method, params }) => (id, method, params),
        Ok(Message::Notification { .. } | Message::Response) => return Ok(jsonrpc::taken()),
        Err(e) => return Ok(e.answer(None)),
    };
    let era = match era(&call, &method, &params) {
        Ok(era) => era,
        Err(e) => return Ok(e.answer(Some(&id))),
    };
    let answered = match method.as_str() {
        "initialize" => Ok((initialize(&g.surface, &params), Vec::new())),
        "ping" => Ok((json!({}), Vec::new())),
        "server/discover" => Ok((discover(), Vec::new())),
        "tools/list" => tools_list(app, &g, &params).await,
        "tools/call" => tools_call(app, &call, &g, era, &params).await,
        _ => Err(method_not_found(era, &method)),
    };
    Ok(match answered {
        Ok((result, headers)) => {
            jsonrpc::result(&id, era.result(&g.surface, result)).headers(headers)
        }
        Err(e) => e.answer(Some(&id)),
    })
}

/// `config.allowedOrigins`, when the surface sets it: a browser's request from elsewhere is
/// refused (403), as the transport asks of servers (DNS rebinding).
fn allowed_origin(call: &Call, surface: &Surface) -> ApiResult<()> {
    let Some(allowed) = surface
        .config
        .as_ref()
        .and_then(|c| c.get("allowedOrigins"))
        .and_then(Value::as_array)
    else {
        return Ok(());
    };
    let Some(origin) = call.headers.get(http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let listed = allowed
        .iter()
        .filter_map(Value::as_str)
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if listed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "This origin is not among the surface's allowedOrigins".into(),
        ))
    }
}

fn header<'c>(call: &'c Call, name: &str) -> Option<&'c str> {
    call.headers.get(name).and_then(|v| v.to_str().ok())
}

fn unsupported(requested: &str) -> RpcError {
    let supported: Vec<&str> = STATELESS_VERSIONS
        .iter()
        .chain(HANDSHAKE_VERSIONS.iter())
        .copied()
        .collect();
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .status(400)
        .data(json!({ "supported": supported, "requested": requested }))
}

fn mismatch(message: String) -> RpcError {
    RpcError::new(HEADER_MISMATCH, format!("Header mismatch: {message}")).status(400)
}

/// The revision a request speaks, and the checks its transport asks of the server: a
/// stateless request names its version in `_meta` and again in `MCP-Protocol-Version`, with
/// `Mcp-Method` (and `Mcp-Name` for a tool call) saying what the body says; a handshake-era
/// request names its version in the header (none: 2025-03-26), `initialize` in its params.
fn era(call: &Call, method: &str, params: &Map<String, Value>) -> Result<Era, RpcError> {
    let in_header = header(call, "mcp-protocol-version");
    if method == "initialize" {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = HANDSHAKE_VERSIONS
            .iter()
            .find(|v| Some(**v) == asked)
            .unwrap_or(&HANDSHAKE_VERSIONS[0]);
        return Ok(Era::Handshake(version));
    }
    let in_meta = params
        .get("_meta")
        .and_then(|m| m.get(VERSION_META))
        .and_then(Value::as_str);
    let Some(asked) = in_meta else {
        return match in_header {
            None => Ok(Era::Handshake(UNNAMED_VERSION)),
            Some(h) => match HANDSHAKE_VERSIONS.iter().find(|v| **v == h) {
                Some(v) => Ok(Era::Handshake(v)),
                None if STATELESS_VERSIONS.contains(&h) => Err(mismatch(format!(
                    "MCP-Protocol-Version is {h} but the request's _meta names no {VERSION_META}"
                ))),
                None => Err(unsupported(h)),
            },
        };
    };
    let Some(version) = STATELESS_VERSIONS.iter().find(|v| **v == asked) else {
        return Err(unsupported(asked));
    };
    if in_header != Some(asked) {
        return Err(mismatch(format!(
            "MCP-Protocol-Version {} does not match the body's {asked}",
            in_header.unwrap_or("(missing)")
        )));
    }
    if header(call, "mcp-method") != Some(method) {
        return Err(mismatch(format!(
            "Mcp-Method {} does not match the body's {method}",
            header(call, "mcp-method").unwrap_or("(missing)")
        )));
    }
    if method == "tools/call" {
        let named = params.get("name").and_then(Value::as_str);
        let sent = header(call, "mcp-name").map(decoded_header);
        if named.is_some() && sent.as_deref() != named {
            return Err(mismatch(format!(
                "Mcp-Name {} does not match the body's {}",
                sent.as_deref().unwrap_or("(missing)"),
                named.unwrap_or_default()
            )));
        }
    }
    Ok(Era::Stateless(version))
}

/// A header value as sent: plain, or in the transport's Base64 sentinel form
/// (`=?base64?…?=`) for a value a header cannot carry plainly.
fn decoded_header(v: &str) -> String {
    use base64::Engine;
    v.strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| v.to_string())
}

/// An unknown method: in the stateless revision also HTTP 404, which is how a client tells
/// a server that lacks the method from one that lacks the endpoint.
fn method_not_found(era: Era, method: &str) -> RpcError {
    let e = RpcError::new(
        jsonrpc::METHOD_NOT_FOUND,
        format!("Method not found: {method}"),
    );
    match era {
        Era::Stateless(_) => e.status(404),
        Era::Handshake(_) => e,
    }
}

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": false } })
}

fn initialize(surface: &Surface, params: &Map<String, Value>) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = HANDSHAKE_VERSIONS
        .iter()
        .find(|v| Some(**v) == asked)
        .unwrap_or(&HANDSHAKE_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(surface),
    })
}

/// What `server/discover` answers (the server's identity goes into every result's `_meta`).
fn discover() -> Value {
    json!({
        "supportedVersions": STATELESS_VERSIONS,
        "capabilities": capabilities(),
        "ttlMs": TTL_MS,
        "cacheScope": "public",
    })
}

/// One tool per enabled item the key may call, in display order (API.md).
fn tools(g: &Gateway, p: &Partition) -> Vec<Value> {
    g.enabled_items(p)
        .filter(|i| g.allows(i))
        .map(|i| tool(i, p.capability(&i.capability_id)))
        .collect()
}

fn tool(item: &SurfaceItem, cap: Option<&Capability>) -> Value {
    let mut tool = Map::new();
    tool.insert("name".into(), json!(item.protocol_name()));
    let title = item
        .exposed_name
        .clone()
        .or_else(|| cap.map(|c| c.capability_name.clone()));
    let description = item
        .exposed_description
        .clone()
        .or_else(|| cap.and_then(|c| c.capability_description.clone()));
    if let Some(title) = title {
        tool.insert("title".into(), json!(title));
    }
    if let Some(description) = description {
        tool.insert("description".into(), json!(description));
    }
    let schema = cap.and_then(|c| c.parameters_schema.clone());
    tool.insert("inputSchema".into(), input_schema(schema));
    Value::Object(tool)
}

/// The capability's parameters schema as a tool's input schema, which MCP requires to be an
/// object schema: one with no `type` says so; anything else is the open object schema.
fn input_schema(schema: Option<Value>) -> Value {
    match schema {
        Some(Value::Object(mut s)) => match s.get("type") {
            None => {
                s.insert("type".into(), json!("object"));
                Value::Object(s)
            }
            Some(t) if t == "object" => Value::Object(s),
            Some(_) => json!({ "type": "object" }),
        },
        _ => json!({ "type": "object" }),
    }
}

type Answered = Result<(Value, Vec<(&'static str, String)>), RpcError>;

/// `tools/list`: what describing the surface costs (the product's items, and the key's read
/// window counted beside them); one page.
async fn tools_list(app: &App, g: &Gateway, params: &Map<String, Value>) -> Answered {
    if params.get("cursor").is_some_and(|c| !c.is_null()) {
        return Err(RpcError::invalid_params(
            "Invalid cursor: every tool is on the first page",
        ));
    }
    let now = app.now();
    let read = limits::read_window(&g.key, app.config.gateway_reads_per_minute, now);
    let (p, counted) = tokio::join!(
        g.partition(app.table()),
        limits::admit_read(app.table(), read, now)
    );
    counted.map_err(RpcError::refused)?;
    let p = p.map_err(RpcError::refused)?;
    let result = json!({ "tools": tools(g, &p), "ttlMs": TTL_MS, "cacheScope": "private" });
    Ok((result, Vec::new()))
}

/// `tools/call {name, arguments}`: a gateway call on the item whose slug is `name`, with
/// `inputs` = `arguments`, waited for `RUNTYPE_PROTOCOL_WAIT_S`; remembered under an
/// `Idempotency-Key` by the tool and its arguments (not the JSON-RPC envelope, whose id
/// changes with every request).
async fn tools_call(
    app: &App,
    call: &Call,
    g: &Gateway,
    era: Era,
    params: &Map<String, Value>,
) -> Answered {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Err(RpcError::invalid_params("tools/call needs a tool name"));
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err(RpcError::invalid_params("arguments must be an object")),
    };
    let asked = serde_json::to_vec(&arguments).unwrap_or_default();
    if asked.len() > crate::rules::gateway::MAX_BODY {
        return Err(RpcError::invalid_params(format!(
            "arguments may be at most {} KiB",
            crate::rules::gateway::MAX_BODY / 1024
        )));
    }
    let body = Ok(Invocation {
        inputs: Some(arguments),
        ..Invocation::default()
    });
    let wait = Some(app.config.protocol_wait_s);
    let performed = gateway::perform(app, call, g, Pick::Named(name), "Tool", body, wait);
    let op = format!("tools/call {name}");
    match gateway::remembered(app, call, g, &op, &asked, performed).await {
        Ok(reply) => Ok((
            call_result(era, &reply.body),
            jsonrpc::kept_headers(reply.headers),
        )),
        Err(e) if e.status() == 429 => {
            let wait = e
                .headers()
                .iter()
                .find(|(h, _)| *h == "retry-after")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "1".into());
            let text = format!(
                "Rate limited: this key or surface is over its limit; retry in {wait} seconds"
            );
            let result = json!({ "content": [{ "type": "text", "text": text }], "isError": true });
            Ok((result, e.headers()))
        }
        Err(e) => Err(RpcError::refused(e)),
    }
}

/// A tool's result from the execution as the gateway answered it (API.md).
fn call_result(era: Era, execution: &Value) -> Value {
    let status = execution["status"].as_str().unwrap_or_default();
    let (text, is_error) = match status {
        "completed" => (
            match &execution["result"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            false,
        ),
        "failed" | "cancelled" => (
            execution["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("The execution was {status}")),
            true,
        ),
        _ => (
            format!(
                "Execution {} is still {status}; its result will be at {}",
                execution["id"].as_str().unwrap_or_default(),
                execution["statusUrl"].as_str().unwrap_or_default()
            ),
            true,
        ),
    };
    let mut result = json!({
        "content": [{ "type": "text", "text": text }],
        "isError": is_error,
        "_meta": { EXECUTION_META: execution["id"] },
    });
    // structured content came with 2025-06-18
    let structured = era.version() != UNNAMED_VERSION;
    if status == "completed" && execution["result"].is_object() && structured {
        result["structuredContent"] = execution["result"].clone();
    }
    result
}

fn authentication() -> Value {
    json!({ "type": "bearer", "header": "Authorization" })
}

/// GET …/mcp/.well-known/mcp.json: the manifest; with a valid key of this surface, the
/// key's tools too.
pub async fn manifest(app: &App, call: Call) -> ApiResult<Reply> {
    let (p, surface, url) = gateway::public_surface(app, &call, Door::Mcp, "MCP surface").await?;
    let description = p
        .product
        .description
        .clone()
        .unwrap_or_else(|| surface.name.clone());
    let mut body = json!({
        "name": surface.name,
        "description": description,
        "protocolVersion": HANDSHAKE_VERSIONS[0],
        "capabilities": { "tools": {} },
        "url": url,
        "version": env!("CARGO_PKG_VERSION"),
        "authentication": authentication(),
    });
    let keyed = call.headers.contains_key(http::header::AUTHORIZATION)
        || call.headers.contains_key("x-api-key");
    if keyed {
        let opened = surface_key::open(
            app.table(),
            &call.headers,
            &surface.product_id,
            &surface.id,
            Door::Mcp,
            app.now(),
        )
        .await;
        if let Ok(g) = opened {
            body["tools"] = json!(tools(&g, &p));
        }
    }
    Ok(Reply::ok(body))
}

/// GET …/mcp/info: where the endpoint and its manifest are, and how to authenticate.
pub async fn info(app: &App, call: Call) -> ApiResult<Reply> {
    let (_, _, url) = gateway::public_surface(app, &call, Door::Mcp, "MCP surface").await?;
    let manifest = format!("{url}/.well-known/mcp.json");
    let supported: Vec<&str> = STATELESS_VERSIONS
        .iter()
        .chain(HANDSHAKE_VERSIONS.iter())
        .copied()
        .collect();
    Ok(Reply::ok(gateway::protocol_info(
        &url,
        ("manifest", manifest),
        HANDSHAKE_VERSIONS[0],
        &supported,
        "mcp",
    )))
}

/// GET …/mcp/.well-known/oauth-protected-resource: RFC 9728 metadata (a surface key is the
/// bearer token; no authorization server issues them).
pub async fn protected_resource(app: &App, call: Call) -> ApiResult<Reply> {
    let (_, surface, url) = gateway::public_surface(app, &call, Door::Mcp, "MCP surface").await?;
    Ok(Reply::ok(json!({
        "resource": url,
        "bearer_methods_supported": ["header"],
        "resource_name": surface.name,
    })))
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use crate::jsonrpc::doc::{answer, message};
    use crate::schema::*;

    pub fn post() -> Doc {
        Doc::ok(answer())
            .body(message())
            .also(202, serde_json::Value::Null, "A notification or a response, taken (no body)")
            .also(400, answer(), "Not one JSON-RPC 2.0 message (-32700, -32600), or a protocol version or header the server refuses (-32022, -32020)")
            .also(404, any(), "No MCP surface here (the contract's error), or, in the 2026-07-28 revision, an unknown method (-32601)")
            .also(409, answer(), "The Idempotency-Key's first call is still running")
            .also(422, answer(), "The Idempotency-Key was used for another tool call")
            .also(429, answer(), "The key's read window (tools/list)")
    }

    pub fn manifest() -> Doc {
        Doc::ok(record(&[
            ("name", string()),
            ("description", string()),
            ("protocolVersion", string()),
            ("capabilities", any()),
            ("url", string()),
            ("version", string()),
            (
                "authentication",
                record(&[("type", string()), ("header", string())]),
            ),
        ]))
    }

    pub fn info() -> Doc {
        crate::api::gateway::doc::protocol_info("manifest")
    }

    pub fn protected_resource() -> Doc {
        Doc::ok(record(&[
            ("resource", string()),
            ("bearer_methods_supported", array(string())),
            ("resource_name", string()),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_schemas_are_object_schemas() {
        assert_eq!(input_schema(None), json!({"type": "object"}));
        assert_eq!(
            input_schema(Some(json!({"properties": {"q": {"type": "string"}}}))),
            json!({"type": "object", "properties": {"q": {"type": "string"}}})
        );
        assert_eq!(
            input_schema(Some(json!({"type": "string"}))),
            json!({"type": "object"})
        );
        assert_eq!(input_schema(Some(json!(true))), json!({"type": "object"}));
    }

    #[test]
    fn sentinel_headers_are_decoded() {
        assert_eq!(decoded_header("plain"), "plain");
        assert_eq!(
            decoded_header("=?base64?SGVsbG8sIOS4lueVjA==?="),
            "Hello, 世界"
        );
        assert_eq!(decoded_header("=?base64?!!?="), "=?base64?!!?=");
    }

    #[test]
    fn results_say_what_the_execution_did() {
        let era = Era::Handshake("2025-11-25");
        let done = call_result(
            era,
            &json!({"id": "exec_1", "status": "completed", "result": {"a": 1}}),
        );
        assert_eq!(done["isError"], false);
        assert_eq!(done["content"][0]["text"], r#"{"a":1}"#);
        assert_eq!(done["structuredContent"], json!({"a": 1}));
        assert_eq!(done["_meta"][EXECUTION_META], "exec_1");
        let text = call_result(
            era,
            &json!({"id": "exec_1", "status": "completed", "result": "hi"}),
        );
        assert_eq!(text["content"][0]["text"], "hi");
        assert!(text.get("structuredContent").is_none());
        let failed = call_result(
            era,
            &json!({"id": "exec_1", "status": "failed", "error": "boom"}),
        );
        assert_eq!(
            (
                failed["isError"].clone(),
                failed["content"][0]["text"].clone()
            ),
            (json!(true), json!("boom"))
        );
        let queued = call_result(
            era,
            &json!({"id": "exec_1", "status": "queued", "statusUrl": "http://x/s"}),
        );
        assert_eq!(queued["isError"], true);
        assert!(queued["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("http://x/s"));
        let old = call_result(
            Era::Handshake(UNNAMED_VERSION),
            &json!({"id": "e", "status": "completed", "result": {"a": 1}}),
        );
        assert!(old.get("structuredContent").is_none());
    }
}
