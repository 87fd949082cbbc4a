//! Capabilities: names unique per product through a reservation item kept in step by
//! transactions; `displayOrder` from the product's sequence, claimed under its version.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::model::{Capability, SurfaceItem};
use crate::store::{Cond, Item, StoreError, Table, TxOp};

use super::cascade;
use super::items;
use super::keys::{self as k, entity};
use super::partition::Partition;
use super::products::{self, product_item};
use super::{backoff, get_owned, item, raced, too_much_contention, MAX_ATTEMPTS};

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "A capability named \"{name}\" already exists in this product"
    ))
}

pub fn capability_item(c: &Capability, version: u64) -> Item {
    let mut it = item(
        k::capability(&c.product_id, &c.id),
        entity::CAPABILITY,
        c,
        version,
        &c.created_at,
    );
    it.gsi1 = Some((
        k::owner_index(&c.owner),
        k::capability_index_sk(&c.product_id, &c.id),
    ));
    it
}

fn name_item(c: &Capability) -> Item {
    item(
        k::capability_name(&c.product_id, &c.capability_name),
        entity::CAPABILITY_NAME,
        &json!({ "capabilityId": c.id }),
        1,
        &c.updated_at,
    )
}

/// Add `draft` (its id, owner and product already set) to its product.
pub async fn add(table: &dyn Table, mut draft: Capability) -> ApiResult<Capability> {
    for attempt in 0..MAX_ATTEMPTS {
        let (mut product, version) = products::get(table, &draft.owner, &draft.product_id).await?;
        draft.display_order = Some(product.capability_seq);
        product.capability_seq += 1;
        let ops = vec![
            TxOp::Put {
                item: product_item(&product, version + 1),
                cond: Cond::Version(version),
            },
            TxOp::Put {
                item: capability_item(&draft, 1),
                cond: Cond::NotExists,
            },
            TxOp::Put {
                item: name_item(&draft),
                cond: Cond::NotExists,
            },
        ];
        match table.transact(ops).await {
            Ok(()) => return Ok(draft),
            Err(StoreError::Cancelled(failed)) if failed.contains(&2) => {
                return Err(name_taken(&draft.capability_name))
            }
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// The capability (one GetItem) if it belongs to `owner`'s product `product_id`.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
) -> ApiResult<(Capability, u64)> {
    get_owned(table, &k::capability(product_id, id), owner, "Capability").await
}

/// Read-modify-write; a rename moves the name reservation in the same transaction.
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    mut apply: F,
) -> ApiResult<Capability>
where
    F: FnMut(&mut Capability) -> ApiResult<()>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let (mut cap, version) = get(table, owner, product_id, id).await?;
        let old_name = cap.capability_name.clone();
        apply(&mut cap)?;
        cap.updated_at = crate::time::now_string();
        let mut ops = vec![TxOp::Put {
            item: capability_item(&cap, version + 1),
            cond: Cond::Version(version),
        }];
        let renamed = Capability::name_key(&old_name) != Capability::name_key(&cap.capability_name);
        if renamed {
            ops.push(TxOp::Delete {
                key: k::capability_name(product_id, &old_name),
                cond: Cond::Always,
            });
            ops.push(TxOp::Put {
                item: name_item(&cap),
                cond: Cond::NotExists,
            });
        }
        match table.transact(ops).await {
            Ok(()) => return Ok(cap),
            Err(StoreError::Cancelled(failed)) if renamed && failed.contains(&2) => {
                return Err(name_taken(&cap.capability_name))
            }
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// Delete the capability with the surface items that bind it (dropping those from key
/// scopes) and its name reservation.
pub async fn delete(table: &dyn Table, owner: &str, product_id: &str, id: &str) -> ApiResult<()> {
    for attempt in 0..MAX_ATTEMPTS {
        let p = Partition::load(table, owner, product_id).await?;
        let Some((cap, version)) = p.capabilities.iter().find(|(c, _)| c.id == id) else {
            return Err(ApiError::not_found("Capability"));
        };
        let bound: Vec<&SurfaceItem> = p
            .items
            .iter()
            .map(|(i, _)| i)
            .filter(|i| i.capability_id == id)
            .collect();
        let [scope_ops, removals] = items::removal_stages(&p, &bound);
        let last = vec![
            TxOp::Delete {
                key: k::capability_name(product_id, &cap.capability_name),
                cond: Cond::Always,
            },
            TxOp::Delete {
                key: k::capability(product_id, id),
                cond: Cond::Version(*version),
            },
        ];
        match cascade::apply(table, vec![scope_ops, removals, last]).await {
            Ok(()) => return Ok(()),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}
