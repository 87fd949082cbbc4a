//! The repository layer: everything that knows the key design, written once above the
//! `Table` trait so both backends behave the same.

pub mod accounts;
pub mod capabilities;
pub mod cascade;
pub mod cursor;
pub mod items;
pub mod keys;
pub mod partition;
pub mod products;
pub mod schedules;
pub mod surface_keys;
pub mod surfaces;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::store::{Item, Key, StoreError};

/// How many times a write that lost an optimistic-concurrency race is tried again.
pub const MAX_ATTEMPTS: u32 = 12;

/// Build an item holding `record`.
pub fn item(
    key: Key,
    entity: &str,
    record: &impl Serialize,
    version: u64,
    created_at: &str,
) -> Item {
    Item {
        key,
        gsi1: None,
        gsi2: None,
        entity: entity.to_string(),
        version,
        created_at: created_at.to_string(),
        updated_at: crate::time::now_string(),
        expires_at: None,
        data: serde_json::to_value(record).expect("records serialise"),
    }
}

/// Read a record back out of an item.
pub fn decode<T: DeserializeOwned>(item: &Item) -> ApiResult<T> {
    serde_json::from_value(item.data.clone()).map_err(|e| {
        crate::log::error(
            "corrupt record",
            &format!("{} {}: {e}", item.entity, item.key.sk),
        );
        ApiError::Internal
    })
}

/// A record that belongs to one owner.
pub trait Owned: DeserializeOwned {
    fn owner(&self) -> &str;
}

macro_rules! owned {
    ($($t:ty),*) => {$(
        impl Owned for $t {
            fn owner(&self) -> &str {
                &self.owner
            }
        }
    )*};
}

owned!(
    crate::model::Product,
    crate::model::Capability,
    crate::model::Surface,
    crate::model::SurfaceItem,
    crate::model::SurfaceKey,
    crate::model::Schedule
);

/// The record at `key` and its version (one GetItem), if it is `owner`'s; anything else is
/// a 404 naming `what`, exactly as if it did not exist.
pub async fn get_owned<T: Owned>(
    table: &dyn crate::store::Table,
    key: &Key,
    owner: &str,
    what: &str,
) -> ApiResult<(T, u64)> {
    let found = table
        .get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    let record: T = decode(&found)?;
    if record.owner() != owner {
        return Err(ApiError::not_found(what));
    }
    Ok((record, found.version))
}

/// Pause briefly (randomised, growing) before trying a raced write again.
pub async fn backoff(attempt: u32) {
    let mut b = [0u8; 1];
    crate::keys::fill_random(&mut b);
    let ms = (attempt as u64 + 1) * 2 + (b[0] as u64 % 8);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// The answer when a write kept losing races.
pub fn too_much_contention() -> ApiError {
    ApiError::Conflict("The resource is being changed concurrently; try again".into())
}

/// Whether a failed write only lost a race (and may be tried again).
pub fn raced(e: &StoreError) -> bool {
    matches!(e, StoreError::ConditionFailed | StoreError::Cancelled(_))
}
