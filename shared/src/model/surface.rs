//! Surfaces: the channels through which clients reach a product.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::vocab::{KeyKind, Provenance, SurfaceEnvironment, SurfaceStatus, SurfaceType};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Surface {
    pub id: String,
    pub product_id: String,
    pub owner: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SurfaceType,
    pub status: SurfaceStatus,
    pub environment: SurfaceEnvironment,
    pub config: Option<Map<String, Value>>,
    pub behavior: Option<Map<String, Value>>,
    pub inbound: Option<Map<String, Value>>,
    pub outbound: Option<Map<String, Value>>,
    pub created_at: String,
    pub updated_at: String,
    /// Where the last write of the definition came from (`api`, `ensure`, `cli`).
    #[serde(default)]
    pub last_modified_source: Provenance,
}

impl Surface {
    /// The definition products as code converge (API.md): name, type, status, environment,
    /// and behavior, inbound and outbound where set.
    pub fn definition(&self) -> Value {
        let mut d = Map::new();
        d.insert("name".into(), json!(self.name));
        d.insert("type".into(), json!(self.kind));
        d.insert("status".into(), json!(self.status));
        d.insert("environment".into(), json!(self.environment));
        for (k, v) in [
            ("behavior", &self.behavior),
            ("inbound", &self.inbound),
            ("outbound", &self.outbound),
        ] {
            if let Some(v) = v {
                d.insert(k.into(), Value::Object(v.clone()));
            }
        }
        Value::Object(d)
    }

    /// The public URL of the surface for the types that have one.
    pub fn endpoint(&self, base: &str) -> Option<String> {
        let tail = self.kind.endpoint_tail()?;
        Some(format!(
            "{base}/v1/products/{}/surfaces/{}/{tail}",
            self.product_id, self.id
        ))
    }

    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "productId": self.product_id,
            "name": self.name,
            "type": self.kind,
            "status": self.status,
            "environment": self.environment,
            "config": self.config,
            "behavior": self.behavior,
            "inbound": self.inbound,
            "outbound": self.outbound,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "endpoint": self.endpoint(base),
        })
    }

    /// The kind of this surface's API keys.
    pub fn key_kind(&self) -> KeyKind {
        self.kind.key_kind()
    }
}

/// A capability bound to a surface.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceItem {
    pub id: String,
    pub surface_id: String,
    pub product_id: String,
    pub owner: String,
    pub capability_id: String,
    pub exposed_name: Option<String>,
    pub exposed_description: Option<String>,
    pub endpoint_slug: Option<String>,
    pub is_entry_point: bool,
    pub enabled: bool,
    pub display_order: Option<i64>,
    pub config: Option<Map<String, Value>>,
    pub presentation: Option<Map<String, Value>>,
    pub created_at: String,
    pub updated_at: String,
}

impl SurfaceItem {
    /// What a protocol surface calls it (a tool's name, a skill's id): its slug, else — an
    /// item bound before protocol items had default slugs — its id.
    pub fn protocol_name(&self) -> &str {
        self.endpoint_slug.as_deref().unwrap_or(&self.id)
    }

    /// The public view: every field named here, and nothing else.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "surfaceId": self.surface_id,
            "capabilityId": self.capability_id,
            "exposedName": self.exposed_name,
            "exposedDescription": self.exposed_description,
            "endpointSlug": self.endpoint_slug,
            "isEntryPoint": self.is_entry_point,
            "enabled": self.enabled,
            "displayOrder": self.display_order,
            "config": self.config,
            "presentation": self.presentation,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The item with its capability's name, flow, agent and parameters (GET surface).
    pub fn to_json_with(&self, cap: Option<&crate::model::Capability>) -> Value {
        let mut v = self.to_json();
        v["capabilityName"] = json!(cap.map(|c| &c.capability_name));
        v["flowId"] = json!(cap.and_then(|c| c.flow_id.as_ref()));
        v["agentId"] = json!(cap.and_then(|c| c.agent_id.as_ref()));
        v["parametersSchema"] = json!(cap.and_then(|c| c.parameters_schema.as_ref()));
        v
    }
}

/// A capability name made into an endpoint slug: `Answer questions` → `answer-questions`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut slug: String = out.trim_matches('-').chars().take(90).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "capability".into()
    } else {
        slug
    }
}

pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Answer questions"), "answer-questions");
        assert_eq!(slugify("  Ünïcode & Co.  "), "n-code-co");
        assert_eq!(slugify("!!!"), "capability");
        assert_eq!(slugify(&"a ".repeat(200)).len(), 89);
        assert!(is_slug("answer-questions-2"));
        assert!(!is_slug("Answer"));
        assert!(!is_slug(""));
    }
}
