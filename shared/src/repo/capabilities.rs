//! Capabilities: names unique per product through a reservation item kept in step by
//! transactions; `displayOrder` from the product's sequence, claimed under its version.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::model::{Capability, SurfaceItem};
use crate::store::{Cond, Table};

use super::cascade::{self, Subtree};
use super::items;
use super::layout::{self as k, entity};
use super::partition::Partition;
use super::quota::Quota;
use super::{get_owned, item, owned_product, Record, Retry, Tx};
use crate::config::Limits;

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "A capability named \"{name}\" already exists in this product"
    ))
}

record!(Capability, entity::CAPABILITY, |c| k::capability(&c.product_id, &c.id), gsi1: (
    k::owner_index(&c.owner),
    k::capability_index_sk(&c.product_id, &c.id)
));

/// Reserve `c`'s name in `tx`; taken, the write answers 409.
fn reserve_name(tx: &mut Tx, c: &Capability) {
    let reservation = tx.put(
        item(
            k::capability_name(&c.product_id, &c.capability_name),
            entity::CAPABILITY_NAME,
            &json!({ "capabilityId": c.id }),
            1,
            &c.updated_at,
        ),
        Cond::NotExists,
    );
    tx.or_answer(reservation, name_taken(&c.capability_name));
}

/// Add `draft` (its id, owner and product already set) to its product, within the
/// product's quota (403 past it).
pub async fn add(
    table: &dyn Table,
    mut draft: Capability,
    limits: &Limits,
) -> ApiResult<Capability> {
    let mut retry = Retry::default();
    loop {
        let (mut product, version) = owned_product(table, &draft.owner, &draft.product_id).await?;
        draft.display_order = Some(product.capability_seq);
        product.capability_seq += 1;
        let mut tx = Tx::default();
        Quota::capabilities(&draft.product_id).take(&mut tx, limits)?;
        tx.put(product.to_item(version + 1), Cond::Version(version));
        tx.put(draft.to_item(1), Cond::NotExists);
        reserve_name(&mut tx, &draft);
        match tx.commit(table).await {
            Ok(()) => return Ok(draft),
            Err(e) => retry.after(e).await?,
        }
    }
}

/// The capability (one GetItem) if it belongs to `owner`'s product `product_id`.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
) -> ApiResult<(Capability, u64)> {
    get_owned(table, &k::capability(product_id, id), owner).await
}

/// Change the capability (see `repo::update`); a rename moves the name reservation in the
/// same transaction.
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    now: &str,
    mut apply: F,
) -> ApiResult<Capability>
where
    F: FnMut(&mut Capability) -> ApiResult<()>,
{
    let key = k::capability(product_id, id);
    super::update(
        table,
        &key,
        owner,
        now,
        |cap: &mut Capability, tx: &mut Tx| {
            let old_name = cap.capability_name.clone();
            apply(cap)?;
            if Capability::name_key(&old_name) != Capability::name_key(&cap.capability_name) {
                tx.delete(k::capability_name(product_id, &old_name), Cond::Always);
                reserve_name(tx, cap);
            }
            Ok(())
        },
    )
    .await
}

/// Delete the capability with the surface items that bind it (dropping those from key
/// scopes first) and its name reservation.
pub async fn delete(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    cascade::delete(table, || async move {
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
        let (rewrites, removals, given_back) = items::removals(&p, &bound, now);
        Ok(Subtree::of(k::capability(product_id, id), *version)
            .rewrites(rewrites)
            .children(removals)
            .with_parent_ops(given_back)
            .with_parent_ops(Quota::capabilities(product_id).given_back(1))
            .with_parent(k::capability_name(product_id, &cap.capability_name)))
    })
    .await
}
