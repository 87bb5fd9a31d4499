//! The working-day calendar as a service: the shipped years (data/holidays,
//! compiled in) plus years an administrator adds later (stored in the
//! database, so every process sees them). Every statutory time limit uses
//! [`load`] and the domain's `add_working_days` / `working_days_between`.

pub mod routes;

use chuangtong_domain::{Coded, WorkCalendar, YearSchedule};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Db};
use crate::web::error::{AppError, FieldError};
use crate::web::AppState;

/// The calendar as of now: built-in years, replaced or extended by stored ones.
pub async fn load(db: &Db) -> Result<WorkCalendar, AppError> {
    let mut cal = WorkCalendar::builtin();
    let rows = sqlx::query("SELECT schedule FROM calendar_years ORDER BY year")
        .fetch_all(db.pool())
        .await?;
    for r in rows {
        let json: String = r.get(0);
        let year = YearSchedule::from_json(&json).map_err(|e| anyhow::anyhow!("stored calendar year invalid: {e}"))?;
        cal.replace_year(year)
            .map_err(|e| anyhow::anyhow!("stored calendar year invalid: {e}"))?;
    }
    Ok(cal)
}

/// Validates and stores a year's arrangement (adding or correcting it).
pub async fn add_year(state: &AppState, actor: &Actor, json_text: &str) -> Result<i32, AppError> {
    let schedule = YearSchedule::from_json(json_text)
        .map_err(|e| AppError::Validation(vec![FieldError::new("schedule", e.code(), e.to_string())]))?;
    let year = schedule.year;
    let normalised = serde_json::to_string(&schedule).map_err(anyhow::Error::from)?;
    let mut tx = state.db.begin().await?;
    let before: Option<String> = sqlx::query("SELECT schedule FROM calendar_years WHERE year = $1")
        .bind(year as i64)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get(0));
    sqlx::query(
        "INSERT INTO calendar_years (year, schedule, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (year) DO UPDATE SET schedule = excluded.schedule, created_at = excluded.created_at",
    )
    .bind(year as i64)
    .bind(&normalised)
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: None,
            action: "calendar.year_saved",
            entity: "calendar_year",
            entity_id: Some(&year.to_string()),
            before: before.map(|b| json!(b)),
            after: Some(json!(normalised)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(year)
}
