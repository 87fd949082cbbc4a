//! The Runtype Products API: models, validation, auth, storage and one handler per endpoint.
//! Every binary (the `runtype` command, each Lambda function) is a thin wrapper over this.

pub mod api;
pub mod app;
pub mod auth;
pub mod aws_http;
pub mod call;
pub mod config;
pub mod content_hash;
pub mod cron;
pub mod delivery;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod json;
pub mod jsonrpc;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "delivery-aws")]
pub mod lambda_delivery;
#[cfg(feature = "runner-secret")]
pub mod lambda_secret;
pub mod log;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod outbound;
pub mod repo;
pub mod router;
pub mod rules;
pub mod scheduler;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod time;
pub mod validate;
