//! The surface gateway: a surface key calls its surface's endpoints; the contract's checks in
//! order; exact rate limits under concurrency and across stores sharing a table; usage;
//! executions; idempotency; round-trip budgets. Time is a clock the test sets.

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http::Request;
use runtype::app::App;
use runtype::router;
use runtype::time::Clock;
use runtype_tests::seed;
use serde_json::{json, Value};

use crate::common::{send, Res, Store, TestApp};

crate::cases! {
    both: [
        a_key_calls_its_endpoint,
        checks_in_the_contracts_order,
        bodies_are_checked,
        limits_admit_exactly_under_concurrency,
        limits_hold_across_apps_on_one_store,
        a_refused_call_uses_up_no_other_window,
        windows_start_over_and_headers_say_so,
        a_hot_key_sees_no_contention,
        usage_counts_admitted_calls,
        executions_are_listed_read_and_cancelled,
        schedule_fires_are_the_same_executions,
        idempotent_posts,
        refusals_are_not_replayed,
        a_key_reads_only_its_own_executions,
        gateway_reads_have_their_own_limit,
        idempotency_in_flight_and_expiry,
        keys_never_at_rest_after_calls,
    ],
}

/// March 10 of next year, 12:00:10 UTC: ten seconds into a minute, and ahead of the real
/// clock, so what is written at it has not outlived its retention (DynamoDB Local's TTL
/// would remove it).
fn t0() -> DateTime<Utc> {
    use chrono::Datelike;
    Utc.with_ymd_and_hms(Utc::now().year() + 1, 3, 10, 12, 0, 10)
        .unwrap()
}

pub struct Api {
    pub t: TestApp,
    pub p: String,
    pub s: String,
    pub item: String,
    pub key: String,
}

impl Api {
    /// A product with an `api` surface, one bound capability (slug `answer-questions`), and
    /// a production key with `key_body`'s settings; the clock at `t0`.
    pub async fn new(store: Store, surface_config: Value, key_body: Value) -> Api {
        let mut t = TestApp::new(store).await;
        t.app.clock = Clock::fixed(t0());
        let mut body = key_body;
        body["environment"] = json!("production");
        let seeded = seed::api_surface(&t.app, &t.key, surface_config, body).await;
        Api {
            t,
            p: seeded.product,
            s: seeded.surface,
            item: seeded.item,
            key: seeded.key,
        }
    }

    /// Another surface of the product; its id.
    pub async fn surface(&self, name: &str, kind: &str) -> String {
        self.t.surface(&self.p, name, kind).await
    }

    /// A new key of `surface` with `body`'s settings; its plaintext.
    pub async fn mint(&self, surface: &str, body: Value) -> String {
        let path = format!("/v1/products/{}/surfaces/{surface}/keys", self.p);
        let r = self.t.call("POST", &path, Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body["key"].as_str().unwrap().to_string()
    }

    pub fn base(&self) -> String {
        format!("/v1/products/{}/surfaces/{}/api", self.p, self.s)
    }

    pub async fn gw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        gateway_call(&self.t.app, method, path, key, body, &[]).await
    }

    /// The endpoint called with `Idempotency-Key: idem`.
    pub async fn invoke_once(&self, idem: &str, body: Value) -> Res {
        let path = format!("{}/answer-questions", self.base());
        let headers = [("idempotency-key", idem)];
        gateway_call(
            &self.t.app,
            "POST",
            &path,
            Some(&self.key),
            Some(body),
            &headers,
        )
        .await
    }

    pub async fn invoke(&self, body: Value) -> Res {
        let path = format!("{}/answer-questions", self.base());
        self.gw("POST", &path, Some(&self.key), Some(body)).await
    }

    fn at(&mut self, t: DateTime<Utc>) {
        self.t.app.clock.set(t);
    }
}

