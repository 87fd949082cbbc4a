//! Schedules: CRUD on `schedule` surfaces, run history, run-now, and the claim that fires
//! one due occurrence exactly once.

use chrono::{DateTime, Utc};

use crate::cron::{self, Cron};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::{
    Execution, ExecutionStatus, Run, Schedule, Surface, SurfaceType, Trigger, TriggerType,
};
use serde_json::Value;

use crate::store::{Cond, Index, Item, Query, Table, TxOp};

use super::cascade::{self, Subtree};
use super::layout::{self as k, entity};
use super::listing::{paginate, Listing, Paging, Start};
use super::quota::Quota;
use super::{decode, get_owned, item, Record, Retry, Tx};
use crate::config::Limits;

/// How many runs GET schedule shows.
pub const RECENT_RUNS: usize = 20;

impl Record for Schedule {
    /// Only an enabled schedule with a next fire is in the due index.
    fn to_item(&self, version: u64) -> Item {
        let mut it = item(
            k::schedule(&self.product_id, &self.surface_id, &self.id),
            entity::SCHEDULE,
            self,
            version,
            &self.created_at,
        );
        it.gsi1 = Some((k::owner_schedules(&self.owner), self.id.clone()));
        if self.enabled {
            it.gsi2 = self
                .next_run_at
                .as_deref()
                .map(|next| k::due_key(&self.id, next));
        }
        it
    }

    fn touch(&mut self, now: &str) {
        self.updated_at = now.to_string();
    }
}

/// The next fire of `s` strictly after `now`: `None` when disabled, or for a one-time
/// schedule whose time has passed.
pub fn next_fire(s: &Schedule, now: DateTime<Utc>) -> Result<Option<String>, Detail> {
    if !s.enabled {
        return Ok(None);
    }
    match s.trigger_type {
        TriggerType::OneTime => Ok(s
            .run_at
            .as_deref()
            .and_then(crate::time::parse)
            .filter(|t| *t > now)
            .map(crate::time::format)),
        TriggerType::Recurring => {
            let expr = s.cron.as_deref().unwrap_or("");
            let cron = Cron::parse(expr).map_err(|m| Detail::new("cron", "INVALID_FORMAT", m))?;
            let tz = cron::zone(&s.timezone).ok_or_else(|| {
                Detail::new(
                    "timezone",
                    "INVALID_FORMAT",
                    "timezone is not an IANA time zone",
                )
            })?;
            Ok(cron.next_after(tz, now).map(crate::time::format))
        }
    }
}

fn not_a_schedule_surface(surface: &Surface) -> ApiError {
    ApiError::Validation(vec![Detail::new(
        "surfaceId",
        "INVALID_REFERENCE",
        format!(
            "schedules live on surfaces of type \"schedule\"; this surface is \"{}\"",
            surface.kind
        ),
    )])
}

/// The surface (one GetItem), which must be `owner`'s and of type `schedule`.
async fn schedule_surface(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
) -> ApiResult<(Surface, u64)> {
    let (surface, version) = super::surfaces::get(table, owner, product_id, surface_id).await?;
    if surface.kind != SurfaceType::Schedule {
        return Err(not_a_schedule_surface(&surface));
    }
    Ok((surface, version))
}

/// Create the schedule within its quotas, per surface and per owner (403 past one).
pub async fn create(table: &dyn Table, schedule: &Schedule, limits: &Limits) -> ApiResult<()> {
    schedule_surface(
        table,
        &schedule.owner,
        &schedule.product_id,
        &schedule.surface_id,
    )
    .await?;
    let mut tx = Tx::default();
    Quota::schedules_of_surface(&schedule.product_id, &schedule.surface_id)
        .take(&mut tx, limits)?;
    Quota::schedules_of_owner(&schedule.owner).take(&mut tx, limits)?;
    let surface = tx.check(
        k::surface(&schedule.product_id, &schedule.surface_id),
        Cond::Exists,
    );
    tx.or_answer(surface, ApiError::not_found("Surface"));
    tx.put(schedule.to_item(1), Cond::NotExists);
    Ok(tx.commit(table).await?)
}

