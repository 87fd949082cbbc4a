//! Executions: written by the gateway and the scheduler, listed per product from an index,
//! read and cancelled by the product's owner.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::model::{Execution, ExecutionStatus, Run, Source};
use chrono::{DateTime, Utc};

use crate::store::{Cond, Index, Item, Key, Query, StoreError, Table, TxOp};

use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Paging, Start};
use super::{decode, get_owned, item, owned_product, Record, Retry};

/// Executions and runs are kept this many days (`Config::retention_days`), then expire
/// (DynamoDB's TTL; the embedded store purges them). Process-wide: every write of an
/// execution stamps its expiry, wherever it is made.
static RETENTION_DAYS: AtomicI64 = AtomicI64::new(30);

pub fn retention_days() -> i64 {
    RETENTION_DAYS.load(Ordering::Relaxed)
}

/// Set once when the app is built (`App::with_table`).
pub fn set_retention_days(days: i64) {
    RETENTION_DAYS.store(days, Ordering::Relaxed);
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
    pub status: Option<ExecutionStatus>,
    pub source: Option<Source>,
    /// Made with this surface key (a protocol surface lists only its caller's).
    pub key_id: Option<&'a str>,
    /// Of this A2A conversation.
    pub context_id: Option<&'a str>,
}

impl Filter<'_> {
    fn keeps(&self, e: &Execution) -> bool {
        self.surface_id.is_none_or(|s| s == e.surface_id)
            && self.status.is_none_or(|s| s == e.status)
            && self.source.is_none_or(|s| s == e.source)
            && self.key_id.is_none_or(|k| Some(k) == e.key_id.as_deref())
            && self
                .context_id
                .is_none_or(|c| Some(c) == e.context_id.as_deref())
    }
}

/// A product's executions, newest first: the product read (404 for a stranger), then the
/// product's partition of the executions index.
pub async fn list(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    paging: Paging<'_>,
    filter: Filter<'_>,
    base: &str,
) -> ApiResult<Listing<Value>> {
    let query = Query::index(Index::Gsi1, k::executions_index(product_id))
        .descending()
        .limit((paging.limit + 1) * 4);
    let start = Start::of(paging, &query)?;
    owned_product(table, owner, product_id).await?;
    let page = paginate(table, query, start, |it| {
        let e: Execution = decode(it)?;
        Ok(filter.keeps(&e).then_some(e))
    })
    .await?;
    Ok(page.map(|e| e.to_json(base)))
}

/// The executions `filter` keeps of a product the caller has already been admitted to (a
/// verified surface key), newest first, from the product's executions index.
pub async fn list_made(
    table: &dyn Table,
    product_id: &str,
    paging: Paging<'_>,
    filter: Filter<'_>,
) -> ApiResult<Listing<Execution>> {
    let query = Query::index(Index::Gsi1, k::executions_index(product_id))
        .descending()
        .limit((paging.limit + 1) * 4);
    let start = Start::of(paging, &query)?;
    paginate(table, query, start, |it| {
        let e: Execution = decode(it)?;
        Ok(filter.keeps(&e).then_some(e))
    })
    .await
}

