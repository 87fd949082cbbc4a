//! Executions: one request to run a flow or an agent — made by an admitted gateway call, a
//! schedule firing or run-now — written the same way by every producer and moved forward by
//! whatever delivers it (`queued → running → completed | failed`, `queued → cancelled`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::vocab::{Environment, ExecutionStatus, Source, Trigger};
use super::{Capability, KeyHash, Run, Schedule, SurfaceItem};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub status: ExecutionStatus,
    pub source: Source,
    pub product_id: String,
    pub surface_id: String,
    pub item_id: Option<String>,
    pub schedule_id: Option<String>,
    pub run_id: Option<String>,
    pub capability_id: Option<String>,
    pub flow_id: Option<String>,
    pub agent_id: Option<String>,
    pub key_id: Option<String>,
    pub environment: Environment,
    pub inputs: Option<Map<String, Value>>,
    pub messages: Option<Value>,
    pub record: Option<Value>,
    pub record_ids: Option<Vec<String>>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// Beside the public fields: whose it is, and what a schedule run carries to the runner.
    pub owner: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub record_filter: Option<Value>,
    #[serde(default)]
    pub execution_options: Option<Map<String, Value>>,
    #[serde(default)]
    pub trigger: Trigger,
    /// The occurrence a scheduler run fired (mirrored onto its run).
    #[serde(default)]
    pub scheduled_for: Option<String>,
    /// Where delivery stands (never shown).
    #[serde(default)]
    pub delivery: Delivery,
    /// An A2A task's conversation (`contextId`) and the message that started it: the task
    /// is this execution, read back with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// Delivery's bookkeeping on an execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// A queued execution's next attempt is due then (absent: at once).
    pub next_attempt_at: Option<String>,
    /// The claim of the attempt under way or last made (random): a deliverer whose write
    /// got no answer recognises its own write by it.
    pub claim: Option<String>,
    /// A running attempt's claim lapses then: a deliverer that died mid-attempt leaves it
    /// to be claimed again after this.
    pub lease_until: Option<String>,
    /// For a run over `recordIds`: the records (by position) already dispatched and
    /// answered 2xx, and those that failed for good. The rest are still to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records_done: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records_failed: Vec<u32>,
    /// The SHA-256 of the callback token of the attempt under way (a webhook runner reports
    /// with it); never the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// The runner accepted the attempt (202) and will report: no retry; at `lease_until`
    /// the execution fails for want of a report.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_report: bool,
}

impl Delivery {
    /// The positions of a run's `records` records neither answered 2xx nor failed for good.
    pub fn unsettled(&self, records: usize) -> Vec<u32> {
        let settled: std::collections::HashSet<u32> = self
            .records_done
            .iter()
            .chain(&self.records_failed)
            .copied()
            .collect();
        (0..records as u32)
            .filter(|i| !settled.contains(i))
            .collect()
    }
}

impl Execution {
    /// The execution an admitted gateway call makes: queued, in the key's environment, for
    /// the item's capability (the caller's body is added by the gateway).
    pub fn for_gateway(
        key: &KeyHash,
        item: &SurfaceItem,
        capability: Option<&Capability>,
        now: &str,
    ) -> Execution {
        Execution {
            id: crate::ids::new_id("exec"),
            status: ExecutionStatus::Queued,
            source: Source::Surface,
            product_id: key.product_id.clone(),
            surface_id: key.surface_id.clone(),
            item_id: Some(item.id.clone()),
            capability_id: Some(item.capability_id.clone()),
            flow_id: capability.and_then(|c| c.flow_id.clone()),
            agent_id: capability.and_then(|c| c.agent_id.clone()),
            key_id: Some(key.key_id.clone()),
            environment: key.environment,
            created_at: now.to_string(),
            owner: key.owner.clone(),
            trigger: Trigger::Gateway,
            ..Execution::default()
        }
    }

    /// The execution of one firing of `s` (by the scheduler, for the occurrence
    /// `scheduled_for`, or by run-now), with a fresh run id.
    pub fn for_schedule(
        s: &Schedule,
        trigger: Trigger,
        scheduled_for: Option<String>,
        now: &str,
    ) -> Execution {
        Execution {
            id: crate::ids::new_id("exec"),
            status: ExecutionStatus::Queued,
            source: Source::Schedule,
            product_id: s.product_id.clone(),
            surface_id: s.surface_id.clone(),
            schedule_id: Some(s.id.clone()),
            run_id: Some(crate::ids::new_id("run")),
            flow_id: Some(s.flow_id.clone()),
            agent_id: s.agent_id.clone(),
            // a schedule runs for real: there is no test key behind it
            environment: Environment::Production,
            inputs: s.inputs.clone(),
            messages: s.messages.clone(),
            record_ids: s.record_ids.clone(),
            created_at: now.to_string(),
            owner: s.owner.clone(),
            record_type: s.record_type.clone(),
            record_filter: s.record_filter.clone(),
            execution_options: Some(s.execution_options.clone()),
            trigger,
            scheduled_for,
            ..Execution::default()
        }
    }

