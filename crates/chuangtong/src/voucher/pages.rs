//! Pages: 创新券 (batches, claim), 服务超市 (services, order), 我的订单
//! (deliver, confirm, cancel, redeem). Each form posts to a handler that
//! calls the same service function as the API and redirects back with a
//! notice, or shows the error in Chinese.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chuangtong_domain::Fen;
use serde::Deserialize;
use serde_json::json;

use super::batch::{self, Batch};
use super::market::{self, Order, OrderForm, Party, Service};
use super::redemption::Redemption;
use super::{claim, redemption};
use crate::auth::{BaseScope, PageScope, Role};
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{back, page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/vouchers", get(vouchers_page))
        .route("/b/{base}/vouchers/{id}/claim", post(claim_submit))
        .route("/b/{base}/market", get(market_page))
        .route("/b/{base}/market/order", post(order_submit))
        .route("/b/{base}/market/orders", get(orders_page))
        .route("/b/{base}/market/orders/{id}/{action}", post(order_action))
        .route("/b/{base}/market/redeem", post(redeem_submit))
        .route("/b/{base}/market/redemptions/{id}/settle", post(settle_submit))
}

pub fn yuan(fen: &i64) -> String {
    Fen::from_fen(*fen).to_yuan_string_grouped()
}

#[derive(Template)]
#[template(path = "voucher/batches.html")]
struct BatchesPage {
    nav: Nav,
    base_code: String,
    batches: Vec<(Batch, Option<i64>)>,
    can_claim: bool,
    notice: Notice,
}

async fn vouchers_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    let mut rows = Vec::new();
    for b in batch::list(&state, &scope.base.id).await? {
        let mine = match (&scope.subject_id, scope.has(Role::Enterprise)) {
            (Some(e), true) => claim::find(&state, &scope.base.id, &b.id, e)
                .await?
                .map(|c| c.wallet_available_fen),
            _ => None,
        };
        rows.push((b, mine));
    }
    Ok(page(&BatchesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        batches: rows,
        can_claim: scope.has(Role::Enterprise),
        notice,
    }))
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub(super) csrf: String,
}

fn enterprise_of(scope: &BaseScope) -> Result<String, AppError> {
    scope.require(&[Role::Enterprise])?;
    scope.subject_id.clone().ok_or(AppError::Forbidden)
}

fn provider_of(scope: &BaseScope) -> Result<String, AppError> {
    scope.require(&[Role::Provider])?;
    scope.subject_id.clone().ok_or(AppError::Forbidden)
}

async fn claim_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let enterprise = enterprise_of(&scope)?;
    let result = claim::claim(&state, &scope.user.actor(), &scope.base.id, &id, &enterprise)
        .await
        .map(|c| format!("已领取创新券 {} 元", yuan(&c.amount_fen)));
    back(&scope.base.code, "vouchers", result)
}

#[derive(Template)]
#[template(path = "voucher/market.html")]
struct MarketPage {
    nav: Nav,
    base_code: String,
    services: Vec<Service>,
    batches: Vec<Batch>,
    category: String,
    categories: &'static [&'static str],
    can_order: bool,
    notice: Notice,
}

#[derive(Deserialize)]
struct MarketQuery {
    category: Option<String>,
    ok: Option<String>,
    err: Option<String>,
}

async fn market_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<MarketQuery>,
) -> PageResult<impl IntoResponse> {
    let category = q.category.filter(|c| !c.is_empty());
    Ok(page(&MarketPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        services: market::list_services(&state, &scope.base.id, category.as_deref()).await?,
        batches: batch::list(&state, &scope.base.id).await?,
        category: category.unwrap_or_default(),
        categories: &super::CATEGORIES,
        can_order: scope.has(Role::Enterprise),
        notice: Notice { ok: q.ok, err: q.err },
    }))
}

#[derive(Deserialize)]
struct OrderSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    service_id: String,
    #[serde(default)]
    batch_id: String,
}

async fn order_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<OrderSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let enterprise = enterprise_of(&scope)?;
    let form = OrderForm {
        service_id: f.service_id,
        batch_id: Some(f.batch_id).filter(|b| !b.is_empty()),
    };
    let result = market::place_order(&state, &scope.user.actor(), &scope.base.id, &enterprise, &form)
        .await
        .map(|o| {
            format!(
                "已下单：订单金额 {} 元，其中创新券支付 {} 元",
                yuan(&o.price_fen),
                yuan(&o.voucher_fen)
            )
        });
    back(&scope.base.code, "market/orders", result)
}

