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

#[derive(Clone)]
pub struct Config {
    /// Base of the public URLs the API hands out (surface endpoints), without a trailing `/`.
    pub public_url: String,
    /// Session-token verification, when an issuer is configured.
    pub jwt: Option<Arc<JwtVerifier>>,
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
        })
    }

    /// A configuration with no session tokens.
    pub fn local(public_url: &str) -> Config {
        Config {
            public_url: public_url.trim_end_matches('/').to_string(),
            jwt: None,
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
        Ok(App {
            table,
            requests,
            config,
            clock: Clock::system(),
            new_executions: Default::default(),
        })
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
