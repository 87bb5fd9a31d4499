//! Milestone escrow (分阶段托管) for large orders.
//!
//! The enterprise splits a placed voucher order into milestones (2 to 10,
//! their prices summing to the order's price). The order's single voucher
//! reservation is replaced, in one ledger request, by one pending transfer
//! per milestone (wallet → provider payable) carrying that milestone's share
//! of the voucher part (pro rata, rounded down, the remainder on the last).
//!
//! Each milestone: reserved → delivered (provider, with the category's
//! structured evidence; the dispute clock starts: [`DISPUTE_WORKING_DAYS`]
//! working days by the base calendar) → accepted (enterprise: the transfer
//! posts) or disputed (enterprise, before the deadline) → a base admin
//! decides: accept (posted) or refund (voided, back to the wallet). A
//! delivered milestone still unanswered after its deadline is accepted
//! automatically ([`auto_accept_due`], run on access and by the admin).
//! When every milestone is settled the order becomes confirmed with its
//! voucher part equal to what was accepted (cancelled if nothing was), so
//! redemption works as for any order.
//!
//! Every transition first locks the order row, so two milestones of one order
//! settling at the same time still see each other and the order completes.

use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;

use super::accounts;
use crate::audit::{self, Actor, Entry};
use crate::auth::Role;
use crate::ledger::{self, Resolution, TransferSpec};
use crate::notify::Recipient;
use crate::storage::{time, Backend, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// The enterprise has this many working days after delivery to accept or dispute.
pub const DISPUTE_WORKING_DAYS: u32 = 5;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Milestone {
    pub id: String,
    pub order_id: String,
    pub seq: i64,
    pub title: String,
    pub price_fen: i64,
    /// Voucher money held in escrow for this milestone
    pub escrow_fen: i64,
    /// reserved | delivered | accepted | disputed | refunded
    pub state: String,
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<Value>,
    pub delivered_on: Option<String>,
    /// Last working day to accept or dispute; afterwards it is accepted automatically
    pub dispute_deadline: Option<String>,
    pub dispute_reason: Option<String>,
    /// enterprise | deadline | decision
    pub accepted_how: Option<String>,
    pub decision_note: Option<String>,
}

const COLUMNS: &str =
    "id, order_id, seq, title, price_fen, escrow_fen, state, evidence, delivered_on, dispute_deadline, \
     dispute_reason, accepted_how, decision_note, transfer_id";

fn from_row(r: &sqlx::any::AnyRow) -> Milestone {
    Milestone {
        id: r.get(0),
        order_id: r.get(1),
        seq: r.get(2),
        title: r.get(3),
        price_fen: r.get(4),
        escrow_fen: r.get(5),
        state: r.get(6),
        evidence: r
            .get::<Option<String>, _>(7)
            .and_then(|s| serde_json::from_str(&s).ok()),
        delivered_on: r.get(8),
        dispute_deadline: r.get(9),
        dispute_reason: r.get(10),
        accepted_how: r.get(11),
        decision_note: r.get(12),
    }
}

pub fn state_label(s: &str) -> &'static str {
    match s {
        "reserved" => "已托管待交付",
        "delivered" => "已交付待验收",
        "accepted" => "已验收",
        "disputed" => "有争议待裁决",
        "refunded" => "已退回",
        _ => "未知",
    }
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct MilestoneItem {
    pub title: String,
    /// This milestone's share of the order price (元)
    pub amount_yuan: String,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct MilestonePlan {
    pub milestones: Vec<MilestoneItem>,
}

/// The order row, locked for the rest of the transaction on PostgreSQL
/// (SQLite's BEGIN IMMEDIATE already serialises writers).
struct OrderRow {
    enterprise_id: String,
    provider_id: String,
    service_id: String,
    batch_id: Option<String>,
    price_fen: i64,
    voucher_fen: i64,
    state: String,
    transfer_id: Option<String>,
}

async fn lock_order(tx: &mut Tx, backend: Backend, base_id: &str, order_id: &str) -> Result<OrderRow, AppError> {
    let lock = backend.row_lock();
    let r = sqlx::query(&format!(
        "SELECT enterprise_id, provider_id, service_id, batch_id, price_fen, voucher_fen, state, voucher_transfer_id \
         FROM service_orders WHERE base_id = $1 AND id = $2{lock}"
    ))
    .bind(base_id)
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(OrderRow {
        enterprise_id: r.get(0),
        provider_id: r.get(1),
        service_id: r.get(2),
        batch_id: r.get(3),
        price_fen: r.get(4),
        voucher_fen: r.get(5),
        state: r.get(6),
        transfer_id: r.get(7),
    })
}

/// Whether an order is paid in milestones (whole-order delivery and
/// confirmation do not apply to it).
pub async fn has_milestones(tx: &mut Tx, order_id: &str) -> Result<bool, AppError> {
    Ok(
        sqlx::query("SELECT 1 FROM order_milestones WHERE order_id = $1 LIMIT 1")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// Splits an order's voucher part into escrowed milestones (the order's enterprise).
pub async fn plan(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    order_id: &str,
    p: &MilestonePlan,
) -> Result<Vec<Milestone>, AppError> {
    let mut e = FieldErrors::default();
    if !(2..=10).contains(&p.milestones.len()) {
        e.push("milestones", "escrow.count", "请分为2到10个阶段");
    }
    let mut items = Vec::new();
    for (i, m) in p.milestones.iter().enumerate() {
        let title = m.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            e.push(
                &format!("milestones[{i}].title"),
                "text.required",
                "请填写阶段名称（不超过100字）",
            );
        }
        if let Some(f) = e.take(
            &format!("milestones[{i}].amount_yuan"),
            Fen::from_yuan_str(&m.amount_yuan),
        ) {
            if f.fen() <= 0 {
                e.push(
                    &format!("milestones[{i}].amount_yuan"),
                    "escrow.amount",
                    "阶段金额应大于0",
                );
            }
            items.push((title.to_string(), f.fen()));
        }
    }
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let order = lock_order(&mut tx, state.db.backend(), base_id, order_id).await?;
    if order.enterprise_id != enterprise_id {
        return Err(AppError::NotFound);
    }
    if has_milestones(&mut tx, order_id).await? {
        return Err(AppError::refused("escrow.already_planned", "该订单已分阶段托管"));
    }
    let Some(old_transfer) = order
        .transfer_id
        .clone()
        .filter(|_| order.state == "placed" && order.voucher_fen > 0)
    else {
        return Err(AppError::refused(
            "escrow.not_applicable",
            "只有已下单、尚未交付且使用创新券支付的订单才能分阶段托管",
        ));
    };
    let total: i64 = items.iter().map(|(_, f)| f).sum();
    if total != order.price_fen {
        return Err(AppError::field(
            "milestones",
            "escrow.sum",
            format!(
                "各阶段金额合计 {} 元，应等于订单金额 {} 元",
                Fen::from_fen(total).to_yuan_string_grouped(),
                Fen::from_fen(order.price_fen).to_yuan_string_grouped()
            ),
        ));
    }
    // Pro rata, rounded down; the remainder goes to the last milestone.
    let mut shares: Vec<i64> = items
        .iter()
        .map(|(_, f)| (*f as i128 * order.voucher_fen as i128 / order.price_fen as i128) as i64)
        .collect();
    let assigned: i64 = shares[..shares.len() - 1].iter().sum();
    *shares.last_mut().unwrap() = order.voucher_fen - assigned;
    if shares.iter().any(|s| *s <= 0) {
        return Err(AppError::field(
            "milestones",
            "escrow.too_small",
            "有阶段分得的创新券金额为0，请调整阶段金额",
        ));
    }
    // The old reservation goes, the milestones' reservations come, in one go.
    ledger::resolve(&mut tx, &state.keys, actor, base_id, &old_transfer, Resolution::Void).await?;
    let code: String = sqlx::query("SELECT code FROM voucher_batches WHERE id = $1")
        .bind(order.batch_id.as_deref())
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    let wallet = ledger::account_by_code(&mut tx, base_id, &accounts::wallet(&code, enterprise_id)).await?;
    let payable = ledger::account_by_code(&mut tx, base_id, &accounts::payable(&order.provider_id)).await?;
    let legs: Vec<TransferSpec> = items
        .iter()
        .zip(&shares)
        .enumerate()
        .map(|(i, ((title, _), share))| TransferSpec {
            debit_account_id: wallet.id.clone(),
            credit_account_id: payable.id.clone(),
            amount_fen: *share,
            pending_timeout_secs: Some(super::market::ORDER_HOLD_SECS),
            memo: format!("服务订单 {order_id} 第{}阶段“{title}”创新券托管", i + 1),
        })
        .collect();
    let applied = ledger::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("order-milestones:{order_id}"),
        &legs,
    )
    .await?;
    for (i, (((title, price), share), transfer)) in items.iter().zip(&shares).zip(&applied.transfer_ids).enumerate() {
        sqlx::query(
            "INSERT INTO order_milestones (id, base_id, order_id, seq, title, price_fen, escrow_fen, transfer_id, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved')",
        )
        .bind(crate::new_id())
        .bind(base_id)
        .bind(order_id)
        .bind(i as i64 + 1)
        .bind(title)
        .bind(price)
        .bind(share)
        .bind(transfer)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE service_orders SET voucher_transfer_id = NULL, updated_at = $1 WHERE id = $2")
        .bind(time::now_text())
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "order.milestones_planned",
            entity: "service_order",
            entity_id: Some(order_id),
            before: Some(json!({ "voucher_transfer_id": old_transfer })),
            after: Some(json!({ "milestones": items.iter().zip(&shares).map(|((t, p), s)|
                json!({ "title": t, "price_fen": p, "escrow_fen": s })).collect::<Vec<_>>() })),
        },
    )
    .await?;
    let out = load_all(&mut tx, order_id).await?;
    tx.commit().await?;
    Ok(out)
}

async fn load_all(tx: &mut Tx, order_id: &str) -> Result<Vec<Milestone>, AppError> {
    Ok(sqlx::query(&format!(
        "SELECT {COLUMNS} FROM order_milestones WHERE order_id = $1 ORDER BY seq"
    ))
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// Who is asking about an order's milestones.
pub enum Viewer<'a> {
    Enterprise(&'a str),
    Provider(&'a str),
    Admin,
}

/// The milestones of an order (its enterprise, its provider or an admin).
/// Overdue milestones of the base are accepted first (the check on access).
pub async fn list(
    state: &AppState,
    base_id: &str,
    order_id: &str,
    who: &Viewer<'_>,
) -> Result<Vec<Milestone>, AppError> {
    auto_accept_due(state, base_id).await?;
    let r = sqlx::query("SELECT enterprise_id, provider_id FROM service_orders WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(order_id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let (ent, prov): (String, String) = (r.get(0), r.get(1));
    match who {
        Viewer::Enterprise(e) if *e != ent => return Err(AppError::NotFound),
        Viewer::Provider(p) if *p != prov => return Err(AppError::NotFound),
        _ => {}
    }
    Ok(sqlx::query(&format!(
        "SELECT {COLUMNS} FROM order_milestones WHERE base_id = $1 AND order_id = $2 ORDER BY seq"
    ))
    .bind(base_id)
    .bind(order_id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(from_row)
    .collect())
}

/// The milestone, its transfer and its order (locked), inside the transaction.
async fn load_for_change(
    tx: &mut Tx,
    backend: Backend,
    base_id: &str,
    milestone_id: &str,
) -> Result<(Milestone, String, OrderRow), AppError> {
    let order_id: String = sqlx::query("SELECT order_id FROM order_milestones WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(milestone_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?
        .get(0);
    let order = lock_order(tx, backend, base_id, &order_id).await?;
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM order_milestones WHERE id = $1"))
        .bind(milestone_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok((from_row(&r), r.get(13), order))
}

/// Moves a milestone from one state to another, exactly once.
#[allow(clippy::too_many_arguments)]
async fn change(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    m: &Milestone,
    to: &str,
    set: &str,
    binds: &[Option<String>],
) -> Result<(), AppError> {
    // $1 = new state, $2 = id, $3 = expected state, $4.. = the caller's values.
    let sql = format!("UPDATE order_milestones SET state = $1{set} WHERE id = $2 AND state = $3");
    let mut query = sqlx::query(&sql).bind(to).bind(&m.id).bind(&m.state);
    for b in binds {
        query = query.bind(b.clone());
    }
    if query.execute(&mut **tx).await?.rows_affected() == 0 {
        return Err(AppError::refused(
            "escrow.state",
            "阶段状态已被其他操作改变，请刷新后重试",
        ));
    }
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: match to {
                "delivered" => "milestone.delivered",
                "accepted" => "milestone.accepted",
                "disputed" => "milestone.disputed",
                _ => "milestone.refunded",
            },
            entity: "order_milestone",
            entity_id: Some(&m.id),
            before: Some(json!({ "state": m.state })),
            after: Some(json!({ "state": to, "values": binds })),
        },
    )
    .await?;
    Ok(())
}

/// When every milestone is settled the order is confirmed with what was
/// accepted (or cancelled if nothing was), so redemption sees it.
async fn complete_order_if_done(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    order_id: &str,
) -> Result<(), AppError> {
    let r = sqlx::query(
        "SELECT COUNT(*), COALESCE(CAST(SUM(CASE WHEN state IN ('accepted', 'refunded') THEN 1 ELSE 0 END) AS BIGINT), 0), \
         COALESCE(CAST(SUM(CASE WHEN state = 'accepted' THEN escrow_fen ELSE 0 END) AS BIGINT), 0) \
         FROM order_milestones WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    let (all, done, accepted): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    if all == 0 || done < all {
        return Ok(());
    }
    let to = if accepted > 0 { "confirmed" } else { "cancelled" };
    sqlx::query(
        "UPDATE service_orders SET state = $1, voucher_fen = $2, updated_at = $3 WHERE id = $4 AND state = 'placed'",
    )
    .bind(to)
    .bind(accepted)
    .bind(time::now_text())
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: if accepted > 0 {
                "order.confirmed"
            } else {
                "order.cancelled"
            },
            entity: "service_order",
            entity_id: Some(order_id),
            before: Some(json!({ "state": "placed" })),
            after: Some(json!({ "state": to, "voucher_fen": accepted, "by": "milestones" })),
        },
    )
    .await?;
    Ok(())
}

/// The provider delivers one milestone, with the category's structured evidence.
pub async fn deliver(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    provider_id: &str,
    milestone_id: &str,
    evidence: &Value,
) -> Result<Milestone, AppError> {
    let cal = crate::calendar::load(&state.db).await?;
    let mut tx = state.db.begin().await?;
    let (m, _, order) = load_for_change(&mut tx, state.db.backend(), base_id, milestone_id).await?;
    if order.provider_id != provider_id {
        return Err(AppError::NotFound);
    }
    if m.state != "reserved" {
        return Err(AppError::refused(
            "escrow.state",
            format!("该阶段当前为“{}”，不能标记交付", state_label(&m.state)),
        ));
    }
    let category: String = sqlx::query("SELECT category FROM services WHERE id = $1")
        .bind(&order.service_id)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    super::market::check_evidence(&category, evidence)?;
    let today = time::today();
    let deadline = cal
        .add_working_days(today, DISPUTE_WORKING_DAYS)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("dispute clock: {e}")))?;
    change(
        &mut tx,
        state,
        actor,
        base_id,
        &m,
        "delivered",
        ", evidence = $4, delivered_on = $5, dispute_deadline = $6",
        &[
            Some(evidence.to_string()),
            Some(today.to_string()),
            Some(deadline.to_string()),
        ],
    )
    .await?;
    super::related::tell(
        &mut tx,
        base_id,
        Recipient::Subject(&order.enterprise_id),
        "milestone.delivered",
        format!("第{}阶段“{}”已交付，请验收", m.seq, m.title),
        format!("请在{deadline}前验收或提出异议，逾期视为验收。"),
        &format!("market/orders/{}/milestones", m.order_id),
    )
    .await?;
    let out = reload(&mut tx, milestone_id).await?;
    tx.commit().await?;
    Ok(out)
}

async fn reload(tx: &mut Tx, id: &str) -> Result<Milestone, AppError> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM order_milestones WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(from_row(&r))
}

/// Accepts a delivered (or, by decision, disputed) milestone: its escrow posts.
#[allow(clippy::too_many_arguments)]
async fn accept_inner(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    m: &Milestone,
    transfer: &str,
    how: &str,
    note: Option<&str>,
) -> Result<(), AppError> {
    ledger::resolve(tx, &state.keys, actor, base_id, transfer, Resolution::Post).await?;
    change(
        tx,
        state,
        actor,
        base_id,
        m,
        "accepted",
        ", accepted_how = $4, decision_note = $5, resolved_at = $6",
        &[Some(how.to_string()), note.map(str::to_string), Some(time::now_text())],
    )
    .await?;
    complete_order_if_done(tx, state, actor, base_id, &m.order_id).await
}

/// The enterprise accepts a delivered milestone.
pub async fn accept(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    milestone_id: &str,
) -> Result<Milestone, AppError> {
    let mut tx = state.db.begin().await?;
    let (m, transfer, order) = load_for_change(&mut tx, state.db.backend(), base_id, milestone_id).await?;
    if order.enterprise_id != enterprise_id {
        return Err(AppError::NotFound);
    }
    if m.state != "delivered" {
        return Err(AppError::refused(
            "escrow.state",
            format!("该阶段当前为“{}”，须服务机构交付后才能验收", state_label(&m.state)),
        ));
    }
    accept_inner(&mut tx, state, actor, base_id, &m, &transfer, "enterprise", None).await?;
    let out = reload(&mut tx, milestone_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// The enterprise disputes a delivered milestone before its deadline.
pub async fn dispute(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    milestone_id: &str,
    reason: &str,
) -> Result<Milestone, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::field(
            "reason",
            "text.required",
            "请填写异议理由（不超过500字）",
        ));
    }
    let mut tx = state.db.begin().await?;
    let (m, _, order) = load_for_change(&mut tx, state.db.backend(), base_id, milestone_id).await?;
    if order.enterprise_id != enterprise_id {
        return Err(AppError::NotFound);
    }
    if m.state != "delivered" {
        return Err(AppError::refused(
            "escrow.state",
            format!("该阶段当前为“{}”，不能提出异议", state_label(&m.state)),
        ));
    }
    if m.dispute_deadline
        .as_deref()
        .is_some_and(|d| time::today().to_string().as_str() > d)
    {
        return Err(AppError::refused(
            "escrow.deadline_passed",
            format!(
                "异议期已于{}届满，该阶段视为验收",
                m.dispute_deadline.clone().unwrap_or_default()
            ),
        ));
    }
    change(
        &mut tx,
        state,
        actor,
        base_id,
        &m,
        "disputed",
        ", dispute_reason = $4",
        &[Some(reason.to_string())],
    )
    .await?;
    super::related::tell(
        &mut tx,
        base_id,
        Recipient::Role(Role::BaseAdmin),
        "milestone.disputed",
        format!("第{}阶段“{}”有异议，待裁决", m.seq, m.title),
        reason.to_string(),
        &format!("market/orders/{}/milestones", m.order_id),
    )
    .await?;
    let out = reload(&mut tx, milestone_id).await?;
    tx.commit().await?;
    Ok(out)
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// accept (the provider is paid) or refund (the escrow returns to the wallet)
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

/// A base admin decides a disputed milestone.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    milestone_id: &str,
    d: &Decision,
) -> Result<Milestone, AppError> {
    let mut e = FieldErrors::default();
    if !matches!(d.decision.as_str(), "accept" | "refund") {
        e.push(
            "decision",
            "escrow.decision",
            "裁决应为 accept（验收付款）或 refund（退回）",
        );
    }
    if d.note.trim().is_empty() || d.note.trim().chars().count() > 500 {
        e.push("note", "text.required", "请填写裁决理由（不超过500字）");
    }
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let (m, transfer, _) = load_for_change(&mut tx, state.db.backend(), base_id, milestone_id).await?;
    if m.state != "disputed" {
        return Err(AppError::refused(
            "escrow.state",
            format!("该阶段当前为“{}”，没有待裁决的异议", state_label(&m.state)),
        ));
    }
    if d.decision == "accept" {
        accept_inner(
            &mut tx,
            state,
            actor,
            base_id,
            &m,
            &transfer,
            "decision",
            Some(d.note.trim()),
        )
        .await?;
    } else {
        ledger::resolve(&mut tx, &state.keys, actor, base_id, &transfer, Resolution::Void).await?;
        change(
            &mut tx,
            state,
            actor,
            base_id,
            &m,
            "refunded",
            ", decision_note = $4, resolved_at = $5",
            &[Some(d.note.trim().to_string()), Some(time::now_text())],
        )
        .await?;
        complete_order_if_done(&mut tx, state, actor, base_id, &m.order_id).await?;
    }
    let out = reload(&mut tx, milestone_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Accepts every delivered milestone of the base whose dispute deadline has
/// passed, each in its own transaction (any process may run this). Returns how many.
pub async fn auto_accept_due(state: &AppState, base_id: &str) -> Result<i64, AppError> {
    let due = sqlx::query(
        "SELECT id FROM order_milestones WHERE base_id = $1 AND state = 'delivered' AND dispute_deadline < $2 ORDER BY id",
    )
    .bind(base_id)
    .bind(time::today().to_string())
    .fetch_all(state.db.pool())
    .await?;
    let actor = Actor::system("milestone-deadline");
    let mut n = 0;
    for r in due {
        let id: String = r.get(0);
        let mut tx = state.db.begin().await?;
        let (m, transfer, _) = load_for_change(&mut tx, state.db.backend(), base_id, &id).await?;
        if m.state != "delivered" {
            // Answered or accepted by another process meanwhile.
            tx.rollback().await?;
            continue;
        }
        accept_inner(&mut tx, state, &actor, base_id, &m, &transfer, "deadline", None).await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n)
}

/// Cancelling a milestone order: allowed only while no milestone was
/// delivered; every reservation is released. Called inside the cancel use case.
pub async fn on_cancel(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    order_id: &str,
) -> Result<(), AppError> {
    let ms = sqlx::query("SELECT id, state, transfer_id FROM order_milestones WHERE order_id = $1 ORDER BY seq")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?;
    if ms.iter().any(|r| r.get::<String, _>(1) != "reserved") {
        return Err(AppError::refused(
            "escrow.in_progress",
            "已有阶段交付或验收，不能取消整个订单；如有异议请对相应阶段提出",
        ));
    }
    for r in &ms {
        let (id, transfer): (String, String) = (r.get(0), r.get(2));
        ledger::resolve(tx, &state.keys, actor, base_id, &transfer, Resolution::Void).await?;
        sqlx::query(
            "UPDATE order_milestones SET state = 'refunded', resolved_at = $1 WHERE id = $2 AND state = 'reserved'",
        )
        .bind(time::now_text())
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
