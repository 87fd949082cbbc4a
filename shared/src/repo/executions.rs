//! Executions: written by the gateway and the scheduler, listed per product from an index,
//! read and cancelled by the product's owner.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::Execution;
use crate::store::{Index, Item, Query, Table};

use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Start};
use super::{decode, get_owned, item, products, Record};

impl Record for Execution {
    fn to_item(&self, version: u64) -> Item {
        let mut it = item(
            k::execution(&self.id),
            entity::EXECUTION,
            self,
            version,
            &self.created_at,
        );
        it.gsi1 = Some((k::executions_index(&self.product_id), self.id.clone()));
        it
    }

    // Its own stamps (`startedAt`, `completedAt`) say when it changed.
    fn touch(&mut self, _now: &str) {}
}

/// The execution `id` of `owner`'s product `product_id` (one GetItem); anything else is 404.
pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
) -> ApiResult<(Execution, u64)> {
    let (e, version) = get_owned::<Execution>(table, &k::execution(id), owner).await?;
    if e.product_id != product_id {
        return Err(ApiError::not_found("Execution"));
    }
    Ok((e, version))
}

/// What a list keeps.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub surface_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub source: Option<&'a str>,
}

impl Filter<'_> {
    fn keeps(&self, e: &Execution) -> bool {
        self.surface_id.is_none_or(|s| s == e.surface_id)
            && self.status.is_none_or(|s| s == e.status)
            && self.source.is_none_or(|s| s == e.source)
    }
}

/// A product's executions, newest first: the product read (404 for a stranger), then the
/// product's partition of the executions index.
pub async fn list(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    limit: usize,
    cursor: Option<&str>,
    filter: Filter<'_>,
    base: &str,
) -> ApiResult<Listing<Value>> {
    let query = Query::index(Index::Gsi1, k::executions_index(product_id))
        .descending()
        .limit((limit + 1) * 4);
    let start = Start::of(cursor, &query)?;
    products::get(table, owner, product_id).await?;
    let page = paginate(table, query, start, limit, |it| {
        let e: Execution = decode(it)?;
        Ok(filter.keeps(&e).then_some(e))
    })
    .await?;
    Ok(page.map(|e| e.to_json(base)))
}

/// Cancel a queued execution; any other status is 409.
pub async fn cancel(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    now: &str,
) -> ApiResult<Execution> {
    get(table, owner, product_id, id).await?;
    super::update(table, &k::execution(id), owner, |e: &mut Execution, _| {
        if !e.is_queued() {
            return Err(ApiError::Conflict(format!(
                "Only a queued execution can be cancelled; this one is {}",
                e.status
            )));
        }
        e.status = "cancelled".into();
        e.completed_at = Some(now.to_string());
        Ok(())
    })
    .await
}
