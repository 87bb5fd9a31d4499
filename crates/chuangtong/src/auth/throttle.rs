//! Login throttling per client address (等保: 登录失败处理): failed attempts
//! are counted per address and window. Counts live in
//! the database so every process behind a load balancer shares them.
//! Per-account lockout is in `login.rs`.

use chrono::{Duration, Utc};
use sqlx::Row;

use crate::storage::{time, Tx};
use crate::web::error::AppError;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_ATTEMPTS_PER_WINDOW: i64 = 30;

/// Refuses a login attempt from `client` once its failures in the current
/// window have used up the budget. Successful logins do not count, so a busy
/// office behind one address is not locked out by its own colleagues.
pub async fn check(tx: &mut Tx, client: &str) -> Result<(), AppError> {
    let now = Utc::now();
    let row = sqlx::query("SELECT window_start, attempts FROM login_throttle WHERE client = $1")
        .bind(client)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(r) = row else { return Ok(()) };
    let start = time::parse_text(&r.get::<String, _>(0)).unwrap_or(now);
    let failures: i64 = r.get(1);
    if now - start >= Duration::minutes(WINDOW_MINUTES) || failures < MAX_ATTEMPTS_PER_WINDOW {
        return Ok(());
    }
    let retry = (start + Duration::minutes(WINDOW_MINUTES) - now).num_seconds().max(1) as u64;
    Err(AppError::TooManyRequests {
        code: "auth.throttled",
        message: format!("登录失败次数过多，请{}分钟后再试", retry.div_ceil(60)),
        retry_after_secs: retry,
    })
}

/// Counts one failed attempt from `client` (a new window starts when the old one is over).
pub async fn record_failure(tx: &mut Tx, client: &str) -> Result<(), AppError> {
    let now = Utc::now();
    let row = sqlx::query("SELECT window_start, attempts FROM login_throttle WHERE client = $1")
        .bind(client)
        .fetch_optional(&mut **tx)
        .await?;
    let (start, failures) = match row {
        Some(r) => (
            time::parse_text(&r.get::<String, _>(0)).unwrap_or(now),
            r.get::<i64, _>(1),
        ),
        None => (now, 0),
    };
    let (start, failures) = if now - start >= Duration::minutes(WINDOW_MINUTES) {
        (now, 0)
    } else {
        (start, failures)
    };
    sqlx::query(
        "INSERT INTO login_throttle (client, window_start, attempts) VALUES ($1, $2, $3) \
         ON CONFLICT (client) DO UPDATE SET window_start = excluded.window_start, attempts = excluded.attempts",
    )
    .bind(client)
    .bind(time::to_text(start))
    .bind(failures + 1)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