pub async fn get(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
) -> ApiResult<(Schedule, u64)> {
    get_owned(table, &k::schedule(product_id, surface_id, id), owner).await
}

/// The surface's schedules, oldest first: one Query of the surface's subtree, which also
/// proves the surface is the caller's.
pub async fn list(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
) -> ApiResult<Vec<Schedule>> {
    super::surfaces::get(table, owner, product_id, surface_id).await?; // the owner first
    let page = table
        .query(
            &Query::partition(k::product_pk(product_id)).prefix(k::surface_and_subtree(surface_id)),
        )
        .await?;
    let mut surface = None;
    let mut schedules = Vec::new();
    for it in &page.items {
        match it.entity.as_str() {
            entity::SURFACE => surface = Some(decode::<Surface>(it)?),
            entity::SCHEDULE => schedules.push(decode::<Schedule>(it)?),
            _ => {}
        }
    }
    let surface = surface
        .filter(|s| s.owner == owner)
        .ok_or_else(|| ApiError::not_found("Surface"))?;
    if surface.kind != SurfaceType::Schedule {
        return Err(not_a_schedule_surface(&surface));
    }
    Ok(schedules)
}

/// The newest runs of a schedule, newest first.
pub async fn recent_runs(
    table: &dyn Table,
    schedule_id: &str,
    limit: usize,
) -> ApiResult<Vec<Run>> {
    let page = table
        .query(
            &Query::partition(k::runs_pk(schedule_id))
                .prefix(k::RUNS)
                .descending()
                .limit(limit),
        )
        .await?;
    page.items.iter().map(decode).collect()
}

/// Change the schedule (see `repo::update`). `apply` answers whether trigger fields or
/// `enabled` changed, so `nextRunAt` is computed again from now.
pub async fn update<F>(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
    now: &str,
    mut apply: F,
) -> ApiResult<Schedule>
where
    F: FnMut(&mut Schedule) -> ApiResult<bool>,
{
    let key = k::schedule(product_id, surface_id, id);
    super::update(table, &key, owner, now, |s, _| {
        if apply(s)? {
            s.next_run_at = next_fire(s, crate::time::parse(now).unwrap_or_default())
                .map_err(|d| ApiError::Validation(vec![d]))?;
        }
        Ok(())
    })
    .await
}

/// Delete the schedule: its run history first, the schedule last, so an interrupted delete
/// can be finished by repeating it.
pub async fn delete(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
) -> ApiResult<()> {
    get(table, owner, product_id, surface_id, id).await?; // the owner first
    cascade::delete(table, || async move {
        // the schedule and its runs' executions, side by side
        let (schedule, executions) = futures_util::future::join(
            get(table, owner, product_id, surface_id, id),
            super::executions::keys_of(table, product_id, |e| e.schedule_id.as_deref() == Some(id)),
        )
        .await;
        let ((_, version), executions) = (schedule?, executions?);
        Ok(
            Subtree::of(k::schedule(product_id, surface_id, id), version)
                .children(executions)
                .with_parent_ops(Quota::schedules_of_surface(product_id, surface_id).given_back(1))
                .with_parent_ops(Quota::schedules_of_owner(owner).given_back(1)),
        )
    })
    .await
}

/// The execution of one firing, and the run that mirrors it.
fn firing(
    s: &Schedule,
    trigger: Trigger,
    scheduled_for: Option<String>,
    now: &str,
) -> (Run, Execution) {
    let exec = Execution::for_schedule(s, trigger, scheduled_for, now);
    let run = exec.run().expect("a schedule execution has a run");
    (run, exec)
}

/// Write the run and execution records of a firing in `tx`.
fn record_firing(tx: &mut Tx, run: &Run, exec: &Execution) {
    tx.put(super::executions::run_item(run, 1), Cond::NotExists);
    tx.put(exec.to_item(1), Cond::NotExists);
}

