//! A local HTTP/1 server on a free loopback port, for the fakes the tests and benchmarks talk
//! to (a runner, a JWKS, the Lambda Runtime API, a latency proxy): each request goes to
//! `service`, whose answer is sent back.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

pub type Response = hyper::Response<Full<Bytes>>;

/// A running server: `host:port`, and the task that accepts (abort it to stop).
pub struct Listening {
    pub addr: String,
    pub task: tokio::task::JoinHandle<()>,
}

/// A request read whole: its head and body (empty if it broke off).
pub async fn whole(req: hyper::Request<Incoming>) -> (http::request::Parts, Bytes) {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (parts, body)
}

pub async fn serve<S, Fut>(service: S) -> Listening
where
    S: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let answer = service(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Listening { addr, task }
}
