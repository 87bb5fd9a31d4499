//! Tenant isolation: for every API route under /api/v1/bases/{base}, a user of
//! another base gets 403/404, and ids of one base never resolve in another.
//! Routes are enumerated from the OpenAPI document, so a new route is covered
//! the day it is added.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

async fn first_id(api: &crate::helpers::Api, path: &str) -> String {
    let v = api.get_json(path).await;
    let items = v.get("items").cloned().unwrap_or(v);
    items[0]["id"].as_str().unwrap().to_string()
}

async fn no_route_crosses_bases(app: &TestApp) {
    let doc: Value = app
        .client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fz = app.api_as("fz-admin").await;
    let yp = app.api_as("yp-admin").await;
    let fz_enterprise = first_id(&fz, "/api/v1/bases/R08/enterprises").await;
    let fz_person = first_id(&fz, "/api/v1/bases/R08/persons").await;
    let yp_enterprise = first_id(&yp, "/api/v1/bases/R04/enterprises").await;
    let yp_person = first_id(&yp, "/api/v1/bases/R04/persons").await;

    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.contains("{base}") {
            continue;
        }
        let fz_obj = if path.contains("/persons/") {
            &fz_person
        } else {
            &fz_enterprise
        };
        let yp_obj = if path.contains("/persons/") {
            &yp_person
        } else {
            &yp_enterprise
        };
        for method in ops.as_object().unwrap().keys() {
            // 1. A member of R04 asks for R08's objects.
            let url = path.replace("{base}", "R08").replace("{id}", fz_obj);
            let r = match method.as_str() {
                "get" => yp.get(&url).await,
                "post" => yp.post(&url, &json!({})).await,
                other => panic!("untested method {other} on {path}"),
            };
            assert!(
                matches!(r.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{method} {url} as yp-admin: {}",
                r.status()
            );
            // 2. A member of R08 uses its own base in the path with R04's object id.
            if path.contains("{id}") && method == "get" {
                let url = path.replace("{base}", "R08").replace("{id}", yp_obj);
                let r = fz.get(&url).await;
                assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url} as fz-admin with an R04 id");
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} tenant routes found");

    // Pages too.
    let b = app.browser_as("yp-admin").await;
    for p in [
        "/b/R08",
        "/b/R08/registry/enterprises",
        "/b/R08/registry/persons",
        "/b/R08/audit",
        &format!("/b/R08/registry/enterprises/{fz_enterprise}"),
    ] {
        let s = b.get(app.url(p)).send().await.unwrap().status();
        assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{p}: {s}");
    }
    // And the platform administrator may enter any base.
    let admin = app.api_as("admin").await;
    assert_eq!(
        admin.get("/api/v1/bases/R04/enterprises").await.status(),
        StatusCode::OK
    );
}
both!(no_route_crosses_bases);

async fn base_overview_shows_seed_figures_with_their_lines(app: &TestApp) {
    let fz = app.api_as("fz-admin").await;
    let detail = fz.get_json("/api/v1/bases/R08").await;
    assert_eq!(detail["base"]["name"], "福建福州新区");
    let indicators = detail["indicators"].as_array().unwrap();
    assert!(!indicators.is_empty());
    assert!(indicators.iter().all(|i| i["source_line"].as_i64().is_some()));
    assert_eq!(detail["registry"]["enterprises"], 120);
    let tree = detail["org_units"].as_array().unwrap();
    let levels: Vec<&str> = tree.iter().map(|u| u["level"].as_str().unwrap()).collect();
    for l in ["province", "city", "district", "park", "station"] {
        assert!(levels.contains(&l), "org tree has a {l}");
    }
    let b = app.browser_as("fz-admin").await;
    let html = b.get(app.url("/b/R08")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("材料第") && html.contains("罗星街道双创服务站"));
}
both!(base_overview_shows_seed_figures_with_their_lines);

/// Every demo role logs in through the form, sees its base and reaches a
/// registry page through the header link.
async fn every_role_reaches_its_base_and_registry_pages(app: &TestApp) {
    for user in [
        "fz-admin",
        "fz-steward",
        "fz-enterprise",
        "fz-team",
        "fz-provider",
        "fz-expert",
        "fz-investor",
        "admin",
    ] {
        let b = app.browser_as(user).await;
        let home = b.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("/b/R08"), "{user} sees 福州新区 on the home page");
        let base = b.get(app.url("/b/R08")).send().await.unwrap();
        assert_eq!(base.status(), StatusCode::OK, "{user}");
        let html = base.text().await.unwrap();
        let href = html
            .split("<a href=\"/b/R08/registry/")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let r = b.get(app.url(&format!("/b/R08/registry/{href}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{user} opens /b/R08/registry/{href}");
    }
}
both!(every_role_reaches_its_base_and_registry_pages);
