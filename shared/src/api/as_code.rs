//! Products as code (API.md "Products as code"): `POST /v1/products/ensure`,
//! `GET /v1/products/pull`, and the same for a product's surfaces.
//!
//! An ensure reads what has the name, decides (`decide`: a pure function of the request and
//! the remote definition), and then writes nothing, creates, or updates. An update checks
//! the conflict rules again on the record it rewrites, under its version, so an edit made in
//! between is never overwritten unseen.

use serde_json::{json, Map, Value};

use super::{Call, Reply};
use crate::app::App;
use crate::content_hash::{hash, without_nulls};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::surface::{ENVIRONMENTS, STATUSES, TYPES};
use crate::model::{Product, Surface};
use crate::repo::{as_code, products, surfaces, Retry};
use crate::rules::{self, product, surface, Text};
use crate::validate::{query_param, Fields, Patch};

/// Provenance of writes made here.
const ENSURE: &str = "ensure";

/// The protocol fields of an ensure request.
struct Ensure {
    name: String,
    content_hash: Option<String>,
    /// The definition as sent.
    sent: Option<Value>,
    /// The definition the record will have: `sent` with defaults, empty fields left out.
    desired: Option<Value>,
    dry_run: bool,
    expected_remote_hash: Option<String>,
    overwrite: bool,
}

/// Parse an ensure body; `definition` checks the definition and answers the record's
/// definition it asks for.
fn parse(
    body: &Map<String, Value>,
    name_rule: Text,
    definition: impl FnOnce(&mut Fields) -> Value,
) -> ApiResult<Ensure> {
    let mut f = Fields::new(body);
    let name = f.required_text("name", name_rule);
    let content_hash = hex_hash(&mut f, "contentHash");
    let expected_remote_hash = hex_hash(&mut f, "expectedRemoteHash");
    let dry_run = f.boolean("dryRun").value().unwrap_or(false);
    let overwrite = f
        .one_of("onConflict", &["error", "overwrite"])
        .value()
        .as_deref()
        == Some("overwrite");
    let sent = match f.object("definition", rules::FREE_JSON) {
        Patch::Value(d) => Some(d),
        _ => None,
    };
    let desired = sent.as_ref().map(|d| {
        let mut inner = Fields::nested(d, "definition");
        let desired = definition(&mut inner);
        if let (Some(n), Some(given)) = (&name, desired["name"].as_str()) {
            if n != given {
                inner.fail(
                    "name",
                    "INVALID_FORMAT",
                    "definition.name must equal name: a definition is found by its name",
                );
            }
        }
        f.errors.append(&mut inner.errors);
        desired
    });
    let definition_refused = f.errors.iter().any(|d| d.path == "definition");
    if sent.is_none() && content_hash.is_none() && !definition_refused {
        f.push(Detail::new(
            "definition",
            "MISSING_REQUIRED_FIELD",
            "give a definition, or a contentHash to probe with",
        ));
    }
    f.finish()?;
    Ok(Ensure {
        name: name.unwrap_or_default(),
        content_hash,
        sent: sent.map(Value::Object),
        desired,
        dry_run,
        expected_remote_hash,
        overwrite,
    })
}

/// An optional content hash field: lowercase hex SHA-256.
fn hex_hash(f: &mut Fields, name: &str) -> Option<String> {
    let v = f.text(name, Text::new(64, 64)).value()?;
    if v.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Some(v)
    } else {
        f.fail(
            name,
            "INVALID_FORMAT",
            format!("{name} must be a lowercase hex SHA-256"),
        );
        None
    }
}

/// What an ensure found under the name.
struct Remote<'a> {
    id: &'a str,
    definition: Value,
    source: &'a str,
    updated_at: &'a str,
}

/// What to do.
enum Decision {
    Answer(Value),
    Create,
    Update,
}

