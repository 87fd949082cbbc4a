//! Hand-written nasty inputs: each gets a 4xx with the contract's error body, and nothing
//! is stored.

use crate::common::{Store, TestApp};
use bytes::Bytes;
use runtype::router;
use runtype::store::Query;
use serde_json::{json, Value};

crate::cases! {
    both: [
        nasty_bodies_are_4xx_and_store_nothing,
        nasty_strings_in_every_string_field,
        nasty_gateway_calls_are_4xx_and_admit_nothing,
    ],
}

/// Everything stored under the product and in the owner's index.
async fn footprint(t: &TestApp, product: &str) -> usize {
    let partition = t
        .app
        .table()
        .query(&Query::partition(format!("PRODUCT#{product}")))
        .await
        .unwrap();
    let index = t
        .app
        .table()
        .query(&Query::index(
            runtype::store::Index::Gsi1,
            format!("OWNER#{}", t.owner),
        ))
        .await
        .unwrap();
    partition.items.len() + index.items.len()
}

struct Fixture {
    t: TestApp,
    p: String,
    paths: Vec<(&'static str, String)>,
}

async fn fixture(store: Store) -> Fixture {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let s = t.surface(&p, "s", "api").await;
    let i = t
        .send(
            &router::ADD_SURFACE_ITEM,
            [&p, &s],
            Some(json!({ "capabilityId": c })),
        )
        .await
        .id();
    let ss = t.surface(&p, "s", "schedule").await;
    let sc = t
        .send(
            &router::CREATE_SCHEDULE,
            [&p, &ss],
            Some(json!({ "flowId": "f", "triggerType": "recurring", "cron": "0 9 * * *" })),
        )
        .await
        .id();
    let paths = vec![
        ("POST", "/v1/products".to_string()),
        ("PUT", format!("/v1/products/{p}")),
        ("POST", format!("/v1/products/{p}/capabilities")),
        ("PUT", format!("/v1/products/{p}/capabilities/{c}")),
        ("POST", format!("/v1/products/{p}/surfaces")),
        ("PUT", format!("/v1/products/{p}/surfaces/{s}")),
        ("POST", format!("/v1/products/{p}/surfaces/{s}/items")),
        ("PUT", format!("/v1/products/{p}/surfaces/{s}/items/{i}")),
        ("POST", format!("/v1/products/{p}/surfaces/{s}/keys")),
        ("POST", format!("/v1/products/{p}/surfaces/{ss}/schedules")),
        (
            "PUT",
            format!("/v1/products/{p}/surfaces/{ss}/schedules/{sc}"),
        ),
    ];
    Fixture { t, p, paths }
}

fn raw(
    t: &TestApp,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> http::Request<Bytes> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", t.key));
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    b.body(Bytes::from(body)).unwrap()
}

fn is_contract_error(r: &crate::common::Res) -> bool {
    (400..500).contains(&r.status)
        && r.body["error"].as_str().is_some_and(|e| !e.is_empty())
        && r.body["code"].is_string()
}

async fn nasty_bodies_are_4xx_and_store_nothing(store: Store) {
    let f = fixture(store).await;
    let before = footprint(&f.t, &f.p).await;
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!(
        "{{\"name\":\"x\",\"canvas\":{}1{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let bodies: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        (
            "non-UTF-8",
            Some("application/json"),
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
        ),
        (
            "latin-1 name",
            Some("application/json"),
            b"{\"name\":\"caf\xe9\"}".to_vec(),
        ),
        (
            "deeply nested array",
            Some("application/json"),
            deep.into_bytes(),
        ),
        (
            "deeply nested object",
            Some("application/json"),
            deep_object.into_bytes(),
        ),
        (
            "huge number",
            Some("application/json"),
            b"{\"name\":\"x\",\"rateLimitPerMinute\":1e400,\"displayOrder\":1e400}".to_vec(),
        ),
        ("huge integer in every field", Some("application/json"), {
            let huge = "123456789012345678901234567890";
            let fields = [
                "name",
                "capabilityName",
                "flowId",
                "agentId",
                "type",
                "capabilityId",
                "triggerType",
                "cron",
                "rateLimitPerMinute",
                "rateLimitPerDay",
                "enabled",
                "environment",
                "description",
            ];
            let inner: Vec<String> = fields.iter().map(|f| format!("\"{f}\":{huge}")).collect();
            format!("{{{}}}", inner.join(",")).into_bytes()
        }),
        (
            "duplicate keys",
            Some("application/json"),
            b"{\"name\":\"a\",\"name\":\"b\",\"capabilityName\":\"a\",\"capabilityName\":\"b\"}"
                .to_vec(),
        ),
        (
            "wrong content type",
            Some("text/plain"),
            b"{\"name\":\"x\"}".to_vec(),
        ),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            b"name=x".to_vec(),
        ),
        ("xml", Some("application/xml"), b"<name>x</name>".to_vec()),
        (
            "trailing garbage",
            Some("application/json"),
            b"{\"name\":\"x\"} trailing".to_vec(),
        ),
        (
            "not an object",
            Some("application/json"),
            b"[\"name\"]".to_vec(),
        ),
        (
            "NUL byte raw",
            Some("application/json"),
            b"{\"name\":\"a\x00b\"}".to_vec(),
        ),
        ("too large", Some("application/json"), {
            let mut v = b"{\"name\":\"".to_vec();
            v.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 10));
            v.extend(b"\"}");
            v
        }),
    ];
    for (method, path) in &f.paths {
        for (what, ct, body) in &bodies {
            let r = f.t.raw(raw(&f.t, method, path, *ct, body.clone())).await;
            assert!(is_contract_error(&r), "{what} to {method} {path}: {r:?}");
        }
    }
    assert_eq!(footprint(&f.t, &f.p).await, before, "nothing was stored");
    let g = f.t.send(&router::GET_PRODUCT, [&f.p], None).await;
    assert_eq!(g.body["name"], "p");
}

