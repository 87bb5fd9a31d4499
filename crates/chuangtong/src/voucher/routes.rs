//! `/api/v1/bases/{base}/vouchers/…` and `/api/v1/bases/{base}/market/…`.
//! Roles: base admins issue batches and settle redemptions; enterprises
//! claim, order, confirm and cancel; providers list services, deliver and
//! request redemption; every member may browse batches and services.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::batch::{self, Batch, BatchForm};
use super::claim::{self, Claim};
use super::market::{self, Order, OrderForm, Party, Service, ServiceForm};
use super::redemption::{self, Redemption};
use crate::auth::{BaseScope, Role};
use crate::registry::routes::Created;
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/vouchers/batches",
            get(list_batches).post(issue_batch),
        )
        .route("/api/v1/bases/{base}/vouchers/batches/{id}", get(get_batch))
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/claim", post(claim_voucher))
        .route(
            "/api/v1/bases/{base}/market/services",
            get(list_services).post(list_service),
        )
        .route("/api/v1/bases/{base}/market/orders", get(list_orders).post(place_order))
        .route("/api/v1/bases/{base}/market/orders/{id}/deliver", post(deliver))
        .route("/api/v1/bases/{base}/market/orders/{id}/confirm", post(confirm))
        .route("/api/v1/bases/{base}/market/orders/{id}/cancel", post(cancel))
        .route(
            "/api/v1/bases/{base}/market/redemptions",
            get(list_redemptions).post(request_redemption),
        )
        .route(
            "/api/v1/bases/{base}/market/redemptions/{id}/settle",
            post(settle_redemption),
        )
        .merge(super::pages::router())
        .merge(super::lottery_routes::router())
}

/// The registry record an enterprise or provider account acts for.
fn subject(scope: &BaseScope, role: Role) -> Result<String, AppError> {
    scope.require(&[role])?;
    scope.subject_id.clone().ok_or(AppError::Forbidden)
}

