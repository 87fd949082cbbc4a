//! Products as code (API.md "Products as code"): `POST /v1/products/ensure`,
//! `GET /v1/products/pull`, and the same for a product's surfaces.
//!
//! An ensure reads what has the name, decides (`decide`: a pure function of the request and
//! the remote definition), and then writes nothing, creates, or updates. An update checks
//! the conflict rules again on the record it rewrites, under its version, so an edit made in
//! between is never overwritten unseen.

use serde_json::{json, Map, Value};

use crate::app::App;
use crate::call::{Call, Reply};
use crate::content_hash::{hash, without_nulls};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::{
    Product, Provenance, Surface, SurfaceEnvironment, SurfaceStatus, SurfaceType, Word,
};
use crate::repo::as_code::{self, Named};
use crate::repo::Retry;
use crate::rules::{self, product, surface, Text};
use crate::validate::{query_param, Fields, Patch};

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
    let req = Ensure {
        name: name.unwrap_or_default(),
        content_hash,
        sent: sent.map(Value::Object),
        desired,
        dry_run,
        expected_remote_hash,
        overwrite,
    };
    hash_matches(&req)?;
    Ok(req)
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

/// What an ensure converges: a product (within its owner) or a surface (within its product).
trait Converged: Named + 'static {
    /// The answer's field for the record's id.
    const ID_FIELD: &'static str;
    fn definition(&self) -> Value;
    fn source(&self) -> Provenance;
    fn modified_at(&self) -> &str;
    /// Give the record the definition `d` (one its kind's `definition` answers).
    fn apply(&mut self, d: &Value);
    /// A new record of `owner` in `scope` with the definition `d`.
    fn fresh(scope: &str, owner: &str, d: &Value, now: &str) -> Self;
    /// 400 when `d` would change what cannot change.
    fn admits(&self, _d: &Value) -> ApiResult<()> {
        Ok(())
    }
}

