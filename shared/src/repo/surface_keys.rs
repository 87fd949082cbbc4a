//! Surface API keys: create (record + hash item in one transaction), delete, and scope
//! maintenance when items go. Presented keys are verified by `auth::surface_key`.

use crate::error::{ApiError, ApiResult, Detail};
use crate::model::surface_key::{names_every_item, EVERY_ITEM};
use crate::model::{Capability, Environment, KeyKind, Surface, SurfaceItem, SurfaceKey};
use crate::secrets;
use crate::store::{Cond, Item, Table, TxOp};

use super::layout::{self as k, entity};
use super::partition::Partition;
use super::quota::Quota;
use super::{get_owned, item, Retry, Tx};
use crate::config::Limits;

/// `<kind>_<env>_`: `papi`/`mcp`/`a2a`, `live` for production keys and `test` otherwise.
pub fn prefix(kind: KeyKind, environment: Environment) -> String {
    let env = match environment {
        Environment::Production => "live",
        Environment::Test => "test",
    };
    format!("{kind}_{env}_")
}

/// The record and hash items of a key.
pub fn key_items(key: &SurfaceKey, kind: KeyKind, version: u64) -> [Item; 2] {
    let record = item(
        k::surface_key(&key.product_id, &key.surface_id, &key.id),
        entity::SURFACE_KEY,
        key,
        version,
        &key.created_at,
    );
    let mut hash = item(
        k::surface_key_hash(&key.hash),
        entity::SURFACE_KEY_HASH,
        &key.hash_record(kind),
        version,
        &key.created_at,
    );
    // DynamoDB's TTL removes expired hash items eventually; verification checks expiry itself.
    hash.expires_at = key
        .expires_at
        .as_deref()
        .and_then(crate::time::parse)
        .map(|t| t.timestamp());
    [record, hash]
}

/// What `scopes` resolve to on a surface: the entries to store, the item ids they name, and
/// which items each entry named. `*` (or no scopes) means every item.
pub struct Resolved {
    pub scopes: Vec<String>,
    pub target_ids: Vec<String>,
    pub resolution: Vec<(String, Vec<String>)>,
}

pub fn resolve_scopes(
    entries: Option<&[String]>,
    items: &[&SurfaceItem],
    capability: impl Fn(&str) -> Option<Capability>,
) -> Result<Resolved, Vec<Detail>> {
    let entries = match entries {
        None => &[][..],
        Some(e) => e,
    };
    if entries.is_empty() || names_every_item(entries) {
        return Ok(Resolved {
            scopes: vec![EVERY_ITEM.into()],
            target_ids: vec![],
            resolution: vec![],
        });
    }
    let mut errors = Vec::new();
    let mut resolution = Vec::new();
    let mut target_ids: Vec<String> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("scopes.{i}");
        if entry == EVERY_ITEM {
            errors.push(Detail::new(
                path,
                "INVALID_FORMAT",
                "\"*\" must be the only scope",
            ));
            continue;
        }
        let wanted = entry.to_lowercase();
        let matched: Vec<String> = items
            .iter()
            .filter(|it| {
                let cap = capability(&it.capability_id);
                it.id == *entry
                    || it.capability_id == *entry
                    || cap.is_some_and(|c| c.capability_name.to_lowercase() == wanted)
                    || it
                        .exposed_name
                        .as_ref()
                        .is_some_and(|n| n.to_lowercase() == wanted)
            })
            .map(|it| it.id.clone())
            .collect();
        if matched.is_empty() {
            errors.push(
                Detail::new(
                    path,
                    "INVALID_REFERENCE",
                    format!("scope \"{entry}\" names nothing bound to this surface"),
                )
                .suggest("use a surface item id, a capability id, or a capability's name or exposed name"),
            );
            continue;
        }
        for id in &matched {
            if !target_ids.contains(id) {
                target_ids.push(id.clone());
            }
        }
        resolution.push((entry.clone(), matched));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Resolved {
        scopes: entries.to_vec(),
        target_ids,
        resolution,
    })
}

/// The fields of a new key, validated.
pub struct NewKey {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<i64>,
    pub rate_limit_per_day: Option<i64>,
    pub expires_at: Option<String>,
    pub environment: Environment,
    /// When it is made.
    pub created_at: String,
}

