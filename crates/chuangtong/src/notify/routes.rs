//! `/api/v1/bases/{base}/notifications/…` and `/api/v1/me/email`. Every
//! member reads only their own notices; nobody reads anyone else's, not even a
//! base administrator (a notice may carry another party's case details).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Notification;
use crate::auth::{BaseScope, CurrentUser, Role};
use crate::web::error::ApiResult;
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    let b = "/api/v1/bases/{base}";
    Router::new()
        .route(&format!("{b}/notifications"), get(list_notifications))
        .route(&format!("{b}/notifications/read-all"), post(read_all))
        .route(&format!("{b}/notifications/{{id}}/read"), post(read_one))
        .route("/api/v1/me/email", get(get_email).post(set_email))
        .merge(super::pages::router())
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct InboxQuery {
    /// Only unread notices
    #[serde(default)]
    pub unread: bool,
    /// At most this many (default 100, at most 500)
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<Notification>,
}

/// The caller's own notices in this base, newest first (every member).
#[utoipa::path(get, path = "/api/v1/bases/{base}/notifications", params(("base" = String, Path), InboxQuery),
    responses((status = 200, body = Inbox), (status = 403)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<Inbox>> {
    scope.require(&Role::ALL)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    Ok(Json(Inbox {
        unread: super::unread_count(&state, &scope.base.id, &scope.user.id).await?,
        items: super::inbox(&state, &scope.base.id, &scope.user.id, q.unread, limit).await?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Marked {
    pub marked: u64,
}

/// Marks one of the caller's notices read (404 for anyone else's).
#[utoipa::path(post, path = "/api/v1/bases/{base}/notifications/{id}/read", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Marked), (status = 404)))]
pub async fn read_one(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Marked>> {
    scope.require(&Role::ALL)?;
    super::mark_read(&state, &scope.user.actor(), &scope.base.id, &scope.user.id, &id).await?;
    Ok(Json(Marked { marked: 1 }))
}

/// Marks all of the caller's notices in this base read.
#[utoipa::path(post, path = "/api/v1/bases/{base}/notifications/read-all", params(("base" = String, Path)),
    responses((status = 200, body = Marked), (status = 403)))]
pub async fn read_all(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Marked>> {
    scope.require(&Role::ALL)?;
    let marked = super::mark_all_read(&state, &scope.user.actor(), &scope.base.id, &scope.user.id).await?;
    Ok(Json(Marked { marked }))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailSetting {
    /// Where notices are mailed; empty or null: inbox only
    pub email: Option<String>,
}

/// Where the caller's notices are mailed.
#[utoipa::path(get, path = "/api/v1/me/email", responses((status = 200, body = EmailSetting), (status = 401)))]
pub async fn get_email(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<EmailSetting>> {
    Ok(Json(EmailSetting {
        email: super::email_of(&state, &user.id).await?,
    }))
}

/// Sets or clears where the caller's notices are mailed.
#[utoipa::path(post, path = "/api/v1/me/email", request_body = EmailSetting,
    responses((status = 200, body = EmailSetting), (status = 401), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn set_email(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(form): ApiJson<EmailSetting>,
) -> ApiResult<Json<EmailSetting>> {
    let email = super::set_email(&state, &user.actor(), &user.id, form.email.as_deref().unwrap_or("")).await?;
    Ok(Json(EmailSetting { email }))
}
