//! One cost, one subsidy (一费一补).
//!
//! A cost item — a service-supermarket order or an invoice — is recorded
//! once per base. Every support paid against it, whatever the programme or
//! level (区、市、省), is a ledger transfer from that programme's budget to
//! the enterprise, recorded here with the cost item. For an order, the
//! voucher part counts too (read live from the order, so a cancelled order
//! or a refunded milestone frees its share). The cap "total support at most
//! x% of the cost" is checked in the same transaction as the payment, with
//! the cost item's row locked (PostgreSQL `FOR UPDATE`; SQLite's single
//! writer), so two programmes paying at once cannot both squeeze under it.

use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Support {
    pub id: String,
    pub programme: String,
    pub request_id: String,
    pub amount_fen: i64,
    pub transfer_id: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CostItem {
    pub id: String,
    /// service_order | invoice
    pub kind: String,
    pub reference: String,
    pub enterprise_id: String,
    pub description: String,
    pub cost_fen: i64,
    /// Total support at most this share of the cost, in basis points
    pub cap_bp: i64,
    /// cost × cap, rounded down
    pub cap_fen: i64,
    /// Voucher part of the order (service orders; 0 for invoices)
    pub voucher_fen: i64,
    pub supports: Vec<Support>,
    /// Voucher part plus every support
    pub total_support_fen: i64,
    pub remaining_fen: i64,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CostItemForm {
    /// service_order | invoice
    pub kind: String,
    /// The order id, or the invoice number
    pub reference: String,
    /// Invoices only: the enterprise that bore the cost
    #[serde(default)]
    pub enterprise_id: String,
    #[serde(default)]
    pub description: String,
    /// Invoices only: the cost (元); an order's cost is its price
    #[serde(default)]
    pub cost_yuan: String,
    /// Total support at most this percentage of the cost, 1–100
    pub cap_percent: String,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SupportForm {
    /// The paying programme, e.g. 市级研发费用补助
    pub programme: String,
    /// Ledger code of the paying budget account, e.g. budget:programme:…
    pub budget_account: String,
    /// 金额（元）
    pub amount_yuan: String,
    /// The caller's idempotency key: a retry returns the first payment
    pub request_id: String,
}

/// Registers a cost item (base admins). One cost is recorded once.
pub async fn register(state: &AppState, actor: &Actor, base_id: &str, f: &CostItemForm) -> Result<CostItem, AppError> {
    let mut e = FieldErrors::default();
    let kind = f.kind.trim();
    if !matches!(kind, "service_order" | "invoice") {
        e.push(
            "kind",
            "cost.kind",
            "费用类型应为 service_order（服务订单）或 invoice（发票）",
        );
    }
    let reference = f.reference.trim();
    if reference.is_empty() || reference.chars().count() > 64 {
        e.push("reference", "text.required", "请填写订单编号或发票号码（不超过64字）");
    }
    let cap_bp = match f.cap_percent.trim().parse::<i64>() {
        Ok(p) if (1..=100).contains(&p) => Some(p * 100),
        _ => {
            e.push("cap_percent", "cost.cap", "支持上限应为1到100之间的整数（%）");
            None
        }
    };
    let invoice_cost = if kind == "invoice" {
        let c = e.take("cost_yuan", Fen::from_yuan_str(&f.cost_yuan));
        if c.is_some_and(|c| c.fen() <= 0) {
            e.push("cost_yuan", "cost.amount", "费用金额应大于0");
        }
        c
    } else {
        None
    };
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let (enterprise_id, cost_fen, description) = if kind == "service_order" {
        let r = sqlx::query(
            "SELECT o.enterprise_id, o.price_fen, s.name FROM service_orders o JOIN services s ON s.id = o.service_id \
             WHERE o.base_id = $1 AND o.id = $2",
        )
        .bind(base_id)
        .bind(reference)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::field("reference", "cost.unknown_order", "本基地没有该服务订单"))?;
        let d = if f.description.trim().is_empty() {
            format!("服务订单：{}", r.get::<String, _>(2))
        } else {
            f.description.trim().to_string()
        };
        (r.get::<String, _>(0), r.get::<i64, _>(1), d)
    } else {
        let known = sqlx::query("SELECT 1 FROM enterprises WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(f.enterprise_id.trim())
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(AppError::field(
                "enterprise_id",
                "cost.unknown_enterprise",
                "本基地没有该企业",
            ));
        }
        (
            f.enterprise_id.trim().to_string(),
            invoice_cost.unwrap().fen(),
            f.description.trim().to_string(),
        )
    };
    let id = crate::new_id();
    let inserted = sqlx::query(
        "INSERT INTO cost_items (id, base_id, kind, ref, enterprise_id, description, cost_fen, cap_bp, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (base_id, kind, ref) DO NOTHING",
    )
    .bind(&id)
    .bind(base_id)
    .bind(kind)
    .bind(reference)
    .bind(&enterprise_id)
    .bind(&description)
    .bind(cost_fen)
    .bind(cap_bp.unwrap())
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::field(
            "reference",
            "cost.duplicate",
            "该费用已登记：同一笔费用只能登记一次，各项支持都记在同一条目下",
        ));
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "cost.registered",
            entity: "cost_item",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "kind": kind, "ref": reference, "enterprise_id": enterprise_id,
                "cost_fen": cost_fen, "cap_bp": cap_bp })),
        },
    )
    .await?;
    let item = load(&mut tx, base_id, &id).await?;
    tx.commit().await?;
    Ok(item)
}

