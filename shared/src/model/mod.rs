//! Stored records and their public views, one file per resource, and the words they use
//! (`vocab`).

pub mod account;
pub mod capability;
pub mod execution;
pub mod product;
pub mod schedule;
pub mod surface;
pub mod surface_key;
pub mod vocab;

pub use account::{Account, PlatformKey};
pub use capability::Capability;
pub use execution::Execution;
pub use product::Product;
pub use schedule::{Run, Schedule};
pub use surface::{Surface, SurfaceItem};
pub use surface_key::{KeyHash, SurfaceKey};
pub use vocab::{
    Environment, ExecutionStatus, KeyKind, Provenance, Source, SurfaceEnvironment, SurfaceStatus,
    SurfaceType, Trigger, TriggerType, Word,
};
