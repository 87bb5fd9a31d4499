//! Base admins' oversight of vouchers: the batch report (JSON, page, Excel)
//! with exact fen by category and provider; expiry returning unused wallets
//! to the budget (idempotent, with open reservations handled by how far the
//! order got); related-party orders flagged with their reasons and held from
//! redemption until cleared. The ledger verifies after each scenario.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

/// Accounts with `role` acting for the first `n` registry records that
/// `ids_sql` lists (it takes the base id and the limit), with their ids.
async fn members(
    app: &TestApp,
    role: chuangtong::auth::Role,
    ids_sql: &str,
    prefix: &str,
    n: usize,
) -> Vec<(Api, String)> {
    let base_id = app.text("SELECT id FROM bases WHERE code = 'R08'").await;
    let ids: Vec<String> = sqlx::query(ids_sql)
        .bind(&base_id)
        .bind(n as i64)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let username = format!("{prefix}-{i}");
        app.add_member(&username, role, Some(id)).await;
        out.push((app.api_as(&username).await, id.clone()));
    }
    out
}

/// Enterprise accounts acting for the first `n` firms of R08 (by USCC), with their ids.
pub async fn firms(app: &TestApp, prefix: &str, n: usize) -> Vec<(Api, String)> {
    let sql = "SELECT id FROM enterprises WHERE base_id = $1 ORDER BY uscc LIMIT $2";
    members(app, chuangtong::auth::Role::Enterprise, sql, prefix, n).await
}

/// Provider accounts for the first `n` providers of R08 (by name), with their ids.
pub async fn providers(app: &TestApp, prefix: &str, n: usize) -> Vec<(Api, String)> {
    let sql = "SELECT id FROM providers WHERE base_id = $1 ORDER BY name LIMIT $2";
    members(app, chuangtong::auth::Role::Provider, sql, prefix, n).await
}

pub fn batch_form(code: &str, total: &str, cap: &str) -> Value {
    let now = Utc::now();
    json!({
        "code": code, "name": format!("{code} 科技创新券"), "total_yuan": total, "per_firm_cap_yuan": cap,
        "copay_max_percent": "50", "categories": ["技术检测", "专利服务"],
        "claim_opens_at": (now - Duration::hours(1)).to_rfc3339(), "claim_closes_at": (now + Duration::hours(1)).to_rfc3339(),
        "valid_until": "2099-12-31"
    })
}

