//! Flash claims through the claim desk (group commit, sold-out flag) and the
//! lottery mode (committed seed, public recomputation).

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both;
use crate::helpers::TestApp;

fn batch_form(code: &str, total: &str, cap: &str, closes_in: Duration, mode: &str) -> Value {
    let now = Utc::now();
    json!({
        "code": code, "name": "2026年合创券（压测）", "total_yuan": total, "per_firm_cap_yuan": cap,
        "copay_max_percent": "50", "categories": ["技术检测"],
        "claim_opens_at": (now - Duration::hours(1)).to_rfc3339(), "claim_closes_at": (now + closes_in).to_rfc3339(),
        "valid_until": "2099-12-31", "claim_mode": mode
    })
}

async fn issue(app: &TestApp, form: Value) -> String {
    let admin = app.api_as("fz-admin").await;
    let r = admin.post("/api/v1/bases/R08/vouchers/batches", &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn books_balance(app: &TestApp) {
    let l = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(l.ok(), "{:?}", l.problems);
    let a = chuangtong::audit::verify(&app.state.db, &app.state.keys).await.unwrap();
    assert_eq!(a.problems, Vec::<String>::new());
}

async fn post(client: &reqwest::Client, url: String, token: &str) -> (StatusCode, Value) {
    let r = client.post(url).bearer_auth(token).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn a_rush_is_committed_in_groups_and_stays_exact(app: &TestApp) {
    let base_id = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &base_id, 'B', 300)
        .await
        .unwrap();
    // Room for 200 firms at the cap, plus half a cap: the 201st gets the half.
    let id = issue(
        app,
        batch_form("FLASH", "2005000", "10000", Duration::hours(1), "first_come"),
    )
    .await;
    let url = format!("{}/api/v1/bases/R08/vouchers/batches/{id}/claim", app.address);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (eid, token) in firms.clone() {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (s, body) = post(&client, url, &token).await;
            (eid, s, body)
        }));
    }
    let mut granted = std::collections::HashMap::new();
    let mut sold_out = 0;
    for t in tasks {
        let (eid, status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => {
                assert_eq!(body["enterprise_id"], eid.as_str());
                granted.insert(eid, body);
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "voucher.sold_out");
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(granted.len(), 201);
    assert_eq!(sold_out, 99);
    let amounts: Vec<i64> = granted.values().map(|b| b["amount_fen"].as_i64().unwrap()).collect();
    assert_eq!(amounts.iter().sum::<i64>(), 200_500_000);
    assert_eq!(amounts.iter().filter(|a| **a == 1_000_000).count(), 200);
    assert_eq!(amounts.iter().filter(|a| **a == 500_000).count(), 1);

    // Every acknowledged claim is a row with the same amount, and nothing else is.
    let rows = sqlx::query("SELECT enterprise_id, id, amount_fen FROM voucher_claims WHERE batch_id = $1")
        .bind(&id)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 201);
    for r in &rows {
        let body = &granted[&r.get::<String, _>(0)];
        assert_eq!(body["id"], r.get::<String, _>(1).as_str());
        assert_eq!(body["amount_fen"], r.get::<i64, _>(2));
    }
    // One wallet per claim, nothing half-written.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM ledger_accounts WHERE code LIKE 'wallet:FLASH:%'")
            .await,
        201
    );
    // Group commit: fewer audit entries than claims, and together they list every claim once.
    let entries = sqlx::query("SELECT after_json FROM audit_log WHERE action = 'voucher.claimed' AND entity_id = $1")
        .bind(&id)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let mut listed = 0;
    for e in &entries {
        let after: Value = serde_json::from_str(&e.get::<String, _>(0)).unwrap();
        listed += after["claims"].as_array().unwrap().len();
    }
    assert_eq!(listed, 201);
    assert!(entries.len() < 201, "claims were grouped ({} entries)", entries.len());

    // After the sell-out: a winner asking again gets its claim back; a loser is refused.
    let (winner, token) = firms.iter().find(|(e, _)| granted.contains_key(e)).unwrap();
    let (s, body) = post(&client, url.clone(), token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["id"], granted[winner]["id"]);
    let (_, token) = firms.iter().find(|(e, _)| !granted.contains_key(e)).unwrap();
    let (s, body) = post(&client, url.clone(), token).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "voucher.sold_out");
    // A lottery route on a first-come batch is refused.
    let (s, body) = post(
        &client,
        format!("{}/api/v1/bases/R08/vouchers/batches/{id}/interest", app.address),
        token,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "voucher.not_lottery");
    books_balance(app).await;
}
both!(a_rush_is_committed_in_groups_and_stays_exact);

