//! Surface items: a capability bound to a surface. "Bound once per surface" and "slug
//! unique per surface" are reservation items written in the same transaction as the item.

use serde_json::json;

use crate::error::{ApiError, ApiResult, Detail};
use crate::model::surface::slugify;
use crate::model::SurfaceItem;
use crate::store::{Cond, Item, StoreError, Table, TxOp};

use super::cascade::{self, deletes};
use super::keys::{self as k, entity};
use super::partition::Partition;
use super::surface_keys::drop_scope_ops;
use super::{backoff, get_owned, item, raced, too_much_contention, MAX_ATTEMPTS};

pub fn item_item(i: &SurfaceItem, version: u64) -> Item {
    item(
        k::surface_item(&i.product_id, &i.surface_id, &i.id),
        entity::SURFACE_ITEM,
        i,
        version,
        &i.created_at,
    )
}

fn binding_item(i: &SurfaceItem) -> Item {
    item(
        k::binding(&i.product_id, &i.surface_id, &i.capability_id),
        entity::BINDING,
        &json!({ "itemId": i.id }),
        1,
        &i.updated_at,
    )
}

fn slug_item(i: &SurfaceItem, slug: &str) -> Item {
    item(
        k::slug(&i.product_id, &i.surface_id, slug),
        entity::SLUG,
        &json!({ "itemId": i.id }),
        1,
        &i.updated_at,
    )
}

fn already_bound() -> ApiError {
    ApiError::Conflict("This capability is already bound to this surface".into())
}

fn slug_taken(slug: &str) -> ApiError {
    ApiError::Conflict(format!(
        "The endpoint slug \"{slug}\" is already used on this surface"
    ))
}

