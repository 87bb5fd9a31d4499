//! Documents (申请要件) on both backends: required documents block
//! submission with a field error per document; uploads are typed by their
//! content (a PNG named .pdf, an executable named .docx, an empty or
//! oversized file are refused and nothing is stored); content is stored once
//! per base by its SM3 digest; download by the applicant, reviewers and
//! drawn experts only; a failing virus scanner refuses; programmes under
//! several policies judge the firm under each; the applicant is notified of
//! 补正. Also the programme form page and the applicant's pages (save,
//! upload, submit).

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::application::{accounts, app_path, create, ids, ok, policy, programme_form, refused};
use crate::both;
use crate::helpers::{csrf_of, field_codes, Api, TestApp};

const BOUNDARY: &str = "----chuangtong-test-boundary";

/// A multipart body by hand (the test client has no multipart feature).
pub(crate) fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

pub(crate) async fn upload(api: &Api, id: &str, kind: &str, name: &str, bytes: &[u8]) -> reqwest::Response {
    api.client
        .post(format!("{}{}", api.app_url, app_path(id, "documents")))
        .bearer_auth(&api.token)
        .header("content-type", content_type())
        .body(multipart(&[("kind", kind)], Some((name, bytes))))
        .send()
        .await
        .unwrap()
}

pub(crate) fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {text}\n%%EOF\n").into_bytes()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// A minimal Office Open XML package: the entries a reader looks for.
pub(crate) fn docx() -> Vec<u8> {
    let names = ["[Content_Types].xml", "_rels/.rels", "word/document.xml"];
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for n in names {
        let offset = out.len() as u32;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&(n.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(n.as_bytes());
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&(n.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(n.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(names.len() as u16).to_le_bytes());
    out.extend_from_slice(&(names.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

pub(crate) async fn publish_policy(admin: &Api, code: &str, title: &str, condition: &str) -> String {
    let src = format!(
        "policy {code} \"{title}\"\nparam 资助: money = 10万元\nrequire \"{title}条件\": {condition}\namount = 资助\n"
    );
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": title, "issuer": "测试局", "source": src, "effective_from": "2020-01-01", "budget_yuan": "1000000" }),
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

fn with_documents(mut form: Value) -> Value {
    form["required_documents"] = json!([
        { "key": "audit", "label": "财务审计报告" },
        { "key": "licence", "label": "营业执照" }
    ]);
    form
}

async fn draft(firm: &Api, programme: &str) -> String {
    let r = firm
        .post(
            &format!("/api/v1/bases/R08/programmes/{programme}/applications"),
            &json!({ "form": { "project": "高端装备数字孪生" }, "amount_requested_yuan": "50000" }),
        )
        .await;
    ok(r, "draft").await["id"].as_str().unwrap().to_string()
}

async fn application_documents(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let steward = app.api_as("fz-steward").await;
    let pid = policy(&admin).await;
    let prog = create(
        &admin,
        with_documents(programme_form("D1", &pid, "approval", "1000000")),
    )
    .await;
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{prog}")).await;
    assert_eq!(p["required_documents"][1]["label"], "营业执照");
    let firms_ids = ids(app, "enterprises", 3).await;
    let firms = accounts(app, "dfirm", chuangtong::auth::Role::Enterprise, &firms_ids).await;
    let id = draft(&firms[0], &prog).await;

    // Nothing uploaded: one field error per missing document, nothing moves.
    let codes = field_codes(firms[0].post(&app_path(&id, "submit"), &json!({})).await).await;
    assert_eq!(
        codes,
        vec![
            ("documents.audit".to_string(), "document.required".to_string()),
            ("documents.licence".to_string(), "document.required".to_string())
        ]
    );

    // Refused uploads store nothing.
    let bad: [(&str, &str, Vec<u8>, &str); 5] = [
        ("audit", "审计报告.pdf", PNG.to_vec(), "document.type_mismatch"),
        (
            "licence",
            "执照.docx",
            b"MZ\x90\0\x03\0\0\0\x04\0".to_vec(),
            "document.type",
        ),
        ("audit", "空.pdf", Vec::new(), "document.empty"),
        (
            "audit",
            "大.pdf",
            {
                let mut big = pdf("big");
                big.resize(10 * 1024 * 1024 + 1, b' ');
                big
            },
            "document.too_large",
        ),
        ("bylaws", "章程.pdf", pdf("章程"), "document.kind"),
    ];
    for (kind, name, bytes, code) in &bad {
        let r = upload(&firms[0], &id, kind, name, bytes).await;
        let got = field_codes(r).await;
        assert_eq!(got[0].1, *code, "{name}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM application_documents").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM document_blobs").await, 0);

    // Good uploads: typed by content, named without a path, addressed by SM3.
    let audit = pdf("2025年度审计报告");
    let r = upload(&firms[0], &id, "audit", "../../etc/审计报告.PDF", &audit).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d1: Value = r.json().await.unwrap();
    assert_eq!(d1["media_type"], "application/pdf");
    assert_eq!(d1["filename"], "审计报告.PDF");
    assert_eq!(d1["digest_sm3"], chuangtong::crypto::sm3_hex(&audit));
    let r = upload(&firms[0], &id, "licence", "营业执照.docx", &docx()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d2: Value = r.json().await.unwrap();
    assert!(d2["media_type"].as_str().unwrap().contains("wordprocessingml"));
    // The same audit again replaces the first (kept on record), and its content is stored once.
    let r = upload(&firms[0], &id, "audit", "审计报告-修订.pdf", &audit).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listed = firms[0]
        .get_json(&format!("/api/v1/bases/R08/applications/{id}/documents"))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM application_documents").await, 3);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM document_blobs").await, 2);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'application.document_uploaded'")
            .await,
        3
    );

    // Who may download.
    let doc_url = format!("/api/v1/bases/R08/documents/{}", d1["id"].as_str().unwrap());
    for (who, api) in [("applicant", &firms[0]), ("steward", &steward), ("admin", &admin)] {
        let r = api.get(&doc_url).await;
        assert_eq!(r.status(), StatusCode::OK, "{who}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert_eq!(r.bytes().await.unwrap().to_vec(), audit, "{who}");
    }
    assert_eq!(firms[1].get(&doc_url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        firms[1]
            .get(&format!("/api/v1/bases/R08/applications/{id}/documents"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let experts = ids(app, "experts", 1).await;
    let expert = accounts(app, "dexpert", chuangtong::auth::Role::Expert, &experts).await;
    assert_eq!(expert[0].get(&doc_url).await.status(), StatusCode::NOT_FOUND);
    let yp = app.api_as("yp-admin").await;
    assert!(matches!(
        yp.get(&doc_url).await.status(),
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
    assert_eq!(
        yp.get(&doc_url.replace("R08", "R04")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Someone else's application cannot take uploads.
    assert_eq!(
        upload(&firms[1], &id, "audit", "a.pdf", &pdf("x")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Complete: submission goes through; no more uploads after it.
    let c = ok(firms[0].post(&app_path(&id, "submit"), &json!({})).await, "submit").await;
    assert_eq!(c["state"], "submitted");
    refused(
        upload(&firms[0], &id, "audit", "迟到.pdf", &pdf("late")).await,
        "application.not_editable",
    )
    .await;
    // 补正: the applicant is told, and may replace a document again.
    ok(
        steward
            .post(&app_path(&id, "return"), &json!({ "reason": "审计报告缺少附注" }))
            .await,
        "return",
    )
    .await;
    let told = app
        .scalar(
            "SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE n.kind = 'application.returned' AND u.username = 'dfirm-0' AND n.body LIKE '%审计报告缺少附注%'",
        )
        .await;
    assert_eq!(told, 1);
    let r = upload(&firms[0], &id, "audit", "审计报告-附注.pdf", &pdf("附注")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    ok(firms[0].post(&app_path(&id, "submit"), &json!({})).await, "resubmit").await;

    // A configured virus scanner: non-zero exit refuses and stores nothing; zero lets it through.
    let id2 = draft(&firms[1], &prog).await;
    let scanned = |cmd: &str| {
        let mut s = (*app.state.settings).clone();
        s.virus_scan_command = Some(cmd.to_string());
        s.data_dir = std::env::temp_dir().join(format!("ct-scan-{}", uuid_like()));
        let mut st = app.state.clone();
        st.settings = Arc::new(s);
        st
    };
    let actor = chuangtong::audit::Actor::system("test");
    let base = crate::application::base_id(app).await;
    let party = chuangtong::application::case::Party::Enterprise(firms_ids[1].clone());
    let before = app.scalar("SELECT COUNT(*) FROM application_documents").await;
    let infected = chuangtong::application::document::upload(
        &scanned("false"),
        &actor,
        &base,
        &party,
        &id2,
        "audit",
        "审计.pdf",
        &pdf("eicar"),
    )
    .await;
    match infected {
        Err(chuangtong::web::error::AppError::Validation(f)) => assert_eq!(f[0].code, "document.infected"),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM application_documents").await, before);
    let clean = chuangtong::application::document::upload(
        &scanned("true"),
        &actor,
        &base,
        &party,
        &id2,
        "audit",
        "审计.pdf",
        &pdf("clean"),
    )
    .await
    .unwrap();
    assert_eq!(clean.kind_label, "财务审计报告");
}
both!(application_documents);

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A programme under several policies judges the firm under each: one
/// failing policy refuses submission (with its reason); all holding passes
/// and the explanation names every policy.
async fn application_several_policies(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let p1 = policy(&admin).await;
    let p_ok = publish_policy(&admin, "rd_match", "研发投入配套", "从业人数 >= 0").await;
    let p_no = publish_policy(&admin, "mega_firm", "百万人企业奖励", "从业人数 > 1000000").await;
    let mut f = programme_form("M1", &p1, "approval", "1000000");
    f["other_policy_ids"] = json!([p_ok, p1]);
    let codes = field_codes(admin.post("/api/v1/bases/R08/programmes", &f).await).await;
    assert_eq!(
        codes,
        vec![(
            "other_policy_ids[1]".to_string(),
            "programme.policy_repeated".to_string()
        )]
    );
    f["other_policy_ids"] = json!([p_ok]);
    let good = create(&admin, f.clone()).await;
    let mut f2 = programme_form("M2", &p1, "approval", "1000000");
    f2["other_policy_ids"] = json!([p_ok, p_no]);
    let strict = create(&admin, f2).await;
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{strict}")).await;
    let titles: Vec<&str> = p["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["科技创新项目资助", "研发投入配套", "百万人企业奖励"]);

    let firm_ids = ids(app, "enterprises", 1).await;
    let firm = &accounts(app, "mfirm", chuangtong::auth::Role::Enterprise, &firm_ids).await[0];
    // The open list leaves out the programme the firm cannot qualify for.
    let open = firm.get_json("/api/v1/bases/R08/open-programmes").await;
    let open_ids: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["programme"]["id"].as_str().unwrap())
        .collect();
    assert!(open_ids.contains(&good.as_str()) && !open_ids.contains(&strict.as_str()));
    let a = draft(firm, &good).await;
    let c = ok(firm.post(&app_path(&a, "submit"), &json!({})).await, "submit").await;
    assert_eq!(c["eligible"], "yes");
    let explanation = c["eligibility_explanation"].as_str().unwrap();
    assert!(
        explanation.contains("【科技创新项目资助】") && explanation.contains("【研发投入配套】"),
        "{explanation}"
    );
    assert_eq!(c["policy_hash"].as_str().unwrap().split(',').count(), 2);
    // Only its draft can be made in the strict one; submitting is refused with the reason.
    let b = draft(firm, &strict).await;
    let r = firm.post(&app_path(&b, "submit"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "application.not_eligible");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("百万人企业奖励"),
        "{body}"
    );
    assert_eq!(
        app.text(&format!("SELECT state FROM applications WHERE id = '{b}'"))
            .await,
        "draft"
    );
}
both!(application_several_policies);

/// A base admin defines a programme on the form page (errors come back on
/// the form, nothing is created); an enterprise fills the form on the
/// application page, saves, uploads a document and submits, all through
/// the pages.
async fn application_pages_for_admin_and_applicant(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    let p1 = policy(&admin).await;
    let p2 = publish_policy(&admin, "rd_match", "研发投入配套", "从业人数 >= 0").await;
    let b = app.browser_as("fz-admin").await;
    let html = b
        .get(app.url("/b/R08/programmes/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("新建申报批次") && html.contains("研发投入配套"));
    let csrf = csrf_of(&html);
    let today = chuangtong::storage::time::today();
    let mut fields: Vec<(&str, String)> = vec![
        ("_csrf", csrf.clone()),
        ("code", "WEB-1".into()),
        ("name", "网页创建的批次".into()),
        ("policy_id", p1.clone()),
        ("other_policy_ids", p2.clone()),
        ("review_mode", "approval".into()),
        ("opens_on", today.to_string()),
        ("closes_on", (today + chrono::Duration::days(20)).to_string()),
        ("form_fields", "project|项目名称|必填\nstaff|研发人员数||整数".into()),
        ("required_documents", "plan|项目计划书".into()),
        ("rubric", String::new()),
        ("expert_field", String::new()),
        ("experts_per_application", String::new()),
        ("conflict_months", "12".into()),
        ("limits.pre_review", "5".into()),
        ("limits.amendment", "5".into()),
        ("limits.expert_review", "10".into()),
        ("limits.publicity", "5".into()),
        ("limits.approval", "5".into()),
        ("limits.payout", "10".into()),
        ("budget_yuan", "-3".into()),
    ];
    let r = b
        .post(app.url("/b/R08/programmes/new"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"form-errors\"") && html.contains("网页创建的批次"),
        "the form comes back filled in"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM programmes WHERE code = 'WEB-1'").await,
        0
    );
    fields.last_mut().unwrap().1 = "200000".into();
    let r = b
        .post(app.url("/b/R08/programmes/new"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let prog = app.text("SELECT id FROM programmes WHERE code = 'WEB-1'").await;
    let p = admin.get_json(&format!("/api/v1/bases/R08/programmes/{prog}")).await;
    assert_eq!(p["policies"].as_array().unwrap().len(), 2);
    assert_eq!(p["required_documents"][0]["key"], "plan");
    assert_eq!(p["form_fields"][1]["kind"], "integer");
    assert_eq!(p["budget_fen"], 20_000_000);

    // Only base admins get the form.
    let firm_ids = ids(app, "enterprises", 1).await;
    accounts(app, "wfirm", chuangtong::auth::Role::Enterprise, &firm_ids).await;
    let e = app.browser_as("wfirm-0").await;
    let r = e.get(app.url("/b/R08/programmes/new")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The enterprise applies through the pages.
    let html = e
        .get(app.url("/b/R08/programmes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("网页创建的批次") && html.contains("项目计划书"));
    let csrf = csrf_of(&html);
    let r = e
        .post(app.url(&format!("/b/R08/programmes/{prog}/apply")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("f.project", "初稿"),
            ("amount_requested_yuan", "80000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = app
        .text(&format!("SELECT id FROM applications WHERE programme_id = '{prog}'"))
        .await;
    let page = format!("/b/R08/applications/{id}");
    let r = e
        .post(app.url(&format!("{page}/save")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("f.project", "工业互联网标识解析节点"),
            ("f.staff", "12"),
            ("amount_requested_yuan", "90000"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));
    let r = e
        .post(app.url(&format!("{page}/submit")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"].to_str().unwrap().contains("err="),
        "the plan is missing"
    );
    let html = e.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("工业互联网标识解析节点") && html.contains("未上传") && html.contains("id=\"upload\""));
    // Upload without the CSRF token: refused.
    let r = e
        .post(app.url(&format!("{page}/documents")))
        .header("content-type", content_type())
        .body(multipart(&[("kind", "plan")], Some(("计划书.pdf", &pdf("plan")))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = e
        .post(app.url(&format!("{page}/documents")))
        .header("content-type", content_type())
        .body(multipart(
            &[("_csrf", csrf.as_str()), ("kind", "plan")],
            Some(("计划书.pdf", &pdf("plan"))),
        ))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"].to_str().unwrap().contains("ok="),
        "{:?}",
        r.headers()
    );
    let html = e.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    let doc_id = html
        .split("/b/R08/documents/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = e
        .get(app.url(&format!("/b/R08/documents/{doc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf("plan"));
    let r = e
        .post(app.url(&format!("{page}/submit")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("ok="));
    let c = sqlx::query("SELECT state, form_json, amount_requested_fen FROM applications WHERE id = $1")
        .bind(&id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(c.get::<String, _>(0), "submitted");
    assert!(c.get::<String, _>(1).contains("工业互联网标识解析节点"));
    assert_eq!(c.get::<i64, _>(2), 9_000_000);
}
both!(application_pages_for_admin_and_applicant);
