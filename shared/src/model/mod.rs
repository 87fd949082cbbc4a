//! Stored records and their public JSON, one file per resource.

pub mod account;
pub mod capability;
pub mod product;
pub mod schedule;
pub mod surface;
pub mod surface_key;

pub use account::{Account, PlatformKey};
pub use capability::Capability;
pub use product::Product;
pub use schedule::{Execution, Run, Schedule};
pub use surface::{Surface, SurfaceItem};
pub use surface_key::{KeyHash, SurfaceKey};
