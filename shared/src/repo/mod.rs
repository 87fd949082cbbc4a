//! The repository layer: everything that knows the key design, written once above the
//! `Table` trait so both backends behave the same.
//!
//! Every write path is built from four helpers: `get_owned` (one read, 404 for a stranger),
//! `update` (read → edit → write under the version, a lost race retried from a fresh read),
//! `cascade::delete` (a subtree, secrets first and its parent last) and `listing::paginate`
//! (one page of a list). `Tx` names each transaction operation so a cancellation is matched
//! by name; `Retry` is the one retry loop for writes that lose optimistic-concurrency races.

/// `impl Record` for a model stored at `key` (an expression of `$r`, the record) as `entity`,
/// listed in the owner index at `gsi1` when given.
macro_rules! record {
    ($t:ty, $entity:expr, |$r:ident| $key:expr $(, gsi1: $gsi1:expr)? $(, gsi2: $gsi2:expr)?) => {
        impl $crate::repo::Record for $t {
            fn to_item(&self, version: u64) -> $crate::store::Item {
                let $r = self;
                #[allow(unused_mut)]
                let mut it = $crate::repo::item($key, $entity, $r, version, &$r.created_at);
                $(it.gsi1 = Some($gsi1);)?
                $(it.gsi2 = Some($gsi2);)?
                it
            }

            fn touch(&mut self, now: &str) {
                self.updated_at = now.to_string();
            }
        }
    };
}

pub mod accounts;
pub mod as_code;
pub mod capabilities;
pub mod cascade;
pub mod cursor;
pub mod executions;
pub mod items;
pub mod layout;
pub mod limits;
pub mod listing;
pub mod partition;
pub mod products;
pub mod quota;
pub mod schedules;
pub mod surface_keys;
pub mod surfaces;
pub mod tx;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::model::Product;
use crate::store::{Cond, Item, Key, StoreError, Table};

pub use tx::{Op, Rejected, Tx};

/// How many times a write that lost an optimistic-concurrency race is tried in all.
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
        // the store's own stamp of the write (bookkeeping, never shown): the wall clock
        updated_at: crate::time::Clock::system().now_string(),
        expires_at: None,
        count: None,
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
    /// What a 404 calls it.
    const WHAT: &'static str;
    fn owner(&self) -> &str;
}

/// A record changed in place through `update`.
pub trait Record: Owned + Serialize {
    /// The item holding the record at `version` (its key and index keys).
    fn to_item(&self, version: u64) -> Item;
    /// Stamp the time of a change.
    fn touch(&mut self, now: &str);
}

macro_rules! owned {
    ($($t:ty => $what:literal),*) => {$(
        impl Owned for $t {
            const WHAT: &'static str = $what;
            fn owner(&self) -> &str {
                &self.owner
            }
        }
    )*};
}

owned!(
    crate::model::Product => "Product",
    crate::model::Capability => "Capability",
    crate::model::Surface => "Surface",
    crate::model::SurfaceItem => "Surface item",
    crate::model::SurfaceKey => "Key",
    crate::model::Schedule => "Schedule",
    crate::model::Execution => "Execution"
);

/// The record at `key` and its version (one GetItem), if it is `owner`'s; anything else is
/// a 404, exactly as if it did not exist.
pub async fn get_owned<T: Owned>(table: &dyn Table, key: &Key, owner: &str) -> ApiResult<(T, u64)> {
    let found = table
        .get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(T::WHAT))?;
    let record: T = decode(&found)?;
    if record.owner() != owner {
        return Err(ApiError::not_found(T::WHAT));
    }
    Ok((record, found.version))
}

/// The product `id` alone (one GetItem), if `owner` owns it: the owner check every
/// resource under a product starts with (a stranger's product is a plain 404).
pub async fn owned_product(table: &dyn Table, owner: &str, id: &str) -> ApiResult<(Product, u64)> {
    get_owned(table, &layout::product(id), owner).await
}

/// The name claim at `key` (products as code), if it names the record `id`: what a delete of
/// that record removes with it. A claim of another record (the name was reused after a
/// rename) stays.
pub async fn claim_of(table: &dyn Table, key: Key, id: &str) -> ApiResult<Option<Key>> {
    let found = table.get(&key).await?;
    Ok(found
        .filter(|it| it.data.get("id").and_then(|v| v.as_str()) == Some(id))
        .map(|_| key))
}

/// Read-modify-write of the record at `key` with optimistic concurrency: `edit` changes the
/// record and adds the other operations the change needs (moving a reservation, say) to the
/// transaction, which writes the record under the version read. A lost race is tried again
/// from a fresh read, so no acknowledged update is ever overwritten.
pub async fn update<T, F>(
    table: &dyn Table,
    key: &Key,
    owner: &str,
    now: &str,
    mut edit: F,
) -> ApiResult<T>
where
    T: Record,
    F: FnMut(&mut T, &mut Tx) -> ApiResult<()>,
{
    let mut retry = Retry::default();
    loop {
        let (mut record, version) = get_owned::<T>(table, key, owner).await?;
        let mut tx = Tx::default();
        edit(&mut record, &mut tx)?;
        record.touch(now);
        tx.put(record.to_item(version + 1), Cond::Version(version));
        match tx.commit(table).await {
            Ok(()) => return Ok(record),
            Err(e) => retry.after(e).await?,
        }
    }
}

/// What a failed write attempt came to.
pub enum Failure {
    /// It lost an optimistic-concurrency race: try again from a fresh read.
    Raced,
    /// The answer to give.
    Final(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Final(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if raced(&e) {
            Failure::Raced
        } else {
            Failure::Final(e.into())
        }
    }
}

impl From<Rejected> for Failure {
    fn from(mut r: Rejected) -> Self {
        match r.answer() {
            Some(answer) => Failure::Final(answer),
            None => r.into_store_error().into(),
        }
    }
}

/// The one retry loop of the repository: `retry.after(failure).await?` waits and returns
/// when the write should be tried again, and answers the error otherwise (including when
/// `MAX_ATTEMPTS` races were lost).
#[derive(Debug, Default)]
pub struct Retry {
    attempts: u32,
}

impl Retry {
    pub async fn after(&mut self, failure: impl Into<Failure>) -> ApiResult<()> {
        match failure.into() {
            Failure::Final(e) => Err(e),
            Failure::Raced => {
                self.attempts += 1;
                if self.attempts >= MAX_ATTEMPTS {
                    return Err(too_much_contention());
                }
                backoff(self.attempts).await;
                Ok(())
            }
        }
    }
}

/// Pause briefly (randomised, growing) before trying a raced write again.
async fn backoff(attempt: u32) {
    let mut b = [0u8; 1];
    crate::secrets::fill_random(&mut b);
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
