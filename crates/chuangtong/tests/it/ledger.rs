//! The ledger: double entry in fen, floors that hold under concurrency from
//! two instances, idempotent requests, pending/post/void/expiry, verify.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Api, TestApp};

async fn open(api: &Api, code: &str, kind: &str, no_overdraft: bool) {
    let r = api
        .post(
            "/api/v1/bases/R08/ledger/accounts",
            &json!({ "code": code, "name": code, "kind": kind, "no_overdraft": no_overdraft }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "open {code}");
}

async fn move_money(api: &Api, key: &str, legs: Value) -> reqwest::Response {
    api.post(
        "/api/v1/bases/R08/ledger/transfers",
        &json!({ "idempotency_key": key, "transfers": legs }),
    )
    .await
}

async fn balance(api: &Api, code: &str) -> Value {
    let all = api.get_json("/api/v1/bases/R08/ledger/accounts").await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == code)
        .cloned()
        .unwrap()
}

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    (s, v["error"]["code"].as_str().unwrap_or_default().to_string())
}

/// A funded budget with a floor, and an enterprise wallet.
async fn setup(app: &TestApp) -> Api {
    let api = app.api_as("fz-admin").await;
    open(&api, "funding:district", "funding", false).await;
    open(&api, "budget:voucher", "budget", true).await;
    open(&api, "wallet:firm-1", "wallet", true).await;
    open(&api, "payable:provider-1", "payable", false).await;
    let r = move_money(&api, "fund-1", json!([{ "debit": "funding:district", "credit": "budget:voucher", "amount_fen": 100_000, "memo": "区财政拨付" }])).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    api
}

