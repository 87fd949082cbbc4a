//! The surface gateway (the data plane): …/surfaces/:surfaceId/api[/:endpointSlug] and
//! …/api/executions/:executionId, called with a surface key. The router has verified the key
//! and the surface (`auth::surface_key::open`, one round trip) and hands each the verified
//! call (`Gateway`).

use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::surface_key::{Door, Gateway};
use crate::call::{Call, Reply};
use crate::config::RunnerKind;
use crate::error::{ApiError, ApiResult, Detail};
use crate::metrics;
use crate::model::{Capability, Execution, Surface, SurfaceItem};
use crate::repo::layout as k;
use crate::repo::limits::{self, Admission};
use crate::repo::partition::Partition;
use crate::repo::Record;
use crate::rules::gateway as rules;
use crate::store::{Admit, Bump};
use crate::validate::Fields;

fn capability<'a>(p: &'a Partition, item: &SurfaceItem) -> Option<&'a Capability> {
    p.capability(&item.capability_id)
}

/// GET …/api: what the key may call, and the limits it calls under.
pub async fn describe(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    let now = app.now();
    let read = limits::read_window(&g.key, app.config.gateway_reads_per_minute, now);
    let windows = g.windows(now);
    let (p, counted, standing) = tokio::join!(
        g.partition(app.table()),
        limits::admit_read(app.table(), read, now),
        limits::standing(app.table(), &windows)
    );
    counted?;
    let p = p?;
    let base = format!(
        "{}/v1/products/{}/surfaces/{}/api",
        call.public_url, g.surface.product_id, g.surface.id
    );
    let endpoints: Vec<Value> = g
        .enabled_items(&p)
        .filter(|i| g.allows(i))
        .filter_map(|i| {
            let slug = i.endpoint_slug.as_ref()?;
            let cap = capability(&p, i);
            Some(json!({
                "slug": slug,
                "name": i.exposed_name.clone().or_else(|| cap.map(|c| c.capability_name.clone())),
                "description": i.exposed_description.clone().or_else(|| cap.and_then(|c| c.capability_description.clone())),
                "parametersSchema": cap.and_then(|c| c.parameters_schema.clone()),
                "isEntryPoint": i.is_entry_point,
                "method": "POST",
                "url": format!("{base}/{slug}"),
            }))
        })
        .collect();
    let surface_limit = |name: &str| limits::surface_limit(&g.surface, name);
    let body = json!({
        "surface": {
            "id": g.surface.id,
            "name": g.surface.name,
            "type": g.surface.kind,
            "environment": g.surface.environment,
        },
        "endpoints": endpoints,
        "rateLimits": {
            "key": { "perMinute": g.key.rate_limit_per_minute, "perDay": g.key.rate_limit_per_day },
            "surface": { "perMinute": surface_limit("perMinute"), "perDay": surface_limit("perDay") },
        },
    });
    Ok(Reply::ok(body).headers(standing?.map(|s| s.headers()).unwrap_or_default()))
}

/// Which of the surface's enabled items a call runs.
#[derive(Debug, Clone, Copy)]
pub enum Pick<'a> {
    /// The one with this slug (an endpoint).
    Slug(&'a str),
    /// The one a protocol surface calls by this name (a tool, a skill): its slug, else its id.
    Named(&'a str),
    /// The entry point: the first in display order marked `isEntryPoint`.
    Entry,
    /// The entry point, else the only enabled item (an A2A message naming no skill).
    EntryOrOnly,
}

impl Pick<'_> {
    fn from<'p>(
        self,
        mut enabled: impl Iterator<Item = &'p SurfaceItem>,
    ) -> Option<&'p SurfaceItem> {
        match self {
            Pick::Slug(slug) => enabled.find(|i| i.endpoint_slug.as_deref() == Some(slug)),
            Pick::Named(name) => enabled.find(|i| i.protocol_name() == name),
            Pick::Entry => enabled.find(|i| i.is_entry_point),
            Pick::EntryOrOnly => {
                let all: Vec<&SurfaceItem> = enabled.collect();
                match all.iter().find(|i| i.is_entry_point) {
                    Some(entry) => Some(*entry),
                    None if all.len() == 1 => Some(all[0]),
                    None => None,
                }
            }
        }
    }
}

