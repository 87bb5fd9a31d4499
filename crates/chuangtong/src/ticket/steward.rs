//! Which steward (服务管家) looks after which enterprise. Base admins assign;
//! the enterprise's tickets go to that steward first (首问负责).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::notify::{self, Notice, Recipient};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

/// A steward account of the base with its load.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Steward {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// Enterprises assigned to this steward
    pub enterprises: i64,
    /// Tickets in this steward's hands (open or accepted)
    pub open_tickets: i64,
}

pub async fn list(state: &AppState, base_id: &str) -> Result<Vec<Steward>, AppError> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.display_name, \
           (SELECT COUNT(*) FROM enterprise_stewards s WHERE s.base_id = m.base_id AND s.steward_id = u.id), \
           (SELECT COUNT(*) FROM tickets t WHERE t.base_id = m.base_id AND t.steward_id = u.id \
              AND t.state IN ('open', 'accepted')) \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.base_id = $1 AND m.role = 'steward' AND u.disabled = 0 ORDER BY u.username",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Steward {
            id: r.get(0),
            username: r.get(1),
            display_name: r.get(2),
            enterprises: r.get(3),
            open_tickets: r.get(4),
        })
        .collect())
}

/// One enterprise and its steward (if any).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub steward_id: Option<String>,
    pub steward_name: Option<String>,
    pub assigned_at: Option<String>,
}

/// Every enterprise of the base with its steward, by name.
pub async fn assignments(state: &AppState, base_id: &str) -> Result<Vec<Assignment>, AppError> {
    let rows = sqlx::query(
        "SELECT e.id, e.name, s.steward_id, u.display_name, s.assigned_at FROM enterprises e \
         LEFT JOIN enterprise_stewards s ON s.base_id = e.base_id AND s.enterprise_id = e.id \
         LEFT JOIN users u ON u.id = s.steward_id \
         WHERE e.base_id = $1 ORDER BY e.name, e.id",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(assignment_of).collect())
}

fn assignment_of(r: &sqlx::any::AnyRow) -> Assignment {
    Assignment {
        enterprise_id: r.get(0),
        enterprise_name: r.get(1),
        steward_id: r.get(2),
        steward_name: r.get(3),
        assigned_at: r.get(4),
    }
}

/// One enterprise's steward; 404 for an enterprise of another base.
pub async fn assignment(state: &AppState, base_id: &str, enterprise_id: &str) -> Result<Assignment, AppError> {
    let row = sqlx::query(
        "SELECT e.id, e.name, s.steward_id, u.display_name, s.assigned_at FROM enterprises e \
         LEFT JOIN enterprise_stewards s ON s.base_id = e.base_id AND s.enterprise_id = e.id \
         LEFT JOIN users u ON u.id = s.steward_id \
         WHERE e.base_id = $1 AND e.id = $2",
    )
    .bind(base_id)
    .bind(enterprise_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(assignment_of(&row))
}

/// The steward of an enterprise, inside a transaction.
pub async fn steward_of(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    base_id: &str,
    enterprise_id: &str,
) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query("SELECT steward_id FROM enterprise_stewards WHERE base_id = $1 AND enterprise_id = $2")
            .bind(base_id)
            .bind(enterprise_id)
            .fetch_optional(db)
            .await?
            .map(|r| r.get(0)),
    )
}

/// The display name of an active steward account of this base, or `None`.
pub async fn steward_name(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    base_id: &str,
    user_id: &str,
) -> Result<Option<String>, AppError> {
    Ok(sqlx::query(
        "SELECT u.display_name FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.base_id = $1 AND m.user_id = $2 AND m.role = 'steward' AND u.disabled = 0",
    )
    .bind(base_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .map(|r| r.get(0)))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignForm {
    pub enterprise_id: String,
    /// A steward account of the base (users.id)
    pub steward_id: String,
}

/// Makes `steward_id` the steward of an enterprise (base admins). Tickets
/// already raised stay where they are; new ones go to the new steward.
pub async fn assign(state: &AppState, actor: &Actor, base_id: &str, f: &AssignForm) -> Result<Assignment, AppError> {
    let mut tx = state.db.begin().await?;
    let enterprise: String = sqlx::query("SELECT name FROM enterprises WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(&f.enterprise_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::field("enterprise_id", "ticket.enterprise", "本基地没有该企业"))?
        .get(0);
    let name = steward_name(&mut *tx, base_id, &f.steward_id)
        .await?
        .ok_or_else(|| AppError::field("steward_id", "ticket.steward", "该账户不是本基地的服务管家"))?;
    let before = steward_of(&mut *tx, base_id, &f.enterprise_id).await?;
    let now = time::now_text();
    sqlx::query("DELETE FROM enterprise_stewards WHERE base_id = $1 AND enterprise_id = $2")
        .bind(base_id)
        .bind(&f.enterprise_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO enterprise_stewards (base_id, enterprise_id, steward_id, assigned_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(base_id)
    .bind(&f.enterprise_id)
    .bind(&f.steward_id)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "steward.assigned",
            entity: "enterprise",
            entity_id: Some(&f.enterprise_id),
            before: Some(serde_json::json!({ "steward_id": before })),
            after: Some(serde_json::json!({ "steward_id": f.steward_id })),
        },
    )
    .await?;
    if before.as_deref() != Some(f.steward_id.as_str()) {
        notify::send(
            &mut tx,
            base_id,
            Recipient::User(&f.steward_id),
            &Notice {
                kind: "steward.assigned",
                title: format!("您已成为“{enterprise}”的服务管家"),
                body: format!("今后“{enterprise}”提交的工单将首先派给您（首问负责）。"),
                link: None,
            },
        )
        .await?;
        notify::send(
            &mut tx,
            base_id,
            Recipient::Subject(&f.enterprise_id),
            &Notice {
                kind: "steward.assigned",
                title: format!("您的服务管家：{name}"),
                body: format!("{name} 将作为贵企业的服务管家，一管到底。有需求请提交工单。"),
                link: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Assignment {
        enterprise_id: f.enterprise_id.clone(),
        enterprise_name: enterprise,
        steward_id: Some(f.steward_id.clone()),
        steward_name: Some(name),
        assigned_at: Some(now),
    })
}
