//! Schedules on `schedule` surfaces, their runs, and the execution records handed to
//! whatever runs flows downstream.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::vocab::{ExecutionStatus, Trigger, TriggerType};

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
    pub trigger_type: TriggerType,
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
    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "productSurfaceId": self.surface_id,
            "name": self.name,
            "flowId": self.flow_id,
            "agentId": self.agent_id,
            "triggerType": self.trigger_type,
            "cron": self.cron,
            "runAt": self.run_at,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "nextRunAt": self.next_run_at,
            "lastRunAt": self.last_run_at,
            "recordIds": self.record_ids,
            "recordType": self.record_type,
            "recordFilter": self.record_filter,
            "executionOptions": self.execution_options,
            "inputs": self.inputs,
            "messages": self.messages,
            "organizationId": self.organization_id,
            "userId": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
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
    /// An execution's status, never `cancelled` (a cancelled execution's run failed).
    pub status: ExecutionStatus,
    pub batch_execution_id: String,
    pub record_count: usize,
    /// `schedule` or `manual`.
    pub trigger: Trigger,
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
        let mut v = self.to_json();
        v["scheduleId"] = json!(self.schedule_id);
        v
    }

    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "batchExecutionId": self.batch_execution_id,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
            "error": self.error,
            "totalRecords": self.total_records,
            "processedRecords": self.processed_records,
            "failedRecords": self.failed_records,
            "createdAt": self.created_at,
        })
    }
}
