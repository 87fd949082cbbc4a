//! Products: create, read (the whole partition in one Query), update with optimistic
//! concurrency, cascade delete, and the owner's list.

use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::model::{Capability, Product, Surface};
use crate::store::{Cond, Index, Item, Position, Query, Table, TxOp};

use super::cascade::{self, deletes};
use super::cursor::{self, Cursor};
use super::keys::{self as k, entity};
use super::partition::Partition;
use super::schedules;
use super::{backoff, decode, get_owned, item, raced, too_much_contention, MAX_ATTEMPTS};

pub fn product_item(p: &Product, version: u64) -> Item {
    let mut it = item(
        k::product(&p.id),
        entity::PRODUCT,
        p,
        version,
        &p.created_at,
    );
    it.gsi1 = Some((k::owner_index(&p.owner), k::product_index_sk(&p.id)));
    it
}

pub async fn create(table: &dyn Table, product: &Product) -> ApiResult<()> {
    table.put(product_item(product, 1), Cond::NotExists).await?;
    Ok(())
}

/// The product record alone (one GetItem), if `owner` owns it.
pub async fn get(table: &dyn Table, owner: &str, id: &str) -> ApiResult<(Product, u64)> {
    get_owned(table, &k::product(id), owner, "Product").await
}

/// Read-modify-write with a version condition; a lost race is retried, so no acknowledged
/// update is ever overwritten.
pub async fn update<F>(table: &dyn Table, owner: &str, id: &str, mut apply: F) -> ApiResult<Product>
where
    F: FnMut(&mut Product) -> ApiResult<()>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let (mut product, version) = get(table, owner, id).await?;
        apply(&mut product)?;
        product.updated_at = crate::time::now_string();
        match table
            .put(product_item(&product, version + 1), Cond::Version(version))
            .await
        {
            Ok(()) => return Ok(product),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// Delete the product and everything under it: first the hash items of its surface keys
/// (so they stop working before anything else goes), then its records, the product last.
/// Small products go in one transaction; an interrupted large delete leaves the product
/// visible, and repeating the DELETE finishes it.
pub async fn delete(table: &dyn Table, owner: &str, id: &str) -> ApiResult<()> {
    for attempt in 0..MAX_ATTEMPTS {
        let p = Partition::load(table, owner, id).await?;
        let product_key = k::product(id);
        let hashes = deletes(p.keys.iter().map(|(key, _)| k::surface_key_hash(&key.hash)));
        let children = deletes(p.all.iter().filter(|key| **key != product_key).cloned());
        let runs = deletes(schedules::run_keys(table, &p.schedule_ids(None)).await?);
        let last = vec![TxOp::Delete {
            key: product_key,
            cond: Cond::Version(p.version),
        }];
        match cascade::apply(table, vec![hashes, children, runs, last]).await {
            Ok(()) => return Ok(()),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// One page of an owner's products.
pub struct ProductPage {
    pub data: Vec<Value>,
    pub limit: usize,
    pub offset: usize,
    pub next_cursor: Option<String>,
}

impl ProductPage {
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

/// A product in a list, with the capabilities and surfaces found beside it in the index.
struct Listed {
    product: Product,
    position: Position,
    capabilities: Vec<Capability>,
    surfaces: Vec<Surface>,
}

impl Listed {
    fn to_json(&self) -> Value {
        let mut v = self.product.to_json();
        v["capabilityCount"] = json!(self.capabilities.len());
        v["capabilities"] = self
            .capabilities
            .iter()
            .map(|c| json!({ "capabilityName": c.capability_name }))
            .collect();
        v["surfaceCount"] = json!(self.surfaces.len());
        v["surfaces"] = self
            .surfaces
            .iter()
            .map(|s| json!({ "name": s.name, "type": s.kind }))
            .collect();
        v
    }
}

/// The owner's products, newest first, optionally only those whose name contains `search`
/// (case-insensitive). Reads the owner's index partition, where each product's
/// capabilities and surfaces sit right before it, so a page usually takes one Query.
pub async fn list(
    table: &dyn Table,
    owner: &str,
    limit: usize,
    cursor: Option<&str>,
    search: Option<&str>,
) -> ApiResult<ProductPage> {
    let partition = k::owner_index(owner);
    let start = cursor
        .map(|c| cursor::decode(c, &partition, true))
        .transpose()?;
    let offset = start.as_ref().map_or(0, |c| c.offset);
    let needle = search.map(str::to_lowercase).filter(|s| !s.is_empty());

    let mut found: Vec<Listed> = Vec::new();
    let mut pending: std::collections::HashMap<String, (Vec<Capability>, Vec<Surface>)> =
        Default::default();
    let mut after = start.map(|c| c.position);
    'pages: loop {
        let batch = (limit + 1) * 8;
        let page = table
            .query(
                &Query::index(Index::Gsi1, partition.clone())
                    .prefix("PRODUCT#")
                    .descending()
                    .after(after.clone())
                    .limit(batch),
            )
            .await?;
        for it in &page.items {
            after = Some(Position::of(it, Some(Index::Gsi1)));
            let Some(pid) = it
                .gsi1
                .as_ref()
                .and_then(|(_, sk)| k::product_of_index_sk(sk))
            else {
                continue;
            };
            match it.entity.as_str() {
                entity::CAPABILITY => pending
                    .entry(pid.to_string())
                    .or_default()
                    .0
                    .push(decode(it)?),
                entity::SURFACE => pending
                    .entry(pid.to_string())
                    .or_default()
                    .1
                    .push(decode(it)?),
                entity::PRODUCT => {
                    let product: Product = decode(it)?;
                    let (mut capabilities, mut surfaces) = pending.remove(pid).unwrap_or_default();
                    if product.owner != owner {
                        continue;
                    }
                    if let Some(n) = &needle {
                        if !product.name.to_lowercase().contains(n.as_str()) {
                            continue;
                        }
                    }
                    capabilities.sort_by_key(|c| (c.display_order, c.id.clone()));
                    surfaces.sort_by(|a, b| a.id.cmp(&b.id));
                    found.push(Listed {
                        product,
                        position: Position::of(it, Some(Index::Gsi1)),
                        capabilities,
                        surfaces,
                    });
                    if found.len() > limit {
                        break 'pages;
                    }
                }
                _ => {}
            }
        }
        if !page.more {
            break;
        }
    }
    let has_more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = match found.last() {
        Some(last) if has_more => Some(cursor::encode(&Cursor {
            position: last.position.clone(),
            offset: offset + found.len(),
        })),
        _ => None,
    };
    Ok(ProductPage {
        data: found.iter().map(Listed::to_json).collect(),
        limit,
        offset,
        next_cursor,
    })
}
