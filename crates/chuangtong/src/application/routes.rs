//! `/api/v1/bases/{base}/programmes/…` and `/api/v1/bases/{base}/applications/…`.
//! Roles: base admins define programmes, draw experts, publish, approve and
//! pay; base admins and stewards review (预审) and see reports; enterprises
//! apply for themselves; experts see and score only what was drawn for them;
//! any member may read the 公示 list and lodge an objection.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::case::{
    self, Case, DraftForm, HistoryEntry, ListQuery, OpenProgramme, Party, QueueEntry, Reason, StageRecord,
};
use super::conflict::{self, LinkForm};
use super::document::{self, Document};
use super::panel::{self, Assignment, ConflictForm, DrawRecord, ScoreForm};
use super::programme::{self, Programme, ProgrammeForm};
use super::publicity::{self, ApprovalForm, EvaluationForm, Notice, Objection, ObjectionForm, Resolution};
use super::report::{self, Report};
use super::state::Event;
use crate::auth::{BaseScope, Role};
use crate::registry::routes::Created;
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

const REVIEWERS: &[Role] = &[Role::BaseAdmin, Role::Steward];

pub fn router() -> Router<AppState> {
    let b = "/api/v1/bases/{base}";
    Router::new()
        .route(&format!("{b}/programmes"), get(list_programmes).post(create_programme))
        .route(&format!("{b}/programmes/{{id}}"), get(get_programme))
        .route(&format!("{b}/programmes/{{id}}/report"), get(programme_report))
        .route(&format!("{b}/programmes/{{id}}/applications"), post(create_application))
        .route(&format!("{b}/open-programmes"), get(open_programmes))
        .route(&format!("{b}/applications"), get(list_applications))
        .route(&format!("{b}/applications/{{id}}"), get(get_application))
        .route(&format!("{b}/applications/{{id}}/form"), post(update_application))
        .route(&format!("{b}/applications/{{id}}/submit"), post(submit))
        .route(&format!("{b}/applications/{{id}}/withdraw"), post(withdraw))
        .route(&format!("{b}/applications/{{id}}/accept"), post(accept))
        .route(&format!("{b}/applications/{{id}}/return"), post(return_for_amendment))
        .route(&format!("{b}/applications/{{id}}/reject"), post(reject))
        .route(&format!("{b}/applications/{{id}}/draw"), post(draw_experts))
        .route(&format!("{b}/applications/{{id}}/score"), post(score))
        .route(&format!("{b}/applications/{{id}}/publish"), post(publish))
        .route(&format!("{b}/applications/{{id}}/objections"), post(lodge_objection))
        .route(
            &format!("{b}/applications/{{id}}/objections/resolve"),
            post(resolve_objection),
        )
        .route(&format!("{b}/applications/{{id}}/approve"), post(approve))
        .route(&format!("{b}/applications/{{id}}/pay"), post(pay))
        .route(&format!("{b}/applications/{{id}}/evaluate"), post(evaluate))
        .route(&format!("{b}/review-queue"), get(review_queue))
        .route(&format!("{b}/publicity"), get(publicity_list))
        .route(&format!("{b}/expert-conflicts"), post(declare_conflict))
        .route(&format!("{b}/registry-links"), post(add_registry_link))
        .route(
            &format!("{b}/applications/{{id}}/documents"),
            get(list_documents)
                .post(upload_document)
                .layer(DefaultBodyLimit::max(document::MAX_BYTES + 256 * 1024)),
        )
        .route(&format!("{b}/documents/{{id}}"), get(download_document))
        .merge(super::pages::router())
}

/// Who the caller is for applications: reviewer, the enterprise itself, or a drawn expert.
pub fn party(scope: &BaseScope) -> Result<Party, AppError> {
    if scope.user.platform_admin || scope.role.is_some_and(|r| REVIEWERS.contains(&r)) {
        return Ok(Party::Reviewer);
    }
    let subject = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    match scope.role {
        Some(Role::Enterprise) => Ok(Party::Enterprise(subject)),
        Some(Role::Expert) => Ok(Party::Expert(subject)),
        _ => Err(AppError::Forbidden),
    }
}

