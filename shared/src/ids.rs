//! Resource IDs: a type prefix, `_`, and 26 lowercase Crockford base32 characters in ULID
//! layout (48-bit millisecond time, 80 random bits), so IDs sort by creation time.

use std::sync::Mutex;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Last (millis, randomness) handed out, so IDs made in the same millisecond still sort in
/// creation order within one process (ULID's monotonic rule) — but each steps on by a random
/// amount, not by one, so no id can be guessed from another.
static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new time-ordered ID with the given prefix (`prod`, `cap`, ...).
pub fn new_id(prefix: &str) -> String {
    // the wall clock, whatever a test sets: an id's time orders it among all others
    let now = crate::time::Clock::system().now().timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 10];
    crate::secrets::fill_random(&mut bytes);
    let fresh = bytes.iter().fold(0u128, |acc, b| (acc << 8) | *b as u128);
    let (ms, rand) = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let next = if now <= last.0 {
            // a random step of 1 to 2^48 (of an 80-bit space): still after the last; should
            // the space run out, the next millisecond (order kept either way)
            let step = (fresh & ((1u128 << 48) - 1)) + 1;
            match last.1 + step {
                next if next < (1u128 << 80) => (last.0, next),
                _ => (last.0 + 1, fresh >> 1),
            }
        } else {
            (now, fresh)
        };
        *last = next;
        next
    };
    let value: u128 = ((ms as u128) << 80) | rand;
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..26).rev() {
        let idx = ((value >> (i * 5)) & 31) as usize;
        out.push(CROCKFORD[idx] as char);
    }
    out
}

/// Whether `id` has the shape `<prefix>_<26 lowercase Crockford characters>`.
pub fn is_valid(prefix: &str, id: &str) -> bool {
    let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    rest.len() == 26
        && rest.bytes().all(|b| CROCKFORD.contains(&b))
        // the first character carries only 3 bits of a 128-bit value
        && rest.as_bytes()[0] <= b'7'
}

/// A request id for responses when the platform gave none.
pub fn request_id() -> String {
    new_id("req")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_order() {
        let a = new_id("prod");
        let b = new_id("prod");
        assert!(is_valid("prod", &a), "{a}");
        assert_eq!(a.len(), 5 + 26);
        assert!(a < b, "{a} !< {b}");
        assert!(!is_valid("cap", &a));
        assert!(!is_valid("prod", "prod_0123"));
        assert!(!is_valid("prod", &a.to_uppercase()));
        assert!(!is_valid("prod", "prod_zzzzzzzzzzzzzzzzzzzzzzzzzz"));
    }

    #[test]
    fn ids_of_one_millisecond_are_not_consecutive() {
        let ids: Vec<u128> = (0..200)
            .map(|_| {
                let id = new_id("x");
                id[2..].bytes().fold(0u128, |acc, c| {
                    let d = CROCKFORD.iter().position(|x| *x == c).unwrap() as u128;
                    (acc << 5) | d
                })
            })
            .collect();
        for pair in ids.windows(2) {
            assert!(pair[1] > pair[0]);
            // the random part moves on by far more than one: no id names the next
            if pair[1] >> 80 == pair[0] >> 80 {
                assert!(pair[1] - pair[0] > 1 << 16, "{} then {}", pair[0], pair[1]);
            }
        }
    }

    #[test]
    fn many_in_one_millisecond_stay_ordered() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("x")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