/// POST …/api/:endpointSlug: run the item with that slug.
pub async fn invoke(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    let slug = call.param("endpointSlug").to_string();
    let (body, wait) = (invocation(&call.body), call.preferred_wait());
    perform(app, &call, &g, Pick::Slug(&slug), "Endpoint", body, wait).await
}

/// POST …/api: run the surface's entry point (the enabled entry item first in order).
pub async fn invoke_entry(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    let (body, wait) = (invocation(&call.body), call.preferred_wait());
    perform(app, &call, &g, Pick::Entry, "Entry point", body, wait).await
}

/// One gateway call, whichever protocol carries it (the `api` endpoints, an MCP `tools/call`,
/// an A2A `SendMessage`): the rest of the contract's checks (the item `pick` finds, its scope,
/// the `body`, the limits), then the execution, written beside the key's usage count, and —
/// with `wait` — its first attempt made and its end awaited. The product's items are read once
/// the key is known; the call is counted in its windows as the store allows it to be cheapest
/// (`limits::admit_with`): three sequential round trips in all, with the key's. The answer is
/// the `api` endpoint's: 200 with the ended execution, else 202 with it as it stands.
pub async fn perform(
    app: &App,
    call: &Call,
    g: &Gateway,
    pick: Pick<'_>,
    what: &str,
    body: ApiResult<Invocation>,
    wait: Option<u64>,
) -> ApiResult<Reply> {
    let table = app.table();
    let now = app.now();
    let windows = g.windows(now);
    // the item and its scope, from the product's records
    let item = async {
        let p = g.partition(table).await?;
        let item = pick
            .from(g.enabled_items(&p))
            .cloned()
            .ok_or_else(|| ApiError::not_found(what))?;
        if !g.allows(&item) {
            return Err(ApiError::Forbidden(
                "This key's scopes do not include this endpoint".into(),
            ));
        }
        let cap = capability(&p, &item).cloned();
        Ok((item, cap))
    };
    // a bad body counts in no window (the item's refusals still come first, as the
    // contract orders them)
    let body = match body {
        Ok(body) => body,
        Err(bad) => {
            let refused = item.await.err().unwrap_or(bad);
            count_refusal(&refused);
            return Err(with_standing(app, g, refused).await);
        }
    };
    let mut made = None;
    let admitted = limits::admit_with(table, &windows, now, item, |(item, cap)| {
        let execution = Execution {
            inputs: body.inputs.clone(),
            messages: body.messages.clone(),
            record: body.record.clone(),
            metadata: body.metadata.clone(),
            context_id: body.context_id.clone(),
            message_id: body.message_id.clone(),
            ..Execution::for_gateway(&g.key, item, cap.as_ref(), &crate::time::format(now))
        };
        let writes = Admit {
            limited: Vec::new(),
            puts: vec![execution.to_item(1)],
            counts: vec![Bump {
                key: k::key_usage(&g.surface.product_id, &g.surface.id, &g.key.key_id),
                delta: 1,
                ceiling: None,
                expires_at: None,
            }],
        };
        made = Some(execution);
        Ok(writes)
    })
    .await;
    let standing = match admitted {
        Ok((_, Admission::Admitted(standing))) => standing,
        Ok((_, Admission::Limited(standing, wait))) => {
            metrics::one(&metrics::GATEWAY_CALLS, "rate_limited");
            return Err(ApiError::RateLimited {
                retry_after_secs: wait,
            }
            .with_headers(standing.headers()));
        }
        Err(refused) => {
            count_refusal(&refused);
            return Err(with_standing(app, g, refused).await);
        }
    };
    metrics::one(&metrics::GATEWAY_CALLS, "admitted");
    metrics::one(&metrics::EXECUTIONS_CREATED, "surface");
    let Some(execution) = made else {
        return Err(ApiError::Internal);
    };
    let limits = standing.map(|s| s.headers()).unwrap_or_default();
    let location = execution.status_url(&call.public_url).unwrap_or_default();
    // `Prefer: wait=N` with a runner configured: the first attempt here, where this process
    // has the runner; else (on AWS: the stream-triggered delivery function attempts at once)
    // the execution's end awaited, read once a second
    let runner = match wait {
        Some(_) => app.runner().await,
        None => None,
    };
    let waited = match (wait, runner) {
        (Some(secs), Some(deliverer)) => Some((
            secs,
            attempt_and_wait(app, deliverer, &execution, secs).await?,
        )),
        (Some(secs), None) if app.config.runner.kind != RunnerKind::None => {
            app.new_executions.notify_one();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            let now = crate::repo::executions::until_final(
                table,
                &execution.id,
                deadline,
                &app.executions_settled,
            )
            .await?;
            Some((secs, now))
        }
        _ => {
            app.new_executions.notify_one();
            None
        }
    };
    if let Some((secs, Some(ended))) = waited {
        if ended.is_final() {
            return Ok(Reply::ok(ended.to_json(&call.public_url))
                .header("location", location)
                .header("preference-applied", format!("wait={secs}"))
                .headers(limits));
        }
    }
    Ok(Reply::accepted(execution.to_json(&call.public_url))
        .header("location", location)
        .headers(limits))
}

