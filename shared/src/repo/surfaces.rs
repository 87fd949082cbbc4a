//! Surfaces: create under a product, update with optimistic concurrency, list from the
//! owner index, and cascade delete (key hash items first).

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::{Surface, SurfaceStatus, SurfaceType};
use crate::store::{Cond, Index, Query, Table};

use super::cascade::{self, Subtree};
use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Paging, Start};
use super::partition::Partition;

use super::quota::Quota;
use super::{decode, executions, get_owned, owned_product, Record, Tx};
use crate::config::Limits;

record!(Surface, entity::SURFACE, |s| k::surface(&s.product_id, &s.id), gsi1: (
    k::owner_index(&s.owner),
    k::surface_index_sk(&s.product_id, &s.id)
), gsi2: (k::surface_name_index(&s.product_id, &s.name), s.id.clone()));

/// Create the surface within its product's quota (403 past it).
pub async fn create(table: &dyn Table, surface: &Surface, limits: &Limits) -> ApiResult<()> {
    owned_product(table, &surface.owner, &surface.product_id).await?;
    let mut tx = Tx::default();
    Quota::surfaces(&surface.product_id).take(&mut tx, limits)?;
    let product = tx.check(k::product(&surface.product_id), Cond::Exists);
    tx.or_answer(product, ApiError::not_found("Product"));
    tx.put(surface.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await?)
}

/// The surface (one GetItem) if it is `owner`'s and under `product_id`.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
) -> ApiResult<(Surface, u64)> {
    get_owned(table, &k::surface(product_id, id), owner).await
}

/// Change the surface (see `repo::update`).
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    now: &str,
    mut apply: F,
) -> ApiResult<Surface>
where
    F: FnMut(&mut Surface) -> ApiResult<()>,
{
    super::update(table, &k::surface(product_id, id), owner, now, |s, _| {
        apply(s)
    })
    .await
}

/// Delete the surface with its items, reservations, keys, schedules and their runs: key
/// hash items first (so its keys stop working before anything else goes), the surface last.
pub async fn delete(table: &dyn Table, owner: &str, product_id: &str, id: &str) -> ApiResult<()> {
    owned_product(table, owner, product_id).await?; // the owner first
    cascade::delete(table, || async move {
        let (p, executions) = futures_util::future::join(
            Partition::load_checked(table, owner, product_id),
            executions::keys_of(table, product_id, |e| e.surface_id == id),
        )
        .await;
        let (p, executions) = (p?, executions?);
        let (_, version) = p.surface(id)?;
        // the name claims that name it (products as code), read with the partition
        let claims = p
            .claims
            .iter()
            .filter(|(_, of)| of == id)
            .map(|(key, _)| key.clone());
        let schedules = p.schedule_ids(Some(id)).len();
        Ok(Subtree::of(k::surface(product_id, id), version)
            .with_parent_ops(Quota::surfaces(product_id).given_back(1))
            .with_parent_ops(Quota::schedules_of_owner(owner).given_back(schedules))
            .secrets(p.keys_of(id).map(|(key, _)| k::surface_key_hash(&key.hash)))
            .children(p.keys_under(&k::surface_subtree(id)).cloned())
            .children(executions)
            .children(claims))
    })
    .await
}

/// A product's surfaces, newest first, filtered by `type` and `status`: one GetItem for the
/// product (404 for another owner) and a Query of the owner index.
pub async fn list(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    paging: Paging<'_>,
    kind: Option<SurfaceType>,
    status: Option<SurfaceStatus>,
    base: &str,
) -> ApiResult<Listing<Value>> {
    let query = Query::index(Index::Gsi1, k::owner_index(owner))
        .prefix(k::surfaces_in_owner_index(product_id))
        .descending()
        .limit((paging.limit + 1) * 4);
    let start = Start::of(paging, &query)?;
    owned_product(table, owner, product_id).await?;
    let page = paginate(table, query, start, |it| {
        if it.entity != entity::SURFACE {
            return Ok(None);
        }
        let s: Surface = decode(it)?;
        let wanted = kind.is_none_or(|t| t == s.kind) && status.is_none_or(|st| st == s.status);
        Ok(wanted.then_some(s))
    })
    .await?;
    Ok(page.map(|s| s.to_json(base)))
}
