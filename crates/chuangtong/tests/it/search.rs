//! Chinese full-text search: jieba segmentation, filters, freshness after a
//! change (also seen by a second process on the same database), tenancy, the page.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{field_codes, TestApp};

fn titles(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn search(api: &crate::helpers::Api, base: &str, query: &str) -> Value {
    api.get_json(&format!("/api/v1/bases/{base}/search?{query}")).await
}

async fn chinese_queries_need_segmentation_and_filters_work(app: &TestApp) {
    let ent = app.api_as("fz-enterprise").await;
    let r = search(&ent, "R08", &format!("q={}", enc("房租补贴"))).await;
    assert_eq!(titles(&r)[0], "园区企业房租补贴", "{r}");
    assert_eq!(r["hits"][0]["kind"], "policy");
    assert!(r["hits"][0]["score"].as_f64().unwrap() > 0.0);
    // The award first (in its title); the rent subsidy's condition 入驻园区孵化载体 also matches.
    let r = search(&ent, "R08", &format!("q={}", enc("孵化载体"))).await;
    assert_eq!(titles(&r)[0], "孵化载体认定奖励", "{r}");
    assert!(
        r["hits"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .starts_with("<b>孵化载体</b>"),
        "{r}"
    );
    // Snippets are escaped HTML with the matched words in <b>.
    let r = search(&ent, "R08", &format!("q={}", enc("示范政策"))).await;
    assert_eq!(r["hits"].as_array().unwrap().len(), 5, "{r}");
    assert!(
        r["hits"][0]["snippet_html"].as_str().unwrap().contains("<b>示范</b>"),
        "{r}"
    );

    let r = search(&ent, "R08", &format!("q={}", enc("检测"))).await;
    let t = titles(&r);
    // 技术检测 services first (title), then services of providers named …检测.
    assert!(
        t[0].starts_with("技术检测") && t.iter().all(|t| t.contains("检测")),
        "{t:?}"
    );
    assert!(r["hits"].as_array().unwrap().iter().all(|h| h["kind"] == "service"));
    // Filters: kind, category, issuer, 免申即享.
    let r = search(&ent, "R08", &format!("q={}&kind=policy", enc("检测"))).await;
    assert!(titles(&r).is_empty());
    let r = search(&ent, "R08", &format!("q={}&category={}", enc("服务包"), enc("法律"))).await;
    assert!(
        !titles(&r).is_empty() && titles(&r).iter().all(|t| t.starts_with("法律")),
        "{r}"
    );
    let r = search(
        &ent,
        "R08",
        &format!("q={}&issuer={}", enc("示范"), enc("福州市科技局（示范）")),
    )
    .await;
    assert_eq!(titles(&r), ["孵化载体认定奖励"]);
    let waiver = search(&ent, "R08", &format!("q={}&no_application=true", enc("示范"))).await;
    let all = search(&ent, "R08", &format!("q={}", enc("示范"))).await;
    assert!(titles(&waiver).len() < titles(&all).len());

    // Field errors with stable codes.
    for q in ["", "q=", "q=%20%EF%BC%8C"] {
        let r = ent.get(&format!("/api/v1/bases/R08/search?{q}")).await;
        assert_eq!(
            field_codes(r).await,
            [("q".to_string(), "search.empty_query".to_string())]
        );
    }
    let r = ent.get("/api/v1/bases/R08/search?q=x&kind=loan").await;
    assert_eq!(field_codes(r).await, [("kind".to_string(), "search.kind".to_string())]);
}
both!(chinese_queries_need_segmentation_and_filters_work);

async fn a_published_policy_is_found_at_once_in_every_process(app: &TestApp) {
    let admin = app.api_as("fz-admin").await;
    // A second process on the same database builds its index now, before the change.
    let other = TestApp::spawn_on(app.db.clone()).await;
    let other_ent = other.api_as("fz-enterprise").await;
    let q = format!("q={}", enc("知识产权质押"));
    let new_title = "知识产权质押融资贴息".to_string();
    assert!(!titles(&search(&other_ent, "R08", &q).await).contains(&new_title));

    let src = "policy ip \"知识产权质押融资贴息\"\nparam 贴息: money = 1万元\nrequire \"高新技术企业\": 高新技术企业\namount = 贴息\n";
    let r = admin
        .post(
            "/api/v1/bases/R08/policies",
            &json!({ "title": "知识产权质押融资贴息", "issuer": "福州市市场监管局", "full_text": "对以专利权质押获得贷款的企业给予贴息。",
                     "source": src, "effective_from": "2020-01-01" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // A draft is not searchable.
    assert!(!titles(&search(&other_ent, "R08", &q).await).contains(&new_title));
    let r = admin
        .post(&format!("/api/v1/bases/R08/policies/{id}/publish"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Found immediately, in this process and in the other one.
    let ent = app.api_as("fz-enterprise").await;
    for api in [&ent, &other_ent] {
        let r = search(api, "R08", &q).await;
        assert_eq!(titles(&r)[0], new_title, "{r}");
        assert_eq!(r["hits"][0]["id"], id.as_str());
        // The condition label of the rules is searchable too.
        let r = search(api, "R08", &format!("q={}", enc("高新技术企业"))).await;
        assert!(titles(&r).contains(&new_title), "{r}");
    }
    assert!(
        app.scalar(
            "SELECT generation FROM search_generations WHERE base_id = (SELECT id FROM bases WHERE code = 'R08')"
        )
        .await
            >= 2
    );
    // A new service too.
    let provider = app
        .text(
            "SELECT id FROM providers WHERE base_id = (SELECT id FROM bases WHERE code = 'R08') ORDER BY name LIMIT 1",
        )
        .await;
    let created = chuangtong::voucher::market::list_service(
        &app.state,
        &chuangtong::audit::Actor::system("test"),
        &app.text("SELECT id FROM bases WHERE code = 'R08'").await,
        &provider,
        &chuangtong::voucher::market::ServiceForm {
            name: "高新技术企业认定辅导".into(),
            category: "专利服务".into(),
            price_yuan: "5000".into(),
            description: "材料梳理与申报辅导".into(),
        },
    )
    .await;
    assert!(created.is_ok());
    let r = search(&other_ent, "R08", &format!("q={}&kind=service", enc("认定辅导"))).await;
    assert_eq!(titles(&r), ["高新技术企业认定辅导"], "{r}");
    other.finish().await;
}
both!(a_published_policy_is_found_at_once_in_every_process);

async fn no_base_sees_another_bases_documents(app: &TestApp) {
    let yp = app.api_as("yp-admin").await;
    for q in ["房租补贴", "检测", "税融通", "示范"] {
        let r = search(&yp, "R04", &format!("q={}", enc(q))).await;
        let fz_ids: Vec<String> = {
            let fz = app.api_as("fz-admin").await;
            let v = search(&fz, "R08", &format!("q={}", enc(q))).await;
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect()
        };
        for h in r["hits"].as_array().unwrap() {
            assert!(!fz_ids.contains(&h["id"].as_str().unwrap().to_string()), "{q}: {h}");
        }
    }
    let r = yp.get(&format!("/api/v1/bases/R08/search?q={}", enc("房租补贴"))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let b = app.browser_as("yp-admin").await;
    let s = b
        .get(app.url(&format!("/b/R08/search?q={}", enc("房租补贴"))))
        .send()
        .await
        .unwrap()
        .status();
    assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{s}");
}
both!(no_base_sees_another_bases_documents);

async fn the_search_page_renders_escaped_snippets(app: &TestApp) {
    let b = app.browser_as("fz-enterprise").await;
    let html = b.get(app.url("/b/R08")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"base-search\""));
    let html = b
        .get(app.url("/b/R08/policies"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"policy-search\""));
    let html = b
        .get(app.url(&format!("/b/R08/search?q={}", enc("房租补贴"))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("园区企业房租补贴") && html.contains("<b>房租补贴</b>"),
        "{html}"
    );
    // A query with markup comes back escaped, never as markup.
    let html = b
        .get(app.url(&format!("/b/R08/search?q={}", enc("<script>补贴</script>"))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>") && html.contains("script&#62;补贴"), "{html}");
    let html = b
        .get(app.url("/b/R08/search?q=%EF%BC%8C"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"search-error\"") && html.contains("请输入检索词"));
}
both!(the_search_page_renders_escaped_snippets);