/// The first attempt at the new `execution`, made by this request (claimed with the same
/// conditional write as any attempt, so no other deliverer sends it too), and its end awaited
/// for at most `secs`: the execution as it then stands. The attempt goes on past the wait
/// (it is not cut off with the request); a retry or a lost claim is waited for by reading
/// the execution at most once a second.
async fn attempt_and_wait(
    app: &App,
    deliverer: std::sync::Arc<crate::delivery::Deliverer>,
    execution: &Execution,
    secs: u64,
) -> ApiResult<Option<Execution>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let item = execution.to_item(1);
    let attempt = tokio::spawn(async move { deliverer.deliver(item).await });
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    // the attempt's end, or the deadline (it goes on then, in its own task)
    let _ = tokio::time::timeout(left, attempt).await;
    crate::repo::executions::until_final(
        app.table(),
        &execution.id,
        deadline,
        &app.executions_settled,
    )
    .await
}

/// A protocol's gateway call (`performed`), remembered under the request's `Idempotency-Key`
/// by what it asks — the operation `op` and its `asked` bytes — not by its JSON-RPC envelope,
/// whose id changes with every request.
pub async fn remembered(
    app: &App,
    call: &Call,
    g: &Gateway,
    op: &str,
    asked: &[u8],
    performed: impl std::future::Future<Output = ApiResult<Reply>>,
) -> ApiResult<Reply> {
    let tail = g.surface.kind.endpoint_tail().unwrap_or_default();
    let path = format!(
        "/v1/products/{}/surfaces/{}/{tail} {op}",
        g.surface.product_id, g.surface.id
    );
    let post = crate::idempotency::Post {
        scope: &format!("KEY#{}", g.key.key_id),
        method: &http::Method::POST,
        path: &path,
        headers: &call.headers,
        body: asked,
    };
    crate::idempotency::run(app.table(), post, app.now(), performed).await
}

/// A protocol surface's public description: its endpoint `url` and where its discovery
/// `document` is (its field name and URL), the `version` it answers in and those it speaks,
/// and how to authenticate (a `key` kind's surface key as a bearer token).
pub fn protocol_info(
    url: &str,
    document: (&str, String),
    version: &str,
    supported: &[&str],
    key: &str,
) -> Value {
    let mut info = json!({
        "endpoint": url,
        "protocolVersion": version,
        "supportedVersions": supported,
        "authentication": {
            "type": "bearer",
            "header": "Authorization",
            "format": format!("Bearer <{key} surface key>"),
        },
    });
    info[document.0] = json!(document.1);
    info
}

/// The surface a public discovery route names (an MCP manifest, an Agent Card), with its
/// endpoint: one read of the product's records, no key; a surface that is not there or not
/// behind `door` is 404 (`what` names it).
pub async fn public_surface(
    app: &App,
    call: &Call,
    door: Door,
    what: &str,
) -> ApiResult<(Partition, Surface, String)> {
    let (product_id, surface_id) = (call.param("id"), call.param("surfaceId"));
    let not_found = || ApiError::not_found(what);
    if !crate::ids::is_valid("prod", product_id) || !crate::ids::is_valid("surf", surface_id) {
        return Err(not_found());
    }
    let p = Partition::read(app.table(), product_id)
        .await?
        .ok_or_else(not_found)?;
    let surface = p.surface(surface_id).map_err(|_| not_found())?.0.clone();
    if !door.opens(surface.kind) {
        return Err(not_found());
    }
    let url = surface.endpoint(&call.public_url).ok_or_else(not_found)?;
    Ok((p, surface, url))
}

