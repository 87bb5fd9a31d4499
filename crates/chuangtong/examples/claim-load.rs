//! Flash-claim load program (issue 5): N firms press "立即领取" at once.
//!
//! ```text
//! cargo run --release -p chuangtong --example claim-load -- [sqlite|postgres] [firms] [connections] [instances] [room%] [processes]
//! ```
//!
//! Builds the real application (the same code path as `serve`) on a fresh
//! database with the demo data, registers `firms` enterprises with their
//! accounts and API tokens (directly in SQL: setting up 10,000 argon2
//! logins would dominate the run), issues a batch with room for `room%` of
//! them (default 50), then lets every firm press the button at the same
//! moment, with at most `connections` requests on the wire over as many
//! keep-alive HTTP/1.1 connections (bare hyper: the load generator shares
//! the two cores, so it should take as little of them as it can), spread
//! over `instances` application instances (separate pools and claim
//! desks, in this one OS process) on the same database — or, with
//! `processes`, the first instance in this process and every other one a
//! separate `chuangtong serve` process (the binary beside this one: build
//! with `cargo build --release -p chuangtong --bins --examples`), as in a
//! deployment of several processes on one PostgreSQL. Latency is per
//! request, from send to answer. It prints claims/second, p50/p99 latency, and checks the
//! invariants: total claimed ≤ batch, no firm above its cap, one claim per
//! firm, the ledger verifies. It also measures, in the same run, a
//! "database ceiling": the same claim as raw SQL (one transaction: debit the
//! budget with its floor check, credit a wallet, record the claim) — in a
//! tight loop on one connection for SQLite, with pgbench (16 clients) for
//! PostgreSQL — the figure the HTTP path is compared to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use chuangtong::config::Settings;
use chuangtong::startup::Application;
use chuangtong::storage::Db;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::Row;

const PASSWORD: &str = "demo-pass-2026";

/// The firms waiting to press the button, taken in turn by the connections.
struct Rush {
    started: Instant,
    tokens: Vec<String>,
    next: AtomicUsize,
    path: String,
}

type Wire = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn open_wire(addr: &str) -> (String, Wire) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    (addr.to_string(), sender)
}

/// What one firm saw: the status, the latency, and when (since the start
/// of the rush) the answer arrived.
type Answer = (u16, Duration, Duration);

/// One connection's share of the rush.
async fn press(rush: Arc<Rush>, addr: String, mut wire: Wire) -> Vec<Answer> {
    let mut out = Vec::new();
    loop {
        let i = rush.next.fetch_add(1, Ordering::Relaxed);
        let Some(token) = rush.tokens.get(i) else {
            return out;
        };
        let t = Instant::now();
        let req = hyper::Request::post(&rush.path)
            .header(hyper::header::HOST, &addr)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let status = match wire.ready().await {
            Ok(()) => match wire.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // Read the whole answer: the firm sees it only then.
                    match resp.into_body().collect().await {
                        Ok(_) => status,
                        Err(_) => 0,
                    }
                }
                Err(_) => 0,
            },
            Err(_) => 0,
        };
        out.push((status, t.elapsed(), rush.started.elapsed()));
    }
}

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

/// PostgreSQL's own ceiling for an equivalent claim transaction, measured
/// with pgbench (16 clients, 5 s) in the same schema: debit one budget row
/// with its floor check, credit a wallet, insert the claim.
fn pgbench_ceiling(url: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let setup = "DROP TABLE IF EXISTS pgb_accounts, pgb_claims; \
        CREATE TABLE pgb_accounts (id BIGINT PRIMARY KEY, debits BIGINT NOT NULL, credits BIGINT NOT NULL); \
        CREATE TABLE pgb_claims (id BIGSERIAL PRIMARY KEY, wallet BIGINT NOT NULL, amount BIGINT NOT NULL); \
        INSERT INTO pgb_accounts SELECT g, 0, CASE WHEN g = 0 THEN 1000000000000 ELSE 0 END FROM generate_series(0, 100000) g;";
    let ok = std::process::Command::new("psql")
        .args([url, "-q", "-c", setup])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("psql setup failed; no pgbench ceiling");
        return f64::NAN;
    }
    let script = dir.path().join("claim.sql");
    std::fs::write(
        &script,
        "\\set w random(1, 100000)\n\
         BEGIN;\n\
         UPDATE pgb_accounts SET debits = debits + 100 WHERE id = 0 AND debits + 100 <= credits;\n\
         UPDATE pgb_accounts SET credits = credits + 100 WHERE id = :w;\n\
         INSERT INTO pgb_claims (wallet, amount) VALUES (:w, 100);\n\
         END;\n",
    )
    .unwrap();
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", "16", "-j", "2", "-T", "5", "-f"])
        .arg(&script)
        .arg(url)
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("pgbench gave no tps: {text}");
            f64::NAN
        })
}