    /// Taken for one attempt at `now`: `running`, one more attempt, a fresh claim that
    /// lasts `lease`.
    pub fn claim(&mut self, now: DateTime<Utc>, lease: chrono::Duration) {
        // taking one whose report never came, to end it, is no new attempt
        if !self.delivery.awaiting_report {
            self.attempts += 1;
        }
        self.status = ExecutionStatus::Running;
        self.started_at
            .get_or_insert_with(|| crate::time::format(now));
        self.delivery.next_attempt_at = None;
        self.delivery.lease_until = Some(crate::time::format(now + lease));
        self.delivery.claim = Some(crate::ids::new_id("claim"));
    }

    /// The runner took the attempt under way (202) and will report by `deadline`.
    pub fn await_report(&mut self, deadline: DateTime<Utc>) {
        self.status = ExecutionStatus::Running;
        self.error = None;
        self.delivery.awaiting_report = true;
        self.delivery.lease_until = Some(crate::time::format(deadline));
    }

    /// The attempt under way answered `result`. A result that would take the record past
    /// the most a record may hold (a large invocation and a large answer) is stored as
    /// `{"truncated": true}`, as an answer over 64 KiB is: the delivery completes either way.
    pub fn complete(&mut self, result: Value, now: DateTime<Utc>) {
        self.status = ExecutionStatus::Completed;
        self.result = Some(result);
        self.error = None;
        self.completed_at = Some(crate::time::format(now));
        self.delivery.lease_until = None;
        self.delivery.awaiting_report = false;
        self.keep_within_limit();
    }

    /// Drop the result for `{"truncated": true}` if the record is over `MAX_RECORD`.
    pub fn keep_within_limit(&mut self) {
        let size = serde_json::to_vec(self).map_or(0, |b| b.len());
        if size > crate::rules::MAX_RECORD && self.result.is_some() {
            self.result = Some(json!({ "truncated": true }));
        }
    }

    /// The attempt under way failed with `error`; the next is due `at`.
    pub fn retry_at(&mut self, error: String, at: DateTime<Utc>) {
        self.status = ExecutionStatus::Queued;
        self.error = Some(error);
        self.delivery.next_attempt_at = Some(crate::time::format(at));
        self.delivery.lease_until = None;
    }

    /// Failed for good with `error`: a run's records never settled count as failed.
    pub fn fail(&mut self, error: String, now: DateTime<Utc>) {
        if let Some(ids) = &self.record_ids {
            let rest = self.delivery.unsettled(ids.len());
            self.delivery.records_failed.extend(rest);
            self.delivery.records_failed.sort_unstable();
        }
        self.status = ExecutionStatus::Failed;
        self.error = Some(error);
        self.completed_at = Some(crate::time::format(now));
        self.delivery.lease_until = None;
        self.delivery.awaiting_report = false;
    }

    /// Cancelled by its owner, which only a queued execution can be; otherwise the status
    /// that stands in the way.
    pub fn cancel(&mut self, now: &str) -> Result<(), ExecutionStatus> {
        match self.status {
            ExecutionStatus::Queued => {
                self.status = ExecutionStatus::Cancelled;
                self.completed_at = Some(now.to_string());
                Ok(())
            }
            other @ (ExecutionStatus::Running
            | ExecutionStatus::Completed
            | ExecutionStatus::Failed
            | ExecutionStatus::Cancelled) => Err(other),
        }
    }

