//! `Idempotency-Key` on every POST, in one place: the router runs each POST that carries the
//! header through `run`.
//!
//! The first call with a key claims it (a conditional write); the answer is stored under
//! the claim for 24 hours and the same key, from the same caller, on the same method, path
//! and body, answers it again with `Idempotent-Replayed: true`, changing nothing. Another
//! body or path with the key is 422; a call while the first is still running is 409 with
//! `Retry-After: 1`. Only a success is remembered: an error — a refusal (401, 403, 404, 409,
//! 422, 429, a 400), given before anything changed, or a 5xx — releases the claim, so a
//! retry with the same key runs again (as Stripe saves a result only once the endpoint has
//! started executing). An answer that carried a secret is never stored: its replay is a 409
//! that names what was created.

use std::future::Future;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::Reply;
use crate::error::{ApiError, ApiResult, Detail};
use crate::repo::layout::{self as k, entity};
use crate::repo::{decode, item};
use crate::secrets::sha256_hex;
use crate::store::{Cond, Item, Key, StoreError, Table};

/// How long a key is remembered.
pub const RETENTION_SECS: i64 = 24 * 3600;
pub const HEADER: &str = "idempotency-key";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    /// What the key was first used for: method, path and the SHA-256 of the body.
    request: String,
    /// The stored answer, once there is one.
    answer: Option<Answer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
    /// Set instead of the body for an answer that showed a secret.
    secret_of: Option<String>,
}

/// The key a request carries, if any: 1..255 printable ASCII characters, else 400.
fn presented(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::invalid(
            "Idempotency-Key",
            "INVALID_FORMAT",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
    };
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad());
    }
    Ok(Some(s))
}

/// Where the use of `idempotency_key` by `scope` is remembered.
pub fn record_key(scope: &str, idempotency_key: &str) -> Key {
    k::idempotency(scope, &sha256_hex(idempotency_key.as_bytes()))
}

/// A POST as far as idempotency sees it.
pub struct Post<'a> {
    /// Whose keys these are: the calling owner, or the calling surface key.
    pub scope: &'a str,
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Run `handler` for `post` under its `Idempotency-Key`, if it carries one.
pub async fn run<F>(
    table: &dyn Table,
    post: Post<'_>,
    now: DateTime<Utc>,
    handler: F,
) -> ApiResult<Reply>
where
    F: Future<Output = ApiResult<Reply>>,
{
    let Some(idem) = presented(post.headers)? else {
        return handler.await;
    };
    let key = record_key(post.scope, idem);
    let request = format!("{} {} {}", post.method, post.path, sha256_hex(post.body));
    let version = match claim(table, &key, &request, now).await? {
        Claimed::Fresh(version) => version,
        Claimed::Used(answer) => {
            crate::metrics::count(&crate::metrics::IDEMPOTENT_REPLAYS, None, 1);
            return answer;
        }
    };
    let result = handler.await;
    settle(table, key, version, request, &result, now).await;
    result
}

fn claim_item(key: &Key, record: &Record, version: u64, now: DateTime<Utc>) -> Item {
    let mut it = item(
        key.clone(),
        entity::IDEMPOTENCY,
        record,
        version,
        &crate::time::format(now),
    );
    it.expires_at = Some(now.timestamp() + RETENTION_SECS);
    it
}

enum Claimed {
    /// Ours, at this version.
    Fresh(u64),
    /// Used before: the answer to give again.
    Used(ApiResult<Reply>),
}

/// Claim the key, or find what its first use answered.
async fn claim(
    table: &dyn Table,
    key: &Key,
    request: &str,
    now: DateTime<Utc>,
) -> ApiResult<Claimed> {
    let fresh = Record {
        request: request.to_string(),
        answer: None,
    };
    match table
        .put(claim_item(key, &fresh, 1, now), Cond::NotExists)
        .await
    {
        Ok(()) => return Ok(Claimed::Fresh(1)),
        Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    let Some(found) = table.get(key).await? else {
        return Err(in_flight());
    };
    if found.is_expired(now.timestamp()) {
        // remembered past its time (TTL lags): take it over, unless someone else just did
        let taken = table
            .put(
                claim_item(key, &fresh, found.version + 1, now),
                Cond::Version(found.version),
            )
            .await;
        return match taken {
            Ok(()) => Ok(Claimed::Fresh(found.version + 1)),
            Err(StoreError::ConditionFailed) => Err(in_flight()),
            Err(e) => Err(e.into()),
        };
    }
    let record: Record = decode(&found)?;
    if record.request != request {
        return Err(ApiError::Unprocessable {
            code: "IDEMPOTENCY_KEY_REUSED",
            message: "This Idempotency-Key was used for another request (method, path or body); use a new key".into(),
        });
    }
    match record.answer {
        None => Err(in_flight()),
        Some(Answer {
            secret_of: Some(id),
            ..
        }) => Ok(Claimed::Used(Err(ApiError::ConflictAbout(
            format!("The first request with this Idempotency-Key created {id}; its secret was shown once and cannot be shown again. Revoke it and create another if the answer was lost."),
            vec![Detail::new("id", "CONFLICT", id)],
        )))),
        Some(a) => {
            let headers = a
                .headers
                .into_iter()
                .filter_map(|(n, v)| replay_header(&n).map(|n| (n, v)))
                .chain([("idempotent-replayed", "true".to_string())])
                .collect();
            Ok(Claimed::Used(Ok(
                Reply::with_status(a.status, a.body).headers(headers),
            )))
        }
    }
}

/// The stored headers worth replaying, by their static names.
fn replay_header(name: &str) -> Option<&'static str> {
    [
        "location",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .into_iter()
    .find(|n| *n == name)
}

fn in_flight() -> ApiError {
    ApiError::Conflict(
        "A request with this Idempotency-Key is still in progress; retry shortly".into(),
    )
    .with_headers(vec![("retry-after", "1".into())])
}

/// Store a success under the claim; release the claim after any error.
async fn settle(
    table: &dyn Table,
    key: Key,
    version: u64,
    request: String,
    result: &ApiResult<Reply>,
    now: DateTime<Utc>,
) {
    let answer = match result {
        Ok(reply) => Answer {
            status: reply.status,
            body: if reply.secret_of.is_some() {
                Value::Null
            } else {
                reply.body.clone()
            },
            headers: reply
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
            secret_of: reply.secret_of.clone(),
        },
        // A refusal (4xx) is answered before the operation changed anything, and a failure
        // (5xx) changed nothing either: neither is kept, so the same key may try again (a
        // client that obeys Retry-After after a 429 and reuses its key is served then).
        Err(_) => {
            if let Err(e) = table.delete(&key, Cond::Version(version)).await {
                crate::log::error("idempotency claim not released", &e.to_string());
            }
            return;
        }
    };
    let record = Record {
        request,
        answer: Some(answer),
    };
    let stored = claim_item(&key, &record, version + 1, now);
    if let Err(e) = table.put(stored, Cond::Version(version)).await {
        crate::log::error("idempotent answer not stored", &e.to_string());
    }
}
