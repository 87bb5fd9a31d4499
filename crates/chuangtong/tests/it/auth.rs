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

/// Look-ups that arrive together share one query (`auth::resolver`); each
/// must still get its own account, and a revoked token, an expired session
/// or a disabled account must be refused even when it shares the query.
async fn credentials_looked_up_together_each_get_their_own_account(app: &TestApp) {
    use chuangtong::auth::resolver::Kind;
    use chuangtong::crypto::sm3_hex;

    let db = &app.state.db;
    let base_id = chuangtong::demo::load::base_id(db, "R08").await.unwrap();
    let firms = chuangtong::demo::load::register_firms(db, &base_id, 'A', 300)
        .await
        .unwrap();
    // Every 7th token revoked, every 11th account disabled.
    for (i, (_, token)) in firms.iter().enumerate() {
        if i % 7 == 3 {
            sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE token_digest = $1")
                .bind(sm3_hex(token.as_bytes()))
                .execute(db.pool())
                .await
                .unwrap();
        }
        if i % 11 == 5 {
            sqlx::query(
                "UPDATE users SET disabled = 1 WHERE id = (SELECT user_id FROM api_tokens WHERE token_digest = $1)",
            )
            .bind(sm3_hex(token.as_bytes()))
            .execute(db.pool())
            .await
            .unwrap();
        }
    }
    let live = |i: usize| i % 7 != 3 && i % 11 != 5;

    // Straight to the resolver: 300 look-ups (and a session, an unknown
    // secret) sent at once, so they are answered in shared batches.
    let browser = app.browser_as("fz-steward").await;
    let page = browser.get(app.url("/b/R08")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let session: String = app
        .text("SELECT s.token_digest FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'fz-steward'")
        .await;
    let mut set = tokio::task::JoinSet::new();
    for (i, (enterprise_id, token)) in firms.iter().cloned().enumerate() {
        let state = app.state.clone();
        set.spawn(async move {
            let found = state
                .credentials
                .resolve(&state.db, Kind::Token, sm3_hex(token.as_bytes()))
                .await
                .unwrap();
            (i, enterprise_id, found)
        });
    }
    for (kind, digest) in [
        (Kind::Session, session.clone()),
        (Kind::Token, sm3_hex(b"no-such-token")),
    ] {
        let state = app.state.clone();
        set.spawn(async move {
            let found = state.credentials.resolve(&state.db, kind, digest).await.unwrap();
            (usize::MAX, String::new(), found)
        });
    }
    let (mut refused, mut session_seen) = (0, false);
    while let Some(r) = set.join_next().await {
        let (i, enterprise_id, found) = r.unwrap();
        if i == usize::MAX {
            if let Some(user) = found {
                assert_eq!(user.username, "fz-steward");
                assert!(user.csrf.is_some(), "a session carries its CSRF token");
                session_seen = true;
            }
            continue;
        }
        match found {
            Some(user) => {
                assert!(live(i), "firm {i} must be refused");
                assert_eq!(user.username, format!("load-A-{i}"));
                assert_eq!(user.memberships.len(), 1);
                assert_eq!(user.memberships[0].subject_id.as_deref(), Some(enterprise_id.as_str()));
                assert_eq!(user.memberships[0].base_code, "R08");
            }
            None => {
                assert!(!live(i), "firm {i} must be let in");
                refused += 1;
            }
        }
    }
    assert!(session_seen, "the session resolves beside 300 tokens");
    assert_eq!(refused, (0..300).filter(|i| !live(*i)).count());

    // Through HTTP, concurrently: each firm sees itself, the refused get 401.
    let mut set = tokio::task::JoinSet::new();
    for (i, (_, token)) in firms.iter().cloned().enumerate() {
        let (client, url) = (app.client(), app.url("/api/v1/me"));
        set.spawn(async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status();
            let me: Value = r.json().await.unwrap_or_default();
            (i, status, me["username"].as_str().unwrap_or_default().to_string())
        });
    }
    while let Some(r) = set.join_next().await {
        let (i, status, username) = r.unwrap();
        if live(i) {
            assert_eq!((status, username), (StatusCode::OK, format!("load-A-{i}")));
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "firm {i}");
        }
    }

    // An expired session is refused the moment it expires.
    sqlx::query("UPDATE sessions SET expires_at = '2000-01-01T00:00:00Z' WHERE token_digest = $1")
        .bind(&session)
        .execute(db.pool())
        .await
        .unwrap();
    let found = app.state.credentials.resolve(db, Kind::Session, session).await.unwrap();
    assert!(found.is_none());
}
both!(credentials_looked_up_together_each_get_their_own_account);
