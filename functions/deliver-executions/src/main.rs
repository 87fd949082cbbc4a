//! Delivery: each batch from the table's stream (new executions) or the retry queue goes to
//! the runner.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), runtype::lambda::Error> {
    let app = runtype::lambda::app().await?;
    runtype::lambda_delivery::serve_delivery(&app).await
}
