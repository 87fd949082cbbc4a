//! Schedules on `schedule` surfaces, their runs, and the execution records handed to
//! whatever runs flows downstream.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const TRIGGER_TYPES: &[&str] = &["one_time", "recurring"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: String,
    pub product_id: String,
    pub surface_id: String,
    pub owner: String,
    pub name: Option<String>,
    pub flow_id: String,
    pub agent_id: Option<String>,
    pub trigger_type: String,
    pub cron: Option<String>,
    pub run_at: Option<String>,
    pub timezone: String,
    pub enabled: bool,
    pub next_run_at: Option<String>,
    pub last_run_at: Option<String>,
    pub record_ids: Option<Vec<String>>,
    pub record_type: Option<String>,
    pub record_filter: Option<Value>,
    pub execution_options: Map<String, Value>,
    pub inputs: Option<Map<String, Value>>,
    pub messages: Option<Value>,
    pub organization_id: Option<String>,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Schedule {
    pub fn to_json(&self) -> Value {
        let mut v = super::public(self, &["owner", "productId", "surfaceId"]);
        v["productSurfaceId"] = json!(self.surface_id);
        v
    }

    pub fn record_count(&self) -> usize {
        self.record_ids.as_ref().map_or(0, Vec::len)
    }
}

/// One firing of a schedule (by the scheduler or run-now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: String,
    pub schedule_id: String,
    pub status: String,
    pub batch_execution_id: String,
    pub record_count: usize,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// The occurrence fired (the `nextRunAt` claimed), for scheduler runs.
    pub scheduled_for: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub error: Option<String>,
    /// Records the run covers (`recordIds`), and how many of them were dispatched with
    /// success and how many failed, as delivery goes.
    #[serde(default)]
    pub total_records: usize,
    #[serde(default)]
    pub processed_records: usize,
    #[serde(default)]
    pub failed_records: usize,
    pub created_at: String,
}

impl Run {
    /// A run in a run list: with its schedule's id.
    pub fn to_listed_json(&self) -> Value {
        super::public(self, &["recordCount", "trigger", "scheduledFor"])
    }

    pub fn to_json(&self) -> Value {
        super::public(
            self,
            &["scheduleId", "recordCount", "trigger", "scheduledFor"],
        )
    }
}
