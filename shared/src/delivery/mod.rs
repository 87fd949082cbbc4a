//! Delivery: hands each queued execution to the configured runner, at least once.
//!
//! One core for every host: `runtype serve` runs passes in the background, `runtype
//! executions deliver` runs one, and the `deliver-executions` Lambda function delivers the
//! executions its DynamoDB stream and retry queue name. Each attempt is claimed with a
//! conditional write first (`repo::executions::claim`), so however many deliverers run,
//! one attempt is sent once; what it came to is written under the claim's version, with
//! the schedule run it mirrors.

pub mod runner;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use self::runner::{Runner, Settings, RECORD_CONCURRENCY};
use crate::error::ApiResult;
use crate::model::Execution;
use crate::outbound::{HttpClient, Reply};
use crate::repo::executions;
use crate::store::{Item, Table};
use crate::time::Clock;

/// Executions read from each shard of the delivery index at a time.
const BATCH: usize = 64;
/// The longest wait between attempts that backoff chooses.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The least wait between two attempts of one execution.
const MIN_RETRY_WAIT: Duration = Duration::from_secs(1);
/// The longest `Retry-After` honoured (also the most an SQS message can be delayed).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(900);

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Executions completed.
    pub delivered: usize,
    /// Attempts that failed and were scheduled again.
    pub retried: usize,
    /// Executions that failed for good.
    pub failed: usize,
    /// Attempts a runner took to report on later (202).
    #[serde(skip_serializing_if = "is_zero")]
    pub accepted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What delivering one execution came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Completed,
    /// The runner took it and will report (or it fails then, for want of a report).
    Accepted(DateTime<Utc>),
    /// Another attempt is due then.
    Retrying(DateTime<Utc>),
    Failed,
    /// Not due before then (a queued one's next attempt, or a running one's claim).
    Waiting(DateTime<Utc>),
    /// Nothing to do: it ended, it is gone, or another deliverer took it.
    Skipped,
}

/// What the runner's answer to one attempt means.
#[derive(Debug)]
enum Answer {
    Done(Value),
    /// 202 from a runner that reports later.
    Accepted,
    Retry {
        error: String,
        after: Option<Duration>,
    },
    Fail(String),
}

/// What the runner's `reply` means; `reports` says whether it may answer 202 and report later
/// (a webhook runner may; Runtype's dispatch answers in the request).
fn judge(reply: Reply, timeout: Duration, reports: bool) -> Answer {
    match reply {
        Reply::Answered { status: 202, .. } if reports => Answer::Accepted,
        Reply::Answered {
            status: 200..=299,
            body,
            ..
        } => Answer::Done(body),
        Reply::Answered {
            status,
            retry_after,
            ..
        } if status >= 500 || matches!(status, 408 | 409 | 429) => Answer::Retry {
            error: format!("the runner answered {status}"),
            after: retry_after,
        },
        Reply::Answered { status, .. } => Answer::Fail(format!("the runner answered {status}")),
        Reply::TimedOut => Answer::Retry {
            error: format!(
                "the runner did not answer within {} ms",
                timeout.as_millis()
            ),
            after: None,
        },
        Reply::Unreachable(error) => Answer::Retry { error, after: None },
    }
}

/// Write what the answer to an attempt at `now` means onto `e`: completed, another attempt
/// (after the runner's `Retry-After`, else backoff) while fewer than `max_attempts` were
/// made, else failed.
fn conclude(e: &mut Execution, answer: Answer, now: DateTime<Utc>, settings: &Settings) -> Step {
    let max_attempts = settings.max_attempts;
    match answer {
        Answer::Accepted => {
            let deadline = now
                + chrono::Duration::from_std(settings.report_timeout)
                    .unwrap_or(chrono::Duration::hours(1));
            e.await_report(deadline);
            Step::Accepted(deadline)
        }
        Answer::Done(result) => {
            e.complete(result, now);
            Step::Completed
        }
        Answer::Retry { error, after } if e.attempts < max_attempts => {
            // at least a second apart, whatever the runner asks (`Retry-After: 0`)
            let wait = match after {
                Some(wait) => wait.min(MAX_RETRY_AFTER),
                None => backoff(e.attempts),
            }
            .max(MIN_RETRY_WAIT);
            let at = now + chrono::Duration::milliseconds(wait.as_millis() as i64);
            e.retry_at(error, at);
            Step::Retrying(at)
        }
        Answer::Retry { error, .. } | Answer::Fail(error) => {
            e.fail(error, now);
            Step::Failed
        }
    }
}

