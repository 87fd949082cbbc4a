//! Session tokens: JWTs signed by the identity provider (Clerk), verified against its JWKS.
//!
//! RS256 or ES256 only, the key chosen by `kid`; `iss` must be the configured issuer; `exp`
//! and `nbf` with a few seconds of leeway; `azp`, when present, must be an authorised party
//! (when some are configured). The owner is `org_id` (or Clerk's `o.id`), else `sub`. No
//! storage read: the JWKS is fetched once per process and again only for an unknown `kid`,
//! at most once per refresh interval.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

/// Where the signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    Url(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub source: JwksSource,
    /// Accepted `azp` values; empty means any.
    pub authorized_parties: Vec<String>,
    pub leeway_secs: u64,
    /// Least time between two JWKS loads caused by unknown `kid`s.
    pub min_refresh: Duration,
}

impl JwtConfig {
    /// From `RUNTYPE_JWT_ISSUER` with `RUNTYPE_JWKS_URL` or `RUNTYPE_JWKS_FILE`, and
    /// optionally `RUNTYPE_JWT_AUTHORIZED_PARTIES` (comma-separated). `Ok(None)` when no
    /// issuer is configured (session tokens are then refused).
    pub fn from_env() -> Result<Option<JwtConfig>, String> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(issuer) = var("RUNTYPE_JWT_ISSUER") else {
            return Ok(None);
        };
        let source = match (var("RUNTYPE_JWKS_URL"), var("RUNTYPE_JWKS_FILE")) {
            (Some(url), None) => JwksSource::Url(url),
            (None, Some(file)) => JwksSource::File(file.into()),
            (Some(_), Some(_)) => {
                return Err("set RUNTYPE_JWKS_URL or RUNTYPE_JWKS_FILE, not both".into())
            }
            (None, None) => return Err(
                "RUNTYPE_JWT_ISSUER is set but neither RUNTYPE_JWKS_URL nor RUNTYPE_JWKS_FILE is"
                    .into(),
            ),
        };
        let authorized_parties = var("RUNTYPE_JWT_AUTHORIZED_PARTIES")
            .map(|v| {
                v.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(JwtConfig {
            issuer,
            source,
            authorized_parties,
            leeway_secs: 5,
            min_refresh: Duration::from_secs(60),
        }))
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
}

pub struct JwtVerifier {
    config: JwtConfig,
    keys: RwLock<Option<Loaded>>,
    /// When the JWKS was last loaded (serialises loads).
    last_load: Mutex<Option<Instant>>,
    loads: AtomicU64,
}

/// Why a token was refused (the 401's message).
pub type Refusal = &'static str;

impl JwtVerifier {
    pub fn new(config: JwtConfig) -> JwtVerifier {
        JwtVerifier {
            config,
            keys: RwLock::new(None),
            last_load: Mutex::new(None),
            loads: AtomicU64::new(0),
        }
    }

    /// How many times the JWKS has been loaded.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, Refusal> {
        if let Some(loaded) = self.keys.read().await.as_ref() {
            if let Some(k) = loaded.keys.get(kid) {
                return Ok(Some(k.clone()));
            }
        }
        // Unknown kid (or nothing loaded yet): load again, at most once per interval.
        let mut last = self.last_load.lock().await;
        if let Some(loaded) = self.keys.read().await.as_ref() {
            if let Some(k) = loaded.keys.get(kid) {
                return Ok(Some(k.clone()));
            }
        }
        if last.is_some_and(|t| t.elapsed() < self.config.min_refresh) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        self.loads.fetch_add(1, Ordering::Relaxed);
        let set = match load(&self.config.source).await {
            Ok(set) => set,
            Err(e) => {
                crate::log::error("JWKS could not be loaded", &e);
                return Err(
                    "Session tokens cannot be verified right now (signing keys unavailable)",
                );
            }
        };
        let found = set.keys.get(kid).cloned();
        *self.keys.write().await = Some(set);
        Ok(found)
    }

    pub async fn verify(&self, token: &str) -> Result<Session, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "Malformed session token")?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err("Session token algorithm not accepted (RS256 or ES256 only)");
        }
        let kid = header.kid.ok_or("Session token has no key id (kid)")?;
        let (key, alg) = self
            .key(&kid)
            .await?
            .ok_or("Session token signed by an unknown key")?;
        if alg != header.alg {
            return Err("Session token algorithm does not match its key");
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
                return Err("Session token was issued for another party (azp)");
            }
        }
        if claims.sub.is_empty() {
            return Err("Session token has no subject");
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
    Ok(Loaded { keys })
}

async fn load(source: &JwksSource) -> Result<Loaded, String> {
    match source {
        JwksSource::File(path) => {
            let body = tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse(&body)
        }
        JwksSource::Url(url) => parse(&fetch(url).await?),
    }
}

/// GET `url` (http or https, compiled-in web PKI roots), at most 1 MiB, within 5 s.
async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    use http_body_util::{BodyExt, Empty, Limited};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let uri: http::Uri = url.parse().map_err(|e| format!("bad JWKS URL: {e}"))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let req = http::Request::get(uri)
        .header("accept", "application/json")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client
            .request(req)
            .await
            .map_err(|e| format!("JWKS request failed: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("JWKS answered {}", res.status()));
        }
        let body = Limited::new(res.into_body(), 1024 * 1024)
            .collect()
            .await
            .map_err(|e| format!("JWKS body unreadable: {e}"))?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "JWKS request timed out".to_string())?
}
