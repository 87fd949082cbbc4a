//! The committed `openapi.json` is exactly what the code generates, and it covers every route.

use std::path::PathBuf;

crate::cases! {
    plain: [committed_document_matches_the_code, every_route_is_documented],
}

fn committed_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("openapi.json");
    let committed = std::fs::read_to_string(&path).expect("openapi.json is committed");
    assert!(
        committed == runtype::openapi::document_text(),
        "openapi.json drifted from the code: regenerate it with `cargo run --bin runtype -- openapi > openapi.json`"
    );
}

fn every_route_is_documented() {
    let doc = runtype::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for route in runtype::router::routes() {
        let path = route.path.split('/').map(|s| match s.strip_prefix(':') {
            Some(n) => format!("{{{n}}}"),
            None => s.to_string(),
        });
        let path: Vec<String> = path.collect();
        let op = &doc["paths"][path.join("/")][route.method.as_str().to_lowercase()];
        assert_eq!(
            op["operationId"], route.function,
            "{} {}",
            route.method, route.path
        );
        assert!(op["responses"]["401"].is_object() && op["responses"]["404"].is_object());
        operations += 1;
    }
    assert_eq!(operations, 26);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
