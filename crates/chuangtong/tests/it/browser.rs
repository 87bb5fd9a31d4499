//! A real browser: headless Chromium (Debian's /usr/bin/chromium), driven by
//! playwright-core from the scripts in tests/browser (their shared harness is
//! tests/browser/harness.mjs), against the real server with the demo data.
//! registry.mjs: log in through the form, walk to the registry through the
//! header nav, open an enterprise, get a Chinese field error from the
//! new-enterprise form, log out.
//!
//! Needs Chromium and tests/browser/node_modules: `scripts/install-test-deps.sh`
//! installs both. When they are missing this test FAILS — it never skips.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Backend, TestApp, DEMO_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/browser");
const INSTALL_HINT: &str = "run scripts/install-test-deps.sh (from the repository root) to install them";

/// Longer than the scripts' own watchdog (120 or 150 s), so that a script reports
/// a hang itself whenever it can.
const TIMEOUT: Duration = Duration::from_secs(180);

fn check_dependencies() {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("Chromium ({CHROMIUM})"));
    }
    let pw = Path::new(BROWSER_DIR).join("node_modules/playwright-core/package.json");
    if !pw.exists() {
        missing.push(format!("playwright-core ({})", pw.display()));
    }
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        missing.push("node (>= 20) on PATH".to_string());
    }
    assert!(
        missing.is_empty(),
        "the browser test needs {}: {INSTALL_HINT}",
        missing.join(", ")
    );
}

/// Runs `node tests/browser/<script> <base-url> <demo password> <args…>`
/// against `app` and returns its stdout; panics with stdout and stderr unless
/// it exits 0 having passed all its steps. Leaves `app` running so the caller
/// can check the database afterwards.
async fn run_script(app: &TestApp, script: &'static str, args: &[&str]) -> String {
    check_dependencies();
    let mut command = Command::new("node");
    command
        .arg(script)
        .arg(app.url(""))
        .arg(DEMO_PASSWORD)
        .args(args)
        .current_dir(BROWSER_DIR)
        .stdin(Stdio::null());
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("node {script} did not finish within {} s", TIMEOUT.as_secs()))
        .expect("the blocking task runs")
        .unwrap_or_else(|e| panic!("cannot start node ({e}): {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and always on failure.
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("steps passed"),
        "browser test {script} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_in_headless_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    run_script(&app, "registry.mjs", &["fz-admin"]).await;
    app.finish().await;
}

/// tests/browser/indicators.mjs: the indicator dashboard, an enterprise import
/// with errors (every error shown), the fixed file imported, the monthly
/// report downloaded as Excel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_and_import_in_headless_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let uscc = |n: u32| {
        chuangtong_domain::Uscc::with_check_char(&format!("91350100MC{n:07}"))
            .unwrap()
            .as_str()
            .to_string()
    };
    let (first, second) = (uscc(1), uscc(2));
    run_script(&app, "indicators.mjs", &["fz-admin", &first, &second]).await;
    let imported = app
        .scalar("SELECT COUNT(*) FROM enterprises WHERE name LIKE '浏览器导入%'")
        .await;
    app.finish().await;
    assert_eq!(imported, 2, "the corrected file was imported, the first one not at all");
}

/// The application screens end to end in Chromium (tests/browser/application.mjs):
/// a base admin creates a programme on the form, an enterprise applies with a
/// document, the steward accepts it from the pre-review queue, and the
/// programme report shows the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_screens_in_headless_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app.api_as("fz-admin").await;
    let title = "浏览器测试资助政策";
    let src = format!("policy browser_call \"{title}\"\nparam 资助: money = 20万元\nrequire \"有从业人员记录\": 从业人数 >= 0\namount = 资助\n");
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &serde_json::json!({ "title": title, "issuer": "测试局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "1000000" }),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{id}/publish"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    let firm = app
        .text("SELECT e.id FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08' ORDER BY e.id LIMIT 1")
        .await;
    app.add_member("browser-firm", chuangtong::auth::Role::Enterprise, Some(&firm))
        .await;

    run_script(&app, "application.mjs", &[title, "browser-firm"]).await;
    app.finish().await;
}

/// 工单 in Chromium (tests/browser/tickets.mjs): the demo enterprise raises a
/// ticket that goes to its steward, the steward hears of it in 消息, accepts
/// and resolves it, the enterprise rates it, the admin reads the rankings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_in_headless_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    run_script(&app, "tickets.mjs", &[]).await;
    let closed = app
        .scalar("SELECT COUNT(*) FROM tickets WHERE state = 'closed' AND rating = 4")
        .await;
    app.finish().await;
    assert_eq!(closed, 1, "the rated ticket is closed in the database");
}

/// 创新券 in Chromium (tests/browser/vouchers.mjs): claim the demo batch,
/// order a service of the demo provider paying half with the voucher,
/// deliver, confirm, request redemption, settle, read the batch report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouchers_in_headless_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // One of fz-provider's own services, so the provider account can deliver it.
    let of_provider = "FROM services s JOIN providers p ON p.id = s.provider_id \
         JOIN memberships m ON m.subject_id = p.id JOIN users u ON u.id = m.user_id \
         WHERE u.username = 'fz-provider' AND s.active = 1";
    let pick = |col: &str| format!("SELECT {col} {of_provider} ORDER BY s.category, s.id LIMIT 1");
    let provider = app.text(&pick("p.name")).await;
    let service = app.text(&pick("s.name")).await;
    let category = app.text(&pick("s.category")).await;
    let price = app.scalar(&pick("s.price_fen")).await.to_string();
    run_script(&app, "vouchers.mjs", &[&provider, &service, &category, &price]).await;
    let settled = app
        .scalar("SELECT COUNT(*) FROM redemptions WHERE state = 'settled'")
        .await;
    app.finish().await;
    assert_eq!(settled, 1, "the redemption is settled in the database");
}
