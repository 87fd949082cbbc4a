//! Delivery throughput: one `runtype serve` on the embedded store delivering a backlog of
//! queued executions to a local runner that answers 200 at once, beside the raw request
//! rate of the same HTTP client (`runtype::outbound`) to the same runner, at the same
//! concurrency, in the same run. Prints Markdown rows. `bench/run.sh` drives it.
//!
//! `deliverybench <executions> <path of the runtype binary>`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use runtype::app::{App, Backend, Config};
use runtype::outbound::HttpClient;
use runtype_tests::runner::{ok, Runner};
use runtype_tests::seed;
use serde_json::json;

/// The deliverer's default concurrency (`RUNTYPE_DELIVERY_CONCURRENCY`).
const CONCURRENCY: usize = 32;

/// Wait until the runner has `n` requests; the time from the first to the last.
async fn arrivals(runner: &Runner, base: usize, n: usize) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first = None;
    loop {
        let got = runner.count() - base;
        if got > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if got >= n {
            return first.unwrap().elapsed();
        }
        assert!(Instant::now() < deadline, "only {got} of {n} arrived");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let runtype = args
        .get(1)
        .cloned()
        .unwrap_or("target/release/runtype".into());
    let dir = std::env::temp_dir().join(runtype::ids::new_id("deliverybench"));
    let data = dir.join("data.db");

    // a backlog of queued gateway executions on a fresh data file
    let app = App::open(&Backend::Embedded(data.clone()), Config::local(""))
        .await
        .unwrap();
    let key = seed::owner(&app, "bench").await;
    let seeded = seed::api_surface(&app, &key, json!(null), json!({})).await;
    let (surface_key, path) = (seeded.key.clone(), seeded.endpoint());
    let body = json!({ "inputs": { "question": "load" } });
    let (_, sample) = seed::call_path(&app, &surface_key, "POST", &path, body.clone()).await;
    for _ in 1..n {
        seed::call_path(&app, &surface_key, "POST", &path, body.clone()).await;
    }
    drop(app);

    let runner = Runner::start(|_, _| ok("{}")).await;
    let url: http::Uri = format!("{}/hook", runner.url).parse().unwrap();

    // the floor: the same client, the same runner, a webhook-sized body
    let envelope = Bytes::from(
        json!({ "type": "execution.requested", "timestamp": runtype::time::format(chrono::Utc::now()), "data": sample })
            .to_string(),
    );
    let client = HttpClient::new("the runner", Duration::from_secs(30));
    let started = Instant::now();
    stream::iter(0..n)
        .map(|_| client.post(&url, &[], envelope.clone()))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let raw = n as f64 / started.elapsed().as_secs_f64();

    // one serve delivering the backlog
    let base = runner.count();
    let mut serve = Command::new(&runtype)
        .args(["serve", "--port", "0", "--no-scheduler", "--data"])
        .arg(&data)
        .env("RUNTYPE_RUNNER", "webhook")
        .env("RUNTYPE_RUNNER_URL", url.to_string())
        .env(
            "RUNTYPE_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .env("RUNTYPE_LOG_LEVEL", "warn")
        .env(
            "RUNTYPE_DELIVERY_CONCURRENCY",
            std::env::var("BENCH_CONCURRENCY").unwrap_or("32".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("start runtype serve");
    let took = arrivals(&runner, base, n).await;
    let _ = serve.kill();
    let _ = serve.wait();
    let delivered = n as f64 / took.as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| what | executions or requests | per second |");
    println!("|---|---:|---:|");
    println!("| `runtype serve` delivering a backlog (webhook, signed; claim and settle written) | {n} | {delivered:.0} |");
    println!("| floor: the same HTTP client posting to the same runner | {n} | {raw:.0} |");
    println!();
    println!(
        "Delivered ÷ raw, same run: **{:.2}** (target ≥ 0.5), at concurrency {CONCURRENCY}.",
        delivered / raw
    );
}
