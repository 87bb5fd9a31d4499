//! Expiry (到期回收): when a batch's validity has ended (the day after
//! `valid_until`, Beijing date), what is left unused in its wallets returns
//! to the batch budget, through the ledger.
//!
//! Open orders are handled by how far they got while the voucher was valid:
//! - placed but not delivered: the voucher reservation is voided and the
//!   order goes on paid by the enterprise alone (its voucher part becomes 0);
//! - delivered: the provider did the work in time, so the reservation stays
//!   and the enterprise may still confirm (it posts) or cancel (it is voided,
//!   and the next sweep returns it).
//!
//! A sweep is one transaction per batch and may run any number of times, from
//! any process: each return's idempotency key names the wallet and how much
//! it had returned before, so a repeated or concurrent sweep moves nothing
//! twice. Sweeps run from the admin action, and on access (listing or opening
//! batches) for batches that were never swept.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, Resolution, TransferSpec};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ExpiryRun {
    pub batch_id: String,
    /// Reservations of undelivered orders released
    pub released_orders: i64,
    pub released_fen: i64,
    /// Wallets that returned money to the budget in this run
    pub returned_wallets: i64,
    pub returned_fen: i64,
}

/// Sweeps one expired batch. Refused (409) while the batch is still valid.
pub async fn expire_batch(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    batch_id: &str,
) -> Result<ExpiryRun, AppError> {
    let mut tx = state.db.begin().await?;
    // Serialise sweeps of one batch (SQLite's BEGIN IMMEDIATE already does).
    let lock = state.db.backend().row_lock();
    let row = sqlx::query(&format!(
        "SELECT code, valid_until, budget_account_id FROM voucher_batches WHERE base_id = $1 AND id = $2{lock}"
    ))
    .bind(base_id)
    .bind(batch_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let (code, valid_until, budget): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    if time::today().to_string() <= valid_until {
        return Err(AppError::refused(
            "voucher.not_expired",
            format!("该批次创新券有效期至{valid_until}，尚未到期"),
        ));
    }
    let mut run = ExpiryRun {
        batch_id: batch_id.to_string(),
        ..Default::default()
    };
    let now = time::now_text();

    // 1. Orders not delivered in time lose their voucher part.
    let open = sqlx::query(
        "SELECT o.id, o.voucher_fen, o.voucher_transfer_id, t.state FROM service_orders o \
         JOIN ledger_transfers t ON t.id = o.voucher_transfer_id \
         WHERE o.base_id = $1 AND o.batch_id = $2 AND o.state = 'placed' AND o.voucher_fen > 0 ORDER BY o.id",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_all(&mut *tx)
    .await?;
    for r in &open {
        let (order_id, amount, transfer_id, transfer_state): (String, i64, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        // A reservation the ledger already expired has returned to the wallet.
        if transfer_state == "pending" {
            ledger::resolve(&mut tx, &state.keys, actor, base_id, &transfer_id, Resolution::Void).await?;
        }
        sqlx::query(
            "UPDATE service_orders SET voucher_fen = 0, voucher_transfer_id = NULL, updated_at = $1 \
             WHERE id = $2 AND state = 'placed'",
        )
        .bind(&now)
        .bind(&order_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO voucher_released_reservations (order_id, base_id, batch_id, amount_fen, transfer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&order_id)
        .bind(base_id)
        .bind(batch_id)
        .bind(amount)
        .bind(&transfer_id)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        run.released_orders += 1;
        run.released_fen += amount;
    }

    // 2. What is left in each wallet goes back to the budget.
    let wallets = sqlx::query(
        "SELECT c.enterprise_id, c.wallet_account_id, a.credits_posted - a.debits_posted - a.debits_pending, \
         COALESCE((SELECT CAST(SUM(r.amount_fen) AS BIGINT) FROM voucher_wallet_returns r \
                   WHERE r.batch_id = c.batch_id AND r.enterprise_id = c.enterprise_id), 0) \
         FROM voucher_claims c JOIN ledger_accounts a ON a.id = c.wallet_account_id \
         WHERE c.base_id = $1 AND c.batch_id = $2 ORDER BY c.enterprise_id",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_all(&mut *tx)
    .await?;
    for w in &wallets {
        let (enterprise_id, wallet, available, returned_before): (String, String, i64, i64) =
            (w.get(0), w.get(1), w.get(2), w.get(3));
        if available <= 0 {
            continue;
        }
        let applied = ledger::transfer(
            &mut tx,
            state.db.backend(),
            &state.keys,
            actor,
            base_id,
            &format!("voucher-expiry:{batch_id}:{enterprise_id}:{returned_before}"),
            &[TransferSpec {
                debit_account_id: wallet,
                credit_account_id: budget.clone(),
                amount_fen: available,
                pending_timeout_secs: None,
                memo: format!("创新券批次 {code} 到期，未使用额度退回预算"),
            }],
        )
        .await?;
        if applied.replayed {
            continue;
        }
        sqlx::query(
            "INSERT INTO voucher_wallet_returns (id, base_id, batch_id, enterprise_id, amount_fen, transfer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::new_id())
        .bind(base_id)
        .bind(batch_id)
        .bind(&enterprise_id)
        .bind(available)
        .bind(&applied.transfer_ids[0])
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        run.returned_wallets += 1;
        run.returned_fen += available;
    }

    let first = sqlx::query(
        "INSERT INTO voucher_expiries (batch_id, base_id, expired_at) VALUES ($1, $2, $3) ON CONFLICT (batch_id) DO NOTHING",
    )
    .bind(batch_id)
    .bind(base_id)
    .bind(&now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first && run.released_orders == 0 && run.returned_wallets == 0 {
        // Nothing changed: no audit entry for a no-op.
        tx.rollback().await?;
        return Ok(run);
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "voucher.batch_expired",
            entity: "voucher_batch",
            entity_id: Some(batch_id),
            before: None,
            after: Some(
                json!({ "released_orders": run.released_orders, "released_fen": run.released_fen,
                "returned_wallets": run.returned_wallets, "returned_fen": run.returned_fen, "first_sweep": first }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// The check on access: sweeps the base's batches whose validity has ended
/// and that were never swept. One indexed read when there is nothing to do.
pub async fn sweep_due(state: &AppState, base_id: &str) -> Result<(), AppError> {
    let due = sqlx::query(
        "SELECT b.id FROM voucher_batches b WHERE b.base_id = $1 AND b.valid_until < $2 \
         AND NOT EXISTS (SELECT 1 FROM voucher_expiries e WHERE e.batch_id = b.id)",
    )
    .bind(base_id)
    .bind(time::today().to_string())
    .fetch_all(state.db.pool())
    .await?;
    let actor = Actor::system("voucher-expiry");
    for r in due {
        let id: String = r.get(0);
        match expire_batch(state, &actor, base_id, &id).await {
            Ok(_) => {}
            // A wallet was spent concurrently; the next access retries.
            Err(AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