/// The top-level keys whose values differ (null members count as absent), sorted.
fn changed_keys(from: &Value, to: &Value) -> Vec<String> {
    let (from, to) = (without_nulls(from), without_nulls(to));
    let empty = Map::new();
    let (a, b) = (
        from.as_object().unwrap_or(&empty),
        to.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn plan(
    changes: &str,
    changed: Vec<String>,
    content_hash: &str,
    remote: Option<&Remote>,
    id_field: &str,
) -> Value {
    let mut v = json!({
        "result": "plan",
        "changes": changes,
        "changedKeys": changed,
        "contentHash": content_hash,
    });
    if let Some(r) = remote {
        v["remoteHash"] = json!(hash(&r.definition));
        v[id_field] = json!(r.id);
    }
    v
}

/// 409 `remote_changed`: the remote no longer hashes to `expectedRemoteHash`.
fn remote_changed(current: Option<String>) -> ApiError {
    let mut fields = Map::new();
    fields.insert("currentHash".into(), json!(current));
    ApiError::Protocol {
        status: 409,
        code: "remote_changed",
        message: "The remote definition changed since expectedRemoteHash was read".into(),
        fields,
    }
}

/// 409 `external_modification` unless the request overwrites or the last write came from
/// an ensure.
fn conflict(req: &Ensure, remote: &Remote) -> ApiResult<()> {
    if req.overwrite || remote.source == ENSURE {
        return Ok(());
    }
    let mut fields = Map::new();
    fields.insert("currentHash".into(), json!(hash(&remote.definition)));
    fields.insert("lastModifiedSource".into(), json!(remote.source));
    fields.insert("modifiedAt".into(), json!(remote.updated_at));
    Err(ApiError::Protocol {
        status: 409,
        code: "external_modification",
        message: format!(
            "The remote was last changed through {} and differs; converge with onConflict \"overwrite\" to replace it",
            remote.source
        ),
        fields,
    })
}

/// The expected-hash check, done again on the record an update rewrites.
fn still_expected(req: &Ensure, remote: &Remote) -> ApiResult<()> {
    match &req.expected_remote_hash {
        Some(expected) if *expected != hash(&remote.definition) => {
            Err(remote_changed(Some(hash(&remote.definition))))
        }
        _ => Ok(()),
    }
}

fn decide(req: &Ensure, remote: Option<&Remote>, id_field: &str) -> ApiResult<Decision> {
    let remote_hash = remote.map(|r| hash(&r.definition));
    if let Some(expected) = &req.expected_remote_hash {
        if remote_hash.as_ref() != Some(expected) {
            return Err(remote_changed(remote_hash));
        }
    }
    let Some(desired) = &req.desired else {
        // a probe: the hash alone
        return Ok(Decision::Answer(match (remote, remote_hash) {
            (Some(r), Some(h)) if req.content_hash.as_ref() == Some(&h) => {
                if req.dry_run {
                    plan("none", vec![], &h, Some(r), id_field)
                } else {
                    json!({ "result": "unchanged", "contentHash": h, id_field: r.id })
                }
            }
            _ => json!({ "result": "definitionRequired" }),
        }));
    };
    let wanted = hash(desired);
    let Some(r) = remote else {
        return Ok(if req.dry_run {
            let keys = changed_keys(&json!({}), desired);
            Decision::Answer(plan("create", keys, &wanted, None, id_field))
        } else {
            Decision::Create
        });
    };
    if remote_hash.as_deref() == Some(wanted.as_str()) {
        return Ok(Decision::Answer(if req.dry_run {
            plan("none", vec![], &wanted, Some(r), id_field)
        } else {
            json!({ "result": "unchanged", "contentHash": wanted, id_field: r.id })
        }));
    }
    conflict(req, r)?;
    Ok(if req.dry_run {
        let keys = changed_keys(&r.definition, desired);
        Decision::Answer(plan("update", keys, &wanted, Some(r), id_field))
    } else {
        Decision::Update
    })
}

/// 422 when `contentHash` and the definition sent disagree.
fn hash_matches(req: &Ensure) -> ApiResult<()> {
    match (&req.content_hash, &req.sent) {
        (Some(claimed), Some(sent)) if *claimed != hash(sent) => {
            let mut fields = Map::new();
            fields.insert("contentHash".into(), json!(hash(sent)));
            Err(ApiError::Protocol {
                status: 422,
                code: "content_hash_mismatch",
                message: "contentHash is not the hash of the definition sent".into(),
                fields,
            })
        }
        _ => Ok(()),
    }
}

fn one<T>(mut found: Vec<(T, u64)>, what: &str, name: &str) -> ApiResult<Option<(T, u64)>> {
    if found.len() > 1 {
        return Err(ApiError::Conflict(format!(
            "More than one {what} is named \"{name}\"; rename all but one"
        )));
    }
    Ok(found.pop())
}

fn answer(result: &str, content_hash: String, id_field: &str, id: &str) -> Reply {
    Reply::ok(json!({ "result": result, "contentHash": content_hash, id_field: id }))
}

/// A free-form object of a definition, stored without its null members (they are not part
/// of the definition's content).
fn free_object(f: &mut Fields, name: &str) -> Option<Map<String, Value>> {
    match without_nulls(&Value::Object(f.object(name, rules::FREE_JSON).value()?)) {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

// ---- products ----

fn product_definition(f: &mut Fields) -> Value {
    let name = f.required_text("name", product::NAME);
    let description = f.text("description", rules::DESCRIPTION).value();
    let icon = f.text("icon", product::ICON).value();
    let spec = free_object(f, "spec");
    let mut p = Product::placeholder();
    p.name = name.unwrap_or_default();
    p.description = description;
    p.icon = icon;
    p.spec = spec.unwrap_or_default();
    p.definition()
}

/// Give `p` the definition `d` (a `Product::definition`).
fn apply_product(p: &mut Product, d: &Value) {
    let text = |k: &str| d[k].as_str().map(str::to_string);
    p.name = text("name").unwrap_or_default();
    p.description = text("description");
    p.icon = text("icon");
    p.spec = d["spec"].as_object().cloned().unwrap_or_default();
    p.last_modified_source = ENSURE.into();
}

fn product_remote(p: &Product) -> Remote<'_> {
    Remote {
        id: &p.id,
        definition: p.definition(),
        source: &p.last_modified_source,
        updated_at: &p.updated_at,
    }
}

/// POST /v1/products/ensure
pub async fn ensure_product(app: &App, call: Call) -> ApiResult<Reply> {
    let req = parse(&call.json()?, product::NAME, product_definition)?;
    hash_matches(&req)?;
    let (table, owner) = (app.table(), call.owner());
    let mut retry = Retry::default();
    loop {
        let mut found = one(
            as_code::products_named(table, owner, &req.name).await?,
            "product",
            &req.name,
        )?;
        let mut claim = crate::store::Cond::NotExists;
        if found.is_none() && req.desired.is_some() {
            // the index may lag a create: the name's claim knows
            let c = as_code::product_claim(table, owner, &req.name).await?;
            found = c.record;
            claim = c.cond;
        }
        let remote = found.as_ref().map(|(p, _)| product_remote(p));
        match decide(&req, remote.as_ref(), "productId")? {
            Decision::Answer(v) => return Ok(Reply::ok(v)),
            Decision::Create => {
                let desired = req.desired.as_ref().expect("a create has a definition");
                let now = crate::time::now_string();
                let mut p = Product::placeholder();
                p.id = crate::ids::new_id("prod");
                p.owner = owner.to_string();
                p.created_at = now.clone();
                p.updated_at = now;
                apply_product(&mut p, desired);
                match as_code::create_product(table, &p, claim, &app.config.limits).await? {
                    Ok(()) => {
                        return Ok(answer("created", hash(&p.definition()), "productId", &p.id))
                    }
                    Err(lost) => retry.after(lost).await?,
                }
            }
            Decision::Update => {
                let desired = req.desired.as_ref().expect("an update has a definition");
                let id = found
                    .as_ref()
                    .map(|(p, _)| p.id.clone())
                    .unwrap_or_default();
                let p = products::update(table, owner, &id, |p| {
                    let remote = product_remote(p);
                    still_expected(&req, &remote)?;
                    if hash(&remote.definition) != hash(desired) {
                        conflict(&req, &remote)?;
                    }
                    apply_product(p, desired);
                    Ok(())
                })
                .await?;
                return Ok(answer("updated", hash(&p.definition()), "productId", &p.id));
            }
        }
    }
}

/// `?name=`, required.
fn name_param(call: &Call) -> ApiResult<&str> {
    match query_param(&call.query, "name").filter(|n| !n.is_empty()) {
        Some(n) => Ok(n),
        None => Err(ApiError::invalid(
            "name",
            "MISSING_REQUIRED_FIELD",
            "name is required (?name=)",
        )),
    }
}

/// GET /v1/products/pull?name=
pub async fn pull_product(app: &App, call: Call) -> ApiResult<Reply> {
    let name = name_param(&call)?;
    let found = as_code::products_named(app.table(), call.owner(), name).await?;
    let (p, _) = one(found, "product", name)?
        .ok_or_else(|| ApiError::NotFound(format!("No product named \"{name}\"")))?;
    let definition = p.definition();
    Ok(Reply::ok(json!({
        "productId": p.id,
        "contentHash": hash(&definition),
        "definition": definition,
        "lastModifiedSource": p.last_modified_source,
        "updatedAt": p.updated_at,
    })))
}

// ---- surfaces ----

fn surface_definition(f: &mut Fields) -> Value {
    let name = f.required_text("name", surface::NAME);
    let kind = f.one_of("type", TYPES);
    let kind = f.not_null("type", kind);
    if kind.is_none() && !f.has("type") {
        f.fail(
            "type",
            "MISSING_REQUIRED_FIELD",
            "definition.type is required",
        );
    }
    let status = f.one_of("status", STATUSES).value();
    let environment = f.one_of("environment", ENVIRONMENTS).value();
    let s = Surface {
        id: String::new(),
        product_id: String::new(),
        owner: String::new(),
        name: name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        status: status.unwrap_or_else(|| "active".into()),
        environment: environment.unwrap_or_else(|| "development".into()),
        config: None,
        behavior: free_object(f, "behavior"),
        inbound: free_object(f, "inbound"),
        outbound: free_object(f, "outbound"),
        created_at: String::new(),
        updated_at: String::new(),
        last_modified_source: ENSURE.into(),
    };
    s.definition()
}

/// Give `s` the definition `d` (a `Surface::definition`); its type never changes here.
fn apply_surface(s: &mut Surface, d: &Value) {
    let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let object = |k: &str| d[k].as_object().cloned();
    s.name = text("name");
    s.status = text("status");
    s.environment = text("environment");
    s.behavior = object("behavior");
    s.inbound = object("inbound");
    s.outbound = object("outbound");
    s.last_modified_source = ENSURE.into();
}

fn surface_remote(s: &Surface) -> Remote<'_> {
    Remote {
        id: &s.id,
        definition: s.definition(),
        source: &s.last_modified_source,
        updated_at: &s.updated_at,
    }
}

/// 400 `IMMUTABLE_FIELD` when the definition would change a surface's type.
fn same_type(s: &Surface, desired: &Value) -> ApiResult<()> {
    if desired["type"].as_str() == Some(s.kind.as_str()) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "definition.type",
        "IMMUTABLE_FIELD",
        format!(
            "type cannot change (this surface is \"{}\"); create a new surface",
            s.kind
        ),
    ))
}

