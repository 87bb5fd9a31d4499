//! Routes of the enterprise import (base admins): the template, the upload
//! (API and page), the progress of one import and the history.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::access;
use super::import::{self, ImportJob, COLUMNS, RULES};
use crate::auth::{BaseScope, PageScope};
use crate::indicator::routes::download;
use crate::web::error::{ApiResult, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/registry/imports",
            get(list_imports)
                .post(upload)
                .layer(DefaultBodyLimit::max(import::MAX_BYTES)),
        )
        .route("/api/v1/bases/{base}/registry/imports/{id}", get(get_import))
        .route("/api/v1/bases/{base}/registry/import-template", get(template))
        .route(
            "/b/{base}/registry/import",
            get(import_page)
                .post(submit_page)
                .layer(DefaultBodyLimit::max(import::MAX_BYTES + 64 * 1024)),
        )
        .route("/b/{base}/registry/imports/{id}", get(job_page))
}

/// Import history of enterprise files (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/registry/imports", params(("base" = String, Path)),
    responses((status = 200, body = [ImportJob]), (status = 403)))]
pub async fn list_imports(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<ImportJob>>> {
    access::manage(&scope)?;
    Ok(Json(import::history(&state, &scope.base.id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// Original file name, for the history
    pub filename: Option<String>,
}

/// Starts an import of enterprises from a CSV (UTF-8) or .xlsx file sent as the body (base admin).
/// 202 with the import; poll `GET …/registry/imports/{id}` until its status is imported, rejected or failed.
/// Nothing is written unless every row is valid.
#[utoipa::path(post, path = "/api/v1/bases/{base}/registry/imports", params(("base" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = ImportJob), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportJob>)> {
    access::manage(&scope)?;
    let job = import::start(
        &state,
        &scope.user.actor(),
        &scope.base.id,
        &q.filename.unwrap_or_default(),
        body.to_vec(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// One import with its progress and errors (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/registry/imports/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ImportJob), (status = 403), (status = 404)))]
pub async fn get_import(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<ImportJob>> {
    access::manage(&scope)?;
    Ok(Json(import::get(&state, &scope.base.id, &id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TemplateQuery {
    /// xlsx (default) | csv
    pub format: Option<String>,
}

/// The enterprise import template (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/registry/import-template", params(("base" = String, Path), TemplateQuery),
    responses((status = 200, description = "XLSX or CSV file"), (status = 403)))]
pub async fn template(scope: BaseScope, Query(q): Query<TemplateQuery>) -> ApiResult<Response> {
    access::manage(&scope)?;
    Ok(if q.format.as_deref() == Some("csv") {
        download(
            "text/csv; charset=utf-8",
            "enterprise-import-template.csv",
            import::template_csv(),
        )
    } else {
        download(
            crate::indicator::export::XLSX_MIME,
            "enterprise-import-template.xlsx",
            import::template_xlsx()?,
        )
    })
}

#[derive(Template)]
#[template(path = "registry/import.html")]
struct ImportPage {
    nav: Nav,
    base_code: String,
    columns: Vec<(&'static str, &'static str)>,
    history: Vec<ImportJob>,
    error: Option<String>,
}

async fn import_view(
    state: &AppState,
    scope: &BaseScope,
    error: Option<String>,
) -> Result<ImportPage, crate::web::error::AppError> {
    Ok(ImportPage {
        nav: Nav::for_scope(scope),
        base_code: scope.base.code.clone(),
        columns: COLUMNS.into_iter().zip(RULES).collect(),
        history: import::history(state, &scope.base.id).await?,
        error,
    })
}

async fn import_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    access::manage(&scope)?;
    Ok(page(&import_view(&state, &scope, None).await?))
}

async fn submit_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    multipart: Multipart,
) -> PageResult<Response> {
    access::manage(&scope)?;
    let upload = crate::indicator::pages::read_upload(multipart).await;
    let (csrf, name, bytes) = match upload {
        Ok(u) => u,
        Err(crate::web::error::AppError::Validation(fields)) => {
            let message = fields.first().map(|f| f.message.clone());
            let p = import_view(&state, &scope, message).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&p)).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    scope.user.check_csrf(&csrf)?;
    let job = import::start(&state, &scope.user.actor(), &scope.base.id, &name, bytes).await?;
    Ok(Redirect::to(&format!("/b/{}/registry/imports/{}", scope.base.code, job.id)).into_response())
}

#[derive(Template)]
#[template(path = "registry/import_job.html")]
struct JobPage {
    nav: Nav,
    base_code: String,
    job: ImportJob,
}

async fn job_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<impl IntoResponse> {
    access::manage(&scope)?;
    let job = import::get(&state, &scope.base.id, &id).await?;
    Ok(page(&JobPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        job,
    }))
}
