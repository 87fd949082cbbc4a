//! Field rules, in one place: each check records a `Detail` at the field's dotted path, so
//! one 400 lists every bad field of a request at once.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, Detail};
use crate::model::Word;
pub use crate::rules::{Int, Json, Text};

/// A field of a partial update: absent, explicitly `null`, or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// For a nullable field: `Some(None)` clears it, `None` leaves it alone.
    pub fn nullable(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }
}

/// A checked field of a partial update (`Some` when it was given), written into the record.
pub trait Assign<T> {
    fn assign(&self, target: &mut T);
}

impl<T: Clone> Assign<T> for Option<T> {
    fn assign(&self, target: &mut T) {
        if let Some(v) = self {
            *target = v.clone();
        }
    }
}

/// Parse a request body: empty means `{}`; anything but a JSON object is a 400.
pub fn json_object(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = crate::json::parse(body).map_err(|e| ApiError::BadRequest {
        code: "INVALID_JSON",
        message: format!("Request body is not valid JSON: {e}"),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid(
            "",
            "INVALID_TYPE",
            "Request body must be a JSON object",
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks the fields of one JSON object and collects what is wrong with them.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub errors: Vec<Detail>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Fields {
            obj,
            prefix: String::new(),
            errors: Vec::new(),
        }
    }

    /// Fields of a nested object, reported under `prefix.`.
    pub fn nested(obj: &'a Map<String, Value>, prefix: &str) -> Self {
        Fields {
            obj,
            prefix: format!("{prefix}."),
            errors: Vec::new(),
        }
    }

    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn has(&self, name: &str) -> bool {
        self.obj.contains_key(name)
    }

    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name)
    }

    pub fn fail(&mut self, name: &str, code: &'static str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(Detail::new(path, code, message));
    }

    pub fn push(&mut self, detail: Detail) {
        self.errors.push(detail);
    }

    fn get(&self, name: &str) -> Patch<&'a Value> {
        match self.obj.get(name) {
            None => Patch::Absent,
            Some(Value::Null) => Patch::Null,
            Some(v) => Patch::Value(v),
        }
    }

    /// The field as `check` reads a present, non-null value of it; absent and null stay
    /// so, and a value `check` does not take (`None`) is `INVALID_TYPE`: not `want`.
    fn typed<T>(
        &mut self,
        name: &str,
        want: &str,
        check: impl FnOnce(&mut Self, &'a Value) -> Option<Patch<T>>,
    ) -> Patch<T> {
        let v = match self.get(name) {
            Patch::Absent => return Patch::Absent,
            Patch::Null => return Patch::Null,
            Patch::Value(v) => v,
        };
        check(self, v).unwrap_or_else(|| {
            let msg = format!("{} must be {want}, not {}", self.path(name), type_name(v));
            self.fail(name, "INVALID_TYPE", msg);
            Patch::Absent
        })
    }

    /// A string as `rule` says, without NUL.
    pub fn text(&mut self, name: &str, rule: Text) -> Patch<String> {
        let Text { min, max, trim } = rule;
        self.typed(name, "a string", |f, v| {
            let s = v.as_str()?;
            let s = if trim { s.trim() } else { s };
            let len = s.chars().count();
            let path = f.path(name);
            if s.contains('\0') {
                f.fail(
                    name,
                    "INVALID_FORMAT",
                    format!("{path} must not contain NUL characters"),
                );
            } else if len < min {
                let msg = if min == 1 {
                    format!("{path} must not be empty")
                } else {
                    format!("{path} must be at least {min} characters")
                };
                f.fail(name, "TOO_SHORT", msg);
            } else if len > max {
                f.errors.push(
                    Detail::new(
                        &path,
                        "TOO_LONG",
                        format!("{path} must be at most {max} characters"),
                    )
                    .suggest(format!("shorten it to {max} characters or fewer")),
                );
            } else {
                return Some(Patch::Value(s.to_string()));
            }
            Some(Patch::Absent)
        })
    }

    /// `p`, read from field `name`, which must be given: absent or null is
    /// `MISSING_REQUIRED_FIELD` (a value refused for what it is was reported already).
    pub fn required<T>(&mut self, name: &str, p: Patch<T>) -> Option<T> {
        match p {
            Patch::Value(v) => Some(v),
            Patch::Absent if self.has(name) && !self.raw(name).is_some_and(Value::is_null) => None,
            _ => {
                let msg = format!("{} is required", self.path(name));
                self.fail(name, "MISSING_REQUIRED_FIELD", msg);
                None
            }
        }
    }

    /// Like `text`, but missing or null is `MISSING_REQUIRED_FIELD`.
    pub fn required_text(&mut self, name: &str, rule: Text) -> Option<String> {
        let p = self.text(name, rule);
        self.required(name, p)
    }

    /// Like `one_of`, but missing or null is `MISSING_REQUIRED_FIELD` (suggesting the values).
    pub fn required_one_of(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let p = self.one_of(name, allowed);
        let missing = !matches!(p, Patch::Value(_)) && self.raw(name).is_none_or(Value::is_null);
        let v = self.required(name, p);
        if let Some(d) = self.errors.last_mut().filter(|_| missing) {
            d.suggestion = Some(format!("use one of: {}", allowed.join(", ")));
        }
        v
    }

    /// `null` is not allowed for this field: report it and treat it as absent.
    pub fn not_null<T>(&mut self, name: &str, p: Patch<T>) -> Option<T> {
        match p {
            Patch::Null => {
                let msg = format!("{} must not be null", self.path(name));
                self.fail(name, "INVALID_TYPE", msg);
                None
            }
            Patch::Value(v) => Some(v),
            Patch::Absent => None,
        }
    }

    pub fn boolean(&mut self, name: &str) -> Patch<bool> {
        self.typed(name, "a boolean", |_, v| v.as_bool().map(Patch::Value))
    }

    /// An integer as `rule` says.
    pub fn integer(&mut self, name: &str, rule: Int) -> Patch<i64> {
        let Int { min, max } = rule;
        self.typed(name, "an integer", |f, v| {
            let Value::Number(n) = v else { return None };
            let path = f.path(name);
            let as_int = n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            });
            match as_int {
                Some(i) if (min..=max).contains(&i) => return Some(Patch::Value(i)),
                Some(_) => {
                    let msg = if max == i64::MAX {
                        format!("{path} must be at least {min}")
                    } else {
                        format!("{path} must be between {min} and {max}")
                    };
                    f.fail(name, "OUT_OF_RANGE", msg)
                }
                None if n.is_f64() && n.as_f64().is_some_and(|x| x.fract() != 0.0) => {
                    f.fail(name, "INVALID_TYPE", format!("{path} must be an integer"))
                }
                None => f.fail(name, "OUT_OF_RANGE", format!("{path} is out of range")),
            }
            Some(Patch::Absent)
        })
    }

    /// A JSON object within `rule`'s size.
    pub fn object(&mut self, name: &str, rule: Json) -> Patch<Map<String, Value>> {
        self.typed(name, "an object", |f, v| {
            v.is_object().then(|| match f.any(name, rule) {
                Patch::Value(Value::Object(m)) => Patch::Value(m),
                _ => Patch::Absent,
            })
        })
    }

    /// Any JSON value (or null) within `rule`'s size.
    pub fn any(&mut self, name: &str, rule: Json) -> Patch<Value> {
        match self.get(name) {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) if serialized_len(v) > rule.max_bytes => {
                let path = self.path(name);
                let kib = rule.max_bytes / 1024;
                self.fail(
                    name,
                    "TOO_LONG",
                    format!("{path} must be at most {kib} KiB when serialised"),
                );
                Patch::Absent
            }
            Patch::Value(v) => Patch::Value(v.clone()),
        }
    }

    /// One of `allowed`.
    pub fn one_of(&mut self, name: &str, allowed: &[&str]) -> Patch<String> {
        self.typed(name, "a string", |f, v| {
            let s = v.as_str()?;
            if allowed.contains(&s) {
                return Some(Patch::Value(s.to_string()));
            }
            let path = f.path(name);
            f.push(
                Detail::new(
                    &path,
                    "INVALID_ENUM",
                    format!("{path} must be one of: {}", allowed.join(", ")),
                )
                .suggest(format!("use one of: {}", allowed.join(", "))),
            );
            Some(Patch::Absent)
        })
    }

    /// One of the words of `W` (`one_of` its names), as its variant.
    pub fn word<W: Word>(&mut self, name: &str) -> Patch<W> {
        match self.one_of(name, W::NAMES) {
            Patch::Value(s) => W::parse(&s).map_or(Patch::Absent, Patch::Value),
            Patch::Null => Patch::Null,
            Patch::Absent => Patch::Absent,
        }
    }

    /// Like `word`, but missing or null is `MISSING_REQUIRED_FIELD` (suggesting the words).
    pub fn required_word<W: Word>(&mut self, name: &str) -> Option<W> {
        self.required_one_of(name, W::NAMES)
            .and_then(|s| W::parse(&s))
    }

    /// Everything checked so far was fine.
    pub fn finish(self) -> ApiResult<()> {
        finish(self.errors)
    }
}

