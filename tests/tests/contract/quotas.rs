//! Quotas (API.md "Limits") for every kind: racing creates from separate app instances (as
//! separate Lambda instances would race) never pass a limit, the refusal is the contract's
//! 403, and deletes — direct or by cascade — make room again.

use crate::common::{config, send, Res, Store, TestApp};
use runtype::app::App;
use runtype::config::{Config, Limits};
use runtype::router;
use serde_json::{json, Value};

crate::cases! {
    both: [
        racing_creates_stop_at_every_limit,
        deletes_and_cascades_give_places_back,
    ],
    plain: [
        limits_come_from_the_environment,
    ],
}

const RACERS: usize = 8;
const LIMIT: i64 = 3;

fn tight() -> Limits {
    Limits {
        products_per_owner: LIMIT,
        capabilities_per_product: LIMIT,
        surfaces_per_product: LIMIT,
        items_per_surface: LIMIT,
        keys_per_surface: LIMIT,
        ..Limits::default()
    }
}

/// Apps on `t`'s store with tight limits.
async fn racers(t: &TestApp) -> Vec<std::sync::Arc<App>> {
    let mut apps = Vec::new();
    for _ in 0..RACERS {
        let mut c = config();
        c.limits = tight();
        apps.push(std::sync::Arc::new(
            App::open(&t.backend, c).await.expect("open the store"),
        ));
    }
    apps
}

