//! Quotas (API.md "Limits"): a counter item per owner or parent and kind, taken before a
//! create with one atomic check-and-add per counter (never past the limit, however many
//! creates race, in any number of processes) and given back when the create fails or the
//! record is deleted.

use crate::error::{ApiError, ApiResult};
use crate::store::{Bump, Key, Table};

/// One limit on how many of something there may be.
#[derive(Debug, Clone)]
pub struct Quota {
    pub counter: Key,
    pub limit: i64,
    /// What it limits, for the error: "schedules per surface".
    pub what: &'static str,
}

/// Take one of each quota, all or none; 403 `QUOTA_EXCEEDED` naming the first that is full.
pub async fn take(table: &dyn Table, quotas: &[Quota]) -> ApiResult<()> {
    let bumps: Vec<Bump> = quotas
        .iter()
        .map(|q| Bump {
            key: q.counter.clone(),
            delta: 1,
            ceiling: Some(q.limit),
            expires_at: None,
        })
        .collect();
    match table.increment_all(&bumps).await? {
        Ok(_) => Ok(()),
        Err(refused) => {
            let q = &quotas[refused.first().copied().unwrap_or(0)];
            Err(ApiError::QuotaExceeded(format!(
                "Quota exceeded: at most {} {}",
                q.limit, q.what
            )))
        }
    }
}

/// Give `n` of each quota back (a failed create, a delete). A failure is logged: the count
/// stays high, which errs on the side of refusing.
pub async fn give_back(table: &dyn Table, quotas: &[Quota], n: i64) {
    if n <= 0 {
        return;
    }
    for q in quotas {
        if let Err(e) = table.increment(&q.counter, -n, None, None).await {
            crate::log::error("quota: a count could not be given back", &e.to_string());
        }
    }
}
