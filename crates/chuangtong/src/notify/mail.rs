//! E-mail copies of notices: the outbox queued by [`super::send`] and the
//! worker that delivers it to an SMTP relay.
//!
//! Every `serve` process configured with `CHUANGTONG_SMTP_URL` runs the
//! worker. A process claims a row with one conditional `UPDATE` that moves
//! its `next_attempt_at` past now (a lease): on PostgreSQL the second claimer
//! re-reads the row after the first commits and finds it no longer due; on
//! SQLite the single writer serialises them. So a mail is handed to the relay
//! by one process at a time. A failed attempt is retried with a growing delay
//! and the row is marked `failed` after [`MAX_ATTEMPTS`]; the relay is local
//! and trusted, so plain SMTP is enough (no TLS stack in the binary).

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;

use super::Notice;
use crate::storage::{time, Db};
use crate::web::AppState;

/// After this many failed attempts a mail is given up (`failed`).
pub const MAX_ATTEMPTS: i64 = 6;
/// How long a claimed row is reserved for the process sending it.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);
/// Rows handed to the relay per sweep.
const BATCH: i64 = 50;
const SWEEP_EVERY: Duration = Duration::from_secs(3);

pub fn subject_of(n: &Notice) -> String {
    format!("【创通】{}", n.title)
}

pub fn body_of(n: &Notice) -> String {
    let mut body = n.body.clone();
    if let Some(link) = &n.link {
        body.push_str(&format!("\n\n在平台中查看：{link}"));
    }
    body.push_str("\n\n—— 创通双创服务平台（系统邮件，请勿直接回复）");
    body
}

/// Checks an address the way the relay will need it; the message is Chinese.
pub fn parse_address(s: &str) -> Result<String, String> {
    if s.chars().count() > 254 {
        return Err("邮箱地址过长（不超过254个字符）".into());
    }
    s.parse::<lettre::Address>()
        .map(|a| a.to_string())
        .map_err(|_| format!("“{s}”不是有效的邮箱地址"))
}

/// An SMTP relay to hand mail to.
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("from", &self.from.to_string()).finish()
    }
}

impl Relay {
    /// `smtp://host[:port]` (port 25 by default) and a sender such as
    /// `创通 <noreply@example.cn>`. Credentials are refused: without TLS they
    /// would cross the network in clear.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Relay> {
        let u = url::Url::parse(url).with_context(|| format!("CHUANGTONG_SMTP_URL 无法解析: {url}"))?;
        if u.scheme() != "smtp" {
            bail!("CHUANGTONG_SMTP_URL 只支持 smtp://主机[:端口]（本地中继，不含 TLS）: {url}");
        }
        if !u.username().is_empty() || u.password().is_some() {
            bail!("CHUANGTONG_SMTP_URL 不应包含用户名或密码（无 TLS 时会明文传输）");
        }
        let host = u.host_str().context("CHUANGTONG_SMTP_URL 缺少主机名")?;
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("CHUANGTONG_SMTP_FROM 不是有效的发件人: {from}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(u.port().unwrap_or(25))
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Relay { transport, from })
    }

    async fn deliver(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().with_context(|| format!("收件地址无效: {to}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .context("build message")?;
        self.transport
            .send(message)
            .await
            .context("SMTP relay refused the mail")?;
        Ok(())
    }
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
}

/// Delay before attempt `n + 1` after `n` failures: 30 s, 1 min, 2 min … capped at 1 h.
pub fn backoff(failures: i64) -> chrono::Duration {
    let secs = 30i64.saturating_mul(1i64 << failures.clamp(1, 10).saturating_sub(1));
    chrono::Duration::seconds(secs.min(3600))
}

/// Hands every due outbox row to the relay once.
pub async fn deliver_due(db: &Db, relay: &Relay) -> anyhow::Result<Sweep> {
    let now = time::now_text();
    let due = sqlx::query(
        "SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(&now)
    .bind(BATCH)
    .fetch_all(db.pool())
    .await?;
    let mut sweep = Sweep::default();
    for r in due {
        let id: String = r.get(0);
        let now = time::now_text();
        let lease = time::to_text(Utc::now() + LEASE);
        // The claim: only one process moves a due row forward.
        let claimed = sqlx::query(
            "UPDATE email_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3 \
             RETURNING to_address, subject, body, attempts",
        )
        .bind(&lease)
        .bind(&id)
        .bind(&now)
        .fetch_optional(db.pool())
        .await?;
        let Some(row) = claimed else { continue };
        let (to, subject, body, attempts): (String, String, String, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        match relay.deliver(&to, &subject, &body).await {
            Ok(()) => {
                sqlx::query("UPDATE email_outbox SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2")
                    .bind(time::now_text())
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
                sweep.sent += 1;
            }
            Err(e) => {
                let error = format!("{e:#}");
                let give_up = attempts >= MAX_ATTEMPTS;
                sqlx::query("UPDATE email_outbox SET status = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
                    .bind(if give_up { "failed" } else { "pending" })
                    .bind(time::to_text(Utc::now() + backoff(attempts)))
                    .bind(error.chars().take(500).collect::<String>())
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
                tracing::warn!(outbox_id = %id, attempts, give_up, error = %error, "notification mail not delivered");
                if give_up {
                    sweep.failed += 1;
                } else {
                    sweep.retrying += 1;
                }
            }
        }
    }
    Ok(sweep)
}

/// Starts the delivery worker when a relay is configured.
pub fn spawn(state: &AppState) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(url) = state.settings.smtp_url.as_deref() else {
        return Ok(None);
    };
    let relay = Relay::new(url, &state.settings.smtp_from)?;
    let db = state.db.clone();
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            match deliver_due(&db, &relay).await {
                Ok(s) if s == Sweep::default() => {}
                Ok(s) => tracing::info!(
                    sent = s.sent,
                    retrying = s.retrying,
                    failed = s.failed,
                    "notification mail sweep"
                ),
                Err(e) => tracing::warn!(error = %e, "notification mail sweep failed"),
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(3).num_seconds(), 120);
        assert_eq!(backoff(9).num_seconds(), 3600);
        assert_eq!(backoff(50).num_seconds(), 3600);
    }

    #[test]
    fn relay_url_is_checked() {
        assert!(Relay::new("smtp://127.0.0.1:2525", "创通 <noreply@example.cn>").is_ok());
        assert!(Relay::new("smtps://127.0.0.1", "noreply@example.cn").is_err());
        assert!(Relay::new("smtp://u:p@127.0.0.1", "noreply@example.cn").is_err());
        assert!(Relay::new("smtp://127.0.0.1", "not an address").is_err());
    }

    #[test]
    fn addresses_are_parsed() {
        assert_eq!(parse_address("li.si@example.cn").unwrap(), "li.si@example.cn");
        assert!(parse_address("li.si").is_err());
        assert!(parse_address("a b@example.cn").is_err());
    }
}
