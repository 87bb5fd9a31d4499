//! `/api/v1/bases/{base}/indicators/…` and `/api/v1/indicators/…`. Every
//! tenant handler takes a `BaseScope` and checks [`access`] first.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::catalogue::{self, Definition, DefinitionForm};
use super::dashboard::{self, Dashboard};
use super::import::{self, ImportRecord};
use super::index::{self, IndexPoint};
use super::period::Period;
use super::report::{self, MonthlyReport};
use super::seed::{self, SeedFigure};
use super::snapshot::{self, Snapshot, SnapshotForm};
use super::targets::{self, Target, TargetForm};
use super::values::{self, StoredValue, ValueForm};
use super::{access, export, lists};
use crate::auth::{BaseScope, CurrentUser};
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bases/{base}/indicators", get(get_dashboard))
        .route(
            "/api/v1/bases/{base}/indicators/definitions",
            get(list_definitions).post(define_indicator),
        )
        .route(
            "/api/v1/bases/{base}/indicators/values",
            get(list_values).post(enter_value),
        )
        .route(
            "/api/v1/bases/{base}/indicators/targets",
            get(list_targets).post(set_target),
        )
        .route(
            "/api/v1/bases/{base}/indicators/snapshots",
            axum::routing::post(close_period),
        )
        .route("/api/v1/bases/{base}/indicators/index", get(index_history))
        .route(
            "/api/v1/bases/{base}/indicators/imports",
            get(list_imports)
                .post(import_values)
                .layer(DefaultBodyLimit::max(import::MAX_BYTES)),
        )
        .route("/api/v1/bases/{base}/indicators/import-template", get(import_template))
        .route("/api/v1/bases/{base}/indicators/export", get(export_dashboard))
        .route("/api/v1/bases/{base}/indicators/report", get(monthly_report))
        .route("/api/v1/bases/{base}/exports/enterprises", get(export_enterprises))
        .route("/api/v1/bases/{base}/exports/persons", get(export_persons))
        .route("/api/v1/bases/{base}/exports/carriers", get(export_carriers))
        .route("/api/v1/bases/{base}/exports/providers", get(export_providers))
        .route(
            "/api/v1/bases/{base}/exports/voucher-batches",
            get(export_voucher_batches),
        )
        .route(
            "/api/v1/bases/{base}/exports/voucher-claims",
            get(export_voucher_claims),
        )
        .route("/api/v1/bases/{base}/exports/applications", get(export_applications))
        .route("/api/v1/indicators/compare", get(compare))
        .merge(super::pages::router())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// Month, e.g. 2026-05 (default: the current month in Beijing time)
    pub period: Option<String>,
}

/// The month asked for, or this month; a malformed one is a field error.
pub fn month_of(q: &PeriodQuery) -> Result<Period, AppError> {
    match q.period.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Period::current_month()),
        Some(s) => match Period::parse(s) {
            Ok(p) => Ok(p.enclosing(super::period::PeriodKind::Month)),
            Err(e) => Err(AppError::Validation(vec![crate::web::error::FieldError::from_coded(
                "period", &e,
            )])),
        },
    }
}

/// Dashboard of a month: every indicator's actual, target and completion (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators", params(("base" = String, Path), PeriodQuery),
    responses((status = 200, body = Dashboard), (status = 403), (status = 422)))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Dashboard>> {
    access::view(&scope)?;
    let month = month_of(&q)?;
    Ok(Json(
        dashboard::build(&state, &scope.base.id, &scope.base.code, month).await?,
    ))
}

/// The current version of every indicator (members). The standard set is loaded on first use.
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/definitions", params(("base" = String, Path)),
    responses((status = 200, body = [Definition]), (status = 403)))]
