//! Scheduler throughput: one pass over N due schedules of many owners, on DynamoDB Local
//! behind a proxy that holds every request for 10 ms (what a Lambda sees from DynamoDB in its
//! region), at concurrency 1 and at the default; beside a floor built in the same run — the
//! same claim transactions sent straight to the store at the same concurrency through the
//! same proxy, with no scheduler logic; and the embedded store's figure and the fairness
//! figure. Prints Markdown. `bench/scheduler.sh` drives it.
//!
//! `schedulerbench <schedules> <owners>` (DynamoDB Local at AWS_ENDPOINT_URL_DYNAMODB)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures_util::stream::{self, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;
use runtype::app::{App, Backend, Config};
use runtype::router;
use runtype::scheduler::{self, Options};
use runtype::store::dynamo::DynamoTable;
use runtype::store::{Index, Query, RequestCounter, Table};
use runtype_tests::listen;
use runtype_tests::seed;
use serde_json::json;

const DELAY: Duration = Duration::from_millis(10);

/// An HTTP proxy to `upstream` that holds each request for `DELAY` first.
async fn latency_proxy(upstream: String) -> String {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let upstream: Arc<str> = upstream.into();
    let proxy = listen::serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let (parts, body) = listen::whole(req).await;
            tokio::time::sleep(DELAY).await;
            let mut forward = http::Request::builder()
                .method(parts.method)
                .uri(format!("{upstream}{}", parts.uri.path()));
            for (k, v) in &parts.headers {
                forward = forward.header(k, v);
            }
            let res = client
                .request(forward.body(Full::new(body)).unwrap())
                .await
                .unwrap();
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            hyper::Response::from_parts(parts, Full::new(body))
        }
    })
    .await;
    format!("http://{}", proxy.addr)
}

/// `per_owner[i]` every-minute schedules for each of `per_owner.len()` new owners; their
/// product ids.
async fn seed(app: &App, per_owner: &[usize]) -> Vec<String> {
    let mut products = Vec::new();
    for &n in per_owner {
        let key = seed::owner(app, "bench").await;
        let id = |v: serde_json::Value| v["id"].as_str().unwrap().to_string();
        let p = id(seed::made(
            app,
            &key,
            &router::CREATE_PRODUCT,
            &[],
            json!({ "name": "p" }),
        )
        .await);
        let body = json!({ "name": "cron", "type": "schedule" });
        let s = id(seed::made(app, &key, &router::CREATE_SURFACE, &[&p], body).await);
        let body = json!({ "flowId": "flow_1", "triggerType": "recurring", "cron": "* * * * *", "recordIds": ["a", "b"] });
        let ids: &[&str] = &[&p, &s];
        stream::iter(0..n)
            .map(|_| seed::send(app, &key, &router::CREATE_SCHEDULE, ids, body.clone()))
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        products.push(p);
    }
    products
}

/// Every due-index entry at or before `now`.
async fn due_entries(table: &dyn Table, now: chrono::DateTime<Utc>) -> Vec<runtype::store::Item> {
    let mut due = Vec::new();
    for shard in 0..runtype::repo::layout::DUE_SHARDS {
        let mut q = Query::index(Index::Gsi2, runtype::repo::layout::due_pk(shard));
        q.sk_max = Some(format!("{}#\u{10FFFF}", runtype::time::format(now)));
        due.extend(table.query(&q).await.unwrap().items);
    }
    due
}

/// Executions of these products (one per fire).
async fn fires(table: &dyn Table, products: &[String]) -> usize {
    let mut n = 0;
    for p in products {
        let q = Query::index(Index::Gsi1, runtype::repo::layout::executions_index(p));
        n += table.query(&q).await.unwrap().items.len();
    }
    n
}

/// Quotas out of the way: the skewed case puts thousands of schedules on one surface.
fn unlimited() -> Config {
    let mut config = Config::local("");
    config.limits = runtype::config::Limits {
        schedules_per_surface: i64::MAX / 2,
        schedules_per_owner: i64::MAX / 2,
        ..Default::default()
    };
    config
}

/// A new table `name` of the project's shape on DynamoDB Local at `endpoint`.
async fn create_table(name: &str, endpoint: &str) {
    let counter = RequestCounter::default();
    DynamoTable::from_env(name.to_string(), Some(endpoint.to_string()), counter)
        .await
        .create_table()
        .await
        .unwrap();
}

fn dynamo(table: &str, endpoint: &str) -> App {
    let requests = RequestCounter::default();
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", endpoint);
    let t = DynamoTable::from_lambda_env(table.to_string(), requests.clone()).unwrap();
    App::with_table(Arc::new(t), requests, unlimited())
}

struct Row {
    what: String,
    fired: usize,
    secs: f64,
    rounds: f64,
}

fn row(r: &Row) -> String {
    format!(
        "| {} | {} | {:.2} | {:.0} | {:.2} |",
        r.what,
        r.fired,
        r.secs,
        r.fired as f64 / r.secs,
        r.rounds
    )
}