/// A batch far smaller than the crowd: 80 firms at once for two and a half
/// caps. Whichever path each group takes — written at full caps and debited
/// last, or (near sell-out, and after a refused debit, which happens here
/// when two groups start together on PostgreSQL) shared out with the budget
/// locked first — exactly two full claims and one half claim remain, and
/// nothing of a refused attempt: no extra wallet, request, transfer, claim
/// or audit line.
async fn a_small_batch_in_a_rush_is_shared_out_exactly(app: &TestApp) {
    let base_id = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &base_id, 'T', 80)
        .await
        .unwrap();
    // Room for two and a half firms.
    let id = issue(
        app,
        batch_form("TINY", "25000", "10000", Duration::hours(1), "first_come"),
    )
    .await;
    let url = format!("{}/api/v1/bases/R08/vouchers/batches/{id}/claim", app.address);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (_, token) in firms.clone() {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move { post(&client, url, &token).await }));
    }
    let mut amounts = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => amounts.push(body["amount_fen"].as_i64().unwrap()),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "voucher.sold_out"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    amounts.sort();
    assert_eq!(amounts, vec![500_000, 1_000_000, 1_000_000]);
    for sql in [
        format!("SELECT COUNT(*) FROM voucher_claims WHERE batch_id = '{id}'"),
        "SELECT COUNT(*) FROM ledger_accounts WHERE code LIKE 'wallet:TINY:%'".to_string(),
        format!("SELECT COUNT(*) FROM ledger_transfers WHERE idempotency_key LIKE 'voucher-claim:{id}:%'"),
        format!("SELECT COUNT(*) FROM ledger_requests WHERE idempotency_key LIKE 'voucher-claim:{id}:%'"),
    ] {
        assert_eq!(app.scalar(&sql).await, 3, "{sql}");
    }
    let listed: usize =
        sqlx::query("SELECT after_json FROM audit_log WHERE action = 'voucher.claimed' AND entity_id = $1")
            .bind(&id)
            .fetch_all(app.state.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|e| {
                let after: Value = serde_json::from_str(&e.get::<String, _>(0)).unwrap();
                after["claims"].as_array().unwrap().len()
            })
            .sum();
    assert_eq!(listed, 3);
    assert_eq!(
        app.scalar("SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE code = 'budget:voucher:TINY'")
            .await,
        0
    );
    books_balance(app).await;
}
both!(a_small_batch_in_a_rush_is_shared_out_exactly);

/// A firm of another base that somehow holds an enterprise membership here
/// claims in the middle of a rush: the claim desk writes its group first,
/// the claim's composite key (firm and base) refuses the group, and the
/// desk looks the firms up and commits everyone else's claims.
async fn a_firm_of_another_base_is_refused_in_a_rush(app: &TestApp) {
    let here = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let there = chuangtong::demo::load::base_id(&app.state.db, "R01").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &here, 'W', 30)
        .await
        .unwrap();
    let (outsider, outsider_token) = chuangtong::demo::load::register_firms(&app.state.db, &there, 'X', 1)
        .await
        .unwrap()
        .remove(0);
    sqlx::query(
        "INSERT INTO memberships (user_id, base_id, role, subject_id) \
         SELECT user_id, $1, 'enterprise', subject_id FROM memberships WHERE subject_id = $2",
    )
    .bind(&here)
    .bind(&outsider)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let id = issue(
        app,
        batch_form("KEYED", "1000000", "10000", Duration::hours(1), "first_come"),
    )
    .await;
    let url = format!("{}/api/v1/bases/R08/vouchers/batches/{id}/claim", app.address);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (i, (_, token)) in firms.iter().enumerate() {
        if i == 15 {
            let (client, url, token) = (client.clone(), url.clone(), outsider_token.clone());
            tasks.push((true, tokio::spawn(async move { post(&client, url, &token).await })));
        }
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tasks.push((false, tokio::spawn(async move { post(&client, url, &token).await })));
    }
    for (is_outsider, t) in tasks {
        let (status, body) = t.await.unwrap();
        let expected = if is_outsider {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::CREATED
        };
        assert_eq!(status, expected, "{body}");
    }
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM voucher_claims WHERE batch_id = '{id}'"))
            .await,
        30
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM ledger_accounts WHERE code LIKE 'wallet:KEYED:%'")
            .await,
        30
    );
    assert_eq!(
        app.scalar("SELECT debits_posted FROM ledger_accounts WHERE code = 'budget:voucher:KEYED'")
            .await,
        30 * 1_000_000
    );
    // The database itself refuses a claim whose firm is of another base.
    let wallet: String = sqlx::query("SELECT wallet_account_id FROM voucher_claims WHERE batch_id = $1 LIMIT 1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0);
    let refused = sqlx::query(
        "INSERT INTO voucher_claims (id, base_id, batch_id, enterprise_id, amount_fen, wallet_account_id, transfer_id, created_at) \
         VALUES ('forged', $1, $2, $3, 1, $4, 'none', '2026-11-27T00:00:00Z')",
    )
    .bind(&here)
    .bind(&id)
    .bind(&outsider)
    .bind(&wallet)
    .execute(app.state.db.pool())
    .await
    .unwrap_err();
    assert!(chuangtong::storage::foreign_key_violation(&refused), "{refused}");
    books_balance(app).await;
}
both!(a_firm_of_another_base_is_refused_in_a_rush);