#[derive(Template)]
#[template(path = "voucher/orders.html")]
struct OrdersPage {
    nav: Nav,
    base_code: String,
    orders: Vec<Order>,
    /// Redemption requests: every one for a base admin, its own for a provider
    redemptions: Vec<(Redemption, String)>,
    is_enterprise: bool,
    is_provider: bool,
    is_admin: bool,
    notice: Notice,
}

impl OrdersPage {
    fn state_label(&self, s: &str) -> &'static str {
        market::state_label(s)
    }
}

async fn orders_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    let sub = scope.subject_id.clone().unwrap_or_default();
    let party = if scope.is_admin() {
        Party::Admin
    } else if scope.has(Role::Enterprise) {
        Party::Enterprise(&sub)
    } else if scope.has(Role::Provider) {
        Party::Provider(&sub)
    } else {
        return Err(AppError::Forbidden.into());
    };
    let redemptions = match party {
        Party::Admin => redemption::list(&state, &scope.base.id, None).await?,
        Party::Provider(p) => redemption::list(&state, &scope.base.id, Some(p)).await?,
        Party::Enterprise(_) => Vec::new(),
    };
    let names: std::collections::HashMap<String, String> =
        sqlx::query("SELECT id, name FROM providers WHERE base_id = $1")
            .bind(&scope.base.id)
            .fetch_all(state.db.pool())
            .await
            .map_err(AppError::from)?
            .iter()
            .map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1)))
            .collect();
    let redemptions = redemptions
        .into_iter()
        .map(|r| {
            let name = names.get(&r.provider_id).cloned().unwrap_or_default();
            (r, name)
        })
        .collect();
    Ok(page(&OrdersPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        orders: market::list_orders(&state, &scope.base.id, &party).await?,
        redemptions,
        is_enterprise: scope.has(Role::Enterprise),
        is_provider: scope.has(Role::Provider),
        is_admin: scope.is_admin(),
        notice,
    }))
}

#[derive(Deserialize)]
struct OrderAction {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    report_number: String,
    #[serde(default)]
    patent_application_number: String,
    #[serde(default)]
    machine_hours: String,
    #[serde(default)]
    deliverable: String,
}

async fn order_action(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(f): Form<OrderAction>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let actor = scope.user.actor();
    let base = &scope.base.id;
    let result = match action.as_str() {
        "deliver" => {
            let provider = provider_of(&scope)?;
            let mut evidence = json!({});
            for (k, v) in [
                ("report_number", &f.report_number),
                ("patent_application_number", &f.patent_application_number),
                ("deliverable", &f.deliverable),
            ] {
                if !v.trim().is_empty() {
                    evidence[k] = json!(v.trim());
                }
            }
            if let Ok(h) = f.machine_hours.trim().parse::<i64>() {
                evidence["machine_hours"] = json!(h);
            }
            market::deliver(&state, &actor, base, &provider, &id, &evidence)
                .await
                .map(|_| "已标记交付，等待企业确认".to_string())
        }
        "confirm" => {
            let enterprise = enterprise_of(&scope)?;
            let rating = f.rating.trim().parse::<i64>().unwrap_or(0);
            market::confirm(&state, &actor, base, &enterprise, &id, rating)
                .await
                .map(|_| "已确认交付，创新券款项已划转".to_string())
        }
        "cancel" => {
            let enterprise = enterprise_of(&scope)?;
            market::cancel(&state, &actor, base, &enterprise, &id)
                .await
                .map(|_| "订单已取消，创新券额度已退回".to_string())
        }
        _ => return Err(AppError::NotFound.into()),
    };
    back(&scope.base.code, "market/orders", result)
}

async fn redeem_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let provider = provider_of(&scope)?;
    let result = redemption::request(&state, &scope.user.actor(), &scope.base.id, &provider)
        .await
        .map(|r| format!("已提交兑现申请：{} 个订单，共 {} 元", r.orders, yuan(&r.amount_fen)));
    back(&scope.base.code, "market/orders", result)
}

/// The base admin settles a provider's redemption request: payable → settlement.
async fn settle_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = redemption::settle(&state, &scope.user.actor(), &scope.base.id, &id)
        .await
        .map(|r| format!("已兑现结算：{} 个订单，共 {} 元", r.orders, yuan(&r.amount_fen)));
    back(&scope.base.code, "market/orders", result)
}
