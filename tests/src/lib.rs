//! Test support shared by the end-to-end tests and the cold-start benchmark: a Lambda
//! Runtime API emulator, so function binaries run as real processes without Docker.

pub mod listen;
pub mod runner;
pub mod runtime_api;
pub mod seed;
