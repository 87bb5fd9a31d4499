//! Claiming a voucher (申领): first come, first served. One claim per firm
//! per batch (a unique key and an idempotency key), inside the claim window,
//! never more than the batch holds: the budget's floor is checked by the
//! ledger in the same statement that debits it. Claims are committed in
//! groups by the batch's claim desk ([`super::desk`]).

use chrono::Utc;
use serde::Serialize;
use sqlx::Row;

use crate::audit::Actor;
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

/// A claim as read back: the wallet's balance now.
const READ: &str = "SELECT c.id, c.batch_id, c.enterprise_id, c.amount_fen, \
     a.credits_posted - a.debits_posted - a.debits_pending, c.created_at \
     FROM voucher_claims c JOIN ledger_accounts a ON a.id = c.wallet_account_id \
     WHERE c.base_id = $1 AND c.batch_id = $2";

fn read_back(r: &sqlx::any::AnyRow) -> Claim {
    Claim {
        id: r.get(0),
        batch_id: r.get(1),
        enterprise_id: r.get(2),
        amount_fen: r.get(3),
        wallet_available_fen: r.get(4),
        created_at: r.get(5),
        replayed: true,
    }
}

pub async fn find(
    state: &AppState,
    base_id: &str,
    batch_id: &str,
    enterprise_id: &str,
) -> Result<Option<Claim>, AppError> {
    let row = sqlx::query(&format!("{READ} AND c.enterprise_id = $3"))
        .bind(base_id)
        .bind(batch_id)
        .bind(enterprise_id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.as_ref().map(read_back))
}

/// Every claim of a batch (for the claim desk once the batch is sold out).
pub async fn all(state: &AppState, base_id: &str, batch_id: &str) -> Result<Vec<Claim>, AppError> {
    let rows = sqlx::query(READ)
        .bind(base_id)
        .bind(batch_id)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(read_back).collect())
}

/// The claim use case (first come, first served). A firm that already
/// claimed gets its first claim back. The checks that need no database run
/// here; the rest runs in the batch's claim desk, in a group (see [`super::desk`]).
pub async fn claim(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    batch_id: &str,
    enterprise_id: &str,
) -> Result<Claim, AppError> {
    let desk = state.claim_desks.get(state, base_id, batch_id).await?;
    if desk.terms.lottery {
        return Err(AppError::refused(
            "voucher.lottery_batch",
            "本批次以摇号方式分配：请在申领期内登记意向，截止后公开摇号",
        ));
    }
    desk.terms.check_window(Utc::now())?;
    if let (Some(policy), false) = (&desk.terms.eligibility_policy_id, desk.is_sold_out()) {
        super::eligibility::check_firm(state, base_id, policy, enterprise_id).await?;
    }
    desk.claim(actor, enterprise_id).await
}
