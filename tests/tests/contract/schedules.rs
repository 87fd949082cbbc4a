//! Schedules and the scheduler: field rules, nextRunAt in real zones, pause/resume/run-now,
//! and passes that fire each occurrence exactly once, however many run at the same time.

use runtype::router;

use crate::common::{Res, Store, TestApp};
use chrono::{DateTime, Duration, Utc};
use runtype::scheduler::fire_due;
use runtype::store::Query;
use serde_json::{json, Value};

crate::cases! {
    both: [
        create_recurring_and_one_time,
        create_validates_every_field,
        only_schedule_surfaces_hold_schedules,
        update_recomputes_next_run,
        pause_resume_and_run_now,
        delete_removes_run_history,
        other_owners_get_404_on_every_schedule_route,
        the_owner_wide_read_side,
        quotas_hold_under_racing_creates,
        a_record_over_300_kib_is_refused_whole,
    ],
}

pub(crate) struct Fixture {
    pub(crate) t: TestApp,
    pub(crate) p: String,
    pub(crate) s: String,
}

impl Fixture {
    pub(crate) async fn new(store: Store) -> Fixture {
        let t = TestApp::new(store).await;
        let p = t.product("p").await;
        let s = t.surface(&p, "cron", "schedule").await;
        Fixture { t, p, s }
    }

    pub(crate) fn path(&self) -> String {
        format!("/v1/products/{}/surfaces/{}/schedules", self.p, self.s)
    }

    pub(crate) async fn create(&self, body: Value) -> Res {
        self.t.call("POST", &self.path(), Some(body)).await
    }

    pub(crate) async fn recurring(&self, cron: &str) -> String {
        let r = self
            .create(json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": cron }))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.id()
    }

    pub(crate) async fn get(&self, id: &str) -> Value {
        let r = self
            .t
            .call("GET", &format!("{}/{id}", self.path()), None)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    }

    pub(crate) async fn run_count(&self, id: &str) -> usize {
        self.t
            .app
            .table()
            .query(&Query::partition(format!("SCHEDULE#{id}")))
            .await
            .unwrap()
            .items
            .len()
    }
}

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    runtype::time::parse(s).unwrap()
}

pub(crate) fn next_of(v: &Value) -> DateTime<Utc> {
    at(v["nextRunAt"].as_str().expect("nextRunAt is set"))
}

async fn create_recurring_and_one_time(store: Store) {
    let f = Fixture::new(store).await;
    let before = Utc::now();
    let r = f
        .create(json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "0  9 * *   MON-FRI",
                        "timezone": "America/New_York", "name": "Daily digest", "recordIds": ["a", "b"],
                        "recordType": "customer", "executionOptions": { "chunkSize": 10, "loggingPolicy": "off" },
                        "recordFilter": { "type": "customer", "where": { "op": "and", "conditions": [
                            { "field": "plan", "op": "eq", "value": "pro" },
                            { "op": "or", "conditions": [{ "field": "age", "op": "between", "value": [1, 9] }, { "field": "vip", "op": "isTrue" }] }
                        ] } },
                        "inputs": { "x": 1 }, "messages": [{ "role": "user", "content": "hi" }] }))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = &r.body;
    assert!(runtype::ids::is_valid("sched", b["id"].as_str().unwrap()));
    assert_eq!(b["productSurfaceId"], f.s.as_str());
    assert_eq!(b["cron"], "0 9 * * MON-FRI", "whitespace normalised");
    assert_eq!(b["timezone"], "America/New_York");
    assert_eq!(b["enabled"], true);
    assert_eq!(b["lastRunAt"], json!(null));
    assert_eq!(b["runAt"], json!(null));
    assert_eq!(b["recordIds"], json!(["a", "b"]));
    assert_eq!(
        b["executionOptions"],
        json!({ "chunkSize": 10, "loggingPolicy": "off" })
    );
    assert_eq!(b["organizationId"], f.t.owner.as_str());
    assert!(b["userId"].as_str().unwrap().starts_with("key_"));
    // the next weekday 09:00 in New York, strictly in the future
    let next = next_of(b);
    assert!(next > before && next < before + Duration::days(4), "{next}");
    let local = next.with_timezone(&chrono_tz::America::New_York);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");
    assert!(!["Sat", "Sun"].contains(&local.format("%a").to_string().as_str()));
    assert_eq!(
        f.get(b["id"].as_str().unwrap()).await["recentRuns"],
        json!([])
    );

    let run_at = (Utc::now() + Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let r = f
        .create(json!({ "flowId": "flow_2", "triggerType": "one_time", "runAt": run_at }))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["timezone"], "UTC");
    assert_eq!(r.body["nextRunAt"], r.body["runAt"]);
    assert_eq!(r.body["cron"], json!(null));
    assert_eq!(r.body["executionOptions"], json!({}));
    let r = f.create(json!({ "flowId": "flow_3", "triggerType": "recurring", "cron": "* * * * *", "enabled": false })).await;
    assert_eq!(
        r.body["nextRunAt"],
        json!(null),
        "disabled schedules have no next run"
    );
    let list = f.t.call("GET", &f.path(), None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 3);
}

