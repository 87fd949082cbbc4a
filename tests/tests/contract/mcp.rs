//! MCP surfaces (API.md "MCP surfaces"): the protocol-level cases the official clients cannot
//! reach (tests/protocol_clients.py drives those clients against `runtype serve`): versions
//! and their headers, notifications, malformed messages, unknown methods, 405s, the door
//! (401 with its header, origins, the surface's type and status), scopes, rate limits,
//! idempotency, the discovery documents and the round trips.

use runtype::router;
use runtype_tests::runner::{ok, Answer, Runner};
use runtype_tests::seed;
use serde_json::{json, Value};

use crate::common::{Res, Store, TestApp};

crate::cases! {
    both: [
        handshake_revisions_list_and_call_tools,
        the_stateless_revision_checks_its_headers,
        malformed_messages_and_unknown_methods,
        the_door_refuses_as_the_gateway_does,
        tools_are_the_keys_scoped_items,
        results_say_how_the_execution_ended,
        over_a_limit_a_call_is_a_tool_error,
        tool_calls_are_idempotent_by_what_they_ask,
        discovery_is_public,
        round_trips,
        unslugged_items_and_mcp_code_surfaces,
    ],
}

const MODERN: &str = "2026-07-28";

struct Mcp {
    t: TestApp,
    p: String,
    s: String,
    key: String,
}

impl Mcp {
    /// A product with an `mcp` surface whose one item is "Answer questions" (slug
    /// `answer-questions`), a key with `key_body`'s settings, and — when `runner` is given —
    /// a webhook runner this process attempts executions with.
    async fn new(store: Store, config: Value, key_body: Value, runner: Option<&Runner>) -> Mcp {
        let url = runner.map(|r| r.url.as_str());
        let (t, seeded) =
            crate::common::protocol_surface(store, "mcp", config, key_body, url).await;
        Mcp {
            t,
            p: seeded.product,
            s: seeded.surface,
            key: seeded.key,
        }
    }

    fn path(&self) -> String {
        format!("/v1/products/{}/surfaces/{}/mcp", self.p, self.s)
    }

    async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Res {
        crate::common::raw_request(&self.t.app, method, path, headers, body).await
    }

    /// POST a message with the key and `headers`.
    async fn post(&self, headers: &[(&str, &str)], message: Value) -> Res {
        let auth = format!("Bearer {}", self.key);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        self.raw("POST", &self.path(), &all, &message.to_string())
            .await
    }

    /// A request of a handshake revision (`MCP-Protocol-Version: 2025-11-25`).
    async fn rpc(&self, method: &str, params: Value) -> Res {
        let message = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        self.post(&[("mcp-protocol-version", "2025-11-25")], message)
            .await
    }

