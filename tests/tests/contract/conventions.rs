//! The conventions every endpoint shares: authentication, tenancy, error bodies, limits,
//! request ids, and the answer when storage is down.

use crate::common::{Store, TestApp};
use bytes::Bytes;
use http::Request;
use runtype::app::{App, Backend};
use runtype::router;
use serde_json::json;

crate::cases! {
    both: [
        credentials_are_checked,
        bad_checksum_costs_no_storage_read,
        revoked_keys_fail_at_once,
        read_only_keys_only_read,
        other_owners_get_404_everywhere,
        errors_have_the_contract_shape,
        every_response_has_a_request_id,
    ],
    tokio: [storage_down_is_503, embedded_store_in_unwritable_place_fails_clearly],
}

async fn credentials_are_checked(store: Store) {
    let t = TestApp::new(store).await;
    let cases: Vec<Option<String>> = vec![
        None,
        Some("".into()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(format!("Basic {}", t.key)),
        Some(format!("Token {}", t.key)),
        Some("Bearer rt_live_short".into()),
        Some("Bearer sk_live_abcdef".into()),
        Some("Bearer a.b.c".into()),
        Some(format!("Bearer {}", t.key.replace("rt_live_", "rt_test_"))),
        // well-formed (checksum matches) but never issued
        Some(format!("Bearer {}", runtype::secrets::generate("rt_live_"))),
    ];
    for auth in cases {
        let mut b = Request::builder().method("GET").uri("/v1/products");
        if let Some(a) = &auth {
            b = b.header("authorization", a);
        }
        let r = t.raw(b.body(Bytes::new()).unwrap()).await;
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert_eq!(r.body["code"], "UNAUTHORIZED");
    }
    // the scheme is case-insensitive
    let r = t
        .raw(
            Request::builder()
                .uri("/v1/products")
                .header("authorization", format!("bearer {}", t.key))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn bad_checksum_costs_no_storage_read(store: Store) {
    let t = TestApp::new(store).await;
    let mut typo: Vec<char> = t.key.chars().collect();
    typo[12] = if typo[12] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    let before = t.requests();
    t.send_as(&typo, &router::LIST_PRODUCTS, [], None)
        .await
        .expect(401);
    assert_eq!(
        t.requests(),
        before,
        "a mistyped key is rejected without a storage read"
    );
    let before = t.requests();
    t.send_as(
        &runtype::secrets::generate("rt_live_"),
        &router::LIST_PRODUCTS,
        [],
        None,
    )
    .await
    .expect(401);
    assert_eq!(t.requests() - before, 1, "an unknown key costs one read");
}

async fn revoked_keys_fail_at_once(store: Store) {
    let t = TestApp::new(store).await;
    let (id, key) = t.key_for(false).await;
    assert_eq!(
        t.send_as(&key, &router::LIST_PRODUCTS, [], None)
            .await
            .status,
        200
    );
    // revoked through another instance, as `runtype keys revoke` would
    let other = t.sibling().await;
    runtype::repo::accounts::revoke_key(other.table(), &id, &other.clock.now_string())
        .await
        .unwrap();
    t.send_as(&key, &router::LIST_PRODUCTS, [], None)
        .await
        .expect(401);
    // revoking again is harmless; the account's other key still works
    runtype::repo::accounts::revoke_key(other.table(), &id, &other.clock.now_string())
        .await
        .unwrap();
    assert_eq!(t.send(&router::LIST_PRODUCTS, [], None).await.status, 200);
}

async fn read_only_keys_only_read(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let (_, ro) = t.key_for(true).await;
    assert_eq!(
        t.send_as(&ro, &router::LIST_PRODUCTS, [], None)
            .await
            .status,
        200
    );
    assert_eq!(
        t.send_as(&ro, &router::GET_PRODUCT, [&p], None)
            .await
            .status,
        200
    );
    let writes = [
        (
            "POST",
            "/v1/products".to_string(),
            Some(json!({ "name": "x" })),
        ),
        (
            "PUT",
            format!("/v1/products/{p}"),
            Some(json!({ "name": "x" })),
        ),
        ("DELETE", format!("/v1/products/{p}"), None),
        (
            "POST",
            format!("/v1/products/{p}/capabilities"),
            Some(json!({ "capabilityName": "c", "flowId": "f" })),
        ),
    ];
    for (m, path, body) in writes {
        let r = t.call_as(&ro, m, &path, body).await;
        assert_eq!(r.status, 403, "{m} {path}");
        assert_eq!(r.body["code"], "FORBIDDEN");
    }
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["name"], "p");
    assert_eq!(g.body["capabilities"], json!([]));
}

async fn other_owners_get_404_everywhere(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("mine").await;
    let c = t.capability(&p, "c").await;
    let other = t.other_owner().await;
    let calls = [
        ("GET", format!("/v1/products/{p}"), None),
        (
            "PUT",
            format!("/v1/products/{p}"),
            Some(json!({ "name": "stolen" })),
        ),
        ("DELETE", format!("/v1/products/{p}"), None),
        (
            "POST",
            format!("/v1/products/{p}/capabilities"),
            Some(json!({ "capabilityName": "x", "flowId": "f" })),
        ),
        (
            "PUT",
            format!("/v1/products/{p}/capabilities/{c}"),
            Some(json!({ "capabilityName": "stolen" })),
        ),
        ("DELETE", format!("/v1/products/{p}/capabilities/{c}"), None),
    ];
    for (m, path, body) in calls {
        let r = t.call_as(&other, m, &path, body).await;
        assert_eq!(r.status, 404, "{m} {path}: {r:?}");
        assert_eq!(r.body["code"], "NOT_FOUND");
    }
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["name"], "mine");
    assert_eq!(g.body["capabilities"][0]["capabilityName"], "c");
}

async fn errors_have_the_contract_shape(store: Store) {
    let t = TestApp::new(store).await;
    let auth = format!("Bearer {}", t.key);
    let req = |m: &str, path: &str, ct: Option<&str>, body: Vec<u8>| {
        let mut b = Request::builder()
            .method(m)
            .uri(path)
            .header("authorization", &auth);
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Bytes::from(body)).unwrap()
    };
    let json_ct = Some("application/json");
    let cases = [
        (
            req("POST", "/v1/products", json_ct, b"{\"name\":".to_vec()),
            400,
            "INVALID_JSON",
        ),
        (
            req("POST", "/v1/products", json_ct, b"[1,2]".to_vec()),
            400,
            "VALIDATION_ERROR",
        ),
        (
            req("POST", "/v1/products", json_ct, b"\"text\"".to_vec()),
            400,
            "VALIDATION_ERROR",
        ),
        (
            req("POST", "/v1/products", json_ct, vec![0xff, 0xfe, b'{']),
            400,
            "INVALID_JSON",
        ),
        (
            req(
                "POST",
                "/v1/products",
                json_ct,
                "[".repeat(10_000).into_bytes(),
            ),
            400,
            "INVALID_JSON",
        ),
        (
            req(
                "POST",
                "/v1/products",
                Some("text/plain"),
                b"{\"name\":\"x\"}".to_vec(),
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            req(
                "POST",
                "/v1/products",
                Some("application/x-www-form-urlencoded"),
                b"name=x".to_vec(),
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            req("POST", "/v1/products", json_ct, vec![b' '; 1024 * 1024 + 1]),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (req("GET", "/v2/nothing", None, vec![]), 404, "NOT_FOUND"),
        (
            req("GET", "/v1/products/prod_x/unknown", None, vec![]),
            404,
            "NOT_FOUND",
        ),
        (
            req("PATCH", "/v1/products", None, vec![]),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            req("POST", "/v1/products/prod_01", json_ct, b"{}".to_vec()),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            req(
                "GET",
                "/v1/products/PROD_01M8BND55RXHWCXFZKN52KMKBY",
                None,
                vec![],
            ),
            404,
            "NOT_FOUND",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let r = t.raw(request).await;
        assert_eq!(r.status, status, "{what}: {r:?}");
        assert_eq!(r.body["code"], code, "{what}");
        assert!(
            r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    let r = t.raw(req("DELETE", "/v1/products", None, vec![])).await;
    assert_eq!(r.headers["allow"], "GET, POST");
    // JSON with a charset, or a +json type, is JSON
    let r = t
        .raw(req(
            "POST",
            "/v1/products",
            Some("application/json; charset=utf-8"),
            b"{\"name\":\"x\"}".to_vec(),
        ))
        .await;
    assert_eq!(r.status, 201);
    let list = t.send(&router::LIST_PRODUCTS, [], None).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "only the good request stored anything"
    );
}

async fn every_response_has_a_request_id(store: Store) {
    let t = TestApp::new(store).await;
    for (m, path) in [
        ("GET", "/v1/products"),
        ("GET", "/nowhere"),
        ("POST", "/v1/products"),
    ] {
        let r = t.call(m, path, Some(json!({}))).await;
        assert_eq!(r.headers["x-request-id"], "req_test", "{m} {path}");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let r = t
        .raw(
            Request::builder()
                .uri("/v1/products")
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("x-request-id"));
}

/// DynamoDB that cannot be reached: every call is a 503 with no internals, and the app
/// keeps answering.
async fn storage_down_is_503() {
    // a port nothing listens on
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let backend = Backend::DynamoDb {
        table: "runtype".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
    };
    let app = App::open(&backend, crate::common::config()).await.unwrap();
    let key = runtype::secrets::generate("rt_live_");
    for _ in 0..2 {
        let req = Request::builder()
            .uri("/v1/products")
            .header("authorization", format!("Bearer {key}"))
            .body(Bytes::new())
            .unwrap();
        let r = crate::common::send(&app, req).await;
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.body["code"], "UNAVAILABLE");
        let text = r.body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("dispatch"),
            "{text}"
        );
    }
}

/// The embedded store, when its file cannot be opened, fails to open with a clear error.
async fn embedded_store_in_unwritable_place_fails_clearly() {
    let backend = Backend::Embedded("/proc/runtype-cannot-be-here/data.db".into());
    let err = App::open(&backend, crate::common::config())
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("cannot create"), "{err}");
}
