//! Milestone escrow over HTTP: `/api/v1/bases/{base}/market/…milestones…`
//! and the page `/b/{base}/market/orders/{id}/milestones`. Roles: the
//! order's enterprise plans, accepts and disputes; its provider delivers;
//! base admins decide disputes and run the deadline sweep.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::escrow::{self, Decision, Milestone, MilestoneItem, MilestonePlan, Viewer};
use crate::auth::{BaseScope, PageScope, Role};
use crate::web::error::{ApiResult, AppError, PageResult};
use crate::web::forms::ApiJson;
use crate::web::pages::{page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/market/orders/{id}/milestones",
            get(list_milestones).post(plan_milestones),
        )
        .route("/api/v1/bases/{base}/market/milestones/{id}/deliver", post(deliver))
        .route("/api/v1/bases/{base}/market/milestones/{id}/accept", post(accept))
        .route("/api/v1/bases/{base}/market/milestones/{id}/dispute", post(dispute))
        .route("/api/v1/bases/{base}/market/milestones/{id}/decide", post(decide))
        .route("/api/v1/bases/{base}/market/milestones/auto-accept", post(auto_accept))
        .route(
            "/b/{base}/market/orders/{id}/milestones",
            get(milestones_page).post(plan_submit),
        )
        .route("/b/{base}/market/milestones/{id}/{action}", post(action_submit))
}

fn subject(scope: &BaseScope, role: Role) -> Result<String, AppError> {
    scope.require(&[role])?;
    scope.subject_id.clone().ok_or(AppError::Forbidden)
}

fn viewer(scope: &BaseScope) -> Result<Viewer<'_>, AppError> {
    if scope.is_admin() {
        Ok(Viewer::Admin)
    } else if scope.has(Role::Enterprise) {
        Ok(Viewer::Enterprise(
            scope.subject_id.as_deref().ok_or(AppError::Forbidden)?,
        ))
    } else if scope.has(Role::Provider) {
        Ok(Viewer::Provider(
            scope.subject_id.as_deref().ok_or(AppError::Forbidden)?,
        ))
    } else {
        Err(AppError::Forbidden)
    }
}

