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
    assert_eq!(s["recorded"], 21, "every computed indicator of the standard set");
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

// ---- 双创工作月报 -----------------------------------------------------------

fn xlsx_sheets(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names = wb.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            let rows = range
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            (n, rows)
        })
        .collect()
}

fn event<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("event group {kind}"))
}

fn event_count(report: &Value, kind: &str) -> i64 {
    event(report, kind)["count"].as_i64().unwrap()
}

async fn monthly_report_has_indicators_behind_items_and_events(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let month = this_month();
    let path = format!("/api/v1/bases/R08/indicators/report?period={month}");
    let unit = app
        .text("SELECT o.id FROM org_units o JOIN bases b ON b.id = o.base_id WHERE b.code = 'R08' AND o.level = 'park' ORDER BY o.name LIMIT 1")
        .await;
    let past = chuangtong::indicator::period::Period::current_month()
        .previous_month()
        .last_day()
        .to_string();
    let r = api
        .post(
            "/api/v1/bases/R08/indicators/targets",
            &json!({ "key": "new_enterprises", "period": month, "target": "100000", "org_unit_id": unit,
                "responsible_person": "陈科长", "deadline": past }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let before = api.get_json(&path).await;
    register_enterprise(&api, 77, "100").await;
    let report = api.get_json(&path).await;

    assert_eq!(report["month"], month.as_str());
    assert_eq!(report["base_name"], "福建福州新区");
    let keys: Vec<&str> = report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for k in [
        "new_enterprises",
        "vouchers_claimed",
        "applications_pass_rate",
        "financing_raised",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    let behind = report["behind"].as_array().unwrap();
    assert_eq!(behind.len(), 1, "{behind:?}");
    assert_eq!(behind[0]["key"], "new_enterprises");
    assert_eq!(behind[0]["responsible_person"], "陈科长");
    assert_eq!(behind[0]["deadline"], past.as_str());
    assert_eq!(behind[0]["overdue"], true);
    assert!(!behind[0]["org_unit"].as_str().unwrap().is_empty());
    assert_eq!(
        event_count(&report, "enterprises.registered") - event_count(&before, "enterprises.registered"),
        1
    );
    let registered = event(&report, "enterprises.registered");
    assert!(registered["items"].as_array().unwrap().len() <= 20);
    assert_eq!(event(&report, "policies.published")["amount"], Value::Null);

    // The same report as a workbook: three sheets.
    let r = api.get(&format!("{path}&format=xlsx")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("monthly-report-R08-{month}.xlsx")));
    let sheets = xlsx_sheets(&r.bytes().await.unwrap());
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["指标", "进度落后", "本月大事"]);
    assert!(sheets[0].1[0][0].contains("双创工作月报"));
    assert!(sheets[0].1.iter().any(|r| r[0] == "新登记企业" && r[9] == "陈科长"));
    assert_eq!(sheets[1].1.len(), 2, "header and the one item behind");
    assert_eq!(
        (sheets[1].1[1][6].as_str(), sheets[1].1[1][8].as_str()),
        ("陈科长", "是")
    );
    assert!(sheets[2].1.iter().any(|r| r[0] == "新登记企业"));

    // The printable page.
    let b = app.browser_as("fz-admin").await;
    let r = b
        .get(app.url(&format!("/b/R08/indicators/report?period={month}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    for s in [
        "双创工作月报",
        "陈科长",
        "id=\"report-behind\"",
        "id=\"report-xlsx\"",
        "/static/indicator.css",
        "新登记企业",
    ] {
        assert!(html.contains(s), "{s}");
    }
    let css = b
        .get(app.url("/static/indicator.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("@media print"));

    // Base admins only; a malformed month is a field error.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(steward.get(&path).await.status(), StatusCode::FORBIDDEN);
    let sb = app.browser_as("fz-steward").await;
    assert_eq!(
        sb.get(app.url("/b/R08/indicators/report"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let codes = field_codes(api.get("/api/v1/bases/R08/indicators/report?period=2026-13").await).await;
    assert_eq!(codes, vec![("period".to_string(), "period.format".to_string())]);
}
both!(monthly_report_has_indicators_behind_items_and_events);

// ---- indicators from vouchers and applications -------------------------------

async fn firms(app: &TestApp, prefix: &str, n: i64) -> Vec<(String, Api)> {
    use sqlx::Row;
    let base_id = app.text("SELECT id FROM bases WHERE code = 'R08'").await;
    let ids: Vec<String> = sqlx::query("SELECT id FROM enterprises WHERE base_id = $1 ORDER BY uscc LIMIT $2")
        .bind(&base_id)
        .bind(n)
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let username = format!("{prefix}-{i}");
        app.add_member(&username, chuangtong::auth::Role::Enterprise, Some(&id))
            .await;
        out.push((id, app.api_as(&username).await));
    }
    out
}

async fn ok_json(r: reqwest::Response, what: &str) -> Value {
    let s = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{what}: {s} {body}");
    body
}

async fn voucher_and_application_indicators_follow_live_data(app: &TestApp) {
    use chrono::{Duration, Utc};
    let admin = app.api_as("fz-admin").await;
    let month = this_month();
    let dash = format!("/api/v1/bases/R08/indicators?period={month}");
    let report_path = format!("/api/v1/bases/R08/indicators/report?period={month}");
    let d0 = admin.get_json(&dash).await;
    let r0 = admin.get_json(&report_path).await;

    // Vouchers: one batch, two claims of 20,000 yuan.
    let now = Utc::now();
    let batch = ok_json(
        admin
            .post(
                "/api/v1/bases/R08/vouchers/batches",
                &json!({ "code": "IND1", "name": "指标测试创新券", "total_yuan": "50000", "per_firm_cap_yuan": "20000",
                    "copay_max_percent": "50", "categories": ["技术检测"],
                    "claim_opens_at": (now - Duration::hours(1)).to_rfc3339(),
                    "claim_closes_at": (now + Duration::hours(1)).to_rfc3339(), "valid_until": "2099-12-31" }),
            )
            .await,
        "batch",
    )
    .await;
    let batch_id = batch["id"].as_str().unwrap();
    let f = firms(app, "ind-firm", 2).await;
    for (_, firm) in &f {
        ok_json(
            firm.post(
                &format!("/api/v1/bases/R08/vouchers/batches/{batch_id}/claim"),
                &json!({}),
            )
            .await,
            "claim",
        )
        .await;
    }

    // Applications: a published policy, a 核准制 programme, two submissions;
    // one rejected, one approved and paid 300,000 yuan.
    let src = "policy ind_call \"指标测试资助\"\nparam 资助: money = 50万元\nrequire \"有从业人员记录\": 从业人数 >= 0\namount = 资助\n";
    let policy = ok_json(
        admin
            .post(
                "/api/v1/bases/R08/policies",
                &json!({ "title": "指标测试资助", "issuer": "测试局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "10000000" }),
            )
            .await,
        "policy",
    )
    .await;
    let pid = policy["id"].as_str().unwrap();
    let r = admin
        .post(&format!("/api/v1/bases/R08/policies/{pid}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let today = chuangtong::storage::time::today();
    let programme = ok_json(
        admin
            .post(
                "/api/v1/bases/R08/programmes",
                &json!({
                    "code": "IND-P1", "name": "指标测试项目", "policy_id": pid, "review_mode": "approval",
                    "opens_on": today.to_string(), "closes_on": (today + Duration::days(30)).to_string(),
                    "form_fields": [{ "name": "project", "label": "项目名称", "required": true }],
                    "rubric": [{ "key": "innovation", "label": "技术创新性", "weight": 100 }],
                    "experts_per_application": 0, "conflict_months": 12,
                    "limits": { "pre_review": 5, "amendment": 5, "expert_review": 10, "publicity": 5, "approval": 5, "payout": 10 },
                    "budget_yuan": "1000000"
                }),
            )
            .await,
        "programme",
    )
    .await;
    let prog = programme["id"].as_str().unwrap();
    let mut apps = Vec::new();
    for (_, firm) in &f {
        let a = ok_json(
            firm.post(
                &format!("/api/v1/bases/R08/programmes/{prog}/applications"),
                &json!({ "form": { "project": "中试线" }, "amount_requested_yuan": "300000" }),
            )
            .await,
            "draft",
        )
        .await;
        let id = a["id"].as_str().unwrap().to_string();
        ok_json(
            firm.post(&format!("/api/v1/bases/R08/applications/{id}/submit"), &json!({}))
                .await,
            "submit",
        )
        .await;
        apps.push(id);
    }
    let act = |id: &str, action: &str| format!("/api/v1/bases/R08/applications/{id}/{action}");
    ok_json(
        admin
            .post(&act(&apps[1], "reject"), &json!({ "reason": "材料不全" }))
            .await,
        "reject",
    )
    .await;
    ok_json(admin.post(&act(&apps[0], "accept"), &json!({})).await, "accept").await;
    ok_json(admin.post(&act(&apps[0], "publish"), &json!({})).await, "publish").await;
    sqlx::query(
        "UPDATE application_stages SET due_on = '2020-01-02' WHERE application_id = $1 AND stage = 'publicity'",
    )
    .bind(&apps[0])
    .execute(app.state.db.pool())
    .await
    .unwrap();
    ok_json(
        admin
            .post(&act(&apps[0], "approve"), &json!({ "amount_approved_yuan": "300000" }))
            .await,
        "approve",
    )
    .await;
    ok_json(admin.post(&act(&apps[0], "pay"), &json!({})).await, "pay").await;

    let d1 = admin.get_json(&dash).await;
    let grew = |key: &str| actual(&d1, key) - actual(&d0, key);
    assert_eq!(grew("vouchers_claimed"), 4_000_000);
    assert_eq!(grew("voucher_claims"), 2);
    assert_eq!(grew("vouchers_used"), 0, "nothing ordered yet");
    assert_eq!(grew("applications_received"), 2);
    assert_eq!(grew("programme_payouts"), 30_000_000);
    assert_eq!(
        card(&d1, "applications_pass_rate")["actual"],
        "50",
        "one approved, one rejected"
    );
    assert_eq!(card(&d1, "programme_payouts")["actual_display"], "300,000.00");

    // Each figure drills down to its records.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/indicators/drill/programme_payouts?period={month}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("/b/R08/applications/{}", apps[0])) && html.contains("300,000.00"));
    let html = b
        .get(app.url(&format!("/b/R08/indicators/drill/voucher_claims?period={month}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("指标测试创新券") && html.contains(&format!("/b/R08/registry/enterprises/{}", f[1].0)));
    let steward = app.browser_as("fz-steward").await;
    assert_eq!(
        steward
            .get(app.url("/b/R08/indicators/drill/vouchers_claimed"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "every firm's claims are the base's books"
    );

    // The month's notable events.
    let r1 = admin.get_json(&report_path).await;
    let more = |kind: &str| event_count(&r1, kind) - event_count(&r0, kind);
    assert_eq!(more("vouchers.batches_issued"), 1);
    assert_eq!(more("vouchers.claimed"), 2);
    assert_eq!(more("policies.published"), 1);
    assert_eq!(more("programmes.opened"), 1);
    assert_eq!(more("applications.received"), 2);
    assert_eq!(more("applications.approved"), 1);
    assert_eq!(more("applications.paid"), 1);
    assert_eq!(
        event(&r1, "applications.paid")["amount_fen"].as_i64().unwrap()
            - event(&r0, "applications.paid")["amount_fen"].as_i64().unwrap(),
        30_000_000
    );
    assert!(event(&r1, "programmes.opened")["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["text"].as_str().unwrap().starts_with("指标测试项目")));

    // And the lists behind them export to Excel.
    let rows = xlsx_rows(
        &admin
            .get("/api/v1/bases/R08/exports/applications")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let ours: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "IND-P1").collect();
    assert_eq!(ours.len(), 2);
    assert!(ours.iter().any(|r| r[4] == "已兑现" && r[6] == "30000000"));
    assert!(ours.iter().any(|r| r[4] == "未通过"));
    let rows = xlsx_rows(
        &admin
            .get("/api/v1/bases/R08/exports/voucher-batches")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let ind = rows.iter().find(|r| r[0] == "IND1").expect("the batch");
    assert_eq!(
        (ind[2].as_str(), ind[10].as_str(), ind[11].as_str()),
        ("5000000", "2", "4000000")
    );
    let rows = xlsx_rows(
        &admin
            .get("/api/v1/bases/R08/exports/voucher-claims")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(rows.iter().filter(|r| r[0] == "IND1").count(), 2);
}
both!(voucher_and_application_indicators_follow_live_data);

// ---- list exports ------------------------------------------------------------

async fn every_list_exports_to_excel_under_its_read_rules(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let persons = admin.get_json("/api/v1/bases/R08/persons").await;
    let persons = persons.get("items").cloned().unwrap_or(persons);
    let r = admin.get("/api/v1/bases/R08/exports/persons").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], chuangtong::indicator::export::XLSX_MIME);
    let rows = xlsx_rows(&r.bytes().await.unwrap());
    assert_eq!(rows[0][1], "身份证号（脱敏）");
    let person_count = app
        .scalar("SELECT COUNT(*) FROM persons p JOIN bases b ON b.id = p.base_id WHERE b.code = 'R08'")
        .await;
    assert_eq!(rows.len() as i64, person_count + 1);
    let first = &persons[0];
    let row = rows.iter().find(|r| r[0] == first["name"].as_str().unwrap()).unwrap();
    assert_eq!(row[1], first["id_number_masked"].as_str().unwrap());
    assert!(
        rows[1..].iter().all(|r| r[1].contains('*')),
        "ID numbers leave masked only"
    );

    for (list, head, table) in [("carriers", "名称", "carriers"), ("providers", "名称", "providers")] {
        let rows = xlsx_rows(
            &admin
                .get(&format!("/api/v1/bases/R08/exports/{list}"))
                .await
                .bytes()
                .await
                .unwrap(),
        );
        assert_eq!(rows[0][0], head);
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} t JOIN bases b ON b.id = t.base_id WHERE b.code = 'R08'"
            ))
            .await;
        assert_eq!(rows.len() as i64, n + 1, "{list}");
    }

    // Read rules: the directory is open to members, people to admins and
    // stewards, the base's books to admins.
    let team = app.api_as("fz-team").await;
    let steward = app.api_as("fz-steward").await;
    for (who, path, status) in [
        (&team, "carriers", StatusCode::OK),
        (&team, "providers", StatusCode::OK),
        (&team, "persons", StatusCode::FORBIDDEN),
        (&steward, "persons", StatusCode::OK),
        (&steward, "voucher-batches", StatusCode::FORBIDDEN),
        (&steward, "voucher-claims", StatusCode::FORBIDDEN),
        (&steward, "applications", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            who.get(&format!("/api/v1/bases/R08/exports/{path}")).await.status(),
            status,
            "{path}"
        );
    }
    let yp = app.api_as("yp-admin").await;
    assert_eq!(
        yp.get("/api/v1/bases/R08/exports/carriers").await.status(),
        StatusCode::FORBIDDEN
    );
}
both!(every_list_exports_to_excel_under_its_read_rules);

// ---- registry import -----------------------------------------------------------

fn import_uscc(n: u32) -> String {
    Uscc::with_check_char(&format!("91350100MB{n:07}"))
        .unwrap()
        .as_str()
        .to_string()
}

fn import_csv(rows: &[String]) -> Vec<u8> {
    let mut s = String::from("\u{feff}");
    s.push_str(&chuangtong::registry::import::COLUMNS.join(","));
    s.push_str("\r\n");
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.into_bytes()
}

async fn upload_registry(app: &TestApp, api: &Api, name: &str, bytes: Vec<u8>) -> Value {
    let r = api
        .client
        .post(app.url(&format!("/api/v1/bases/R08/registry/imports?filename={name}")))
        .bearer_auth(&api.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job: Value = r.json().await.unwrap();
    wait_for_import(api, job["id"].as_str().unwrap()).await
}

async fn wait_for_import(api: &Api, id: &str) -> Value {
    for _ in 0..600 {
        let job = api.get_json(&format!("/api/v1/bases/R08/registry/imports/{id}")).await;
        if !matches!(job["status"].as_str(), Some("queued" | "validating" | "importing")) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} did not finish");
}

async fn registry_import_lists_every_error_then_imports_the_fixed_file(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let count =
        || app.scalar("SELECT COUNT(*) FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08'");
    let before = count().await;
    let registered = app
        .text("SELECT e.uscc FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08' ORDER BY e.uscc LIMIT 1")
        .await;

    // Templates.
    let t = api.get("/api/v1/bases/R08/registry/import-template?format=csv").await;
    assert_eq!(t.status(), StatusCode::OK);
    assert!(t
        .text()
        .await
        .unwrap()
        .trim_start_matches('\u{feff}')
        .starts_with("统一社会信用代码,企业名称,所在地区代码"));
    let t = api.get("/api/v1/bases/R08/registry/import-template").await;
    let sheets = xlsx_sheets(&t.bytes().await.unwrap());
    assert_eq!(sheets[0].1[0].len(), 11);
    assert_eq!(sheets[1].0, "填写说明");

    let good = |n: u32, name: &str| {
        format!(
            "{},{name},350105,I,2021-03-01,\"1,000,000.50\",12,是,福州市鼓楼区,王经理,13800138000",
            import_uscc(n)
        )
    };
    let mut bad_check = import_uscc(3);
    let last = bad_check.pop().unwrap();
    bad_check.push(if last == '0' { '1' } else { '0' });
    let rows = vec![
        good(1, "导入甲科技有限公司"),
        format!("{bad_check},导入乙科技有限公司,999999,Z,2021-02-30,abc,-3,也许,,,12345"),
        good(1, "导入甲科技有限公司（重复）"),
        format!("{registered},已登记的企业,350105,I,2021-03-01,100,1,否,,,"),
        good(2, ""),
    ];
    let job = upload_registry(app, &api, "企业名单.csv", import_csv(&rows)).await;
    assert_eq!(job["status"], "rejected", "{job}");
    assert_eq!(job["rows_total"], 5);
    assert_eq!(job["rows_imported"], 0);
    let errors: Vec<(i64, String, String)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |row: i64, col: &str| errors.iter().any(|(r, c, _)| *r == row && c == col);
    for col in [
        "统一社会信用代码",
        "所在地区代码",
        "行业门类",
        "成立日期",
        "注册资本（元）",
        "从业人数",
        "高新技术企业",
        "联系电话",
    ] {
        assert!(has(3, col), "row 3, {col}: {errors:?}");
    }
    assert!(errors.contains(&(4, "统一社会信用代码".into(), "import.duplicate".into())));
    assert!(errors.contains(&(5, "统一社会信用代码".into(), "uscc.duplicate".into())));
    assert!(has(6, "企业名称"));
    assert!(!errors.iter().any(|(r, _, _)| *r == 2), "row 2 is valid");
    assert_eq!(job["error_count"].as_i64(), Some(errors.len() as i64));
    assert!(job["errors"][0]["message"].as_str().unwrap().starts_with("第"));
    assert_eq!(count().await, before, "nothing imported");

    // The fixed file, as Excel with a real date cell and numbers: all of it imported.
    let xlsx = {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let s = wb.add_worksheet();
        for (c, h) in chuangtong::registry::import::COLUMNS.iter().enumerate() {
            s.write_string(0, c as u16, *h).unwrap();
        }
        let date = Format::new().set_num_format("yyyy-mm-dd");
        for (i, (n, name)) in [
            (1, "导入甲科技有限公司"),
            (3, "导入乙科技有限公司"),
            (2, "导入丙科技有限公司"),
        ]
        .iter()
        .enumerate()
        {
            let r = i as u32 + 1;
            s.write_string(r, 0, import_uscc(*n)).unwrap();
            s.write_string(r, 1, *name).unwrap();
            s.write_number(r, 2, 350105).unwrap();
            s.write_string(r, 3, "信息传输、软件和信息技术服务业").unwrap();
            s.write_datetime_with_format(r, 4, ExcelDateTime::from_ymd(2021, 3, 1).unwrap(), &date)
                .unwrap();
            s.write_number(r, 5, 1_000_000.5).unwrap();
            s.write_number(r, 6, 12).unwrap();
            s.write_string(r, 7, if i == 0 { "是" } else { "" }).unwrap();
        }
        wb.save_to_buffer().unwrap()
    };
    let job = upload_registry(app, &api, "企业名单（修改后）.xlsx", xlsx).await;
    assert_eq!(job["status"], "imported", "{job}");
    assert_eq!(
        (job["rows_imported"].as_i64(), job["format"].as_str()),
        (Some(3), Some("xlsx"))
    );
    assert_eq!(count().await, before + 3);
    let e = app
        .text(&format!(
            "SELECT founded_on || '|' || registered_capital_fen || '|' || industry || '|' || high_tech FROM enterprises WHERE uscc = '{}'",
            import_uscc(1)
        ))
        .await;
    assert_eq!(e, "2021-03-01|100000050|I|1");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'registry.imported'")
            .await,
        1,
        "one audit entry for the import"
    );
    let audit = app
        .text("SELECT after_json FROM audit_log WHERE action = 'registry.imported'")
        .await;
    assert!(audit.contains("\"enterprises\":3") && audit.contains("sm3"), "{audit}");

    // Importing the same file again: every row is now already registered.
    let again = upload_registry(app, &api, "again.csv", import_csv(&[good(1, "导入甲科技有限公司")])).await;
    assert_eq!(again["status"], "rejected");
    assert_eq!(again["errors"][0]["code"], "uscc.duplicate");

    // History: who, when, which file, rows, result — newest first.
    let history = api.get_json("/api/v1/bases/R08/registry/imports").await;
    let h: Vec<(&str, &str, i64)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["filename"].as_str().unwrap(),
                j["status"].as_str().unwrap(),
                j["rows_total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        h,
        vec![
            ("again.csv", "rejected", 1),
            ("企业名单（修改后）.xlsx", "imported", 3),
            ("企业名单.csv", "rejected", 5)
        ]
    );
    assert!(history[0]["actor_name"].as_str().is_some_and(|n| !n.is_empty()));

    // The pages: upload form, the job with its errors, the history.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url("/b/R08/registry/import"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("企业名单（修改后）.xlsx") && html.contains("已导入"));
    let csrf = csrf_of(&html);
    let boundary = "XyZregistry";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"page.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend(import_csv(&rows));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let r = b
        .post(app.url("/b/R08/registry/import"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let job_url = r.headers()["location"].to_str().unwrap().to_string();
    assert!(job_url.starts_with("/b/R08/registry/imports/"), "{job_url}");
    let id = job_url.rsplit('/').next().unwrap().to_string();
    wait_for_import(&api, &id).await;
    let html = b.get(app.url(&job_url)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("id=\"import-errors\"") && html.contains("第3行“所在地区代码”列"),
        "{html}"
    );

    // Base admins only; ids of another base are not found.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward.get("/api/v1/bases/R08/registry/imports").await.status(),
        StatusCode::FORBIDDEN
    );
    let yp = app.api_as("yp-admin").await;
    assert_eq!(
        yp.get(&format!("/api/v1/bases/R04/registry/imports/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // The applied import is one of the month's notable events.
    let report = api
        .get_json(&format!("/api/v1/bases/R08/indicators/report?period={}", this_month()))
        .await;
    let imported = event(&report, "registry.imported");
    assert_eq!(imported["count"], 1);
    assert!(imported["items"][0]["text"].as_str().unwrap().contains("（3家）"));
}
both!(registry_import_lists_every_error_then_imports_the_fixed_file);

// ---- tickets ---------------------------------------------------------------------

async fn ticket_indicators_count_raised_and_on_time(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let firm = app.api_as("fz-enterprise").await;
    let steward = app.api_as("fz-steward").await;
    let month = this_month();
    let dash = format!("/api/v1/bases/R08/indicators?period={month}");
    let d0 = admin.get_json(&dash).await;
    assert_eq!(card(&d0, "tickets_on_time")["actual"], "0", "nothing resolved yet");

    let mut ids = Vec::new();
    for title in ["办理营业执照变更", "咨询研发费用加计扣除"] {
        let t = ok_json(
            firm.post(
                "/api/v1/bases/R08/tickets",
                &json!({ "category": "registration", "title": title, "description": "请协助办理" }),
            )
            .await,
            "raise",
        )
        .await;
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    // The steward takes both on and resolves them; the second only after
    // its due date has passed.
    for (i, id) in ids.iter().enumerate() {
        let step = |event: &str| json!({ "event": event, "note": "已办结" });
        let state = app.text(&format!("SELECT state FROM tickets WHERE id = '{id}'")).await;
        let first = if state == "in_pool" { "grab" } else { "accept" };
        ok_json(
            steward
                .post(&format!("/api/v1/bases/R08/tickets/{id}/events"), &step(first))
                .await,
            first,
        )
        .await;
        if i == 1 {
            sqlx::query("UPDATE tickets SET resolve_due_on = '2020-01-01' WHERE id = $1")
                .bind(id)
                .execute(app.state.db.pool())
                .await
                .unwrap();
        }
        ok_json(
            steward
                .post(&format!("/api/v1/bases/R08/tickets/{id}/events"), &step("resolve"))
                .await,
            "resolve",
        )
        .await;
    }
    let d1 = admin.get_json(&dash).await;
    assert_eq!(actual(&d1, "tickets_opened") - actual(&d0, "tickets_opened"), 2);
    assert_eq!(card(&d1, "tickets_on_time")["actual"], "50", "one of two in time");
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/indicators/drill/tickets_on_time?period={month}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("咨询研发费用加计扣除") && html.contains(&format!("/b/R08/tickets/{}", ids[1])));
    assert!(html.contains("<td>否</td>") && html.contains("<td>是</td>"), "{html}");
}
both!(ticket_indicators_count_raised_and_on_time);