/// Cancel a queued execution; any other status is 409.
pub async fn cancel(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    id: &str,
    now: &str,
) -> ApiResult<Execution> {
    // one read and one conditional write: the product is checked on the record the update
    // reads, as `get` would
    super::update(
        table,
        &k::execution(id),
        owner,
        now,
        |e: &mut Execution, _| {
            if e.product_id != product_id {
                return Err(ApiError::not_found("Execution"));
            }
            e.cancel(now).map_err(|status| {
                ApiError::Conflict(format!(
                    "Only a queued execution can be cancelled; this one is {status}"
                ))
            })
        },
    )
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

/// Executions due for delivery at `now` (queued ones whose attempt is due, running ones
/// whose claim lapsed), from the delivery index, oldest first: one Query per shard, each of
/// at most `per_shard`.
pub async fn due(table: &dyn Table, now: DateTime<Utc>, per_shard: usize) -> ApiResult<Vec<Item>> {
    let upto = format!("{}#\u{10FFFF}", crate::time::format(now));
    let queries = (0..k::DELIVERY_SHARDS).map(|shard| {
        let mut q = Query::index(Index::Gsi2, k::delivery_pk(shard)).limit(per_shard);
        q.sk_max = Some(upto.clone());
        q
    });
    let pages =
        futures_util::future::join_all(queries.map(|q| async move { table.query(&q).await })).await;
    let mut found = Vec::new();
    for page in pages {
        found.extend(page?.items);
    }
    found.sort_by(|a, b| a.gsi2.cmp(&b.gsi2));
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

/// What a runner that answered 202 reports on the execution it took (API.md "Runners that
/// answer later").
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Completed(Value),
    Failed(String),
}

impl Report {
    /// Whether `e` ended as this report says (a repeated report is answered again).
    fn is_how(&self, e: &Execution) -> bool {
        match self {
            Report::Completed(result) => {
                e.status == ExecutionStatus::Completed && e.result.as_ref() == Some(result)
            }
            Report::Failed(error) => {
                e.status == ExecutionStatus::Failed && e.error.as_deref() == Some(error)
            }
        }
    }
}

/// End the execution `id` as its runner reports, authorised by the callback token of its
/// attempt (compared by hash). A wrong token or an unknown execution: 401, alike. An
/// execution already ended: the same report again is answered again; another is 409. Written
/// under the version read (a deliverer's write in between is read again), with the run it
/// mirrors.
pub async fn report(
    table: &dyn Table,
    id: &str,
    token: &str,
    report: &Report,
    now: DateTime<Utc>,
) -> ApiResult<Execution> {
    let refused = || ApiError::Unauthorized("Invalid callback token or unknown execution".into());
    let presented = crate::secrets::hash(token);
    let mut retry = Retry::default();
    loop {
        let Some(found) = find(table, id).await? else {
            return Err(refused());
        };
        let mut e: Execution = decode(&found)?;
        if e.delivery.callback.as_deref() != Some(presented.as_str()) {
            return Err(refused());
        }
        if e.is_final() {
            return match report.is_how(&e) {
                true => Ok(e),
                false => Err(ApiError::Conflict(format!(
                    "This execution has already ended ({}); only the same report may be sent again",
                    e.status
                ))),
            };
        }
        if e.status != ExecutionStatus::Running {
            return Err(ApiError::Conflict(format!(
                "This execution is {}: no attempt awaits a report",
                e.status
            )));
        }
        match report {
            Report::Completed(result) => e.complete(result.clone(), now),
            Report::Failed(error) => e.fail(error.clone(), now),
        }
        let written = settle_all(table, &[(e.clone(), found.version)]).await;
        match written.into_iter().next() {
            Some(Ok(true)) => {
                crate::metrics::one(&crate::metrics::RUNNER_REPORTS, "on_time");
                return Ok(e);
            }
            Some(Err(err)) => return Err(err),
            // a deliverer wrote it meanwhile: read it again
            Some(Ok(false)) | None => retry.after(super::Failure::Raced).await?,
        }
    }
}

/// End every execution whose runner took it (202) and did not report by its deadline: failed,
/// "the runner did not report". For a deployment whose deliverer runs only on events (the
/// delivery function), the scheduled function calls this each minute; a background deliverer
/// does the same in its passes. Answers how many it ended.
pub async fn fail_unreported(table: &dyn Table, now: DateTime<Utc>) -> ApiResult<usize> {
    let mut overdue = Vec::new();
    for it in due(table, now, 64).await? {
        let mut e: Execution = decode(&it)?;
        if e.delivery.awaiting_report && e.status == ExecutionStatus::Running {
            e.fail("the runner did not report".into(), now);
            overdue.push((e, it.version));
        }
    }
    let mut ended = 0;
    for written in settle_all(table, &overdue).await {
        // one written meanwhile (its report came) is left as it is
        ended += usize::from(written?);
    }
    crate::metrics::count(
        &crate::metrics::RUNNER_REPORTS,
        Some("timed_out"),
        ended as u64,
    );
    Ok(ended)
}

/// The execution `id` once it has ended, or as it stands at `deadline`: read at once, then
/// again when this process says it settled that execution (`settled` carries the ids), else
/// once a second — never more than once a second for want of news (a long poll holds no lock and costs one read a second). `None`:
/// it is gone.
pub async fn until_final(
    table: &dyn Table,
    id: &str,
    deadline: std::time::Instant,
    settled: &tokio::sync::broadcast::Sender<String>,
) -> ApiResult<Option<Execution>> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        // subscribed before the read, so a settle written after the read still wakes it
        let mut news = settled.subscribe();
        let Some(found) = find(table, id).await? else {
            return Ok(None);
        };
        let e: Execution = decode(&found)?;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if e.is_final() || left.is_zero() {
            return Ok(Some(e));
        }
        let tick = std::time::Instant::now() + left.min(std::time::Duration::from_secs(1));
        // until the next second, or news of this execution (or news missed: read again)
        let _ = tokio::time::timeout_at(tick.into(), async {
            loop {
                match news.recv().await {
                    Ok(settled) if settled != id => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        })
        .await;
    }
}

/// The execution stored under `id`, with its item's version (deliverers read it by id).
pub async fn find(table: &dyn Table, id: &str) -> ApiResult<Option<Item>> {
    Ok(table.get(&k::execution(id)).await?)
}

/// Take each execution (read at its version, and due) for one attempt at `now`, with the
/// claim `lease` gives it: every write conditioned on the version read, so of any number
/// of deliverers that read one, exactly one wins; the others get `None` for it. One write
/// for the lot.
pub async fn claim_all(
    table: &dyn Table,
    batch: Vec<(Execution, u64)>,
    now: DateTime<Utc>,
    lease: impl Fn(&Execution) -> chrono::Duration,
) -> Vec<ApiResult<Option<(Execution, u64)>>> {
    let batch: Vec<(Execution, u64)> = batch
        .into_iter()
        .map(|(mut e, v)| {
            let lease = lease(&e);
            e.claim(now, lease);
            (e, v)
        })
        .collect();
    let written = write_all(table, &batch).await;
    batch
        .into_iter()
        .zip(written)
        .map(|((e, v), w)| Ok(w?.then(|| (e, v + 1))))
        .collect()
}

/// Store what became of each attempt (the execution as its deliverer left it, with the
/// run it mirrors) under the version its claim wrote. `false`: the claim was lost meanwhile
/// (it lapsed and another deliverer took it) or the execution is gone; nothing was written.
pub async fn settle_all(table: &dyn Table, batch: &[(Execution, u64)]) -> Vec<ApiResult<bool>> {
    write_all(table, batch).await
}

/// The writes of one execution over `version`: the execution, and its run if it has one
/// (which must still be there: the run goes with its schedule, and so does the execution).
fn writes(e: &Execution, version: u64) -> Vec<TxOp> {
    let mut ops = vec![TxOp::Put {
        item: e.to_item(version + 1),
        cond: Cond::Version(version),
    }];
    if let Some(run) = e.run() {
        ops.push(TxOp::Put {
            item: run_item(&run, version + 1),
            cond: Cond::Exists,
        });
    }
    ops
}

/// Write each execution over its version, in one step. A condition that fails may be this
/// very write, applied but unanswered and sent again (a timeout, a retry): the item is read
/// back, and if it holds exactly what was written (its claim is unique) the write is ours.
async fn write_all(table: &dyn Table, batch: &[(Execution, u64)]) -> Vec<ApiResult<bool>> {
    let groups = batch.iter().map(|(e, v)| writes(e, *v)).collect();
    let results = table.transact_each(groups).await;
    let checks = batch
        .iter()
        .zip(results)
        .map(|((e, v), result)| async move {
            match result {
                Ok(()) => Ok(true),
                Err(StoreError::ConditionFailed) => ours(table, e, *v).await,
                Err(StoreError::Cancelled(failed)) if !failed.is_empty() => {
                    ours(table, e, *v).await
                }
                // a lost race with another transaction decided nothing: write it again
                Err(raced @ StoreError::Cancelled(_)) => {
                    let mut retry = Retry::default();
                    retry.after(raced).await?;
                    loop {
                        match table.transact(writes(e, *v)).await {
                            Ok(()) => return Ok(true),
                            Err(StoreError::Cancelled(f)) if !f.is_empty() => {
                                return ours(table, e, *v).await
                            }
                            Err(other) => retry.after(other).await?,
                        }
                    }
                }
                Err(other) => Err(other.into()),
            }
        });
    futures_util::future::join_all(checks).await
}

/// Whether the execution now holds exactly `e` written over `version`.
async fn ours(table: &dyn Table, e: &Execution, version: u64) -> ApiResult<bool> {
    let Some(again) = table.get(&k::execution(&e.id)).await? else {
        return Ok(false);
    };
    Ok(again.version == version + 1 && decode::<Execution>(&again)? == *e)
}