/// `RACERS` creates at once, each from its own app: the answers.
async fn race(t: &TestApp, path: &str, body: impl Fn(usize) -> Value) -> Vec<Res> {
    let tasks: Vec<_> = racers(t)
        .await
        .into_iter()
        .enumerate()
        .map(|(n, app)| {
            let (key, path, body) = (t.key.clone(), path.to_string(), body(n));
            tokio::spawn(async move { call(&app, &key, &path, body).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn assert_limited(results: &[Res], what: &str) {
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created as i64, LIMIT, "{what}: {results:?}");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_eq!(r.status, 403, "{what}: {r:?}");
        assert_eq!(r.body["code"], "QUOTA_EXCEEDED", "{r:?}");
        assert!(r.has_detail("", "QUOTA_EXCEEDED"), "{r:?}");
        let message = r.body["error"].as_str().unwrap();
        assert!(message.contains(&format!("{LIMIT} {what}")), "{message}");
    }
}

async fn racing_creates_stop_at_every_limit(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("first").await; // counted: two more fit
    let results = race(&t, "/v1/products", |n| json!({ "name": format!("p{n}") })).await;
    let created = results.iter().filter(|r| r.status == 201).count() as i64;
    assert_eq!(created, LIMIT - 1, "{results:?}");
    assert!(results
        .iter()
        .filter(|r| r.status != 201)
        .all(|r| r.status == 403 && r.body["code"] == "QUOTA_EXCEEDED"));

    let results = race(
        &t,
        &format!("/v1/products/{p}/capabilities"),
        |n| json!({ "capabilityName": format!("c{n}"), "flowId": "f" }),
    )
    .await;
    assert_limited(&results, "capabilities per product");
    let caps: Vec<String> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(Res::id)
        .collect();

    let results = race(
        &t,
        &format!("/v1/products/{p}/surfaces"),
        |n| json!({ "name": format!("s{n}"), "type": "api" }),
    )
    .await;
    assert_limited(&results, "surfaces per product");
    let s = results.iter().find(|r| r.status == 201).unwrap().id();

    // more capabilities than the limit would need: the racers bind the three there are, with
    // distinct slugs, so only the quota can refuse (each capability once: 409 otherwise)
    let under = format!("/v1/products/{p}/surfaces/{s}");
    let results = race(
        &t,
        &format!("{under}/keys"),
        |n| json!({ "name": format!("k{n}") }),
    )
    .await;
    assert_limited(&results, "keys per surface");
    let items = race(
        &t,
        &format!("{under}/items"),
        |n| json!({ "capabilityId": caps[n % caps.len()], "endpointSlug": format!("e{n}") }),
    )
    .await;
    let created = items.iter().filter(|r| r.status == 201).count() as i64;
    assert_eq!(created, LIMIT, "{items:?}");
    // a fourth capability would be refused by its own quota, so the item limit is shown with
    // the limit raised for capabilities alone
    let mut c = config();
    c.limits = Limits {
        capabilities_per_product: 10,
        ..tight()
    };
    let app = App::open(&t.backend, c).await.unwrap();
    let extra = call(
        &app,
        &t.key,
        &format!("/v1/products/{p}/capabilities"),
        json!({ "capabilityName": "extra", "flowId": "f" }),
    )
    .await;
    assert_eq!(extra.status, 201, "{extra:?}");
    let r = call(
        &app,
        &t.key,
        &format!("{under}/items"),
        json!({ "capabilityId": extra.id() }),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("3 items per surface"));
}

/// POST `body` to `path` on `app`.
async fn call(app: &App, key: &str, path: &str, body: Value) -> Res {
    let req = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

async fn deletes_and_cascades_give_places_back(store: Store) {
    let mut t = TestApp::new(store).await;
    t.app.config.limits = Limits {
        products_per_owner: 1,
        capabilities_per_product: 1,
        surfaces_per_product: 1,
        items_per_surface: 1,
        keys_per_surface: 1,
        ..Limits::default()
    };
    let refused = |r: &Res| r.status == 403 && r.body["code"] == "QUOTA_EXCEEDED";
    let p = t.product("p").await;
    let r = t
        .send(&router::CREATE_PRODUCT, [], Some(json!({ "name": "q" })))
        .await;
    assert!(refused(&r), "{r:?}");
    let cap = json!({ "capabilityName": "c", "flowId": "f" });
    let c = t.capability(&p, "c").await;
    let caps = format!("/v1/products/{p}/capabilities");
    assert!(refused(&t.call("POST", &caps, Some(cap.clone())).await));
    let surface = json!({ "name": "s", "type": "api" });
    let surfaces = format!("/v1/products/{p}/surfaces");
    let s = t.call("POST", &surfaces, Some(surface.clone())).await.id();
    assert!(refused(
        &t.call("POST", &surfaces, Some(surface.clone())).await
    ));
    let items = format!("{surfaces}/{s}/items");
    let item = t
        .call("POST", &items, Some(json!({ "capabilityId": c })))
        .await;
    assert_eq!(item.status, 201, "{item:?}");
    let keys = format!("{surfaces}/{s}/keys");
    let k = t.call("POST", &keys, Some(json!({}))).await.id();
    assert!(refused(&t.call("POST", &keys, Some(json!({}))).await));

    // a key delete frees its place
    let r = t.call("DELETE", &format!("{keys}/{k}"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(t.call("POST", &keys, Some(json!({}))).await.status, 201);
    // a capability delete takes its items with it: both places free
    let r = t.call("DELETE", &format!("{caps}/{c}"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let c = t.capability(&p, "c2").await;
    let r = t
        .call("POST", &items, Some(json!({ "capabilityId": c })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // an item delete frees its place
    let r = t.call("DELETE", &format!("{items}/{}", r.id()), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        t.call("POST", &items, Some(json!({ "capabilityId": c })))
            .await
            .status,
        201
    );
    // a surface delete frees its place
    let r = t.call("DELETE", &format!("{surfaces}/{s}"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(t.call("POST", &surfaces, Some(surface)).await.status, 201);
    // a product delete frees the owner's place
    t.send(&router::DELETE_PRODUCT, [&p], None)
        .await
        .expect(200);
    t.product("again").await;
}

fn limits_come_from_the_environment() {
    let d = Limits::default();
    assert_eq!(
        [
            d.products_per_owner,
            d.capabilities_per_product,
            d.surfaces_per_product,
            d.items_per_surface,
            d.keys_per_surface,
            d.schedules_per_surface,
            d.schedules_per_owner
        ],
        [1000, 200, 50, 200, 100, 500, 5000],
        "the contract's defaults"
    );
    let vars = std::collections::HashMap::from([
        ("RUNTYPE_QUOTA_PRODUCTS_PER_OWNER", "1"),
        ("RUNTYPE_QUOTA_CAPABILITIES_PER_PRODUCT", "2"),
        ("RUNTYPE_QUOTA_SURFACES_PER_PRODUCT", "3"),
        ("RUNTYPE_QUOTA_ITEMS_PER_SURFACE", "4"),
        ("RUNTYPE_QUOTA_KEYS_PER_SURFACE", "5"),
        ("RUNTYPE_QUOTA_SCHEDULES_PER_SURFACE", "6"),
        ("RUNTYPE_QUOTA_SCHEDULES_PER_OWNER", " 7 "),
    ]);
    let l = Config::from_vars(|n| vars.get(n).map(|v| v.to_string()))
        .unwrap()
        .limits;
    assert_eq!(
        [
            l.products_per_owner,
            l.capabilities_per_product,
            l.surfaces_per_product,
            l.items_per_surface,
            l.keys_per_surface,
            l.schedules_per_surface,
            l.schedules_per_owner
        ],
        [1, 2, 3, 4, 5, 6, 7]
    );
    let bad = Config::from_vars(|n| (n == "RUNTYPE_QUOTA_KEYS_PER_SURFACE").then(|| "-1".into()));
    assert!(bad.unwrap_err().contains("RUNTYPE_QUOTA_KEYS_PER_SURFACE"));
}
