//! Server-side sessions (cookie) and API tokens (bearer). Both store only the
//! SM3 digest of the secret handed to the client.

use chrono::{Duration, Utc};

use crate::crypto::{random_token, sm3_hex};
use crate::storage::{time, Tx};

pub const SESSION_COOKIE: &str = "ct_session";
/// Absolute session lifetime. Short enough for a shared office PC.
pub const SESSION_HOURS: i64 = 8;
pub const TOKEN_DAYS: i64 = 30;

pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub async fn create_session(tx: &mut Tx, user_id: &str) -> sqlx::Result<NewSession> {
    let token = random_token();
    let csrf_token = random_token();
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO sessions (token_digest, user_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sm3_hex(token.as_bytes()))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(time::to_text(now))
    .bind(time::to_text(now + Duration::hours(SESSION_HOURS)))
    .execute(&mut **tx)
    .await?;
    Ok(NewSession { token, csrf_token })
}

pub async fn delete_session(tx: &mut Tx, token: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_digest = $1")
        .bind(sm3_hex(token.as_bytes()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// After a password change every other session of the user ends.
pub async fn delete_user_sessions(tx: &mut Tx, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn create_token(tx: &mut Tx, user_id: &str, name: &str) -> sqlx::Result<String> {
    let token = format!("ct_{}", random_token());
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_digest, name, created_at, expires_at, revoked) \
         VALUES ($1, $2, $3, $4, $5, $6, 0)",
    )
    .bind(crate::new_id())
    .bind(user_id)
    .bind(sm3_hex(token.as_bytes()))
    .bind(name)
    .bind(time::to_text(now))
    .bind(time::to_text(now + Duration::days(TOKEN_DAYS)))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

pub async fn revoke_token(tx: &mut Tx, token: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE token_digest = $1")
        .bind(sm3_hex(token.as_bytes()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
