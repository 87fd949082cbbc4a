//! Surface API keys (the seed endpoint): format, fields, scopes, verification, revocation,
//! cascades (large and interrupted), plaintext never at rest, tenancy and request budgets.

use runtype::router;

use crate::common::{Res, Store, TestApp};
use runtype::auth::surface_key::{judge, presented_hash, Rejection as Refused};
use runtype::model::{KeyHash, Surface, SurfaceStatus};
use runtype::store::{StoreResult, Table};
use serde_json::{json, Value};

/// Why a presented key opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Malformed,
    Unknown,
    Expired,
    SurfaceInactive,
}

/// A key that would open its surface.
#[derive(Debug)]
pub(crate) struct ActiveKey {
    pub(crate) key: KeyHash,
    pub(crate) surface: Surface,
}

impl ActiveKey {
    pub(crate) fn allows(&self, item_id: &str) -> bool {
        self.key.allows(item_id)
    }
}

/// What every door checks of a presented key, whatever its kind of surface, through the
/// doors' own pieces: shape and checksum (`presented_hash`, no read), the hash item
/// (`judge`: known, unexpired), and the key's surface still there and active.
pub(crate) async fn verify(
    table: &dyn Table,
    presented: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<Result<ActiveKey, Rejection>> {
    let Ok(hash) = presented_hash(presented) else {
        return Ok(Err(Rejection::Malformed));
    };
    let found = table
        .get(&runtype::repo::layout::surface_key_hash(&hash))
        .await?;
    let key = match judge(found, now)? {
        Ok(key) => key,
        Err(Refused::Expired) => return Ok(Err(Rejection::Expired)),
        Err(_) => return Ok(Err(Rejection::Unknown)),
    };
    let surface = table
        .get(&runtype::repo::layout::surface(
            &key.product_id,
            &key.surface_id,
        ))
        .await?;
    let Some(surface) = surface else {
        return Ok(Err(Rejection::Unknown));
    };
    let surface: Surface = serde_json::from_value(surface.data).expect("a surface record");
    if surface.status != SurfaceStatus::Active {
        return Ok(Err(Rejection::SurfaceInactive));
    }
    Ok(Ok(ActiveKey { key, surface }))
}

crate::cases! {
    both: [
        key_format_and_fields,
        key_kinds_follow_the_surface,
        key_fields_are_validated,
        scopes_resolve_to_items,
        verification_order,
        plaintext_is_never_at_rest,
        other_owners_get_404_on_every_route,
        request_budgets,
    ],
}

/// CRC-32 (IEEE, as zlib computes it), written out here so the test does not trust the
/// implementation it checks.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) fn base62_6(mut n: u64) -> String {
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap()
}

pub(crate) struct Fixture {
    pub(crate) t: TestApp,
    pub(crate) p: String,
    pub(crate) s: String,
    pub(crate) caps: Vec<String>,
    pub(crate) items: Vec<String>,
}

/// A product with an api surface binding two capabilities.
pub(crate) async fn fixture(store: Store, kind: &str) -> Fixture {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let caps = vec![
        t.capability(&p, "Answer questions").await,
        t.capability(&p, "Summarise").await,
    ];
    let s = t
        .send(
            &router::CREATE_SURFACE,
            [&p],
            Some(json!({ "name": "s", "type": kind })),
        )
        .await
        .id();
    let mut items = Vec::new();
    for (i, c) in caps.iter().enumerate() {
        let r = t
            .send(
                &router::ADD_SURFACE_ITEM,
                [&p, &s],
                Some(json!({ "capabilityId": c, "exposedName": format!("tool{i}") })),
            )
            .await
            .expect(201);
        items.push(r.id());
    }
    Fixture {
        t,
        p,
        s,
        caps,
        items,
    }
}

impl Fixture {
    pub(crate) fn keys_path(&self) -> String {
        format!("/v1/products/{}/surfaces/{}/keys", self.p, self.s)
    }

