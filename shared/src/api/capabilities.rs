//! /v1/products/:id/capabilities[/:capabilityId]

use crate::app::App;
use crate::call::{Call, Reply};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::Capability;
use crate::repo::capabilities;
use crate::rules::{self, capability, Text};
use crate::validate::{Assign, Fields, Patch};

/// 403 when the operator's allow-list (`RUNTYPE_FLOW_ALLOWLIST`) does not let `owner` name
/// flow or agent `id` in `field`.
pub fn may_name(app: &App, owner: &str, field: &str, id: Option<&str>) -> ApiResult<()> {
    match (&app.config.flow_allowlist, id) {
        (Some(list), Some(id)) if !list.allows(owner, id) => Err(ApiError::Forbidden(format!(
            "This account may not run {id} ({field}); the operator's allow-list does not name it"
        ))),
        _ => Ok(()),
    }
}

pub async fn create(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let name = f.required_text("capabilityName", capability::NAME);
    let flow_id = f.text("flowId", rules::REFERENCE).value();
    let agent_id = f.text("agentId", rules::REFERENCE).value();
    let flow_given = f.raw("flowId").is_some_and(|v| !v.is_null());
    let agent_given = f.raw("agentId").is_some_and(|v| !v.is_null());
    match (flow_given, agent_given) {
        (false, false) => f.push(
            Detail::new(
                "flowId",
                "MISSING_REQUIRED_FIELD",
                "one of flowId or agentId is required",
            )
            .suggest("give the flow or the agent this capability exposes"),
        ),
        (true, true) => f.push(Detail::new(
            "agentId",
            "INVALID_FORMAT",
            "give exactly one of flowId or agentId, not both",
        )),
        _ => {}
    }
    let description = f.text("capabilityDescription", rules::DESCRIPTION).value();
    let schema = f.any("parametersSchema", rules::FREE_JSON).value();
    let p = f.boolean("enabled");
    let enabled = f.not_null("enabled", p).unwrap_or(true);
    f.finish()?;
    for (field, id) in [("flowId", &flow_id), ("agentId", &agent_id)] {
        may_name(app, call.owner(), field, id.as_deref())?;
    }

    let now = app.clock.now_string();
    let draft = Capability {
        id: crate::ids::new_id("cap"),
        product_id: product_id.to_string(),
        owner: call.owner().to_string(),
        flow_id,
        agent_id,
        capability_name: name.unwrap_or_default(),
        capability_description: description,
        enabled,
        display_order: None,
        parameters_schema: schema,
        created_at: now.clone(),
        updated_at: now,
    };
    let cap = capabilities::add(app.table(), draft, &app.config.limits).await?;
    Ok(Reply::created(cap.to_json()))
}

pub async fn update(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("capabilityId", "cap", "Capability")?;
    let body = call.json()?;
    let mut f = Fields::new(&body);
    let p = f.text("capabilityName", capability::NAME);
    let name = f.not_null("capabilityName", p);
    let description = f
        .text("capabilityDescription", rules::DESCRIPTION)
        .nullable();
    let schema = f.any("parametersSchema", rules::FREE_JSON).nullable();
    let p = f.boolean("enabled");
    let enabled = f.not_null("enabled", p);
    // Accepted for compatibility: schemas are not fetched from a flow service here.
    let _refresh = f.boolean("refreshSchema");
    let flow_id = f.text(
        "flowId",
        Text {
            min: 0,
            ..rules::REFERENCE
        },
    );
    let agent_id = f.text(
        "agentId",
        Text {
            min: 0,
            ..rules::REFERENCE
        },
    );
    f.finish()?;

    let cap = capabilities::update(
        app.table(),
        call.owner(),
        product_id,
        id,
        &app.clock.now_string(),
        |c| {
            let mut errors = Vec::new();
            for (field, sent, current) in [
                ("flowId", &flow_id, &c.flow_id),
                ("agentId", &agent_id, &c.agent_id),
            ] {
                if changes(sent, current) {
                    errors.push(Detail::new(
                        field,
                        "IMMUTABLE_FIELD",
                        format!("{field} cannot be changed; create a new capability instead"),
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            name.assign(&mut c.capability_name);
            description.assign(&mut c.capability_description);
            if let Some(s) = &schema {
                c.parameters_schema = s.clone().filter(|v| !v.is_null());
            }
            enabled.assign(&mut c.enabled);
            Ok(())
        },
    )
    .await?;
    Ok(Reply::ok(cap.to_json()))
}

/// Whether a sent `flowId`/`agentId` differs from the stored one.
fn changes(sent: &Patch<String>, current: &Option<String>) -> bool {
    match sent {
        Patch::Absent => false,
        Patch::Null => current.is_some(),
        Patch::Value(v) => current.as_deref() != Some(v.as_str()),
    }
}

pub async fn delete(app: &App, call: Call) -> ApiResult<Reply> {
    let product_id = call.id("id", "prod", "Product")?;
    let id = call.id("capabilityId", "cap", "Capability")?;
    capabilities::delete(app.table(), call.owner(), product_id, id, app.now()).await?;
    Ok(Reply::deleted())
}

/// The contract of each operation here (OpenAPI).
pub mod doc {
    use serde_json::{json, Value};

    use crate::rules::{self, capability};
    use crate::schema::*;

    fn fields() -> Vec<(&'static str, Value)> {
        vec![
            ("capabilityName", capability::NAME.schema()),
            (
                "capabilityDescription",
                nullable(rules::DESCRIPTION.schema()),
            ),
            ("parametersSchema", rules::FREE_JSON.any_schema()),
            ("enabled", boolean()),
        ]
    }

    pub fn create() -> Doc {
        let mut props = fields();
        props.push(("flowId", rules::REFERENCE.schema()));
        props.push(("agentId", rules::REFERENCE.schema()));
        let mut body = schema(&props, &["capabilityName"]);
        // exactly one of flowId and agentId
        body["oneOf"] = json!([{ "required": ["flowId"] }, { "required": ["agentId"] }]);
        body["description"] = json!("Give exactly one of flowId and agentId.");
        Doc::answers(201, r("Capability")).body(body)
    }

    pub fn update() -> Doc {
        let mut props = fields();
        props.push(("refreshSchema", boolean()));
        Doc::ok(r("Capability")).body(schema(&props, &[]))
    }

    pub fn delete() -> Doc {
        Doc::ok(deleted())
    }
}
