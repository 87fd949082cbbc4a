//! /v1/products/:id/surfaces/:surfaceId/items[/:itemId]

use serde_json::{Map, Value};

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::surface::is_slug;
use crate::model::SurfaceItem;
use crate::repo::items;
use crate::rules::{self, item, Text};
use crate::validate::{deep_merge, Assign, Fields, Patch};

/// `endpointSlug`: `^[a-z0-9-]+$`, 1..100 characters.
fn slug(f: &mut Fields) -> Patch<String> {
    match f.text("endpointSlug", item::SLUG) {
        Patch::Value(s) if !is_slug(&s) => {
            f.push(
                Detail::new(
                    "endpointSlug",
                    "INVALID_FORMAT",
                    "endpointSlug may contain only a-z, 0-9 and -",
                )
                .suggest("for example \"answer-questions\""),
            );
            Patch::Absent
        }
        other => other,
    }
}

/// `presentation`, field by field: `displayLabel`, `displayMode` and `route` are required.
fn presentation(f: &mut Fields) -> Patch<Map<String, Value>> {
    let p = f.object("presentation", rules::FREE_JSON);
    if let Patch::Value(obj) = &p {
        let mut g = Fields::nested(obj, "presentation");
        g.required_text("displayLabel", item::DISPLAY_LABEL);
        let missing = match g.one_of("displayMode", item::DISPLAY_MODES) {
            Patch::Value(_) => false,
            Patch::Null => true,
            // absent, or present but wrong (already reported)
            Patch::Absent => !g.has("displayMode"),
        };
        if missing {
            g.push(Detail::new(
                "presentation.displayMode",
                "MISSING_REQUIRED_FIELD",
                "presentation.displayMode is required",
            ));
        }
        g.required_text("route", item::ROUTE);
        g.text("displayIcon", rules::LABEL);
        g.integer("displayOrder", rules::POSITION);
        g.boolean("isDefault");
        g.one_of("visibility", item::VISIBILITIES);
        if let Patch::Value(form) = g.object("formConfig", rules::FREE_JSON) {
            let mut h = Fields::nested(&form, "presentation.formConfig");
            h.text("submitButtonLabel", rules::LABEL);
            h.text("successMessage", rules::DESCRIPTION);
            h.object("inputSchemaOverrides", rules::FREE_JSON);
            g.errors.append(&mut h.errors);
        }
        f.errors.append(&mut g.errors);
    }
    p
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let surface_id = call.id("surfaceId", "surf", "Surface")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let capability_id = f.required_text("capabilityId", rules::REFERENCE);
    let exposed_name = f.text("exposedName", item::EXPOSED_NAME).value();
    let exposed_description = f.text("exposedDescription", rules::DESCRIPTION).value();
    let endpoint_slug = slug(&mut f).value();
    let p = f.boolean("isEntryPoint");
    let is_entry_point = f.not_null("isEntryPoint", p).unwrap_or(false);
    let p = f.boolean("enabled");
    let enabled = f.not_null("enabled", p).unwrap_or(true);
    let config = f.object("config", rules::FREE_JSON).value();
    let presentation = presentation(&mut f).value();
    f.finish()?;
    let capability_id = capability_id.unwrap_or_default();
    if !crate::ids::is_valid("cap", &capability_id) {
        return Err(ApiError::invalid(
            "capabilityId",
            "INVALID_REFERENCE",
            "capabilityId must name a capability of this product",
        ));
    }

    let now = app.clock.now_string();
    let draft = SurfaceItem {
        id: crate::ids::new_id("surfitem"),
        surface_id: surface_id.to_string(),
        product_id: product_id.to_string(),
        owner: call.owner().to_string(),
        capability_id,
        exposed_name,
        exposed_description,
        endpoint_slug,
        is_entry_point,
        enabled,
        display_order: None,
        config,
        presentation,
        created_at: now.clone(),
        updated_at: now,
    };
    let item = items::add(app.table(), draft, &app.config.limits).await?;
    Ok(Reply::created(item.to_json()))
}

pub async fn update(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let surface_id = call.id("surfaceId", "surf", "Surface")?;
    let id = call.id("itemId", "surfitem", "Surface item")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let capability_id = f.text(
        "capabilityId",
        Text {
            min: 0,
            ..rules::REFERENCE
        },
    );
    let exposed_name = f.text("exposedName", item::EXPOSED_NAME).nullable();
    let exposed_description = f.text("exposedDescription", rules::DESCRIPTION).nullable();
    let endpoint_slug = slug(&mut f).nullable();
    let p = f.boolean("isEntryPoint");
    let is_entry_point = f.not_null("isEntryPoint", p);
    let p = f.boolean("enabled");
    let enabled = f.not_null("enabled", p);
    let config = f.object("config", rules::FREE_JSON);
    let presentation = presentation(&mut f).nullable();
    f.finish()?;

    let item = items::update(
        app.table(),
        call.owner(),
        product_id,
        surface_id,
        id,
        &app.clock.now_string(),
        |it| {
            let changed = match &capability_id {
                Patch::Absent => false,
                Patch::Null => true,
                Patch::Value(c) => *c != it.capability_id,
            };
            if changed {
                return Err(ApiError::invalid(
                    "capabilityId",
                    "IMMUTABLE_FIELD",
                    "capabilityId cannot change; bind the other capability as a new item",
                ));
            }
            exposed_name.assign(&mut it.exposed_name);
            exposed_description.assign(&mut it.exposed_description);
            endpoint_slug.assign(&mut it.endpoint_slug);
            is_entry_point.assign(&mut it.is_entry_point);
            enabled.assign(&mut it.enabled);
            match &config {
                Patch::Absent => {}
                Patch::Null => it.config = None,
                Patch::Value(patch) => deep_merge(it.config.get_or_insert_with(Map::new), patch),
            }
            presentation.assign(&mut it.presentation);
            Ok(())
        },
    )
    .await?;
    Ok(Reply::ok(item.to_json()))
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let surface_id = call.id("surfaceId", "surf", "Surface")?;
    let id = call.id("itemId", "surfitem", "Surface item")?;
    items::delete(
        app.table(),
        call.owner(),
        product_id,
        surface_id,
        id,
        app.now(),
    )
    .await?;
    Ok(Reply::deleted())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::Value;

    use crate::rules::{self, item};
    use crate::schema::*;

    fn body(required: &[&str]) -> Value {
        schema(
            &[
                ("capabilityId", rules::REFERENCE.schema()),
                ("exposedName", nullable(item::EXPOSED_NAME.schema())),
                ("exposedDescription", nullable(rules::DESCRIPTION.schema())),
                ("endpointSlug", nullable(slug())),
                ("isEntryPoint", boolean()),
                ("enabled", boolean()),
                ("config", free()),
                ("presentation", nullable(r("Presentation"))),
            ],
            required,
        )
    }

    pub fn create() -> Doc {
        Doc::answers(201, r("SurfaceItem")).body(body(&["capabilityId"]))
    }

    pub fn update() -> Doc {
        Doc::ok(r("SurfaceItem")).body(body(&[]))
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }
}
