//! The table's layout, in one place: every key, key prefix and index key. Keys are uppercase entity tags joined with `#`; nothing
//! mutable is ever part of a key except in a uniqueness item whose whole purpose is to hold
//! that value (a capability name, a name claimed by products as code) or in a record's own
//! index entry that is rewritten with it (the name indexes). Everything under a product
//! shares its partition.

use crate::store::Key;

pub const ACCOUNTS: &str = "ACCOUNTS";

pub fn account(id: &str) -> Key {
    same(format!("ACCOUNT#{id}"))
}

pub fn platform_key(id: &str) -> Key {
    same(format!("PLATFORMKEY#{id}"))
}

/// The item that authenticates a platform key: found by the key's SHA-256 in one GetItem.
pub fn platform_key_hash(hash: &str) -> Key {
    same(format!("PLATFORMKEYHASH#{hash}"))
}

pub fn product_pk(product_id: &str) -> String {
    format!("PRODUCT#{product_id}")
}

pub fn product(product_id: &str) -> Key {
    same(product_pk(product_id))
}

pub fn capability(product_id: &str, capability_id: &str) -> Key {
    Key::new(product_pk(product_id), format!("CAP#{capability_id}"))
}

/// Reserves a capability name (case-insensitively) within a product.
pub fn capability_name(product_id: &str, name: &str) -> Key {
    Key::new(
        product_pk(product_id),
        format!("CAPNAME#{}", crate::model::Capability::name_key(name)),
    )
}

pub fn surface(product_id: &str, surface_id: &str) -> Key {
    Key::new(product_pk(product_id), surface_and_subtree(surface_id))
}

/// The surface's sort key, which also prefixes everything under it.
pub fn surface_and_subtree(surface_id: &str) -> String {
    format!("SURFACE#{surface_id}")
}

/// Sort-key prefix of everything under a surface (not the surface itself).
pub fn surface_subtree(surface_id: &str) -> String {
    format!("{}#", surface_and_subtree(surface_id))
}

/// `<tag>#<id>` in a surface's subtree (in its product's partition: it goes with both).
fn under_surface(product_id: &str, surface_id: &str, tag: &str, id: &str) -> Key {
    Key::new(
        product_pk(product_id),
        format!("{}{tag}#{id}", surface_subtree(surface_id)),
    )
}

/// An item alone in its partition.
fn same(k: String) -> Key {
    Key::new(k.clone(), k)
}

pub fn surface_item(product_id: &str, surface_id: &str, item_id: &str) -> Key {
    under_surface(product_id, surface_id, "ITEM", item_id)
}

/// Reserves "capability bound once per surface".
pub fn binding(product_id: &str, surface_id: &str, capability_id: &str) -> Key {
    under_surface(product_id, surface_id, "BIND", capability_id)
}

/// Reserves "slug unique per surface".
pub fn slug(product_id: &str, surface_id: &str, slug: &str) -> Key {
    under_surface(product_id, surface_id, "SLUG", slug)
}

pub fn surface_key(product_id: &str, surface_id: &str, key_id: &str) -> Key {
    under_surface(product_id, surface_id, "KEY", key_id)
}

/// The item that verifies a surface key: found by the key's SHA-256 in one GetItem.
pub fn surface_key_hash(hash: &str) -> Key {
    same(format!("SURFACEKEY#{hash}"))
}

pub fn schedule(product_id: &str, surface_id: &str, schedule_id: &str) -> Key {
    under_surface(product_id, surface_id, "SCHEDULE", schedule_id)
}

/// GSI1 partition of an owner's schedules, by id (time-ordered): the owner-wide list.
pub fn owner_schedules(owner: &str) -> String {
    format!("SCHEDULES#{owner}")
}

/// A schedule's run history lives in its own partition, newest last by run id.
pub fn runs_pk(schedule_id: &str) -> String {
    format!("SCHEDULE#{schedule_id}")
}

