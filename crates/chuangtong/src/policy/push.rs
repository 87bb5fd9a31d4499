//! 精准推送: a base admin tells every firm that qualifies for a published
//! policy (the version in force today) what it qualifies for and how much.
//! Who was told about which version is recorded in the same transaction as
//! the notices, so pressing the button again reaches only firms not told
//! yet (and two admins pressing at once cannot both notify a firm).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::judge;
use super::pages::yuan;
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Db};
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PushRun {
    /// Firms notified now
    pub notified: i64,
    /// Qualifying firms told about this version before
    pub already_notified: i64,
    /// Accounts that received a notice
    pub accounts: i64,
}

/// Enterprise ids already told about a version.
pub async fn notified(db: &Db, base_id: &str, version_id: &str) -> Result<BTreeSet<String>, AppError> {
    let rows = sqlx::query("SELECT enterprise_id FROM policy_notices WHERE base_id = $1 AND version_id = $2")
        .bind(base_id)
        .bind(version_id)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Notifies every qualifying firm not yet told about the version in force.
pub async fn notify_matches(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    base_code: &str,
    policy_id: &str,
) -> Result<PushRun, AppError> {
    let m = judge::matches(state, base_id, policy_id).await?;
    let info = super::library::get(&state.db, base_id, policy_id, time::today()).await?;
    if info.state != "published" {
        return Err(AppError::refused("policy.not_published", "政策尚未发布，不能推送"));
    }
    let version = info.current_version.clone().expect("matches needs a version in force");
    let mut run = PushRun {
        notified: 0,
        already_notified: 0,
        accounts: 0,
    };
    let now = time::now_text();
    let mut tx = state.db.begin().await?;
    for firm in &m.firms {
        let inserted = sqlx::query(
            "INSERT INTO policy_notices (base_id, policy_id, version_id, enterprise_id, amount_fen, accounts, notified_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (version_id, enterprise_id) DO NOTHING",
        )
        .bind(base_id)
        .bind(policy_id)
        .bind(&version.id)
        .bind(&firm.enterprise_id)
        .bind(firm.amount_fen)
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            run.already_notified += 1;
            continue;
        }
        let notice = crate::notify::Notice {
            kind: "policy.matched",
            title: format!("您符合政策“{}”", info.title),
            body: format!(
                "根据平台掌握的信息，{}符合“{}”（{}）的条件，可享受 {} 元。请打开政策计算器查看依据和办理方式。",
                firm.enterprise_name,
                info.title,
                info.issuer,
                yuan(&Some(firm.amount_fen))
            ),
            link: Some(format!("/b/{base_code}/calculator")),
        };
        let accounts = crate::notify::send(
            &mut tx,
            base_id,
            crate::notify::Recipient::Subject(&firm.enterprise_id),
            &notice,
        )
        .await? as i64;
        sqlx::query("UPDATE policy_notices SET accounts = $1 WHERE version_id = $2 AND enterprise_id = $3")
            .bind(accounts)
            .bind(&version.id)
            .bind(&firm.enterprise_id)
            .execute(&mut *tx)
            .await?;
        run.notified += 1;
        run.accounts += accounts;
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.pushed",
            entity: "policy",
            entity_id: Some(policy_id),
            before: None,
            after: Some(json!({ "version": version.version, "notified": run.notified, "accounts": run.accounts })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}
