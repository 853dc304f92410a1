//! The OpenAPI document is generated from the same routes the router serves.

use axum::http::StatusCode;
use system_tests::spawn_app;

#[tokio::test]
async fn every_route_is_described_and_served() {
    let app = spawn_app().await;
    let reply = app.get("/openapi.json", &app.cast.agent).await;
    assert_eq!(reply.status, StatusCode::OK);
    let api: utoipa::openapi::OpenApi = serde_json::from_value(reply.body).unwrap();
    let paths: Vec<&String> = api.paths.paths.keys().collect();
    let template = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    // Every documented path is routed by API Gateway to the function, and vice versa.
    for path in &paths {
        assert!(
            template.contains(&format!("Path: {path} "))
                || template.contains(&format!("Path: \"{path}\"")),
            "{path} missing from template.yaml"
        );
    }
    let routed = template.matches("Type: HttpApi,").count();
    let operations: usize = api
        .paths
        .paths
        .values()
        .map(|item| {
            [&item.get, &item.post, &item.put, &item.delete, &item.patch]
                .iter()
                .filter(|op| op.is_some())
                .count()
        })
        .sum();
    assert_eq!(
        routed, operations,
        "template.yaml routes and OpenAPI operations differ"
    );
    // A generated client names a method after each operation id: they must be unique.
    let mut ids: Vec<&str> = api
        .paths
        .paths
        .values()
        .flat_map(|item| [&item.get, &item.post, &item.put, &item.delete, &item.patch])
        .filter_map(|op| op.as_ref()?.operation_id.as_deref())
        .collect();
    assert_eq!(ids.len(), operations, "every operation has an id");
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "operation ids repeat");
    assert!(
        api.components
            .unwrap()
            .security_schemes
            .contains_key("bearer")
    );
}