/// Voucher batches of the base with what is left of each.
#[utoipa::path(get, path = "/api/v1/bases/{base}/vouchers/batches", params(("base" = String, Path)), responses((status = 200, body = [Batch]), (status = 403)))]
pub async fn list_batches(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Batch>>> {
    Ok(Json(batch::list(&state, &scope.base.id).await?))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/vouchers/batches/{id}", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = Batch), (status = 404)))]
pub async fn get_batch(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Batch>> {
    Ok(Json(batch::get(&state, &scope.base.id, &id).await?))
}

/// Issues a batch and funds its budget in the ledger (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/vouchers/batches", params(("base" = String, Path)), request_body = BatchForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn issue_batch(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<BatchForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let id = batch::issue(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Claims the firm's share of a batch (enterprise accounts). Claiming again returns the first claim.
#[utoipa::path(post, path = "/api/v1/bases/{base}/vouchers/batches/{id}/claim", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 201, body = Claim), (status = 200, body = Claim, description = "already claimed"), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn claim_voucher(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Claim>)> {
    let enterprise = subject(&scope, Role::Enterprise)?;
    let c = claim::claim(&state, &scope.user.actor(), &scope.base.id, &id, &enterprise).await?;
    Ok((
        if c.replayed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(c),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ServiceQuery {
    category: Option<String>,
}

/// The service supermarket.
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/services", params(("base" = String, Path), ServiceQuery), responses((status = 200, body = [Service])))]
pub async fn list_services(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ServiceQuery>,
) -> ApiResult<Json<Vec<Service>>> {
    Ok(Json(
        market::list_services(&state, &scope.base.id, q.category.as_deref()).await?,
    ))
}

/// Lists a service (provider accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/services", params(("base" = String, Path)), request_body = ServiceForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn list_service(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<ServiceForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let provider = subject(&scope, Role::Provider)?;
    let id = market::list_service(&state, &scope.user.actor(), &scope.base.id, &provider, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Orders: an enterprise sees its own, a provider its own, a base admin all.
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/orders", params(("base" = String, Path)), responses((status = 200, body = [Order]), (status = 403)))]
pub async fn list_orders(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Order>>> {
    let sub = scope.subject_id.clone().unwrap_or_default();
    let party = if scope.is_admin() {
        Party::Admin
    } else if scope.has(Role::Enterprise) {
        Party::Enterprise(&sub)
    } else if scope.has(Role::Provider) {
        Party::Provider(&sub)
    } else {
        return Err(AppError::Forbidden);
    };
    Ok(Json(market::list_orders(&state, &scope.base.id, &party).await?))
}

/// Places an order, paying part with a voucher (enterprise accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/orders", params(("base" = String, Path)), request_body = OrderForm,
    responses((status = 201, body = Order), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn place_order(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<OrderForm>,
) -> ApiResult<(StatusCode, Json<Order>)> {
    let enterprise = subject(&scope, Role::Enterprise)?;
    let order = market::place_order(&state, &scope.user.actor(), &scope.base.id, &enterprise, &form).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Structured evidence by category: report_number (技术检测), patent_application_number (专利服务),
    /// machine_hours (仪器共享), deliverable (others)
    #[schema(value_type = Object)]
    evidence: Value,
}

/// Marks an order delivered with evidence (the order's provider).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/orders/{id}/deliver", params(("base" = String, Path), ("id" = String, Path)), request_body = Delivery,
    responses((status = 200, body = Order), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Delivery>,
) -> ApiResult<Json<Order>> {
    let provider = subject(&scope, Role::Provider)?;
    Ok(Json(
        market::deliver(
            &state,
            &scope.user.actor(),
            &scope.base.id,
            &provider,
            &id,
            &body.evidence,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Confirmation {
    /// 1–5
    rating: i64,
}

/// Confirms delivery and rates the provider; the voucher payment posts (the order's enterprise).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/orders/{id}/confirm", params(("base" = String, Path), ("id" = String, Path)), request_body = Confirmation,
    responses((status = 200, body = Order), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Confirmation>,
) -> ApiResult<Json<Order>> {
    let enterprise = subject(&scope, Role::Enterprise)?;
    Ok(Json(
        market::confirm(
            &state,
            &scope.user.actor(),
            &scope.base.id,
            &enterprise,
            &id,
            body.rating,
        )
        .await?,
    ))
}

/// Cancels an unconfirmed order; the voucher reservation is released (the order's enterprise).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/orders/{id}/cancel", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Order>> {
    let enterprise = subject(&scope, Role::Enterprise)?;
    Ok(Json(
        market::cancel(&state, &scope.user.actor(), &scope.base.id, &enterprise, &id).await?,
    ))
}

/// Redemption requests: a provider sees its own, a base admin all.
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/redemptions", params(("base" = String, Path)), responses((status = 200, body = [Redemption]), (status = 403)))]
pub async fn list_redemptions(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Redemption>>> {
    if scope.is_admin() {
        return Ok(Json(redemption::list(&state, &scope.base.id, None).await?));
    }
    let provider = subject(&scope, Role::Provider)?;
    Ok(Json(redemption::list(&state, &scope.base.id, Some(&provider)).await?))
}

/// Requests redemption of every confirmed voucher order (provider accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/redemptions", params(("base" = String, Path)),
    responses((status = 201, body = Redemption), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn request_redemption(
    State(state): State<AppState>,
    scope: BaseScope,
) -> ApiResult<(StatusCode, Json<Redemption>)> {
    let provider = subject(&scope, Role::Provider)?;
    Ok((
        StatusCode::CREATED,
        Json(redemption::request(&state, &scope.user.actor(), &scope.base.id, &provider).await?),
    ))
}

/// Settles a redemption request (base admins): payable → settlement in the ledger.
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/redemptions/{id}/settle", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Redemption), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn settle_redemption(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Redemption>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        redemption::settle(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}