async fn load(tx: &mut Tx, base_id: &str, id: &str) -> Result<CostItem, AppError> {
    let r = sqlx::query(
        "SELECT c.id, c.kind, c.ref, c.enterprise_id, c.description, c.cost_fen, c.cap_bp, \
         COALESCE((SELECT o.voucher_fen FROM service_orders o WHERE c.kind = 'service_order' AND o.id = c.ref \
                   AND o.state <> 'cancelled'), 0) \
         FROM cost_items c WHERE c.base_id = $1 AND c.id = $2",
    )
    .bind(base_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let supports: Vec<Support> = sqlx::query(
        "SELECT id, programme, request_id, amount_fen, transfer_id, created_at FROM cost_supports \
         WHERE cost_item_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|s| Support {
        id: s.get(0),
        programme: s.get(1),
        request_id: s.get(2),
        amount_fen: s.get(3),
        transfer_id: s.get(4),
        created_at: s.get(5),
    })
    .collect();
    let (cost, cap_bp, voucher): (i64, i64, i64) = (r.get(5), r.get(6), r.get(7));
    let cap_fen = (cost as i128 * cap_bp as i128 / 10_000) as i64;
    let total = voucher + supports.iter().map(|s| s.amount_fen).sum::<i64>();
    Ok(CostItem {
        id: r.get(0),
        kind: r.get(1),
        reference: r.get(2),
        enterprise_id: r.get(3),
        description: r.get(4),
        cost_fen: cost,
        cap_bp,
        cap_fen,
        voucher_fen: voucher,
        supports,
        total_support_fen: total,
        remaining_fen: (cap_fen - total).max(0),
    })
}

pub async fn get(state: &AppState, base_id: &str, id: &str) -> Result<CostItem, AppError> {
    let mut tx = state.db.pool().begin().await?;
    let item = load(&mut tx, base_id, id).await?;
    tx.rollback().await?;
    Ok(item)
}

pub async fn list(state: &AppState, base_id: &str) -> Result<Vec<CostItem>, AppError> {
    let ids: Vec<String> =
        sqlx::query("SELECT id FROM cost_items WHERE base_id = $1 ORDER BY created_at DESC LIMIT 200")
            .bind(base_id)
            .fetch_all(state.db.pool())
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let mut tx = state.db.pool().begin().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load(&mut tx, base_id, &id).await?);
    }
    tx.rollback().await?;
    Ok(out)
}

/// The enterprise that bore a cost item of this base (`None`: no such item
/// here), for capabilities that let a firm name its own cost.
pub async fn owner(tx: &mut Tx, base_id: &str, id: &str) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query("SELECT enterprise_id FROM cost_items WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0)),
    )
}