async fn pass(app: &App, what: &str, now: chrono::DateTime<Utc>, options: &Options) -> Row {
    let requests = app.requests.get();
    let started = Instant::now();
    let s = scheduler::fire_due_with(app.table(), now, options).await;
    assert_eq!(s.failed, 0, "{what}: {s:?}");
    Row {
        what: what.into(),
        fired: s.fired,
        secs: started.elapsed().as_secs_f64(),
        rounds: (app.requests.get() - requests) as f64 / s.fired.max(1) as f64,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let owners: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local");
    let per_owner = vec![n / owners; owners];
    let now = Utc::now() + chrono::Duration::minutes(2);
    let mut rows = Vec::new();

    // DynamoDB through the proxy: a pass at concurrency 1 (first 300 claims), then the rest
    // at the default concurrency
    let name = runtype::ids::new_id("sched");
    let direct = dynamo(&name, &endpoint);
    create_table(&name, &endpoint).await;
    eprintln!("schedulerbench: seeding {n} schedules of {owners} owners on DynamoDB Local");
    let products = seed(&direct, &per_owner).await;
    let proxy = latency_proxy(endpoint.clone()).await;
    let slow = dynamo(&name, &proxy);
    let serial = Options {
        concurrency: 1,
        limit: Some(300.min(n)),
        ..Options::default()
    };
    rows.push(
        pass(
            &slow,
            "pass, concurrency 1 (first 300 claims)",
            now,
            &serial,
        )
        .await,
    );
    let default = Options::default();
    rows.push(
        pass(
            &slow,
            &format!("pass, concurrency {} (the rest)", default.concurrency),
            now,
            &default,
        )
        .await,
    );
    let fired = fires(direct.table(), &products).await;
    assert_eq!(fired, n, "every schedule fired exactly once");

    // the floor: the same claim transactions, straight to the store, same concurrency
    let name = runtype::ids::new_id("floor");
    let direct = dynamo(&name, &endpoint);
    create_table(&name, &endpoint).await;
    eprintln!("schedulerbench: seeding the floor's {n} schedules");
    seed(&direct, &per_owner).await;
    let slow = dynamo(&name, &proxy);
    let due = due_entries(direct.table(), now).await;
    let transactions: Vec<_> = due
        .iter()
        .map(|it| {
            let at = it.data["nextRunAt"].as_str().unwrap().to_string();
            runtype::repo::schedules::firing_ops(it, &at, now)
                .unwrap()
                .unwrap()
        })
        .collect();
    let requests = slow.requests.get();
    let started = Instant::now();
    let table = slow.table();
    let results: Vec<_> = stream::iter(transactions)
        .map(|ops| table.transact(ops))
        .buffer_unordered(default.concurrency)
        .collect()
        .await;
    let floor = Row {
        what: format!(
            "floor: the claim transactions alone, concurrency {}",
            default.concurrency
        ),
        fired: results.iter().filter(|r| r.is_ok()).count(),
        secs: started.elapsed().as_secs_f64(),
        rounds: (slow.requests.get() - requests) as f64 / due.len().max(1) as f64,
    };

    // the embedded store, and the skewed case there: one owner with most, 20 with 10 each
    let dir = std::env::temp_dir().join(runtype::ids::new_id("schedulerbench"));
    let embedded = App::open(&Backend::Embedded(dir.join("a.db")), unlimited())
        .await
        .unwrap();
    seed(&embedded, &per_owner).await;
    let mut embedded_row = pass(
        &embedded,
        &format!("embedded store, concurrency {}", default.concurrency),
        now,
        &default,
    )
    .await;
    embedded_row.what = format!(
        "embedded store (no proxy), concurrency {}",
        default.concurrency
    );
    let skewed = App::open(&Backend::Embedded(dir.join("b.db")), unlimited())
        .await
        .unwrap();
    let mut skew = vec![n];
    skew.extend(std::iter::repeat_n(10, 20));
    let small_products = seed(&skewed, &skew).await.split_off(1);
    let entries = due_entries(skewed.table(), now).await;
    let total = entries.len();
    let big_owner = scheduler::in_turn(entries.clone())
        .first()
        .map(|it| it.data["owner"].clone())
        .unwrap_or_default();
    let order = scheduler::in_turn(entries);
    let last_small = order
        .iter()
        .rposition(|it| it.data["owner"] != big_owner)
        .unwrap_or(0);
    let tenth = Options {
        limit: Some(total / 10),
        ..Options::default()
    };
    scheduler::fire_due_with(skewed.table(), now, &tenth).await;
    let small_fired = fires(skewed.table(), &small_products).await;
    let _ = std::fs::remove_dir_all(&dir);

    let ratio_floor = (rows[1].fired as f64 / rows[1].secs) / (floor.fired as f64 / floor.secs);
    let ratio_serial =
        (rows[1].fired as f64 / rows[1].secs) / (rows[0].fired as f64 / rows[0].secs);
    println!("| pass | fired | seconds | fires/s | storage requests per fire |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!("{}", row(r));
    }
    println!("{}", row(&floor));
    println!("{}", row(&embedded_row));
    println!();
    println!("Through the proxy, the default pass ÷ the floor: **{ratio_floor:.2}** (target ≥ 0.7); ÷ the concurrency-1 pass: **{ratio_serial:.1}×** (target ≥ 3×). All {n} schedules fired exactly once (one execution each).");
    println!();
    println!(
        "Fairness (embedded store; one owner with {n} due schedules, 20 owners with 10): the last small-owner claim is claim {} of {total} (**{:.1}%** of the pass); a pass stopped after the first 10% fired {small_fired} of the small owners' 200.",
        last_small + 1,
        (last_small + 1) as f64 * 100.0 / total as f64
    );
}
