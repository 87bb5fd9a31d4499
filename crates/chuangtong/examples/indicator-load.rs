//! Indicator load program (issue 6): a base with 100,000 enterprises and three
//! years of daily activity; how fast the dashboard renders, and how long a
//! 100,000-row registry import takes with full validation.
//!
//! ```text
//! cargo run --release -p chuangtong --example indicator-load -- [sqlite|postgres] [enterprises] [requests]
//! ```
//!
//! Builds the real application (the same code path as `serve`) on a fresh
//! database with the demo data, then gives base R08 (福州新区):
//! - `enterprises` enterprises (default 100,000) registered evenly over the
//!   last 1,095 days (written in bulk SQL: the set-up is not what we measure);
//! - for each of those days: a posted budget pay-out in the ledger, 10
//!   voucher claims (one batch per month), 5 applications submitted with
//!   their approvals, rejections and pay-outs, 5 tickets raised and resolved;
//! - 36 months of manually reported values and targets for every month.
//!
//! Then it measures, over HTTP with a bearer token:
//! 1. the dashboard page `/b/R08/indicators` (HTML with its SVG charts) and
//!    the dashboard JSON: `requests` sequential requests each (default 200),
//!    p50/p99/max;
//! 2. the monthly report page;
//! 3. an import of a freshly generated `enterprises`-row CSV file through
//!    `POST /api/v1/bases/R08/registry/imports`, validated against the
//!    registry already there, polled until it is imported: the wall time
//!    from upload to commit.

use std::time::{Duration, Instant};

use chuangtong::config::Settings;
use chuangtong::startup::Application;
use chuangtong::storage::Db;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::Row;

const PASSWORD: &str = "demo-pass-2026";
const DAYS: i64 = 1095;