/// Two processes on one database: a firm claims at one, the batch sells out
/// at the other, and the firm asking the other process afterwards gets its
/// claim back (200), not "sold out": the sold-out desk answers from memory,
/// with every claim of the batch read once when it sold out.
async fn after_sell_out_a_firm_gets_its_claim_back_at_any_process(app: &TestApp) {
    let second = TestApp::spawn_on(app.db.clone()).await;
    let base_id = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &base_id, 'Y', 4)
        .await
        .unwrap();
    // Room for three firms.
    let id = issue(
        app,
        batch_form("TWO", "30000", "10000", Duration::hours(1), "first_come"),
    )
    .await;
    let path = format!("/api/v1/bases/R08/vouchers/batches/{id}/claim");
    let client = reqwest::Client::new();
    let (s, first) = post(&client, app.url(&path), &firms[0].1).await;
    assert_eq!(s, StatusCode::CREATED);
    for (_, token) in &firms[1..3] {
        assert_eq!(post(&client, second.url(&path), token).await.0, StatusCode::CREATED);
    }
    let (s, body) = post(&client, second.url(&path), &firms[3].1).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("voucher.sold_out"))
    );
    // Sold out at the second process; the first firm asks there.
    let (s, again) = post(&client, second.url(&path), &firms[0].1).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(
        (again["id"].clone(), again["replayed"].as_bool()),
        (first["id"].clone(), Some(true))
    );
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM voucher_claims WHERE batch_id = '{id}'"))
            .await,
        3
    );
    books_balance(app).await;
    second.finish().await;
}
both!(after_sell_out_a_firm_gets_its_claim_back_at_any_process);

