//! Pages: 政策库 (published policies with their rules) and 政策计算器.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::judge::{self, Answer};
use super::library::{self, PolicyInfo};
use crate::auth::{PageScope, Role};
use crate::storage::time;
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/policies", get(policies_page))
        .route("/b/{base}/calculator", get(calculator_page))
}

pub fn yuan(fen: &Option<i64>) -> String {
    fen.map(|f| chuangtong_domain::Fen::from_fen(f).to_yuan_string_grouped())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "policy/list.html")]
struct PoliciesPage {
    nav: Nav,
    policies: Vec<PolicyInfo>,
}

async fn policies_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    let policies = library::list(&state.db, &scope.base.id, time::today(), !scope.is_admin()).await?;
    Ok(page(&PoliciesPage {
        nav: Nav::for_scope(&scope),
        policies,
    }))
}

#[derive(Template)]
#[template(path = "policy/calculator.html")]
struct CalculatorPage {
    nav: Nav,
    enterprise_name: String,
    answers: Vec<Answer>,
    total_fen: Option<i64>,
}

#[derive(Deserialize)]
struct CalcQuery {
    enterprise: Option<String>,
}

async fn calculator_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<CalcQuery>,
) -> PageResult<impl IntoResponse> {
    let enterprise_id = match (&q.enterprise, scope.has(Role::Enterprise)) {
        (_, true) => scope.subject_id.clone().ok_or(AppError::Forbidden)?,
        (Some(id), false) => id.clone(),
        (None, false) => {
            return Err(AppError::field("enterprise", "calculator.enterprise", "请从企业详情页进入政策计算器").into())
        }
    };
    super::routes::may_act_for(&scope, &enterprise_id)?;
    let answers = judge::calculator(&state, &scope.base.id, &enterprise_id).await?;
    let name: String = {
        use sqlx::Row;
        sqlx::query("SELECT name FROM enterprises WHERE base_id = $1 AND id = $2")
            .bind(&scope.base.id)
            .bind(&enterprise_id)
            .fetch_one(state.db.pool())
            .await?
            .get(0)
    };
    let total: i64 = answers
        .iter()
        .filter(|a| a.eligible == "yes")
        .filter_map(|a| a.amount_fen)
        .sum();
    Ok(page(&CalculatorPage {
        nav: Nav::for_scope(&scope),
        enterprise_name: name,
        answers,
        total_fen: Some(total),
    }))
}
