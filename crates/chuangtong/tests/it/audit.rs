//! The SM3 audit chain detects edited, inserted and deleted entries, through
//! the library and through `chuangtong audit verify`.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn verify(app: &TestApp) -> Vec<String> {
    chuangtong::audit::verify(&app.state.db, &app.state.keys)
        .await
        .unwrap()
        .problems
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.state.db.pool()).await.unwrap();
}

async fn fz_chain(app: &TestApp) -> String {
    app.text("SELECT id FROM bases WHERE code = 'R08'").await
}

async fn tampering_is_detected(app: &TestApp) {
    // A fresh platform with demo data verifies clean.
    assert_eq!(verify(app).await, Vec::<String>::new());
    let chain = fz_chain(app).await;
    let n = app
        .scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE chain = '{chain}'"))
        .await;
    assert!(n > 100, "demo data is audited ({n})");

    // Edit: someone rewrites who did it.
    exec(
        app,
        &format!("UPDATE audit_log SET actor_name = 'someone-else' WHERE chain = '{chain}' AND seq = 5"),
    )
    .await;
    let p = verify(app).await;
    assert!(
        p.iter().any(|m| m.contains("第5条") && m.contains("内容与哈希不符")),
        "{p:?}"
    );
    exec(
        app,
        &format!("UPDATE audit_log SET actor_name = 'system:demo' WHERE chain = '{chain}' AND seq = 5"),
    )
    .await;
    assert_eq!(
        verify(app).await,
        Vec::<String>::new(),
        "restoring the original content restores the chain"
    );

    // Delete in the middle.
    exec(
        app,
        &format!("DELETE FROM audit_log WHERE chain = '{chain}' AND seq = 10"),
    )
    .await;
    let p = verify(app).await;
    assert!(p.iter().any(|m| m.contains("第10条缺失")), "{p:?}");
}
both!(tampering_is_detected);

async fn deleting_the_tail_or_forging_an_entry_is_detected(app: &TestApp) {
    let chain = fz_chain(app).await;
    let last = app
        .scalar(&format!("SELECT seq FROM audit_heads WHERE chain = '{chain}'"))
        .await;
    exec(
        app,
        &format!("DELETE FROM audit_log WHERE chain = '{chain}' AND seq = {last}"),
    )
    .await;
    let p = verify(app).await;
    assert!(p.iter().any(|m| m.contains("尾部条目被删除")), "{p:?}");

    // Inserting a forged entry with a made-up hash in a new chain.
    exec(app, "INSERT INTO audit_log (chain, seq, at, actor_id, actor_name, action, entity, entity_id, before_json, after_json, prev_hash, hash) \
               VALUES ('forged', 1, '2026-01-01T00:00:00.000Z', NULL, 'x', 'x', 'x', NULL, NULL, NULL, 'a', 'b')").await;
    let p = verify(app).await;
    assert!(p.iter().any(|m| m.contains("forged")), "{p:?}");
}
both!(deleting_the_tail_or_forging_an_entry_is_detected);

async fn every_change_through_the_api_is_chained(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let before = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    let r = admin.post("/api/v1/bases/R08/carriers", &json!({ "name": "审计测试孵化器", "kind": "incubator", "level": "national", "area_m2": "5000", "seats": "200", "occupied_seats": "150" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // login (platform chain) + carrier.created (base chain)
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, before + 1);
    let recent = admin.get_json("/api/v1/bases/R08/audit").await;
    let first = &recent["entries"][0];
    assert_eq!(first["action"], "carrier.created");
    assert_eq!(first["actor_name"], "fz-admin");
    assert!(first["after"].as_str().unwrap().contains("审计测试孵化器"));
    // Only base admins read it; only platform admins verify everything.
    assert_eq!(
        app.api_as("fz-steward")
            .await
            .get("/api/v1/bases/R08/audit")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(admin.get("/api/v1/audit/verify").await.status(), StatusCode::FORBIDDEN);
    let report = app.api_as("admin").await.get_json("/api/v1/audit/verify").await;
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    assert!(report["entries"].as_i64().unwrap() > 300);
}
both!(every_change_through_the_api_is_chained);

/// Concurrent writers (two application instances on one database, as two
/// processes would be) never fork or break the chain.
async fn concurrent_appends_from_two_instances_keep_one_chain(app: &TestApp) {
    let second = TestApp::spawn_on(app.db.clone()).await;
    let a = app.api_as("fz-admin").await;
    let b = second.api_as("fz-steward").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (api, name) = if i % 2 == 0 { (&a, "甲") } else { (&b, "乙") };
        let url = format!("{}/api/v1/bases/R08/enterprises", api.app_url);
        let client = api.client.clone();
        let token = api.token.clone();
        let uscc = chuangtong_domain::Uscc::with_check_char(&format!("91350105MA{:07}", 3000 + i)).unwrap();
        let body = json!({ "uscc": uscc.as_str(), "name": format!("并发{name}{i}有限公司"), "region_code": "350105", "industry": "C",
            "founded_on": "2020-01-01", "registered_capital_yuan": "1", "employees": "1" });
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(verify(app).await, Vec::<String>::new());
    second.finish().await;
}
both!(concurrent_appends_from_two_instances_keep_one_chain);