/// Run now: record a run and its execution, leaving `nextRunAt` alone.
pub async fn run_now(
    table: &dyn Table,
    owner: &str,
    product_id: &str,
    surface_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> ApiResult<Run> {
    let (s, _) = get(table, owner, product_id, surface_id, id).await?;
    let (run, exec) = firing(&s, Trigger::Manual, None, &crate::time::format(now));
    let mut tx = Tx::default();
    let schedule = tx.check(k::schedule(product_id, surface_id, id), Cond::Exists);
    tx.or_answer(schedule, ApiError::not_found("Schedule"));
    record_firing(&mut tx, &run, &exec);
    tx.commit(table).await?;
    crate::metrics::one(&crate::metrics::EXECUTIONS_CREATED, "schedule");
    Ok(run)
}

/// What trying to fire one due occurrence came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Fired,
    /// Another pass fired it first, or it changed since it was read.
    Skipped,
}

/// Fire the occurrence `item` (read from the due index) stands for, exactly once: one
/// transaction moves `nextRunAt` on (conditioned on the version read, so only one of any
/// number of concurrent passes succeeds) and writes the run and execution records. A pass
/// that loses reads the schedule again and fires only if the same occurrence is still due.
pub async fn claim(table: &dyn Table, found: Item, now: DateTime<Utc>) -> ApiResult<Claim> {
    let mut found = found;
    let occurrence: Schedule = decode(&found)?;
    let Some(due) = occurrence.next_run_at.clone() else {
        return Ok(Claim::Skipped);
    };
    let mut retry = Retry::default();
    loop {
        let Some(ops) = firing_ops(&found, &due, now)? else {
            return Ok(Claim::Skipped);
        };
        match table.transact(ops).await {
            Ok(()) => return Ok(Claim::Fired),
            Err(e) => {
                retry.after(e).await?;
                match table.get(&found.key).await? {
                    Some(again) => found = again,
                    None => return Ok(Claim::Skipped),
                }
            }
        }
    }
}

/// The one transaction that fires occurrence `due` of the schedule in `found` at `now`: the
/// schedule moved to its next fire (under the version read), its run and its execution;
/// `None` when that occurrence is no longer due.
pub fn firing_ops(found: &Item, due: &str, now: DateTime<Utc>) -> ApiResult<Option<Vec<TxOp>>> {
    let s: Schedule = decode(found)?;
    let still_due = s.enabled
        && s.next_run_at.as_deref() == Some(due)
        && crate::time::parse(due).is_some_and(|t| t <= now);
    if !still_due {
        return Ok(None);
    }
    let now_s = crate::time::format(now);
    let (run, exec) = firing(&s, Trigger::Schedule, Some(due.to_string()), &now_s);
    let mut next = s.clone();
    next.last_run_at = Some(now_s.clone());
    next.updated_at = now_s;
    if next.trigger_type == TriggerType::OneTime {
        next.enabled = false;
        next.next_run_at = None;
    } else {
        // Missed fires coalesce: the next fire is the first after now.
        next.next_run_at = match next_fire(&next, now) {
            Ok(n) => n,
            Err(_) => {
                next.enabled = false;
                None
            }
        };
    }
    Ok(Some(vec![
        TxOp::Put {
            item: next.to_item(found.version + 1),
            cond: Cond::Version(found.version),
        },
        TxOp::Put {
            item: super::executions::run_item(&run, 1),
            cond: Cond::NotExists,
        },
        TxOp::Put {
            item: exec.to_item(1),
            cond: Cond::NotExists,
        },
    ]))
}

/// `owner`'s schedule `id`, wherever it lives: one Query of the owner's schedules index.
pub async fn find(table: &dyn Table, owner: &str, id: &str) -> ApiResult<(Schedule, u64)> {
    let q = Query::index(Index::Gsi1, k::owner_schedules(owner))
        .prefix(id)
        .limit(1);
    let page = table.query(&q).await?;
    let item = page
        .items
        .into_iter()
        .find(|it| it.gsi1.as_ref().is_some_and(|(_, sk)| sk == id))
        .ok_or_else(|| ApiError::not_found("Schedule"))?;
    let s: Schedule = decode(&item)?;
    if s.owner != owner {
        return Err(ApiError::not_found("Schedule"));
    }
    Ok((s, item.version))
}