/// An attempt in the metrics, by what it came to once written: an outcome not written
/// (the execution changed meanwhile: cancelled, or ended by a report) is `cancelled`; a
/// runner that took the execution and never reported is a report timed out as well.
fn count_attempt(step: &Step, written: &ApiResult<bool>, unreported: bool) {
    use crate::metrics::{one, DELIVERY_ATTEMPTS, RUNNER_REPORTS};
    let outcome = match (written, step) {
        (Err(_), _) => return,
        (Ok(false), _) => "cancelled",
        (Ok(true), Step::Completed) => "completed",
        (Ok(true), Step::Accepted(_)) => "accepted",
        (Ok(true), Step::Retrying(_)) => "retried",
        (Ok(true), Step::Failed) => "failed",
        (Ok(true), Step::Waiting(_) | Step::Skipped) => return,
    };
    one(&DELIVERY_ATTEMPTS, outcome);
    if unreported && outcome == "failed" {
        one(&RUNNER_REPORTS, "timed_out");
    }
}

/// The wait before retry `n` (1-based): 2^(n-1) seconds times a random factor in
/// [0.8, 1.2], at most five minutes.
pub fn backoff(n: u32) -> Duration {
    let base = 2f64.powi(n.saturating_sub(1).min(30) as i32);
    let mut b = [0u8; 4];
    crate::secrets::fill_random(&mut b);
    let factor = 0.8 + 0.4 * (u32::from_le_bytes(b) as f64 / u32::MAX as f64);
    Duration::from_secs_f64(base * factor).min(MAX_BACKOFF)
}

pub struct Deliverer {
    table: Arc<dyn Table>,
    settings: Settings,
    client: HttpClient,
    clock: Clock,
    /// Base of the status URLs in webhook payloads.
    public_url: String,
    /// Told the id of every execution this deliverer has written an outcome of (a caller
    /// waiting on it in this process reads it again at once).
    settled: tokio::sync::broadcast::Sender<String>,
}

