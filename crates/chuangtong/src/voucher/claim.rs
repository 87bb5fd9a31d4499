//! Claiming a voucher (申领): first come, first served. One claim per firm
//! per batch (a unique key and an idempotency key), inside the claim window,
//! never more than the batch holds: the budget's floor is checked by the
//! ledger in the same statement that debits it.

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::accounts;
use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::storage::{time, Backend};
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Claim {
    pub id: String,
    pub batch_id: String,
    pub enterprise_id: String,
    pub amount_fen: i64,
    /// What is left in the wallet to spend
    pub wallet_available_fen: i64,
    pub created_at: String,
    /// True when this answer repeats an earlier claim
    pub replayed: bool,
}

pub async fn find(
    state: &AppState,
    base_id: &str,
    batch_id: &str,
    enterprise_id: &str,
) -> Result<Option<Claim>, AppError> {
    let row = sqlx::query(
        "SELECT c.id, c.batch_id, c.enterprise_id, c.amount_fen, a.credits_posted - a.debits_posted - a.debits_pending, c.created_at \
         FROM voucher_claims c JOIN ledger_accounts a ON a.id = c.wallet_account_id \
         WHERE c.base_id = $1 AND c.batch_id = $2 AND c.enterprise_id = $3",
    )
    .bind(base_id)
    .bind(batch_id)
    .bind(enterprise_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(row.map(|r| Claim {
        id: r.get(0),
        batch_id: r.get(1),
        enterprise_id: r.get(2),
        amount_fen: r.get(3),
        wallet_available_fen: r.get(4),
        created_at: r.get(5),
        replayed: true,
    }))
}

/// The claim use case. A firm that already claimed gets its first claim back.
pub async fn claim(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    batch_id: &str,
    enterprise_id: &str,
) -> Result<Claim, AppError> {
    if let Some(existing) = find(state, base_id, batch_id, enterprise_id).await? {
        return Ok(existing);
    }
    let mut tx = state.db.begin().await?;
    let batch = sqlx::query(
        "SELECT code, per_firm_cap_fen, claim_opens_at, claim_closes_at, budget_account_id FROM voucher_batches \
         WHERE base_id = $1 AND id = $2",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let (code, cap, opens, closes, budget): (String, i64, String, String, String) =
        (batch.get(0), batch.get(1), batch.get(2), batch.get(3), batch.get(4));
    let now = Utc::now();
    if time::parse_text(&opens).is_some_and(|o| now < o) {
        return Err(AppError::refused(
            "voucher.not_open",
            format!("申领尚未开始，开始时间 {}", time::display(&opens)),
        ));
    }
    if time::parse_text(&closes).is_some_and(|c| now >= c) {
        return Err(AppError::refused(
            "voucher.closed",
            format!("申领已于 {} 截止", time::display(&closes)),
        ));
    }
    // The enterprise must be in this base's registry.
    let known = sqlx::query("SELECT 1 FROM enterprises WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(enterprise_id)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        return Err(AppError::NotFound);
    }
    // Read what is left under a lock (PostgreSQL row lock; SQLite's
    // BEGIN IMMEDIATE already serialises writers), then take min(cap, left).
    let lock = if state.db.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let available: i64 = sqlx::query(&format!(
        "SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE id = $1{lock}"
    ))
    .bind(&budget)
    .fetch_one(&mut *tx)
    .await?
    .get(0);
    let amount = cap.min(available);
    if amount <= 0 {
        return Err(AppError::refused("voucher.sold_out", "本批次创新券已领完"));
    }
    let wallet = ledger::open_account(
        &mut tx,
        base_id,
        &accounts::wallet(&code, enterprise_id),
        &format!("{code} 券钱包"),
        AccountKind::Wallet,
        true,
    )
    .await?;
    let applied = match ledger::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("voucher-claim:{batch_id}:{enterprise_id}"),
        &[TransferSpec {
            debit_account_id: budget,
            credit_account_id: wallet.clone(),
            amount_fen: amount,
            pending_timeout_secs: None,
            memo: format!("申领创新券 {code}"),
        }],
    )
    .await
    {
        Ok(applied) => applied,
        // The same firm's concurrent claim got there first with another amount.
        Err(ledger::Failure::Refused(ledger::LedgerError::IdempotencyConflict(_))) => {
            tx.rollback().await?;
            return find(state, base_id, batch_id, enterprise_id)
                .await?
                .ok_or(AppError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    let id = crate::new_id();
    let created_at = time::now_text();
    let inserted = sqlx::query(
        "INSERT INTO voucher_claims (id, base_id, batch_id, enterprise_id, amount_fen, wallet_account_id, transfer_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(batch_id)
    .bind(enterprise_id)
    .bind(amount)
    .bind(&wallet)
    .bind(&applied.transfer_ids[0])
    .bind(&created_at)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        // A concurrent claim by the same firm won the unique key: roll back
        // and answer with that claim.
        if crate::storage::unique_violation(&e) {
            tx.rollback().await?;
            return find(state, base_id, batch_id, enterprise_id)
                .await?
                .ok_or(AppError::NotFound);
        }
        return Err(e.into());
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "voucher.claimed",
            entity: "voucher_claim",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "batch_id": batch_id, "enterprise_id": enterprise_id, "amount_fen": amount })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Claim {
        id,
        batch_id: batch_id.to_string(),
        enterprise_id: enterprise_id.to_string(),
        amount_fen: amount,
        wallet_available_fen: amount,
        created_at,
        replayed: false,
    })
}
