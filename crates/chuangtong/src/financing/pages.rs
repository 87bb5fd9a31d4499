//! Pages: 金融服务 (`/b/{base}/financing`): loan products with pool,
//! leverage and losses; applying (enterprises); the bank's desk (grant,
//! reject, repaid, default); product set-up (base admins); and 一费一补
//! (`/b/{base}/financing/costs`): cost items, their supports and the cap.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::loans::{self, ApplicationForm, BankAction, Loan, LoanView, Product, ProductForm};
use super::support::{self, CostItem, CostItemForm, SupportForm};
use crate::auth::{PageScope, Role};
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{back, page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/financing", get(financing_page))
        .route("/b/{base}/financing/products", post(product_submit))
        .route("/b/{base}/financing/products/{id}/apply", post(apply_submit))
        .route("/b/{base}/financing/loans/{id}/{action}", post(bank_submit))
        .route("/b/{base}/financing/costs", get(costs_page).post(cost_submit))
        .route("/b/{base}/financing/costs/{id}/supports", post(support_submit))
}

pub fn yuan(fen: &i64) -> String {
    chuangtong_domain::Fen::from_fen(*fen).to_yuan_string_grouped()
}

pub fn yuan_opt(fen: &Option<i64>) -> String {
    fen.map(|f| yuan(&f)).unwrap_or_else(|| "—".into())
}

/// 300 → "3", 450 → "4.5".
pub fn multiple(x100: &i64) -> String {
    let (w, f) = (x100 / 100, x100 % 100);
    if f == 0 {
        w.to_string()
    } else {
        format!("{w}.{f:02}").trim_end_matches('0').to_string()
    }
}

#[derive(Template)]
#[template(path = "financing/index.html")]
struct FinancingPage {
    nav: Nav,
    base_code: String,
    products: Vec<Product>,
    loans: Vec<Loan>,
    banks: Vec<(String, String)>,
    is_admin: bool,
    is_enterprise: bool,
    is_bank: bool,
    notice: Notice,
}

impl FinancingPage {
    fn kind_label(&self, k: &str) -> &'static str {
        loans::kind_label(k)
    }
    fn state_label(&self, s: &str) -> &'static str {
        loans::state_label(s)
    }
}

async fn financing_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    let sub = scope.subject_id.clone().unwrap_or_default();
    let view = if scope.is_admin() {
        Some(LoanView::Admin)
    } else if scope.has(Role::Enterprise) {
        Some(LoanView::Enterprise(&sub))
    } else if scope.has(Role::Investor) {
        Some(LoanView::Bank(&sub))
    } else {
        None
    };
    let loans = match &view {
        Some(v) => loans::list_loans(&state, &scope.base.id, v).await?,
        None => Vec::new(),
    };
    let banks = if scope.is_admin() {
        use sqlx::Row;
        sqlx::query("SELECT id, name FROM investors WHERE base_id = $1 AND kind = 'bank' ORDER BY name")
            .bind(&scope.base.id)
            .fetch_all(state.db.pool())
            .await
            .map_err(AppError::from)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(page(&FinancingPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        products: loans::list_products(&state, &scope.base.id).await?,
        loans,
        banks,
        is_admin: scope.is_admin(),
        is_enterprise: scope.has(Role::Enterprise),
        is_bank: scope.has(Role::Investor),
        notice,
    }))
}

#[derive(Deserialize)]
struct ProductSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: ProductForm,
}

async fn product_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<ProductSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = loans::create_product(&state, &scope.user.actor(), &scope.base.id, &f.form)
        .await
        .map(|_| format!("已设立贷款产品“{}”", f.form.name.trim()));
    back(&scope.base.code, "financing", result)
}

#[derive(Deserialize)]
struct ApplySubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: ApplicationForm,
}

async fn apply_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<ApplySubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::Enterprise])?;
    let ent = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    let result = loans::apply(&state, &scope.user.actor(), &scope.base.id, &ent, &id, &f.form)
        .await
        .map(|l| format!("已提交贷款申请 {} 元，已推送至合作银行", yuan(&l.amount_fen)));
    back(&scope.base.code, "financing", result)
}

#[derive(Deserialize)]
struct BankSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: BankAction,
}

async fn bank_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(f): Form<BankSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::Investor])?;
    let bank = super::routes::bank_of(&scope)?.ok_or(AppError::Forbidden)?;
    let result = loans::bank_act(
        &state,
        &scope.user.actor(),
        &scope.base.id,
        Some(&bank),
        &id,
        &action,
        &f.form,
    )
    .await
    .map(|l| format!("已处理：{}", loans::state_label(&l.state)));
    back(&scope.base.code, "financing", result)
}

#[derive(Template)]
#[template(path = "financing/costs.html")]
struct CostsPage {
    nav: Nav,
    base_code: String,
    items: Vec<CostItem>,
    notice: Notice,
}

async fn costs_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(page(&CostsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        items: support::list(&state, &scope.base.id).await?,
        notice,
    }))
}

#[derive(Deserialize)]
struct CostSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: CostItemForm,
}

async fn cost_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<CostSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = support::register(&state, &scope.user.actor(), &scope.base.id, &f.form)
        .await
        .map(|c| format!("已登记费用 {} 元，支持上限 {} 元", yuan(&c.cost_fen), yuan(&c.cap_fen)));
    back(&scope.base.code, "financing/costs", result)
}

#[derive(Deserialize)]
struct SupportSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: SupportForm,
}

async fn support_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<SupportSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = support::pay(&state, &scope.user.actor(), &scope.base.id, &id, &f.form)
        .await
        .map(|c| {
            format!(
                "已支付；该费用累计获支持 {} 元，剩余额度 {} 元",
                yuan(&c.total_support_fen),
                yuan(&c.remaining_fen)
            )
        });
    back(&scope.base.code, "financing/costs", result)
}