    pub(crate) async fn key(&self, body: Value) -> Res {
        self.t.call("POST", &self.keys_path(), Some(body)).await
    }

    pub(crate) async fn surface(&self) -> Value {
        let r = self
            .t
            .send(&router::GET_SURFACE, [&self.p, &self.s], None)
            .await
            .expect(200);
        r.body
    }

    pub(crate) async fn verify(&self, key: &str) -> Result<ActiveKey, Rejection> {
        verify(self.t.app.table(), key, chrono::Utc::now())
            .await
            .unwrap()
    }
}

async fn key_format_and_fields(store: Store) {
    let f = fixture(store, "api").await;
    let r = f
        .key(
            json!({ "name": "Primary", "rateLimitPerMinute": 100, "rateLimitPerDay": 10000,
                     "expiresAt": "2099-06-01T00:00:00Z", "environment": "production" }),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = &r.body;
    let key = b["key"].as_str().unwrap();
    // <kind>_<env>_<secret><checksum>
    let secret_and_sum = key.strip_prefix("papi_live_").expect(key);
    assert!(secret_and_sum.len() >= 32 + 6);
    assert!(secret_and_sum.bytes().all(|c| c.is_ascii_alphanumeric()));
    let (body, sum) = key.split_at(key.len() - 6);
    assert_eq!(
        sum,
        base62_6(crc32(body.as_bytes()) as u64),
        "checksum is base62 CRC-32 of the rest"
    );
    assert_eq!(
        b["keyPrefix"],
        format!("papi_live_{}", &secret_and_sum[..4])
    );
    assert_eq!(b["keyHint"], &key[key.len() - 4..]);
    assert!(runtype::ids::is_valid("key", b["id"].as_str().unwrap()));
    assert_eq!(b["surfaceId"], f.s.as_str());
    assert_eq!(b["name"], "Primary");
    assert_eq!(b["scopes"], json!(["*"]));
    assert_eq!(b["scopeTargetIds"], json!([]));
    assert_eq!(b["rateLimitPerMinute"], 100);
    assert_eq!(b["rateLimitPerDay"], 10000);
    assert_eq!(b["expiresAt"], "2099-06-01T00:00:00.000Z");
    assert_eq!(b["isActive"], true);
    assert_eq!(b["environment"], "production");
    assert!(runtype::time::parse(b["createdAt"].as_str().unwrap()).is_some());
    // defaults
    let r = f.key(json!({})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["environment"], "test");
    assert!(r.body["key"].as_str().unwrap().starts_with("papi_test_"));
    for field in ["name", "rateLimitPerMinute", "rateLimitPerDay", "expiresAt"] {
        assert_eq!(r.body[field], json!(null), "{field}");
    }
    // keys are unique
    let again = f.key(json!({})).await;
    assert_ne!(again.body["key"], r.body["key"]);
}

async fn key_kinds_follow_the_surface(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    for (kind, prefix) in [
        ("api", "papi"),
        ("mcp", "mcp"),
        ("mcp_code", "mcp"),
        ("a2a", "a2a"),
        ("chat", "papi"),
        ("schedule", "papi"),
    ] {
        let s = t
            .send(
                &router::CREATE_SURFACE,
                [&p],
                Some(json!({ "name": kind, "type": kind })),
            )
            .await
            .id();
        for (env, tag) in [("test", "test"), ("production", "live")] {
            let r = t
                .send(
                    &router::CREATE_SURFACE_KEY,
                    [&p, &s],
                    Some(json!({ "environment": env })),
                )
                .await;
            let key = r.body["key"].as_str().unwrap().to_string();
            assert!(
                key.starts_with(&format!("{prefix}_{tag}_")),
                "{kind}/{env}: {key}"
            );
            let active = verify(t.app.table(), &key, chrono::Utc::now())
                .await
                .unwrap()
                .expect("verifies");
            assert_eq!(active.key.kind.to_string(), prefix);
        }
    }
}

async fn key_fields_are_validated(store: Store) {
    let f = fixture(store, "api").await;
    let cases = [
        (json!({ "name": "n".repeat(256) }), "name", "TOO_LONG"),
        (json!({ "name": 5 }), "name", "INVALID_TYPE"),
        (json!({ "scopes": "all" }), "scopes", "INVALID_TYPE"),
        // an empty list would authorise nothing: refused, never widened to every item
        (json!({ "scopes": [] }), "scopes", "TOO_SHORT"),
        (
            json!({ "scopes": ["tool0", 3] }),
            "scopes.1",
            "INVALID_TYPE",
        ),
        (
            json!({ "scopes": ["tool0", ""] }),
            "scopes.1",
            "INVALID_FORMAT",
        ),
        (
            json!({ "scopes": (0..51).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
            "scopes",
            "TOO_LONG",
        ),
        (
            json!({ "rateLimitPerMinute": 0 }),
            "rateLimitPerMinute",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "rateLimitPerMinute": 1.5 }),
            "rateLimitPerMinute",
            "INVALID_TYPE",
        ),
        (
            json!({ "rateLimitPerDay": -3 }),
            "rateLimitPerDay",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "rateLimitPerDay": "10" }),
            "rateLimitPerDay",
            "INVALID_TYPE",
        ),
        (
            json!({ "expiresAt": "tomorrow" }),
            "expiresAt",
            "INVALID_FORMAT",
        ),
        (
            json!({ "expiresAt": "2020-01-01T00:00:00Z" }),
            "expiresAt",
            "OUT_OF_RANGE",
        ),
        (json!({ "expiresAt": 1234 }), "expiresAt", "INVALID_TYPE"),
        (
            json!({ "environment": "live" }),
            "environment",
            "INVALID_ENUM",
        ),
        (
            json!({ "environment": null }),
            "environment",
            "INVALID_TYPE",
        ),
    ];
    for (body, path, code) in cases {
        let r = f.key(body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.has_detail(path, code), "{body}: {r:?}");
    }
    assert_eq!(f.surface().await["keys"], json!([]), "no key was stored");
    // an offset in expiresAt is normalised to UTC
    let r = f
        .key(json!({ "expiresAt": "2099-01-01T02:00:00+02:00" }))
        .await;
    assert_eq!(r.body["expiresAt"], "2099-01-01T00:00:00.000Z");
    let missing = runtype::ids::new_id("surf");
    let r =
        f.t.send(
            &router::CREATE_SURFACE_KEY,
            [&f.p, &missing],
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn scopes_resolve_to_items(store: Store) {
    let f = fixture(store, "api").await;
    let (i0, i1) = (f.items[0].clone(), f.items[1].clone());
    let cases = [
        (json!([i0]), json!([i0])),
        (json!([f.caps[1]]), json!([i1])),
        (json!(["answer questions"]), json!([i0])),
        (json!(["tool1", "Answer questions", i1]), json!([i1, i0])),
        (json!(["*"]), json!([])),
    ];
    for (scopes, targets) in cases {
        let r = f.key(json!({ "scopes": scopes })).await;
        assert_eq!(r.status, 201, "{scopes}: {r:?}");
        assert_eq!(r.body["scopeTargetIds"], targets, "{scopes}");
        assert_eq!(r.body["scopes"], scopes);
    }
    // omitted (or null): every item
    for body in [json!({}), json!({ "scopes": null })] {
        let r = f.key(body).await;
        assert_eq!(r.body["scopes"], json!(["*"]), "{r:?}");
    }
    let r = f
        .key(json!({ "scopes": ["tool0", "nothing here", "*"] }))
        .await;
    assert!(r.has_detail("scopes.1", "INVALID_REFERENCE"), "{r:?}");
    assert!(r.has_detail("scopes.2", "INVALID_FORMAT"), "{r:?}");
    // a capability of the product that is not bound to this surface names nothing here
    let unbound = f.t.capability(&f.p, "unbound").await;
    let r = f.key(json!({ "scopes": [unbound] })).await;
    assert!(r.has_detail("scopes.0", "INVALID_REFERENCE"));
    let keys = f.surface().await["keys"].as_array().unwrap().len();
    assert_eq!(keys, 7);
}

async fn verification_order(store: Store) {
    let f = fixture(store, "api").await;
    let r = f.key(json!({ "scopes": ["tool0"], "expiresAt": "2099-01-01T00:00:00Z", "rateLimitPerMinute": 7 })).await;
    let key = r.body["key"].as_str().unwrap().to_string();
    let active = f.verify(&key).await.expect("a fresh key verifies");
    assert_eq!(active.key.key_id, r.id());
    assert_eq!(active.key.surface_id, f.s);
    assert_eq!(active.key.product_id, f.p);
    assert_eq!(active.key.owner, f.t.owner);
    assert_eq!(active.key.rate_limit_per_minute, Some(7));
    assert_eq!(active.surface.id, f.s);
    assert!(active.allows(&f.items[0]));
    assert!(!active.allows(&f.items[1]));
    // malformed keys cost no storage read
    let mut typo: Vec<char> = key.chars().collect();
    typo[14] = if typo[14] == 'a' { 'b' } else { 'a' };
    let typo: String = typo.into_iter().collect();
    for bad in [
        typo.as_str(),
        "papi_live_short",
        "sk_live_4e5f6g7h8i9j0klmnop",
        "",
        &key[..key.len() - 1],
    ] {
        let before = f.t.requests();
        assert_eq!(
            f.verify(bad).await.unwrap_err(),
            Rejection::Malformed,
            "{bad}"
        );
        assert_eq!(f.t.requests(), before, "{bad} was refused without a read");
    }
    // well-formed but never issued: one read
    let before = f.t.requests();
    let stranger = runtype::secrets::generate("papi_test_");
    assert_eq!(f.verify(&stranger).await.unwrap_err(), Rejection::Unknown);
    assert_eq!(f.t.requests() - before, 1);
    // expiry is checked in code, whatever TTL has or has not deleted
    let later = chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:01Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        verify(f.t.app.table(), &key, later)
            .await
            .unwrap()
            .unwrap_err(),
        Rejection::Expired
    );
    // a paused surface stops its keys; resuming brings them back
    let path = format!("/v1/products/{}/surfaces/{}", f.p, f.s);
    f.t.call("PUT", &path, Some(json!({ "status": "paused" })))
        .await;
    assert_eq!(
        f.verify(&key).await.unwrap_err(),
        Rejection::SurfaceInactive
    );
    f.t.call("PUT", &path, Some(json!({ "status": "active" })))
        .await;
    assert!(f.verify(&key).await.is_ok());
}

