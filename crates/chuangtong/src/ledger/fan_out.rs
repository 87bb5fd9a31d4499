//! Fan-out: one account pays many new accounts in a handful of statements.
//!
//! [`transfer`](super::transfer) moves the money of one request with a few
//! statements per leg and an audit entry per request. That is right for an
//! order or a pay-out, and too slow for a flash claim, where thousands of
//! firms are each paid from the same budget within a second. Group commit
//! (see `voucher::desk`) gathers those claims; [`fund_new_accounts`] writes a
//! whole group with one statement per table, whatever its size:
//!
//! 1. one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` opens the
//!    payees' accounts with their credit already posted, and tells the
//!    caller which accounts *it* created (a concurrent transaction that
//!    created the same code owns that one, and its payee is not paid here).
//!    An account nobody else can see yet needs no separate credit `UPDATE`
//!    and no row lock: that saved a third of the group's time;
//! 2. one `INSERT` of the requests (idempotency keys, same digest as
//!    `transfer` would store, so a later retry through `transfer` is
//!    recognised) and one `INSERT` of the transfers;
//! 3. [`debit_total`]: one `UPDATE` of the paying account with the floor
//!    check on the total, which the caller runs *last*, just before its
//!    commit. The paying account is the one hot row; taking its lock last
//!    lets two groups write their rows at the same time and queue only for
//!    the debit and the commit.
//!
//! The balances stay derivable from `ledger_transfers`, so [`verify`](super::verify)
//! proves a fan-out like any other transfer. The caller writes one audit
//! entry for the group.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::Row;

use super::{refusal, AccountKind, Failure, LedgerError, TransferSpec, MAX_AMOUNT_FEN};
use crate::crypto::sm3_hex;
use crate::storage::bulk::{Cell, Rows};
use crate::storage::{time, Backend, Tx};

/// Rows per statement: far below SQLite's 32,766 bound parameters for the
/// widest table (13 columns); PostgreSQL's rows travel as one JSON parameter.
const ROWS_PER_STATEMENT: usize = 500;

const ACCOUNT_COLUMNS: &[&str] = &[
    "id",
    "base_id",
    "code",
    "name",
    "kind",
    "debits_must_not_exceed_credits",
    "credits_posted",
    "created_at",
];
const REQUEST_COLUMNS: &[&str] = &["base_id", "idempotency_key", "request_digest", "created_at"];
const TRANSFER_COLUMNS: &[&str] = &[
    "id",
    "base_id",
    "idempotency_key",
    "position",
    "debit_account_id",
    "credit_account_id",
    "amount_fen",
    "mode",
    "state",
    "expires_at",
    "resolved_at",
    "memo",
    "created_at",
];

/// One payee of a fan-out: a new account and what it is paid.
pub struct NewPayee {
    pub code: String,
    pub name: String,
    pub kind: AccountKind,
    pub no_overdraft: bool,
    pub idempotency_key: String,
    pub amount_fen: i64,
    pub memo: String,
}

/// A payee this call paid.
#[derive(Clone, Debug)]
pub struct Funded {
    pub account_id: String,
    pub transfer_id: String,
}

