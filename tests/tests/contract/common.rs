//! The harness of the contract suite: one app per test on a fresh store (an SQLite file or a
//! new table on DynamoDB Local), and helpers to call it as HTTP would.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Method, Request};
use runtype::app::{App, Backend, Config};
use runtype::repo::accounts;
use runtype::router::{self, Route};
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

    /// This answer, which must have `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Res {
        assert_eq!(self.status, status, "{self:?}");
        self
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .expect("response has an id")
            .to_string()
    }
}

/// `route`'s path with `ids` in its parameters, in order.
pub fn path<const N: usize>(route: &Route, ids: [&str; N]) -> String {
    runtype_tests::seed::path(route, &ids)
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
        let (account, key) = accounts::create_account(app.table(), "test", &app.clock.now_string())
            .await
            .expect("account");
        TestApp {
            app,
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
        let (_, key) =
            accounts::create_account(self.app.table(), "other", &self.app.clock.now_string())
                .await
                .expect("account");
        key.plaintext
    }

    pub async fn key_for(&self, read_only: bool) -> (String, String) {
        let k = accounts::create_key(
            self.app.table(),
            &self.owner,
            read_only,
            false,
            &self.app.clock.now_string(),
        )
        .await
        .expect("key");
        (k.record.id, k.plaintext)
    }

    /// Call `route` as the owner, its path parameters given in the template's order.
    pub async fn send<const N: usize>(
        &self,
        route: &Route,
        ids: [&str; N],
        body: Option<Value>,
    ) -> Res {
        self.send_as(&self.key.clone(), route, ids, body).await
    }

    /// Call `route` with `key`.
    pub async fn send_as<const N: usize>(
        &self,
        key: &str,
        route: &Route,
        ids: [&str; N],
        body: Option<Value>,
    ) -> Res {
        let method = route.method.as_str();
        self.call_as(key, method, &path(route, ids), body).await
    }

    /// A request by hand (a path a route does not make, a query string, a method no route
    /// has): what the typed `send` cannot say.
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
            .send(
                &router::CREATE_PRODUCT,
                [],
                Some(serde_json::json!({ "name": name })),
            )
            .await
            .expect(201);
        r.id()
    }

    /// A surface `name` of type `kind` under `product`; its id.
    pub async fn surface(&self, product: &str, name: &str, kind: &str) -> String {
        let path = format!("/v1/products/{product}/surfaces");
        let body = serde_json::json!({ "name": name, "type": kind });
        let r = self.call("POST", &path, Some(body)).await;
        assert_eq!(r.status, 201, "{r:?}");
        r.id()
    }

    /// A new key (no limits, no scopes) of `surface` under `product`; its plaintext.
    pub async fn surface_key(&self, product: &str, surface: &str) -> String {
        let r = self
            .send(
                &router::CREATE_SURFACE_KEY,
                [product, surface],
                Some(serde_json::json!({})),
            )
            .await
            .expect(201);
        r.body["key"].as_str().unwrap().to_string()
    }

    pub async fn capability(&self, product: &str, name: &str) -> String {
        let r = self
            .send(
                &router::ADD_CAPABILITY,
                [product],
                Some(serde_json::json!({ "capabilityName": name, "flowId": "flow_1" })),
            )
            .await
            .expect(201);
        r.id()
    }
}

pub async fn send(app: &App, req: Request<Bytes>) -> Res {
    let out = runtype::router::handle(app, req, "req_test").await;
    let status = out.response.status().as_u16();
    let headers = out.response.headers().clone();
    // every answer is JSON, but for one with nothing to say (a notification taken: 202)
    let body: Value = match out.response.body().is_empty() {
        true => Value::Null,
        false => serde_json::from_slice(out.response.body()).expect("every response is JSON"),
    };
    Res {
        status,
        body,
        headers,
    }
}

/// One test case of the suite, before it becomes a `libtest_mimic::Trial`.
pub struct Case {
    pub name: String,
    /// The backend it needs (it is skipped, and reported as ignored, when that backend is
    /// switched off with `RUNTYPE_TEST_BACKENDS`).
    pub store: Option<Store>,
    pub run: Box<dyn FnOnce() + Send>,
}

pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Case {
    /// `f` on `store`, on a runtime of its own.
    pub fn on(store: Store, name: &str, f: fn(Store) -> CaseFuture) -> Case {
        let prefix = match store {
            Store::Sqlite => "sqlite",
            Store::Dynamo => "dynamodb",
        };
        Case {
            name: format!("{prefix}::{name}"),
            store: Some(store),
            run: Box::new(move || block_on(f(store))),
        }
    }

    /// An async case that needs no backend of the suite's (or makes its own).
    pub fn tokio(name: &str, store: Option<Store>, f: fn() -> CaseFuture) -> Case {
        Case {
            name: name.to_string(),
            store,
            run: Box::new(move || block_on(f())),
        }
    }

    pub fn plain(name: &str, f: fn()) -> Case {
        Case {
            name: name.to_string(),
            store: None,
            run: Box::new(f),
        }
    }
}