/// Every string field of every write, with a NUL byte and with 10 001 characters.
async fn nasty_strings_in_every_string_field(store: Store) {
    let f = fixture(store).await;
    let before = footprint(&f.t, &f.p).await;
    let fields: &[(&str, &[&str])] = &[
        ("/v1/products", &["name", "description", "icon"]),
        (
            "/capabilities",
            &[
                "capabilityName",
                "capabilityDescription",
                "flowId",
                "agentId",
            ],
        ),
        ("/surfaces", &["name", "type", "status", "environment"]),
        (
            "/items",
            &[
                "capabilityId",
                "exposedName",
                "exposedDescription",
                "endpointSlug",
            ],
        ),
        ("/keys", &["name", "expiresAt", "environment"]),
        (
            "/schedules",
            &[
                "flowId",
                "agentId",
                "triggerType",
                "cron",
                "runAt",
                "timezone",
                "name",
                "recordType",
            ],
        ),
    ];
    let long = "x".repeat(10_001);
    for (method, path) in &f.paths {
        let names = fields
            .iter()
            .filter(|(suffix, _)| {
                let p = path.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
                p.ends_with(&format!("{suffix}/"))
                    || path.ends_with(suffix)
                    || (*suffix == "/v1/products" && path.matches('/').count() <= 3)
            })
            .flat_map(|(_, names)| names.iter())
            .collect::<Vec<_>>();
        assert!(!names.is_empty(), "{path}");
        for name in names {
            for bad in ["a\u{0}b".to_string(), long.clone()] {
                let body: Value = json!({ *name: bad });
                let r = f.t.call(method, path, Some(body)).await;
                assert!(
                    is_contract_error(&r),
                    "{name} ({} chars) to {method} {path}: {r:?}",
                    bad.len()
                );
                assert_eq!(r.status, 400, "{name} to {method} {path}");
            }
        }
    }
    assert_eq!(footprint(&f.t, &f.p).await, before, "nothing was stored");
}