impl Deliverer {
    pub fn new(table: Arc<dyn Table>, settings: Settings, clock: Clock, public_url: &str) -> Self {
        Deliverer {
            client: HttpClient::new("the runner", settings.timeout),
            table,
            settings,
            clock,
            public_url: public_url.trim_end_matches('/').to_string(),
            settled: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Tell `settled` the id of every execution whose outcome this deliverer writes.
    pub fn notifying(mut self, settled: tokio::sync::broadcast::Sender<String>) -> Self {
        self.settled = settled;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Deliver every execution due now, each at most once in this pass, in waves: each
    /// wave's claims are one write, its requests go out together, and what they came to
    /// is one more write. Two waves of half the concurrency each are in flight at a time.
    /// Expired executions and runs (past retention) are purged first where the store does
    /// not expire items itself.
    pub async fn pass(&self) -> ApiResult<Summary> {
        let mut summary = Summary::default();
        if !self.settings.delivers() {
            return Ok(summary);
        }
        let now = self.clock.now();
        // a clock set ahead (`--now`) does not expire anything early
        let purge_at = now.min(crate::time::Clock::system().now());
        self.table.purge_expired(purge_at.timestamp()).await?;
        let wave = self.settings.concurrency.div_ceil(2).max(1);
        let mut seen = HashSet::new();
        loop {
            let due = executions::due(self.table.as_ref(), now, BATCH).await?;
            let fresh: Vec<Item> = due
                .into_iter()
                .filter(|it| seen.insert(it.key.pk.clone()))
                .collect();
            if fresh.is_empty() {
                return Ok(summary);
            }
            let mut waves = Vec::new();
            let mut rest = fresh.into_iter().peekable();
            while rest.peek().is_some() {
                waves.push(rest.by_ref().take(wave).collect::<Vec<_>>());
            }
            let steps: Vec<Vec<ApiResult<Step>>> = stream::iter(waves)
                .map(|items| self.deliver_all(items))
                .buffer_unordered(2)
                .collect()
                .await;
            for step in steps.into_iter().flatten() {
                match step {
                    Ok(Step::Completed) => summary.delivered += 1,
                    Ok(Step::Retrying(_)) => summary.retried += 1,
                    Ok(Step::Failed) => summary.failed += 1,
                    Ok(Step::Accepted(_)) => summary.accepted += 1,
                    Ok(Step::Waiting(_) | Step::Skipped) => {}
                    Err(e) => crate::log::error("delivery: an attempt failed", &e.message()),
                }
            }
        }
    }

    /// Deliver the execution `id` if it is due (the Lambda function's entry).
    pub async fn deliver_id(&self, id: &str) -> ApiResult<Step> {
        match executions::find(self.table.as_ref(), id).await? {
            Some(found) => self.deliver(found).await,
            None => Ok(Step::Skipped),
        }
    }

    /// One attempt at the execution in `found`, if it is due and this deliverer wins the
    /// claim.
    pub async fn deliver(&self, found: Item) -> ApiResult<Step> {
        self.deliver_all(vec![found])
            .await
            .pop()
            .unwrap_or(Ok(Step::Skipped))
    }

    /// One attempt at each of these executions that is due and whose claim this
    /// deliverer wins: the claims in one write, the requests side by side, what they came
    /// to in one write. Answers a step per execution, in order.
    pub async fn deliver_all(&self, found: Vec<Item>) -> Vec<ApiResult<Step>> {
        let now = self.clock.now();
        let mut steps: Vec<Option<ApiResult<Step>>> = Vec::with_capacity(found.len());
        let mut due: Vec<(usize, Execution, u64)> = Vec::new();
        for (i, item) in found.iter().enumerate() {
            let e: Execution = match crate::repo::decode(item) {
                Ok(e) => e,
                Err(err) => {
                    steps.push(Some(Err(err)));
                    continue;
                }
            };
            match e.due_at().and_then(crate::time::parse) {
                None => steps.push(Some(Ok(Step::Skipped))),
                Some(at) if at > now => steps.push(Some(Ok(Step::Waiting(at)))),
                Some(_) => {
                    steps.push(None);
                    due.push((i, e, item.version));
                }
            }
        }
        let mut won = Vec::new();
        // a claim lost to a version other than the one read may have been read from a
        // stale index entry: read it again, and claim it once more if it is still due
        // a webhook runner may report later: each attempt its own callback token, whose hash
        // the claim writes (so a report that comes at once finds it)
        let mut tokens: HashMap<String, String> = HashMap::new();
        for round in 0..2 {
            let (at, mut batch): (Vec<usize>, Vec<(Execution, u64)>) =
                due.into_iter().map(|(i, e, v)| (i, (e, v))).unzip();
            if let Runner::Webhook { .. } = self.settings.runner {
                for (e, _) in batch
                    .iter_mut()
                    .filter(|(e, _)| !e.delivery.awaiting_report)
                {
                    let token = runner::callback_token();
                    e.delivery.callback = Some(crate::secrets::hash(&token));
                    tokens.insert(e.id.clone(), token);
                }
            }
            let tried: Vec<(String, u64)> = batch.iter().map(|(e, v)| (e.id.clone(), *v)).collect();
            let claims =
                executions::claim_all(self.table.as_ref(), batch, now, |e| self.lease(e)).await;
            due = Vec::new();
            for ((i, claim), (id, version)) in at.into_iter().zip(claims).zip(tried) {
                match claim {
                    Ok(Some(claimed)) => won.push((i, claimed)),
                    Ok(None) if round == 0 => match self.still_due(&id, version, now).await {
                        Ok(Some((e, v))) => due.push((i, e, v)),
                        Ok(None) => steps[i] = Some(Ok(Step::Skipped)),
                        Err(err) => steps[i] = Some(Err(err)),
                    },
                    Ok(None) => steps[i] = Some(Ok(Step::Skipped)),
                    Err(err) => steps[i] = Some(Err(err)),
                }
            }
            if due.is_empty() {
                break;
            }
        }
        let tokens = &tokens;
        let attempts = won.into_iter().map(|(i, (mut e, version))| async move {
            let answer = if e.delivery.awaiting_report {
                // it was taken, and the report's time is up
                Answer::Fail("the runner did not report".into())
            } else if e.attempts > self.settings.max_attempts {
                // the claim of the last attempt lapsed: its deliverer never said how it went
                Answer::Fail(
                    e.error
                        .clone()
                        .unwrap_or_else(|| "the last attempt was interrupted".into()),
                )
            } else {
                let started = std::time::Instant::now();
                let answer = self.attempt(&mut e, tokens).await;
                crate::metrics::time(
                    &crate::metrics::DELIVERY_ATTEMPT_DURATION,
                    started.elapsed(),
                );
                answer
            };
            let unreported = e.delivery.awaiting_report;
            let step = conclude(&mut e, answer, self.clock.now(), &self.settings);
            (i, step, (e, version), unreported)
        });
        let done = futures_util::future::join_all(attempts).await;
        let settled: Vec<(Execution, u64)> = done.iter().map(|(_, _, ev, _)| ev.clone()).collect();
        let written = executions::settle_all(self.table.as_ref(), &settled).await;
        // counted before anyone waiting on them hears they ended
        for ((_, step, _, unreported), w) in done.iter().zip(&written) {
            count_attempt(step, w, *unreported);
        }
        for (e, _) in &settled {
            // no one listening is no error
            let _ = self.settled.send(e.id.clone());
        }
        for ((i, step, _, _), w) in done.into_iter().zip(written) {
            steps[i] = Some(match w {
                Ok(true) => Ok(step),
                Ok(false) => Ok(Step::Skipped),
                Err(err) => Err(err),
            });
        }
        steps
            .into_iter()
            .map(|s| s.unwrap_or(Ok(Step::Skipped)))
            .collect()
    }

    /// The execution `id` read afresh, if it has changed since `version` and is due now.
    async fn still_due(
        &self,
        id: &str,
        version: u64,
        now: DateTime<Utc>,
    ) -> ApiResult<Option<(Execution, u64)>> {
        let Some(item) = executions::find(self.table.as_ref(), id).await? else {
            return Ok(None);
        };
        let e: Execution = crate::repo::decode(&item)?;
        let due = e
            .due_at()
            .and_then(crate::time::parse)
            .is_some_and(|at| at <= now);
        Ok((item.version != version && due).then_some((e, item.version)))
    }

    /// How long a claim lasts: long enough for the attempt's requests (a run's records go
    /// `RECORD_CONCURRENCY` at a time), at most 15 minutes.
    fn lease(&self, e: &Execution) -> chrono::Duration {
        let requests = match (&self.settings.runner, &e.record_ids) {
            (Runner::Runtype { .. }, Some(ids)) if !ids.is_empty() => {
                ids.len().div_ceil(RECORD_CONCURRENCY) as u32
            }
            _ => 1,
        };
        let secs = (self.settings.timeout.as_secs_f64() * requests as f64 + 10.0).min(900.0);
        chrono::Duration::milliseconds((secs * 1000.0) as i64)
    }

    async fn attempt(&self, e: &mut Execution, tokens: &HashMap<String, String>) -> Answer {
        let timeout = self.settings.timeout;
        match &self.settings.runner {
            Runner::None => Answer::Retry {
                error: "no runner is configured".into(),
                after: None,
            },
            Runner::Webhook { url, secret } => {
                let token = tokens.get(&e.id).map(String::as_str);
                let sent =
                    runner::send_webhook(&self.client, url, secret, e, token, &self.public_url);
                judge(sent.await, timeout, true)
            }
            Runner::Runtype { dispatch, token } => match e.record_ids.clone() {
                Some(ids) if !ids.is_empty() => self.fan_out(e, &ids, dispatch, token).await,
                _ => {
                    let body = runner::dispatch_body(e, None);
                    judge(
                        runner::send_dispatch(
                            &self.client,
                            dispatch,
                            token,
                            e.id.clone(),
                            &e.owner,
                            &body,
                        )
                        .await,
                        timeout,
                        false,
                    )
                }
            },
        }
    }

    /// A run over records: one dispatch per record not yet settled, `RECORD_CONCURRENCY`
    /// at a time, each with its own idempotency key (`<execution id>:<position>`). Records
    /// answered 2xx or failed for good are remembered, so a retry sends only the rest.
    async fn fan_out(
        &self,
        e: &mut Execution,
        ids: &[String],
        dispatch: &::http::Uri,
        token: &runner::Token,
    ) -> Answer {
        let pending = e.delivery.unsettled(ids.len());
        let shared: &Execution = e;
        let answers: Vec<(u32, Answer)> = stream::iter(pending)
            .map(|i| async move {
                let body = runner::dispatch_body(shared, Some(json!({ "id": ids[i as usize] })));
                let key = format!("{}:{i}", shared.id);
                let reply =
                    runner::send_dispatch(&self.client, dispatch, token, key, &shared.owner, &body)
                        .await;
                (i, judge(reply, self.settings.timeout, false))
            })
            .buffer_unordered(RECORD_CONCURRENCY)
            .collect()
            .await;
        let mut retry: Option<(String, Option<Duration>)> = None;
        for (i, answer) in answers {
            match answer {
                // a dispatch answers in the request (no 202 is taken as a promise here)
                Answer::Done(_) | Answer::Accepted => e.delivery.records_done.push(i),
                Answer::Fail(_) => e.delivery.records_failed.push(i),
                Answer::Retry { error, after } => {
                    let longest = match &retry {
                        Some((_, Some(prev))) => after.max(Some(*prev)),
                        _ => after,
                    };
                    let error = retry.take().map_or(error, |(first, _)| first);
                    retry = Some((error, longest));
                }
            }
        }
        e.delivery.records_done.sort_unstable();
        e.delivery.records_failed.sort_unstable();
        let total = ids.len();
        let done = e.delivery.records_done.len();
        let failed = e.delivery.records_failed.len();
        if let Some((error, after)) = retry {
            let left = total - done - failed;
            return Answer::Retry {
                error: format!("{left} of {total} records to retry: {error}"),
                after,
            };
        }
        let result = json!({ "records": total, "processed": done, "failed": failed });
        if failed > 0 {
            e.result = Some(result);
            Answer::Fail(format!("{failed} of {total} records failed"))
        } else {
            Answer::Done(result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExecutionStatus;

    fn answered(status: u16, retry_after: Option<Duration>) -> Reply {
        Reply::Answered {
            status,
            body: json!({ "answer": 42 }),
            retry_after,
        }
    }

    #[test]
    fn judge_reads_the_runners_answer() {
        let t = Duration::from_secs(30);
        assert!(
            matches!(judge(answered(200, None), t, true), Answer::Done(b) if b["answer"] == 42)
        );
        assert!(matches!(
            judge(answered(204, None), t, true),
            Answer::Done(_)
        ));
        // 202: a webhook runner reports later; a dispatch's 202 is an answer like any 2xx
        assert!(matches!(
            judge(answered(202, None), t, true),
            Answer::Accepted
        ));
        assert!(matches!(
            judge(answered(202, None), t, false),
            Answer::Done(_)
        ));
        for status in [500, 503, 408, 409, 429] {
            assert!(
                matches!(judge(answered(status, None), t, true), Answer::Retry { .. }),
                "{status}"
            );
        }
        let after = Some(Duration::from_secs(7));
        assert!(matches!(
            judge(answered(429, after), t, true),
            Answer::Retry { after: a, .. } if a == after
        ));
        for status in [400, 401, 404, 410, 422] {
            assert!(
                matches!(judge(answered(status, None), t, true), Answer::Fail(ref m) if m.contains(&status.to_string())),
                "{status}"
            );
        }
        assert!(matches!(
            judge(Reply::TimedOut, t, true),
            Answer::Retry { error, after: None } if error.contains("30000 ms")
        ));
        assert!(matches!(
            judge(Reply::Unreachable("refused".into()), t, true),
            Answer::Retry { error, .. } if error == "refused"
        ));
    }

    fn running(attempts: u32) -> Execution {
        let mut e = Execution {
            created_at: "2026-01-01T00:00:00.000Z".into(),
            ..Execution::default()
        };
        for _ in 0..attempts {
            e.claim(now(), chrono::Duration::seconds(60));
        }
        e
    }

    fn settings(max_attempts: u32) -> Settings {
        Settings {
            max_attempts,
            ..Settings::with_runner(Runner::None)
        }
    }

    fn now() -> DateTime<Utc> {
        crate::time::parse("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn conclude_completes_retries_then_fails() {
        let mut e = running(1);
        let step = conclude(
            &mut e,
            Answer::Done(json!({ "ok": true })),
            now(),
            &settings(8),
        );
        assert_eq!(step, Step::Completed);
        assert_eq!(e.status, ExecutionStatus::Completed);
        assert_eq!(e.result, Some(json!({ "ok": true })));
        assert_eq!(e.due_at(), None);

        // a retry honours Retry-After (capped) ...
        let mut e = running(1);
        let retry = Answer::Retry {
            error: "the runner answered 503".into(),
            after: Some(Duration::from_secs(2_000)),
        };
        let step = conclude(&mut e, retry, now(), &settings(8));
        let at = now() + chrono::Duration::seconds(900);
        assert_eq!(step, Step::Retrying(at));
        assert_eq!(e.status, ExecutionStatus::Queued);
        assert_eq!(e.error.as_deref(), Some("the runner answered 503"));
        assert_eq!(e.due_at(), Some(crate::time::format(at).as_str()));

        // ... else backs off, and the last allowed attempt fails for good
        let mut e = running(2);
        let retry = || Answer::Retry {
            error: "down".into(),
            after: None,
        };
        match conclude(&mut e, retry(), now(), &settings(8)) {
            Step::Retrying(at) => {
                let wait = (at - now()).num_milliseconds();
                assert!((1_600..=2_400).contains(&wait), "{wait}");
            }
            other => panic!("{other:?}"),
        }
        let mut e = running(8);
        assert_eq!(conclude(&mut e, retry(), now(), &settings(8)), Step::Failed);
        assert_eq!(e.status, ExecutionStatus::Failed);
        let mut e = running(1);
        assert_eq!(
            conclude(
                &mut e,
                Answer::Fail("the runner answered 400".into()),
                now(),
                &settings(8)
            ),
            Step::Failed
        );
        assert!(e.completed_at.is_some());
    }

    #[test]
    fn attempts_are_a_second_apart_at_least() {
        for after in [Some(Duration::ZERO), Some(Duration::from_millis(20)), None] {
            let mut e = running(1);
            let retry = Answer::Retry {
                error: "busy".into(),
                after,
            };
            match conclude(&mut e, retry, now(), &settings(8)) {
                Step::Retrying(at) => {
                    assert!((at - now()).num_milliseconds() >= 1_000, "{after:?}: {at}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn backoff_doubles_within_its_jitter_up_to_five_minutes() {
        for n in 1..=12u32 {
            let base = 2f64.powi(n as i32 - 1);
            let b = backoff(n).as_secs_f64();
            assert!(b <= 300.0, "{n}: {b}");
            if base * 1.2 <= 300.0 {
                assert!((base * 0.8..=base * 1.2).contains(&b), "{n}: {b}");
            }
        }
    }
}
