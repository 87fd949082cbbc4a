//! Cron expressions in real time zones.
//!
//! Five fields (minute hour day-of-month month day-of-week) with `*`, lists, ranges, steps
//! and `JAN`–`DEC` / `SUN`–`SAT` names: the syntax is checked here so a bad expression gets a
//! message naming what is wrong; `croner` parses and matches the fields; `chrono-tz` knows
//! the zones. Daylight saving, as the contract has it: a local time skipped by a
//! spring-forward fires at the first instant after the gap; a local time repeated by a
//! fall-back fires once, at its first occurrence.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed, checked expression.
#[derive(Debug, Clone)]
pub struct Cron {
    inner: croner::Cron,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: DAYS,
    },
];

impl Field {
    fn value(&self, token: &str) -> Result<u32, String> {
        if let Ok(n) = token.parse::<u32>() {
            if n < self.min || n > self.max {
                return Err(format!(
                    "{} value {n} is out of range {}-{}",
                    self.name, self.min, self.max
                ));
            }
            return Ok(n);
        }
        let upper = token.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            // months are 1-based, days 0-based
            return Ok(i as u32 + self.min);
        }
        if self.names.is_empty() {
            Err(format!("{} field: \"{token}\" is not a number", self.name))
        } else {
            Err(format!(
                "{} field: \"{token}\" is neither a number nor one of {}-{}",
                self.name,
                self.names[0],
                self.names[self.names.len() - 1]
            ))
        }
    }

    fn check(&self, field: &str) -> Result<(), String> {
        for part in field.split(',') {
            if part.is_empty() {
                return Err(format!(
                    "{} field \"{field}\" has an empty list entry",
                    self.name
                ));
            }
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(s) = step {
                match s.parse::<u32>() {
                    Ok(n) if n >= 1 && n <= self.max.max(1) => {}
                    _ => {
                        return Err(format!(
                            "{} field: step \"/{s}\" must be a number from 1 to {}",
                            self.name,
                            self.max.max(1)
                        ))
                    }
                }
            }
            if range == "*" {
                continue;
            }
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (self.value(a)?, self.value(b)?);
                    if a > b {
                        return Err(format!("{} field: range {a}-{b} runs backwards", self.name));
                    }
                }
                None => {
                    self.value(range)?;
                }
            }
        }
        Ok(())
    }
}

impl Field {
    /// A regular expression for one list entry of this field: `*` or a value or a range,
    /// with an optional step.
    fn entry_pattern(&self) -> String {
        let mut values: Vec<String> = (self.min..=self.max).map(|n| n.to_string()).collect();
        for name in self.names {
            values.push(name.to_string());
            values.push(name.to_ascii_lowercase());
        }
        let value = format!("({})", values.join("|"));
        let step = format!(
            "({})",
            (1..=self.max.max(1))
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("|")
        );
        format!("(\\*|{value}(-{value})?)(/{step})?")
    }
}

/// The syntax `Cron::parse` checks, as a regular expression (for the OpenAPI document).
/// What it cannot say: a range must not run backwards, and some day must match.
pub fn pattern() -> String {
    let fields: Vec<String> = FIELDS
        .iter()
        .map(|f| {
            let entry = f.entry_pattern();
            format!("{entry}(,{entry})*")
        })
        .collect();
    format!("^\\s*{}\\s*$", fields.join("\\s+"))
}

