//! One handler per endpoint. Each reads top to bottom: check the path ids, validate the
//! body, make one call into the repository, answer.

pub mod a2a;
pub mod as_code;
pub mod capabilities;
pub mod executions;
pub mod gateway;
pub mod items;
pub mod mcp;
pub mod products;
pub mod schedules;
pub mod surface_keys;
pub mod surfaces;
