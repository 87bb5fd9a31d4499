//! Audit log for base administrators: the latest entries of the base's chain
//! and a verification of the whole chain.

use askama::Template;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{AuditEntry, VerifyReport};
use crate::auth::{BaseScope, CurrentUser, PageScope, Role};
use crate::web::error::{ApiResult, AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/audit", get(audit_page))
        .route("/api/v1/bases/{base}/audit", get(api_recent))
        .route("/api/v1/audit/verify", get(api_verify))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditEntry>,
    report: VerifyReport,
}

async fn audit_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let entries = super::recent(&state.db, &scope.base.id, 200).await?;
    let report = super::verify(&state.db, &state.keys).await?;
    Ok(page(&AuditPage {
        nav: Nav::for_scope(&scope),
        entries,
        report,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    entries: Vec<AuditEntry>,
}

/// The latest 200 audit entries of the base (base administrators).
#[utoipa::path(get, path = "/api/v1/bases/{base}/audit", params(("base" = String, Path)),
    responses((status = 200, body = AuditList), (status = 403)))]
pub async fn api_recent(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<AuditList>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(AuditList {
        entries: super::recent(&state.db, &scope.base.id, 200).await?,
    }))
}

/// Verifies every chain (platform administrators).
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200), (status = 403)))]
pub async fn api_verify(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<VerifyReport>> {
    if !user.platform_admin {
        return Err(AppError::Forbidden);
    }
    Ok(Json(super::verify(&state.db, &state.keys).await?))
}