    /// A request of the stateless revision, with its `_meta` and headers as a client sends.
    async fn modern(&self, method: &str, mut params: Value) -> Res {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let name = params["name"].as_str().unwrap_or("").to_string();
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if method == "tools/call" {
            headers.push(("mcp-name", name.as_str()));
        }
        let message = json!({ "jsonrpc": "2.0", "id": "m", "method": method, "params": params });
        self.post(&headers, message).await
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Res {
        self.rpc(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }
}

fn header<'a>(r: &'a Res, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn error_code(r: &Res) -> i64 {
    r.body["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {r:?}"))
}

async fn handshake_revisions_list_and_call_tools(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"answer":42}"#)).await;
    let m = Mcp::new(store, json!(null), json!({}), Some(&runner)).await;
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let params = json!({ "protocolVersion": asked, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } });
        let message =
            json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params });
        let r = m.post(&[], message).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["id"], 0);
        assert_eq!(r.body["result"]["protocolVersion"], answered);
        assert_eq!(r.body["result"]["serverInfo"]["name"], "Public API");
        assert!(r.body["result"]["capabilities"]["tools"].is_object());
        // stateless: no session to keep
        assert!(header(&r, "mcp-session-id").is_none());
        assert_eq!(header(&r, "content-type"), Some("application/json"));
    }
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let r = m
        .post(&[("mcp-protocol-version", "2025-11-25")], note)
        .await;
    assert_eq!((r.status, r.body.clone()), (202, Value::Null));
    // a client's response to a server request is taken the same way
    let r = m
        .post(&[], json!({ "jsonrpc": "2.0", "id": 9, "result": {} }))
        .await;
    assert_eq!(r.status, 202);
    let r = m.rpc("ping", json!({})).await;
    assert_eq!(r.body["result"], json!({}));
    // no version header at all: the first revision with this transport
    let r = m
        .post(
            &[],
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
        )
        .await;
    assert_eq!(
        r.body["result"]["tools"][0]["name"], "answer-questions",
        "{r:?}"
    );
    let r = m
        .call_tool("answer-questions", json!({ "q": "why?" }))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let result = &r.body["result"];
    assert_eq!(result["isError"], false);
    assert_eq!(result["structuredContent"], json!({ "answer": 42 }));
    assert_eq!(
        result["content"][0],
        json!({ "type": "text", "text": r#"{"answer":42}"# })
    );
    // the execution is the gateway's: inputs = arguments, made with this key
    let id = result["_meta"]["runtype/executionId"].as_str().unwrap();
    let e =
        m.t.send(&router::GET_EXECUTION, [&m.p, id], None)
            .await
            .expect(200);
    assert_eq!(e.body["inputs"], json!({ "q": "why?" }));
    assert_eq!(e.body["status"], "completed");
    assert_eq!(runner.count(), 1);
    let surface =
        m.t.send(&router::GET_SURFACE, [&m.p, &m.s], None)
            .await
            .expect(200);
    assert_eq!(surface.body["keys"][0]["usageCount"], 1, "{surface:?}");
}

async fn the_stateless_revision_checks_its_headers(store: Store) {
    let m = Mcp::new(store, json!(null), json!({}), None).await;
    let r = m.modern("server/discover", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let d = &r.body["result"];
    assert_eq!(d["supportedVersions"], json!([MODERN]));
    assert_eq!(d["resultType"], "complete");
    assert!(d["capabilities"]["tools"].is_object());
    assert_eq!(
        d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "Public API"
    );
    assert!(d["ttlMs"].is_u64() && d["cacheScope"].is_string(), "{d}");
    let r = m.modern("tools/list", json!({})).await;
    let l = &r.body["result"];
    assert_eq!(l["resultType"], "complete");
    assert_eq!(l["cacheScope"], "private");
    assert_eq!(l["tools"][0]["inputSchema"], json!({ "type": "object" }));
    // a version the server does not speak, in _meta or in the header alone
    let message = |v: &str| {
        json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list",
                "params": { "_meta": { "io.modelcontextprotocol/protocolVersion": v } } })
    };
    let r = m
        .post(
            &[
                ("mcp-protocol-version", "2099-01-01"),
                ("mcp-method", "tools/list"),
            ],
            message("2099-01-01"),
        )
        .await;
    assert_eq!((r.status, error_code(&r)), (400, -32022), "{r:?}");
    assert!(r.body["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!(MODERN)));
    assert_eq!(r.body["error"]["data"]["requested"], "2099-01-01");
    let r = m
        .post(
            &[("mcp-protocol-version", "2024-01-01")],
            json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
        )
        .await;
    assert_eq!((r.status, error_code(&r)), (400, -32022), "{r:?}");
    // headers that do not say what the body says
    for headers in [
        vec![
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/list"),
        ],
        vec![("mcp-method", "tools/list")],
        vec![("mcp-protocol-version", MODERN)],
        vec![
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
        ],
    ] {
        let r = m.post(&headers, message(MODERN)).await;
        assert_eq!(
            (r.status, error_code(&r)),
            (400, -32020),
            "{headers:?}: {r:?}"
        );
    }
    let r = m
        .post(
            &[("mcp-protocol-version", MODERN)],
            json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
        )
        .await;
    assert_eq!((r.status, error_code(&r)), (400, -32020), "{r:?}");
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "answer-questions", "arguments": {},
                    "_meta": { "io.modelcontextprotocol/protocolVersion": MODERN } } });
    let base = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
    ];
    let r = m
        .post(&[base[0], base[1], ("mcp-name", "other")], call.clone())
        .await;
    assert_eq!((r.status, error_code(&r)), (400, -32020), "{r:?}");
    let r = m.post(&base, call.clone()).await;
    assert_eq!((r.status, error_code(&r)), (400, -32020), "{r:?}");
    // the Base64 sentinel form of the same name is the name
    let r = m
        .post(
            &[
                base[0],
                base[1],
                ("mcp-name", "=?base64?YW5zd2VyLXF1ZXN0aW9ucw==?="),
            ],
            call,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"]["resultType"], "complete");
    // no runner: the execution is still queued, said as a tool error naming where it will be
    assert_eq!(r.body["result"]["isError"], true);
    // an unknown method in this revision is also HTTP 404
    let r = m.modern("resources/list", json!({})).await;
    assert_eq!((r.status, error_code(&r)), (404, -32601), "{r:?}");
}

