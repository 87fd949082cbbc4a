//! Products as code (API.md "Products as code"): ensure and pull of products and surfaces —
//! every answer shape, the probe, dry runs, provenance and its conflicts, the hash checks,
//! tenancy, racing ensures, and what a probe costs.

use crate::common::{send, Res, Store, TestApp};
use runtype::router;
use serde_json::{json, Value};

crate::cases! {
    both: [
        deletes_take_their_name_claims,
        products_converge,
        probes_and_dry_runs,
        conflicts_and_hash_checks,
        names_and_tenancy,
        racing_ensures_create_one_product,
        surfaces_converge,
        a_probe_costs_one_query,
    ],
}

/// `{"name": "Bare"}` in RFC 8785 form, hashed by Python (see `content_hash`'s vectors).
const BARE: &str = "f403a066d0818523e4e4d3414005e1fc403b3970ac8299f99afd456ce3109a18";

async fn ensure(t: &TestApp, body: Value) -> Res {
    t.send(&router::ENSURE_PRODUCT, [], Some(body)).await
}

async fn ensure_surface(t: &TestApp, product: &str, body: Value) -> Res {
    let path = format!("/v1/products/{product}/surfaces/ensure");
    t.call("POST", &path, Some(body)).await
}

async fn pull(t: &TestApp, name: &str) -> Res {
    t.call("GET", &format!("/v1/products/pull?name={name}"), None)
        .await
}

fn hash_of(r: &Res) -> String {
    r.body["contentHash"]
        .as_str()
        .expect("a contentHash")
        .to_string()
}

async fn products_converge(store: Store) {
    let t = TestApp::new(store).await;
    let def = json!({ "name": "Bare" });
    let r = ensure(&t, json!({ "name": "Bare", "definition": def })).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"], "created");
    assert_eq!(r.body["contentHash"], BARE);
    let id = r.body["productId"].as_str().unwrap().to_string();
    // the product is an ordinary product
    let g = t.send(&router::GET_PRODUCT, [&id], None).await.expect(200);
    assert_eq!(g.body["name"], "Bare");

    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": def, "contentHash": BARE }),
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "result": "unchanged", "contentHash": BARE, "productId": id })
    );

    let def2 = json!({ "name": "Bare", "description": "now described", "icon": null,
                       "spec": { "v": 1, "gone": null } });
    let r = ensure(&t, json!({ "name": "Bare", "definition": def2 })).await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    assert_eq!(r.body["productId"], id.as_str());
    let updated = hash_of(&r);
    assert_ne!(updated, BARE);
    let p = pull(&t, "Bare").await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.body["productId"], id.as_str());
    assert_eq!(p.body["contentHash"], updated.as_str());
    assert_eq!(
        p.body["definition"],
        json!({ "name": "Bare", "description": "now described", "spec": { "v": 1 } })
    );
    assert_eq!(p.body["lastModifiedSource"], "ensure");
    assert!(p.body["updatedAt"].is_string());
    // ensure converges the record only: canvas stays
    t.send(
        &router::UPDATE_PRODUCT,
        [&id],
        Some(json!({ "canvas": { "x": 1 } })),
    )
    .await
    .expect(200);
    assert_eq!(pull(&t, "Bare").await.body["lastModifiedSource"], "api");
    // the hash is the live record's: the canvas is not in the definition
    assert_eq!(pull(&t, "Bare").await.body["contentHash"], updated.as_str());
    // the content is the same, whoever wrote last: unchanged, no conflict
    let r = ensure(&t, json!({ "name": "Bare", "definition": def2 })).await;
    assert_eq!(r.body["result"], "unchanged", "{r:?}");
    // back to the bare definition (over the API's write): description and spec go
    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": def, "onConflict": "overwrite" }),
    )
    .await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    assert_eq!(r.body["contentHash"], BARE);
    let p = t.send(&router::GET_PRODUCT, [&id], None).await;
    assert_eq!(p.body["canvas"], json!({ "x": 1 }));
}

