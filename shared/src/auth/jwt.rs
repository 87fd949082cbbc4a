//! Session tokens: JWTs signed by the identity provider (Clerk), verified against its JWKS.
//!
//! RS256 or ES256 only, the key chosen by `kid`; `iss` must be the configured issuer; `exp`
//! and `nbf` with a few seconds of leeway; `azp`, when present, must be an authorised party
//! (when some are configured). The owner is `org_id` (or Clerk's `o.id`), else `sub`. No
//! storage read. The JWKS is kept for its `Cache-Control: max-age` (else 10 minutes), loaded
//! again when that has passed or for an unknown `kid` (at most once per refresh interval);
//! while a reload fails the last good keys serve for up to an hour more; with no keys at
//! all the answer is 503, not 401.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

pub use crate::config::{JwksSource, JwtConfig};
use crate::outbound::{HttpClient, Reply};

/// Keys are kept this long when the JWKS answer does not say (`Cache-Control: max-age`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// While reloading fails, the last good keys serve this much longer.
pub const STALE_GRACE: Duration = Duration::from_secs(3600);

/// Why a session token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 401, with the reason.
    Token(&'static str),
    /// 503: no signing keys could be loaded.
    KeysUnavailable,
}

impl From<&'static str> for Refused {
    fn from(reason: &'static str) -> Self {
        Refused::Token(reason)
    }
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub owner: String,
    pub user: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    o: Option<Value>,
}

struct Loaded {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// How long these keys are fresh (the answer's `max-age`).
    ttl: Option<Duration>,
    /// When they were loaded (by the verifier's clock).
    at: chrono::DateTime<chrono::Utc>,
}

impl Loaded {
    fn age(&self, now: chrono::DateTime<chrono::Utc>) -> Duration {
        (now - self.at).to_std().unwrap_or(Duration::ZERO)
    }

    fn ttl(&self) -> Duration {
        self.ttl.unwrap_or(DEFAULT_TTL)
    }
}

pub struct JwtVerifier {
    config: JwtConfig,
    clock: crate::time::Clock,
    keys: RwLock<Option<Loaded>>,
    /// When the JWKS was last loaded (serialises loads).
    last_load: Mutex<Option<Instant>>,
    loads: AtomicU64,
    client: HttpClient,
}

impl JwtVerifier {
    pub fn new(config: JwtConfig) -> JwtVerifier {
        JwtVerifier {
            config,
            clock: crate::time::Clock::system(),
            keys: RwLock::new(None),
            last_load: Mutex::new(None),
            loads: AtomicU64::new(0),
            client: HttpClient::new("the JWKS endpoint", Duration::from_secs(5)),
        }
    }

    /// The same verifier, keeping time by `clock` (tests move it).
    pub fn with_clock(mut self, clock: crate::time::Clock) -> JwtVerifier {
        self.clock = clock;
        self
    }

