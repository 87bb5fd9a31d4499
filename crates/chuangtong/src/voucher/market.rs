//! The service supermarket (服务超市): services listed by providers, orders
//! paid partly by voucher, delivery with structured evidence, confirmation.
//!
//! Order states: placed → delivered → confirmed → (redeemed); placed or
//! delivered → cancelled. The voucher part is a pending ledger transfer from
//! the firm's wallet to the provider's payable: it posts only when the
//! enterprise confirms delivery, so a provider can never be paid for an
//! order the enterprise did not confirm.

use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;

use super::accounts;
use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, Resolution, TransferSpec};
use crate::registry::required_text;
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// A voucher reservation stays pending at most this long (then it expires
/// and the money returns to the wallet).
pub const ORDER_HOLD_SECS: i64 = 90 * 24 * 3600;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Service {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub name: String,
    pub category: String,
    pub price_fen: i64,
    pub description: String,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ServiceForm {
    pub name: String,
    pub category: String,
    /// 价格（元）
    pub price_yuan: String,
    #[serde(default)]
    pub description: String,
}

pub async fn list_services(state: &AppState, base_id: &str, category: Option<&str>) -> Result<Vec<Service>, AppError> {
    let rows = sqlx::query(
        "SELECT s.id, s.provider_id, p.name, s.name, s.category, s.price_fen, s.description FROM services s \
         JOIN providers p ON p.id = s.provider_id \
         WHERE s.base_id = $1 AND s.active = 1 AND (CAST($2 AS TEXT) IS NULL OR s.category = $2) ORDER BY s.category, s.name",
    )
    .bind(base_id)
    .bind(category)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Service {
            id: r.get(0),
            provider_id: r.get(1),
            provider_name: r.get(2),
            name: r.get(3),
            category: r.get(4),
            price_fen: r.get(5),
            description: r.get(6),
        })
        .collect())
}

pub async fn list_service(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    provider_id: &str,
    f: &ServiceForm,
) -> Result<String, AppError> {
    let mut e = FieldErrors::default();
    let name = required_text(&mut e, "name", "服务名称", &f.name, 100);
    if !super::is_category(f.category.trim()) {
        e.push(
            "category",
            "voucher.category_unknown",
            format!("未知的服务类别“{}”", f.category.trim()),
        );
    }
    let price = e.take("price_yuan", Fen::from_yuan_str(&f.price_yuan));
    if price.is_some_and(|p| p.fen() <= 0) {
        e.push("price_yuan", "market.price", "价格应大于0");
    }
    e.into_result()?;
    let id = crate::new_id();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO services (id, base_id, provider_id, name, category, price_fen, description, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(provider_id)
    .bind(name.as_deref().unwrap())
    .bind(f.category.trim())
    .bind(price.unwrap().fen())
    .bind(f.description.trim())
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "service.listed",
            entity: "service",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "name": name, "category": f.category.trim(), "price_fen": price.unwrap().fen() })),
        },
    )
    .await?;
    crate::search::bump(&mut tx, base_id).await?; // the search index is stale now
    tx.commit().await?;
    Ok(id)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Order {
    pub id: String,
    pub enterprise_id: String,
    pub provider_id: String,
    pub service_id: String,
    pub batch_id: Option<String>,
    pub price_fen: i64,
    /// Paid by voucher (the rest the enterprise pays itself)
    pub voucher_fen: i64,
    pub state: String,
    pub evidence: Option<Value>,
    pub rating: Option<i64>,
    pub created_at: String,
    /// Related-party review (关联交易): flagged | cleared, absent when the parties are not related
    pub related_party_review: Option<String>,
    /// Why the parties look related (shared shareholder, controller, address or phone)
    pub related_party_reasons: Vec<String>,
}

const ORDER_COLUMNS: &str =
    "id, enterprise_id, provider_id, service_id, batch_id, price_fen, voucher_fen, state, evidence, rating, created_at, \
     (SELECT f.state FROM voucher_order_flags f WHERE f.order_id = service_orders.id), \
     (SELECT f.reasons FROM voucher_order_flags f WHERE f.order_id = service_orders.id)";

