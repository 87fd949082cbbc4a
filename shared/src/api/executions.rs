//! /v1/products/:id/executions[/:executionId[/cancel]]: the owner's view of executions.

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::ApiResult;
use crate::repo::executions::{self, Filter, Report};
use crate::repo::listing::Paging;
use crate::rules;
use crate::validate::Fields;
use crate::validate::{self, query_param, query_word};

pub async fn list(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let paging = Paging::of(&call.query)?;
    let mut errors = Vec::new();
    let filter = Filter {
        surface_id: query_param(&call.query, "surfaceId").filter(|v| !v.is_empty()),
        status: query_word(&call.query, "status", &mut errors),
        source: query_word(&call.query, "source", &mut errors),
        ..Filter::default()
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
            executions::until_final(app.table(), id, deadline, &app.executions_settled)
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

/// POST /v1/executions/:executionId/complete: a runner that answered 202 reports, with the
/// execution's callback token. The token is checked against the execution (401 for a wrong
/// one and for an unknown execution alike); the body before anything is read.
pub async fn complete(app: &App, call: Call) -> ApiResult<Reply> {
    let token = crate::auth::bearer(&call.headers)?.to_string();
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let status = f.required_one_of("status", &["completed", "failed"]);
    let result = f.any("result", rules::REPORT_RESULT).value();
    let error = f.text("error", rules::REPORT_ERROR).value();
    f.finish()?;
    let report = match status.as_deref() {
        Some("completed") => Report::Completed(result.unwrap_or(serde_json::Value::Null)),
        _ => Report::Failed(error.unwrap_or_else(|| "the runner reported a failure".into())),
    };
    // an id that cannot be one is as unknown as any other
    let id = call.param("executionId");
    if !crate::ids::is_valid("exec", id) {
        return Err(crate::error::ApiError::Unauthorized(
            "Invalid callback token or unknown execution".into(),
        ));
    }
    let e = executions::report(app.table(), id, &token, &report, app.now()).await?;
    // no one waiting is no error
    let _ = app.executions_settled.send(e.id.clone());
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
        Doc::ok(r("Execution")).query(vec![long_poll()])
    }

    pub fn cancel() -> Doc {
        Doc::ok(r("Execution"))
    }

    pub fn complete() -> Doc {
        let body = record(&[
            ("status", enumeration(&["completed", "failed"])),
            ("result?", any()),
            ("error?", crate::rules::REPORT_ERROR.schema()),
        ]);
        Doc::ok(r("Execution")).body(body)
    }
}
