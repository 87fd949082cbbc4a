//! A runner for delivery to call: a real HTTP server on a local port that records every
//! request and answers as the test scripts it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

/// One request the runner received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON request body")
    }
}

/// How to answer.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16, String),
    /// With extra headers.
    With(u16, Vec<(&'static str, String)>, String),
    /// Never answer (the caller times out).
    Hang,
}

pub fn ok(body: &str) -> Answer {
    Answer::Status(200, body.to_string())
}

type Script = dyn Fn(usize, &Received) -> Answer + Send + Sync;

pub struct Runner {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Runner {
    /// Answer each request with `script(n, request)`, `n` counting from 0.
    pub async fn start(
        script: impl Fn(usize, &Received) -> Answer + Send + Sync + 'static,
    ) -> Runner {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = received.clone();
        let server = crate::listen::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let (log, script) = (log.clone(), script.clone());
            async move {
                let (parts, body) = crate::listen::whole(req).await;
                let got = Received {
                    path: parts.uri.path().to_string(),
                    headers: parts.headers,
                    body,
                };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(got.clone());
                    log.len() - 1
                };
                let (status, headers, body) = match script(n, &got) {
                    Answer::Status(s, b) => (s, Vec::new(), b),
                    Answer::With(s, h, b) => (s, h, b),
                    Answer::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        (200, Vec::new(), String::new())
                    }
                };
                let mut res = hyper::Response::new(Full::new(Bytes::from(body)));
                *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                for (name, value) in headers {
                    res.headers_mut().insert(name, value.parse().unwrap());
                }
                res
            }
        })
        .await;
        Runner {
            url: format!("http://{}", server.addr),
            received,
            server: server.task,
        }
    }

    /// Everything received so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}
