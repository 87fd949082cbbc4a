//! `GET /v1/products/:id/surfaces/:surfaceId/a2a/info`: builds the app once per cold start, then serves the route.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), runtype::lambda::Error> {
    let app = runtype::lambda::app().await?;
    runtype::lambda::serve(&app, &runtype::router::A2A_INFO).await
}
