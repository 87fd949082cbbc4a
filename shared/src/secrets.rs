//! Secret keys: generation, checksum, hashing, and the public prefix/hint.
//!
//! Format: `<prefix><secret><checksum>` where `secret` is CSPRNG base62 and `checksum` is the
//! CRC-32 (IEEE) of everything before it, in base62, left-padded to 6 characters. A mistyped
//! key fails the checksum, so it is rejected without touching storage.

use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const SECRET_LEN: usize = 40;
pub const CHECKSUM_LEN: usize = 6;

/// Fill `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    // The OS RNG failing is not something the process can recover from.
    getrandom::fill(buf).expect("operating system random number generator unavailable");
}

/// `n` uniformly random base62 characters (rejection sampling, no modulo bias).
pub fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill_random(&mut buf);
        for b in buf {
            // 248 = 4 * 62: values at or above it would bias the result
            if b < 248 && out.len() < n {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// CRC-32 of `body` in base62, left-padded with `0` to 6 characters.
pub fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 is ascii")
}

/// A new key: `prefix` + random secret + checksum.
pub fn generate(prefix: &str) -> String {
    let body = format!("{prefix}{}", random_base62(SECRET_LEN));
    let sum = checksum(&body);
    body + &sum
}

/// Whether `key` is `prefix` + at least 32 base62 characters + a matching checksum.
pub fn well_formed(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() < 32 + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    checksum(body) == sum
}

/// Lowercase hex SHA-256: the only form in which a key is ever stored.
pub fn hash(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The public prefix: `prefix` plus the first 4 secret characters.
pub fn display_prefix(prefix: &str, key: &str) -> String {
    key.chars().take(prefix.chars().count() + 4).collect()
}

/// The last 4 characters of the key.
pub fn hint(key: &str) -> String {
    let n = key.chars().count();
    key.chars().skip(n.saturating_sub(4)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_verify_and_typos_do_not() {
        let k = generate("rt_live_");
        assert!(k.starts_with("rt_live_"));
        assert_eq!(k.len(), 8 + SECRET_LEN + CHECKSUM_LEN);
        assert!(well_formed("rt_live_", &k));
        assert!(!well_formed("rt_test_", &k));
        // change one secret character
        let mut typo: Vec<char> = k.chars().collect();
        typo[10] = if typo[10] == 'a' { 'b' } else { 'a' };
        let typo: String = typo.into_iter().collect();
        assert!(!well_formed("rt_live_", &typo));
        assert!(!well_formed("rt_live_", "rt_live_short"));
    }

    #[test]
    fn checksum_matches_zlib_crc32() {
        // zlib.crc32(b"hello") == 907060870
        let mut n = 907060870u64;
        let mut expect = Vec::new();
        for _ in 0..6 {
            expect.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expect.reverse();
        assert_eq!(checksum("hello"), String::from_utf8(expect).unwrap());
        assert_eq!(checksum(""), "000000");
    }

    #[test]
    fn hash_prefix_hint() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            display_prefix("papi_live_", "papi_live_ABCDEFG"),
            "papi_live_ABCD"
        );
        assert_eq!(hint("papi_live_ABCDEFG"), "DEFG");
    }

    #[test]
    fn random_is_base62() {
        let s = random_base62(200);
        assert_eq!(s.len(), 200);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
