//! Surface items: a capability bound to a surface. "Bound once per surface" and "slug
//! unique per surface" are reservation items written in the same transaction as the item.

use serde_json::json;

use crate::error::{ApiError, ApiResult, Detail};
use crate::model::surface::slugify;
use chrono::{DateTime, Utc};

use crate::model::SurfaceItem;
use crate::store::{Cond, Item, Key, Table, TxOp};

use super::cascade::{self, Subtree};
use super::layout::{self as k, entity};
use super::partition::Partition;
use super::quota::Quota;
use super::surface_keys::drop_scope_ops;
use super::{get_owned, item, Record, Retry, Tx};
use crate::config::Limits;

record!(SurfaceItem, entity::SURFACE_ITEM, |i| k::surface_item(
    &i.product_id,
    &i.surface_id,
    &i.id
));

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

/// Reserve `slug` for `i` in `tx`; taken, the write answers 409.
fn reserve_slug(tx: &mut Tx, i: &SurfaceItem, slug: &str) {
    let reservation = tx.put(slug_item(i, slug), Cond::NotExists);
    tx.or_answer(reservation, slug_taken(slug));
}

fn already_bound() -> ApiError {
    ApiError::Conflict("This capability is already bound to this surface".into())
}

fn slug_taken(slug: &str) -> ApiError {
    ApiError::Conflict(format!(
        "The endpoint slug \"{slug}\" is already used on this surface"
    ))
}

/// Bind `draft.capability_id` to the surface. On a surface with an endpoint (`api`, `mcp`,
/// `a2a`: the slug is the endpoint's path, the tool's name, the skill's id) a missing slug
/// becomes the capability name as a slug, suffixed (`-2`, `-3`, …) until it is unused.
pub async fn add(
    table: &dyn Table,
    mut draft: SurfaceItem,
    limits: &Limits,
) -> ApiResult<SurfaceItem> {
    let explicit_slug = draft.endpoint_slug.is_some();
    let mut retry = Retry::default();
    loop {
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
        } else if surface.kind.endpoint_tail().is_some() {
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
        let mut tx = Tx::default();
        Quota::items(&draft.product_id, &draft.surface_id).take(&mut tx, limits)?;
        let surface = tx.check(
            k::surface(&draft.product_id, &draft.surface_id),
            Cond::Exists,
        );
        tx.or_answer(surface, ApiError::not_found("Surface"));
        tx.check(
            k::capability(&draft.product_id, &draft.capability_id),
            Cond::Exists,
        );
        tx.put(draft.to_item(1), Cond::NotExists);
        let binding = tx.put(binding_item(&draft), Cond::NotExists);
        tx.or_answer(binding, already_bound());
        match &draft.endpoint_slug {
            Some(slug) if explicit_slug => reserve_slug(&mut tx, &draft, slug),
            // a default slug taken meanwhile: the next attempt picks another
            Some(slug) => {
                tx.put(slug_item(&draft, slug), Cond::NotExists);
            }
            None => {}
        }
        match tx.commit(table).await {
            Ok(()) => return Ok(draft),
            Err(e) => retry.after(e).await?,
        }
    }
}

/// The item (one GetItem) if it is `owner`'s.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
) -> ApiResult<(SurfaceItem, u64)> {
    get_owned(table, &k::surface_item(product_id, surface_id, id), owner).await
}

/// Change the item (see `repo::update`); a slug change moves its reservation in the same
/// transaction.
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
    now: &str,
    mut apply: F,
) -> ApiResult<SurfaceItem>
where
    F: FnMut(&mut SurfaceItem) -> ApiResult<()>,
{
    let key = k::surface_item(product_id, surface_id, id);
    super::update(
        table,
        &key,
        owner,
        now,
        |it: &mut SurfaceItem, tx: &mut Tx| {
            let old_slug = it.endpoint_slug.clone();
            apply(it)?;
            if old_slug != it.endpoint_slug {
                if let Some(old) = &old_slug {
                    tx.delete(k::slug(product_id, surface_id, old), Cond::Always);
                }
                if let Some(new) = &it.endpoint_slug {
                    reserve_slug(tx, it, new);
                }
            }
            Ok(())
        },
    )
    .await
}

/// What removing `items` takes: the rewrites that drop them from key scopes, the keys of
/// the items with their reservations, and their surfaces' item counts given back.
/// `now` decides which keys have expired.
pub fn removals(
    p: &Partition,
    items: &[&SurfaceItem],
    now: DateTime<Utc>,
) -> (Vec<TxOp>, Vec<Key>, Vec<TxOp>) {
    let mut rewrites = Vec::new();
    let mut given_back = Vec::new();
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
            rewrites.extend(drop_scope_ops(p, surface, &removed, now));
            given_back.extend(Quota::items(&p.product.id, sid).given_back(removed.len()));
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
    (rewrites, keys, given_back)
}

pub async fn delete(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let key = k::surface_item(product_id, surface_id, id);
    cascade::delete(table, || async {
        let p = Partition::load(table, owner, product_id).await?;
        p.surface(surface_id)?;
        let Some((it, version)) = p
            .items
            .iter()
            .find(|(i, _)| i.id == id && i.surface_id == surface_id)
        else {
            return Err(ApiError::not_found("Surface item"));
        };
        let (rewrites, mut removals, given_back) = removals(&p, &[it], now);
        // the item itself goes last, under the version read
        removals.retain(|k| *k != key);
        Ok(Subtree::of(key.clone(), *version)
            .rewrites(rewrites)
            .children(removals)
            .with_parent_ops(given_back))
    })
    .await
}
