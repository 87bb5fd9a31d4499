//! The claim desk (申领台): how a flash claim stays fast and exact.
//!
//! Hefei's first 合创券 batch was claimed by 534 firms within an hour, and a
//! popular batch sees thousands of firms press "立即领取" in the same second.
//! One transaction per claim makes the budget row hot and pays for a commit
//! (and an audit-chain append) per firm. The desk instead, per batch and per
//! process:
//!
//! 1. answers from memory what needs no database: a batch outside its claim
//!    window, and — once the budget is exhausted — the sold-out refusal, or
//!    the firm's own claim (the flag is set by a group that found nothing
//!    left, after reading the batch's claims once: they are final by then);
//! 2. queues every other claim and commits them in groups: the committer
//!    takes whatever has queued up while it waited for a free lane (no
//!    artificial wait: under light load a group is one claim), writes the
//!    whole group in one transaction with one statement per table
//!    (`ledger::fan_out`) and one audit entry, and answers each firm only
//!    after its group is durable. The budget is debited last, so its row
//!    lock is held only for the debit and the commit: on PostgreSQL two
//!    groups are in flight per desk (one writing, one debiting); SQLite has
//!    one writer and one lane;
//! 3. keeps every invariant in the database, so several processes on one
//!    PostgreSQL stay exact: the debit carries the ledger's floor check on
//!    the group's total (refused: the group rolls back and is retried with
//!    the budget locked first and shared out exactly, as every group near
//!    sell-out is); one claim per firm is the `voucher_claims` unique key,
//!    and a firm claiming at two processes at once is settled by the wallet
//!    account's unique code (whichever transaction creates the wallet owns
//!    the claim; the other answers with it).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::accounts;
use super::claim::{self, Claim};
use crate::audit::{self, Actor, Entry};
use crate::coalesce;
use crate::ledger::fan_out::{self, Funded, NewPayee};
use crate::ledger::{self, AccountKind, Failure, LedgerError};
use crate::storage::bulk::Rows;
use crate::storage::{self, time, Backend, Params, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// Most claims one group commits. Bounds the transaction's length (and so
/// the latency of the claims queued behind it).
const MAX_GROUP: usize = 512;
/// Queue length per batch and process; a full queue waits (backpressure).
const QUEUE: usize = 16_384;
/// A group whose transaction fails on a database error is retried this often.
const ATTEMPTS: usize = 3;

/// What a batch's desk needs to know, read once per process: a batch's
/// terms do not change after it is issued.
#[derive(Clone, Debug)]
pub struct Terms {
    pub base_id: String,
    pub batch_id: String,
    pub code: String,
    pub per_firm_cap_fen: i64,
    pub opens: Option<DateTime<Utc>>,
    pub closes: Option<DateTime<Utc>>,
    pub opens_text: String,
    pub closes_text: String,
    pub budget_account_id: String,
    pub lottery: bool,
    /// Only firms qualifying under this policy may claim
    pub eligibility_policy_id: Option<String>,
}

impl Terms {
    /// The claim window, checked without the database.
    pub fn check_window(&self, now: DateTime<Utc>) -> Result<(), AppError> {
        if self.opens.is_some_and(|o| now < o) {
            return Err(AppError::refused(
                "voucher.not_open",
                format!("申领尚未开始，开始时间 {}", time::display(&self.opens_text)),
            ));
        }
        if self.closes.is_some_and(|c| now >= c) {
            return Err(AppError::refused(
                "voucher.closed",
                format!("申领已于 {} 截止", time::display(&self.closes_text)),
            ));
        }
        Ok(())
    }
}

/// How a queued claim ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Claimed(Claim),
    SoldOut,
    UnknownFirm,
    Failed(String),
}

impl From<Outcome> for Result<Claim, AppError> {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Claimed(c) => Ok(c),
            Outcome::SoldOut => Err(sold_out()),
            Outcome::UnknownFirm => Err(AppError::NotFound),
            Outcome::Failed(e) => Err(AppError::Internal(anyhow::anyhow!("claim group failed: {e}"))),
        }
    }
}

