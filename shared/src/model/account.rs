//! Accounts (owners) and their platform API keys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// A platform key's record. The plaintext is never stored: only `hash` (SHA-256), which
/// also names the item that authenticates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKey {
    pub id: String,
    pub account_id: String,
    pub hash: String,
    pub key_prefix: String,
    pub read_only: bool,
    pub test: bool,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// What authenticating a platform key needs, stored under the key's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKeyHash {
    pub key_id: String,
    pub account_id: String,
    pub read_only: bool,
}
