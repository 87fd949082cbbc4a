//! `runtype`: serve the API locally, manage accounts and platform keys, create the table.
//!
//! Exit codes: 0 success, 2 bad usage, 1 any other failure.

mod operate;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runtype::app::{App, Backend, Config};
use runtype::delivery::runner::Settings;
use runtype::delivery::Deliverer;
use runtype::repo::accounts;
use runtype::store::definition::DEFAULT_TABLE_NAME;
use runtype::store::dynamo::DynamoTable;
use runtype::store::RequestCounter;
use runtype::time::Clock;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "runtype",
    version,
    about = "The Runtype Products API, locally and on AWS"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Embedded data file (the default store)
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = ".runtype/local.db"
    )]
    data: PathBuf,
    /// Which store to use
    #[arg(long, global = true, value_enum, default_value_t = StoreKind::Embedded)]
    store: StoreKind,
    /// DynamoDB table name (default: $TABLE_NAME, else "runtype")
    #[arg(long, global = true, value_name = "NAME")]
    table: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    Embedded,
    Dynamodb,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on one local HTTP server
    Serve {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Do not fire due schedules every minute in the background
        #[arg(long)]
        no_scheduler: bool,
        /// Do not deliver executions to the runner in the background
        #[arg(long)]
        no_deliver: bool,
    },
    /// Manage accounts (owners)
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Manage platform API keys
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Manage the DynamoDB table
    #[command(subcommand)]
    Table(TableCmd),
    /// Work with schedules
    #[command(subcommand)]
    Schedules(SchedulesCmd),
    /// Work with executions
    #[command(subcommand)]
    Executions(ExecutionsCmd),
    /// Print the OpenAPI document (what `serve` answers at /openapi.json)
    Openapi,
}

#[derive(Subcommand)]
enum SchedulesCmd {
    /// Run one scheduler pass: fire every schedule due at or before now
    Tick {
        /// Stand-in for the clock (RFC 3339), to simulate time
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Claims in flight at once
        #[arg(long, value_name = "N", default_value_t = runtype::config::SCHEDULER_CONCURRENCY as u16,
              value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Stop claiming after this many seconds (what is left is "deferred" to the next pass)
        #[arg(long, value_name = "SECONDS")]
        budget: Option<f64>,
    },
}

