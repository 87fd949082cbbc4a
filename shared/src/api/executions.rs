//! /v1/products/:id/executions[/:executionId[/cancel]]: the owner's view of executions.

use super::{Call, Reply};
use crate::app::App;
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::execution::{SOURCES, STATUSES};
use crate::repo::executions::{self, Filter};
use crate::validate::{self, query_param};

fn one_of<'q>(call: &'q Call, name: &str, allowed: &[&str]) -> ApiResult<Option<&'q str>> {
    match query_param(&call.query, name).filter(|v| !v.is_empty()) {
        Some(v) if !allowed.contains(&v) => Err(ApiError::Validation(vec![Detail::new(
            name,
            "INVALID_ENUM",
            format!("{name} must be one of: {}", allowed.join(", ")),
        )])),
        other => Ok(other),
    }
}

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let limit = validate::limit(&call.query)?;
    let cursor = query_param(&call.query, "cursor");
    let filter = Filter {
        surface_id: query_param(&call.query, "surfaceId").filter(|v| !v.is_empty()),
        status: one_of(&call, "status", STATUSES)?,
        source: one_of(&call, "source", SOURCES)?,
    };
    let page = executions::list(
        app.table(),
        call.owner(),
        product_id,
        limit,
        cursor,
        filter,
        &call.public_url,
    )
    .await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn get(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("executionId", "exec", "Execution")?;
    let (e, _) = executions::get(app.table(), call.owner(), product_id, id).await?;
    Ok(Reply::ok(e.to_json(&call.public_url)))
}

pub async fn cancel(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("executionId", "exec", "Execution")?;
    let now = crate::time::format(app.now());
    let e = executions::cancel(app.table(), call.owner(), product_id, id, &now).await?;
    Ok(Reply::ok(e.to_json(&call.public_url)))
}
