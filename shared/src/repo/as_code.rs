//! Products as code: products and surfaces found by name (one Query of the name index,
//! never a scan), and created for a name so that racing ensures create exactly one.
//!
//! Names are not unique, so the index answers every record with the name. An index is
//! eventually consistent on DynamoDB, so a create also writes a claim item for the name
//! (under `NotExists`, or under the version of a claim whose record is gone or renamed): of
//! racing creates one commits, and the others find its record through the claim.

use serde_json::json;

use crate::config::Limits;
use crate::error::{ApiError, ApiResult};
use crate::model::{Product, Surface};
use crate::store::{Cond, Index, Key, Query, Table};

use super::layout::{self as k, entity};
use super::quota::Quota;
use super::{decode, item, Record, Rejected, Tx};

/// Two records tell "one" from "more than one".
const ENOUGH: usize = 2;

/// A record found by its name within a scope: a product within its owner, a surface within
/// its product.
pub trait Named: Record {
    const ENTITY: &'static str;
    /// The name index key of `name` in `scope`.
    fn index(scope: &str, name: &str) -> String;
    /// The key of `name`'s claim in `scope`.
    fn claim(scope: &str, name: &str) -> Key;
    /// The key of record `id` in `scope`.
    fn key(scope: &str, id: &str) -> Key;
    fn scope(&self) -> &str;
    fn name(&self) -> &str;
    fn id(&self) -> &str;
    /// What a create of this record adds to its transaction besides itself and its claim.
    fn guard(&self, tx: &mut Tx, limits: &Limits) -> ApiResult<()>;
}

impl Named for Product {
    const ENTITY: &'static str = entity::PRODUCT;
    fn index(owner: &str, name: &str) -> String {
        k::product_name_index(owner, name)
    }
    fn claim(owner: &str, name: &str) -> Key {
        k::product_name_claim(owner, name)
    }
    fn key(_owner: &str, id: &str) -> Key {
        k::product(id)
    }
    fn scope(&self) -> &str {
        &self.owner
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn guard(&self, tx: &mut Tx, limits: &Limits) -> ApiResult<()> {
        Quota::products(&self.owner).take(tx, limits)
    }
}

impl Named for Surface {
    const ENTITY: &'static str = entity::SURFACE;
    fn index(product_id: &str, name: &str) -> String {
        k::surface_name_index(product_id, name)
    }
    fn claim(product_id: &str, name: &str) -> Key {
        k::surface_name_claim(product_id, name)
    }
    fn key(product_id: &str, id: &str) -> Key {
        k::surface(product_id, id)
    }
    fn scope(&self) -> &str {
        &self.product_id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn guard(&self, tx: &mut Tx, limits: &Limits) -> ApiResult<()> {
        Quota::surfaces(&self.product_id).take(tx, limits)?;
        let product = tx.check(k::product(&self.product_id), Cond::Exists);
        tx.or_answer(product, ApiError::not_found("Product"));
        Ok(())
    }
}

/// The records of `scope` named exactly `name` (at most two).
pub async fn named<T: Named>(
    table: &dyn Table,
    scope: &str,
    name: &str,
) -> ApiResult<Vec<(T, u64)>> {
    let page = table
        .query(&Query::index(Index::Gsi2, T::index(scope, name)).limit(ENOUGH))
        .await?;
    let mut found = Vec::new();
    for it in page.items.iter().filter(|it| it.entity == T::ENTITY) {
        let r: T = decode(it)?;
        if r.scope() == scope && r.name() == name {
            found.push((r, it.version));
        }
    }
    Ok(found)
}

/// What a name's claim says: the record it names if that still has the name, and the
/// condition a new claim is written under.
pub struct Claim<T> {
    pub record: Option<(T, u64)>,
    pub cond: Cond,
}

/// The record claimed for `name` in `scope` by an earlier create.
pub async fn claimed<T: Named>(table: &dyn Table, scope: &str, name: &str) -> ApiResult<Claim<T>> {
    let Some(c) = table.get(&T::claim(scope, name)).await? else {
        return Ok(Claim {
            record: None,
            cond: Cond::NotExists,
        });
    };
    let id = c.data["id"].as_str().unwrap_or_default();
    let record = match table.get(&T::key(scope, id)).await? {
        Some(it) => {
            let r: T = decode(&it)?;
            (r.scope() == scope && r.name() == name).then_some((r, it.version))
        }
        None => None,
    };
    Ok(Claim {
        record,
        cond: Cond::Version(c.version),
    })
}

/// Create `record` with its name's claim (written under `claim`) and what its kind guards
/// (its quota; a surface's product). A create that lost a race for the claim is `Err` for
/// `Retry::after`.
pub async fn create<T: Named>(
    table: &dyn Table,
    record: &T,
    claim: Cond,
    limits: &Limits,
) -> ApiResult<Result<(), Rejected>> {
    let mut tx = Tx::default();
    record.guard(&mut tx, limits)?;
    let version = match claim {
        Cond::Version(v) => v + 1,
        _ => 1,
    };
    let data = json!({ "id": record.id() });
    let key = T::claim(record.scope(), record.name());
    // an internal item: its stamp is the store's bookkeeping, from the wall clock
    let stamped = crate::time::Clock::system().now_string();
    tx.put(
        item(key, entity::NAME_CLAIM, &data, version, &stamped),
        claim,
    );
    tx.put(record.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await)
}

/// Change record `id` of `scope` (see `repo::update`).
pub async fn update<T: Named>(
    table: &dyn Table,
    owner: &str,
    scope: &str,
    id: &str,
    now: &str,
    mut apply: impl FnMut(&mut T) -> ApiResult<()>,
) -> ApiResult<T> {
    super::update(table, &T::key(scope, id), owner, now, |r, _| apply(r)).await
}
