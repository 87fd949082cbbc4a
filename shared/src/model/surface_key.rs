//! Surface API keys. The plaintext exists only in the create answer: the record keeps its
//! SHA-256, prefix and hint; a second item, named by the hash, carries what verifying needs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::vocab::{Environment, KeyKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceKey {
    pub id: String,
    pub surface_id: String,
    pub product_id: String,
    pub owner: String,
    pub name: Option<String>,
    pub hash: String,
    pub key_prefix: String,
    pub key_hint: String,
    pub scopes: Vec<String>,
    pub scope_target_ids: Vec<String>,
    /// Which surface items each scope entry named, so removing an item can drop exactly
    /// the entries that named only it.
    #[serde(default)]
    pub scope_resolution: Vec<(String, Vec<String>)>,
    pub rate_limit_per_minute: Option<i64>,
    pub rate_limit_per_day: Option<i64>,
    pub expires_at: Option<String>,
    pub environment: Environment,
    pub created_at: String,
}

impl SurfaceKey {
    /// What every view of the key shows (never the plaintext, never the hash).
    fn common_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "keyPrefix": self.key_prefix,
            "keyHint": self.key_hint,
            "scopes": self.scopes,
            "scopeTargetIds": self.scope_target_ids,
            "rateLimitPerMinute": self.rate_limit_per_minute,
            "rateLimitPerDay": self.rate_limit_per_day,
            "expiresAt": self.expires_at,
            "isActive": true,
            "environment": self.environment,
            "createdAt": self.created_at,
        })
    }

    /// The key as GET surface shows it, with its usage (count, last use) if it has been used.
    pub fn to_json(&self, usage: Option<&(i64, String)>) -> Value {
        let mut v = self.common_json();
        v["isDevelopment"] = json!(self.environment == Environment::Test);
        v["canReveal"] = json!(false);
        v["lastUsedAt"] = json!(usage.map(|(_, at)| at));
        v["usageCount"] = json!(usage.map_or(0, |(n, _)| *n));
        v
    }

    /// The create answer, the one place the plaintext appears.
    pub fn created_json(&self, plaintext: &str) -> Value {
        let mut v = self.common_json();
        v["surfaceId"] = json!(self.surface_id);
        v["key"] = json!(plaintext);
        v
    }

    /// Whether the scopes name every item.
    pub fn all_scopes(&self) -> bool {
        names_every_item(&self.scopes)
    }

    /// Drop `removed` surface items from the scopes; answers whether anything changed.
    /// An entry goes when every item it named is gone. A key scoped to nothing keeps an
    /// empty scope list: it authorises nothing (it never widens to `*`).
    pub fn drop_targets(&mut self, removed: &[String]) -> bool {
        if self.all_scopes() || !self.scope_target_ids.iter().any(|t| removed.contains(t)) {
            return false;
        }
        self.scope_target_ids.retain(|t| !removed.contains(t));
        for (_, targets) in self.scope_resolution.iter_mut() {
            targets.retain(|t| !removed.contains(t));
        }
        self.scope_resolution
            .retain(|(_, targets)| !targets.is_empty());
        self.scopes = self
            .scope_resolution
            .iter()
            .map(|(entry, _)| entry.clone())
            .collect();
        true
    }

    pub fn hash_record(&self, kind: KeyKind) -> KeyHash {
        KeyHash {
            key_id: self.id.clone(),
            surface_id: self.surface_id.clone(),
            product_id: self.product_id.clone(),
            owner: self.owner.clone(),
            kind,
            environment: self.environment,
            scopes: self.scopes.clone(),
            scope_target_ids: self.scope_target_ids.clone(),
            rate_limit_per_minute: self.rate_limit_per_minute,
            rate_limit_per_day: self.rate_limit_per_day,
            expires_at: self.expires_at.clone(),
        }
    }
}

/// The scope entry that names every item of the surface, present and future.
pub const EVERY_ITEM: &str = "*";

/// Whether `scopes` is the one entry that names every item.
pub fn names_every_item(scopes: &[String]) -> bool {
    matches!(scopes, [only] if only == EVERY_ITEM)
}

/// What verifying a presented key needs, stored under `SURFACEKEY#<sha256>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyHash {
    pub key_id: String,
    pub surface_id: String,
    pub product_id: String,
    pub owner: String,
    pub kind: KeyKind,
    pub environment: Environment,
    pub scopes: Vec<String>,
    pub scope_target_ids: Vec<String>,
    pub rate_limit_per_minute: Option<i64>,
    pub rate_limit_per_day: Option<i64>,
    pub expires_at: Option<String>,
}

impl KeyHash {
    /// Whether the key's scopes allow surface item `item_id`.
    pub fn allows(&self, item_id: &str) -> bool {
        names_every_item(&self.scopes) || self.scope_target_ids.iter().any(|t| t == item_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: &[&str], res: &[(&str, &[&str])]) -> SurfaceKey {
        SurfaceKey {
            id: "key_1".into(),
            surface_id: "s".into(),
            product_id: "p".into(),
            owner: "o".into(),
            name: None,
            hash: "h".into(),
            key_prefix: "papi_test_abcd".into(),
            key_hint: "wxyz".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scope_target_ids: res
                .iter()
                .flat_map(|(_, t)| t.iter().map(|s| s.to_string()))
                .collect(),
            scope_resolution: res
                .iter()
                .map(|(e, t)| (e.to_string(), t.iter().map(|s| s.to_string()).collect()))
                .collect(),
            rate_limit_per_minute: None,
            rate_limit_per_day: None,
            expires_at: None,
            environment: Environment::Test,
            created_at: "now".into(),
        }
    }

    #[test]
    fn dropping_targets_never_widens() {
        let mut k = key(&["a", "b"], &[("a", &["i1"]), ("b", &["i2"])]);
        assert!(k.drop_targets(&["i1".into()]));
        assert_eq!(k.scopes, ["b"]);
        assert_eq!(k.scope_target_ids, ["i2"]);
        assert!(k.drop_targets(&["i2".into()]));
        assert!(k.scopes.is_empty() && k.scope_target_ids.is_empty());
        assert!(!k.all_scopes());
        let mut star = key(&["*"], &[]);
        assert!(!star.drop_targets(&["i1".into()]));
    }
}
