//! /v1/products/:id/surfaces[/:surfaceId]

use serde_json::{Map, Value};

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::{ApiResult, Detail};
use crate::model::Surface;
use crate::model::{Provenance, SurfaceEnvironment, SurfaceStatus, SurfaceType};
use crate::repo::listing::Paging;
use crate::repo::partition::Partition;
use crate::repo::surfaces;
use crate::rules::{self, surface};
use crate::validate::{self, Assign, Fields, Patch};

/// `config`, and inside it `rateLimit.perMinute`/`perDay` (integers ≥ 1).
fn config(f: &mut Fields) -> Patch<Map<String, Value>> {
    let config = f.object("config", rules::FREE_JSON);
    if let Patch::Value(c) = &config {
        let mut inner = Fields::nested(c, "config");
        if let Patch::Value(rl) = inner.object("rateLimit", rules::FREE_JSON) {
            let mut limits = Fields::nested(&rl, "config.rateLimit");
            limits.integer("perMinute", rules::RATE);
            limits.integer("perDay", rules::RATE);
            inner.errors.append(&mut limits.errors);
        }
        f.errors.append(&mut inner.errors);
    }
    config
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let name = f.required_text("name", surface::NAME);
    let kind = f.required_word::<SurfaceType>("type");
    let p = f.word("status");
    let status = f.not_null("status", p).unwrap_or(SurfaceStatus::Active);
    let p = f.word("environment");
    let environment = f
        .not_null("environment", p)
        .unwrap_or(SurfaceEnvironment::Development);
    let config = config(&mut f).value();
    let behavior = f.object("behavior", rules::FREE_JSON).value();
    let inbound = f.object("inbound", rules::FREE_JSON).value();
    let outbound = f.object("outbound", rules::FREE_JSON).value();
    f.finish()?;

    let now = app.clock.now_string();
    let surface = Surface {
        id: crate::ids::new_id("surf"),
        product_id: product_id.to_string(),
        owner: call.owner().to_string(),
        name: name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        status,
        environment,
        config,
        behavior,
        inbound,
        outbound,
        created_at: now.clone(),
        updated_at: now,
        last_modified_source: Provenance::Api,
    };
    surfaces::create(app.table(), &surface, &app.config.limits).await?;
    let mut body = surface.to_json(&call.public_url);
    body["items"] = Value::Array(vec![]);
    body["keys"] = Value::Array(vec![]);
    Ok(Reply::created(body))
}

pub async fn update(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("surfaceId", "surf", "Surface")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let p = f.text("name", surface::NAME);
    let name = f.not_null("name", p);
    let p = f.word::<SurfaceType>("type");
    let kind = f.not_null("type", p);
    let p = f.word::<SurfaceStatus>("status");
    let status = f.not_null("status", p);
    let p = f.word::<SurfaceEnvironment>("environment");
    let environment = f.not_null("environment", p);
    let config = config(&mut f).nullable();
    let behavior = f.object("behavior", rules::FREE_JSON);
    let inbound = f.object("inbound", rules::FREE_JSON).nullable();
    let outbound = f.object("outbound", rules::FREE_JSON).nullable();
    f.finish()?;

    let surface = surfaces::update(
        app.table(),
        call.owner(),
        product_id,
        id,
        &app.clock.now_string(),
        |s| {
            if let Some(k) = &kind {
                if *k != s.kind {
                    return validate::finish(vec![Detail::new(
                        "type",
                        "IMMUTABLE_FIELD",
                        format!(
                            "type cannot change (this surface is \"{}\"); create a new surface",
                            s.kind
                        ),
                    )]);
                }
            }
            name.assign(&mut s.name);
            status.assign(&mut s.status);
            environment.assign(&mut s.environment);
            config.assign(&mut s.config);
            match &behavior {
                Patch::Absent => {}
                Patch::Null => s.behavior = None,
                Patch::Value(patch) => {
                    let merged = s.behavior.get_or_insert_with(Map::new);
                    for (k, v) in patch {
                        if v.is_null() {
                            merged.remove(k);
                        } else {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            inbound.assign(&mut s.inbound);
            outbound.assign(&mut s.outbound);
            s.last_modified_source = Provenance::Api;
            Ok(())
        },
    )
    .await?;
    Ok(Reply::ok(surface.to_json(&call.public_url)))
}

pub async fn get(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("surfaceId", "surf", "Surface")?;
    let p = Partition::load(app.table(), call.owner(), product_id).await?;
    let (surface, _) = p.surface(id)?;
    Ok(Reply::ok(p.surface_json(surface, &call.public_url)))
}

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let paging = Paging::of(&call.query)?;
    let mut errors = Vec::new();
    let kind = validate::query_word::<SurfaceType>(&call.query, "type", &mut errors);
    let status = validate::query_word::<SurfaceStatus>(&call.query, "status", &mut errors);
    validate::finish(errors)?;
    let (table, owner, base) = (app.table(), call.owner(), &call.public_url);
    let page = surfaces::list(table, owner, product_id, paging, kind, status, base).await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("surfaceId", "surf", "Surface")?;
    surfaces::delete(app.table(), call.owner(), product_id, id).await?;
    Ok(Reply::deleted())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::Value;

    use crate::model::{SurfaceEnvironment, SurfaceStatus, SurfaceType, Word};
    use crate::rules::surface;
    use crate::schema::*;

    fn body(required: &[&str]) -> Value {
        schema(
            &[
                ("name", surface::NAME.schema()),
                ("type", enumeration(SurfaceType::NAMES)),
                ("status", enumeration(SurfaceStatus::NAMES)),
                ("environment", enumeration(SurfaceEnvironment::NAMES)),
                ("config", nullable(surface_config())),
                ("behavior", free()),
                ("inbound", free()),
                ("outbound", free()),
            ],
            required,
        )
    }

    pub fn create() -> Doc {
        let answer = extend(
            "Surface",
            &[("items", array(any())), ("keys", array(any()))],
        );
        Doc::answers(201, answer).body(body(&["name", "type"]))
    }

    pub fn update() -> Doc {
        Doc::ok(r("Surface")).body(body(&[]))
    }

    pub fn list() -> Doc {
        Doc::ok(page(r("Surface"))).query(paging()).query(vec![
            query("type", enumeration(SurfaceType::NAMES)),
            query("status", enumeration(SurfaceStatus::NAMES)),
        ])
    }

    pub fn get() -> Doc {
        let target = record(&[
            ("id", string()),
            ("name", string()),
            ("capabilityId?", string()),
            ("surfaceItemId?", string()),
        ]);
        Doc::ok(extend(
            "Surface",
            &[
                ("items", array(r("SurfaceItemDetail"))),
                ("keys", array(r("SurfaceKey"))),
                ("scopeTargets", array(target)),
            ],
        ))
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }
}
