//! Surface keys at the door: a presented key's shape and checksum (`presented_hash`, no
//! storage read), what its hash item says (`judge`), and the gateway's whole check of a call
//! to an `api` surface's endpoint (`open`), in the contract's order, with the key's hash item
//! and the surface's record read at the same time (the path names both): a verified call has
//! cost one storage round trip, and a forged key (a valid checksum is easy to make) no more
//! than those two items — the product's partition is read only once the key is known.

use http::HeaderMap;

use super::{unauthorized, Caller};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    Environment, KeyHash, KeyKind, Surface, SurfaceItem, SurfaceStatus, SurfaceType, Word,
};
use crate::repo::layout as k;
use crate::repo::limits::{self, Window};
use crate::repo::partition::Partition;
use crate::repo::surface_keys::prefix;
use crate::store::{Item, StoreError, Table};

/// Why a presented key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong shape or checksum: refused without a storage read.
    Malformed,
    /// No such key (never issued, deleted, or its surface deleted).
    Unknown,
    Expired,
}

/// The SHA-256 of a presented key whose shape (one of the kinds' prefixes in either
/// environment) and checksum are right; anything else is refused without a storage read.
pub fn presented_hash(presented: &str) -> Result<String, Rejection> {
    let well_formed = KeyKind::ALL.iter().any(|kind| {
        Environment::ALL.iter().any(|env| {
            let p = prefix(*kind, *env);
            presented.starts_with(&p) && crate::secrets::well_formed(&p, presented)
        })
    });
    if well_formed {
        Ok(crate::secrets::hash(presented))
    } else {
        Err(Rejection::Malformed)
    }
}

/// What the hash item found for a key says: unknown (no item) or expired (checked here:
/// TTL deletion lags), else the key.
pub fn judge(
    found: Option<Item>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<KeyHash, Rejection>, StoreError> {
    let Some(found) = found else {
        return Ok(Err(Rejection::Unknown));
    };
    let key: KeyHash = serde_json::from_value(found.data.clone())
        .map_err(|e| StoreError::Internal(format!("corrupt key hash item: {e}")))?;
    let expired = key
        .expires_at
        .as_deref()
        .and_then(crate::time::parse)
        .is_some_and(|t| t <= now);
    if expired || found.is_expired(now.timestamp()) {
        return Ok(Err(Rejection::Expired));
    }
    Ok(Ok(key))
}

/// Which surfaces a route opens: each protocol's endpoint its own types (API.md "The surface
/// gateway", "MCP surfaces", "A2A surfaces"); an execution made through any of them is read
/// back at the gateway's status URL with that surface's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `…/api`: `api` surfaces.
    Api,
    /// `…/mcp`: `mcp` and `mcp_code` surfaces.
    Mcp,
    /// `…/a2a`: `a2a` surfaces.
    A2a,
    /// `…/api/executions/:id`: any surface with a gateway endpoint.
    Executions,
}

impl Door {
    /// Whether a surface of type `t` is behind this door.
    pub fn opens(self, t: SurfaceType) -> bool {
        match self {
            Door::Api => t == SurfaceType::Api,
            Door::Mcp => matches!(t, SurfaceType::Mcp | SurfaceType::McpCode),
            Door::A2a => t == SurfaceType::A2a,
            Door::Executions => t.endpoint_tail().is_some(),
        }
    }
}

/// A verified gateway call: the key and its active surface, of a type the route opens.
pub struct Gateway {
    pub key: KeyHash,
    pub surface: Surface,
}

/// The presented key: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
fn presented(headers: &HeaderMap) -> ApiResult<&str> {
    if let Some(v) = headers.get("x-api-key") {
        let key = v
            .to_str()
            .map_err(|_| unauthorized("Malformed X-API-Key header"))?
            .trim();
        if !key.is_empty() {
            return Ok(key);
        }
    }
    if headers.contains_key(http::header::AUTHORIZATION) {
        return super::bearer(headers);
    }
    Err(unauthorized(
        "Missing surface key; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
    ))
}

/// Verify the call, in the contract's order: a key at all, its shape and checksum (no
/// storage read), then — from one round trip — the key known and unexpired, of this surface
/// and product, of the kind the surface takes (401 for any of these); the surface of a type
/// behind `door` (404) and active (403).
pub async fn open(
    table: &dyn Table,
    headers: &HeaderMap,
    product_id: &str,
    surface_id: &str,
    door: Door,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Gateway> {
    let hash =
        presented_hash(presented(headers)?).map_err(|_| unauthorized("Invalid surface key"))?;
    let well_shaped =
        crate::ids::is_valid("prod", product_id) && crate::ids::is_valid("surf", surface_id);
    if !well_shaped {
        // no such key can belong here; answered before any read, like a bad checksum
        return Err(unauthorized("Invalid or unknown surface key"));
    }
    let (hash_item, surface_item) = (
        k::surface_key_hash(&hash),
        k::surface(product_id, surface_id),
    );
    let (found, surface) = tokio::join!(table.get(&hash_item), table.get(&surface_item));
    let key = match judge(found?, now)? {
        Ok(key) => key,
        Err(Rejection::Expired) => return Err(unauthorized("This surface key has expired")),
        Err(_) => return Err(unauthorized("Invalid or unknown surface key")),
    };
    let surface = match surface? {
        Some(it) => Some(crate::repo::decode::<Surface>(&it)?),
        None => None,
    };
    let Some(surface) = surface.filter(|s| s.owner == key.owner) else {
        return Err(unauthorized("Invalid or unknown surface key"));
    };
    if key.surface_id != surface_id || key.product_id != product_id {
        return Err(unauthorized("This key belongs to another surface"));
    }
    if !door.opens(surface.kind) {
        return Err(ApiError::not_found("Surface endpoint"));
    }
    if key.kind != surface.key_kind() {
        return Err(unauthorized(&format!(
            "This kind of key does not open this {} surface",
            surface.kind
        )));
    }
    if surface.status != SurfaceStatus::Active {
        return Err(ApiError::Forbidden(format!(
            "This surface is {}; it answers calls only when active",
            surface.status
        )));
    }
    Ok(Gateway { key, surface })
}

impl Gateway {
    /// Who is calling, for the parts of the router every caller goes through (idempotency).
    pub fn caller(&self) -> Caller {
        Caller {
            owner: self.key.owner.clone(),
            principal: self.key.key_id.clone(),
            read_only: false,
        }
    }

    /// Whether the key's scopes allow `item`.
    pub fn allows(&self, item: &SurfaceItem) -> bool {
        self.key.allows(&item.id)
    }

    /// The product's records (its items and capabilities), read once the key is known; a
    /// product gone meanwhile is as unknown as its key.
    pub async fn partition(&self, table: &dyn Table) -> ApiResult<Partition> {
        Partition::read(table, &self.surface.product_id)
            .await?
            .ok_or_else(|| unauthorized("Invalid or unknown surface key"))
    }

    /// The surface's enabled items in `p`, in display order.
    pub fn enabled_items<'p>(&'p self, p: &'p Partition) -> impl Iterator<Item = &'p SurfaceItem> {
        p.items_of(&self.surface.id).filter(|i| i.enabled)
    }

    /// The rate-limit windows of this call at `now`.
    pub fn windows(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<Window> {
        limits::windows(&self.key, &self.surface, now)
    }
}
