//! Pages for base admins: 券批次报表 (per batch, with Excel export and the
//! expiry action) and 关联交易审查 (flagged orders with their reasons,
//! clearance, and recording related-party facts by 统一社会信用代码).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use sqlx::Row;

use super::batch::{self, Batch};
use super::related::{self, OrderFlag, PartyFactForm};
use super::report::{self, BatchReport, Breakdown};
use super::{expiry, market};
use crate::auth::{PageScope, Role};
use crate::indicator::export::XLSX_MIME;
use crate::indicator::routes::download;
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{back, page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/vouchers/reports", get(reports_page))
        .route("/b/{base}/vouchers/{id}/report", get(report_page))
        .route("/b/{base}/vouchers/{id}/report.xlsx", get(report_xlsx))
        .route("/b/{base}/vouchers/{id}/expire", post(expire_submit))
        .route("/b/{base}/market/related-party", get(related_page))
        .route("/b/{base}/market/related-party/facts", post(fact_submit))
        .route("/b/{base}/market/related-party/{id}/clear", post(clear_submit))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Template)]
#[template(path = "voucher/reports.html")]
struct ReportsPage {
    nav: Nav,
    base_code: String,
    batches: Vec<Batch>,
    today: String,
    flagged: usize,
    notice: Notice,
}

async fn reports_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let flagged = related::list_flags(&state, &scope.base.id)
        .await?
        .iter()
        .filter(|f| f.state == "flagged")
        .count();
    Ok(page(&ReportsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        batches: batch::list(&state, &scope.base.id).await?,
        today: crate::storage::time::today().to_string(),
        flagged,
        notice,
    }))
}

#[derive(Template)]
#[template(path = "voucher/report.html")]
struct ReportPage {
    nav: Nav,
    base_code: String,
    r: BatchReport,
    lines: Vec<(&'static str, report::Figure)>,
    notice: Notice,
}

impl ReportPage {
    fn rows<'a>(&self, b: &'a Breakdown) -> [&'a report::Figure; 5] {
        [
            &b.reserved,
            &b.used,
            &b.redemption_requested,
            &b.redeemed,
            &b.released_at_expiry,
        ]
    }
}

async fn report_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let r = report::build(&state, &scope.base.id, &id).await?;
    let lines = vec![
        ("已申领", r.claimed),
        ("已预留（待交付确认）", r.reserved),
        ("已使用（交付已确认）", r.used),
        ("兑现申请中", r.redemption_requested),
        ("已兑现", r.redeemed),
        ("到期回收预算", r.returned_at_expiry),
        ("到期释放的预留", r.released_at_expiry),
    ];
    Ok(page(&ReportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        r,
        lines,
        notice,
    }))
}

async fn report_xlsx(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<Response> {
    scope.require(&[Role::BaseAdmin])?;
    let r = report::build(&state, &scope.base.id, &id).await?;
    Ok(download(
        XLSX_MIME,
        &format!("voucher-report-{}-{}.xlsx", scope.base.code, r.batch.code),
        report::xlsx(&r)?,
    ))
}

async fn expire_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = expiry::expire_batch(&state, &scope.user.actor(), &scope.base.id, &id)
        .await
        .map(|r| {
            format!(
                "到期回收完成：{} 个钱包退回预算 {} 元；释放 {} 个未交付订单的预留 {} 元",
                r.returned_wallets,
                super::pages::yuan(&r.returned_fen),
                r.released_orders,
                super::pages::yuan(&r.released_fen)
            )
        });
    back(&scope.base.code, &format!("vouchers/{id}/report"), result)
}

#[derive(Template)]
#[template(path = "voucher/related_party.html")]
struct RelatedPage {
    nav: Nav,
    base_code: String,
    flags: Vec<OrderFlag>,
    notice: Notice,
}

impl RelatedPage {
    fn state_label(&self, s: &str) -> &'static str {
        market::state_label(s)
    }
}

async fn related_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(page(&RelatedPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        flags: related::list_flags(&state, &scope.base.id).await?,
        notice,
    }))
}

#[derive(Deserialize)]
struct FactSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// enterprise | provider
    #[serde(default)]
    subject_kind: String,
    /// The subject's 统一社会信用代码
    #[serde(default)]
    uscc: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

async fn fact_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<FactSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let table = match f.subject_kind.as_str() {
        "enterprise" => "enterprises",
        "provider" => "providers",
        _ => return Err(AppError::NotFound.into()),
    };
    let subject: Option<String> = sqlx::query(&format!("SELECT id FROM {table} WHERE base_id = $1 AND uscc = $2"))
        .bind(&scope.base.id)
        .bind(f.uscc.trim().to_ascii_uppercase())
        .fetch_optional(state.db.pool())
        .await
        .map_err(AppError::from)?
        .map(|r| r.get(0));
    let result = match subject {
        None => Err(AppError::field(
            "uscc",
            "party.unknown_subject",
            format!("本基地没有统一社会信用代码为“{}”的记录", f.uscc.trim()),
        )),
        Some(id) => related::record_fact(
            &state,
            &scope.user.actor(),
            &scope.base.id,
            &f.subject_kind,
            &id,
            &PartyFactForm {
                kind: f.kind,
                value: f.value,
            },
        )
        .await
        .map(|p| format!("已登记{}：{}", related::kind_label(&p.kind), p.shown)),
    };
    back(&scope.base.code, "market/related-party", result)
}

#[derive(Deserialize)]
struct ClearSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn clear_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<ClearSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = related::clear(&state, &scope.user.actor(), &scope.base.id, &id, &f.note)
        .await
        .map(|_| "已审核通过，该订单可申请兑现".to_string());
    back(&scope.base.code, "market/related-party", result)
}