async fn malformed_messages_and_unknown_methods(store: Store) {
    let m = Mcp::new(store, json!(null), json!({}), None).await;
    let auth = format!("Bearer {}", m.key);
    let h = [("authorization", auth.as_str())];
    let r = m.raw("POST", &m.path(), &h, "{not json").await;
    assert_eq!((r.status, error_code(&r)), (400, -32700), "{r:?}");
    assert_eq!(r.body["id"], Value::Null);
    for bad in [
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
        "7",
    ] {
        let r = m.raw("POST", &m.path(), &h, bad).await;
        assert_eq!((r.status, error_code(&r)), (400, -32600), "{bad}: {r:?}");
    }
    let r = m.rpc("prompts/list", json!({})).await;
    assert_eq!((r.status, error_code(&r)), (200, -32601), "{r:?}");
    for params in [
        json!({}),
        json!({ "name": 7 }),
        json!({ "name": "answer-questions", "arguments": [1] }),
        json!({ "name": "nope" }),
    ] {
        let r = m.rpc("tools/call", params.clone()).await;
        assert_eq!(error_code(&r), -32602, "{params}: {r:?}");
    }
    let r = m.rpc("tools/list", json!({ "cursor": "page-2" })).await;
    assert_eq!(error_code(&r), -32602, "{r:?}");
    // no server-initiated stream, no session to end
    for method in ["GET", "DELETE"] {
        let r = m.raw(method, &m.path(), &h, "").await;
        assert_eq!(r.status, 405, "{method}: {r:?}");
        assert_eq!(header(&r, "allow"), Some("POST"));
    }
    // nothing was made by any of it
    let e =
        m.t.send(&router::LIST_EXECUTIONS, [&m.p], None)
            .await
            .expect(200);
    assert_eq!(e.body["data"], json!([]));
}

