//! A2A surfaces (API.md "A2A surfaces"): the protocol cases the official clients cannot reach
//! (tests/protocol_clients.py drives those clients against `runtype serve`): both versions'
//! shapes, every error code, skill routing, `returnImmediately`, paging, scopes, rate limits,
//! the door, the card and the round trips.

use runtype::router;
use runtype_tests::runner::{ok, Answer, Runner};
use serde_json::{json, Value};

use crate::common::{Res, Store, TestApp};

crate::cases! {
    both: [
        a_message_is_a_task_in_either_versions_shape,
        skills_are_routed_and_scoped,
        tasks_are_read_listed_and_canceled,
        errors_carry_the_specs_codes,
        the_door_and_the_limits,
        the_card_is_public_and_cacheable,
        round_trips,
    ],
}

struct A2a {
    t: TestApp,
    p: String,
    s: String,
    item: String,
    key: String,
}

impl A2a {
    /// A product with an `a2a` surface whose one item, "Answer questions" (slug
    /// `answer-questions`), is its entry point; a key with `key_body`'s settings; with a
    /// webhook runner this process attempts executions with, when given.
    async fn new(store: Store, key_body: Value, runner: Option<&Runner>) -> A2a {
        let url = runner.map(|r| r.url.as_str());
        let (t, seeded) =
            crate::common::protocol_surface(store, "a2a", json!(null), key_body, url).await;
        A2a {
            t,
            p: seeded.product,
            s: seeded.surface,
            item: seeded.item,
            key: seeded.key,
        }
    }

    fn path(&self) -> String {
        format!("/v1/products/{}/surfaces/{}/a2a", self.p, self.s)
    }

    async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Res {
        crate::common::raw_request(&self.t.app, method, path, headers, body).await
    }

    /// A JSON-RPC call with the key, speaking `version` (None: no A2A-Version header).
    async fn rpc(&self, version: Option<&str>, method: &str, params: Value) -> Res {
        let auth = format!("Bearer {}", self.key);
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(v) = version {
            h.push(("a2a-version", v));
        }
        let body = json!({ "jsonrpc": "2.0", "id": "r1", "method": method, "params": params });
        self.raw("POST", &self.path(), &h, &body.to_string()).await
    }

    async fn send_text(&self, version: Option<&str>, text: &str, extra: Value) -> Res {
        let mut params = json!({
            "message": { "messageId": "m-1", "role": "ROLE_USER", "parts": [{ "text": text }] }
        });
        merge(&mut params, extra);
        let method = if version == Some("1.0") {
            "SendMessage"
        } else {
            "message/send"
        };
        self.rpc(version, method, params).await
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        for (k, v) in b {
            match (a.get_mut(&k), v) {
                (Some(Value::Object(x)), Value::Object(y)) => x.extend(y),
                (_, v) => {
                    a.insert(k, v);
                }
            }
        }
    }
}

fn code(r: &Res) -> i64 {
    r.body["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {r:?}"))
}

