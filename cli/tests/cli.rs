//! The `runtype` command as users run it: real processes, real files, real sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runtype"))
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(runtype::ids::new_id("runtype-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run runtype")
}

fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

/// A running `runtype serve`, stopped on drop.
struct Server {
    child: Child,
    url: String,
    /// Lines printed to stdout before it started listening.
    banner: Vec<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    fn start_with(data: &Path, extra: &[&str]) -> Server {
        Server::start_env(data, extra, &[])
    }

    fn start_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = bin()
            .args(["serve", "--port", "0", "--data"])
            .arg(data)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start runtype serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let url = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(rest) = line
                .split(" on ")
                .nth(1)
                .filter(|_| line.contains("serving"))
            {
                break rest.trim().to_string();
            }
            banner.push(line);
        };
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server {
            child,
            url,
            banner,
            stderr: rx,
        }
    }

    fn key(&self) -> Option<String> {
        self.banner
            .iter()
            .flat_map(|l| l.split_whitespace())
            .find(|w| w.starts_with("rt_live_"))
            .map(|w| w.trim_matches('\'').to_string())
    }

    /// One HTTP/1.1 request; answers (status, body).
    fn request(&self, method: &str, path: &str, key: &str, body: Option<&str>) -> (u16, Value) {
        request(&self.url, method, path, key, body)
    }

    fn logs(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(300)) {
            out.push(l);
        }
        out
    }
}

/// A GET with no key; answers the whole raw response.
fn raw_get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

