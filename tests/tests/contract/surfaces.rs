//! Surfaces and surface items: field rules, merges, GET surface in one Query, lists,
//! reservations (one binding per capability, unique slugs) and their races.

use crate::common::{Res, Store, TestApp};
use runtype::router;
use serde_json::{json, Value};

crate::cases! {
    both: [
        create_surface_defaults_and_endpoints,
        create_surface_validates,
        update_surface_merges_and_keeps_type,
        list_surfaces_filters_and_pages,
        get_surface_shows_items_keys_and_targets,
        items_bind_capabilities_once,
        items_default_and_unique_slugs,
        items_validate_presentation,
        update_and_delete_items,
        racing_item_duplicates,
    ],
}

pub async fn surface(t: &TestApp, product: &str, kind: &str) -> String {
    t.surface(product, &format!("{kind} surface"), kind).await
}

async fn bind(t: &TestApp, product: &str, surface: &str, body: Value) -> Res {
    t.send(&router::ADD_SURFACE_ITEM, [product, surface], Some(body))
        .await
}

async fn create_surface_defaults_and_endpoints(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    for kind in <runtype::model::SurfaceType as runtype::model::Word>::NAMES {
        let r = t
            .send(
                &router::CREATE_SURFACE,
                [&p],
                Some(json!({ "name": " S ", "type": kind })),
            )
            .await;
        assert_eq!(r.status, 201, "{kind}: {r:?}");
        let b = &r.body;
        let id = b["id"].as_str().unwrap();
        assert!(runtype::ids::is_valid("surf", id));
        assert_eq!(b["name"], "S");
        assert_eq!(b["type"], *kind);
        assert_eq!(b["productId"], p.as_str());
        assert_eq!(b["status"], "active");
        assert_eq!(b["environment"], "development");
        assert_eq!(b["items"], json!([]));
        assert_eq!(b["keys"], json!([]));
        for f in ["config", "behavior", "inbound", "outbound"] {
            assert_eq!(b[f], json!(null), "{f}");
        }
        let expected = match *kind {
            "api" => Some(format!(
                "http://test.local/v1/products/{p}/surfaces/{id}/api"
            )),
            "mcp" | "mcp_code" => Some(format!(
                "http://test.local/v1/products/{p}/surfaces/{id}/mcp"
            )),
            "a2a" => Some(format!(
                "http://test.local/v1/products/{p}/surfaces/{id}/a2a"
            )),
            _ => None,
        };
        assert_eq!(b["endpoint"], json!(expected), "{kind}");
    }
    let r = t
        .send(&router::CREATE_SURFACE, [&p],
            Some(json!({ "name": "full", "type": "chat", "status": "draft", "environment": "production",
                         "config": { "rateLimit": { "perMinute": 5, "perDay": 100 } }, "behavior": { "tone": "dry" },
                         "inbound": { "a": 1 }, "outbound": null })),
        )
        .await.expect(201);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["environment"], "production");
    assert_eq!(r.body["config"]["rateLimit"]["perDay"], 100);
    assert_eq!(r.body["behavior"], json!({ "tone": "dry" }));
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["surfaces"].as_array().unwrap().len(), 17);
    assert_eq!(g.body["surfaces"][0]["items"], json!([]));
    let l = t.send(&router::LIST_PRODUCTS, [], None).await;
    assert_eq!(l.body["data"][0]["surfaceCount"], 17);
    assert_eq!(
        l.body["data"][0]["surfaces"][0],
        json!({ "name": "S", "type": "chat" })
    );
}