async fn the_door_refuses_as_the_gateway_does(store: Store) {
    let config = json!({ "allowedOrigins": ["https://app.example.com"] });
    let m = Mcp::new(store, config, json!({}), None).await;
    let ping = json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }).to_string();
    let metadata = format!(
        "Bearer resource_metadata=\"http://test.local{}/.well-known/oauth-protected-resource\"",
        m.path()
    );
    let r = m.raw("POST", &m.path(), &[], &ping).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body["code"], "UNAUTHORIZED");
    assert_eq!(header(&r, "www-authenticate"), Some(metadata.as_str()));
    let forged = "mcp_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let r = m
        .raw(
            "POST",
            &m.path(),
            &[("authorization", &format!("Bearer {forged}"))],
            &ping,
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(header(&r, "www-authenticate").is_some());
    // a key of another surface (an api one) is not this surface's
    let api = m.t.surface(&m.p, "api", "api").await;
    let api_key = m.t.surface_key(&m.p, &api).await;
    let r = m
        .raw(
            "POST",
            &m.path(),
            &[("authorization", &format!("Bearer {api_key}"))],
            &ping,
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    // an api surface has no MCP endpoint, even with its own key
    let api_mcp = format!("/v1/products/{}/surfaces/{api}/mcp", m.p);
    let r = m
        .raw(
            "POST",
            &api_mcp,
            &[("authorization", &format!("Bearer {api_key}"))],
            &ping,
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // nor does the mcp key open the api surface's gateway
    let r = m
        .raw(
            "GET",
            &format!("/v1/products/{}/surfaces/{api}/api", m.p),
            &[("authorization", &format!("Bearer {}", m.key))],
            "",
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    // origins: a listed one, none (not a browser), another
    let auth = format!("Bearer {}", m.key);
    for (origin, status) in [
        (Some("https://app.example.com"), 200),
        (None, 200),
        (Some("https://evil.example"), 403),
    ] {
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(o) = origin {
            h.push(("origin", o));
        }
        let r = m.raw("POST", &m.path(), &h, &ping).await;
        assert_eq!(r.status, status, "{origin:?}: {r:?}");
    }
    // a paused surface answers nothing
    m.t.send(
        &router::UPDATE_SURFACE,
        [&m.p, &m.s],
        Some(json!({ "status": "paused" })),
    )
    .await
    .expect(200);
    let r = m.rpc("ping", json!({})).await;
    assert_eq!(r.status, 403, "{r:?}");
}

async fn tools_are_the_keys_scoped_items(store: Store) {
    let m = Mcp::new(store, json!(null), json!({}), None).await;
    let schema = json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] });
    let cap = m
        .t
        .send(&router::ADD_CAPABILITY, [&m.p], Some(json!({ "capabilityName": "Weather", "capabilityDescription": "Weather now", "flowId": "flow_w", "parametersSchema": schema })))
        .await
        .expect(201)
        .id();
    let item = m
        .t
        .send(&router::ADD_SURFACE_ITEM, [&m.p, &m.s], Some(json!({ "capabilityId": cap, "endpointSlug": "weather", "exposedName": "Weather in a city" })))
        .await
        .expect(201)
        .id();
    let off = m.t.capability(&m.p, "Hidden").await;
    m.t.send(
        &router::ADD_SURFACE_ITEM,
        [&m.p, &m.s],
        Some(json!({ "capabilityId": off, "endpointSlug": "hidden", "enabled": false })),
    )
    .await
    .expect(201);
    let r = m.rpc("tools/list", json!({})).await;
    let tools = r.body["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["answer-questions", "weather"], "{r:?}");
    assert_eq!(tools[0]["description"], "Answers");
    assert_eq!(tools[0]["title"], "Answer questions");
    assert_eq!(tools[1]["title"], "Weather in a city");
    assert_eq!(tools[1]["description"], "Weather now");
    assert_eq!(tools[1]["inputSchema"], schema);
    // a key scoped to the weather item sees and calls only it
    let scoped =
        m.t.send(
            &router::CREATE_SURFACE_KEY,
            [&m.p, &m.s],
            Some(json!({ "scopes": [item] })),
        )
        .await
        .expect(201);
    let k = Mcp {
        key: scoped.body["key"].as_str().unwrap().to_string(),
        ..m
    };
    let r = k.rpc("tools/list", json!({})).await;
    let names: Vec<Value> = r.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("weather")], "{r:?}");
    let r = k.call_tool("answer-questions", json!({})).await;
    assert_eq!(error_code(&r), -32602, "{r:?}");
    let r = k.call_tool("hidden", json!({})).await;
    assert_eq!(error_code(&r), -32602, "{r:?}");
    let r = k.call_tool("weather", json!({ "city": "Oslo" })).await;
    assert_eq!(r.body["result"]["isError"], true, "{r:?}");
    assert!(r.body["result"]["_meta"]["runtype/executionId"].is_string());
}

