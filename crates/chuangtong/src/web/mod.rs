//! The web layer: application state, the router that mounts every
//! capability's routes, cross-cutting middleware (metrics, security headers,
//! panic catching), errors, shared page templates and the OpenAPI document.

pub mod error;
pub mod forms;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod pages;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Router};

use crate::config::Settings;
use crate::crypto::Keys;
use crate::storage::Db;

/// Everything a handler may need, passed explicitly (no globals).
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub settings: Arc<Settings>,
    /// Per-process cache of the bases' search indexes (rebuilt from the database).
    pub search: Arc<crate::search::Indexes>,
    /// Per-process claim desks of the voucher batches (group commit, sold-out flags).
    pub claim_desks: Arc<crate::voucher::desk::Desks>,
    /// Per-process credential look-ups, coalesced under load.
    pub credentials: Arc<crate::auth::resolver::Resolver>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(crate::auth::routes::router())
        .merge(crate::tenancy::routes::router())
        .merge(crate::registry::routes::router())
        .merge(crate::registry::import_routes::router())
        .merge(crate::audit::routes::router())
        .merge(crate::calendar::routes::router())
        .merge(crate::ledger::routes::router())
        .merge(crate::indicator::routes::router())
        .merge(crate::voucher::routes::router())
        .merge(crate::voucher::oversight::router())
        .merge(crate::financing::routes::router())
        .merge(crate::policy::routes::router())
        .merge(crate::application::routes::router())
        .merge(crate::search::routes::router())
        .merge(crate::notify::routes::router())
        .merge(crate::ticket::routes::router())
        .route("/static/app.css", get(stylesheet))
        .route_layer(middleware::from_fn(metrics::track))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        error::AppError::NotFound.into_response()
    } else {
        error::PageError(error::AppError::NotFound).into_response()
    }
}

/// A panic becomes a logged 500 with an id, never a dropped connection.
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    error::AppError::Internal(anyhow::anyhow!("panic: {detail}")).into_response()
}

async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}
