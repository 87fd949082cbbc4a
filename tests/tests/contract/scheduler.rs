//! The scheduler: passes fire each due occurrence exactly once (concurrent and parallel
//! passes, pages of due schedules, missed fires coalesced), fairly between owners, within a
//! budget, and past a broken schedule; a firing is one transaction.
use runtype::router;
use std::sync::Arc;

use crate::common::{Store, TestApp};
use crate::schedules::{next_of, Fixture};
use chrono::{Duration, Utc};
use runtype::scheduler::fire_due;
use serde_json::json;

crate::cases! {
    both: [
        a_pass_fires_due_schedules_once,
        missed_fires_coalesce_and_one_time_disables,
        concurrent_passes_fire_each_occurrence_once,
        a_pass_pages_through_many_due_schedules,
        firing_is_one_transaction,
        parallel_passes_fire_hundreds_exactly_once,
        owners_take_turns_in_a_pass,
        a_budget_defers_and_the_next_pass_fires,
        a_broken_schedule_does_not_stop_the_others,
    ],
}

async fn a_pass_fires_due_schedules_once(store: Store) {
    let f = Fixture::new(store).await;
    let id = f.recurring("*/5 * * * *").await;
    let due = next_of(&f.get(&id).await);
    // not yet due
    let s = fire_due(f.t.app.table(), due - Duration::seconds(1)).await;
    assert_eq!((s.fired, s.failed), (0, 0));
    let now = due + Duration::seconds(20);
    let s = fire_due(f.t.app.table(), now).await;
    assert_eq!((s.fired, s.failed), (1, 0), "{s:?}");
    // the same clock again fires nothing new
    let s = fire_due(f.t.app.table(), now).await;
    assert_eq!(s.fired, 0);
    assert_eq!(f.run_count(&id).await, 1);
    let g = f.get(&id).await;
    assert_eq!(g["lastRunAt"], json!(runtype::time::format(now)));
    assert_eq!(next_of(&g), due + Duration::minutes(5));
    let run = &g["recentRuns"][0];
    assert_eq!(run["status"], "queued");
    let exec = run["batchExecutionId"].as_str().unwrap();
    assert!(f
        .t
        .app
        .table()
        .get(&runtype::repo::layout::execution(exec))
        .await
        .unwrap()
        .is_some());
}

async fn missed_fires_coalesce_and_one_time_disables(store: Store) {
    let f = Fixture::new(store).await;
    let id = f.recurring("* * * * *").await;
    let due = next_of(&f.get(&id).await);
    // the scheduler was down for 42 minutes: one firing, then the next minute after now
    let now = due + Duration::minutes(42) + Duration::seconds(30);
    assert_eq!(fire_due(f.t.app.table(), now).await.fired, 1);
    assert_eq!(f.run_count(&id).await, 1);
    assert_eq!(next_of(&f.get(&id).await), due + Duration::minutes(43));

    let run_at = Utc::now() + Duration::minutes(10);
    let one = f
        .create(json!({ "flowId": "f", "triggerType": "one_time", "runAt": runtype::time::format(run_at), "recordIds": ["r"] }))
        .await
        .id();
    assert_eq!(
        fire_due(f.t.app.table(), run_at + Duration::seconds(1))
            .await
            .fired,
        1
    );
    let g = f.get(&one).await;
    assert_eq!(g["enabled"], false);
    assert_eq!(g["nextRunAt"], json!(null));
    assert_eq!(g["recentRuns"].as_array().unwrap().len(), 1);
    assert_eq!(
        fire_due(f.t.app.table(), run_at + Duration::days(1))
            .await
            .fired,
        1,
        "only the recurring one"
    );
    assert_eq!(f.run_count(&one).await, 1);
}

