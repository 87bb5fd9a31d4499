//! Pages: 申报批次 (programmes; an enterprise sees the open ones it may
//! qualify for and its own applications), one application with its clock
//! and history, the 预审 queue, the 公示 list and the programme report.
//! Action buttons post to one handler that calls the same services as the
//! API and redirects back with a notice or the error in Chinese.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;

use super::case::{self, Case, OpenProgramme, Party};
use super::panel;
use super::programme::Criterion;
use super::programme::{self, Programme};
use super::publicity::{self, Notice};
use super::report::{self, Report};
use super::routes::{self, CaseDetail};
use super::state::{Event, State as CaseState};
use crate::auth::{PageScope, Role};
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/programmes", get(programmes_page))
        .route("/b/{base}/programmes/{id}/report", get(report_page))
        .route("/b/{base}/applications/{id}", get(case_page))
        .route("/b/{base}/applications/{id}/{action}", post(case_action))
        .route("/b/{base}/programmes/{id}/apply", post(apply))
        .route("/b/{base}/review-queue", get(queue_page))
}

pub fn yuan(fen: &i64) -> String {
    crate::voucher::pages::yuan(fen)
}

/// Basis points as a percentage with two decimals.
pub fn percent(bp: &Option<i64>) -> String {
    match bp {
        Some(b) => format!("{}.{:02}%", b / 100, b % 100),
        None => "—".into(),
    }
}

#[derive(Deserialize, Default)]
struct Notice2 {
    ok: Option<String>,
    err: Option<String>,
}

#[derive(Template)]
#[template(path = "application/programmes.html")]
struct ProgrammesPage {
    nav: Nav,
    base_code: String,
    programmes: Vec<Programme>,
    open: Vec<OpenProgramme>,
    mine: Vec<Case>,
    notices: Vec<Notice>,
    reviewer: bool,
    notice: Notice2,
}

async fn programmes_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<Notice2>,
) -> PageResult<impl IntoResponse> {
    scope.require(&Role::ALL)?;
    let party = routes::party(&scope).ok();
    let (open, mine) = match &party {
        Some(Party::Enterprise(e)) => (
            case::open_for(&state, &scope.base.id, e).await?,
            case::list(&state, &scope.base.id, party.as_ref().unwrap(), &Default::default()).await?,
        ),
        Some(Party::Expert(_)) => (
            Vec::new(),
            case::list(&state, &scope.base.id, party.as_ref().unwrap(), &Default::default()).await?,
        ),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(page(&ProgrammesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        programmes: programme::list(&state, &scope.base.id).await?,
        open,
        mine,
        notices: publicity::notices(&state, &scope.base.id).await?,
        reviewer: matches!(party, Some(Party::Reviewer)),
        notice,
    }))
}

#[derive(Template)]
#[template(path = "application/case.html")]
struct CasePage {
    nav: Nav,
    base_code: String,
    d: CaseDetail,
    reviewer: bool,
    applicant: bool,
    admin: bool,
    /// A drawn expert who has not scored yet gets the rubric form
    rubric: Vec<Criterion>,
    notice: Notice2,
}

impl CasePage {
    fn is(&self, s: &str) -> bool {
        self.d.case.state.as_str() == s
    }
}

async fn case_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(notice): Query<Notice2>,
) -> PageResult<impl IntoResponse> {
    let party = routes::party(&scope)?;
    let d = routes::detail(&state, &scope.base.id, &party, &id).await?;
    let rubric = match &party {
        Party::Expert(x) if d.case.state == CaseState::UnderExpertReview && !panel::scored(&state, &id, x).await? => {
            programme::get(&state, &scope.base.id, &d.case.programme_id)
                .await?
                .rubric
        }
        _ => Vec::new(),
    };
    Ok(page(&CasePage {
        rubric,
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        reviewer: matches!(party, Party::Reviewer),
        applicant: matches!(party, Party::Enterprise(_)),
        admin: scope.is_admin(),
        d,
        notice,
    }))
}

