//! Who is calling: `Authorization: Bearer <platform key | session JWT>` → the owner.
//! A platform key's checksum is checked before any storage read; a key that passes costs
//! one GetItem by its SHA-256. The plaintext is never logged or kept. Surface keys
//! (`surface_key`) and session tokens (`jwt`) have their doors beside it.

pub mod jwt;
pub mod surface_key;

use http::HeaderMap;

use crate::error::{ApiError, ApiResult};
use crate::repo::accounts::{self, LIVE_PREFIX, TEST_PREFIX};
use crate::secrets;
use crate::store::Table;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The owner whose resources this caller sees (an account or organisation id).
    pub owner: String,
    /// Who acts: the platform key's id (or a session's user).
    pub principal: String,
    /// May only read.
    pub read_only: bool,
}

pub(crate) fn unauthorized(msg: &str) -> ApiError {
    ApiError::Unauthorized(msg.to_string())
}

/// The bearer token of the request, if it has one.
pub fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
        unauthorized("Missing Authorization header; send 'Authorization: Bearer <key>'")
    })?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("Malformed Authorization header"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("Authorization must be 'Bearer <key>'"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized("Authorization must use the Bearer scheme"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized("Authorization must be 'Bearer <key>'"));
    }
    Ok(token)
}

/// The management API's door: a platform key (one GetItem by its hash) or, when an issuer
/// is configured (`jwt`), a session token.
pub async fn authenticate(
    table: &dyn Table,
    jwt: Option<&jwt::JwtVerifier>,
    headers: &HeaderMap,
) -> ApiResult<Caller> {
    let token = bearer(headers)?;
    if token.starts_with(LIVE_PREFIX) || token.starts_with(TEST_PREFIX) {
        let prefix = &token[..LIVE_PREFIX.len()];
        if !secrets::well_formed(prefix, token) {
            return Err(unauthorized("Invalid API key"));
        }
        let found = accounts::find_by_hash(table, &secrets::hash(token)).await?;
        let key = found.ok_or_else(|| unauthorized("Invalid or revoked API key"))?;
        return Ok(Caller {
            owner: key.account_id,
            principal: key.key_id,
            read_only: key.read_only,
        });
    }
    if token.split('.').count() == 3 {
        let Some(verifier) = jwt else {
            return Err(unauthorized(
                "Session tokens are not accepted by this server (no JWT issuer is configured)",
            ));
        };
        let session = verifier.verify(token).await.map_err(|r| match r {
            crate::auth::jwt::Refused::Token(reason) => unauthorized(reason),
            crate::auth::jwt::Refused::KeysUnavailable => ApiError::Unavailable,
        })?;
        return Ok(Caller {
            owner: session.owner,
            principal: session.user,
            read_only: false,
        });
    }
    Err(unauthorized(
        "Unrecognised credential; expected a platform API key",
    ))
}
