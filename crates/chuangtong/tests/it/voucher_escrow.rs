//! Milestone escrow for large orders: the voucher part split pro rata into
//! pending transfers (exact fen, remainder on the last), accepted by the
//! enterprise, disputed and decided by an admin, or accepted automatically
//! when the working-day dispute clock runs out; the order then redeems what
//! was accepted. The ledger verifies throughout.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both;
use crate::helpers::{field_codes, TestApp};
use crate::voucher_oversight::{batch_form, claim, firms, issue, order, providers, service, verify_books};

async fn account(app: &TestApp, code: &str) -> (i64, i64, i64) {
    let r = sqlx::query("SELECT debits_pending, debits_posted, credits_posted FROM ledger_accounts WHERE code = $1")
        .bind(code)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

async fn milestones_in_escrow(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("ESC", "200000", "100000")).await;
    let f = firms(app, "esc-firm", 2).await;
    let p = providers(app, "esc-prov", 1).await;
    claim(&f[0].0, &batch, 10_000_000).await;
    let big = service(&p[0].0, "整机可靠性检测", "技术检测", "100000").await;
    let (oid, o) = order(&f[0].0, &big, &batch).await;
    assert_eq!(o["voucher_fen"], 5_000_000);
    let wallet = format!("wallet:ESC:{}", f[0].1);
    let payable = format!("payable:provider:{}", p[0].1);

    let url = format!("/api/v1/bases/R08/market/orders/{oid}/milestones");
    let one = json!({ "milestones": [{ "title": "全部", "amount_yuan": "100000" }] });
    assert_eq!(
        field_codes(f[0].0.post(&url, &one).await).await,
        vec![("milestones".into(), "escrow.count".into())]
    );
    let wrong =
        json!({ "milestones": [{ "title": "一", "amount_yuan": "30000" }, { "title": "二", "amount_yuan": "30000" }] });
    assert_eq!(
        field_codes(f[0].0.post(&url, &wrong).await).await,
        vec![("milestones".into(), "escrow.sum".into())]
    );
    let plan = json!({ "milestones": [
        { "title": "方案设计", "amount_yuan": "30000.01" },
        { "title": "样机试验", "amount_yuan": "50000" },
        { "title": "检测报告", "amount_yuan": "19999.99" }] });
    assert_eq!(f[1].0.post(&url, &plan).await.status(), StatusCode::NOT_FOUND);
    let r = f[0].0.post(&url, &plan).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ms: Value = r.json().await.unwrap();
    let escrow: Vec<i64> = ms
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["escrow_fen"].as_i64().unwrap())
        .collect();
    // 3,000,001 × ½ rounds down to 1,500,000; the last takes the remainder.
    assert_eq!(escrow, vec![1_500_000, 2_500_000, 1_000_000]);
    let ids: Vec<String> = ms
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(account(app, &wallet).await, (5_000_000, 0, 10_000_000));
    assert_eq!(
        f[0].0.post(&url, &plan).await.json::<Value>().await.unwrap()["error"]["code"],
        "escrow.already_planned"
    );
    let r = p[0]
        .0
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/deliver"),
            &json!({ "evidence": { "report_number": "X" } }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "escrow.by_milestone");

    let m = |id: &str, action: &str| format!("/api/v1/bases/R08/market/milestones/{id}/{action}");
    // Milestone 1: delivered with evidence, accepted by the enterprise.
    let r = p[0]
        .0
        .post(
            &m(&ids[0], "deliver"),
            &json!({ "evidence": { "deliverable": "方案" } }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("evidence.report_number".into(), "evidence.report_number".into())]
    );
    let r = p[0]
        .0
        .post(
            &m(&ids[0], "deliver"),
            &json!({ "evidence": { "report_number": "KK-1" } }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = r.json().await.unwrap();
    let cal = chuangtong::calendar::load(&app.state.db).await.unwrap();
    let today = chuangtong::storage::time::today();
    assert_eq!(
        d["dispute_deadline"],
        cal.add_working_days(today, 5).unwrap().to_string(),
        "five working days by the base calendar"
    );
    assert_eq!(
        f[0].0
            .post(&m(&ids[1], "accept"), &json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()["error"]["code"],
        "escrow.state",
        "nothing to accept before delivery"
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE u.username = 'esc-firm-0' AND n.kind = 'milestone.delivered'"
        )
        .await,
        1,
        "the enterprise is told the deadline"
    );
    let r = f[0].0.post(&m(&ids[0], "accept"), &json!({})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["accepted_how"], "enterprise");
    assert_eq!(account(app, &payable).await.2, 1_500_000);

    // Milestone 2: disputed, the admin refunds it to the wallet.
    p[0].0
        .post(
            &m(&ids[1], "deliver"),
            &json!({ "evidence": { "report_number": "KK-2" } }),
        )
        .await;
    assert_eq!(
        field_codes(f[0].0.post(&m(&ids[1], "dispute"), &json!({ "reason": "" })).await).await,
        vec![("reason".into(), "text.required".into())]
    );
    let r = f[0]
        .0
        .post(&m(&ids[1], "dispute"), &json!({ "reason": "样机未通过振动试验" }))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "disputed");
    assert_eq!(
        f[0].0
            .post(&m(&ids[1], "decide"), &json!({ "decision": "refund", "note": "x" }))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = admin
        .post(
            &m(&ids[1], "decide"),
            &json!({ "decision": "refund", "note": "检测记录显示未达标" }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "refunded");
    assert_eq!(account(app, &wallet).await, (1_000_000, 1_500_000, 10_000_000));

    // Milestone 3: delivered, unanswered past its deadline: accepted on access.
    p[0].0
        .post(
            &m(&ids[2], "deliver"),
            &json!({ "evidence": { "report_number": "KK-3" } }),
        )
        .await;
    sqlx::query("UPDATE order_milestones SET dispute_deadline = '2020-01-02' WHERE id = $1")
        .bind(&ids[2])
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let r = f[0]
        .0
        .post(&m(&ids[2], "dispute"), &json!({ "reason": "太晚了" }))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "escrow.deadline_passed"
    );
    let listed = p[0].0.get_json(&url).await;
    assert_eq!(listed[2]["state"], "accepted");
    assert_eq!(listed[2]["accepted_how"], "deadline");
    assert_eq!(
        admin
            .post("/api/v1/bases/R08/market/milestones/auto-accept", &json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()["accepted"],
        0,
        "nothing left to accept"
    );

    // The order is confirmed with what was accepted and redeems exactly that.
    let orders = f[0].0.get_json("/api/v1/bases/R08/market/orders").await;
    let o = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == oid.as_str())
        .unwrap();
    assert_eq!(
        (o["state"].as_str(), o["voucher_fen"].as_i64()),
        (Some("confirmed"), Some(2_500_000))
    );
    let r = p[0].0.post("/api/v1/bases/R08/market/redemptions", &json!({})).await;
    let red: Value = r.json().await.unwrap();
    assert_eq!(red["amount_fen"], 2_500_000);
    let r = admin
        .post(
            &format!(
                "/api/v1/bases/R08/market/redemptions/{}/settle",
                red["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(account(app, &wallet).await, (0, 2_500_000, 10_000_000));

    // A milestone order cancelled before any delivery releases every escrow;
    // after a delivery it cannot be cancelled.
    let small = service(&p[0].0, "小批量检测", "技术检测", "10000").await;
    let (o2, _) = order(&f[0].0, &small, &batch).await;
    let two =
        json!({ "milestones": [{ "title": "一", "amount_yuan": "5000" }, { "title": "二", "amount_yuan": "5000" }] });
    let ms2: Value = f[0]
        .0
        .post(&format!("/api/v1/bases/R08/market/orders/{o2}/milestones"), &two)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ms2[0]["escrow_fen"], 250_000);
    let (o3, _) = order(&f[0].0, &small, &batch).await;
    let ms3: Value = f[0]
        .0
        .post(&format!("/api/v1/bases/R08/market/orders/{o3}/milestones"), &two)
        .await
        .json()
        .await
        .unwrap();
    p[0].0
        .post(
            &m(ms3[0]["id"].as_str().unwrap(), "deliver"),
            &json!({ "evidence": { "report_number": "S-1" } }),
        )
        .await;
    let r = f[0]
        .0
        .post(&format!("/api/v1/bases/R08/market/orders/{o3}/cancel"), &json!({}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "escrow.in_progress");
    let r = f[0]
        .0
        .post(&format!("/api/v1/bases/R08/market/orders/{o2}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        account(app, &wallet).await.0,
        500_000,
        "only order 3's escrow is still held"
    );

    // The page shows each milestone to the enterprise.
    let b = app.browser_as("esc-firm-0").await;
    let html = b
        .get(app.url(&format!("/b/R08/market/orders/{oid}/milestones")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("样机试验") && html.contains("已退回") && html.contains("已验收"),
        "{html}"
    );
    let report = admin
        .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/report"))
        .await;
    assert_eq!(report["reconciles"], true);
    verify_books(app).await;
}
both!(milestones_in_escrow);
