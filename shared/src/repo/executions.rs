//! Executions: written by the gateway and the scheduler, listed per product from an index,
//! read and cancelled by the product's owner.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::{Execution, Run};
use chrono::{DateTime, Utc};

use crate::store::{Cond, Index, Item, Key, Query, StoreError, Table};

use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Start};
use super::{decode, get_owned, item, products, Record, Retry, Tx};

/// Executions and runs are kept this many days (`RUNTYPE_EXECUTION_RETENTION_DAYS`,
/// default 30), then expire (DynamoDB's TTL; the embedded store purges them).
pub fn retention_days() -> i64 {
    static DAYS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *DAYS.get_or_init(|| {
        std::env::var("RUNTYPE_EXECUTION_RETENTION_DAYS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|d| *d > 0)
            .unwrap_or(30)
    })
}

/// The Unix second at which a record made at `created_at` expires.
fn expiry(created_at: &str) -> Option<i64> {
    crate::time::parse(created_at).map(|t| t.timestamp() + retention_days() * 86_400)
}

impl Record for Execution {
    /// In the product's executions index always; in the delivery index while a deliverer
    /// may take it.
    fn to_item(&self, version: u64) -> Item {
        let mut it = item(
            k::execution(&self.id),
            entity::EXECUTION,
            self,
            version,
            &self.created_at,
        );
        it.gsi1 = Some((k::executions_index(&self.product_id), self.id.clone()));
        it.gsi2 = self.due_at().map(|due| k::delivery_key(&self.id, due));
        it.expires_at = expiry(&self.created_at);
        it
    }

    // Its own stamps (`startedAt`, `completedAt`) say when it changed.
    fn touch(&mut self, _now: &str) {}
}

/// A schedule run's item (in its schedule's run partition).
pub fn run_item(run: &Run, version: u64) -> Item {
    let mut it = item(
        k::run(&run.schedule_id, &run.id),
        entity::RUN,
        run,
        version,
        &run.created_at,
    );
    it.expires_at = expiry(&run.created_at);
    it
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

/// Keys of a product's executions that `keep` selects, and of the schedule runs they
/// mirror onto (a run and its execution are made, kept and deleted together), for
/// cascades: one Query of the product's executions index.
pub async fn keys_of(
    table: &dyn Table,
    product_id: &str,
    keep: impl Fn(&Execution) -> bool,
) -> ApiResult<Vec<Key>> {
    let page = table
        .query(&Query::index(Index::Gsi1, k::executions_index(product_id)))
        .await?;
    let mut keys = Vec::new();
    for it in &page.items {
        let e: Execution = decode(it)?;
        if keep(&e) {
            if let (Some(schedule), Some(run)) = (&e.schedule_id, &e.run_id) {
                keys.push(k::run(schedule, run));
            }
            keys.push(it.key.clone());
        }
    }
    Ok(keys)
}

/// Up to `limit` executions due for delivery at `now` (queued ones whose attempt is due,
/// running ones whose claim lapsed), from the delivery index: one Query per shard.
pub async fn due(table: &dyn Table, now: DateTime<Utc>, limit: usize) -> ApiResult<Vec<Item>> {
    let upto = format!("{}#\u{10FFFF}", crate::time::format(now));
    let mut found = Vec::new();
    for shard in 0..k::DELIVERY_SHARDS {
        let mut q = Query::index(Index::Gsi2, k::delivery_pk(shard)).limit(limit);
        q.sk_max = Some(upto.clone());
        found.extend(table.query(&q).await?.items);
    }
    // oldest first across shards, so a backlog drains in order
    found.sort_by(|a, b| a.gsi2.cmp(&b.gsi2));
    found.truncate(limit);
    Ok(found)
}

/// The earliest time any execution in the delivery index is due, if any.
pub async fn next_due(table: &dyn Table) -> ApiResult<Option<DateTime<Utc>>> {
    let mut next: Option<DateTime<Utc>> = None;
    for shard in 0..k::DELIVERY_SHARDS {
        let q = Query::index(Index::Gsi2, k::delivery_pk(shard)).limit(1);
        let first = table.query(&q).await?.items.into_iter().next();
        let due = first
            .and_then(|it| it.gsi2)
            .and_then(|(_, sk)| sk.rsplit_once('#').and_then(|(t, _)| crate::time::parse(t)));
        if let Some(due) = due {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    Ok(next)
}

/// The execution stored under `id`, with its item's version (deliverers read it by id).
pub async fn find(table: &dyn Table, id: &str) -> ApiResult<Option<Item>> {
    Ok(table.get(&k::execution(id)).await?)
}

/// Take the execution in `found` for one attempt at `now`, if it is due: it becomes
/// `running`, its attempt count goes up, and its claim lasts `lease`. The write is
/// conditioned on the version read, so of any number of deliverers that read it, exactly
/// one wins; the others answer `None`.
pub async fn claim(
    table: &dyn Table,
    found: &Item,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> ApiResult<Option<(Execution, u64)>> {
    let mut e: Execution = decode(found)?;
    let due = e.due_at().and_then(crate::time::parse);
    if due.is_none_or(|due| due > now) {
        return Ok(None);
    }
    let now_s = crate::time::format(now);
    e.status = "running".into();
    e.attempts += 1;
    e.started_at.get_or_insert(now_s);
    e.delivery.next_attempt_at = None;
    e.delivery.lease_until = Some(crate::time::format(now + lease));
    e.delivery.claim = Some(crate::ids::new_id("claim"));
    Ok(write(table, &e, found.version)
        .await?
        .then(|| (e, found.version + 1)))
}

/// Store what became of an attempt (`e` as the deliverer left it), with its run, under
/// the version the claim wrote. `false`: the claim was lost meanwhile (it lapsed and
/// another deliverer took it) or the execution is gone; nothing was written.
pub async fn settle(table: &dyn Table, e: &Execution, version: u64) -> ApiResult<bool> {
    write(table, e, version).await
}

/// Write `e` over `version`. A condition that fails may be this very write, applied but
/// unanswered and sent again (a timeout, a retry): the item is read back, and if it holds
/// exactly `e` (whose claim is unique) the write is ours.
async fn write(table: &dyn Table, e: &Execution, version: u64) -> ApiResult<bool> {
    if write_once(table, e, version).await? {
        return Ok(true);
    }
    let Some(again) = table.get(&k::execution(&e.id)).await? else {
        return Ok(false);
    };
    Ok(again.version == version + 1 && decode::<Execution>(&again)? == *e)
}

async fn write_once(table: &dyn Table, e: &Execution, version: u64) -> ApiResult<bool> {
    let next = e.to_item(version + 1);
    let Some(run) = e.run() else {
        return match table.put(next, Cond::Version(version)).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        };
    };
    // the run goes with its schedule: if it is gone, so is (or soon will be) the execution
    let mut retry = Retry::default();
    loop {
        let mut tx = Tx::default();
        tx.put(next.clone(), Cond::Version(version));
        tx.put(run_item(&run, version + 1), Cond::Exists);
        match tx.commit(table).await {
            Ok(()) => return Ok(true),
            Err(rejected) => match rejected.into_store_error() {
                StoreError::Cancelled(failed) if !failed.is_empty() => return Ok(false),
                // a lost race with another transaction: nothing was decided, try again
                raced @ StoreError::Cancelled(_) => retry.after(raced).await?,
                other => return Err(other.into()),
            },
        }
    }
}
