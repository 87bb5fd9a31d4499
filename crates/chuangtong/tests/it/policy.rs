//! Policies as rules: the library, 政策计算器 with explanations, 精准推送,
//! budget simulation, 免申即享 grants with provenance, versions, facts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{field_codes, TestApp};

async fn policy_id(api: &crate::helpers::Api, title_part: &str) -> String {
    let list = api.get_json("/api/v1/bases/R08/policies").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"].as_str().unwrap().contains(title_part))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn the_calculator_answers_every_policy_with_reasons(app: &TestApp) {
    let ent = app.api_as("fz-enterprise").await;
    let me = ent.get_json("/api/v1/me").await["bases"][0]["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let answers = ent.get_json(&format!("/api/v1/bases/R08/calculator/{me}")).await;
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 5);
    for a in answers {
        assert!(["yes", "no", "unknown"].contains(&a["eligible"].as_str().unwrap()));
        assert!(!a["explanation"].as_str().unwrap().is_empty());
        assert_eq!(a["policy_hash"].as_str().unwrap().len(), 64);
        if a["eligible"] == "yes" {
            assert!(a["amount_fen"].is_i64());
        }
    }
    // Another firm's calculator is not this enterprise's business.
    let other = app.text(&format!("SELECT id FROM enterprises WHERE id <> '{me}' AND base_id = (SELECT id FROM bases WHERE code = 'R08') LIMIT 1")).await;
    assert_eq!(
        ent.get(&format!("/api/v1/bases/R08/calculator/{other}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A missing fact makes the answer "unknown" and says which fact to supply.
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/enterprises/{me}/facts"),
            &json!({ "facts": { "严重失信": false, "纳税额": 1000000, "纳税信用等级": "A" } }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    sqlx::query("DELETE FROM enterprise_facts WHERE enterprise_id = $1 AND fact = '纳税额'")
        .bind(&me)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let answers = ent.get_json(&format!("/api/v1/bases/R08/calculator/{me}")).await;
    let tax = answers
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "税融通")
        .unwrap()
        .clone();
    assert_eq!(tax["eligible"], "unknown");
    assert!(
        tax["explanation"].as_str().unwrap().contains("补充以下信息后可判断"),
        "{}",
        tax["explanation"]
    );
    assert!(tax["missing_facts"].as_array().unwrap().iter().any(|f| f == "纳税额"));
    // Supplying it gives the amount: 1,000,000 fen × 5 (grade A), exact.
    ent.post(
        &format!("/api/v1/bases/R08/enterprises/{me}/facts"),
        &json!({ "facts": { "纳税额": 1000000 } }),
    )
    .await;
    let answers = ent.get_json(&format!("/api/v1/bases/R08/calculator/{me}")).await;
    let tax = answers
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "税融通")
        .unwrap()
        .clone();
    assert_eq!(
        (tax["eligible"].as_str(), tax["amount_fen"].as_i64()),
        (Some("yes"), Some(5_000_000))
    );

    // Bad facts are refused field by field and change nothing.
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/enterprises/{me}/facts"),
            &json!({ "facts": { "纳税信用等级": "Z", "不存在": 1 } }),
        )
        .await;
    assert_eq!(field_codes(r).await.len(), 2);
    let r = ent
        .post(
            &format!("/api/v1/bases/R08/enterprises/{me}/facts"),
            &json!({ "facts": { "从业人数": 5 } }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("facts".into(), "facts.registry_owned".into())]
    );

    // The page renders the same answers.
    let b = app.browser_as("fz-enterprise").await;
    let html = b
        .get(app.url("/b/R08/calculator"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("政策计算器") && html.contains("税融通") && !html.contains("5,000,000.00"));
    assert!(html.contains("50,000.00 元"), "税融通 amount shown in yuan");
}
both!(the_calculator_answers_every_policy_with_reasons);

async fn rules_are_checked_and_versions_apply_by_date(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let bad = json!({ "title": "测试政策", "issuer": "测试", "source": "policy t \"t\"\nrequire \"x\": 从业人数 >>= 5\n", "effective_from": "2026-01-01" });
    let r = admin.post("/api/v1/bases/R08/policies", &bad).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "source");
    assert!(
        body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("第2行"),
        "{body}"
    );
    let src = "policy small \"小微企业奖励\"\nparam 奖励: money = 1万元\nrequire \"小微企业\": 小微企业\nrequire \"未失信\": not 严重失信\namount = 奖励\n";
    let r = admin.post("/api/v1/bases/R08/policies", &json!({ "title": "小微企业奖励", "issuer": "测试局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "100000" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // A draft is invisible to enterprises until published.
    let ent = app.api_as("fz-enterprise").await;
    assert_eq!(
        ent.get(&format!("/api/v1/bases/R08/policies/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin
            .post(&format!("/api/v1/bases/R08/policies/{id}/publish"), &json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let p = ent.get_json(&format!("/api/v1/bases/R08/policies/{id}")).await;
    assert_eq!(p["current_version"]["version"], 1);
    let before = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{id}/matches"))
        .await;

    // Version 2 from today doubles the award; version 1 stops today.
    let today = chuangtong::storage::time::today().to_string();
    let src2 = src.replace("1万元", "2万元");
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{id}/versions"),
            &json!({ "source": src2, "effective_from": today }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p = ent.get_json(&format!("/api/v1/bases/R08/policies/{id}")).await;
    assert_eq!(p["current_version"]["version"], 2);
    let after = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{id}/matches"))
        .await;
    assert_eq!(after["eligible"], before["eligible"]);
    assert_eq!(
        after["cost_fen"].as_i64().unwrap(),
        2 * before["cost_fen"].as_i64().unwrap()
    );
    assert_eq!(
        app.text(&format!(
            "SELECT effective_to FROM policy_versions WHERE policy_id = '{id}' AND version = 1"
        ))
        .await,
        today
    );
    assert_eq!(
        ent.post(&format!("/api/v1/bases/R08/policies/{id}/publish"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
both!(rules_are_checked_and_versions_apply_by_date);

async fn matching_simulation_and_grants(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let award = policy_id(&admin, "孵化载体认定奖励").await;
    let m = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{award}/matches"))
        .await;
    // Count independently from the stored facts: operators of a recognised carrier, not blacklisted.
    let expected = app.scalar(
        "SELECT COUNT(*) FROM enterprise_facts c JOIN enterprise_facts b ON b.enterprise_id = c.enterprise_id AND b.fact = '严重失信' \
         WHERE c.fact = '运营载体级别' AND c.value_json <> '\"none\"' AND b.value_json = 'false'",
    ).await;
    assert!(expected > 0);
    assert_eq!(m["eligible"].as_i64().unwrap(), expected);
    let sum: i64 = m["firms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["amount_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(m["cost_fen"].as_i64().unwrap(), sum);
    assert!(m["firms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| [10_000_000, 50_000_000, 100_000_000].contains(&f["amount_fen"].as_i64().unwrap())));

    // 免申即享: one grant per qualifying firm, with provenance; a second run grants nobody twice.
    let run = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/grants"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(run["created"].as_i64().unwrap(), expected);
    assert_eq!(run["total_fen"], m["cost_fen"]);
    let again = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/grants"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (again["created"].as_i64(), again["already_granted"].as_i64()),
        (Some(0), Some(expected))
    );
    let facts = app.text("SELECT facts_json FROM policy_grants LIMIT 1").await;
    assert!(facts.contains("运营载体级别") && facts.contains("模拟数据"), "{facts}");
    let hash = app.text("SELECT policy_hash FROM policy_grants LIMIT 1").await;
    assert_eq!(hash.len(), 64);
    // A policy that needs an application cannot be granted this way.
    let tax = policy_id(&admin, "税融通").await;
    let r = admin
        .post(&format!("/api/v1/bases/R08/policies/{tax}/grants"), &json!({}))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "policy.not_no_application"
    );

    // Budget simulation: lowering the 税融通 cap lowers the cost, never raises it.
    let sim = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{tax}/simulate"),
            &json!({ "params": { "上限": 1_000_000 } }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(sim["before"]["eligible"], sim["after"]["eligible"]);
    assert!(sim["after"]["cost_fen"].as_i64().unwrap() <= sim["before"]["cost_fen"].as_i64().unwrap());
    assert!(sim["after"]["firms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["amount_fen"].as_i64().unwrap() <= 1_000_000));
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{tax}/simulate"),
            &json!({ "params": { "没有这个参数": 1 } }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("params".into(), "policy.unknown_param".into())]
    );
    // Stewards see matches but cannot simulate or grant.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward
            .get(&format!("/api/v1/bases/R08/policies/{award}/matches"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        steward
            .post(&format!("/api/v1/bases/R08/policies/{award}/grants"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
both!(matching_simulation_and_grants);
