//! Floor: a function that does one PutItem, with the SDK's default features.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, &table);
    run(service_fn(move |_e: LambdaEvent<Value>| async move {
        client
            .put_item()
            .table_name(table)
            .item("PK", AttributeValue::S("FLOOR#1".into()))
            .item("SK", AttributeValue::S("FLOOR#1".into()))
            .send()
            .await?;
        Ok::<_, Error>(serde_json::json!({ "ok": true }))
    }))
    .await
}
