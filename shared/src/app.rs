//! The application: storage and configuration, built once per process (per Lambda cold
//! start) and borrowed by every request.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::jwt::JwtVerifier;
pub use crate::config::Config;
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

/// Makes the runner's deliverer when it is first needed (a gateway function on Lambda reads
/// the runner's secret only when a caller first waits, so cold starts do not pay for it).
pub type MakeRunner = Box<
    dyn Fn() -> futures_util::future::BoxFuture<'static, Result<crate::delivery::Deliverer, String>>
        + Send
        + Sync,
>;

pub struct App {
    table: Arc<dyn Table>,
    /// Storage round trips made so far (for request budgets in tests and benchmarks).
    pub requests: RequestCounter,
    pub config: Config,
    /// Session-token verification, when an issuer is configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// "Now" for rate-limit windows and expiry (fixed by tests).
    pub clock: Clock,
    /// Woken whenever this process writes an execution, so a deliverer running beside
    /// the API (`runtype serve`) makes the first attempt at once.
    pub new_executions: Arc<tokio::sync::Notify>,
    /// The runner's deliverer, where this process has one: a gateway call that asks to wait
    /// (`Prefer: wait`) makes its execution's first attempt with it, in the request.
    pub deliverer: Option<Arc<crate::delivery::Deliverer>>,
    /// Or how to make it, once, when a caller first waits.
    pub make_runner: Option<MakeRunner>,
    made_runner: tokio::sync::OnceCell<Arc<crate::delivery::Deliverer>>,
    /// Told when this process has written how an execution ended (its deliverer, a runner's
    /// report): a caller waiting on one reads it again at once instead of within the second.
    pub executions_settled: tokio::sync::broadcast::Sender<String>,
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
        // what is process-wide by nature (the log's level, how long an execution is kept,
        // which every write of one stamps) is taken from the configuration here, once
        crate::log::set_level(&config.log_level);
        crate::repo::executions::set_retention_days(config.retention_days);
        App {
            table,
            requests,
            jwt: config.jwt.clone().map(|c| Arc::new(JwtVerifier::new(c))),
            config,
            clock: Clock::system(),
            new_executions: Default::default(),
            deliverer: None,
            make_runner: None,
            made_runner: tokio::sync::OnceCell::new(),
            executions_settled: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// The runner's deliverer where this process may use one: the one it was given, or the
    /// one it makes on first use (a failure to make it is logged, and tried again next time).
    pub async fn runner(&self) -> Option<Arc<crate::delivery::Deliverer>> {
        if let Some(d) = &self.deliverer {
            return Some(d.clone());
        }
        let make = self.make_runner.as_ref()?;
        let made = self
            .made_runner
            .get_or_try_init(|| async { make().await.map(Arc::new) })
            .await;
        match made {
            Ok(d) => Some(d.clone()),
            Err(e) => {
                crate::log::error("the runner could not be set up", &e);
                None
            }
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
