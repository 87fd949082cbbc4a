//! Products as code: products and surfaces found by name (one Query of the name index,
//! never a scan), and created for a name so that racing ensures create exactly one.
//!
//! Names are not unique, so the index answers every record with the name. An index is
//! eventually consistent on DynamoDB, so a create also writes a claim item for the name
//! (under `NotExists`, or under the version of a claim whose record is gone or renamed): of
//! racing creates one commits, and the others find its record through the claim.

use serde::de::DeserializeOwned;
use serde_json::json;

use crate::app::Limits;
use crate::error::ApiResult;
use crate::model::{Product, Surface};
use crate::store::{Cond, Index, Key, Query, Table};

use super::layout::{self as k, entity};
use super::quota::Quota;
use super::{decode, item, Record, Rejected, Tx};

/// Two records tell "one" from "more than one".
const ENOUGH: usize = 2;

/// The records of `entity` under the name index key `index`, at most two.
async fn named<T: DeserializeOwned>(
    table: &dyn Table,
    index: String,
    kind: &str,
) -> ApiResult<Vec<(T, u64)>> {
    let page = table
        .query(&Query::index(Index::Gsi2, index).limit(ENOUGH))
        .await?;
    page.items
        .iter()
        .filter(|it| it.entity == kind)
        .map(|it| Ok((decode(it)?, it.version)))
        .collect()
}

/// The owner's products named exactly `name` (at most two).
pub async fn products_named(
    table: &dyn Table,
    owner: &str,
    name: &str,
) -> ApiResult<Vec<(Product, u64)>> {
    let found: Vec<(Product, u64)> =
        named(table, k::product_name_index(owner, name), entity::PRODUCT).await?;
    Ok(found
        .into_iter()
        .filter(|(p, _)| p.owner == owner && p.name == name)
        .collect())
}

/// The product's surfaces named exactly `name` (at most two).
pub async fn surfaces_named(
    table: &dyn Table,
    product_id: &str,
    name: &str,
) -> ApiResult<Vec<(Surface, u64)>> {
    let found: Vec<(Surface, u64)> = named(
        table,
        k::surface_name_index(product_id, name),
        entity::SURFACE,
    )
    .await?;
    Ok(found.into_iter().filter(|(s, _)| s.name == name).collect())
}

/// What a name's claim says: the record it names if that still has the name, and the
/// condition a new claim is written under.
pub struct Claim<T> {
    pub record: Option<(T, u64)>,
    pub cond: Cond,
}

async fn claim<T: Record>(
    table: &dyn Table,
    claim: Key,
    record: impl Fn(&str) -> Key,
    still_named: impl Fn(&T) -> bool,
) -> ApiResult<Claim<T>> {
    let Some(c) = table.get(&claim).await? else {
        return Ok(Claim {
            record: None,
            cond: Cond::NotExists,
        });
    };
    let cond = Cond::Version(c.version);
    let id = c.data["id"].as_str().unwrap_or_default();
    let record = match table.get(&record(id)).await? {
        Some(it) => {
            let r: T = decode(&it)?;
            still_named(&r).then_some((r, it.version))
        }
        None => None,
    };
    Ok(Claim { record, cond })
}

/// The product claimed for `name` by an earlier create.
pub async fn product_claim(
    table: &dyn Table,
    owner: &str,
    name: &str,
) -> ApiResult<Claim<Product>> {
    claim(
        table,
        k::product_name_claim(owner, name),
        k::product,
        |p: &Product| p.owner == owner && p.name == name,
    )
    .await
}

/// The surface claimed for `name` by an earlier create.
pub async fn surface_claim(
    table: &dyn Table,
    product_id: &str,
    name: &str,
) -> ApiResult<Claim<Surface>> {
    claim(
        table,
        k::surface_name_claim(product_id, name),
        |id| k::surface(product_id, id),
        |s: &Surface| s.name == name,
    )
    .await
}

/// Put the claim of `key` for record `id` into `tx`, under `cond`.
fn put_claim(tx: &mut Tx, key: Key, id: &str, cond: Cond) {
    let version = match cond {
        Cond::Version(v) => v + 1,
        _ => 1,
    };
    let now = crate::time::now_string();
    tx.put(
        item(key, entity::NAME_CLAIM, &json!({ "id": id }), version, &now),
        cond,
    );
}

/// Create `product` with its name's claim (within the owner's quota). A create that lost a
/// race for the claim is `Err` for `Retry::after`.
pub async fn create_product(
    table: &dyn Table,
    product: &Product,
    claim: Cond,
    limits: &Limits,
) -> ApiResult<Result<(), Rejected>> {
    let mut tx = Tx::default();
    Quota::products(&product.owner).take(&mut tx, limits)?;
    put_claim(
        &mut tx,
        k::product_name_claim(&product.owner, &product.name),
        &product.id,
        claim,
    );
    tx.put(product.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await)
}

/// Create `surface` with its name's claim (within the product's quota), as `create_product`.
pub async fn create_surface(
    table: &dyn Table,
    surface: &Surface,
    claim: Cond,
    limits: &Limits,
) -> ApiResult<Result<(), Rejected>> {
    let mut tx = Tx::default();
    Quota::surfaces(&surface.product_id).take(&mut tx, limits)?;
    put_claim(
        &mut tx,
        k::surface_name_claim(&surface.product_id, &surface.name),
        &surface.id,
        claim,
    );
    let product = tx.check(k::product(&surface.product_id), Cond::Exists);
    tx.or_answer(product, crate::error::ApiError::not_found("Product"));
    tx.put(surface.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await)
}