/// POST /v1/products/:id/surfaces/ensure
pub async fn ensure_surface(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let req = parse(&call.json()?, surface::NAME, surface_definition)?;
    hash_matches(&req)?;
    let (table, owner) = (app.table(), call.owner());
    products::get(table, owner, product_id).await?; // the owner first
    let mut retry = Retry::default();
    loop {
        let mut found = one(
            as_code::surfaces_named(table, product_id, &req.name).await?,
            "surface",
            &req.name,
        )?;
        let mut claim = crate::store::Cond::NotExists;
        if found.is_none() && req.desired.is_some() {
            let c = as_code::surface_claim(table, product_id, &req.name).await?;
            found = c.record;
            claim = c.cond;
        }
        if let (Some((s, _)), Some(desired)) = (&found, &req.desired) {
            same_type(s, desired)?;
        }
        let remote = found.as_ref().map(|(s, _)| surface_remote(s));
        match decide(&req, remote.as_ref(), "surfaceId")? {
            Decision::Answer(v) => return Ok(Reply::ok(v)),
            Decision::Create => {
                let desired = req.desired.as_ref().expect("a create has a definition");
                let now = crate::time::now_string();
                let mut s = Surface {
                    id: crate::ids::new_id("surf"),
                    product_id: product_id.to_string(),
                    owner: owner.to_string(),
                    name: String::new(),
                    kind: desired["type"].as_str().unwrap_or_default().to_string(),
                    status: String::new(),
                    environment: String::new(),
                    config: None,
                    behavior: None,
                    inbound: None,
                    outbound: None,
                    created_at: now.clone(),
                    updated_at: now,
                    last_modified_source: ENSURE.into(),
                };
                apply_surface(&mut s, desired);
                match as_code::create_surface(table, &s, claim, &app.config.limits).await? {
                    Ok(()) => {
                        return Ok(answer("created", hash(&s.definition()), "surfaceId", &s.id))
                    }
                    Err(lost) => retry.after(lost).await?,
                }
            }
            Decision::Update => {
                let desired = req.desired.as_ref().expect("an update has a definition");
                let id = found
                    .as_ref()
                    .map(|(s, _)| s.id.clone())
                    .unwrap_or_default();
                let s = surfaces::update(table, owner, product_id, &id, |s| {
                    same_type(s, desired)?;
                    let remote = surface_remote(s);
                    still_expected(&req, &remote)?;
                    if hash(&remote.definition) != hash(desired) {
                        conflict(&req, &remote)?;
                    }
                    apply_surface(s, desired);
                    Ok(())
                })
                .await?;
                return Ok(answer("updated", hash(&s.definition()), "surfaceId", &s.id));
            }
        }
    }
}

/// GET /v1/products/:id/surfaces/pull?name=
pub async fn pull_surface(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let name = name_param(&call)?;
    products::get(app.table(), call.owner(), product_id).await?; // the owner first
    let found = as_code::surfaces_named(app.table(), product_id, name).await?;
    let (s, _) = one(found, "surface", name)?
        .ok_or_else(|| ApiError::NotFound(format!("No surface named \"{name}\"")))?;
    let definition = s.definition();
    Ok(Reply::ok(json!({
        "surfaceId": s.id,
        "contentHash": hash(&definition),
        "definition": definition,
        "lastModifiedSource": s.last_modified_source,
        "updatedAt": s.updated_at,
    })))
}
