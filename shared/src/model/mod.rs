//! Stored records and their public JSON, one file per resource.

pub mod account;
pub mod capability;
pub mod execution;
pub mod product;
pub mod schedule;
pub mod surface;
pub mod surface_key;

pub use account::{Account, PlatformKey};
pub use capability::Capability;
pub use execution::Execution;
pub use product::Product;
pub use schedule::{Run, Schedule};
pub use surface::{Surface, SurfaceItem};
pub use surface_key::{KeyHash, SurfaceKey};

/// A record's public JSON: its stored fields (camelCase), less the internal ones named.
/// The provenance of a write through the ordinary endpoints.
pub fn from_api() -> String {
    "api".into()
}

pub fn public(record: &impl serde::Serialize, internal: &[&str]) -> serde_json::Value {
    let mut v = serde_json::to_value(record).expect("records serialise");
    if let serde_json::Value::Object(m) = &mut v {
        for name in internal {
            m.remove(*name);
        }
    }
    v
}
