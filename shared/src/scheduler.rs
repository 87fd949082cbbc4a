//! The scheduler pass: fire every enabled schedule whose `nextRunAt` is at or before now.
//! The EventBridge function, `runtype schedules tick` and `runtype serve`'s minute timer all
//! call `fire_due_with`.
//!
//! A pass reads what is due from the sparse due index (never a Scan, in bounded pages, the
//! shards side by side), puts the owners' schedules in turn — one of each owner with due
//! work, then the next of each, oldest first within an owner — so one owner with thousands
//! of due schedules cannot hold back another's, and claims them with bounded concurrency.
//! Each claim is one transaction conditioned on the version read, so any number of passes
//! (EventBridge delivers at least once) fire each occurrence once. With a deadline, the
//! pass stops claiming in time; what it leaves (`deferred`) is still due for the next.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::repo::layout::{due_pk, DUE_SHARDS};
use crate::repo::schedules::{claim, Claim};
use crate::store::{Index, Item, Position, Query, Table};

/// Schedules read from the due index per page.
pub const BATCH: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Occurrences fired by this pass.
    pub fired: usize,
    /// Schedules that could not be fired (left due; the next pass tries again).
    pub failed: usize,
    /// Due entries another pass fired first, or that changed while this pass ran.
    pub skipped: usize,
    /// Due entries left for the next pass when the deadline came.
    pub deferred: usize,
    /// Due-index pages read.
    pub pages: usize,
}

/// How a pass runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Claims in flight at once.
    pub concurrency: usize,
    /// Due-index entries per page.
    pub page_size: usize,
    /// No claim is started after this.
    pub deadline: Option<Instant>,
    /// At most this many claims (the rest are deferred).
    pub limit: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: crate::config::SCHEDULER_CONCURRENCY,
            page_size: BATCH,
            deadline: None,
            limit: None,
        }
    }
}

/// One pass at `now` with the default options.
pub async fn fire_due(table: &dyn Table, now: DateTime<Utc>) -> Summary {
    fire_due_with(table, now, &Options::default()).await
}

/// `fire_due`, reading the due index `page_size` entries at a time.
pub async fn fire_due_in_pages(table: &dyn Table, now: DateTime<Utc>, page_size: usize) -> Summary {
    let options = Options {
        page_size,
        ..Options::default()
    };
    fire_due_with(table, now, &options).await
}

/// One pass at `now`.
pub async fn fire_due_with(table: &dyn Table, now: DateTime<Utc>, options: &Options) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::default();
    let due = read_due(table, now, options.page_size.max(1), &mut summary).await;
    let order = in_turn(due);
    let deadline = options.deadline;
    let limit = options.limit.unwrap_or(usize::MAX);
    let claims = stream::iter(order.into_iter().enumerate())
        .map(|(n, item)| async move {
            if n >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                return Outcome::Deferred;
            }
            let id = item.key.sk.clone();
            match claim(table, item, now).await {
                Ok(Claim::Fired) => Outcome::Fired,
                Ok(Claim::Skipped) => Outcome::Skipped,
                Err(e) => {
                    crate::log::error(
                        "scheduler: firing failed",
                        &format!("{id}: {}", e.message()),
                    );
                    Outcome::Failed
                }
            }
        })
        .buffered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    for outcome in claims {
        match outcome {
            Outcome::Fired => summary.fired += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Failed => summary.failed += 1,
            Outcome::Deferred => summary.deferred += 1,
        }
    }
    summary.count(started.elapsed());
    summary
}

impl Summary {
    /// What the pass came to, in the metrics: each due occurrence once (`due`) and again by
    /// its outcome; a fired one is an execution made.
    fn count(&self, took: std::time::Duration) {
        use crate::metrics::{count, time, EXECUTIONS_CREATED, SCHEDULER_OCCURRENCES as S};
        let due = self.fired + self.failed + self.skipped + self.deferred;
        for (outcome, n) in [
            ("due", due),
            ("fired", self.fired),
            ("failed", self.failed),
            ("skipped", self.skipped),
            ("deferred", self.deferred),
        ] {
            count(&S, Some(outcome), n as u64);
        }
        count(&EXECUTIONS_CREATED, Some("schedule"), self.fired as u64);
        time(&crate::metrics::SCHEDULER_PASS_DURATION, took);
    }
}

