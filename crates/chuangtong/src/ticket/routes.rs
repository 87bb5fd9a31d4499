//! `/api/v1/bases/{base}/tickets/…`, `…/stewards`, `…/steward-assignments`,
//! `…/ticket-sla`. Roles: enterprises raise and follow their own tickets;
//! stewards work the base's tickets and the pool; base admins assign
//! stewards, dispatch, set time limits and read the rankings.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::case::{self, HistoryEntry, ListQuery, RaiseForm, StepForm, Ticket};
use super::rankings::{self, StewardRank};
use super::sla::{self, Limits, LimitsForm};
use super::steward::{self, AssignForm, Assignment, Steward};
use super::Party;
use crate::auth::{BaseScope, Role};
use crate::web::error::{ApiResult, AppError};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    let b = "/api/v1/bases/{base}";
    Router::new()
        .route(&format!("{b}/tickets"), get(list_tickets).post(raise_ticket))
        .route(&format!("{b}/tickets/rankings"), get(steward_rankings))
        .route(&format!("{b}/tickets/{{id}}"), get(get_ticket))
        .route(&format!("{b}/tickets/{{id}}/events"), post(ticket_event))
        .route(&format!("{b}/stewards"), get(list_stewards))
        .route(
            &format!("{b}/steward-assignments"),
            get(list_assignments).post(assign_steward),
        )
        .route(&format!("{b}/steward-assignments/{{id}}"), get(get_assignment))
        .route(&format!("{b}/ticket-sla"), get(get_sla).post(set_sla))
        .merge(super::pages::router())
}

/// Tickets the caller may see: an enterprise its own, stewards and admins the base's.
#[utoipa::path(get, path = "/api/v1/bases/{base}/tickets", params(("base" = String, Path), ListQuery),
    responses((status = 200, body = [Ticket]), (status = 403)))]
pub async fn list_tickets(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Ticket>>> {
    let p = super::party(&scope)?;
    Ok(Json(case::list(&state, &scope.base.id, &p, &q).await?))
}

/// Raises a ticket (enterprise accounts); it goes to the enterprise's steward, or the pool.
#[utoipa::path(post, path = "/api/v1/bases/{base}/tickets", params(("base" = String, Path)), request_body = RaiseForm,
    responses((status = 201, body = Ticket), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn raise_ticket(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<RaiseForm>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let p = super::party(&scope)?;
    if !matches!(p, Party::Requester { .. }) {
        return Err(AppError::Forbidden);
    }
    let t = case::raise(&state, &scope.user.actor(), &scope.base.id, &p, &form).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub history: Vec<HistoryEntry>,
}

/// One ticket with its history (404 unless the caller may see it).
#[utoipa::path(get, path = "/api/v1/bases/{base}/tickets/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = TicketDetail), (status = 404)))]
pub async fn get_ticket(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<TicketDetail>> {
    let p = super::party(&scope)?;
    Ok(Json(detail(&state, &scope.base.id, &p, &id).await?))
}

pub async fn detail(state: &AppState, base_id: &str, p: &Party, id: &str) -> Result<TicketDetail, AppError> {
    let ticket = case::get(state, base_id, p, id).await?;
    Ok(TicketDetail {
        history: case::history(state, base_id, id).await?,
        ticket,
    })
}

/// One step: accept, reply, comment, hand_on (转派), release (to the pool), grab (抢单),
/// resolve, rate, reopen, withdraw. 409 when the ticket's state does not allow it.
#[utoipa::path(post, path = "/api/v1/bases/{base}/tickets/{id}/events", params(("base" = String, Path), ("id" = String, Path)),
    request_body = StepForm,
    responses((status = 200, body = Ticket), (status = 403), (status = 404), (status = 409, body = crate::web::error::ErrorBody),
        (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn ticket_event(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
    ApiJson(form): ApiJson<StepForm>,
) -> ApiResult<Json<Ticket>> {
    let p = super::party(&scope)?;
    Ok(Json(
        case::step(&state, &scope.user.actor(), &scope.base.id, &p, &id, &form).await?,
    ))
}

/// Per steward: resolved, median response and resolution time, on-time share, average rating (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/tickets/rankings", params(("base" = String, Path)),
    responses((status = 200, body = [StewardRank]), (status = 403)))]
pub async fn steward_rankings(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<StewardRank>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(rankings::rankings(&state, &scope.base.id).await?))
}

/// The base's stewards with their load (base admins, stewards).
#[utoipa::path(get, path = "/api/v1/bases/{base}/stewards", params(("base" = String, Path)),
    responses((status = 200, body = [Steward]), (status = 403)))]
pub async fn list_stewards(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Steward>>> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(Json(steward::list(&state, &scope.base.id).await?))
}

/// Every enterprise of the base with its steward (base admins).
#[utoipa::path(get, path = "/api/v1/bases/{base}/steward-assignments", params(("base" = String, Path)),
    responses((status = 200, body = [Assignment]), (status = 403)))]
pub async fn list_assignments(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Assignment>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(steward::assignments(&state, &scope.base.id).await?))
}

/// Assigns an enterprise's steward (base admins).
#[utoipa::path(post, path = "/api/v1/bases/{base}/steward-assignments", params(("base" = String, Path)), request_body = AssignForm,
    responses((status = 200, body = Assignment), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn assign_steward(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<AssignForm>,
) -> ApiResult<Json<Assignment>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        steward::assign(&state, &scope.user.actor(), &scope.base.id, &form).await?,
    ))
}

/// One enterprise's steward, by enterprise id (admins, stewards, the enterprise itself).
#[utoipa::path(get, path = "/api/v1/bases/{base}/steward-assignments/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Assignment), (status = 404)))]
pub async fn get_assignment(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Assignment>> {
    match super::party(&scope)? {
        Party::Requester { enterprise_id, .. } if enterprise_id != id => return Err(AppError::NotFound),
        _ => {}
    }
    Ok(Json(steward::assignment(&state, &scope.base.id, &id).await?))
}

/// Time limits per category (every ticket party).
#[utoipa::path(get, path = "/api/v1/bases/{base}/ticket-sla", params(("base" = String, Path)),
    responses((status = 200, body = [Limits]), (status = 403)))]
pub async fn get_sla(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Limits>>> {
    super::party(&scope)?;
    Ok(Json(sla::limits(state.db.pool(), &scope.base.id).await?))
}

/// Sets one category's time limits (base admins); new tickets use them.
#[utoipa::path(post, path = "/api/v1/bases/{base}/ticket-sla", params(("base" = String, Path)), request_body = LimitsForm,
    responses((status = 200, body = Limits), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn set_sla(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<LimitsForm>,
) -> ApiResult<Json<Limits>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(
        sla::set_limits(&state, &scope.user.actor(), &scope.base.id, &form).await?,
    ))
}
