//! Every setting the project reads from its environment, in one place: each variable, its
//! default and the error a bad value gets. Read once when a process starts (`from_env`), then
//! handed to whatever needs it through `App`; nothing else reads the environment (the AWS
//! SDK's own variables aside). The README's configuration table lists the same variables.

use std::path::PathBuf;
use std::time::Duration;

/// Claims a scheduler pass has in flight unless `RUNTYPE_SCHEDULER_CONCURRENCY` says.
pub const SCHEDULER_CONCURRENCY: usize = 16;

/// Quotas (API.md "Limits"), each overridable by its `RUNTYPE_QUOTA_<what>` variable.
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

/// Which runner executions are handed to (`RUNTYPE_RUNNER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunnerKind {
    /// `none` (the default): executions stay queued.
    #[default]
    None,
    /// `webhook`: a Standard Webhooks endpoint.
    Webhook,
    /// `runtype`: Runtype's dispatch API.
    Runtype,
}

/// The runner and delivery settings (delivery::runner::Settings is built from these and the
/// runner's secret, which on Lambda comes from Secrets Manager).
#[derive(Debug, Clone, Default)]
pub struct RunnerConfig {
    /// `RUNTYPE_RUNNER`: `none`, `webhook` or `runtype`.
    pub kind: RunnerKind,
    /// `RUNTYPE_RUNNER_URL`: the webhook URL, or the base of Runtype's API.
    pub url: Option<http::Uri>,
    /// `RUNTYPE_WEBHOOK_SECRET` (`whsec_…`), for the webhook runner outside Lambda.
    pub webhook_secret: Option<String>,
    /// `RUNTYPE_RUNNER_TOKEN`, for the runtype runner outside Lambda.
    pub token: Option<String>,
    /// `RUNTYPE_RUNNER_SECRET_ID`: the Secrets Manager secret holding either, on Lambda.
    pub secret_id: Option<String>,
    /// `RUNTYPE_RUNNER_SECRET_SOURCE=extension`: read it through the Parameters and Secrets
    /// Lambda Extension instead of the SDK.
    pub secret_from_extension: bool,
    /// `RUNTYPE_RUNNER_MAX_ATTEMPTS` (8; 1–100): attempts before an execution fails.
    pub max_attempts: u32,
    /// `RUNTYPE_RUNNER_TIMEOUT_MS` (30 000; 1–900 000): how long one request may take.
    pub timeout: Duration,
    /// `RUNTYPE_DELIVERY_CONCURRENCY` (32; 1–1000): requests one deliverer has in flight.
    pub concurrency: usize,
    /// `RUNTYPE_RUNNER_REPORT_TIMEOUT_S` (3600): how long a runner that answered 202 has to
    /// report before the execution fails.
    pub report_timeout: Duration,
}

impl RunnerConfig {
    /// No runner, and delivery's defaults.
    pub fn default_values() -> RunnerConfig {
        RunnerConfig {
            max_attempts: 8,
            timeout: Duration::from_secs(30),
            concurrency: 32,
            report_timeout: Duration::from_secs(3600),
            ..RunnerConfig::default()
        }
    }

    /// The secret given in the environment for the configured runner (not on Lambda).
    pub fn inline_secret(&self) -> Option<String> {
        match self.kind {
            RunnerKind::Webhook => self.webhook_secret.clone(),
            RunnerKind::Runtype => self.token.clone(),
            RunnerKind::None => None,
        }
    }
}

/// Where session tokens' signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    Url(String),
    File(PathBuf),
}

/// Session-token verification (`auth::jwt`), as configured.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub source: JwksSource,
    /// Accepted `azp` values; empty means any.
    pub authorized_parties: Vec<String>,
    pub leeway_secs: u64,
    /// Least time between two JWKS loads caused by unknown `kid`s.
    pub min_refresh: Duration,
}

