//! Programme pay-outs on both backends: a grant that names the applicant's
//! cost item is paid as a support against it, so the 一费一补 cap holds
//! across programmes and other supports (over the cap: refused, nothing
//! changes; within it: one posting, counted on the cost item); and a
//! correction of the policy version lists approved and paid applications
//! beside 免申即享 grants, with the exact fen difference, recorded once and
//! settled once through the ledger (补发 to the firm's payable, 追回 from it).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::application::{
    accounts, app_path, create, end_publicity, ids, ok, policy, programme_form, refused, verify_books,
};
use crate::both;
use crate::helpers::{field_codes, Api, TestApp};

/// Draft (naming `cost_item`, if any) → submit → accept → 公示 → approve `approve_yuan`.
async fn approved(
    app: &TestApp,
    firm: &Api,
    admin: &Api,
    programme: &str,
    cost_item: Option<&str>,
    request_yuan: &str,
    approve_yuan: &str,
) -> String {
    let r = firm
        .post(
            &format!("/api/v1/bases/R08/programmes/{programme}/applications"),
            &json!({ "form": { "project": "研发设备购置" }, "amount_requested_yuan": request_yuan,
                     "cost_item_id": cost_item }),
        )
        .await;
    let id = ok(r, "draft").await["id"].as_str().unwrap().to_string();
    ok(firm.post(&app_path(&id, "submit"), &json!({})).await, "submit").await;
    ok(admin.post(&app_path(&id, "accept"), &json!({})).await, "accept").await;
    ok(admin.post(&app_path(&id, "publish"), &json!({})).await, "publish").await;
    end_publicity(app, &id).await;
    let c = ok(
        admin
            .post(
                &app_path(&id, "approve"),
                &json!({ "amount_approved_yuan": approve_yuan }),
            )
            .await,
        "approve",
    )
    .await;
    assert_eq!(c["state"], "approved");
    id
}

