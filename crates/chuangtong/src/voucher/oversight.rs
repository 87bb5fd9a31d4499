//! Base admins' oversight of vouchers, JSON side: the batch report (JSON and
//! Excel), expiry of a batch, related-party facts and the review of flagged
//! orders. Pages are in [`super::oversight_pages`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::expiry::{self, ExpiryRun};
use super::related::{self, OrderFlag, PartyFact, PartyFactForm};
use super::report::{self, BatchReport};
use crate::auth::{BaseScope, Role};
use crate::indicator::export::XLSX_MIME;
use crate::indicator::routes::download;
use crate::web::error::ApiResult;
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/report", get(batch_report))
        .route(
            "/api/v1/bases/{base}/vouchers/batches/{id}/report/xlsx",
            get(batch_report_xlsx),
        )
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/expire", post(expire_batch))
        .route(
            "/api/v1/bases/{base}/related-parties/enterprises/{id}",
            get(enterprise_facts).post(record_enterprise_fact),
        )
        .route(
            "/api/v1/bases/{base}/related-parties/providers/{id}",
            get(provider_facts).post(record_provider_fact),
        )
        .route("/api/v1/bases/{base}/market/related-party-orders", get(list_flags))
        .route("/api/v1/bases/{base}/market/related-party-orders/{id}", get(get_flag))
        .route(
            "/api/v1/bases/{base}/market/related-party-orders/{id}/clear",
            post(clear_flag),
        )
        .merge(super::oversight_pages::router())
        .merge(super::escrow_routes::router())
}

/// The batch report: claimed, reserved, used, redeemed, expired — by category and provider (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/vouchers/batches/{id}/report", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = BatchReport), (status = 403), (status = 404)))]
pub async fn batch_report(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<BatchReport>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(report::build(&state, &scope.base.id, &id).await?))
}

/// The batch report as an Excel workbook (汇总, 按服务类别, 按服务机构).
#[utoipa::path(get, path = "/api/v1/bases/{base}/vouchers/batches/{id}/report/xlsx", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403), (status = 404)))]
pub async fn batch_report_xlsx(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    scope.require(&[Role::BaseAdmin])?;
    let r = report::build(&state, &scope.base.id, &id).await?;
    let bytes = report::xlsx(&r)?;
    Ok(download(
        XLSX_MIME,
        &format!("voucher-report-{}-{}.xlsx", scope.base.code, r.batch.code),
        bytes,
    ))
}

/// Returns the unused wallets of an expired batch to its budget and releases
/// reservations of orders not delivered in time (base admins). Safe to repeat.
#[utoipa::path(post, path = "/api/v1/bases/{base}/vouchers/batches/{id}/expire", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ExpiryRun), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn expire_batch(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<ExpiryRun>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        expiry::expire_batch(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

/// Related-party facts of an enterprise: shareholders, controller, address, phone (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/related-parties/enterprises/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = [PartyFact]), (status = 403), (status = 404)))]
pub async fn enterprise_facts(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<PartyFact>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        related::list_facts(&state, &scope.base.id, "enterprise", &id).await?,
    ))
}

/// Records a related-party fact of an enterprise (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/related-parties/enterprises/{id}", params(("base" = String, Path), ("id" = String, Path)),
    request_body = PartyFactForm,
    responses((status = 201, body = PartyFact), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn record_enterprise_fact(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<PartyFactForm>,
) -> ApiResult<(StatusCode, Json<PartyFact>)> {
    scope.require(&[Role::BaseAdmin])?;
    let f = related::record_fact(&state, &scope.user.actor(), &scope.base.id, "enterprise", &id, &form).await?;
    Ok((StatusCode::CREATED, Json(f)))
}

/// Related-party facts of a service provider (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/related-parties/providers/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = [PartyFact]), (status = 403), (status = 404)))]
pub async fn provider_facts(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<PartyFact>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        related::list_facts(&state, &scope.base.id, "provider", &id).await?,
    ))
}

/// Records a related-party fact of a service provider (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/related-parties/providers/{id}", params(("base" = String, Path), ("id" = String, Path)),
    request_body = PartyFactForm,
    responses((status = 201, body = PartyFact), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn record_provider_fact(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<PartyFactForm>,
) -> ApiResult<(StatusCode, Json<PartyFact>)> {
    scope.require(&[Role::BaseAdmin])?;
    let f = related::record_fact(&state, &scope.user.actor(), &scope.base.id, "provider", &id, &form).await?;
    Ok((StatusCode::CREATED, Json(f)))
}

/// Orders flagged as between related parties, awaiting clearance first (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/related-party-orders", params(("base" = String, Path)),
    responses((status = 200, body = [OrderFlag]), (status = 403)))]
pub async fn list_flags(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<OrderFlag>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(related::list_flags(&state, &scope.base.id).await?))
}

/// One flagged order with its reasons (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/related-party-orders/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = OrderFlag), (status = 403), (status = 404)))]
pub async fn get_flag(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<OrderFlag>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(related::get_flag(&state, &scope.base.id, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Clearance {
    /// 审核意见：why the order is acceptable
    #[serde(default)]
    note: String,
}

/// Clears a flagged order after review, so its voucher part may be redeemed (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/related-party-orders/{id}/clear", params(("base" = String, Path), ("id" = String, Path)),
    request_body = Clearance,
    responses((status = 200, body = OrderFlag), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn clear_flag(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Clearance>,
) -> ApiResult<Json<OrderFlag>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        related::clear(&state, &scope.user.actor(), &scope.base.id, &id, &body.note).await?,
    ))
}
