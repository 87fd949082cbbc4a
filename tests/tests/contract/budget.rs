//! Request budgets: storage round trips per API call (auth included here: a platform key
//! costs exactly one read). Auth ≤ 1 read. A request under a product checks the owner on the
//! product record first (one GetItem: all a stranger costs, API.md "Limits"), so what reads
//! the whole partition (GET product, deletes) pays that one read more; quotas cost nothing
//! extra (they are counted inside the create's transaction).

use crate::common::{Store, TestApp};
use crate::gateway::Api;
use serde_json::json;

crate::cases! {
    both: [
        each_endpoint_stays_within_its_budget,
        gateway_round_trips,
        a_forged_key_reads_a_few_items,
        a_stranger_costs_one_record_read,
    ],
}

async fn each_endpoint_stays_within_its_budget(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let d = t.capability(&p, "d").await;
    let cases = [
        (
            "POST",
            "/v1/products".to_string(),
            Some(json!({ "name": "n" })),
            1,
        ),
        ("GET", "/v1/products".to_string(), None, 1),
        ("GET", format!("/v1/products/{p}"), None, 2),
        (
            "PUT",
            format!("/v1/products/{p}"),
            Some(json!({ "name": "m" })),
            2,
        ),
        (
            "POST",
            format!("/v1/products/{p}/capabilities"),
            Some(json!({ "capabilityName": "e", "flowId": "f" })),
            2,
        ),
        (
            "PUT",
            format!("/v1/products/{p}/capabilities/{c}"),
            Some(json!({ "capabilityName": "c2" })),
            2,
        ),
        (
            "DELETE",
            format!("/v1/products/{p}/capabilities/{d}"),
            None,
            3,
        ),
        ("DELETE", format!("/v1/products/{p}"), None, 3),
    ];
    let mut report = Vec::new();
    for (m, path, body, budget) in cases {
        let counter = &t.app.requests;
        let before = counter.rounds();
        let r = t.call(m, &path, body).await;
        assert!(r.status < 300, "{m} {path}: {r:?}");
        // sequential round trips (reads made side by side count once); one authenticated
        let used = counter.rounds() - before - 1; // one read authenticated the key
        report.push(format!("{m} {path}: {used}"));
        assert!(
            used <= budget,
            "{m} {path} made {used} sequential storage round trips; budget {budget}"
        );
    }
    eprintln!("storage requests beyond auth:\n{}", report.join("\n"));
}

/// The gateway's budgets, in sequential round trips (requests issued together count once).
async fn gateway_round_trips(store: Store) {
    let a = Api::new(
        store,
        json!({ "rateLimit": { "perMinute": 100, "perDay": 1000 } }),
        json!({ "rateLimitPerMinute": 100, "rateLimitPerDay": 1000 }),
    )
    .await;
    let path = format!("{}/answer-questions", a.base());
    let counter = &a.t.app.requests;
    let measure = |before: (u64, u64)| (counter.get() - before.0, counter.rounds() - before.1);
    let now = || (counter.get(), counter.rounds());
    // admitted: at most 3 sequential round trips (all four windows apply)
    let before = now();
    assert_eq!(a.invoke(json!({})).await.status, 202);
    let (_, rounds) = measure(before);
    assert!(rounds <= 3, "admitted call: {rounds} round trips");
    // a malformed key, a bad checksum: no storage request at all
    for key in [
        "papi_live_short",
        // the last character changed (to one it is not), so the checksum fails
        &format!(
            "{}{}",
            &a.key[..a.key.len() - 1],
            if a.key.ends_with('x') { 'y' } else { 'x' }
        ),
    ] {
        let before = now();
        assert_eq!(a.gw("POST", &path, Some(key), None).await.status, 401);
        assert_eq!(measure(before), (0, 0), "{key}");
    }
    // an unknown key: one round trip
    let unknown = runtype::secrets::generate("papi_live_");
    let before = now();
    assert_eq!(a.gw("POST", &path, Some(&unknown), None).await.status, 401);
    let used = measure(before);
    assert_eq!(used.1, 1, "unknown key: (requests, rounds) = {used:?}");
}