/// Bind `draft.capability_id` to the surface. On an `api` surface a missing slug becomes
/// the capability name as a slug, suffixed (`-2`, `-3`, …) until it is unused.
pub async fn add(table: &dyn Table, mut draft: SurfaceItem) -> ApiResult<SurfaceItem> {
    let explicit_slug = draft.endpoint_slug.is_some();
    for attempt in 0..MAX_ATTEMPTS {
        let p = Partition::load(table, &draft.owner, &draft.product_id).await?;
        let (surface, _) = p.surface(&draft.surface_id)?;
        let Some(cap) = p.capability(&draft.capability_id) else {
            return Err(ApiError::Validation(vec![Detail::new(
                "capabilityId",
                "INVALID_REFERENCE",
                "capabilityId must name a capability of this product",
            )]));
        };
        let siblings: Vec<&SurfaceItem> = p.items_of(&draft.surface_id).collect();
        if siblings
            .iter()
            .any(|i| i.capability_id == draft.capability_id)
        {
            return Err(already_bound());
        }
        let used = |slug: &str| {
            siblings
                .iter()
                .any(|i| i.endpoint_slug.as_deref() == Some(slug))
        };
        if let Some(slug) = draft.endpoint_slug.as_deref().filter(|_| explicit_slug) {
            if used(slug) {
                return Err(slug_taken(slug));
            }
        } else if surface.kind == "api" {
            let base = slugify(&cap.capability_name);
            let mut slug = base.clone();
            let mut n = 2;
            while used(&slug) {
                slug = format!("{base}-{n}");
                n += 1;
            }
            draft.endpoint_slug = Some(slug);
        }
        draft.display_order = Some(
            siblings
                .iter()
                .filter_map(|i| i.display_order)
                .max()
                .map_or(0, |m| m + 1),
        );
        let mut ops = vec![
            TxOp::Check {
                key: k::surface(&draft.product_id, &draft.surface_id),
                cond: Cond::Exists,
            },
            TxOp::Check {
                key: k::capability(&draft.product_id, &draft.capability_id),
                cond: Cond::Exists,
            },
            TxOp::Put {
                item: item_item(&draft, 1),
                cond: Cond::NotExists,
            },
            TxOp::Put {
                item: binding_item(&draft),
                cond: Cond::NotExists,
            },
        ];
        if let Some(slug) = &draft.endpoint_slug {
            ops.push(TxOp::Put {
                item: slug_item(&draft, slug),
                cond: Cond::NotExists,
            });
        }
        match table.transact(ops).await {
            Ok(()) => return Ok(draft),
            Err(StoreError::Cancelled(failed)) => {
                if failed.contains(&0) {
                    return Err(ApiError::not_found("Surface"));
                }
                if failed.contains(&3) {
                    return Err(already_bound());
                }
                if failed.contains(&4) && explicit_slug {
                    return Err(slug_taken(draft.endpoint_slug.as_deref().unwrap_or("")));
                }
                backoff(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// The item (one GetItem) if it is `owner`'s.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
) -> ApiResult<(SurfaceItem, u64)> {
    get_owned(
        table,
        &k::surface_item(product_id, surface_id, id),
        owner,
        "Surface item",
    )
    .await
}

/// Read-modify-write; a slug change moves its reservation in the same transaction.
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
    mut apply: F,
) -> ApiResult<SurfaceItem>
where
    F: FnMut(&mut SurfaceItem) -> ApiResult<()>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let (mut it, version) = get(table, owner, product_id, surface_id, id).await?;
        let old_slug = it.endpoint_slug.clone();
        apply(&mut it)?;
        it.updated_at = crate::time::now_string();
        let mut ops = vec![TxOp::Put {
            item: item_item(&it, version + 1),
            cond: Cond::Version(version),
        }];
        let new_slug_at = (old_slug != it.endpoint_slug).then(|| {
            if let Some(old) = &old_slug {
                ops.push(TxOp::Delete {
                    key: k::slug(product_id, surface_id, old),
                    cond: Cond::Always,
                });
            }
            it.endpoint_slug.as_ref().map(|new| {
                ops.push(TxOp::Put {
                    item: slug_item(&it, new),
                    cond: Cond::NotExists,
                });
                ops.len() - 1
            })
        });
        match table.transact(ops).await {
            Ok(()) => return Ok(it),
            Err(StoreError::Cancelled(failed))
                if new_slug_at.flatten().is_some_and(|i| failed.contains(&i)) =>
            {
                return Err(slug_taken(it.endpoint_slug.as_deref().unwrap_or("")))
            }
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}

/// The writes that remove `items` with their reservations and drop them from key scopes.
pub fn removal_stages(p: &Partition, items: &[&SurfaceItem]) -> [Vec<TxOp>; 2] {
    let mut scope_ops = Vec::new();
    let mut surfaces: Vec<&str> = items.iter().map(|i| i.surface_id.as_str()).collect();
    surfaces.sort_unstable();
    surfaces.dedup();
    for sid in surfaces {
        if let Ok((surface, _)) = p.surface(sid) {
            let removed: Vec<String> = items
                .iter()
                .filter(|i| i.surface_id == sid)
                .map(|i| i.id.clone())
                .collect();
            scope_ops.extend(drop_scope_ops(p, surface, &removed));
        }
    }
    let mut keys = Vec::new();
    for i in items {
        keys.push(k::surface_item(&i.product_id, &i.surface_id, &i.id));
        keys.push(k::binding(&i.product_id, &i.surface_id, &i.capability_id));
        if let Some(slug) = &i.endpoint_slug {
            keys.push(k::slug(&i.product_id, &i.surface_id, slug));
        }
    }
    [scope_ops, deletes(keys)]
}

pub async fn delete(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
) -> ApiResult<()> {
    for attempt in 0..MAX_ATTEMPTS {
        let p = Partition::load(table, owner, product_id).await?;
        p.surface(surface_id)?;
        let Some((it, version)) = p
            .items
            .iter()
            .find(|(i, _)| i.id == id && i.surface_id == surface_id)
        else {
            return Err(ApiError::not_found("Surface item"));
        };
        let [scope_ops, mut removals] = removal_stages(&p, &[it]);
        // the item itself carries the version check
        removals.retain(|op| !matches!(op, TxOp::Delete { key, .. } if *key == k::surface_item(product_id, surface_id, id)));
        removals.push(TxOp::Delete {
            key: k::surface_item(product_id, surface_id, id),
            cond: Cond::Version(*version),
        });
        match cascade::apply(table, vec![scope_ops, removals]).await {
            Ok(()) => return Ok(()),
            Err(e) if raced(&e) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(too_much_contention())
}