/// Create a key: one Query (surface, items, capabilities) and one transaction writing the
/// record and its hash item, checked against the surface and the items it is scoped to.
pub async fn create(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    new: NewKey,
    limits: &Limits,
) -> ApiResult<(SurfaceKey, String)> {
    let mut retry = Retry::default();
    loop {
        let p = Partition::load(table, owner, product_id).await?;
        let (surface, _) = p.surface(surface_id)?;
        let items: Vec<&SurfaceItem> = p.items_of(surface_id).collect();
        let resolved = resolve_scopes(new.scopes.as_deref(), &items, |id| {
            p.capability(id).cloned()
        })
        .map_err(ApiError::Validation)?;
        let kind = surface.key_kind();
        let prefix = prefix(kind, new.environment);
        let plaintext = secrets::generate(&prefix);
        let key = SurfaceKey {
            id: crate::ids::new_id("key"),
            surface_id: surface_id.to_string(),
            product_id: product_id.to_string(),
            owner: owner.to_string(),
            name: new.name.clone(),
            hash: secrets::hash(&plaintext),
            key_prefix: secrets::display_prefix(&prefix, &plaintext),
            key_hint: secrets::hint(&plaintext),
            scopes: resolved.scopes,
            scope_target_ids: resolved.target_ids,
            scope_resolution: resolved.resolution,
            rate_limit_per_minute: new.rate_limit_per_minute,
            rate_limit_per_day: new.rate_limit_per_day,
            expires_at: new.expires_at.clone(),
            environment: new.environment,
            created_at: new.created_at.clone(),
        };
        let [record, hash] = key_items(&key, kind, 1);
        let mut tx = Tx::default();
        Quota::keys(product_id, surface_id).take(&mut tx, limits)?;
        let surface = tx.check(k::surface(product_id, surface_id), Cond::Exists);
        tx.or_answer(surface, ApiError::not_found("Surface"));
        tx.put(record, Cond::NotExists);
        tx.put(hash, Cond::NotExists);
        // The surface's items as read, in one check however many the scopes name: every item
        // add and delete changes their count, so an item gone meanwhile cancels this, and the
        // next attempt resolves the scopes again.
        let items = Quota::items(product_id, surface_id).counter;
        let as_read = match p.counter_versions.get(&items.sk) {
            Some(v) => Cond::Version(*v),
            None => Cond::NotExists,
        };
        tx.check(items, as_read);
        match tx.commit(table).await {
            Ok(()) => return Ok((key, plaintext)),
            Err(e) => retry.after(e).await?,
        }
    }
}

/// Delete (revoke) a key: its hash item and record go in one transaction.
pub async fn delete(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    key_id: &str,
) -> ApiResult<()> {
    let record = k::surface_key(product_id, surface_id, key_id);
    let (key, _) = get_owned::<SurfaceKey>(table, &record, owner).await?;
    let mut tx = Tx::default();
    tx.delete(k::surface_key_hash(&key.hash), Cond::Always);
    tx.delete(k::key_usage(product_id, surface_id, key_id), Cond::Always);
    tx.ops(Quota::keys(product_id, surface_id).given_back(1));
    let record = tx.delete(record, Cond::Exists);
    tx.or_answer(record, ApiError::not_found("Key"));
    Ok(tx.commit(table).await?)
}

/// The writes that drop `removed` items from the scopes of the keys of `surface`. An
/// expired key's hash item may already be gone (TTL): only its record is rewritten (it
/// verifies nothing any more either way).
pub fn drop_scope_ops(
    p: &Partition,
    surface: &Surface,
    removed: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<TxOp> {
    let mut ops = Vec::new();
    for (key, version) in p.keys_of(&surface.id) {
        let mut key = key.clone();
        if key.drop_targets(removed) {
            let [record, hash] = key_items(&key, surface.key_kind(), version + 1);
            let expired = key
                .expires_at
                .as_deref()
                .and_then(crate::time::parse)
                .is_some_and(|t| t <= now);
            if !expired {
                ops.push(TxOp::Put {
                    item: hash,
                    cond: Cond::Exists,
                });
            }
            ops.push(TxOp::Put {
                item: record,
                cond: Cond::Version(*version),
            });
        }
    }
    ops
}