async fn invoice(admin: &Api, base: &str, reference: &str, enterprise: &str, cost_yuan: &str, cap: &str) -> String {
    let r = admin
        .post(
            &format!("/api/v1/bases/{base}/cost-items"),
            &json!({ "kind": "invoice", "reference": reference, "enterprise_id": enterprise,
                     "description": format!("研发设备发票 {reference}"), "cost_yuan": cost_yuan, "cap_percent": cap }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// Everything a refused pay-out must leave as it was.
async fn footprint(app: &TestApp, id: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM ledger_transfers".to_string(),
        "SELECT COUNT(*) FROM cost_supports".into(),
        "SELECT COUNT(*) FROM notifications".into(),
        "SELECT COUNT(*) FROM audit_log".into(),
        format!("SELECT COUNT(*) FROM application_events WHERE application_id = '{id}'"),
        format!(
            "SELECT COUNT(*) FROM applications WHERE id = '{id}' AND state = 'approved' AND payout_transfer_id IS NULL"
        ),
    ] {
        out.push(app.scalar(&sql).await);
    }
    out
}

async fn programme_payout_holds_the_cost_cap(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let pid = policy(&admin).await;
    let first = create(&admin, programme_form("PC1", &pid, "approval", "1000000")).await;
    let second = create(&admin, programme_form("PC2", &pid, "approval", "1000000")).await;
    let enterprises = ids(app, "enterprises", 2).await;
    let firms = accounts(app, "pc-firm", chuangtong::auth::Role::Enterprise, &enterprises).await;

    // A 100,000-yuan invoice capped at 50%, of which a city programme already paid 30,000.
    let item = invoice(&admin, "R08", "35012600000777", &enterprises[0], "100000", "50").await;
    let others = invoice(&admin, "R08", "35012600000778", &enterprises[1], "100000", "50").await;
    let r04_firm = app
        .text("SELECT e.id FROM enterprises e JOIN bases b ON b.id = e.base_id WHERE b.code = 'R04' ORDER BY e.id LIMIT 1")
        .await;
    let yp = app.api_as("yp-admin").await;
    let elsewhere = invoice(&yp, "R04", "31011000000001", &r04_firm, "100000", "50").await;
    let r = admin
        .post(
            "/api/v1/bases/R08/ledger/accounts",
            &json!({ "code": "budget:city-pc", "name": "市级研发补助", "kind": "budget", "no_overdraft": true }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .post(
            "/api/v1/bases/R08/ledger/transfers",
            &json!({ "idempotency_key": "fund-city-pc", "transfers": [{ "debit": "funding:fiscal", "credit": "budget:city-pc", "amount_fen": 10_000_000 }] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/cost-items/{item}/supports"),
            &json!({ "programme": "市级研发费用补助", "budget_account": "budget:city-pc", "amount_yuan": "30000", "request_id": "city-1" }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["remaining_fen"], 2_000_000);

    // Naming a cost item that is another firm's, or of another base, is a field error; nothing is created.
    let draft = |cost: String| json!({ "form": { "project": "研发设备购置" }, "amount_requested_yuan": "10000", "cost_item_id": cost });
    let path = format!("/api/v1/bases/R08/programmes/{first}/applications");
    for (cost, code) in [
        (others.clone(), "application.cost_item_not_own"),
        (elsewhere.clone(), "application.cost_item_unknown"),
        ("no-such-item".to_string(), "application.cost_item_unknown"),
    ] {
        let r = firms[0].post(&path, &draft(cost)).await;
        assert_eq!(field_codes(r).await, vec![("cost_item_id".into(), code.into())]);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM applications").await, 0);

    // Approved for 25,000 against the invoice: only 20,000 is left under the cap.
    let over = approved(app, &firms[0], &admin, &first, Some(&item), "25000", "25000").await;
    let c = firms[0]
        .get_json(&format!("/api/v1/bases/R08/applications/{over}"))
        .await;
    assert_eq!(c["case"]["cost_item_id"], item.as_str());
    let before = footprint(app, &over).await;
    let r = admin.post(&app_path(&over, "pay"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let err = r.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(err["code"], "support.cap_exceeded");
    assert!(
        err["message"].as_str().unwrap().contains("最多还可支持 20,000.00 元"),
        "{err}"
    );
    assert_eq!(footprint(app, &over).await, before);
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{first}")).await;
    assert_eq!(p["budget_available_fen"], 100_000_000);

    // Within the cap: paid as a support of the invoice, one posting, counted in its total.
    let within = approved(app, &firms[0], &admin, &second, Some(&item), "20000", "20000").await;
    let transfers = app.scalar("SELECT COUNT(*) FROM ledger_transfers").await;
    let c = ok(admin.post(&app_path(&within, "pay"), &json!({})).await, "pay").await;
    assert_eq!(c["state"], "paid");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM ledger_transfers").await, transfers + 1);
    let again = ok(admin.post(&app_path(&within, "pay"), &json!({})).await, "pay again").await;
    assert_eq!(again["payout_transfer_id"], c["payout_transfer_id"]);
    let cost = admin.get_json(&format!("/api/v1/bases/R08/cost-items/{item}")).await;
    assert_eq!(
        (cost["total_support_fen"].as_i64(), cost["remaining_fen"].as_i64()),
        (Some(5_000_000), Some(0))
    );
    let supports = cost["supports"].as_array().unwrap();
    assert_eq!(supports.len(), 2);
    assert_eq!(supports[1]["programme"], "PC2 科技创新项目");
    assert_eq!(supports[1]["amount_fen"], 2_000_000);
    assert_eq!(supports[1]["transfer_id"], c["payout_transfer_id"]);
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{second}")).await;
    assert_eq!(p["budget_available_fen"], 98_000_000);
    assert_eq!(
        app.scalar(&format!(
            "SELECT credits_posted FROM ledger_accounts WHERE code = 'payable:enterprise:{}'",
            enterprises[0]
        ))
        .await,
        5_000_000
    );
    // The refused one is still refused now that the cap is reached.
    refused(
        admin.post(&app_path(&over, "pay"), &json!({})).await,
        "support.cap_exceeded",
    )
    .await;

    // The page offers the firm its own cost items, not another firm's.
    let html = app.page_as("pc-firm-0", &format!("/b/R08/applications/{within}")).await;
    assert!(
        html.contains("研发设备发票 35012600000777") && !html.contains("35012600000778"),
        "{html}"
    );
    verify_books(app).await;
}
both!(programme_payout_holds_the_cost_cap);

async fn correction_lists_and_settles_paid_applications(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let v1 = "policy rd_grant \"研发设备购置资助\"\nparam 资助: money = 10万元\nrequire \"有从业人员记录\": 从业人数 >= 0\namount = 资助\n";
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": "研发设备购置资助", "issuer": "科技局", "source": v1, "effective_from": "2020-01-01", "budget_yuan": "10000000" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let pid = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let r = admin
        .post(&format!("/api/v1/bases/R08/policies/{pid}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let prog = create(&admin, programme_form("RD1", &pid, "approval", "1000000")).await;
    let enterprises = ids(app, "enterprises", 2).await;
    let firms = accounts(app, "rd-firm", chuangtong::auth::Role::Enterprise, &enterprises).await;

    // Firm 0 asked for 200,000 and got the rules' ceiling (100,000), paid; firm 1
    // asked for 80,000 and reviewers approved 60,000 (their cut), not paid yet.
    let at_ceiling = approved(app, &firms[0], &admin, &prog, None, "200000", "100000").await;
    ok(admin.post(&app_path(&at_ceiling, "pay"), &json!({})).await, "pay").await;
    let cut = approved(app, &firms[1], &admin, &prog, None, "80000", "60000").await;

    // The judgement is kept as grants keep theirs: version, parameters, facts with source.
    let kept = app
        .text(&format!(
            "SELECT params_json FROM application_judgements WHERE application_id = '{at_ceiling}' AND policy_id = '{pid}'"
        ))
        .await;
    assert_eq!(serde_json::from_str::<Value>(&kept).unwrap()["资助"], "100000元");
    let facts: Value = serde_json::from_str(
        &app.text(&format!(
            "SELECT facts_json FROM application_judgements WHERE application_id = '{at_ceiling}'"
        ))
        .await,
    )
    .unwrap();
    assert_eq!(facts["从业人数"]["source"], "注册库", "{facts}");

    // Version 2 from today raises the grant to 150,000.
    let today = chuangtong::storage::time::today().to_string();
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{pid}/versions"),
            &json!({ "source": v1.replace("10万元", "15万元"), "effective_from": today }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let plan = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{pid}/corrections"))
        .await;
    assert_eq!(plan["version"], 2);
    assert_eq!(
        (
            plan["top_ups"].as_i64(),
            plan["top_up_fen"].as_i64(),
            plan["clawbacks"].as_i64()
        ),
        (Some(1), Some(5_000_000), Some(0))
    );
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{plan}");
    let item = |id: &str| items.iter().find(|i| i["application_id"] == id).unwrap().clone();
    let top = item(&at_ceiling);
    assert_eq!(
        (
            top["subject"].as_str(),
            top["kind"].as_str(),
            top["granted_fen"].as_i64(),
            top["entitled_fen"].as_i64(),
            top["delta_fen"].as_i64(),
            top["granted_version"].as_i64(),
            top["reproduced"].as_bool(),
        ),
        (
            Some("application"),
            Some("top_up"),
            Some(10_000_000),
            Some(15_000_000),
            Some(5_000_000),
            Some(1),
            Some(true)
        )
    );
    assert_eq!(top["programme_name"], "RD1 科技创新项目");
    assert!(top["grant_id"].is_null());
    let kept_cut = item(&cut);
    assert_eq!(
        (
            kept_cut["kind"].as_str(),
            kept_cut["entitled_fen"].as_i64(),
            kept_cut["delta_fen"].as_i64()
        ),
        (Some("unchanged"), Some(6_000_000), Some(0))
    );

    // Recording creates the adjustments once.
    let rec = ok(
        admin
            .post(&format!("/api/v1/bases/R08/policies/{pid}/corrections"), &json!({}))
            .await,
        "record",
    )
    .await;
    assert_eq!(
        (
            rec["recorded"].as_i64(),
            rec["top_up_fen"].as_i64(),
            rec["clawback_fen"].as_i64()
        ),
        (Some(2), Some(5_000_000), Some(0))
    );
    let again = ok(
        admin
            .post(
                &format!("/api/v1/bases/R08/policies/{pid}/corrections"),
                &json!({ "version": 2 }),
            )
            .await,
        "record again",
    )
    .await;
    assert_eq!(
        (again["recorded"].as_i64(), again["already_recorded"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT CAST(SUM(delta_fen) AS BIGINT) FROM application_adjustments WHERE application_id = '{at_ceiling}'"
        ))
        .await,
        5_000_000
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM application_adjustments WHERE state = 'pending'")
            .await,
        2
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM policy_adjustments").await, 0);

    // A third version lowering it to 50,000: the top-up counts as already adjusted.
    let r = admin
        .post(
            &format!("/api/v1/bases/R08/policies/{pid}/versions"),
            &json!({ "source": v1.replace("10万元", "5万元"), "effective_from": "2099-01-01" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let plan3 = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{pid}/corrections?version=3"))
        .await;
    let items3 = plan3["items"].as_array().unwrap();
    let find = |id: &str| items3.iter().find(|i| i["application_id"] == id).unwrap().clone();
    assert_eq!(
        (
            find(&at_ceiling)["adjusted_fen"].as_i64(),
            find(&at_ceiling)["entitled_fen"].as_i64(),
            find(&at_ceiling)["delta_fen"].as_i64()
        ),
        (Some(5_000_000), Some(5_000_000), Some(-10_000_000))
    );
    assert_eq!(find(&cut)["delta_fen"].as_i64(), Some(-1_000_000));

    // The correction page shows them beside the grants; firms cannot open it.
    let html = app
        .page_as("fz-admin", &format!("/b/R08/policies/{pid}/corrections?version=2"))
        .await;
    assert!(
        html.contains("申报：RD1 科技创新项目") && html.contains("补发 50,000.00") && html.contains("已记录"),
        "{html}"
    );
    assert_eq!(
        firms[0]
            .get(&format!("/api/v1/bases/R08/policies/{pid}/corrections"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Settling through the ledger. What the base owes firm 0, and what the budget holds.
    let payable = format!(
        "SELECT credits_posted - debits_posted FROM ledger_accounts WHERE code = 'payable:enterprise:{}'",
        enterprises[0]
    );
    let budget = "SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts \
                  WHERE code = 'budget:programme:RD1'";
    let (owed, held) = (app.scalar(&payable).await, app.scalar(budget).await);
    assert_eq!(owed, 10_000_000);
    let adjustment = |plan: &Value, id: &str| {
        plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["application_id"] == id)
            .unwrap()["adjustment_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let plan2 = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{pid}/corrections?version=2"))
        .await;
    let settle = |adj: String| format!("/api/v1/bases/R08/policies/{pid}/adjustments/{adj}/settle");
    // Only base admins settle.
    let r = firms[0]
        .post(&settle(adjustment(&plan2, &at_ceiling)), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // 补发 50,000: budget → payable, once.
    let first = ok(
        admin.post(&settle(adjustment(&plan2, &at_ceiling)), &json!({})).await,
        "settle",
    )
    .await;
    assert_eq!(
        (first["kind"].as_str(), first["delta_fen"].as_i64()),
        (Some("top_up"), Some(5_000_000))
    );
    let again = ok(
        admin.post(&settle(adjustment(&plan2, &at_ceiling)), &json!({})).await,
        "again",
    )
    .await;
    assert_eq!(
        (again["replayed"].as_bool(), &again["transfer_id"]),
        (Some(true), &first["transfer_id"])
    );
    assert_eq!(app.scalar(&payable).await, owed + 5_000_000);
    assert_eq!(app.scalar(budget).await, held - 5_000_000);
    // Nothing to settle where the amount is unchanged; nothing moved.
    refused(
        admin.post(&settle(adjustment(&plan2, &cut)), &json!({})).await,
        "adjustment.unchanged",
    )
    .await;

    // Version 3 lowers the grant to 50,000: 追回 100,000 from firm 0 (paid),
    // 10,000 from firm 1 (approved, not paid: refused until it is).
    ok(
        admin
            .post(
                &format!("/api/v1/bases/R08/policies/{pid}/corrections"),
                &json!({ "version": 3 }),
            )
            .await,
        "record v3",
    )
    .await;
    let plan3 = admin
        .get_json(&format!("/api/v1/bases/R08/policies/{pid}/corrections?version=3"))
        .await;
    refused(
        admin.post(&settle(adjustment(&plan3, &cut)), &json!({})).await,
        "adjustment.application_unpaid",
    )
    .await;
    // Two settlements at once move the money once.
    let path = settle(adjustment(&plan3, &at_ceiling));
    let empty = json!({});
    let (a, b) = tokio::join!(admin.post(&path, &empty), admin.post(&path, &empty));
    let (a, b) = (ok(a, "clawback").await, ok(b, "clawback at once").await);
    assert_eq!(a["transfer_id"], b["transfer_id"]);
    assert_ne!(a["replayed"], b["replayed"], "{a} {b}");
    assert_eq!(
        (a["kind"].as_str(), a["delta_fen"].as_i64()),
        (Some("clawback"), Some(-10_000_000))
    );
    // Owed now: 100,000 + 50,000 − 100,000 = what version 3 gives.
    assert_eq!(app.scalar(&payable).await, 5_000_000);
    assert_eq!(app.scalar(budget).await, held + 5_000_000);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM application_adjustments WHERE state = 'settled' AND transfer_id IS NOT NULL")
            .await,
        2
    );
    // A settlement of another base's policy is not found.
    let other = app.api_as("yp-admin").await;
    let r = other
        .post(
            &format!(
                "/api/v1/bases/R04/policies/{pid}/adjustments/{}/settle",
                adjustment(&plan3, &cut)
            ),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The firm is told of each (补发, 追回), and the page shows the settled one.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(DISTINCT title) FROM notifications WHERE kind = 'application.adjusted' AND link LIKE '%{at_ceiling}%'"
        ))
        .await,
        2
    );
    let browser = app.browser_as("fz-admin").await;
    let html = browser
        .get(app.url(&format!("/b/R08/policies/{pid}/corrections?version=3")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已结算") && html.contains("结算追回"), "{html}");
    // The page's button for firm 1's clawback: refused with the reason, nothing settled.
    let r = browser
        .post(app.url(&format!(
            "/b/R08/policies/{pid}/adjustments/{}/settle",
            adjustment(&plan3, &cut)
        )))
        .form(&[("_csrf", crate::helpers::csrf_of(&html).as_str()), ("version", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("corrections?version=3") && location.contains("err="),
        "{location}"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM application_adjustments WHERE state = 'settled'")
            .await,
        2
    );
    verify_books(app).await;
}
both!(correction_lists_and_settles_paid_applications);
