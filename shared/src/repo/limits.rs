//! Rate limits: four fixed windows (the key's and the surface's, per UTC minute and UTC day),
//! each a counter item of its own.
//!
//! Admission adds one to every window that applies, all or none (`Table::increment_all`).
//! On DynamoDB each add is a single conditional write that refuses to pass the window's
//! limit, all of them at once; the store applies each check-and-add atomically, so no window
//! ever admits more than its limit, whatever the concurrency and however many Lambda
//! instances share the table, and since no write is a transaction a hot key sees queueing,
//! never `TransactionConflict`. When one window refuses, the ones that accepted are given
//! their count back, so a refused call uses up nothing (for the moment between the add and
//! the refund, a concurrent call may be refused that would have fitted: the error is always
//! on the side of admitting fewer, never more). The embedded store does the same adds in one
//! write transaction, under the file's lock shared by every process: nothing to take back.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::error::ApiResult;
use crate::model::{KeyHash, Surface};
use crate::store::{Admit, Bump, Key, Table};

use super::layout as k;

/// One fixed window that applies to a call.
#[derive(Debug, Clone)]
pub struct Window {
    pub limit: i64,
    /// Unix second at which the window ends (its counter starts over).
    pub resets_at: i64,
    counter: Key,
}

/// What the `X-RateLimit-*` headers say: the tightest window after this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limit: i64,
    pub remaining: i64,
    pub resets_at: i64,
}

impl Standing {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.resets_at.to_string()),
        ]
    }
}

/// What trying to admit a call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted (`None`: no limit applies).
    Admitted(Option<Standing>),
    /// Refused: the tightest refusing window, and whole seconds until it ends.
    Limited(Standing, u64),
}

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// The surface's own limit `name` (`perMinute`, `perDay`) from `config.rateLimit`, if set.
pub fn surface_limit(surface: &Surface, name: &str) -> Option<i64> {
    surface
        .config
        .as_ref()
        .and_then(|c| c.get("rateLimit"))
        .and_then(|r| r.get(name))
        .and_then(|v| v.as_i64())
        .filter(|n| *n >= 1)
}

/// The windows that apply at `now` to a call with `key` on `surface` (an absent limit does
/// not apply).
pub fn windows(key: &KeyHash, surface: &Surface, now: DateTime<Utc>) -> Vec<Window> {
    let surface_limit = |name: &str| surface_limit(surface, name);
    let t = now.timestamp();
    [
        (
            "KEY",
            key.key_id.as_str(),
            "MINUTE",
            MINUTE,
            key.rate_limit_per_minute,
        ),
        (
            "KEY",
            key.key_id.as_str(),
            "DAY",
            DAY,
            key.rate_limit_per_day,
        ),
        (
            "SURFACE",
            surface.id.as_str(),
            "MINUTE",
            MINUTE,
            surface_limit("perMinute"),
        ),
        (
            "SURFACE",
            surface.id.as_str(),
            "DAY",
            DAY,
            surface_limit("perDay"),
        ),
    ]
    .into_iter()
    .filter_map(|(scope, id, span, length, limit)| {
        let limit = limit?;
        let start = t - t.rem_euclid(length);
        Some(Window {
            limit,
            resets_at: start + length,
            counter: k::rate_window(scope, id, span, start),
        })
    })
    .collect()
}

/// The window a key's gateway reads (GET …/api, GET …/api/executions/:id) count in: its own
/// UTC minute of `per_minute` reads, apart from the calls' windows, so polling an execution
/// uses up no call.
pub fn read_window(key: &KeyHash, per_minute: i64, now: DateTime<Utc>) -> Window {
    let t = now.timestamp();
    let start = t - t.rem_euclid(MINUTE);
    Window {
        limit: per_minute,
        resets_at: start + MINUTE,
        counter: k::rate_window("KEYREAD", &key.key_id, "MINUTE", start),
    }
}

