//! The one outbound HTTP client (delivery to the runner, the identity provider's JWKS):
//! hyper over rustls with the compiled-in web PKI roots (no certificate files read), pooled
//! connections, a deadline on every exchange.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The most of an answer kept as an execution's `result`.
pub const MAX_RESULT: usize = 64 * 1024;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// hyper's pooled client over the one TLS stack (also under the AWS SDK clients, `aws_http`).
pub type HyperClient = Client<Connector, Full<Bytes>>;

/// A pooled HTTP/1.1 client, `https` or `http`, trusting the compiled-in web PKI roots.
pub fn hyper_client(connect_timeout: Option<Duration>) -> HyperClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(connect_timeout);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https)
}

/// Made on first use (a cold start that sends nothing does not build a TLS context).
pub struct HttpClient {
    client: std::sync::OnceLock<HyperClient>,
    timeout: Duration,
    /// What its errors call the other end ("the runner").
    peer: &'static str,
}

/// An answer as received: status, headers, and the body unless it was over the limit.
pub struct Raw {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Option<Bytes>,
}

/// What one request came to.
#[derive(Debug)]
pub enum Reply {
    Answered {
        status: u16,
        /// `Retry-After`, as a wait.
        retry_after: Option<Duration>,
        /// The body as JSON (a non-JSON body as a string; too large: `{"truncated": true}`).
        body: Value,
    },
    TimedOut,
    /// No answer: the connection failed or broke.
    Unreachable(String),
}

impl HttpClient {
    pub fn new(peer: &'static str, timeout: Duration) -> HttpClient {
        HttpClient {
            client: std::sync::OnceLock::new(),
            timeout,
            peer,
        }
    }

    fn client(&self) -> &HyperClient {
        // the exchange's own deadline bounds connecting too
        self.client.get_or_init(|| hyper_client(None))
    }

    /// POST `body` to `url` with `headers`; the whole exchange, body included, within the
    /// timeout.
    pub async fn post(&self, url: &http::Uri, headers: &[(&str, String)], body: Bytes) -> Reply {
        self.send(http::Method::POST, url, headers, body).await
    }

    /// GET `url` with `headers`, within the timeout.
    pub async fn get(&self, url: &http::Uri, headers: &[(&str, String)]) -> Reply {
        self.send(http::Method::GET, url, headers, Bytes::new())
            .await
    }

    async fn send(
        &self,
        method: http::Method,
        url: &http::Uri,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Reply {
        match self.exchange(method, url, headers, body, MAX_RESULT).await {
            Ok(raw) => Reply::Answered {
                status: raw.status,
                retry_after: raw
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after),
                body: raw.body.map_or_else(
                    || serde_json::json!({ "truncated": true }),
                    |b| parse_body(&b),
                ),
            },
            Err(failed) => failed,
        }
    }

    /// One exchange, body included, within the timeout; the body is kept up to `limit`
    /// bytes. `Err` is `Reply::TimedOut` or `Reply::Unreachable`.
    pub async fn exchange(
        &self,
        method: http::Method,
        url: &http::Uri,
        headers: &[(&str, String)],
        body: Bytes,
        limit: usize,
    ) -> Result<Raw, Reply> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "runtype/1");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| Reply::Unreachable(format!("bad request: {e}")))?;
        let exchange = async {
            let res = self.client().request(req).await;
            let res = res.map_err(|e| describe(&e, self.peer))?;
            let (parts, body) = res.into_parts();
            let body = match Limited::new(body, limit).collect().await {
                Ok(b) => Some(b.to_bytes()),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => None,
                Err(e) => return Err(format!("the answer broke off: {e}")),
            };
            Ok(Raw {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(raw)) => Ok(raw),
            Ok(Err(e)) => Err(Reply::Unreachable(e)),
            Err(_) => Err(Reply::TimedOut),
        }
    }
}

/// A connection error, without the URL (which may carry credentials).
fn describe(e: &hyper_util::client::legacy::Error, peer: &str) -> String {
    let mut text = if e.is_connect() {
        format!("cannot connect to {peer}")
    } else {
        format!("the request to {peer} failed")
    };
    if let Some(source) = std::error::Error::source(e) {
        text.push_str(&format!(": {source}"));
    }
    text
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// `Retry-After`: whole seconds, or an HTTP date.
pub fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.timestamp() - crate::time::Clock::system().now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn bodies_become_json() {
        assert_eq!(parse_body(b""), Value::Null);
        assert_eq!(parse_body(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(parse_body(b"ok"), Value::String("ok".into()));
    }
}