async fn plaintext_is_never_at_rest(store: Store) {
    let f = fixture(store, "api").await;
    let mut plaintexts = vec![f.t.key.clone()];
    for env in ["test", "production"] {
        let r = f
            .key(json!({ "environment": env, "name": "secret check" }))
            .await;
        plaintexts.push(r.body["key"].as_str().unwrap().to_string());
    }
    let stored = crate::common::everything_stored(&f.t).await;
    assert!(stored.contains("secret check"), "the scan sees the records");
    for k in &plaintexts {
        assert!(!stored.contains(k.as_str()), "a plaintext key is stored");
        // nor its secret part alone
        let secret = &k[k.len() - 30..];
        assert!(!stored.contains(secret));
        assert!(
            stored.contains(&runtype::secrets::hash(k)),
            "only the hash is kept"
        );
    }
}

async fn other_owners_get_404_on_every_route(store: Store) {
    let f = fixture(store, "api").await;
    let key_id = f.key(json!({})).await.id();
    let other = f.t.other_owner().await;
    let (p, s, i, c) = (&f.p, &f.s, &f.items[0], &f.caps[1]);
    let calls = [
        (
            "POST",
            format!("/v1/products/{p}/surfaces"),
            Some(json!({ "name": "x", "type": "chat" })),
        ),
        ("GET", format!("/v1/products/{p}/surfaces"), None),
        ("GET", format!("/v1/products/{p}/surfaces/{s}"), None),
        (
            "PUT",
            format!("/v1/products/{p}/surfaces/{s}"),
            Some(json!({ "name": "stolen" })),
        ),
        ("DELETE", format!("/v1/products/{p}/surfaces/{s}"), None),
        (
            "POST",
            format!("/v1/products/{p}/surfaces/{s}/items"),
            Some(json!({ "capabilityId": c })),
        ),
        (
            "PUT",
            format!("/v1/products/{p}/surfaces/{s}/items/{i}"),
            Some(json!({ "exposedName": "x" })),
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/surfaces/{s}/items/{i}"),
            None,
        ),
        (
            "POST",
            format!("/v1/products/{p}/surfaces/{s}/keys"),
            Some(json!({})),
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/surfaces/{s}/keys/{key_id}"),
            None,
        ),
    ];
    for (m, path, body) in calls {
        let r = f.t.call_as(&other, m, &path, body).await;
        assert_eq!(r.status, 404, "{m} {path}: {r:?}");
        assert_eq!(r.body["code"], "NOT_FOUND");
    }
    let s = f.surface().await;
    assert_eq!(s["name"], "s");
    assert_eq!(s["items"].as_array().unwrap().len(), 2);
    assert_eq!(s["keys"].as_array().unwrap().len(), 1);
}