impl Cron {
    /// Parse `expr`; the error says what is wrong with it.
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron must have 5 fields (minute hour day-of-month month day-of-week); found {}",
                fields.len()
            ));
        }
        for (field, rule) in fields.iter().zip(FIELDS.iter()) {
            if let Some(c) = field
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "*,-/".contains(*c)))
            {
                return Err(format!("{} field \"{field}\": '{c}' is not allowed (use *, lists, ranges, steps and names)", rule.name));
            }
            rule.check(field)?;
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build();
        let inner = parser
            .parse(&fields.join(" "))
            .map_err(|e| format!("cron is not valid: {e}"))?;
        let cron = Cron { inner };
        if cron.fires_on_some_day().is_none() {
            return Err(
                "cron never fires (no day matches its day, month and weekday fields)".into(),
            );
        }
        Ok(cron)
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let p = &self.inner.pattern;
        p.month_match(d.month()).unwrap_or(false)
            && p.day_match(
                d.year(),
                d.month(),
                d.day(),
                croner::time::Weekday::from_days_from_sunday(d.weekday().num_days_from_sunday()),
            )
            .unwrap_or(false)
    }

    /// Some day within the next eight years this expression matches (Feb 29 rules need
    /// leap years; a weekday as well needs up to 28).
    fn fires_on_some_day(&self) -> Option<NaiveDate> {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1)?;
        (0..366 * 28)
            .map(|i| start + Duration::days(i))
            .find(|d| self.day_matches(*d))
    }

    /// The local wall-clock times it matches, from `from` (a day's start) on, in order.
    fn local_times_from(&self, from: NaiveDate) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let p = &self.inner.pattern;
        let hours: Vec<u32> = (0..24)
            .filter(|h| p.hour_match(*h).unwrap_or(false))
            .collect();
        let minutes: Vec<u32> = (0..60)
            .filter(|m| p.minute_match(*m).unwrap_or(false))
            .collect();
        (0..366 * 28)
            .map(move |i| from + Duration::days(i))
            .filter(|d| self.day_matches(*d))
            .flat_map(move |d| {
                let minutes = minutes.clone();
                hours.clone().into_iter().flat_map(move |h| {
                    minutes
                        .clone()
                        .into_iter()
                        .filter_map(move |m| d.and_hms_opt(h, m, 0))
                })
            })
    }

    /// The next fire strictly after `after`, in zone `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Start a day early: a local time before `after`'s local date can still map after it.
        let start = after.with_timezone(&tz).date_naive() - Duration::days(1);
        self.local_times_from(start)
            .map(|local| instant_of(tz, local))
            .find(|t| *t > after)
    }
}

/// The instant a local wall-clock time stands for: the first occurrence when it happens
/// twice, and the end of the gap (the first instant after it) when it does not happen.
pub fn instant_of(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Walk to the first local minute that exists: the local time right after the gap.
            let mut probe = local;
            for _ in 0..(48 * 60) {
                probe += Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return t.with_timezone(&Utc),
                    LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // No zone has a gap of two days; fall back to reading the time as UTC.
            Utc.from_utc_datetime(&local)
        }
    }
}

