//! Session tokens (Clerk-style JWTs) beside platform keys: RS256 and ES256 keys from a JWKS
//! served over loopback HTTP or read from a file, every rejection a 401, no storage read.

use runtype::router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{send, Res, Store, TestApp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use bytes::Bytes;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rsa::traits::PublicKeyParts;
use runtype::app::{App, Config};
use runtype::auth::jwt::{JwksSource, JwtConfig, JwtVerifier};
use serde_json::{json, Value};

const ISSUER: &str = "https://clerk.example.test";

struct RsaKey {
    der: Vec<u8>,
    jwk: Value,
}

fn rsa_key(kid: &str) -> RsaKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let public = private.to_public_key();
    RsaKey {
        der: private.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        jwk: json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                     "n": B64.encode(public.n().to_bytes_be()), "e": B64.encode(public.e().to_bytes_be()) }),
    }
}

struct EcKey {
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn ec_key(kid: &str) -> EcKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    EcKey {
        pkcs8: pkcs8.as_ref().to_vec(),
        jwk: json!({ "kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256",
                     "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]) }),
    }
}

/// Keys made once per run (RSA generation is slow).
struct Keys {
    a: RsaKey,
    b: RsaKey,
    imposter: RsaKey,
    ec: EcKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        a: rsa_key("key-a"),
        b: rsa_key("key-b"),
        imposter: rsa_key("key-a"),
        ec: ec_key("key-ec"),
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str) -> Value {
    json!({ "iss": ISSUER, "sub": sub, "exp": now() + 300, "iat": now(), "nbf": now() - 5 })
}

fn sign_rsa(key: &RsaKey, kid: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_rsa_der(&key.der)).unwrap()
}

fn sign_ec(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("key-ec".into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_ec_der(&keys().ec.pkcs8)).unwrap()
}

/// A JWKS served over loopback HTTP; its document can change while it runs.
struct JwksServer {
    url: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicU64>,
    /// The status it answers (200 unless a test makes it fail).
    status: Arc<std::sync::atomic::AtomicU16>,
}

async fn jwks_server(jwks: Value) -> JwksServer {
    let body = Arc::new(Mutex::new(jwks.to_string()));
    let hits = Arc::new(AtomicU64::new(0));
    let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
    let (b, h, st) = (body.clone(), hits.clone(), status.clone());
    let server = runtype_tests::listen::serve(move |_req| {
        h.fetch_add(1, Ordering::SeqCst);
        let doc = b.lock().unwrap().clone();
        let code = st.load(Ordering::SeqCst);
        async move {
            let mut res = hyper::Response::new(http_body_util::Full::new(Bytes::from(doc)));
            *res.status_mut() = http::StatusCode::from_u16(code).unwrap();
            res.headers_mut()
                .insert("cache-control", "public, max-age=60".parse().unwrap());
            res
        }
    })
    .await;
    JwksServer {
        url: format!("http://{}/.well-known/jwks.json", server.addr),
        body,
        hits,
        status,
    }
}

fn jwt_config(source: JwksSource, min_refresh: Duration) -> Config {
    let mut c = crate::common::config();
    c.jwt = Some(JwtConfig {
        issuer: ISSUER.into(),
        source,
        authorized_parties: vec!["https://app.example.test".into()],
        leeway_secs: 5,
        min_refresh,
    });
    c
}

async fn call(app: &App, token: &str, method: &str, path: &str, body: Option<Value>) -> Res {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let bytes = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    send(app, b.body(bytes).unwrap()).await
}

crate::cases! {
    both: [
        valid_tokens_are_accepted,
        bad_tokens_are_401,
        sessions_and_platform_keys_are_separate_owners,
        keys_rotate_without_restart,
        jwks_from_a_file,
        keys_expire_and_stale_keys_serve_while_reloads_fail,
        no_keys_at_all_is_503,
    ],
}

fn jwks(keys: &[&Value]) -> Value {
    json!({ "keys": keys })
}

async fn valid_tokens_are_accepted(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk, &k.ec.jwk])).await;
    let app = App::open(
        &t.backend,
        jwt_config(JwksSource::Url(server.url.clone()), Duration::from_secs(60)),
    )
    .await
    .unwrap();

    let user = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let r = call(
        &app,
        &user,
        "POST",
        "/v1/products",
        Some(json!({ "name": "mine" })),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let pid = r.id();
    // no storage read to authenticate: a GET product is exactly its owner check and its
    // one Query
    let before = app.requests.get();
    let r = call(&app, &user, "GET", &format!("/v1/products/{pid}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.requests.get() - before, 2);

    // org_id (or Clerk's o.id) is the owner when present: a member of the org sees it
    let mut in_org = claims("user_2");
    in_org["org_id"] = json!("org_9");
    let r = call(
        &app,
        &sign_rsa(&k.a, "key-a", &in_org),
        "POST",
        "/v1/products",
        Some(json!({ "name": "org's" })),
    )
    .await;
    let org_pid = r.id();
    let mut v2 = claims("user_3");
    v2["o"] = json!({ "id": "org_9", "rol": "admin" });
    let r = call(
        &app,
        &sign_ec(&v2),
        "GET",
        &format!("/v1/products/{org_pid}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "ES256 token of the same org: {r:?}");
    assert_eq!(
        call(&app, &user, "GET", &format!("/v1/products/{org_pid}"), None)
            .await
            .status,
        404
    );

    // the leeway: just expired, or valid from a moment from now, still passes
    let mut edge = claims("user_1");
    edge["exp"] = json!(now() - 2);
    edge["nbf"] = json!(now() + 2);
    edge["azp"] = json!("https://app.example.test");
    let r = call(
        &app,
        &sign_rsa(&k.a, "key-a", &edge),
        "GET",
        "/v1/products",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"][0]["id"], pid.as_str());
    // sessions are full-access: they may write
    let r = call(
        &app,
        &user,
        "PUT",
        &format!("/v1/products/{pid}"),
        Some(json!({ "name": "renamed" })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "the JWKS is fetched once and cached"
    );
}

async fn bad_tokens_are_401(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk, &k.ec.jwk])).await;
    let app = App::open(
        &t.backend,
        jwt_config(JwksSource::Url(server.url.clone()), Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let with = |patch: Value| {
        let mut c = claims("user_1");
        for (key, v) in patch.as_object().unwrap() {
            c[key] = v.clone();
        }
        c
    };
    let good = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = {
        let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        payload["sub"] = json!("someone_else");
        format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(payload.to_string()),
            parts[2]
        )
    };
    let none = format!(
        "{}.{}.",
        B64.encode(json!({ "alg": "none", "typ": "JWT", "kid": "key-a" }).to_string()),
        B64.encode(claims("user_1").to_string())
    );
    // HS256 "signed" with the RSA public key as the HMAC secret: algorithm confusion
    let confused = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("key-a".into());
        let secret = k.a.jwk.to_string();
        jsonwebtoken::encode(
            &h,
            &claims("user_1"),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let no_exp = {
        let mut c = claims("user_1");
        c.as_object_mut().unwrap().remove("exp");
        sign_rsa(&k.a, "key-a", &c)
    };
    let cases = [
        (
            "expired",
            sign_rsa(&k.a, "key-a", &with(json!({ "exp": now() - 60 }))),
        ),
        (
            "not yet valid",
            sign_rsa(&k.a, "key-a", &with(json!({ "nbf": now() + 60 }))),
        ),
        (
            "wrong issuer",
            sign_rsa(
                &k.a,
                "key-a",
                &with(json!({ "iss": "https://evil.example" })),
            ),
        ),
        ("unknown kid", sign_rsa(&k.a, "key-zzz", &claims("user_1"))),
        ("tampered payload", tampered),
        (
            "wrong signature",
            sign_rsa(&k.imposter, "key-a", &claims("user_1")),
        ),
        ("alg none", none),
        ("HS256 with the public key", confused),
        (
            "wrong azp",
            sign_rsa(
                &k.a,
                "key-a",
                &with(json!({ "azp": "https://evil.example" })),
            ),
        ),
        ("no exp", no_exp),
        ("garbage", "a.b.c".to_string()),
        ("garbage base64", "eyJ!!.e30.x".to_string()),
    ];
    for (what, token) in cases {
        let before = app.requests.get();
        let r = call(&app, &token, "GET", "/v1/products", None).await;
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_eq!(r.body["code"], "UNAUTHORIZED");
        assert_eq!(
            app.requests.get(),
            before,
            "{what}: refused without a storage read"
        );
    }
    // the well-formed token still works
    assert_eq!(
        call(&app, &good, "GET", "/v1/products", None).await.status,
        200
    );
    // with no JWT configuration a session token is refused with a clear message
    let r = call(&t.app, &good, "GET", "/v1/products", None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.body["error"].as_str().unwrap().contains("no JWT issuer"),
        "{r:?}"
    );
}

async fn sessions_and_platform_keys_are_separate_owners(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk])).await;
    let app = App::open(
        &t.backend,
        jwt_config(JwksSource::Url(server.url.clone()), Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let session = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let theirs = call(
        &app,
        &session,
        "POST",
        "/v1/products",
        Some(json!({ "name": "session's" })),
    )
    .await
    .id();
    let mine = t.product("key's").await;
    assert_eq!(
        t.send(&router::GET_PRODUCT, [&theirs], None).await.status,
        404
    );
    assert_eq!(
        call(&app, &session, "GET", &format!("/v1/products/{mine}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(
            &app,
            &session,
            "DELETE",
            &format!("/v1/products/{mine}"),
            None
        )
        .await
        .status,
        404
    );
    let listed = call(&app, &session, "GET", "/v1/products", None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    // platform keys still work beside sessions on the same app
    let r = call(&app, &t.key, "GET", &format!("/v1/products/{mine}"), None).await;
    assert_eq!(r.status, 200);
}

async fn keys_rotate_without_restart(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk])).await;
    // a verifier that may reload at once on an unknown kid
    let app = App::open(
        &t.backend,
        jwt_config(JwksSource::Url(server.url.clone()), Duration::ZERO),
    )
    .await
    .unwrap();
    let old = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let new = sign_rsa(&k.b, "key-b", &claims("user_1"));
    assert_eq!(
        call(&app, &old, "GET", "/v1/products", None).await.status,
        200
    );
    assert_eq!(
        call(&app, &new, "GET", "/v1/products", None).await.status,
        401,
        "key-b is not published yet"
    );
    *server.body.lock().unwrap() = jwks(&[&k.a.jwk, &k.b.jwk]).to_string();
    assert_eq!(
        call(&app, &new, "GET", "/v1/products", None).await.status,
        200,
        "picked up without a restart"
    );
    assert_eq!(
        call(&app, &old, "GET", "/v1/products", None).await.status,
        200
    );

    // with the default interval, unknown kids do not hammer the JWKS endpoint
    let limited = App::open(
        &t.backend,
        jwt_config(JwksSource::Url(server.url.clone()), Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let hits = server.hits.load(Ordering::SeqCst);
    let stranger = sign_rsa(&k.a, "key-unknown", &claims("user_1"));
    for _ in 0..5 {
        assert_eq!(
            call(&limited, &stranger, "GET", "/v1/products", None)
                .await
                .status,
            401
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst) - hits,
        1,
        "one load, then no more within the interval"
    );
}

async fn jwks_from_a_file(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let dir = std::env::temp_dir().join(runtype::ids::new_id("jwks"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, jwks(&[&k.ec.jwk]).to_string()).unwrap();
    let app = App::open(
        &t.backend,
        jwt_config(JwksSource::File(file.clone()), Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let r = call(
        &app,
        &sign_ec(&claims("user_7")),
        "POST",
        "/v1/products",
        Some(json!({ "name": "from file" })),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        call(
            &app,
            &sign_rsa(&k.a, "key-a", &claims("user_7")),
            "GET",
            "/v1/products",
            None
        )
        .await
        .status,
        401
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A verifier on `server` that may reload at once, keeping time by `clock`.
async fn app_with_clock(t: &TestApp, server: &JwksServer, clock: &runtype::time::Clock) -> App {
    let mut app = App::open(&t.backend, crate::common::config())
        .await
        .unwrap();
    app.jwt = Some(Arc::new(
        JwtVerifier::new(JwtConfig {
            issuer: ISSUER.into(),
            source: JwksSource::Url(server.url.clone()),
            authorized_parties: vec!["https://app.example.test".into()],
            leeway_secs: 5,
            min_refresh: Duration::ZERO,
        })
        .with_clock(clock.clone()),
    ));
    app
}

/// Keys live for the answer's `max-age` (60 s here): a key removed from the JWKS stops being
/// trusted once that has passed; while reloading fails the last good keys serve for an hour
/// more, then nothing does (503).
async fn keys_expire_and_stale_keys_serve_while_reloads_fail(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk])).await;
    let clock = runtype::time::Clock::fixed(chrono::Utc::now());
    let app = app_with_clock(&t, &server, &clock).await;
    let advance = |secs: i64| clock.set(clock.now() + chrono::Duration::seconds(secs));
    let old = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let new = sign_rsa(&k.b, "key-b", &claims("user_1"));
    let status = |token: String| {
        let app = &app;
        async move { call(app, &token, "GET", "/v1/products", None).await.status }
    };
    assert_eq!(status(old.clone()).await, 200);
    // key-a is withdrawn; within max-age the keys held are still the ones in force
    *server.body.lock().unwrap() = jwks(&[&k.b.jwk]).to_string();
    advance(30);
    let hits = server.hits.load(Ordering::SeqCst);
    assert_eq!(status(old.clone()).await, 200);
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        hits,
        "no reload while fresh"
    );
    // past max-age they are loaded again: key-a is no longer trusted
    advance(31);
    assert_eq!(status(old.clone()).await, 401);
    assert_eq!(status(new.clone()).await, 200);
    // the JWKS endpoint fails: the last good keys serve on, for up to an hour
    server.status.store(500, Ordering::SeqCst);
    advance(61);
    assert_eq!(
        status(new.clone()).await,
        200,
        "stale keys within the grace"
    );
    advance(3600);
    let r = call(&app, &new, "GET", "/v1/products", None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("UNAVAILABLE")),
        "{r:?}"
    );
    // and once it answers again, all is well
    server.status.store(200, Ordering::SeqCst);
    assert_eq!(status(new).await, 200);
}

async fn no_keys_at_all_is_503(store: Store) {
    let t = TestApp::new(store).await;
    let k = keys();
    let server = jwks_server(jwks(&[&k.a.jwk])).await;
    server.status.store(503, Ordering::SeqCst);
    let clock = runtype::time::Clock::fixed(chrono::Utc::now());
    let app = app_with_clock(&t, &server, &clock).await;
    let token = sign_rsa(&k.a, "key-a", &claims("user_1"));
    let r = call(&app, &token, "GET", "/v1/products", None).await;
    assert_eq!(
        r.status, 503,
        "signing keys unavailable is not the caller's fault: {r:?}"
    );
    assert_eq!(r.body["code"], "UNAVAILABLE");
}
