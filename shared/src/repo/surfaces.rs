//! Surfaces: create under a product, update with optimistic concurrency, list from the
//! owner index, and cascade delete (key hash items first).

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::Surface;
use crate::store::{Cond, Index, Item, Position, Query, StoreError, Table, TxOp};

use super::cascade::{self, deletes};
use super::cursor::{self, Cursor};
use super::keys::{self as k, entity};
use super::partition::Partition;
use super::{
    backoff, decode, get_owned, item, products, raced, schedules, too_much_contention, MAX_ATTEMPTS,
};

pub fn surface_item(s: &Surface, version: u64) -> Item {
    let mut it = item(
        k::surface(&s.product_id, &s.id),
        entity::SURFACE,
        s,
        version,
        &s.created_at,
    );
    it.gsi1 = Some((
        k::owner_index(&s.owner),
        k::surface_index_sk(&s.product_id, &s.id),
    ));
    it
}

pub async fn create(table: &dyn Table, surface: &Surface) -> ApiResult<()> {
    products::get(table, &surface.owner, &surface.product_id).await?;
    let ops = vec![
        TxOp::Check {
            key: k::product(&surface.product_id),
            cond: Cond::Exists,
        },
        TxOp::Put {
            item: surface_item(surface, 1),
            cond: Cond::NotExists,
        },
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::Cancelled(failed)) if failed.contains(&0) => {
            Err(ApiError::not_found("Product"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The surface (one GetItem) if it is `owner`'s and under `product_id`.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
) -> ApiResult<(Surface, u64)> {
    get_owned(table, &k::surface(product_id, id), owner, "Surface").await
}

pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    mut apply: F,
) -> ApiResult<Surface>
where
    F: FnMut(&mut Surface) -> ApiResult<()>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let (mut surface, version) = get(table, owner, product_id, id).await?;
        apply(&mut surface)?;
        surface.updated_at = crate::time::now_string();
        match table
            .put(surface_item(&surface, version + 1), Cond::Version(version))
            .await
        {
            Ok(()) => return Ok(surface),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// Delete the surface with its items, reservations and keys: key hash items first (so its
/// keys stop working before anything else goes), the surface itself last.
pub async fn delete(table: &dyn Table, owner: &str, product_id: &str, id: &str) -> ApiResult<()> {
    for attempt in 0..MAX_ATTEMPTS {
        let p = Partition::load(table, owner, product_id).await?;
        let (_, version) = p.surface(id)?;
        let hashes = deletes(p.keys_of(id).map(|(key, _)| k::surface_key_hash(&key.hash)));
        let subtree = format!("SURFACE#{id}#");
        let children = deletes(p.keys_under(&subtree).cloned());
        let runs = deletes(schedules::run_keys(table, &p.schedule_ids(Some(id))).await?);
        let last = vec![TxOp::Delete {
            key: k::surface(product_id, id),
            cond: Cond::Version(version),
        }];
        match cascade::apply(table, vec![hashes, children, runs, last]).await {
            Ok(()) => return Ok(()),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

pub struct SurfacePage {
    pub data: Vec<Value>,
    pub limit: usize,
    pub offset: usize,
    pub next_cursor: Option<String>,
}

impl SurfacePage {
    pub fn to_json(&self) -> Value {
        json!({
            "data": self.data,
            "pagination": {
                "limit": self.limit,
                "currentOffset": self.offset,
                "hasMore": self.next_cursor.is_some(),
                "hasPrev": self.offset > 0,
                "nextCursor": self.next_cursor,
            }
        })
    }
}

/// A product's surfaces, newest first, filtered by `type` and `status`: one GetItem for the
/// product (404 for another owner) and a Query of the owner index.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    limit: usize,
    cursor: Option<&str>,
    kind: Option<&str>,
    status: Option<&str>,
    base: &str,
) -> ApiResult<SurfacePage> {
    let partition = k::owner_index(owner);
    let start = cursor
        .map(|c| cursor::decode(c, &partition, true))
        .transpose()?;
    let prefix = format!("PRODUCT#{product_id}#SURFACE#");
    if let Some(c) = &start {
        let in_product = c
            .position
            .index_key
            .as_ref()
            .is_some_and(|(_, sk)| sk.starts_with(&prefix));
        if !in_product {
            return Err(cursor::invalid());
        }
    }
    products::get(table, owner, product_id).await?;
    let offset = start.as_ref().map_or(0, |c| c.offset);
    let mut after = start.map(|c| c.position);
    let mut found: Vec<(Surface, Position)> = Vec::new();
    'pages: loop {
        let page = table
            .query(
                &Query::index(Index::Gsi1, partition.clone())
                    .prefix(prefix.clone())
                    .descending()
                    .after(after.clone())
                    .limit((limit + 1) * 4),
            )
            .await?;
        for it in &page.items {
            after = Some(Position::of(it, Some(Index::Gsi1)));
            if it.entity != entity::SURFACE {
                continue;
            }
            let s: Surface = decode(it)?;
            if kind.is_some_and(|t| t != s.kind) || status.is_some_and(|st| st != s.status) {
                continue;
            }
            found.push((s, Position::of(it, Some(Index::Gsi1))));
            if found.len() > limit {
                break 'pages;
            }
        }
        if !page.more {
            break;
        }
    }
    let has_more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = match found.last() {
        Some((_, pos)) if has_more => Some(cursor::encode(&Cursor {
            position: pos.clone(),
            offset: offset + found.len(),
        })),
        _ => None,
    };
    Ok(SurfacePage {
        data: found.iter().map(|(s, _)| s.to_json(base)).collect(),
        limit,
        offset,
        next_cursor,
    })
}
