//! The scheduler pass: fire every enabled schedule whose `nextRunAt` is at or before now.
//! The EventBridge function, `runtype schedules tick` and `runtype serve`'s minute timer all
//! call `fire_due`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::repo::layout::{due_pk, DUE_SHARDS};
use crate::repo::schedules::{claim, Claim};
use crate::store::{Index, Position, Query, Table};

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
    /// Due-index pages read.
    pub pages: usize,
}

/// One pass at `now`. Due schedules are found through the sparse due index (never a
/// Scan), a bounded page at a time; one failing schedule does not stop the others.
pub async fn fire_due(table: &dyn Table, now: DateTime<Utc>) -> Summary {
    fire_due_in_pages(table, now, BATCH).await
}

/// `fire_due`, reading the due index `page_size` entries at a time.
pub async fn fire_due_in_pages(table: &dyn Table, now: DateTime<Utc>, page_size: usize) -> Summary {
    let mut summary = Summary::default();
    // Every index key at or before now: "<nextRunAt>#<id>" sorts by time.
    let upto = format!("{}#\u{10FFFF}", crate::time::format(now));
    for shard in 0..DUE_SHARDS {
        let mut after: Option<Position> = None;
        loop {
            let mut q = Query::index(Index::Gsi2, due_pk(shard))
                .after(after.clone())
                .limit(page_size.max(1));
            q.sk_max = Some(upto.clone());
            let page = match table.query(&q).await {
                Ok(page) => page,
                Err(e) => {
                    crate::log::error("scheduler: due index unreadable", &e.to_string());
                    summary.failed += 1;
                    break;
                }
            };
            summary.pages += 1;
            after = page
                .items
                .last()
                .map(|i| Position::of(i, Some(Index::Gsi2)));
            for item in page.items {
                let id = item.key.sk.clone();
                match claim(table, item, now).await {
                    Ok(Claim::Fired) => summary.fired += 1,
                    Ok(Claim::Skipped) => summary.skipped += 1,
                    Err(e) => {
                        crate::log::error(
                            "scheduler: firing failed",
                            &format!("{id}: {}", e.message()),
                        );
                        summary.failed += 1;
                    }
                }
            }
            if !page.more {
                break;
            }
        }
    }
    summary
}