pub fn finish(errors: Vec<Detail>) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn serialized_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Deep merge for `canvas`/`spec`/`config`: objects merge key by key, a `null` value removes
/// the key, anything else replaces.
pub fn deep_merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => match target.get_mut(k) {
                Some(Value::Object(t)) => deep_merge(t, p),
                _ => {
                    let mut fresh = Map::new();
                    deep_merge(&mut fresh, p);
                    target.insert(k.clone(), Value::Object(fresh));
                }
            },
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// `limit` of a list: default 20, 1..=100.
pub fn limit(query: &[(String, String)]) -> ApiResult<usize> {
    match query_param(query, "limit") {
        None => Ok(20),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n as usize),
            Ok(_) => Err(ApiError::invalid(
                "limit",
                "OUT_OF_RANGE",
                "limit must be between 1 and 100",
            )),
            Err(_) => Err(ApiError::invalid(
                "limit",
                "INVALID_TYPE",
                "limit must be an integer between 1 and 100",
            )),
        },
    }
}

/// Query parameter `name` (empty counts as absent), which must be one of `allowed`.
pub fn query_enum<'q>(
    query: &'q [(String, String)],
    name: &str,
    allowed: &[&str],
    errors: &mut Vec<Detail>,
) -> Option<&'q str> {
    let v = query_param(query, name).filter(|v| !v.is_empty())?;
    if !allowed.contains(&v) {
        errors.push(Detail::new(
            name,
            "INVALID_ENUM",
            format!("{name} must be one of: {}", allowed.join(", ")),
        ));
    }
    Some(v)
}

