//! `/api/v1/bases/{base}/policies/…`, the calculator and enterprise facts.
//! Base admins manage policies and run matching, simulation and grants;
//! every member reads published policies; an enterprise uses the calculator
//! on its own firm (stewards and admins on any firm of the base).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::correction::{self, CorrectionPlan, CorrectionRun};
use super::impact::{self, Impact};
use super::judge::{self, Answer, GrantRun, Matches, Simulation, SimulationRequest};
use super::library::{self, PolicyForm, PolicyInfo, VersionForm};
use super::push::{self, PushRun};
use super::settlement::{self, Settlement};
use crate::auth::{BaseScope, Role};
use crate::registry::routes::Created;
use crate::storage::time;
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bases/{base}/policies", get(list_policies).post(create_policy))
        .route("/api/v1/bases/{base}/policies/{id}", get(get_policy))
        .route("/api/v1/bases/{base}/policies/{id}/versions", post(add_version))
        .route("/api/v1/bases/{base}/policies/{id}/publish", post(publish))
        .route("/api/v1/bases/{base}/policies/{id}/matches", get(matches))
        .route("/api/v1/bases/{base}/policies/{id}/simulate", post(simulate))
        .route("/api/v1/bases/{base}/policies/{id}/grants", post(grant))
        .route("/api/v1/bases/{base}/policies/{id}/impact", get(impact))
        .route("/api/v1/bases/{base}/policies/{id}/notify", post(notify_matches))
        .route(
            "/api/v1/bases/{base}/policies/{id}/corrections",
            get(corrections).post(record_corrections),
        )
        .route(
            "/api/v1/bases/{base}/policies/{id}/adjustments/{adjustment}/settle",
            post(settle_adjustment),
        )
        .route("/api/v1/bases/{base}/calculator/{id}", get(calculator))
        .route("/api/v1/bases/{base}/enterprises/{id}/facts", post(record_facts))
        .merge(super::pages::router())
}

/// Which enterprise a scope may run the calculator or record facts for.
pub fn may_act_for(scope: &BaseScope, enterprise_id: &str) -> Result<(), AppError> {
    if scope.is_admin() || scope.has(Role::Steward) {
        return Ok(());
    }
    if scope.has(Role::Enterprise) && scope.subject_id.as_deref() == Some(enterprise_id) {
        return Ok(());
    }
    Err(AppError::NotFound)
}

/// Policies with the version in force today (drafts only for base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/policies", params(("base" = String, Path)), responses((status = 200, body = [PolicyInfo])))]
pub async fn list_policies(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<PolicyInfo>>> {
    Ok(Json(
        library::list(&state.db, &scope.base.id, time::today(), !scope.is_admin()).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/policies/{id}", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = PolicyInfo), (status = 404)))]
pub async fn get_policy(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<PolicyInfo>> {
    let p = library::get(&state.db, &scope.base.id, &id, time::today()).await?;
    if p.state != "published" && !scope.is_admin() {
        return Err(AppError::NotFound);
    }
    Ok(Json(p))
}

/// Creates a draft policy; the rules are compiled first and errors point to line and column.
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies", params(("base" = String, Path)), request_body = PolicyForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_policy(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(f): ApiJson<PolicyForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let id = library::create(&state, &scope.user.actor(), &scope.base.id, &f).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Adds a version of the rules (the previous open version ends where it starts).
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/versions", params(("base" = String, Path), ("id" = String, Path)), request_body = VersionForm,
    responses((status = 201), (status = 404), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn add_version(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(f): ApiJson<VersionForm>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    scope.require(&[Role::BaseAdmin])?;
    let v = library::add_version(&state, &scope.user.actor(), &scope.base.id, &id, &f).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "version": v }))))
}

#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/publish", params(("base" = String, Path), ("id" = String, Path)), responses((status = 204), (status = 404), (status = 409)))]
pub async fn publish(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    scope.require(&[Role::BaseAdmin])?;
    library::publish(&state, &scope.user.actor(), &scope.base.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 精准推送: the firms that qualify, what it costs, what facts are missing.
#[utoipa::path(get, path = "/api/v1/bases/{base}/policies/{id}/matches", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = Matches), (status = 403), (status = 404)))]
pub async fn matches(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Matches>> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(Json(judge::matches(&state, &scope.base.id, &id).await?))
}

/// Budget simulation with changed parameters.
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/simulate", params(("base" = String, Path), ("id" = String, Path)), request_body = SimulationRequest,
    responses((status = 200, body = Simulation), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn simulate(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<SimulationRequest>,
) -> ApiResult<Json<Simulation>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(judge::simulate(&state, &scope.base.id, &id, &req).await?))
}

/// 免申即享: grants for every qualifying firm, with provenance; idempotent per version.
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/grants", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = GrantRun), (status = 403), (status = 409)))]
pub async fn grant(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<GrantRun>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        judge::grant_without_application(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct VersionQuery {
    /// Version number; default: see the route
    #[serde(default)]
    pub version: Option<i64>,
}

/// 影响预览 of a version (default the latest, e.g. the draft before publishing) on the base's registry:
/// qualifying firms and cost by industry, size and park, overlap with policies in force, gains and losses.
#[utoipa::path(get, path = "/api/v1/bases/{base}/policies/{id}/impact", params(("base" = String, Path), ("id" = String, Path), VersionQuery),
    responses((status = 200, body = Impact), (status = 403), (status = 404), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn impact(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<Impact>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(impact::preview(&state, &scope.base.id, &id, q.version).await?))
}

/// 补发与追回 that a correcting version (default: the version in force today) makes to earlier grants.
#[utoipa::path(get, path = "/api/v1/bases/{base}/policies/{id}/corrections", params(("base" = String, Path), ("id" = String, Path), VersionQuery),
    responses((status = 200, body = CorrectionPlan), (status = 403), (status = 404), (status = 409)))]
pub async fn corrections(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<CorrectionPlan>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(correction::plan(&state, &scope.base.id, &id, q.version).await?))
}

/// Records the top-ups and clawbacks as pending adjustments (idempotent per grant and correcting version).
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/corrections", params(("base" = String, Path), ("id" = String, Path)), request_body = VersionQuery,
    responses((status = 200, body = CorrectionRun), (status = 403), (status = 404), (status = 409)))]