fn block_on(f: CaseFuture) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// The backends to run: `RUNTYPE_TEST_BACKENDS` (`sqlite`, `dynamodb`, or both separated
/// by a comma); both when unset, as `./test.sh` runs them.
pub fn backends() -> Vec<Store> {
    match std::env::var("RUNTYPE_TEST_BACKENDS") {
        Err(_) => vec![Store::Sqlite, Store::Dynamo],
        Ok(v) => v
            .split(',')
            .map(|b| match b.trim() {
                "sqlite" => Store::Sqlite,
                "dynamodb" => Store::Dynamo,
                other => {
                    panic!("RUNTYPE_TEST_BACKENDS: unknown backend {other:?} (sqlite, dynamodb)")
                }
            })
            .collect(),
    }
}

/// A module's cases: `both` run on each backend, `tokio` are async cases that need no
/// backend of the suite's, `dynamodb` async cases that need DynamoDB Local, `plain` are
/// synchronous.
#[macro_export]
macro_rules! cases {
    (
        $(both: [$($both:ident),* $(,)?] $(,)?)?
        $(tokio: [$($tokio:ident),* $(,)?] $(,)?)?
        $(dynamodb: [$($dynamo:ident),* $(,)?] $(,)?)?
        $(plain: [$($plain:ident),* $(,)?] $(,)?)?
    ) => {
        #[allow(clippy::vec_init_then_push)]
        pub fn cases() -> Vec<$crate::common::Case> {
            #[allow(unused_imports)]
            use $crate::common::{Case, Store};
            #[allow(unused_mut)]
            let mut cases = Vec::new();
            $($(
                for store in [Store::Sqlite, Store::Dynamo] {
                    cases.push(Case::on(store, stringify!($both), |s| Box::pin($both(s))));
                }
            )*)?
            $($(
                cases.push(Case::tokio(stringify!($tokio), None, || Box::pin($tokio())));
            )*)?
            $($(
                cases.push(Case::tokio(stringify!($dynamo), Some(Store::Dynamo), || Box::pin($dynamo())));
            )*)?
            $($(
                cases.push(Case::plain(stringify!($plain), $plain));
            )*)?
            cases
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

/// Give `app` a webhook runner at `url` (signed with `delivery::SECRET`) that this process
/// attempts executions with itself, as `runtype serve` does with `RUNTYPE_RUNNER=webhook`;
/// answers the deliverer.
pub fn attempt_with_webhook(
    app: &mut App,
    url: &str,
) -> std::sync::Arc<runtype::delivery::Deliverer> {
    let settings =
        runtype::delivery::runner::Settings::webhook(url, crate::delivery::SECRET).unwrap();
    let d = std::sync::Arc::new(
        runtype::delivery::Deliverer::new(
            app.table_handle(),
            settings,
            app.clock.clone(),
            "http://test.local",
        )
        .notifying(app.executions_settled.clone()),
    );
    app.deliverer = Some(d.clone());
    app.config.runner.kind = runtype::config::RunnerKind::Webhook;
    d
}

/// Make the schedule `id` (of surface `s` of product `p`) due at `at`, as if its time came.
pub async fn make_due(app: &App, p: &str, s: &str, id: &str, at: chrono::DateTime<chrono::Utc>) {
    use runtype::repo::Record;
    let table = app.table();
    let found = table
        .get(&runtype::repo::layout::schedule(p, s, id))
        .await
        .unwrap()
        .unwrap();
    let mut sched: runtype::model::Schedule = serde_json::from_value(found.data.clone()).unwrap();
    sched.next_run_at = Some(runtype::time::format(at));
    table
        .put(
            sched.to_item(found.version + 1),
            runtype::store::Cond::Version(found.version),
        )
        .await
        .unwrap();
}

/// A request as a client sends it: `method`, `path`, these `headers` and this `body`.
pub async fn raw_request(
    app: &App,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Res {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Bytes::from(body.to_string())).unwrap()).await
}

/// A protocol surface to talk to: a new app (its clock a day ahead, fixed) and a surface of
/// `kind` seeded on it (`seed::surface_of`); with `runner`, a webhook runner the app attempts
/// executions with itself.
pub async fn protocol_surface(
    store: Store,
    kind: &str,
    config: Value,
    key_body: Value,
    runner: Option<&str>,
) -> (TestApp, runtype_tests::seed::ApiSurface) {
    let mut t = TestApp::new(store).await;
    t.app.clock = runtype::time::Clock::fixed(chrono::Utc::now() + chrono::Duration::days(1));
    let seeded = runtype_tests::seed::surface_of(&t.app, &t.key, kind, config, key_body).await;
    if let Some(url) = runner {
        attempt_with_webhook(&mut t.app, url);
    }
    (t, seeded)
}
