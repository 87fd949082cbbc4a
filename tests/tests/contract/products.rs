//! Products: every field rule, partial update with deep merge, get, list, delete.

use crate::common::{Store, TestApp};
use runtype::router;
use serde_json::json;

crate::cases! {
    both: [
        create_answers_201_with_defaults,
        create_validates_every_field,
        update_is_partial_and_deep_merges,
        update_validates,
        get_includes_capabilities,
        delete_removes_everything,
        list_pages_newest_first,
        list_search_and_limits,
        list_rejects_tampered_cursor,
    ],
}

async fn create_answers_201_with_defaults(store: Store) {
    let t = TestApp::new(store).await;
    let r = t
        .send(
            &router::CREATE_PRODUCT,
            [],
            Some(json!({ "name": "  Support bot  ", "unknown": 1 })),
        )
        .await
        .expect(201);
    let b = &r.body;
    assert!(runtype::ids::is_valid("prod", b["id"].as_str().unwrap()));
    assert_eq!(b["name"], "Support bot");
    assert_eq!(b["description"], json!(null));
    assert_eq!(b["icon"], json!(null));
    assert_eq!(b["canvas"], json!({}));
    assert_eq!(b["spec"], json!({}));
    assert_eq!(b["capabilities"], json!([]));
    assert_eq!(b["surfaces"], json!([]));
    assert!(b.get("unknown").is_none());
    assert!(b.get("owner").is_none(), "internal fields stay internal");
    let created = b["createdAt"].as_str().unwrap();
    assert!(runtype::time::parse(created).is_some());
    assert_eq!(created.len(), 24, "RFC 3339 with milliseconds: {created}");
    assert_eq!(b["createdAt"], b["updatedAt"]);

    let full = t
        .send(&router::CREATE_PRODUCT, [],
            Some(json!({ "name": "x", "description": "d", "icon": "🤖", "canvas": {"a": [1]}, "spec": {"v": 2} })),
        )
        .await.expect(201);
    assert_eq!(full.body["icon"], "🤖");
    assert_eq!(full.body["canvas"], json!({"a": [1]}));
}

