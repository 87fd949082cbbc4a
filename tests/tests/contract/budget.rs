//! Request budgets: storage round trips per API call (auth included here: a platform key
//! costs exactly one read). Auth ≤ 1 read; each write ≤ 2 round trips beyond auth; GET
//! product is one Query.

use crate::common::{Store, TestApp};
use crate::gateway::Api;
use serde_json::json;

crate::cases! {
    both: [
        each_endpoint_stays_within_its_budget,
        gateway_round_trips,
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
        ("GET", format!("/v1/products/{p}"), None, 1),
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
            2,
        ),
        ("DELETE", format!("/v1/products/{p}"), None, 2),
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
