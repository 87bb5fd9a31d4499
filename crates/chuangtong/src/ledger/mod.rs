//! The ledger (总账): every fen that moves — subsidies, 双创红包, vouchers,
//! loan compensation — is a transfer between two accounts of a base.
//!
//! Modelled on TigerBeetle, in SQL:
//! - accounts keep four running totals (debits/credits × pending/posted);
//!   balances are derived from transfers and [`verify`] proves the cached
//!   totals match them;
//! - an account may forbid its debits to exceed its credits — budgets and
//!   wallets cannot be overdrawn, under any concurrency, on both backends,
//!   from any number of processes: the check is part of the same `UPDATE`
//!   that moves the money (and a CHECK constraint backs it up);
//! - a transfer is posted at once, or pending (promised) and later posted or
//!   voided, or expired by [`expire_due`];
//! - every request carries an idempotency key, unique per base: a retried
//!   request returns the first result, a reused key with other content is
//!   refused;
//! - the transfers of one request are linked: all apply or none.

pub mod fan_out;
pub mod routes;

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::crypto::{sm3_hex, Keys};
use crate::storage::{time, Backend, Db, Tx};

/// Largest amount of one transfer: 10^15 fen (10 万亿元). Keeps every sum
/// of the running totals far inside i64.
pub const MAX_AMOUNT_FEN: i64 = 1_000_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Where money enters the base (fiscal funds); its credit side is unbounded.
    Funding,
    /// A programme's or batch's budget: cannot be overdrawn.
    Budget,
    /// An enterprise's voucher wallet: cannot be overdrawn.
    Wallet,
    Receivable,
    Payable,
    Settlement,
    /// A loan risk pool (风险池).
    RiskPool,
    Expense,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Funding => "funding",
            AccountKind::Budget => "budget",
            AccountKind::Wallet => "wallet",
            AccountKind::Receivable => "receivable",
            AccountKind::Payable => "payable",
            AccountKind::Settlement => "settlement",
            AccountKind::RiskPool => "risk_pool",
            AccountKind::Expense => "expense",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("账户“{code}”余额不足：可用 {available} 分，需要 {requested} 分")]
    InsufficientFunds {
        code: String,
        available: i64,
        requested: i64,
    },
    #[error("账户不存在：{0}")]
    UnknownAccount(String),
    #[error("金额应为1到{max}分之间的整数，收到 {0} 分", max = MAX_AMOUNT_FEN)]
    InvalidAmount(i64),
    #[error("借方与贷方不能是同一账户")]
    SameAccount,
    #[error("一次请求至少包含一笔转账")]
    Empty,
    #[error("幂等键“{0}”已用于另一笔不同的请求")]
    IdempotencyConflict(String),
    #[error("转账 {0} 不是待处理状态（已入账、已撤销或已过期）")]
    NotPending(String),
    #[error("转账不存在：{0}")]
    UnknownTransfer(String),
}

impl LedgerError {
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::InsufficientFunds { .. } => "ledger.insufficient_funds",
            LedgerError::UnknownAccount(_) => "ledger.unknown_account",
            LedgerError::InvalidAmount(_) => "ledger.invalid_amount",
            LedgerError::SameAccount => "ledger.same_account",
            LedgerError::Empty => "ledger.empty",
            LedgerError::IdempotencyConflict(_) => "ledger.idempotency_conflict",
            LedgerError::NotPending(_) => "ledger.not_pending",
            LedgerError::UnknownTransfer(_) => "ledger.unknown_transfer",
        }
    }
}

/// Ledger failures: a refusal (nothing changed) or a database error.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Refused(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<Failure> for crate::web::error::AppError {
    fn from(f: Failure) -> Self {
        use crate::web::error::AppError;
        match f {
            Failure::Refused(LedgerError::UnknownTransfer(_)) => AppError::NotFound,
            Failure::Refused(
                e @ (LedgerError::InvalidAmount(_)
                | LedgerError::SameAccount
                | LedgerError::Empty
                | LedgerError::UnknownAccount(_)),
            ) => AppError::field("transfers", e.code(), e.to_string()),
            Failure::Refused(e) => AppError::Conflict {
                code: e.code(),
                message: e.to_string(),
            },
            Failure::Db(e) => e.into(),
            Failure::Other(e) => AppError::Internal(e),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub no_overdraft: bool,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Account {
    /// What can still be debited: credits posted minus debits posted and pending.
    pub fn available(&self) -> i64 {
        self.credits_posted - self.debits_posted - self.debits_pending
    }
}

/// Opens an account, or returns the existing one with the same code.
pub async fn open_account(
    tx: &mut Tx,
    base_id: &str,
    code: &str,
    name: &str,
    kind: AccountKind,
    no_overdraft: bool,
) -> Result<String, Failure> {
    sqlx::query(
        "INSERT INTO ledger_accounts (id, base_id, code, name, kind, debits_must_not_exceed_credits, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (base_id, code) DO NOTHING",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(code)
    .bind(name)
    .bind(kind.as_str())
    .bind(no_overdraft as i64)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query("SELECT id FROM ledger_accounts WHERE base_id = $1 AND code = $2")
            .bind(base_id)
            .bind(code)
            .fetch_one(&mut **tx)
            .await?
            .get(0),
    )
}

const ACCOUNT_COLUMNS: &str = "id, code, name, kind, debits_must_not_exceed_credits, debits_pending, debits_posted, \
     credits_pending, credits_posted";

fn account_from_row(r: &sqlx::any::AnyRow) -> Account {
    Account {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        kind: r.get(3),
        no_overdraft: r.get::<i64, _>(4) == 1,
        debits_pending: r.get(5),
        debits_posted: r.get(6),
        credits_pending: r.get(7),
        credits_posted: r.get(8),
    }
}

pub async fn accounts(db: &Db, base_id: &str) -> sqlx::Result<Vec<Account>> {
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE base_id = $1 ORDER BY code"
    ))
    .bind(base_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(account_from_row).collect())
}