async fn request_budgets(store: Store) {
    let f = fixture(store, "api").await;
    let (p, s) = (f.p.clone(), f.s.clone());
    let c = f.t.capability(&p, "extra").await;
    let key_id = f.key(json!({})).await.id();
    let cases: Vec<(&str, String, Option<Value>, u64)> = vec![
        (
            "POST",
            format!("/v1/products/{p}/surfaces"),
            Some(json!({ "name": "n", "type": "chat" })),
            2,
        ),
        (
            "PUT",
            format!("/v1/products/{p}/surfaces/{s}"),
            Some(json!({ "name": "m" })),
            2,
        ),
        ("GET", format!("/v1/products/{p}/surfaces/{s}"), None, 2),
        ("GET", format!("/v1/products/{p}/surfaces"), None, 2),
        (
            "POST",
            format!("/v1/products/{p}/surfaces/{s}/items"),
            Some(json!({ "capabilityId": c })),
            3,
        ),
        (
            "PUT",
            format!("/v1/products/{p}/surfaces/{s}/items/{}", f.items[0]),
            Some(json!({ "enabled": false })),
            2,
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/surfaces/{s}/items/{}", f.items[1]),
            None,
            3,
        ),
        (
            "POST",
            format!("/v1/products/{p}/surfaces/{s}/keys"),
            Some(json!({ "scopes": ["extra"] })),
            3,
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/surfaces/{s}/keys/{key_id}"),
            None,
            2,
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/capabilities/{c}"),
            None,
            3,
        ),
        ("DELETE", format!("/v1/products/{p}/surfaces/{s}"), None, 3),
    ];
    let mut report = Vec::new();
    for (m, path, body, budget) in cases {
        let counter = &f.t.app.requests;
        let before = counter.rounds();
        let r = f.t.call(m, &path, body).await;
        assert!(r.status < 300, "{m} {path}: {r:?}");
        // sequential round trips (reads made side by side count once); one authenticated
        let used = counter.rounds() - before - 1;
        report.push(format!("{m} {path}: {used}"));
        assert!(
            used <= budget,
            "{m} {path} made {used} sequential storage round trips; budget {budget}"
        );
    }
    eprintln!("storage requests beyond auth:\n{}", report.join("\n"));
}
