//! `GET /api/v1/bases/{base}/search` and the page `/b/{base}/search`. Every
//! member of a base may search it; the index holds only what every member
//! may read (published policies, active services).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::{Results, SearchParams};
use crate::auth::{BaseScope, PageScope};
use crate::web::error::{ApiResult, AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bases/{base}/search", get(api_search))
        .route("/b/{base}/search", get(search_page))
}

/// Chinese full-text search over the base's published policies and services
/// (jieba word segmentation: 房租补贴 finds 园区企业房租补贴). An empty query is
/// the field error `search.empty_query`.
#[utoipa::path(get, path = "/api/v1/bases/{base}/search", params(("base" = String, Path), SearchParams),
    responses((status = 200, body = Results), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_search(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Results>> {
    Ok(Json(super::search(&state, &scope.base.id, &p).await?))
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct SearchPage {
    nav: Nav,
    base_code: String,
    q: String,
    kind: String,
    /// A field error's message (shown above the box)
    error: Option<String>,
    results: Option<Results>,
}

async fn search_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(p): Query<SearchParams>,
) -> PageResult<impl IntoResponse> {
    let q = p.q.clone().unwrap_or_default();
    let (results, error) = if q.trim().is_empty() {
        (None, None) // the bare page: just the box
    } else {
        match super::search(&state, &scope.base.id, &p).await {
            Ok(r) => (Some(r), None),
            Err(AppError::Validation(f)) => (None, f.first().map(|f| f.message.clone())),
            Err(e) => return Err(e.into()),
        }
    };
    Ok(page(&SearchPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        q,
        kind: p.kind.unwrap_or_default(),
        error,
        results,
    }))
}
