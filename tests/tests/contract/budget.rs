//! Request budgets: storage round trips per API call (auth included here: a platform key
//! costs exactly one read). Auth ≤ 1 read; each write ≤ 2 round trips beyond auth; GET
//! product is one Query.

use crate::common::{Store, TestApp};
use serde_json::json;

crate::cases! {
    both: [
        each_endpoint_stays_within_its_budget,
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
        let before = t.requests();
        let r = t.call(m, &path, body).await;
        assert!(r.status < 300, "{m} {path}: {r:?}");
        let used = t.requests() - before - 1; // one read authenticated the key
        report.push(format!("{m} {path}: {used}"));
        assert!(
            used <= budget,
            "{m} {path} made {used} storage requests; budget {budget}"
        );
    }
    eprintln!("storage requests beyond auth:\n{}", report.join("\n"));
}
