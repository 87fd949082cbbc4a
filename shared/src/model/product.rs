//! Products: the stored record and its public JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub canvas: Map<String, Value>,
    pub spec: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    /// Capabilities ever added: the next one's `displayOrder`.
    #[serde(default)]
    pub capability_seq: i64,
}

impl Product {
    pub fn to_json(&self) -> Value {
        super::public(self, &["owner", "capabilitySeq"])
    }
}

impl Product {
    /// An empty record, replaced as soon as the real one is read.
    pub fn placeholder() -> Product {
        Product {
            id: String::new(),
            owner: String::new(),
            name: String::new(),
            description: None,
            icon: None,
            canvas: Map::new(),
            spec: Map::new(),
            created_at: String::new(),
            updated_at: String::new(),
            capability_seq: 0,
        }
    }
}