/// CPU time (utime + stime, in clock ticks of 10 ms) of this process and of
/// every PostgreSQL process, read from /proc (Linux). On a shared, noisy
/// machine the CPU a claim costs varies less than the claims per second.
#[derive(Default)]
struct CpuTicks {
    own: u64,
    /// The separate server processes, by pid
    servers: std::collections::HashMap<u32, u64>,
    database: std::collections::HashMap<u32, u64>,
}

fn ticks_of(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn ticks_of_pid(pid: u32) -> Option<u64> {
    ticks_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn cpu_ticks(servers: &[u32]) -> CpuTicks {
    let mut t = CpuTicks {
        own: std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(ticks_of)
            .unwrap_or(0),
        servers: servers.iter().filter_map(|&p| Some((p, ticks_of_pid(p)?))).collect(),
        ..Default::default()
    };
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            if let Some(ticks) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(ticks_of)
            {
                t.database.insert(pid, ticks);
            }
        }
    }
    t
}

/// CPU milliseconds spent between two readings: (this process and the
/// separate servers, PostgreSQL). A database process that started in
/// between counts whole.
fn cpu_ms_between(before: &CpuTicks, after: &CpuTicks) -> (f64, f64) {
    let grown = |b: &std::collections::HashMap<u32, u64>, a: &std::collections::HashMap<u32, u64>| -> u64 {
        a.iter()
            .map(|(pid, t)| t.saturating_sub(b.get(pid).copied().unwrap_or(0)))
            .sum()
    };
    let app = after.own.saturating_sub(before.own) + grown(&before.servers, &after.servers);
    (
        app as f64 * 10.0,
        grown(&before.database, &after.database) as f64 * 10.0,
    )
}

