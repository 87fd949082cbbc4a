//! The AWS SDK clients' HTTP (DynamoDB, and Secrets Manager and SQS where linked): the same
//! hyper + rustls stack as `outbound`, HTTP/1.1 only, with the compiled-in web PKI roots.
//!
//! Not the SDK's own client (`aws-smithy-http-client`): that one brings HTTP/2, its own TLS
//! set-up and a root bundle parsed at every cold start — 1.1–1.4 MiB of every function and
//! about half a millisecond of its init, none of which a call to an AWS endpoint over HTTP/1.1
//! needs (BENCHMARKS.md, "Function size").

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::outbound::{hyper_client, HyperClient};

/// The client every AWS SDK client here is built with.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(SdkHttp::default())
}

/// One connection pool per SDK client, made on its first request with the connect timeout
/// the client asks for (it asks for the same on every request).
#[derive(Debug, Default, Clone)]
struct SdkHttp {
    pool: Arc<OnceLock<HyperClient>>,
}

impl HttpClient for SdkHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let pool = self
            .pool
            .get_or_init(|| hyper_client(settings.connect_timeout()));
        SharedHttpConnector::new(Connector(pool.clone()))
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1".into())))
    }
}

#[derive(Debug, Clone)]
struct Connector(HyperClient);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match into_hyper(request) {
            Ok(r) => r,
            Err(e) => return HttpConnectorFuture::ready(Err(e)),
        };
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let response = client.request(request).await.map_err(classify)?;
            let (parts, body) = response.into_parts();
            // the SDK reads the whole body before it parses it; reading it here keeps the
            // body type simple (an AWS answer here is at most a 1 MB query page)
            let body = body
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .to_bytes();
            let response = http::Response::from_parts(parts, SdkBody::from(body));
            Response::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The SDK's request as hyper's: every body the SDK sends here is in memory.
fn into_hyper(request: HttpRequest) -> Result<http::Request<Full<Bytes>>, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let bytes = body
        .bytes()
        .map(Bytes::copy_from_slice)
        .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?;
    Ok(http::Request::from_parts(parts, Full::new(bytes)))
}

/// Which failures the SDK's retry policy may try again: a connection that could not be made
/// or broke (timeouts included) is transient; a request hyper refused to send is not.
fn classify(e: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper_error = source::<hyper::Error>(&e);
    if hyper_error.is_some_and(|h| h.is_user()) {
        return ConnectorError::user(e.into());
    }
    if hyper_error.is_some_and(|h| h.is_timeout())
        || source::<std::io::Error>(&e).is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    {
        return ConnectorError::timeout(e.into());
    }
    if e.is_connect()
        || source::<std::io::Error>(&e).is_some()
        || hyper_error.is_some_and(|h| h.is_closed() || h.is_canceled())
    {
        return ConnectorError::io(e.into());
    }
    if hyper_error.is_some_and(|h| h.is_incomplete_message()) {
        return ConnectorError::other(e.into(), Some(ErrorKind::TransientError));
    }
    ConnectorError::other(e.into(), None)
}

fn source<'a, E: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        // a port nothing listens on: bind one, then let it go
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = hyper_client(Some(Duration::from_secs(1)));
        let req = http::Request::get(format!("http://127.0.0.1:{port}/"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let e = classify(client.request(req).await.unwrap_err());
        assert!(e.is_io(), "{e:?}");
    }

    #[test]
    fn streaming_bodies_are_refused_not_sent() {
        let mut req = HttpRequest::new(SdkBody::taken());
        req.set_uri("http://127.0.0.1:1/").unwrap();
        let e = into_hyper(req).unwrap_err();
        assert!(e.is_user(), "{e:?}");
    }
}
