//! Login, lockout, throttling, sessions, CSRF, tokens, password change.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{csrf_of, field_codes, TestApp, DEMO_PASSWORD};

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    (s, v["error"]["code"].as_str().unwrap_or_default().to_string())
}

async fn every_demo_role_can_log_in_and_see_its_bases(app: &TestApp) {
    for (user, base, role) in [
        ("fz-admin", "R08", "base_admin"),
        ("fz-steward", "R08", "steward"),
        ("fz-enterprise", "R08", "enterprise"),
        ("fz-team", "R08", "team"),
        ("fz-provider", "R08", "provider"),
        ("fz-expert", "R08", "expert"),
        ("fz-investor", "R08", "investor"),
        ("yp-admin", "R04", "base_admin"),
    ] {
        let api = app.api_as(user).await;
        let me = api.get_json("/api/v1/me").await;
        assert_eq!(me["bases"].as_array().unwrap().len(), 1, "{user}");
        assert_eq!(me["bases"][0]["base_code"], base);
        assert_eq!(me["bases"][0]["role"], role);
        let bases = api.get_json("/api/v1/bases").await;
        assert_eq!(bases.as_array().unwrap().len(), 1);
    }
    let admin = app.api_as("admin").await;
    assert_eq!(admin.get_json("/api/v1/bases").await.as_array().unwrap().len(), 28);
}
both!(every_demo_role_can_log_in_and_see_its_bases);

async fn wrong_passwords_lock_the_account(app: &TestApp) {
    assert_eq!(
        error_code(login(app, "nobody", "whatever").await).await,
        (StatusCode::UNAUTHORIZED, "auth.invalid_credentials".into())
    );
    let codes = error_code(login(app, "", "").await).await;
    assert_eq!(codes, (StatusCode::UNPROCESSABLE_ENTITY, "validation".into()));
    for _ in 0..5 {
        assert_eq!(
            error_code(login(app, "fz-expert", "wrong-password-1").await).await.1,
            "auth.invalid_credentials"
        );
    }
    // Locked now: even the right password is refused, and the failures were audited.
    assert_eq!(
        error_code(login(app, "fz-expert", DEMO_PASSWORD).await).await,
        (StatusCode::LOCKED, "auth.locked".into())
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'")
            .await,
        4
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.locked'")
            .await,
        1
    );
    // Other accounts are unaffected.
    assert_eq!(login(app, "fz-steward", DEMO_PASSWORD).await.status(), StatusCode::OK);
}
both!(wrong_passwords_lock_the_account);

async fn one_client_address_is_throttled(app: &TestApp) {
    let mut last = StatusCode::OK;
    for i in 0..31 {
        last = login(app, &format!("ghost{i}"), "x").await.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let r = login(app, "fz-admin", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}
both!(one_client_address_is_throttled);

async fn session_cookie_csrf_and_logout(app: &TestApp) {
    let b = app.browser();
    let r = b
        .post(app.url("/login"))
        .form(&[("username", "fz-admin"), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let home = b.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("福建福州新区"));
    let csrf = csrf_of(&home);

    // A JSON call riding on the cookie needs the CSRF header.
    let body = json!({ "name": "x" });
    let r = b
        .post(app.url("/api/v1/bases/R08/carriers"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (StatusCode::FORBIDDEN, "auth.csrf".into()));
    // A form without the token is refused and the session stays.
    let r = b
        .post(app.url("/logout"))
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.get(app.url("/b/R08")).send().await.unwrap().status(), StatusCode::OK);
    // With the token, logout ends the session server-side.
    let r = b
        .post(app.url("/logout"))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        b.get(app.url("/b/R08")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);
}
both!(session_cookie_csrf_and_logout);

async fn password_change_checks_policy_and_ends_other_logins(app: &TestApp) {
    let api = app.api_as("fz-team").await;
    let other = app.api_as("fz-team").await;
    let r = api
        .post(
            "/api/v1/me/password",
            &json!({ "current_password": "nope", "new_password": "abc" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("current_password".into(), "password.wrong_current".into())]
    );
    let r = api
        .post(
            "/api/v1/me/password",
            &json!({ "current_password": DEMO_PASSWORD, "new_password": "short1" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("new_password".into(), "password.too_short".into())]
    );
    let r = api
        .post(
            "/api/v1/me/password",
            &json!({ "current_password": DEMO_PASSWORD, "new_password": "onlyletterslong" }),
        )
        .await;
    assert_eq!(
        field_codes(r).await,
        vec![("new_password".into(), "password.too_weak".into())]
    );

    let r = api
        .post(
            "/api/v1/me/password",
            &json!({ "current_password": DEMO_PASSWORD, "new_password": "new-secret-2026" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        other.get("/api/v1/me").await.status(),
        StatusCode::UNAUTHORIZED,
        "old tokens revoked"
    );
    assert_eq!(
        login(app, "fz-team", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(app, "fz-team", "new-secret-2026").await.status(), StatusCode::OK);
    let hash = app
        .text("SELECT password_hash FROM users WHERE username = 'fz-team'")
        .await;
    assert!(hash.starts_with("$argon2id$"));
}
both!(password_change_checks_policy_and_ends_other_logins);

async fn api_logout_revokes_the_token(app: &TestApp) {
    let api = app.api_as("fz-investor").await;
    assert_eq!(api.get("/api/v1/me").await.status(), StatusCode::OK);
    assert_eq!(
        api.post("/api/v1/auth/logout", &json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
}
both!(api_logout_revokes_the_token);
