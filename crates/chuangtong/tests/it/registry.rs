//! Registry: validation, roles, personal information.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, TestApp};

fn valid_enterprise() -> Value {
    json!({
        "uscc": "91350100M000100Y43", "name": "福州测试科技有限公司", "region_code": "350105",
        "industry": "I", "founded_on": "2019-05-20", "registered_capital_yuan": "1,000,000.50",
        "employees": "25", "high_tech": "1", "address": "马尾区江滨东大道", "contact_name": "林工",
        "contact_phone": "13800138000"
    })
}

async fn enterprise_is_registered_with_exact_money_and_an_audit_entry(app: &TestApp) {
    let api = app.api_as("fz-steward").await;
    let before = app.scalar("SELECT COUNT(*) FROM enterprises").await;
    let r = api.post("/api/v1/bases/R08/enterprises", &valid_enterprise()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let e = api.get_json(&format!("/api/v1/bases/R08/enterprises/{id}")).await;
    assert_eq!(e["registered_capital_fen"], 100_000_050);
    assert_eq!(e["region_name"], "福建省福州市马尾区");
    assert_eq!(e["industry_name"], "信息传输、软件和信息技术服务业");
    assert_eq!(e["contact_phone_masked"], "138****8000");
    assert_eq!(e["synthetic"], false);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM enterprises").await, before + 1);
    // The phone is encrypted at rest and absent from the audit entry.
    let stored = app
        .text(&format!("SELECT contact_phone_enc FROM enterprises WHERE id = '{id}'"))
        .await;
    assert!(stored.starts_with("sm4gcm1:") && !stored.contains("13800138000"));
    let after = app
        .text(&format!(
            "SELECT after_json FROM audit_log WHERE entity_id = '{id}' AND action = 'enterprise.created'"
        ))
        .await;
    assert!(
        after.contains("138****8000") && !after.contains("13800138000"),
        "{after}"
    );

    // Registering the same code again is a field error, not a 500.
    let r = api.post("/api/v1/bases/R08/enterprises", &valid_enterprise()).await;
    assert_eq!(field_codes(r).await, vec![("uscc".into(), "uscc.duplicate".into())]);
    // Searching finds it.
    let found = api.get_json("/api/v1/bases/R08/enterprises?q=%E6%B5%8B%E8%AF%95").await;
    assert_eq!(found["total"], 1);
}
both!(enterprise_is_registered_with_exact_money_and_an_audit_entry);

async fn bad_input_lists_every_field_and_changes_nothing(app: &TestApp) {
    let api = app.api_as("fz-admin").await;
    let before = app.scalar("SELECT COUNT(*) FROM enterprises").await;
    let audit_before = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    let bad = json!({
        "uscc": "91350100M000100Y44", "name": " ", "region_code": "350199", "industry": "Z",
        "founded_on": "2019-02-30", "registered_capital_yuan": "12.345", "employees": "many",
        "contact_phone": "12345"
    });
    let codes = field_codes(api.post("/api/v1/bases/R08/enterprises", &bad).await).await;
    let expect: Vec<(String, String)> = [
        ("uscc", "uscc.check_char"),
        ("name", "text.required"),
        ("region_code", "region.unknown"),
        ("industry", "industry.unknown"),
        ("founded_on", "date.format"),
        ("registered_capital_yuan", "money.precision"),
        ("employees", "number.invalid"),
        ("contact_phone", "phone.format"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(codes, expect);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM enterprises").await, before);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, audit_before);

    // Messages are Chinese.
    let r = api
        .post("/api/v1/bases/R08/enterprises", &json!({ "uscc": "123" }))
        .await;
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("统一社会信用代码"));
}
both!(bad_input_lists_every_field_and_changes_nothing);

async fn roles_decide_what_the_registry_shows(app: &TestApp) {
    // Enterprise users see only their own firm.
    let ent = app.api_as("fz-enterprise").await;
    let mine = ent.get_json("/api/v1/bases/R08/enterprises").await;
    assert_eq!(mine["total"], 1);
    let my_id = mine["items"][0]["id"].as_str().unwrap().to_string();
    let admin = app.api_as("fz-admin").await;
    let all = admin.get_json("/api/v1/bases/R08/enterprises").await;
    assert_eq!(all["total"], 120);
    let other_id = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .find(|id| *id != my_id)
        .unwrap()
        .to_string();
    assert_eq!(
        ent.get(&format!("/api/v1/bases/R08/enterprises/{other_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ent.get(&format!("/api/v1/bases/R08/enterprises/{my_id}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        ent.post("/api/v1/bases/R08/enterprises", &valid_enterprise())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Investors browse firms but cannot register them; providers and experts see none.
    let inv = app.api_as("fz-investor").await;
    assert_eq!(inv.get_json("/api/v1/bases/R08/enterprises").await["total"], 120);
    assert_eq!(
        inv.post("/api/v1/bases/R08/enterprises", &valid_enterprise())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    for who in ["fz-provider", "fz-expert", "fz-team"] {
        let api = app.api_as(who).await;
        assert_eq!(
            api.get("/api/v1/bases/R08/enterprises").await.status(),
            StatusCode::FORBIDDEN,
            "{who}"
        );
        assert_eq!(
            api.get("/api/v1/bases/R08/persons").await.status(),
            StatusCode::FORBIDDEN,
            "{who}"
        );
        // The directory is open to every member.
        assert_eq!(
            api.get_json("/api/v1/bases/R08/providers")
                .await
                .as_array()
                .unwrap()
                .len(),
            20
        );
        assert_eq!(
            api.get_json("/api/v1/bases/R08/carriers")
                .await
                .as_array()
                .unwrap()
                .len(),
            12
        );
    }
}
both!(roles_decide_what_the_registry_shows);

async fn personal_information_is_encrypted_masked_and_reveals_are_audited(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let r = admin.post("/api/v1/bases/R08/persons", &json!({ "name": "王小明", "id_number": "11010519491231002X", "phone": "13912345678", "talent_level": "c", "employer": "某大学" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // Duplicate ID number (found through the keyed digest, not the plaintext).
    let r = admin
        .post(
            "/api/v1/bases/R08/persons",
            &json!({ "name": "另一人", "id_number": "11010519491231002x" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("id_number".into(), "id_number.duplicate".into())]
    );
    let r = admin
        .post(
            "/api/v1/bases/R08/persons",
            &json!({ "name": "错号", "id_number": "110105194912310021", "talent_level": "zz" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![
            ("id_number".into(), "id_card.check_digit".into()),
            ("talent_level".into(), "talent_level.unknown".into())
        ]
    );

    let steward = app.api_as("fz-steward").await;
    let list = steward
        .get_json("/api/v1/bases/R08/persons?q=%E7%8E%8B%E5%B0%8F%E6%98%8E")
        .await;
    assert_eq!(list[0]["id_number_masked"], "110***********002X");
    assert_eq!(list[0]["phone_masked"], "139****5678");
    let raw = serde_json::to_string(&list).unwrap();
    assert!(!raw.contains("11010519491231002X") && !raw.contains("13912345678"));
    // Nothing in the database holds the number in clear.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM persons WHERE id_number_enc LIKE '%19491231%' OR id_number_digest LIKE '%19491231%'"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE after_json LIKE '%11010519491231002X%'")
            .await,
        0
    );

    // Stewards may not unmask; base admins may, and each reveal is audited.
    assert_eq!(
        steward
            .get(&format!("/api/v1/bases/R08/persons/{id}/pii"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let views_before = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'pii.viewed'")
        .await;
    let pii = admin.get_json(&format!("/api/v1/bases/R08/persons/{id}/pii")).await;
    assert_eq!(pii["id_number"], "11010519491231002X");
    assert_eq!(pii["phone"], "13912345678");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'pii.viewed'")
            .await,
        views_before + 1
    );
}
both!(personal_information_is_encrypted_masked_and_reveals_are_audited);

async fn carrier_validation(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let r = admin.post("/api/v1/bases/R08/carriers", &json!({ "name": "新区众创空间", "kind": "makerspace", "level": "provincial", "area_m2": "3000", "seats": "100", "occupied_seats": "120" })).await;
    assert_eq!(
        field_codes(r).await,
        vec![("occupied_seats".into(), "carrier.over_occupied".into())]
    );
    let r = admin.post("/api/v1/bases/R08/carriers", &json!({ "name": "新区众创空间", "kind": "makerspace", "level": "provincial", "area_m2": "3000", "seats": "100", "occupied_seats": "80" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward.post("/api/v1/bases/R08/carriers", &json!({})).await.status(),
        StatusCode::FORBIDDEN
    );
}
both!(carrier_validation);

async fn the_registration_page_shows_field_errors_and_keeps_input(app: &TestApp) {
    let b = app.browser_as("fz-admin").await;
    let form = b
        .get(app.url("/b/R08/registry/enterprises/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&form);
    let r = b
        .post(app.url("/b/R08/registry/enterprises/new"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "页面测试有限公司"),
            ("uscc", "91350100M000100Y44"),
            ("region_code", "350105"),
            ("industry", "I"),
            ("founded_on", "2020-01-01"),
            ("registered_capital_yuan", "100"),
            ("employees", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error-uscc\"") && html.contains("校验码"), "{html}");
    assert!(html.contains("value=\"页面测试有限公司\""), "input kept");
    let r = b
        .post(app.url("/b/R08/registry/enterprises/new"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "页面测试有限公司"),
            ("uscc", "91350100M000100Y43"),
            ("region_code", "350105"),
            ("industry", "I"),
            ("founded_on", "2020-01-01"),
            ("registered_capital_yuan", "100"),
            ("employees", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let detail = b
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains("页面测试有限公司") && detail.contains("100.00 元"));
    // People are listed masked.
    let list = b
        .get(app.url("/b/R08/registry/persons"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("***********"));
    // Markup typed into a field is escaped, never executed.
    let admin = app.api_as("fz-admin").await;
    let mut e = valid_enterprise();
    e["name"] = json!("<script>alert(1)</script>有限公司");
    e["uscc"] = json!(chuangtong_domain::Uscc::with_check_char("91350105MA9999999")
        .unwrap()
        .as_str());
    assert_eq!(
        admin.post("/api/v1/bases/R08/enterprises", &e).await.status(),
        StatusCode::CREATED
    );
    let page = b
        .get(app.url("/b/R08/registry/enterprises?q=script"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&#60;script&#62;alert(1)") && !page.contains("<script>alert(1)"),
        "{page}"
    );
}
both!(the_registration_page_shows_field_errors_and_keeps_input);