async fn create_surface_validates(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let path = format!("/v1/products/{p}/surfaces");
    let cases = [
        (json!({ "type": "chat" }), "name", "MISSING_REQUIRED_FIELD"),
        (json!({ "name": "", "type": "chat" }), "name", "TOO_SHORT"),
        (
            json!({ "name": "n".repeat(256), "type": "chat" }),
            "name",
            "TOO_LONG",
        ),
        (json!({ "name": "n" }), "type", "MISSING_REQUIRED_FIELD"),
        (
            json!({ "name": "n", "type": "fax" }),
            "type",
            "INVALID_ENUM",
        ),
        (json!({ "name": "n", "type": 3 }), "type", "INVALID_TYPE"),
        (
            json!({ "name": "n", "type": "chat", "status": "live" }),
            "status",
            "INVALID_ENUM",
        ),
        (
            json!({ "name": "n", "type": "chat", "environment": "staging" }),
            "environment",
            "INVALID_ENUM",
        ),
        (
            json!({ "name": "n", "type": "chat", "config": "x" }),
            "config",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "config": { "rateLimit": { "perMinute": 0 } } }),
            "config.rateLimit.perMinute",
            "OUT_OF_RANGE",
        ),
        (
            json!({ "name": "n", "type": "chat", "config": { "rateLimit": { "perDay": "many" } } }),
            "config.rateLimit.perDay",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "config": { "rateLimit": { "perDay": 1.5 } } }),
            "config.rateLimit.perDay",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "config": { "rateLimit": 5 } }),
            "config.rateLimit",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "behavior": [1] }),
            "behavior",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "inbound": true }),
            "inbound",
            "INVALID_TYPE",
        ),
        (
            json!({ "name": "n", "type": "chat", "outbound": "x" }),
            "outbound",
            "INVALID_TYPE",
        ),
    ];
    for (body, field, code) in cases {
        let r = t.call("POST", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.has_detail(field, code), "{body}: {r:?}");
    }
    let missing = runtype::ids::new_id("prod");
    t.send(
        &router::CREATE_SURFACE,
        [&missing],
        Some(json!({ "name": "n", "type": "chat" })),
    )
    .await
    .expect(404);
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["surfaces"], json!([]));
}

async fn update_surface_merges_and_keeps_type(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let r = t
        .send(&router::CREATE_SURFACE, [&p],
            Some(json!({ "name": "s", "type": "api", "behavior": { "a": 1, "b": { "x": 1 } }, "config": { "k": 1 }, "inbound": { "i": 1 } })),
        )
        .await;
    let id = r.id();
    let path = format!("/v1/products/{p}/surfaces/{id}");
    let r = t
        .call(
            "PUT",
            &path,
            Some(json!({ "name": "renamed", "type": "api", "status": "paused", "environment": "production",
                         "behavior": { "b": { "y": 2 }, "a": null, "c": 3 }, "config": { "other": true }, "outbound": { "o": 1 } })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["status"], "paused");
    assert_eq!(r.body["environment"], "production");
    assert_eq!(
        r.body["behavior"],
        json!({ "b": { "y": 2 }, "c": 3 }),
        "shallow merge"
    );
    assert_eq!(
        r.body["config"],
        json!({ "other": true }),
        "config replaces"
    );
    assert_eq!(r.body["inbound"], json!({ "i": 1 }));
    assert_eq!(r.body["outbound"], json!({ "o": 1 }));
    assert!(r.body["endpoint"].as_str().unwrap().ends_with("/api"));
    let r = t.call("PUT", &path, Some(json!({ "type": "chat" }))).await;
    assert!(r.has_detail("type", "IMMUTABLE_FIELD"), "{r:?}");
    for (body, field, code) in [
        (json!({ "name": null }), "name", "INVALID_TYPE"),
        (json!({ "status": "gone" }), "status", "INVALID_ENUM"),
        (
            json!({ "config": { "rateLimit": { "perMinute": -1 } } }),
            "config.rateLimit.perMinute",
            "OUT_OF_RANGE",
        ),
    ] {
        let r = t.call("PUT", &path, Some(body.clone())).await;
        assert!(r.has_detail(field, code), "{body}: {r:?}");
    }
    let r = t
        .call(
            "PUT",
            &path,
            Some(json!({ "config": null, "behavior": null })),
        )
        .await;
    assert_eq!(
        (r.body["config"].clone(), r.body["behavior"].clone()),
        (json!(null), json!(null))
    );
    let g = t.call("GET", &path, None).await;
    assert_eq!(g.body["type"], "api");
    assert_eq!(g.body["name"], "renamed");
}

async fn list_surfaces_filters_and_pages(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let q = t.product("q").await;
    surface(&t, &q, "chat").await;
    let mut ids = Vec::new();
    for kind in ["chat", "api", "chat", "mcp", "chat"] {
        ids.push(surface(&t, &p, kind).await);
    }
    t.send(
        &router::UPDATE_SURFACE,
        [&p, &ids[0]],
        Some(json!({ "status": "paused" })),
    )
    .await;
    let base = format!("/v1/products/{p}/surfaces");
    let r = t.call("GET", &base, None).await;
    assert_eq!(r.status, 200);
    let got: Vec<_> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    assert!(
        r.body["data"][0].get("items").is_none(),
        "list entries carry no items"
    );
    let r = t
        .call("GET", &format!("{base}?type=chat&limit=2"), None)
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["pagination"]["hasMore"], true);
    let c = r.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r2 = t
        .call("GET", &format!("{base}?type=chat&limit=2&cursor={c}"), None)
        .await;
    assert_eq!(r2.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r2.body["data"][0]["id"], ids[0].as_str());
    assert_eq!(r2.body["pagination"]["currentOffset"], 2);
    let r = t.call("GET", &format!("{base}?status=paused"), None).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let r = t.call("GET", &format!("{base}?type=fax"), None).await;
    assert!(r.has_detail("type", "INVALID_ENUM"));
    // a cursor of another product's list is refused
    let r = t
        .call(
            "GET",
            &format!("/v1/products/{q}/surfaces?cursor={c}"),
            None,
        )
        .await;
    assert_eq!(r.body["code"], "INVALID_CURSOR");
    let missing = runtype::ids::new_id("prod");
    assert_eq!(
        t.send(&router::LIST_SURFACES, [&missing], None)
            .await
            .status,
        404
    );
}

