//! Statutory clocks: each stage of a case has a start date and a due date
//! counted in Chinese working days (holidays and 调休 make-up days from the
//! calendar), so a 补正 deadline that spans 国庆 moves past the holiday.
//! Closed stages keep whether they ended on time, for the programme report.

use chrono::NaiveDate;
use chuangtong_domain::WorkCalendar;
use serde::Serialize;
use sqlx::Row;

use super::programme::Limits;
use crate::storage::Tx;
use crate::web::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    PreReview,
    Amendment,
    ExpertReview,
    Publicity,
    Approval,
    Payout,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::PreReview,
        Stage::Amendment,
        Stage::ExpertReview,
        Stage::Publicity,
        Stage::Approval,
        Stage::Payout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreReview => "pre_review",
            Stage::Amendment => "amendment",
            Stage::ExpertReview => "expert_review",
            Stage::Publicity => "publicity",
            Stage::Approval => "approval",
            Stage::Payout => "payout",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::PreReview => "受理/预审",
            Stage::Amendment => "补正",
            Stage::ExpertReview => "专家评审",
            Stage::Publicity => "公示期",
            Stage::Approval => "审批",
            Stage::Payout => "兑现",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn limit(self, l: &Limits) -> i64 {
        match self {
            Stage::PreReview => l.pre_review,
            Stage::Amendment => l.amendment,
            Stage::ExpertReview => l.expert_review,
            Stage::Publicity => l.publicity,
            Stage::Approval => l.approval,
            Stage::Payout => l.payout,
        }
    }
}

/// A running clock as the applicant and the reviewer see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Clock {
    pub stage: String,
    pub stage_label: String,
    pub started_on: String,
    pub due_on: String,
    /// Working days left until the due date (negative when overdue)
    pub working_days_left: i64,
    pub overdue: bool,
}

/// Due date of a stage that starts on `start` with a limit of `days` working days.
pub fn due(cal: &WorkCalendar, start: NaiveDate, days: i64) -> Result<NaiveDate, AppError> {
    cal.add_working_days(start, days.max(0) as u32)
        .map_err(|e| anyhow::anyhow!("working-day calendar: {e}").into())
}

/// The clock as of `today`. A year missing from the calendar shows as not overdue.
pub fn view(cal: &WorkCalendar, stage: Stage, started: &str, due_on: &str, today: NaiveDate) -> Clock {
    let d = NaiveDate::parse_from_str(due_on, "%Y-%m-%d").unwrap_or(today);
    Clock {
        stage: stage.as_str().into(),
        stage_label: stage.label().into(),
        started_on: started.into(),
        due_on: due_on.into(),
        working_days_left: cal.working_days_between(today, d).unwrap_or(0),
        overdue: today > d,
    }
}

/// Starts a stage's clock.
pub async fn open(
    tx: &mut Tx,
    base_id: &str,
    application_id: &str,
    stage: Stage,
    started: NaiveDate,
    due_on: NaiveDate,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO application_stages (id, base_id, application_id, stage, started_on, due_on) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(application_id)
    .bind(stage.as_str())
    .bind(started.to_string())
    .bind(due_on.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stops a stage's running clock on `ended`; on time when not after its due date.
/// 公示期 ends on its due date by definition, whenever the case moves on.
/// `by` is the account that ended it (None for the system), whose department
/// the programme report credits.
pub async fn close(
    tx: &mut Tx,
    application_id: &str,
    stage: Stage,
    ended: NaiveDate,
    by: Option<&str>,
) -> Result<(), AppError> {
    let sql = if stage == Stage::Publicity {
        "UPDATE application_stages SET ended_on = due_on, on_time = 1, closed_by = $3 \
         WHERE application_id = $1 AND stage = $2 AND ended_on IS NULL"
    } else {
        "UPDATE application_stages SET ended_on = $4, on_time = CASE WHEN $4 <= due_on THEN 1 ELSE 0 END, closed_by = $3 \
         WHERE application_id = $1 AND stage = $2 AND ended_on IS NULL"
    };
    let mut q = sqlx::query(sql)
        .bind(application_id)
        .bind(stage.as_str())
        .bind(by.map(str::to_string));
    if stage != Stage::Publicity {
        q = q.bind(ended.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Stops every running clock (withdrawn, rejected).
pub async fn close_all(tx: &mut Tx, application_id: &str, ended: NaiveDate, by: Option<&str>) -> Result<(), AppError> {
    for s in Stage::ALL {
        close(tx, application_id, s, ended, by).await?;
    }
    Ok(())
}

/// The running clock that falls due first, if any.
pub async fn current(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    cal: &WorkCalendar,
    application_id: &str,
    today: NaiveDate,
) -> Result<Option<Clock>, AppError> {
    let row = sqlx::query(
        "SELECT stage, started_on, due_on FROM application_stages WHERE application_id = $1 AND ended_on IS NULL \
         AND started_on <= $2 ORDER BY due_on, started_on LIMIT 1",
    )
    .bind(application_id)
    .bind(today.to_string())
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|r| {
        let stage = Stage::parse(&r.get::<String, _>(0))?;
        Some(view(cal, stage, &r.get::<String, _>(1), &r.get::<String, _>(2), today))
    }))
}

/// The due date of a running stage (e.g. the 补正 deadline, the end of 公示期).
pub async fn due_of(tx: &mut Tx, application_id: &str, stage: Stage) -> Result<Option<NaiveDate>, AppError> {
    let row = sqlx::query(
        "SELECT due_on FROM application_stages WHERE application_id = $1 AND stage = $2 AND ended_on IS NULL \
         ORDER BY started_on DESC LIMIT 1",
    )
    .bind(application_id)
    .bind(stage.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|r| NaiveDate::parse_from_str(&r.get::<String, _>(0), "%Y-%m-%d").ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn an_amendment_deadline_over_national_day_skips_the_holiday() {
        let cal = WorkCalendar::builtin();
        // Returned on Wed 30 Sep 2026 with 5 working days: 1–7 Oct are 国庆,
        // 10 Oct (Sat) is a make-up working day.
        let due_on = due(&cal, d(2026, 9, 30), 5).unwrap();
        assert_eq!(due_on, cal.add_working_days(d(2026, 9, 30), 5).unwrap());
        assert!(due_on > d(2026, 10, 8), "{due_on}");
        assert_eq!(cal.working_days_between(d(2026, 9, 30), due_on).unwrap(), 5);
        // Five calendar days later would be inside the holiday.
        let c = view(
            &cal,
            Stage::Amendment,
            "2026-09-30",
            &due_on.to_string(),
            d(2026, 10, 6),
        );
        assert!(!c.overdue);
        assert_eq!(
            c.working_days_left,
            5 - cal.working_days_between(d(2026, 9, 30), d(2026, 10, 6)).unwrap()
        );
        let late = view(
            &cal,
            Stage::Amendment,
            "2026-09-30",
            &due_on.to_string(),
            due_on.succ_opt().unwrap(),
        );
        assert!(late.overdue);
    }
}
