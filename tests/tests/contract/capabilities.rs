//! Capabilities: field rules, display order, unique names, immutable flow/agent, delete.

use crate::common::{Store, TestApp};
use runtype::router;
use serde_json::{json, Value};

crate::cases! {
    both: [
        an_allow_list_keeps_owners_to_their_flows,
        create_answers_201_in_display_order,
        create_validates_every_field,
        names_are_unique_per_product,
        update_renames_and_clears,
        flow_and_agent_are_immutable,
        delete_frees_the_name,
    ],
}

fn caps(product: &str) -> String {
    format!("/v1/products/{product}/capabilities")
}

async fn create_answers_201_in_display_order(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let r = t
        .call(
            "POST",
            &caps(&p),
            Some(json!({ "capabilityName": " Answer questions ", "flowId": "flow_abc",
                         "capabilityDescription": "answers", "parametersSchema": { "type": "object" } })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = &r.body;
    assert!(runtype::ids::is_valid("cap", b["id"].as_str().unwrap()));
    assert_eq!(b["productId"], p.as_str());
    assert_eq!(b["capabilityName"], "Answer questions");
    assert_eq!(b["flowId"], "flow_abc");
    assert_eq!(b["agentId"], json!(null));
    assert_eq!(b["enabled"], true);
    assert_eq!(b["displayOrder"], 0);
    assert_eq!(b["parametersSchema"], json!({ "type": "object" }));
    assert!(b["createdAt"].is_string() && b["updatedAt"].is_string());
    let r = t
        .call(
            "POST",
            &caps(&p),
            Some(json!({ "capabilityName": "agent", "agentId": "agent_1", "enabled": false })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["displayOrder"], 1);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["flowId"], json!(null));
    assert_eq!(r.body["parametersSchema"], json!(null));
    let missing = runtype::ids::new_id("prod");
    let r = t
        .call(
            "POST",
            &caps(&missing),
            Some(json!({ "capabilityName": "x", "flowId": "f" })),
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn create_validates_every_field(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let cases = [
        (
            json!({ "flowId": "f" }),
            "capabilityName",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "capabilityName": "", "flowId": "f" }),
            "capabilityName",
            "TOO_SHORT",
        ),
        (
            json!({ "capabilityName": "n".repeat(101), "flowId": "f" }),
            "capabilityName",
            "TOO_LONG",
        ),
        (
            json!({ "capabilityName": true, "flowId": "f" }),
            "capabilityName",
            "INVALID_TYPE",
        ),
        (
            json!({ "capabilityName": "a" }),
            "flowId",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "f", "agentId": "g" }),
            "agentId",
            "INVALID_FORMAT",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "" }),
            "flowId",
            "TOO_SHORT",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "f".repeat(256) }),
            "flowId",
            "TOO_LONG",
        ),
        (
            json!({ "capabilityName": "a", "agentId": 7 }),
            "agentId",
            "INVALID_TYPE",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "f", "enabled": "yes" }),
            "enabled",
            "INVALID_TYPE",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "f", "enabled": null }),
            "enabled",
            "INVALID_TYPE",
        ),
        (
            json!({ "capabilityName": "a", "flowId": "f", "capabilityDescription": 1 }),
            "capabilityDescription",
            "INVALID_TYPE",
        ),
    ];
    for (body, path, code) in cases {
        let r = t.call("POST", &caps(&p), Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.has_detail(path, code), "{body}: {r:?}");
    }
    let r = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(
        r.body["capabilities"],
        json!([]),
        "failed creates store nothing"
    );
}

async fn names_are_unique_per_product(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let q = t.product("q").await;
    t.capability(&p, "Search").await;
    for name in ["Search", "search", " SEARCH "] {
        let r = t
            .call(
                "POST",
                &caps(&p),
                Some(json!({ "capabilityName": name, "flowId": "f" })),
            )
            .await;
        assert_eq!(r.status, 409, "{name}: {r:?}");
        assert_eq!(r.body["code"], "CONFLICT");
    }
    // another product may reuse it
    t.capability(&q, "Search").await;
}