/// Sort-key prefix of the runs in a schedule's run partition.
pub const RUNS: &str = "RUN#";

pub fn run(schedule_id: &str, run_id: &str) -> Key {
    Key::new(runs_pk(schedule_id), format!("{RUNS}{run_id}"))
}

pub fn execution(id: &str) -> Key {
    same(format!("EXEC#{id}"))
}

/// GSI1 partition of a product's executions, sorted by id (time-ordered).
pub fn executions_index(product_id: &str) -> String {
    format!("EXECS#{product_id}")
}

/// GSI2, the delivery index: only executions a deliverer may take (queued, or running
/// under a claim that can lapse) carry it, spread over a few partitions, sorted by when
/// they are due.
pub const DELIVERY_SHARDS: u32 = 4;

pub fn delivery_pk(shard: u32) -> String {
    format!("DELIVER#{shard}")
}

pub fn delivery_key(execution_id: &str, due: &str) -> (String, String) {
    let shard = crc32fast::hash(execution_id.as_bytes()) % DELIVERY_SHARDS;
    (delivery_pk(shard), format!("{due}#{execution_id}"))
}

/// A key's usage counter (admitted gateway calls; its `updatedAt` is the last use), under
/// the surface so it goes with it.
pub fn key_usage(product_id: &str, surface_id: &str, key_id: &str) -> Key {
    under_surface(product_id, surface_id, "USAGE", key_id)
}

/// The key id of a usage counter's sort key.
pub fn key_of_usage_sk(sk: &str) -> Option<&str> {
    sk.split_once("#USAGE#").map(|(_, id)| id)
}

/// A count of what a surface holds, for its quota (under the surface: it goes with it).
pub fn surface_quota(product_id: &str, surface_id: &str, what: &str) -> Key {
    under_surface(product_id, surface_id, "QUOTA", what)
}

/// GSI2, the name index of products: an owner's products with exactly this name (names are
/// not unique), for products as code.
pub fn product_name_index(owner: &str, name: &str) -> String {
    format!("PRODUCTNAME#{owner}#{name}")
}

/// GSI2, the name index of a product's surfaces.
pub fn surface_name_index(product_id: &str, name: &str) -> String {
    format!("SURFACENAME#{product_id}#{name}")
}

/// The product products as code created for a name: written with the product, so racing
/// ensures of one new name create one product even while the name index lags.
pub fn product_name_claim(owner: &str, name: &str) -> Key {
    Key::new(format!("NAMECLAIM#{owner}"), format!("PRODUCT#{name}"))
}

/// The surface products as code created for a name (in the product's partition).
pub fn surface_name_claim(product_id: &str, name: &str) -> Key {
    Key::new(product_pk(product_id), format!("NAMECLAIM#SURFACE#{name}"))
}

/// A count of what a product holds, for its quota (in its partition: it goes with it).
pub fn product_quota(product_id: &str, what: &str) -> Key {
    Key::new(product_pk(product_id), format!("QUOTA#{what}"))
}

/// A count of what an owner holds, for its quota.
pub fn owner_quota(owner: &str, what: &str) -> Key {
    Key::new(format!("QUOTA#{owner}"), format!("QUOTA#{what}"))
}

/// A fixed rate-limit window's counter: `scope` is `KEY` or `SURFACE`, `span` `MINUTE` or
/// `DAY`, `start` the window's first Unix second. Each its own partition: no hot partition.
pub fn rate_window(scope: &str, id: &str, span: &str, start: i64) -> Key {
    let k = format!("RATE#{scope}#{id}#{span}#{start}");
    Key::new(k.clone(), k)
}

/// An idempotency record: the caller (`scope`) and the SHA-256 of its key.
pub fn idempotency(scope: &str, key_hash: &str) -> Key {
    let k = format!("IDEMPOTENCY#{scope}#{key_hash}");
    Key::new(k.clone(), k)
}

/// GSI2, the due index: only enabled schedules with a next fire carry it, spread over a
/// few partitions, sorted by the next fire.
pub const DUE_SHARDS: u32 = 4;

