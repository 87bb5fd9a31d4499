//! Settling 补发与追回 (see [`super::correction`]) through the ledger.
//!
//! A correction records what each approved and paid application is owed
//! either way as a pending `application_adjustments` row. Settling it moves
//! the money, once, in one transaction with the row's state:
//!
//! - 补发 (top-up): the programme's budget pays the firm's payable, as the
//!   first pay-out did; an application that names a cost item is paid as a
//!   support against it (`financing::support::pay_in`), so the 一费一补 cap
//!   holds for the top-up too;
//! - 追回 (clawback): the firm's payable pays the amount back to the
//!   programme's budget, so what the base owes the firm is again what the
//!   corrected rules give, and the budget can spend it again.
//!
//! The ledger's idempotency key is the adjustment's id: settling twice, or
//! from two processes at once, moves the money once. Only paid applications
//! are settled: before the pay-out, the amount paid is still to be decided.

use chuangtong_domain::Fen;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::application::{accounts, notices};
use crate::audit::{self, Actor, Entry};
use crate::financing::support;
use crate::ledger::{self, TransferSpec};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Settlement {
    pub adjustment_id: String,
    pub application_id: String,
    /// top_up | clawback
    pub kind: String,
    /// > 0 paid to the firm, < 0 taken back
    pub delta_fen: i64,
    pub transfer_id: String,
    pub settled_at: String,
    /// True when this answer repeats an earlier settlement
    pub replayed: bool,
}

/// Settles the pending application adjustment `adjustment_id` of the
/// policy `policy_id` of `base_id`.
pub async fn settle(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    policy_id: &str,
    adjustment_id: &str,
) -> Result<Settlement, AppError> {
    let mut tx = state.db.begin().await?;
    // The adjustment's row lock queues a second settlement behind the first.
    let lock = state.db.backend().row_lock_of("j");
    let row = sqlx::query(&format!(
        "SELECT j.application_id, j.enterprise_id, j.delta_fen, j.kind, j.state, j.transfer_id, j.settled_at, \
         a.payout_transfer_id, a.cost_item_id, g.budget_account_id, g.name \
         FROM application_adjustments j JOIN applications a ON a.id = j.application_id \
         JOIN programmes g ON g.id = a.programme_id \
         WHERE j.base_id = $1 AND j.policy_id = $2 AND j.id = $3{lock}"
    ))
    .bind(base_id)
    .bind(policy_id)
    .bind(adjustment_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let application_id: String = row.get(0);
    let enterprise_id: String = row.get(1);
    let delta: i64 = row.get(2);
    let kind: String = row.get(3);
    let adjustment_state: String = row.get(4);
    if adjustment_state == "settled" {
        tx.rollback().await?;
        return Ok(Settlement {
            adjustment_id: adjustment_id.to_string(),
            application_id,
            kind,
            delta_fen: delta,
            transfer_id: row.get::<Option<String>, _>(5).unwrap_or_default(),
            settled_at: row.get::<Option<String>, _>(6).unwrap_or_default(),
            replayed: true,
        });
    }
    if adjustment_state != "pending" {
        return Err(AppError::refused("adjustment.cancelled", "该调整已取消，不能结算"));
    }
    if delta == 0 {
        return Err(AppError::refused(
            "adjustment.unchanged",
            "更正后金额不变，无需补发或追回",
        ));
    }
    if row.get::<Option<String>, _>(7).is_none() {
        return Err(AppError::refused(
            "adjustment.application_unpaid",
            "该申报尚未兑现：兑现后再结算补发或追回",
        ));
    }
    let cost_item: Option<String> = row.get(8);
    let budget: String = row.get(9);
    let programme: String = row.get(10);
    let key = format!("application-adjustment:{adjustment_id}");

    let transfer_id = match (delta > 0, cost_item) {
        (true, Some(item)) => {
            support::pay_in(
                &mut tx,
                state,
                actor,
                base_id,
                &item,
                &format!("{programme}（政策更正补发）"),
                &budget,
                delta,
                &key,
            )
            .await?
            .transfer_id
        }
        (top_up, _) => {
            let payable = accounts::open_payable(&mut tx, base_id, &enterprise_id).await?;
            let (debit, credit, memo) = if top_up {
                (budget.clone(), payable, format!("{programme} 政策更正补发"))
            } else {
                (payable, budget.clone(), format!("{programme} 政策更正追回"))
            };
            ledger::transfer(
                &mut tx,
                state.db.backend(),
                &state.keys,
                actor,
                base_id,
                &key,
                &[TransferSpec {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount_fen: delta.abs(),
                    pending_timeout_secs: None,
                    memo,
                }],
            )
            .await?
            .transfer_ids[0]
                .clone()
        }
    };
    let settled_at = time::now_text();
    sqlx::query(
        "UPDATE application_adjustments SET state = 'settled', transfer_id = $1, settled_at = $2 \
         WHERE id = $3 AND state = 'pending'",
    )
    .bind(&transfer_id)
    .bind(&settled_at)
    .bind(adjustment_id)
    .execute(&mut *tx)
    .await?;
    let (title, body) = if delta > 0 {
        (
            "政策更正：补发扶持资金",
            format!(
                "依据政策更正，补发 {} 元（记账凭证 {transfer_id}）。",
                Fen::from_fen(delta)
            ),
        )
    } else {
        (
            "政策更正：追回扶持资金",
            format!(
                "依据政策更正，应退回 {} 元，已从应付扶持资金中扣减（记账凭证 {transfer_id}）。",
                Fen::from_fen(-delta)
            ),
        )
    };
    notices::applicant(
        &mut tx,
        base_id,
        &enterprise_id,
        "application.adjusted",
        &application_id,
        title,
        body,
    )
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.adjustment_settled",
            entity: "application",
            entity_id: Some(&application_id),
            before: Some(json!({ "adjustment_id": adjustment_id, "state": "pending" })),
            after: Some(
                json!({ "adjustment_id": adjustment_id, "state": "settled", "kind": kind,
                "delta_fen": delta, "transfer_id": transfer_id }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Settlement {
        adjustment_id: adjustment_id.to_string(),
        application_id,
        kind,
        delta_fen: delta,
        transfer_id,
        settled_at,
        replayed: false,
    })
}