/// `owner`'s schedules across products, newest first, `active` or `paused` only if asked,
/// names containing `search` (case-insensitive) only if given.
pub async fn list_all(
    table: &dyn Table,
    owner: &str,
    paging: Paging<'_>,
    status: Option<&str>,
    search: Option<&str>,
) -> ApiResult<Listing<Value>> {
    let query = Query::index(Index::Gsi1, k::owner_schedules(owner))
        .descending()
        .limit((paging.limit + 1) * 4);
    let start = Start::of(paging, &query)?;
    let needle = search.map(str::to_lowercase).filter(|s| !s.is_empty());
    let page = paginate(table, query, start, |it| {
        let s: Schedule = decode(it)?;
        let wanted = s.owner == owner
            && status.is_none_or(|st| (st == "active") == s.enabled)
            && needle.as_ref().is_none_or(|n| {
                s.name
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase().contains(n.as_str()))
            });
        Ok(wanted.then_some(s))
    })
    .await?;
    Ok(page.map(|s| s.to_json()))
}

/// A schedule's runs, newest first, a page at a time.
pub async fn runs(
    table: &dyn Table,
    schedule_id: &str,
    paging: Paging<'_>,
) -> ApiResult<Listing<Value>> {
    let query = Query::partition(k::runs_pk(schedule_id))
        .prefix(k::RUNS)
        .descending()
        .limit(paging.limit + 1);
    let start = Start::of(paging, &query)?;
    let page = paginate(table, query, start, |it| Ok(Some(decode::<Run>(it)?))).await?;
    Ok(page.map(|run| run.to_listed_json()))
}

/// What a schedule's runs add up to (every run kept: the retention bounds them), and the
/// last seven UTC days, today last.
pub async fn stats(table: &dyn Table, schedule_id: &str, now: DateTime<Utc>) -> ApiResult<Value> {
    let page = table
        .query(&Query::partition(k::runs_pk(schedule_id)).prefix(k::RUNS))
        .await?;
    let days: Vec<String> = (0..7)
        .rev()
        .map(|back| {
            (now - chrono::Duration::days(back))
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    let mut per_day = vec![(0usize, 0usize); 7];
    let (mut completed, mut failed, mut durations, mut timed) = (0usize, 0usize, 0i64, 0i64);
    for it in &page.items {
        let run: Run = decode(it)?;
        match run.status {
            ExecutionStatus::Completed => completed += 1,
            ExecutionStatus::Failed => failed += 1,
            ExecutionStatus::Queued | ExecutionStatus::Running | ExecutionStatus::Cancelled => {}
        }
        let took = run
            .started_at
            .as_deref()
            .and_then(crate::time::parse)
            .zip(run.completed_at.as_deref().and_then(crate::time::parse))
            .map(|(a, b)| (b - a).num_milliseconds());
        if let Some(ms) = took.filter(|ms| *ms >= 0) {
            durations += ms;
            timed += 1;
        }
        if let Some(day) = days
            .iter()
            .position(|d| run.created_at.starts_with(d.as_str()))
        {
            per_day[day].0 += 1;
            per_day[day].1 += usize::from(run.status == ExecutionStatus::Failed);
        }
    }
    let total = page.items.len();
    let ended = completed + failed;
    Ok(serde_json::json!({
        "total": total,
        "completed": completed,
        "failed": failed,
        "successRate": (ended > 0).then(|| completed as f64 / ended as f64),
        "avgDurationMs": (timed > 0).then(|| durations as f64 / timed as f64),
        "avgCostUsd": null,
        "unpricedExecutions": total,
        "last7Days": days
            .iter()
            .zip(per_day)
            .map(|(date, (runs, failed))| serde_json::json!({ "date": date, "runs": runs, "failed": failed }))
            .collect::<Vec<_>>(),
    }))
}