/// A separate `chuangtong serve` process on the same database, killed when dropped.
struct Server {
    child: std::process::Child,
    addr: String,
    /// Its data directory (master key file), removed with it
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `chuangtong serve` (the binary beside this example's directory)
/// on `url` with the key of `Settings::for_tests`, and waits for `/healthz`.
async fn spawn_server(url: &str) -> Server {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|d| d.parent()).unwrap().join("chuangtong");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build --release -p chuangtong --bins --examples`",
        bin.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let data = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("CHUANGTONG_MASTER_KEY", "7".repeat(64))
        .env("CHUANGTONG_BIND", &addr)
        .env("CHUANGTONG_NO_DEMO", "true")
        .env("CHUANGTONG_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        addr,
        _data: data,
    };
    let health = format!("http://{}/healthz", server.addr);
    for _ in 0..300 {
        if reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chuangtong serve did not answer {health}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let firms: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let connections: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(256);
    let instances: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    // How many of the firms the batch has room for, in percent (default: half).
    let room_percent: i64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(50);
    // `processes`: instances after the first are separate OS processes.
    let processes = args.get(6).is_some_and(|s| s == "processes");
    let (url, _dir) = fresh_db(&backend).await;
    let mut apps = vec![start(&url).await];
    let mut servers = Vec::new();
    for _ in 1..instances {
        if processes {
            servers.push(spawn_server(&url).await);
        } else {
            apps.push(start(&url).await);
        }
    }
    let server_pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let db = apps[0].state.db.clone();
    let base_id: String = sqlx::query("SELECT id FROM bases WHERE code = 'R08'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let t = Instant::now();
    let tokens: Vec<String> = chuangtong::demo::load::register_firms(&db, &base_id, 'C', firms)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, token)| token)
        .collect();
    eprintln!("registered {firms} firms in {:.1}s", t.elapsed().as_secs_f64());
    let urls: Vec<String> = apps
        .iter()
        .map(|a| format!("http://127.0.0.1:{}", a.port))
        .chain(servers.iter().map(|s| format!("http://{}", s.addr)))
        .collect();
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
    let total_yuan = cap_yuan * (firms as i64 * room_percent / 100).max(1);
    let now = chrono::Utc::now();
    let batch: Value = client
        .post(format!("{}/api/v1/bases/R08/vouchers/batches", urls[0]))
        .bearer_auth(&admin_token)
        .json(&json!({ "code": "LOAD", "name": "压测批次", "total_yuan": total_yuan.to_string(), "per_firm_cap_yuan": cap_yuan.to_string(),
            "copay_max_percent": "50", "categories": ["技术检测"], "claim_opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "claim_closes_at": (now + chrono::Duration::hours(1)).to_rfc3339(), "valid_until": "2099-12-31" }))
        .send().await.unwrap().json().await.unwrap();
    let batch_id = batch["id"].as_str().unwrap().to_string();

    // The rush: every firm presses the button at the same moment; at most
    // `connections` requests are on the wire at once, over as many
    // keep-alive connections, as behind a real front proxy. Each connection
    // takes the next waiting firm. Latency is per request, from send to answer.
    let addrs: Vec<String> = urls
        .iter()
        .map(|u| u.trim_start_matches("http://").to_string())
        .collect();
    let mut wires = Vec::with_capacity(connections);
    for c in 0..connections {
        wires.push(open_wire(&addrs[c % addrs.len()]).await);
    }
    let cpu_before = cpu_ticks(&server_pids);
    let started = Instant::now();
    let rush = Arc::new(Rush {
        started,
        tokens,
        next: AtomicUsize::new(0),
        path: format!("/api/v1/bases/R08/vouchers/batches/{batch_id}/claim"),
    });
    let workers: Vec<_> = wires
        .into_iter()
        .map(|(addr, sender)| tokio::spawn(press(rush.clone(), addr, sender)))
        .collect();
    let mut results = Vec::with_capacity(firms);
    for w in workers {
        results.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu_app_ms, cpu_db_ms) = cpu_ms_between(&cpu_before, &cpu_ticks(&server_pids));
    let ok = results.iter().filter(|(s, _, _)| *s == 201).count();
    let sold_out = results.iter().filter(|(s, _, _)| *s == 409).count();
    // When the last successful claim was answered: with a batch smaller than
    // the crowd, the claims are over (sold out) before the rush is.
    let sold_out_at = results
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, _, at)| at.as_secs_f64())
        .fold(0.0, f64::max);
    let other = results.len() - ok - sold_out;
    let mut lat: Vec<Duration> = results.iter().map(|(_, d, _)| *d).collect();
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

    let ceiling = if backend == "postgres" {
        pgbench_ceiling(&url)
    } else {
        db_ceiling(&db, &base_id, 3000).await
    };
    for (tx, h) in handles {
        let _ = tx.send(());
        let _ = h.await;
    }
    drop(servers);
    println!(
        "backend={backend} instances={instances} ({}) firms={firms} connections={connections}",
        if processes && instances > 1 {
            "separate processes"
        } else {
            "in this process"
        }
    );
    println!("claims_ok={ok} sold_out={sold_out} errors={other} elapsed_s={elapsed:.2} last_claim_s={sold_out_at:.2}");
    // claims_per_s counts successful claims over the whole rush; with a
    // batch smaller than the crowd, claims_per_s_until_last counts them
    // over the time they actually took (to the last successful answer).
    println!(
        "claims_per_s={:.0} claims_per_s_until_last={:.0} requests_per_s={:.0}",
        ok as f64 / elapsed,
        ok as f64 / sold_out_at.max(f64::MIN_POSITIVE),
        results.len() as f64 / elapsed
    );
    println!(
        "p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    // The load generator runs in this process: its CPU counts with the servers'.
    let per_request = |ms: f64| ms * 1e3 / results.len().max(1) as f64;
    println!(
        "cpu_us_per_request servers_and_load={:.0} database={:.0} total={:.0}",
        per_request(cpu_app_ms),
        per_request(cpu_db_ms),
        per_request(cpu_app_ms + cpu_db_ms)
    );
    println!(
        "invariants: claimed_fen={claimed} batch_fen={} over_cap={over_cap} duplicate_claims={dup} ledger_ok={} => {}",
        total_yuan * 100,
        ledger.ok(),
        if invariants_ok { "OK" } else { "VIOLATED" }
    );
    println!(
        "db_ceiling_claim_tx_per_s={ceiling:.0} ({}) ratio_claims_to_ceiling={:.2}",
        if backend == "postgres" {
            "pgbench, 16 clients, one claim per transaction on one budget row"
        } else {
            "raw SQL claim transaction, one connection, same database"
        },
        ok as f64 / elapsed / ceiling
    );
    if !invariants_ok {
        std::process::exit(1);
    }
}
