//! Timestamps: RFC 3339 UTC with milliseconds, the only form the API speaks.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse an RFC 3339 instant with any offset; answers it in UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Where "now" comes from: the system clock, or (in tests) a time the test sets and moves,
/// so rate-limit windows and expiry are exercised without sleeping.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<std::sync::Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing at `t` until it is set or advanced.
    pub fn fixed(t: DateTime<Utc>) -> Clock {
        Clock(Some(std::sync::Arc::new(t.timestamp_millis().into())))
    }

    /// The one source of "now" in the project.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(ms) => {
                DateTime::from_timestamp_millis(ms.load(std::sync::atomic::Ordering::SeqCst))
                    .unwrap_or_else(Utc::now)
            }
        }
    }

    /// `now` as the API writes instants.
    pub fn now_string(&self) -> String {
        format(self.now())
    }

    /// Move a fixed clock to `t` (a system clock ignores this).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Some(ms) = &self.0 {
            ms.store(t.timestamp_millis(), std::sync::atomic::Ordering::SeqCst);
        }
    }
}
