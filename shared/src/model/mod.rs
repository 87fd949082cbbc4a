//! Stored records and their public JSON, one file per resource.

pub mod account;
pub mod capability;
pub mod product;

pub use account::{Account, PlatformKey};
pub use capability::Capability;
pub use product::Product;
