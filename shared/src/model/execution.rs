//! Executions: one request to run a flow or an agent — made by an admitted gateway call, a
//! schedule firing or run-now — written the same way by every producer and moved forward by
//! whatever delivers it (`queued → running → completed | failed`, `queued → cancelled`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Run;

pub const STATUSES: &[&str] = &["queued", "running", "completed", "failed", "cancelled"];
pub const SOURCES: &[&str] = &["surface", "schedule"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub status: String,
    /// `surface` (a gateway call) or `schedule` (a fire or run-now).
    pub source: String,
    pub product_id: String,
    pub surface_id: String,
    pub item_id: Option<String>,
    pub schedule_id: Option<String>,
    pub run_id: Option<String>,
    pub capability_id: Option<String>,
    pub flow_id: Option<String>,
    pub agent_id: Option<String>,
    pub key_id: Option<String>,
    /// `test` or `production`.
    pub environment: String,
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
    /// `schedule`, `manual` (run-now) or `gateway`.
    #[serde(default)]
    pub trigger: String,
    /// The occurrence a scheduler run fired (mirrored onto its run).
    #[serde(default)]
    pub scheduled_for: Option<String>,
    /// Where delivery stands (never shown).
    #[serde(default)]
    pub delivery: Delivery,
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
    /// The URL a gateway caller polls for this execution (gateway executions only).
    pub fn status_url(&self, base: &str) -> Option<String> {
        (self.source == "surface").then(|| {
            format!(
                "{base}/v1/products/{}/surfaces/{}/api/executions/{}",
                self.product_id, self.surface_id, self.id
            )
        })
    }

    pub fn to_json(&self, base: &str) -> Value {
        let mut v = super::public(
            self,
            &[
                "owner",
                "metadata",
                "recordType",
                "recordFilter",
                "executionOptions",
                "trigger",
                "scheduledFor",
                "delivery",
            ],
        );
        v["statusUrl"] = json!(self.status_url(base));
        v
    }

    /// Whether no attempt is under way and none has ended it (it can still be cancelled).
    pub fn is_queued(&self) -> bool {
        self.status == "queued"
    }

    /// Whether it has ended (nothing more will happen to it).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }

    /// When a deliverer may next take it: a queued one at its next attempt (at once if
    /// none is set), a running one when its claim lapses; an ended one never.
    pub fn due_at(&self) -> Option<&str> {
        match self.status.as_str() {
            "queued" => Some(
                self.delivery
                    .next_attempt_at
                    .as_deref()
                    .unwrap_or(&self.created_at),
            ),
            "running" => self.delivery.lease_until.as_deref(),
            _ => None,
        }
    }

    /// The run a schedule execution mirrors onto, as it stands now.
    pub fn run(&self) -> Option<Run> {
        let run_id = self.run_id.clone()?;
        let schedule_id = self.schedule_id.clone()?;
        let total = self.record_ids.as_ref().map_or(0, Vec::len);
        let (processed, failed) = match (self.status.as_str(), total) {
            (_, 0) => (0, 0),
            _ if !self.delivery.records_done.is_empty()
                || !self.delivery.records_failed.is_empty() =>
            {
                (
                    self.delivery.records_done.len(),
                    self.delivery.records_failed.len(),
                )
            }
            ("completed", n) => (n, 0),
            ("failed", n) => (0, n),
            _ => (0, 0),
        };
        Some(Run {
            id: run_id,
            schedule_id,
            // a run has no `cancelled`: a cancelled execution's run failed to run
            status: match self.status.as_str() {
                "cancelled" => "failed".into(),
                s => s.into(),
            },
            batch_execution_id: self.id.clone(),
            record_count: total,
            trigger: self.trigger.clone(),
            scheduled_for: self.scheduled_for.clone(),
            started_at: self.started_at.clone(),
            completed_at: self.completed_at.clone(),
            error: match self.status.as_str() {
                "cancelled" => Some("cancelled".into()),
                _ => self.error.clone(),
            },
            total_records: total,
            processed_records: processed,
            failed_records: failed,
            created_at: self.created_at.clone(),
        })
    }
}