async fn results_say_how_the_execution_ended(store: Store) {
    let runner = Runner::start(|n, _| match n {
        0 => ok(r#""plain words""#),
        _ => Answer::Status(400, r#"{"error":"bad input"}"#.into()),
    })
    .await;
    let m = Mcp::new(store, json!(null), json!({}), Some(&runner)).await;
    let r = m.call_tool("answer-questions", json!({})).await;
    let result = &r.body["result"];
    assert_eq!(result["content"][0]["text"], "plain words", "{r:?}");
    assert!(result.get("structuredContent").is_none());
    let r = m.call_tool("answer-questions", json!({})).await;
    let result = &r.body["result"];
    assert_eq!(result["isError"], true, "{r:?}");
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("400"),
        "{r:?}"
    );
    // a tool call whose execution is still going names its status URL, which the mcp key reads
    let m2 = Mcp::new(Store::Sqlite, json!(null), json!({}), None).await;
    let r = m2.call_tool("answer-questions", json!({})).await;
    let text = r.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    let id = r.body["result"]["_meta"]["runtype/executionId"]
        .as_str()
        .unwrap();
    let url = format!(
        "http://test.local/v1/products/{}/surfaces/{}/api/executions/{id}",
        m2.p, m2.s
    );
    assert!(text.contains(&url), "{text}");
    let path = url.trim_start_matches("http://test.local");
    let r = m2
        .raw(
            "GET",
            path,
            &[("authorization", &format!("Bearer {}", m2.key))],
            "",
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("queued")),
        "{r:?}"
    );
}

async fn over_a_limit_a_call_is_a_tool_error(store: Store) {
    let runner = Runner::start(|_, _| ok("{}")).await;
    let m = Mcp::new(
        store,
        json!(null),
        json!({ "rateLimitPerMinute": 1 }),
        Some(&runner),
    )
    .await;
    let r = m.call_tool("answer-questions", json!({})).await;
    assert_eq!(r.body["result"]["isError"], false, "{r:?}");
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    let r = m.call_tool("answer-questions", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["result"]["isError"], true);
    assert!(r.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("retry in"));
    assert!(header(&r, "retry-after").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("1"));
    assert!(r.body["result"]["_meta"]
        .get("runtype/executionId")
        .is_none());
    assert_eq!(runner.count(), 1);
}

async fn tool_calls_are_idempotent_by_what_they_ask(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"n":1}"#)).await;
    let m = Mcp::new(store, json!(null), json!({}), Some(&runner)).await;
    let send = |id: u64, args: Value| {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                              "params": { "name": "answer-questions", "arguments": args } });
        let m = &m;
        async move { m.post(&[("idempotency-key", "once")], message).await }
    };
    let first = send(1, json!({ "a": 1 })).await;
    let again = send(2, json!({ "a": 1 })).await;
    assert_eq!(again.body["id"], 2, "{again:?}");
    assert_eq!(again.body["result"], first.body["result"]);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(runner.count(), 1);
    let other = send(3, json!({ "a": 2 })).await;
    assert_eq!(
        (other.status, error_code(&other)),
        (422, -32000),
        "{other:?}"
    );
    assert_eq!(
        other.body["error"]["data"]["code"],
        "IDEMPOTENCY_KEY_REUSED"
    );
}