pub fn sold_out() -> AppError {
    AppError::refused("voucher.sold_out", "本批次创新券已领完")
}

struct Request {
    enterprise_id: String,
    user_id: Option<String>,
    reply: oneshot::Sender<Outcome>,
}

/// What the desk and its committer task share. The task does not hold the
/// desk (whose sender keeps the queue open), so dropping the application
/// state closes the queue and ends the task.
struct Shared {
    sold_out: AtomicBool,
    /// What the budget held after the last group this process committed
    /// (`i64::MAX` before the first): a hint, never a decision — it tells a
    /// group whether it may write first and take the budget's lock last.
    budget_hint: AtomicI64,
    /// Claims this process committed or saw, so a firm that asks again after
    /// the batch sold out still gets its claim back without a query.
    claimed: Mutex<HashMap<String, Claim>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            sold_out: AtomicBool::new(false),
            budget_hint: AtomicI64::new(i64::MAX),
            claimed: Mutex::new(HashMap::new()),
        }
    }
}

impl Shared {
    /// The answer once sold out: the firm's own claim if it has one, else the refusal.
    fn after_sell_out(&self, enterprise_id: &str) -> Outcome {
        match self.claimed.lock().expect("claimed map").get(enterprise_id) {
            Some(c) => Outcome::Claimed(Claim {
                replayed: true,
                ..c.clone()
            }),
            None => Outcome::SoldOut,
        }
    }
}

pub struct Desk {
    pub terms: Terms,
    queue: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

impl Desk {
    pub fn is_sold_out(&self) -> bool {
        self.shared.sold_out.load(Ordering::Acquire)
    }

    /// Claims for `enterprise_id`; the answer comes once its group committed.
    pub async fn claim(&self, actor: &Actor, enterprise_id: &str) -> Result<Claim, AppError> {
        if self.is_sold_out() {
            return self.shared.after_sell_out(enterprise_id).into();
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                enterprise_id: enterprise_id.to_string(),
                user_id: actor.user_id.clone(),
                reply,
            })
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("claim desk closed")))?;
        let outcome = answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("claim desk dropped a request")))?;
        outcome.into()
    }
}

/// The desks of one process, by batch id.
#[derive(Default)]
pub struct Desks {
    desks: Mutex<HashMap<String, Arc<Desk>>>,
}

impl std::fmt::Debug for Desks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.desks.lock().map(|d| d.len()).unwrap_or(0);
        f.debug_struct("Desks").field("open", &open).finish()
    }
}

impl Desks {
    /// The desk of a batch of `base_id`; a batch of another base is not found.
    pub async fn get(&self, state: &AppState, base_id: &str, batch_id: &str) -> Result<Arc<Desk>, AppError> {
        if let Some(desk) = self.desks.lock().expect("desks").get(batch_id).cloned() {
            return if desk.terms.base_id == base_id {
                Ok(desk)
            } else {
                Err(AppError::NotFound)
            };
        }
        let terms = load_terms(state, base_id, batch_id).await?;
        let mut desks = self.desks.lock().expect("desks");
        // Another request may have opened the desk while we read the terms.
        if let Some(desk) = desks.get(batch_id) {
            return Ok(desk.clone());
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared::default());
        // The committer gets the state without the desks (see `Shared`).
        let task_state = AppState {
            claim_desks: Default::default(),
            ..state.clone()
        };
        tokio::spawn(committer(task_state, terms.clone(), shared.clone(), rx));
        let desk = Arc::new(Desk { terms, queue, shared });
        desks.insert(batch_id.to_string(), desk.clone());
        Ok(desk)
    }
}

