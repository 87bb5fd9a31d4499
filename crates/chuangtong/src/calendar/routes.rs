//! `/api/v1/calendar/*`: deadline arithmetic for clients, and adding a year.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use chuangtong_domain::Coded;
use serde::{Deserialize, Serialize};

use crate::auth::CurrentUser;
use crate::web::error::{ApiResult, AppError, FieldErrors};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calendar/add-working-days", get(add_working_days))
        .route("/api/v1/calendar/years", post(save_year))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AddQuery {
    /// Start date, YYYY-MM-DD (not counted)
    from: String,
    /// Number of working days, 0–3650
    days: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AddAnswer {
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    days: u32,
    #[schema(value_type = String, format = Date)]
    due: NaiveDate,
}

fn parse_date(errors: &mut FieldErrors, field: &str, s: &str) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field, "date.format", format!("日期格式应为YYYY-MM-DD，收到“{s}”"));
            None
        }
    }
}

/// The due date N working days after a date (statutory holidays and 调休 counted).
#[utoipa::path(get, path = "/api/v1/calendar/add-working-days", params(AddQuery),
    responses((status = 200, body = AddAnswer), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn add_working_days(
    State(state): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<AddQuery>,
) -> ApiResult<Json<AddAnswer>> {
    let mut errors = FieldErrors::default();
    let from = parse_date(&mut errors, "from", &q.from);
    let days = match q.days.trim().parse::<u32>() {
        Ok(n) if n <= 3650 => Some(n),
        _ => {
            errors.push("days", "days.range", "工作日数应为0到3650之间的整数");
            None
        }
    };
    errors.into_result()?;
    let (from, days) = (from.expect("checked"), days.expect("checked"));
    let cal = super::load(&state.db).await?;
    let due = cal
        .add_working_days(from, days)
        .map_err(|e| AppError::field("from", e.code(), e.to_string()))?;
    Ok(Json(AddAnswer { from, days, due }))
}

/// Adds or corrects a year's holiday arrangement (platform administrators).
#[utoipa::path(post, path = "/api/v1/calendar/years", request_body = Object,
    responses((status = 200), (status = 403), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn save_year(
    State(state): State<AppState>,
    user: CurrentUser,
    body: String,
) -> ApiResult<Json<serde_json::Value>> {
    if !user.platform_admin {
        return Err(AppError::Forbidden);
    }
    let year = super::add_year(&state, &user.actor(), &body).await?;
    Ok(Json(serde_json::json!({ "year": year })))
}