pub fn due_pk(shard: u32) -> String {
    format!("DUE#{shard}")
}

pub fn due_key(schedule_id: &str, next_run_at: &str) -> (String, String) {
    let shard = crc32fast::hash(schedule_id.as_bytes()) % DUE_SHARDS;
    (due_pk(shard), format!("{next_run_at}#{schedule_id}"))
}

/// GSI1 partition listing an owner's products, newest first, each followed (in descending
/// order: preceded) by its capabilities and surfaces, so one Query gives a list page with
/// the names and counts it shows.
pub fn owner_index(owner: &str) -> String {
    format!("OWNER#{owner}")
}

/// Sort-key prefix of every product entry (and the entries beside it) in an owner index.
pub const PRODUCTS_IN_OWNER_INDEX: &str = "PRODUCT#";

pub fn product_index_sk(product_id: &str) -> String {
    format!("{PRODUCTS_IN_OWNER_INDEX}{product_id}")
}

pub fn capability_index_sk(product_id: &str, capability_id: &str) -> String {
    format!("{}#CAP#{capability_id}", product_index_sk(product_id))
}

/// Sort-key prefix of a product's surfaces in the owner index.
pub fn surfaces_in_owner_index(product_id: &str) -> String {
    format!("{}#SURFACE#", product_index_sk(product_id))
}

pub fn surface_index_sk(product_id: &str, surface_id: &str) -> String {
    format!("{}{surface_id}", surfaces_in_owner_index(product_id))
}

/// The product an owner-index sort key belongs to.
pub fn product_of_index_sk(sk: &str) -> Option<&str> {
    let rest = sk.strip_prefix(PRODUCTS_IN_OWNER_INDEX)?;
    Some(rest.split('#').next().unwrap_or(rest))
}

/// Entity type tags stored on each item.
pub mod entity {
    pub const ACCOUNT: &str = "account";
    pub const PLATFORM_KEY: &str = "platformKey";
    pub const PLATFORM_KEY_HASH: &str = "platformKeyHash";
    pub const PRODUCT: &str = "product";
    pub const CAPABILITY: &str = "capability";
    pub const CAPABILITY_NAME: &str = "capabilityName";
    pub const SURFACE: &str = "surface";
    pub const SURFACE_ITEM: &str = "surfaceItem";
    pub const BINDING: &str = "surfaceBinding";
    pub const SLUG: &str = "surfaceSlug";
    pub const SURFACE_KEY: &str = "surfaceKey";
    pub const SURFACE_KEY_HASH: &str = "surfaceKeyHash";
    pub const SCHEDULE: &str = "schedule";
    pub const RUN: &str = "scheduleRun";
    pub const EXECUTION: &str = "execution";
    /// Atomic counters (`Table::increment`): key usage, rate-limit windows.
    pub const COUNTER: &str = "counter";
    pub const IDEMPOTENCY: &str = "idempotency";
    /// Which record products as code created for a name.
    pub const NAME_CLAIM: &str = "nameClaim";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored keys outlive releases: these strings never change.
    #[test]
    fn keys_are_stable() {
        for (key, want) in [
            (product("p"), "PRODUCT#p PRODUCT#p"),
            (surface_item("p", "s", "i"), "PRODUCT#p SURFACE#s#ITEM#i"),
            (surface_key("p", "s", "k"), "PRODUCT#p SURFACE#s#KEY#k"),
            (schedule("p", "s", "x"), "PRODUCT#p SURFACE#s#SCHEDULE#x"),
            (
                surface_quota("p", "s", "ITEMS"),
                "PRODUCT#p SURFACE#s#QUOTA#ITEMS",
            ),
            (surface_key_hash("h"), "SURFACEKEY#h SURFACEKEY#h"),
            (execution("e"), "EXEC#e EXEC#e"),
        ] {
            assert_eq!(format!("{} {}", key.pk, key.sk), want);
        }
    }
}
