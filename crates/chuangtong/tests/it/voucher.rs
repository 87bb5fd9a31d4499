//! Vouchers and the service supermarket: issue, claim (once per firm, never
//! more than the batch, also under a concurrent rush from two instances),
//! order with a voucher (pending), deliver with evidence, confirm (posted),
//! cancel (voided), redeem and settle — the ledger verifies throughout.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

/// Creates `n` enterprise accounts (`firm-0`…) acting for the first `n` enterprises of R08.
async fn firms(app: &TestApp, n: usize) -> Vec<Api> {
    crate::voucher_oversight::firms(app, "firm", n)
        .await
        .into_iter()
        .map(|(api, _)| api)
        .collect()
}

fn batch_form(code: &str, total: &str, cap: &str) -> Value {
    let now = Utc::now();
    json!({
        "code": code, "name": "2026年第一批科技创新券", "total_yuan": total, "per_firm_cap_yuan": cap,
        "copay_max_percent": "50", "categories": ["技术检测", "专利服务"],
        "claim_opens_at": (now - Duration::hours(1)).to_rfc3339(), "claim_closes_at": (now + Duration::hours(1)).to_rfc3339(),
        "valid_until": "2099-12-31"
    })
}

async fn issue(admin: &Api, form: Value) -> String {
    let r = admin.post("/api/v1/bases/R08/vouchers/batches", &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn verify_books(app: &TestApp) {
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

async fn issue_validation_and_roles(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batches_before = app.scalar("SELECT COUNT(*) FROM voucher_batches").await;
    let bad = json!({ "code": "批次 1", "name": "", "total_yuan": "100", "per_firm_cap_yuan": "200", "copay_max_percent": "150",
        "categories": ["算命"], "claim_opens_at": "tomorrow", "claim_closes_at": "2026-01-01T00:00:00Z", "valid_until": "2099-13-01" });
    let codes: Vec<String> = field_codes(admin.post("/api/v1/bases/R08/vouchers/batches", &bad).await)
        .await
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    for c in [
        "voucher.code",
        "text.required",
        "voucher.cap",
        "voucher.copay",
        "voucher.category_unknown",
        "date.format",
    ] {
        assert!(codes.contains(&c.to_string()), "{c} in {codes:?}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM voucher_batches").await, batches_before);
    let ent = app.api_as("fz-enterprise").await;
    assert_eq!(
        ent.post("/api/v1/bases/R08/vouchers/batches", &batch_form("B1", "100", "10"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let id = issue(&admin, batch_form("B1", "50000", "20000")).await;
    let r = admin
        .post("/api/v1/bases/R08/vouchers/batches", &batch_form("B1", "100", "10"))
        .await;
    assert_eq!(field_codes(r).await, vec![("code".into(), "voucher.code_taken".into())]);
    let provider = app.api_as("fz-provider").await;
    assert_eq!(
        provider
            .post(&format!("/api/v1/bases/R08/vouchers/batches/{id}/claim"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let b = provider
        .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{id}"))
        .await;
    assert_eq!(
        (b["total_fen"].as_i64(), b["remaining_fen"].as_i64()),
        (Some(5_000_000), Some(5_000_000))
    );
}
both!(issue_validation_and_roles);

async fn claims_are_once_per_firm_and_never_exceed_the_batch(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let id = issue(&admin, batch_form("B2", "50000", "20000")).await;
    let f = firms(app, 4).await;
    let url = format!("/api/v1/bases/R08/vouchers/batches/{id}/claim");
    let r = f[0].post(&url, &json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["amount_fen"], 2_000_000);
    let r = f[0].post(&url, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "a second claim returns the first");
    assert_eq!(r.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(
        f[1].post(&url, &json!({})).await.json::<Value>().await.unwrap()["amount_fen"],
        2_000_000
    );
    // The third gets what is left; the fourth finds it sold out.
    assert_eq!(
        f[2].post(&url, &json!({})).await.json::<Value>().await.unwrap()["amount_fen"],
        1_000_000
    );
    let r = f[3].post(&url, &json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "voucher.sold_out");
    assert_eq!(
        admin
            .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{id}"))
            .await["remaining_fen"],
        0
    );

    // A closed window refuses claims.
    let mut closed = batch_form("B3", "1000", "10");
    closed["claim_opens_at"] = json!((Utc::now() + Duration::hours(1)).to_rfc3339());
    closed["claim_closes_at"] = json!((Utc::now() + Duration::hours(2)).to_rfc3339());
    let id3 = issue(&admin, closed).await;
    let r = f[3]
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{id3}/claim"), &json!({}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "voucher.not_open");
    verify_books(app).await;
}
both!(claims_are_once_per_firm_and_never_exceed_the_batch);

async fn a_rush_of_claims_from_two_instances(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let id = issue(&admin, batch_form("RUSH", "100000", "10000")).await; // room for exactly 10 firms
    let f = firms(app, 30).await;
    let second = TestApp::spawn_on(app.db.clone()).await;
    let mut tasks = Vec::new();
    for (i, api) in f.iter().enumerate() {
        // Half the firms go through the second instance; each presses twice.
        let base = if i % 2 == 0 {
            api.app_url.clone()
        } else {
            second.address.clone()
        };
        for _ in 0..2 {
            let (client, token) = (api.client.clone(), api.token.clone());
            let url = format!("{base}/api/v1/bases/R08/vouchers/batches/{id}/claim");
            tasks.push(tokio::spawn(async move {
                client.post(url).bearer_auth(token).send().await.unwrap().status()
            }));
        }
    }
    let mut statuses = std::collections::HashMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    assert!(
        statuses
            .keys()
            .all(|s| [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM voucher_claims").await,
        10,
        "{statuses:?}"
    );
    assert_eq!(
        app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) FROM voucher_claims")
            .await,
        10_000_000
    );
    assert_eq!(
        app.scalar("SELECT COUNT(DISTINCT enterprise_id) FROM voucher_claims")
            .await,
        10
    );
    verify_books(app).await;
    second.finish().await;
}
both!(a_rush_of_claims_from_two_instances);

async fn order_deliver_confirm_redeem(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let batch = issue(&admin, batch_form("B4", "100000", "20000")).await;
    let ent = app.api_as("fz-enterprise").await;
    assert_eq!(
        ent.post(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/claim"), &json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );

    let provider = app.api_as("fz-provider").await;
    let r = provider
        .post(
            "/api/v1/bases/R08/market/services",
            &json!({ "name": "", "category": "算命", "price_yuan": "0" }),
        )
        .await;
    assert_eq!(field_codes(r).await.len(), 3);
    let r = provider
        .post(
            "/api/v1/bases/R08/market/services",
            &json!({ "name": "材料成分检测", "category": "技术检测", "price_yuan": "10000" }),
        )
        .await;
    let service = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = provider
        .post(
            "/api/v1/bases/R08/market/services",
            &json!({ "name": "劳动合同审查", "category": "法律", "price_yuan": "3000" }),
        )
        .await;
    let legal = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let listed = ent
        .get_json("/api/v1/bases/R08/market/services?category=%E6%8A%80%E6%9C%AF%E6%A3%80%E6%B5%8B")
        .await;
    assert!(listed.as_array().unwrap().iter().all(|s| s["category"] == "技术检测"));
    assert!(listed.as_array().unwrap().iter().any(|s| s["id"] == service.as_str()));

    // The batch does not cover legal services.
    let r = ent
        .post(
            "/api/v1/bases/R08/market/orders",
            &json!({ "service_id": legal, "batch_id": batch }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("batch_id".into(), "voucher.category_not_covered".into())]
    );
    // The voucher pays 50% of 10,000 yuan, reserved (pending) until confirmation.
    let r = ent
        .post(
            "/api/v1/bases/R08/market/orders",
            &json!({ "service_id": service, "batch_id": batch }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["voucher_fen"], 500_000);
    let oid = order["id"].as_str().unwrap().to_string();
    let claim = ent
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/claim"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(claim["wallet_available_fen"], 1_500_000);

    // Nothing can be redeemed or confirmed before delivery.
    assert_eq!(
        provider
            .post("/api/v1/bases/R08/market/redemptions", &json!({}))
            .await
            .json::<Value>()
            .await
            .unwrap()["error"]["code"],
        "redemption.nothing"
    );
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/confirm"),
            &json!({ "rating": 5 }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "order.state");
    // Delivery needs the test-report number.
    let r = provider
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/deliver"),
            &json!({ "evidence": { "deliverable": "发票" } }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("evidence.report_number".into(), "evidence.report_number".into())]
    );
    let r = provider
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/deliver"),
            &json!({ "evidence": { "report_number": "FZJC-2026-00123" } }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "delivered");
    // Another firm cannot confirm it.
    let own = ent.get_json("/api/v1/me").await["bases"][0]["subject_id"].clone();
    let mut stranger = None;
    for api in firms(app, 3).await {
        if api.get_json("/api/v1/me").await["bases"][0]["subject_id"] != own {
            stranger = Some(api);
            break;
        }
    }
    let stranger = stranger.unwrap();
    let r = stranger
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/confirm"),
            &json!({ "rating": 1 }),
        )
        .await;
    assert!(matches!(r.status(), StatusCode::NOT_FOUND), "{}", r.status());
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/market/orders/{oid}/confirm"),
            &json!({ "rating": 5 }),
        )
        .await;
    let confirmed: Value = r.json().await.unwrap();
    assert_eq!(
        (confirmed["state"].as_str(), confirmed["rating"].as_i64()),
        (Some("confirmed"), Some(5))
    );

    // A second order is cancelled: its reservation comes back.
    let o2: Value = ent
        .post(
            "/api/v1/bases/R08/market/orders",
            &json!({ "service_id": service, "batch_id": batch }),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/market/orders/{}/cancel", o2["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "cancelled");
    let claim = ent
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{batch}/claim"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(claim["wallet_available_fen"], 1_500_000);

    // Redemption: requested by the provider, settled by the base admin.
    let red: Value = provider
        .post("/api/v1/bases/R08/market/redemptions", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (red["amount_fen"].as_i64(), red["orders"].as_i64()),
        (Some(500_000), Some(1))
    );
    let rid = red["id"].as_str().unwrap();
    assert_eq!(
        provider
            .post(
                &format!("/api/v1/bases/R08/market/redemptions/{rid}/settle"),
                &json!({})
            )
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let settled: Value = admin
        .post(
            &format!("/api/v1/bases/R08/market/redemptions/{rid}/settle"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settled["state"], "settled");
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/market/redemptions/{rid}/settle"),
            &json!({}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "redemption.state");
    let orders = admin.get_json("/api/v1/bases/R08/market/orders").await;
    assert!(orders.as_array().unwrap().iter().any(|o| o["state"] == "redeemed"));
    let accounts = admin.get_json("/api/v1/bases/R08/ledger/accounts").await;
    let settlement = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "settlement:providers")
        .unwrap();
    assert_eq!(settlement["credits_posted"], 500_000);
    verify_books(app).await;
}
both!(order_deliver_confirm_redeem);

#[test]
fn evidence_rules_by_category() {
    use chuangtong::voucher::market::check_evidence;
    assert!(check_evidence("专利服务", &json!({ "patent_application_number": "202610123456.7" })).is_ok());
    assert!(check_evidence("专利服务", &json!({ "patent_application_number": "CN202610123456.X" })).is_ok());
    assert!(check_evidence("专利服务", &json!({ "patent_application_number": "2026101234.7" })).is_err());
    assert!(check_evidence("仪器共享", &json!({ "machine_hours": 12 })).is_ok());
    assert!(check_evidence("仪器共享", &json!({ "machine_hours": 0 })).is_err());
    assert!(check_evidence("财务", &json!({ "deliverable": "年度审计报告" })).is_ok());
    assert!(check_evidence("财务", &json!({})).is_err());
}

/// The same loop through the pages: claim, order with the voucher, deliver, confirm.
async fn the_loop_works_in_the_pages(app: &TestApp) {
    let ent = app.browser_as("fz-enterprise").await;
    let html = ent
        .get(app.url("/b/R08/vouchers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("FZ-2026-01") && html.contains("立即领取"), "{html}");
    let batch_id = html
        .split("/vouchers/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let csrf = csrf_of(&html);
    let r = ent
        .post(app.url(&format!("/b/R08/vouchers/{batch_id}/claim")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = ent
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已领取创新券 200,000.00 元"), "{html}");

    let market = ent
        .get(app.url("/b/R08/market?category=%E6%8A%80%E6%9C%AF%E6%A3%80%E6%B5%8B"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let service_id = market
        .split("name=\"service_id\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = ent
        .post(app.url("/b/R08/market/order"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("service_id", service_id.as_str()),
            ("batch_id", batch_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let html = ent
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("其中创新券支付"), "{html}");

    // The provider of that service delivers through its page.
    let provider_id = app
        .text(&format!("SELECT provider_id FROM services WHERE id = '{service_id}'"))
        .await;
    let order_id = app.text("SELECT id FROM service_orders").await;
    app.add_member("lab", chuangtong::auth::Role::Provider, Some(&provider_id))
        .await;
    let lab = app.browser_as("lab").await;
    let html = lab
        .get(app.url("/b/R08/market/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lab_csrf = csrf_of(&html);
    let r = lab
        .post(app.url(&format!("/b/R08/market/orders/{order_id}/deliver")))
        .form(&[("_csrf", lab_csrf.as_str()), ("deliverable", "报告")])
        .send()
        .await
        .unwrap();
    let html = lab
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("检测报告编号"),
        "the error names the missing evidence: {html}"
    );
    let r = lab
        .post(app.url(&format!("/b/R08/market/orders/{order_id}/deliver")))
        .form(&[("_csrf", lab_csrf.as_str()), ("report_number", "FZJC-2026-9")])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));

    let r = ent
        .post(app.url(&format!("/b/R08/market/orders/{order_id}/confirm")))
        .form(&[("_csrf", csrf.as_str()), ("rating", "4")])
        .send()
        .await
        .unwrap();
    let html = ent
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已确认交付") && html.contains("评分 4"), "{html}");
    verify_books(app).await;
}
both!(the_loop_works_in_the_pages);
