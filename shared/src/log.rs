//! Structured log lines (one JSON object per line on stderr). Callers pass only what is safe
//! to keep: never a header, a body, or a key.

use serde_json::{json, Value};

pub fn line(fields: Value) {
    let mut v = fields;
    if let Value::Object(map) = &mut v {
        map.insert("time".into(), json!(crate::time::now_string()));
    }
    eprintln!("{v}");
}

pub fn error(msg: &str, detail: &str) {
    line(json!({ "level": "error", "msg": msg, "detail": detail }));
}