async fn get_surface_shows_items_keys_and_targets(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t
        .send(&router::ADD_CAPABILITY, [&p],
            Some(json!({ "capabilityName": "Answer questions", "flowId": "flow_9", "parametersSchema": { "type": "object" } })),
        )
        .await
        .id();
    let s = surface(&t, &p, "api").await;
    let item = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "exposedName": "ask" }),
    )
    .await;
    assert_eq!(item.status, 201, "{item:?}");
    let key = t
        .send(
            &router::CREATE_SURFACE_KEY,
            [&p, &s],
            Some(json!({ "name": "k" })),
        )
        .await
        .expect(201);
    let plaintext = key.body["key"].as_str().unwrap().to_string();
    let r = t
        .send(&router::GET_SURFACE, [&p, &s], None)
        .await
        .expect(200);
    let b = &r.body;
    assert_eq!(b["items"][0]["capabilityName"], "Answer questions");
    assert_eq!(b["items"][0]["flowId"], "flow_9");
    assert_eq!(b["items"][0]["agentId"], json!(null));
    assert_eq!(
        b["items"][0]["parametersSchema"],
        json!({ "type": "object" })
    );
    assert_eq!(b["items"][0]["endpointSlug"], "answer-questions");
    assert_eq!(
        b["scopeTargets"],
        json!([{ "id": item.id(), "name": "ask", "capabilityId": c, "surfaceItemId": item.id() }])
    );
    let k = &b["keys"][0];
    assert_eq!(k["id"], key.body["id"]);
    for f in [
        "keyPrefix",
        "keyHint",
        "scopes",
        "scopeTargetIds",
        "expiresAt",
        "environment",
        "createdAt",
    ] {
        assert_eq!(k[f], key.body[f], "{f}");
    }
    assert_eq!(k["isActive"], true);
    assert_eq!(k["isDevelopment"], true);
    assert_eq!(k["canReveal"], false);
    assert_eq!(k["usageCount"], 0);
    assert!(k.get("key").is_none());
    assert!(
        !b.to_string().contains(&plaintext),
        "GET surface never shows a plaintext key"
    );
    let missing = runtype::ids::new_id("surf");
    assert_eq!(
        t.send(&router::GET_SURFACE, [&p, &missing], None)
            .await
            .status,
        404
    );
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["surfaces"][0]["items"][0]["id"], item.body["id"]);
}