    /// The URL a gateway caller polls for this execution (gateway executions only).
    pub fn status_url(&self, base: &str) -> Option<String> {
        match self.source {
            Source::Surface => Some(format!(
                "{base}/v1/products/{}/surfaces/{}/api/executions/{}",
                self.product_id, self.surface_id, self.id
            )),
            Source::Schedule => None,
        }
    }

    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "source": self.source,
            "productId": self.product_id,
            "surfaceId": self.surface_id,
            "itemId": self.item_id,
            "scheduleId": self.schedule_id,
            "runId": self.run_id,
            "capabilityId": self.capability_id,
            "flowId": self.flow_id,
            "agentId": self.agent_id,
            "keyId": self.key_id,
            "environment": self.environment,
            "inputs": self.inputs,
            "messages": self.messages,
            "record": self.record,
            "recordIds": self.record_ids,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
            "statusUrl": self.status_url(base),
        })
    }

    /// Whether no attempt is under way and none has ended it (it can still be cancelled).
    pub fn is_queued(&self) -> bool {
        self.status == ExecutionStatus::Queued
    }

    /// Whether it has ended (nothing more will happen to it).
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// When a deliverer may next take it: a queued one at its next attempt (at once if
    /// none is set), a running one when its claim lapses; an ended one never.
    pub fn due_at(&self) -> Option<&str> {
        match self.status {
            ExecutionStatus::Queued => Some(
                self.delivery
                    .next_attempt_at
                    .as_deref()
                    .unwrap_or(&self.created_at),
            ),
            ExecutionStatus::Running => self.delivery.lease_until.as_deref(),
            ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled => {
                None
            }
        }
    }

    /// The run a schedule execution mirrors onto, as it stands now.
    pub fn run(&self) -> Option<Run> {
        let run_id = self.run_id.clone()?;
        let schedule_id = self.schedule_id.clone()?;
        let total = self.record_ids.as_ref().map_or(0, Vec::len);
        let settled =
            !self.delivery.records_done.is_empty() || !self.delivery.records_failed.is_empty();
        let (processed, failed) = match (self.status, total) {
            (_, 0) => (0, 0),
            _ if settled => (
                self.delivery.records_done.len(),
                self.delivery.records_failed.len(),
            ),
            (ExecutionStatus::Completed, n) => (n, 0),
            (ExecutionStatus::Failed, n) => (0, n),
            _ => (0, 0),
        };
        Some(Run {
            id: run_id,
            schedule_id,
            // a run has no `cancelled`: a cancelled execution's run failed to run
            status: match self.status {
                ExecutionStatus::Cancelled => ExecutionStatus::Failed,
                s => s,
            },
            batch_execution_id: self.id.clone(),
            record_count: total,
            trigger: self.trigger,
            scheduled_for: self.scheduled_for.clone(),
            started_at: self.started_at.clone(),
            completed_at: self.completed_at.clone(),
            error: match self.status {
                ExecutionStatus::Cancelled => Some(ExecutionStatus::Cancelled.to_string()),
                _ => self.error.clone(),
            },
            total_records: total,
            processed_records: processed,
            failed_records: failed,
            created_at: self.created_at.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Environment, KeyKind, Trigger, TriggerType};

    fn at(s: &str) -> DateTime<Utc> {
        crate::time::parse(s).unwrap()
    }

    fn gateway_execution() -> Execution {
        let key = KeyHash {
            key_id: "key_1".into(),
            surface_id: "surf_1".into(),
            product_id: "prod_1".into(),
            owner: "acct_1".into(),
            kind: KeyKind::Papi,
            environment: Environment::Production,
            scopes: vec!["*".into()],
            scope_target_ids: vec![],
            rate_limit_per_minute: None,
            rate_limit_per_day: None,
            expires_at: None,
        };
        let item = SurfaceItem {
            id: "item_1".into(),
            surface_id: "surf_1".into(),
            product_id: "prod_1".into(),
            owner: "acct_1".into(),
            capability_id: "cap_1".into(),
            exposed_name: None,
            exposed_description: None,
            endpoint_slug: Some("answer".into()),
            is_entry_point: true,
            enabled: true,
            display_order: None,
            config: None,
            presentation: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        Execution::for_gateway(&key, &item, None, "2026-01-01T00:00:00.000Z")
    }

    #[test]
    fn a_gateway_execution_is_queued_and_due_at_once() {
        let e = gateway_execution();
        assert_eq!(e.status, ExecutionStatus::Queued);
        assert_eq!(e.source, Source::Surface);
        assert_eq!(e.trigger, Trigger::Gateway);
        assert_eq!(e.environment, Environment::Production);
        assert_eq!(e.key_id.as_deref(), Some("key_1"));
        assert_eq!(e.due_at(), Some("2026-01-01T00:00:00.000Z"));
        assert!(e.status_url("https://x").unwrap().ends_with(&e.id));
        assert!(e.run().is_none());
    }

    #[test]
    fn claim_retry_complete() {
        let mut e = gateway_execution();
        e.claim(at("2026-01-01T00:00:01Z"), chrono::Duration::seconds(60));
        assert_eq!(e.status, ExecutionStatus::Running);
        assert_eq!(e.attempts, 1);
        assert_eq!(e.started_at.as_deref(), Some("2026-01-01T00:00:01.000Z"));
        // a running one is due again only when its claim lapses
        assert_eq!(e.due_at(), Some("2026-01-01T00:01:01.000Z"));
        let first_claim = e.delivery.claim.clone();
        e.retry_at("down".into(), at("2026-01-01T00:00:05Z"));
        assert_eq!(e.status, ExecutionStatus::Queued);
        assert_eq!(e.due_at(), Some("2026-01-01T00:00:05.000Z"));
        e.claim(at("2026-01-01T00:00:05Z"), chrono::Duration::seconds(60));
        assert_eq!(e.attempts, 2);
        assert_ne!(e.delivery.claim, first_claim, "each attempt its own claim");
        assert_eq!(e.started_at.as_deref(), Some("2026-01-01T00:00:01.000Z"));
        e.complete(
            serde_json::json!({ "answer": 1 }),
            at("2026-01-01T00:00:06Z"),
        );
        assert_eq!(e.status, ExecutionStatus::Completed);
        assert_eq!(e.error, None);
        assert!(e.is_final());
        assert_eq!(e.due_at(), None);
        assert_eq!(e.delivery.lease_until, None);
    }

    #[test]
    fn only_a_queued_execution_cancels() {
        let mut e = gateway_execution();
        assert_eq!(e.cancel("2026-01-01T00:00:02.000Z"), Ok(()));
        assert_eq!(e.status, ExecutionStatus::Cancelled);
        assert_eq!(e.due_at(), None);
        assert_eq!(e.cancel("later"), Err(ExecutionStatus::Cancelled));
        let mut e = gateway_execution();
        e.claim(at("2026-01-01T00:00:01Z"), chrono::Duration::seconds(60));
        assert_eq!(e.cancel("later"), Err(ExecutionStatus::Running));
        assert_eq!(e.status, ExecutionStatus::Running);
    }

    fn schedule() -> Schedule {
        Schedule {
            id: "sched_1".into(),
            product_id: "prod_1".into(),
            surface_id: "surf_1".into(),
            owner: "acct_1".into(),
            name: None,
            flow_id: "flow_1".into(),
            agent_id: None,
            trigger_type: TriggerType::Recurring,
            cron: Some("* * * * *".into()),
            run_at: None,
            timezone: "UTC".into(),
            enabled: true,
            next_run_at: None,
            last_run_at: None,
            record_ids: Some(vec!["a".into(), "b".into(), "c".into()]),
            record_type: None,
            record_filter: None,
            execution_options: Map::new(),
            inputs: None,
            messages: None,
            organization_id: None,
            user_id: "acct_1".into(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_schedule_run_mirrors_its_execution() {
        let mut e = Execution::for_schedule(&schedule(), Trigger::Manual, None, "t0");
        assert_eq!(e.environment, Environment::Production);
        assert_eq!(e.status_url("https://x"), None);
        let run = e.run().unwrap();
        assert_eq!(run.status, ExecutionStatus::Queued);
        assert_eq!((run.total_records, run.processed_records), (3, 0));
        // one record done, then the rest never settled: they count as failed
        e.claim(at("2026-01-01T00:00:00Z"), chrono::Duration::seconds(60));
        e.delivery.records_done.push(1);
        e.fail("gave up".into(), at("2026-01-01T00:01:00Z"));
        assert_eq!(e.delivery.records_failed, vec![0, 2]);
        let run = e.run().unwrap();
        assert_eq!(run.status, ExecutionStatus::Failed);
        assert_eq!((run.processed_records, run.failed_records), (1, 2));
        // a cancelled execution's run failed, and says why
        let mut e = Execution::for_schedule(&schedule(), Trigger::Schedule, Some("t".into()), "t0");
        e.cancel("t1").unwrap();
        let run = e.run().unwrap();
        assert_eq!(run.status, ExecutionStatus::Failed);
        assert_eq!(run.error.as_deref(), Some("cancelled"));
        assert_eq!(run.scheduled_for.as_deref(), Some("t"));
    }

    #[test]
    fn the_public_view_hides_what_is_internal() {
        let mut e = gateway_execution();
        e.metadata = Some(Map::new());
        e.delivery.claim = Some("claim_x".into());
        let v = e.to_json("https://x");
        for hidden in [
            "owner",
            "metadata",
            "delivery",
            "trigger",
            "executionOptions",
        ] {
            assert!(v.get(hidden).is_none(), "{hidden} shown");
        }
        assert!(!v.to_string().contains("claim_x"));
        assert_eq!(v["status"], "queued");
    }
}
