//! The application: storage and configuration, built once per process (per Lambda cold
//! start) and borrowed by every request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::jwt::{JwtConfig, JwtVerifier};
use crate::store::dynamo::DynamoTable;
use crate::store::sqlite::SqliteTable;
use crate::store::{RequestCounter, StoreResult, Table};
use crate::time::Clock;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded SQLite file.
    Embedded(PathBuf),
    /// A DynamoDB table (credentials and, unless given, endpoint from the AWS environment).
    DynamoDb {
        table: String,
        endpoint: Option<String>,
    },
}

/// Quotas (API.md "Limits"), each overridable by its environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RUNTYPE_QUOTA_PRODUCTS_PER_OWNER` (1000).
    pub products_per_owner: i64,
    /// `RUNTYPE_QUOTA_CAPABILITIES_PER_PRODUCT` (200).
    pub capabilities_per_product: i64,
    /// `RUNTYPE_QUOTA_SURFACES_PER_PRODUCT` (50).
    pub surfaces_per_product: i64,
    /// `RUNTYPE_QUOTA_ITEMS_PER_SURFACE` (200).
    pub items_per_surface: i64,
    /// `RUNTYPE_QUOTA_KEYS_PER_SURFACE` (100).
    pub keys_per_surface: i64,
    /// `RUNTYPE_QUOTA_SCHEDULES_PER_SURFACE` (500).
    pub schedules_per_surface: i64,
    /// `RUNTYPE_QUOTA_SCHEDULES_PER_OWNER` (5000).
    pub schedules_per_owner: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            products_per_owner: 1000,
            capabilities_per_product: 200,
            surfaces_per_product: 50,
            items_per_surface: 200,
            keys_per_surface: 100,
            schedules_per_surface: 500,
            schedules_per_owner: 5000,
        }
    }
}

impl Limits {
    pub fn from_env() -> Result<Limits, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The limits from variables looked up with `var` (the defaults for those unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        // `RUNTYPE_QUOTA_<what>`
        let read = |what: &str, default: i64| -> Result<i64, String> {
            let name = format!("RUNTYPE_QUOTA_{what}");
            match var(&name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("{name} must be a whole number, 0 or more, not {v:?}")),
            }
        };
        let d = Limits::default();
        Ok(Limits {
            products_per_owner: read("PRODUCTS_PER_OWNER", d.products_per_owner)?,
            capabilities_per_product: read("CAPABILITIES_PER_PRODUCT", d.capabilities_per_product)?,
            surfaces_per_product: read("SURFACES_PER_PRODUCT", d.surfaces_per_product)?,
            items_per_surface: read("ITEMS_PER_SURFACE", d.items_per_surface)?,
            keys_per_surface: read("KEYS_PER_SURFACE", d.keys_per_surface)?,
            schedules_per_surface: read("SCHEDULES_PER_SURFACE", d.schedules_per_surface)?,
            schedules_per_owner: read("SCHEDULES_PER_OWNER", d.schedules_per_owner)?,
        })
    }
}

#[derive(Clone)]
pub struct Config {
    /// Base of the public URLs the API hands out (surface endpoints), without a trailing `/`.
    pub public_url: String,
    /// Session-token verification, when an issuer is configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    pub limits: Limits,
}

impl Config {
    /// `RUNTYPE_PUBLIC_URL` (else `default`) and the JWT settings (`jwt::JwtConfig::from_env`).
    pub fn from_env(default: &str) -> Result<Config, String> {
        let url = std::env::var("RUNTYPE_PUBLIC_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| default.to_string());
        let jwt = JwtConfig::from_env()?.map(|c| Arc::new(JwtVerifier::new(c)));
        Ok(Config {
            public_url: url.trim_end_matches('/').to_string(),
            jwt,
            limits: Limits::from_env()?,
        })
    }

    /// A configuration with no session tokens.
    pub fn local(public_url: &str) -> Config {
        Config {
            public_url: public_url.trim_end_matches('/').to_string(),
            jwt: None,
            limits: Limits::default(),
        }
    }
}

pub struct App {
    table: Arc<dyn Table>,
    /// Storage round trips made so far (for request budgets in tests and benchmarks).
    pub requests: RequestCounter,
    pub config: Config,
    /// "Now" for rate-limit windows and expiry (fixed by tests).
    pub clock: Clock,
    /// Woken whenever this process writes an execution, so a deliverer running beside
    /// the API (`runtype serve`) makes the first attempt at once.
    pub new_executions: Arc<tokio::sync::Notify>,
}

impl App {
    pub async fn open(backend: &Backend, config: Config) -> StoreResult<App> {
        let requests = RequestCounter::default();
        let table: Arc<dyn Table> = match backend {
            Backend::Embedded(path) => Arc::new(SqliteTable::open(path, requests.clone())?),
            Backend::DynamoDb { table, endpoint } => Arc::new(
                DynamoTable::from_env(table.clone(), endpoint.clone(), requests.clone()).await,
            ),
        };
        Ok(App::with_table(table, requests, config))
    }

    /// An app over a table built elsewhere (a wrapped backend in tests, say).
    pub fn with_table(table: Arc<dyn Table>, requests: RequestCounter, config: Config) -> App {
        App {
            table,
            requests,
            config,
            clock: Clock::system(),
            new_executions: Default::default(),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The shared handle to the table.
    pub fn table_handle(&self) -> Arc<dyn Table> {
        self.table.clone()
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }
}
