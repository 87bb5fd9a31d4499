//! Redemption (兑现): a provider asks to be paid for its confirmed voucher
//! orders; the base admin settles, moving the money from the provider's
//! payable to settlement. The payable account cannot be overdrawn, and only
//! confirmed orders credited it, so nothing unconfirmed can ever be paid.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::accounts;
use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Redemption {
    pub id: String,
    pub provider_id: String,
    pub amount_fen: i64,
    pub state: String,
    pub orders: i64,
    pub created_at: String,
}

/// Gathers every confirmed, not yet redeemed voucher order of the provider.
pub async fn request(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    provider_id: &str,
) -> Result<Redemption, AppError> {
    let mut tx = state.db.begin().await?;
    let id = crate::new_id();
    let claimed = sqlx::query(
        "UPDATE service_orders SET redemption_id = $1 WHERE base_id = $2 AND provider_id = $3 \
         AND state = 'confirmed' AND voucher_fen > 0 AND redemption_id IS NULL \
         AND NOT EXISTS (SELECT 1 FROM voucher_order_flags f WHERE f.order_id = service_orders.id AND f.state = 'flagged')",
    )
    .bind(&id)
    .bind(base_id)
    .bind(provider_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        let held: i64 = sqlx::query(
            "SELECT COUNT(*) FROM service_orders o JOIN voucher_order_flags f ON f.order_id = o.id \
             WHERE o.base_id = $1 AND o.provider_id = $2 AND o.state = 'confirmed' AND o.redemption_id IS NULL \
             AND f.state = 'flagged'",
        )
        .bind(base_id)
        .bind(provider_id)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        if held > 0 {
            return Err(AppError::refused(
                "redemption.held_for_review",
                format!("有 {held} 个已确认订单涉嫌关联交易，须基地管理员审核通过后才能申请兑现"),
            ));
        }
        return Err(AppError::refused(
            "redemption.nothing",
            "没有可兑现的订单：只有企业确认交付的创新券订单才能申请兑现",
        ));
    }
    let amount: i64 =
        sqlx::query("SELECT CAST(SUM(voucher_fen) AS BIGINT) FROM service_orders WHERE redemption_id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO redemptions (id, base_id, provider_id, amount_fen, state, transfer_id, note, created_at, resolved_at) \
         VALUES ($1, $2, $3, $4, 'requested', NULL, '', $5, NULL)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(provider_id)
    .bind(amount)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "redemption.requested",
            entity: "redemption",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "provider_id": provider_id, "amount_fen": amount, "orders": claimed })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redemption {
        id,
        provider_id: provider_id.to_string(),
        amount_fen: amount,
        state: "requested".into(),
        orders: claimed as i64,
        created_at: now,
    })
}

/// The base admin settles a requested redemption.
pub async fn settle(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    redemption_id: &str,
) -> Result<Redemption, AppError> {
    let mut tx = state.db.begin().await?;
    let row = sqlx::query(
        "SELECT provider_id, amount_fen, state, created_at FROM redemptions WHERE base_id = $1 AND id = $2",
    )
    .bind(base_id)
    .bind(redemption_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let (provider_id, amount, st, created_at): (String, i64, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if st != "requested" {
        return Err(AppError::refused("redemption.state", "该兑现申请已处理"));
    }
    let payable = ledger::account_by_code(&mut tx, base_id, &accounts::payable(&provider_id)).await?;
    let settlement = ledger::open_account(
        &mut tx,
        base_id,
        accounts::SETTLEMENT,
        "服务机构结算",
        AccountKind::Settlement,
        false,
    )
    .await?;
    let applied = ledger::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("redemption:{redemption_id}"),
        &[TransferSpec {
            debit_account_id: payable.id,
            credit_account_id: settlement,
            amount_fen: amount,
            pending_timeout_secs: None,
            memo: format!("创新券兑现 {redemption_id}"),
        }],
    )
    .await?;
    sqlx::query("UPDATE redemptions SET state = 'settled', transfer_id = $1, resolved_at = $2 WHERE id = $3 AND state = 'requested'")
        .bind(&applied.transfer_ids[0])
        .bind(time::now_text())
        .bind(redemption_id)
        .execute(&mut *tx)
        .await?;
    let orders = sqlx::query("UPDATE service_orders SET state = 'redeemed', updated_at = $1 WHERE redemption_id = $2 AND state = 'confirmed'")
        .bind(time::now_text())
        .bind(redemption_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "redemption.settled",
            entity: "redemption",
            entity_id: Some(redemption_id),
            before: Some(json!({ "state": "requested" })),
            after: Some(json!({ "state": "settled", "amount_fen": amount, "orders": orders })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redemption {
        id: redemption_id.to_string(),
        provider_id,
        amount_fen: amount,
        state: "settled".into(),
        orders: orders as i64,
        created_at,
    })
}

pub async fn list(state: &AppState, base_id: &str, provider_id: Option<&str>) -> Result<Vec<Redemption>, AppError> {
    let rows = sqlx::query(
        "SELECT r.id, r.provider_id, r.amount_fen, r.state, \
         (SELECT COUNT(*) FROM service_orders o WHERE o.redemption_id = r.id), r.created_at \
         FROM redemptions r WHERE r.base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR r.provider_id = $2) ORDER BY r.created_at DESC",
    )
    .bind(base_id)
    .bind(provider_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Redemption {
            id: r.get(0),
            provider_id: r.get(1),
            amount_fen: r.get(2),
            state: r.get(3),
            orders: r.get(4),
            created_at: r.get(5),
        })
        .collect())
}