enum Outcome {
    Fired,
    Skipped,
    Failed,
    Deferred,
}

/// Every due-index entry at or before `now`: the shards read side by side, each a page at
/// a time. A shard that cannot be read counts as one failure (its schedules stay due).
async fn read_due(
    table: &dyn Table,
    now: DateTime<Utc>,
    page_size: usize,
    summary: &mut Summary,
) -> Vec<Item> {
    // Every index key at or before now: "<nextRunAt>#<id>" sorts by time.
    let upto = format!("{}#\u{10FFFF}", crate::time::format(now));
    let shards = (0..DUE_SHARDS).map(|shard| {
        let upto = upto.clone();
        async move {
            let (mut items, mut pages) = (Vec::new(), 0usize);
            let mut after: Option<Position> = None;
            loop {
                let mut q = Query::index(Index::Gsi2, due_pk(shard))
                    .after(after.clone())
                    .limit(page_size);
                q.sk_max = Some(upto.clone());
                let page = match table.query(&q).await {
                    Ok(page) => page,
                    Err(e) => {
                        crate::log::error("scheduler: due index unreadable", &e.to_string());
                        return (items, pages, true);
                    }
                };
                pages += 1;
                after = page
                    .items
                    .last()
                    .map(|i| Position::of(i, Some(Index::Gsi2)));
                let more = page.more;
                items.extend(page.items);
                if !more {
                    return (items, pages, false);
                }
            }
        }
    });
    let mut due = Vec::new();
    for (items, pages, failed) in futures_util::future::join_all(shards).await {
        summary.pages += pages;
        summary.failed += usize::from(failed);
        due.extend(items);
    }
    due
}

/// The order a pass claims in: owners ordered by their oldest due entry, and one entry of
/// each in that order, round after round; within an owner, oldest first.
pub fn in_turn(mut due: Vec<Item>) -> Vec<Item> {
    due.sort_by(|a, b| a.gsi2.cmp(&b.gsi2));
    let mut owners: Vec<String> = Vec::new();
    let mut queues: HashMap<String, VecDeque<Item>> = HashMap::new();
    for item in due {
        let owner = item.data["owner"].as_str().unwrap_or_default().to_string();
        let queue = queues.entry(owner.clone()).or_insert_with(|| {
            owners.push(owner);
            VecDeque::new()
        });
        queue.push_back(item);
    }
    let mut order = Vec::new();
    loop {
        let before = order.len();
        for owner in &owners {
            if let Some(item) = queues.get_mut(owner).and_then(VecDeque::pop_front) {
                order.push(item);
            }
        }
        if order.len() == before {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    fn entry(owner: &str, due: &str, id: &str) -> Item {
        Item {
            key: Key::new("P", id),
            gsi1: None,
            gsi2: Some(("DUE#0".into(), format!("{due}#{id}"))),
            entity: "schedule".into(),
            version: 1,
            created_at: String::new(),
            updated_at: String::new(),
            expires_at: None,
            count: None,
            data: serde_json::json!({ "owner": owner }),
        }
    }

    #[test]
    fn owners_take_turns_oldest_first() {
        let mut due = Vec::new();
        for i in 0..5 {
            due.push(entry(
                "big",
                &format!("2026-01-01T00:00:0{i}Z"),
                &format!("b{i}"),
            ));
        }
        due.push(entry("small", "2026-01-01T00:00:09Z", "s0"));
        due.push(entry("other", "2026-01-01T00:00:08Z", "o0"));
        let ids: Vec<String> = in_turn(due).into_iter().map(|i| i.key.sk).collect();
        assert_eq!(ids, ["b0", "o0", "s0", "b1", "b2", "b3", "b4"]);
    }
}
