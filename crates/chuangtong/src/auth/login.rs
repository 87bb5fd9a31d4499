//! The login use case: throttle, per-account lockout, argon2 verification,
//! session or token issue, audit. Failures are committed too (they must
//! count), so this runs as two short transactions around the slow hash check.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::Row;

use super::password;
use super::session::{self, NewSession};
use super::throttle;
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

/// Consecutive failures before an account is locked (等保: 限制非法登录次数).
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCK_MINUTES: i64 = 15;

pub enum Issue {
    Session,
    Token,
}

pub enum Issued {
    Session(NewSession),
    Token(String),
}

pub async fn login(
    state: &AppState,
    username: &str,
    password_text: &str,
    client: &str,
    issue: Issue,
) -> Result<(String, Issued), AppError> {
    let username = username.trim();
    if username.is_empty() || password_text.is_empty() {
        let mut errs = crate::web::error::FieldErrors::default();
        if username.is_empty() {
            errs.push("username", "auth.username_required", "请输入用户名");
        }
        if password_text.is_empty() {
            errs.push("password", "auth.password_required", "请输入密码");
        }
        return Err(AppError::Validation(errs.0));
    }
    // 1. Count the attempt and read the account.
    let mut tx = state.db.begin().await?;
    throttle::check(&mut tx, client).await?;
    let user =
        sqlx::query("SELECT id, password_hash, failed_logins, locked_until, disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;

    let invalid = || AppError::rejected(StatusCode::UNAUTHORIZED, "auth.invalid_credentials", "用户名或密码错误");
    let Some(user) = user else {
        let _ = password::verify(password_text.to_string(), password::dummy_hash().to_string()).await;
        let mut tx = state.db.begin().await?;
        throttle::record_failure(&mut tx, client).await?;
        tx.commit().await?;
        return Err(invalid());
    };
    let user_id: String = user.get(0);
    let phc: String = user.get(1);
    let locked_until: Option<String> = user.get(3);
    let disabled: i64 = user.get(4);
    if disabled == 1 {
        return Err(AppError::rejected(
            StatusCode::FORBIDDEN,
            "auth.disabled",
            "账户已停用，请联系管理员",
        ));
    }
    if let Some(until) = locked_until.as_deref().and_then(time::parse_text) {
        if until > Utc::now() {
            return Err(AppError::rejected(
                StatusCode::LOCKED,
                "auth.locked",
                format!(
                    "连续登录失败次数过多，账户已锁定，请于{}后再试",
                    time::display(&time::to_text(until))
                ),
            ));
        }
    }

    // 2. The slow part, outside any transaction.
    let ok = password::verify(password_text.to_string(), phc).await?;

    // 3. Record the outcome.
    let mut tx = state.db.begin().await?;
    let actor = Actor {
        user_id: Some(user_id.clone()),
        name: username.to_string(),
    };
    if !ok {
        throttle::record_failure(&mut tx, client).await?;
        let failed: i64 =
            sqlx::query("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
                .bind(&user_id)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
        let locked = failed >= MAX_FAILED_LOGINS;
        if locked {
            sqlx::query("UPDATE users SET locked_until = $1, failed_logins = 0 WHERE id = $2")
                .bind(time::to_text(Utc::now() + Duration::minutes(LOCK_MINUTES)))
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(
            &mut tx,
            &state.keys,
            &actor,
            Entry {
                base_id: None,
                action: if locked { "auth.locked" } else { "auth.login_failed" },
                entity: "user",
                entity_id: Some(&user_id),
                before: None,
                after: Some(json!({ "client": client, "failed_logins": failed })),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(invalid());
    }
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let issued = match issue {
        Issue::Session => Issued::Session(session::create_session(&mut tx, &user_id).await?),
        Issue::Token => Issued::Token(session::create_token(&mut tx, &user_id, "api").await?),
    };
    audit::append(
        &mut tx,
        &state.keys,
        &actor,
        Entry {
            base_id: None,
            action: "auth.login",
            entity: "user",
            entity_id: Some(&user_id),
            before: None,
            after: Some(json!({ "client": client, "via": match issued { Issued::Session(_) => "session", Issued::Token(_) => "token" } })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((user_id, issued))
}

/// Password change: checks the current password and the policy, stores the
/// new hash, ends all sessions and tokens of the user, audits.
pub async fn change_password(
    state: &AppState,
    user_id: &str,
    username: &str,
    current: &str,
    new: &str,
) -> Result<(), AppError> {
    let phc: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(state.db.pool())
        .await?
        .get(0);
    if !password::verify(current.to_string(), phc).await? {
        return Err(AppError::field(
            "current_password",
            "password.wrong_current",
            "当前密码不正确",
        ));
    }
    password::check_policy("new_password", username, new)?;
    if current == new {
        return Err(AppError::field(
            "new_password",
            "password.unchanged",
            "新密码不能与当前密码相同",
        ));
    }
    let new_hash = password::hash(new.to_string()).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
        .bind(new_hash)
        .bind(time::now_text())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    session::delete_user_sessions(&mut tx, user_id).await?;
    audit::append(
        &mut tx,
        &state.keys,
        &Actor {
            user_id: Some(user_id.to_string()),
            name: username.to_string(),
        },
        Entry {
            base_id: None,
            action: "auth.password_changed",
            entity: "user",
            entity_id: Some(user_id),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