fn header<'a>(r: &'a Res, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn a_message_is_a_task_in_either_versions_shape(store: Store) {
    let runner = Runner::start(|_, _| ok(r#"{"answer":42}"#)).await;
    let a = A2a::new(store, json!({}), Some(&runner)).await;
    // 1.0: the task under `task`, ProtoJSON forms
    let r = a.send_text(Some("1.0"), "What is new?", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let t = &r.body["result"]["task"];
    assert_eq!(t["status"]["state"], "TASK_STATE_COMPLETED", "{r:?}");
    assert!(t.get("kind").is_none());
    assert_eq!(t["artifacts"][0]["artifactId"], "result");
    assert_eq!(
        t["artifacts"][0]["parts"][0]["data"],
        json!({ "answer": 42 })
    );
    assert_eq!(t["history"][0]["role"], "ROLE_USER");
    assert_eq!(t["history"][0]["messageId"], "m-1");
    assert!(t["contextId"].as_str().unwrap().starts_with("ctx_"));
    // the execution: messages from the text parts, made with this key
    let id = t["id"].as_str().unwrap();
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, id], None)
            .await
            .expect(200);
    assert_eq!(
        e.body["messages"],
        json!([{ "role": "user", "content": "What is new?" }])
    );
    assert_eq!(e.body["itemId"], a.item.as_str());
    // 0.3 (no header): the task itself, with kinds and lowercase words; a data part is the inputs
    let params = json!({ "message": {
        "kind": "message", "messageId": "m-2", "role": "user", "contextId": "conv-7",
        "parts": [{ "kind": "text", "text": "and now?" }, { "kind": "data", "data": { "city": "Oslo" } }],
    }});
    let r = a.rpc(None, "message/send", params).await;
    let t = &r.body["result"];
    assert_eq!(
        (t["kind"].clone(), t["status"]["state"].clone()),
        (json!("task"), json!("completed")),
        "{r:?}"
    );
    assert_eq!(t["contextId"], "conv-7");
    assert_eq!(t["artifacts"][0]["parts"][0]["kind"], "data");
    assert_eq!(t["history"][0]["role"], "user");
    let e =
        a.t.send(
            &router::GET_EXECUTION,
            [&a.p, t["id"].as_str().unwrap()],
            None,
        )
        .await
        .expect(200);
    assert_eq!(e.body["inputs"], json!({ "city": "Oslo" }));
    // a string answer is a text part; a failure is the status message
    let runner = Runner::start(|n, _| match n {
        0 => ok(r#""sunny""#),
        _ => Answer::Status(400, "{}".into()),
    })
    .await;
    let a = A2a::new(Store::Sqlite, json!({}), Some(&runner)).await;
    let r = a.send_text(Some("1.0"), "weather?", json!({})).await;
    assert_eq!(
        r.body["result"]["task"]["artifacts"][0]["parts"][0]["text"], "sunny",
        "{r:?}"
    );
    let r = a.send_text(None, "weather?", json!({})).await;
    let t = &r.body["result"];
    assert_eq!(t["status"]["state"], "failed", "{r:?}");
    assert_eq!(t["status"]["message"]["role"], "agent");
    assert!(t["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .contains("400"));
    assert!(t.get("artifacts").is_none());
}

async fn skills_are_routed_and_scoped(store: Store) {
    let runner = Runner::start(|_, _| ok("{}")).await;
    let a = A2a::new(store, json!({}), Some(&runner)).await;
    let cap = a.t.capability(&a.p, "Weather").await;
    let weather =
        a.t.send(
            &router::ADD_SURFACE_ITEM,
            [&a.p, &a.s],
            Some(json!({ "capabilityId": cap, "endpointSlug": "weather" })),
        )
        .await
        .expect(201)
        .id();
    // a skill named in the message's metadata; none: the entry point
    let r = a
        .send_text(
            Some("1.0"),
            "hi",
            json!({ "message": { "metadata": { "skillId": "weather" } } }),
        )
        .await;
    let id = r.body["result"]["task"]["id"].as_str().unwrap().to_string();
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert_eq!(e.body["itemId"], weather.as_str(), "{r:?}");
    let r = a.send_text(Some("1.0"), "hi", json!({})).await;
    let id = r.body["result"]["task"]["id"].as_str().unwrap().to_string();
    let e =
        a.t.send(&router::GET_EXECUTION, [&a.p, &id], None)
            .await
            .expect(200);
    assert_eq!(e.body["itemId"], a.item.as_str());
    // an unknown skill, one outside the key's scopes: invalid params
    let r = a
        .send_text(
            Some("1.0"),
            "hi",
            json!({ "message": { "metadata": { "skillId": "nope" } } }),
        )
        .await;
    assert_eq!(code(&r), -32602, "{r:?}");
    let scoped =
        a.t.send(
            &router::CREATE_SURFACE_KEY,
            [&a.p, &a.s],
            Some(json!({ "scopes": [weather] })),
        )
        .await
        .expect(201);
    let k = A2a {
        key: scoped.body["key"].as_str().unwrap().to_string(),
        ..a
    };
    let r = k.send_text(Some("1.0"), "hi", json!({})).await;
    assert_eq!(code(&r), -32602, "{r:?}");
    // no entry point and two skills: the message must name one
    k.t.send(
        &router::UPDATE_SURFACE_ITEM,
        [&k.p, &k.s, &k.item],
        Some(json!({ "isEntryPoint": false })),
    )
    .await
    .expect(200);
    let r = k.send_text(Some("1.0"), "hi", json!({})).await;
    assert_eq!(code(&r), -32602, "{r:?}");
    // with the other disabled, the only skill is the one
    k.t.send(
        &router::UPDATE_SURFACE_ITEM,
        [&k.p, &k.s, &k.item],
        Some(json!({ "enabled": false })),
    )
    .await
    .expect(200);
    let r = k.send_text(Some("1.0"), "hi", json!({})).await;
    assert_eq!(
        r.body["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{r:?}"
    );
}

async fn tasks_are_read_listed_and_canceled(store: Store) {
    // no runner: tasks stay submitted, so one can be canceled
    let a = A2a::new(store, json!({}), None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let ctx = if n == 2 { "other" } else { "conv" };
        let r = a
            .send_text(Some("1.0"), "hi", json!({ "message": { "contextId": ctx }, "configuration": { "returnImmediately": true } }))
            .await;
        let t = &r.body["result"]["task"];
        assert_eq!(t["status"]["state"], "TASK_STATE_SUBMITTED", "{r:?}");
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    let r = a.rpc(Some("1.0"), "GetTask", json!({ "id": ids[0] })).await;
    assert_eq!(r.body["result"]["id"], ids[0].as_str(), "{r:?}");
    assert_eq!(r.body["result"]["contextId"], "conv");
    let r = a
        .rpc(
            Some("1.0"),
            "GetTask",
            json!({ "id": ids[0], "historyLength": 0 }),
        )
        .await;
    assert!(r.body["result"].get("history").is_none(), "{r:?}");
    // newest first, paged; by context; by state
    let r = a
        .rpc(Some("1.0"), "ListTasks", json!({ "pageSize": 2 }))
        .await;
    let page = &r.body["result"];
    let listed: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "{r:?}");
    let token = page["nextPageToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let r = a
        .rpc(
            Some("1.0"),
            "ListTasks",
            json!({ "pageSize": 2, "pageToken": token }),
        )
        .await;
    assert_eq!(r.body["result"]["tasks"][0]["id"], ids[0].as_str(), "{r:?}");
    assert_eq!(r.body["result"]["nextPageToken"], "");
    let r = a
        .rpc(None, "ListTasks", json!({ "contextId": "other" }))
        .await;
    assert_eq!(
        r.body["result"]["tasks"].as_array().unwrap().len(),
        1,
        "{r:?}"
    );
    assert_eq!(r.body["result"]["tasks"][0]["kind"], "task");
    // cancel: a submitted task is canceled; then it is not cancelable
    let r = a.rpc(None, "tasks/cancel", json!({ "id": ids[1] })).await;
    assert_eq!(r.body["result"]["status"]["state"], "canceled", "{r:?}");
    let r = a
        .rpc(Some("1.0"), "CancelTask", json!({ "id": ids[1] }))
        .await;
    assert_eq!(code(&r), -32002, "{r:?}");
    let r = a
        .rpc(
            Some("1.0"),
            "ListTasks",
            json!({ "status": "TASK_STATE_CANCELED" }),
        )
        .await;
    assert_eq!(
        r.body["result"]["tasks"].as_array().unwrap().len(),
        1,
        "{r:?}"
    );
    // another key of the surface sees none of them
    let o = A2a {
        key: a.t.surface_key(&a.p, &a.s).await,
        ..a
    };
    let r = o.rpc(Some("1.0"), "GetTask", json!({ "id": ids[0] })).await;
    assert_eq!(code(&r), -32001, "{r:?}");
    let r = o.rpc(Some("1.0"), "ListTasks", json!({})).await;
    assert_eq!(r.body["result"]["tasks"], json!([]), "{r:?}");
}

async fn errors_carry_the_specs_codes(store: Store) {
    let a = A2a::new(store, json!({}), None).await;
    let auth = format!("Bearer {}", a.key);
    let h = [("authorization", auth.as_str())];
    let r = a.raw("POST", &a.path(), &h, "{nope").await;
    assert_eq!((r.status, code(&r)), (400, -32700), "{r:?}");
    let r = a
        .raw("POST", &a.path(), &h, r#"{"jsonrpc":"2.0","id":1}"#)
        .await;
    assert_eq!((r.status, code(&r)), (400, -32600), "{r:?}");
    for (method, expected) in [
        ("SendStreamingMessage", -32004),
        ("message/stream", -32004),
        ("SubscribeToTask", -32004),
        ("CreateTaskPushNotificationConfig", -32003),
        ("tasks/pushNotificationConfig/get", -32003),
        ("GetExtendedAgentCard", -32007),
        ("tasks/unknown", -32601),
    ] {
        let r = a.rpc(Some("1.0"), method, json!({})).await;
        assert_eq!((r.status, code(&r)), (200, expected), "{method}: {r:?}");
    }
    let r = a
        .rpc(Some("2.0"), "GetTask", json!({ "id": "exec_x" }))
        .await;
    assert_eq!(code(&r), -32009, "{r:?}");
    assert_eq!(
        r.body["error"]["data"][0]["reason"],
        "VERSION_NOT_SUPPORTED"
    );
    for params in [
        json!({}),
        json!({ "message": { "messageId": "m", "role": "ROLE_USER" } }),
        json!({ "message": { "messageId": "m", "role": "ROLE_USER", "parts": [] } }),
        json!({ "message": { "messageId": "m", "role": "ROLE_USER", "parts": [{ "nothing": 1 }] } }),
    ] {
        let r = a.rpc(Some("1.0"), "SendMessage", params.clone()).await;
        assert_eq!(code(&r), -32602, "{params}: {r:?}");
    }
    let file = json!({ "message": { "messageId": "m", "role": "ROLE_USER", "parts": [{ "url": "https://x/y.pdf" }] } });
    assert_eq!(code(&a.rpc(Some("1.0"), "SendMessage", file).await), -32005);
    let follow_up = json!({ "message": { "messageId": "m", "role": "ROLE_USER", "taskId": "exec_1", "parts": [{ "text": "more" }] } });
    assert_eq!(
        code(&a.rpc(Some("1.0"), "SendMessage", follow_up).await),
        -32004
    );
    let r = a
        .rpc(
            Some("1.0"),
            "GetTask",
            json!({ "id": "exec_00000000000000000000000001" }),
        )
        .await;
    assert_eq!(code(&r), -32001, "{r:?}");
    assert_eq!(
        code(&a.rpc(Some("1.0"), "GetTask", json!({})).await),
        -32602
    );
    assert_eq!(
        code(
            &a.rpc(Some("1.0"), "ListTasks", json!({ "pageSize": 101 }))
                .await
        ),
        -32602
    );
    assert_eq!(
        code(
            &a.rpc(Some("1.0"), "ListTasks", json!({ "pageToken": "garbage" }))
                .await
        ),
        -32602
    );
    // a notification is taken
    let r = a
        .raw("POST", &a.path(), &h, r#"{"jsonrpc":"2.0","method":"x"}"#)
        .await;
    assert_eq!(r.status, 202);
    // nothing was made by any of it
    let e =
        a.t.send(&router::LIST_EXECUTIONS, [&a.p], None)
            .await
            .expect(200);
    assert_eq!(e.body["data"], json!([]));
}

async fn the_door_and_the_limits(store: Store) {
    let runner = Runner::start(|_, _| ok("{}")).await;
    let a = A2a::new(store, json!({ "rateLimitPerMinute": 1 }), Some(&runner)).await;
    let ping =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": { "id": "exec_x" } })
            .to_string();
    let r = a.raw("POST", &a.path(), &[], &ping).await;
    assert_eq!(r.status, 401, "{r:?}");
    // a key of another kind (an mcp surface's) is not this surface's
    let mcp = a.t.surface(&a.p, "mcp", "mcp").await;
    let mcp_key = a.t.surface_key(&a.p, &mcp).await;
    let r = a
        .raw(
            "POST",
            &a.path(),
            &[("authorization", &format!("Bearer {mcp_key}"))],
            &ping,
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let r = a
        .raw(
            "POST",
            &format!("/v1/products/{}/surfaces/{mcp}/a2a", a.p),
            &[("authorization", &format!("Bearer {mcp_key}"))],
            &ping,
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // over the key's limit: HTTP 429, Retry-After, a JSON-RPC error
    let r = a.send_text(Some("1.0"), "one", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = a.send_text(Some("1.0"), "two", json!({})).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(header(&r, "retry-after").is_some());
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("1"));
    assert_eq!(r.body["jsonrpc"], "2.0");
    assert!(r.body["error"]["code"].is_i64());
    assert_eq!(runner.count(), 1);
    // idempotent by what the message asks
    let b = A2a::new(Store::Sqlite, json!({}), Some(&runner)).await;
    let auth = format!("Bearer {}", b.key);
    let h = [
        ("authorization", auth.as_str()),
        ("a2a-version", "1.0"),
        ("idempotency-key", "k1"),
    ];
    let msg = |id: u32| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "SendMessage",
        "params": { "message": { "messageId": "m", "role": "ROLE_USER", "parts": [{ "text": "x" }] } } }).to_string()
    };
    let first = b.raw("POST", &b.path(), &h, &msg(1)).await;
    let again = b.raw("POST", &b.path(), &h, &msg(2)).await;
    assert_eq!(again.body["id"], 2);
    assert_eq!(again.body["result"], first.body["result"], "{again:?}");
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    // a paused surface answers nothing
    b.t.send(
        &router::UPDATE_SURFACE,
        [&b.p, &b.s],
        Some(json!({ "status": "paused" })),
    )
    .await
    .expect(200);
    assert_eq!(b.rpc(Some("1.0"), "ListTasks", json!({})).await.status, 403);
}

async fn the_card_is_public_and_cacheable(store: Store) {
    let a = A2a::new(store, json!({}), None).await;
    let card_path = format!("{}/.well-known/agent-card.json", a.path());
    let r = a.raw("GET", &card_path, &[], "").await;
    assert_eq!(r.status, 200, "{r:?}");
    let endpoint = format!("http://test.local{}", a.path());
    let c = &r.body;
    assert_eq!(c["name"], "Public API");
    assert_eq!(
        c["supportedInterfaces"],
        json!([{ "url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": "1.0" }])
    );
    assert_eq!(
        (
            c["url"].clone(),
            c["preferredTransport"].clone(),
            c["protocolVersion"].clone()
        ),
        (json!(endpoint), json!("JSONRPC"), json!("0.3.0"))
    );
    assert_eq!(
        c["capabilities"],
        json!({ "streaming": false, "pushNotifications": false })
    );
    assert_eq!(
        c["skills"],
        json!([{ "id": "answer-questions", "name": "Answer questions", "description": "Answers", "tags": [] }])
    );
    assert_eq!(c["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(c["security"], json!([{ "bearer": [] }]));
    assert_eq!(
        c["securityRequirements"],
        json!([{ "schemes": { "bearer": { "list": [] } } }])
    );
    assert_eq!(header(&r, "cache-control"), Some("public, max-age=60"));
    let etag = header(&r, "etag").unwrap().to_string();
    let r = a
        .raw("GET", &card_path, &[("if-none-match", &etag)], "")
        .await;
    assert_eq!((r.status, r.body.clone()), (304, Value::Null));
    // an edit changes the card and its tag
    a.t.send(
        &router::UPDATE_SURFACE,
        [&a.p, &a.s],
        Some(json!({ "name": "Renamed" })),
    )
    .await
    .expect(200);
    let r = a
        .raw("GET", &card_path, &[("if-none-match", &etag)], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "Renamed");
    let r = a.raw("GET", &format!("{}/info", a.path()), &[], "").await;
    assert_eq!(r.body["endpoint"], endpoint, "{r:?}");
    assert_eq!(
        r.body["agentCard"],
        format!("{endpoint}/.well-known/agent-card.json")
    );
    // an mcp surface has no card
    let mcp = a.t.surface(&a.p, "mcp", "mcp").await;
    let r = a
        .raw(
            "GET",
            &format!(
                "/v1/products/{}/surfaces/{mcp}/a2a/.well-known/agent-card.json",
                a.p
            ),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn round_trips(store: Store) {
    let a = A2a::new(store, json!({}), None).await;
    let rounds = a.t.app.requests.rounds();
    let r = a
        .raw(
            "GET",
            &format!("{}/.well-known/agent-card.json", a.path()),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(a.t.app.requests.rounds() - rounds, 1, "the card: one read");
    let r = a.send_text(Some("1.0"), "hi", json!({})).await;
    let id = r.body["result"]["task"]["id"].as_str().unwrap().to_string();
    let rounds = a.t.app.requests.rounds();
    let r = a.rpc(Some("1.0"), "GetTask", json!({ "id": id })).await;
    assert!(r.body["result"].is_object(), "{r:?}");
    assert!(
        a.t.app.requests.rounds() - rounds <= 2,
        "GetTask: the key, then the task"
    );
}
