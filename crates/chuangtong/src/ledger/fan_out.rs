//! Fan-out: one account pays many new accounts in a handful of statements.
//!
//! [`transfer`](super::transfer) moves the money of one request with a few
//! statements per leg and an audit entry per request. That is right for an
//! order or a pay-out, and too slow for a flash claim, where thousands of
//! firms are each paid from the same budget within a second. Group commit
//! (see `voucher::desk`) gathers those claims; this module writes a whole
//! group with one statement per table, whatever its size:
//!
//! - [`open_new_accounts`]: one multi-row `INSERT … ON CONFLICT DO NOTHING
//!   RETURNING`, which also tells the caller which accounts *it* created (a
//!   concurrent transaction that created the same code owns that one);
//! - [`post_fan_out`]: one `UPDATE` of the debit account with the floor check
//!   on the group's total, one `UPDATE` of the credited accounts, one
//!   `INSERT` of the requests (idempotency keys, same digest as `transfer`
//!   would store, so a later retry through `transfer` is recognised) and one
//!   `INSERT` of the transfers.
//!
//! The balances stay derivable from `ledger_transfers`, so [`verify`](super::verify)
//! proves a fan-out like any other transfer. The caller writes one audit
//! entry for the group.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::Row;

use super::{refusal, AccountKind, Failure, LedgerError, TransferSpec, MAX_AMOUNT_FEN};
use crate::crypto::sm3_hex;
use crate::storage::{time, Backend, Params, Tx};

/// Rows per statement: far below SQLite's 32,766 and PostgreSQL's 65,535
/// bound parameters for the widest table (12 columns).
const ROWS_PER_STATEMENT: usize = 500;

pub struct NewAccount {
    pub code: String,
    pub name: String,
    pub kind: AccountKind,
    pub no_overdraft: bool,
}

/// One payee of a fan-out.
pub struct FanOutLeg {
    pub idempotency_key: String,
    pub credit_account_id: String,
    pub amount_fen: i64,
    pub memo: String,
}

/// Opens accounts that should not exist yet. Returns `code → id` for the
/// accounts this call created; a code that already existed (or that a
/// concurrent transaction created first) is absent from the map.
pub async fn open_new_accounts(
    tx: &mut Tx,
    backend: Backend,
    base_id: &str,
    accounts: &[NewAccount],
) -> Result<HashMap<String, String>, Failure> {
    let now = time::now_text();
    let mut created = HashMap::with_capacity(accounts.len());
    for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO ledger_accounts (id, base_id, code, name, kind, debits_must_not_exceed_credits, created_at) \
             VALUES {} ON CONFLICT (base_id, code) DO NOTHING RETURNING id, code",
            Params::new(backend).rows(chunk.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q
                .bind(crate::new_id())
                .bind(base_id)
                .bind(&a.code)
                .bind(&a.name)
                .bind(a.kind.as_str())
                .bind(a.no_overdraft as i64)
                .bind(&now);
        }
        for row in q.fetch_all(&mut **tx).await? {
            created.insert(row.get::<String, _>(1), row.get::<String, _>(0));
        }
    }
    Ok(created)
}

