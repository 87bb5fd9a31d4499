//! `/api/v1/bases/{base}/vouchers/batches/{id}/interest|lottery|draw`: the
//! lottery mode. Enterprises register interest; every member of the base may
//! read the public record (commitment, registrants, and after the draw the
//! seed and the order); base admins run the draw.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};

use super::lottery::{self, Interest, Lottery};
use super::pages::CsrfForm;
use crate::auth::{BaseScope, PageScope, Role};
use crate::web::error::{ApiResult, AppError, PageResult};
use crate::web::pages::{back, page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/vouchers/batches/{id}/interest",
            post(register_interest),
        )
        .route(
            "/api/v1/bases/{base}/vouchers/batches/{id}/lottery",
            get(lottery_record),
        )
        .route("/api/v1/bases/{base}/vouchers/batches/{id}/draw", post(draw))
        .route("/b/{base}/vouchers/{id}/interest", post(interest_submit))
        .route("/b/{base}/vouchers/{id}/lottery", get(lottery_page))
        .route("/b/{base}/vouchers/{id}/draw", post(draw_submit))
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

#[derive(Template)]
#[template(path = "voucher/lottery.html")]
struct LotteryPage {
    nav: Nav,
    base_code: String,
    lottery: Lottery,
    can_draw: bool,
    notice: Notice,
}

async fn lottery_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    Ok(page(&LotteryPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        lottery: lottery::view(&state, &scope.base.id, &id).await?,
        can_draw: scope.is_admin(),
        notice,
    }))
}

async fn interest_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::Enterprise])?;
    let enterprise = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    let result = lottery::register_interest(&state, &scope.user.actor(), &scope.base.id, &id, &enterprise)
        .await
        .map(|_| "已登记意向，截止后公开摇号".to_string());
    back(&scope.base.code, "vouchers", result)
}

async fn draw_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = lottery::draw(&state, &scope.user.actor(), &scope.base.id, &id)
        .await
        .map(|l| format!("已开奖：{} 家登记企业", l.registrants.len()));
    back(&scope.base.code, &format!("vouchers/{id}/lottery"), result)
}