/// Every action button of the pages posts here; fields are read by name
/// because the score and apply forms carry the programme's own fields.
async fn case_action(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    scope.user.check_csrf(&field("_csrf"))?;
    let actor = scope.user.actor();
    let base = scope.base.id.clone();
    let mut back = format!("/b/{}/applications/{id}", scope.base.code);
    let result: Result<String, AppError> = async {
        let case = match action.as_str() {
            "submit" | "withdraw" => {
                scope.require(&[Role::Enterprise])?;
                let p = routes::party(&scope)?;
                if action == "submit" {
                    case::submit(&state, &actor, &base, &p, &id).await
                } else {
                    case::withdraw(&state, &actor, &base, &p, &id).await
                }
            }
            "accept" | "return" | "reject" => {
                scope.require(&[Role::BaseAdmin, Role::Steward])?;
                let event = match action.as_str() {
                    "accept" => Event::Accept,
                    "return" => Event::ReturnForAmendment,
                    _ => Event::Reject,
                };
                case::pre_review(&state, &actor, &base, &id, event, &field("reason")).await
            }
            "draw" => {
                scope.require(&[Role::BaseAdmin])?;
                let d = panel::draw_panel(&state, &actor, &base, &id).await?;
                return Ok(format!("已抽取评审专家 {} 名（随机种子 {}）", d.drawn.len(), d.seed));
            }
            "score" => {
                scope.require(&[Role::Expert])?;
                let expert = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
                let scores = f
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.strip_prefix("s.")?;
                        let value = v
                            .trim()
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::from(v.clone()));
                        Some((key.to_string(), value))
                    })
                    .collect();
                let form = panel::ScoreForm {
                    scores,
                    comment: field("comment"),
                };
                panel::score(&state, &actor, &base, &expert, &id, &form).await
            }
            "objection" => {
                scope.require(&Role::ALL)?;
                back = format!("/b/{}/programmes", scope.base.code);
                let form = publicity::ObjectionForm { text: field("text") };
                publicity::lodge(&state, &actor, &base, &id, &form).await?;
                return Ok("异议已提交，将在批准前处理".into());
            }
            "publish" => {
                scope.require(&[Role::BaseAdmin])?;
                publicity::publish(&state, &actor, &base, &id).await
            }
            "approve" => {
                scope.require(&[Role::BaseAdmin])?;
                let form = publicity::ApprovalForm {
                    amount_approved_yuan: field("amount_yuan"),
                };
                publicity::approve(&state, &actor, &base, &id, &form).await
            }
            "pay" => {
                scope.require(&[Role::BaseAdmin])?;
                publicity::pay(&state, &actor, &base, &id).await
            }
            _ => Err(AppError::NotFound),
        }?;
        Ok(format!("已办理，当前状态：{}", case.state_label))
    }
    .await;
    redirect(&back, result)
}

/// Back to the page with a notice, or with the error in Chinese.
fn redirect(path: &str, result: Result<String, AppError>) -> PageResult<Response> {
    let target = match result {
        Ok(msg) => format!("{path}?ok={}", urlencode(&msg)),
        Err(e @ (AppError::Internal(_) | AppError::NotFound | AppError::Forbidden)) => return Err(e.into()),
        Err(AppError::Validation(fs)) => {
            let msg = fs.iter().map(|x| x.message.clone()).collect::<Vec<_>>().join("；");
            format!("{path}?err={}", urlencode(&msg))
        }
        Err(e) => format!("{path}?err={}", urlencode(&e.to_string())),
    };
    Ok(Redirect::to(&target).into_response())
}

/// An enterprise applies from the programmes page: a draft, then its page.
async fn apply(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, programme_id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    scope
        .user
        .check_csrf(f.get("_csrf").map(String::as_str).unwrap_or(""))?;
    scope.require(&[Role::Enterprise])?;
    let Party::Enterprise(e) = routes::party(&scope)? else {
        return Err(AppError::Forbidden.into());
    };
    let form = case::DraftForm {
        form: f
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("f.")?.to_string(), Value::from(v.trim()))))
            .collect(),
        amount_requested_yuan: f.get("amount_requested_yuan").cloned().unwrap_or_default(),
    };
    match case::create_draft(&state, &scope.user.actor(), &scope.base.id, &e, &programme_id, &form).await {
        Ok(id) => redirect(
            &format!("/b/{}/applications/{id}", scope.base.code),
            Ok("草稿已保存，请核对后提交".into()),
        ),
        Err(err) => redirect(&format!("/b/{}/programmes", scope.base.code), Err(err)),
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "application/queue.html")]
struct QueuePage {
    nav: Nav,
    base_code: String,
    entries: Vec<case::QueueEntry>,
}

async fn queue_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(page(&QueuePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        entries: case::queue(&state, &scope.base.id).await?,
    }))
}

#[derive(Template)]
#[template(path = "application/report.html")]
struct ReportPage {
    nav: Nav,
    base_code: String,
    r: Report,
}

impl ReportPage {
    fn state_label(&self, s: &str) -> &'static str {
        CaseState::parse(s).map(CaseState::label).unwrap_or("")
    }
}

async fn report_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(page(&ReportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        r: report::report(&state, &scope.base.id, &id).await?,
    }))
}