/// A gateway call refused, counted by why: at the door (the key, the surface) or by what it
/// named (the item, its scope, the body). Storage failures are counted as such, not here.
pub fn count_refusal(e: &ApiError) {
    let outcome = match e.status() {
        401 => "unauthorized",
        403 => "forbidden",
        429 => "rate_limited",
        500.. => return,
        _ => "invalid",
    };
    metrics::one(&metrics::GATEWAY_CALLS, outcome);
}

/// A refusal before the limits were counted (item, scope, body) still says where the key's
/// windows stand, as every gateway answer does.
async fn with_standing(app: &App, g: &Gateway, refused: ApiError) -> ApiError {
    if refused.status() == 429 || refused.status() >= 500 {
        return refused;
    }
    match limits::standing(app.table(), &g.windows(app.now())).await {
        Ok(Some(s)) => refused.with_headers(s.headers()),
        Ok(None) => refused,
        Err(e) => e,
    }
}

/// GET …/api/executions/:executionId: an execution made through this surface.
pub async fn execution(app: &App, call: Call, g: Gateway) -> ApiResult<Reply> {
    let id = call.id("executionId", "exec", "Execution")?;
    let now = app.now();
    let windows = g.windows(now);
    let read = limits::read_window(&g.key, app.config.gateway_reads_per_minute, now);
    let record = k::execution(id);
    let (found, counted, standing) = tokio::join!(
        app.table().get(&record),
        limits::admit_read(app.table(), read, now),
        limits::standing(app.table(), &windows)
    );
    counted?;
    let e: Execution = match found? {
        Some(it) => crate::repo::decode(&it)?,
        None => return Err(ApiError::not_found("Execution")),
    };
    // a key sees only the executions it made (API.md): another key's, even of this
    // surface, is not there for it
    let mine = e.key_id.as_deref() == Some(g.key.key_id.as_str())
        && e.surface_id == g.surface.id
        && e.product_id == g.surface.product_id;
    if !mine {
        return Err(ApiError::not_found("Execution"));
    }
    // `?wait=N`: a long poll
    let e = match call.query_wait() {
        Some(secs) if !e.is_final() => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            crate::repo::executions::until_final(app.table(), id, deadline, &app.executions_settled)
                .await?
                .ok_or_else(|| ApiError::not_found("Execution"))?
        }
        _ => e,
    };
    Ok(Reply::ok(e.to_json(&call.public_url))
        .headers(standing?.map(|s| s.headers()).unwrap_or_default()))
}

/// A checked invocation body.
#[derive(Default)]
pub struct Invocation {
    pub inputs: Option<Map<String, Value>>,
    pub messages: Option<Value>,
    pub record: Option<Value>,
    pub metadata: Option<Map<String, Value>>,
    /// An A2A message's conversation and id, kept on the execution (its task).
    pub context_id: Option<String>,
    pub message_id: Option<String>,
}

/// The invocation body: at most 256 KiB; `inputs`, `messages`, `record`, `metadata`, all
/// optional; any other field is a 400 here.
fn invocation(raw: &[u8]) -> ApiResult<Invocation> {
    if raw.len() > rules::MAX_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    let body = crate::validate::json_object(raw)?;
    let mut f = Fields::new(&body);
    for name in body.keys().filter(|n| !rules::FIELDS.contains(&n.as_str())) {
        f.fail(
            name,
            "INVALID_FORMAT",
            format!(
                "unknown field {name}; an invocation takes inputs, messages, record and metadata"
            ),
        );
    }
    let inputs = f.object("inputs", crate::rules::FREE_JSON).value();
    let messages = messages(&mut f);
    let record = record(&mut f);
    let metadata = metadata(&mut f, "metadata", body.get("metadata"));
    f.finish()?;
    Ok(Invocation {
        inputs,
        messages,
        record,
        metadata,
        ..Invocation::default()
    })
}

fn messages(f: &mut Fields) -> Option<Value> {
    let list = match f.raw("messages") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            f.fail("messages", "INVALID_TYPE", "messages must be a list");
            return None;
        }
    };
    if list.len() > rules::MAX_MESSAGES {
        f.fail(
            "messages",
            "TOO_LONG",
            format!("messages may hold at most {} entries", rules::MAX_MESSAGES),
        );
        return None;
    }
    for (i, m) in list.iter().enumerate() {
        let path = format!("messages.{i}");
        let Some(obj) = m.as_object() else {
            f.push(Detail::new(
                &path,
                "INVALID_TYPE",
                format!("{path} must be an object {{role, content}}"),
            ));
            continue;
        };
        let mut g = Fields::nested(obj, &path);
        for name in obj.keys().filter(|n| *n != "role" && *n != "content") {
            g.fail(
                name,
                "INVALID_FORMAT",
                format!("unknown field {name}; a message is {{role, content}}"),
            );
        }
        g.required_one_of("role", rules::ROLES);
        g.required_text("content", rules::CONTENT);
        f.errors.append(&mut g.errors);
    }
    Some(Value::Array(list.clone()))
}