/// What to do.
enum Decision<'a> {
    Answer(Value),
    Create(&'a Value),
    Update(&'a Value),
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

fn plan<T: Converged>(
    changes: &str,
    changed: Vec<String>,
    hash_: &str,
    remote: Option<&T>,
) -> Value {
    let mut v = json!({
        "result": "plan",
        "changes": changes,
        "changedKeys": changed,
        "contentHash": hash_,
    });
    if let Some(r) = remote {
        v["remoteHash"] = json!(hash(&r.definition()));
        v[T::ID_FIELD] = json!(r.id());
    }
    v
}

/// `{result, contentHash, <id field>}`.
fn outcome<T: Converged>(result: &str, content_hash: String, r: &T) -> Value {
    json!({ "result": result, "contentHash": content_hash, T::ID_FIELD: r.id() })
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
fn conflict<T: Converged>(req: &Ensure, remote: &T) -> ApiResult<()> {
    if req.overwrite || remote.source() == Provenance::Ensure {
        return Ok(());
    }
    let mut fields = Map::new();
    fields.insert("currentHash".into(), json!(hash(&remote.definition())));
    fields.insert("lastModifiedSource".into(), json!(remote.source()));
    fields.insert("modifiedAt".into(), json!(remote.modified_at()));
    Err(ApiError::Protocol {
        status: 409,
        code: "external_modification",
        message: format!(
            "The remote was last changed through {} and differs; converge with onConflict \"overwrite\" to replace it",
            remote.source()
        ),
        fields,
    })
}

fn decide<'a, T: Converged>(req: &'a Ensure, remote: Option<&T>) -> ApiResult<Decision<'a>> {
    let remote_hash = remote.map(|r| hash(&r.definition()));
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
                    plan("none", vec![], &h, Some(r))
                } else {
                    outcome("unchanged", h, r)
                }
            }
            _ => json!({ "result": "definitionRequired" }),
        }));
    };
    let wanted = hash(desired);
    let Some(r) = remote else {
        return Ok(if req.dry_run {
            let keys = changed_keys(&json!({}), desired);
            Decision::Answer(plan::<T>("create", keys, &wanted, None))
        } else {
            Decision::Create(desired)
        });
    };
    if remote_hash.as_deref() == Some(wanted.as_str()) {
        return Ok(Decision::Answer(if req.dry_run {
            plan("none", vec![], &wanted, Some(r))
        } else {
            outcome("unchanged", wanted, r)
        }));
    }
    conflict(req, r)?;
    Ok(if req.dry_run {
        let keys = changed_keys(&r.definition(), desired);
        Decision::Answer(plan("update", keys, &wanted, Some(r)))
    } else {
        Decision::Update(desired)
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

/// The one record of `scope` named `name`, if any (409 for more than one).
async fn find<T: Converged>(app: &App, scope: &str, name: &str) -> ApiResult<Option<T>> {
    let mut found = as_code::named::<T>(app.table(), scope, name).await?;
    if found.len() > 1 {
        return Err(ApiError::Conflict(format!(
            "More than one {} is named \"{name}\"; rename all but one",
            T::WHAT.to_lowercase()
        )));
    }
    Ok(found.pop().map(|(r, _)| r))
}

/// Converge the record of `scope` named in `req`.
async fn ensure<T: Converged>(
    app: &App,
    owner: &str,
    scope: &str,
    req: Ensure,
) -> ApiResult<Reply> {
    let table = app.table();
    let mut retry = Retry::default();
    loop {
        let mut found = find::<T>(app, scope, &req.name).await?;
        let mut claim = crate::store::Cond::NotExists;
        if found.is_none() && req.desired.is_some() {
            // the index may lag a create: the name's claim knows
            let c = as_code::claimed::<T>(table, scope, &req.name).await?;
            found = c.record.map(|(r, _)| r);
            claim = c.cond;
        }
        if let (Some(r), Some(desired)) = (&found, &req.desired) {
            r.admits(desired)?;
        }
        match decide(&req, found.as_ref())? {
            Decision::Answer(v) => return Ok(Reply::ok(v)),
            Decision::Create(desired) => {
                let r = T::fresh(scope, owner, desired, &app.clock.now_string());
                match as_code::create(table, &r, claim, &app.config.limits).await? {
                    Ok(()) => return Ok(Reply::ok(outcome("created", hash(&r.definition()), &r))),
                    Err(lost) => retry.after(lost).await?,
                }
            }
            Decision::Update(desired) => {
                let id = found
                    .as_ref()
                    .map(|r| r.id().to_string())
                    .unwrap_or_default();
                let r = as_code::update(
                    table,
                    owner,
                    scope,
                    &id,
                    &app.clock.now_string(),
                    |r: &mut T| {
                        // the checks again, on the record rewritten, under its version
                        r.admits(desired)?;
                        let current = hash(&r.definition());
                        if req
                            .expected_remote_hash
                            .as_ref()
                            .is_some_and(|e| *e != current)
                        {
                            return Err(remote_changed(Some(current)));
                        }
                        if current != hash(desired) {
                            conflict(&req, r)?;
                        }
                        r.apply(desired);
                        Ok(())
                    },
                )
                .await?;
                return Ok(Reply::ok(outcome("updated", hash(&r.definition()), &r)));
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

/// The record of `scope` named `name`, as its definition.
async fn pull<T: Converged>(app: &App, scope: &str, name: &str) -> ApiResult<Reply> {
    let r = find::<T>(app, scope, name).await?.ok_or_else(|| {
        ApiError::NotFound(format!("No {} named \"{name}\"", T::WHAT.to_lowercase()))
    })?;
    let definition = r.definition();
    Ok(Reply::ok(json!({
        T::ID_FIELD: r.id(),
        "contentHash": hash(&definition),
        "definition": definition,
        "lastModifiedSource": r.source(),
        "updatedAt": r.modified_at(),
    })))
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
    let p = Product {
        name: name.unwrap_or_default(),
        description,
        icon,
        spec: free_object(f, "spec").unwrap_or_default(),
        ..Product::default()
    };
    p.definition()
}

impl Converged for Product {
    const ID_FIELD: &'static str = "productId";
    fn definition(&self) -> Value {
        Product::definition(self)
    }
    fn source(&self) -> Provenance {
        self.last_modified_source
    }
    fn modified_at(&self) -> &str {
        &self.updated_at
    }
    fn apply(&mut self, d: &Value) {
        let text = |k: &str| d[k].as_str().map(str::to_string);
        self.name = text("name").unwrap_or_default();
        self.description = text("description");
        self.icon = text("icon");
        self.spec = d["spec"].as_object().cloned().unwrap_or_default();
        self.last_modified_source = Provenance::Ensure;
    }
    fn fresh(_owner_scope: &str, owner: &str, d: &Value, now: &str) -> Product {
        let mut p = Product {
            id: crate::ids::new_id("prod"),
            owner: owner.to_string(),
            created_at: now.to_string(),
            updated_at: now.to_string(),
            ..Product::default()
        };
        p.apply(d);
        p
    }
}

/// POST /v1/products/ensure
pub async fn ensure_product(app: &App, call: Call) -> ApiResult<Reply> {
    let req = parse(&call.json()?, product::NAME, product_definition)?;
    ensure::<Product>(app, call.owner(), call.owner(), req).await
}

/// GET /v1/products/pull?name=
pub async fn pull_product(app: &App, call: Call) -> ApiResult<Reply> {
    pull::<Product>(app, call.owner(), name_param(&call)?).await
}

// ---- surfaces ----

fn surface_definition(f: &mut Fields) -> Value {
    let name = f.required_text("name", surface::NAME);
    let kind = f.required_word::<SurfaceType>("type");
    let status = f.word("status").value();
    let environment = f.word("environment").value();
    let s = Surface {
        name: name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        status: status.unwrap_or(SurfaceStatus::Active),
        environment: environment.unwrap_or(SurfaceEnvironment::Development),
        behavior: free_object(f, "behavior"),
        inbound: free_object(f, "inbound"),
        outbound: free_object(f, "outbound"),
        ..Surface::default()
    };
    s.definition()
}

impl Converged for Surface {
    const ID_FIELD: &'static str = "surfaceId";
    fn definition(&self) -> Value {
        Surface::definition(self)
    }
    fn source(&self) -> Provenance {
        self.last_modified_source
    }
    fn modified_at(&self) -> &str {
        &self.updated_at
    }
    /// Its type never changes here (`admits`).
    fn apply(&mut self, d: &Value) {
        let text = |k: &str| d[k].as_str().unwrap_or_default();
        let object = |k: &str| d[k].as_object().cloned();
        self.name = text("name").to_string();
        self.status = Word::parse(text("status")).unwrap_or_default();
        self.environment = Word::parse(text("environment")).unwrap_or_default();
        self.behavior = object("behavior");
        self.inbound = object("inbound");
        self.outbound = object("outbound");
        self.last_modified_source = Provenance::Ensure;
    }
    fn fresh(product_id: &str, owner: &str, d: &Value, now: &str) -> Surface {
        let mut s = Surface {
            id: crate::ids::new_id("surf"),
            product_id: product_id.to_string(),
            owner: owner.to_string(),
            kind: Word::parse(d["type"].as_str().unwrap_or_default()).unwrap_or_default(),
            created_at: now.to_string(),
            updated_at: now.to_string(),
            ..Surface::default()
        };
        s.apply(d);
        s
    }
    /// 400 `IMMUTABLE_FIELD` when the definition would change the surface's type.
    fn admits(&self, d: &Value) -> ApiResult<()> {
        if d["type"].as_str() == Some(self.kind.as_str()) {
            return Ok(());
        }
        Err(ApiError::invalid(
            "definition.type",
            "IMMUTABLE_FIELD",
            format!(
                "type cannot change (this surface is \"{}\"); create a new surface",
                self.kind
            ),
        ))
    }
}

/// POST /v1/products/:id/surfaces/ensure
pub async fn ensure_surface(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let req = parse(&call.json()?, surface::NAME, surface_definition)?;
    crate::repo::owned_product(app.table(), call.owner(), product_id).await?; // the owner first
    ensure::<Surface>(app, call.owner(), product_id, req).await
}

/// GET /v1/products/:id/surfaces/pull?name=
pub async fn pull_surface(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let name = name_param(&call)?;
    crate::repo::owned_product(app.table(), call.owner(), product_id).await?; // the owner first
    pull::<Surface>(app, product_id, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(description: &str, source: Provenance) -> Product {
        Product {
            id: "prod_1".into(),
            name: "Bot".into(),
            description: Some(description.into()),
            last_modified_source: source,
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            ..Product::default()
        }
    }

    fn request(description: Option<&str>) -> Ensure {
        let desired = description.map(|d| json!({ "name": "Bot", "description": d }));
        Ensure {
            name: "Bot".into(),
            content_hash: None,
            sent: desired.clone(),
            desired,
            dry_run: false,
            expected_remote_hash: None,
            overwrite: false,
        }
    }

    fn answer(d: ApiResult<Decision>) -> Value {
        match d {
            Ok(Decision::Answer(v)) => v,
            Ok(Decision::Create(_)) => json!("create"),
            Ok(Decision::Update(_)) => json!("update"),
            Err(e) => json!({ "status": e.status(), "error": e.body() }),
        }
    }

    #[test]
    fn absent_is_created_and_same_is_unchanged() {
        let req = request(Some("answers"));
        assert_eq!(answer(decide::<Product>(&req, None)), json!("create"));
        let same = remote("answers", Provenance::Api);
        let v = answer(decide(&req, Some(&same)));
        assert_eq!(v["result"], "unchanged");
        assert_eq!(v["contentHash"], json!(hash(&same.definition())));
        let dry = Ensure {
            dry_run: true,
            ..request(Some("answers"))
        };
        let v = answer(decide::<Product>(&dry, None));
        assert_eq!(
            (v["result"].clone(), v["changes"].clone()),
            (json!("plan"), json!("create"))
        );
        assert_eq!(v["changedKeys"], json!(["description", "name"]));
    }

    #[test]
    fn a_difference_updates_only_what_ensure_wrote_unless_overwriting() {
        let req = request(Some("new"));
        assert_eq!(
            answer(decide(&req, Some(&remote("old", Provenance::Ensure)))),
            json!("update")
        );
        let v = answer(decide(&req, Some(&remote("old", Provenance::Api))));
        assert_eq!(v["status"], 409);
        assert_eq!(v["error"]["code"], "external_modification");
        assert_eq!(v["error"]["lastModifiedSource"], "api");
        let overwrite = Ensure {
            overwrite: true,
            ..request(Some("new"))
        };
        assert_eq!(
            answer(decide(&overwrite, Some(&remote("old", Provenance::Cli)))),
            json!("update")
        );
    }

    #[test]
    fn probes_and_expected_hashes() {
        let r = remote("answers", Provenance::Ensure);
        let h = hash(&r.definition());
        let probe = Ensure {
            content_hash: Some(h.clone()),
            ..request(None)
        };
        assert_eq!(answer(decide(&probe, Some(&r)))["result"], "unchanged");
        let stale = Ensure {
            content_hash: Some("0".repeat(64)),
            ..request(None)
        };
        assert_eq!(
            answer(decide(&stale, Some(&r)))["result"],
            "definitionRequired"
        );
        assert_eq!(
            answer(decide::<Product>(&probe, None))["result"],
            "definitionRequired"
        );
        let expecting = Ensure {
            expected_remote_hash: Some("f".repeat(64)),
            ..request(Some("new"))
        };
        let v = answer(decide(&expecting, Some(&r)));
        assert_eq!(v["status"], 409);
        assert_eq!(v["error"]["code"], "remote_changed");
        assert_eq!(v["error"]["currentHash"], json!(h));
    }
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::{json, Value};

    use crate::model::{Provenance, SurfaceEnvironment, SurfaceStatus, SurfaceType, Word};
    use crate::rules::{self, product, surface};
    use crate::schema::*;

    /// An ensure of what `id_field` names, whose definition is `definition`.
    fn ensure(id_field: &str, name: Value, definition: Value) -> Doc {
        let mut body = record(&[
            ("name", name),
            ("contentHash?", content_hash()),
            ("definition?", definition),
            ("dryRun?", boolean()),
            ("expectedRemoteHash?", content_hash()),
            ("onConflict?", enumeration(&["error", "overwrite"])),
        ]);
        body["description"] = json!("Identity is `name` (definition.name must equal it); give a definition, or a contentHash alone to probe.");
        body["anyOf"] = json!([{ "required": ["definition"] }, { "required": ["contentHash"] }]);
        let converged = record(&[
            ("result", enumeration(&["unchanged", "created", "updated"])),
            ("contentHash", content_hash()),
            (id_field, string()),
        ]);
        let required = record(&[("result", enumeration(&["definitionRequired"]))]);
        let plan = record(&[
            ("result", enumeration(&["plan"])),
            ("changes", enumeration(&["none", "create", "update"])),
            ("changedKeys", array(string())),
            ("contentHash", content_hash()),
            ("remoteHash?", content_hash()),
            (&format!("{id_field}?"), string()),
        ]);
        Doc::ok(json!({ "anyOf": [converged, required, plan] })).body(body)
    }

    /// A pull of what `id_field` names, whose definition has at least `fields`.
    fn pull(id_field: &str, fields: &[&str]) -> Doc {
        let definition = json!({ "type": "object", "required": fields });
        let name = json!({
            "name": "name",
            "in": "query",
            "required": true,
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
        });
        Doc::ok(record(&[
            (id_field, string()),
            ("contentHash", content_hash()),
            ("definition", definition),
            ("lastModifiedSource", enumeration(Provenance::NAMES)),
            ("updatedAt", time()),
        ]))
        .query(vec![name])
    }

    pub fn ensure_product() -> Doc {
        let definition = record(&[
            ("name", product::NAME.schema()),
            ("description?", nullable(rules::DESCRIPTION.schema())),
            ("icon?", nullable(product::ICON.schema())),
            ("spec?", free()),
        ]);
        ensure("productId", product::NAME.schema(), definition)
    }

    pub fn ensure_surface() -> Doc {
        let definition = record(&[
            ("name", surface::NAME.schema()),
            ("type", enumeration(SurfaceType::NAMES)),
            ("status?", nullable(enumeration(SurfaceStatus::NAMES))),
            (
                "environment?",
                nullable(enumeration(SurfaceEnvironment::NAMES)),
            ),
            ("behavior?", free()),
            ("inbound?", free()),
            ("outbound?", free()),
        ]);
        ensure("surfaceId", surface::NAME.schema(), definition)
    }

    pub fn pull_product() -> Doc {
        pull("productId", &["name"])
    }

    pub fn pull_surface() -> Doc {
        pull("surfaceId", &["name", "type"])
    }
}