fn enterprise(scope: &BaseScope) -> Result<Party, AppError> {
    scope.require(&[Role::Enterprise])?;
    Ok(Party::Enterprise(scope.subject_id.clone().ok_or(AppError::Forbidden)?))
}

/// Programmes of the base (every member).
#[utoipa::path(get, path = "/api/v1/bases/{base}/programmes", params(("base" = String, Path)), responses((status = 200, body = [Programme])))]
pub async fn list_programmes(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Programme>>> {
    scope.require(&Role::ALL)?;
    Ok(Json(programme::list(&state, &scope.base.id).await?))
}

/// Defines a programme and funds its budget in the ledger (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/programmes", params(("base" = String, Path)), request_body = ProgrammeForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_programme(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<ProgrammeForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let id = programme::create(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/programmes/{id}", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = Programme), (status = 404)))]
pub async fn get_programme(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Programme>> {
    scope.require(&Role::ALL)?;
    Ok(Json(programme::get(&state, &scope.base.id, &id).await?))
}

/// Programme report: by state, pass rate, amounts, on-time rate per stage (base admins, stewards).
#[utoipa::path(get, path = "/api/v1/bases/{base}/programmes/{id}/report", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = Report), (status = 404)))]
pub async fn programme_report(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Report>> {
    scope.require(REVIEWERS)?;
    Ok(Json(report::report(&state, &scope.base.id, &id).await?))
}

/// Open programmes the caller's enterprise may qualify for, with the engine's reasons (enterprise accounts).
#[utoipa::path(get, path = "/api/v1/bases/{base}/open-programmes", params(("base" = String, Path)), responses((status = 200, body = [OpenProgramme]), (status = 403)))]
pub async fn open_programmes(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<OpenProgramme>>> {
    let Party::Enterprise(e) = enterprise(&scope)? else {
        return Err(AppError::Forbidden);
    };
    Ok(Json(case::open_for(&state, &scope.base.id, &e).await?))
}

/// Creates a draft application (enterprise accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/programmes/{id}/applications", params(("base" = String, Path), ("id" = String, Path)), request_body = DraftForm,
    responses((status = 201, body = Created), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_application(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<DraftForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let Party::Enterprise(e) = enterprise(&scope)? else {
        return Err(AppError::Forbidden);
    };
    let new = case::create_draft(&state, &scope.user.actor(), &scope.base.id, &e, &id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id: new })))
}

/// Applications the caller may see: its own, those drawn for it, or all (reviewers).
#[utoipa::path(get, path = "/api/v1/bases/{base}/applications", params(("base" = String, Path), ListQuery), responses((status = 200, body = [Case]), (status = 403)))]
pub async fn list_applications(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Case>>> {
    let p = party(&scope)?;
    Ok(Json(case::list(&state, &scope.base.id, &p, &q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    pub case: Case,
    pub history: Vec<HistoryEntry>,
    pub stages: Vec<StageRecord>,
    pub objections: Vec<Objection>,
    /// Reviewers only: the panel and its scores
    pub panel: Vec<Assignment>,
    /// Reviewers only: the recorded draw
    pub draw: Option<DrawRecord>,
    /// 申请要件 uploaded so far
    pub documents: Vec<Document>,
}

/// One application with its history and clocks (404 unless the caller may see it).
#[utoipa::path(get, path = "/api/v1/bases/{base}/applications/{id}", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = CaseDetail), (status = 404)))]
pub async fn get_application(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<CaseDetail>> {
    let p = party(&scope)?;
    Ok(Json(detail(&state, &scope.base.id, &p, &id).await?))
}

pub async fn detail(state: &AppState, base_id: &str, p: &Party, id: &str) -> Result<CaseDetail, AppError> {
    let case = case::get(state, base_id, p, id).await?;
    let (history, stages) = case::history(state, id).await?;
    let reviewer = matches!(p, Party::Reviewer);
    Ok(CaseDetail {
        case,
        history,
        stages,
        objections: publicity::objections(state, base_id, id).await?,
        documents: document::list(state, base_id, id).await?,
        panel: if reviewer {
            panel::assignments(state, base_id, id).await?
        } else {
            Vec::new()
        },
        draw: if reviewer {
            panel::draw_of(state, base_id, id).await?
        } else {
            None
        },
    })
}

/// Edits a draft or a case returned for 补正 (the applicant).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/form", params(("base" = String, Path), ("id" = String, Path)), request_body = DraftForm,
    responses((status = 204), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn update_application(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<DraftForm>,
) -> ApiResult<StatusCode> {
    let p = enterprise(&scope)?;
    case::update_form(&state, &scope.user.actor(), &scope.base.id, &p, &id, &form).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submits a draft, or resubmits after 补正 within its deadline (the applicant).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/submit", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Case>> {
    let p = enterprise(&scope)?;
    Ok(Json(
        case::submit(&state, &scope.user.actor(), &scope.base.id, &p, &id).await?,
    ))
}

/// Withdraws a draft, submitted or returned application (the applicant).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/withdraw", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Case>> {
    let p = enterprise(&scope)?;
    Ok(Json(
        case::withdraw(&state, &scope.user.actor(), &scope.base.id, &p, &id).await?,
    ))
}

async fn review(state: AppState, scope: BaseScope, id: String, event: Event, reason: Reason) -> ApiResult<Json<Case>> {
    scope.require(REVIEWERS)?;
    Ok(Json(
        case::pre_review(&state, &scope.user.actor(), &scope.base.id, &id, event, &reason.reason).await?,
    ))
}

/// 预审通过 (base admins, stewards).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/accept", params(("base" = String, Path), ("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(reason): ApiJson<Reason>,
) -> ApiResult<Json<Case>> {
    review(state, scope, id, Event::Accept, reason).await
}

/// 退回补正 with reasons; the applicant's deadline starts (base admins, stewards).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/return", params(("base" = String, Path), ("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn return_for_amendment(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(reason): ApiJson<Reason>,
) -> ApiResult<Json<Case>> {
    review(state, scope, id, Event::ReturnForAmendment, reason).await
}

/// 不予通过 with reasons (base admins, stewards).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/reject", params(("base" = String, Path), ("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(reason): ApiJson<Reason>,
) -> ApiResult<Json<Case>> {
    review(state, scope, id, Event::Reject, reason).await
}

/// Draws the expert panel from a recorded seed (base admins, 评审制).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/draw", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DrawRecord), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn draw_experts(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<DrawRecord>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        panel::draw_panel(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

/// Scores an application drawn for the caller on the rubric (expert accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/score", params(("base" = String, Path), ("id" = String, Path)), request_body = ScoreForm,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn score(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<ScoreForm>,
) -> ApiResult<Json<Case>> {
    scope.require(&[Role::Expert])?;
    let expert = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
    Ok(Json(
        panel::score(&state, &scope.user.actor(), &scope.base.id, &expert, &id, &form).await?,
    ))
}

/// Publishes the result for the 公示期 (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/publish", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Case>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        publicity::publish(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

/// Lodges an objection during 公示 (any member of the base).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/objections", params(("base" = String, Path), ("id" = String, Path)), request_body = ObjectionForm,
    responses((status = 201, body = Objection), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn lodge_objection(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<ObjectionForm>,
) -> ApiResult<(StatusCode, Json<Objection>)> {
    scope.require(&Role::ALL)?;
    let o = publicity::lodge(&state, &scope.user.actor(), &scope.base.id, &id, &form).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

/// Resolves an objection: dismissed, or upheld (the application is rejected) (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/objections/resolve", params(("base" = String, Path), ("id" = String, Path)), request_body = Resolution,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn resolve_objection(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<Resolution>,
) -> ApiResult<Json<Case>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        publicity::resolve(&state, &scope.user.actor(), &scope.base.id, &id, &form).await?,
    ))
}

/// Approves after the 公示期 with no open objection (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/approve", params(("base" = String, Path), ("id" = String, Path)), request_body = ApprovalForm,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<ApprovalForm>,
) -> ApiResult<Json<Case>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        publicity::approve(&state, &scope.user.actor(), &scope.base.id, &id, &form).await?,
    ))
}