async fn discovery_is_public(store: Store) {
    let m = Mcp::new(store, json!(null), json!({}), None).await;
    let endpoint = format!("http://test.local{}", m.path());
    let r = m
        .raw(
            "GET",
            &format!("{}/.well-known/mcp.json", m.path()),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["name"], "Public API");
    assert_eq!(r.body["url"], endpoint);
    assert_eq!(
        r.body["authentication"],
        json!({ "type": "bearer", "header": "Authorization" })
    );
    assert!(r.body["capabilities"]["tools"].is_object());
    assert!(r.body.get("tools").is_none());
    let auth = format!("Bearer {}", m.key);
    let r = m
        .raw(
            "GET",
            &format!("{}/.well-known/mcp.json", m.path()),
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(r.body["tools"][0]["name"], "answer-questions", "{r:?}");
    let r = m.raw("GET", &format!("{}/info", m.path()), &[], "").await;
    assert_eq!(r.body["endpoint"], endpoint, "{r:?}");
    assert_eq!(
        r.body["manifest"],
        format!("{endpoint}/.well-known/mcp.json")
    );
    assert_eq!(r.body["authentication"]["type"], "bearer");
    let r = m
        .raw(
            "GET",
            &format!("{}/.well-known/oauth-protected-resource", m.path()),
            &[],
            "",
        )
        .await;
    assert_eq!(r.body["resource"], endpoint, "{r:?}");
    assert_eq!(r.body["bearer_methods_supported"], json!(["header"]));
    // only MCP surfaces have them
    let api = m.t.surface(&m.p, "api", "api").await;
    let r = m
        .raw(
            "GET",
            &format!("/v1/products/{}/surfaces/{api}/mcp/info", m.p),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = m
        .raw(
            "GET",
            "/v1/products/prod_nope/surfaces/surf_nope/mcp/info",
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

async fn round_trips(store: Store) {
    let m = Mcp::new(store, json!(null), json!({}), None).await;
    let rounds = m.t.app.requests.rounds();
    let r = m.rpc("tools/list", json!({})).await;
    assert_eq!(r.status, 200);
    // the key and the surface, then the product's items beside the read window
    assert_eq!(m.t.app.requests.rounds() - rounds, 2);
    let rounds = m.t.app.requests.rounds();
    m.rpc("initialize", json!({})).await;
    assert_eq!(m.t.app.requests.rounds() - rounds, 1);
    let rounds = m.t.app.requests.rounds();
    let r = m.call_tool("answer-questions", json!({})).await;
    assert!(r.body["result"].is_object());
    // a gateway call's three (no runner: nothing to wait for)
    assert!(m.t.app.requests.rounds() - rounds <= 3);
}

/// An item bound without a slug (before protocol items had default ones; or its slug taken
/// away) is a tool named by its id, and callable by it; an `mcp_code` surface is an MCP server
/// as an `mcp` one is.
async fn unslugged_items_and_mcp_code_surfaces(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"ok":true}"#)).await;
    let m = Mcp::new(store, json!(null), json!({}), Some(&runner)).await;
    let items =
        m.t.send(&router::GET_SURFACE, [&m.p, &m.s], None)
            .await
            .expect(200);
    let item = items.body["items"][0]["id"].as_str().unwrap().to_string();
    m.t.send(
        &router::UPDATE_SURFACE_ITEM,
        [&m.p, &m.s, &item],
        Some(json!({ "endpointSlug": null })),
    )
    .await
    .expect(200);
    let r = m.rpc("tools/list", json!({})).await;
    assert_eq!(r.body["result"]["tools"][0]["name"], item.as_str(), "{r:?}");
    let r = m.call_tool(&item, json!({})).await;
    assert_eq!(r.body["result"]["isError"], false, "{r:?}");
    let code = seed::surface_of(&m.t.app, &m.t.key, "mcp_code", json!(null), json!({})).await;
    let c = Mcp {
        p: code.product,
        s: code.surface,
        key: code.key,
        ..m
    };
    let r = c.rpc("tools/list", json!({})).await;
    assert_eq!(
        r.body["result"]["tools"][0]["name"], "answer-questions",
        "{r:?}"
    );
    assert!(
        c.key.starts_with("mcp_"),
        "an mcp_code surface takes mcp keys"
    );
}