async fn probes_and_dry_runs(store: Store) {
    let t = TestApp::new(store).await;
    // nothing has the name: the probe asks for the definition
    let r = ensure(&t, json!({ "name": "Bare", "contentHash": BARE })).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({ "result": "definitionRequired" }));
    // a dry run of a create writes nothing
    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": { "name": "Bare" }, "dryRun": true }),
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "result": "plan", "changes": "create", "changedKeys": ["name"], "contentHash": BARE })
    );
    assert_eq!(pull(&t, "Bare").await.status, 404);
    let id = ensure(
        &t,
        json!({ "name": "Bare", "definition": { "name": "Bare" } }),
    )
    .await
    .body["productId"]
        .as_str()
        .unwrap()
        .to_string();
    // the probe with the same hash: unchanged, without the definition
    let r = ensure(&t, json!({ "name": "Bare", "contentHash": BARE })).await;
    assert_eq!(
        r.body,
        json!({ "result": "unchanged", "contentHash": BARE, "productId": id })
    );
    // a different hash: the definition is required
    let other = "0".repeat(64);
    let r = ensure(&t, json!({ "name": "Bare", "contentHash": other })).await;
    assert_eq!(r.body, json!({ "result": "definitionRequired" }));
    // a dry run of an update: the changed keys, the remote hash, nothing written
    let wanted = json!({ "name": "Bare", "icon": "🤖", "spec": { "a": 1 } });
    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": wanted, "dryRun": true, "expectedRemoteHash": BARE }),
    )
    .await;
    assert_eq!(r.body["result"], "plan", "{r:?}");
    assert_eq!(r.body["changes"], "update");
    assert_eq!(r.body["changedKeys"], json!(["icon", "spec"]));
    assert_eq!(r.body["remoteHash"], BARE);
    assert_eq!(r.body["productId"], id.as_str());
    let planned = hash_of(&r);
    assert_eq!(
        pull(&t, "Bare").await.body["contentHash"],
        BARE,
        "nothing written"
    );
    // the apply bound to the plan: updated, to the planned hash
    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": wanted, "expectedRemoteHash": BARE }),
    )
    .await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    assert_eq!(hash_of(&r), planned);
    // a dry run that changes nothing
    let r = ensure(
        &t,
        json!({ "name": "Bare", "definition": wanted, "dryRun": true }),
    )
    .await;
    assert_eq!(r.body["changes"], "none");
    assert_eq!(r.body["changedKeys"], json!([]));
}

async fn conflicts_and_hash_checks(store: Store) {
    let t = TestApp::new(store).await;
    let id = ensure(&t, json!({ "name": "P", "definition": { "name": "P" } }))
        .await
        .body["productId"]
        .as_str()
        .unwrap()
        .to_string();
    let put = t
        .send(
            &router::UPDATE_PRODUCT,
            [&id],
            Some(json!({ "description": "by hand" })),
        )
        .await
        .expect(200);
    let by_hand = hash_of(&pull(&t, "P").await);
    // converging over an edit made elsewhere: 409 external_modification
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P", "icon": "x" } }),
    )
    .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.body["code"], "external_modification");
    assert_eq!(r.body["currentHash"], by_hand.as_str());
    assert_eq!(r.body["lastModifiedSource"], "api");
    assert_eq!(r.body["modifiedAt"], put.body["updatedAt"]);
    assert!(r.body["error"].is_string());
    assert_eq!(hash_of(&pull(&t, "P").await), by_hand, "nothing written");
    // a dry run sees the same conflict
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P" }, "dryRun": true }),
    )
    .await;
    assert_eq!(r.body["code"], "external_modification");
    // overwrite converges anyway
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P", "icon": "x" }, "onConflict": "overwrite" }),
    )
    .await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    let ours = hash_of(&r);
    // a stale expectedRemoteHash: 409 remote_changed
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P" }, "expectedRemoteHash": by_hand }),
    )
    .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.body["code"], "remote_changed");
    assert_eq!(r.body["currentHash"], ours.as_str());
    // a hash that is not the definition's: 422 with the server's hash of it
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P" }, "contentHash": BARE }),
    )
    .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["code"], "content_hash_mismatch");
    let p_hash = r.body["contentHash"].as_str().unwrap().to_string();
    assert_ne!(p_hash, BARE);
    // which is the hash the server converges to
    let r = ensure(
        &t,
        json!({ "name": "P", "definition": { "name": "P" }, "contentHash": p_hash }),
    )
    .await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    assert_eq!(hash_of(&r), p_hash);
    // bad input is a 400 with details
    for (body, path) in [
        (json!({ "definition": { "name": "P" } }), "name"),
        (json!({ "name": "P" }), "definition"),
        (json!({ "name": "P", "definition": null }), "definition"),
        (json!({ "name": "P", "definition": 5 }), "definition"),
        (
            json!({ "name": "P", "definition": { "name": "Q" } }),
            "definition.name",
        ),
        (json!({ "name": "P", "contentHash": "ABC" }), "contentHash"),
        (
            json!({ "name": "P", "definition": { "name": "P" }, "onConflict": "merge" }),
            "onConflict",
        ),
        (
            json!({ "name": "P", "definition": { "description": 5 } }),
            "definition.description",
        ),
    ] {
        let r = ensure(&t, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert!(
            r.details().iter().any(|(p, _)| p == path),
            "{body}: {:?}",
            r.details()
        );
    }
    t.send(&router::PULL_PRODUCT, [], None).await.expect(400);
}