    /// How many times the JWKS has been loaded.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The key `kid` names: from fresh keys; else after loading them again (stale keys, or
    /// an unknown `kid` at most once per refresh interval); a failed load keeps stale keys
    /// within the grace period.
    async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, Refused> {
        let now = self.clock.now();
        let lookup = |loaded: &Option<Loaded>| -> Option<Option<(DecodingKey, Algorithm)>> {
            let loaded = loaded.as_ref()?;
            (loaded.age(now) < loaded.ttl()).then(|| loaded.keys.get(kid).cloned())
        };
        if let Some(Some(found)) = lookup(&*self.keys.read().await) {
            return Ok(Some(found));
        }
        let mut last = self.last_load.lock().await;
        let current = self.keys.read().await;
        let fresh = lookup(&current);
        if let Some(Some(found)) = fresh {
            return Ok(Some(found));
        }
        // loads (for an unknown kid, stale keys or none) at most once per interval; in
        // between, what there is serves
        if last.is_some_and(|t| t.elapsed() < self.config.min_refresh) {
            return match current.as_ref() {
                Some(keys) if keys.age(now) < keys.ttl() + STALE_GRACE => {
                    Ok(keys.keys.get(kid).cloned())
                }
                _ => Err(Refused::KeysUnavailable),
            };
        }
        drop(current);
        *last = Some(Instant::now());
        self.loads.fetch_add(1, Ordering::Relaxed);
        match load(&self.client, &self.config.source).await {
            Ok(mut set) => {
                set.at = now;
                let found = set.keys.get(kid).cloned();
                *self.keys.write().await = Some(set);
                Ok(found)
            }
            Err(e) => {
                crate::log::error("JWKS could not be loaded", &e);
                let mut keys = self.keys.write().await;
                match keys.as_ref() {
                    Some(stale) if stale.age(now) < stale.ttl() + STALE_GRACE => {
                        Ok(stale.keys.get(kid).cloned())
                    }
                    _ => {
                        *keys = None;
                        Err(Refused::KeysUnavailable)
                    }
                }
            }
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Session, Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "Malformed session token")?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err("Session token algorithm not accepted (RS256 or ES256 only)".into());
        }
        let kid = header.kid.ok_or("Session token has no key id (kid)")?;
        let (key, alg) = self
            .key(&kid)
            .await?
            .ok_or(Refused::Token("Session token signed by an unknown key"))?;
        if alg != header.alg {
            return Err("Session token algorithm does not match its key".into());
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => "Session token has expired",
                ErrorKind::ImmatureSignature => "Session token is not valid yet",
                ErrorKind::InvalidIssuer => "Session token issuer is not accepted",
                ErrorKind::InvalidSignature => "Session token signature is invalid",
                ErrorKind::MissingRequiredClaim(_) => "Session token lacks a required claim",
                _ => "Invalid session token",
            }
        })?;
        let claims = data.claims;
        if let Some(azp) = &claims.azp {
            if !self.config.authorized_parties.is_empty()
                && !self.config.authorized_parties.contains(azp)
            {
                return Err("Session token was issued for another party (azp)".into());
            }
        }
        if claims.sub.is_empty() {
            return Err("Session token has no subject".into());
        }
        let org = claims.org_id.filter(|o| !o.is_empty()).or_else(|| {
            claims
                .o
                .as_ref()
                .and_then(|o| o["id"].as_str())
                .map(str::to_string)
        });
        Ok(Session {
            owner: org.unwrap_or_else(|| claims.sub.clone()),
            user: claims.sub,
        })
    }
}

/// The keys of a JWKS usable for RS256/ES256, by `kid`.
fn parse(body: &[u8]) -> Result<Loaded, String> {
    let set: JwkSet =
        serde_json::from_slice(body).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => continue,
        };
        if let Some(declared) = jwk.common.key_algorithm {
            let declared = format!("{declared:?}");
            if declared != format!("{alg:?}") {
                continue;
            }
        }
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.insert(kid, (key, alg));
        }
    }
    Ok(Loaded {
        keys,
        ttl: None,
        at: chrono::DateTime::UNIX_EPOCH,
    })
}

async fn load(client: &HttpClient, source: &JwksSource) -> Result<Loaded, String> {
    match source {
        JwksSource::File(path) => {
            let body = tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse(&body)
        }
        JwksSource::Url(url) => {
            let (body, ttl) = fetch(client, url).await?;
            let mut loaded = parse(&body)?;
            loaded.ttl = ttl;
            Ok(loaded)
        }
    }
}

/// `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// GET `url` (http or https), at most 1 MiB, within 5 s: the body and its `max-age`.
async fn fetch(client: &HttpClient, url: &str) -> Result<(Vec<u8>, Option<Duration>), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad JWKS URL: {e}"))?;
    let accept = [("accept", "application/json".to_string())];
    let raw = match client
        .exchange(http::Method::GET, &uri, &accept, Bytes::new(), 1024 * 1024)
        .await
    {
        Ok(raw) => raw,
        Err(Reply::Unreachable(e)) => return Err(format!("JWKS request failed: {e}")),
        Err(_) => return Err("JWKS request timed out".into()),
    };
    if !(200..300).contains(&raw.status) {
        return Err(format!("JWKS answered {}", raw.status));
    }
    let ttl = raw
        .headers
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    let body = raw.body.ok_or("JWKS body is over 1 MiB")?;
    Ok((body.to_vec(), ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=60"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("max-age=0"), Some(Duration::ZERO));
        assert_eq!(max_age("no-cache"), None);
    }
}
