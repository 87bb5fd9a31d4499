//! Notifications (站内消息) and their e-mail copies.
//!
//! Every capability tells people about the steps that concern them through
//! [`send`], called inside the transaction of the step itself: the notice
//! exists exactly when the step committed, never for a rolled-back one. Each
//! recipient account gets its own row (reading state is personal), and a user
//! only ever reads rows carrying their own id.
//!
//! When the recipient has an e-mail address, [`send`] also queues a row in
//! `email_outbox` in the same transaction; [`mail`] delivers the outbox to an
//! SMTP relay from every `serve` process configured with
//! `CHUANGTONG_SMTP_URL`. The queueing does not depend on the sending
//! process's configuration (it has none inside a transaction), so several
//! processes on one database agree; without a relay the rows stay `pending`.

pub mod mail;
pub mod pages;
pub mod routes;

use serde::Serialize;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::auth::Role;
use crate::storage::{time, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// Who receives a notice, always inside one base.
#[derive(Clone, Copy, Debug)]
pub enum Recipient<'a> {
    /// One account (users.id).
    User(&'a str),
    /// Every account of the base acting for this registry record
    /// (memberships.subject_id: an enterprise, provider, expert…).
    Subject(&'a str),
    /// Every account of the base with this role (e.g. `Role::BaseAdmin`).
    Role(Role),
}

/// What to tell them.
#[derive(Clone, Debug)]
pub struct Notice {
    /// Stable code, e.g. `application.returned`.
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    /// A path inside the platform, e.g. `/b/{base}/applications/{id}`.
    pub link: Option<String>,
}

/// Inside the caller's transaction, so a notice exists iff the step it
/// reports committed. Returns how many accounts got it. Disabled accounts
/// get nothing.
pub async fn send(tx: &mut Tx, base_id: &str, to: Recipient<'_>, notice: &Notice) -> Result<u64, sqlx::Error> {
    let rows = match to {
        Recipient::User(user_id) => {
            sqlx::query("SELECT id, email FROM users WHERE id = $1 AND disabled = 0")
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await?
        }
        Recipient::Subject(subject_id) => {
            sqlx::query(
                "SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.base_id = $1 AND m.subject_id = $2 AND u.disabled = 0 ORDER BY u.id",
            )
            .bind(base_id)
            .bind(subject_id)
            .fetch_all(&mut **tx)
            .await?
        }
        Recipient::Role(role) => {
            sqlx::query(
                "SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.base_id = $1 AND m.role = $2 AND u.disabled = 0 ORDER BY u.id",
            )
            .bind(base_id)
            .bind(role.as_str())
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let now = time::now_text();
    let mut count = 0;
    for r in &rows {
        let user_id: String = r.get(0);
        let email: Option<String> = r.get(1);
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO notifications (id, base_id, user_id, kind, title, body, link, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(base_id)
        .bind(&user_id)
        .bind(notice.kind)
        .bind(&notice.title)
        .bind(&notice.body)
        .bind(notice.link.as_deref())
        .bind(&now)
        .execute(&mut **tx)
        .await?;
        if let Some(to) = email.filter(|e| !e.trim().is_empty()) {
            sqlx::query(
                "INSERT INTO email_outbox (id, base_id, notification_id, to_address, subject, body, \
                 status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
            )
            .bind(crate::new_id())
            .bind(base_id)
            .bind(&id)
            .bind(&to)
            .bind(mail::subject_of(notice))
            .bind(mail::body_of(notice))
            .bind(&now)
            .execute(&mut **tx)
            .await?;
        }
        count += 1;
    }
    Ok(count)
}

/// One notice as its recipient sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: String,
    pub read_at: Option<String>,
}

impl Notification {
    pub fn unread(&self) -> bool {
        self.read_at.is_none()
    }

    pub fn when(&self) -> String {
        time::display(&self.created_at)
    }
}

/// The caller's notices in one base, newest first.
pub async fn inbox(
    state: &AppState,
    base_id: &str,
    user_id: &str,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>, AppError> {
    let sql = if unread_only {
        "SELECT id, kind, title, body, link, created_at, read_at FROM notifications \
         WHERE base_id = $1 AND user_id = $2 AND read_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $3"
    } else {
        "SELECT id, kind, title, body, link, created_at, read_at FROM notifications \
         WHERE base_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
    };
    let rows = sqlx::query(sql)
        .bind(base_id)
        .bind(user_id)
        .bind(limit)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| Notification {
            id: r.get(0),
            kind: r.get(1),
            title: r.get(2),
            body: r.get(3),
            link: r.get(4),
            created_at: r.get(5),
            read_at: r.get(6),
        })
        .collect())
}

pub async fn unread_count(state: &AppState, base_id: &str, user_id: &str) -> Result<i64, AppError> {
    Ok(
        sqlx::query("SELECT COUNT(*) FROM notifications WHERE base_id = $1 AND user_id = $2 AND read_at IS NULL")
            .bind(base_id)
            .bind(user_id)
            .fetch_one(state.db.pool())
            .await?
            .get::<i64, _>(0),
    )
}

/// Marks one of the caller's notices read and returns its link. Another
/// person's notice (or one of another base) is 404, as if it did not exist.
pub async fn mark_read(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    user_id: &str,
    id: &str,
) -> Result<Option<String>, AppError> {
    let mut tx = state.db.begin().await?;
    let row = sqlx::query("SELECT link, read_at FROM notifications WHERE id = $1 AND base_id = $2 AND user_id = $3")
        .bind(id)
        .bind(base_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let link: Option<String> = row.get(0);
    let read_at: Option<String> = row.get(1);
    if read_at.is_none() {
        let now = time::now_text();
        sqlx::query("UPDATE notifications SET read_at = $1 WHERE id = $2 AND read_at IS NULL")
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            &state.keys,
            actor,
            Entry {
                base_id: Some(base_id),
                action: "notification.read",
                entity: "notification",
                entity_id: Some(id),
                before: None,
                after: Some(serde_json::json!({ "read_at": now })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(link)
}

/// Marks every unread notice of the caller in this base read; returns how many.
pub async fn mark_all_read(state: &AppState, actor: &Actor, base_id: &str, user_id: &str) -> Result<u64, AppError> {
    let mut tx = state.db.begin().await?;
    let now = time::now_text();
    let n =
        sqlx::query("UPDATE notifications SET read_at = $1 WHERE base_id = $2 AND user_id = $3 AND read_at IS NULL")
            .bind(&now)
            .bind(base_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if n > 0 {
        audit::append(
            &mut tx,
            &state.keys,
            actor,
            Entry {
                base_id: Some(base_id),
                action: "notification.read_all",
                entity: "notification",
                entity_id: None,
                before: None,
                after: Some(serde_json::json!({ "marked": n, "read_at": now })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// The caller's mail address, if any.
pub async fn email_of(state: &AppState, user_id: &str) -> Result<Option<String>, AppError> {
    Ok(sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(state.db.pool())
        .await?
        .and_then(|r| r.get::<Option<String>, _>(0)))
}

/// Sets (or with an empty value clears) where the caller's notices are mailed.
/// The address is personal information: the audit entry keeps it masked.
pub async fn set_email(
    state: &AppState,
    actor: &Actor,
    user_id: &str,
    email: &str,
) -> Result<Option<String>, AppError> {
    let email = email.trim();
    let parsed = if email.is_empty() {
        None
    } else {
        Some(mail::parse_address(email).map_err(|m| AppError::field("email", "email.invalid", m))?)
    };
    let mut tx = state.db.begin().await?;
    let before: Option<String> = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?
        .get(0);
    sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(parsed.as_deref())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: None,
            action: "user.email",
            entity: "user",
            entity_id: Some(user_id),
            before: Some(serde_json::json!({ "email": before.as_deref().map(mask_email) })),
            after: Some(serde_json::json!({ "email": parsed.as_deref().map(mask_email) })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(parsed)
}

/// `zhang.san@example.cn` → `z***@example.cn`.
pub fn mask_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_local_part() {
        assert_eq!(mask_email("zhang.san@example.cn"), "z***@example.cn");
        assert_eq!(mask_email("张@例子.中国"), "张***@例子.中国");
        assert_eq!(mask_email("nonsense"), "***");
    }
}
