//! Structured log lines (one JSON object per line on stderr). Callers pass only what is safe
//! to keep: never a header, a body, or a key. `RUNTYPE_LOG_LEVEL` (`debug`, `info`, `warn`,
//! `error`; default `info`) drops lines below it.

use std::sync::OnceLock;

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

fn threshold() -> u8 {
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        rank(
            &std::env::var("RUNTYPE_LOG_LEVEL")
                .unwrap_or_default()
                .to_lowercase(),
        )
    })
}

pub fn line(fields: Value) {
    let level = fields
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("info");
    if rank(level) < threshold() {
        return;
    }
    let mut v = fields;
    if let Value::Object(map) = &mut v {
        map.insert("time".into(), json!(crate::time::now_string()));
    }
    // one write: stderr is unbuffered, and printing the value piece by piece would cost a
    // system call per token (and could interleave with another thread's line)
    let mut text = v.to_string();
    text.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
}

pub fn error(msg: &str, detail: &str) {
    line(json!({ "level": "error", "msg": msg, "detail": detail }));
}