async fn names_and_tenancy(store: Store) {
    let t = TestApp::new(store).await;
    // two products with one name (made through the ordinary endpoint): 409 on both calls
    for _ in 0..2 {
        t.product("Twin").await;
    }
    let r = ensure(
        &t,
        json!({ "name": "Twin", "definition": { "name": "Twin" } }),
    )
    .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.body["code"], "CONFLICT");
    assert_eq!(pull(&t, "Twin").await.status, 409);
    // names are exact
    assert_eq!(pull(&t, "twin").await.status, 404);
    // another owner sees nothing of ours and gets its own product
    let mine = ensure(
        &t,
        json!({ "name": "Mine", "definition": { "name": "Mine" } }),
    )
    .await;
    let other = t.other_owner().await;
    let r = t
        .call_as(&other, "GET", "/v1/products/pull?name=Mine", None)
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = t
        .send_as(
            &other,
            &router::ENSURE_PRODUCT,
            [],
            Some(json!({ "name": "Mine", "definition": { "name": "Mine" } })),
        )
        .await;
    assert_eq!(r.body["result"], "created", "{r:?}");
    assert_ne!(r.body["productId"], mine.body["productId"]);
    assert_eq!(
        pull(&t, "Mine").await.body["productId"],
        mine.body["productId"]
    );
    // a renamed product is found by its new name only
    let id = mine.body["productId"].as_str().unwrap();
    t.send(
        &router::UPDATE_PRODUCT,
        [id],
        Some(json!({ "name": "Renamed" })),
    )
    .await;
    assert_eq!(pull(&t, "Mine").await.status, 404);
    assert_eq!(pull(&t, "Renamed").await.body["productId"], id);
    // and the old name converges to a new product
    let r = ensure(
        &t,
        json!({ "name": "Mine", "definition": { "name": "Mine" } }),
    )
    .await;
    assert_eq!(r.body["result"], "created", "{r:?}");
    assert_ne!(r.body["productId"], id);
}