/// Count a gateway read in `window`: `Err` is the 429 to answer.
pub async fn admit_read(table: &dyn Table, window: Window, now: DateTime<Utc>) -> ApiResult<()> {
    match admit(table, std::slice::from_ref(&window), now, Admit::default()).await? {
        Admission::Admitted(_) => Ok(()),
        Admission::Limited(standing, wait) => Err(crate::error::ApiError::RateLimited {
            retry_after_secs: wait,
        }
        .with_headers(standing.headers())),
    }
}

/// The tightest of `(window, count)`: least remaining, then soonest reset.
fn tightest<'a>(counts: impl Iterator<Item = (&'a Window, i64)>) -> Option<Standing> {
    counts
        .map(|(w, count)| Standing {
            limit: w.limit,
            remaining: (w.limit - count).max(0),
            resets_at: w.resets_at,
        })
        .min_by_key(|s| (s.remaining, s.resets_at))
}

/// Counter items outlive their window by a little, then TTL removes them.
fn expiry(w: &Window) -> Option<i64> {
    Some(w.resets_at + MINUTE)
}

/// Count the call in every window, or in none (see the module comment), and — only when it
/// is admitted — write `then` (its record, its usage count).
pub async fn admit(
    table: &dyn Table,
    windows: &[Window],
    now: DateTime<Utc>,
    then: Admit,
) -> ApiResult<Admission> {
    let limited: Vec<Bump> = windows
        .iter()
        .map(|w| Bump {
            key: w.counter.clone(),
            delta: 1,
            ceiling: Some(w.limit),
            expires_at: expiry(w),
        })
        .collect();
    match table.admit(Admit { limited, ..then }).await? {
        Ok(counts) => Ok(Admission::Admitted(tightest(windows.iter().zip(counts)))),
        Err(refused) => {
            let refused: Vec<&Window> = refused.iter().map(|i| &windows[*i]).collect();
            let standing =
                tightest(refused.iter().map(|w| (*w, w.limit))).expect("a refusing window");
            let wait = refused
                .iter()
                .map(|w| w.resets_at)
                .max()
                .map_or(1, |end| (end - now.timestamp()).max(1) as u64);
            Ok(Admission::Limited(standing, wait))
        }
    }
}

/// Admit a call whose writes depend on what `read` finds (the gateway: the item a slug
/// names), in as few round trips as the store allows: where the store counts and writes in
/// one atomic step, `read` first and then that step; elsewhere, the call counted in its
/// windows while `read` runs (given back if `read` or `then` refuses it), then the writes.
/// Either way two sequential steps. Answers what `read` found and the admission; the writes
/// `then` makes are done only when admitted.
pub async fn admit_with<T>(
    table: &dyn Table,
    windows: &[Window],
    now: DateTime<Utc>,
    read: impl std::future::Future<Output = ApiResult<T>>,
    then: impl FnOnce(&T) -> ApiResult<Admit>,
) -> ApiResult<(T, Admission)> {
    if table.admits_in_one_step() {
        let found = read.await?;
        let writes = then(&found)?;
        let admission = admit(table, windows, now, writes).await?;
        return Ok((found, admission));
    }
    let (found, counted) = tokio::join!(read, admit(table, windows, now, Admit::default()));
    let admitted = matches!(counted, Ok(Admission::Admitted(_)));
    let refund = |e: crate::error::ApiError| async move {
        if admitted {
            give_back(table, windows).await;
        }
        e
    };
    let found = match found {
        Ok(found) => found,
        Err(e) => return Err(refund(e).await),
    };
    let counted = counted?;
    if let Admission::Limited(..) = counted {
        return Ok((found, counted));
    }
    let writes = match then(&found) {
        Ok(writes) => writes,
        Err(e) => return Err(refund(e).await),
    };
    if let Err(e) = table.admit(writes).await {
        return Err(refund(e.into()).await);
    }
    Ok((found, counted))
}