fn order_from_row(r: &sqlx::any::AnyRow) -> Order {
    Order {
        id: r.get(0),
        enterprise_id: r.get(1),
        provider_id: r.get(2),
        service_id: r.get(3),
        batch_id: r.get(4),
        price_fen: r.get(5),
        voucher_fen: r.get(6),
        state: r.get(7),
        evidence: r
            .get::<Option<String>, _>(8)
            .and_then(|s| serde_json::from_str(&s).ok()),
        rating: r.get(9),
        created_at: r.get(10),
        related_party_review: r.get(11),
        related_party_reasons: r
            .get::<Option<String>, _>(12)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    }
}

/// Who is asking about orders: an enterprise sees its own, a provider its own, an admin all.
pub enum Party<'a> {
    Enterprise(&'a str),
    Provider(&'a str),
    Admin,
}

pub async fn list_orders(state: &AppState, base_id: &str, party: &Party<'_>) -> Result<Vec<Order>, AppError> {
    let (filter, who) = match party {
        Party::Enterprise(id) => ("AND enterprise_id = $2", Some(*id)),
        Party::Provider(id) => ("AND provider_id = $2", Some(*id)),
        Party::Admin => ("AND CAST($2 AS TEXT) IS NULL", None),
    };
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM service_orders WHERE base_id = $1 {filter} ORDER BY created_at DESC LIMIT 200"
    ))
    .bind(base_id)
    .bind(who)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(order_from_row).collect())
}

async fn load_order(tx: &mut Tx, base_id: &str, id: &str) -> Result<(Order, Option<String>), AppError> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS}, voucher_transfer_id FROM service_orders WHERE base_id = $1 AND id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((order_from_row(&row), row.get(13)))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderForm {
    pub service_id: String,
    /// Pay part with the voucher of this batch (optional)
    pub batch_id: Option<String>,
}

