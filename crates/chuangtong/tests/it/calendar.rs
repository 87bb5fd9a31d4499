//! Working-day arithmetic over the API, and adding a year.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both;
use crate::helpers::{field_codes, TestApp};

async fn deadlines_skip_holidays_and_count_make_up_days(app: &TestApp) {
    let api = app.api_as("fz-steward").await;
    // Accepted on Friday 2025-09-26, 5 working days: 09-28 (Sunday) is a 调休 working day,
    // 10-01..10-08 are the 国庆/中秋 holiday.
    let v = api
        .get_json("/api/v1/calendar/add-working-days?from=2025-09-26&days=5")
        .await;
    assert_eq!(v["due"], "2025-10-10");
    let v = api
        .get_json("/api/v1/calendar/add-working-days?from=2026-02-13&days=1")
        .await;
    assert_eq!(v["due"], "2026-02-14", "Saturday make-up day before 春节 2026");

    let r = api
        .get("/api/v1/calendar/add-working-days?from=2026-12-30&days=10")
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("from".into(), "calendar.year_not_covered".into())]
    );
    let r = api
        .get("/api/v1/calendar/add-working-days?from=2026/01/01&days=x")
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![
            ("from".into(), "date.format".into()),
            ("days".into(), "days.range".into())
        ]
    );
}
both!(deadlines_skip_holidays_and_count_make_up_days);

async fn a_platform_admin_adds_a_year(app: &TestApp) {
    let year_2027 = r#"{"year": 2027, "source": "测试用安排", "holidays": [{"name": "元旦", "days": ["2027-01-01"]}], "makeup_workdays": []}"#;
    let bad = r#"{"year": 2027, "source": "x", "holidays": [], "makeup_workdays": ["2027-01-06"]}"#;
    let admin = app.api_as("admin").await;
    let steward = app.api_as("fz-steward").await;
    let post = |api: &crate::helpers::Api, body: &'static str| {
        api.client
            .post(format!("{}/api/v1/calendar/years", api.app_url))
            .bearer_auth(&api.token)
            .body(body)
            .send()
    };
    assert_eq!(post(&steward, year_2027).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(&admin, bad).await.unwrap();
    assert_eq!(
        field_codes(r).await,
        vec![("schedule".into(), "calendar.makeup_not_weekend".into())]
    );
    assert_eq!(post(&admin, year_2027).await.unwrap().status(), StatusCode::OK);
    let v: Value = steward
        .get_json("/api/v1/calendar/add-working-days?from=2026-12-31&days=1")
        .await;
    assert_eq!(v["due"], "2027-01-04", "2027-01-01 holiday, then the weekend");
}
both!(a_platform_admin_adds_a_year);
