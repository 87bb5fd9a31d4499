//! The inbox page (`/b/{base}/notifications`), its buttons, and the small
//! unread badge the header shows (an SVG image, so every page gets the count
//! without a script and without each page handler querying it).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::Notification;
use crate::auth::{PageScope, Role};
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/notifications", get(inbox_page))
        .route("/b/{base}/notifications/badge.svg", get(badge))
        .route("/b/{base}/notifications/read-all", post(read_all))
        .route("/b/{base}/notifications/email", post(email))
        .route("/b/{base}/notifications/{id}/read", post(read_one))
}

/// `?ok=` / `?err=` messages after a redirect.
#[derive(Deserialize, Default)]
pub struct Flash {
    pub ok: Option<String>,
    pub err: Option<String>,
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    #[serde(default)]
    unread: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

#[derive(Template)]
#[template(path = "notify/inbox.html")]
struct InboxPage {
    nav: Nav,
    base_code: String,
    unread: i64,
    unread_only: bool,
    items: Vec<Notification>,
    email: Option<String>,
    flash: Flash,
}

async fn inbox_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<InboxQuery>,
) -> PageResult<impl IntoResponse> {
    scope.require(&Role::ALL)?;
    let unread_only = q.unread.is_some_and(|v| v == "1" || v == "true");
    Ok(page(&InboxPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        unread: super::unread_count(&state, &scope.base.id, &scope.user.id).await?,
        unread_only,
        items: super::inbox(&state, &scope.base.id, &scope.user.id, unread_only, 200).await?,
        email: super::email_of(&state, &scope.user.id).await?,
        flash: q.flash,
    }))
}

/// The unread count as a tiny image for the header link; never cached.
async fn badge(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<Response> {
    scope.require(&Role::ALL)?;
    let n = super::unread_count(&state, &scope.base.id, &scope.user.id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        badge_svg(n),
    )
        .into_response())
}

/// A red pill with the count ("99+" above 99); an empty image when nothing is unread.
pub fn badge_svg(n: i64) -> String {
    if n <= 0 {
        return r#"<svg xmlns="http://www.w3.org/2000/svg" width="1" height="16"></svg>"#.into();
    }
    let text = if n > 99 { "99+".to_string() } else { n.to_string() };
    let w = 10 + 7 * text.len();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="16" role="img" aria-label="未读{text}"><rect width="{w}" height="16" rx="8" fill="#e53935"/><text x="{x}" y="12" font-size="11" font-family="sans-serif" fill="#fff" text-anchor="middle">{text}</text></svg>"##,
        x = w / 2
    )
}

fn csrf(scope: &crate::auth::BaseScope, f: &HashMap<String, String>) -> Result<(), AppError> {
    scope.user.check_csrf(f.get("_csrf").map(String::as_str).unwrap_or(""))
}

/// Back to the inbox with the outcome; someone else's notice is a 404 page.
fn back(code: &str, result: Result<String, AppError>) -> PageResult<Response> {
    if let Err(e @ (AppError::NotFound | AppError::Forbidden)) = result {
        return Err(e.into());
    }
    crate::web::pages::back(code, "notifications", result)
}

/// Marks a notice read, then opens what it is about (or returns to the inbox).
async fn read_one(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    scope.require(&Role::ALL)?;
    let link = super::mark_read(&state, &scope.user.actor(), &scope.base.id, &scope.user.id, &id).await?;
    // Only paths inside this platform: a notice must not become an open redirect.
    match link.filter(|l| l.starts_with('/') && !l.starts_with("//")) {
        Some(l) => Ok(Redirect::to(&l).into_response()),
        None => back(&scope.base.code, Ok("已标为已读".into())),
    }
}

async fn read_all(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    scope.require(&Role::ALL)?;
    let n = super::mark_all_read(&state, &scope.user.actor(), &scope.base.id, &scope.user.id).await;
    back(&scope.base.code, n.map(|n| format!("已将 {n} 条消息标为已读")))
}

async fn email(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    scope.require(&Role::ALL)?;
    let given = f.get("email").cloned().unwrap_or_default();
    let r = super::set_email(&state, &scope.user.actor(), &scope.user.id, &given).await;
    back(
        &scope.base.code,
        r.map(|e| match e {
            Some(e) => format!("消息副本将发送至 {e}"),
            None => "已关闭邮件提醒".into(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::badge_svg;

    #[test]
    fn badge_shows_the_count() {
        assert!(!badge_svg(0).contains("<text"));
        assert!(badge_svg(3).contains(">3</text>"));
        assert!(badge_svg(250).contains(">99+</text>"));
    }
}
