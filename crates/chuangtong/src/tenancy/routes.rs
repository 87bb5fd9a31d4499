//! Home page (my bases), base overview page, and `/api/v1/bases`.

use askama::Template;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{Base, Indicator, OrgUnit, RegistryCounts};
use crate::auth::{BaseScope, CurrentUser, PageScope, PageUser};
use crate::web::error::{ApiResult, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home_page))
        .route("/b/{base}", get(base_page))
        .route("/api/v1/bases", get(api_list))
        .route("/api/v1/bases/{base}", get(api_get))
}

struct BaseCard {
    base: Base,
    role_label: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    cards: Vec<BaseCard>,
}

async fn home_page(State(state): State<AppState>, PageUser(user): PageUser) -> PageResult<impl IntoResponse> {
    let bases = super::visible_bases(&state.db, &user).await?;
    let cards = bases
        .into_iter()
        .map(|b| {
            let role_label = user
                .membership(&b.id)
                .map(|m| m.role.label().to_string())
                .unwrap_or_else(|| "平台管理员".to_string());
            BaseCard { base: b, role_label }
        })
        .collect();
    Ok(page(&HomePage {
        nav: Nav::for_user(&user),
        cards,
    }))
}

#[derive(Template)]
#[template(path = "base.html")]
struct BasePage {
    nav: Nav,
    base: Base,
    role_label: String,
    indicators: Vec<Indicator>,
    tree: Vec<(usize, OrgUnit)>,
    counts: RegistryCounts,
    is_enterprise: bool,
}

async fn base_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    let base = super::get_base(&state.db, &scope.base.id).await?;
    let units = super::org_units(&state.db, &scope.base.id).await?;
    let tree = super::tree_rows(&units)
        .into_iter()
        .map(|(d, u)| (d, u.clone()))
        .collect();
    Ok(page(&BasePage {
        nav: Nav::for_scope(&scope),
        role_label: scope.role.map(|r| r.label()).unwrap_or("平台管理员").to_string(),
        is_enterprise: scope.has(crate::auth::Role::Enterprise),
        indicators: super::indicators(&state.db, &scope.base.id).await?,
        counts: super::registry_counts(&state.db, &scope.base.id).await?,
        base,
        tree,
    }))
}

/// Bases the caller may enter.
#[utoipa::path(get, path = "/api/v1/bases", responses((status = 200, body = [Base]), (status = 401)))]
pub async fn api_list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Vec<Base>>> {
    Ok(Json(super::visible_bases(&state.db, &user).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BaseDetail {
    base: Base,
    indicators: Vec<Indicator>,
    org_units: Vec<OrgUnit>,
    registry: RegistryCounts,
}

/// One base: its reported figures (with seed line), organisation tree and registry counts.
#[utoipa::path(get, path = "/api/v1/bases/{base}", params(("base" = String, Path, description = "base code")),
    responses((status = 200, body = BaseDetail), (status = 403), (status = 404)))]
pub async fn api_get(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<BaseDetail>> {
    Ok(Json(BaseDetail {
        base: super::get_base(&state.db, &scope.base.id).await?,
        indicators: super::indicators(&state.db, &scope.base.id).await?,
        org_units: super::org_units(&state.db, &scope.base.id).await?,
        registry: super::registry_counts(&state.db, &scope.base.id).await?,
    }))
}