async fn items_bind_capabilities_once(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let q = t.product("q").await;
    let c = t.capability(&p, "one").await;
    let foreign = t.capability(&q, "foreign").await;
    let s = surface(&t, &p, "chat").await;
    let r = bind(&t, &p, &s, json!({ "capabilityId": c })).await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = &r.body;
    assert!(runtype::ids::is_valid(
        "surfitem",
        b["id"].as_str().unwrap()
    ));
    assert_eq!(b["surfaceId"], s.as_str());
    assert_eq!(b["capabilityId"], c.as_str());
    assert_eq!(b["isEntryPoint"], false);
    assert_eq!(b["enabled"], true);
    assert_eq!(
        b["endpointSlug"],
        json!(null),
        "no default slug off api surfaces"
    );
    assert_eq!(b["displayOrder"], 0);
    let r = bind(&t, &p, &s, json!({ "capabilityId": c })).await;
    assert_eq!(r.status, 409, "{r:?}");
    for bad in [
        json!(foreign),
        json!(runtype::ids::new_id("cap")),
        json!("cap_nope"),
    ] {
        let r = bind(&t, &p, &s, json!({ "capabilityId": bad })).await;
        assert!(
            r.has_detail("capabilityId", "INVALID_REFERENCE"),
            "{bad}: {r:?}"
        );
    }
    let r = bind(&t, &p, &s, json!({})).await;
    assert!(r.has_detail("capabilityId", "MISSING_REQUIRED_FIELD"));
    // the same capability on another surface is fine
    let s2 = surface(&t, &p, "chat").await;
    assert_eq!(
        bind(&t, &p, &s2, json!({ "capabilityId": c })).await.status,
        201
    );
    let missing = runtype::ids::new_id("surf");
    assert_eq!(
        bind(&t, &p, &missing, json!({ "capabilityId": c }))
            .await
            .status,
        404
    );
}

async fn items_default_and_unique_slugs(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let a = t.capability(&p, "Answer questions").await;
    let b = t.capability(&p, "Answer-Questions!").await;
    let c = t.capability(&p, "third").await;
    let d = t.capability(&p, "fourth").await;
    let s = surface(&t, &p, "api").await;
    let r = bind(&t, &p, &s, json!({ "capabilityId": a })).await;
    assert_eq!(r.body["endpointSlug"], "answer-questions");
    let r = bind(&t, &p, &s, json!({ "capabilityId": b })).await;
    assert_eq!(r.body["endpointSlug"], "answer-questions-2", "made unique");
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "endpointSlug": "answer-questions" }),
    )
    .await;
    assert_eq!(r.status, 409, "explicit slugs must be free: {r:?}");
    for bad in ["Upper", "with space", "", "ü"] {
        let r = bind(
            &t,
            &p,
            &s,
            json!({ "capabilityId": c, "endpointSlug": bad }),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.details().iter().any(|(p, _)| p == "endpointSlug"),
            "{bad}: {r:?}"
        );
    }
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "endpointSlug": "x".repeat(101) }),
    )
    .await;
    assert!(r.has_detail("endpointSlug", "TOO_LONG"));
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "endpointSlug": "custom-1" }),
    )
    .await;
    assert_eq!(r.body["endpointSlug"], "custom-1");
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": d, "endpointSlug": null }),
    )
    .await;
    assert_eq!(r.body["endpointSlug"], "fourth");
}

async fn items_validate_presentation(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let s = surface(&t, &p, "hosted-page").await;
    let good = json!({ "displayLabel": "Ask", "displayMode": "form", "route": "/ask", "displayIcon": "q",
                       "displayOrder": 2, "isDefault": true, "visibility": "auth-only",
                       "formConfig": { "submitButtonLabel": "Go", "inputSchemaOverrides": { "a": 1 } } });
    let cases = [
        (
            json!({ "displayMode": "chat", "route": "/" }),
            "presentation.displayLabel",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "displayLabel": "x", "route": "/" }),
            "presentation.displayMode",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "chat" }),
            "presentation.route",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "grid", "route": "/" }),
            "presentation.displayMode",
            "INVALID_ENUM",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "chat", "route": "/", "visibility": "secret" }),
            "presentation.visibility",
            "INVALID_ENUM",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "chat", "route": "/", "displayOrder": "1" }),
            "presentation.displayOrder",
            "INVALID_TYPE",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "chat", "route": "/", "isDefault": "yes" }),
            "presentation.isDefault",
            "INVALID_TYPE",
        ),
        (
            json!({ "displayLabel": "x", "displayMode": "chat", "route": "/", "formConfig": { "submitButtonLabel": 1 } }),
            "presentation.formConfig.submitButtonLabel",
            "INVALID_TYPE",
        ),
        (json!("chat"), "presentation", "INVALID_TYPE"),
    ];
    for (presentation, path, code) in cases {
        let r = bind(
            &t,
            &p,
            &s,
            json!({ "capabilityId": c, "presentation": presentation }),
        )
        .await;
        assert_eq!(r.status, 400, "{presentation}");
        assert!(r.has_detail(path, code), "{presentation}: {r:?}");
    }
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "presentation": good, "exposedName": "n".repeat(101) }),
    )
    .await;
    assert!(r.has_detail("exposedName", "TOO_LONG"));
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "presentation": good, "isEntryPoint": true }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["presentation"], good);
    assert_eq!(r.body["isEntryPoint"], true);
}

