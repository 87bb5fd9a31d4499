//! Expert review on both backends: conflicts of interest computed from the
//! registry (employer, joint applicant, shareholding, common controller,
//! personal holding, co-application) and declared ones are excluded from
//! the draw, each with its reason recorded; drawn experts are notified;
//! the programme report shows ICC(1), flags a harsh judge, and gives the
//! on-time rate per department of the staff who ended each stage.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::application::{accounts, app_path, base_id, create, ids, ok, policy, programme_form, refused};
use crate::both;
use crate::helpers::{field_codes, Api, TestApp};

async fn set(app: &TestApp, sql: &str, binds: &[&str]) {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(app.state.db.pool()).await.unwrap();
}

async fn name_of(app: &TestApp, enterprise: &str) -> String {
    app.text(&format!("SELECT name FROM enterprises WHERE id = '{enterprise}'"))
        .await
}

async fn link(admin: &Api, kind: &str, holder: &str, enterprise: &str, relation: &str) {
    let r = admin
        .post(
            "/api/v1/bases/R08/registry-links",
            &json!({ "holder_kind": kind, "holder_id": holder, "enterprise_id": enterprise, "relation": relation, "share_bp": 3000 }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

async fn application_conflicts_from_registry(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let pid = policy(&admin).await;
    let mut form = programme_form("C1", &pid, "panel", "1000000");
    form["experts_per_application"] = json!(1);
    let prog = create(&admin, form).await;
    let other = create(&admin, programme_form("C0", &pid, "approval", "1000000")).await;
    let e = ids(app, "enterprises", 6).await;
    let (a, p, h, q, s, g) = (&e[0], &e[1], &e[2], &e[3], &e[4], &e[5]);
    let x = ids(app, "experts", 8).await;
    // Employers by name (experts record their organisation as text).
    for (expert, employer) in [(&x[0], a), (&x[1], p), (&x[2], h), (&x[4], q), (&x[6], s)] {
        let name = name_of(app, employer).await;
        set(
            app,
            "UPDATE experts SET organisation = $1 WHERE id = $2",
            &[&name, expert],
        )
        .await;
    }
    link(&admin, "enterprise", h, a, "shareholder").await;
    link(&admin, "expert", &x[3], a, "controller").await;
    link(&admin, "enterprise", g, s, "controller").await;
    link(&admin, "enterprise", g, a, "controller").await;
    // The link register checks what it is given.
    let codes = field_codes(
        admin
            .post(
                "/api/v1/bases/R08/registry-links",
                &json!({ "holder_kind": "enterprise", "holder_id": h, "enterprise_id": a, "relation": "friend" }),
            )
            .await,
    )
    .await;
    assert_eq!(codes, vec![("relation".to_string(), "link.relation".to_string())]);
    refused(
        admin
            .post(
                "/api/v1/bases/R08/registry-links",
                &json!({ "holder_kind": "enterprise", "holder_id": h, "enterprise_id": a, "relation": "shareholder" }),
            )
            .await,
        "link.exists",
    )
    .await;
    let r = steward
        .post(
            "/api/v1/bases/R08/registry-links",
            &json!({ "holder_kind": "enterprise", "holder_id": g, "enterprise_id": q, "relation": "controller" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin
        .post(
            "/api/v1/bases/R08/expert-conflicts",
            &json!({ "expert_id": x[5], "enterprise_id": a, "reason": "近亲属在该企业任职" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let firms = accounts(
        app,
        "cfirm",
        chuangtong::auth::Role::Enterprise,
        &[a.clone(), q.clone()],
    )
    .await;
    // Q once applied (elsewhere) together with A.
    let r = firms[1]
        .post(
            &format!("/api/v1/bases/R08/programmes/{other}/applications"),
            &json!({ "form": { "project": "联合攻关" }, "amount_requested_yuan": "10000", "partner_ids": [a] }),
        )
        .await;
    ok(r, "co-application").await;
    // A applies with P as joint applicant; a partner must be another firm of the base.
    let url = format!("/api/v1/bases/R08/programmes/{prog}/applications");
    let codes = field_codes(
        firms[0]
            .post(
                &url,
                &json!({ "form": { "project": "储能" }, "amount_requested_yuan": "10000", "partner_ids": [a, "nope"] }),
            )
            .await,
    )
    .await;
    assert_eq!(codes.len(), 2);
    let r = firms[0]
        .post(
            &url,
            &json!({ "form": { "project": "储能" }, "amount_requested_yuan": "10000", "partner_ids": [p] }),
        )
        .await;
    let id = ok(r, "draft").await["id"].as_str().unwrap().to_string();
    ok(firms[0].post(&app_path(&id, "submit"), &json!({})).await, "submit").await;
    ok(steward.post(&app_path(&id, "accept"), &json!({})).await, "accept").await;
    let draw = ok(admin.post(&app_path(&id, "draw"), &json!({})).await, "draw").await;

    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ex in draw["exclusions"].as_array().unwrap() {
        let codes = ex["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_string())
            .collect();
        found.insert(ex["expert_id"].as_str().unwrap().to_string(), codes);
    }
    let expected = [
        (0, "same_employer"),
        (1, "partner_employer"),
        (2, "equity_employer"),
        (3, "equity_personal"),
        (4, "co_application"),
        (5, "declared"),
        (6, "common_controller"),
    ];
    for (i, code) in expected {
        assert_eq!(found.get(&x[i]), Some(&vec![code.to_string()]), "expert {i}: {found:?}");
    }
    let pool: Vec<String> = serde_json::from_value(draw["pool"].clone()).unwrap();
    let drawn: Vec<String> = serde_json::from_value(draw["drawn"].clone()).unwrap();
    assert!(x[..7].iter().all(|e| !pool.contains(e) && !drawn.contains(e)));
    assert!(pool.contains(&x[7]), "an expert without links stays in the pool");
    // The readable reasons travel with the draw, in its audit entry too.
    assert!(draw["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e[0] == x[2].as_str() && e[1] == "任职单位与申报单位存在持股或控制关系"));
    let audited = app
        .text("SELECT after_json FROM audit_log WHERE action = 'application.draw_experts'")
        .await;
    assert!(audited.contains("common_controller"), "{audited}");
    let detail = admin.get_json(&format!("/api/v1/bases/R08/applications/{id}")).await;
    assert_eq!(
        detail["draw"]["exclusions"].as_array().unwrap().len(),
        draw["exclusions"].as_array().unwrap().len()
    );
}
both!(application_conflicts_from_registry);

async fn application_report_agreement_and_departments(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let base = base_id(app).await;
    // Steward and admin sit in two departments of the organisation tree.
    let units: Vec<(String, String)> = {
        use sqlx::Row;
        sqlx::query("SELECT id, name FROM org_units WHERE base_id = $1 ORDER BY id LIMIT 2")
            .bind(&base)
            .fetch_all(app.state.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    for (user, unit) in [("fz-steward", &units[0].0), ("fz-admin", &units[1].0)] {
        set(
            app,
            "UPDATE memberships SET org_unit_id = $1 WHERE base_id = $2 AND user_id = (SELECT id FROM users WHERE username = $3)",
            &[unit, &base, user],
        )
        .await;
    }
    // Four experts share a field; the programme draws three per application.
    let experts = ids(app, "experts", 4).await;
    for x in &experts {
        set(app, "UPDATE experts SET fields = '测试领域' WHERE id = $1", &[x]).await;
    }
    let xs: BTreeMap<String, Api> = experts
        .iter()
        .cloned()
        .zip(accounts(app, "rexpert", chuangtong::auth::Role::Expert, &experts).await)
        .collect();
    let pid = policy(&admin).await;
    let mut form = programme_form("R1", &pid, "panel", "1000000");
    form["experts_per_application"] = json!(3);
    form["expert_field"] = json!("测试领域");
    let prog = create(&admin, form).await;
    let firm_ids = ids(app, "enterprises", 4).await;
    let firms = accounts(app, "rfirm", chuangtong::auth::Role::Enterprise, &firm_ids).await;
    let mut cases = Vec::new();
    for f in &firms {
        cases.push(crate::application::draft_and_submit(f, &prog, "100000").await);
    }
    // Case 0 sat too long before the steward accepted it.
    set(
        app,
        "UPDATE application_stages SET due_on = '2020-01-02' WHERE application_id = $1 AND stage = 'pre_review'",
        &[&cases[0]],
    )
    .await;
    for (i, id) in cases.iter().enumerate() {
        let who = if i < 3 { &steward } else { &admin };
        ok(who.post(&app_path(id, "accept"), &json!({})).await, "accept").await;
    }
    let mut panels = Vec::new();
    for id in &cases {
        let d = ok(admin.post(&app_path(id, "draw"), &json!({})).await, "draw").await;
        panels.push(serde_json::from_value::<Vec<String>>(d["drawn"].clone()).unwrap());
    }
    // Every drawn expert was told, with a link to the case.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE n.kind = 'application.expert_drawn' AND u.username LIKE 'rexpert-%' AND n.link LIKE '/b/R08/applications/%'"
        )
        .await,
        12
    );
    // Balanced load: each of the four sits on three panels. The harsh judge
    // h scores 20 points below the others, who agree exactly.
    let h = experts[0].clone();
    let mut expected: Vec<chuangtong::application::agreement::Panel> = Vec::new();
    for (i, id) in cases.iter().enumerate() {
        let base_score = 60 + 10 * i as i64;
        let mut panel = Vec::new();
        for x in &panels[i] {
            let s = if *x == h { base_score - 20 } else { base_score };
            ok(
                xs[x]
                    .post(
                        &app_path(id, "score"),
                        &json!({ "scores": { "innovation": s, "feasibility": s } }),
                    )
                    .await,
                "score",
            )
            .await;
            panel.push((x.clone(), s * 100));
        }
        panel.sort();
        expected.push((id.clone(), panel));
    }
    expected.sort();
    let report = admin
        .get_json(&format!("/api/v1/bases/R08/programmes/{prog}/report"))
        .await;
    let a = &report["agreement"];
    assert_eq!(a["applications"], 4);
    assert_eq!(a["scores"], 12);
    let exact = chuangtong::application::agreement::analyse(&expected, &BTreeMap::new()).unwrap();
    assert_eq!(a["icc_exact"], json!(exact.icc_exact));
    assert!(a["icc_bp"].is_i64() && a["icc_label"].is_string(), "{a}");
    let flags: BTreeMap<String, String> = a["experts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["expert_id"].as_str().unwrap().to_string(),
                e["flag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(flags[&h], "harsh", "{a}");
    assert!(flags.iter().filter(|(k, _)| **k != h).all(|(_, f)| f.is_empty()), "{a}");
    let hx = a["experts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["expert_id"] == h.as_str())
        .unwrap();
    assert_eq!(hx["lenience_x100"], -1333);
    assert_eq!(hx["scores"], 3);
    // Calibrated scores sit next to the official ones in the ranking.
    assert!(report["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["calibrated_x100"].is_i64()));

    // On time per department: the steward's unit ended 3 pre-reviews (one late), the admin's 1.
    let deps: Vec<(String, String, i64, i64)> = report["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["department"].as_str().unwrap().to_string(),
                d["stage"].as_str().unwrap().to_string(),
                d["closed"].as_i64().unwrap(),
                d["on_time"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (units[0].1.clone(), "pre_review".to_string(), 3, 2),
        (units[1].1.clone(), "pre_review".to_string(), 1, 1),
    ];
    want.sort();
    assert_eq!(deps, want);
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/programmes/{prog}/report")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("ICC(1)") && html.contains("各部门按时率") && html.contains("偏严"),
        "{html}"
    );
    assert!(html.contains(&units[0].1) && html.contains("66.67%"));
}
both!(application_report_agreement_and_departments);
