//! Every field rule, declared once: the validators (`validate::Fields`) check these values and
//! `openapi.rs` states them, so the document and the server cannot disagree.

use serde_json::{json, Value};

/// The most a stored record may hold (API.md "Limits"), in bytes of its JSON.
pub const MAX_RECORD: usize = 300 * 1024;

/// A runner's report: its `result` (any JSON, at most 64 KiB) and `error`.
pub const REPORT_RESULT: Json = Json {
    max_bytes: 64 * 1024,
};
pub const REPORT_ERROR: Text = Text::new(1, 2000);

/// A string of `min..=max` characters (after trimming when `trim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub min: usize,
    pub max: usize,
    pub trim: bool,
}

impl Text {
    pub const fn new(min: usize, max: usize) -> Text {
        Text {
            min,
            max,
            trim: false,
        }
    }

    /// Leading and trailing white space is removed before the length is checked.
    pub const fn trimmed(self) -> Text {
        Text { trim: true, ..self }
    }

    /// Whether `s` keeps to the rule (for list entries, which report their own details).
    pub fn admits(&self, s: &str) -> bool {
        let s = if self.trim { s.trim() } else { s };
        (self.min..=self.max).contains(&s.chars().count()) && !s.contains('\0')
    }

    pub fn schema(&self) -> Value {
        // A trimmed field may carry white space beyond its limit; the document states the
        // limit on what is kept.
        json!({ "type": "string", "minLength": self.min, "maxLength": self.max })
    }
}

/// An integer in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int {
    pub min: i64,
    pub max: i64,
}

impl Int {
    pub fn schema(&self) -> Value {
        json!({ "type": "integer", "minimum": self.min, "maximum": self.max })
    }
}

/// Free JSON of at most `max_bytes` serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Json {
    pub max_bytes: usize,
}

impl Json {
    pub fn object_schema(&self) -> Value {
        json!({ "type": "object", "description": format!("at most {} KiB serialised", self.max_bytes / 1024) })
    }

    pub fn any_schema(&self) -> Value {
        json!({ "description": format!("any JSON, at most {} KiB serialised", self.max_bytes / 1024) })
    }
}

/// An id in a body (checked for existence by the repository).
pub const REFERENCE: Text = Text::new(1, 255).trimmed();
/// Free JSON objects and values (`canvas`, `spec`, `config`, `inputs`, `parametersSchema`, …).
pub const FREE_JSON: Json = Json {
    max_bytes: 64 * 1024,
};
/// A 32-bit non-negative count or size.
pub const COUNT: Int = Int {
    min: 0,
    max: i32::MAX as i64,
};
/// A 32-bit position, negative allowed.
pub const POSITION: Int = Int {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};
/// A limit of calls (at least one).
pub const RATE: Int = Int {
    min: 1,
    max: i32::MAX as i64,
};
/// An RFC 3339 date-time as text.
pub const INSTANT: Text = Text::new(1, 64).trimmed();
/// A long free description.
pub const DESCRIPTION: Text = Text::new(0, 10_000);
/// A display name or label.
pub const LABEL: Text = Text::new(0, 255);

pub mod product {
    use super::Text;
    pub const NAME: Text = Text::new(1, 255).trimmed();
    pub const ICON: Text = Text::new(0, 50);
}

pub mod capability {
    use super::Text;
    pub const NAME: Text = Text::new(1, 100).trimmed();
}

pub mod surface {
    use super::Text;
    pub const NAME: Text = Text::new(1, 255).trimmed();
}

pub mod item {
    use super::Text;
    pub const EXPOSED_NAME: Text = Text::new(0, 100);
    pub const SLUG: Text = Text::new(1, 100);
    /// What a slug may hold.
    pub const SLUG_PATTERN: &str = "^[a-z0-9-]+$";
    pub const ROUTE: Text = Text::new(1, 2048);
    pub const DISPLAY_LABEL: Text = Text::new(1, 255);
    pub const DISPLAY_MODES: &[&str] = &["chat", "form", "document"];
    pub const VISIBILITIES: &[&str] = &["public", "auth-only"];
}

pub mod key {
    use super::Text;
    /// Most entries in `scopes`, and each entry.
    pub const MAX_SCOPES: usize = 50;
    pub const SCOPE: Text = Text::new(1, 255).trimmed();
}

pub mod schedule {
    use super::Text;
    /// The whole-number fields of `executionOptions`.
    pub const INTEGER_OPTIONS: &[&str] = &[
        "chunkSize",
        "flowTimeoutMs",
        "maxRetries",
        "progressFlushSize",
        "recordConcurrency",
        "stepTimeoutMs",
        "timeoutMs",
    ];
    pub const CRON: Text = Text::new(1, 255).trimmed();
    pub const TIMEZONE: Text = Text::new(1, 64).trimmed();
    pub const RECORD_TYPE: Text = Text::new(1, 255);
    pub const MAX_RECORD_IDS: usize = 1000;
    /// The operators of a `recordFilter.where` condition.
    pub const FILTER_OPS: &[&str] = &[
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "contains",
        "startsWith",
        "endsWith",
        "in",
        "notIn",
        "isSet",
        "isNotSet",
        "isTrue",
        "isFalse",
        "withinLastDays",
        "olderThanDays",
    ];
    pub const RECORD_ID: Text = Text::new(1, 255);
    pub const LOGGING_POLICIES: &[&str] = &["default", "on", "off"];
    pub const MODEL_OVERRIDE: Text = Text::new(1, 255);
}

pub mod gateway {
    use super::Text;
    /// The longest a caller may wait for a result (`Prefer: wait`, `?wait=`), in seconds:
    /// API Gateway cuts a request at 30 s.
    pub const MAX_WAIT_SECS: u64 = 25;
    /// Largest invocation body, in bytes.
    pub const MAX_BODY: usize = 256 * 1024;
    pub const MAX_MESSAGES: usize = 100;
    pub const ROLES: &[&str] = &["user", "assistant", "system"];
    /// A message's content: any text without NUL (the body's limit bounds it).
    pub const CONTENT: Text = Text::new(0, MAX_BODY);
    pub const MAX_METADATA: usize = 20;
    pub const METADATA_VALUE: Text = Text::new(0, 1000);
    pub const RECORD_FIELD: Text = Text::new(1, 255);
    /// The fields an invocation body may have (any other is a 400 here).
    pub const FIELDS: &[&str] = &["inputs", "messages", "record", "metadata"];
    pub const RECORD_FIELDS: &[&str] = &["id", "name", "type", "metadata"];
}
