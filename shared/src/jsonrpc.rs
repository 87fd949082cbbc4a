//! JSON-RPC 2.0 as the protocol surfaces (MCP, A2A) carry it over HTTP: one message in a POST,
//! one answer out. What a message is (`parse`), and how a result or an error is answered.

use serde_json::{json, Map, Value};

use crate::call::Reply;
use crate::error::ApiError;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// The implementation-defined server error (JSON-RPC reserves -32000..-32099): a refusal
/// of this server's own (an idempotency conflict, a rate limit outside a tool's result).
pub const SERVER_ERROR: i64 = -32000;

/// One incoming message.
#[derive(Debug)]
pub enum Message {
    /// A request: it gets an answer with its `id`.
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    /// A notification (no `id`): taken, never answered.
    Notification { method: String },
    /// A response (a client answering a server's request): taken, never answered.
    Response,
}

/// A JSON-RPC error, and the HTTP answer that carries it.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
    /// The HTTP status of the answer (200 unless the protocol names another).
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
            status: 200,
            headers: Vec::new(),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn status(mut self, status: u16) -> RpcError {
        self.status = status;
        self
    }

    pub fn data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    pub fn headers(mut self, headers: Vec<(&'static str, String)>) -> RpcError {
        self.headers.extend(headers);
        self
    }

    /// A refusal of the gateway's, as a protocol surface answers it: what the call named is a
    /// bad parameter (an unknown tool or skill, one outside the key's scopes, bad arguments);
    /// the store's failures keep their status; anything else (an idempotency conflict, a
    /// limit) is this server's own error, with its status, code and headers.
    pub fn refused(e: ApiError) -> RpcError {
        let (status, headers, message) = (e.status(), e.headers(), e.message());
        match status {
            400 | 403 | 404 => RpcError::invalid_params(message).headers(headers),
            500.. => RpcError::new(INTERNAL_ERROR, message)
                .status(status)
                .headers(headers),
            _ => RpcError::new(SERVER_ERROR, message)
                .status(status)
                .data(json!({ "code": e.code() }))
                .headers(headers),
        }
    }

    /// The answer to the request `id` (`null` when it could not be read).
    pub fn answer(self, id: Option<&Value>) -> Reply {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = self.data {
            error["data"] = data;
        }
        let body =
            json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error });
        Reply::with_status(self.status, body).headers(self.headers)
    }
}

/// The answer to the request `id`.
pub fn result(id: &Value, result: Value) -> Reply {
    Reply::ok(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

/// The HTTP headers of a gateway answer a protocol's answer keeps: the limits, and whether it
/// was a replay (not the execution's `Location`: the answer is not the execution).
pub fn kept_headers(headers: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    headers
        .into_iter()
        .filter(|(h, _)| h.starts_with("x-ratelimit-") || *h == "idempotent-replayed")
        .collect()
}

/// The answer to a notification or a response: 202 and no body.
pub fn taken() -> Reply {
    Reply::with_status(202, Value::Null)
}

/// Read one message: not JSON is a parse error, JSON that is not one JSON-RPC 2.0 message
/// (a batch, no `jsonrpc: "2.0"`, an id that is neither a string nor a number, params that
/// are not an object) an invalid request; both are HTTP 400 (nothing can be answered in
/// kind to a message that cannot be read).
pub fn parse(body: &[u8]) -> Result<Message, RpcError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| RpcError::new(PARSE_ERROR, "Parse error: the body is not JSON").status(400))?;
    let invalid =
        |why: &str| RpcError::new(INVALID_REQUEST, format!("Invalid request: {why}")).status(400);
    let Value::Object(mut m) = value else {
        return Err(invalid(
            "one JSON-RPC 2.0 message (an object) per request; batches are not taken",
        ));
    };
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    let id = match m.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err(invalid("id must be a string or a number")),
    };
    let method = match m.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return Err(invalid("method must be a string")),
        None if id.is_some() && (m.contains_key("result") || m.contains_key("error")) => {
            return Ok(Message::Response)
        }
        None => return Err(invalid("a request needs a method")),
    };
    let params = match m.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err(invalid("params must be an object")),
    };
    Ok(match id {
        Some(id) => Message::Request { id, method, params },
        None => Message::Notification { method },
    })
}

/// The OpenAPI schemas of a message and an answer.
pub mod doc {
    use crate::schema::*;
    use serde_json::{json, Value};

    /// One JSON-RPC 2.0 request or notification.
    pub fn message() -> Value {
        json!({
            "type": "object",
            "required": ["jsonrpc", "method"],
            "properties": {
                "jsonrpc": { "const": "2.0" },
                "id": { "type": ["string", "integer"] },
                "method": { "type": "string" },
                "params": { "type": "object" },
            },
        })
    }

    /// A JSON-RPC 2.0 answer: a result or an error.
    pub fn answer() -> Value {
        let error = record(&[("code", integer()), ("message", string())]);
        json!({
            "type": "object",
            "required": ["jsonrpc", "id"],
            "properties": {
                "jsonrpc": { "const": "2.0" },
                "id": {},
                "result": { "type": "object" },
                "error": error,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> i64 {
        parse(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn messages_are_read_or_refused() {
        assert_eq!(code("{"), PARSE_ERROR);
        assert_eq!(code("[]"), INVALID_REQUEST);
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
            INVALID_REQUEST
        );
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#),
            Ok(Message::Request { method, .. }) if method == "ping"
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification { .. })
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
            Ok(Message::Response)
        ));
    }

    #[test]
    fn errors_answer_with_the_request_id() {
        let reply = RpcError::invalid_params("no")
            .data(json!({"x": 1}))
            .answer(Some(&json!(7)));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["id"], 7);
        assert_eq!(reply.body["error"]["code"], INVALID_PARAMS);
        assert_eq!(reply.body["error"]["data"]["x"], 1);
        assert_eq!(
            RpcError::new(PARSE_ERROR, "p").answer(None).body["id"],
            Value::Null
        );
    }
}
