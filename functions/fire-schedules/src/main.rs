//! The scheduler: each EventBridge tick fires every schedule due at or before now.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), runtype::lambda::Error> {
    let app = runtype::lambda::app().await?;
    runtype::lambda::serve_scheduler(&app).await
}