/// Give back a call counted in every window (one refused after it was counted: an unknown
/// slug, a scope, found out at the same time). A refund that fails leaves a window high
/// until it ends: on the side of admitting fewer, and logged.
pub async fn give_back(table: &dyn Table, windows: &[Window]) {
    let refunds = windows
        .iter()
        .map(|w| table.increment(&w.counter, -1, None, expiry(w)));
    for outcome in join_all(refunds).await {
        if let Err(e) = outcome {
            crate::log::error("counter refund failed", &e.to_string());
        }
    }
}

/// Where the windows stand, without counting anything (for the gateway's reads).
pub async fn standing(table: &dyn Table, windows: &[Window]) -> ApiResult<Option<Standing>> {
    let found = join_all(windows.iter().map(|w| table.get(&w.counter))).await;
    let mut counts = Vec::with_capacity(windows.len());
    for (w, item) in windows.iter().zip(found) {
        counts.push((w, item?.and_then(|i| i.count).unwrap_or(0)));
    }
    Ok(tightest(counts.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Environment, KeyKind};

    fn key(per_minute: Option<i64>, per_day: Option<i64>) -> KeyHash {
        KeyHash {
            key_id: "key_1".into(),
            surface_id: "surf_1".into(),
            product_id: "prod_1".into(),
            owner: "acct_1".into(),
            kind: KeyKind::Papi,
            environment: Environment::Test,
            scopes: vec!["*".into()],
            scope_target_ids: vec![],
            rate_limit_per_minute: per_minute,
            rate_limit_per_day: per_day,
            expires_at: None,
        }
    }

    fn surface(config: serde_json::Value) -> Surface {
        Surface {
            id: "surf_1".into(),
            config: config.as_object().cloned(),
            ..Surface::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        crate::time::parse(s).unwrap()
    }

    #[test]
    fn only_set_limits_apply_each_in_its_utc_window() {
        let now = at("2026-03-04T05:06:07Z");
        assert!(windows(&key(None, None), &surface(serde_json::json!(null)), now).is_empty());
        let s = surface(serde_json::json!({ "rateLimit": { "perMinute": 100, "perDay": 0 } }));
        let w = windows(&key(Some(10), Some(1000)), &s, now);
        // the key's minute and day, the surface's minute (a limit below 1 is none)
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].limit, 10);
        assert_eq!(w[0].resets_at, at("2026-03-04T05:07:00Z").timestamp());
        assert_eq!(w[1].limit, 1000);
        assert_eq!(w[1].resets_at, at("2026-03-05T00:00:00Z").timestamp());
        assert_eq!(w[2].limit, 100);
        // a window's counter is the same all through it and new in the next one
        let later = windows(&key(Some(10), None), &s, at("2026-03-04T05:06:59Z"));
        let next = windows(&key(Some(10), None), &s, at("2026-03-04T05:07:00Z"));
        assert_eq!(w[0].counter, later[0].counter);
        assert_ne!(w[0].counter, next[0].counter);
        assert_ne!(
            w[0].counter, w[2].counter,
            "the key's and the surface's are apart"
        );
    }

    #[test]
    fn the_tightest_window_speaks() {
        let now = at("2026-03-04T05:06:07Z");
        let w = windows(
            &key(Some(10), Some(12)),
            &surface(serde_json::json!(null)),
            now,
        );
        // 3 left of the minute, 2 of the day: the day is tighter
        let s = tightest(w.iter().zip([7, 10])).unwrap();
        assert_eq!((s.limit, s.remaining), (12, 2));
        // equal room: the one that resets first
        let s = tightest(w.iter().zip([8, 10])).unwrap();
        assert_eq!((s.limit, s.remaining, s.resets_at), (10, 2, w[0].resets_at));
        // over the limit reads as none left
        let s = tightest(w.iter().zip([11, 0])).unwrap();
        assert_eq!(s.remaining, 0);
        assert_eq!(tightest(std::iter::empty()), None);
        assert_eq!(s.headers()[0], ("x-ratelimit-limit", "10".to_string()));
    }
}
