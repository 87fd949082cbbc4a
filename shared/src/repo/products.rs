//! Products: create, read (the whole partition in one Query), update with optimistic
//! concurrency, cascade delete, and the owner's list.

use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::model::{Capability, Product, Surface};
use crate::store::{Cond, Index, Query, Table};

use super::cascade::{self, Subtree};

use super::executions;
use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Paging, Start};
use super::partition::Partition;
use super::quota::Quota;
use super::Tx;
use super::{decode, Record};
use crate::config::Limits;

record!(Product, entity::PRODUCT, |p| k::product(&p.id), gsi1: (
    k::owner_index(&p.owner),
    k::product_index_sk(&p.id)
), gsi2: (k::product_name_index(&p.owner, &p.name), p.id.clone()));

/// Create the product within the owner's quota (403 past it).
pub async fn create(table: &dyn Table, product: &Product, limits: &Limits) -> ApiResult<()> {
    let mut tx = Tx::default();
    Quota::products(&product.owner).take(&mut tx, limits)?;
    tx.put(product.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await?)
}

/// Change the product (see `repo::update`).
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    id: &str,
    now: &str,
    mut apply: F,
) -> ApiResult<Product>
where
    F: FnMut(&mut Product) -> ApiResult<()>,
{
    super::update(table, &k::product(id), owner, now, |p, _| apply(p)).await
}

/// Delete the product and everything under it: the hash items of its surface keys first (so
/// they stop working before anything else goes), then its records and run history, the
/// product last.
pub async fn delete(table: &dyn Table, owner: &str, id: &str) -> ApiResult<()> {
    // the owner first: a stranger reads nothing else
    let (product, _) = super::owned_product(table, owner, id).await?;
    let name_claim = k::product_name_claim(owner, &product.name);
    cascade::delete(table, || async {
        // the product's partition, its executions (with their runs) and its name's claim
        // (products as code; outside the partition), side by side
        let (p, executions, claim) = tokio::join!(
            Partition::load_checked(table, owner, id),
            executions::keys_of(table, id, |_| true),
            super::claim_of(table, name_claim.clone(), id),
        );
        let (p, executions) = (p?, executions?);
        let schedules = p.schedule_ids(None).len();
        let product_key = k::product(id);
        Ok(Subtree::of(product_key.clone(), p.version)
            .with_parent_ops(Quota::products(owner).given_back(1))
            .with_parent_ops(Quota::schedules_of_owner(owner).given_back(schedules))
            .secrets(p.keys.iter().map(|(key, _)| k::surface_key_hash(&key.hash)))
            .children(p.all.iter().filter(|key| **key != product_key).cloned())
            .children(executions)
            .children(claim?))
    })
    .await
}

/// A product in a list, with the capabilities and surfaces found beside it in the index.
struct Listed {
    product: Product,
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
    paging: Paging<'_>,
    search: Option<&str>,
) -> ApiResult<Listing<Value>> {
    let query = Query::index(Index::Gsi1, k::owner_index(owner))
        .prefix(k::PRODUCTS_IN_OWNER_INDEX)
        .descending()
        .limit((paging.limit + 1) * 8);
    let start = Start::of(paging, &query)?;
    let needle = search.map(str::to_lowercase).filter(|s| !s.is_empty());
    let mut pending: std::collections::HashMap<String, (Vec<Capability>, Vec<Surface>)> =
        Default::default();
    let page = paginate(table, query, start, |it| {
        let Some(pid) = it
            .gsi1
            .as_ref()
            .and_then(|(_, sk)| k::product_of_index_sk(sk))
        else {
            return Ok(None);
        };
        match it.entity.as_str() {
            entity::CAPABILITY => pending.entry(pid.into()).or_default().0.push(decode(it)?),
            entity::SURFACE => pending.entry(pid.into()).or_default().1.push(decode(it)?),
            entity::PRODUCT => {
                let product: Product = decode(it)?;
                let (mut capabilities, mut surfaces) = pending.remove(pid).unwrap_or_default();
                let wanted = product.owner == owner
                    && needle
                        .as_ref()
                        .is_none_or(|n| product.name.to_lowercase().contains(n.as_str()));
                if wanted {
                    capabilities.sort_by_key(|c| (c.display_order, c.id.clone()));
                    surfaces.sort_by(|a, b| a.id.cmp(&b.id));
                    return Ok(Some(Listed {
                        product,
                        capabilities,
                        surfaces,
                    }));
                }
            }
            _ => {}
        }
        Ok(None)
    })
    .await?;
    Ok(page.map(|listed| listed.to_json()))
}