/// One HTTP/1.1 request to the server at `url`; answers (status, body).
fn request(url: &str, method: &str, path: &str, key: &str, body: Option<&str>) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn serve_creates_a_first_account_once_and_logs_safely() {
    let dir = temp_dir();
    let data = dir.join("nested/dir/local.db");
    let server = Server::start(&data);
    let key = server.key().expect("a new data file prints a key");
    assert!(data.exists(), "directories and file created");
    // the key once, in a curl command that works as printed
    let banner = server.banner.join("\n");
    assert_eq!(banner.matches(key.as_str()).count(), 1, "{banner}");
    assert!(
        banner.contains(&format!(
            "curl -H 'Authorization: Bearer {key}' {}/v1/products",
            server.url
        )),
        "{banner}"
    );
    let (status, body) = server.request(
        "POST",
        "/v1/products",
        &key,
        Some(r#"{"name":"From curl"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.request("GET", "/v1/products", &key, None);
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["name"], "From curl");
    let (status, _) = server.request("GET", "/v1/products", "rt_live_wrong", None);
    assert_eq!(status, 401);

    let logs = server.logs();
    let requests: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["msg"] == "request")
        .collect();
    assert_eq!(requests.len(), 3, "{logs:?}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["route"], "/v1/products");
    assert_eq!(requests[0]["status"], 201);
    assert!(requests[0]["durationMs"].is_number());
    assert!(requests[0]["requestId"]
        .as_str()
        .unwrap()
        .starts_with("req_"));
    for l in &logs {
        assert!(
            !l.contains(&key) && !l.contains("rt_live_wrong"),
            "a key reached the log: {l}"
        );
        assert!(
            !l.to_lowercase().contains("authorization") && !l.contains("From curl"),
            "{l}"
        );
    }
    drop(server);

    // the data is the owner's alone: new directories 0700, the file, WAL and SHM 0600
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("nested")), 0o700);
        assert_eq!(mode(&dir.join("nested/dir")), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", data.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    // the second start on the same file makes no new account and prints no key
    let again = Server::start(&data);
    assert_eq!(again.key(), None, "{:?}", again.banner);
    let (status, _) = again.request("GET", "/v1/products", &key, None);
    assert_eq!(status, 200);
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn commands_share_the_data_file_with_a_running_server() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let data_s = data.to_str().unwrap();
    let server = Server::start(&data);

    let acct = json_out(&run(&[
        "accounts", "create", "--name", "Acme", "--data", data_s,
    ]));
    let account = acct["accountId"].as_str().unwrap();
    let key = acct["apiKey"].as_str().unwrap();
    assert!(key.starts_with("rt_live_"));
    assert!(acct["keyId"].as_str().unwrap().starts_with("key_"));
    assert_eq!(server.request("GET", "/v1/products", key, None).0, 200);

    let ro = json_out(&run(&[
        "--data",
        data_s,
        "keys",
        "create",
        "--account",
        account,
        "--read-only",
        "--test",
    ]));
    assert_eq!(ro["accountId"], account);
    assert_eq!(ro["readOnly"], true);
    let ro_key = ro["apiKey"].as_str().unwrap();
    assert!(ro_key.starts_with("rt_test_"));
    assert_eq!(server.request("GET", "/v1/products", ro_key, None).0, 200);
    assert_eq!(
        server
            .request("POST", "/v1/products", ro_key, Some(r#"{"name":"x"}"#))
            .0,
        403
    );

    let revoked = json_out(&run(&[
        "keys",
        "revoke",
        "--id",
        ro["id"].as_str().unwrap(),
        "--data",
        data_s,
    ]));
    assert_eq!(revoked["revoked"], true);
    assert_eq!(
        server.request("GET", "/v1/products", ro_key, None).0,
        401,
        "revoked keys fail at once"
    );
    assert_eq!(server.request("GET", "/v1/products", key, None).0, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exit_codes() {
    let dir = temp_dir();
    let data = dir.join("x.db");
    let data_s = data.to_str().unwrap();
    let usage: &[&[&str]] = &[
        &["nonsense"],
        &["keys", "create"],
        &[
            "keys",
            "create",
            "--account",
            "not-an-account",
            "--data",
            data_s,
        ],
        &["keys", "revoke", "--id", "nope", "--data", data_s],
        &["accounts", "create", "--name", "  ", "--data", data_s],
        &["table", "create", "--data", data_s],
        &["serve", "--port", "seventy"],
        &["--store", "sqlite", "accounts", "create", "--name", "x"],
    ];
    for args in usage {
        let o = run(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty(), "{args:?} says why");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
    let missing_account = runtype::ids::new_id("acct");
    let missing_key = runtype::ids::new_id("key");
    let failures: &[&[&str]] = &[
        &[
            "keys",
            "create",
            "--account",
            &missing_account,
            "--data",
            data_s,
        ],
        &["keys", "revoke", "--id", &missing_key, "--data", data_s],
        &[
            "accounts",
            "create",
            "--name",
            "x",
            "--data",
            "/proc/no/such/place.db",
        ],
    ];
    for args in failures {
        let o = run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("runtype: ") && !err.contains("panicked"),
            "{err}"
        );
    }
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

/// The same commands against DynamoDB (Local, started by the test command).
#[test]
fn dynamodb_table_accounts_and_keys() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the suite with ./test.sh"
    );
    let table = runtype::ids::new_id("cli");
    let created = json_out(&run(&[
        "--store", "dynamodb", "--table", &table, "table", "create",
    ]));
    assert_eq!(created["table"], table.as_str());
    // creating it twice fails clearly
    let o = run(&["--store", "dynamodb", "--table", &table, "table", "create"]);
    assert_eq!(o.status.code(), Some(1));
    let acct = json_out(
        &bin()
            .args(["accounts", "create", "--name", "Dyn", "--store", "dynamodb"])
            .env("TABLE_NAME", &table)
            .output()
            .unwrap(),
    );
    let account = acct["accountId"].as_str().unwrap();
    let key = json_out(&run(&[
        "keys",
        "create",
        "--account",
        account,
        "--store",
        "dynamodb",
        "--table",
        &table,
    ]));
    assert_eq!(key["readOnly"], false);
    let revoked = json_out(&run(&[
        "keys",
        "revoke",
        "--id",
        key["id"].as_str().unwrap(),
        "--store",
        "dynamodb",
        "--table",
        &table,
    ]));
    assert_eq!(revoked["revoked"], true);
}

/// A surface key made through the running server never reaches its output, its log or its
/// data file; only the create answer carries it.
#[test]
fn surface_keys_never_reach_logs_or_disk() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let server = Server::start(&data);
    let key = server.key().unwrap();
    let (_, product) = server.request("POST", "/v1/products", &key, Some(r#"{"name":"p"}"#));
    let p = product["id"].as_str().unwrap();
    let (_, cap) = server.request(
        "POST",
        &format!("/v1/products/{p}/capabilities"),
        &key,
        Some(r#"{"capabilityName":"Answer questions","flowId":"flow_1"}"#),
    );
    let (_, surface) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces"),
        &key,
        Some(r#"{"name":"api","type":"api"}"#),
    );
    let s = surface["id"].as_str().unwrap();
    let body = format!(r#"{{"capabilityId":"{}"}}"#, cap["id"].as_str().unwrap());
    let (status, _) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/items"),
        &key,
        Some(&body),
    );
    assert_eq!(status, 201);
    let (status, created) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/keys"),
        &key,
        Some(r#"{"environment":"production"}"#),
    );
    assert_eq!(status, 201);
    let plaintext = created["key"].as_str().unwrap().to_string();
    assert!(plaintext.starts_with("papi_live_"));
    // the key at work on the gateway: admitted, and still nowhere but in the create answer
    let (status, execution) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/api/answer-questions"),
        &plaintext,
        Some(r#"{"inputs":{"q":"hi"}}"#),
    );
    assert_eq!(status, 202, "{execution}");
    assert!(!execution.to_string().contains(&plaintext));
    let (_, got) = server.request("GET", &format!("/v1/products/{p}/surfaces/{s}"), &key, None);
    assert!(!got.to_string().contains(&plaintext));
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("/v1/products/:id/surfaces/:surfaceId/keys")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("/v1/products/:id/surfaces/:surfaceId/api/:endpointSlug")),
        "{logs:?}"
    );
    drop(server);
    for l in &logs {
        assert!(!l.contains(&plaintext), "the key reached the log: {l}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", data.display());
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&plaintext),
                "the key reached {file}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `runtype schedules tick --now` fires what is due at that simulated time, once.
#[test]
fn schedules_tick_fires_due_schedules() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let data_s = data.to_str().unwrap();
    let acct = json_out(&run(&[
        "accounts", "create", "--name", "Ticker", "--data", data_s,
    ]));
    let key = acct["apiKey"].as_str().unwrap().to_string();
    let server = Server::start_with(&data, &["--no-scheduler"]);
    let (_, p) = server.request("POST", "/v1/products", &key, Some(r#"{"name":"p"}"#));
    let p = p["id"].as_str().unwrap();
    let (_, s) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces"),
        &key,
        Some(r#"{"name":"s","type":"schedule"}"#),
    );
    let s = s["id"].as_str().unwrap();
    let (status, sched) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/schedules"),
        &key,
        Some(r#"{"flowId":"flow_1","triggerType":"recurring","cron":"0 9 * * *","timezone":"Europe/Berlin"}"#),
    );
    assert_eq!(status, 201, "{sched}");
    let next = sched["nextRunAt"].as_str().unwrap().to_string();
    let due = runtype::time::parse(&next).unwrap();
    let before = runtype::time::format(due - chrono::Duration::seconds(1));
    let after = runtype::time::format(due + chrono::Duration::seconds(5));

    let out = json_out(&run(&[
        "schedules",
        "tick",
        "--now",
        &before,
        "--data",
        data_s,
    ]));
    assert_eq!(out["fired"], 0);
    // a budget of nothing claims nothing: the due schedule is deferred, not lost
    let out = json_out(&run(&[
        "schedules",
        "tick",
        "--now",
        &after,
        "--budget",
        "0",
        "--data",
        data_s,
    ]));
    assert_eq!(
        (&out["fired"], &out["deferred"]),
        (&json!(0), &json!(1)),
        "{out}"
    );
    let out = json_out(&run(&[
        "schedules",
        "tick",
        "--now",
        &after,
        "--concurrency",
        "4",
        "--data",
        data_s,
    ]));
    assert_eq!(out["fired"], 1, "{out}");
    assert_eq!(out["deferred"], 0);
    assert_eq!(out["failed"], 0);
    assert_eq!(out["now"], after.as_str());
    let out = json_out(&run(&[
        "schedules",
        "tick",
        "--now",
        &after,
        "--data",
        data_s,
    ]));
    assert_eq!(out["fired"], 0, "the same occurrence never fires twice");

    let (_, got) = server.request(
        "GET",
        &format!(
            "/v1/products/{p}/surfaces/{s}/schedules/{}",
            sched["id"].as_str().unwrap()
        ),
        &key,
        None,
    );
    assert_eq!(got["recentRuns"].as_array().unwrap().len(), 1);
    assert_eq!(got["lastRunAt"], after.as_str());
    assert!(got["nextRunAt"].as_str().unwrap() > next.as_str());

    let o = run(&["schedules", "tick", "--now", "yesterday", "--data", data_s]);
    assert_eq!(o.status.code(), Some(2));
    for bad in [["--concurrency", "0"], ["--budget", "-1"]] {
        let o = run(&["schedules", "tick", bad[0], bad[1], "--data", data_s]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two `runtype serve` processes on one data file share the rate limits exactly: a key
/// limited to 10 calls a day gets 10 admitted between them, however the calls interleave.
#[test]
fn two_servers_on_one_file_admit_exactly_the_limit() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let a = Server::start(&data);
    let key = a.key().unwrap();
    let (_, product) = a.request("POST", "/v1/products", &key, Some(r#"{"name":"p"}"#));
    let p = product["id"].as_str().unwrap().to_string();
    let (_, cap) = a.request(
        "POST",
        &format!("/v1/products/{p}/capabilities"),
        &key,
        Some(r#"{"capabilityName":"Answer","flowId":"flow_1"}"#),
    );
    let (_, surface) = a.request(
        "POST",
        &format!("/v1/products/{p}/surfaces"),
        &key,
        Some(r#"{"name":"api","type":"api"}"#),
    );
    let s = surface["id"].as_str().unwrap().to_string();
    let body = format!(r#"{{"capabilityId":"{}"}}"#, cap["id"].as_str().unwrap());
    a.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/items"),
        &key,
        Some(&body),
    );
    // a day window: a test cannot straddle it the way it could a minute
    let (_, created) = a.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/keys"),
        &key,
        Some(r#"{"rateLimitPerDay":10}"#),
    );
    let surface_key = created["key"].as_str().unwrap().to_string();
    let b = Server::start(&data);
    let path = format!("/v1/products/{p}/surfaces/{s}/api/answer");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..30)
            .map(|i| {
                let url = if i % 2 == 0 { &a.url } else { &b.url };
                let (path, key) = (&path, &surface_key);
                scope.spawn(move || request(url, "POST", path, key, Some("{}")).0)
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        20,
        "{statuses:?}"
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
}

/// A runner on a local port (a thread per connection): answers 200 `{}` and records each
/// request's `webhook-id`.
struct TestRunner {
    url: String,
    ids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The callback tokens the deliveries carried.
    tokens: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestRunner {
    fn start() -> TestRunner {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ids: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let tokens: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let (seen, kept) = (ids.clone(), tokens.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (seen, kept) = (seen.clone(), kept.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let (mut length, mut id) = (0usize, None);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                "webhook-id" => id = Some(value.trim().to_string()),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0u8; length];
                    let _ = reader.read_exact(&mut body);
                    if let Some(id) = id {
                        seen.lock().unwrap().push(id);
                    }
                    let json: Value = serde_json::from_slice(&body).unwrap_or_default();
                    if let Some(token) = json["data"]["callback"]["token"].as_str() {
                        kept.lock().unwrap().push(token.to_string());
                    }
                    let mut stream = stream;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                });
            }
        });
        TestRunner { url, ids, tokens }
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
}

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A product with an `api` surface, an item and a surface key; (product, surface, key).
fn api_surface(server: &Server, key: &str) -> (String, String, String) {
    let (_, product) = server.request("POST", "/v1/products", key, Some(r#"{"name":"p"}"#));
    let p = product["id"].as_str().unwrap().to_string();
    let (_, cap) = server.request(
        "POST",
        &format!("/v1/products/{p}/capabilities"),
        key,
        Some(r#"{"capabilityName":"Answer","flowId":"flow_1"}"#),
    );
    let (_, surface) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces"),
        key,
        Some(r#"{"name":"api","type":"api"}"#),
    );
    let s = surface["id"].as_str().unwrap().to_string();
    let body = format!(r#"{{"capabilityId":"{}"}}"#, cap["id"].as_str().unwrap());
    server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/items"),
        key,
        Some(&body),
    );
    let (_, created) = server.request(
        "POST",
        &format!("/v1/products/{p}/surfaces/{s}/keys"),
        key,
        Some("{}"),
    );
    (p, s, created["key"].as_str().unwrap().to_string())
}

/// `runtype executions deliver` runs one pass with the runner from the environment and
/// prints what it did; with no runner it says what to set. The secret is never printed.
#[test]
fn executions_deliver_runs_one_pass() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let server = Server::start_with(&data, &["--no-deliver"]);
    let key = server.key().unwrap();
    let (p, s, surface_key) = api_surface(&server, &key);
    let path = format!("/v1/products/{p}/surfaces/{s}/api/answer");
    for _ in 0..3 {
        let (status, _) = request(&server.url, "POST", &path, &surface_key, Some("{}"));
        assert_eq!(status, 202);
    }
    let runner = TestRunner::start();
    let data_arg = data.to_str().unwrap();
    let deliver = |now: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["executions", "deliver", "--data", data_arg])
            .env("RUNTYPE_RUNNER", "webhook")
            .env("RUNTYPE_RUNNER_URL", &runner.url)
            .env("RUNTYPE_WEBHOOK_SECRET", WEBHOOK_SECRET);
        if let Some(now) = now {
            cmd.args(["--now", now]);
        }
        cmd.output().unwrap()
    };
    let out = deliver(None);
    assert_eq!(
        json_out(&out),
        serde_json::json!({ "delivered": 3, "retried": 0, "failed": 0 })
    );
    let secret = WEBHOOK_SECRET.trim_start_matches("whsec_");
    for text in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(secret));
    }
    assert_eq!(runner.ids().len(), 3);
    // nothing left to do, at any time
    let out = deliver(Some("2030-01-01T00:00:00Z"));
    assert_eq!(
        json_out(&out),
        serde_json::json!({ "delivered": 0, "retried": 0, "failed": 0 })
    );
    // the server sees them completed
    let (_, list) = server.request("GET", &format!("/v1/products/{p}/executions"), &key, None);
    let statuses: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["completed", "completed", "completed"], "{list}");
    // no runner configured: a usage error that says what to set
    let out = bin()
        .args(["executions", "deliver", "--data", data_arg])
        .env_remove("RUNTYPE_RUNNER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUNTYPE_RUNNER"));
    // a bad --now is a usage error too
    let out = deliver(Some("tomorrow"));
    assert_eq!(out.status.code(), Some(2));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two `runtype serve` processes on one data file, both delivering: every gateway call's
/// execution reaches the runner exactly once, and is completed.
#[test]
fn two_servers_on_one_file_deliver_each_execution_once() {
    let dir = temp_dir();
    let data = dir.join("local.db");
    let runner = TestRunner::start();
    let env = [
        ("RUNTYPE_RUNNER", "webhook"),
        ("RUNTYPE_RUNNER_URL", runner.url.as_str()),
        ("RUNTYPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    let a = Server::start_env(&data, &[], &env);
    let key = a.key().unwrap();
    let (p, s, surface_key) = api_surface(&a, &key);
    let b = Server::start_env(&data, &[], &env);
    let path = format!("/v1/products/{p}/surfaces/{s}/api/answer");
    let made: Vec<String> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let url = if i % 2 == 0 { &a.url } else { &b.url };
                let (path, key) = (&path, &surface_key);
                scope.spawn(move || {
                    let (status, body) = request(url, "POST", path, key, Some("{}"));
                    assert_eq!(status, 202);
                    body["id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    // delivery runs in the background: wait (bounded) until every execution has completed
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = a.request(
            "GET",
            &format!("/v1/products/{p}/executions?status=completed&limit=100"),
            &key,
            None,
        );
        if list["data"].as_array().unwrap().len() == 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all delivered: {list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // a completed execution is past its send, so nothing more can arrive
    let mut sent = runner.ids();
    sent.sort();
    let mut made = made;
    made.sort();
    assert_eq!(sent, made, "each execution sent exactly once");
    let logs = [a.logs(), b.logs()].concat().join("\n");
    assert!(!logs.contains(WEBHOOK_SECRET.trim_start_matches("whsec_")));
    assert!(!logs.contains(&surface_key));
    // every delivery carried its callback token, and none reached a log line
    let tokens = runner.tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), made.len());
    assert!(tokens.iter().all(|t| !logs.contains(t.as_str())));
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
}

/// A client that opens a connection and never finishes its headers is disconnected after
/// the header-read timeout (shortened here), not held forever.
#[test]
fn a_stalled_client_is_disconnected() {
    let dir = temp_dir();
    let server = Server::start_env(
        &dir.join("local.db"),
        &[],
        &[("RUNTYPE_HEADER_READ_TIMEOUT_MS", "300")],
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /v1/products HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // the server closes the connection (possibly after a 408): the read ends, well before
    // the 10 s this side would wait
    let _ = s.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held for {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// More clients than the server serves at once, each sending its headers and one byte of a
/// 1 000-byte body, then nothing: each is answered 408 and closed once the body-read timeout
/// (shortened here) passes, so a good client behind them is served instead of waiting for
/// ever.
#[test]
fn slow_bodies_do_not_hold_the_server() {
    let dir = temp_dir();
    let server = Server::start_env(
        &dir.join("local.db"),
        &[],
        &[("RUNTYPE_BODY_READ_TIMEOUT_MS", "500")],
    );
    let key = server.key().unwrap();
    let addr = server.url.trim_start_matches("http://").to_string();
    let slow: Vec<TcpStream> = (0..1030)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /v1/products HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            )
            .unwrap();
            s
        })
        .collect();
    let started = std::time::Instant::now();
    let (status, _) = server.request("GET", "/v1/products", &key, None);
    let waited = started.elapsed();
    assert_eq!(status, 200);
    eprintln!("a good client behind 1030 slow ones waited {waited:?}");
    // the slow ones were answered 408 and closed
    for mut s in slow.into_iter().take(20) {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// `GET /healthz` (no key): 200 while the store answers, 503 when it does not (a DynamoDB
/// endpoint nothing listens on); `GET /metrics` is there beside it, in the text format.
#[test]
fn healthz_says_whether_the_store_answers() {
    let dir = temp_dir();
    let server = Server::start(&dir.join("db"));
    let (status, body) = server.request("GET", "/healthz", "", None);
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    let text = raw_get(&server.url, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("content-type: application/openmetrics-text"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE runtype_gateway_calls counter"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    drop(server);
    let unreachable = [
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let server = Server::start_env(
        &dir.join("unused"),
        &["--store", "dynamodb", "--table", "nowhere"],
        &unreachable,
    );
    let (status, body) = server.request("GET", "/healthz", "", None);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
}
