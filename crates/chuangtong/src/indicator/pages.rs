//! Indicator pages: the dashboard `/b/{base}/indicators`, drill-downs to the
//! records behind each figure, management (catalogue, values, targets,
//! closing a month), import, the comparison across bases, the seed's source
//! lines and the 双创指数 method page.

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::access;
use super::catalogue::{self, Definition, DefinitionForm};
use super::chart::{self, Datum};
use super::compute::{self, Formula};
use super::dashboard::{self, Card};
use super::drill::{self, Table};
use super::import::{self, ImportRecord};
use super::index::{self, IndexPoint, COMPONENTS, METHOD_VERSION};
use super::period::Period;
use super::report::{self, MonthlyReport};
use super::routes::{month_of, CompareQuery, PeriodQuery};
use super::seed::{self, SeedFigure};
use super::snapshot::{self, SnapshotForm};
use super::targets::{self, TargetForm};
use super::values::{self, ValueForm};
use crate::auth::{BaseScope, PageScope, PageUser};
use crate::tenancy::OrgUnit;
use crate::web::error::{AppError, FieldErrors, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/indicators", get(dashboard_page))
        .route("/b/{base}/indicators/drill/{key}", get(drill_page))
        .route("/b/{base}/indicators/manage", get(manage_page))
        .route("/b/{base}/indicators/manage/values", post(submit_value))
        .route("/b/{base}/indicators/manage/targets", post(submit_target))
        .route("/b/{base}/indicators/manage/definitions", post(submit_definition))
        .route("/b/{base}/indicators/manage/snapshots", post(submit_snapshot))
        .route(
            "/b/{base}/indicators/import",
            get(import_page)
                .post(submit_import)
                .layer(DefaultBodyLimit::max(import::MAX_BYTES + 64 * 1024)),
        )
        .route("/b/{base}/indicators/report", get(report_page))
        .route("/indicators/compare", get(compare_page))
        .route("/indicators/seed/{line}", get(seed_line_page))
        .route("/indicators/index-method", get(method_page))
        .route("/static/indicator.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/indicator.css"),
    )
}

/// A card with its gauge.
struct CardView {
    card: Card,
    gauge: Option<String>,
}

#[derive(Template)]
#[template(path = "indicator/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    base_code: String,
    base_name: String,
    month: String,
    month_label: String,
    previous: String,
    cards: Vec<CardView>,
    series_svg: String,
    seed_svg: String,
    seed_figures: Vec<SeedFigure>,
    latest_index: Option<IndexPoint>,
    can_manage: bool,
    can_export_enterprises: bool,
}

async fn dashboard_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<PeriodQuery>,
) -> PageResult<impl IntoResponse> {
    access::view(&scope)?;
    let month = month_of(&q)?;
    let d = dashboard::build(&state, &scope.base.id, &scope.base.code, month).await?;
    let cards = d.cards.into_iter().map(with_gauge).collect();
    let series = compute::new_enterprises_by_month(&state.db, &scope.base.id, month, 12).await?;
    let seed_figures = seed::of_base(&state.db, &scope.base.id).await?;
    Ok(page(&DashboardPage {
        nav: Nav::for_scope(&scope),
        series_svg: series_chart(&scope.base.code, &series),
        seed_svg: seed_chart(&state, &seed_figures).await?,
        seed_figures,
        latest_index: index::history(&state, &scope.base.id).await?.pop(),
        base_code: scope.base.code.clone(),
        base_name: scope.base.name.clone(),
        month: month.to_string(),
        month_label: month.label(),
        previous: month.previous_month().to_string(),
        cards,
        can_manage: access::manage(&scope).is_ok(),
        can_export_enterprises: crate::registry::access::enterprises(&scope).is_ok(),
    }))
}

fn with_gauge(card: Card) -> CardView {
    let gauge = card
        .completion_bp
        .map(|bp| chart::gauge(&format!("{}完成率", card.name), bp, card.behind_schedule));
    CardView { card, gauge }
}

fn series_chart(base_code: &str, series: &[(Period, i64)]) -> String {
    let data: Vec<Datum> = series
        .iter()
        .map(|(p, n)| Datum {
            label: format!("{}月", p.index),
            value: *n as i128,
            shown: n.to_string(),
            href: format!("/b/{base_code}/indicators/drill/new_enterprises?period={p}"),
        })
        .collect();
    chart::time_series("每月新登记企业（家）", &data)
}

/// Each of the base's comparable seed figures as a share of the largest
/// figure any base reported for the same key: one scale for different units.
async fn seed_chart(state: &AppState, figures: &[SeedFigure]) -> Result<String, AppError> {
    let mut data = Vec::new();
    for f in figures {
        let Some(v) = f.common_value else { continue };
        let peers = seed::across_bases(&state.db, &f.key).await?;
        if peers.len() < 2 {
            continue;
        }
        let max = peers.iter().filter_map(|p| p.common_value).max().unwrap_or(0).max(1);
        data.push(Datum {
            label: f.name.clone(),
            value: v as i128 * 10_000 / max as i128,
            shown: format!("{}{}", f.value, f.unit),
            href: format!("/indicators/compare?key={}", f.key),
        });
    }
    Ok(chart::horizontal_bars(
        "本基地上报数据（相对28个基地中的最大值）",
        &data,
    ))
}