async fn update_and_delete_items(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let c2 = t.capability(&p, "c2").await;
    let s = surface(&t, &p, "api").await;
    let r = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c, "exposedName": "n", "endpointSlug": "first",
                                      "config": { "a": { "b": 1, "c": 2 } } }),
    )
    .await;
    let id = r.id();
    let path = format!("/v1/products/{p}/surfaces/{s}/items/{id}");
    let r = t
        .call("PUT", &path, Some(json!({ "exposedName": null, "endpointSlug": "second", "enabled": false,
                                         "isEntryPoint": true, "config": { "a": { "b": null, "d": 4 } } })))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["exposedName"], json!(null));
    assert_eq!(r.body["endpointSlug"], "second");
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["isEntryPoint"], true);
    assert_eq!(
        r.body["config"],
        json!({ "a": { "c": 2, "d": 4 } }),
        "config deep-merges"
    );
    // the old slug is free again, the new one taken
    let r2 = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c2, "endpointSlug": "second" }),
    )
    .await;
    assert_eq!(r2.status, 409);
    let r2 = bind(
        &t,
        &p,
        &s,
        json!({ "capabilityId": c2, "endpointSlug": "first" }),
    )
    .await;
    assert_eq!(r2.status, 201);
    let other = r2.id();
    let r = t
        .call("PUT", &path, Some(json!({ "endpointSlug": "first" })))
        .await;
    assert_eq!(r.status, 409, "slug held by another item: {r:?}");
    let r = t
        .call("PUT", &path, Some(json!({ "capabilityId": c2 })))
        .await;
    assert!(r.has_detail("capabilityId", "IMMUTABLE_FIELD"));
    let r = t
        .call(
            "PUT",
            &path,
            Some(json!({ "capabilityId": c, "endpointSlug": null })),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["endpointSlug"], json!(null));
    let r = t
        .call("PUT", &path, Some(json!({ "endpointSlug": "Bad Slug" })))
        .await;
    assert!(r.has_detail("endpointSlug", "INVALID_FORMAT"));
    let r = t.call("DELETE", &path, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({ "success": true }))
    );
    assert_eq!(t.call("DELETE", &path, None).await.status, 404);
    assert_eq!(t.call("PUT", &path, Some(json!({}))).await.status, 404);
    // the capability can be bound again once its item is gone
    assert_eq!(
        bind(&t, &p, &s, json!({ "capabilityId": c })).await.status,
        201
    );
    let g = t.send(&router::GET_SURFACE, [&p, &s], None).await;
    let ids: Vec<_> = g.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&other));
}

async fn racing_item_duplicates(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let s = surface(&t, &p, "api").await;
    let c = t.capability(&p, "c").await;
    let mut caps = Vec::new();
    for i in 0..8 {
        caps.push(t.capability(&p, &format!("other {i}")).await);
    }
    async fn race(t: &TestApp, path: &str, bodies: Vec<Value>) -> Vec<u16> {
        let mut tasks = Vec::new();
        for body in bodies {
            let app = std::sync::Arc::new(t.sibling().await);
            let (key, path) = (t.key.clone(), path.to_string());
            tasks.push(tokio::spawn(async move {
                let req = http::Request::builder()
                    .method("POST")
                    .uri(path)
                    .header("authorization", format!("Bearer {key}"))
                    .body(bytes::Bytes::from(body.to_string()))
                    .unwrap();
                crate::common::send(&app, req).await.status
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out.sort();
        out
    }
    let path = format!("/v1/products/{p}/surfaces/{s}/items");
    let same_cap = race(
        &t,
        &path,
        (0..8).map(|_| json!({ "capabilityId": c })).collect(),
    )
    .await;
    assert_eq!(same_cap, [201, 409, 409, 409, 409, 409, 409, 409]);
    let same_slug = race(
        &t,
        &path,
        caps.iter()
            .map(|c| json!({ "capabilityId": c, "endpointSlug": "one" }))
            .collect(),
    )
    .await;
    assert_eq!(same_slug, [201, 409, 409, 409, 409, 409, 409, 409]);
    let g = t.send(&router::GET_SURFACE, [&p, &s], None).await;
    assert_eq!(g.body["items"].as_array().unwrap().len(), 2);
}
