//! `/api/v1/bases/{base}/…` registry endpoints. Every handler takes a
//! `BaseScope` (membership checked) and passes `scope.base.id` to every query.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::carrier::{self, Carrier, CarrierForm};
use super::directory::{self, Expert, Institute, Investor, Provider, Team};
use super::enterprise::{self, Enterprise, EnterpriseForm};
use super::person::{self, Person, PersonForm, Revealed};
use super::{access, ListQuery};
use crate::auth::BaseScope;
use crate::web::error::ApiResult;
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/enterprises",
            get(list_enterprises).post(create_enterprise),
        )
        .route("/api/v1/bases/{base}/enterprises/{id}", get(get_enterprise))
        .route(
            "/api/v1/bases/{base}/enterprises/{id}/contact",
            get(reveal_enterprise_contact),
        )
        .route("/api/v1/bases/{base}/persons", get(list_persons).post(create_person))
        .route("/api/v1/bases/{base}/persons/{id}/pii", get(reveal_person))
        .route("/api/v1/bases/{base}/carriers", get(list_carriers).post(create_carrier))
        .route("/api/v1/bases/{base}/teams", get(list_teams))
        .route("/api/v1/bases/{base}/providers", get(list_providers))
        .route("/api/v1/bases/{base}/investors", get(list_investors))
        .route("/api/v1/bases/{base}/experts", get(list_experts))
        .route("/api/v1/bases/{base}/institutes", get(list_institutes))
        .merge(super::pages::router())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: String,
}

/// Enterprises of the base (an enterprise account sees only its own).
#[utoipa::path(get, path = "/api/v1/bases/{base}/enterprises", params(("base" = String, Path), ListQuery),
    responses((status = 200, body = Page<Enterprise>), (status = 403), (status = 404)))]
pub async fn list_enterprises(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Enterprise>>> {
    let view = access::enterprises(&scope)?;
    let (items, total) = enterprise::list(&state, &scope.base.id, &view, &q).await?;
    Ok(Json(Page {
        items,
        total,
        page: q.page.unwrap_or(1).max(1),
        per_page: ListQuery::PER_PAGE,
    }))
}

/// Registers an enterprise (base admin, steward). Every invalid field is reported.
#[utoipa::path(post, path = "/api/v1/bases/{base}/enterprises", params(("base" = String, Path)), request_body = EnterpriseForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_enterprise(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<EnterpriseForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    access::create_enterprise(&scope)?;
    let id = enterprise::register(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/enterprises/{id}", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Enterprise), (status = 403), (status = 404)))]
pub async fn get_enterprise(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Enterprise>> {
    let view = access::enterprises(&scope)?;
    Ok(Json(enterprise::get(&state, &scope.base.id, &view, &id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub contact_phone: Option<String>,
}

/// The contact phone in clear (base admin, steward); audited.
#[utoipa::path(get, path = "/api/v1/bases/{base}/enterprises/{id}/contact", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Contact), (status = 403), (status = 404)))]
pub async fn reveal_enterprise_contact(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Contact>> {
    scope.require(&[crate::auth::Role::BaseAdmin, crate::auth::Role::Steward])?;
    let contact_phone = enterprise::reveal_contact(&state, &scope.user.actor(), &scope.base.id, &id).await?;
    Ok(Json(Contact { contact_phone }))
}

/// People and talents, masked (base admin, steward).
#[utoipa::path(get, path = "/api/v1/bases/{base}/persons", params(("base" = String, Path), ListQuery),
    responses((status = 200, body = [Person]), (status = 403)))]
pub async fn list_persons(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Person>>> {
    access::persons(&scope)?;
    Ok(Json(person::list(&state, &scope.base.id, &q).await?))
}

#[utoipa::path(post, path = "/api/v1/bases/{base}/persons", params(("base" = String, Path)), request_body = PersonForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_person(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<PersonForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    access::manage(&scope)?;
    let id = person::register(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// ID number and phone in clear (base admin only); every call is audited.
#[utoipa::path(get, path = "/api/v1/bases/{base}/persons/{id}/pii", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Revealed), (status = 403), (status = 404)))]
pub async fn reveal_person(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Revealed>> {
    access::unmask(&scope)?;
    Ok(Json(
        person::reveal(&state, &scope.user.actor(), &scope.base.id, &id).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/bases/{base}/carriers", params(("base" = String, Path), ListQuery),
    responses((status = 200, body = [Carrier]), (status = 403)))]
pub async fn list_carriers(
    State(state): State<AppState>,
    scope: BaseScope,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Carrier>>> {
    access::directory(&scope)?;
    Ok(Json(carrier::list(&state, &scope.base.id, &q).await?))
}

#[utoipa::path(post, path = "/api/v1/bases/{base}/carriers", params(("base" = String, Path)), request_body = CarrierForm,
    responses((status = 201, body = Created), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_carrier(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(form): ApiJson<CarrierForm>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    access::manage(&scope)?;
    let id = carrier::register(&state, &scope.user.actor(), &scope.base.id, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

macro_rules! directory_list {
    ($fn_name:ident, $path:literal, $ty:ty, $service:path) => {
        #[utoipa::path(get, path = $path, params(("base" = String, Path), ListQuery), responses((status = 200, body = [$ty]), (status = 403)))]
        pub async fn $fn_name(
            State(state): State<AppState>,
            scope: BaseScope,
            Query(q): Query<ListQuery>,
        ) -> ApiResult<Json<Vec<$ty>>> {
            access::directory(&scope)?;
            Ok(Json($service(&state, &scope.base.id, &q).await?))
        }
    };
}

directory_list!(list_teams, "/api/v1/bases/{base}/teams", Team, directory::teams);
directory_list!(
    list_providers,
    "/api/v1/bases/{base}/providers",
    Provider,
    directory::providers
);
directory_list!(
    list_investors,
    "/api/v1/bases/{base}/investors",
    Investor,
    directory::investors
);
directory_list!(list_experts, "/api/v1/bases/{base}/experts", Expert, directory::experts);
directory_list!(
    list_institutes,
    "/api/v1/bases/{base}/institutes",
    Institute,
    directory::institutes
);
