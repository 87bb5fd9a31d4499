//! Indicators: computed figures equal what the API created, manual values and
//! targets with validation, import (all errors listed, nothing imported, then
//! the fixed file), the index, comparison with seed lines, exports, roles and
//! tenant isolation.

use chuangtong_domain::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

fn this_month() -> String {
    chuangtong::indicator::period::Period::current_month().to_string()
}

fn card<'a>(dashboard: &'a Value, key: &str) -> &'a Value {
    dashboard["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("card {key}"))
}

/// The actual of a card as an integer (counts are whole here; money is fen).
fn actual(dashboard: &Value, key: &str) -> i64 {
    card(dashboard, key)["actual"].as_str().unwrap().parse().unwrap()
}

fn uscc(n: u32) -> String {
    Uscc::with_check_char(&format!("91350100MA{n:07}"))
        .unwrap()
        .as_str()
        .to_string()
}

async fn register_enterprise(api: &Api, n: u32, capital_yuan: &str) -> String {
    let r = api
        .post(
            "/api/v1/bases/R08/enterprises",
            &json!({ "uscc": uscc(n), "name": format!("指标测试企业{n}"), "region_code": "350105", "industry": "I",
                "founded_on": "2020-01-01", "registered_capital_yuan": capital_yuan, "employees": "5" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn pay_out_of_a_budget(api: &Api, amount_fen: i64) {
    for (code, kind, floor) in [
        ("funding:test", "funding", false),
        ("budget:test", "budget", true),
        ("expense:test", "expense", false),
    ] {
        let r = api
            .post(
                "/api/v1/bases/R08/ledger/accounts",
                &json!({ "code": code, "name": code, "kind": kind, "no_overdraft": floor }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    for (key, debit, credit, amount) in [
        ("fund-1", "funding:test", "budget:test", 1_000_000),
        ("pay-1", "budget:test", "expense:test", amount_fen),
    ] {
        let r = api
            .post(
                "/api/v1/bases/R08/ledger/transfers",
                &json!({ "idempotency_key": key, "transfers": [{ "debit": debit, "credit": credit, "amount_fen": amount }] }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{key}");
    }
}

async fn computed_indicators_equal_what_the_api_created(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let path = format!("/api/v1/bases/R08/indicators?period={}", this_month());
    let before = api.get_json(&path).await;
    assert_eq!(actual(&before, "enterprises"), 120, "the synthetic registry");

    let first = register_enterprise(&api, 1, "1000000.50").await;
    register_enterprise(&api, 2, "250").await;
    let r = api
        .post(
            "/api/v1/bases/R08/carriers",
            &json!({ "name": "测试众创空间", "kind": "makerspace", "level": "municipal", "area_m2": "800", "seats": "10", "occupied_seats": "5" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = api
        .post(
            "/api/v1/bases/R08/persons",
            &json!({ "name": "指标人才", "id_number": "11010519491231002X", "talent_level": "b" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    pay_out_of_a_budget(&api, 2_500).await;

    let after = api.get_json(&path).await;
    let grew = |key: &str| actual(&after, key) - actual(&before, key);
    assert_eq!(grew("new_enterprises"), 2);
    assert_eq!(grew("enterprises"), 2);
    assert_eq!(grew("registered_capital"), 100_000_050 + 25_000);
    assert_eq!(grew("carriers"), 1);
    assert_eq!(grew("makerspaces"), 1);
    assert_eq!(grew("incubators"), 0);
    assert_eq!(grew("incubator_area"), 800);
    assert_eq!(grew("carrier_seats"), 10);
    assert_eq!(grew("talents"), 1);
    assert_eq!(
        grew("policy_payouts"),
        2_500,
        "only the budget's outflow, not its funding"
    );
    assert_eq!(card(&after, "policy_payouts")["actual_display"], "25.00");

    // A month before anything was registered counts nothing new.
    let old = api.get_json("/api/v1/bases/R08/indicators?period=2020-01").await;
    assert_eq!(actual(&old, "new_enterprises"), 0);
    assert_eq!(actual(&old, "enterprises"), 0);

    // The figure drills down to the records it counted.
    let b = app.browser_as("fz-admin").await;
    let href = card(&after, "new_enterprises")["drill_href"]
        .as_str()
        .unwrap()
        .to_string();
    let html = b.get(app.url(&href)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("指标测试企业1") && html.contains(&format!("/b/R08/registry/enterprises/{first}")));
    assert!(html.contains(&format!("共 {} 条记录", actual(&after, "new_enterprises"))));
    let dash = b.get(app.url("/b/R08/indicators")).send().await.unwrap();
    assert_eq!(dash.status(), StatusCode::OK);
    let dash = dash.text().await.unwrap();
    assert!(dash.contains("<svg") && dash.contains(&href.replace('&', "&amp;")));
    assert!(dash.contains("/indicators/seed/"), "seed figures link to their lines");
}
both!(computed_indicators_equal_what_the_api_created);

async fn manual_values_are_validated_versioned_and_audited(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let audit_before = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    let bad = [
        (
            json!({ "key": "patents", "period": "2026-Q2", "value": "12.34567" }),
            vec![("value", "value.decimal")],
        ),
        (
            json!({ "key": "patents", "period": "2026-05", "value": "3" }),
            vec![("period", "period.kind_mismatch")],
        ),
        (
            json!({ "key": "financing_raised", "period": "2026-Q2", "value": "12.5" }),
            vec![("value", "value.fen")],
        ),
        (
            json!({ "key": "new_enterprises", "period": "2026-05", "value": "3" }),
            vec![("key", "indicator.computed")],
        ),
        (
            json!({ "key": "nope", "period": "2026-13", "value": "-1" }),
            vec![("key", "indicator.unknown"), ("period", "period.format")],
        ),
    ];
    // The standard set is loaded (and audited) on first use; count from there.
    api.get_json("/api/v1/bases/R08/indicators/definitions").await;
    let audit_before = audit_before.max(app.scalar("SELECT COUNT(*) FROM audit_log").await);
    for (body, expect) in bad {
        let codes = field_codes(api.post("/api/v1/bases/R08/indicators/values", &body).await).await;
        let expect: Vec<(String, String)> = expect.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(codes, expect, "{body}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM indicator_values").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, audit_before);

    let ok = |v: &str| json!({ "key": "patents", "period": "2026-Q2", "value": v });
    assert_eq!(
        api.post("/api/v1/bases/R08/indicators/values", &ok("12.5"))
            .await
            .status(),
        StatusCode::CREATED
    );
    // A new version of the definition; the stored value keeps version 1.
    let r = api
        .post(
            "/api/v1/bases/R08/indicators/definitions",
            &json!({ "key": "patents", "name": "专利申请（含PCT）", "unit": "件", "period_kind": "quarter", "value_type": "count", "source": "知识产权局" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
    let v = api.get_json("/api/v1/bases/R08/indicators/values?key=patents").await;
    assert_eq!(v[0]["definition_version"], 1);
    assert_eq!(v[0]["value"], "12.5");
    assert_eq!(
        api.post("/api/v1/bases/R08/indicators/values", &ok("13"))
            .await
            .status(),
        StatusCode::CREATED
    );
    let v = api.get_json("/api/v1/bases/R08/indicators/values?key=patents").await;
    assert_eq!(
        (v[0]["value"].as_str(), v[0]["definition_version"].as_i64()),
        (Some("13"), Some(2))
    );
    let defs = api.get_json("/api/v1/bases/R08/indicators/definitions").await;
    let patents: Vec<&Value> = defs
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["key"] == "patents")
        .collect();
    assert_eq!(patents.len(), 1, "only the current version is listed");
    assert_eq!(patents[0]["name"], "专利申请（含PCT）");
    let after_json = app
        .text("SELECT before_json FROM audit_log WHERE action = 'indicator.value_recorded' ORDER BY seq DESC LIMIT 1")
        .await;
    assert!(
        after_json.contains("12.5"),
        "the replaced value is in the audit entry: {after_json}"
    );

    // A bad definition lists every field.
    let codes = field_codes(
        api.post(
            "/api/v1/bases/R08/indicators/definitions",
            &json!({ "key": "Bad Key", "name": "", "unit": "件", "period_kind": "week", "formula": "magic" }),
        )
        .await,
    )
    .await;
    let fields: Vec<&str> = codes.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, vec!["key", "name", "period_kind", "formula"]);
}
both!(manual_values_are_validated_versioned_and_audited);

async fn targets_show_completion_and_flag_what_is_behind(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let month = this_month();
    let unit = app
        .text("SELECT o.id FROM org_units o JOIN bases b ON b.id = o.base_id WHERE b.code = 'R08' AND o.level = 'park' ORDER BY o.name LIMIT 1")
        .await;
    let previous = chuangtong::indicator::period::Period::current_month().previous_month();
    let past_deadline = previous.last_day().to_string();
    // 120 enterprises against a target of 240: 50.00%, deadline passed → behind.
    let r = api
        .post(
            "/api/v1/bases/R08/indicators/targets",
            &json!({ "key": "enterprises", "period": month, "target": "240", "org_unit_id": unit,
                "responsible_person": "林主任", "deadline": past_deadline }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // 3 events against 4 with a distant deadline: 75.00%, on schedule.
    let r = api
        .post(
            "/api/v1/bases/R08/indicators/targets",
            &json!({ "key": "events", "period": month, "target": "4", "deadline": "2099-12-31" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = api
        .post(
            "/api/v1/bases/R08/indicators/values",
            &json!({ "key": "events", "period": month, "value": "3" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let d = api
        .get_json(&format!("/api/v1/bases/R08/indicators?period={month}"))
        .await;
    let e = card(&d, "enterprises");
    assert_eq!(
        (e["completion_bp"].as_i64(), e["behind_schedule"].as_bool()),
        (Some(5000), Some(true))
    );
    assert_eq!(e["target"]["responsible_person"], "林主任");
    assert!(e["target"]["org_unit_name"].as_str().is_some());
    let ev = card(&d, "events");
    assert_eq!(
        (ev["completion_bp"].as_i64(), ev["behind_schedule"].as_bool()),
        (Some(7500), Some(false))
    );

    // An org unit of another base, a zero target and a bad date are refused; nothing changes.
    let yp_unit = app
        .text("SELECT o.id FROM org_units o JOIN bases b ON b.id = o.base_id WHERE b.code = 'R04' LIMIT 1")
        .await;
    let codes = field_codes(
        api.post(
            "/api/v1/bases/R08/indicators/targets",
            &json!({ "key": "events", "period": month, "target": "0", "org_unit_id": yp_unit, "deadline": "2026-02-30" }),
        )
        .await,
    )
    .await;
    let codes: Vec<&str> = codes.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(codes, vec!["target.zero", "org_unit.unknown", "date.format"]);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM indicator_targets").await, 2);

    // The page shows the gauge and the flag.
    let b = app.browser_as("fz-steward").await;
    let html = b
        .get(app.url("/b/R08/indicators"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("50.00%") && html.contains("进度落后") && html.contains("75.00%"));
}
both!(targets_show_completion_and_flag_what_is_behind);

async fn post_file(app: &TestApp, api: &Api, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    api.client
        .post(app.url(&format!("/api/v1/bases/R08/indicators/imports?filename={name}")))
        .bearer_auth(&api.token)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn import_lists_every_error_and_imports_nothing_until_the_file_is_fixed(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let template = api.get("/api/v1/bases/R08/indicators/import-template").await;
    assert_eq!(template.status(), StatusCode::OK);
    let template = template.text().await.unwrap();
    assert!(template
        .trim_start_matches('\u{feff}')
        .starts_with("指标代码,时期,数值"));
    assert!(template.contains("patents,") && template.contains("financing_raised,"));
    let xlsx = api
        .get("/api/v1/bases/R08/indicators/import-template?format=xlsx")
        .await;
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));

    let bad = "指标代码,时期,数值\n\
               patents,2026-Q2,12\n\
               nope,2026-Q2,1\n\
               events,2026-5,3\n\
               financing_raised,2026-Q2,1.5\n\
               patents,2026-Q2,13\n\
               new_enterprises,2026-05,\n";
    let r = post_file(app, &api, "bad.csv", bad.as_bytes().to_vec()).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let record: Value = r.json().await.unwrap();
    assert_eq!(record["status"], "rejected");
    let errors: Vec<(i64, String, String)> = record["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().into(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect: Vec<(i64, String, String)> = [
        (3, "指标代码", "indicator.unknown"),
        (4, "时期", "period.format"),
        (5, "数值", "value.fen"),
        (6, "时期", "import.duplicate"),
        (7, "数值", "value.required"),
    ]
    .iter()
    .map(|(r, c, k)| (*r, c.to_string(), k.to_string()))
    .collect();
    assert_eq!(errors, expect);
    assert!(record["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("第3行“指标代码”列"));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM indicator_values").await,
        0,
        "nothing imported"
    );

    let fixed = "\u{feff}指标代码,时期,数值\r\npatents,2026-Q2,12\r\nevents,2026-05,3\r\nfinancing_raised,2026-Q2,150000000\r\n";
    let r = post_file(app, &api, "fixed.csv", fixed.as_bytes().to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["rows_imported"], 3);
    let v = api
        .get_json("/api/v1/bases/R08/indicators/values?key=financing_raised")
        .await;
    assert_eq!(
        (v[0]["value"].as_str(), v[0]["origin"].as_str()),
        (Some("150000000"), Some("import"))
    );

    // The same through an Excel file, with numbers typed as numbers.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    for (col, h) in ["指标代码", "时期", "数值"].iter().enumerate() {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "jobs_created").unwrap();
    sheet.write_string(1, 1, "2026").unwrap();
    sheet.write_number(1, 2, 1234.0).unwrap();
    let r = post_file(app, &api, "jobs.xlsx", wb.save_to_buffer().unwrap()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = api
        .get_json("/api/v1/bases/R08/indicators/values?key=jobs_created")
        .await;
    assert_eq!(v[0]["value"], "1234");

    let history = api.get_json("/api/v1/bases/R08/indicators/imports").await;
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["imported", "imported", "rejected"]);

    // The upload page: a multipart form with the CSRF token, errors listed on the page.
    let b = app.browser_as("fz-admin").await;
    let page = b
        .get(app.url("/b/R08/indicators/import"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let boundary = "XyZboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"page.csv\"\r\nContent-Type: text/csv\r\n\r\n\
         指标代码,时期,数值\nevents,2026-05,abc\n\r\n--{boundary}--\r\n"
    );
    let r = b
        .post(app.url("/b/R08/indicators/import"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("第2行“数值”列") && html.contains("page.csv"), "{html}");
}
both!(import_lists_every_error_and_imports_nothing_until_the_file_is_fixed);

async fn closing_a_month_records_values_and_the_index_history(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let month = this_month();
    let codes = field_codes(
        api.post(
            "/api/v1/bases/R08/indicators/snapshots",
            &json!({ "period": "2026-Q1" }),
        )
        .await,
    )
    .await;
    assert_eq!(codes, vec![("period".to_string(), "period.month_required".to_string())]);
    let r = api
        .post("/api/v1/bases/R08/indicators/snapshots", &json!({ "period": month }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["recorded"], 12, "every computed indicator of the standard set");
    let score = s["index"]["score_bp"].as_i64().unwrap();
    assert!((0..=10_000).contains(&score));
    let history = api.get_json("/api/v1/bases/R08/indicators/index").await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["period"], month);
    assert_eq!(history[0]["components"].as_array().unwrap().len(), 10);
    // Recomputing is reproducible: the same data gives the same score.
    let again: Value = api
        .post("/api/v1/bases/R08/indicators/snapshots", &json!({ "period": month }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["index"]["score_bp"].as_i64(), Some(score));
    assert_eq!(
        api.get_json("/api/v1/bases/R08/indicators/index")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let v = api
        .get_json(&format!(
            "/api/v1/bases/R08/indicators/values?key=enterprises&period={month}"
        ))
        .await;
    assert_eq!(
        (v[0]["value"].as_str(), v[0]["origin"].as_str()),
        (Some("120"), Some("computed"))
    );

    let method = app
        .client()
        .get(app.url("/indicators/index-method"))
        .send()
        .await
        .unwrap();
    assert_eq!(method.status(), StatusCode::OK, "the method page is public");
    assert!(method.text().await.unwrap().contains("最小—最大"));
}
both!(closing_a_month_records_values_and_the_index_history);

async fn comparison_links_every_figure_to_its_seed_line(app: &TestApp) {
    let api = app.api_as("fz-enterprise").await;
    let figures = api.get_json("/api/v1/indicators/compare?key=incubator_area").await;
    let figures = figures.as_array().unwrap();
    assert_eq!(figures.len(), 15);
    let values: Vec<i64> = figures.iter().map(|f| f["common_value"].as_i64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "largest first: {values:?}");
    assert_eq!(figures[0]["common_unit"], "平方米");
    let line = figures[0]["source_line"].as_i64().unwrap();

    let b = app.browser_as("fz-enterprise").await;
    let html = b
        .get(app.url("/indicators/compare?key=incubator_area"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<svg") && html.contains(&format!("/indicators/seed/{line}")));
    let seed = b
        .get(app.url(&format!("/indicators/seed/{line}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let quote = figures[0]["quote"].as_str().unwrap();
    assert!(seed.contains(&format!("{line}　")) && seed.contains(figures[0]["base_name"].as_str().unwrap()));
    assert!(
        seed.contains(quote.split_whitespace().next().unwrap()),
        "the quoted text is on the page"
    );
    assert_eq!(
        b.get(app.url("/indicators/seed/999999")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client()
            .get(app.url("/api/v1/indicators/compare"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}
both!(comparison_links_every_figure_to_its_seed_line);

fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

async fn exports_follow_the_registry_rules(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let r = admin.get("/api/v1/bases/R08/exports/enterprises").await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = xlsx_rows(&r.bytes().await.unwrap());
    assert_eq!(rows.len(), 121, "header and 120 enterprises");
    assert_eq!(rows[0][0], "企业名称");
    assert!(
        !rows[0].iter().any(|h| h.contains("电话")),
        "no phone numbers are exported"
    );
    assert_eq!(rows[0].len(), 11);

    let own = app.api_as("fz-enterprise").await;
    let rows = xlsx_rows(
        &own.get("/api/v1/bases/R08/exports/enterprises")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 2, "an enterprise account exports only its own record");
    let team = app.api_as("fz-team").await;
    assert_eq!(
        team.get("/api/v1/bases/R08/exports/enterprises").await.status(),
        StatusCode::FORBIDDEN
    );

    let d = admin
        .get(&format!("/api/v1/bases/R08/indicators/export?period={}", this_month()))
        .await;
    assert_eq!(d.status(), StatusCode::OK);
    let rows = xlsx_rows(&d.bytes().await.unwrap());
    assert_eq!(rows[0][0], "指标代码");
    assert!(rows.iter().any(|r| r[0] == "enterprises" && r[5] == "120"));
}
both!(exports_follow_the_registry_rules);

async fn roles_and_tenants_are_kept_apart(app: &TestApp) {
    // Every member may view; only base admins manage.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward.get("/api/v1/bases/R08/indicators").await.status(),
        StatusCode::OK
    );
    for (path, body) in [
        (
            "/api/v1/bases/R08/indicators/values",
            json!({ "key": "events", "period": "2026-05", "value": "1" }),
        ),
        (
            "/api/v1/bases/R08/indicators/targets",
            json!({ "key": "events", "period": "2026-05", "target": "1", "deadline": "2026-05-31" }),
        ),
        (
            "/api/v1/bases/R08/indicators/definitions",
            json!({ "key": "x", "name": "x", "unit": "个", "period_kind": "month", "value_type": "count" }),
        ),
        ("/api/v1/bases/R08/indicators/snapshots", json!({ "period": "2026-05" })),
        ("/api/v1/bases/R08/indicators/imports", json!({})),
    ] {
        assert_eq!(
            steward.post(path, &body).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        steward.get("/api/v1/bases/R08/indicators/imports").await.status(),
        StatusCode::FORBIDDEN
    );
    let team = app.browser_as("fz-team").await;
    assert_eq!(
        team.get(app.url("/b/R08/indicators")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Drilling down follows the registry: a team account may not list enterprises, nor see the ledger.
    for p in [
        "/b/R08/indicators/drill/new_enterprises",
        "/b/R08/indicators/drill/policy_payouts",
        "/b/R08/indicators/manage",
    ] {
        assert_eq!(
            team.get(app.url(p)).send().await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "{p}"
        );
    }
    assert_eq!(
        team.get(app.url("/b/R08/indicators/drill/carriers"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "the carrier directory is open to members"
    );
    assert_eq!(
        team.get(app.url("/b/R08/indicators/drill/no_such_key"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // Another base's administrator gets nothing of R08, on any page or route.
    let yp = app.browser_as("yp-admin").await;
    for p in [
        "/b/R08/indicators",
        "/b/R08/indicators/drill/new_enterprises",
        "/b/R08/indicators/manage",
        "/b/R08/indicators/import",
        "/api/v1/bases/R08/indicators",
        "/api/v1/bases/R08/indicators/export",
        "/api/v1/bases/R08/exports/enterprises",
        "/api/v1/bases/R08/indicators/import-template",
    ] {
        let s = yp.get(app.url(p)).send().await.unwrap().status();
        assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{p}: {s}");
    }
    let yp_api = app.api_as("yp-admin").await;
    let r = yp_api
        .post(
            "/api/v1/bases/R08/indicators/values",
            &json!({ "key": "events", "period": "2026-05", "value": "1" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // R04's own dashboard counts only R04's registry.
    let d = yp_api.get_json("/api/v1/bases/R04/indicators").await;
    assert_eq!(actual(&d, "enterprises"), 30);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM indicator_values").await, 0);
}
both!(roles_and_tenants_are_kept_apart);

async fn management_page_forms_show_field_errors_and_save(app: &TestApp) {
    let b = app.browser_as("fz-admin").await;
    let page = b.get(app.url("/b/R08/indicators/manage")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("enterprises.new_in_period") && page.contains("罗星街道双创服务站"));
    let csrf = csrf_of(&page);
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let b = b.clone();
        let url = app.url(path);
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    let bad = post(
        "/b/R08/indicators/manage/values",
        vec![
            ("_csrf", csrf.clone()),
            ("key", "events".into()),
            ("period", "2026-05".into()),
            ("value", "很多".into()),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("value.decimal") && html.contains("很多"),
        "the error and the input are shown"
    );
    let no_csrf = post("/b/R08/indicators/manage/values", vec![("key", "events".into())]).await;
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM indicator_values").await, 0);

    let ok = post(
        "/b/R08/indicators/manage/values",
        vec![
            ("_csrf", csrf.clone()),
            ("key", "events".into()),
            ("period", "2026-05".into()),
            ("value", "7".into()),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let ok = post(
        "/b/R08/indicators/manage/snapshots",
        vec![("_csrf", csrf.clone()), ("period", this_month())],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let dash = b
        .get(app.url("/b/R08/indicators"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dash.contains("双创指数（"), "the dashboard shows the month's index");
    let drill = b
        .get(app.url("/b/R08/indicators/drill/events?period=2026-05"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        drill.contains("手工填报") && drill.contains("fz-admin"),
        "a manual figure drills down to who entered it"
    );
}
both!(management_page_forms_show_field_errors_and_save);
