//! What the service counts and times, named once (README "Operating it"): each family's
//! Prometheus name, its CloudWatch name, unit and help, and the bounded values of its one
//! label (an outcome or a source — never an owner, key or product). Counting is an atomic
//! add; the figures leave the process two ways: on Lambda as CloudWatch Embedded Metric
//! Format fields of the invocation's own log line (`take_emf`: what was counted since the
//! last line), locally as Prometheus text (`snapshot`, rendered by the command).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric when none is configured.
pub const NAMESPACE: &str = "Runtype";

static CONFIGURED_NAMESPACE: OnceLock<String> = OnceLock::new();

fn namespace() -> &'static str {
    CONFIGURED_NAMESPACE.get().map_or(NAMESPACE, String::as_str)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count of events (CloudWatch `Count`; Prometheus `counter`).
    Counter,
    /// A duration in milliseconds (CloudWatch `Milliseconds`; Prometheus `histogram` in
    /// seconds).
    Timing,
}

/// One family of series.
#[derive(Debug)]
pub struct Family {
    /// Prometheus name, less the `runtype_` prefix (and `_total` / `_seconds`).
    pub name: &'static str,
    /// CloudWatch name; with a label, each value's series is this plus the value in
    /// CamelCase (`GatewayCalls` + `rate_limited` → `GatewayCallsRateLimited`), so that one
    /// log line can carry several outcomes under the one dimension, `Function`.
    pub emf: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// The label's name and its only values.
    pub label: Option<(&'static str, &'static [&'static str])>,
}

macro_rules! families {
    ($($id:ident = $name:literal, $emf:literal, $kind:ident, $label:expr, $help:literal;)*) => {
        $(pub static $id: Family = Family {
            name: $name, emf: $emf, kind: Kind::$kind, help: $help, label: $label,
        };)*
        /// Every family, in the order of the README's table.
        pub static FAMILIES: &[&Family] = &[$(&$id),*];
    };
}

families! {
    GATEWAY_CALLS = "gateway_calls", "GatewayCalls", Counter,
        Some(("outcome", &["admitted", "unauthorized", "forbidden", "rate_limited", "invalid"])),
        "Calls through a surface's gateway (api, mcp, a2a), by outcome";
    EXECUTIONS_CREATED = "executions_created", "ExecutionsCreated", Counter,
        Some(("source", &["surface", "schedule"])),
        "Executions made, by what made them";
    DELIVERY_ATTEMPTS = "delivery_attempts", "DeliveryAttempts", Counter,
        Some(("outcome", &["completed", "accepted", "retried", "failed", "cancelled"])),
        "Attempts to hand an execution to the runner, by what they came to";
    DELIVERY_ATTEMPT_DURATION = "delivery_attempt_duration", "DeliveryAttemptDuration", Timing,
        None, "How long an attempt's request to the runner took";
    RUNNER_REPORTS = "runner_reports", "RunnerReports", Counter,
        Some(("outcome", &["on_time", "timed_out"])),
        "Outcomes of runners that answer later: reported in time, or failed for want of a report";
    SCHEDULER_OCCURRENCES = "scheduler_occurrences", "Scheduler", Counter,
        Some(("outcome", &["due", "fired", "failed", "skipped", "deferred"])),
        "Due schedule occurrences a pass saw, and what came of them (deferred: left for the next pass)";
    SCHEDULER_PASS_DURATION = "scheduler_pass_duration", "SchedulerPassDuration", Timing,
        None, "How long a scheduler pass took";
    QUOTA_REFUSALS = "quota_refusals", "QuotaRefusals", Counter, None,
        "Writes refused for a quota (403 QUOTA_EXCEEDED)";
    IDEMPOTENT_REPLAYS = "idempotent_replays", "IdempotentReplays", Counter, None,
        "POSTs answered again from their Idempotency-Key";
    STORAGE_ERRORS = "storage_errors", "StorageErrors", Counter, None,
        "Storage failures answered 503 or 500";
}

/// Histogram buckets of the timings, in seconds.
pub const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A series: a family and (for a labelled one) the index of its label's value.
fn slot(family: &Family, value: Option<&str>) -> Option<usize> {
    let (f, _) = FAMILIES
        .iter()
        .enumerate()
        .find(|(_, f)| std::ptr::eq(**f, family))?;
    let base: usize = FAMILIES[..f].iter().map(|f| width(f)).sum();
    let offset = match (family.label, value) {
        (None, None) => 0,
        (Some((_, values)), Some(v)) => values.iter().position(|x| *x == v)?,
        _ => return None,
    };
    Some(base + offset)
}

fn width(f: &Family) -> usize {
    f.label.map_or(1, |(_, values)| values.len())
}

fn series_count() -> usize {
    FAMILIES.iter().map(|f| width(f)).sum()
}

/// Counts (for a timing: how many) and, for timings, the sum in microseconds and the
/// bucket counts.
struct Store {
    counts: Vec<AtomicU64>,
    sums_us: Vec<AtomicU64>,
    buckets: Vec<[AtomicU64; BUCKETS.len()]>,
    /// On Lambda: what was counted since the last log line, and the timings' samples.
    pending: Mutex<Vec<(usize, f64)>>,
}

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let n = series_count();
        Store {
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sums_us: (0..n).map(|_| AtomicU64::new(0)).collect(),
            buckets: (0..n)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            pending: Mutex::new(Vec::new()),
        }
    })
}

