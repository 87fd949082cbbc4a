//! Content hashes of definitions, for products as code (API.md "Products as code"): the
//! lowercase hex SHA-256 of the definition in RFC 8785 (JCS) canonical form, with null-valued
//! members removed at every level. Members are sorted by their names' UTF-16 code units (as
//! RFC 8785 section 3.2.3 says: unescaped, not by code point, not by the escaped form);
//! `serde_jcs` writes the leaves (the ECMAScript number form, minimal string escapes). A
//! client with any conforming JCS library gets the same bytes.

use serde_json::Value;

/// `v` with every null-valued object member removed, at every level (array elements stay).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), without_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// The canonical form of `definition` (nulls removed).
pub fn canonical(definition: &Value) -> String {
    let mut out = String::new();
    write(&without_nulls(definition), &mut out);
    out
}

/// `v` in RFC 8785 form onto `out`.
fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (name, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                leaf(&Value::String(name.clone()), out);
                out.push(':');
                write(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        other => leaf(other, out),
    }
}

/// A string, number, boolean or null as JCS writes it.
fn leaf(v: &Value, out: &mut String) {
    // a serde_json scalar always serialises
    out.push_str(&serde_jcs::to_string(v).unwrap_or_default());
}

/// The content hash of `definition`.
pub fn hash(definition: &Value) -> String {
    crate::secrets::sha256_hex(canonical(definition).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Computed independently, by Python:
    // json.dumps(doc_without_nulls, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    // then hashlib.sha256(...).hexdigest().
    #[test]
    fn matches_independently_computed_vectors() {
        let cases = [
            (
                json!({ "name": "Support bot", "description": "Answers questions", "icon": "🤖",
                        "spec": { "version": 2, "tags": ["a", "b"],
                                  "nested": { "z": 1, "a": null, "m": [1, null, { "q": null, "p": true }] } } }),
                r#"{"description":"Answers questions","icon":"🤖","name":"Support bot","spec":{"nested":{"m":[1,null,{"p":true}],"z":1},"tags":["a","b"],"version":2}}"#,
                "97683dae251541daa698173596ae4039724abc745ca65207cb1c31ecef61e499",
            ),
            (
                json!({ "name": "Bare" }),
                r#"{"name":"Bare"}"#,
                "f403a066d0818523e4e4d3414005e1fc403b3970ac8299f99afd456ce3109a18",
            ),
            (
                json!({ "type": "api", "name": "Public API", "status": "active",
                        "environment": "production",
                        "behavior": { "tone": "friendly", "maxTurns": 10 }, "inbound": null }),
                r#"{"behavior":{"maxTurns":10,"tone":"friendly"},"environment":"production","name":"Public API","status":"active","type":"api"}"#,
                "58c68f6ec6ede8e058af78abcfdeeb5ef95b256882838ccd8dd62f060232d09e",
            ),
        ];
        for (doc, form, digest) in cases {
            assert_eq!(canonical(&doc), form);
            assert_eq!(hash(&doc), digest);
        }
    }

    /// RFC 8785 section 3.2.3's sorting example: by UTF-16 code units of the unescaped names.
    #[test]
    fn members_sort_by_utf16_code_units() {
        let doc = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis",
        });
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canonical(&doc), want);
        // the two the review found: "\r" before "1", and a surrogate pair before U+FB01
        assert_eq!(
            canonical(&json!({ "1": 5, "\r": 4 })),
            "{\"\\r\":4,\"1\":5}"
        );
        assert_eq!(
            canonical(&json!({ "\u{fb01}": 1, "\u{1f600}": 2 })),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
        // nested objects sort the same way
        assert_eq!(
            canonical(&json!({ "a": { "\u{fb01}": 1, "\u{1f600}": [{ "1": 1, "\r": 2 }] } })),
            "{\"a\":{\"\u{1f600}\":[{\"\\r\":2,\"1\":1}],\"\u{fb01}\":1}}"
        );
    }

    #[test]
    fn numbers_take_the_ecmascript_form() {
        // RFC 8785 appendix examples
        assert_eq!(
            canonical(&json!([1e30, 4.5, 0.002, 1e-27])),
            "[1e+30,4.5,0.002,1e-27]"
        );
        assert_eq!(
            canonical(&json!({ "b": 1.0, "a": -0.0 })),
            r#"{"a":0,"b":1}"#
        );
    }
}
