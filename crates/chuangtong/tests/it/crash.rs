//! Crash safety with the real binary: acknowledged writes survive `kill -9`
//! (SIGKILL, no shutdown code runs), the audit chain stays intact, and
//! `chuangtong audit verify` / `backup` / `restore` work as commands.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Backend, TestDb, DEMO_PASSWORD};

const KEY: &str = "5555555555555555555555555555555555555555555555555555555555555555";

fn command(db: &TestDb, data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chuangtong"));
    c.env("DATABASE_URL", &db.url)
        .env("CHUANGTONG_MASTER_KEY", KEY)
        .env("CHUANGTONG_DATA_DIR", data_dir)
        .env("CHUANGTONG_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("RUST_LOG", "warn");
    c
}

/// A running `chuangtong serve`, killed (SIGKILL) when dropped, so a failing
/// test leaves no server behind holding the test's output open.
struct Server(Child);

impl Server {
    /// SIGKILL, then reap.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `chuangtong serve` on a free port and returns it with its URL.
#[allow(clippy::zombie_processes)] // `Server` reaps it
fn start(db: &TestDb, data_dir: &std::path::Path) -> (Server, String) {
    let mut child = command(db, data_dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
        if let Some(url) = line.trim().strip_prefix("创通已启动: ") {
            let url = url.split_whitespace().next().unwrap().to_string();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return (Server(child), url);
        }
    }
}

async fn kill9_loses_nothing_acknowledged(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(&db, dir.path());
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "username": "fz-admin", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();

    // Four writers create firms as fast as they can; each records what was acknowledged.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, url, token, acked) = (client.clone(), url.clone(), token.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let uscc = chuangtong_domain::Uscc::with_check_char(&format!("91350105MA{w}{i:06}")).unwrap();
                let body = json!({ "uscc": uscc.as_str(), "name": format!("崩溃测试{w}-{i}有限公司"), "region_code": "350105",
                    "industry": "C", "founded_on": "2020-01-01", "registered_capital_yuan": "1", "employees": "1" });
                match client.post(format!("{url}/api/v1/bases/R08/enterprises")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
                        acked.lock().unwrap().push(id);
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    child.kill(); // SIGKILL
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "writes were acknowledged before the kill ({})",
        acked.len()
    );

    // Restart: every acknowledged firm is there, and the audit chain verifies.
    let (mut child, url) = start(&db, dir.path());
    let token: Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "username": "fz-admin", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap();
    for id in &acked {
        let r = client
            .get(format!("{url}/api/v1/bases/R08/enterprises/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "acknowledged enterprise {id} survived");
    }
    child.kill();
    let out = command(&db, dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "audit verify after crash: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "kill -9 on {backend:?}: {} acknowledged writes, all present after restart",
        acked.len()
    );
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_sqlite() {
    kill9_loses_nothing_acknowledged(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_postgres() {
    kill9_loses_nothing_acknowledged(Backend::Postgres).await;
}

/// `kill -9` in the middle of a claim storm: every claim that got a 201 is
/// in the ledger with its amount, no wallet exists without its claim (the
/// group commit is all or nothing), and the ledger and audit chain verify.
async fn kill9_in_a_claim_storm(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(&db, dir.path());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "username": "fz-admin", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let batch: Value = client
        .post(format!("{url}/api/v1/bases/R08/vouchers/batches"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(
            &json!({ "code": "STORM", "name": "崩溃测试批次", "total_yuan": "300000", "per_firm_cap_yuan": "100",
            "copay_max_percent": "50", "categories": ["技术检测"],
            "claim_opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "claim_closes_at": (now + chrono::Duration::hours(1)).to_rfc3339(), "valid_until": "2099-12-31" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batch_id = batch["id"].as_str().unwrap().to_string();
    let store = chuangtong::storage::Db::connect(&db.url).await.unwrap();
    let base_id = chuangtong::demo::load::base_id(&store, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(&store, &base_id, 'E', 3000)
        .await
        .unwrap();

    let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, String, i64)>::new()));
    let wire = Arc::new(tokio::sync::Semaphore::new(64));
    let mut claimers = Vec::new();
    for (eid, token) in firms.clone() {
        let (client, acked, wire) = (client.clone(), acked.clone(), wire.clone());
        let url = format!("{url}/api/v1/bases/R08/vouchers/batches/{batch_id}/claim");
        claimers.push(tokio::spawn(async move {
            let _permit = wire.acquire().await.unwrap();
            if let Ok(r) = client.post(url).bearer_auth(token).send().await {
                if r.status() == StatusCode::CREATED {
                    if let Ok(body) = r.json::<Value>().await {
                        let claim = (
                            eid,
                            body["id"].as_str().unwrap().to_string(),
                            body["amount_fen"].as_i64().unwrap(),
                        );
                        acked.lock().unwrap().push(claim);
                    }
                }
            }
        }));
    }
    // Kill once the storm is well under way.
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill(); // SIGKILL
    for c in claimers {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() < firms.len(), "the kill came in the middle of the storm");

    use sqlx::Row;
    for (eid, claim_id, amount) in &acked {
        let row = sqlx::query("SELECT id, amount_fen FROM voucher_claims WHERE batch_id = $1 AND enterprise_id = $2")
            .bind(&batch_id)
            .bind(eid)
            .fetch_optional(store.pool())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged claim of {eid} survived"));
        assert_eq!(&row.get::<String, _>(0), claim_id);
        assert_eq!(row.get::<i64, _>(1), *amount);
    }
    let count = |sql: &'static str| {
        let (store, batch_id) = (&store, &batch_id);
        async move {
            sqlx::query(sql)
                .bind(batch_id)
                .fetch_one(store.pool())
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    let claims = count("SELECT COUNT(*) FROM voucher_claims WHERE batch_id = $1").await;
    let wallets = count(
        "SELECT COUNT(*) FROM ledger_accounts WHERE code LIKE 'wallet:STORM:%' AND base_id = \
         (SELECT base_id FROM voucher_batches WHERE id = $1)",
    )
    .await;
    let transfers =
        count("SELECT COUNT(*) FROM ledger_transfers WHERE idempotency_key LIKE 'voucher-claim:' || $1 || ':%'").await;
    assert!(claims >= acked.len() as i64);
    assert_eq!(wallets, claims, "no wallet without its claim");
    assert_eq!(transfers, claims, "no transfer without its claim");
    for verify in [["ledger", "verify"], ["audit", "verify"]] {
        let out = command(&db, dir.path()).args(verify).output().unwrap();
        assert!(
            out.status.success(),
            "{verify:?} after a kill in a claim storm: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // Restarted, the server carries on: every firm presses again. A firm
    // whose claim was acknowledged gets that same claim back (200); every
    // other firm gets one now (the batch has room for all 3,000).
    let (mut child, url) = start(&db, dir.path());
    let mut again = Vec::new();
    for (eid, token) in firms.clone() {
        let (client, wire) = (client.clone(), wire.clone());
        let url = format!("{url}/api/v1/bases/R08/vouchers/batches/{batch_id}/claim");
        again.push(tokio::spawn(async move {
            let _permit = wire.acquire().await.unwrap();
            let r = client.post(url).bearer_auth(token).send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (eid, status, body["id"].as_str().unwrap_or_default().to_string())
        }));
    }
    let first: std::collections::HashMap<String, String> =
        acked.iter().map(|(eid, id, _)| (eid.clone(), id.clone())).collect();
    for a in again {
        let (eid, status, id) = a.await.unwrap();
        match first.get(&eid) {
            Some(before) => {
                assert_eq!(status, StatusCode::OK, "{eid} claimed before the kill");
                assert_eq!(&id, before, "{eid} gets its acknowledged claim back");
            }
            None => assert!(
                status == StatusCode::CREATED || status == StatusCode::OK,
                "{eid}: {status}"
            ),
        }
    }
    child.kill();
    assert_eq!(
        count("SELECT COUNT(*) FROM voucher_claims WHERE batch_id = $1").await,
        firms.len() as i64,
        "one claim per firm after the restart"
    );
    assert_eq!(
        count("SELECT COUNT(DISTINCT enterprise_id) FROM voucher_claims WHERE batch_id = $1").await,
        firms.len() as i64
    );
    for verify in [["ledger", "verify"], ["audit", "verify"]] {
        let out = command(&db, dir.path()).args(verify).output().unwrap();
        assert!(out.status.success(), "{verify:?} after the restart");
    }
    eprintln!(
        "claim storm kill -9 on {backend:?}: {} claims acknowledged, {claims} committed, all acknowledged present; \
         after the restart every firm holds one claim",
        acked.len()
    );
    store.close().await;
    db.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_claim_storm_sqlite() {
    kill9_in_a_claim_storm(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_claim_storm_postgres() {
    kill9_in_a_claim_storm(Backend::Postgres).await;
}

/// `audit verify` exits 1 on tampering; `backup` + `restore` bring a database back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_backup_and_restore_commands() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let out = command(&db, dir.path()).args(["migrate"]).output().unwrap();
    assert!(out.status.success());
    // Load demo data through a short serve.
    let (mut child, _url) = start(&db, dir.path());
    child.kill();

    // `sweep` (for cron) expires the demo voucher batch once its validity has ended.
    let live = chuangtong::storage::Db::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE voucher_batches SET valid_until = '2020-01-01'")
        .execute(live.pool())
        .await
        .unwrap();
    let expiries = |live: chuangtong::storage::Db| async move {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM voucher_expiries")
            .fetch_one(live.pool())
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    assert_eq!(expiries(live.clone()).await, 0);
    for _ in 0..2 {
        let out = command(&db, dir.path()).arg("sweep").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("已处理 28 个基地"));
        assert_eq!(expiries(live.clone()).await, 1, "swept once, however often it runs");
    }
    live.close().await;
    let out = command(&db, dir.path()).args(["ledger", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    let backup = dir.path().join("backup.db");
    let out = command(&db, dir.path()).arg("backup").arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Tamper with the live database: verify fails with exit code 1.
    let live = chuangtong::storage::Db::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE audit_log SET after_json = '{}' WHERE seq = 3")
        .execute(live.pool())
        .await
        .unwrap();
    live.close().await;
    let out = command(&db, dir.path()).args(["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("校验失败"));

    // Restore refuses to overwrite without --force, then restores the clean copy.
    let out = command(&db, dir.path()).arg("restore").arg(&backup).output().unwrap();
    assert!(!out.status.success());
    let out = command(&db, dir.path())
        .arg("restore")
        .arg(&backup)
        .arg("--force")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = command(&db, dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