#[derive(Template)]
#[template(path = "indicator/drill.html")]
struct DrillPage {
    nav: Nav,
    base_code: String,
    definition: Definition,
    formula_text: String,
    period: String,
    table: Table,
}

async fn drill_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, key)): Path<(String, String)>,
    Query(q): Query<PeriodQuery>,
) -> PageResult<impl IntoResponse> {
    access::view(&scope)?;
    let definition = catalogue::current_by_key(&state, &scope.base.id, &key)
        .await?
        .ok_or(AppError::NotFound)?;
    let month = month_of(&q)?;
    let period = month.enclosing(definition.period_kind());
    let table = drill::records(&state, &scope, &definition, period).await?;
    Ok(page(&DrillPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        formula_text: definition
            .formula()
            .map(Formula::describe)
            .unwrap_or("由基地填报或导入")
            .to_string(),
        definition,
        period: period.label(),
        table,
    }))
}

#[derive(Template)]
#[template(path = "indicator/manage.html")]
struct ManagePage {
    nav: Nav,
    base_code: String,
    month: String,
    definitions: Vec<Definition>,
    org_units: Vec<OrgUnit>,
    formulas: Vec<(&'static str, &'static str)>,
    errors: FieldErrors,
    notice: Option<String>,
    value: ValueForm,
    target: TargetForm,
    definition: DefinitionForm,
}

impl ManagePage {
    fn manual(&self) -> Vec<&Definition> {
        self.definitions.iter().filter(|d| d.is_manual()).collect()
    }
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    done: Option<String>,
}

async fn manage_view(
    state: &AppState,
    scope: &BaseScope,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<ManagePage, AppError> {
    Ok(ManagePage {
        nav: Nav::for_scope(scope),
        base_code: scope.base.code.clone(),
        month: Period::current_month().to_string(),
        definitions: catalogue::current(state, &scope.base.id).await?,
        org_units: crate::tenancy::org_units(&state.db, &scope.base.id).await?,
        formulas: compute::ALL.iter().map(|f| (f.as_str(), f.describe())).collect(),
        errors,
        notice,
        value: ValueForm::default(),
        target: TargetForm::default(),
        definition: DefinitionForm::default(),
    })
}

async fn manage_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<NoticeQuery>,
) -> PageResult<impl IntoResponse> {
    access::manage(&scope)?;
    let notice = q.done.map(|d| match d.as_str() {
        "value" => "已保存指标值。",
        "target" => "已下达目标。",
        "definition" => "已保存指标定义（新版本）。",
        "snapshot" => "已结转本月：计算指标已记录，双创指数已更新。",
        _ => "已保存。",
    });
    Ok(page(
        &manage_view(&state, &scope, FieldErrors::default(), notice.map(String::from)).await?,
    ))
}

#[derive(Deserialize)]
struct Csrf<T> {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// Runs a management use case from a form: redirect on success, the page with every field error otherwise.
async fn after_submit(
    state: &AppState,
    scope: &BaseScope,
    result: Result<(), AppError>,
    done: &str,
    fill: impl FnOnce(&mut ManagePage),
) -> PageResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/b/{}/indicators/manage?done={done}", scope.base.code)).into_response()),
        Err(AppError::Validation(fields)) => {
            let mut p = manage_view(state, scope, FieldErrors(fields), None).await?;
            fill(&mut p);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&p)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn submit_value(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(body): Form<Csrf<ValueForm>>,
) -> PageResult<Response> {
    scope.user.check_csrf(&body.csrf)?;
    access::manage(&scope)?;
    let result = values::enter(&state, &scope.user.actor(), &scope.base.id, &body.form)
        .await
        .map(|_| ());
    after_submit(&state, &scope, result, "value", |p| p.value = body.form).await
}

async fn submit_target(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(body): Form<Csrf<TargetForm>>,
) -> PageResult<Response> {
    scope.user.check_csrf(&body.csrf)?;
    access::manage(&scope)?;
    let result = targets::set(&state, &scope.user.actor(), &scope.base.id, &body.form).await;
    after_submit(&state, &scope, result, "target", |p| p.target = body.form).await
}

async fn submit_definition(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(body): Form<Csrf<DefinitionForm>>,
) -> PageResult<Response> {
    scope.user.check_csrf(&body.csrf)?;
    access::manage(&scope)?;
    let result = catalogue::define(&state, &scope.user.actor(), &scope.base.id, &body.form)
        .await
        .map(|_| ());
    after_submit(&state, &scope, result, "definition", |p| p.definition = body.form).await
}

async fn submit_snapshot(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(body): Form<Csrf<SnapshotForm>>,
) -> PageResult<Response> {
    scope.user.check_csrf(&body.csrf)?;
    access::manage(&scope)?;
    let result = snapshot::close(&state, &scope.user.actor(), &scope.base.id, &body.form)
        .await
        .map(|_| ());
    after_submit(&state, &scope, result, "snapshot", |_| {}).await
}

#[derive(Template)]
#[template(path = "indicator/import.html")]
struct ImportPage {
    nav: Nav,
    base_code: String,
    result: Option<ImportRecord>,
    history: Vec<ImportRecord>,
}

async fn import_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    access::manage(&scope)?;
    Ok(page(&ImportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        result: None,
        history: import::history(&state, &scope.base.id).await?,
    }))
}

