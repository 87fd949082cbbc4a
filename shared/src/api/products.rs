//! /v1/products and /v1/products/:id

use serde_json::{Map, Value};

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::ApiResult;
use crate::model::Product;
use crate::repo::listing::Paging;
use crate::repo::partition::Partition;
use crate::repo::products;
use crate::rules::{self, product};
use crate::validate::{self, deep_merge, Assign, Fields, Patch};

/// `canvas`/`spec`: an object; `null` stands for an empty one.
fn free_object(f: &mut Fields, name: &str) -> Option<Map<String, Value>> {
    match f.object(name, rules::FREE_JSON) {
        Patch::Value(m) => Some(m),
        Patch::Null => Some(Map::new()),
        Patch::Absent => None,
    }
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let name = f.required_text("name", product::NAME);
    let description = f.text("description", rules::DESCRIPTION).value();
    let icon = f.text("icon", product::ICON).value();
    let canvas = free_object(&mut f, "canvas").unwrap_or_default();
    let spec = free_object(&mut f, "spec").unwrap_or_default();
    f.finish()?;

    let now = app.clock.now_string();
    let product = Product {
        id: crate::ids::new_id("prod"),
        owner: call.owner().to_string(),
        name: name.unwrap_or_default(),
        description,
        icon,
        canvas,
        spec,
        created_at: now.clone(),
        updated_at: now,
        capability_seq: 0,
        last_modified_source: crate::model::Provenance::Api,
    };
    products::create(app.table(), &product, &app.config.limits).await?;
    let mut body = product.to_json();
    body["capabilities"] = Value::Array(vec![]);
    body["surfaces"] = Value::Array(vec![]);
    Ok(Reply::created(body))
}

pub async fn update(app: &App, call: Call) -> ApiResult<Reply> {
    let id = call.id("id", "prod", "Product")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let p = f.text("name", product::NAME);
    let name = f.not_null("name", p);
    let description = f.text("description", rules::DESCRIPTION).nullable();
    let icon = f.text("icon", product::ICON).nullable();
    let canvas = f.object("canvas", rules::FREE_JSON);
    let spec = f.object("spec", rules::FREE_JSON);
    f.finish()?;

    let product = products::update(
        app.table(),
        call.owner(),
        id,
        &app.clock.now_string(),
        |p| {
            name.assign(&mut p.name);
            description.assign(&mut p.description);
            icon.assign(&mut p.icon);
            merge_free(&mut p.canvas, &canvas);
            merge_free(&mut p.spec, &spec);
            p.last_modified_source = crate::model::Provenance::Api;
            validate_merged(p)
        },
    )
    .await?;
    Ok(Reply::ok(product.to_json()))
}

fn merge_free(target: &mut Map<String, Value>, patch: &Patch<Map<String, Value>>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => target.clear(),
        Patch::Value(m) => deep_merge(target, m),
    }
}

/// A merge can grow `canvas`/`spec` past their limit even when each patch is small.
fn validate_merged(p: &Product) -> ApiResult<()> {
    let mut errors = Vec::new();
    for (name, v) in [("canvas", &p.canvas), ("spec", &p.spec)] {
        if serde_json::to_vec(v).map_or(0, |b| b.len()) > rules::FREE_JSON.max_bytes {
            errors.push(crate::error::Detail::new(
                name,
                "TOO_LONG",
                format!("{name} must be at most 64 KiB when serialised (after merging)"),
            ));
        }
    }
    validate::finish(errors)
}

pub async fn get(app: &App, call: Call) -> ApiResult<Reply> {
    let id = call.id("id", "prod", "Product")?;
    let p = Partition::load(app.table(), call.owner(), id).await?;
    Ok(Reply::ok(p.product_json(&call.public_url)))
}

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let paging = Paging::of(&call.query)?;
    let search = validate::query_param(&call.query, "search");
    let page = products::list(app.table(), call.owner(), paging, search).await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let id = call.id("id", "prod", "Product")?;
    products::delete(app.table(), call.owner(), id).await?;
    Ok(Reply::deleted())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::Value;

    use crate::rules::{self, product};
    use crate::schema::*;

    fn body(required: &[&str]) -> Value {
        schema(
            &[
                ("name", product::NAME.schema()),
                ("description", nullable(rules::DESCRIPTION.schema())),
                ("icon", nullable(product::ICON.schema())),
                ("canvas", free()),
                ("spec", free()),
            ],
            required,
        )
    }

    pub fn create() -> Doc {
        let answer = extend(
            "Product",
            &[("capabilities", array(any())), ("surfaces", array(any()))],
        );
        Doc::answers(201, answer).body(body(&["name"]))
    }

    pub fn update() -> Doc {
        Doc::ok(r("Product")).body(body(&[]))
    }

    pub fn list() -> Doc {
        let entry = extend(
            "Product",
            &[
                ("capabilityCount", integer()),
                (
                    "capabilities",
                    array(record(&[("capabilityName", string())])),
                ),
                ("surfaceCount", integer()),
                (
                    "surfaces",
                    array(record(&[("name", string()), ("type", string())])),
                ),
            ],
        );
        Doc::ok(page(entry))
            .query(paging())
            .query(vec![query("search", string())])
    }

    pub fn get() -> Doc {
        let surface = extend("Surface", &[("items", array(r("SurfaceItemDetail")))]);
        Doc::ok(extend(
            "Product",
            &[
                ("capabilities", array(r("Capability"))),
                ("surfaces", array(surface)),
            ],
        ))
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }
}
