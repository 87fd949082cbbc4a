//! The local server's operator endpoints, off the `/v1` namespace and never on Lambda:
//! `GET /metrics` (the service's counters in the Prometheus/OpenMetrics text format, written
//! by Prometheus' own client library) and `GET /healthz` (200 when the store answers, else
//! 503). Neither takes a key: bind the server where only its operator reaches it.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use runtype::app::App;
use runtype::metrics::{self, Figure, Kind};
use runtype::store::Key;

/// The content type of `/metrics` (what the library writes).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A timing as it stands: the histogram the library writes from counts kept elsewhere.
#[derive(Debug)]
struct Timing {
    sum: f64,
    count: u64,
    /// (upper bound, count in this bucket alone), the last +Inf.
    buckets: Vec<(f64, u64)>,
}

impl Timing {
    fn of(f: &Figure) -> Timing {
        let mut buckets = Vec::with_capacity(metrics::BUCKETS.len() + 1);
        let mut below = 0;
        // the figures are read one at a time while others count: never below zero
        for (le, cumulative) in metrics::BUCKETS.iter().zip(&f.buckets) {
            buckets.push((*le, cumulative.saturating_sub(below)));
            below = below.max(*cumulative);
        }
        buckets.push((f64::INFINITY, f.count.saturating_sub(below)));
        Timing {
            sum: f.sum_secs,
            count: f.count,
            buckets,
        }
    }
}

impl EncodeMetric for Timing {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Every series as it stands, in the text format.
pub fn metrics_text() -> String {
    let mut registry = Registry::with_prefix("runtype");
    let figures = metrics::snapshot();
    for family in metrics::FAMILIES {
        let mine: Vec<&Figure> = figures
            .iter()
            .filter(|f| std::ptr::eq(f.family, *family))
            .collect();
        match (family.kind, family.label) {
            (Kind::Counter, Some((label, _))) => {
                let values = mine
                    .iter()
                    .map(|f| (f.value.unwrap_or_default(), f.count))
                    .collect();
                registry.register(family.name, family.help, LabelledCounts { label, values });
            }
            (Kind::Counter, None) => {
                let count: u64 = mine.iter().map(|f| f.count).sum();
                registry.register(family.name, family.help, ConstCounter::new(count));
            }
            (Kind::Timing, _) => {
                if let Some(f) = mine.first() {
                    registry.register_with_unit(
                        family.name,
                        family.help,
                        prometheus_client::registry::Unit::Seconds,
                        Timing::of(f),
                    );
                }
            }
        }
    }
    let mut text = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// A labelled counter family whose values are kept elsewhere.
#[derive(Debug)]
struct LabelledCounts {
    label: &'static str,
    values: Vec<(&'static str, u64)>,
}

impl EncodeMetric for LabelledCounts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (value, count) in &self.values {
            let labels = [(self.label, *value)];
            let mut e = encoder.encode_family(&labels)?;
            e.encode_counter::<NoLabelSet, _, u64>(count, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Whether the store answers: one read of an item that is never there.
pub async fn healthy(app: &App) -> bool {
    app.table()
        .get(&Key::new("HEALTHZ", "HEALTHZ"))
        .await
        .is_ok()
}