#[derive(Subcommand)]
enum ExecutionsCmd {
    /// Run one delivery pass: hand every execution due at or before now to the runner
    /// (RUNTYPE_RUNNER and its settings)
    Deliver {
        /// Stand-in for the clock (RFC 3339), to simulate time
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountsCmd {
    /// Create an account and its first platform key (printed once)
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Create a platform key for an account (printed once)
    Create {
        #[arg(long, value_name = "ID")]
        account: String,
        /// The key may only make GET requests
        #[arg(long)]
        read_only: bool,
        /// Make an rt_test_ key instead of rt_live_
        #[arg(long)]
        test: bool,
    },
    /// Revoke a platform key: it fails at once
    Revoke {
        #[arg(long, value_name = "KEY_ID")]
        id: String,
    },
}

#[derive(Subcommand)]
enum TableCmd {
    /// Create the table (keys, indexes, TTL) on the DynamoDB endpoint
    Create,
}

/// A failure: exit code and message.
struct Failure(u8, String);

fn usage(msg: impl Into<String>) -> Failure {
    Failure(2, msg.into())
}

fn failed(msg: impl Into<String>) -> Failure {
    Failure(1, msg.into())
}

impl StoreArgs {
    /// `--table`, else `TABLE_NAME` (filled in from the configuration), else the default.
    fn table_name(&self) -> String {
        self.table
            .clone()
            .unwrap_or_else(|| DEFAULT_TABLE_NAME.to_string())
    }

    fn backend(&self) -> Backend {
        match self.store {
            StoreKind::Embedded => Backend::Embedded(self.data.clone()),
            StoreKind::Dynamodb => Backend::DynamoDb {
                table: self.table_name(),
                endpoint: None,
            },
        }
    }
}

async fn open(store: &StoreArgs, config: Config) -> Result<App, Failure> {
    App::open(&store.backend(), config)
        .await
        .map_err(|e| failed(format!("cannot open the store: {e}")))
}

fn api_failure(e: runtype::error::ApiError) -> Failure {
    match e.status() {
        404 => failed(e.message()),
        _ => failed(format!("{} ({})", e.message(), e.code())),
    }
}

fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// `--now`: an RFC 3339 instant.
fn parse_now(s: &str) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    runtype::time::parse(s).ok_or_else(|| {
        usage(format!(
            "--now {s:?} is not an RFC 3339 date-time (e.g. 2026-11-26T09:00:00Z)"
        ))
    })
}

async fn run(mut cli: Cli) -> Result<(), Failure> {
    let env = Config::from_env().map_err(failed)?;
    if cli.store.table.is_none() {
        cli.store.table = env.table_name.clone();
    }
    let config = env.clone().with_default_url("http://127.0.0.1:3000");
    match cli.command {
        Command::Serve {
            host,
            port,
            no_scheduler,
            no_deliver,
        } => serve::run(&cli.store, env, &host, port, !no_scheduler, !no_deliver).await,
        Command::Openapi => {
            print!("{}", runtype::openapi::document_text());
            Ok(())
        }
        Command::Executions(ExecutionsCmd::Deliver { now }) => {
            let settings = Settings::from_config(&config.runner).map_err(usage)?;
            if !settings.delivers() {
                return Err(usage(
                    "no runner is configured: set RUNTYPE_RUNNER to webhook or runtype (with RUNTYPE_RUNNER_URL and its token or secret)",
                ));
            }
            let clock = match now {
                None => Clock::system(),
                Some(s) => Clock::fixed(parse_now(&s)?),
            };
            let app = open(&cli.store, config).await?;
            let deliverer =
                Deliverer::new(app.table_handle(), settings, clock, &app.config.public_url);
            let summary = deliverer.pass().await.map_err(api_failure)?;
            print(serde_json::to_value(&summary).unwrap_or_default());
            Ok(())
        }
        Command::Schedules(SchedulesCmd::Tick {
            now,
            concurrency,
            budget,
        }) => {
            let now = match now {
                None => Clock::system().now(),
                Some(s) => parse_now(&s)?,
            };
            let budget = match budget {
                Some(b) if !(b.is_finite() && b >= 0.0) => {
                    return Err(usage("--budget must be a number of seconds, 0 or more"))
                }
                other => other.map(std::time::Duration::from_secs_f64),
            };
            let app = open(&cli.store, config).await?;
            let options = runtype::scheduler::Options {
                concurrency: usize::from(concurrency),
                deadline: budget.map(|b| std::time::Instant::now() + b),
                ..Default::default()
            };
            let summary = runtype::scheduler::fire_due_with(app.table(), now, &options).await;
            let mut out = serde_json::to_value(&summary).unwrap_or_default();
            out["now"] = json!(runtype::time::format(now));
            print(out);
            if summary.failed > 0 {
                return Err(failed(format!(
                    "{} schedule(s) could not be fired",
                    summary.failed
                )));
            }
            Ok(())
        }
        Command::Accounts(AccountsCmd::Create { name }) => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                return Err(usage("--name must be 1 to 255 characters"));
            }
            let app = open(&cli.store, config).await?;
            let (account, key) =
                accounts::create_account(app.table(), name, &app.clock.now_string())
                    .await
                    .map_err(api_failure)?;
            print(json!({
                "accountId": account.id,
                "keyId": key.record.id,
                "apiKey": key.plaintext,
            }));
            Ok(())
        }
        Command::Keys(KeysCmd::Create {
            account,
            read_only,
            test,
        }) => {
            if !runtype::ids::is_valid("acct", &account) {
                return Err(usage(format!(
                    "--account {account:?} is not an account id (acct_…)"
                )));
            }
            let app = open(&cli.store, config).await?;
            let key = accounts::create_key(
                app.table(),
                &account,
                read_only,
                test,
                &app.clock.now_string(),
            )
            .await
            .map_err(api_failure)?;
            print(json!({
                "id": key.record.id,
                "apiKey": key.plaintext,
                "accountId": key.record.account_id,
                "readOnly": key.record.read_only,
            }));
            Ok(())
        }
        Command::Keys(KeysCmd::Revoke { id }) => {
            if !runtype::ids::is_valid("key", &id) {
                return Err(usage(format!(
                    "--id {id:?} is not a platform key id (key_…)"
                )));
            }
            let app = open(&cli.store, config).await?;
            let key = accounts::revoke_key(app.table(), &id, &app.clock.now_string())
                .await
                .map_err(api_failure)?;
            print(json!({ "id": key.id, "revoked": true, "revokedAt": key.revoked_at }));
            Ok(())
        }
        Command::Table(TableCmd::Create) => {
            if cli.store.store != StoreKind::Dynamodb {
                return Err(usage(
                    "table create works on DynamoDB only: add --store dynamodb [--table NAME]",
                ));
            }
            let table =
                DynamoTable::from_env(cli.store.table_name(), None, RequestCounter::default())
                    .await;
            table
                .create_table()
                .await
                .map_err(|e| failed(format!("cannot create table {}: {e}", table.table_name())))?;
            print(json!({ "table": table.table_name(), "created": true }));
            Ok(())
        }
    }
}

// The local server's allocator: many small, short-lived allocations from many threads (each
// request's JSON and records) were a quarter of its CPU under load with the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtype: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, msg)) => {
            eprintln!("runtype: {msg}");
            ExitCode::from(code)
        }
    }
}
