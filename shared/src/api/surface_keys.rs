//! /v1/products/:id/surfaces/:surfaceId/keys[/:keyId] — the seed endpoint.

use serde_json::Value;

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::{ApiResult, Detail};
use crate::model::Environment;
use crate::repo::surface_keys::{self, NewKey};
use crate::rules::{self, key::MAX_SCOPES};
use crate::validate::{Fields, Patch};

fn scopes(f: &mut Fields) -> Option<Vec<String>> {
    match f.raw("scopes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(entries)) => {
            if entries.is_empty() {
                // no scope would authorise nothing: say so rather than guess
                f.push(
                    Detail::new(
                        "scopes",
                        "TOO_SHORT",
                        "scopes must name at least one item (or \"*\"); omit it for a key to every item",
                    )
                    .suggest("omit scopes, or list the items this key may call"),
                );
                return None;
            }
            if entries.len() > MAX_SCOPES {
                f.push(Detail::new(
                    "scopes",
                    "TOO_LONG",
                    format!("scopes may hold at most {MAX_SCOPES} entries"),
                ));
                return None;
            }
            let mut out = Vec::new();
            for (i, e) in entries.iter().enumerate() {
                match e.as_str() {
                    Some(s) if rules::key::SCOPE.admits(s) => out.push(s.trim().to_string()),
                    Some(_) => f.push(Detail::new(
                        format!("scopes.{i}"),
                        "INVALID_FORMAT",
                        "each scope must be 1 to 255 characters",
                    )),
                    None => f.push(Detail::new(
                        format!("scopes.{i}"),
                        "INVALID_TYPE",
                        "each scope must be a string",
                    )),
                }
            }
            Some(out)
        }
        Some(_) => {
            f.fail("scopes", "INVALID_TYPE", "scopes must be a list of strings");
            None
        }
    }
}

/// `expiresAt`: an RFC 3339 instant in the future, answered in UTC with milliseconds.
fn expires_at(f: &mut Fields, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let Patch::Value(raw) = f.text("expiresAt", rules::INSTANT) else {
        return None;
    };
    match crate::time::parse(&raw) {
        None => {
            f.push(
                Detail::new(
                    "expiresAt",
                    "INVALID_FORMAT",
                    "expiresAt must be an RFC 3339 date-time",
                )
                .suggest("for example 2030-01-01T00:00:00Z"),
            );
            None
        }
        Some(t) if t <= now => {
            f.fail(
                "expiresAt",
                "OUT_OF_RANGE",
                "expiresAt must be in the future",
            );
            None
        }
        Some(t) => Some(crate::time::format(t)),
    }
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let surface_id = call.id("surfaceId", "surf", "Surface")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let name = f.text("name", rules::LABEL).value();
    let scopes = scopes(&mut f);
    let per_minute = f.integer("rateLimitPerMinute", rules::RATE).value();
    let per_day = f.integer("rateLimitPerDay", rules::RATE).value();
    let expires_at = expires_at(&mut f, app.now());
    let p = f.word("environment");
    let environment = f.not_null("environment", p).unwrap_or(Environment::Test);
    f.finish()?;

    let new = NewKey {
        name,
        scopes,
        rate_limit_per_minute: per_minute,
        rate_limit_per_day: per_day,
        expires_at,
        environment,
        created_at: app.clock.now_string(),
    };
    let (key, plaintext) = surface_keys::create(
        app.table(),
        call.owner(),
        product_id,
        surface_id,
        new,
        &app.config.limits,
    )
    .await?;
    Ok(Reply::created(key.created_json(&plaintext)).carrying_secret(&key.id))
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let surface_id = call.id("surfaceId", "surf", "Surface")?;
    let id = call.id("keyId", "key", "Key")?;
    surface_keys::delete(app.table(), call.owner(), product_id, surface_id, id).await?;
    Ok(Reply::deleted())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use crate::model::{Environment, Word};
    use crate::rules::{self, key};
    use crate::schema::*;

    pub fn create() -> Doc {
        let mut scopes = texts(key::SCOPE, key::MAX_SCOPES);
        scopes["minItems"] = serde_json::json!(1);
        let body = optional(&[
            ("name", nullable(rules::LABEL.schema())),
            ("scopes", nullable(scopes)),
            ("rateLimitPerMinute", nullable(rules::RATE.schema())),
            ("rateLimitPerDay", nullable(rules::RATE.schema())),
            ("expiresAt", nullable(instant())),
            ("environment", enumeration(Environment::NAMES)),
        ]);
        Doc::answers(201, r("SurfaceKeyCreated")).body(body)
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }
}
