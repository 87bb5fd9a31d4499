//! 政策计算器 measurement (issue 3): one enterprise's full answer — every
//! published policy, with amounts and plain-Chinese explanations.
//!
//! ```text
//! cargo run --release -p chuangtong --example calculator-load -- [sqlite|postgres] [requests] [connections]
//! ```
//!
//! Builds the real application (the same code path as `serve`) on a fresh
//! database with the demo data, then measures, in one run:
//! * in process, per answer: `policy::judge::calculator` as the handler
//!   calls it (the firm's facts and the policies read from the database,
//!   every policy evaluated with its explanation), and the engine alone
//!   (facts already loaded: evaluate + explain + build the JSON answer);
//! * over HTTP: `GET /api/v1/bases/R08/calculator/{enterprise}` with a
//!   bearer token, `requests` requests from `connections` concurrent clients
//!   cycling over the base's firms; p50/p99/max latency and answers/second.
//!   Every response is checked (200, one answer per published policy).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chuangtong::config::Settings;
use chuangtong::startup::Application;
use chuangtong::storage::Db;
use chuangtong_rules::ParamOverrides;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::Row;

const PASSWORD: &str = "demo-pass-2026";

async fn fresh_db(backend: &str) -> (String, Option<tempfile::TempDir>) {
    match backend {
        "postgres" => {
            let admin_url = std::env::var("CHUANGTONG_TEST_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = format!("calc_{}", uuid::Uuid::new_v4().simple());
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
            (format!("sqlite://{}/calc.db?mode=rwc", dir.path().display()), Some(dir))
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let requests: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let connections: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    println!(
        "machine: nproc={} loadavg_at_start=\"{}\"",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        loadavg()
    );
    let (url, _dir) = fresh_db(&backend).await;
    let mut s = Settings::for_tests(&url);
    s.demo = true;
    s.demo_password = Some(SecretString::from(PASSWORD));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build_with_listener(s, listener).await.unwrap();
    let state = app.state.clone();
    let address = format!("http://127.0.0.1:{}", app.port);
    let base_id: String = sqlx::query("SELECT id FROM bases WHERE code = 'R08'")
        .fetch_one(state.db.pool())
        .await
        .unwrap()
        .get(0);
    let firms: Vec<String> = sqlx::query("SELECT id FROM enterprises WHERE base_id = $1 ORDER BY id")
        .bind(&base_id)
        .fetch_all(state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let policies = chuangtong::policy::judge::calculator(&state, &base_id, &firms[0])
        .await
        .unwrap()
        .len();
    println!("backend={backend} firms={} published_policies={policies}", firms.len());

    // In process, as the handler calls it (database reads included).
    let rounds = 2_000;
    let t = Instant::now();
    for i in 0..rounds {
        let answers = chuangtong::policy::judge::calculator(&state, &base_id, &firms[i % firms.len()])
            .await
            .unwrap();
        assert_eq!(answers.len(), policies);
    }
    let in_process = t.elapsed() / rounds as u32;

    // The engine alone: facts loaded once, then evaluate + explain + JSON for every policy.
    let facts = chuangtong::policy::facts::load(&state.db, &base_id, None)
        .await
        .unwrap();
    let mut compiled = Vec::new();
    for info in chuangtong::policy::library::list(&state.db, &base_id, chuangtong::storage::time::today(), true)
        .await
        .unwrap()
    {
        if let Some(v) = &info.current_version {
            compiled.push(chuangtong::policy::library::compiled_version(v).unwrap());
        }
    }
    let ids: Vec<&String> = facts.keys().collect();
    let none = ParamOverrides::new();
    let engine_rounds = 20_000;
    let t = Instant::now();
    let mut bytes = 0usize;
    for i in 0..engine_rounds {
        let f = &facts[ids[i % ids.len()]].facts;
        let answers: Vec<Value> = compiled
            .iter()
            .map(|p| {
                let o = p.evaluate(f, &none);
                json!({ "eligible": format!("{:?}", o.eligible), "amount_fen": o.amount,
                        "explanation": o.explain_zh(), "outcome": o })
            })
            .collect();
        bytes += serde_json::to_vec(&answers).unwrap().len();
    }
    let engine = t.elapsed() / engine_rounds as u32;
    assert!(bytes > 0);

    // Over HTTP.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({ "username": "fz-admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = Arc::new(login["token"].as_str().unwrap().to_string());
    let urls: Arc<Vec<String>> = Arc::new(
        firms
            .iter()
            .map(|f| format!("{address}/api/v1/bases/R08/calculator/{f}"))
            .collect(),
    );
    // Warm-up: connections opened, caches filled.
    for u in urls.iter().take(200) {
        let r = client.get(u).bearer_auth(token.as_str()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.bytes().await.unwrap();
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (client, token, urls, next) = (client.clone(), token.clone(), urls.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bad = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                let ok = match client
                    .get(&urls[i % urls.len()])
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == 200 => r
                        .json::<Value>()
                        .await
                        .map(|v| v.as_array().map(|a| a.len()) == Some(policies))
                        .unwrap_or(false),
                    _ => false,
                };
                lat.push(t.elapsed());
                bad += (!ok) as usize;
            }
            (lat, bad)
        }));
    }
    let mut lat = Vec::with_capacity(requests);
    let mut bad = 0;
    for w in workers {
        let (l, b) = w.await.unwrap();
        lat.extend(l);
        bad += b;
    }
    let elapsed = started.elapsed();
    lat.sort();
    let _ = stop.send(());
    let _ = server.await;

    println!(
        "in_process_calculator_ms_per_answer={:.3} (judge::calculator with database reads, {policies} policies, explanations)",
        ms(in_process)
    );
    println!(
        "in_process_engine_ms_per_answer={:.4} (facts loaded; evaluate + explain + JSON for {policies} policies)",
        ms(engine)
    );
    println!(
        "http requests={requests} connections={connections} errors={bad} answers_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        requests as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );
    println!("loadavg_at_end=\"{}\"", loadavg());
    if bad > 0 {
        std::process::exit(1);
    }
}