async fn load_terms(state: &AppState, base_id: &str, batch_id: &str) -> Result<Terms, AppError> {
    let row = sqlx::query(
        "SELECT code, per_firm_cap_fen, claim_opens_at, claim_closes_at, budget_account_id, claim_mode, \
         eligibility_policy_id FROM voucher_batches WHERE base_id = $1 AND id = $2",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    let (opens_text, closes_text): (String, String) = (row.get(2), row.get(3));
    Ok(Terms {
        base_id: base_id.to_string(),
        batch_id: batch_id.to_string(),
        code: row.get(0),
        per_firm_cap_fen: row.get(1),
        opens: time::parse_text(&opens_text),
        closes: time::parse_text(&closes_text),
        opens_text,
        closes_text,
        budget_account_id: row.get(4),
        lottery: row.get::<String, _>(5) == "lottery",
        eligibility_policy_id: row.get(6),
    })
}

/// How the desk forms groups. PostgreSQL: two in flight, so one group
/// writes its rows while the other holds the budget's lock for its debit
/// and commit (see [`commit_group`]), but the second only when it is worth
/// its fixed cost (a commit, a dozen statements): small groups side by side
/// cost more CPU than they save in waiting once several processes share
/// the machine. SQLite has one writer at a time anyway.
fn batching(backend: Backend) -> coalesce::Batching {
    coalesce::Batching {
        max: MAX_GROUP,
        in_flight: match backend {
            Backend::Postgres => 2,
            Backend::Sqlite => 1,
        },
        // Measured with 16–128 (bench/RESULTS.md): 64 served one and two
        // processes best; without it (1) two processes were 15–25% slower.
        min_beside: 64,
    }
}

/// The committer: whatever has queued up (at most `MAX_GROUP`) as soon as
/// a lane is free, committed as one group.
async fn committer(state: AppState, terms: Terms, shared: Arc<Shared>, rx: mpsc::Receiver<Request>) {
    let batching = batching(state.db.backend());
    let terms = Arc::new(terms);
    coalesce::serve_in_batches(rx, batching, move |group| {
        let (state, terms, shared) = (state.clone(), terms.clone(), shared.clone());
        async move { settle(&state, &terms, &shared, group).await }
    })
    .await;
}

/// Commits one group (retrying a database failure) and answers its firms.
async fn settle(state: &AppState, terms: &Terms, shared: &Shared, group: Vec<Request>) {
    // Sold out while these waited: answer without the database.
    if shared.sold_out.load(Ordering::Acquire) {
        for r in group {
            let _ = r.reply.send(shared.after_sell_out(&r.enterprise_id));
        }
        return;
    }
    let firms: Vec<Firm> = group
        .iter()
        .map(|r| Firm {
            enterprise_id: r.enterprise_id.clone(),
            user_id: r.user_id.clone(),
        })
        .collect();
    // Write first, lock the budget last — unless the budget may run out in
    // this group (or one beside it): then lock first and share out exactly.
    let room_for_two = terms.per_firm_cap_fen.saturating_mul((firms.len() + MAX_GROUP) as i64);
    let mut write_first = shared.budget_hint.load(Ordering::Acquire) >= room_for_two;
    let mut failures = 0;
    let committed = loop {
        match commit_group(state, terms, &firms, write_first).await {
            Ok(committed) => break committed,
            // Not enough left for every firm at its full cap: share out exactly.
            Err(GroupError::Ledger(Failure::Refused(LedgerError::InsufficientFunds { .. }))) if write_first => {
                tracing::debug!(batch = %terms.batch_id, firms = firms.len(), "group exceeds the budget: sharing out exactly");
                write_first = false;
            }
            // A firm not of this base's registry: look each firm up, exactly.
            Err(GroupError::Db(e)) if write_first && storage::foreign_key_violation(&e) => {
                tracing::debug!(batch = %terms.batch_id, "a firm of the group is not of the base: looking firms up");
                write_first = false;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(batch = %terms.batch_id, attempt = failures, error = %e, "claim group failed");
                if failures == ATTEMPTS {
                    let msg = e.to_string();
                    break Committed {
                        by_firm: firms
                            .iter()
                            .map(|f| (f.enterprise_id.clone(), Outcome::Failed(msg.clone())))
                            .collect(),
                        budget_left: None,
                    };
                }
            }
        }
    };
    {
        let mut claimed = shared.claimed.lock().expect("claimed map");
        for (firm, outcome) in &committed.by_firm {
            if let Outcome::Claimed(c) = outcome {
                claimed.insert(firm.clone(), c.clone());
            }
        }
    }
    if let Some(left) = committed.budget_left {
        shared.budget_hint.store(left, Ordering::Release);
        if left == 0 && !shared.sold_out.load(Ordering::Acquire) {
            sell_out(state, terms, shared).await;
        }
    }
    for r in group {
        let outcome = committed
            .by_firm
            .get(&r.enterprise_id)
            .cloned()
            .unwrap_or_else(|| Outcome::Failed("no outcome".into()));
        let _ = r.reply.send(outcome);
    }
}

/// The budget is spent: from now on the desk answers from memory. No claim
/// can be added any more, so the batch's claims are final: they are read
/// once, and a firm that claimed through another process, or before a
/// restart, still gets its claim back rather than "sold out". If they
/// cannot be read, the flag stays down and answers keep coming from the
/// database.
async fn sell_out(state: &AppState, terms: &Terms, shared: &Shared) {
    match claim::all(state, &terms.base_id, &terms.batch_id).await {
        Ok(all) => {
            let mut claimed = shared.claimed.lock().expect("claimed map");
            for c in all {
                claimed.entry(c.enterprise_id.clone()).or_insert(c);
            }
            drop(claimed);
            shared.sold_out.store(true, Ordering::Release);
        }
        Err(e) => tracing::warn!(batch = %terms.batch_id, error = %e, "sold out, but the claims could not be read"),
    }
}

pub(super) struct Firm {
    pub enterprise_id: String,
    pub user_id: Option<String>,
}

struct Committed {
    by_firm: HashMap<String, Outcome>,
    /// What the budget holds after the group (None when unknown).
    budget_left: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum GroupError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Ledger(#[from] Failure),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// One group in one transaction.
///
/// `write_first`: every firm gets the full cap, the rows are written first
/// and the budget is debited last, so its row lock (the one hot row) is
/// held only for the debit and the commit, and a second group can write its
/// rows meanwhile; if the budget cannot cover the whole group the debit is
/// refused, or if a firm is not of the base its claim row is, and nothing
/// is kept: the caller retries exactly. Otherwise the budget is locked
/// first, the firms are looked up (unknown ones refused, earlier claims
/// answered) and the budget is shared out firm by firm in queue order
/// (`min(cap, what is left)`), the last firm getting the remainder.
async fn commit_group(
    state: &AppState,
    terms: &Terms,
    firms: &[Firm],
    write_first: bool,
) -> Result<Committed, GroupError> {
    let base_id = terms.base_id.as_str();
    let mut by_firm: HashMap<String, Outcome> = HashMap::with_capacity(firms.len());
    // A firm may be queued twice (two clicks): it is one claim.
    let mut order: Vec<&Firm> = Vec::with_capacity(firms.len());
    let mut seen = HashSet::with_capacity(firms.len());
    for f in firms {
        if seen.insert(f.enterprise_id.as_str()) {
            order.push(f);
        }
    }
    let mut tx = state.db.begin().await?;
    // Exactly: what the budget holds, under its lock (SQLite's `BEGIN
    // IMMEDIATE` already serialises writers).
    let mut left: Option<i64> = if write_first {
        None
    } else {
        Some(ledger::available(&mut tx, state.db.backend(), &terms.budget_account_id, true).await?)
    };

    // Exactly: one query finds which firms are of this base's registry
    // (only they can claim) and which of them claimed before (they get
    // their first claim back and take nothing from what is left). Writing
    // first needs neither: a firm of another base is refused by the
    // claim's composite key (the group then comes back here), and a firm
    // that claimed before finds its wallet's code taken (`lost_race`).
    let mut known: HashSet<String> = HashSet::with_capacity(order.len());
    if !write_first {
        let mut p = Params::new(state.db.backend());
        let sql = format!(
            "SELECT e.id, c.id, c.amount_fen, a.credits_posted - a.debits_posted - a.debits_pending, c.created_at \
             FROM enterprises e LEFT JOIN voucher_claims c ON c.batch_id = {} AND c.enterprise_id = e.id \
             LEFT JOIN ledger_accounts a ON a.id = c.wallet_account_id \
             WHERE e.base_id = {} AND e.id IN ({})",
            p.one(),
            p.one(),
            p.list(order.len())
        );
        let mut q = sqlx::query(&sql).bind(&terms.batch_id).bind(base_id);
        for f in &order {
            q = q.bind(f.enterprise_id.as_str());
        }
        for r in q.fetch_all(&mut *tx).await? {
            let firm: String = r.get(0);
            if let Some(claim_id) = r.get::<Option<String>, _>(1) {
                by_firm.insert(
                    firm.clone(),
                    Outcome::Claimed(Claim {
                        id: claim_id,
                        batch_id: terms.batch_id.clone(),
                        enterprise_id: firm.clone(),
                        amount_fen: r.get(2),
                        wallet_available_fen: r.get(3),
                        created_at: r.get(4),
                        replayed: true,
                    }),
                );
            }
            known.insert(firm);
        }
    }

    // First come, first served, in queue order: min(cap, what is left).
    let mut fresh: Vec<(&Firm, i64)> = Vec::new();
    for f in &order {
        if by_firm.contains_key(&f.enterprise_id) {
            continue;
        }
        if !write_first && !known.contains(&f.enterprise_id) {
            by_firm.insert(f.enterprise_id.clone(), Outcome::UnknownFirm);
            continue;
        }
        let amount = match left.as_mut() {
            None => terms.per_firm_cap_fen,
            Some(left) => {
                let amount = terms.per_firm_cap_fen.min(*left);
                *left -= amount.max(0);
                amount
            }
        };
        if amount <= 0 {
            by_firm.insert(f.enterprise_id.clone(), Outcome::SoldOut);
            continue;
        }
        fresh.push((f, amount));
    }
    if fresh.is_empty() {
        tx.rollback().await?;
        return Ok(Committed {
            by_firm,
            budget_left: left,
        });
    }

    let written = write_claims(&mut tx, state, terms, fresh, "voucher.claimed").await?;
    tx.commit().await?;
    let (claims, lost_race) = (written.claims, written.lost_race);
    for c in claims {
        by_firm.insert(c.enterprise_id.clone(), Outcome::Claimed(c));
    }
    // Firms whose wallet another process created: that process's claim
    // committed (or is committing); answer with it.
    for firm in lost_race {
        let outcome = match claim::find(state, base_id, &terms.batch_id, &firm).await {
            Ok(Some(c)) => Outcome::Claimed(c),
            Ok(None) => Outcome::Failed("concurrent claim not found".into()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        by_firm.insert(firm, outcome);
    }
    Ok(Committed {
        by_firm,
        budget_left: Some(written.left),
    })
}

const CLAIM_COLUMNS: &[&str] = &[
    "id",
    "base_id",
    "batch_id",
    "enterprise_id",
    "amount_fen",
    "wallet_account_id",
    "transfer_id",
    "created_at",
];

/// What [`write_claims`] wrote.
pub(super) struct Written {
    pub claims: Vec<Claim>,
    /// Firms whose wallet a concurrent transaction created: their claim is
    /// that transaction's.
    pub lost_race: Vec<String>,
    /// What the budget holds after this transaction's debit.
    pub left: i64,
}

/// Writes the claims of `fresh` (firm, amount) inside `tx`: wallets paid as
/// they are opened, the claim rows, then the budget's debit for their total
/// with its floor check (last: the budget row is the one lock every group
/// needs), and one audit entry. Refused when the budget cannot cover the
/// total: the caller rolls back.
pub(super) async fn write_claims(
    tx: &mut Tx,
    state: &AppState,
    terms: &Terms,
    fresh: Vec<(&Firm, i64)>,
    action: &'static str,
) -> Result<Written, GroupError> {
    let base_id = terms.base_id.as_str();
    // Wallets, paid as they are opened: whoever creates a firm's wallet owns its claim.
    let payees: Vec<NewPayee> = fresh
        .iter()
        .map(|(f, amount)| NewPayee {
            code: accounts::wallet(&terms.code, &f.enterprise_id),
            name: format!("{} 券钱包", terms.code),
            kind: AccountKind::Wallet,
            no_overdraft: true,
            idempotency_key: format!("voucher-claim:{}:{}", terms.batch_id, f.enterprise_id),
            amount_fen: *amount,
            memo: format!("申领创新券 {}", terms.code),
        })
        .collect();
    let (funded, total) =
        fan_out::fund_new_accounts(tx, state.db.backend(), base_id, &terms.budget_account_id, &payees).await?;
    let mut lost_race = Vec::new();
    let mut winners: Vec<(&Firm, i64, &Funded)> = Vec::with_capacity(fresh.len());
    for ((f, amount), p) in fresh.into_iter().zip(&payees) {
        match funded.get(&p.code) {
            Some(paid) => winners.push((f, amount, paid)),
            None => lost_race.push(f.enterprise_id.clone()),
        }
    }
    let mut claims: Vec<Claim> = Vec::with_capacity(winners.len());
    if !winners.is_empty() {
        let created_at = time::now_text();
        let backend = state.db.backend();
        for chunk in winners.chunks(500) {
            let mut rows = Rows::new("voucher_claims", CLAIM_COLUMNS);
            for (f, amount, paid) in chunk {
                let id = crate::new_id();
                rows.push(vec![
                    (&id).into(),
                    base_id.into(),
                    (&terms.batch_id).into(),
                    (&f.enterprise_id).into(),
                    (*amount).into(),
                    (&paid.account_id).into(),
                    (&paid.transfer_id).into(),
                    (&created_at).into(),
                ]);
                claims.push(Claim {
                    id,
                    batch_id: terms.batch_id.clone(),
                    enterprise_id: f.enterprise_id.clone(),
                    amount_fen: *amount,
                    wallet_available_fen: *amount,
                    created_at: created_at.clone(),
                    replayed: false,
                });
            }
            let sql = rows.insert_sql(backend, "");
            rows.bind(backend, sqlx::query(&sql)).execute(&mut **tx).await?;
        }
        let left = fan_out::debit_total(tx, base_id, &terms.budget_account_id, total).await?;
        // One audit entry for the group: who claimed what, in which order.
        let listed: Vec<_> = claims
            .iter()
            .zip(&winners)
            .map(|(c, (f, _, _))| json!([c.id, c.enterprise_id, f.user_id, c.amount_fen]))
            .collect();
        audit::append(
            tx,
            &state.keys,
            &Actor::system("voucher-desk"),
            Entry {
                base_id: Some(base_id),
                action,
                entity: "voucher_batch",
                entity_id: Some(&terms.batch_id),
                before: None,
                after: Some(json!({
                    "claims": listed,
                    "columns": ["claim_id", "enterprise_id", "user_id", "amount_fen"],
                    "total_fen": total,
                    "budget_left_fen": left,
                })),
            },
        )
        .await
        .map_err(GroupError::Other)?;
        return Ok(Written {
            claims,
            lost_race,
            left,
        });
    }
    // Every firm lost its race: nothing was debited.
    let left = ledger::available(tx, state.db.backend(), &terms.budget_account_id, false).await?;
    Ok(Written {
        claims,
        lost_race,
        left,
    })
}
