//! Financing: one cost, one subsidy (the cap holds across programmes, with
//! the voucher part counted live, also under concurrent payments from two
//! instances), and loans with a partner bank and a risk pool (税融通 credit
//! line from the policy library, 青创资金 leverage and 代偿 from the pool,
//! the pool's floor). Exact fen; the ledger verifies after each scenario.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};
use crate::voucher_oversight::{batch_form, claim, firms, issue, order, providers, service, verify_books};

async fn account(app: &TestApp, code: &str) -> (i64, i64) {
    let r = sqlx::query("SELECT debits_posted, credits_posted FROM ledger_accounts WHERE code = $1")
        .bind(code)
        .fetch_optional(app.state.db.pool())
        .await
        .unwrap();
    r.map(|r| (r.get(0), r.get(1))).unwrap_or((0, 0))
}

async fn fund_budget(admin: &Api, code: &str, fen: i64) {
    let r = admin
        .post(
            "/api/v1/bases/R08/ledger/accounts",
            &json!({ "code": code, "name": code, "kind": "budget", "no_overdraft": true }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .post(
            "/api/v1/bases/R08/ledger/transfers",
            &json!({ "idempotency_key": format!("fund-{code}"),
                     "transfers": [{ "debit": "funding:fiscal", "credit": code, "amount_fen": fen }] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

fn support(programme: &str, budget: &str, yuan: &str, request: &str) -> Value {
    json!({ "programme": programme, "budget_account": budget, "amount_yuan": yuan, "request_id": request })
}

async fn one_cost_one_subsidy(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("SUP", "100000", "20000")).await;
    let f = firms(app, "sup-firm", 1).await;
    let p = providers(app, "sup-prov", 1).await;
    claim(&f[0].0, &batch, 2_000_000).await;
    let svc = service(&p[0].0, "材料检测", "技术检测", "10000").await;
    let (oid, o) = order(&f[0].0, &svc, &batch).await;
    assert_eq!(o["voucher_fen"], 500_000);
    fund_budget(&admin, "budget:city-rd", 1_000_000).await;
    fund_budget(&admin, "budget:province-rd", 1_000_000).await;

    let r = admin
        .post(
            "/api/v1/bases/R08/cost-items",
            &json!({ "kind": "service_order", "reference": oid, "cap_percent": "70" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let item: Value = r.json().await.unwrap();
    assert_eq!(
        (
            item["cost_fen"].as_i64(),
            item["cap_fen"].as_i64(),
            item["voucher_fen"].as_i64(),
            item["remaining_fen"].as_i64()
        ),
        (Some(1_000_000), Some(700_000), Some(500_000), Some(200_000))
    );
    let id = item["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/api/v1/bases/R08/cost-items",
            &json!({ "kind": "service_order", "reference": oid, "cap_percent": "90" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("reference".into(), "cost.duplicate".into())]
    );
    let r = admin
        .post(
            "/api/v1/bases/R08/cost-items",
            &json!({ "kind": "receipt", "reference": "", "cap_percent": "0" }),
        )
        .await;
    let codes: Vec<String> = field_codes(r).await.into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes, vec!["cost.kind", "text.required", "cost.cap"]);

    let pay = format!("/api/v1/bases/R08/cost-items/{id}/supports");
    assert_eq!(
        f[0].0
            .post(&pay, &support("市级", "budget:city-rd", "1", "x"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        field_codes(admin.post(&pay, &support("市级", "funding:fiscal", "1", "x")).await).await,
        vec![("budget_account".into(), "support.not_budget".into())]
    );
    let r = admin
        .post(&pay, &support("市级研发费用补助", "budget:city-rd", "1500", "city-1"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["remaining_fen"], 50_000);
    // Over the cap: refused with the figures, nothing moves.
    let r = admin
        .post(
            &pay,
            &support("省级研发费用补助", "budget:province-rd", "600", "prov-1"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let err = r.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(err["code"], "support.cap_exceeded");
    assert!(
        err["message"].as_str().unwrap().contains("最多还可支持 500.00 元"),
        "{err}"
    );
    assert_eq!(account(app, "budget:province-rd").await, (0, 1_000_000));
    // A retry returns the first payment; a reused request id with other content is refused.
    let r = admin
        .post(&pay, &support("市级研发费用补助", "budget:city-rd", "1500", "city-1"))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["supports"].as_array().unwrap().len(),
        1
    );
    let r = admin
        .post(&pay, &support("市级研发费用补助", "budget:city-rd", "1000", "city-1"))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "support.request_reused"
    );
    assert_eq!(account(app, "budget:city-rd").await, (150_000, 1_000_000));
    // Exactly at the cap is allowed.
    let r = admin
        .post(
            &pay,
            &support("省级研发费用补助", "budget:province-rd", "500", "prov-2"),
        )
        .await;
    let item: Value = r.json().await.unwrap();
    assert_eq!(
        (item["total_support_fen"].as_i64(), item["remaining_fen"].as_i64()),
        (Some(700_000), Some(0))
    );
    // The voucher part counts live: a cancelled order frees its share.
    let r = f[0]
        .0
        .post(&format!("/api/v1/bases/R08/market/orders/{oid}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let item = admin.get_json(&format!("/api/v1/bases/R08/cost-items/{id}")).await;
    assert_eq!(
        (item["voucher_fen"].as_i64(), item["remaining_fen"].as_i64()),
        (Some(0), Some(500_000))
    );
    let grants = format!("payable:enterprise:{}", f[0].1);
    assert_eq!(account(app, &grants).await, (0, 200_000));

    // An invoice, paid concurrently from two instances: the cap holds.
    fund_budget(&admin, "budget:district", 10_000_000).await;
    let r = admin
        .post(
            "/api/v1/bases/R08/cost-items",
            &json!({ "kind": "invoice", "reference": "35012600000123", "enterprise_id": f[0].1,
                     "description": "研发设备采购发票", "cost_yuan": "100000", "cap_percent": "50" }),
        )
        .await;
    let inv = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let second = TestApp::spawn_on(app.db.clone()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 {
            admin.app_url.clone()
        } else {
            second.address.clone()
        };
        let (client, token) = (admin.client.clone(), admin.token.clone());
        let url = format!("{base}/api/v1/bases/R08/cost-items/{inv}/supports");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&support("区级设备补助", "budget:district", "10000", &format!("d-{i}")))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            s => assert_eq!(s, StatusCode::CONFLICT),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(
        app.scalar(&format!(
            "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM cost_supports WHERE cost_item_id = '{inv}'"
        ))
        .await,
        5_000_000
    );
    assert_eq!(account(app, "budget:district").await, (5_000_000, 10_000_000));
    let html = app
        .browser_as("fz-admin")
        .await
        .get(app.url("/b/R08/financing/costs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("研发设备采购发票") && html.contains("区级设备补助"),
        "{html}"
    );
    verify_books(app).await;
    second.finish().await;
}
both!(one_cost_one_subsidy);

async fn investor(app: &TestApp, kind: &str, username: &str) -> (Api, String) {
    let id = app
        .text(&format!(
            "SELECT id FROM investors WHERE base_id = (SELECT id FROM bases WHERE code = 'R08') AND kind = '{kind}' ORDER BY name LIMIT 1"
        ))
        .await;
    app.add_member(username, chuangtong::auth::Role::Investor, Some(&id))
        .await;
    (app.api_as(username).await, id)
}

fn product(code: &str, kind: &str, bank: &str) -> Value {
    json!({ "code": code, "name": format!("{code} 贷款"), "kind": kind, "bank_id": bank,
            "min_yuan": "50000", "max_yuan": "3000000" })
}

async fn create(admin: &Api, form: Value) -> String {
    let r = admin.post("/api/v1/bases/R08/loan-products", &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn apply(ent: &Api, product: &str, yuan: &str) -> reqwest::Response {
    ent.post(
        &format!("/api/v1/bases/R08/loan-products/{product}/apply"),
        &json!({ "amount_yuan": yuan, "term_months": "36" }),
    )
    .await
}

async fn bank(b: &Api, loan: &str, action: &str, body: Value) -> Value {
    let r = b.post(&format!("/api/v1/bases/R08/loans/{loan}/{action}"), &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{action}");
    r.json().await.unwrap()
}

async fn loans_and_risk_pools(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let (bank_api, bank_id) = investor(app, "bank", "bank-1").await;
    let (vc_api, vc_id) = investor(app, "vc", "vc-1").await;
    let f = firms(app, "loan-firm", 3).await;

    // Validation.
    let mut bad = product("QC", "youth_startup", &vc_id);
    bad["leverage_min"] = json!("3.333");
    let codes: Vec<String> = field_codes(admin.post("/api/v1/bases/R08/loan-products", &bad).await)
        .await
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(codes, vec!["loan.leverage"]);
    let r = admin
        .post(
            "/api/v1/bases/R08/loan-products",
            &product("QC", "youth_startup", &vc_id),
        )
        .await;
    assert_eq!(field_codes(r).await, vec![("bank_id".into(), "loan.not_a_bank".into())]);
    let r = admin
        .post(
            "/api/v1/bases/R08/loan-products",
            &product("TAX", "tax_credit", &bank_id),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("policy_id".into(), "loan.policy_required".into())]
    );
    assert_eq!(
        f[0].0
            .post("/api/v1/bases/R08/loan-products", &product("X", "growth", &bank_id))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // 青创资金: a 1,000,000-yuan pool, the bank lends ≥ 3×, the pool pays 40% of a loss.
    let mut qc = product("QC", "youth_startup", &bank_id);
    qc["pool_yuan"] = json!("1000000");
    qc["leverage_min"] = json!("3");
    qc["compensation_percent"] = json!("40");
    let qc = create(&admin, qc).await;
    assert_eq!(account(app, "risk_pool:QC").await, (0, 100_000_000));
    let r = apply(&f[0].0, &qc, "10000").await;
    assert_eq!(
        field_codes(r).await,
        vec![("amount_yuan".into(), "loan.amount_range".into())]
    );
    let r = apply(&f[0].0, &qc, "2000000").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(
        (a["state"].as_str(), a["bank_id"].as_str()),
        (Some("submitted"), Some(bank_id.as_str()))
    );
    let la = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        apply(&f[0].0, &qc, "100000").await.json::<Value>().await.unwrap()["error"]["code"],
        "loan.already_open"
    );
    let lb = apply(&f[1].0, &qc, "1500000").await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let told = |kind: &str, user: &str| {
        format!(
            "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE u.username = '{user}' AND n.kind = '{kind}'"
        )
    };
    assert_eq!(app.scalar(&told("loan.routed", "bank-1")).await, 2);
    // Routed to the bank: it sees both; another investor sees none and cannot act.
    assert_eq!(
        bank_api
            .get_json("/api/v1/bases/R08/loans")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        vc_api
            .get_json("/api/v1/bases/R08/loans")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        vc_api
            .post(
                &format!("/api/v1/bases/R08/loans/{la}/grant"),
                &json!({ "amount_yuan": "1" })
            )
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin
            .post(
                &format!("/api/v1/bases/R08/loans/{la}/grant"),
                &json!({ "amount_yuan": "1" })
            )
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = bank_api
        .post(
            &format!("/api/v1/bases/R08/loans/{la}/grant"),
            &json!({ "amount_yuan": "2000000.01" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("amount_yuan".into(), "loan.over_applied".into())]
    );
    bank(&bank_api, &la, "grant", json!({ "amount_yuan": "2000000" })).await;
    let p = admin.get_json(&format!("/api/v1/bases/R08/loan-products/{qc}")).await;
    assert_eq!(p["leverage_reached_x100"], 200);
    assert_eq!(p["leverage_shortfall_fen"], 100_000_000);
    let g = bank(&bank_api, &lb, "grant", json!({ "amount_yuan": "1000000" })).await;
    assert_eq!(app.scalar(&told("loan.granted", "loan-firm-1")).await, 1);
    assert_eq!(g["granted_fen"], 100_000_000);
    let p = admin.get_json(&format!("/api/v1/bases/R08/loan-products/{qc}")).await;
    assert_eq!(
        (
            p["granted_fen"].as_i64(),
            p["outstanding_fen"].as_i64(),
            p["leverage_reached_x100"].as_i64(),
            p["leverage_shortfall_fen"].as_i64()
        ),
        (Some(300_000_000), Some(300_000_000), Some(300), Some(0))
    );
    // A repays; B defaults with 800,000 yuan lost: the pool pays 40% = 320,000 yuan.
    bank(&bank_api, &la, "repaid", json!({})).await;
    let d = bank(&bank_api, &lb, "default", json!({ "amount_yuan": "800000" })).await;
    assert_eq!(
        (d["defaulted_fen"].as_i64(), d["compensation_fen"].as_i64()),
        (Some(80_000_000), Some(32_000_000))
    );
    assert_eq!(
        bank_api
            .post(
                &format!("/api/v1/bases/R08/loans/{lb}/default"),
                &json!({ "amount_yuan": "1" })
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["error"]["code"],
        "loan.state"
    );
    let p = admin.get_json(&format!("/api/v1/bases/R08/loan-products/{qc}")).await;
    assert_eq!(
        (
            p["pool_available_fen"].as_i64(),
            p["outstanding_fen"].as_i64(),
            p["compensated_fen"].as_i64(),
            p["defaults"].as_i64()
        ),
        (Some(68_000_000), Some(0), Some(32_000_000), Some(1))
    );
    assert_eq!(account(app, &format!("payable:bank:{bank_id}")).await, (0, 32_000_000));
    assert_eq!(account(app, "receivable:loans-defaulted:QC").await, (0, 80_000_000));

    // The pool cannot go below zero: a loss beyond it is refused and nothing changes.
    let mut grw = product("GRW", "growth", &bank_id);
    grw["pool_yuan"] = json!("10000");
    grw["compensation_percent"] = json!("100");
    let grw = create(&admin, grw).await;
    let lc = apply(&f[2].0, &grw, "50000").await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    bank(&bank_api, &lc, "grant", json!({ "amount_yuan": "50000" })).await;
    let r = bank_api
        .post(
            &format!("/api/v1/bases/R08/loans/{lc}/default"),
            &json!({ "amount_yuan": "50000" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "ledger.insufficient_funds"
    );
    let mine = f[2].0.get_json("/api/v1/bases/R08/loans").await;
    assert_eq!(mine[0]["state"], "granted");
    assert_eq!(account(app, "risk_pool:GRW").await, (0, 1_000_000));

    // 税融通: the credit line is the published rule's amount for the firm
    // (one below the product's ceiling, so the line is what binds).
    let policies = admin.get_json("/api/v1/bases/R08/policies").await;
    let tax_policy = policies
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "税融通")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let matches = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{tax_policy}/matches"))
        .await;
    let best = matches["firms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| (5_000_000..300_000_000).contains(&m["amount_fen"].as_i64().unwrap()))
        .unwrap()
        .clone();
    let line = best["amount_fen"].as_i64().unwrap();
    app.add_member(
        "tax-firm",
        chuangtong::auth::Role::Enterprise,
        best["enterprise_id"].as_str(),
    )
    .await;
    let tax_firm = app.api_as("tax-firm").await;
    let mut tax = product("TAX", "tax_credit", &bank_id);
    tax["policy_id"] = json!(tax_policy);
    let tax = create(&admin, tax).await;
    let over = format!("{}.{:02}", (line + 1) / 100, (line + 1) % 100);
    let r = apply(&tax_firm, &tax, &over).await;
    assert_eq!(
        field_codes(r).await,
        vec![("amount_yuan".into(), "loan.over_credit_line".into())]
    );
    let exact = format!("{}.{:02}", line / 100, line % 100);
    let r = apply(&tax_firm, &tax, &exact).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["credit_line_fen"], line);

    // Pages: the bank's desk and the admin's view of leverage.
    let b = app.browser_as("bank-1").await;
    let html = b
        .get(app.url("/b/R08/financing"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("推送至本行的申请") && html.contains("登记违约并申请代偿"),
        "{html}"
    );
    let admin_html = app
        .browser_as("fz-admin")
        .await
        .get(app.url("/b/R08/financing"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(admin_html.contains("要求 ≥ 3 倍，已达 3 倍"), "{admin_html}");
    // The bank grants through its page too.
    let ld = apply(&f[0].0, &qc, "60000").await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = b
        .post(app.url(&format!("/b/R08/financing/loans/{ld}/grant")))
        .form(&[("_csrf", csrf_of(&html).as_str()), ("amount_yuan", "60000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(app, "receivable:loans:QC").await, (300_000_000, 306_000_000));
    verify_books(app).await;
}
both!(loans_and_risk_pools);
