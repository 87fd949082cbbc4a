//! Capabilities: one flow or one agent exposed by a product.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    pub id: String,
    pub product_id: String,
    pub owner: String,
    pub flow_id: Option<String>,
    pub agent_id: Option<String>,
    pub capability_name: String,
    pub capability_description: Option<String>,
    pub enabled: bool,
    pub display_order: Option<i64>,
    pub parameters_schema: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Capability {
    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "productId": self.product_id,
            "flowId": self.flow_id,
            "agentId": self.agent_id,
            "capabilityName": self.capability_name,
            "capabilityDescription": self.capability_description,
            "enabled": self.enabled,
            "displayOrder": self.display_order,
            "parametersSchema": self.parameters_schema,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The key of the item that reserves this capability's name within its product.
    /// Names are unique without regard to case.
    pub fn name_key(name: &str) -> String {
        name.to_lowercase()
    }
}