pub async fn record_corrections(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(q): ApiJson<VersionQuery>,
) -> ApiResult<Json<CorrectionRun>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        correction::record(&state, &scope.user.actor(), &scope.base.id, &id, q.version).await?,
    ))
}

/// Settles a recorded application adjustment through the ledger: 补发 from the programme's budget to the
/// firm's payable, 追回 back from it. Settling again answers with the first settlement.
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/adjustments/{adjustment}/settle",
    params(("base" = String, Path), ("id" = String, Path), ("adjustment" = String, Path)),
    responses((status = 200, body = Settlement), (status = 403), (status = 404), (status = 409)))]
pub async fn settle_adjustment(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id, adjustment)): Path<(String, String, String)>,
) -> ApiResult<Json<Settlement>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        settlement::settle(&state, &scope.user.actor(), &scope.base.id, &id, &adjustment).await?,
    ))
}

/// 精准推送: notifies every qualifying firm not yet told about the version in force.
#[utoipa::path(post, path = "/api/v1/bases/{base}/policies/{id}/notify", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PushRun), (status = 403), (status = 404), (status = 409)))]
pub async fn notify_matches(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<PushRun>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        push::notify_matches(&state, &scope.user.actor(), &scope.base.id, &scope.base.code, &id).await?,
    ))
}

/// 政策计算器 for one enterprise (`{id}` = enterprise id): every published policy, with the amount and explanation.
#[utoipa::path(get, path = "/api/v1/bases/{base}/calculator/{id}", params(("base" = String, Path), ("id" = String, Path)), responses((status = 200, body = [Answer]), (status = 404)))]
pub async fn calculator(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Answer>>> {
    may_act_for(&scope, &id)?;
    Ok(Json(judge::calculator(&state, &scope.base.id, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FactsForm {
    /// Fact name (Chinese or English alias) → value; money in integer fen
    #[schema(value_type = Object)]
    facts: serde_json::Value,
    /// Where the facts come from, e.g. 企业填报
    #[serde(default)]
    source: String,
}

/// Records facts about an enterprise (the enterprise itself, its steward, a base admin).
#[utoipa::path(post, path = "/api/v1/bases/{base}/enterprises/{id}/facts", params(("base" = String, Path), ("id" = String, Path)), request_body = FactsForm,
    responses((status = 200), (status = 404), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn record_facts(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(f): ApiJson<FactsForm>,
) -> ApiResult<Json<serde_json::Value>> {
    may_act_for(&scope, &id)?;
    let source = if f.source.trim().is_empty() {
        if scope.has(Role::Enterprise) {
            "企业填报"
        } else {
            "服务管家录入"
        }
    } else {
        f.source.trim()
    };
    let n = super::facts::record(&state, &scope.user.actor(), &scope.base.id, &id, &f.facts, source).await?;
    Ok(Json(serde_json::json!({ "recorded": n })))
}