async fn create_validates_every_field(store: Store) {
    let f = Fixture::new(store).await;
    let base = json!({ "flowId": "f", "triggerType": "recurring", "cron": "* * * * *" });
    let with = |patch: Value| {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v == "<remove>" {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let deep = json!({ "op": "and", "conditions": [{ "op": "or", "conditions": [{ "op": "and", "conditions": [{ "field": "a", "op": "isSet" }] }] }] });
    let cases = [
        (
            with(json!({ "flowId": "<remove>" })),
            "flowId",
            "MISSING_REQUIRED_FIELD",
        ),
        (with(json!({ "flowId": "" })), "flowId", "TOO_SHORT"),
        (
            with(json!({ "triggerType": "<remove>" })),
            "triggerType",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            with(json!({ "triggerType": "hourly" })),
            "triggerType",
            "INVALID_ENUM",
        ),
        (
            with(json!({ "cron": "<remove>" })),
            "cron",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            with(json!({ "cron": "61 * * * *" })),
            "cron",
            "INVALID_FORMAT",
        ),
        (with(json!({ "cron": "* * * *" })), "cron", "INVALID_FORMAT"),
        (
            with(json!({ "cron": "0 0 L * *" })),
            "cron",
            "INVALID_FORMAT",
        ),
        (with(json!({ "cron": 5 })), "cron", "INVALID_TYPE"),
        (
            with(json!({ "triggerType": "one_time", "cron": "<remove>" })),
            "runAt",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            with(json!({ "triggerType": "one_time", "runAt": "2020-01-01T00:00:00Z" })),
            "runAt",
            "OUT_OF_RANGE",
        ),
        (
            with(json!({ "triggerType": "one_time", "runAt": "next tuesday" })),
            "runAt",
            "INVALID_FORMAT",
        ),
        (
            with(json!({ "timezone": "Mars/Olympus" })),
            "timezone",
            "INVALID_FORMAT",
        ),
        (with(json!({ "timezone": 3 })), "timezone", "INVALID_TYPE"),
        (with(json!({ "enabled": "yes" })), "enabled", "INVALID_TYPE"),
        (with(json!({ "name": "n".repeat(256) })), "name", "TOO_LONG"),
        (
            with(json!({ "recordIds": (0..1001).map(|i| i.to_string()).collect::<Vec<_>>() })),
            "recordIds",
            "TOO_LONG",
        ),
        (
            with(json!({ "recordIds": "a,b" })),
            "recordIds",
            "INVALID_TYPE",
        ),
        (
            with(json!({ "recordIds": ["a", 2] })),
            "recordIds.1",
            "INVALID_TYPE",
        ),
        (
            with(json!({ "recordFilter": { "where": { "field": "a", "op": "eq", "value": 1 } } })),
            "recordFilter.type",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            with(
                json!({ "recordFilter": { "type": "t", "where": { "field": "a", "op": "like", "value": 1 } } }),
            ),
            "recordFilter.where.op",
            "INVALID_ENUM",
        ),
        (
            with(json!({ "recordFilter": { "type": "t", "where": { "op": "eq", "value": 1 } } })),
            "recordFilter.where.field",
            "MISSING_REQUIRED_FIELD",
        ),
        (
            with(
                json!({ "recordFilter": { "type": "t", "where": { "field": "a", "op": "between", "value": 1 } } }),
            ),
            "recordFilter.where.value",
            "INVALID_FORMAT",
        ),
        (
            with(
                json!({ "recordFilter": { "type": "t", "where": { "op": "xor", "conditions": [{ "field": "a", "op": "isSet" }] } } }),
            ),
            "recordFilter.where.op",
            "INVALID_ENUM",
        ),
        (
            with(json!({ "recordFilter": { "type": "t", "where": deep } })),
            "recordFilter.where.conditions.0.conditions.0",
            "INVALID_FORMAT",
        ),
        (
            with(json!({ "recordFilter": "t" })),
            "recordFilter",
            "INVALID_TYPE",
        ),
        (
            with(json!({ "executionOptions": { "chunkSize": -1 } })),
            "executionOptions.chunkSize",
            "OUT_OF_RANGE",
        ),
        (
            with(json!({ "executionOptions": { "timeoutMs": "5" } })),
            "executionOptions.timeoutMs",
            "INVALID_TYPE",
        ),
        (
            with(json!({ "executionOptions": { "loggingPolicy": "verbose" } })),
            "executionOptions.loggingPolicy",
            "INVALID_ENUM",
        ),
        (
            with(json!({ "executionOptions": { "skipCacheWarm": 1 } })),
            "executionOptions.skipCacheWarm",
            "INVALID_TYPE",
        ),
        (
            with(json!({ "executionOptions": { "modelOverride": 1 } })),
            "executionOptions.modelOverride",
            "INVALID_TYPE",
        ),
        (with(json!({ "inputs": [1] })), "inputs", "INVALID_TYPE"),
    ];
    for (body, path, code) in cases {
        let r = f.create(body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.has_detail(path, code), "{body}: {r:?}");
    }
    let r = f.create(with(json!({ "cron": "61 * * * *" }))).await;
    let msg = r.body["details"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("minute value 61"),
        "the message says what is wrong: {msg}"
    );
    let list = f.t.call("GET", &f.path(), None).await;
    assert_eq!(list.body["data"], json!([]), "nothing stored");
}

async fn only_schedule_surfaces_hold_schedules(store: Store) {
    let f = Fixture::new(store).await;
    let chat = f.t.surface(&f.p, "c", "chat").await;
    let path = format!("/v1/products/{}/surfaces/{chat}/schedules", f.p);
    let r =
        f.t.call(
            "POST",
            &path,
            Some(json!({ "flowId": "f", "triggerType": "recurring", "cron": "* * * * *" })),
        )
        .await;
    assert!(r.has_detail("surfaceId", "INVALID_REFERENCE"), "{r:?}");
    let r = f.t.call("GET", &path, None).await;
    assert!(r.has_detail("surfaceId", "INVALID_REFERENCE"), "{r:?}");
    let missing = runtype::ids::new_id("surf");
    let r =
        f.t.send(&router::LIST_SCHEDULES, [&f.p, &missing], None)
            .await;
    assert_eq!(r.status, 404);
}

async fn update_recomputes_next_run(store: Store) {
    let f = Fixture::new(store).await;
    let id = f.recurring("0 9 * * *").await;
    let path = format!("{}/{id}", f.path());
    let first = f.get(&id).await;
    let r =
        f.t.call(
            "PUT",
            &path,
            Some(json!({ "name": "renamed", "recordIds": ["x"] })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["nextRunAt"], first["nextRunAt"],
        "untouched trigger fields keep nextRunAt"
    );
    assert_eq!(r.body["name"], "renamed");
    let r =
        f.t.call("PUT", &path, Some(json!({ "timezone": "Asia/Kolkata" })))
            .await;
    let local = next_of(&r.body).with_timezone(&chrono_tz::Asia::Kolkata);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");
    let r =
        f.t.call("PUT", &path, Some(json!({ "cron": "30 7 * * *" })))
            .await;
    let local = next_of(&r.body).with_timezone(&chrono_tz::Asia::Kolkata);
    assert_eq!(local.format("%H:%M").to_string(), "07:30");
    let r =
        f.t.call("PUT", &path, Some(json!({ "enabled": false })))
            .await;
    assert_eq!(r.body["nextRunAt"], json!(null));
    let run_at = runtype::time::format(Utc::now() + Duration::days(3));
    let r =
        f.t.call(
            "PUT",
            &path,
            Some(json!({ "enabled": true, "triggerType": "one_time", "runAt": run_at })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["nextRunAt"], json!(run_at));
    for (body, field, code) in [
        (json!({ "cron": "bad" }), "cron", "INVALID_FORMAT"),
        (
            json!({ "triggerType": null }),
            "triggerType",
            "INVALID_TYPE",
        ),
        (
            json!({ "runAt": "2001-01-01T00:00:00Z" }),
            "runAt",
            "OUT_OF_RANGE",
        ),
        (json!({ "runAt": null }), "runAt", "MISSING_REQUIRED_FIELD"),
    ] {
        let r = f.t.call("PUT", &path, Some(body.clone())).await;
        assert!(r.has_detail(field, code), "{body}: {r:?}");
    }
    let other = runtype::ids::new_id("sched");
    assert_eq!(
        f.t.call("PUT", &format!("{}/{other}", f.path()), Some(json!({})))
            .await
            .status,
        404
    );
}

async fn pause_resume_and_run_now(store: Store) {
    let f = Fixture::new(store).await;
    let r = f
        .create(json!({ "flowId": "f", "triggerType": "recurring", "cron": "*/5 * * * *", "recordIds": ["a", "b", "c"] }))
        .await;
    let id = r.id();
    let path = format!("{}/{id}", f.path());
    let r = f.t.call("POST", &format!("{path}/pause"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "paused");
    assert_eq!(r.body["schedule"]["enabled"], false);
    assert_eq!(r.body["schedule"]["nextRunAt"], json!(null));
    let r = f.t.call("POST", &format!("{path}/resume"), None).await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["schedule"]["enabled"], true);
    assert!(next_of(&r.body["schedule"]) > Utc::now());
    let next = r.body["schedule"]["nextRunAt"].clone();

    let r = f.t.call("POST", &format!("{path}/run-now"), None).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["recordCount"], 3);
    let exec = r.body["batchExecutionId"].as_str().unwrap().to_string();
    assert!(runtype::ids::is_valid("exec", &exec));
    let g = f.get(&id).await;
    assert_eq!(g["nextRunAt"], next, "run-now leaves nextRunAt alone");
    assert_eq!(g["recentRuns"][0]["batchExecutionId"], exec.as_str());
    assert_eq!(g["recentRuns"][0]["status"], "queued");
    assert!(runtype::ids::is_valid(
        "run",
        g["recentRuns"][0]["id"].as_str().unwrap()
    ));
    let stored =
        f.t.app
            .table()
            .get(&runtype::repo::layout::execution(&exec))
            .await
            .unwrap()
            .expect("execution record");
    assert_eq!(stored.data["scheduleId"], id.as_str());
    assert_eq!(stored.data["status"], "queued");
    assert_eq!(stored.data["recordIds"], json!(["a", "b", "c"]));

    // a one-time schedule whose time has passed cannot simply resume
    let run_at = runtype::time::format(Utc::now() + Duration::minutes(1));
    let one = f
        .create(json!({ "flowId": "f", "triggerType": "one_time", "runAt": run_at }))
        .await
        .id();
    let one_path = format!("{}/{one}", f.path());
    f.t.call("POST", &format!("{one_path}/pause"), None).await;
    fire_due(f.t.app.table(), Utc::now() + Duration::minutes(5)).await;
    assert_eq!(f.run_count(&one).await, 0, "paused schedules do not fire");
    let missing = runtype::ids::new_id("sched");
    assert_eq!(
        f.t.call("POST", &format!("{}/{missing}/run-now", f.path()), None)
            .await
            .status,
        404
    );
}

async fn delete_removes_run_history(store: Store) {
    let f = Fixture::new(store).await;
    let id = f.recurring("* * * * *").await;
    let path = format!("{}/{id}", f.path());
    for _ in 0..3 {
        f.t.call("POST", &format!("{path}/run-now"), None).await;
    }
    assert_eq!(f.run_count(&id).await, 3);
    let r = f.t.call("DELETE", &path, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({ "success": true }))
    );
    assert_eq!(f.run_count(&id).await, 0);
    assert_eq!(f.t.call("GET", &path, None).await.status, 404);
    assert_eq!(
        fire_due(f.t.app.table(), Utc::now() + Duration::hours(1))
            .await
            .fired,
        0
    );
    // surface and product deletes take schedules and runs with them
    let id2 = f.recurring("* * * * *").await;
    f.t.call("POST", &format!("{}/{id2}/run-now", f.path()), None)
        .await;
    assert_eq!(
        f.t.send(&router::DELETE_SURFACE, [&f.p, &f.s], None)
            .await
            .status,
        200
    );
    assert_eq!(f.run_count(&id2).await, 0);
    assert_eq!(
        fire_due(f.t.app.table(), Utc::now() + Duration::hours(1))
            .await
            .fired,
        0
    );
}

async fn other_owners_get_404_on_every_schedule_route(store: Store) {
    let f = Fixture::new(store).await;
    let id = f.recurring("0 9 * * *").await;
    let other = f.t.other_owner().await;
    let p = f.path();
    let calls = [
        (
            "POST",
            p.clone(),
            Some(json!({ "flowId": "f", "triggerType": "recurring", "cron": "* * * * *" })),
        ),
        ("GET", p.clone(), None),
        ("GET", format!("{p}/{id}"), None),
        ("PUT", format!("{p}/{id}"), Some(json!({ "name": "x" }))),
        ("DELETE", format!("{p}/{id}"), None),
        ("POST", format!("{p}/{id}/pause"), None),
        ("POST", format!("{p}/{id}/resume"), None),
        ("POST", format!("{p}/{id}/run-now"), None),
    ];
    for (m, path, body) in calls {
        let r = f.t.call_as(&other, m, &path, body).await;
        assert_eq!(r.status, 404, "{m} {path}: {r:?}");
    }
    let g = f.get(&id).await;
    assert_eq!(g["enabled"], true);
    assert_eq!(g["recentRuns"], json!([]));
}

/// /v1/schedules[/:id[/runs|/stats]] and the nested runs list: across the owner's products,
/// filtered, paged, and nothing of another owner's.
async fn the_owner_wide_read_side(store: Store) {
    let f = Fixture::new(store).await;
    let night = f
        .create(json!({ "name": "Nightly import", "flowId": "flow_1", "triggerType": "recurring", "cron": "0 2 * * *" }))
        .await
        .id();
    let hourly = f.recurring("0 * * * *").await;
    // another product of the same owner
    let p2 = f.t.product("q").await;
    let s2 = f.t.surface(&p2, "cron", "schedule").await;
    let third =
        f.t.send(
            &router::CREATE_SCHEDULE,
            [&p2, &s2],
            Some(json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "*/5 * * * *" })),
        )
        .await
        .id();
    f.t.call("POST", &format!("{}/{hourly}/pause", f.path()), None)
        .await;

    // the list: newest first, all products, paged
    let r = f.t.call("GET", "/v1/schedules?limit=2", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [third.as_str(), hourly.as_str()]);
    assert_eq!(r.body["pagination"]["hasMore"], true);
    let cursor = r.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r =
        f.t.call(
            "GET",
            &format!("/v1/schedules?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [night.as_str()]);
    assert_eq!(r.body["pagination"]["hasMore"], false);
    // filters
    let ids = |r: &Res| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = f.t.call("GET", "/v1/schedules?status=paused", None).await;
    assert_eq!(ids(&r), vec![hourly.clone()]);
    let r =
        f.t.call("GET", "/v1/schedules?status=active&search=NIGHTLY", None)
            .await;
    assert_eq!(ids(&r), vec![night.clone()]);
    let r = f.t.call("GET", "/v1/schedules?status=sleeping", None).await;
    assert!(r.has_detail("status", "INVALID_ENUM"), "{r:?}");

    // one schedule, wherever it lives
    let r = f.t.send(&router::FIND_SCHEDULE, [&third], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["productSurfaceId"], s2.as_str());
    assert_eq!(r.body["recentRuns"], json!([]));

    // runs, newest first, paged; and stats
    for _ in 0..3 {
        let r =
            f.t.call("POST", &format!("{}/{night}/run-now", f.path()), None)
                .await;
        assert_eq!(r.status, 202);
    }
    let r =
        f.t.call("GET", &format!("/v1/schedules/{night}/runs?limit=2"), None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    let runs = r.body["data"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]["id"].as_str() > runs[1]["id"].as_str(),
        "newest first"
    );
    assert_eq!(runs[0]["scheduleId"], night.as_str());
    assert_eq!(runs[0]["status"], "queued");
    assert_eq!(r.body["pagination"]["hasMore"], true);
    let nested =
        f.t.call("GET", &format!("{}/{night}/runs", f.path()), None)
            .await;
    assert_eq!(nested.status, 200, "{nested:?}");
    assert_eq!(nested.body["data"].as_array().unwrap().len(), 3);
    let r = f.t.send(&router::GET_SCHEDULE_STATS, [&night], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (&r.body["total"], &r.body["completed"], &r.body["failed"]),
        (&json!(3), &json!(0), &json!(0))
    );
    assert_eq!(r.body["successRate"], Value::Null);
    let days = r.body["last7Days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["date"], Utc::now().format("%Y-%m-%d").to_string());
    assert_eq!(days[6]["runs"], 3);

    // another owner sees none of it
    let stranger = f.t.other_owner().await;
    let r =
        f.t.send_as(&stranger, &router::LIST_ALL_SCHEDULES, [], None)
            .await;
    assert_eq!(r.body["data"], json!([]), "{r:?}");
    for path in [
        format!("/v1/schedules/{night}"),
        format!("/v1/schedules/{night}/runs"),
        format!("/v1/schedules/{night}/stats"),
        format!("{}/{night}/runs", f.path()),
    ] {
        let r = f.t.call_as(&stranger, "GET", &path, None).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let r =
        f.t.send(
            &router::FIND_SCHEDULE,
            ["sched_00000000000000000000000000"],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

/// Schedules per surface and per owner: racing creates never pass a limit; a delete (of the
/// schedule, or of its surface) makes room again.
async fn quotas_hold_under_racing_creates(store: Store) {
    let mut f = Fixture::new(store).await;
    // first the surface's limit alone binds
    f.t.app.config.limits = runtype::config::Limits {
        schedules_per_surface: 3,
        schedules_per_owner: 100,
        ..Default::default()
    };
    let body = json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "* * * * *" });
    let results = futures_util::future::join_all((0..8).map(|_| f.create(body.clone()))).await;
    let created: Vec<String> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(Res::id)
        .collect();
    assert_eq!(created.len(), 3, "{results:?}");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_eq!(r.status, 403, "{r:?}");
        assert_eq!(r.body["code"], "QUOTA_EXCEEDED");
        assert!(r.has_detail("", "QUOTA_EXCEEDED"), "{r:?}");
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .contains("3 schedules per surface"),
            "{r:?}"
        );
    }
    // the owner's limit, across surfaces
    f.t.app.config.limits.schedules_per_owner = 5;
    let other = f.t.surface(&f.p, "more", "schedule").await;
    let path = format!("/v1/products/{}/surfaces/{other}/schedules", f.p);
    // three at once: within this surface's limit, so only the owner's can refuse
    let results =
        futures_util::future::join_all((0..3).map(|_| f.t.call("POST", &path, Some(body.clone()))))
            .await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    let refused = results.iter().find(|r| r.status == 403).unwrap();
    assert!(refused.body["error"]
        .as_str()
        .unwrap()
        .contains("5 schedules per owner"));
    // deleting one makes room for one
    let r =
        f.t.call("DELETE", &format!("{}/{}", f.path(), created[0]), None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(f.create(body.clone()).await.status, 201);
    assert_eq!(f.create(body.clone()).await.status, 403);
    // deleting a surface gives its schedules back to the owner
    let r =
        f.t.send(&router::DELETE_SURFACE, [&f.p, &other], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    let third = f.t.surface(&f.p, "third", "schedule").await;
    let path = format!("/v1/products/{}/surfaces/{third}/schedules", f.p);
    for expected in [201, 201, 403] {
        assert_eq!(
            f.t.call("POST", &path, Some(body.clone())).await.status,
            expected
        );
    }
}

/// Each field within its own limit, together over 300 KiB: 400 `TOO_LONG` naming the
/// largest field, and nothing stored — on both stores (DynamoDB would refuse past 400 KB with
/// a 500 otherwise).
async fn a_record_over_300_kib_is_refused_whole(store: Store) {
    let f = Fixture::new(store).await;
    let ids: Vec<String> = (0..1000).map(|i| format!("{i:0>255}")).collect();
    let blob = "x".repeat(60 * 1024);
    let r = f
        .create(json!({
            "flowId": "flow_1", "triggerType": "recurring", "cron": "* * * * *",
            "recordIds": ids,
            "inputs": { "a": blob },
            "messages": [{ "role": "user", "content": blob }],
        }))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.has_detail("recordIds", "TOO_LONG"), "{r:?}");
    let list = f.t.call("GET", &f.path(), None).await;
    assert_eq!(list.body["data"], json!([]), "nothing stored");
    // a product whose canvas grows by deep merge, PUT after PUT, stops at the limit
    let p = f.t.product("growing").await;
    let mut refused = None;
    for i in 0..10 {
        let r =
            f.t.send(
                &router::UPDATE_PRODUCT,
                [&p],
                Some(json!({ "canvas": { format!("part{i}"): "y".repeat(60 * 1024) } })),
            )
            .await;
        if r.status != 200 {
            refused = Some((i, r));
            break;
        }
    }
    let (i, r) = refused.expect("the canvas cannot grow without bound");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.has_detail("canvas", "TOO_LONG"), "{r:?}");
    let got = f.t.send(&router::GET_PRODUCT, [&p], None).await;
    let parts = got.body["canvas"].as_object().unwrap().len();
    assert_eq!(parts, i, "the refused PUT changed nothing");
}
