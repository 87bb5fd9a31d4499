//! `/api/v1/bases/{base}/loan-products/…`, `/loans/…` and `/cost-items/…`.
//! Roles: base admins set up products and cost items and pay supports; every
//! member may browse products; enterprises apply; the partner bank (an
//! investor account acting for the bank) grants, rejects and reports
//! repayment and default.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::loans::{self, ApplicationForm, BankAction, Loan, LoanView, Product, ProductForm};
use super::support::{self, CostItem, CostItemForm, SupportForm};
use crate::auth::{BaseScope, Role};
use crate::registry::routes::Created;
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/loan-products",
            get(list_products).post(create_product),
        )
        .route("/api/v1/bases/{base}/loan-products/{id}", get(get_product))
        .route("/api/v1/bases/{base}/loan-products/{id}/apply", post(apply))
        .route("/api/v1/bases/{base}/loans", get(list_loans))
        .route("/api/v1/bases/{base}/loans/{id}/grant", post(grant))
        .route("/api/v1/bases/{base}/loans/{id}/reject", post(reject))
        .route("/api/v1/bases/{base}/loans/{id}/repaid", post(repaid))
        .route("/api/v1/bases/{base}/loans/{id}/default", post(default))
        .route(
            "/api/v1/bases/{base}/cost-items",
            get(list_cost_items).post(register_cost_item),
        )
        .route("/api/v1/bases/{base}/cost-items/{id}", get(get_cost_item))
        .route("/api/v1/bases/{base}/cost-items/{id}/supports", post(pay_support))
        .merge(super::pages::router())
}

/// Loan products with their pool, leverage reached and losses.
#[utoipa::path(get, path = "/api/v1/bases/{base}/loan-products", params(("base" = String, Path)), responses((status = 200, body = [Product]), (status = 403)))]
pub async fn list_products(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Product>>> {
    Ok(Json(loans::list_products(&state, &scope.base.id).await?))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/loan-products/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404)))]
pub async fn get_product(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Product>> {
    Ok(Json(loans::get_product(&state, &scope.base.id, &id).await?))
}

/// Sets up a loan product with a partner bank; a risk pool is funded through the ledger (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loan-products", params(("base" = String, Path)), request_body = ProductForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_product(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<ProductForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let id = loans::create_product(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Applies for a loan; routed to the product's bank (enterprise accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loan-products/{id}/apply", params(("base" = String, Path), ("id" = String, Path)),
    request_body = ApplicationForm,
    responses((status = 201, body = Loan), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> ApiResult<(StatusCode, Json<Loan>)> {
    scope.require(&[Role::Enterprise])?;
    let ent = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    let loan = loans::apply(&state, &scope.user.actor(), &scope.base.id, &ent, &id, &form).await?;
    Ok((StatusCode::CREATED, Json(loan)))
}

/// The bank an investor account acts for, if it is one.
pub fn bank_of(scope: &BaseScope) -> Result<Option<String>, AppError> {
    if scope.is_admin() {
        return Ok(None);
    }
    scope.require(&[Role::Investor])?;
    scope.subject_id.clone().map(Some).ok_or(AppError::Forbidden)
}

/// Loans: an enterprise sees its own, a bank those routed to it, a base admin all.
#[utoipa::path(get, path = "/api/v1/bases/{base}/loans", params(("base" = String, Path)), responses((status = 200, body = [Loan]), (status = 403)))]
pub async fn list_loans(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Loan>>> {
    let sub = scope.subject_id.clone().unwrap_or_default();
    let view = if scope.is_admin() {
        LoanView::Admin
    } else if scope.has(Role::Enterprise) {
        LoanView::Enterprise(&sub)
    } else if scope.has(Role::Investor) {
        LoanView::Bank(&sub)
    } else {
        return Err(AppError::Forbidden);
    };
    Ok(Json(loans::list_loans(&state, &scope.base.id, &view).await?))
}

async fn act(state: AppState, scope: BaseScope, id: String, action: &str, body: BankAction) -> ApiResult<Json<Loan>> {
    // Only the bank decides on its loans; a base admin may not act for it.
    scope.require(&[Role::Investor])?;
    let bank = bank_of(&scope)?.ok_or(AppError::Forbidden)?;
    Ok(Json(
        loans::bank_act(
            &state,
            &scope.user.actor(),
            &scope.base.id,
            Some(&bank),
            &id,
            action,
            &body,
        )
        .await?,
    ))
}

/// Grants a loan routed to this bank: bank funds → loans outstanding in the ledger (the bank).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loans/{id}/grant", params(("base" = String, Path), ("id" = String, Path)), request_body = BankAction,
    responses((status = 200, body = Loan), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BankAction>,
) -> ApiResult<Json<Loan>> {
    act(state, scope, id, "grant", body).await
}

/// Declines an application, with the reason (the bank).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loans/{id}/reject", params(("base" = String, Path), ("id" = String, Path)), request_body = BankAction,
    responses((status = 200, body = Loan), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BankAction>,
) -> ApiResult<Json<Loan>> {
    act(state, scope, id, "reject", body).await
}

/// Records full repayment (the bank).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loans/{id}/repaid", params(("base" = String, Path), ("id" = String, Path)), request_body = BankAction,
    responses((status = 200, body = Loan), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn repaid(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BankAction>,
) -> ApiResult<Json<Loan>> {
    act(state, scope, id, "repaid", body).await
}

/// Records a default with the principal lost; the risk pool compensates its share (代偿) at once (the bank).
#[utoipa::path(post, path = "/api/v1/bases/{base}/loans/{id}/default", params(("base" = String, Path), ("id" = String, Path)), request_body = BankAction,
    responses((status = 200, body = Loan), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn default(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BankAction>,
) -> ApiResult<Json<Loan>> {
    act(state, scope, id, "default", body).await
}

/// Cost items with every support paid against them (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/cost-items", params(("base" = String, Path)), responses((status = 200, body = [CostItem]), (status = 403)))]
pub async fn list_cost_items(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<CostItem>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(support::list(&state, &scope.base.id).await?))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/cost-items/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = CostItem), (status = 403), (status = 404)))]
pub async fn get_cost_item(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<CostItem>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(support::get(&state, &scope.base.id, &id).await?))
}

/// Registers a cost (a service order or an invoice) with its support cap (base admins). One cost, one record.
#[utoipa::path(post, path = "/api/v1/bases/{base}/cost-items", params(("base" = String, Path)), request_body = CostItemForm,
    responses((status = 201, body = CostItem), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn register_cost_item(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<CostItemForm>,
) -> ApiResult<(StatusCode, Json<CostItem>)> {
    scope.require(&[Role::BaseAdmin])?;
    let item = support::register(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// Pays a support from a budget against a cost; refused (409 support.cap_exceeded) above the cap (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/cost-items/{id}/supports", params(("base" = String, Path), ("id" = String, Path)),
    request_body = SupportForm,
    responses((status = 200, body = CostItem), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn pay_support(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<SupportForm>,
) -> ApiResult<Json<CostItem>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        support::pay(&state, &scope.user.actor(), &scope.base.id, &id, &form).await?,
    ))
}