/// Opens an account for every payee whose code is new and records its
/// payment from `debit_account_id`, inside the caller's transaction. Returns,
/// by account code, the payees this call paid (a payee whose account already
/// existed, or a concurrent transaction created first, is absent and not
/// paid) and their total, which the caller must then debit with
/// [`debit_total`] in the same transaction. Every idempotency key must be
/// new. All or nothing: on a refusal (a reused key, later the floor of the
/// paying account) the caller rolls back.
pub async fn fund_new_accounts(
    tx: &mut Tx,
    backend: Backend,
    base_id: &str,
    debit_account_id: &str,
    payees: &[NewPayee],
) -> Result<(HashMap<String, Funded>, i64), Failure> {
    for p in payees {
        if p.amount_fen <= 0 || p.amount_fen > MAX_AMOUNT_FEN {
            return Err(LedgerError::InvalidAmount(p.amount_fen).into());
        }
    }
    let now = time::to_text(Utc::now());

    // 1. The accounts, credited as they are opened.
    let mut funded: HashMap<String, Funded> = HashMap::with_capacity(payees.len());
    for chunk in payees.chunks(ROWS_PER_STATEMENT) {
        let mut rows = Rows::new("ledger_accounts", ACCOUNT_COLUMNS);
        for p in chunk {
            rows.push(vec![
                crate::new_id().into(),
                base_id.into(),
                (&p.code).into(),
                (&p.name).into(),
                p.kind.as_str().into(),
                (p.no_overdraft as i64).into(),
                p.amount_fen.into(),
                (&now).into(),
            ]);
        }
        let sql = rows.insert_sql(backend, "ON CONFLICT (base_id, code) DO NOTHING RETURNING id, code");
        for row in rows.bind(backend, sqlx::query(&sql)).fetch_all(&mut **tx).await? {
            funded.insert(
                row.get::<String, _>(1),
                Funded {
                    account_id: row.get(0),
                    transfer_id: crate::new_id(),
                },
            );
        }
    }
    // A code listed twice is opened (and paid) once: for its first payee.
    let mut seen = std::collections::HashSet::with_capacity(funded.len());
    let paid: Vec<&NewPayee> = payees
        .iter()
        .filter(|p| funded.contains_key(&p.code) && seen.insert(p.code.as_str()))
        .collect();
    if paid.is_empty() {
        return Ok((funded, 0));
    }
    // Every account paid was created just now, so none is the paying one.
    let mut total: i64 = 0;
    for p in &paid {
        total = total
            .checked_add(p.amount_fen)
            .filter(|t| *t <= MAX_AMOUNT_FEN)
            .ok_or(LedgerError::InvalidAmount(i64::MAX))?;
    }

    for chunk in paid.chunks(ROWS_PER_STATEMENT) {
        // 2. The requests: the digest is the one `transfer` stores for a
        //    single posted leg, so a retry through `transfer` replays.
        let mut rows = Rows::new("ledger_requests", REQUEST_COLUMNS);
        for p in chunk {
            let spec = [TransferSpec {
                debit_account_id: debit_account_id.to_string(),
                credit_account_id: funded[&p.code].account_id.clone(),
                amount_fen: p.amount_fen,
                pending_timeout_secs: None,
                memo: p.memo.clone(),
            }];
            let digest = sm3_hex(serde_json::to_string(&spec).map_err(anyhow::Error::from)?.as_bytes());
            rows.push(vec![
                base_id.into(),
                (&p.idempotency_key).into(),
                digest.into(),
                (&now).into(),
            ]);
        }
        let sql = rows.insert_sql(
            backend,
            "ON CONFLICT (base_id, idempotency_key) DO NOTHING RETURNING idempotency_key",
        );
        let q = rows.bind(backend, sqlx::query(&sql));
        let fresh = q.fetch_all(&mut **tx).await?.len();
        if fresh != chunk.len() {
            let key = chunk.first().map(|p| p.idempotency_key.clone()).unwrap_or_default();
            return Err(LedgerError::IdempotencyConflict(key).into());
        }

        // 3. The transfers.
        let mut rows = Rows::new("ledger_transfers", TRANSFER_COLUMNS);
        for p in chunk {
            let f = &funded[&p.code];
            rows.push(vec![
                (&f.transfer_id).into(),
                base_id.into(),
                (&p.idempotency_key).into(),
                0i64.into(),
                debit_account_id.into(),
                (&f.account_id).into(),
                p.amount_fen.into(),
                "posted".into(),
                "posted".into(),
                Cell::Null,
                Cell::Null,
                (&p.memo).into(),
                (&now).into(),
            ]);
        }
        let sql = rows.insert_sql(backend, "");
        let q = rows.bind(backend, sqlx::query(&sql));
        q.execute(&mut **tx).await?;
    }
    Ok((funded, total))
}

/// Debits `total` from `account_id` with its floor checked in the same
/// statement, and returns what the account holds afterwards. Refused
/// (insufficient funds, unknown account): the caller rolls back.
pub async fn debit_total(tx: &mut Tx, base_id: &str, account_id: &str, total: i64) -> Result<i64, Failure> {
    let left = sqlx::query(
        "UPDATE ledger_accounts SET debits_posted = debits_posted + $1 WHERE id = $2 AND base_id = $3 \
         AND (debits_must_not_exceed_credits = 0 OR debits_pending + debits_posted + $1 <= credits_posted) \
         RETURNING credits_posted - debits_posted - debits_pending",
    )
    .bind(total)
    .bind(account_id)
    .bind(base_id)
    .fetch_optional(&mut **tx)
    .await?;
    match left {
        Some(r) => Ok(r.get(0)),
        None => Err(refusal(tx, base_id, account_id, total).await),
    }
}