/// Query parameter `name` as a word of `W` (absent or empty: none; anything else is an
/// `INVALID_ENUM` detail).
pub fn query_word<W: Word>(
    query: &[(String, String)],
    name: &str,
    errors: &mut Vec<Detail>,
) -> Option<W> {
    query_enum(query, name, W::NAMES, errors).and_then(W::parse)
}

pub fn query_param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merge_rules() {
        let mut t = obj(json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1}));
        deep_merge(
            &mut t,
            &obj(json!({"a": {"b": null, "x": {"y": null, "z": 1}}, "d": {"k": 1}, "e": null})),
        );
        assert_eq!(
            Value::Object(t),
            json!({"a": {"c": 2, "x": {"z": 1}}, "d": {"k": 1}})
        );
    }

    #[test]
    fn required_values() {
        let o = obj(json!({"n": null, "bad": "x", "ok": "b", "num": 1}));
        let mut f = Fields::nested(&o, "body");
        for name in ["absent", "n", "bad", "ok", "num"] {
            f.required_one_of(name, &["a", "b"]);
        }
        let got: Vec<_> = f
            .errors
            .iter()
            .map(|d| (d.path.as_str(), d.code, d.suggestion.is_some()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("body.absent", "MISSING_REQUIRED_FIELD", true),
                ("body.n", "MISSING_REQUIRED_FIELD", true),
                ("body.bad", "INVALID_ENUM", true),
                ("body.num", "INVALID_TYPE", false),
            ]
        );
    }

    #[test]
    fn text_rules() {
        let o = obj(json!({"a": "  hi ", "b": "", "c": 5, "d": "x\u{0}y", "e": "é".repeat(5)}));
        let mut f = Fields::new(&o);
        assert_eq!(
            f.text("a", Text::new(1, 10).trimmed()),
            Patch::Value("hi".into())
        );
        assert_eq!(f.text("b", Text::new(1, 10).trimmed()), Patch::Absent);
        assert_eq!(f.text("c", Text::new(1, 10).trimmed()), Patch::Absent);
        assert_eq!(f.text("d", Text::new(1, 10).trimmed()), Patch::Absent);
        assert_eq!(f.text("e", Text::new(1, 5)), Patch::Value("ééééé".into()));
        assert_eq!(f.text("e", Text::new(1, 4)), Patch::Absent);
        let codes: Vec<_> = f.errors.iter().map(|d| (d.path.as_str(), d.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("b", "TOO_SHORT"),
                ("c", "INVALID_TYPE"),
                ("d", "INVALID_FORMAT"),
                ("e", "TOO_LONG")
            ]
        );
        assert!(f
            .required_text("missing", Text::new(1, 5).trimmed())
            .is_none());
        assert_eq!(f.errors.last().unwrap().code, "MISSING_REQUIRED_FIELD");
    }

    #[test]
    fn integer_rules() {
        let o = obj(json!({"a": 5, "b": 0, "c": 1.5, "d": "5", "e": 2.0, "f": 1e300}));
        let mut f = Fields::new(&o);
        assert_eq!(
            f.integer(
                "a",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Value(5)
        );
        assert_eq!(
            f.integer(
                "b",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Absent
        );
        assert_eq!(
            f.integer(
                "c",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Absent
        );
        assert_eq!(
            f.integer(
                "d",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Absent
        );
        assert_eq!(
            f.integer(
                "e",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Value(2)
        );
        assert_eq!(
            f.integer(
                "f",
                Int {
                    min: 1,
                    max: i64::MAX
                }
            ),
            Patch::Absent
        );
        let codes: Vec<_> = f.errors.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            vec![
                "OUT_OF_RANGE",
                "INVALID_TYPE",
                "INVALID_TYPE",
                "OUT_OF_RANGE"
            ]
        );
    }

    #[test]
    fn bodies() {
        assert!(json_object(b"").unwrap().is_empty());
        assert_eq!(json_object(b"{").unwrap_err().code(), "INVALID_JSON");
        assert_eq!(json_object(b"[1]").unwrap_err().code(), "VALIDATION_ERROR");
        let deep = "[".repeat(10_000);
        assert_eq!(
            json_object(deep.as_bytes()).unwrap_err().code(),
            "INVALID_JSON"
        );
    }

    #[test]
    fn limits() {
        let q = |v: &str| vec![("limit".to_string(), v.to_string())];
        assert_eq!(limit(&[]).unwrap(), 20);
        assert_eq!(limit(&q("100")).unwrap(), 100);
        assert!(limit(&q("0")).is_err());
        assert!(limit(&q("101")).is_err());
        assert!(limit(&q("x")).is_err());
    }
}