/// The uploaded form: its CSRF token, the file name and bytes.
pub async fn read_upload(mut multipart: Multipart) -> Result<(String, String, Vec<u8>), AppError> {
    let (mut csrf, mut name, mut bytes) = (String::new(), String::new(), Vec::new());
    let bad = |_| AppError::field("file", "import.upload", "上传失败，请重新选择文件");
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("_csrf") => csrf = field.text().await.map_err(bad)?,
            Some("file") => {
                name = field.file_name().unwrap_or_default().to_string();
                bytes = field.bytes().await.map_err(bad)?.to_vec();
            }
            _ => {}
        }
    }
    if bytes.is_empty() {
        return Err(AppError::field(
            "file",
            "import.no_file",
            "请选择要导入的CSV或Excel文件",
        ));
    }
    Ok((csrf, name, bytes))
}

async fn submit_import(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    multipart: Multipart,
) -> PageResult<Response> {
    access::manage(&scope)?;
    let (csrf, name, bytes) = read_upload(multipart).await?;
    scope.user.check_csrf(&csrf)?;
    let record = import::run(&state, &scope.user.actor(), &scope.base.id, &name, &bytes).await?;
    let status = if record.status == "imported" {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let p = ImportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        result: Some(record),
        history: import::history(&state, &scope.base.id).await?,
    };
    Ok((status, page(&p)).into_response())
}

#[derive(Template)]
#[template(path = "indicator/report.html")]
struct ReportPage {
    nav: Nav,
    base_code: String,
    previous: String,
    r: MonthlyReport,
}

/// 双创工作月报, printable (base admins).
async fn report_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<PeriodQuery>,
) -> PageResult<impl IntoResponse> {
    access::manage(&scope)?;
    let month = month_of(&q)?;
    let r = report::build(&state, &scope.base.id, &scope.base.code, &scope.base.name, month).await?;
    Ok(page(&ReportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        previous: month.previous_month().to_string(),
        r,
    }))
}

#[derive(Template)]
#[template(path = "indicator/compare.html")]
struct ComparePage {
    nav: Nav,
    key: String,
    keys: Vec<(String, String, i64)>,
    figures: Vec<SeedFigure>,
    chart_svg: String,
}

async fn compare_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<CompareQuery>,
) -> PageResult<impl IntoResponse> {
    let key = q.key.unwrap_or_else(|| "new_enterprises".into()).trim().to_string();
    let figures = seed::across_bases(&state.db, &key).await?;
    let data: Vec<Datum> = figures
        .iter()
        .filter_map(|f| {
            Some(Datum {
                label: f.base_name.clone(),
                value: f.common_value? as i128,
                shown: format!("{}{}", f.value, f.unit),
                href: format!("/indicators/seed/{}", f.source_line?),
            })
        })
        .collect();
    Ok(page(&ComparePage {
        nav: Nav::for_user(&user),
        chart_svg: chart::horizontal_bars(&format!("各基地上报的“{key}”"), &data),
        keys: seed::comparable_keys(&state.db).await?,
        key,
        figures,
    }))
}

#[derive(Template)]
#[template(path = "indicator/seed_line.html")]
struct SeedLinePage {
    nav: Nav,
    line: usize,
    lines: Vec<(usize, &'static str)>,
    figures: Vec<SeedFigure>,
}

async fn seed_line_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(line): Path<usize>,
) -> PageResult<impl IntoResponse> {
    if line == 0 || line > seed::seed_line_count() {
        return Err(AppError::NotFound.into());
    }
    let figures = seed::at_line(&state.db, line as i64).await?;
    Ok(page(&SeedLinePage {
        nav: Nav::for_user(&user),
        line,
        lines: seed::excerpt(line),
        figures,
    }))
}

#[derive(Template)]
#[template(path = "indicator/method.html")]
struct MethodPage {
    nav: Nav,
    version: i64,
    components: Vec<(&'static str, i64, &'static str, &'static str)>,
}

async fn method_page() -> impl IntoResponse {
    page(&MethodPage {
        nav: Nav::anonymous(),
        version: METHOD_VERSION,
        components: COMPONENTS.to_vec(),
    })
}
