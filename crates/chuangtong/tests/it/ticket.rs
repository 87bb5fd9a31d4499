//! Stewards and tickets on both backends: 首问负责 (a ticket goes to the
//! enterprise's steward), accept / reply / 转派 with history / resolve / rate /
//! reopen; illegal steps answer 409 (or 403 for the wrong party) and change
//! nothing; the pool is grabbed exactly once under concurrency; SLA clocks in
//! working hours and days flag overdue tickets; the rankings; isolation
//! between enterprises and bases; the pages.

use chrono::{Duration, Utc};
use chuangtong::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

const B: &str = "/api/v1/bases/R08";

async fn user_id(app: &TestApp, username: &str) -> String {
    app.text(&format!("SELECT id FROM users WHERE username = '{username}'"))
        .await
}

/// The enterprise fz-enterprise acts for.
async fn demo_enterprise(app: &TestApp) -> String {
    app.text(
        "SELECT m.subject_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'fz-enterprise'",
    )
    .await
}

/// Another enterprise of R08 with an account of its own.
async fn other_enterprise(app: &TestApp, username: &str, skip: i64) -> (String, Api) {
    let mine = demo_enterprise(app).await;
    let id: String = sqlx::query(
        "SELECT e.id FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R08' AND e.id <> $1 \
         ORDER BY e.id LIMIT 1 OFFSET $2",
    )
    .bind(&mine)
    .bind(skip)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap()
    .get(0);
    app.add_member(username, Role::Enterprise, Some(&id)).await;
    (id.clone(), app.api_as(username).await)
}

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn code_of(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

async fn step(api: &Api, id: &str, body: Value) -> reqwest::Response {
    api.post(&format!("{B}/tickets/{id}/events"), &body).await
}

async fn raise(api: &Api, category: &str, title: &str) -> Value {
    let r = api
        .post(
            &format!("{B}/tickets"),
            &json!({ "category": category, "title": title, "description": "需要协助办理，请联系。" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn assign(admin: &Api, enterprise: &str, steward: &str) {
    ok(
        admin
            .post(
                &format!("{B}/steward-assignments"),
                &json!({ "enterprise_id": enterprise, "steward_id": steward }),
            )
            .await,
        "assign steward",
    )
    .await;
}

async fn kinds_of(api: &Api) -> Vec<String> {
    let inbox = api.get_json(&format!("{B}/notifications")).await;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn ticket_goes_to_the_steward_and_through_every_step(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let enterprise = app.api_as("fz-enterprise").await;
    let first = app.api_as("fz-steward").await;
    app.add_member("gd-steward-2", Role::Steward, None).await;
    let second = app.api_as("gd-steward-2").await;
    let first_id = user_id(app, "fz-steward").await;
    let second_id = user_id(app, "gd-steward-2").await;
    let firm = demo_enterprise(app).await;

    // The admin assigns the steward; a non-steward account is refused.
    let r = admin
        .post(
            &format!("{B}/steward-assignments"),
            &json!({ "enterprise_id": firm, "steward_id": user_id(app, "fz-expert").await }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("steward_id".into(), "ticket.steward".into())]
    );
    assert_eq!(
        first
            .post(
                &format!("{B}/steward-assignments"),
                &json!({ "enterprise_id": firm, "steward_id": first_id })
            )
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assign(&admin, &firm, &first_id).await;
    let a = enterprise.get_json(&format!("{B}/steward-assignments/{firm}")).await;
    assert_eq!(a["steward_name"], "服务管家 陈管家");

    // Bad input: every field reported, nothing stored.
    let r = enterprise
        .post(
            &format!("{B}/tickets"),
            &json!({ "category": "lunch", "title": " ", "description": "" }),
        )
        .await;
    let codes = field_codes(r).await;
    assert_eq!(
        codes,
        vec![
            ("category".into(), "ticket.category".into()),
            ("title".into(), "ticket.required".into()),
            ("description".into(), "ticket.required".into())
        ]
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM tickets").await, 0);
    // Only enterprises raise tickets.
    let r = first
        .post(
            &format!("{B}/tickets"),
            &json!({ "category": "tax", "title": "x", "description": "y" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // 首问负责: the ticket lands with the enterprise's steward.
    let t = raise(&enterprise, "tax", "出口退税申报咨询").await;
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["state"], "open");
    assert_eq!(t["steward_id"], first_id.as_str());
    assert_eq!(t["category_label"], "税务");
    assert!(kinds_of(&first).await.contains(&"ticket.raised".to_string()));
    assert!(!kinds_of(&second).await.contains(&"ticket.raised".to_string()));

    // Wrong party or wrong state: refused, nothing changes.
    assert_eq!(
        code_of(
            step(&enterprise, &id, json!({ "event": "accept" })).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "forbidden"
    );
    assert_eq!(
        code_of(
            step(&second, &id, json!({ "event": "accept" })).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "ticket.not_owner"
    );
    assert_eq!(
        code_of(
            step(&first, &id, json!({ "event": "resolve", "note": "已办" })).await,
            StatusCode::CONFLICT
        )
        .await,
        "ticket.illegal_transition"
    );
    assert_eq!(
        code_of(
            step(&enterprise, &id, json!({ "event": "rate", "rating": 5 })).await,
            StatusCode::CONFLICT
        )
        .await,
        "ticket.illegal_transition"
    );
    assert_eq!(
        code_of(
            step(&first, &id, json!({ "event": "grab" })).await,
            StatusCode::CONFLICT
        )
        .await,
        "ticket.illegal_transition"
    );
    let unchanged = first.get_json(&format!("{B}/tickets/{id}")).await;
    assert_eq!(unchanged["ticket"]["state"], "open");
    assert_eq!(unchanged["ticket"]["version"], 0);

    // The enterprise adds information; the steward accepts and replies.
    ok(
        step(
            &enterprise,
            &id,
            json!({ "event": "comment", "note": "补充：去年营收 300 万元" }),
        )
        .await,
        "comment",
    )
    .await;
    let t = ok(step(&first, &id, json!({ "event": "accept" })).await, "accept").await;
    assert_eq!(t["state"], "accepted");
    assert!(t["responded_at"].is_string());
    assert_eq!(t["responded_by"], first_id.as_str());
    assert!(!t["response_overdue"].as_bool().unwrap());
    ok(
        step(&first, &id, json!({ "event": "reply", "note": "请准备出口报关单" })).await,
        "reply",
    )
    .await;
    assert!(kinds_of(&enterprise).await.contains(&"ticket.replied".to_string()));

    // 转派 needs a note and another steward.
    let r = step(&first, &id, json!({ "event": "hand_on", "to_steward": second_id })).await;
    assert_eq!(field_codes(r).await, vec![("note".into(), "ticket.required".into())]);
    let r = step(
        &first,
        &id,
        json!({ "event": "hand_on", "to_steward": first_id, "note": "x" }),
    )
    .await;
    assert_eq!(
        field_codes(r).await,
        vec![("to_steward".into(), "ticket.same_steward".into())]
    );
    let t = ok(
        step(
            &first,
            &id,
            json!({ "event": "hand_on", "to_steward": second_id, "note": "退税业务由专人办理" }),
        )
        .await,
        "hand on",
    )
    .await;
    assert_eq!(t["state"], "open");
    assert_eq!(t["steward_id"], second_id.as_str());
    assert_eq!(t["steward_name"], "gd-steward-2");
    assert!(kinds_of(&second).await.contains(&"ticket.handed_on".to_string()));
    // The first steward no longer owns it.
    assert_eq!(
        code_of(
            step(&first, &id, json!({ "event": "resolve", "note": "x" })).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "ticket.not_owner"
    );

    ok(step(&second, &id, json!({ "event": "accept" })).await, "accept 2").await;
    let t = ok(
        step(
            &second,
            &id,
            json!({ "event": "resolve", "note": "已协助完成退税申报" }),
        )
        .await,
        "resolve",
    )
    .await;
    assert_eq!(t["state"], "resolved");
    assert_eq!(t["resolved_by"], second_id.as_str());
    assert!(kinds_of(&enterprise).await.contains(&"ticket.resolved".to_string()));

    let r = step(&enterprise, &id, json!({ "event": "rate", "rating": 6 })).await;
    assert_eq!(field_codes(r).await, vec![("rating".into(), "ticket.rating".into())]);
    let t = ok(
        step(
            &enterprise,
            &id,
            json!({ "event": "rate", "rating": 2, "note": "太慢" }),
        )
        .await,
        "rate",
    )
    .await;
    assert_eq!(t["state"], "closed");
    assert_eq!(t["rating"], 2);
    assert!(kinds_of(&second).await.contains(&"ticket.rated".to_string()));

    // Reopened within the window: back to the steward who resolved it.
    let t = ok(
        step(&enterprise, &id, json!({ "event": "reopen", "note": "退税仍未到账" })).await,
        "reopen",
    )
    .await;
    assert_eq!(t["state"], "accepted");
    assert_eq!(t["steward_id"], second_id.as_str());
    assert_eq!(t["reopen_count"], 1);
    assert!(t["rating"].is_null());
    ok(
        step(&second, &id, json!({ "event": "resolve", "note": "已到账" })).await,
        "resolve 2",
    )
    .await;
    ok(
        step(&enterprise, &id, json!({ "event": "rate", "rating": 5 })).await,
        "rate 2",
    )
    .await;

    // Outside the window: refused.
    let old = chuangtong::storage::time::to_text(Utc::now() - Duration::days(8));
    sqlx::query("UPDATE tickets SET resolved_at = $1 WHERE id = $2")
        .bind(&old)
        .bind(&id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        code_of(
            step(&enterprise, &id, json!({ "event": "reopen", "note": "又有问题" })).await,
            StatusCode::CONFLICT
        )
        .await,
        "ticket.reopen_window"
    );

    // The history keeps every step, 转派 with both stewards; one audit entry each.
    let d = enterprise.get_json(&format!("{B}/tickets/{id}")).await;
    let events: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        vec![
            "raise", "comment", "accept", "reply", "hand_on", "accept", "resolve", "rate", "reopen", "resolve", "rate"
        ]
    );
    let hand_on = &d["history"][4];
    assert_eq!(hand_on["from_steward_name"], "服务管家 陈管家");
    assert_eq!(hand_on["to_steward_name"], "gd-steward-2");
    assert_eq!(hand_on["note"], "退税业务由专人办理");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE entity = 'ticket' AND entity_id = '{id}'"
        ))
        .await,
        11
    );
    let report = chuangtong::audit::verify(&app.state.db, &app.state.keys).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);

    // Withdrawal is for live tickets only.
    let t2 = raise(&enterprise, "other", "办公用品采购咨询").await;
    let id2 = t2["id"].as_str().unwrap();
    ok(step(&enterprise, id2, json!({ "event": "withdraw" })).await, "withdraw").await;
    assert_eq!(
        code_of(
            step(&first, id2, json!({ "event": "accept" })).await,
            StatusCode::CONFLICT
        )
        .await,
        "ticket.illegal_transition"
    );
}
both!(ticket_goes_to_the_steward_and_through_every_step);

async fn the_pool_is_grabbed_exactly_once(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let first = app.api_as("fz-steward").await;
    app.add_member("gd-steward-b", Role::Steward, None).await;
    let second = app.api_as("gd-steward-b").await;
    let first_id = user_id(app, "fz-steward").await;
    let second_id = user_id(app, "gd-steward-b").await;
    // An enterprise without a steward: its tickets go to the pool.
    let (_, firm) = other_enterprise(app, "gd-firm-pool", 0).await;
    let mut wins = [0, 0];
    for i in 0..4 {
        let t = raise(&firm, "financing", &format!("融资对接需求 {i}")).await;
        let id = t["id"].as_str().unwrap().to_string();
        assert_eq!(t["state"], "in_pool");
        assert!(t["steward_id"].is_null());
        let pool = first.get_json(&format!("{B}/tickets?view=pool")).await;
        assert!(pool.as_array().unwrap().iter().any(|x| x["id"] == id.as_str()));
        let (a, b) = tokio::join!(
            step(&first, &id, json!({ "event": "grab" })),
            step(&second, &id, json!({ "event": "grab" }))
        );
        let (sa, sb) = (a.status(), b.status());
        assert!(
            (sa == StatusCode::OK && sb == StatusCode::CONFLICT)
                || (sa == StatusCode::CONFLICT && sb == StatusCode::OK),
            "{sa} {sb}"
        );
        let loser = if sa == StatusCode::OK { b } else { a };
        let code = loser.json::<Value>().await.unwrap()["error"]["code"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            code == "ticket.concurrent" || code == "ticket.illegal_transition",
            "{code}"
        );
        let winner = if sa == StatusCode::OK { &first_id } else { &second_id };
        wins[usize::from(sa != StatusCode::OK)] += 1;
        let d = admin.get_json(&format!("{B}/tickets/{id}")).await;
        assert_eq!(d["ticket"]["state"], "accepted");
        assert_eq!(d["ticket"]["steward_id"], winner.as_str());
        assert_eq!(d["ticket"]["version"], 1);
        let grabs = d["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["event"] == "grab")
            .count();
        assert_eq!(grabs, 1);
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ticket.grab' AND entity_id = '{id}'"
            ))
            .await,
            1
        );
    }
    assert_eq!(wins[0] + wins[1], 4);

    // Back to the pool with a reason; an admin dispatches from the pool (派单).
    let t = raise(&firm, "premises", "需要 200 平米办公场地").await;
    let id = t["id"].as_str().unwrap().to_string();
    ok(step(&first, &id, json!({ "event": "grab" })).await, "grab").await;
    assert_eq!(
        code_of(
            step(&admin, &id, json!({ "event": "grab" })).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "forbidden"
    );
    let t = ok(
        step(
            &first,
            &id,
            json!({ "event": "release", "note": "场地资源由园区管家负责" }),
        )
        .await,
        "release",
    )
    .await;
    assert_eq!(t["state"], "in_pool");
    assert!(t["steward_id"].is_null());
    let t = ok(
        step(
            &admin,
            &id,
            json!({ "event": "hand_on", "to_steward": second_id, "note": "派给园区管家" }),
        )
        .await,
        "dispatch",
    )
    .await;
    assert_eq!(t["state"], "open");
    assert_eq!(t["steward_id"], second_id.as_str());
    assert!(kinds_of(&second).await.contains(&"ticket.handed_on".to_string()));
}
both!(the_pool_is_grabbed_exactly_once);

async fn sla_clocks_flag_overdue_tickets_and_feed_the_rankings(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let enterprise = app.api_as("fz-enterprise").await;
    let steward = app.api_as("fz-steward").await;
    app.add_member("gd-steward-r", Role::Steward, None).await;
    let second = app.api_as("gd-steward-r").await;
    let steward_id = user_id(app, "fz-steward").await;
    let second_id = user_id(app, "gd-steward-r").await;
    let firm = demo_enterprise(app).await;
    assign(&admin, &firm, &steward_id).await;

    // Time limits per category: validated, admins only.
    let r = admin
        .post(
            &format!("{B}/ticket-sla"),
            &json!({ "category": "registration", "response_hours": 0, "resolve_days": 500 }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![
            ("response_hours".into(), "ticket.sla.response_hours".into()),
            ("resolve_days".into(), "ticket.sla.resolve_days".into())
        ]
    );
    let sla = json!({ "category": "registration", "response_hours": 2, "resolve_days": 1 });
    assert_eq!(
        steward.post(&format!("{B}/ticket-sla"), &sla).await.status(),
        StatusCode::FORBIDDEN
    );
    ok(admin.post(&format!("{B}/ticket-sla"), &sla).await, "set sla").await;
    let limits = enterprise.get_json(&format!("{B}/ticket-sla")).await;
    let reg = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == "registration")
        .unwrap();
    assert_eq!(
        (reg["response_hours"].as_i64(), reg["resolve_days"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(reg["configured"], true);

    // The clocks of a new ticket follow the limits and the calendar.
    let t = raise(&enterprise, "registration", "变更注册地址").await;
    let id = t["id"].as_str().unwrap().to_string();
    let cal = chuangtong::calendar::load(&app.state.db).await.unwrap();
    let created = chuangtong::storage::time::parse_text(t["created_at"].as_str().unwrap()).unwrap();
    let due = chuangtong::ticket::sla::add_working_hours(&cal, created, 2);
    assert_eq!(t["response_due_at"], chuangtong::storage::time::to_text(due).as_str());
    let today = chuangtong::storage::time::today();
    assert_eq!(
        t["resolve_due_on"],
        chuangtong::ticket::sla::add_working_days(&cal, today, 1)
            .to_string()
            .as_str()
    );
    assert!(!t["response_overdue"].as_bool().unwrap());
    assert!(enterprise
        .get_json(&format!("{B}/tickets?overdue=true"))
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // Ten days on, unanswered: both clocks are overdue, and the list says so.
    let past = |d: i64| chuangtong::storage::time::to_text(Utc::now() - Duration::days(d));
    sqlx::query("UPDATE tickets SET created_at = $1, response_due_at = $2, resolve_due_on = $3 WHERE id = $4")
        .bind(past(10))
        .bind(past(9))
        .bind((today - Duration::days(8)).to_string())
        .bind(&id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let d = steward.get_json(&format!("{B}/tickets/{id}")).await;
    assert!(d["ticket"]["response_overdue"].as_bool().unwrap());
    assert!(d["ticket"]["resolve_overdue"].as_bool().unwrap());
    let overdue = admin.get_json(&format!("{B}/tickets?overdue=true")).await;
    assert_eq!(overdue.as_array().unwrap().len(), 1);
    let html = app
        .browser_as("fz-steward")
        .await
        .get(app.url("/b/R08/tickets"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("响应超时") && html.contains("办结超期"),
        "overdue shown on the page"
    );
    // A late answer stays late; resolving past the due date is not on time.
    ok(step(&steward, &id, json!({ "event": "accept" })).await, "late accept").await;
    let t = ok(
        step(&steward, &id, json!({ "event": "resolve", "note": "已变更" })).await,
        "late resolve",
    )
    .await;
    assert!(t["response_overdue"].as_bool().unwrap());
    assert!(t["resolve_overdue"].as_bool().unwrap());
    ok(
        step(&enterprise, &id, json!({ "event": "rate", "rating": 3 })).await,
        "rate",
    )
    .await;

    // Two quick ones for the same steward, rated 5 and 4.
    for (title, rating) in [("税务登记", 5), ("发票申领", 4)] {
        let t = raise(&enterprise, "tax", title).await;
        let id = t["id"].as_str().unwrap().to_string();
        ok(step(&steward, &id, json!({ "event": "accept" })).await, "accept").await;
        ok(
            step(&steward, &id, json!({ "event": "resolve", "note": "已办结" })).await,
            "resolve",
        )
        .await;
        ok(
            step(&enterprise, &id, json!({ "event": "rate", "rating": rating })).await,
            "rate",
        )
        .await;
    }
    // One in the second steward's hands, not yet resolved.
    let t = raise(&enterprise, "talent", "人才公寓申请").await;
    let id = t["id"].as_str().unwrap().to_string();
    ok(
        step(
            &steward,
            &id,
            json!({ "event": "hand_on", "to_steward": second_id, "note": "人才政策专岗" }),
        )
        .await,
        "hand on",
    )
    .await;

    assert_eq!(
        steward.get(&format!("{B}/tickets/rankings")).await.status(),
        StatusCode::FORBIDDEN
    );
    let ranks = admin.get_json(&format!("{B}/tickets/rankings")).await;
    let ranks = ranks.as_array().unwrap();
    assert_eq!(ranks[0]["steward_id"], steward_id.as_str(), "most resolved first");
    assert_eq!(ranks[0]["handled"], 3);
    assert_eq!(ranks[0]["ratings"], 3);
    assert_eq!(ranks[0]["avg_rating_x100"], 400);
    assert_eq!(ranks[0]["on_time_bp"], 6666, "two of three on time");
    assert!(ranks[0]["median_response_minutes"].as_i64().is_some());
    assert!(ranks[0]["median_resolution_minutes"].as_i64().is_some());
    let r2 = ranks.iter().find(|r| r["steward_id"] == second_id.as_str()).unwrap();
    assert_eq!(r2["handled"], 0);
    assert_eq!(r2["in_hand"], 1);
    assert!(r2["on_time_bp"].is_null() && r2["avg_rating_x100"].is_null());

    let html = app
        .browser_as("fz-admin")
        .await
        .get(app.url("/b/R08/tickets/rankings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("服务管家 陈管家") && html.contains("66.6%") && html.contains("4.00"));
    let _ = second;
}
both!(sla_clocks_flag_overdue_tickets_and_feed_the_rankings);

async fn tickets_stay_with_their_enterprise_and_base(app: &TestApp) {
    let enterprise = app.api_as("fz-enterprise").await;
    let (_, other) = other_enterprise(app, "gd-firm-other", 1).await;
    let t = raise(&enterprise, "ip", "专利申请代办").await;
    let id = t["id"].as_str().unwrap().to_string();
    // Another enterprise of the same base: not in its list, 404 by id, cannot act.
    assert!(other
        .get_json(&format!("{B}/tickets"))
        .await
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        other.get(&format!("{B}/tickets/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        step(&other, &id, json!({ "event": "withdraw" })).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .get(&format!("{B}/steward-assignments/{}", demo_enterprise(app).await))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Roles without business here.
    let team = app.api_as("fz-team").await;
    assert_eq!(team.get(&format!("{B}/tickets")).await.status(), StatusCode::FORBIDDEN);
    // Another base: 403 on this base, 404 for this base's id under its own.
    let yp = app.api_as("yp-admin").await;
    assert_eq!(
        yp.get(&format!("{B}/tickets/{id}")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        yp.get(&format!("/api/v1/bases/R04/tickets/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(yp
        .get_json("/api/v1/bases/R04/tickets")
        .await
        .as_array()
        .unwrap()
        .is_empty());
    // Stewards of the base see it.
    let steward = app.api_as("fz-steward").await;
    assert_eq!(steward.get(&format!("{B}/tickets/{id}")).await.status(), StatusCode::OK);

    // Pages: the enterprise raises through the form and follows it; another firm gets 404.
    // The demo firm has a steward; without one the ticket goes to the pool.
    sqlx::query("DELETE FROM enterprise_stewards")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let b = app.browser_as("fz-enterprise").await;
    let html = b
        .get(app.url("/b/R08/tickets"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("提交工单") && html.contains("专利申请代办"));
    let r = b
        .post(app.url("/b/R08/tickets"))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("category", "talent"),
            ("title", "招聘高校毕业生补贴"),
            ("description", "想了解补贴条件"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/b/R08/tickets/"), "{location}");
    let page = b.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("招聘高校毕业生补贴") && page.contains("工单池") && page.contains("act-withdraw"));
    let ob = app.browser_as("gd-firm-other").await;
    let path = location.split('?').next().unwrap();
    assert_eq!(
        ob.get(app.url(path)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // The steward grabs it from the pool through the page.
    let sb = app.browser_as("fz-steward").await;
    let html = sb
        .get(app.url("/b/R08/tickets"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("招聘高校毕业生补贴"));
    let r = sb
        .post(app.url(&format!("{path}/grab")))
        .form(&[("_csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = sb.get(app.url(path)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("处理中") && page.contains("act-resolve"),
        "grabbed through the page"
    );

    // Admin pages: assignments and time limits.
    let ab = app.browser_as("fz-admin").await;
    let html = ab
        .get(app.url("/b/R08/stewards"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("服务管家 陈管家") && html.contains("工商注册"));
    assert_eq!(
        sb.get(app.url("/b/R08/stewards")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}
both!(tickets_stay_with_their_enterprise_and_base);