/// A JWKS URL must be https, except on a loopback host (a local issuer while developing).
pub fn checked_url(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("RUNTYPE_JWKS_URL is not a URL: {url:?}"))?;
    let loopback = matches!(
        uri.host(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => Ok(url.to_string()),
        Some("http") if loopback => Ok(url.to_string()),
        _ => Err(format!(
            "RUNTYPE_JWKS_URL must be an https:// URL (http:// only for a loopback host), not {url:?}"
        )),
    }
}

/// `RUNTYPE_FLOW_ALLOWLIST`: the flows and agents each owner may name in a capability or a
/// schedule, as JSON `{"<owner id>": ["<flow or agent id>", …], "*": […]}` ("*" as an owner:
/// every owner not listed; "*" in a list: anything). Unset: any. One runner (one operator's
/// token) runs every owner's executions, so this is how an operator keeps an owner to its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowAllowlist(std::collections::BTreeMap<String, Vec<String>>);

impl FlowAllowlist {
    /// Whether `owner` may name flow or agent `id`.
    pub fn allows(&self, owner: &str, id: &str) -> bool {
        self.0
            .get(owner)
            .or_else(|| self.0.get("*"))
            .is_some_and(|ids| ids.iter().any(|x| x == id || x == "*"))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `RUNTYPE_PUBLIC_URL`: base of the public URLs the API hands out (surface endpoints),
    /// without a trailing `/`; where unset, the entry point's own default.
    pub public_url: String,
    /// `RUNTYPE_JWT_ISSUER` with `RUNTYPE_JWKS_URL` or `RUNTYPE_JWKS_FILE`, and optionally
    /// `RUNTYPE_JWT_AUTHORIZED_PARTIES` (comma-separated): session tokens, when set.
    pub jwt: Option<JwtConfig>,
    pub limits: Limits,
    /// `RUNTYPE_EXECUTION_RETENTION_DAYS` (30): executions and runs expire after this.
    pub retention_days: i64,
    /// `RUNTYPE_LOG_LEVEL` (`debug`, `info`, `warn`, `error`; default `info`).
    pub log_level: String,
    /// `RUNTYPE_SCHEDULER_CONCURRENCY` (16; 1–256): claims in flight in a scheduler pass.
    pub scheduler_concurrency: usize,
    /// `RUNTYPE_HEADER_READ_TIMEOUT_MS` (10 000): `runtype serve` drops a client that has
    /// not sent its request's headers by then.
    pub header_read_timeout: Duration,
    /// `RUNTYPE_BODY_READ_TIMEOUT_MS` (10 000): `runtype serve` answers 408 and closes a
    /// connection whose request body has not all arrived by then.
    pub body_read_timeout: Duration,
    /// `RUNTYPE_GATEWAY_READS_PER_MINUTE` (600): gateway reads a key may make each UTC
    /// minute (GET …/api, GET …/api/executions/:id), apart from its calls' limits.
    pub gateway_reads_per_minute: i64,
    /// `RUNTYPE_PROTOCOL_WAIT_S` (25; 1–25): how long an MCP `tools/call` or an A2A
    /// `SendMessage` waits for its execution (as `Prefer: wait=N`).
    pub protocol_wait_s: u64,
    /// `RUNTYPE_METRICS_NAMESPACE` (`Runtype`): the CloudWatch namespace of the metrics the
    /// Lambda functions write (the template: `Runtype/<stack name>`).
    pub metrics_namespace: String,
    pub runner: RunnerConfig,
    pub flow_allowlist: Option<FlowAllowlist>,
    /// `TABLE_NAME`: the DynamoDB table (the Lambda functions; the command's default).
    pub table_name: Option<String>,
    /// `RETRY_QUEUE_URL`: the delivery function's retry queue.
    pub retry_queue_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: String::new(),
            jwt: None,
            limits: Limits::default(),
            retention_days: 30,
            log_level: "info".into(),
            scheduler_concurrency: SCHEDULER_CONCURRENCY,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            gateway_reads_per_minute: 600,
            protocol_wait_s: crate::rules::gateway::MAX_WAIT_SECS,
            metrics_namespace: crate::metrics::NAMESPACE.into(),
            runner: RunnerConfig::default_values(),
            flow_allowlist: None,
            table_name: None,
            retry_queue_url: None,
        }
    }
}

