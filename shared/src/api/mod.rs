//! One handler per endpoint. Each reads top to bottom: check the path ids, validate the
//! body, make one call into the repository, answer.

pub mod as_code;
pub mod capabilities;
pub mod executions;
pub mod gateway;
pub mod items;
pub mod products;
pub mod schedules;
pub mod surface_keys;
pub mod surfaces;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// What a handler gets: the authenticated caller, path parameters, query and raw body.
pub struct Call {
    pub caller: Caller,
    pub params: crate::router::Params,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub headers: HeaderMap,
    /// Base of the public URLs in answers (configured, else from the request's host).
    pub public_url: String,
    /// The verified surface-key call, on gateway routes.
    pub gateway: Option<Box<crate::gateway::Gateway>>,
}

impl Call {
    /// A path parameter of the route template (always present once the route matched).
    pub fn param(&self, name: &str) -> &str {
        crate::router::param(&self.params, name)
    }

    /// The path id `name`, which must have the shape of a `prefix` id; anything else is a
    /// plain 404 (`what` names the resource).
    pub fn id(&self, name: &str, prefix: &str, what: &str) -> ApiResult<&str> {
        let v = self.param(name);
        if crate::ids::is_valid(prefix, v) {
            Ok(v)
        } else {
            Err(ApiError::not_found(what))
        }
    }

    pub fn json(&self) -> ApiResult<Map<String, Value>> {
        crate::validate::json_object(&self.body)
    }

    pub fn owner(&self) -> &str {
        &self.caller.owner
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
    /// The id of what a secret in this answer opens (a new surface key): such an answer is
    /// never stored for an idempotent replay.
    pub secret_of: Option<String>,
}

impl Reply {
    pub fn with_status(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
            secret_of: None,
        }
    }

    pub fn ok(body: Value) -> Reply {
        Reply::with_status(200, body)
    }

    pub fn created(body: Value) -> Reply {
        Reply::with_status(201, body)
    }

    pub fn accepted(body: Value) -> Reply {
        Reply::with_status(202, body)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn headers(mut self, more: Vec<(&'static str, String)>) -> Reply {
        self.headers.extend(more);
        self
    }

    /// This answer shows the secret of `id` (once).
    pub fn carrying_secret(mut self, id: &str) -> Reply {
        self.secret_of = Some(id.to_string());
        self
    }

    pub fn deleted() -> Reply {
        Reply::ok(serde_json::json!({ "success": true }))
    }
}