/// Places an order; the voucher pays min(wallet, price × co-payment ratio),
/// reserved as a pending transfer.
pub async fn place_order(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    f: &OrderForm,
) -> Result<Order, AppError> {
    let mut tx = state.db.begin().await?;
    let svc = sqlx::query(
        "SELECT provider_id, category, price_fen FROM services WHERE base_id = $1 AND id = $2 AND active = 1",
    )
    .bind(base_id)
    .bind(&f.service_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::field("service_id", "market.unknown_service", "服务不存在或已下架"))?;
    let (provider_id, category, price): (String, String, i64) = (svc.get(0), svc.get(1), svc.get(2));
    let id = crate::new_id();
    let mut voucher_fen = 0;
    let mut transfer_id = None;
    if let Some(batch_id) = &f.batch_id {
        let b = sqlx::query(
            "SELECT code, copay_max_bp, categories, valid_until FROM voucher_batches WHERE base_id = $1 AND id = $2",
        )
        .bind(base_id)
        .bind(batch_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::field("batch_id", "voucher.unknown_batch", "创新券批次不存在"))?;
        let (code, copay_bp, categories, valid_until): (String, i64, String, String) =
            (b.get(0), b.get(1), b.get(2), b.get(3));
        if !categories.split(',').any(|c| c == category) {
            return Err(AppError::field(
                "batch_id",
                "voucher.category_not_covered",
                format!("该批次创新券不能用于“{category}”类服务"),
            ));
        }
        if time::today().to_string() > valid_until {
            return Err(AppError::field(
                "batch_id",
                "voucher.expired",
                format!("该批次创新券已于{valid_until}到期"),
            ));
        }
        let wallet = sqlx::query(
            "SELECT id, credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE base_id = $1 AND code = $2",
        )
        .bind(base_id)
        .bind(accounts::wallet(&code, enterprise_id))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::field("batch_id", "voucher.not_claimed", "尚未申领该批次创新券"))?;
        let (wallet_id, available): (String, i64) = (wallet.get(0), wallet.get(1));
        // Integer arithmetic, rounded down: the voucher never pays more than its share.
        voucher_fen = available.min(price * copay_bp / 10_000);
        if voucher_fen <= 0 {
            return Err(AppError::field("batch_id", "voucher.empty_wallet", "创新券余额不足"));
        }
        let payable = ledger::open_account(
            &mut tx,
            base_id,
            &accounts::payable(&provider_id),
            "服务机构应付款",
            AccountKind::Payable,
            true,
        )
        .await?;
        let applied = ledger::transfer(
            &mut tx,
            state.db.backend(),
            &state.keys,
            actor,
            base_id,
            &format!("order:{id}"),
            &[TransferSpec {
                debit_account_id: wallet_id,
                credit_account_id: payable,
                amount_fen: voucher_fen,
                pending_timeout_secs: Some(ORDER_HOLD_SECS),
                memo: format!("服务订单 {id} 创新券支付"),
            }],
        )
        .await?;
        transfer_id = applied.transfer_ids.into_iter().next();
    }
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO service_orders (id, base_id, enterprise_id, provider_id, service_id, batch_id, price_fen, voucher_fen, \
         state, voucher_transfer_id, evidence, rating, redemption_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'placed', $9, NULL, NULL, NULL, $10, $10)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(enterprise_id)
    .bind(&provider_id)
    .bind(&f.service_id)
    .bind(f.batch_id.as_deref())
    .bind(price)
    .bind(voucher_fen)
    .bind(transfer_id.as_deref())
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    // Orders between related parties are held for review before redemption.
    super::related::screen_order(&mut tx, state, actor, base_id, &id, enterprise_id, &provider_id).await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "order.placed",
            entity: "service_order",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "service_id": f.service_id, "price_fen": price, "voucher_fen": voucher_fen, "batch_id": f.batch_id })),
        },
    )
    .await?;
    let (order, _) = load_order(&mut tx, base_id, &id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Structured evidence of delivery, by category — a scanned invoice alone is
/// not enough to be paid.
pub fn check_evidence(category: &str, evidence: &Value) -> Result<(), AppError> {
    let text = |k: &str| {
        evidence
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match category {
        "技术检测" => text("report_number").map(|_| ()).ok_or_else(|| {
            AppError::field(
                "evidence.report_number",
                "evidence.report_number",
                "技术检测类服务须填写检测报告编号",
            )
        }),
        "专利服务" => {
            // 专利申请号: 12 digits, a dot, a check digit (0-9 or X), e.g. 202610123456.7
            let ok = text("patent_application_number").is_some_and(|n| {
                let n = n.trim_start_matches("CN");
                let (digits, check) = n.split_once('.').unwrap_or((n, ""));
                digits.len() == 12
                    && digits.chars().all(|c| c.is_ascii_digit())
                    && check.len() == 1
                    && check.chars().all(|c| c.is_ascii_digit() || c == 'X')
            });
            if ok {
                Ok(())
            } else {
                Err(AppError::field(
                    "evidence.patent_application_number",
                    "evidence.patent_application_number",
                    "专利服务类须填写专利申请号，格式如 202610123456.7",
                ))
            }
        }
        "仪器共享" => match evidence.get("machine_hours").and_then(Value::as_i64) {
            Some(h) if h > 0 => Ok(()),
            _ => Err(AppError::field(
                "evidence.machine_hours",
                "evidence.machine_hours",
                "仪器共享类服务须填写使用机时（正整数）",
            )),
        },
        _ => text("deliverable")
            .map(|_| ())
            .ok_or_else(|| AppError::field("evidence.deliverable", "evidence.deliverable", "请描述交付成果")),
    }
}

/// The provider marks its order delivered, with evidence.
pub async fn deliver(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    provider_id: &str,
    order_id: &str,
    evidence: &Value,
) -> Result<Order, AppError> {
    let mut tx = state.db.begin().await?;
    let (order, _) = load_order(&mut tx, base_id, order_id).await?;
    if order.provider_id != provider_id {
        return Err(AppError::NotFound);
    }
    if order.state != "placed" {
        return Err(AppError::refused(
            "order.state",
            format!("订单当前状态为“{}”，不能标记交付", state_label(&order.state)),
        ));
    }
    if super::escrow::has_milestones(&mut tx, order_id).await? {
        return Err(AppError::refused(
            "escrow.by_milestone",
            "分阶段托管的订单请逐个阶段交付",
        ));
    }
    let category: String = sqlx::query("SELECT category FROM services WHERE id = $1")
        .bind(&order.service_id)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    check_evidence(&category, evidence)?;
    transition(
        &mut tx,
        state,
        actor,
        base_id,
        &order,
        "delivered",
        Some(evidence),
        None,
    )
    .await?;
    let (order, _) = load_order(&mut tx, base_id, order_id).await?;
    tx.commit().await?;
    Ok(order)
}

/// The enterprise confirms delivery (and rates it); the voucher payment posts.
pub async fn confirm(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    order_id: &str,
    rating: i64,
) -> Result<Order, AppError> {
    if !(1..=5).contains(&rating) {
        return Err(AppError::field("rating", "order.rating", "评分应为1到5"));
    }
    let mut tx = state.db.begin().await?;
    let (order, transfer) = load_order(&mut tx, base_id, order_id).await?;
    if order.enterprise_id != enterprise_id {
        return Err(AppError::NotFound);
    }
    if order.state != "delivered" {
        return Err(AppError::refused(
            "order.state",
            format!(
                "订单当前状态为“{}”，须服务机构标记交付后才能确认",
                state_label(&order.state)
            ),
        ));
    }
    if super::escrow::has_milestones(&mut tx, order_id).await? {
        return Err(AppError::refused(
            "escrow.by_milestone",
            "分阶段托管的订单请逐个阶段验收",
        ));
    }
    if let Some(t) = transfer {
        ledger::resolve(&mut tx, &state.keys, actor, base_id, &t, Resolution::Post).await?;
    }
    transition(&mut tx, state, actor, base_id, &order, "confirmed", None, Some(rating)).await?;
    let (order, _) = load_order(&mut tx, base_id, order_id).await?;
    tx.commit().await?;
    Ok(order)
}

/// The enterprise cancels before confirming; the voucher reservation is released.
pub async fn cancel(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    order_id: &str,
) -> Result<Order, AppError> {
    let mut tx = state.db.begin().await?;
    let (order, transfer) = load_order(&mut tx, base_id, order_id).await?;
    if order.enterprise_id != enterprise_id {
        return Err(AppError::NotFound);
    }
    if !matches!(order.state.as_str(), "placed" | "delivered") {
        return Err(AppError::refused(
            "order.state",
            format!("订单当前状态为“{}”，不能取消", state_label(&order.state)),
        ));
    }
    // A milestone order releases every escrow (refused once work was delivered).
    super::escrow::on_cancel(&mut tx, state, actor, base_id, order_id).await?;
    if let Some(t) = transfer {
        ledger::resolve(&mut tx, &state.keys, actor, base_id, &t, Resolution::Void).await?;
    }
    transition(&mut tx, state, actor, base_id, &order, "cancelled", None, None).await?;
    let (order, _) = load_order(&mut tx, base_id, order_id).await?;
    tx.commit().await?;
    Ok(order)
}

#[allow(clippy::too_many_arguments)]
async fn transition(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    order: &Order,
    to: &str,
    evidence: Option<&Value>,
    rating: Option<i64>,
) -> Result<(), AppError> {
    // Conditional on the state read above, so two concurrent transitions cannot both apply.
    let changed = sqlx::query(
        "UPDATE service_orders SET state = $1, evidence = COALESCE($2, evidence), rating = COALESCE($3, rating), updated_at = $4 \
         WHERE id = $5 AND base_id = $6 AND state = $7",
    )
    .bind(to)
    .bind(evidence.map(|e| e.to_string()))
    .bind(rating)
    .bind(time::now_text())
    .bind(&order.id)
    .bind(base_id)
    .bind(&order.state)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AppError::refused(
            "order.state",
            "订单状态已被其他操作改变，请刷新后重试",
        ));
    }
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: match to {
                "delivered" => "order.delivered",
                "confirmed" => "order.confirmed",
                _ => "order.cancelled",
            },
            entity: "service_order",
            entity_id: Some(&order.id),
            before: Some(json!({ "state": order.state })),
            after: Some(json!({ "state": to, "evidence": evidence, "rating": rating })),
        },
    )
    .await?;
    Ok(())
}

pub fn state_label(s: &str) -> &'static str {
    match s {
        "placed" => "已下单",
        "delivered" => "已交付待确认",
        "confirmed" => "已确认",
        "cancelled" => "已取消",
        "redeemed" => "已兑现",
        _ => "未知",
    }
}