/// Whether figures are kept for the invocation's log line (on Lambda only: a local server
/// has nothing to drain them).
static EMF: AtomicBool = AtomicBool::new(false);

/// Keep what is counted for each invocation's log line (`take_emf`), under `namespace`.
pub fn enable_emf(namespace: &str) {
    let _ = CONFIGURED_NAMESPACE.set(namespace.to_string());
    EMF.store(true, Ordering::Relaxed);
}

/// Count `n` in `family` (with its label's `value`); an unknown value is a bug the tests
/// catch, never a new series.
pub fn count(family: &Family, value: Option<&str>, n: u64) {
    if n == 0 {
        return;
    }
    let Some(i) = slot(family, value) else {
        debug_assert!(false, "no series {}/{value:?}", family.name);
        return;
    };
    let s = store();
    s.counts[i].fetch_add(n, Ordering::Relaxed);
    if EMF.load(Ordering::Relaxed) {
        if let Ok(mut p) = s.pending.lock() {
            p.push((i, n as f64));
        }
    }
}

/// One of `family`'s events, with its label's `value`.
pub fn one(family: &Family, value: &str) {
    count(family, Some(value), 1);
}

/// A duration in `family`.
pub fn time(family: &Family, took: std::time::Duration) {
    let Some(i) = slot(family, None) else {
        return;
    };
    let s = store();
    s.counts[i].fetch_add(1, Ordering::Relaxed);
    s.sums_us[i].fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    let secs = took.as_secs_f64();
    for (b, le) in BUCKETS.iter().enumerate() {
        if secs <= *le {
            s.buckets[i][b].fetch_add(1, Ordering::Relaxed);
        }
    }
    if EMF.load(Ordering::Relaxed) {
        if let Ok(mut p) = s.pending.lock() {
            p.push((i, (took.as_secs_f64() * 1000.0 * 100.0).round() / 100.0));
        }
    }
}

/// The CloudWatch name of series `i`.
fn emf_name(i: usize) -> Option<(&'static Family, String)> {
    let mut base = 0;
    for f in FAMILIES {
        let w = width(f);
        if i < base + w {
            let name = match f.label {
                None => f.emf.to_string(),
                Some((_, values)) => format!("{}{}", f.emf, camel(values[i - base])),
            };
            return Some((f, name));
        }
        base += w;
    }
    None
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The Embedded Metric Format fields for the invocation's log line: what was counted since
/// the last line (none: nothing), under the dimension `Function` = `function` and no
/// dimension at all (the whole stack). Merged into the line, they make it a metric record.
pub fn take_emf(function: &str) -> Option<Map<String, Value>> {
    if !EMF.load(Ordering::Relaxed) {
        return None;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let pending = std::mem::take(&mut *store().pending.lock().ok()?);
    if pending.is_empty() {
        return None;
    }
    let mut by_series: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for (i, v) in pending {
        by_series.entry(i).or_default().push(v);
    }
    let mut fields = Map::new();
    let mut metrics = Vec::new();
    for (i, samples) in by_series {
        let Some((family, name)) = emf_name(i) else {
            continue;
        };
        // a count is the sum of what was counted; a timing, its samples
        let (unit, value) = match family.kind {
            Kind::Counter => ("Count", json!(samples.iter().sum::<f64>())),
            Kind::Timing => ("Milliseconds", json!(samples)),
        };
        metrics.push(json!({ "Name": name, "Unit": unit }));
        fields.insert(name, value);
    }
    fields.insert("Function".into(), json!(function));
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace(),
                "Dimensions": [["Function"], []],
                "Metrics": metrics,
            }],
        }),
    );
    Some(fields)
}

/// One series as it stands: its family, label value, count, and (timings) sum in seconds
/// and cumulative bucket counts.
#[derive(Debug, Clone)]
pub struct Figure {
    pub family: &'static Family,
    pub value: Option<&'static str>,
    pub count: u64,
    pub sum_secs: f64,
    pub buckets: Vec<u64>,
}

/// Every series as it stands (the local `/metrics`).
pub fn snapshot() -> Vec<Figure> {
    let s = store();
    let mut out = Vec::new();
    let mut i = 0;
    for f in FAMILIES {
        let values: Vec<Option<&'static str>> = match f.label {
            None => vec![None],
            Some((_, values)) => values.iter().map(|v| Some(*v)).collect(),
        };
        for value in values {
            out.push(Figure {
                family: f,
                value,
                count: s.counts[i].load(Ordering::Relaxed),
                sum_secs: s.sums_us[i].load(Ordering::Relaxed) as f64 / 1e6,
                buckets: s.buckets[i]
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
            });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for f in FAMILIES {
            match f.label {
                None => assert!(seen.insert(slot(f, None).unwrap())),
                Some((_, values)) => {
                    for v in values.iter() {
                        assert!(seen.insert(slot(f, Some(v)).unwrap()), "{}", f.name);
                    }
                    assert_eq!(slot(f, Some("not a value")), None);
                }
            }
        }
        assert_eq!(seen.len(), series_count());
        assert_eq!(
            emf_name(slot(&GATEWAY_CALLS, Some("rate_limited")).unwrap())
                .unwrap()
                .1,
            "GatewayCallsRateLimited"
        );
    }
}
