//! Flash-claim load program (issue 5): N firms press "立即领取" at once.
//!
//! ```text
//! cargo run --release -p chuangtong --example claim-load -- [sqlite|postgres] [firms] [connections] [instances]
//! ```
//!
//! Builds the real application (the same code path as `serve`) on a fresh
//! database with the demo data, registers `firms` enterprises with their
//! accounts and API tokens (directly in SQL: setting up 10,000 argon2
//! logins would dominate the run), issues a batch with room for half of
//! them, then fires one claim per firm over HTTP from `connections`
//! concurrent clients, spread over `instances` application instances on the
//! same database. It prints claims/second, p50/p99 latency, and checks the
//! invariants: total claimed ≤ batch, no firm above its cap, one claim per
//! firm, the ledger verifies. It also measures, in the same run, a
//! "database ceiling": the same claim as raw SQL (one transaction: debit the
//! budget with its floor check, credit a wallet, record the claim) in a
//! tight loop on one connection — the figure the HTTP path is compared to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chuangtong::config::Settings;
use chuangtong::startup::Application;
use chuangtong::storage::Db;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::Row;

const PASSWORD: &str = "demo-pass-2026";

async fn fresh_db(backend: &str) -> (String, Option<tempfile::TempDir>) {
    match backend {
        "postgres" => {
            let admin_url = std::env::var("CHUANGTONG_TEST_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = format!("load_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(admin.pool())
                .await
                .unwrap();
            admin.close().await;
            (format!("{admin_url}?options=-c%20search_path%3D{schema}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}/load.db?mode=rwc", dir.path().display()), Some(dir))
        }
    }
}

async fn start(url: &str) -> Application {
    let mut s = Settings::for_tests(url);
    s.demo = true;
    s.demo_password = Some(SecretString::from(PASSWORD));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Application::build_with_listener(s, listener).await.unwrap()
}

/// Registers `n` firms with enterprise accounts and API tokens, in SQL.
async fn register_firms(db: &Db, base_id: &str, n: usize) -> Vec<String> {
    let hash = chuangtong::auth::password::hash_blocking(PASSWORD).unwrap();
    let now = chuangtong::storage::time::now_text();
    let far = chuangtong::storage::time::to_text(chrono::Utc::now() + chrono::Duration::days(1));
    let mut tokens = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin().await.unwrap();
        for &i in chunk {
            let (eid, uid) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
            let uscc = chuangtong_domain::Uscc::with_check_char(&format!("91350105MA{i:07}")).unwrap();
            sqlx::query("INSERT INTO enterprises (id, base_id, uscc, name, region_code, industry, founded_on, registered_capital_fen, employees, high_tech, address, contact_name, synthetic, created_at, updated_at) VALUES ($1,$2,$3,$4,'350105','C','2020-01-01',100,5,0,'','',1,$5,$5)")
                .bind(&eid).bind(base_id).bind(uscc.as_str()).bind(format!("压测企业{i}")).bind(&now).execute(&mut *tx).await.unwrap();
            sqlx::query("INSERT INTO users (id, username, display_name, password_hash, platform_admin, failed_logins, password_changed_at, disabled, created_at) VALUES ($1,$2,'压测',$3,0,0,$4,0,$4)")
                .bind(&uid).bind(format!("load-{i}")).bind(&hash).bind(&now).execute(&mut *tx).await.unwrap();
            sqlx::query("INSERT INTO memberships (user_id, base_id, role, subject_id) VALUES ($1,$2,'enterprise',$3)")
                .bind(&uid)
                .bind(base_id)
                .bind(&eid)
                .execute(&mut *tx)
                .await
                .unwrap();
            let token = format!("ct_load_{i}_{}", uuid::Uuid::new_v4().simple());
            sqlx::query("INSERT INTO api_tokens (id, user_id, token_digest, name, created_at, expires_at, revoked) VALUES ($1,$2,$3,'load',$4,$5,0)")
                .bind(uuid::Uuid::now_v7().to_string()).bind(&uid).bind(chuangtong::crypto::sm3_hex(token.as_bytes())).bind(&now).bind(&far)
                .execute(&mut *tx).await.unwrap();
            tokens.push(token);
        }
        tx.commit().await.unwrap();
    }
    tokens
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The same claim as raw SQL, one transaction each, on one connection.
async fn db_ceiling(db: &Db, base_id: &str, n: usize) -> f64 {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO ledger_accounts (id, base_id, code, name, kind, debits_must_not_exceed_credits, credits_posted, created_at) VALUES ('ceil-budget', $1, 'ceil:budget', 'ceil', 'budget', 1, $2, '')")
        .bind(base_id).bind(n as i64 * 100).execute(&mut *tx).await.unwrap();
    sqlx::query("INSERT INTO ledger_accounts (id, base_id, code, name, kind, debits_must_not_exceed_credits, created_at) VALUES ('ceil-wallet', $1, 'ceil:wallet', 'ceil', 'wallet', 1, '')")
        .bind(base_id).execute(&mut *tx).await.unwrap();
    sqlx::query("CREATE TABLE ceil_claims (id TEXT PRIMARY KEY, amount BIGINT)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let started = Instant::now();
    for i in 0..n {
        let mut tx = db.begin().await.unwrap();
        let ok = sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted + 100 WHERE id = 'ceil-budget' AND debits_posted + debits_pending + 100 <= credits_posted")
            .execute(&mut *tx).await.unwrap().rows_affected();
        assert_eq!(ok, 1);
        sqlx::query("UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE id = 'ceil-wallet'")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO ceil_claims (id, amount) VALUES ($1, 100)")
            .bind(i.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let firms: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let connections: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(128);
    let instances: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (url, _dir) = fresh_db(&backend).await;
    let mut apps = vec![start(&url).await];
    for _ in 1..instances {
        apps.push(start(&url).await);
    }
    let db = apps[0].state.db.clone();
    let base_id: String = sqlx::query("SELECT id FROM bases WHERE code = 'R08'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let t = Instant::now();
    let tokens = register_firms(&db, &base_id, firms).await;
    eprintln!("registered {firms} firms in {:.1}s", t.elapsed().as_secs_f64());
    let urls: Vec<String> = apps.iter().map(|a| format!("http://127.0.0.1:{}", a.port)).collect();
    let mut handles = Vec::new();
    for app in apps {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        handles.push((
            tx,
            tokio::spawn(app.run_until(async {
                let _ = rx.await;
            })),
        ));
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let admin: Value = client
        .post(format!("{}/api/v1/auth/login", urls[0]))
        .json(&json!({ "username": "fz-admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_token = admin["token"].as_str().unwrap().to_string();
    let cap_yuan = 10_000i64;
    let total_yuan = cap_yuan * (firms as i64 / 2);
    let now = chrono::Utc::now();
    let batch: Value = client
        .post(format!("{}/api/v1/bases/R08/vouchers/batches", urls[0]))
        .bearer_auth(&admin_token)
        .json(&json!({ "code": "LOAD", "name": "压测批次", "total_yuan": total_yuan.to_string(), "per_firm_cap_yuan": cap_yuan.to_string(),
            "copay_max_percent": "50", "categories": ["技术检测"], "claim_opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "claim_closes_at": (now + chrono::Duration::hours(1)).to_rfc3339(), "valid_until": "2099-12-31" }))
        .send().await.unwrap().json().await.unwrap();
    let batch_id = batch["id"].as_str().unwrap().to_string();

    // The rush.
    let tokens = Arc::new(tokens);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..connections {
        let (client, tokens, next, url) = (
            client.clone(),
            tokens.clone(),
            next.clone(),
            format!(
                "{}/api/v1/bases/R08/vouchers/batches/{batch_id}/claim",
                urls[w % urls.len()]
            ),
        );
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= tokens.len() {
                    break;
                }
                let t = Instant::now();
                let status = client
                    .post(&url)
                    .bearer_auth(&tokens[i])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                out.push((status, t.elapsed()));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for w in workers {
        results.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    let sold_out = results.iter().filter(|(s, _)| *s == 409).count();
    let other = results.len() - ok - sold_out;
    let mut lat: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    lat.sort();

    // Invariants.
    let claimed: i64 = sqlx::query("SELECT COALESCE(CAST(SUM(amount_fen) AS BIGINT), 0) FROM voucher_claims")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let over_cap: i64 = sqlx::query("SELECT COUNT(*) FROM voucher_claims WHERE amount_fen > $1")
        .bind(cap_yuan * 100)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let dup: i64 = sqlx::query("SELECT COUNT(*) - COUNT(DISTINCT enterprise_id) FROM voucher_claims")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let ledger = chuangtong::ledger::verify(&db).await.unwrap();
    let invariants_ok = claimed <= total_yuan * 100 && over_cap == 0 && dup == 0 && ledger.ok() && other == 0;

    let ceiling = db_ceiling(&db, &base_id, 3000).await;
    for (tx, h) in handles {
        let _ = tx.send(());
        let _ = h.await;
    }
    println!("backend={backend} instances={instances} firms={firms} connections={connections}");
    println!("claims_ok={ok} sold_out={sold_out} errors={other} elapsed_s={elapsed:.2}");
    println!(
        "claims_per_s={:.0} requests_per_s={:.0}",
        ok as f64 / elapsed,
        results.len() as f64 / elapsed
    );
    println!(
        "p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "invariants: claimed_fen={claimed} batch_fen={} over_cap={over_cap} duplicate_claims={dup} ledger_ok={} => {}",
        total_yuan * 100,
        ledger.ok(),
        if invariants_ok { "OK" } else { "VIOLATED" }
    );
    println!("db_ceiling_claim_tx_per_s={ceiling:.0} (raw SQL claim transaction, one connection, same database)");
    if !invariants_ok {
        std::process::exit(1);
    }
}
