//! 影响预览 before publishing, budget simulation of scalar and table
//! parameters, 补发与追回 after a version correction (exact fen), and
//! 精准推送 notices that never reach a firm twice.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, TestApp};

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

/// enterprise id → fact → JSON value, read straight from the table.
async fn stored_facts(app: &TestApp) -> BTreeMap<String, BTreeMap<String, Value>> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT enterprise_id, fact, value_json FROM enterprise_facts")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for r in rows {
        let v: String = r.get(2);
        out.entry(r.get(0))
            .or_default()
            .insert(r.get(1), serde_json::from_str(&v).unwrap());
    }
    out
}

/// enterprise id → (high_tech, employees, industry)
async fn registry(app: &TestApp) -> BTreeMap<String, (bool, i64, String)> {
    use sqlx::Row;
    sqlx::query(
        "SELECT e.id, e.high_tech, e.employees, e.industry FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08'",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), (r.get::<i64, _>(1) == 1, r.get(2), r.get(3))))
    .collect()
}

fn sum(groups: &Value, field: &str) -> i64 {
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g[field].as_i64().unwrap())
        .sum()
}

async fn impact_preview_before_publishing(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let src = "policy ht \"高新企业奖励\"\nparam 奖励: money = 1万元\nrequire \"高新技术企业\": 高新技术企业\nrequire \"未失信\": not 严重失信\namount = 奖励\n";
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": "高新企业奖励", "issuer": "科技局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "100000" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    // Expected from the tables: high-tech firms that are not blacklisted.
    let facts = stored_facts(app).await;
    let reg = registry(app).await;
    let not_blacklisted = |e: &str| facts.get(e).and_then(|f| f.get("严重失信")) == Some(&json!(false));
    let eligible: Vec<&String> = reg
        .iter()
        .filter(|(e, (ht, _, _))| *ht && not_blacklisted(e))
        .map(|(e, _)| e)
        .collect();
    assert!(eligible.len() > 3);
    let unknown = reg
        .iter()
        .filter(|(e, (ht, _, _))| *ht && facts.get(*e).and_then(|f| f.get("严重失信")).is_none())
        .count();

    let imp = admin.get_json(&format!("/api/v1/bases/R08/policies/{id}/impact")).await;
    assert_eq!(imp["policy_state"], "draft");
    assert_eq!(imp["firms"].as_i64().unwrap(), reg.len() as i64);
    assert_eq!(imp["eligible"].as_i64().unwrap(), eligible.len() as i64);
    assert_eq!(imp["unknown"].as_i64().unwrap(), unknown as i64);
    assert_eq!(imp["cost_fen"].as_i64().unwrap(), eligible.len() as i64 * 1_000_000);
    assert_eq!(
        imp["over_budget_fen"].as_i64().unwrap(),
        (eligible.len() as i64 * 1_000_000 - 10_000_000).max(0)
    );
    // Every split adds up, and the industry split matches the registry section by section.
    for split in ["by_industry", "by_size", "by_park"] {
        assert_eq!(sum(&imp[split], "eligible"), eligible.len() as i64, "{split}");
        assert_eq!(sum(&imp[split], "firms"), reg.len() as i64, "{split}");
        assert_eq!(
            sum(&imp[split], "cost_fen"),
            imp["cost_fen"].as_i64().unwrap(),
            "{split}"
        );
    }
    for g in imp["by_industry"].as_array().unwrap() {
        let section = g["key"].as_str().unwrap();
        let n = eligible.iter().filter(|e| reg[e.as_str()].2 == section).count();
        assert_eq!(g["eligible"].as_i64().unwrap(), n as i64, "section {section}");
    }
    let parks: Vec<&str> = imp["by_park"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert!(
        parks.iter().all(|p| p.ends_with("双创服务园区")),
        "firms fall in their district's park: {parks:?}"
    );
    assert!(imp["by_size"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| ["large", "medium", "small", "micro", "unknown"].contains(&g["key"].as_str().unwrap())));

    // Overlap with the carrier award in force: high-tech firms that also run a recognised carrier.
    let award: BTreeMap<&str, i64> = [
        ("national", 100_000_000),
        ("provincial", 50_000_000),
        ("municipal", 10_000_000),
    ]
    .into_iter()
    .collect();
    let (mut both, mut other_fen) = (0i64, 0i64);
    for e in &eligible {
        if let Some(Value::String(level)) = facts.get(*e).and_then(|f| f.get("运营载体级别")) {
            if let Some(a) = award.get(level.as_str()) {
                both += 1;
                other_fen += a;
            }
        }
    }
    let o = imp["overlaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["title"].as_str().unwrap().contains("孵化载体"))
        .unwrap()
        .clone();
    assert!(both > 0);
    assert_eq!(
        (o["both"].as_i64(), o["this_fen"].as_i64(), o["other_fen"].as_i64()),
        (Some(both), Some(both * 1_000_000), Some(other_fen))
    );
    assert_eq!(
        imp["overlaps"].as_array().unwrap().len(),
        5,
        "the five demo policies in force"
    );
    assert!(imp["change"].is_null(), "a first version has nothing to compare with");

    // A changed version (from 2099): 2万元, only firms under 100 people.
    let src2 = src
        .replace("1万元", "2万元")
        .replace("amount", "require \"百人以下\": 从业人数 < 100\namount");
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{id}/versions"),
            &json!({ "source": src2, "effective_from": "2099-01-01" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let imp2 = admin.get_json(&format!("/api/v1/bases/R08/policies/{id}/impact")).await;
    assert_eq!(
        (imp2["version"].as_i64(), imp2["in_force_version"].as_i64()),
        (Some(2), Some(1))
    );
    let c = &imp2["change"];
    assert_eq!((c["from"].as_str(), c["to"].as_str()), (Some("第1版"), Some("第2版")));
    let small = eligible.iter().filter(|e| reg[e.as_str()].1 < 100).count() as i64;
    let large = eligible.len() as i64 - small;
    assert_eq!(c["gains"].as_array().unwrap().len() as i64, small);
    assert_eq!(c["losses"].as_array().unwrap().len() as i64, large);
    assert!(c["gains"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["delta_fen"] == 1_000_000 && d["before_fen"] == 1_000_000 && d["after_fen"] == 2_000_000));
    assert!(c["losses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["delta_fen"] == -1_000_000 && d["after_fen"].is_null()));
    assert_eq!(c["cost_after_fen"].as_i64().unwrap(), small * 2_000_000);
    // Version 1 on request is still the first version.
    let v1 = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{id}/impact?version=1"))
        .await;
    assert_eq!(v1["cost_fen"], imp["cost_fen"]);
    let r = admin
        .get(&format!("/api/v1/bases/R08/policies/{id}/impact?version=9"))
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("version".into(), "policy.unknown_version".into())]
    );

    // Base admins only; the page shows the same figures.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward
            .get(&format!("/api/v1/bases/R08/policies/{id}/impact"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/policies/{id}/impact")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("影响预览") && html.contains("谁多得、谁少得") && html.contains("按园区"));
    assert!(
        html.contains(&format!("<strong>{}</strong> 家符合", small)),
        "latest version previewed"
    );
}
both!(impact_preview_before_publishing);

async fn simulation_of_scalars_rates_and_table_entries(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let tax = policy_id(&admin, "税融通").await;
    // 税融通 with grade A at 6× instead of 5×, computed independently from the stored facts.
    let facts = stored_facts(app).await;
    let cost = |a_multiple: i64| -> i64 {
        facts
            .values()
            .filter(|f| f.get("严重失信") == Some(&json!(false)))
            .filter_map(|f| {
                let paid = f.get("纳税额")?.as_i64()?;
                let m = match f.get("纳税信用等级")?.as_str()? {
                    "A" => a_multiple,
                    "B" => 3,
                    "C" => 1,
                    _ => return None,
                };
                (paid >= 1).then(|| (paid * m).min(300_000_000))
            })
            .sum()
    };
    let sim = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{tax}/simulate"),
            &json!({ "params": { "倍数": { "A": 6 } } }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(sim["before"]["cost_fen"].as_i64().unwrap(), cost(5));
    assert_eq!(sim["after"]["cost_fen"].as_i64().unwrap(), cost(6));
    assert!(cost(6) > cost(5));
    assert_eq!(sim["params_after"]["倍数"], "{\"A\": 6, \"B\": 3, \"C\": 1}");
    let changes = &sim["changes"];
    assert_eq!(
        changes["cost_after_fen"].as_i64().unwrap() - changes["cost_before_fen"].as_i64().unwrap(),
        changes["gains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["delta_fen"].as_i64().unwrap())
            .sum::<i64>()
    );
    assert!(changes["losses"].as_array().unwrap().is_empty());

    // A draft with a rate: simulated before it is published.
    let src = "policy rd \"研发补助\"\nparam 补助比例: rate = 10%\nparam 上限: money = 50万元\nrequire \"小微企业\": 小微企业\nrequire \"未失信\": not 严重失信\namount = min(研发费用 * 补助比例, 上限)\n";
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": "研发补助", "issuer": "科技局", "source": src, "effective_from": "2099-01-01" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let rd = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let reg = registry(app).await;
    let expected = |num: i64, den: i64| -> (i64, i64) {
        let mut n = 0;
        let mut total = 0;
        for (id, (_, employees, _)) in &reg {
            let Some(f) = facts.get(id) else { continue };
            if *employees < 100 && f["营业收入"].as_i64().unwrap() < 2_000_000_000 && f["严重失信"] == json!(false)
            {
                n += 1;
                total += (f["研发费用"].as_i64().unwrap() * num).div_euclid(den).min(50_000_000);
            }
        }
        (n, total)
    };
    let sim = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{rd}/simulate"),
            &json!({ "params": { "补助比例": "25%" } }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let (n, before) = expected(1, 10);
    let (_, after) = expected(1, 4);
    assert!(n > 0);
    assert_eq!(
        (sim["before"]["eligible"].as_i64(), sim["before"]["cost_fen"].as_i64()),
        (Some(n), Some(before))
    );
    assert_eq!(
        (sim["after"]["eligible"].as_i64(), sim["after"]["cost_fen"].as_i64()),
        (Some(n), Some(after))
    );
    assert_eq!(sim["params_after"]["补助比例"], "2500bp");
    // A shared threshold (前言) lowered: nobody is 小微 below one person, and the losses say so per firm.
    let sim = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{rd}/simulate"),
            &json!({ "params": { "小微企业从业人数上限": 1 } }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(sim["after"]["eligible"], 0);
    let lost = sim["changes"]["losses"].as_array().unwrap();
    assert_eq!(lost.len() as i64, n);
    assert_eq!(
        -lost.iter().map(|d| d["delta_fen"].as_i64().unwrap()).sum::<i64>(),
        before
    );
    // Bad values are refused per parameter.
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{tax}/simulate"),
            &json!({ "params": { "倍数": { "A": "很多" }, "上限": "3成" } }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![
            ("params".into(), "policy.bad_param".into()),
            ("params".into(), "policy.bad_param".into())
        ]
    );

    // The page form: one table entry, value written as in the rules.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!(
            "/b/R08/policies/{tax}/impact?param=%E5%80%8D%E6%95%B0&key=A&value=6"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shown = chuangtong_domain::Fen::from_fen(cost(6)).to_yuan_string_grouped();
    assert!(
        html.contains("id=\"simulation\"") && html.contains(&shown),
        "after cost {shown} shown"
    );
    let html = b
        .get(app.url(&format!(
            "/b/R08/policies/{tax}/impact?param=%E4%B8%8A%E9%99%90&value=abc"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"simulation-error\""));
}
both!(simulation_of_scalars_rates_and_table_entries);

async fn corrections_top_up_and_claw_back_exactly(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let award = policy_id(&admin, "孵化载体认定奖励").await;
    let run = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/grants"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let granted = run["created"].as_i64().unwrap();
    let count = |amount: i64| {
        let sql = format!("SELECT COUNT(*) FROM policy_grants WHERE policy_id = '{award}' AND amount_fen = {amount}");
        async move { app.scalar(&sql).await }
    };
    let (national, provincial, municipal) = (
        count(100_000_000).await,
        count(50_000_000).await,
        count(10_000_000).await,
    );
    assert_eq!(national + provincial + municipal, granted);
    assert!(provincial > 1 && municipal > 0);

    // After the grants, one provincial firm's live facts change; the correction must use the snapshot.
    let moved = app
        .text(&format!(
            "SELECT enterprise_id FROM policy_grants WHERE policy_id = '{award}' AND amount_fen = 50000000 ORDER BY enterprise_id LIMIT 1"
        ))
        .await;
    assert_eq!(
        admin
            .post(
                &format!("/api/v1/bases/R08/enterprises/{moved}/facts"),
                &json!({ "facts": { "运营载体级别": "none" } })
            )
            .await
            .status(),
        StatusCode::OK
    );

    // The correction from today: provincial 60万元, municipal carriers no longer rewarded.
    let src = "policy fuzhou_carrier_award \"孵化载体认定奖励（福州）\"\nparam 奖励: table[text -> money] = {\"national\": 100万元, \"provincial\": 60万元}\nrequire \"未列入严重失信主体名单\": not 严重失信\nrequire \"运营省级以上孵化载体\": 运营载体级别 in {\"provincial\", \"national\"}\namount = 奖励[运营载体级别]\n";
    let today = chuangtong::storage::time::today().to_string();
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{award}/versions"),
            &json!({ "source": src, "effective_from": today }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let plan = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{award}/corrections"))
        .await;
    assert_eq!(plan["version"], 2);
    assert_eq!(
        (plan["top_ups"].as_i64(), plan["top_up_fen"].as_i64()),
        (Some(provincial), Some(provincial * 10_000_000))
    );
    assert_eq!(
        (plan["clawbacks"].as_i64(), plan["clawback_fen"].as_i64()),
        (Some(municipal), Some(municipal * 10_000_000))
    );
    assert_eq!(plan["undecided"], 0);
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len() as i64, granted);
    assert!(
        items.iter().all(|i| i["reproduced"] == true),
        "stored facts and parameters reproduce every grant"
    );
    let moved_item = items.iter().find(|i| i["enterprise_id"] == moved.as_str()).unwrap();
    assert_eq!(
        (
            moved_item["kind"].as_str(),
            moved_item["delta_fen"].as_i64(),
            moved_item["entitled_fen"].as_i64()
        ),
        (Some("top_up"), Some(10_000_000), Some(60_000_000))
    );
    assert!(items
        .iter()
        .filter(|i| i["granted_fen"] == 10_000_000)
        .all(|i| i["kind"] == "clawback" && i["delta_fen"] == -10_000_000 && i["entitled_fen"] == 0));

    // Recording: one row per grant, once; the sum of deltas is top-ups minus clawbacks.
    let rec = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/corrections"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (
            rec["recorded"].as_i64(),
            rec["top_up_fen"].as_i64(),
            rec["clawback_fen"].as_i64()
        ),
        (
            Some(granted),
            Some(provincial * 10_000_000),
            Some(municipal * 10_000_000)
        )
    );
    let again = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{award}/corrections"),
            &json!({ "version": 2 }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (again["recorded"].as_i64(), again["already_recorded"].as_i64()),
        (Some(0), Some(granted))
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT CAST(SUM(delta_fen) AS BIGINT) FROM policy_adjustments WHERE policy_id = '{award}'"
        ))
        .await,
        (provincial - municipal) * 10_000_000
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM policy_adjustments WHERE state = 'pending'")
            .await,
        granted
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'policy.corrected'")
            .await,
        2
    );
    // A 免申即享 run under the corrected version grants nobody a second time.
    let run2 = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/grants"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(run2["created"], 0, "{run2}");

    // A later version reading a fact the snapshots lack leaves every grant undecided, never guessed.
    let src3 = src.replace("amount", "require \"有发明专利\": 发明专利数 >= 1\namount");
    admin
        .post(
            &format!("/api/v1/bases/R08/policies/{award}/versions"),
            &json!({ "source": src3, "effective_from": "2099-01-01" }),
        )
        .await;
    let plan3 = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{award}/corrections?version=3"))
        .await;
    // Municipal carriers fail a known condition; the others cannot be decided.
    assert_eq!(plan3["undecided"].as_i64(), Some(national + provincial));
    assert!(plan3["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "undecided")
        .unwrap()["missing_facts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "发明专利数"));
    // Earlier adjustments count: the moved firm's v2 top-up is part of what it already has.
    let m3 = plan3["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["enterprise_id"] == moved.as_str())
        .unwrap()
        .clone();
    assert_eq!(m3["adjusted_fen"], 10_000_000);

    // The page lists the same plan and records through a form.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/policies/{award}/corrections?version=2")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("补发 ") && html.contains("追回 ") && html.contains("已记录"),
        "{html}"
    );
    let r = b
        .post(app.url(&format!("/b/R08/policies/{award}/corrections")))
        .form(&[("_csrf", csrf_of(&html).as_str()), ("version", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward
            .post(&format!("/api/v1/bases/R08/policies/{award}/corrections"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
both!(corrections_top_up_and_claw_back_exactly);

async fn notify_reaches_each_qualifying_firm_once(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let ent = app.api_as("fz-enterprise").await;
    let me = ent.get_json("/api/v1/me").await["bases"][0]["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Make the demo enterprise qualify for the carrier award.
    admin
        .post(
            &format!("/api/v1/bases/R08/enterprises/{me}/facts"),
            &json!({ "facts": { "运营载体级别": "national", "严重失信": false } }),
        )
        .await;
    let award = policy_id(&admin, "孵化载体认定奖励").await;
    let m = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{award}/matches"))
        .await;
    let eligible = m["eligible"].as_i64().unwrap();
    let accounts_of_eligible = {
        let ids: Vec<String> = m["firms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("'{}'", f["enterprise_id"].as_str().unwrap()))
            .collect();
        app.scalar(&format!(
            "SELECT COUNT(*) FROM memberships WHERE subject_id IN ({})",
            ids.join(",")
        ))
        .await
    };
    assert!(accounts_of_eligible >= 1);

    let run = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/notify"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (
            run["notified"].as_i64(),
            run["already_notified"].as_i64(),
            run["accounts"].as_i64()
        ),
        (Some(eligible), Some(0), Some(accounts_of_eligible))
    );
    let sent = "SELECT COUNT(*) FROM notifications WHERE kind = 'policy.matched'";
    assert_eq!(app.scalar(sent).await, accounts_of_eligible);
    let mine = app
        .text(&format!(
            "SELECT n.body FROM notifications n JOIN memberships m ON m.user_id = n.user_id WHERE m.subject_id = '{me}' AND n.kind = 'policy.matched'"
        ))
        .await;
    assert!(mine.contains("1,000,000.00 元"), "{mine}");

    // Again: nobody is notified twice.
    let again = admin
        .post(&format!("/api/v1/bases/R08/policies/{award}/notify"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (again["notified"].as_i64(), again["already_notified"].as_i64()),
        (Some(0), Some(eligible))
    );
    assert_eq!(app.scalar(sent).await, accounts_of_eligible);

    // The page marks who was told and its button says so; stewards see the list but cannot notify.
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url(&format!("/b/R08/policies/{award}/matches")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("<span class=\"badge\">已通知</span>").count() as i64,
        eligible
    );
    let r = b
        .post(app.url(&format!("/b/R08/policies/{award}/notify")))
        .form(&[("_csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.scalar(sent).await, accounts_of_eligible);
    let steward = app.api_as("fz-steward").await;
    assert_eq!(
        steward
            .post(&format!("/api/v1/bases/R08/policies/{award}/notify"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let sb = app.browser_as("fz-steward").await;
    let r = sb
        .get(app.url(&format!("/b/R08/policies/{award}/matches")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.text().await.unwrap().contains("notify-form"));
}
both!(notify_reaches_each_qualifying_firm_once);