/// An enterprise's own cost items (id, description, cost), newest first,
/// for the application form's choice of 成本事项.
pub async fn of_enterprise(
    state: &AppState,
    base_id: &str,
    enterprise_id: &str,
) -> Result<Vec<(String, String, i64)>, AppError> {
    Ok(sqlx::query(
        "SELECT id, description, cost_fen FROM cost_items WHERE base_id = $1 AND enterprise_id = $2 \
         ORDER BY created_at DESC, id LIMIT 200",
    )
    .bind(base_id)
    .bind(enterprise_id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// Pays a support against a cost item inside the caller's transaction,
/// refusing it when the total would exceed the cap. The support's ledger
/// transfer (source → the enterprise's payable) is the payment itself:
/// callers such as programme pay-outs (`application::publicity::pay`) post
/// nothing else for it.
#[allow(clippy::too_many_arguments)]
pub async fn pay_in(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    cost_item_id: &str,
    programme: &str,
    source_account_id: &str,
    amount_fen: i64,
    request_id: &str,
) -> Result<Support, AppError> {
    let lock = state.db.backend().row_lock();
    let enterprise_id: String = sqlx::query(&format!(
        "SELECT enterprise_id FROM cost_items WHERE base_id = $1 AND id = $2{lock}"
    ))
    .bind(base_id)
    .bind(cost_item_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?
    .get(0);
    // A retry returns the first payment.
    if let Some(s) = load(tx, base_id, cost_item_id)
        .await?
        .supports
        .into_iter()
        .find(|s| s.request_id == request_id)
    {
        if s.amount_fen != amount_fen || s.programme != programme {
            return Err(AppError::refused(
                "support.request_reused",
                format!("请求编号“{request_id}”已用于另一笔不同的支持"),
            ));
        }
        return Ok(s);
    }
    let item = load(tx, base_id, cost_item_id).await?;
    // Exact: (total + amount) ≤ cost × cap_bp / 10000, compared without division.
    if (item.total_support_fen as i128 + amount_fen as i128) * 10_000 > item.cost_fen as i128 * item.cap_bp as i128 {
        return Err(AppError::refused(
            "support.cap_exceeded",
            format!(
                "超过一费一补上限：该费用 {} 元，各项支持合计不得超过 {}%（{} 元）；已获支持 {} 元，本次 {} 元，最多还可支持 {} 元",
                Fen::from_fen(item.cost_fen).to_yuan_string_grouped(),
                item.cap_bp / 100,
                Fen::from_fen(item.cap_fen).to_yuan_string_grouped(),
                Fen::from_fen(item.total_support_fen).to_yuan_string_grouped(),
                Fen::from_fen(amount_fen).to_yuan_string_grouped(),
                Fen::from_fen(item.remaining_fen).to_yuan_string_grouped(),
            ),
        ));
    }
    let payee = crate::application::accounts::open_payable(tx, base_id, &enterprise_id).await?;
    let applied = ledger::transfer(
        tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("cost-support:{cost_item_id}:{request_id}"),
        &[TransferSpec {
            debit_account_id: source_account_id.to_string(),
            credit_account_id: payee,
            amount_fen,
            pending_timeout_secs: None,
            memo: format!("{programme}：支持费用 {}", item.description),
        }],
    )
    .await?;
    let id = crate::new_id();
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO cost_supports (id, base_id, cost_item_id, programme, request_id, amount_fen, source_account_id, \
         transfer_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(cost_item_id)
    .bind(programme)
    .bind(request_id)
    .bind(amount_fen)
    .bind(source_account_id)
    .bind(&applied.transfer_ids[0])
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "cost.support_paid",
            entity: "cost_item",
            entity_id: Some(cost_item_id),
            before: Some(json!({ "total_support_fen": item.total_support_fen })),
            after: Some(json!({ "programme": programme, "amount_fen": amount_fen,
                "total_support_fen": item.total_support_fen + amount_fen, "cap_fen": item.cap_fen })),
        },
    )
    .await?;
    Ok(Support {
        id,
        programme: programme.to_string(),
        request_id: request_id.to_string(),
        amount_fen,
        transfer_id: applied.transfer_ids[0].clone(),
        created_at: now,
    })
}

/// The use case behind the API: a base admin pays a support from a budget.
pub async fn pay(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    cost_item_id: &str,
    f: &SupportForm,
) -> Result<CostItem, AppError> {
    let mut e = FieldErrors::default();
    let programme = f.programme.trim();
    if programme.is_empty() || programme.chars().count() > 100 {
        e.push("programme", "text.required", "请填写支持项目名称（不超过100字）");
    }
    let amount = e.take("amount_yuan", Fen::from_yuan_str(&f.amount_yuan));
    if amount.is_some_and(|a| a.fen() <= 0) {
        e.push("amount_yuan", "support.amount", "支持金额应大于0");
    }
    let request_id = f.request_id.trim();
    if request_id.is_empty() || request_id.len() > 64 {
        e.push("request_id", "text.required", "请填写请求编号（幂等键，不超过64字符）");
    }
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let budget = ledger::account_by_code(&mut tx, base_id, f.budget_account.trim())
        .await
        .map_err(|_| AppError::field("budget_account", "support.unknown_budget", "本基地没有该预算账户"))?;
    if budget.kind != AccountKind::Budget.as_str() {
        return Err(AppError::field(
            "budget_account",
            "support.not_budget",
            "支持资金须从预算账户支出",
        ));
    }
    pay_in(
        &mut tx,
        state,
        actor,
        base_id,
        cost_item_id,
        programme,
        &budget.id,
        amount.unwrap().fen(),
        request_id,
    )
    .await?;
    let item = load(&mut tx, base_id, cost_item_id).await?;
    tx.commit().await?;
    Ok(item)
}