async fn double_entry_floors_and_idempotency(app: &TestApp) {
    let api = setup(app).await;
    let claim = json!([{ "debit": "budget:voucher", "credit": "wallet:firm-1", "amount_fen": 30_000 }]);
    let first: Value = move_money(&api, "claim-firm-1", claim.clone())
        .await
        .json()
        .await
        .unwrap();
    // A retry returns the first result and moves nothing.
    let r = move_money(&api, "claim-firm-1", claim.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["transfer_ids"], first["transfer_ids"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(balance(&api, "wallet:firm-1").await["credits_posted"], 30_000);
    // The same key with another body is refused.
    let other = json!([{ "debit": "budget:voucher", "credit": "wallet:firm-1", "amount_fen": 30_001 }]);
    assert_eq!(
        error_code(move_money(&api, "claim-firm-1", other).await).await,
        (StatusCode::CONFLICT, "ledger.idempotency_conflict".into())
    );

    // Overdraft is refused and changes nothing.
    let audit_before = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    let r = move_money(
        &api,
        "too-much",
        json!([{ "debit": "budget:voucher", "credit": "wallet:firm-1", "amount_fen": 70_001 }]),
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ledger.insufficient_funds");
    assert!(body["error"]["message"].as_str().unwrap().contains("可用 70000 分"));
    assert_eq!(balance(&api, "budget:voucher").await["debits_posted"], 30_000);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, audit_before);
    // ...and the refused key is not burnt: it can be used for a valid request.
    let r = move_money(
        &api,
        "too-much",
        json!([{ "debit": "budget:voucher", "credit": "wallet:firm-1", "amount_fen": 70_000 }]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(balance(&api, "budget:voucher").await["debits_posted"], 100_000);

    // Linked legs: the second fails, so the first is not applied either.
    let r = move_money(
        &api,
        "linked",
        json!([
            { "debit": "funding:district", "credit": "budget:voucher", "amount_fen": 5 },
            { "debit": "wallet:firm-1", "credit": "payable:provider-1", "amount_fen": 100_001 }
        ]),
    )
    .await;
    assert_eq!(error_code(r).await.1, "ledger.insufficient_funds");
    assert_eq!(balance(&api, "budget:voucher").await["credits_posted"], 100_000);

    // Bad input.
    let r = move_money(
        &api,
        "bad",
        json!([{ "debit": "budget:voucher", "credit": "budget:voucher", "amount_fen": 1 }]),
    )
    .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "validation".into())
    );
    let r = move_money(
        &api,
        "bad",
        json!([{ "debit": "nope", "credit": "budget:voucher", "amount_fen": 1 }]),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let r = move_money(
        &api,
        "bad",
        json!([{ "debit": "funding:district", "credit": "budget:voucher", "amount_fen": 0 }]),
    )
    .await;
    assert_eq!(error_code(r).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let report = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.debits_posted, report.credits_posted);
}
both!(double_entry_floors_and_idempotency);

async fn pending_post_void_and_expiry(app: &TestApp) {
    let api = setup(app).await;
    let id_of = |v: Value| v["transfer_ids"][0].as_str().unwrap().to_string();
    // Reserve 60,000 for an order: only 40,000 remain available.
    let order = id_of(move_money(&api, "order-1", json!([{ "debit": "budget:voucher", "credit": "payable:provider-1", "amount_fen": 60_000, "pending_timeout_secs": 3600 }])).await.json().await.unwrap());
    let r = move_money(&api, "order-2", json!([{ "debit": "budget:voucher", "credit": "payable:provider-1", "amount_fen": 40_001, "pending_timeout_secs": 3600 }])).await;
    assert_eq!(error_code(r).await.1, "ledger.insufficient_funds");
    // Delivery confirmed: post. Posting twice is refused.
    assert_eq!(
        api.post(&format!("/api/v1/bases/R08/ledger/transfers/{order}/post"), &json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        error_code(
            api.post(&format!("/api/v1/bases/R08/ledger/transfers/{order}/post"), &json!({}))
                .await
        )
        .await,
        (StatusCode::CONFLICT, "ledger.not_pending".into())
    );
    assert_eq!(
        error_code(
            api.post(&format!("/api/v1/bases/R08/ledger/transfers/{order}/void"), &json!({}))
                .await
        )
        .await
        .1,
        "ledger.not_pending"
    );
    let b = balance(&api, "budget:voucher").await;
    assert_eq!(
        (b["debits_posted"].as_i64(), b["debits_pending"].as_i64()),
        (Some(60_000), Some(0))
    );

    // Cancelled order: void releases the reservation.
    let cancelled = id_of(move_money(&api, "order-3", json!([{ "debit": "budget:voucher", "credit": "payable:provider-1", "amount_fen": 40_000, "pending_timeout_secs": 3600 }])).await.json().await.unwrap());
    assert_eq!(
        api.post(
            &format!("/api/v1/bases/R08/ledger/transfers/{cancelled}/void"),
            &json!({})
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(balance(&api, "budget:voucher").await["debits_pending"], 0);

    // Expiry: a pending transfer past its time is expired by the sweeper and can no longer be posted.
    let late = id_of(move_money(&api, "order-4", json!([{ "debit": "budget:voucher", "credit": "payable:provider-1", "amount_fen": 10_000, "pending_timeout_secs": 1 }])).await.json().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        error_code(
            api.post(&format!("/api/v1/bases/R08/ledger/transfers/{late}/post"), &json!({}))
                .await
        )
        .await
        .1,
        "ledger.not_pending"
    );
    assert_eq!(
        chuangtong::ledger::expire_due(&app.state.db, &app.state.keys)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        chuangtong::ledger::expire_due(&app.state.db, &app.state.keys)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.text(&format!("SELECT state FROM ledger_transfers WHERE id = '{late}'"))
            .await,
        "expired"
    );
    assert_eq!(balance(&api, "budget:voucher").await["debits_pending"], 0);

    // Another base's administrator cannot touch this base's transfers.
    let yp = app.api_as("yp-admin").await;
    assert_eq!(
        yp.post(&format!("/api/v1/bases/R08/ledger/transfers/{order}/void"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        yp.post(&format!("/api/v1/bases/R04/ledger/transfers/{order}/void"), &json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let report = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}
both!(pending_post_void_and_expiry);

/// 60 claims of 3,000 fen race for a 100,000 fen budget from two application
/// instances (two "processes" with their own pools): exactly 33 succeed, the
/// budget ends at 1,000 fen, nothing is lost or doubled.
async fn no_overdraft_under_concurrency_from_two_instances(app: &TestApp) {
    let api = setup(app).await;
    let second = TestApp::spawn_on(app.db.clone()).await;
    let api2 = second.api_as("fz-admin").await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let a = if i % 2 == 0 { &api } else { &api2 };
        let (client, url, token) = (
            a.client.clone(),
            format!("{}/api/v1/bases/R08/ledger/transfers", a.app_url),
            a.token.clone(),
        );
        let body = json!({ "idempotency_key": format!("race-{i}"), "transfers": [{ "debit": "budget:voucher", "credit": "wallet:firm-1", "amount_fen": 3_000 }] });
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
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 33);
    let b = balance(&api, "budget:voucher").await;
    assert_eq!(
        b["credits_posted"].as_i64().unwrap() - b["debits_posted"].as_i64().unwrap(),
        1_000
    );
    assert_eq!(balance(&api, "wallet:firm-1").await["credits_posted"], 99_000);
    let report = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(
        chuangtong::audit::verify(&app.state.db, &app.state.keys)
            .await
            .unwrap()
            .problems,
        Vec::<String>::new()
    );
    second.finish().await;
}
both!(no_overdraft_under_concurrency_from_two_instances);

async fn verify_detects_a_tampered_balance(app: &TestApp) {
    let _api = setup(app).await;
    sqlx::query("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE code = 'budget:voucher'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let report = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("budget:voucher") && p.contains("不符")),
        "{:?}",
        report.problems
    );
}
both!(verify_detects_a_tampered_balance);