async fn concurrent_passes_fire_each_occurrence_once(store: Store) {
    let f = Fixture::new(store).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(f.recurring("*/10 * * * *").await);
    }
    let now = Utc::now() + Duration::minutes(11);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = Arc::new(f.t.sibling().await);
        tasks.push(tokio::spawn(
            async move { fire_due(app.table(), now).await },
        ));
    }
    let mut fired = 0;
    for t in tasks {
        let s = t.await.unwrap();
        assert_eq!(s.failed, 0, "{s:?}");
        fired += s.fired;
    }
    assert_eq!(fired, 12, "each occurrence fired by exactly one pass");
    for id in &ids {
        assert_eq!(f.run_count(id).await, 1, "{id}");
    }
}

async fn a_pass_pages_through_many_due_schedules(store: Store) {
    let f = Fixture::new(store).await;
    for _ in 0..300 {
        f.recurring("* * * * *").await;
    }
    // pages of 25 entries: at least 12 of them
    let now = Utc::now() + Duration::minutes(3);
    let s = runtype::scheduler::fire_due_in_pages(f.t.app.table(), now, 25).await;
    assert_eq!((s.fired, s.failed), (300, 0), "{s:?}");
    assert!(s.pages >= 12, "read in bounded pages: {s:?}");
    // an hour later the default pass fires all 300 again, once each
    let s = fire_due(f.t.app.table(), now + Duration::hours(1)).await;
    assert_eq!((s.fired, s.failed, s.skipped), (300, 0, 0), "{s:?}");
}

async fn firing_is_one_transaction(store: Store) {
    let f = Fixture::new(store).await;
    f.recurring("* * * * *").await;
    let before = f.t.requests();
    let s = fire_due(f.t.app.table(), Utc::now() + Duration::minutes(2)).await;
    assert_eq!(s.fired, 1);
    let used = f.t.requests() - before;
    // one due-index page per shard, and one transaction to claim and record the firing
    assert_eq!(used, s.pages as u64 + 1, "{s:?}");
}

/// `n` every-minute schedules of the owner of `key`, on a product and surface of its own.
async fn schedules_of(t: &TestApp, key: &str, n: usize) -> Vec<String> {
    let p = t
        .send_as(
            key,
            &router::CREATE_PRODUCT,
            [],
            Some(json!({ "name": "p" })),
        )
        .await
        .id();
    let s = t
        .send_as(
            key,
            &router::CREATE_SURFACE,
            [&p],
            Some(json!({ "name": "cron", "type": "schedule" })),
        )
        .await
        .id();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let r = t
            .send_as(
                key,
                &router::CREATE_SCHEDULE,
                [&p, &s],
                Some(
                    json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "* * * * *" }),
                ),
            )
            .await
            .expect(201);
        ids.push(r.id());
    }
    ids
}

async fn run_counts(f: &Fixture, ids: &[String]) -> Vec<usize> {
    let mut counts = Vec::with_capacity(ids.len());
    for id in ids {
        counts.push(f.run_count(id).await);
    }
    counts
}

async fn parallel_passes_fire_hundreds_exactly_once(store: Store) {
    let f = Fixture::new(store).await;
    let key = f.t.key.clone();
    let ids = schedules_of(&f.t, &key, 500).await;
    let now = Utc::now() + Duration::minutes(2);
    let options = runtype::scheduler::Options {
        concurrency: 16,
        ..Default::default()
    };
    let passes = (0..4).map(|_| {
        let (table, options) = (f.t.app.table(), options.clone());
        async move { runtype::scheduler::fire_due_with(table, now, &options).await }
    });
    let summaries = futures_util::future::join_all(passes).await;
    let fired: usize = summaries.iter().map(|s| s.fired).sum();
    assert!(summaries.iter().all(|s| s.failed == 0), "{summaries:?}");
    assert_eq!(fired, 500, "{summaries:?}");
    assert!(
        run_counts(&f, &ids).await.iter().all(|n| *n == 1),
        "every schedule has exactly one run"
    );
}