async fn fresh_db(backend: &str) -> (String, Option<tempfile::TempDir>) {
    match backend {
        "postgres" => {
            let admin_url = std::env::var("CHUANGTONG_TEST_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = format!("indload_{}", uuid::Uuid::new_v4().simple());
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

#[derive(Clone)]
enum V {
    T(String),
    I(i64),
    Null,
}

fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

/// Multi-row INSERTs in one transaction per 20,000 rows.
async fn bulk(db: &Db, table: &str, cols: &[&str], rows: Vec<Vec<V>>) {
    let per_stmt = (30_000 / cols.len()).min(500);
    for block in rows.chunks(20_000) {
        let mut tx = db.begin().await.unwrap();
        for chunk in block.chunks(per_stmt) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..cols.len() {
                    if c > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    sql.push_str(&format!("${n}"));
                }
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for row in chunk {
                for v in row {
                    q = match v {
                        V::T(s) => q.bind(s.clone()),
                        V::I(i) => q.bind(*i),
                        // The only nullable column written here is a BIGINT.
                        V::Null => q.bind(None::<i64>),
                    };
                }
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

fn uscc(prefix: &str, i: usize) -> String {
    chuangtong_domain::Uscc::with_check_char(&format!("{prefix}{i:07}"))
        .unwrap()
        .as_str()
        .to_string()
}

/// The instant `day` days before now, at a given second of that day.
fn at(day: i64, second: i64) -> String {
    let now = chrono::Utc::now();
    chuangtong::storage::time::to_text(now - chrono::Duration::days(day) + chrono::Duration::seconds(second % 3600))
}

async fn seed(db: &Db, base_id: &str, n: usize) {
    let started = Instant::now();
    // Enterprises, evenly over three years.
    let per_day = (n as i64 / DAYS).max(1);
    let mut ids = Vec::with_capacity(n);
    let rows: Vec<Vec<V>> = (0..n)
        .map(|i| {
            let id = format!("ent-{i:06}");
            ids.push(id.clone());
            let day = DAYS - 1 - (i as i64 / per_day).min(DAYS - 1);
            let created = at(day, i as i64);
            vec![
                t(id),
                t(base_id),
                t(uscc("91350105MD", i)),
                t(format!("负载企业{i}")),
                t("350105"),
                t(["C", "I", "M"][i % 3]),
                t("2020-01-01"),
                V::I(100_000 + i as i64),
                V::I(5),
                V::I((i % 7 == 0) as i64),
                t(""),
                t(""),
                V::I(1),
                t(created.clone()),
                t(created),
            ]
        })
        .collect();
    bulk(
        db,
        "enterprises",
        &[
            "id",
            "base_id",
            "uscc",
            "name",
            "region_code",
            "industry",
            "founded_on",
            "registered_capital_fen",
            "employees",
            "high_tech",
            "address",
            "contact_name",
            "synthetic",
            "created_at",
            "updated_at",
        ],
        rows,
    )
    .await;

    // Ledger accounts: funding, a budget, a wallet and an expense account.
    let now = chuangtong::storage::time::now_text();
    let acct_cols = ["id", "base_id", "code", "name", "kind", "created_at"];
    bulk(
        db,
        "ledger_accounts",
        &acct_cols,
        vec![
            vec![
                t("ld-fund"),
                t(base_id),
                t("load:funding"),
                t("财政资金"),
                t("funding"),
                t(&now),
            ],
            vec![
                t("ld-budget"),
                t(base_id),
                t("load:budget"),
                t("预算"),
                t("budget"),
                t(&now),
            ],
            vec![
                t("ld-wallet"),
                t(base_id),
                t("load:wallet"),
                t("钱包"),
                t("wallet"),
                t(&now),
            ],
            vec![
                t("ld-payable"),
                t(base_id),
                t("load:payable"),
                t("应付"),
                t("payable"),
                t(&now),
            ],
        ],
    )
    .await;
    // A pay-out out of the budget every day.
    let transfers: Vec<Vec<V>> = (0..DAYS)
        .map(|d| {
            let when = at(d, 100);
            vec![
                t(format!("ld-t-{d}")),
                t(base_id),
                t(format!("load-{d}")),
                V::I(0),
                t("ld-budget"),
                t("ld-payable"),
                V::I(100_000 + d),
                t("posted"),
                t("posted"),
                t(when.clone()),
                t("负载支出"),
                t(when),
            ]
        })
        .collect();
    bulk(
        db,
        "ledger_transfers",
        &[
            "id",
            "base_id",
            "idempotency_key",
            "position",
            "debit_account_id",
            "credit_account_id",
            "amount_fen",
            "mode",
            "state",
            "resolved_at",
            "memo",
            "created_at",
        ],
        transfers,
    )
    .await;

    // A voucher batch per month, ten claims a day.
    let months = DAYS / 30 + 1;
    let batches: Vec<Vec<V>> = (0..months)
        .map(|m| {
            vec![
                t(format!("ld-b-{m}")),
                t(base_id),
                t(format!("LOAD{m}")),
                t(format!("负载创新券第{m}批")),
                V::I(100_000_000_000),
                V::I(1_000_000),
                V::I(5000),
                t("技术检测"),
                t(at(m * 30 + 30, 0)),
                t(at(m * 30, 0)),
                t("2099-12-31"),
                t("ld-budget"),
                t(at(m * 30 + 30, 0)),
            ]
        })
        .collect();
    bulk(
        db,
        "voucher_batches",
        &[
            "id",
            "base_id",
            "code",
            "name",
            "total_fen",
            "per_firm_cap_fen",
            "copay_max_bp",
            "categories",
            "claim_opens_at",
            "claim_closes_at",
            "valid_until",
            "budget_account_id",
            "created_at",
        ],
        batches,
    )
    .await;
    let claims: Vec<Vec<V>> = (0..DAYS * 10)
        .map(|k| {
            let d = k / 10;
            vec![
                t(format!("ld-c-{k}")),
                t(base_id),
                t(format!("ld-b-{}", d / 30)),
                t(ids[(k as usize * 7) % ids.len()].clone()),
                V::I(500_000),
                t("ld-wallet"),
                t(format!("ld-ct-{k}")),
                t(at(d, k)),
            ]
        })
        .collect();
    bulk(
        db,
        "voucher_claims",
        &[
            "id",
            "base_id",
            "batch_id",
            "enterprise_id",
            "amount_fen",
            "wallet_account_id",
            "transfer_id",
            "created_at",
        ],
        claims,
    )
    .await;

    // Five applications a day: submitted, then approved
    // and paid (three) or rejected (two).
    bulk(
        db,
        "policies",
        &["id", "base_id", "title", "issuer", "state", "created_at", "updated_at"],
        vec![vec![
            t("ld-policy"),
            t(base_id),
            t("负载政策"),
            t("负载局"),
            t("published"),
            t(at(DAYS, 0)),
            t(at(DAYS, 0)),
        ]],
    )
    .await;
    // One programme per month, so that a firm applies at most once to each.
    let programmes: Vec<Vec<V>> = (0..months)
        .map(|m| {
            vec![
                t(format!("ld-prog-{m}")),
                t(base_id),
                t(format!("LOADP{m}")),
                t(format!("负载项目第{m}期")),
                t("ld-policy"),
                t("approval"),
                t("2020-01-01"),
                t("2099-12-31"),
                t("[]"),
                t("[]"),
                V::I(5),
                V::I(5),
                V::I(10),
                V::I(5),
                V::I(5),
                V::I(10),
                V::I(1_000_000_000_000),
                t("ld-budget"),
                t(at(DAYS, 0)),
            ]
        })
        .collect();
    bulk(
        db,
        "programmes",
        &[
            "id",
            "base_id",
            "code",
            "name",
            "policy_id",
            "review_mode",
            "opens_on",
            "closes_on",
            "form_fields",
            "rubric",
            "days_pre_review",
            "days_amendment",
            "days_expert_review",
            "days_publicity",
            "days_approval",
            "days_payout",
            "budget_fen",
            "budget_account_id",
            "created_at",
        ],
        programmes,
    )
    .await;
    let mut apps = Vec::new();
    let mut events = Vec::new();
    for k in 0..DAYS * 5 {
        let d = k / 5;
        let id = format!("ld-a-{k}");
        let passed = k % 5 < 3;
        apps.push(vec![
            t(&id),
            t(base_id),
            t(format!("ld-prog-{}", d / 30)),
            t(ids[(k as usize * 13) % ids.len()].clone()),
            t(if passed { "paid" } else { "rejected" }),
            t("{}"),
            V::I(30_000_000),
            if passed { V::I(20_000_000) } else { V::Null },
            t(at(d, k)),
            t(at(d, k)),
        ]);
        let mut ev = |n: usize, from: &str, to: &str, e: &str| {
            events.push(vec![
                t(format!("{id}-e{n}")),
                t(base_id),
                t(&id),
                t(from),
                t(to),
                t(e),
                t("负载"),
                t(at(d, k + n as i64)),
            ])
        };
        ev(0, "draft", "submitted", "submit");
        if passed {
            ev(1, "submitted", "approved", "approve");
            ev(2, "approved", "paid", "pay");
        } else {
            ev(1, "submitted", "rejected", "reject");
        }
    }
    bulk(
        db,
        "applications",
        &[
            "id",
            "base_id",
            "programme_id",
            "enterprise_id",
            "state",
            "form_json",
            "amount_requested_fen",
            "amount_approved_fen",
            "created_at",
            "updated_at",
        ],
        apps,
    )
    .await;
    bulk(
        db,
        "application_events",
        &[
            "id",
            "base_id",
            "application_id",
            "from_state",
            "to_state",
            "event",
            "actor",
            "at",
        ],
        events,
    )
    .await;

    // Five tickets a day, resolved the next day (one in five late).
    let requester: String = sqlx::query("SELECT id FROM users WHERE username = 'fz-enterprise'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let tickets: Vec<Vec<V>> = (0..DAYS * 5)
        .map(|k| {
            let d = k / 5;
            let due = (chuangtong::storage::time::today() - chrono::Duration::days(d - if k % 5 == 0 { 0 } else { 3 }))
                .to_string();
            vec![
                t(format!("ld-tk-{k}")),
                t(base_id),
                t(ids[(k as usize * 17) % ids.len()].clone()),
                t(&requester),
                t("registration"),
                t("负载工单"),
                t("负载"),
                t("resolved"),
                t(at(d, k)),
                t(due),
                t(at((d - 1).max(0), k)),
                t(at(d, k)),
                t(at(d, k)),
            ]
        })
        .collect();
    bulk(
        db,
        "tickets",
        &[
            "id",
            "base_id",
            "enterprise_id",
            "requester_id",
            "category",
            "title",
            "description",
            "state",
            "response_due_at",
            "resolve_due_on",
            "resolved_at",
            "created_at",
            "updated_at",
        ],
        tickets,
    )
    .await;
    eprintln!(
        "seeded {n} enterprises and {DAYS} days of activity in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn timed(client: &reqwest::Client, url: &str, token: &str, n: usize) -> (Duration, Duration, Duration) {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 3 {
        let started = Instant::now();
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        let status = r.status();
        let body = r.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        // The first requests warm caches (the standard set, the seed figures).
        if i >= 3 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        *times.last().unwrap(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let requests: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let (url, _dir) = fresh_db(&backend).await;
    let mut s = Settings::for_tests(&url);
    s.demo = true;
    s.demo_password = Some(SecretString::from(PASSWORD));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build_with_listener(s, listener).await.unwrap();
    let db = app.state.db.clone();
    let base = format!("http://127.0.0.1:{}", app.port);
    let base_id: String = sqlx::query("SELECT id FROM bases WHERE code = 'R08'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    seed(&db, &base_id, n).await;
    if backend == "postgres" {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "fz-admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    // Manual values and targets for 36 months.
    let month = chuangtong::indicator::period::Period::current_month();
    let mut p = month;
    for i in 0..36 {
        for (path, body) in [
            (
                "values",
                json!({ "key": "events", "period": p.to_string(), "value": (20 + i).to_string() }),
            ),
            (
                "targets",
                json!({ "key": "new_enterprises", "period": p.to_string(), "target": (n as i64 / 30).to_string(),
                    "responsible_person": "负载责任人", "deadline": p.last_day().to_string() }),
            ),
        ] {
            let r = client
                .post(format!("{base}/api/v1/bases/R08/indicators/{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
        p = p.previous_month();
    }

    let enterprises: i64 = sqlx::query("SELECT COUNT(*) FROM enterprises WHERE base_id = $1")
        .bind(&base_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    println!("backend: {backend}; base R08 with {enterprises} enterprises, {DAYS} days of activity");
    let page = timed(&client, &format!("{base}/b/R08/indicators"), &token, requests).await;
    println!(
        "dashboard page  GET /b/R08/indicators            n={requests}  p50 {}  p99 {}  max {}",
        ms(page.0),
        ms(page.1),
        ms(page.2)
    );
    let json = timed(
        &client,
        &format!("{base}/api/v1/bases/R08/indicators"),
        &token,
        requests,
    )
    .await;
    println!(
        "dashboard JSON  GET /api/v1/bases/R08/indicators n={requests}  p50 {}  p99 {}  max {}",
        ms(json.0),
        ms(json.1),
        ms(json.2)
    );
    let report = timed(&client, &format!("{base}/b/R08/indicators/report"), &token, 20).await;
    println!(
        "monthly report  GET /b/R08/indicators/report     n=20  p50 {}  p99 {}  max {}",
        ms(report.0),
        ms(report.1),
        ms(report.2)
    );

    // The import: a fresh file of n rows, validated against the n already registered.
    let mut csv = String::from("\u{feff}");
    csv.push_str(&chuangtong::registry::import::COLUMNS.join(","));
    csv.push_str("\r\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{},导入负载企业{i},350105,I,2021-03-01,1000000.50,12,{},福州市鼓楼区,联系人,1380013{:04}\r\n",
            uscc("91350105ME", i),
            if i % 5 == 0 { "是" } else { "否" },
            i % 10_000
        ));
    }
    let bytes = csv.into_bytes();
    let size = bytes.len();
    let started = Instant::now();
    let r = client
        .post(format!("{base}/api/v1/bases/R08/registry/imports?filename=load.csv"))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let accepted = started.elapsed();
    let mut last_checked = -1;
    let job = loop {
        let job: Value = client
            .get(format!("{base}/api/v1/bases/R08/registry/imports/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let checked = job["rows_checked"].as_i64().unwrap_or(0);
        if checked != last_checked {
            eprintln!(
                "  {:>6.1}s {} {checked}/{}",
                started.elapsed().as_secs_f64(),
                job["status"],
                job["rows_total"]
            );
            last_checked = checked;
        }
        if !matches!(job["status"].as_str(), Some("queued" | "validating" | "importing")) {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = started.elapsed();
    assert_eq!(job["status"], "imported", "{job}");
    println!(
        "registry import POST …/registry/imports  {n} rows ({:.1} MB CSV): accepted in {}, imported in {:.1} s ({:.0} rows/s)",
        size as f64 / 1e6,
        ms(accepted),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let after: i64 = sqlx::query("SELECT COUNT(*) FROM enterprises WHERE base_id = $1")
        .bind(&base_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, enterprises + n as i64);
    let page = timed(&client, &format!("{base}/b/R08/indicators"), &token, requests / 2).await;
    println!(
        "dashboard page after the import ({after} enterprises) n={}  p50 {}  p99 {}  max {}",
        requests / 2,
        ms(page.0),
        ms(page.1),
        ms(page.2)
    );
    let _ = tx.send(());
    let _ = server.await;
}
