//! `/api/v1/bases/{base}/vouchers/batches/{id}/interest|lottery|draw`: the
//! lottery mode. Enterprises register interest; every member of the base may
//! read the public record (commitment, registrants, and after the draw the
//! seed and the order); base admins run the draw.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::lottery::{self, Interest, Lottery};
use crate::auth::{BaseScope, Role};
use crate::web::error::{ApiResult, AppError};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/interest", post(register_interest))
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/lottery", get(lottery_record))
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/draw", post(draw))
}

/// 登记意向 for a lottery batch (enterprise accounts). Registering again returns the first registration.
#[utoipa::path(post, path = "/api/v1/bases/{base}/vouchers/batches/{id}/interest", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 201, body = Interest), (status = 200, body = Interest, description = "already registered"), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn register_interest(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Interest>)> {
    scope.require(&[Role::Enterprise])?;
    let enterprise = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    let i = lottery::register_interest(&state, &scope.user.actor(), &scope.base.id, &id, &enterprise).await?;
    Ok((
        if i.replayed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(i),
    ))
}

/// The public record of a lottery batch: the seed's SM3 commitment, the registrants, and after the draw the seed, keys, order and amounts.
#[utoipa::path(get, path = "/api/v1/bases/{base}/vouchers/batches/{id}/lottery", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Lottery), (status = 404)))]
pub async fn lottery_record(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Lottery>> {
    Ok(Json(lottery::view(&state, &scope.base.id, &id).await?))
}

/// 开奖 (base admins), once the window has closed; running it again returns the same result.
#[utoipa::path(post, path = "/api/v1/bases/{base}/vouchers/batches/{id}/draw", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Lottery), (status = 403), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn draw(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Lottery>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        lottery::draw(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}
