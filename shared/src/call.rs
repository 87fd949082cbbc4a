//! The request as a handler sees it (`Call`: caller, path parameters, query, body) and the
//! answer it gives (`Reply`), with the plumbing that reads a request's path and query.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// What a handler gets: the authenticated caller, path parameters, query and raw body.
pub struct Call {
    pub caller: Caller,
    pub params: Params,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub headers: HeaderMap,
    /// Base of the public URLs in answers (configured, else from the request's host).
    pub public_url: String,
}

impl Call {
    /// A path parameter of the route template (always present once the route matched).
    pub fn param(&self, name: &str) -> &str {
        param(&self.params, name)
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

    /// `Prefer: wait=N` (RFC 7240): N whole seconds, at most `MAX_WAIT_SECS` (more is that);
    /// a malformed or zero one is as none.
    pub fn preferred_wait(&self) -> Option<u64> {
        self.headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|pref| {
                let first = pref.split(';').next()?.trim();
                let (name, value) = first.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("wait")
                    .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                    .flatten()
            })
            .find(|n| *n > 0)
            .map(|n| n.min(crate::rules::gateway::MAX_WAIT_SECS))
    }

    /// `?wait=N`: a long poll of N whole seconds, at most `MAX_WAIT_SECS`; malformed or zero:
    /// none.
    pub fn query_wait(&self) -> Option<u64> {
        crate::validate::query_param(&self.query, "wait")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(crate::rules::gateway::MAX_WAIT_SECS))
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

/// Path parameters: (name in the template, decoded value).
pub type Params = Vec<(&'static str, String)>;

/// Path parameter `name` ("" where the template has none).
pub fn param<'p>(params: &'p Params, name: &str) -> &'p str {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` escapes decoded; `+` is a space only in query strings (`plus_is_space`).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && bytes[i] == b'+' {
            b' '
        } else {
            bytes[i]
        });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query string → pairs (percent-decoded).
pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}
