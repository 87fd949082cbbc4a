//! Products: the stored record and its public JSON.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::vocab::Provenance;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// Where the last write of the definition came from (`api`, `ensure`, `cli`); records
    /// from before provenance was kept read as `api`.
    #[serde(default)]
    pub last_modified_source: Provenance,
}

impl Product {
    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "icon": self.icon,
            "canvas": self.canvas,
            "spec": self.spec,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The definition products as code converge (API.md): name, and description, icon and
    /// spec where they are not empty.
    pub fn definition(&self) -> Value {
        let mut d = Map::new();
        d.insert("name".into(), Value::String(self.name.clone()));
        for (k, v) in [("description", &self.description), ("icon", &self.icon)] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                d.insert(k.into(), Value::String(v.clone()));
            }
        }
        if !self.spec.is_empty() {
            d.insert("spec".into(), Value::Object(self.spec.clone()));
        }
        Value::Object(d)
    }
}
