//! Health, metrics, OpenAPI, errors, schema invariants, migrations.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both;
use crate::helpers::TestApp;

async fn health_metrics_and_openapi(app: &TestApp) {
    let c = app.client();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "up");

    let doc: Value = c
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/bases/{base}/enterprises",
        "/api/v1/bases/{base}/persons/{id}/pii",
    ] {
        assert!(paths.contains_key(p), "OpenAPI documents {p}");
    }

    // Metrics count the requests above, by route template.
    let m = c.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("http_requests_total"), "{m}");
    assert!(m.contains("route=\"/healthz\""), "{m}");
}
both!(health_metrics_and_openapi);

async fn unknown_routes_and_bad_bodies_get_clear_errors(app: &TestApp) {
    let c = app.client();
    let r = c.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");

    let r = c.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "unauthenticated");

    let r = c
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["code"], "body.invalid");

    // A page for a logged-out visitor redirects to the login form.
    let r = c.get(app.url("/b/R08")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");
    let r = c.get(app.url("/login")).send().await.unwrap();
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(r.text().await.unwrap().contains("登录创通"));
}
both!(unknown_routes_and_bad_bodies_get_clear_errors);

/// Every table that holds tenant data has a NOT NULL base_id (schema invariant).
async fn every_tenant_table_carries_base_id(app: &TestApp) {
    let tenant_tables = [
        "org_units",
        "base_indicators",
        "memberships",
        "enterprises",
        "teams",
        "persons",
        "carriers",
        "providers",
        "investors",
        "experts",
        "institutes",
    ];
    for t in tenant_tables {
        let nulls = app
            .scalar(&format!("SELECT COUNT(*) FROM {t} WHERE base_id IS NULL"))
            .await;
        assert_eq!(nulls, 0, "{t}");
        // Inserting a row without a base must fail at the database.
        let r = sqlx::query(&format!("INSERT INTO {t} (base_id) VALUES (NULL)"))
            .execute(app.state.db.pool())
            .await;
        assert!(r.is_err(), "{t} accepts a row without base_id");
    }
}
both!(every_tenant_table_carries_base_id);

async fn migrations_are_idempotent_and_recorded(app: &TestApp) {
    let again = chuangtong::storage::migrate(&app.state.db).await.unwrap();
    assert!(again.is_empty(), "nothing left to apply");
    let applied = chuangtong::storage::migrate::applied(&app.state.db).await.unwrap();
    assert_eq!(applied.len(), chuangtong::storage::MIGRATIONS.len());
}
both!(migrations_are_idempotent_and_recorded);