async fn update_renames_and_clears(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let r = t
        .call(
            "POST",
            &caps(&p),
            Some(
                json!({ "capabilityName": "one", "flowId": "f", "capabilityDescription": "d",
                         "parametersSchema": { "a": 1 } }),
            ),
        )
        .await;
    let id = r.id();
    let path = format!("{}/{id}", caps(&p));
    let r = t
        .call(
            "PUT",
            &path,
            Some(json!({ "capabilityName": "uno", "capabilityDescription": null, "parametersSchema": null,
                         "enabled": false, "refreshSchema": true })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["capabilityName"], "uno");
    assert_eq!(r.body["capabilityDescription"], json!(null));
    assert_eq!(r.body["parametersSchema"], json!(null));
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["flowId"], "f");
    assert_eq!(r.body["displayOrder"], 0);
    // the old name is free, the new one taken
    t.capability(&p, "one").await;
    let r = t
        .call(
            "POST",
            &caps(&p),
            Some(json!({ "capabilityName": "UNO", "flowId": "f" })),
        )
        .await;
    assert_eq!(r.status, 409);
    // renaming onto a taken name is a conflict and changes nothing
    let r = t
        .call("PUT", &path, Some(json!({ "capabilityName": "One" })))
        .await;
    assert_eq!(r.status, 409, "{r:?}");
    // a change of case only is a rename of the same reservation
    let r = t
        .call("PUT", &path, Some(json!({ "capabilityName": "UNO" })))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    for (body, field, code) in [
        (
            json!({ "capabilityName": null }),
            "capabilityName",
            "INVALID_TYPE",
        ),
        (
            json!({ "capabilityName": "" }),
            "capabilityName",
            "TOO_SHORT",
        ),
        (json!({ "enabled": 1 }), "enabled", "INVALID_TYPE"),
        (
            json!({ "refreshSchema": "x" }),
            "refreshSchema",
            "INVALID_TYPE",
        ),
    ] {
        let r = t.call("PUT", &path, Some(body.clone())).await;
        assert!(r.has_detail(field, code), "{body}: {r:?}");
    }
    let other_cap = runtype::ids::new_id("cap");
    let r = t
        .call("PUT", &format!("{}/{other_cap}", caps(&p)), Some(json!({})))
        .await;
    assert_eq!(r.status, 404);
    let r = t
        .call("PUT", &format!("{}/not-an-id", caps(&p)), Some(json!({})))
        .await;
    assert_eq!(r.status, 404);
}

async fn flow_and_agent_are_immutable(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let id = t.capability(&p, "c").await;
    let path = format!("{}/{id}", caps(&p));
    let r = t
        .call(
            "PUT",
            &path,
            Some(json!({ "flowId": "flow_1", "capabilityName": "same flow" })),
        )
        .await;
    assert_eq!(r.status, 200, "sending the same value is fine: {r:?}");
    for body in [
        json!({ "flowId": "flow_2" }),
        json!({ "agentId": "agent_1" }),
        json!({ "flowId": null }),
    ] {
        let r = t.call("PUT", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        assert!(r.has_detail(&field, "IMMUTABLE_FIELD"), "{body}: {r:?}");
    }
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["capabilities"][0]["flowId"], "flow_1");
    assert_eq!(g.body["capabilities"][0]["capabilityName"], "same flow");
}

async fn delete_frees_the_name(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let id = t.capability(&p, "c").await;
    let path = format!("{}/{id}", caps(&p));
    let r = t.call("DELETE", &path, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({ "success": true }))
    );
    assert_eq!(t.call("DELETE", &path, None).await.status, 404);
    let again = t.capability(&p, "c").await;
    assert_ne!(again, id);
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["capabilities"].as_array().unwrap().len(), 1);
    assert_eq!(
        g.body["capabilities"][0]["displayOrder"], 1,
        "positions are not reused"
    );
}

/// With `RUNTYPE_FLOW_ALLOWLIST` set, an owner names only the flows and agents listed for it,
/// in capabilities and in schedules (403 otherwise); unset, anything goes.
async fn an_allow_list_keeps_owners_to_their_flows(store: Store) {
    let mut t = TestApp::new(store).await;
    let p = t.product("p").await;
    let list = format!(r#"{{"{}": ["flow_mine", "agent_mine"]}}"#, t.owner);
    t.app.config = runtype::config::Config::from_vars(|n| {
        (n == "RUNTYPE_FLOW_ALLOWLIST").then(|| list.clone())
    })
    .unwrap()
    .with_default_url("http://test.local");
    let cap = |body: Value| t.send(&router::ADD_CAPABILITY, [&p], Some(body));
    cap(json!({ "capabilityName": "a", "flowId": "flow_mine" }))
        .await
        .expect(201);
    cap(json!({ "capabilityName": "b", "agentId": "agent_mine" }))
        .await
        .expect(201);
    let refused = cap(json!({ "capabilityName": "c", "flowId": "flow_theirs" }))
        .await
        .expect(403);
    assert!(refused.body["error"]
        .as_str()
        .unwrap()
        .contains("flow_theirs"));
    let s = t.surface(&p, "cron", "schedule").await;
    let schedule = |flow: &str| {
        t.send(
            &router::CREATE_SCHEDULE,
            [&p, &s],
            Some(json!({ "flowId": flow, "triggerType": "recurring", "cron": "0 * * * *" })),
        )
    };
    let made = schedule("flow_mine").await.expect(201);
    schedule("flow_theirs").await.expect(403);
    let id = made.id();
    t.send(
        &router::UPDATE_SCHEDULE,
        [&p, &s, &id],
        Some(json!({ "flowId": "flow_theirs" })),
    )
    .await
    .expect(403);
}