/// The milestones of an order (its enterprise, its provider, base admins). Overdue ones are accepted first.
#[utoipa::path(get, path = "/api/v1/bases/{base}/market/orders/{id}/milestones", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = [Milestone]), (status = 403), (status = 404)))]
pub async fn list_milestones(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Milestone>>> {
    let who = viewer(&scope)?;
    Ok(Json(escrow::list(&state, &scope.base.id, &id, &who).await?))
}

/// Splits a placed voucher order into escrowed milestones (the order's enterprise).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/orders/{id}/milestones", params(("base" = String, Path), ("id" = String, Path)),
    request_body = MilestonePlan,
    responses((status = 201, body = [Milestone]), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn plan_milestones(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(p): ApiJson<MilestonePlan>,
) -> ApiResult<(StatusCode, Json<Vec<Milestone>>)> {
    let ent = subject(&scope, Role::Enterprise)?;
    let ms = escrow::plan(&state, &scope.user.actor(), &scope.base.id, &ent, &id, &p).await?;
    Ok((StatusCode::CREATED, Json(ms)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MilestoneDelivery {
    /// Structured evidence by the service's category, as for whole orders
    #[schema(value_type = Object)]
    evidence: Value,
}

/// Delivers a milestone; the dispute clock starts (the order's provider).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/milestones/{id}/deliver", params(("base" = String, Path), ("id" = String, Path)),
    request_body = MilestoneDelivery,
    responses((status = 200, body = Milestone), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MilestoneDelivery>,
) -> ApiResult<Json<Milestone>> {
    let prov = subject(&scope, Role::Provider)?;
    Ok(Json(
        escrow::deliver(&state, &scope.user.actor(), &scope.base.id, &prov, &id, &body.evidence).await?,
    ))
}

/// Accepts a delivered milestone; its escrow is paid (the order's enterprise).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/milestones/{id}/accept", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Milestone), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Milestone>> {
    let ent = subject(&scope, Role::Enterprise)?;
    Ok(Json(
        escrow::accept(&state, &scope.user.actor(), &scope.base.id, &ent, &id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DisputeForm {
    #[serde(default)]
    reason: String,
}

/// Disputes a delivered milestone before its deadline (the order's enterprise).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/milestones/{id}/dispute", params(("base" = String, Path), ("id" = String, Path)),
    request_body = DisputeForm,
    responses((status = 200, body = Milestone), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn dispute(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DisputeForm>,
) -> ApiResult<Json<Milestone>> {
    let ent = subject(&scope, Role::Enterprise)?;
    Ok(Json(
        escrow::dispute(&state, &scope.user.actor(), &scope.base.id, &ent, &id, &body.reason).await?,
    ))
}

/// Decides a disputed milestone: accept (paid) or refund (back to the wallet) (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/milestones/{id}/decide", params(("base" = String, Path), ("id" = String, Path)),
    request_body = Decision,
    responses((status = 200, body = Milestone), (status = 404), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Decision>,
) -> ApiResult<Json<Milestone>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        escrow::decide(&state, &scope.user.actor(), &scope.base.id, &id, &body).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AutoAccepted {
    pub accepted: i64,
}

/// Accepts every delivered milestone whose dispute deadline has passed (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/market/milestones/auto-accept", params(("base" = String, Path)),
    responses((status = 200, body = AutoAccepted), (status = 403)))]
pub async fn auto_accept(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<AutoAccepted>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(AutoAccepted {
        accepted: escrow::auto_accept_due(&state, &scope.base.id).await?,
    }))
}

#[derive(Template)]
#[template(path = "voucher/milestones.html")]
struct MilestonesPage {
    nav: Nav,
    base_code: String,
    order_id: String,
    milestones: Vec<Milestone>,
    is_enterprise: bool,
    is_provider: bool,
    is_admin: bool,
    notice: Notice,
}

impl MilestonesPage {
    fn state_label(&self, s: &str) -> &'static str {
        escrow::state_label(s)
    }
}

async fn milestones_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(notice): Query<Notice>,
) -> PageResult<impl IntoResponse> {
    let who = viewer(&scope)?;
    let milestones = escrow::list(&state, &scope.base.id, &id, &who).await?;
    Ok(page(&MilestonesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        order_id: id,
        milestones,
        is_enterprise: scope.has(Role::Enterprise),
        is_provider: scope.has(Role::Provider),
        is_admin: scope.is_admin(),
        notice,
    }))
}

/// Back to the order's milestones page with the outcome.
fn back(base: &str, order: &str, result: Result<String, AppError>) -> PageResult<Response> {
    crate::web::pages::back(base, &format!("market/orders/{order}/milestones"), result)
}

#[derive(Deserialize)]
struct PlanSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// One milestone per line: 名称,金额（元）
    #[serde(default)]
    lines: String,
}

async fn plan_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<PlanSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let ent = subject(&scope, Role::Enterprise)?;
    let milestones = f
        .lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (title, amount) = l.rsplit_once([',', '，']).unwrap_or((l, ""));
            MilestoneItem {
                title: title.trim().to_string(),
                amount_yuan: amount.trim().to_string(),
            }
        })
        .collect();
    let result = escrow::plan(
        &state,
        &scope.user.actor(),
        &scope.base.id,
        &ent,
        &id,
        &MilestonePlan { milestones },
    )
    .await
    .map(|ms| format!("已分为 {} 个阶段托管", ms.len()));
    back(&scope.base.code, &id, result)
}

#[derive(Deserialize)]
struct ActionSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    order_id: String,
    #[serde(default)]
    evidence_key: String,
    #[serde(default)]
    evidence_value: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

async fn action_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(f): Form<ActionSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    let actor = scope.user.actor();
    let base = &scope.base.id;
    let result = match action.as_str() {
        "deliver" => {
            let prov = subject(&scope, Role::Provider)?;
            let value = if f.evidence_key == "machine_hours" {
                json!(f.evidence_value.trim().parse::<i64>().unwrap_or(0))
            } else {
                json!(f.evidence_value.trim())
            };
            let mut evidence = json!({});
            evidence[f.evidence_key.as_str()] = value;
            escrow::deliver(&state, &actor, base, &prov, &id, &evidence)
                .await
                .map(|m| {
                    format!(
                        "已交付，企业须在{}前验收或提出异议",
                        m.dispute_deadline.unwrap_or_default()
                    )
                })
        }
        "accept" => {
            let ent = subject(&scope, Role::Enterprise)?;
            escrow::accept(&state, &actor, base, &ent, &id)
                .await
                .map(|_| "已验收，该阶段托管款项已支付".to_string())
        }
        "dispute" => {
            let ent = subject(&scope, Role::Enterprise)?;
            escrow::dispute(&state, &actor, base, &ent, &id, &f.reason)
                .await
                .map(|_| "已提出异议，等待基地管理员裁决".to_string())
        }
        "decide" => {
            scope.require(&[Role::BaseAdmin])?;
            let d = Decision {
                decision: f.decision.clone(),
                note: f.note.clone(),
            };
            escrow::decide(&state, &actor, base, &id, &d)
                .await
                .map(|m| format!("已裁决：{}", escrow::state_label(&m.state)))
        }
        _ => return Err(AppError::NotFound.into()),
    };
    // The order id only shapes the redirect; keep it to an id's characters.
    let order: String = f
        .order_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    back(&scope.base.code, &order, result)
}