async fn gateway_call(
    app: &App,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Res {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let bytes = body.map_or_else(Bytes::new, |v| Bytes::from(v.to_string()));
    send(app, b.body(bytes).unwrap()).await
}

fn header<'a>(r: &'a Res, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn a_key_calls_its_endpoint(store: Store) {
    let a = Api::new(store, json!(null), json!({ "name": "ci" })).await;
    // what the key may call
    let d = a.gw("GET", &a.base(), Some(&a.key), None).await;
    assert_eq!(d.status, 200, "{d:?}");
    assert_eq!(d.body["surface"]["type"], "api");
    let e = &d.body["endpoints"][0];
    assert_eq!(e["slug"], "answer-questions");
    assert_eq!(e["name"], "Answer questions");
    assert_eq!(e["description"], "Answers");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["isEntryPoint"], true);
    assert_eq!(
        e["url"],
        format!("http://test.local{}/answer-questions", a.base())
    );
    assert_eq!(d.body["rateLimits"]["key"]["perMinute"], json!(null));
    // the endpoint the surface hands out works: 202, the execution, its Location
    let r = a
        .invoke(json!({ "inputs": { "question": "why?" }, "messages": [{ "role": "user", "content": "hi" }] }))
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let x = &r.body;
    assert!(runtype::ids::is_valid("exec", x["id"].as_str().unwrap()));
    assert_eq!(x["status"], "queued");
    assert_eq!(x["source"], "surface");
    assert_eq!(x["itemId"], a.item.as_str());
    assert_eq!(x["flowId"], "flow_1");
    assert_eq!(x["environment"], "production");
    assert_eq!(x["inputs"]["question"], "why?");
    assert_eq!(x["attempts"], 0);
    let status_url = x["statusUrl"].as_str().unwrap();
    assert_eq!(header(&r, "location"), Some(status_url));
    assert!(x.get("owner").is_none() && x.get("trigger").is_none());
    // the entry point answers the same way
    let entry = a.gw("POST", &a.base(), Some(&a.key), None).await;
    assert_eq!(entry.status, 202, "{entry:?}");
    assert_eq!(entry.body["itemId"], a.item.as_str());
    // the status URL, with the key (X-API-Key works as well as Bearer)
    let path = status_url.trim_start_matches("http://test.local");
    let g = gateway_call(&a.t.app, "GET", path, None, None, &[("x-api-key", &a.key)]).await;
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.body["id"], x["id"]);
    for res in [&d, &r, &g] {
        assert_eq!(header(res, "cache-control"), Some("no-store"));
        assert_eq!(header(res, "x-content-type-options"), Some("nosniff"));
    }
    // management answers carry them too
    let m = a.t.send(&router::LIST_PRODUCTS, [], None).await;
    assert_eq!(header(&m, "cache-control"), Some("no-store"));
}

