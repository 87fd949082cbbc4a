//! Opaque list cursors: the position of the last item answered and the offset of the next
//! page, base64url-encoded with a digest so a tampered cursor is caught. A cursor is only
//! accepted for the partition it was made for, so it can never reach another owner's data.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::store::{Key, Position};

#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub position: Position,
    pub offset: usize,
}

fn digest(payload: &str) -> String {
    let d = Sha256::digest(format!("runtype-cursor:{payload}").as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..9])
}

pub fn encode(c: &Cursor) -> String {
    let index = c.position.index_key.as_ref().map(|(a, b)| json!([a, b]));
    let payload = json!({
        "k": [c.position.key.pk, c.position.key.sk],
        "i": index,
        "o": c.offset,
    })
    .to_string();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), digest(&payload))
}

pub fn invalid() -> ApiError {
    ApiError::BadRequest {
        code: "INVALID_CURSOR",
        message: "cursor is not valid for this list; start again without it".into(),
    }
}

/// Decode a cursor made for a query of partition `partition` (of an index when `indexed`).
pub fn decode(s: &str, partition: &str, indexed: bool) -> ApiResult<Cursor> {
    let (body, sum) = s.split_once('.').ok_or_else(invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let payload = String::from_utf8(payload).map_err(|_| invalid())?;
    if digest(&payload) != sum {
        return Err(invalid());
    }
    let v: Value = serde_json::from_str(&payload).map_err(|_| invalid())?;
    let str_at = |v: &Value, i: usize| v.get(i).and_then(Value::as_str).map(str::to_string);
    let k = &v["k"];
    let key = Key::new(
        str_at(k, 0).ok_or_else(invalid)?,
        str_at(k, 1).ok_or_else(invalid)?,
    );
    let index_key = match &v["i"] {
        Value::Null => None,
        i => Some((
            str_at(i, 0).ok_or_else(invalid)?,
            str_at(i, 1).ok_or_else(invalid)?,
        )),
    };
    let offset = v["o"].as_u64().ok_or_else(invalid)? as usize;
    let in_partition = match (&index_key, indexed) {
        (Some((ipk, _)), true) => ipk == partition,
        (None, false) => key.pk == partition,
        _ => false,
    };
    if !in_partition {
        return Err(invalid());
    }
    Ok(Cursor {
        position: Position { key, index_key },
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let c = Cursor {
            position: Position {
                key: Key::new("PRODUCT#a", "PRODUCT#a"),
                index_key: Some(("OWNER#o".into(), "PRODUCT#a".into())),
            },
            offset: 20,
        };
        let s = encode(&c);
        assert_eq!(decode(&s, "OWNER#o", true).unwrap(), c);
        assert!(decode(&s, "OWNER#other", true).is_err());
        assert!(decode(&s, "OWNER#o", false).is_err());
        let mut bad = s.clone().into_bytes();
        bad[3] = if bad[3] == b'A' { b'B' } else { b'A' };
        assert!(decode(&String::from_utf8(bad).unwrap(), "OWNER#o", true).is_err());
        assert!(decode("garbage", "OWNER#o", true).is_err());
        assert!(decode("", "OWNER#o", true).is_err());
    }
}
