//! The harness of the contract suite: one app per test on a fresh store (an SQLite file or a
//! new table on DynamoDB Local), and helpers to call it as HTTP would.

#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request};
use runtype::app::{App, Backend, Config};
use runtype::repo::accounts;
use runtype::store::dynamo::DynamoTable;
use runtype::store::RequestCounter;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Dynamo,
}

/// DynamoDB Local's endpoint, which the test command starts. Missing is a failure, not a
/// skip: the suite must run on both backends.
pub fn dynamo_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_DYNAMODB is not set: run the suite with ./test.sh, which starts DynamoDB Local")
    })
}

pub struct TestApp {
    pub app: App,
    pub store: Store,
    pub backend: Backend,
    /// A full-access platform key of `owner`.
    pub key: String,
    pub owner: String,
    dir: Option<std::path::PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub struct Res {
    pub status: u16,
    pub body: Value,
    pub headers: http::HeaderMap,
}

impl std::fmt::Debug for Res {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Res {
    /// The `code`s of a validation error's details, with their paths.
    pub fn details(&self) -> Vec<(String, String)> {
        self.body["details"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        (
                            d["path"].as_str().unwrap_or("").to_string(),
                            d["code"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has_detail(&self, path: &str, code: &str) -> bool {
        self.details().iter().any(|(p, c)| p == path && c == code)
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .expect("response has an id")
            .to_string()
    }
}

pub async fn backend_for(store: Store) -> (Backend, Option<std::path::PathBuf>) {
    match store {
        Store::Sqlite => {
            let dir = std::env::temp_dir().join(runtype::ids::new_id("runtype-test"));
            (Backend::Embedded(dir.join("data.db")), Some(dir))
        }
        Store::Dynamo => {
            let endpoint = dynamo_endpoint();
            let table = runtype::ids::new_id("t");
            let t = DynamoTable::from_env(
                table.clone(),
                Some(endpoint.clone()),
                RequestCounter::default(),
            )
            .await;
            t.create_table()
                .await
                .expect("create a table on DynamoDB Local");
            (
                Backend::DynamoDb {
                    table,
                    endpoint: Some(endpoint),
                },
                None,
            )
        }
    }
}

pub fn config() -> Config {
    Config::local("http://test.local")
}

impl TestApp {
    pub async fn new(store: Store) -> TestApp {
        let (backend, dir) = backend_for(store).await;
        let app = App::open(&backend, config()).await.expect("open the store");
        let (account, key) = accounts::create_account(app.table(), "test")
            .await
            .expect("account");
        TestApp {
            app,
            store,
            backend,
            key: key.plaintext,
            owner: account.id,
            dir,
        }
    }

    /// Another app on the same store (a second process or Lambda instance).
    pub async fn sibling(&self) -> App {
        App::open(&self.backend, config())
            .await
            .expect("open the store again")
    }

    /// A new account on the same store; answers its key.
    pub async fn other_owner(&self) -> String {
        let (_, key) = accounts::create_account(self.app.table(), "other")
            .await
            .expect("account");
        key.plaintext
    }

    pub async fn key_for(&self, read_only: bool) -> (String, String) {
        let k = accounts::create_key(self.app.table(), &self.owner, read_only, false)
            .await
            .expect("key");
        (k.record.id, k.plaintext)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Res {
        self.call_as(&self.key.clone(), method, path, body).await
    }

    pub async fn call_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Res {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        let bytes = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        self.raw(b.body(bytes).unwrap()).await
    }

    pub async fn raw(&self, req: Request<Bytes>) -> Res {
        send(&self.app, req).await
    }

    /// Storage round trips made by `f`'s requests.
    pub fn requests(&self) -> u64 {
        self.app.requests.get()
    }

    pub async fn product(&self, name: &str) -> String {
        let r = self
            .call(
                "POST",
                "/v1/products",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.id()
    }

    pub async fn capability(&self, product: &str, name: &str) -> String {
        let r = self
            .call(
                "POST",
                &format!("/v1/products/{product}/capabilities"),
                Some(serde_json::json!({ "capabilityName": name, "flowId": "flow_1" })),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.id()
    }
}

pub async fn send(app: &App, req: Request<Bytes>) -> Res {
    let out = runtype::router::handle(app, req, "req_test").await;
    let status = out.response.status().as_u16();
    let headers = out.response.headers().clone();
    let body: Value = serde_json::from_slice(out.response.body()).expect("every response is JSON");
    Res {
        status,
        body,
        headers,
    }
}

/// Run each named case on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::common::Store::Sqlite).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::common::Store::Dynamo).await
                }
            )*
        }
    };
}

/// Everything the store holds, as text: the SQLite file (with its WAL) or a Scan of the
/// DynamoDB table. For checking that a secret never reached storage.
pub async fn everything_stored(t: &TestApp) -> String {
    match &t.backend {
        Backend::Embedded(path) => {
            let mut out = String::new();
            for suffix in ["", "-wal", "-shm"] {
                let p = format!("{}{suffix}", path.display());
                if let Ok(bytes) = std::fs::read(&p) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            out
        }
        Backend::DynamoDb { table, endpoint } => {
            let t =
                DynamoTable::from_env(table.clone(), endpoint.clone(), RequestCounter::default())
                    .await;
            let client = t.client();
            let mut out = String::new();
            let mut start = None;
            loop {
                let page = client
                    .scan()
                    .table_name(table)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .expect("scan DynamoDB Local");
                out.push_str(&format!("{:?}", page.items()));
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
            out
        }
    }
}
