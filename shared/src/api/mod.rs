//! One handler per endpoint. Each reads top to bottom: check the path ids, validate the
//! body, make one call into the repository, answer.

pub mod capabilities;
pub mod items;
pub mod products;
pub mod schedules;
pub mod surface_keys;
pub mod surfaces;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// What a handler gets: the authenticated caller, path parameters, query and raw body.
pub struct Call {
    pub caller: Caller,
    pub params: crate::router::Params,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    /// Base of the public URLs in answers (configured, else from the request's host).
    pub public_url: String,
}

impl Call {
    /// A path parameter of the route template (always present once the route matched).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
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
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }

    pub fn created(body: Value) -> Reply {
        Reply { status: 201, body }
    }

    pub fn accepted(body: Value) -> Reply {
        Reply { status: 202, body }
    }

    pub fn deleted() -> Reply {
        Reply::ok(serde_json::json!({ "success": true }))
    }
}
