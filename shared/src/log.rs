//! Structured log lines (one JSON object per line on stderr). Callers pass only what is safe
//! to keep: never a header, a body, or a key. Lines below the configured level
//! (`Config::log_level`) are dropped.

use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::{json, Value};

fn rank(level: &str) -> u8 {
    match level {
        "debug" => 0,
        "info" => 1,
        "warn" => 2,
        "error" => 3,
        _ => 1,
    }
}

/// The levels, lowest first.
pub const LEVELS: &[&str] = &["debug", "info", "warn", "error"];

static THRESHOLD: AtomicU8 = AtomicU8::new(1);

fn threshold() -> u8 {
    THRESHOLD.load(Ordering::Relaxed)
}

/// Drop lines below `level` from now on (set once when the app is built).
pub fn set_level(level: &str) {
    THRESHOLD.store(rank(level), Ordering::Relaxed);
}

pub fn line(fields: Value) {
    let level = fields
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("info");
    // a line that carries metrics is written whatever the level: the metrics are in it
    if rank(level) < threshold() && fields.get("_aws").is_none() {
        return;
    }
    let mut v = fields;
    if let Value::Object(map) = &mut v {
        map.insert(
            "time".into(),
            json!(crate::time::Clock::system().now_string()),
        );
    }
    // one write: stderr is unbuffered, and printing the value piece by piece would cost a
    // system call per token (and could interleave with another thread's line)
    let mut text = v.to_string();
    text.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
}

/// The line of an invocation of `function`, carrying (on Lambda) what was counted since the
/// last such line as Embedded Metric Format fields: no write of their own.
pub fn invocation_line(function: &str, fields: Value) {
    let mut fields = fields;
    if let (Some(metrics), Value::Object(map)) = (crate::metrics::take_emf(function), &mut fields) {
        map.extend(metrics);
    }
    line(fields);
}

pub fn error(msg: &str, detail: &str) {
    line(json!({ "level": "error", "msg": msg, "detail": detail }));
}
