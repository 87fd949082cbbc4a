//! Executions: one request to run a flow or an agent — made by an admitted gateway call, a
//! schedule firing or run-now — written the same way by every producer and moved forward by
//! whatever delivers it (`queued → running → completed | failed`, `queued → cancelled`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const STATUSES: &[&str] = &["queued", "running", "completed", "failed", "cancelled"];
pub const SOURCES: &[&str] = &["surface", "schedule"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            ],
        );
        v["statusUrl"] = json!(self.status_url(base));
        v
    }

    /// Whether nothing has happened to it yet (it can still be cancelled).
    pub fn is_queued(&self) -> bool {
        self.status == "queued"
    }
}