async fn checks_in_the_contracts_order(store: Store) {
    let mut a = Api::new(
        store,
        json!(null),
        json!({ "expiresAt": runtype::time::format(t0() + Duration::minutes(30)) }),
    )
    .await;
    let slug = format!("{}/answer-questions", a.base());
    let body = Some(json!({}));
    let code = |r: &Res| (r.status, r.body["code"].as_str().unwrap_or("").to_string());
    // 1. no key, malformed, bad checksum, unknown, a platform key: 401
    let mut flipped = a.key.clone().into_bytes();
    let at = flipped.len() - 8;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let unknown = runtype::secrets::generate("papi_live_");
    for key in [
        None,
        Some("papi_live_short"),
        Some(flipped.as_str()),
        Some(unknown.as_str()),
        Some(a.t.key.as_str()),
    ] {
        let r = a.gw("POST", &slug, key, body.clone()).await;
        assert_eq!(code(&r), (401, "UNAUTHORIZED".into()), "{key:?}: {r:?}");
    }
    // a surface key on the management API: 401
    let r =
        a.t.send_as(&a.key.clone(), &router::LIST_PRODUCTS, [], None)
            .await;
    assert_eq!(r.status, 401);
    // a key of another surface of the product: 401
    let other = a.surface("b", "api").await;
    let other_key = a.mint(&other, json!({})).await;
    let r = a.gw("POST", &slug, Some(&other_key), body.clone()).await;
    assert_eq!(code(&r), (401, "UNAUTHORIZED".into()), "{r:?}");
    // 2. a surface of another type: 404 (its own key, of its own kind)
    let mcp = a.surface("m", "mcp").await;
    let mcp_key = a.mint(&mcp, json!({})).await;
    let r = a
        .gw(
            "POST",
            &format!("/v1/products/{}/surfaces/{mcp}/api", a.p),
            Some(&mcp_key),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // paused or draft: 403
    let surface = format!("/v1/products/{}/surfaces/{}", a.p, a.s);
    for status in ["paused", "draft"] {
        a.t.call("PUT", &surface, Some(json!({ "status": status })))
            .await;
        let r = a.gw("POST", &slug, Some(&a.key), body.clone()).await;
        assert_eq!(code(&r), (403, "FORBIDDEN".into()), "{status}: {r:?}");
    }
    a.t.call("PUT", &surface, Some(json!({ "status": "active" })))
        .await;
    // 3. an unknown slug, a disabled item: 404
    let r = a
        .gw(
            "POST",
            &format!("{}/nope", a.base()),
            Some(&a.key),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 404);
    let item = format!("{surface}/items/{}", a.item);
    a.t.call("PUT", &item, Some(json!({ "enabled": false })))
        .await;
    assert_eq!(
        a.gw("POST", &slug, Some(&a.key), body.clone()).await.status,
        404
    );
    assert_eq!(
        a.gw("POST", &a.base(), Some(&a.key), body.clone())
            .await
            .status,
        404,
        "no entry point"
    );
    a.t.call("PUT", &item, Some(json!({ "enabled": true })))
        .await;
    // 4. outside the key's scopes: 403 (a second item, a key scoped to the first)
    let c2 = a.t.capability(&a.p, "Summarise").await;
    a.t.call(
        "POST",
        &format!("{surface}/items"),
        Some(json!({ "capabilityId": c2 })),
    )
    .await;
    let scoped = a.mint(&a.s, json!({ "scopes": [a.item] })).await;
    let r = a
        .gw(
            "POST",
            &format!("{}/summarise", a.base()),
            Some(&scoped),
            body.clone(),
        )
        .await;
    assert_eq!(code(&r), (403, "FORBIDDEN".into()), "{r:?}");
    assert_eq!(
        a.gw("POST", &slug, Some(&scoped), body.clone())
            .await
            .status,
        202
    );
    let d = a.gw("GET", &a.base(), Some(&scoped), None).await;
    assert_eq!(
        d.body["endpoints"].as_array().unwrap().len(),
        1,
        "only what the scopes allow"
    );
    // 5. a bad body: 400 (before any limit is counted)
    let r = a
        .gw("POST", &slug, Some(&a.key), Some(json!({ "unknown": 1 })))
        .await;
    assert_eq!(code(&r), (400, "VALIDATION_ERROR".into()));
    // expired (the clock passes expiresAt), deleted: 401
    a.at(t0() + Duration::minutes(35));
    assert_eq!(
        a.gw("POST", &slug, Some(&a.key), body.clone()).await.status,
        401
    );
    let keys = a.t.call("GET", &surface, None).await.body["keys"].clone();
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == json!(null) && k["scopes"] == json!([a.item]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r =
        a.t.call("DELETE", &format!("{surface}/keys/{id}"), None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        a.gw("POST", &slug, Some(&scoped), body.clone())
            .await
            .status,
        401
    );
}

async fn bodies_are_checked(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let cases = [
        (json!({ "inputs": [] }), "inputs"),
        (json!({ "messages": {} }), "messages"),
        (
            json!({ "messages": [{ "role": "robot", "content": "x" }] }),
            "messages.0.role",
        ),
        (
            json!({ "messages": [{ "role": "user" }] }),
            "messages.0.content",
        ),
        (
            json!({ "messages": [{ "role": "user", "content": 5 }] }),
            "messages.0.content",
        ),
        (
            json!({ "messages": [{ "role": "user", "content": "a\u{0}b" }] }),
            "messages.0.content",
        ),
        (
            json!({ "messages": [{ "role": null, "content": "x" }] }),
            "messages.0.role",
        ),
        (
            json!({ "messages": [{ "role": "user", "content": "x", "extra": 1 }] }),
            "messages.0.extra",
        ),
        (
            json!({ "messages": vec![json!({ "role": "user", "content": "x" }); 101] }),
            "messages",
        ),
        (json!({ "record": "r" }), "record"),
        (json!({ "record": { "id": "" } }), "record.id"),
        (json!({ "record": { "colour": "red" } }), "record.colour"),
        (json!({ "metadata": { "a": 1 } }), "metadata.a"),
        (
            json!({ "metadata": (0..21).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>() }),
            "metadata",
        ),
        (json!({ "unknown": true }), "unknown"),
    ];
    for (body, path) in cases {
        let r = a.invoke(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert!(r.details().iter().any(|(p, _)| p == path), "{body}: {r:?}");
    }
    let big = json!({ "inputs": { "text": "x".repeat(300 * 1024) } });
    let r = a.invoke(big).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    let r = gateway_call(
        &a.t.app,
        "POST",
        &format!("{}/answer-questions", a.base()),
        Some(&a.key),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 202, "an empty body is an empty invocation: {r:?}");
    // nothing but that one call was admitted or stored
    let list = a.t.send(&router::LIST_EXECUTIONS, [&a.p], None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

async fn fire(app: &App, path: &str, key: &str, n: usize) -> Vec<Res> {
    let calls = (0..n).map(|_| gateway_call(app, "POST", path, Some(key), Some(json!({})), &[]));
    futures_util::future::join_all(calls).await
}

fn count(results: &[Res], status: u16) -> usize {
    results.iter().filter(|r| r.status == status).count()
}

async fn limits_admit_exactly_under_concurrency(store: Store) {
    let a = Api::new(store, json!(null), json!({ "rateLimitPerMinute": 10 })).await;
    let path = format!("{}/answer-questions", a.base());
    let results = fire(&a.t.app, &path, &a.key, 50).await;
    assert_eq!(count(&results, 202), 10, "{results:?}");
    assert_eq!(count(&results, 429), 40, "{results:?}");
    for r in results.iter().filter(|r| r.status == 429) {
        assert_eq!(r.body["code"], "RATE_LIMITED");
        // whole seconds to the end of the minute (the clock is 10 s into it)
        assert_eq!(header(r, "retry-after"), Some("50"));
        assert_eq!(header(r, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(r, "x-ratelimit-limit"), Some("10"));
    }
    let executions =
        a.t.call(
            "GET",
            &format!("/v1/products/{}/executions?limit=100", a.p),
            None,
        )
        .await;
    assert_eq!(executions.body["data"].as_array().unwrap().len(), 10);
}

async fn limits_hold_across_apps_on_one_store(store: Store) {
    let a = Api::new(
        store,
        json!({ "rateLimit": { "perMinute": 12 } }),
        json!({}),
    )
    .await;
    let mut other = a.t.sibling().await;
    other.clock = Clock::fixed(t0());
    let path = format!("{}/answer-questions", a.base());
    let (here, there) = tokio::join!(
        fire(&a.t.app, &path, &a.key, 20),
        fire(&other, &path, &a.key, 20)
    );
    assert_eq!(
        count(&here, 202) + count(&there, 202),
        12,
        "{here:?} {there:?}"
    );
    assert_eq!(count(&here, 429) + count(&there, 429), 28);
}

async fn a_refused_call_uses_up_no_other_window(store: Store) {
    let a = Api::new(
        store,
        json!({ "rateLimit": { "perMinute": 1 } }),
        json!({ "rateLimitPerMinute": 3, "rateLimitPerDay": 100 }),
    )
    .await;
    let path = format!("{}/answer-questions", a.base());
    assert_eq!(count(&fire(&a.t.app, &path, &a.key, 1).await, 202), 1);
    let refused = fire(&a.t.app, &path, &a.key, 6).await;
    assert_eq!(count(&refused, 429), 6);
    // the surface limit goes: the key's minute window still has exactly 2 left
    let r =
        a.t.send(
            &router::UPDATE_SURFACE,
            [&a.p, &a.s],
            Some(json!({ "config": {} })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let after = fire(&a.t.app, &path, &a.key, 5).await;
    assert_eq!(count(&after, 202), 2, "{after:?}");
    let last = after.iter().find(|r| r.status == 429).unwrap();
    assert_eq!(header(last, "x-ratelimit-limit"), Some("3"));
}

async fn windows_start_over_and_headers_say_so(store: Store) {
    let mut a = Api::new(
        store,
        json!(null),
        json!({ "rateLimitPerMinute": 2, "rateLimitPerDay": 3 }),
    )
    .await;
    let path = format!("{}/answer-questions", a.base());
    let r = a.invoke(json!({})).await;
    // tightest: the minute (1 left), resetting at the minute's end
    let minute_end = (t0() + Duration::seconds(50)).timestamp().to_string();
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("2"));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("1"));
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(minute_end.as_str()));
    let d = a.gw("GET", &a.base(), Some(&a.key), None).await;
    assert_eq!(
        header(&d, "x-ratelimit-remaining"),
        Some("1"),
        "a read counts nothing"
    );
    assert_eq!(a.invoke(json!({})).await.status, 202);
    assert_eq!(a.invoke(json!({})).await.status, 429);
    // the next minute: the minute window starts over, the day window (3) has one left
    a.at(t0() + Duration::seconds(55));
    let r = a.invoke(json!({})).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    // the UTC midnight after t0
    let day_end = (t0().date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
        .to_string();
    assert_eq!(header(&r, "x-ratelimit-reset"), Some(day_end.as_str()));
    let refused = fire(&a.t.app, &path, &a.key, 1).await;
    assert_eq!(refused[0].status, 429);
    let wait: i64 = header(&refused[0], "retry-after").unwrap().parse().unwrap();
    assert_eq!(
        wait,
        day_end.parse::<i64>().unwrap() - (t0() + Duration::seconds(55)).timestamp()
    );
    // the next day
    a.at(t0() + Duration::days(1));
    assert_eq!(a.invoke(json!({})).await.status, 202);
}

async fn a_hot_key_sees_no_contention(store: Store) {
    let a = Api::new(
        store,
        json!({ "rateLimit": { "perMinute": 1000, "perDay": 100000 } }),
        json!({ "rateLimitPerMinute": 1000, "rateLimitPerDay": 100000 }),
    )
    .await;
    let path = format!("{}/answer-questions", a.base());
    let results = fire(&a.t.app, &path, &a.key, 50).await;
    assert_eq!(
        count(&results, 202),
        50,
        "{:?}",
        results
            .iter()
            .filter(|r| r.status != 202)
            .collect::<Vec<_>>()
    );
}

async fn usage_counts_admitted_calls(store: Store) {
    let a = Api::new(store, json!(null), json!({ "rateLimitPerMinute": 3 })).await;
    let path = format!("{}/answer-questions", a.base());
    let surface = format!("/v1/products/{}/surfaces/{}", a.p, a.s);
    let before = a.t.call("GET", &surface, None).await;
    assert_eq!(before.body["keys"][0]["usageCount"], 0);
    assert_eq!(before.body["keys"][0]["lastUsedAt"], json!(null));
    let results = fire(&a.t.app, &path, &a.key, 5).await;
    assert_eq!(count(&results, 202), 3);
    a.invoke(json!({ "unknown": 1 })).await; // refused before the limits
    let after = a.t.call("GET", &surface, None).await;
    let key = &after.body["keys"][0];
    assert_eq!(key["usageCount"], 3, "{key}");
    assert!(key["lastUsedAt"]
        .as_str()
        .is_some_and(|s| runtype::time::parse(s).is_some()));
}

async fn executions_are_listed_read_and_cancelled(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    for i in 0..3 {
        assert_eq!(a.invoke(json!({ "inputs": { "n": i } })).await.status, 202);
    }
    let list_path = format!("/v1/products/{}/executions", a.p);
    let page = a.t.call("GET", &format!("{list_path}?limit=2"), None).await;
    assert_eq!(page.status, 200, "{page:?}");
    let data = page.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["inputs"]["n"], 2, "newest first");
    assert_eq!(page.body["pagination"]["hasMore"], true);
    let cursor = page.body["pagination"]["nextCursor"].as_str().unwrap();
    let rest =
        a.t.call("GET", &format!("{list_path}?limit=2&cursor={cursor}"), None)
            .await;
    assert_eq!(rest.body["data"][0]["inputs"]["n"], 0);
    let filtered =
        a.t.call("GET", &format!("{list_path}?source=schedule"), None)
            .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 0);
    let filtered =
        a.t.call(
            "GET",
            &format!("{list_path}?surfaceId={}&status=queued&source=surface", a.s),
            None,
        )
        .await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        a.t.call("GET", &format!("{list_path}?status=lost"), None)
            .await
            .status,
        400
    );
    let id = data[0]["id"].as_str().unwrap();
    let one = a.t.call("GET", &format!("{list_path}/{id}"), None).await;
    assert_eq!(one.body["id"], id);
    let cancelled =
        a.t.call("POST", &format!("{list_path}/{id}/cancel"), None)
            .await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].as_str()),
        (200, Some("cancelled"))
    );
    let again =
        a.t.call("POST", &format!("{list_path}/{id}/cancel"), None)
            .await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    // another owner: 404 everywhere; a malformed id: 404
    let stranger = a.t.other_owner().await;
    for (m, path) in [
        ("GET", list_path.clone()),
        ("GET", format!("{list_path}/{id}")),
        ("POST", format!("{list_path}/{id}/cancel")),
        ("GET", format!("{list_path}/exec_nope")),
    ] {
        let r = if path.ends_with("exec_nope") {
            a.t.call(m, &path, None).await
        } else {
            a.t.call_as(&stranger, m, &path, None).await
        };
        assert_eq!(r.status, 404, "{m} {path}: {r:?}");
    }
    // through another surface's gateway: 404
    let r = a
        .gw(
            "GET",
            &format!("{}/executions/{id}", a.base()),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn schedule_fires_are_the_same_executions(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let s = a.t.surface(&a.p, "cron", "schedule").await;
    let sched = a
        .t
        .send(&router::CREATE_SCHEDULE, [&a.p, &s], Some(json!({ "flowId": "flow_9", "triggerType": "recurring", "cron": "0 9 * * *", "recordIds": ["r1"] })))
        .await
        .id();
    let run =
        a.t.send(&router::RUN_SCHEDULE_NOW, [&a.p, &s, &sched], None)
            .await;
    assert_eq!(run.status, 202, "{run:?}");
    a.invoke(json!({})).await;
    let list =
        a.t.call(
            "GET",
            &format!("/v1/products/{}/executions?source=schedule", a.p),
            None,
        )
        .await;
    let x = &list.body["data"][0];
    assert_eq!(x["id"], run.body["batchExecutionId"]);
    assert_eq!(x["source"], "schedule");
    assert_eq!(x["scheduleId"], sched.as_str());
    assert!(x["runId"].as_str().unwrap().starts_with("run_"));
    assert_eq!(x["recordIds"], json!(["r1"]));
    assert_eq!(x["flowId"], "flow_9");
    assert_eq!(x["statusUrl"], json!(null));
    let all = a.t.send(&router::LIST_EXECUTIONS, [&a.p], None).await;
    assert_eq!(
        all.body["data"].as_array().unwrap().len(),
        2,
        "one list shows both"
    );
}

async fn idempotent_posts(store: Store) {
    let a = Api::new(store, json!(null), json!({ "rateLimitPerMinute": 100 })).await;
    let first = a
        .invoke_once("order-1", json!({ "inputs": { "a": 1 } }))
        .await;
    assert_eq!(first.status, 202);
    let again = a
        .invoke_once("order-1", json!({ "inputs": { "a": 1 } }))
        .await;
    assert_eq!(again.status, 202);
    assert_eq!(again.body["id"], first.body["id"], "the first answer again");
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(header(&again, "location"), header(&first, "location"));
    assert!(header(&first, "idempotent-replayed").is_none());
    let other = a
        .invoke_once("order-1", json!({ "inputs": { "a": 2 } }))
        .await;
    assert_eq!(
        (other.status, other.body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let list = a.t.send(&router::LIST_EXECUTIONS, [&a.p], None).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "nothing changed"
    );
    // a bad key is a 400
    let bad = a.invoke_once(&"k".repeat(256), json!({})).await;
    assert_eq!(bad.status, 400);
    // keys are per caller: the owner's management POSTs are another space
    let product = |k: &'static str| {
        let app = &a.t.app;
        let pk = a.t.key.clone();
        async move {
            let req = Request::builder()
                .method("POST")
                .uri("/v1/products")
                .header("authorization", format!("Bearer {pk}"))
                .header("idempotency-key", k)
                .body(Bytes::from(json!({ "name": "once" }).to_string()))
                .unwrap();
            send(app, req).await
        }
    };
    let p1 = product("order-1").await;
    let p2 = product("order-1").await;
    assert_eq!((p1.status, p2.status), (201, 201));
    assert_eq!(p1.body["id"], p2.body["id"]);
    let products = a.t.call("GET", "/v1/products?search=once", None).await;
    assert_eq!(products.body["data"].as_array().unwrap().len(), 1);
    // an answer with a secret is never replayed: 409 naming what was created
    let key_path = format!("/v1/products/{}/surfaces/{}/keys", a.p, a.s);
    let mint = || {
        let app = &a.t.app;
        let pk = a.t.key.clone();
        let path = key_path.clone();
        async move {
            let req = Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {pk}"))
                .header("idempotency-key", "mint-1")
                .body(Bytes::from("{}"))
                .unwrap();
            send(app, req).await
        }
    };
    let minted = mint().await;
    assert_eq!(minted.status, 201);
    let replay = mint().await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    assert_eq!(replay.body["details"][0]["message"], minted.body["id"]);
    assert!(!replay
        .body
        .to_string()
        .contains(minted.body["key"].as_str().unwrap()));
    let stored = crate::common::everything_stored(&a.t).await;
    assert!(
        !stored.contains(minted.body["key"].as_str().unwrap()),
        "the secret is not stored for a replay"
    );
}

/// A surface key reads the executions it made, and no other: not another key's of the same
/// surface (whose inputs it must not see).
async fn a_key_reads_only_its_own_executions(store: Store) {
    let a = Api::new(store, json!(null), json!({})).await;
    let other = a.mint(&a.s, json!({})).await;
    let mine = a
        .invoke(json!({ "inputs": { "secret": "mine" } }))
        .await
        .id();
    let path = |id: &str| format!("{}/executions/{id}", a.base());
    let r = a.gw("GET", &path(&mine), Some(&a.key), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["inputs"]["secret"], "mine");
    let r = a.gw("GET", &path(&mine), Some(&other), None).await;
    assert_eq!(r.status, 404, "another key of the surface: {r:?}");
    assert!(!r.body.to_string().contains("mine"));
    // the owner still sees every execution
    a.t.send(&router::GET_EXECUTION, [&a.p, &mine], None)
        .await
        .expect(200);
}

/// Gateway reads (describe, an execution) count in a window of their own per key: past it,
/// 429 with Retry-After; calls are not used up by them, and the next minute reads again.
async fn gateway_reads_have_their_own_limit(store: Store) {
    let mut a = Api::new(store, json!(null), json!({ "rateLimitPerMinute": 5 })).await;
    a.t.app.config.gateway_reads_per_minute = 3;
    let id = a.invoke(json!({})).await.id();
    let execution = format!("{}/executions/{id}", a.base());
    for path in [a.base(), execution.clone(), a.base()] {
        let r = a.gw("GET", &path, Some(&a.key), None).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let limited = a.gw("GET", &execution, Some(&a.key), None).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert!(header(&limited, "retry-after").is_some());
    assert_eq!(header(&limited, "x-ratelimit-limit"), Some("3"));
    // the calls' window is apart: 4 of 5 left
    let call = a.invoke(json!({})).await;
    assert_eq!(call.status, 202);
    assert_eq!(header(&call, "x-ratelimit-remaining"), Some("3"));
    a.at(t0() + chrono::Duration::minutes(1));
    let r = a.gw("GET", &execution, Some(&a.key), None).await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// A refusal is not remembered under its Idempotency-Key: a client that obeys Retry-After
/// after a 429 and sends the same request with the same key is served once the window
/// allows; a 404 fixed by the owner, likewise.
async fn refusals_are_not_replayed(store: Store) {
    let mut a = Api::new(store, json!(null), json!({ "rateLimitPerMinute": 1 })).await;
    assert_eq!(a.invoke_once("first", json!({})).await.status, 202);
    let limited = a.invoke_once("order-7", json!({})).await;
    assert_eq!(limited.status, 429);
    assert!(header(&limited, "retry-after").is_some());
    // the same key again within the window: refused again (not replayed)
    let again = a.invoke_once("order-7", json!({})).await;
    assert_eq!(again.status, 429);
    assert!(header(&again, "idempotent-replayed").is_none());
    // the next minute: served, and then replayed
    a.at(t0() + chrono::Duration::minutes(1));
    let served = a.invoke_once("order-7", json!({})).await;
    assert_eq!(served.status, 202, "{served:?}");
    assert!(header(&served, "idempotent-replayed").is_none());
    let replay = a.invoke_once("order-7", json!({})).await;
    assert_eq!(replay.body["id"], served.body["id"]);
    assert_eq!(header(&replay, "idempotent-replayed"), Some("true"));
    // a validation refusal, then the corrected request under another key: nothing stuck
    let bad = a.invoke_once("order-8", json!({ "nope": 1 })).await;
    assert_eq!(bad.status, 400);
    let bad_again = a.invoke_once("order-8", json!({ "nope": 1 })).await;
    assert_eq!(bad_again.status, 400);
    assert!(header(&bad_again, "idempotent-replayed").is_none());
}

async fn keys_never_at_rest_after_calls(store: Store) {
    let a = Api::new(
        store,
        json!({ "rateLimit": { "perMinute": 5 } }),
        json!({ "rateLimitPerMinute": 5 }),
    )
    .await;
    let path = format!("{}/answer-questions", a.base());
    fire(&a.t.app, &path, &a.key, 7).await;
    let stored = crate::common::everything_stored(&a.t).await;
    assert!(
        !stored.contains(&a.key),
        "the plaintext key reached storage"
    );
}

async fn idempotency_in_flight_and_expiry(store: Store) {
    let mut a = Api::new(store, json!(null), json!({})).await;
    let path = format!("{}/answer-questions", a.base());
    let keys = a.t.send(&router::GET_SURFACE, [&a.p, &a.s], None).await;
    let key_id = keys.body["keys"][0]["id"].as_str().unwrap().to_string();
    // a first call still running: its claim is there with no answer yet
    let claim = runtype::idempotency::record_key(&format!("KEY#{key_id}"), "busy-1");
    let pending = runtype::repo::item(
        claim,
        "idempotency",
        &json!({ "request": format!("POST {path} {}", runtype::secrets::sha256_hex(b"{}")), "answer": null }),
        1,
        &runtype::time::format(t0() - Duration::seconds(10)),
    );
    let mut pending = pending;
    pending.expires_at = Some((t0() + Duration::hours(24)).timestamp());
    a.t.app
        .table()
        .put(pending, runtype::store::Cond::NotExists)
        .await
        .unwrap();
    let busy = a.invoke_once("busy-1", json!({})).await;
    assert_eq!(busy.status, 409, "{busy:?}");
    assert_eq!(header(&busy, "retry-after"), Some("1"));
    // a key is remembered 24 hours, then it is free again
    let first = a.invoke_once("day-1", json!({})).await;
    a.at(t0() + Duration::hours(23));
    let replay = a.invoke_once("day-1", json!({})).await;
    assert_eq!(replay.body["id"], first.body["id"]);
    a.at(t0() + Duration::hours(25));
    let fresh = a.invoke_once("day-1", json!({})).await;
    assert_eq!(fresh.status, 202);
    assert_ne!(
        fresh.body["id"], first.body["id"],
        "after 24 hours the key runs again"
    );
    assert!(header(&fresh, "idempotent-replayed").is_none());
}
