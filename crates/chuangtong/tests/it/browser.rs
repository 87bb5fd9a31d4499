//! A real browser: headless Chromium (Debian's /usr/bin/chromium), driven by
//! playwright-core from tests/browser/registry.mjs, against the real server
//! with the demo data. Log in through the form, walk to the registry through
//! the header nav, open an enterprise, get a Chinese field error from the
//! new-enterprise form, log out.
//!
//! Needs Chromium and tests/browser/node_modules: `scripts/install-test-deps.sh`
//! installs both. When they are missing this test FAILS — it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Backend, TestApp, DEMO_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/browser/registry.mjs");
const INSTALL_HINT: &str = "run scripts/install-test-deps.sh (from the repository root) to install them";

/// Longer than the script's own watchdog (120 s), so that the script reports
/// a hang itself whenever it can.
const TIMEOUT: Duration = Duration::from_secs(180);

fn browser_dir() -> PathBuf {
    Path::new(SCRIPT).parent().expect("script has a folder").to_path_buf()
}

fn check_dependencies() {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("Chromium ({CHROMIUM})"));
    }
    let pw = browser_dir().join("node_modules/playwright-core/package.json");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_in_headless_chromium() {
    check_dependencies();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let base_url = app.url("");

    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(SCRIPT)
            .args([base_url.as_str(), "fz-admin", DEMO_PASSWORD])
            .current_dir(browser_dir())
            .stdin(Stdio::null())
            .output()
    });
    let output = tokio::time::timeout(TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("node {SCRIPT} did not finish within {} s", TIMEOUT.as_secs()))
        .expect("the blocking task runs")
        .unwrap_or_else(|e| panic!("cannot start node ({e}): {INSTALL_HINT}"));
    app.finish().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and always on failure.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("steps passed"),
        "browser test exited 0 without finishing:\n{stdout}\n{stderr}"
    );
}