/// Pays the approved amount from the programme budget through the ledger; repeat calls return the first payment (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/pay", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn pay(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Case>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        publicity::pay(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

/// Records the 绩效评价 of a paid grant (base admins, stewards).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/evaluate", params(("base" = String, Path), ("id" = String, Path)), request_body = EvaluationForm,
    responses((status = 200, body = Case), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn evaluate(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<EvaluationForm>,
) -> ApiResult<Json<Case>> {
    scope.require(REVIEWERS)?;
    Ok(Json(
        publicity::evaluate(&state, &scope.user.actor(), &scope.base.id, &id, &form).await?,
    ))
}

/// 预审 queue with SLA clocks, overdue flags and escalation up the organisation tree, the first due on top (base admins, stewards).
#[utoipa::path(get, path = "/api/v1/bases/{base}/review-queue", params(("base" = String, Path)), responses((status = 200, body = [QueueEntry]), (status = 403)))]
pub async fn review_queue(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<QueueEntry>>> {
    scope.require(REVIEWERS)?;
    Ok(Json(case::queue(&state, &scope.base.id).await?))
}

/// What is in 公示 now (every member).
#[utoipa::path(get, path = "/api/v1/bases/{base}/publicity", params(("base" = String, Path)), responses((status = 200, body = [Notice])))]
pub async fn publicity_list(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Notice>>> {
    scope.require(&Role::ALL)?;
    Ok(Json(publicity::notices(&state, &scope.base.id).await?))
}

/// Declares a conflict of interest: an expert for themself, a base admin for any expert.
#[utoipa::path(post, path = "/api/v1/bases/{base}/expert-conflicts", params(("base" = String, Path)), request_body = ConflictForm,
    responses((status = 204), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn declare_conflict(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<ConflictForm>,
) -> ApiResult<StatusCode> {
    scope.require(&[Role::BaseAdmin, Role::Expert])?;
    if !scope.is_admin() && scope.subject_id.as_deref() != Some(form.expert_id.as_str()) {
        return Err(AppError::Forbidden);
    }
    panel::declare_conflict(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Uploads a document (申请要件) to the caller's draft or 补正 application:
/// multipart fields `kind` (a required document's key, or `other`) and
/// `file`; the type is checked by content, at most 10 MB (enterprise accounts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/applications/{id}/documents", params(("base" = String, Path), ("id" = String, Path)),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = Document), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn upload_document(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    multipart: Multipart,
) -> ApiResult<(StatusCode, Json<Document>)> {
    let p = enterprise(&scope)?;
    let posted = document::read_multipart(multipart).await?;
    let doc = document::upload(
        &state,
        &scope.user.actor(),
        &scope.base.id,
        &p,
        &id,
        &posted.kind,
        &posted.filename,
        &posted.bytes,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(doc)))
}

/// The current documents of an application (whoever may see the application).
#[utoipa::path(get, path = "/api/v1/bases/{base}/applications/{id}/documents", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = [Document]), (status = 404)))]
pub async fn list_documents(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Document>>> {
    let p = party(&scope)?;
    case::get(&state, &scope.base.id, &p, &id).await?;
    Ok(Json(document::list(&state, &scope.base.id, &id).await?))
}

/// Downloads a document: the applicant, the base's reviewers and admins, and the experts drawn for it; 404 for anyone else.
#[utoipa::path(get, path = "/api/v1/bases/{base}/documents/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404)))]
pub async fn download_document(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let p = party(&scope)?;
    let (doc, bytes) = document::fetch(&state, &scope.base.id, &p, &id).await?;
    Ok(download(&doc, bytes))
}

/// The response for a stored document: its checked type, as an attachment, never sniffed by the browser.
pub fn download(doc: &Document, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, doc.media_type.clone()),
            (header::CONTENT_DISPOSITION, document::disposition(&doc.filename)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// Records a shareholding or control link between registry records, used to compute experts' conflicts (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/registry-links", params(("base" = String, Path)), request_body = LinkForm,
    responses((status = 201, body = Created), (status = 403), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn add_registry_link(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<LinkForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let id = conflict::add_link(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}