/// An IANA zone name (`America/New_York`), else `None`.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// (zone, cron, after, the next fire) — across both transitions of each zone.
    const TABLE: &[(&str, &str, &str, &str)] = &[
        // New York: winter and summer keep 09:00 local
        (
            "America/New_York",
            "0 9 * * *",
            "2026-01-15T00:00:00Z",
            "2026-01-15T14:00:00Z",
        ),
        (
            "America/New_York",
            "0 9 * * *",
            "2026-07-15T00:00:00Z",
            "2026-07-15T13:00:00Z",
        ),
        // spring forward 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 fires at 03:00 EDT
        (
            "America/New_York",
            "30 2 * * *",
            "2026-03-08T05:00:00Z",
            "2026-03-08T07:00:00Z",
        ),
        (
            "America/New_York",
            "30 2 * * *",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
        ),
        (
            "America/New_York",
            "0 * * * *",
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:00:00Z",
        ),
        (
            "America/New_York",
            "0 * * * *",
            "2026-03-08T07:00:00Z",
            "2026-03-08T08:00:00Z",
        ),
        (
            "America/New_York",
            "*/20 2 * * *",
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
        ),
        (
            "America/New_York",
            "*/20 2 * * *",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:00:00Z",
        ),
        // fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 fires once, at 01:30 EDT
        (
            "America/New_York",
            "30 1 * * *",
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:30:00Z",
        ),
        (
            "America/New_York",
            "30 1 * * *",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
        ),
        (
            "America/New_York",
            "0 * * * *",
            "2026-11-01T05:00:00Z",
            "2026-11-01T07:00:00Z",
        ),
        (
            "America/New_York",
            "*/30 1 * * *",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:00:00Z",
        ),
        // Berlin: spring forward 2026-03-29 02:00 CET -> 03:00 CEST
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-03-28T23:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "Europe/Berlin",
            "15 * * * *",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "Europe/Berlin",
            "15 * * * *",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:15:00Z",
        ),
        // fall back 2026-10-25 03:00 CEST -> 02:00 CET
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-24T22:00:00Z",
            "2026-10-25T00:30:00Z",
        ),
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ),
        (
            "Europe/Berlin",
            "15 * * * *",
            "2026-10-25T00:15:00Z",
            "2026-10-25T02:15:00Z",
        ),
        (
            "Europe/Berlin",
            "0 */6 * * *",
            "2026-10-24T23:00:00Z",
            "2026-10-25T05:00:00Z",
        ),
        // Lord Howe, a 30-minute shift: spring 2026-10-04 02:00 +10:30 -> 02:30 +11
        (
            "Australia/Lord_Howe",
            "15 2 * * *",
            "2026-10-03T12:00:00Z",
            "2026-10-03T15:30:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "*/30 * * * *",
            "2026-10-03T15:00:00Z",
            "2026-10-03T15:30:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "*/30 * * * *",
            "2026-10-03T15:30:00Z",
            "2026-10-03T16:00:00Z",
        ),
        // autumn 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:45 fires once, at 01:45 +11
        (
            "Australia/Lord_Howe",
            "45 1 * * *",
            "2026-04-04T12:00:00Z",
            "2026-04-04T14:45:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "45 1 * * *",
            "2026-04-04T14:45:00Z",
            "2026-04-05T15:15:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "0 * * * *",
            "2026-04-04T14:00:00Z",
            "2026-04-04T15:30:00Z",
        ),
        // Kolkata: +05:30, no DST
        (
            "Asia/Kolkata",
            "0 9 * * *",
            "2026-03-08T00:00:00Z",
            "2026-03-08T03:30:00Z",
        ),
        (
            "Asia/Kolkata",
            "0 9 * * *",
            "2026-07-01T03:30:00Z",
            "2026-07-02T03:30:00Z",
        ),
        (
            "Asia/Kolkata",
            "*/45 * * * *",
            "2026-03-08T03:30:00Z",
            "2026-03-08T04:15:00Z",
        ),
        (
            "Asia/Kolkata",
            "0 * * * *",
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
        ),
        // names, lists, ranges
        (
            "UTC",
            "0 12 * JAN-MAR MON-FRI",
            "2026-03-31T12:00:00Z",
            "2027-01-01T12:00:00Z",
        ),
        (
            "UTC",
            "5,35 8-9 1 * *",
            "2026-05-01T08:35:00Z",
            "2026-05-01T09:05:00Z",
        ),
        (
            "UTC",
            "0 0 29 2 *",
            "2026-01-01T00:00:00Z",
            "2028-02-29T00:00:00Z",
        ),
        (
            "UTC",
            "0 0 * * 7",
            "2026-11-26T00:00:00Z",
            "2026-11-29T00:00:00Z",
        ),
        (
            "UTC",
            "0 0 13 * FRI",
            "2026-11-26T00:00:00Z",
            "2026-11-27T00:00:00Z",
        ),
    ];

    #[test]
    fn dst_table() {
        let mut failures = Vec::new();
        for (tz, expr, after, want) in TABLE {
            let cron = Cron::parse(expr).unwrap();
            let got = cron.next_after(zone(tz).unwrap(), at(after));
            if got != Some(at(want)) {
                failures.push(format!(
                    "{tz} {expr:?} after {after}: want {want}, got {got:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, says) in [
            ("* * * *", "5 fields"),
            ("* * * * * *", "5 fields"),
            ("60 * * * *", "minute value 60"),
            ("* 24 * * *", "hour value 24"),
            ("* * 0 * *", "day of month value 0"),
            ("* * * 13 *", "month value 13"),
            ("* * * * 8", "day of week value 8"),
            ("* * * FOO *", "month field"),
            ("* * * * MONDAY", "day of week field"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("* * L * *", "day of month field"),
            ("* * ? * *", "'?' is not allowed"),
            ("0 0 * * 1#2", "'#' is not allowed"),
            ("1,,2 * * * *", "empty list entry"),
            ("0 0 30 2 *", "never fires"),
            ("@daily", "5 fields"),
        ] {
            let err = Cron::parse(expr).unwrap_err();
            assert!(err.contains(says), "{expr}: {err}");
        }
        for ok in [
            "*/15 * * * *",
            "0 9 * * MON-FRI",
            "0 0 1 jan,jul *",
            "0-30/10 1,2 * * sun",
            "0 0 * * 0-7",
        ] {
            assert!(Cron::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn zones() {
        assert!(zone("America/New_York").is_some());
        assert!(zone("UTC").is_some());
        assert!(zone("Mars/Olympus").is_none());
        assert!(zone("").is_none());
    }
}
