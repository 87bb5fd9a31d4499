//! Login throttling per client address (等保: 登录失败处理). Counts live in
//! the database so every process behind a load balancer shares them.
//! Per-account lockout is in `login.rs`.

use chrono::{Duration, Utc};
use sqlx::Row;

use crate::storage::{time, Tx};
use crate::web::error::AppError;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_ATTEMPTS_PER_WINDOW: i64 = 30;

/// Counts one attempt from `client`; refuses once the window's budget is spent.
pub async fn hit(tx: &mut Tx, client: &str) -> Result<(), AppError> {
    let now = Utc::now();
    let row = sqlx::query("SELECT window_start, attempts FROM login_throttle WHERE client = $1")
        .bind(client)
        .fetch_optional(&mut **tx)
        .await?;
    let (start, attempts) = match row {
        Some(r) => {
            let start = time::parse_text(&r.get::<String, _>(0)).unwrap_or(now);
            (start, r.get::<i64, _>(1))
        }
        None => (now, 0),
    };
    let window_over = now - start >= Duration::minutes(WINDOW_MINUTES);
    let (start, attempts) = if window_over { (now, 0) } else { (start, attempts) };
    if attempts >= MAX_ATTEMPTS_PER_WINDOW {
        let retry = (start + Duration::minutes(WINDOW_MINUTES) - now).num_seconds().max(1) as u64;
        return Err(AppError::TooManyRequests {
            code: "auth.throttled",
            message: format!("登录尝试过于频繁，请{}分钟后再试", retry.div_ceil(60)),
            retry_after_secs: retry,
        });
    }
    sqlx::query(
        "INSERT INTO login_throttle (client, window_start, attempts) VALUES ($1, $2, $3) \
         ON CONFLICT (client) DO UPDATE SET window_start = excluded.window_start, attempts = excluded.attempts",
    )
    .bind(client)
    .bind(time::to_text(start))
    .bind(attempts + 1)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