async fn create_validates_every_field(store: Store) {
    let t = TestApp::new(store).await;
    let bad = |body: serde_json::Value, path: &'static str, code: &'static str| (body, path, code);
    let big = "x".repeat(70 * 1024);
    let cases = [
        bad(json!({}), "name", "MISSING_REQUIRED_FIELD"),
        bad(json!({ "name": null }), "name", "MISSING_REQUIRED_FIELD"),
        bad(json!({ "name": "   " }), "name", "TOO_SHORT"),
        bad(json!({ "name": "a".repeat(256) }), "name", "TOO_LONG"),
        bad(json!({ "name": 5 }), "name", "INVALID_TYPE"),
        bad(json!({ "name": "a\u{0}b" }), "name", "INVALID_FORMAT"),
        bad(
            json!({ "name": "a", "description": "d".repeat(10_001) }),
            "description",
            "TOO_LONG",
        ),
        bad(
            json!({ "name": "a", "description": [] }),
            "description",
            "INVALID_TYPE",
        ),
        bad(
            json!({ "name": "a", "icon": "i".repeat(51) }),
            "icon",
            "TOO_LONG",
        ),
        bad(
            json!({ "name": "a", "canvas": [1] }),
            "canvas",
            "INVALID_TYPE",
        ),
        bad(
            json!({ "name": "a", "canvas": { "big": big } }),
            "canvas",
            "TOO_LONG",
        ),
        bad(json!({ "name": "a", "spec": "s" }), "spec", "INVALID_TYPE"),
    ];
    for (body, path, code) in cases {
        let r = t
            .send(&router::CREATE_PRODUCT, [], Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.body["code"], "VALIDATION_ERROR");
        assert!(r.has_detail(path, code), "{body}: {r:?}");
        assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // every bad field at once
    let r = t
        .send(
            &router::CREATE_PRODUCT,
            [],
            Some(json!({ "icon": 1, "spec": 2 })),
        )
        .await;
    assert_eq!(r.details().len(), 3, "{r:?}");
    // exactly at the limits is fine
    t.send(
        &router::CREATE_PRODUCT,
        [],
        Some(json!({ "name": "é".repeat(255), "icon": "i".repeat(50) })),
    )
    .await
    .expect(201);
    // nothing was stored by the failures
    let list = t.send(&router::LIST_PRODUCTS, [], None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

async fn update_is_partial_and_deep_merges(store: Store) {
    let t = TestApp::new(store).await;
    let r = t
        .send(&router::CREATE_PRODUCT, [],
            Some(json!({ "name": "p", "description": "keep", "icon": "i",
                         "canvas": { "nodes": { "a": 1, "b": 2 }, "list": [1, 2] }, "spec": { "x": 1 } })),
        )
        .await;
    let id = r.id();
    let created_at = r.body["createdAt"].clone();
    let r = t
        .send(
            &router::UPDATE_PRODUCT,
            [&id],
            Some(json!({ "name": "renamed", "icon": null,
                         "canvas": { "nodes": { "a": null, "c": 3 }, "list": [9] } })),
        )
        .await
        .expect(200);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["description"], "keep");
    assert_eq!(r.body["icon"], json!(null));
    assert_eq!(
        r.body["canvas"],
        json!({ "nodes": { "b": 2, "c": 3 }, "list": [9] })
    );
    assert_eq!(r.body["spec"], json!({ "x": 1 }));
    assert_eq!(r.body["createdAt"], created_at);
    assert!(r.body["updatedAt"].as_str() >= created_at.as_str());
    let g = t.send(&router::GET_PRODUCT, [&id], None).await;
    assert_eq!(g.body["canvas"], r.body["canvas"]);
    // an empty body changes nothing
    let r2 = t
        .send(&router::UPDATE_PRODUCT, [&id], Some(json!({})))
        .await
        .expect(200);
    assert_eq!(r2.body["name"], "renamed");
}

async fn update_validates(store: Store) {
    let t = TestApp::new(store).await;
    let id = t.product("p").await;
    let path = format!("/v1/products/{id}");
    for (body, field, code) in [
        (json!({ "name": null }), "name", "INVALID_TYPE"),
        (json!({ "name": "" }), "name", "TOO_SHORT"),
        (
            json!({ "description": "d".repeat(10_001) }),
            "description",
            "TOO_LONG",
        ),
        (json!({ "canvas": 3 }), "canvas", "INVALID_TYPE"),
    ] {
        let r = t.call("PUT", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.has_detail(field, code), "{body}: {r:?}");
    }
    // merged size past the limit
    let half = "x".repeat(40 * 1024);
    assert_eq!(
        t.call("PUT", &path, Some(json!({ "canvas": { "a": half } })))
            .await
            .status,
        200
    );
    let r = t
        .call("PUT", &path, Some(json!({ "canvas": { "b": half } })))
        .await;
    assert!(r.has_detail("canvas", "TOO_LONG"), "{r:?}");
    let missing = runtype::ids::new_id("prod");
    assert_eq!(
        t.send(&router::UPDATE_PRODUCT, [&missing], Some(json!({})))
            .await
            .status,
        404
    );
}

async fn get_includes_capabilities(store: Store) {
    let t = TestApp::new(store).await;
    let id = t.product("p").await;
    t.capability(&id, "first").await;
    t.capability(&id, "second").await;
    let r = t.send(&router::GET_PRODUCT, [&id], None).await.expect(200);
    let caps = r.body["capabilities"].as_array().unwrap();
    let names: Vec<_> = caps
        .iter()
        .map(|c| c["capabilityName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(r.body["surfaces"], json!([]));
    assert_eq!(
        t.send(&router::GET_PRODUCT, ["prod_nope"], None)
            .await
            .status,
        404
    );
    let missing = runtype::ids::new_id("prod");
    let r = t.send(&router::GET_PRODUCT, [&missing], None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
}

async fn delete_removes_everything(store: Store) {
    let t = TestApp::new(store).await;
    let id = t.product("p").await;
    let cap = t.capability(&id, "c").await;
    let r = t.send(&router::DELETE_PRODUCT, [&id], None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({ "success": true }))
    );
    assert_eq!(t.send(&router::GET_PRODUCT, [&id], None).await.status, 404);
    assert_eq!(
        t.send(&router::DELETE_PRODUCT, [&id], None).await.status,
        404
    );
    t.send(
        &router::UPDATE_CAPABILITY,
        [&id, &cap],
        Some(json!({ "enabled": false })),
    )
    .await
    .expect(404);
    let list = t.send(&router::LIST_PRODUCTS, [], None).await;
    assert_eq!(list.body["data"], json!([]));
    // nothing of the product is left in its partition
    let left = t
        .app
        .table()
        .query(&runtype::store::Query::partition(format!("PRODUCT#{id}")))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
}

async fn list_pages_newest_first(store: Store) {
    let t = TestApp::new(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = t.product(&format!("product {i}")).await;
        for c in 0..i {
            t.capability(&id, &format!("cap {c}")).await;
        }
        ids.push(id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/products?limit=2&cursor={c}"),
            None => "/v1/products?limit=2".to_string(),
        };
        let r = t.call("GET", &path, None).await;
        assert_eq!(r.status, 200, "{r:?}");
        let p = &r.body["pagination"];
        assert_eq!(p["limit"], 2);
        assert_eq!(p["currentOffset"], seen.len());
        assert_eq!(p["hasPrev"], !seen.is_empty());
        for item in r.body["data"].as_array().unwrap() {
            let n = item["capabilityCount"].as_u64().unwrap() as usize;
            assert_eq!(item["capabilities"].as_array().unwrap().len(), n);
            assert_eq!(item["surfaceCount"], 0);
            assert_eq!(item["surfaces"], json!([]));
            if n > 0 {
                assert_eq!(
                    item["capabilities"][0],
                    json!({ "capabilityName": "cap 0" })
                );
            }
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match p["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(p["hasMore"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(p["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // another owner sees none of them
    let other = t.other_owner().await;
    let r = t.send_as(&other, &router::LIST_PRODUCTS, [], None).await;
    assert_eq!(r.body["data"], json!([]));
}

async fn list_search_and_limits(store: Store) {
    let t = TestApp::new(store).await;
    for name in ["Alpha Bot", "beta", "ALPHABET soup", "gamma"] {
        t.product(name).await;
    }
    let r = t.call("GET", "/v1/products?search=alpha", None).await;
    let names: Vec<_> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["ALPHABET soup", "Alpha Bot"]);
    let r = t
        .call("GET", "/v1/products?search=alpha&limit=1", None)
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let c = r.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .call(
            "GET",
            &format!("/v1/products?search=alpha&limit=1&cursor={c}"),
            None,
        )
        .await;
    assert_eq!(r.body["data"][0]["name"], "Alpha Bot");
    assert_eq!(r.body["pagination"]["hasMore"], false);
    let r = t.call("GET", "/v1/products?search=zzz", None).await;
    assert_eq!(r.body["data"], json!([]));
    for (q, code) in [
        ("limit=0", "OUT_OF_RANGE"),
        ("limit=101", "OUT_OF_RANGE"),
        ("limit=ten", "INVALID_TYPE"),
    ] {
        let r = t.call("GET", &format!("/v1/products?{q}"), None).await;
        assert_eq!(r.status, 400, "{q}");
        assert!(r.has_detail("limit", code), "{q}: {r:?}");
    }
    assert_eq!(
        t.call("GET", "/v1/products?limit=100", None).await.status,
        200
    );
}

async fn list_rejects_tampered_cursor(store: Store) {
    let t = TestApp::new(store).await;
    for i in 0..3 {
        t.product(&format!("p{i}")).await;
    }
    let r = t.call("GET", "/v1/products?limit=1", None).await;
    let cursor = r.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let oversized = format!("{cursor}{}", "A".repeat(8192));
    for bad in [
        tampered.as_str(),
        "not-a-cursor",
        "e30.AAAA",
        oversized.as_str(),
    ] {
        let r = t
            .call("GET", &format!("/v1/products?cursor={bad}"), None)
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["code"], "INVALID_CURSOR");
    }
    // a cursor is bound to its owner
    let other = t.other_owner().await;
    let r = t
        .call_as(
            &other,
            "GET",
            &format!("/v1/products?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(r.body["code"], "INVALID_CURSOR");
}