async fn racing_ensures_create_one_product(store: Store) {
    let t = TestApp::new(store).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = std::sync::Arc::new(t.sibling().await);
        let key = t.key.clone();
        tasks.push(tokio::spawn(async move {
            let req = http::Request::builder()
                .method("POST")
                .uri("/v1/products/ensure")
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(bytes::Bytes::from(
                    json!({ "name": "Raced", "definition": { "name": "Raced" } }).to_string(),
                ))
                .unwrap();
            send(&app, req).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let created = results
        .iter()
        .filter(|r| r.body["result"] == "created")
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results.iter().all(|r| r.status == 200),
        "the others converge onto it: {results:?}"
    );
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r.body["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    let list = t.call("GET", "/v1/products?search=Raced", None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

async fn surfaces_converge(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let pull = |name: &str| format!("/v1/products/{p}/surfaces/pull?name={name}");
    let def = json!({ "name": "Public API", "type": "api", "status": "active",
                      "environment": "production", "behavior": { "tone": "friendly", "maxTurns": 10 },
                      "inbound": null });
    // the third of content_hash's vectors
    let expected = "58c68f6ec6ede8e058af78abcfdeeb5ef95b256882838ccd8dd62f060232d09e";
    let r = ensure_surface(&t, &p, json!({ "name": "Public API", "definition": def })).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"], "created");
    assert_eq!(r.body["contentHash"], expected);
    let sid = r.body["surfaceId"].as_str().unwrap().to_string();
    let g = t.send(&router::GET_SURFACE, [&p, &sid], None).await;
    assert_eq!(g.body["type"], "api");
    assert_eq!(g.body["environment"], "production");
    let r = ensure_surface(
        &t,
        &p,
        json!({ "name": "Public API", "contentHash": expected }),
    )
    .await;
    assert_eq!(
        r.body,
        json!({ "result": "unchanged", "contentHash": expected, "surfaceId": sid })
    );
    // the type never changes
    let mut chat = def.clone();
    chat["type"] = json!("chat");
    let r = ensure_surface(&t, &p, json!({ "name": "Public API", "definition": chat })).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.has_detail("definition.type", "IMMUTABLE_FIELD"), "{r:?}");
    // an edit through the ordinary endpoint, then a converge: 409, then overwrite
    t.send(
        &router::UPDATE_SURFACE,
        [&p, &sid],
        Some(json!({ "status": "paused" })),
    )
    .await
    .expect(200);
    let r = ensure_surface(&t, &p, json!({ "name": "Public API", "definition": def })).await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.body["code"], "external_modification");
    assert_eq!(r.body["lastModifiedSource"], "api");
    let r = ensure_surface(&t, &p, json!({ "name": "Public API", "definition": def, "onConflict": "overwrite", "dryRun": true })).await;
    assert_eq!(r.body["changes"], "update");
    assert_eq!(r.body["changedKeys"], json!(["status"]));
    let r = ensure_surface(
        &t,
        &p,
        json!({ "name": "Public API", "definition": def, "onConflict": "overwrite" }),
    )
    .await;
    assert_eq!(r.body["result"], "updated", "{r:?}");
    assert_eq!(r.body["contentHash"], expected);
    let pulled = t.call("GET", &pull("Public%20API"), None).await;
    assert_eq!(pulled.status, 200, "{pulled:?}");
    assert_eq!(pulled.body["surfaceId"], sid.as_str());
    assert_eq!(pulled.body["lastModifiedSource"], "ensure");
    assert_eq!(
        pulled.body["definition"],
        json!({ "name": "Public API", "type": "api", "status": "active",
                "environment": "production", "behavior": { "tone": "friendly", "maxTurns": 10 } })
    );
    // another owner: 404 on both, for this product
    let other = t.other_owner().await;
    let r = t.call_as(&other, "GET", &pull("Public%20API"), None).await;
    assert_eq!(r.status, 404);
    t.send_as(
        &other,
        &router::ENSURE_SURFACE,
        [&p],
        Some(json!({ "name": "Public API", "definition": def })),
    )
    .await
    .expect(404);
    // the surface list shows one
    let l = t.send(&router::LIST_SURFACES, [&p], None).await;
    assert_eq!(l.body["data"].as_array().unwrap().len(), 1);
}

async fn a_probe_costs_one_query(store: Store) {
    let t = TestApp::new(store).await;
    ensure(
        &t,
        json!({ "name": "Bare", "definition": { "name": "Bare" } }),
    )
    .await;
    let p = t.product("p").await;
    let s =
        json!({ "name": "s", "type": "chat", "status": "active", "environment": "development" });
    let r = t
        .send(
            &router::ENSURE_SURFACE,
            [&p],
            Some(json!({ "name": "s", "definition": s })),
        )
        .await;
    let surface_hash = hash_of(&r);
    let counter = &t.app.requests;
    let before = counter.get();
    let r = ensure(&t, json!({ "name": "Bare", "contentHash": BARE })).await;
    assert_eq!(r.body["result"], "unchanged");
    // one read authenticated the key; the probe is one Query of the name index
    assert_eq!(counter.get() - before - 1, 1);
    let before = counter.get();
    let r = t
        .send(
            &router::ENSURE_SURFACE,
            [&p],
            Some(json!({ "name": "s", "contentHash": surface_hash })),
        )
        .await;
    assert_eq!(r.body["result"], "unchanged", "{r:?}");
    // a surface's: the owner check on the product record, then the Query
    assert_eq!(counter.get() - before - 1, 2);
}

/// A product or surface made by an ensure leaves no name claim behind when it is deleted.
async fn deletes_take_their_name_claims(store: Store) {
    use runtype::repo::layout as k;
    let t = TestApp::new(store).await;
    let made = t
        .send(
            &router::ENSURE_PRODUCT,
            [],
            Some(json!({ "name": "Claimed", "definition": { "name": "Claimed" } })),
        )
        .await
        .expect(200);
    let p = made.body["productId"].as_str().unwrap().to_string();
    let surface = t
        .send(
            &router::ENSURE_SURFACE,
            [&p],
            Some(json!({ "name": "S", "definition": { "name": "S", "type": "api" } })),
        )
        .await
        .expect(200);
    let s = surface.body["surfaceId"].as_str().unwrap().to_string();
    let table = t.app.table();
    let product_claim = k::product_name_claim(&t.owner, "Claimed");
    let surface_claim = k::surface_name_claim(&p, "S");
    assert!(table.get(&product_claim).await.unwrap().is_some());
    assert!(table.get(&surface_claim).await.unwrap().is_some());
    t.send(&router::DELETE_SURFACE, [&p, &s], None)
        .await
        .expect(200);
    assert!(
        table.get(&surface_claim).await.unwrap().is_none(),
        "surface claim left"
    );
    t.send(&router::DELETE_PRODUCT, [&p], None)
        .await
        .expect(200);
    assert!(
        table.get(&product_claim).await.unwrap().is_none(),
        "product claim left"
    );
    // the name is free again, and an ensure creates anew
    let again = t
        .send(
            &router::ENSURE_PRODUCT,
            [],
            Some(json!({ "name": "Claimed", "definition": { "name": "Claimed" } })),
        )
        .await
        .expect(200);
    assert_eq!(again.body["result"], "created");
    assert_ne!(again.body["productId"], made.body["productId"]);
}