pub async fn issue(admin: &Api, form: Value) -> String {
    let r = admin.post("/api/v1/bases/R08/vouchers/batches", &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

pub async fn claim(ent: &Api, batch: &str, fen: i64) {
    let r = ent
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/claim"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["amount_fen"], fen);
}

pub async fn service(provider: &Api, name: &str, category: &str, yuan: &str) -> String {
    let r = provider
        .post(
            "/api/v1/bases/R08/market/services",
            &json!({ "name": name, "category": category, "price_yuan": yuan }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// Places an order paid partly by voucher; returns (order id, voucher fen).
pub async fn order(ent: &Api, service: &str, batch: &str) -> (String, Value) {
    let r = ent
        .post(
            "/api/v1/bases/R08/market/orders",
            &json!({ "service_id": service, "batch_id": batch }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    (o["id"].as_str().unwrap().to_string(), o)
}

pub async fn deliver(provider: &Api, order: &str, evidence: Value) {
    let r = provider
        .post(
            &format!("/api/v1/bases/R08/market/orders/{order}/deliver"),
            &json!({ "evidence": evidence }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

pub async fn confirm(ent: &Api, order: &str) {
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/market/orders/{order}/confirm"),
            &json!({ "rating": 5 }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

pub async fn verify_books(app: &TestApp) {
    let l = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(l.ok(), "{:?}", l.problems);
    assert_eq!(
        chuangtong::audit::verify(&app.state.db, &app.state.keys)
            .await
            .unwrap()
            .problems,
        Vec::<String>::new()
    );
}

fn fig(v: &Value) -> (i64, i64) {
    (v["count"].as_i64().unwrap(), v["fen"].as_i64().unwrap())
}

fn xlsx_sheets(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names = wb.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            let rows = range
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            (n, rows)
        })
        .collect()
}

async fn batch_report_by_category_and_provider(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("RPT", "100000", "20000")).await;
    let f = firms(app, "rpt-firm", 2).await;
    let p = providers(app, "rpt-prov", 2).await;
    claim(&f[0].0, &batch, 2_000_000).await;
    claim(&f[1].0, &batch, 2_000_000).await;
    let testing = service(&p[0].0, "材料成分检测", "技术检测", "10000").await;
    let patent = service(&p[1].0, "发明专利代理", "专利服务", "3000").await;

    // firm 0: testing order confirmed and redeemed (settled).
    let (o1, v) = order(&f[0].0, &testing, &batch).await;
    assert_eq!(v["voucher_fen"], 500_000);
    deliver(&p[0].0, &o1, json!({ "report_number": "FZJC-2026-001" })).await;
    confirm(&f[0].0, &o1).await;
    let r = p[0].0.post("/api/v1/bases/R08/market/redemptions", &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let red = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/market/redemptions/{red}/settle"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // firm 0: patent order confirmed, redemption requested but not settled.
    let (o2, v) = order(&f[0].0, &patent, &batch).await;
    assert_eq!(v["voucher_fen"], 150_000);
    deliver(&p[1].0, &o2, json!({ "patent_application_number": "202610123456.7" })).await;
    confirm(&f[0].0, &o2).await;
    assert_eq!(
        p[1].0
            .post("/api/v1/bases/R08/market/redemptions", &json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );
    // firm 1: one testing order reserved, one patent order cancelled (counts nowhere).
    order(&f[1].0, &testing, &batch).await;
    let (o4, _) = order(&f[1].0, &patent, &batch).await;
    assert_eq!(
        f[1].0
            .post(&format!("/api/v1/bases/R08/market/orders/{o4}/cancel"), &json!({}))
            .await
            .status(),
        StatusCode::OK
    );

    let url = format!("/api/v1/bases/R08/vouchers/batches/{batch}/report");
    let r = admin.get_json(&url).await;
    assert_eq!(fig(&r["claimed"]), (2, 4_000_000));
    assert_eq!(fig(&r["reserved"]), (1, 500_000));
    assert_eq!(fig(&r["used"]), (2, 650_000));
    assert_eq!(fig(&r["redemption_requested"]), (1, 150_000));
    assert_eq!(fig(&r["redeemed"]), (1, 500_000));
    assert_eq!(fig(&r["returned_at_expiry"]), (0, 0));
    assert_eq!(r["in_wallets_fen"], 4_000_000 - 500_000 - 650_000);
    assert_eq!(r["reconciles"], true);
    let cats = r["by_category"].as_array().unwrap();
    assert_eq!(cats.len(), 2);
    assert_eq!(
        cats[0]["label"], "专利服务",
        "supermarket order: 专利服务 before 技术检测"
    );
    assert_eq!(fig(&cats[0]["used"]), (1, 150_000));
    assert_eq!(fig(&cats[0]["redemption_requested"]), (1, 150_000));
    assert_eq!(fig(&cats[0]["reserved"]), (0, 0));
    assert_eq!(cats[1]["label"], "技术检测");
    assert_eq!(fig(&cats[1]["reserved"]), (1, 500_000));
    assert_eq!(fig(&cats[1]["used"]), (1, 500_000));
    assert_eq!(fig(&cats[1]["redeemed"]), (1, 500_000));
    let provs = r["by_provider"].as_array().unwrap();
    assert_eq!(provs.len(), 2);
    assert_eq!(provs[0]["key"], p[0].1.as_str(), "largest amount used first");
    assert_eq!(fig(&provs[0]["used"]), (1, 500_000));
    assert_eq!(provs[1]["key"], p[1].1.as_str());
    assert_eq!(fig(&provs[1]["used"]), (1, 150_000));

    // Excel: three sheets with the same figures in fen.
    let r = admin.get(&format!("{url}/xlsx")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().contains("spreadsheetml"));
    let sheets = xlsx_sheets(&r.bytes().await.unwrap());
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["汇总", "按服务类别", "按服务机构"]);
    let summary = &sheets[0].1;
    let line = |label: &str| summary.iter().find(|r| r[0] == label).unwrap().clone();
    assert_eq!(line("已申领")[1..3], ["2".to_string(), "4000000".to_string()]);
    assert_eq!(line("已兑现")[1..3], ["1".to_string(), "500000".to_string()]);
    assert_eq!(line("钱包余额")[2], "2850000");
    let by_cat = &sheets[1].1;
    assert_eq!(by_cat[2][0], "技术检测");
    assert_eq!(by_cat[2][1..3], ["1".to_string(), "500000".to_string()]);

    // The page, for base admins only; other roles and other bases are refused.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/vouchers/{batch}/report")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("核对一致"), "{html}");
    assert!(html.contains("技术检测") && html.contains("28,500.00"), "{html}");
    let list = b
        .get(app.url("/b/R08/vouchers/reports"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&format!("/b/R08/vouchers/{batch}/report")));
    assert_eq!(f[0].0.get(&url).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.api_as("yp-admin")
            .await
            .get(&url.replace("R08", "R04"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    verify_books(app).await;
}
both!(batch_report_by_category_and_provider);

async fn available(app: &TestApp, batch: &str, enterprise: &str) -> i64 {
    sqlx::query(
        "SELECT a.credits_posted - a.debits_posted - a.debits_pending FROM voucher_claims c \
         JOIN ledger_accounts a ON a.id = c.wallet_account_id WHERE c.batch_id = $1 AND c.enterprise_id = $2",
    )
    .bind(batch)
    .bind(enterprise)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap()
    .get(0)
}

async fn end_validity(app: &TestApp, batch: &str) {
    sqlx::query("UPDATE voucher_batches SET valid_until = '2020-01-01' WHERE id = $1")
        .bind(batch)
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

async fn expiry_returns_unused_wallets_to_the_budget(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("EXP", "50000", "20000")).await;
    let f = firms(app, "exp-firm", 3).await;
    let p = providers(app, "exp-prov", 1).await;
    claim(&f[0].0, &batch, 2_000_000).await;
    claim(&f[1].0, &batch, 2_000_000).await;
    claim(&f[2].0, &batch, 1_000_000).await;
    let testing = service(&p[0].0, "环境检测", "技术检测", "10000").await;
    let patent = service(&p[0].0, "专利检索", "专利服务", "3000").await;
    // firm 0: placed, never delivered; firm 1: delivered in time, not yet
    // confirmed; firm 2: confirmed.
    let (placed, _) = order(&f[0].0, &testing, &batch).await;
    let (delivered, _) = order(&f[1].0, &testing, &batch).await;
    deliver(&p[0].0, &delivered, json!({ "report_number": "HJ-01" })).await;
    let (done, _) = order(&f[2].0, &patent, &batch).await;
    deliver(&p[0].0, &done, json!({ "patent_application_number": "202610000001.X" })).await;
    confirm(&f[2].0, &done).await;

    let expire = format!("/api/v1/bases/R08/vouchers/batches/{batch}/expire");
    let r = admin.post(&expire, &json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "voucher.not_expired");
    assert_eq!(f[0].0.post(&expire, &json!({})).await.status(), StatusCode::FORBIDDEN);

    end_validity(app, &batch).await;
    let r = admin.post(&expire, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let run: Value = r.json().await.unwrap();
    assert_eq!(
        (run["released_orders"].as_i64(), run["released_fen"].as_i64()),
        (Some(1), Some(500_000))
    );
    assert_eq!(
        (run["returned_wallets"].as_i64(), run["returned_fen"].as_i64()),
        (Some(3), Some(2_000_000 + 1_500_000 + 850_000))
    );
    assert_eq!(available(app, &batch, &f[0].1).await, 0);
    assert_eq!(available(app, &batch, &f[1].1).await, 0);
    assert_eq!(
        admin
            .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{batch}"))
            .await["remaining_fen"],
        4_350_000
    );
    // A second sweep moves nothing.
    let run: Value = admin.post(&expire, &json!({})).await.json().await.unwrap();
    assert_eq!(
        (run["returned_fen"].as_i64(), run["released_fen"].as_i64()),
        (Some(0), Some(0))
    );

    // The undelivered order lost its voucher part and goes on self-paid.
    let orders = f[0].0.get_json("/api/v1/bases/R08/market/orders").await;
    let o = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == placed.as_str())
        .unwrap();
    assert_eq!(
        (o["voucher_fen"].as_i64(), o["state"].as_str()),
        (Some(0), Some("placed"))
    );
    deliver(&p[0].0, &placed, json!({ "report_number": "HJ-02" })).await;
    confirm(&f[0].0, &placed).await;
    // The delivered order kept its reservation: cancelling it releases it
    // into the expired wallet, and the next sweep returns it.
    assert_eq!(
        f[1].0
            .post(
                &format!("/api/v1/bases/R08/market/orders/{delivered}/cancel"),
                &json!({})
            )
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(available(app, &batch, &f[1].1).await, 500_000);
    // No new orders on an expired voucher.
    let r = f[1]
        .0
        .post(
            "/api/v1/bases/R08/market/orders",
            &json!({ "service_id": testing, "batch_id": batch }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("batch_id".into(), "voucher.expired".into())]
    );
    let run: Value = admin.post(&expire, &json!({})).await.json().await.unwrap();
    assert_eq!(
        (run["returned_wallets"].as_i64(), run["returned_fen"].as_i64()),
        (Some(1), Some(500_000))
    );

    let r = admin
        .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/report"))
        .await;
    assert_eq!(r["expired"], true);
    assert_eq!(fig(&r["claimed"]), (3, 5_000_000));
    assert_eq!(fig(&r["returned_at_expiry"]), (3, 4_850_000));
    assert_eq!(fig(&r["released_at_expiry"]), (1, 500_000));
    assert_eq!(fig(&r["used"]), (1, 150_000));
    assert_eq!(fig(&r["reserved"]), (0, 0));
    assert_eq!(r["in_wallets_fen"], 0);
    assert_eq!(r["reconciles"], true);
    assert_eq!(r["batch"]["remaining_fen"], 4_850_000);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM voucher_wallet_returns").await,
        4,
        "three first returns and one late return"
    );

    // The check on access: an expired batch never swept is swept when listed.
    let batch2 = issue(&admin, batch_form("EXP2", "1000", "600")).await;
    claim(&f[0].0, &batch2, 60_000).await;
    end_validity(app, &batch2).await;
    let list = f[2].0.get_json("/api/v1/bases/R08/vouchers/batches").await;
    let b2 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == batch2.as_str())
        .unwrap();
    assert_eq!(b2["remaining_fen"], 100_000);
    assert_eq!(available(app, &batch2, &f[0].1).await, 0);

    // The page's button runs the same sweep.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/vouchers/{batch}/report")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = b
        .post(app.url(&format!("/b/R08/vouchers/{batch}/expire")))
        .form(&[("_csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));
    verify_books(app).await;
}
both!(expiry_returns_unused_wallets_to_the_budget);

async fn concurrent_sweeps_return_each_fen_once(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("EXPC", "10000", "1000")).await;
    let f = firms(app, "expc-firm", 6).await;
    for (api, _) in &f {
        claim(api, &batch, 100_000).await;
    }
    end_validity(app, &batch).await;
    let second = TestApp::spawn_on(app.db.clone()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 {
            admin.app_url.clone()
        } else {
            second.address.clone()
        };
        let (client, token) = (admin.client.clone(), admin.token.clone());
        let url = format!("{base}/api/v1/bases/R08/vouchers/batches/{batch}/expire");
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut returned = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::OK {
            returned += body["returned_fen"].as_i64().unwrap();
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
        }
    }
    assert_eq!(returned, 600_000);
    assert_eq!(
        app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) FROM voucher_wallet_returns")
            .await,
        600_000
    );
    assert_eq!(
        admin
            .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{batch}"))
            .await["remaining_fen"],
        1_000_000
    );
    verify_books(app).await;
    second.finish().await;
}
both!(concurrent_sweeps_return_each_fen_once);

async fn related_party_orders_are_held_until_cleared(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("REL", "100000", "20000")).await;
    let f = firms(app, "rel-firm", 2).await;
    let p = providers(app, "rel-prov", 1).await;
    let (related_firm, other_firm) = (&f[0], &f[1]);
    claim(&related_firm.0, &batch, 2_000_000).await;
    claim(&other_firm.0, &batch, 2_000_000).await;
    let svc = service(&p[0].0, "可靠性检测", "技术检测", "8000").await;

    let ent_facts = format!("/api/v1/bases/R08/related-parties/enterprises/{}", related_firm.1);
    let prov_facts = format!("/api/v1/bases/R08/related-parties/providers/{}", p[0].1);
    // Validation, roles, tenancy.
    let r = admin.post(&ent_facts, &json!({ "kind": "spouse", "value": "" })).await;
    let codes: Vec<String> = field_codes(r).await.into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes, vec!["party.kind", "text.required"]);
    let r = admin
        .post(&prov_facts, &json!({ "kind": "phone", "value": "12" }))
        .await;
    assert_eq!(field_codes(r).await, vec![("value".into(), "party.phone".into())]);
    assert_eq!(
        related_firm
            .0
            .post(&ent_facts, &json!({ "kind": "shareholder", "value": "甲" }))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r04_firm = app
        .text("SELECT id FROM enterprises WHERE base_id = (SELECT id FROM bases WHERE code = 'R04') LIMIT 1")
        .await;
    assert_eq!(
        admin
            .get(&format!("/api/v1/bases/R08/related-parties/enterprises/{r04_firm}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A shared shareholder (written differently), and the provider's phone is
    // the enterprise's registry contact phone.
    let r = admin
        .post(
            &ent_facts,
            &json!({ "kind": "shareholder", "value": "福州榕智 投资有限公司" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .post(
            &prov_facts,
            &json!({ "kind": "shareholder", "value": "福州榕智投资有限公司" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let enc: String = sqlx::query("SELECT contact_phone_enc FROM enterprises WHERE id = $1")
        .bind(&related_firm.1)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0);
    let phone = app.state.keys.decrypt_pii(&enc).unwrap();
    let r = admin
        .post(
            &prov_facts,
            &json!({ "kind": "phone", "value": format!("+86 {phone}") }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let shown = r.json::<Value>().await.unwrap()["shown"].as_str().unwrap().to_string();
    assert!(shown.contains("****") && !shown.contains(&phone), "{shown}");
    let r = admin
        .post(
            &prov_facts,
            &json!({ "kind": "shareholder", "value": "福州榕智投资有限公司" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(admin.get_json(&prov_facts).await.as_array().unwrap().len(), 2);
    // The phone is not stored in clear.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM party_facts WHERE shown LIKE '%{phone}%' OR value_digest LIKE '%{phone}%'"
        ))
        .await,
        0
    );

    let (held, o) = order(&related_firm.0, &svc, &batch).await;
    assert_eq!(o["related_party_review"], "flagged");
    let flagged_notices = "SELECT COUNT(*) FROM notifications WHERE kind = 'order.related_party_flagged'";
    let admins_told = app.scalar(flagged_notices).await;
    assert!(admins_told > 0, "base admins are told");
    let reasons: Vec<String> = serde_json::from_value(o["related_party_reasons"].clone()).unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("共同股东") && r.contains("福州榕智")));
    assert!(reasons.iter().any(|r| r.starts_with("联系电话相同")));
    let (clean, o) = order(&other_firm.0, &svc, &batch).await;
    assert_eq!(o["related_party_review"], Value::Null);
    assert_eq!(o["related_party_reasons"], json!([]));
    assert_eq!(
        app.scalar(flagged_notices).await,
        admins_told,
        "a clean order tells no one"
    );
    for (firm, id, n) in [(related_firm, &held, "1"), (other_firm, &clean, "2")] {
        deliver(&p[0].0, id, json!({ "report_number": format!("KK-{n}") })).await;
        confirm(&firm.0, id).await;
    }

    // Redemption takes only the clean order; the flagged one is held.
    let r = p[0].0.post("/api/v1/bases/R08/market/redemptions", &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(
        (first["orders"].as_i64(), first["amount_fen"].as_i64()),
        (Some(1), Some(400_000))
    );
    let r = p[0].0.post("/api/v1/bases/R08/market/redemptions", &json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "redemption.held_for_review"
    );

    // The admin sees the reasons, must give a note, clears once.
    let flags = admin.get_json("/api/v1/bases/R08/market/related-party-orders").await;
    assert_eq!(flags.as_array().unwrap().len(), 1);
    assert_eq!(flags[0]["order_id"], held.as_str());
    assert_eq!(flags[0]["state"], "flagged");
    let clear = format!("/api/v1/bases/R08/market/related-party-orders/{held}/clear");
    assert_eq!(
        field_codes(admin.post(&clear, &json!({ "note": " " })).await).await,
        vec![("note".into(), "text.required".into())]
    );
    assert_eq!(
        p[0].0.post(&clear, &json!({ "note": "同意" })).await.status(),
        StatusCode::FORBIDDEN
    );
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url("/b/R08/market/related-party"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("双方有共同股东：福州榕智 投资有限公司"), "{html}");
    let r = b
        .post(app.url(&format!("/b/R08/market/related-party/{held}/clear")))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("note", "经核查为市场公允价格，同意兑现"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.post(&clear, &json!({ "note": "再次" })).await.status(),
        StatusCode::CONFLICT
    );
    let r = p[0].0.post("/api/v1/bases/R08/market/redemptions", &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        (second["orders"].as_i64(), second["amount_fen"].as_i64()),
        (Some(1), Some(400_000))
    );
    for red in [&first, &second] {
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
    }
    let g = admin
        .get_json(&format!("/api/v1/bases/R08/market/related-party-orders/{held}"))
        .await;
    assert_eq!(
        (g["state"].as_str(), g["order_state"].as_str()),
        (Some("cleared"), Some("redeemed"))
    );

    // The provider itself (by its 统一社会信用代码, written loosely) controls the other firm.
    let uscc = app
        .text(&format!("SELECT uscc FROM providers WHERE id = '{}'", p[0].1))
        .await;
    let loose = format!(" {} ", uscc.to_lowercase());
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/related-parties/enterprises/{}", other_firm.1),
            &json!({ "kind": "controller", "value": loose }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = other_firm
        .0
        .post("/api/v1/bases/R08/market/orders", &json!({ "service_id": svc }))
        .await;
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["related_party_review"], "flagged");
    assert_eq!(
        o["related_party_reasons"],
        json!([format!("服务机构本身是企业的实际控制人：{}", uscc.to_lowercase())])
    );
    verify_books(app).await;
}
both!(related_party_orders_are_held_until_cleared);