/// One owner with many due schedules and several with a few: the few are all claimed within
/// the first tenth of the pass's claims.
async fn owners_take_turns_in_a_pass(store: Store) {
    let f = Fixture::new(store).await;
    let big_key = f.t.key.clone();
    let big = schedules_of(&f.t, &big_key, 200).await;
    let mut small = Vec::new();
    for _ in 0..5 {
        let key = f.t.other_owner().await;
        small.extend(schedules_of(&f.t, &key, 3).await);
    }
    let now = Utc::now() + Duration::minutes(2);
    let total = big.len() + small.len();
    let first_tenth = runtype::scheduler::Options {
        concurrency: 4,
        limit: Some(total / 10),
        ..Default::default()
    };
    let s = runtype::scheduler::fire_due_with(f.t.app.table(), now, &first_tenth).await;
    assert_eq!(
        (s.fired, s.deferred),
        (total / 10, total - total / 10),
        "{s:?}"
    );
    assert!(
        run_counts(&f, &small).await.iter().all(|n| *n == 1),
        "every small owner's schedules fired in the first tenth"
    );
    // the rest next time, none twice
    let s = runtype::scheduler::fire_due(f.t.app.table(), now).await;
    assert_eq!((s.fired, s.deferred), (total - total / 10, 0), "{s:?}");
    assert!(run_counts(&f, &big).await.iter().all(|n| *n == 1));
    assert!(run_counts(&f, &small).await.iter().all(|n| *n == 1));
}

async fn a_budget_defers_and_the_next_pass_fires(store: Store) {
    let f = Fixture::new(store).await;
    let key = f.t.key.clone();
    let ids = schedules_of(&f.t, &key, 30).await;
    let now = Utc::now() + Duration::minutes(2);
    // a budget already spent: nothing is claimed, everything is left due
    let spent = runtype::scheduler::Options {
        deadline: Some(std::time::Instant::now()),
        ..Default::default()
    };
    let s = runtype::scheduler::fire_due_with(f.t.app.table(), now, &spent).await;
    assert_eq!((s.fired, s.deferred, s.failed), (0, 30, 0), "{s:?}");
    assert!(run_counts(&f, &ids).await.iter().all(|n| *n == 0));
    let s = runtype::scheduler::fire_due(f.t.app.table(), now).await;
    assert_eq!((s.fired, s.deferred), (30, 0), "{s:?}");
    let s = runtype::scheduler::fire_due(f.t.app.table(), now).await;
    assert_eq!(s.fired, 0, "none twice: {s:?}");
    assert!(run_counts(&f, &ids).await.iter().all(|n| *n == 1));
}

async fn a_broken_schedule_does_not_stop_the_others(store: Store) {
    let f = Fixture::new(store).await;
    let key = f.t.key.clone();
    let ids = schedules_of(&f.t, &key, 5).await;
    // a due-index entry whose record cannot be read as a schedule
    let now = Utc::now() + Duration::minutes(2);
    let due = runtype::time::format(now - Duration::minutes(1));
    let broken = runtype::store::Item {
        key: runtype::store::Key::new(format!("PRODUCT#{}", f.p), "SURFACE#x#SCHEDULE#broken"),
        gsi1: None,
        gsi2: Some(runtype::repo::layout::due_key("sched_broken", &due)),
        entity: "schedule".into(),
        version: 1,
        created_at: due.clone(),
        updated_at: due.clone(),
        expires_at: None,
        count: None,
        data: json!({ "owner": f.t.owner, "nextRunAt": due, "enabled": "yes" }),
    };
    f.t.app
        .table()
        .put(broken, runtype::store::Cond::NotExists)
        .await
        .unwrap();
    let s = runtype::scheduler::fire_due(f.t.app.table(), now).await;
    assert_eq!((s.fired, s.failed), (5, 1), "{s:?}");
    assert!(run_counts(&f, &ids).await.iter().all(|n| *n == 1));
}