pub async fn account_by_code(tx: &mut Tx, base_id: &str, code: &str) -> Result<Account, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE base_id = $1 AND code = $2"
    ))
    .bind(base_id)
    .bind(code)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| LedgerError::UnknownAccount(code.to_string()))?;
    Ok(account_from_row(&row))
}

/// What an account can still pay (credits posted − debits posted − debits
/// pending), inside `tx`. `lock`: on PostgreSQL the row is locked until the
/// transaction ends, so what is read stays true (SQLite's `BEGIN IMMEDIATE`
/// already serialises writers).
pub async fn available(tx: &mut Tx, backend: Backend, account_id: &str, lock: bool) -> sqlx::Result<i64> {
    let lock = if lock { backend.row_lock() } else { "" };
    Ok(sqlx::query(&format!(
        "SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE id = $1{lock}"
    ))
    .bind(account_id)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// One leg of a request.
#[derive(Clone, Debug, Serialize)]
pub struct TransferSpec {
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount_fen: i64,
    /// `Some(seconds)`: a pending transfer that expires after that long.
    pub pending_timeout_secs: Option<i64>,
    pub memo: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub transfer_ids: Vec<String>,
    /// True when the idempotency key had been seen: nothing new happened.
    pub replayed: bool,
}

/// Applies the linked transfers of one request inside the caller's
/// transaction (so a use case moves money and changes its own records
/// atomically). On a refusal the caller must roll back: nothing is kept.
pub async fn transfer(
    tx: &mut Tx,
    backend: Backend,
    keys: &Keys,
    actor: &Actor,
    base_id: &str,
    idempotency_key: &str,
    legs: &[TransferSpec],
) -> Result<Applied, Failure> {
    if legs.is_empty() {
        return Err(LedgerError::Empty.into());
    }
    for l in legs {
        if l.amount_fen <= 0 || l.amount_fen > MAX_AMOUNT_FEN {
            return Err(LedgerError::InvalidAmount(l.amount_fen).into());
        }
        if l.debit_account_id == l.credit_account_id {
            return Err(LedgerError::SameAccount.into());
        }
    }
    // 1. Idempotency. ON CONFLICT DO NOTHING waits for a concurrent request
    //    with the same key to finish, then tells us whether it won.
    let digest = sm3_hex(serde_json::to_string(legs).map_err(anyhow::Error::from)?.as_bytes());
    let fresh = sqlx::query(
        "INSERT INTO ledger_requests (base_id, idempotency_key, request_digest, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (base_id, idempotency_key) DO NOTHING",
    )
    .bind(base_id)
    .bind(idempotency_key)
    .bind(&digest)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        let first: String =
            sqlx::query("SELECT request_digest FROM ledger_requests WHERE base_id = $1 AND idempotency_key = $2")
                .bind(base_id)
                .bind(idempotency_key)
                .fetch_one(&mut **tx)
                .await?
                .get(0);
        if first != digest {
            return Err(LedgerError::IdempotencyConflict(idempotency_key.to_string()).into());
        }
        let ids = sqlx::query(
            "SELECT id FROM ledger_transfers WHERE base_id = $1 AND idempotency_key = $2 ORDER BY position",
        )
        .bind(base_id)
        .bind(idempotency_key)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        return Ok(Applied {
            transfer_ids: ids,
            replayed: true,
        });
    }

    // 2. On PostgreSQL, lock every account of the request in one global order
    //    so that crossing requests (A→B and B→A) queue instead of deadlocking.
    //    SQLite's single writer (BEGIN IMMEDIATE) already serialises them.
    if backend == Backend::Postgres {
        let mut ids: Vec<&str> = legs
            .iter()
            .flat_map(|l| [l.debit_account_id.as_str(), l.credit_account_id.as_str()])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            sqlx::query("SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }

    // 3. Move the money, leg by leg; the floor check is in the UPDATE itself.
    let now = Utc::now();
    let mut ids = Vec::with_capacity(legs.len());
    for (position, l) in legs.iter().enumerate() {
        let pending = l.pending_timeout_secs.is_some();
        let (debit_col, credit_col) = if pending {
            ("debits_pending", "credits_pending")
        } else {
            ("debits_posted", "credits_posted")
        };
        let debited = sqlx::query(&format!(
            "UPDATE ledger_accounts SET {debit_col} = {debit_col} + $1 \
             WHERE id = $2 AND base_id = $3 \
             AND (debits_must_not_exceed_credits = 0 OR debits_pending + debits_posted + $1 <= credits_posted)"
        ))
        .bind(l.amount_fen)
        .bind(&l.debit_account_id)
        .bind(base_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if debited == 0 {
            return Err(refusal(tx, base_id, &l.debit_account_id, l.amount_fen).await);
        }
        let credited = sqlx::query(&format!(
            "UPDATE ledger_accounts SET {credit_col} = {credit_col} + $1 WHERE id = $2 AND base_id = $3"
        ))
        .bind(l.amount_fen)
        .bind(&l.credit_account_id)
        .bind(base_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if credited == 0 {
            return Err(LedgerError::UnknownAccount(l.credit_account_id.clone()).into());
        }
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO ledger_transfers (id, base_id, idempotency_key, position, debit_account_id, credit_account_id, \
             amount_fen, mode, state, expires_at, resolved_at, memo, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, NULL, $10, $11)",
        )
        .bind(&id)
        .bind(base_id)
        .bind(idempotency_key)
        .bind(position as i64)
        .bind(&l.debit_account_id)
        .bind(&l.credit_account_id)
        .bind(l.amount_fen)
        .bind(if pending { "pending" } else { "posted" })
        .bind(l.pending_timeout_secs.map(|s| time::to_text(now + Duration::seconds(s))))
        .bind(&l.memo)
        .bind(time::to_text(now))
        .execute(&mut **tx)
        .await?;
        ids.push(id);
    }
    audit::append(
        tx,
        keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "ledger.transfer",
            entity: "ledger_request",
            entity_id: Some(idempotency_key),
            before: None,
            after: Some(json!({ "transfers": ids, "legs": legs })),
        },
    )
    .await?;
    Ok(Applied {
        transfer_ids: ids,
        replayed: false,
    })
}

/// Why a debit did not apply: unknown account or not enough money.
async fn refusal(tx: &mut Tx, base_id: &str, account_id: &str, requested: i64) -> Failure {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = $1 AND base_id = $2"
    ))
    .bind(account_id)
    .bind(base_id)
    .fetch_optional(&mut **tx)
    .await;
    match row {
        Ok(Some(r)) => {
            let a = account_from_row(&r);
            LedgerError::InsufficientFunds {
                code: a.code.clone(),
                available: a.available(),
                requested,
            }
            .into()
        }
        Ok(None) => LedgerError::UnknownAccount(account_id.to_string()).into(),
        Err(e) => e.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Post,
    Void,
    Expire,
}

/// Posts or voids a pending transfer (or expires it). Exactly once: the
/// state change is conditional on the transfer still being pending.
pub async fn resolve(
    tx: &mut Tx,
    keys: &Keys,
    actor: &Actor,
    base_id: &str,
    transfer_id: &str,
    how: Resolution,
) -> Result<(), Failure> {
    let now = time::now_text();
    let new_state = match how {
        Resolution::Post => "posted",
        Resolution::Void => "voided",
        Resolution::Expire => "expired",
    };
    // A transfer past its expiry can no longer be posted; voiding or
    // expiring it is always allowed.
    let expiry_guard = if how == Resolution::Post {
        "AND (expires_at IS NULL OR expires_at > $4)"
    } else {
        "AND $4 = $4"
    };
    let changed = sqlx::query(&format!(
        "UPDATE ledger_transfers SET state = $1, resolved_at = $4 \
         WHERE id = $2 AND base_id = $3 AND state = 'pending' {expiry_guard}"
    ))
    .bind(new_state)
    .bind(transfer_id)
    .bind(base_id)
    .bind(&now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        let exists = sqlx::query("SELECT state FROM ledger_transfers WHERE id = $1 AND base_id = $2")
            .bind(transfer_id)
            .bind(base_id)
            .fetch_optional(&mut **tx)
            .await?;
        return Err(match exists {
            None => LedgerError::UnknownTransfer(transfer_id.to_string()),
            Some(_) => LedgerError::NotPending(transfer_id.to_string()),
        }
        .into());
    }
    let row = sqlx::query("SELECT debit_account_id, credit_account_id, amount_fen FROM ledger_transfers WHERE id = $1")
        .bind(transfer_id)
        .fetch_one(&mut **tx)
        .await?;
    let (debit, credit, amount): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    let (debit_set, credit_set) = match how {
        Resolution::Post => (
            "debits_pending = debits_pending - $1, debits_posted = debits_posted + $1",
            "credits_pending = credits_pending - $1, credits_posted = credits_posted + $1",
        ),
        Resolution::Void | Resolution::Expire => (
            "debits_pending = debits_pending - $1",
            "credits_pending = credits_pending - $1",
        ),
    };
    for (set, account) in [(debit_set, &debit), (credit_set, &credit)] {
        sqlx::query(&format!("UPDATE ledger_accounts SET {set} WHERE id = $2"))
            .bind(amount)
            .bind(account)
            .execute(&mut **tx)
            .await?;
    }
    audit::append(
        tx,
        keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: match how {
                Resolution::Post => "ledger.posted",
                Resolution::Void => "ledger.voided",
                Resolution::Expire => "ledger.expired",
            },
            entity: "ledger_transfer",
            entity_id: Some(transfer_id),
            before: Some(json!({ "state": "pending" })),
            after: Some(json!({ "state": new_state, "amount_fen": amount })),
        },
    )
    .await?;
    Ok(())
}

/// Expires pending transfers whose time is up, each in its own transaction,
/// so any number of processes may run this concurrently. Returns how many.
pub async fn expire_due(db: &Db, keys: &Keys) -> Result<usize, Failure> {
    let due = sqlx::query(
        "SELECT id, base_id FROM ledger_transfers WHERE state = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT 500",
    )
    .bind(time::now_text())
    .fetch_all(db.pool())
    .await?;
    let actor = Actor::system("ledger-expiry");
    let mut n = 0;
    for r in due {
        let (id, base_id): (String, String) = (r.get(0), r.get(1));
        let mut tx = db.begin().await?;
        match resolve(&mut tx, keys, &actor, &base_id, &id, Resolution::Expire).await {
            Ok(()) => {
                tx.commit().await?;
                n += 1;
            }
            // Another process got there first.
            Err(Failure::Refused(LedgerError::NotPending(_))) => tx.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What `ledger verify` found.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct LedgerReport {
    pub accounts: i64,
    pub transfers: i64,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub problems: Vec<String>,
}

impl LedgerReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Recomputes every account's totals from its transfers and checks that the
/// cached totals match, that debits equal credits, and that no account with a
/// floor is below it.
pub async fn verify(db: &Db) -> sqlx::Result<LedgerReport> {
    let mut report = LedgerReport::default();
    let sum = |side: &str, state: &str| {
        format!(
            "COALESCE((SELECT CAST(SUM(t.amount_fen) AS BIGINT) FROM ledger_transfers t \
             WHERE t.{side}_account_id = a.id AND t.state = '{state}'), 0)"
        )
    };
    let sql = format!(
        "SELECT a.id, a.code, a.debits_must_not_exceed_credits, a.debits_pending, a.debits_posted, a.credits_pending, \
         a.credits_posted, {}, {}, {}, {} FROM ledger_accounts a ORDER BY a.base_id, a.code",
        sum("debit", "pending"),
        sum("debit", "posted"),
        sum("credit", "pending"),
        sum("credit", "posted"),
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    for r in &rows {
        report.accounts += 1;
        let code: String = r.get(1);
        let floor = r.get::<i64, _>(2) == 1;
        let cached: [i64; 4] = [r.get(3), r.get(4), r.get(5), r.get(6)];
        let derived: [i64; 4] = [r.get(7), r.get(8), r.get(9), r.get(10)];
        for (i, name) in ["借方待入账", "借方已入账", "贷方待入账", "贷方已入账"]
            .iter()
            .enumerate()
        {
            if cached[i] != derived[i] {
                report.problems.push(format!(
                    "账户 {code}: {name}余额 {} 分与转账记录合计 {} 分不符",
                    cached[i], derived[i]
                ));
            }
        }
        if floor && derived[0] + derived[1] > derived[3] {
            report.problems.push(format!(
                "账户 {code}: 透支（借方 {} 分超过贷方 {} 分）",
                derived[0] + derived[1],
                derived[3]
            ));
        }
        report.debits_posted += derived[1];
        report.credits_posted += derived[3];
    }
    report.transfers = sqlx::query("SELECT COUNT(*) FROM ledger_transfers")
        .fetch_one(db.pool())
        .await?
        .get(0);
    if report.debits_posted != report.credits_posted {
        report.problems.push(format!(
            "借贷不平：借方合计 {} 分，贷方合计 {} 分",
            report.debits_posted, report.credits_posted
        ));
    }
    Ok(report)
}