/// A key with a valid checksum is easy to forge, and product and surface ids are public: such
/// a key costs its hash lookup and the surface's record, never the product's partition, on a
/// product of many items; a real key on it still takes at most 3 round trips.
async fn a_forged_key_reads_a_few_items(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    for i in 0..40 {
        let c = a.t.capability(&a.p, &format!("tool {i}")).await;
        a.t.send(
            &runtype::router::ADD_SURFACE_ITEM,
            [&a.p, &a.s],
            Some(json!({ "capabilityId": c })),
        )
        .await
        .expect(201);
    }
    let counter = &a.t.app.requests;
    let path = format!("{}/answer-questions", a.base());
    for method in ["POST", "GET"] {
        let forged = runtype::secrets::generate("papi_live_");
        let (requests, rounds, items) = (counter.get(), counter.rounds(), counter.items_read());
        let target = if method == "GET" {
            a.base()
        } else {
            path.clone()
        };
        let body = (method == "POST").then(|| json!({}));
        assert_eq!(a.gw(method, &target, Some(&forged), body).await.status, 401);
        let used = (
            counter.get() - requests,
            counter.rounds() - rounds,
            counter.items_read() - items,
        );
        assert_eq!(used.1, 1, "{method}: one round trip, {used:?}");
        assert!(
            used.0 <= 2 && used.2 <= 2,
            "{method}: (requests, rounds, items) {used:?}"
        );
        eprintln!("a forged key, {method}: (requests, rounds, items read) {used:?}");
    }
    // what the partition read it no longer makes would have cost
    let items = counter.items_read();
    runtype::repo::partition::Partition::read(a.t.app.table(), &a.p)
        .await
        .unwrap();
    eprintln!(
        "the product's partition: {} items",
        counter.items_read() - items
    );
    let rounds = counter.rounds();
    assert_eq!(a.invoke(json!({})).await.status, 202);
    assert!(counter.rounds() - rounds <= 3);
}

/// API.md "Limits": a request for another owner's product costs one strongly consistent
/// read beyond authentication (the product record) and reads nothing else of it. Every
/// management route under `/v1/products/:id`, with a body the owner's call would accept.
async fn a_stranger_costs_one_record_read(store: Store) {
    use runtype::router::{self, routes, Access};
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let c = t.capability(&p, "c").await;
    let made = |r: crate::common::Res| {
        assert_eq!(r.status, 201, "{r:?}");
        r.id()
    };
    let s = made(
        t.send(
            &router::CREATE_SURFACE,
            [&p],
            Some(json!({ "name": "s", "type": "schedule" })),
        )
        .await,
    );
    let under = format!("/v1/products/{p}/surfaces/{s}");
    let i = made(
        t.call(
            "POST",
            &format!("{under}/items"),
            Some(json!({ "capabilityId": c, "exposedName": "tool" })),
        )
        .await,
    );
    let key = made(
        t.call("POST", &format!("{under}/keys"), Some(json!({})))
            .await,
    );
    let schedule = json!({ "flowId": "f", "triggerType": "recurring", "cron": "0 * * * *" });
    let sch = made(
        t.call(
            "POST",
            &format!("{under}/schedules"),
            Some(schedule.clone()),
        )
        .await,
    );
    let run = t
        .call("POST", &format!("{under}/schedules/{sch}/run-now"), None)
        .await;
    assert!(run.status < 300, "{run:?}");
    let e = run.body["batchExecutionId"]
        .as_str()
        .expect("an execution id")
        .to_string();
    let body_for = |function: &str| match function {
        "update-product" => Some(json!({ "name": "mine now" })),
        "add-capability" => Some(json!({ "capabilityName": "x", "flowId": "f" })),
        "update-capability" => Some(json!({ "capabilityName": "y" })),
        "create-surface" => Some(json!({ "name": "x", "type": "api" })),
        "update-surface" => Some(json!({ "name": "y" })),
        "add-surface-item" => Some(json!({ "capabilityId": c, "exposedName": "other" })),
        "update-surface-item" => Some(json!({ "exposedName": "renamed" })),
        "create-surface-key" => Some(json!({})),
        "create-schedule" => Some(schedule.clone()),
        "update-schedule" => Some(json!({ "name": "y" })),
        "ensure-surface" => {
            Some(json!({ "name": "x", "definition": { "name": "x", "type": "chat" } }))
        }
        _ => None,
    };
    let stranger = t.other_owner().await;
    let counter = &t.app.requests;
    let mut checked = 0;
    for r in routes().filter(|r| r.access() == Access::Management) {
        let Some(rest) = r.path.strip_prefix("/v1/products/:id") else {
            continue;
        };
        let path = format!("/v1/products/{p}{rest}")
            .replace(":capabilityId", &c)
            .replace(":surfaceId", &s)
            .replace(":itemId", &i)
            .replace(":keyId", &key)
            .replace(":scheduleId", &sch)
            .replace(":executionId", &e)
            + if r.function == "pull-surface" {
                "?name=s"
            } else {
                ""
            };
        let (requests, items) = (counter.get(), counter.items_read());
        let res = t
            .call_as(&stranger, r.method.as_str(), &path, body_for(r.function))
            .await;
        assert_eq!(res.status, 404, "{} {path}: {res:?}", r.method);
        let requests = counter.get() - requests - 1; // one read authenticated the key
        let items = counter.items_read() - items - 1; // the key's record
        assert_eq!(
            (requests, items),
            (1, 1),
            "{} {path}: a stranger's call made {requests} storage requests reading {items} items",
            r.method
        );
        checked += 1;
    }
    assert!(
        checked >= 25,
        "only {checked} routes under /v1/products/:id"
    );
}
