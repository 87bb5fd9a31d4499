//! Demo data: the 28 bases of the seed with figures traceable to their
//! lines, and a synthetic registry that is marked as such.

use sqlx::Row;

use crate::both;
use crate::helpers::TestApp;

fn seed_lines() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/seed/first-28-bases.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn the_28_bases_and_their_figures_come_from_the_seed(app: &TestApp) {
    let kinds = sqlx::query("SELECT kind, COUNT(*) FROM bases GROUP BY kind ORDER BY kind")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let kinds: Vec<(String, i64)> = kinds.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        kinds,
        vec![
            ("enterprise".into(), 7),
            ("region".into(), 17),
            ("university".into(), 4)
        ]
    );

    let lines = seed_lines();
    let rows = sqlx::query(
        "SELECT i.value, i.source_line, i.quote, b.seed_lines FROM base_indicators i JOIN bases b ON b.id = i.base_id",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    assert!(rows.len() > 500, "{} indicators", rows.len());
    for r in &rows {
        let value: String = r.get(0);
        let line: i64 = r.get(1);
        let quote: String = r.get(2);
        let range: String = r.get(3);
        let (from, to) = range.split_once('-').unwrap();
        assert!(
            (from.parse::<i64>().unwrap()..=to.parse::<i64>().unwrap()).contains(&line),
            "line {line} inside {range}"
        );
        assert!(
            lines[(line - 1) as usize].contains(&quote),
            "quote {quote:?} on line {line}"
        );
        assert!(
            value.parse::<f64>().is_ok() || value.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "decimal value {value}"
        );
    }
}
both!(the_28_bases_and_their_figures_come_from_the_seed);

async fn synthetic_records_are_marked_and_deterministic(app: &TestApp) {
    for t in [
        "enterprises",
        "persons",
        "carriers",
        "teams",
        "providers",
        "investors",
        "experts",
        "institutes",
    ] {
        let unmarked = app
            .scalar(&format!("SELECT COUNT(*) FROM {t} WHERE synthetic = 0"))
            .await;
        assert_eq!(unmarked, 0, "{t}");
    }
    // The same seed gives the same firms on every start and backend.
    let first = app.text("SELECT e.name FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08' ORDER BY e.uscc LIMIT 1").await;
    let other = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let again = other.text("SELECT e.name FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08' ORDER BY e.uscc LIMIT 1").await;
    assert_eq!(first, again);
    other.finish().await;
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url("/b/R08/registry/enterprises"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("badge synthetic"));
}
both!(synthetic_records_are_marked_and_deterministic);

/// The demo base comes with a funded voucher batch and a stocked supermarket.
async fn the_demo_base_has_a_voucher_batch_and_services(app: &TestApp) {
    let api = app.api_as("fz-enterprise").await;
    let batches = api.get_json("/api/v1/bases/R08/vouchers/batches").await;
    assert_eq!(batches[0]["code"], "FZ-2026-01");
    assert_eq!(batches[0]["remaining_fen"], 500_000_000);
    assert!(
        api.get_json("/api/v1/bases/R08/market/services")
            .await
            .as_array()
            .unwrap()
            .len()
            >= 20
    );
    let id = batches[0]["id"].as_str().unwrap();
    let claim: serde_json::Value = api
        .post(
            &format!("/api/v1/bases/R08/vouchers/batches/{id}/claim"),
            &serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claim["amount_fen"], 20_000_000);
}
both!(the_demo_base_has_a_voucher_batch_and_services);