/// Posts one transfer per leg, all debiting `debit_account_id`, inside the
/// caller's transaction. Every idempotency key must be new and every
/// credited account distinct. All or nothing: on a refusal the caller rolls
/// back. Returns the transfer ids in the order of `legs`.
pub async fn post_fan_out(
    tx: &mut Tx,
    backend: Backend,
    base_id: &str,
    debit_account_id: &str,
    legs: &[FanOutLeg],
) -> Result<Vec<String>, Failure> {
    if legs.is_empty() {
        return Err(LedgerError::Empty.into());
    }
    let mut total: i64 = 0;
    for l in legs {
        if l.amount_fen <= 0 || l.amount_fen > MAX_AMOUNT_FEN {
            return Err(LedgerError::InvalidAmount(l.amount_fen).into());
        }
        if l.credit_account_id == debit_account_id {
            return Err(LedgerError::SameAccount.into());
        }
        total = total
            .checked_add(l.amount_fen)
            .filter(|t| *t <= MAX_AMOUNT_FEN)
            .ok_or(LedgerError::InvalidAmount(i64::MAX))?;
    }
    // PostgreSQL: lock the debit account, then the credited ones in id order,
    // the same global order `transfer` uses, so crossing requests queue
    // instead of deadlocking.
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE")
            .bind(debit_account_id)
            .execute(&mut **tx)
            .await?;
    }

    // 1. The debit, with the floor checked on the whole group's total.
    let debited = sqlx::query(
        "UPDATE ledger_accounts SET debits_posted = debits_posted + $1 WHERE id = $2 AND base_id = $3 \
         AND (debits_must_not_exceed_credits = 0 OR debits_pending + debits_posted + $1 <= credits_posted)",
    )
    .bind(total)
    .bind(debit_account_id)
    .bind(base_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if debited == 0 {
        return Err(refusal(tx, base_id, debit_account_id, total).await);
    }

    let now = time::to_text(Utc::now());
    let ids: Vec<String> = legs.iter().map(|_| crate::new_id()).collect();
    for (chunk_no, chunk) in legs.chunks(ROWS_PER_STATEMENT).enumerate() {
        // 2. The credits: one statement, `CASE id WHEN … THEN amount`.
        let mut p = Params::new(backend);
        let mut case = String::from("CASE id");
        for _ in chunk {
            case.push_str(&format!(" WHEN {} THEN {}", p.one(), p.one()));
        }
        case.push_str(" END");
        let list = p.list(chunk.len());
        let base_param = p.one();
        if backend == Backend::Postgres {
            let lock = format!(
                "SELECT id FROM ledger_accounts WHERE id IN ({}) ORDER BY id FOR UPDATE",
                Params::new(backend).list(chunk.len())
            );
            let mut q = sqlx::query(&lock);
            for l in chunk {
                q = q.bind(&l.credit_account_id);
            }
            q.execute(&mut **tx).await?;
        }
        let sql = format!(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + ({case}) \
             WHERE id IN ({list}) AND base_id = {base_param}"
        );
        let mut q = sqlx::query(&sql);
        for l in chunk {
            q = q.bind(&l.credit_account_id).bind(l.amount_fen);
        }
        for l in chunk {
            q = q.bind(&l.credit_account_id);
        }
        let credited = q.bind(base_id).execute(&mut **tx).await?.rows_affected();
        if credited as usize != chunk.len() {
            return Err(LedgerError::UnknownAccount(format!(
                "{} 个收款账户中有 {} 个不存在或重复",
                chunk.len(),
                chunk.len() - credited as usize
            ))
            .into());
        }

        // 3. The requests: the digest is the one `transfer` stores for a
        //    single posted leg, so a retry through `transfer` replays.
        let sql = format!(
            "INSERT INTO ledger_requests (base_id, idempotency_key, request_digest, created_at) VALUES {} \
             ON CONFLICT (base_id, idempotency_key) DO NOTHING RETURNING idempotency_key",
            Params::new(backend).rows(chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for l in chunk {
            let spec = [TransferSpec {
                debit_account_id: debit_account_id.to_string(),
                credit_account_id: l.credit_account_id.clone(),
                amount_fen: l.amount_fen,
                pending_timeout_secs: None,
                memo: l.memo.clone(),
            }];
            let digest = sm3_hex(serde_json::to_string(&spec).map_err(anyhow::Error::from)?.as_bytes());
            q = q.bind(base_id).bind(&l.idempotency_key).bind(digest).bind(&now);
        }
        let fresh = q.fetch_all(&mut **tx).await?.len();
        if fresh != chunk.len() {
            let key = chunk.first().map(|l| l.idempotency_key.clone()).unwrap_or_default();
            return Err(LedgerError::IdempotencyConflict(key).into());
        }

        // 4. The transfers.
        let sql = format!(
            "INSERT INTO ledger_transfers (id, base_id, idempotency_key, position, debit_account_id, credit_account_id, \
             amount_fen, mode, state, expires_at, resolved_at, memo, created_at) VALUES {}",
            Params::new(backend).rows(chunk.len(), 13)
        );
        let mut q = sqlx::query(&sql);
        for (i, l) in chunk.iter().enumerate() {
            q = q
                .bind(&ids[chunk_no * ROWS_PER_STATEMENT + i])
                .bind(base_id)
                .bind(&l.idempotency_key)
                .bind(0i64)
                .bind(debit_account_id)
                .bind(&l.credit_account_id)
                .bind(l.amount_fen)
                .bind("posted")
                .bind("posted")
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(&l.memo)
                .bind(&now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(ids)
}
