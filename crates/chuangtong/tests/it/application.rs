//! Applications and review on both backends: the whole path for 核准制
//! (submit → 补正 → accept → 公示 with an objection → approve → pay →
//! evaluate) and 评审制 (reproducible draw with conflicts excluded, blind
//! scoring, trimmed aggregate); illegal transitions answer 409 and change
//! nothing; an expert reads only what was drawn for them; pay-out never
//! overdraws the budget and is idempotent; deadlines are working days.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

pub(crate) async fn base_id(app: &TestApp) -> String {
    app.text("SELECT id FROM bases WHERE code = 'R08'").await
}

/// Accounts with `role` acting for the given registry records.
pub(crate) async fn accounts(
    app: &TestApp,
    prefix: &str,
    role: chuangtong::auth::Role,
    subjects: &[String],
) -> Vec<Api> {
    let mut out = Vec::new();
    for (i, id) in subjects.iter().enumerate() {
        let username = format!("{prefix}-{i}");
        app.add_member(&username, role, Some(id)).await;
        out.push(app.api_as(&username).await);
    }
    out
}

pub(crate) async fn ids(app: &TestApp, table: &str, n: i64) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(&format!(
        "SELECT id FROM {table} WHERE base_id = $1 ORDER BY id LIMIT $2"
    ))
    .bind(base_id(app).await)
    .bind(n)
    .fetch_all(app.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

pub(crate) async fn policy(admin: &Api) -> String {
    let src = "policy open_call \"科技创新项目资助\"\nparam 资助: money = 50万元\nrequire \"有从业人员记录\": 从业人数 >= 0\namount = 资助\n";
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": "科技创新项目资助", "issuer": "测试局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "10000000" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = admin
        .post(&format!("/api/v1/bases/R08/policies/{id}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    id
}

pub(crate) fn programme_form(code: &str, policy_id: &str, mode: &str, budget: &str) -> Value {
    let today = chuangtong::storage::time::today();
    json!({
        "code": code, "name": format!("{code} 科技创新项目"), "policy_id": policy_id, "review_mode": mode,
        "opens_on": (today - Duration::days(1)).to_string(), "closes_on": (today + Duration::days(30)).to_string(),
        "form_fields": [{ "name": "project", "label": "项目名称", "required": true }, { "name": "staff", "label": "研发人员数", "kind": "integer" }],
        "rubric": [{ "key": "innovation", "label": "技术创新性", "weight": 60 }, { "key": "feasibility", "label": "可行性", "weight": 40 }],
        "experts_per_application": 5, "conflict_months": 12,
        "limits": { "pre_review": 5, "amendment": 5, "expert_review": 10, "publicity": 5, "approval": 5, "payout": 10 },
        "budget_yuan": budget
    })
}

pub(crate) async fn create(admin: &Api, form: Value) -> String {
    let r = admin.post("/api/v1/bases/R08/programmes", &form).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn ok(r: reqwest::Response, what: &str) -> Value {
    let s = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{what}: {s} {body}");
    body
}

pub(crate) async fn refused(r: reqwest::Response, code: &str) {
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
}

pub(crate) fn app_path(id: &str, action: &str) -> String {
    format!("/api/v1/bases/R08/applications/{id}/{action}")
}

pub(crate) async fn draft_and_submit(firm: &Api, programme: &str, yuan: &str) -> String {
    let r = firm
        .post(
            &format!("/api/v1/bases/R08/programmes/{programme}/applications"),
            &json!({ "form": { "project": "新型储能材料中试", "staff": "12" }, "amount_requested_yuan": yuan }),
        )
        .await;
    let id = ok(r, "draft").await["id"].as_str().unwrap().to_string();
    let c = ok(firm.post(&app_path(&id, "submit"), &json!({})).await, "submit").await;
    assert_eq!(c["state"], "submitted");
    id
}

/// The 公示期 has run out: move its due date into the past.
pub(crate) async fn end_publicity(app: &TestApp, id: &str) {
    sqlx::query(
        "UPDATE application_stages SET due_on = '2020-01-02' WHERE application_id = $1 AND stage = 'publicity'",
    )
    .bind(id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
}

async fn counts(app: &TestApp, id: &str) -> (i64, i64, String) {
    (
        app.scalar(&format!(
            "SELECT COUNT(*) FROM application_events WHERE application_id = '{id}'"
        ))
        .await,
        app.scalar("SELECT COUNT(*) FROM audit_log").await,
        app.text(&format!("SELECT state FROM applications WHERE id = '{id}'"))
            .await,
    )
}

pub(crate) async fn verify_books(app: &TestApp) {
    let l = chuangtong::ledger::verify(&app.state.db).await.unwrap();
    assert!(l.ok(), "{:?}", l.problems);
    let a = chuangtong::audit::verify(&app.state.db, &app.state.keys).await.unwrap();
    assert_eq!(a.problems, Vec::<String>::new());
}

async fn application_approval_path(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let investor = app.api_as("fz-investor").await;
    let pid = policy(&admin).await;

    // Bad programme input: every field error at once, nothing created.
    let mut bad = programme_form("P 1", &pid, "lottery", "-5");
    bad["limits"]["publicity"] = json!(-1);
    bad["closes_on"] = json!("2020-13-01");
    let codes: Vec<String> = field_codes(admin.post("/api/v1/bases/R08/programmes", &bad).await)
        .await
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    for c in [
        "programme.code",
        "programme.review_mode",
        "date.format",
        "programme.limit",
    ] {
        assert!(codes.contains(&c.to_string()), "{c} in {codes:?}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM programmes").await, 0);
    assert_eq!(
        steward
            .post(
                "/api/v1/bases/R08/programmes",
                &programme_form("P1", &pid, "approval", "100")
            )
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // Budget for one grant of 300,000 yuan and not two.
    let prog = create(&admin, programme_form("P1", &pid, "approval", "500000")).await;
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{prog}")).await;
    assert_eq!(p["budget_available_fen"], 50_000_000);
    assert_eq!(p["review_mode_label"], "核准制");

    let enterprises = ids(app, "enterprises", 3).await;
    let firms = accounts(app, "firm", chuangtong::auth::Role::Enterprise, &enterprises).await;
    let open = firms[0].get_json("/api/v1/bases/R08/open-programmes").await;
    let mine = open
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["programme"]["id"] == prog.as_str())
        .unwrap();
    assert_eq!(mine["eligible"], "yes");
    assert!(
        mine["explanation"].as_str().unwrap().contains("有从业人员记录"),
        "{mine}"
    );

    // Form validation.
    let r = firms[0]
        .post(
            &format!("/api/v1/bases/R08/programmes/{prog}/applications"),
            &json!({ "form": { "staff": "十二", "colour": "red" }, "amount_requested_yuan": "300000" }),
        )
        .await;
    let codes = field_codes(r).await;
    for want in [
        ("form.project", "text.required"),
        ("form.staff", "application.form_integer"),
        ("form.colour", "application.form_unknown"),
    ] {
        assert!(codes.contains(&(want.0.into(), want.1.into())), "{want:?} in {codes:?}");
    }
    let id = draft_and_submit(&firms[0], &prog, "300000").await;
    let cal = chuangtong::calendar::load(&app.state.db).await.unwrap();
    let today = chuangtong::storage::time::today();
    let c = firms[0].get_json(&format!("/api/v1/bases/R08/applications/{id}")).await;
    assert_eq!(c["case"]["eligible"], "yes");
    assert!(c["case"]["policy_hash"].as_str().unwrap().len() >= 32);
    assert_eq!(c["case"]["clock"]["stage"], "pre_review");
    assert_eq!(
        c["case"]["clock"]["due_on"],
        cal.add_working_days(today, 5).unwrap().to_string()
    );
    assert_eq!(c["case"]["clock"]["overdue"], false);
    // Another firm cannot see it; the firm cannot review itself.
    assert_eq!(
        firms[1]
            .get(&format!("/api/v1/bases/R08/applications/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        firms[0].post(&app_path(&id, "accept"), &json!({})).await.status(),
        StatusCode::FORBIDDEN
    );

    // Pre-review queue with its clock; 补正 needs a reason and starts the applicant's deadline.
    let q = steward.get_json("/api/v1/bases/R08/review-queue").await;
    assert_eq!(q[0]["id"], id.as_str());
    assert_eq!(q[0]["clock"]["stage_label"], "受理/预审");
    assert_eq!(
        field_codes(steward.post(&app_path(&id, "return"), &json!({ "reason": " " })).await).await,
        vec![("reason".to_string(), "text.required".to_string())]
    );
    let c = ok(
        steward
            .post(&app_path(&id, "return"), &json!({ "reason": "请补充研发人员名单" }))
            .await,
        "return",
    )
    .await;
    assert_eq!(c["state"], "returned_for_amendment");
    assert_eq!(c["clock"]["stage"], "amendment");
    assert_eq!(
        c["clock"]["due_on"],
        cal.add_working_days(today, 5).unwrap().to_string()
    );
    let seen = firms[0].get_json(&format!("/api/v1/bases/R08/applications/{id}")).await;
    assert_eq!(
        seen["history"].as_array().unwrap().last().unwrap()["reason"],
        "请补充研发人员名单"
    );
    let r = firms[0]
        .post(
            &app_path(&id, "form"),
            &json!({ "form": { "project": "新型储能材料中试", "staff": "15" }, "amount_requested_yuan": "300000" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ok(firms[0].post(&app_path(&id, "submit"), &json!({})).await, "resubmit").await["state"],
        "resubmitted"
    );
    assert_eq!(
        ok(steward.post(&app_path(&id, "accept"), &json!({})).await, "accept").await["state"],
        "accepted"
    );

    // Illegal moves answer 409 with the stable code and change nothing.
    let before = counts(app, &id).await;
    refused(
        admin
            .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "1" }))
            .await,
        "application.illegal_transition",
    )
    .await;
    refused(
        firms[0].post(&app_path(&id, "withdraw"), &json!({})).await,
        "application.illegal_transition",
    )
    .await;
    refused(
        admin.post(&app_path(&id, "pay"), &json!({})).await,
        "application.illegal_transition",
    )
    .await;
    refused(
        admin.post(&app_path(&id, "draw"), &json!({})).await,
        "application.wrong_mode",
    )
    .await;
    assert_eq!(counts(app, &id).await, before);

    // 公示 with one objection from any member.
    assert_eq!(
        ok(admin.post(&app_path(&id, "publish"), &json!({})).await, "publish").await["state"],
        "in_publicity"
    );
    let list = investor.get_json("/api/v1/bases/R08/publicity").await;
    assert_eq!(list[0]["application_id"], id.as_str());
    let o = ok(
        investor
            .post(
                &app_path(&id, "objections"),
                &json!({ "text": "该企业研发人员数与社保记录不符" }),
            )
            .await,
        "objection",
    )
    .await;
    let before = counts(app, &id).await;
    assert_eq!(before.2, "objection_open");
    refused(
        admin
            .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "300000" }))
            .await,
        "application.illegal_transition",
    )
    .await;
    assert_eq!(counts(app, &id).await, before);
    let c = ok(
        admin
            .post(
                &app_path(&id, "objections/resolve"),
                &json!({ "objection_id": o["id"], "upheld": false, "resolution": "经核查社保记录，人数属实" }),
            )
            .await,
        "resolve",
    )
    .await;
    assert_eq!(c["state"], "objection_resolved");
    refused(
        admin
            .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "300000" }))
            .await,
        "application.publicity_running",
    )
    .await;
    end_publicity(app, &id).await;
    refused(
        investor
            .post(&app_path(&id, "objections"), &json!({ "text": "迟到的异议" }))
            .await,
        "application.publicity_over",
    )
    .await;
    let r = admin
        .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "300001" }))
        .await;
    assert_eq!(field_codes(r).await[0].1, "application.amount_approved");
    let c = ok(
        admin
            .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "300000" }))
            .await,
        "approve",
    )
    .await;
    assert_eq!(c["state"], "approved");
    assert_eq!(c["clock"]["stage"], "payout");

    // Pay-out through the ledger, once.
    let c = ok(admin.post(&app_path(&id, "pay"), &json!({})).await, "pay").await;
    assert_eq!(c["state"], "paid");
    let again = ok(admin.post(&app_path(&id, "pay"), &json!({})).await, "pay again").await;
    assert_eq!(again["payout_transfer_id"], c["payout_transfer_id"]);
    let payable = format!("payable:enterprise:{}", enterprises[0]);
    assert_eq!(
        app.scalar(&format!(
            "SELECT credits_posted FROM ledger_accounts WHERE code = '{payable}'"
        ))
        .await,
        30_000_000
    );
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{prog}")).await;
    assert_eq!(p["budget_available_fen"], 20_000_000);

    // A second firm is approved for 300,000 too: the budget cannot pay it.
    let id2 = draft_and_submit(&firms[1], &prog, "300000").await;
    ok(steward.post(&app_path(&id2, "accept"), &json!({})).await, "accept 2").await;
    ok(admin.post(&app_path(&id2, "publish"), &json!({})).await, "publish 2").await;
    end_publicity(app, &id2).await;
    ok(
        admin
            .post(&app_path(&id2, "approve"), &json!({ "amount_approved_yuan": "300000" }))
            .await,
        "approve 2",
    )
    .await;
    let before = counts(app, &id2).await;
    refused(
        admin.post(&app_path(&id2, "pay"), &json!({})).await,
        "ledger.insufficient_funds",
    )
    .await;
    assert_eq!(counts(app, &id2).await, before);
    assert_eq!(before.2, "approved");

    // A third firm withdraws its draft; a withdrawn case accepts nothing.
    let id3 = draft_and_submit(&firms[2], &prog, "1000").await;
    assert_eq!(
        ok(firms[2].post(&app_path(&id3, "withdraw"), &json!({})).await, "withdraw").await["state"],
        "withdrawn"
    );
    refused(
        firms[2].post(&app_path(&id3, "submit"), &json!({})).await,
        "application.illegal_transition",
    )
    .await;

    let c = ok(
        steward
            .post(
                &app_path(&id, "evaluate"),
                &json!({ "score": 88, "summary": "中试线建成，新增就业12人", "feedback": "兑现及时" }),
            )
            .await,
        "evaluate",
    )
    .await;
    assert_eq!(c["state"], "evaluated");

    let report = admin
        .get_json(&format!("/api/v1/bases/R08/programmes/{prog}/report"))
        .await;
    assert_eq!(report["by_state"]["evaluated"], 1);
    assert_eq!(report["by_state"]["approved"], 1);
    assert_eq!(report["by_state"]["withdrawn"], 1);
    assert_eq!(report["submitted"], 3);
    assert_eq!(report["pass_rate_bp"], 10_000);
    assert_eq!(report["paid_fen"], 30_000_000);
    assert_eq!(report["approved_fen"], 60_000_000);
    let pre = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "pre_review")
        .unwrap();
    assert_eq!(pre["on_time_rate_bp"], 10_000);
    assert!(pre["closed"].as_i64().unwrap() >= 3, "{pre}");

    // Pages.
    let b = app.browser_as("firm-0").await;
    let html = b
        .get(app.url("/b/R08/programmes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("P1 科技创新项目") && html.contains("已完成绩效评价"),
        "{html}"
    );
    let html = b
        .get(app.url(&format!("/b/R08/applications/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("请补充研发人员名单") && html.contains("受理/预审"));
    let a = app.browser_as("fz-admin").await;
    let r = a
        .get(app.url(&format!("/b/R08/programmes/{prog}/report")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("通过率 100.00%"));
    let r = a.get(app.url("/b/R08/review-queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    verify_books(app).await;
}
both!(application_approval_path);

async fn application_panel_path(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let pid = policy(&admin).await;
    let prog = create(&admin, programme_form("P2", &pid, "panel", "1000000")).await;
    let enterprises = ids(app, "enterprises", 1).await;
    let firm = &accounts(app, "firm", chuangtong::auth::Role::Enterprise, &enterprises).await[0];
    let experts = ids(app, "experts", 8).await;
    // Expert 0 declares a conflict with the firm.
    let mine = accounts(app, "xself", chuangtong::auth::Role::Expert, &experts[..1]).await;
    let r = mine[0]
        .post(
            "/api/v1/bases/R08/expert-conflicts",
            &json!({ "expert_id": experts[0], "enterprise_id": enterprises[0], "reason": "曾任该企业技术顾问" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = mine[0]
        .post(
            "/api/v1/bases/R08/expert-conflicts",
            &json!({ "expert_id": experts[1], "enterprise_id": enterprises[0], "reason": "代别人申报" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let id = draft_and_submit(firm, &prog, "200000").await;
    ok(steward.post(&app_path(&id, "accept"), &json!({})).await, "accept").await;
    refused(
        admin.post(&app_path(&id, "publish"), &json!({})).await,
        "application.wrong_mode",
    )
    .await;
    let draw = ok(admin.post(&app_path(&id, "draw"), &json!({})).await, "draw").await;
    let drawn: Vec<String> = serde_json::from_value(draw["drawn"].clone()).unwrap();
    let pool: Vec<String> = serde_json::from_value(draw["pool"].clone()).unwrap();
    assert_eq!(drawn.len(), 5);
    assert!(!pool.contains(&experts[0]) && !drawn.contains(&experts[0]));
    assert!(draw["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e[0] == experts[0].as_str() && e[1].as_str().unwrap().contains("曾任该企业技术顾问")));
    // Reproducible from the recorded seed.
    let seed = u64::from_str_radix(draw["seed"].as_str().unwrap(), 16).unwrap();
    let loads: Vec<i64> = serde_json::from_value(draw["loads"].clone()).unwrap();
    assert_eq!(
        chuangtong::application::panel::draw_balanced(seed, &pool, &loads, 5),
        drawn
    );
    assert!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'application.draw_experts'")
            .await
            == 1
    );
    // Drawing again is illegal.
    refused(
        admin.post(&app_path(&id, "draw"), &json!({})).await,
        "application.illegal_transition",
    )
    .await;

    let panel = accounts(app, "expert", chuangtong::auth::Role::Expert, &drawn).await;
    // An expert not drawn sees nothing of it.
    let outsider = pool.iter().find(|x| !drawn.contains(x)).cloned();
    let outsider = match outsider {
        Some(x) => accounts(app, "outsider", chuangtong::auth::Role::Expert, &[x])
            .await
            .remove(0),
        None => mine.into_iter().next().unwrap(),
    };
    assert_eq!(
        outsider
            .get(&format!("/api/v1/bases/R08/applications/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(outsider.get_json("/api/v1/bases/R08/applications").await, json!([]));
    assert_eq!(
        outsider
            .post(
                &app_path(&id, "score"),
                &json!({ "scores": { "innovation": 90, "feasibility": 90 } })
            )
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = panel[0]
        .post(&app_path(&id, "score"), &json!({ "scores": { "innovation": 101 } }))
        .await;
    let codes = field_codes(r).await;
    assert!(
        codes.contains(&("scores.innovation".into(), "application.score".into())),
        "{codes:?}"
    );
    for (i, e) in panel.iter().enumerate() {
        let s = 90 - 10 * i as i64;
        let c = ok(
            e.post(
                &app_path(&id, "score"),
                &json!({ "scores": { "innovation": s, "feasibility": s } }),
            )
            .await,
            "score",
        )
        .await;
        // Experts never see the aggregate or each other's scores.
        assert_eq!(c["score_x100"], Value::Null);
        let seen = e.get_json(&format!("/api/v1/bases/R08/applications/{id}")).await;
        assert_eq!(seen["panel"], json!([]));
        assert_eq!(c["state"], if i < 4 { "under_expert_review" } else { "scored" });
    }
    refused(
        panel[0]
            .post(
                &app_path(&id, "score"),
                &json!({ "scores": { "innovation": 1, "feasibility": 1 } }),
            )
            .await,
        "application.not_under_review",
    )
    .await;
    let d = admin.get_json(&format!("/api/v1/bases/R08/applications/{id}")).await;
    // 9000 and 5000 dropped: (8000 + 7000 + 6000) / 3.
    assert_eq!(d["case"]["score_x100"], 7000);
    assert_eq!(d["panel"].as_array().unwrap().len(), 5);

    ok(admin.post(&app_path(&id, "publish"), &json!({})).await, "publish").await;
    end_publicity(app, &id).await;
    ok(
        admin
            .post(&app_path(&id, "approve"), &json!({ "amount_approved_yuan": "150000" }))
            .await,
        "approve",
    )
    .await;
    ok(admin.post(&app_path(&id, "pay"), &json!({})).await, "pay").await;
    let report = admin
        .get_json(&format!("/api/v1/bases/R08/programmes/{prog}/report"))
        .await;
    assert_eq!(report["by_state"]["paid"], 1);
    assert_eq!(report["paid_fen"], 15_000_000);

    // The same firm in another panel programme: this panel is excluded (回避期).
    let prog3 = create(&admin, programme_form("P3", &pid, "panel", "1000000")).await;
    let id3 = draft_and_submit(firm, &prog3, "100000").await;
    ok(steward.post(&app_path(&id3, "accept"), &json!({})).await, "accept 3").await;
    let r = admin.post(&app_path(&id3, "draw"), &json!({})).await;
    if r.status() == StatusCode::OK {
        let d3: Value = r.json().await.unwrap();
        for x in &drawn {
            assert!(d3["excluded"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e[0] == x.as_str() && e[1].as_str().unwrap().contains("评审过")));
        }
    } else {
        // Too few experts left in the demo pool: the refusal says so and nothing changes.
        refused(r, "application.experts_insufficient").await;
        assert_eq!(
            app.text(&format!("SELECT state FROM applications WHERE id = '{id3}'"))
                .await,
            "accepted"
        );
    }
    verify_books(app).await;
}
both!(application_panel_path);

/// The end-to-end run: a 评审制 call, 30 applications (one through
/// the pages), pre-review with one 补正, draw and scoring (one score through
/// the pages), ranking and the funding line, 公示 with one objection,
/// approval, pay-out and evaluation; the report and the books agree.
async fn application_full_programme(app: &TestApp) {
    use std::collections::BTreeMap;
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let pid = policy(&admin).await;
    // 30 × 100,000 yuan asked, 2,500,000 yuan of budget: 25 above the line.
    let mut form = programme_form("P30", &pid, "panel", "2500000");
    form["required_documents"] = json!([{ "key": "plan", "label": "项目计划书" }]);
    let prog = create(&admin, form).await;
    let enterprises = ids(app, "enterprises", 30).await;
    assert_eq!(enterprises.len(), 30);
    let firms = accounts(app, "firm", chuangtong::auth::Role::Enterprise, &enterprises).await;

    // Firm 0 applies through the pages.
    let b0 = app.browser_as("firm-0").await;
    let html = b0
        .get(app.url("/b/R08/programmes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let r = b0
        .post(app.url(&format!("/b/R08/programmes/{prog}/apply")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("f.project", "智能网联测试平台"),
            ("f.staff", "8"),
            ("amount_requested_yuan", "100000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let first = location
        .split("/applications/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    // The plan is required: without it the page says so; uploaded, submission goes through.
    let r = b0
        .post(app.url(&format!("/b/R08/applications/{first}/submit")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("err="));
    let plan = crate::application_documents::pdf("项目计划书");
    let r = crate::application_documents::upload(&firms[0], &first, "plan", "计划书.pdf", &plan).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = b0
        .post(app.url(&format!("/b/R08/applications/{first}/submit")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));
    let mut cases = vec![first];
    for f in &firms[1..] {
        let r = f
            .post(
                &format!("/api/v1/bases/R08/programmes/{prog}/applications"),
                &json!({ "form": { "project": "新型储能材料中试", "staff": "12" }, "amount_requested_yuan": "100000" }),
            )
            .await;
        let id = ok(r, "draft").await["id"].as_str().unwrap().to_string();
        let r = crate::application_documents::upload(f, &id, "plan", "计划书.pdf", &plan).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        ok(f.post(&app_path(&id, "submit"), &json!({})).await, "submit").await;
        cases.push(id);
    }
    // One content, stored once for the base however many applications carry it.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM document_blobs").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM application_documents").await, 30);
    assert_eq!(
        steward
            .get_json("/api/v1/bases/R08/review-queue")
            .await
            .as_array()
            .unwrap()
            .len(),
        30
    );
    // One case sat too long: overdue, flagged, escalated up the tree, first in the queue.
    sqlx::query(
        "UPDATE application_stages SET due_on = '2020-01-02' WHERE application_id = $1 AND stage = 'pre_review'",
    )
    .bind(&cases[2])
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let q = steward.get_json("/api/v1/bases/R08/review-queue").await;
    assert_eq!(q[0]["id"], cases[2].as_str());
    assert_eq!(q[0]["clock"]["overdue"], true);
    assert!(q[0]["escalated_to"].is_string(), "{}", q[0]);
    assert!(q[1]["escalated_to"].is_null());
    let firm_view = firms[2]
        .get_json(&format!("/api/v1/bases/R08/applications/{}", cases[2]))
        .await;
    assert_eq!(firm_view["case"]["clock"]["overdue"], true);

    // Pre-review: one 补正, the rest accepted.
    ok(
        steward
            .post(&app_path(&cases[1], "return"), &json!({ "reason": "缺少财务审计报告" }))
            .await,
        "return",
    )
    .await;
    ok(
        firms[1].post(&app_path(&cases[1], "submit"), &json!({})).await,
        "resubmit",
    )
    .await;
    for id in &cases {
        ok(steward.post(&app_path(id, "accept"), &json!({})).await, "accept").await;
    }

    // Draws, then every drawn expert scores; firm i gets 60 + i on both criteria.
    let mut drawn_for: Vec<Vec<String>> = Vec::new();
    for id in &cases {
        let d = ok(admin.post(&app_path(id, "draw"), &json!({})).await, "draw").await;
        drawn_for.push(serde_json::from_value(d["drawn"].clone()).unwrap());
    }
    let mut all: Vec<String> = drawn_for.iter().flatten().cloned().collect();
    all.sort();
    all.dedup();
    let experts: BTreeMap<String, Api> = all
        .iter()
        .cloned()
        .zip(accounts(app, "expert", chuangtong::auth::Role::Expert, &all).await)
        .collect();
    // One score through the page's rubric form.
    let web_expert = all.iter().position(|x| *x == drawn_for[0][0]).unwrap();
    let bx = app.browser_as(&format!("expert-{web_expert}")).await;
    let html = bx
        .get(app.url(&format!("/b/R08/applications/{}", cases[0])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("技术创新性") && html.contains("id=\"score\""));
    let csrf_x = csrf_of(&html);
    let r = bx
        .post(app.url(&format!("/b/R08/applications/{}/score", cases[0])))
        .form(&[
            ("_csrf", csrf_x.as_str()),
            ("s.innovation", "60"),
            ("s.feasibility", "60"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"].to_str().unwrap().contains("ok="),
        "{:?}",
        r.headers()
    );
    for (i, id) in cases.iter().enumerate() {
        for (k, x) in drawn_for[i].iter().enumerate() {
            if i == 0 && k == 0 {
                continue;
            }
            let s = 60 + i as i64;
            ok(
                experts[x]
                    .post(
                        &app_path(id, "score"),
                        &json!({ "scores": { "innovation": s, "feasibility": s } }),
                    )
                    .await,
                "score",
            )
            .await;
        }
    }
    let report = admin
        .get_json(&format!("/api/v1/bases/R08/programmes/{prog}/report"))
        .await;
    assert_eq!(report["by_state"]["scored"], 30);
    let ranking = report["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 30);
    assert_eq!(ranking[0]["application_id"], cases[29].as_str());
    assert_eq!(ranking[0]["score_x100"], 8900);
    let above: Vec<String> = ranking
        .iter()
        .filter(|x| x["above_line"] == true)
        .map(|x| x["application_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(above.len(), 25);

    // Below the line: rejected with the reason; above: 公示, one objection.
    for x in ranking.iter().filter(|x| x["above_line"] == false) {
        let id = x["application_id"].as_str().unwrap();
        ok(
            admin
                .post(&app_path(id, "reject"), &json!({ "reason": "评分低于资助线" }))
                .await,
            "reject",
        )
        .await;
    }
    for id in &above {
        ok(admin.post(&app_path(id, "publish"), &json!({})).await, "publish").await;
    }
    let investor = app.api_as("fz-investor").await;
    let o = ok(
        investor
            .post(&app_path(&above[3], "objections"), &json!({ "text": "项目与往年重复" }))
            .await,
        "object",
    )
    .await;
    // The admin resolves it on the case page (an empty note is refused first).
    let page_admin = app.browser_as("fz-admin").await;
    let case_url = app.url(&format!("/b/R08/applications/{}", above[3]));
    let html = page_admin.get(&case_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("项目与往年重复") && html.contains("处理异议"), "{html}");
    let csrf = csrf_of(&html);
    let resolve = |note: &'static str| {
        let (client, url, csrf, oid) = (
            page_admin.clone(),
            format!("{case_url}/resolve-objection"),
            csrf.clone(),
            o["id"].as_str().unwrap().to_string(),
        );
        let origin = app.address.clone();
        async move {
            // The form answers with a redirect back to the case page and its notice.
            let r = client
                .post(url)
                .form(&[
                    ("_csrf", csrf.as_str()),
                    ("objection_id", oid.as_str()),
                    ("upheld", "0"),
                    ("resolution", note),
                ])
                .send()
                .await
                .unwrap();
            let to = r.headers()["location"].to_str().unwrap().to_string();
            client
                .get(format!("{origin}{to}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(resolve("").await.contains("请填写处理意见"));
    let html = resolve("经核查不重复").await;
    assert!(html.contains("异议不成立：经核查不重复"), "{html}");
    for id in &above {
        end_publicity(app, id).await;
        ok(
            admin
                .post(&app_path(id, "approve"), &json!({ "amount_approved_yuan": "100000" }))
                .await,
            "approve",
        )
        .await;
        ok(admin.post(&app_path(id, "pay"), &json!({})).await, "pay").await;
        ok(
            steward
                .post(
                    &app_path(id, "evaluate"),
                    &json!({ "score": 80, "summary": "按期完成" }),
                )
                .await,
            "evaluate",
        )
        .await;
    }
    let report = admin
        .get_json(&format!("/api/v1/bases/R08/programmes/{prog}/report"))
        .await;
    assert_eq!(report["submitted"], 30);
    assert_eq!(report["by_state"]["evaluated"], 25);
    assert_eq!(report["by_state"]["rejected"], 5);
    assert_eq!(report["pass_rate_bp"], 8333);
    assert_eq!(report["paid_fen"], 250_000_000);
    assert_eq!(report["programme"]["budget_available_fen"], 0);
    let stage = |name: &str| {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("pre_review")["closed"], 31);
    assert_eq!(stage("pre_review")["on_time"], 30);
    assert_eq!(stage("pre_review")["on_time_rate_bp"], 9677);
    assert_eq!(stage("amendment")["closed"], 1);
    assert_eq!(stage("expert_review")["on_time_rate_bp"], 10_000);
    assert_eq!(stage("payout")["closed"], 25);
    let a = app.browser_as("fz-admin").await;
    let html = a
        .get(app.url(&format!("/b/R08/programmes/{prog}/report")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("通过率 83.33%") && html.contains("线下"));
    // Every panel agreed exactly: ICC(1) = 1, nobody harsh or lenient, no outliers.
    assert_eq!(report["agreement"]["icc_bp"], 10_000);
    assert_eq!(report["agreement"]["scores"], 150);
    assert!(report["agreement"]["outliers"].as_array().unwrap().is_empty());
    assert!(report["agreement"]["experts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["flag"] == ""));
    assert!(html.contains("ICC(1) = 1.0000"));
    // Departments: the staff who ended 31 pre-reviews, 25 approvals and 25 pay-outs.
    let closed = |stage: &str| -> i64 {
        report["departments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["stage"] == stage)
            .map(|d| d["closed"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(
        (closed("pre_review"), closed("approval"), closed("payout")),
        (31, 25, 25)
    );
    // Told at every step: the admins of the objection, each applicant of 补正, approval and pay-out.
    let told = |kind: &str, who: &str| {
        format!(
            "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.kind = '{kind}' AND u.username LIKE '{who}'"
        )
    };
    assert_eq!(app.scalar(&told("application.objection", "fz-admin")).await, 1);
    assert_eq!(app.scalar(&told("application.returned", "firm-%")).await, 1);
    assert_eq!(app.scalar(&told("application.rejected", "firm-%")).await, 5);
    assert_eq!(app.scalar(&told("application.approved", "firm-%")).await, 25);
    assert_eq!(app.scalar(&told("application.paid", "firm-%")).await, 25);
    verify_books(app).await;
}
both!(application_full_programme);
