//! /v1/products/:id/executions[/:executionId[/cancel]]: the owner's view of executions.

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::ApiResult;
use crate::repo::executions::{self, Filter};
use crate::repo::listing::Paging;
use crate::validate::{self, query_param, query_word};

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let paging = Paging::of(&call.query)?;
    let mut errors = Vec::new();
    let filter = Filter {
        surface_id: query_param(&call.query, "surfaceId").filter(|v| !v.is_empty()),
        status: query_word(&call.query, "status", &mut errors),
        source: query_word(&call.query, "source", &mut errors),
    };
    validate::finish(errors)?;
    let (table, owner, base) = (app.table(), call.owner(), &call.public_url);
    let page = executions::list(table, owner, product_id, paging, filter, base).await?;
    Ok(Reply::ok(page.to_json()))
}

pub async fn get(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("executionId", "exec", "Execution")?;
    let (e, _) = executions::get(app.table(), call.owner(), product_id, id).await?;
    // `?wait=N`: a long poll, once the owner is known
    let e = match call.query_wait() {
        Some(secs) if !e.is_final() => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            executions::until_final(app.table(), id, deadline)
                .await?
                .ok_or_else(|| crate::error::ApiError::not_found("Execution"))?
        }
        _ => e,
    };
    Ok(Reply::ok(e.to_json(&call.public_url)))
}

pub async fn cancel(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("executionId", "exec", "Execution")?;
    let now = crate::time::format(app.now());
    let e = executions::cancel(app.table(), call.owner(), product_id, id, &now).await?;
    Ok(Reply::ok(e.to_json(&call.public_url)))
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use crate::model::{ExecutionStatus, Source, Word};
    use crate::schema::*;

    pub fn list() -> Doc {
        Doc::ok(page(r("Execution"))).query(paging()).query(vec![
            query("surfaceId", string()),
            query("status", enumeration(ExecutionStatus::NAMES)),
            query("source", enumeration(Source::NAMES)),
        ])
    }

    pub fn get() -> Doc {
        Doc::ok(r("Execution"))
    }

    pub fn cancel() -> Doc {
        Doc::ok(r("Execution"))
    }
}