/// The gateway under hostile input: keys, headers, bodies, slugs and ids that are wrong in
/// every way each get the contract's 4xx and admit (and store) nothing.
async fn nasty_gateway_calls_are_4xx_and_admit_nothing(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let s = t.surface(&p, "s", "api").await;
    t.send(
        &router::ADD_SURFACE_ITEM,
        [&p, &s],
        Some(json!({ "capabilityId": c })),
    )
    .await;
    let key = t.surface_key(&p, &s).await;
    let base = format!("/v1/products/{p}/surfaces/{s}/api");
    let send = |method: &str, path: &str, headers: Vec<(&str, Vec<u8>)>, body: Vec<u8>| {
        let mut b = http::Request::builder().method(method).uri(path);
        for (n, v) in headers {
            b = b.header(n, http::HeaderValue::from_bytes(&v).unwrap());
        }
        t.raw(b.body(Bytes::from(body)).unwrap())
    };
    let bearer = |k: &str| vec![("authorization", format!("Bearer {k}").into_bytes())];
    let long = format!("papi_test_{}", "A".repeat(100_000));
    let keys: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![],
        vec![("authorization", b"Bearer".to_vec())],
        vec![("authorization", b"Basic abc".to_vec())],
        vec![("authorization", b"Bearer caf\xe9".to_vec())],
        vec![("x-api-key", b"".to_vec())],
        vec![("x-api-key", b"\xff\xfe".to_vec())],
        bearer(&long),
        bearer(&key.to_uppercase()),
        bearer(&format!("{key} {key}")),
        bearer(&key.replace("papi_", "mcp_")),
        bearer(&t.key),
        vec![("x-api-key", b"rt_live_nope".to_vec())],
    ];
    let slug = format!("{base}/c");
    for headers in keys {
        let shown = format!(
            "{:?}",
            headers
                .iter()
                .map(|(n, v)| (n, v.len()))
                .collect::<Vec<_>>()
        );
        let r = send("POST", &slug, headers, b"{}".to_vec()).await;
        assert_eq!(r.status, 401, "{shown}: {r:?}");
        assert!(is_contract_error(&r), "{shown}: {r:?}");
    }
    let ok = bearer(&key);
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (Some("application/json"), vec![b'{', 0xff, b'}']),
        (Some("application/json"), b"[]".to_vec()),
        (Some("application/json"), b"null".to_vec()),
        (
            Some("application/json"),
            b"{\"inputs\":1,\"inputs\":2}".to_vec(),
        ),
        (
            Some("application/json"),
            format!(
                "{{\"inputs\":{}1{}}}",
                "{\"a\":".repeat(10_000),
                "}".repeat(10_000)
            )
            .into_bytes(),
        ),
        (
            Some("application/json"),
            format!(
                "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
                "\\u0000"
            )
            .into_bytes(),
        ),
        (Some("text/plain"), b"hello".to_vec()),
        (Some("application/json"), vec![b' '; 300 * 1024]),
        (
            Some("application/json"),
            format!("{{\"metadata\":{{\"k\":\"{}\"}}}}", "x".repeat(2000)).into_bytes(),
        ),
    ];
    for (ct, body) in bodies {
        let mut headers = ok.clone();
        if let Some(ct) = ct {
            headers.push(("content-type", ct.as_bytes().to_vec()));
        }
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
        let r = send("POST", &slug, headers, body).await;
        assert!(is_contract_error(&r), "{shown}: {r:?}");
    }
    let paths = [
        format!("{base}/{}", "x".repeat(5000)),
        format!("{base}/%00"),
        format!("{base}/..%2F..%2Fkeys"),
        format!("{base}/executions/exec_00000000000000000000000000"),
        format!("{base}/executions/not-an-id"),
        format!("/v1/products/prod_zzz/surfaces/{s}/api/c"),
        format!("/v1/products/{p}/surfaces/surf_zzz/api/c"),
    ];
    for path in &paths {
        let method = if path.contains("/executions/") {
            "GET"
        } else {
            "POST"
        };
        let r = send(method, path, ok.clone(), b"{}".to_vec()).await;
        assert!(is_contract_error(&r), "{path}: {r:?}");
    }
    let executions = t.send(&router::LIST_EXECUTIONS, [&p], None).await;
    assert_eq!(executions.body["data"], json!([]), "nothing was admitted");
    let stored = crate::common::everything_stored(&t).await;
    assert!(!stored.contains("USAGE#"), "no call was counted as a use");
}