pub async fn list_definitions(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Definition>>> {
    access::view(&scope)?;
    Ok(Json(catalogue::current(&state, &scope.base.id).await?))
}

/// Defines an indicator, or a new version of an existing key (base admin).
#[utoipa::path(post, path = "/api/v1/bases/{base}/indicators/definitions", params(("base" = String, Path)), request_body = DefinitionForm,
    responses((status = 201, body = Definition), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn define_indicator(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<DefinitionForm>,
) -> ApiResult<(StatusCode, Json<Definition>)> {
    access::manage(&scope)?;
    let d = catalogue::define(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ValuesQuery {
    pub key: Option<String>,
    pub period: Option<String>,
}

/// Recorded values (manual, imported, computed at a period's close) (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/values", params(("base" = String, Path), ValuesQuery),
    responses((status = 200, body = [StoredValue]), (status = 403)))]
pub async fn list_values(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ValuesQuery>,
) -> ApiResult<Json<Vec<StoredValue>>> {
    access::view(&scope)?;
    Ok(Json(
        values::list(&state, &scope.base.id, q.key.as_deref(), q.period.as_deref()).await?,
    ))
}

/// Enters (or replaces) the value of a manual indicator for a period (base admin).
#[utoipa::path(post, path = "/api/v1/bases/{base}/indicators/values", params(("base" = String, Path)), request_body = ValueForm,
    responses((status = 201, body = StoredValue), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn enter_value(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<ValueForm>,
) -> ApiResult<(StatusCode, Json<StoredValue>)> {
    access::manage(&scope)?;
    let v = values::enter(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Targets of the base (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/targets", params(("base" = String, Path)),
    responses((status = 200, body = [Target]), (status = 403)))]
pub async fn list_targets(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Target>>> {
    access::view(&scope)?;
    Ok(Json(targets::for_periods(&state, &scope.base.id, &[]).await?))
}

/// Sets the target of an indicator for a period, with responsible unit, person and deadline (base admin).
#[utoipa::path(post, path = "/api/v1/bases/{base}/indicators/targets", params(("base" = String, Path)), request_body = TargetForm,
    responses((status = 204), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn set_target(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<TargetForm>,
) -> ApiResult<StatusCode> {
    access::manage(&scope)?;
    targets::set(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes a month: records computed values with their definition version and the month's 双创指数 (base admin).
#[utoipa::path(post, path = "/api/v1/bases/{base}/indicators/snapshots", params(("base" = String, Path)), request_body = SnapshotForm,
    responses((status = 201, body = Snapshot), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn close_period(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<SnapshotForm>,
) -> ApiResult<(StatusCode, Json<Snapshot>)> {
    access::manage(&scope)?;
    let s = snapshot::close(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// History of the base's 双创指数, with the components each score came from (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/index", params(("base" = String, Path)),
    responses((status = 200, body = [IndexPoint]), (status = 403)))]
pub async fn index_history(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<IndexPoint>>> {
    access::view(&scope)?;
    Ok(Json(index::history(&state, &scope.base.id).await?))
}

/// Import history (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/imports", params(("base" = String, Path)),
    responses((status = 200, body = [ImportRecord]), (status = 403)))]
pub async fn list_imports(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<ImportRecord>>> {
    access::manage(&scope)?;
    Ok(Json(import::history(&state, &scope.base.id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Original file name, for the history
    pub filename: Option<String>,
}

/// Imports manual values from a CSV (UTF-8) or .xlsx file sent as the request body (base admin).
/// All rows valid → 201 and every value stored; otherwise 422 listing every row error, nothing stored.
#[utoipa::path(post, path = "/api/v1/bases/{base}/indicators/imports", params(("base" = String, Path), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = ImportRecord), (status = 403), (status = 422, body = ImportRecord)))]
pub async fn import_values(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportRecord>)> {
    access::manage(&scope)?;
    let filename = q.filename.unwrap_or_default();
    let record = import::run(&state, &scope.user.actor(), &scope.base.id, &filename, &body).await?;
    let status = if record.status == "imported" {
        StatusCode::CREATED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(record)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TemplateQuery {
    /// csv (default) | xlsx
    pub format: Option<String>,
}

/// The import template: one row per manual indicator for this month's periods (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/import-template", params(("base" = String, Path), TemplateQuery),
    responses((status = 200, description = "CSV or XLSX file"), (status = 403)))]
pub async fn import_template(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<TemplateQuery>,
) -> ApiResult<Response> {
    access::manage(&scope)?;
    let defs = catalogue::current(&state, &scope.base.id).await?;
    let rows = import::template_rows(&defs, Period::current_month());
    if q.format.as_deref() == Some("xlsx") {
        Ok(download(
            export::XLSX_MIME,
            "indicator-template.xlsx",
            export::template_xlsx(&rows)?,
        ))
    } else {
        Ok(download(
            "text/csv; charset=utf-8",
            "indicator-template.csv",
            import::template_csv(&rows).into_bytes(),
        ))
    }
}

/// The dashboard's table as Excel (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/export", params(("base" = String, Path), PeriodQuery),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_dashboard(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    access::view(&scope)?;
    let month = month_of(&q)?;
    let d = dashboard::build(&state, &scope.base.id, &scope.base.code, month).await?;
    let name = format!("indicators-{}-{}.xlsx", scope.base.code, month);
    Ok(download(export::XLSX_MIME, &name, export::dashboard(&d)?))
}

/// The enterprise list as Excel, under the registry's read rules; contact phones are not exported.
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/enterprises", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_enterprises(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    let view = crate::registry::access::enterprises(&scope)?;
    let bytes = export::enterprises(&state, &scope.base.id, &view).await?;
    Ok(download(
        export::XLSX_MIME,
        &format!("enterprises-{}.xlsx", scope.base.code),
        bytes,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// Month, e.g. 2026-05 (default: the current month in Beijing time)
    pub period: Option<String>,
    /// json (default) | xlsx
    pub format: Option<String>,
}

/// 双创工作月报 of a month: indicators with targets and completion, items behind schedule, notable events
/// (base admin). `format=xlsx` downloads it as a workbook.
#[utoipa::path(get, path = "/api/v1/bases/{base}/indicators/report", params(("base" = String, Path), ReportQuery),
    responses((status = 200, body = MonthlyReport), (status = 403), (status = 422)))]
pub async fn monthly_report(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    access::manage(&scope)?;
    let month = month_of(&PeriodQuery { period: q.period })?;
    let r = report::build(&state, &scope.base.id, &scope.base.code, &scope.base.name, month).await?;
    if q.format.as_deref() == Some("xlsx") {
        let name = r.file_name("xlsx");
        return Ok(download(export::XLSX_MIME, &name, report::xlsx(&r)?));
    }
    Ok(Json(r).into_response())
}

async fn export_list(state: &AppState, scope: &BaseScope, list: lists::List) -> ApiResult<Response> {
    let bytes = lists::export(state, scope, list).await?;
    Ok(download(
        export::XLSX_MIME,
        &format!("{}-{}.xlsx", list.stem(), scope.base.code),
        bytes,
    ))
}

/// People and talents as Excel, ID numbers and phones masked (base admin, steward).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/persons", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_persons(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::Persons).await
}

/// Carriers as Excel (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/carriers", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_carriers(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::Carriers).await
}

/// Service providers as Excel (members).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/providers", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_providers(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::Providers).await
}

/// Voucher batches with their uptake as Excel (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/voucher-batches", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_voucher_batches(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::VoucherBatches).await
}

/// Voucher claims as Excel (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/voucher-claims", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_voucher_claims(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::VoucherClaims).await
}

/// Applications of every programme as Excel (base admin).
#[utoipa::path(get, path = "/api/v1/bases/{base}/exports/applications", params(("base" = String, Path)),
    responses((status = 200, description = "XLSX file"), (status = 403)))]
pub async fn export_applications(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Response> {
    export_list(&state, &scope, lists::List::Applications).await
}

pub fn download(mime: &str, filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CompareQuery {
    /// Indicator key, e.g. incubator_area
    pub key: Option<String>,
}

/// The seed's figures for one key across the 28 bases, largest first in a common unit, each with its source line.
/// Open to every signed-in user: they are published reports.
#[utoipa::path(get, path = "/api/v1/indicators/compare", params(CompareQuery),
    responses((status = 200, body = [SeedFigure]), (status = 401)))]
pub async fn compare(
    State(state): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<CompareQuery>,
) -> ApiResult<Json<Vec<SeedFigure>>> {
    let key = q.key.unwrap_or_else(|| "new_enterprises".into());
    Ok(Json(seed::across_bases(&state.db, key.trim()).await?))
}