async fn a_lottery_commits_to_its_seed_and_can_be_recomputed(app: &TestApp) {
    let base_id = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &base_id, 'D', 12)
        .await
        .unwrap();
    // Room for 3.5 firms; the window closes in 3 seconds.
    let id = issue(
        app,
        batch_form("LOT", "35000", "10000", Duration::seconds(3), "lottery"),
    )
    .await;
    let admin = app.api_as("fz-admin").await;
    let before = admin
        .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{id}/lottery"))
        .await;
    let commitment = before["seed_sm3"].as_str().unwrap().to_string();
    assert_eq!(commitment.len(), 64);
    assert!(before["seed"].is_null(), "the seed stays secret until the draw");
    let batch = admin
        .get_json(&format!("/api/v1/bases/R08/vouchers/batches/{id}"))
        .await;
    assert_eq!(batch["claim_mode"], "lottery");
    assert_eq!(batch["lottery_seed_sm3"], commitment.as_str());

    let client = reqwest::Client::new();
    let base = format!("{}/api/v1/bases/R08/vouchers/batches/{id}", app.address);
    // Claiming directly is refused; registering twice is one registration.
    let (s, body) = post(&client, format!("{base}/claim"), &firms[0].1).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "voucher.lottery_batch");
    for (_, token) in &firms[..10] {
        let (s, _) = post(&client, format!("{base}/interest"), token).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, body) = post(&client, format!("{base}/interest"), &firms[0].1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["replayed"], true);
    // Only base admins draw, and only after the window.
    let (s, _) = post(&client, format!("{base}/draw"), &firms[0].1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = admin
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{id}/draw"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "voucher.lottery_window_open"
    );
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let (s, body) = post(&client, format!("{base}/interest"), &firms[11].1).await;
    assert_eq!(s, StatusCode::CONFLICT, "registration closed with the window");
    assert_eq!(body["error"]["code"], "voucher.closed");

    let r = admin
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{id}/draw"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let drawn: Value = r.json().await.unwrap();
    // The public can check the seed against the commitment and recompute the order.
    let seed = drawn["seed"].as_str().unwrap();
    assert_eq!(chuangtong::crypto::sm3_hex(seed.as_bytes()), commitment);
    let registrants = drawn["registrants"].as_array().unwrap();
    assert_eq!(registrants.len(), 10);
    let mut recomputed: Vec<(String, String)> = registrants
        .iter()
        .map(|r| {
            let uscc = r["uscc"].as_str().unwrap().to_string();
            (chuangtong::crypto::sm3_hex(format!("{seed}:{uscc}").as_bytes()), uscc)
        })
        .collect();
    recomputed.sort();
    let expected_amounts = [1_000_000, 1_000_000, 1_000_000, 500_000, 0, 0, 0, 0, 0, 0];
    for (i, ((key, uscc), r)) in recomputed.iter().zip(registrants).enumerate() {
        assert_eq!(r["uscc"], uscc.as_str());
        assert_eq!(r["draw_key"], key.as_str());
        assert_eq!(r["rank"], i as i64 + 1);
        assert_eq!(r["amount_fen"], expected_amounts[i]);
    }
    assert_eq!(
        app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) FROM voucher_claims WHERE batch_id IN (SELECT id FROM voucher_batches WHERE code = 'LOT')")
            .await,
        3_500_000
    );
    // Drawing again changes nothing.
    let again: Value = admin
        .post(&format!("/api/v1/bases/R08/vouchers/batches/{id}/draw"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["registrants"], drawn["registrants"]);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM voucher_claims WHERE batch_id IN (SELECT id FROM voucher_batches WHERE code = 'LOT')"
        )
        .await,
        4
    );
    // Another base sees nothing of it.
    let yp = app.api_as("yp-admin").await;
    let r = yp
        .get(&format!("/api/v1/bases/R08/vouchers/batches/{id}/lottery"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    books_balance(app).await;
}
both!(a_lottery_commits_to_its_seed_and_can_be_recomputed);

async fn only_firms_qualifying_under_the_batch_policy_can_claim(app: &TestApp) {
    let base_id = chuangtong::demo::load::base_id(&app.state.db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&app.state.db, &base_id, 'F', 3)
        .await
        .unwrap();
    // Load firms have 5 employees; the first gets 20.
    sqlx::query("UPDATE enterprises SET employees = 20 WHERE id = $1")
        .bind(&firms[0].0)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let admin = app.api_as("fz-admin").await;
    let src = "policy ten \"十人以上企业创新券资格\"\nrequire \"从业人数十人以上\": 从业人数 >= 10\nrequire \"研发投入\": 研发费用 >= 0\namount = 0元\n";
    let src_known = "policy ten2 \"十人以上企业\"\nrequire \"从业人数十人以上\": 从业人数 >= 10\namount = 0元\n";
    let mut ids = Vec::new();
    for (title, source) in [("十人以上且有研发记录", src), ("十人以上", src_known)] {
        let r = admin
            .post(
                "/api/v1/bases/R08/policies",
                &json!({ "title": title, "issuer": "测试局", "source": source, "effective_from": "2020-01-01" }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let r = admin
            .post(&format!("/api/v1/bases/R08/policies/{id}/publish"), &json!({}))
            .await;
        assert!(r.status().is_success());
        ids.push(id);
    }
    // An unknown policy is a field error and issues nothing.
    let mut bad = batch_form("ELIG0", "1000", "100", Duration::hours(1), "first_come");
    bad["eligibility_policy_id"] = json!("no-such-policy");
    let r = admin.post("/api/v1/bases/R08/vouchers/batches", &bad).await;
    assert_eq!(
        crate::helpers::field_codes(r).await,
        vec![(
            "eligibility_policy_id".to_string(),
            "voucher.policy_unknown".to_string()
        )]
    );

    let client = reqwest::Client::new();
    let claim = |batch: String, token: String| {
        let (client, url) = (
            client.clone(),
            format!("{}/api/v1/bases/R08/vouchers/batches/{batch}/claim", app.address),
        );
        async move { post(&client, url, &token).await }
    };
    let mut form = batch_form("ELIG1", "1000", "100", Duration::hours(1), "first_come");
    form["eligibility_policy_id"] = json!(ids[1]);
    let batch = issue(app, form).await;
    let (s, body) = claim(batch.clone(), firms[1].1.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "voucher.not_eligible");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("从业人数"),
        "{body}"
    );
    let (s, body) = claim(batch.clone(), firms[0].1.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // A missing fact makes the answer unknown, with what to supply.
    let mut form = batch_form("ELIG2", "1000", "100", Duration::hours(1), "first_come");
    form["eligibility_policy_id"] = json!(ids[0]);
    let batch = issue(app, form).await;
    let (s, body) = claim(batch, firms[0].1.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "voucher.eligibility_unknown");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("研发费用"),
        "{body}"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM voucher_claims WHERE batch_id IN (SELECT id FROM voucher_batches WHERE code LIKE 'ELIG%')")
            .await,
        1
    );
    books_balance(app).await;
}
both!(only_firms_qualifying_under_the_batch_policy_can_claim);