/// Variables as `var` answers them: trimmed, empty read as unset.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A whole number within `range` (`what` says which, for the error), else `default`.
    fn number<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, String>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    format!(
                        "{name} must be a whole number from {} to {}, not {v:?}",
                        range.start(),
                        range.end()
                    )
                }),
        }
    }

    fn url(&self, name: &str) -> Result<Option<http::Uri>, String> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        let uri: http::Uri = text.parse().map_err(|_| format!("{name} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") | Some("https") if uri.host().is_some() => Ok(Some(uri)),
            _ => Err(format!("{name} must be an http:// or https:// URL")),
        }
    }
}

impl Config {
    /// The process environment's settings (the defaults for those unset).
    pub fn from_env() -> Result<Config, String> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings from variables looked up with `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let v = Vars(var);
        let d = Config::default();
        let quota = |what: &str, default: i64| {
            v.number(&format!("RUNTYPE_QUOTA_{what}"), default, 0..=i64::MAX)
        };
        let l = d.limits;
        let limits = Limits {
            products_per_owner: quota("PRODUCTS_PER_OWNER", l.products_per_owner)?,
            capabilities_per_product: quota(
                "CAPABILITIES_PER_PRODUCT",
                l.capabilities_per_product,
            )?,
            surfaces_per_product: quota("SURFACES_PER_PRODUCT", l.surfaces_per_product)?,
            items_per_surface: quota("ITEMS_PER_SURFACE", l.items_per_surface)?,
            keys_per_surface: quota("KEYS_PER_SURFACE", l.keys_per_surface)?,
            schedules_per_surface: quota("SCHEDULES_PER_SURFACE", l.schedules_per_surface)?,
            schedules_per_owner: quota("SCHEDULES_PER_OWNER", l.schedules_per_owner)?,
        };
        let log_level = v
            .text("RUNTYPE_LOG_LEVEL")
            .unwrap_or(d.log_level)
            .to_lowercase();
        if !crate::log::LEVELS.contains(&log_level.as_str()) {
            return Err(format!(
                "RUNTYPE_LOG_LEVEL must be one of {}, not {log_level:?}",
                crate::log::LEVELS.join(", ")
            ));
        }
        let runner = RunnerConfig {
            kind: match v.text("RUNTYPE_RUNNER").as_deref() {
                None | Some("none") => RunnerKind::None,
                Some("webhook") => RunnerKind::Webhook,
                Some("runtype") => RunnerKind::Runtype,
                Some(other) => {
                    return Err(format!(
                        "RUNTYPE_RUNNER must be none, webhook or runtype, not {other:?}"
                    ))
                }
            },
            url: v.url("RUNTYPE_RUNNER_URL")?,
            webhook_secret: v.text("RUNTYPE_WEBHOOK_SECRET"),
            token: v.text("RUNTYPE_RUNNER_TOKEN"),
            secret_id: v.text("RUNTYPE_RUNNER_SECRET_ID"),
            secret_from_extension: v.text("RUNTYPE_RUNNER_SECRET_SOURCE").as_deref()
                == Some("extension"),
            max_attempts: v.number(
                "RUNTYPE_RUNNER_MAX_ATTEMPTS",
                d.runner.max_attempts,
                1..=100,
            )?,
            timeout: Duration::from_millis(v.number(
                "RUNTYPE_RUNNER_TIMEOUT_MS",
                d.runner.timeout.as_millis() as u64,
                1..=900_000,
            )?),
            concurrency: v.number(
                "RUNTYPE_DELIVERY_CONCURRENCY",
                d.runner.concurrency,
                1..=1000,
            )?,
            report_timeout: Duration::from_secs(v.number(
                "RUNTYPE_RUNNER_REPORT_TIMEOUT_S",
                d.runner.report_timeout.as_secs(),
                1..=7 * 86_400,
            )?),
        };
        Ok(Config {
            public_url: v
                .text("RUNTYPE_PUBLIC_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_default(),
            jwt: jwt(&v)?,
            limits,
            retention_days: v.number(
                "RUNTYPE_EXECUTION_RETENTION_DAYS",
                d.retention_days,
                1..=36_500,
            )?,
            log_level,
            scheduler_concurrency: v.number(
                "RUNTYPE_SCHEDULER_CONCURRENCY",
                d.scheduler_concurrency,
                1..=256,
            )?,
            header_read_timeout: Duration::from_millis(v.number(
                "RUNTYPE_HEADER_READ_TIMEOUT_MS",
                d.header_read_timeout.as_millis() as u64,
                1..=3_600_000,
            )?),
            body_read_timeout: Duration::from_millis(v.number(
                "RUNTYPE_BODY_READ_TIMEOUT_MS",
                d.body_read_timeout.as_millis() as u64,
                1..=3_600_000,
            )?),
            gateway_reads_per_minute: v.number(
                "RUNTYPE_GATEWAY_READS_PER_MINUTE",
                d.gateway_reads_per_minute,
                1..=1_000_000,
            )?,
            protocol_wait_s: v.number(
                "RUNTYPE_PROTOCOL_WAIT_S",
                d.protocol_wait_s,
                1..=crate::rules::gateway::MAX_WAIT_SECS,
            )?,
            metrics_namespace: v
                .text("RUNTYPE_METRICS_NAMESPACE")
                .unwrap_or_else(|| d.metrics_namespace.clone()),
            runner,
            flow_allowlist: match v.text("RUNTYPE_FLOW_ALLOWLIST") {
                None => None,
                Some(text) => Some(FlowAllowlist(serde_json::from_str(&text).map_err(|_| {
                    "RUNTYPE_FLOW_ALLOWLIST must be JSON: {\"<owner id>\": [\"<flow or agent id>\", …], \"*\": […]}".to_string()
                })?)),
            },
            table_name: v.text("TABLE_NAME"),
            retry_queue_url: v.text("RETRY_QUEUE_URL"),
        })
    }

    /// The defaults, with public URLs under `public_url` (tests, benchmarks).
    pub fn local(public_url: &str) -> Config {
        Config::default().with_default_url(public_url)
    }

    /// `public_url` as the base of public URLs unless `RUNTYPE_PUBLIC_URL` set one.
    pub fn with_default_url(mut self, public_url: &str) -> Config {
        if self.public_url.is_empty() {
            self.public_url = public_url.trim_end_matches('/').to_string();
        }
        self
    }
}

fn jwt<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> Result<Option<JwtConfig>, String> {
    let Some(issuer) = v.text("RUNTYPE_JWT_ISSUER") else {
        return Ok(None);
    };
    let source =
        match (v.text("RUNTYPE_JWKS_URL"), v.text("RUNTYPE_JWKS_FILE")) {
            (Some(url), None) => JwksSource::Url(checked_url(&url)?),
            (None, Some(file)) => JwksSource::File(PathBuf::from(file)),
            (Some(_), Some(_)) => {
                return Err("set RUNTYPE_JWKS_URL or RUNTYPE_JWKS_FILE, not both".into())
            }
            (None, None) => return Err(
                "RUNTYPE_JWT_ISSUER is set but neither RUNTYPE_JWKS_URL nor RUNTYPE_JWKS_FILE is"
                    .into(),
            ),
        };
    let authorized_parties = v
        .text("RUNTYPE_JWT_AUTHORIZED_PARTIES")
        .map(|list| {
            list.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(JwtConfig {
        issuer,
        source,
        authorized_parties,
        leeway_secs: 5,
        min_refresh: Duration::from_secs(60),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn jwks_urls_must_be_https_except_on_loopback() {
        assert!(checked_url("https://clerk.example.com/.well-known/jwks.json").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks.json").is_ok());
        assert!(checked_url("http://localhost/jwks.json").is_ok());
        assert!(checked_url("http://[::1]:9/jwks.json").is_ok());
        let e = checked_url("http://clerk.example.com/jwks.json").unwrap_err();
        assert!(e.contains("https://"), "{e}");
        assert!(checked_url("ftp://x/jwks").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn unset_is_the_defaults() {
        let c = from(&[]).unwrap();
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.log_level, "info");
        assert_eq!(c.runner.kind, RunnerKind::None);
        assert_eq!(c.runner.max_attempts, 8);
        assert_eq!(c.runner.timeout, Duration::from_secs(30));
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
        assert!(c.jwt.is_none());
        assert_eq!(c.with_default_url("http://x/").public_url, "http://x");
    }

    #[test]
    fn each_variable_is_read() {
        let c = from(&[
            ("RUNTYPE_QUOTA_KEYS_PER_SURFACE", " 3 "),
            ("RUNTYPE_EXECUTION_RETENTION_DAYS", "7"),
            ("RUNTYPE_PUBLIC_URL", "https://api.example.com/"),
            ("RUNTYPE_RUNNER", "webhook"),
            ("RUNTYPE_RUNNER_URL", "http://127.0.0.1:9/hook"),
            ("RUNTYPE_WEBHOOK_SECRET", "whsec_x"),
            ("RUNTYPE_RUNNER_TIMEOUT_MS", "1500"),
            ("RUNTYPE_SCHEDULER_CONCURRENCY", "4"),
            ("RUNTYPE_LOG_LEVEL", "WARN"),
        ])
        .unwrap();
        assert_eq!(c.limits.keys_per_surface, 3);
        assert_eq!(c.retention_days, 7);
        assert_eq!(
            c.clone().with_default_url("http://x").public_url,
            "https://api.example.com"
        );
        assert_eq!(c.runner.kind, RunnerKind::Webhook);
        assert_eq!(c.runner.inline_secret().as_deref(), Some("whsec_x"));
        assert_eq!(c.runner.timeout, Duration::from_millis(1500));
        assert_eq!(c.scheduler_concurrency, 4);
        assert_eq!(c.log_level, "warn");
        let c = from(&[(
            "RUNTYPE_FLOW_ALLOWLIST",
            r#"{"acct_1": ["flow_a", "agent_b"], "*": ["flow_public"]}"#,
        )])
        .unwrap();
        let list = c.flow_allowlist.unwrap();
        assert!(list.allows("acct_1", "flow_a") && list.allows("acct_1", "agent_b"));
        assert!(
            !list.allows("acct_1", "flow_public"),
            "a listed owner has its own list"
        );
        assert!(list.allows("acct_2", "flow_public") && !list.allows("acct_2", "flow_a"));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("RUNTYPE_QUOTA_PRODUCTS_PER_OWNER", "-1"),
            ("RUNTYPE_RUNNER", "carrier-pigeon"),
            ("RUNTYPE_RUNNER_URL", "ftp://x"),
            ("RUNTYPE_RUNNER_MAX_ATTEMPTS", "0"),
            ("RUNTYPE_DELIVERY_CONCURRENCY", "many"),
            ("RUNTYPE_EXECUTION_RETENTION_DAYS", "0"),
            ("RUNTYPE_LOG_LEVEL", "loud"),
            ("RUNTYPE_FLOW_ALLOWLIST", "acct_1=flow_a"),
            ("RUNTYPE_JWKS_URL", "http://example.com/jwks"),
        ] {
            let mut pairs = vec![(name, value)];
            if name == "RUNTYPE_JWKS_URL" {
                pairs.push(("RUNTYPE_JWT_ISSUER", "https://issuer"));
            }
            let err = from(&pairs).unwrap_err();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
