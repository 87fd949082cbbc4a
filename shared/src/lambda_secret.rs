//! The runner's secret on Lambda (the delivery function's, and a gateway function's when a
//! caller waits): read through the Parameters and Secrets Lambda Extension (plain HTTP), or
//! from Secrets Manager with its SDK where that is linked in (`runner-secret-sdk`: the
//! delivery function; the gateway functions keep small without it).

use crate::config::{RunnerConfig, RunnerKind};
#[cfg(feature = "runner-secret-sdk")]
use crate::store::dynamo::lambda_identity;
use lambda_runtime::Error;

/// The runner's token or webhook secret: the Secrets Manager secret named by
/// `RUNTYPE_RUNNER_SECRET_ID`, read once per cold start — with the Secrets Manager SDK
/// client (the default), or from the AWS Parameters and Secrets Lambda Extension when
/// `RUNTYPE_RUNNER_SECRET_SOURCE=extension` (the function then needs the extension's layer).
pub async fn runner_secret(runner: &RunnerConfig) -> Result<Option<String>, Error> {
    if runner.kind == RunnerKind::None {
        return Ok(None);
    }
    let id = runner
        .secret_id
        .clone()
        .ok_or("RUNTYPE_RUNNER_SECRET_ID is not set")?;
    let text = match runner.secret_from_extension {
        true => from_extension(&id).await?,
        false => from_secrets_manager(&id).await?,
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("the runner secret {id} has no text value").into());
    }
    Ok(Some(secret.to_string()))
}

/// `SecretString` from the extension's local endpoint (its port from
/// `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, default 2773; the session token authorises).
async fn from_extension(id: &str) -> Result<String, Error> {
    use crate::outbound::{HttpClient, Reply};
    let port = std::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT").unwrap_or("2773".into());
    let query: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url: http::Uri = format!("http://localhost:{port}/secretsmanager/get?secretId={query}")
        .parse()
        .map_err(|_| "the extension's URL")?;
    let token = std::env::var("AWS_SESSION_TOKEN").unwrap_or_default();
    let client = HttpClient::new("the secrets extension", std::time::Duration::from_secs(5));
    match client
        .get(&url, &[("x-aws-parameters-secrets-token", token)])
        .await
    {
        Reply::Answered {
            status: 200, body, ..
        } => Ok(body["SecretString"]
            .as_str()
            .ok_or("the extension's answer has no SecretString")?
            .to_string()),
        Reply::Answered { status, .. } => {
            Err(format!("the secrets extension answered {status} for {id}").into())
        }
        Reply::TimedOut => Err("the secrets extension did not answer".into()),
        Reply::Unreachable(e) => Err(format!("the secrets extension: {e}").into()),
    }
}

/// Without the Secrets Manager SDK linked in (the gateway functions keep small): the
/// extension is the only way.
#[cfg(not(feature = "runner-secret-sdk"))]
async fn from_secrets_manager(_id: &str) -> Result<String, Error> {
    Err("this function reads the runner's secret only through the Parameters and Secrets extension (RUNTYPE_RUNNER_SECRET_SOURCE=extension)".into())
}

#[cfg(feature = "runner-secret-sdk")]
async fn from_secrets_manager(id: &str) -> Result<String, Error> {
    let (region, credentials) = lambda_identity()?;
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(crate::aws_http::sdk_http_client());
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_SECRETSMANAGER") {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the runner secret {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    Ok(out.secret_string().unwrap_or_default().to_string())
}