fn record(f: &mut Fields) -> Option<Value> {
    let obj = match f.raw("record") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            f.fail(
                "record",
                "INVALID_TYPE",
                "record must be an object {id?, name?, type?, metadata?}",
            );
            return None;
        }
    };
    let mut g = Fields::nested(obj, "record");
    for name in obj
        .keys()
        .filter(|n| !rules::RECORD_FIELDS.contains(&n.as_str()))
    {
        g.fail(
            name,
            "INVALID_FORMAT",
            format!("unknown field {name}; a record has id, name, type and metadata"),
        );
    }
    for name in ["id", "name", "type"] {
        g.text(name, rules::RECORD_FIELD);
    }
    g.object("metadata", crate::rules::FREE_JSON);
    f.errors.append(&mut g.errors);
    Some(Value::Object(obj.clone()))
}

/// An object of at most 20 string values.
fn metadata(f: &mut Fields, name: &str, raw: Option<&Value>) -> Option<Map<String, Value>> {
    let obj = match raw {
        None | Some(Value::Null) => return None,
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            f.fail(
                name,
                "INVALID_TYPE",
                format!("{name} must be an object of strings"),
            );
            return None;
        }
    };
    if obj.len() > rules::MAX_METADATA {
        f.fail(
            name,
            "TOO_LONG",
            format!("{name} may hold at most {} keys", rules::MAX_METADATA),
        );
        return None;
    }
    let mut g = Fields::nested(obj, name);
    for (key, value) in obj {
        if value.is_string() {
            g.text(key, rules::METADATA_VALUE);
        } else {
            g.fail(
                key,
                "INVALID_TYPE",
                format!("{name}.{key} must be a string"),
            );
        }
    }
    f.errors.append(&mut g.errors);
    Some(obj.clone())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use crate::schema::*;

    /// A protocol surface's `info` (`gateway::protocol_info`), whose discovery document is
    /// named by `document`.
    pub fn protocol_info(document: &'static str) -> Doc {
        let authentication = record(&[
            ("type", string()),
            ("header", string()),
            ("format", string()),
        ]);
        Doc::ok(record(&[
            ("endpoint", string()),
            (document, string()),
            ("protocolVersion", string()),
            ("supportedVersions", array(string())),
            ("authentication", authentication),
        ]))
    }

    pub fn describe() -> Doc {
        let limits = || {
            record(&[
                ("perMinute", nullable(integer())),
                ("perDay", nullable(integer())),
            ])
        };
        let endpoint = record(&[
            ("slug", string()),
            ("name", nullable(string())),
            ("description", nullable(string())),
            ("parametersSchema", any()),
            ("isEntryPoint", boolean()),
            ("method", enumeration(&["POST"])),
            ("url", string()),
        ]);
        Doc::ok(record(&[
            (
                "surface",
                record(&[
                    ("id", string()),
                    ("name", string()),
                    ("type", string()),
                    ("environment", string()),
                ]),
            ),
            ("endpoints", array(endpoint)),
            (
                "rateLimits",
                record(&[("key", limits()), ("surface", limits())]),
            ),
        ]))
    }

    pub fn invoke() -> Doc {
        let prefer = serde_json::json!({
            "name": "Prefer",
            "in": "header",
            "required": false,
            "description": "wait=N (RFC 7240; 1..25 seconds): make the first attempt in this request and answer 200 with the execution if it ends by then",
            "schema": { "type": "string", "maxLength": 255 },
        });
        Doc::answers(202, r("Execution"))
            .body(invocation())
            .header(prefer)
            .also(
                200,
                r("Execution"),
                "Prefer: wait=N, and the execution ended within it (Preference-Applied says so)",
            )
    }

    pub fn invoke_entry() -> Doc {
        invoke()
    }

    pub fn execution() -> Doc {
        Doc::ok(r("Execution")).query(vec![long_poll()])
    }
}
