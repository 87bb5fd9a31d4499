//! SLA clocks of tickets: a first response within N working hours and a
//! resolution within M working days, per category, on the working-day
//! calendar (statutory holidays and 调休 make-up days count).
//!
//! A working hour is an hour of office time, 09:00–17:00 Beijing time, on a
//! working day. A year the calendar does not cover yet (the State Council
//! publishes each arrangement late in the year before) counts Monday to
//! Friday, so a clock never fails for want of next year's holidays.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chuangtong_domain::WorkCalendar;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::Category;
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

pub const OPENS: (u32, u32) = (9, 0);
pub const CLOSES: (u32, u32) = (17, 0);

fn opens() -> NaiveTime {
    NaiveTime::from_hms_opt(OPENS.0, OPENS.1, 0).expect("valid time")
}

fn closes() -> NaiveTime {
    NaiveTime::from_hms_opt(CLOSES.0, CLOSES.1, 0).expect("valid time")
}

pub fn is_working(cal: &WorkCalendar, d: NaiveDate) -> bool {
    cal.is_working_day(d)
        .unwrap_or(!matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
}

/// `n` working days after `start` (a working day counts from the next one).
pub fn add_working_days(cal: &WorkCalendar, start: NaiveDate, n: i64) -> NaiveDate {
    let mut d = start;
    let mut left = n.max(0);
    while left > 0 {
        d = d.succ_opt().expect("date in range");
        if is_working(cal, d) {
            left -= 1;
        }
    }
    d
}

/// The instant `hours` working hours after `start`.
pub fn add_working_hours(cal: &WorkCalendar, start: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    let tz = time::shanghai();
    let local = start.with_timezone(&tz).naive_local();
    let mut day = local.date();
    let mut t = local.time();
    let mut left = Duration::hours(hours.max(0));
    loop {
        if is_working(cal, day) {
            if t < opens() {
                t = opens();
            }
            if t < closes() {
                let available = closes() - t;
                if left <= available {
                    let at = day.and_time(t) + left;
                    return tz
                        .from_local_datetime(&at)
                        .single()
                        .expect("fixed offset")
                        .with_timezone(&Utc);
                }
                left -= available;
            }
        }
        day = day.succ_opt().expect("date in range");
        t = opens();
    }
}

/// Office minutes between two instants (0 if `to` is not after `from`).
pub fn working_minutes_between(cal: &WorkCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    if to <= from {
        return 0;
    }
    let tz = time::shanghai();
    let a = from.with_timezone(&tz).naive_local();
    let b = to.with_timezone(&tz).naive_local();
    let mut total = 0;
    let mut day = a.date();
    while day <= b.date() {
        if is_working(cal, day) {
            let start = day.and_time(opens()).max(a);
            let end = day.and_time(closes()).min(b);
            if end > start {
                total += (end - start).num_minutes();
            }
        }
        day = day.succ_opt().expect("date in range");
    }
    total
}

/// Time limits of one category.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Limits {
    pub category: Category,
    pub category_label: String,
    /// First response within this many working hours
    pub response_hours: i64,
    /// Resolution within this many working days
    pub resolve_days: i64,
    /// False while the category uses the platform default
    pub configured: bool,
}

/// The platform's defaults: a same-day first response; registration work is
/// quick, intellectual property and financing take longest.
pub fn default_limits(c: Category) -> (i64, i64) {
    match c {
        Category::Registration => (4, 3),
        Category::Tax => (4, 5),
        Category::Ip => (8, 10),
        Category::Financing => (8, 10),
        Category::Premises => (4, 5),
        Category::Talent => (8, 5),
        Category::Other => (8, 5),
    }
}

/// The limits in force in a base, one per category.
pub async fn limits(db: impl sqlx::Executor<'_, Database = sqlx::Any>, base_id: &str) -> Result<Vec<Limits>, AppError> {
    let rows = sqlx::query("SELECT category, response_hours, resolve_days FROM ticket_sla WHERE base_id = $1")
        .bind(base_id)
        .fetch_all(db)
        .await?;
    Ok(Category::ALL
        .into_iter()
        .map(|c| {
            let stored = rows.iter().find(|r| r.get::<String, _>(0) == c.as_str());
            let (response_hours, resolve_days) = stored
                .map(|r| (r.get::<i64, _>(1), r.get::<i64, _>(2)))
                .unwrap_or(default_limits(c));
            Limits {
                category: c,
                category_label: c.label().into(),
                response_hours,
                resolve_days,
                configured: stored.is_some(),
            }
        })
        .collect())
}

pub async fn limits_for(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    base_id: &str,
    c: Category,
) -> Result<(i64, i64), AppError> {
    let row = sqlx::query("SELECT response_hours, resolve_days FROM ticket_sla WHERE base_id = $1 AND category = $2")
        .bind(base_id)
        .bind(c.as_str())
        .fetch_optional(db)
        .await?;
    Ok(row
        .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
        .unwrap_or(default_limits(c)))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct LimitsForm {
    /// registration | tax | ip | financing | premises | talent | other
    pub category: String,
    /// 1–200 working hours
    pub response_hours: i64,
    /// 1–120 working days
    pub resolve_days: i64,
}

/// Sets a category's limits (base admins). New tickets use them; running clocks keep theirs.
pub async fn set_limits(state: &AppState, actor: &Actor, base_id: &str, f: &LimitsForm) -> Result<Limits, AppError> {
    let mut errs = FieldErrors::default();
    let category = Category::parse(&f.category);
    if category.is_none() {
        errs.push("category", "ticket.category", "请选择有效的工单类别");
    }
    if !(1..=200).contains(&f.response_hours) {
        errs.push(
            "response_hours",
            "ticket.sla.response_hours",
            "响应时限应为 1–200 个工作小时",
        );
    }
    if !(1..=120).contains(&f.resolve_days) {
        errs.push("resolve_days", "ticket.sla.resolve_days", "办结时限应为 1–120 个工作日");
    }
    errs.into_result()?;
    let category = category.expect("checked above");
    let mut tx = state.db.begin().await?;
    let before = limits_for(&mut *tx, base_id, category).await?;
    sqlx::query("DELETE FROM ticket_sla WHERE base_id = $1 AND category = $2")
        .bind(base_id)
        .bind(category.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO ticket_sla (base_id, category, response_hours, resolve_days, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(base_id)
    .bind(category.as_str())
    .bind(f.response_hours)
    .bind(f.resolve_days)
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "ticket.sla_set",
            entity: "ticket_sla",
            entity_id: Some(category.as_str()),
            before: Some(serde_json::json!({ "response_hours": before.0, "resolve_days": before.1 })),
            after: Some(serde_json::json!({ "response_hours": f.response_hours, "resolve_days": f.resolve_days })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Limits {
        category,
        category_label: category.label().into(),
        response_hours: f.response_hours,
        resolve_days: f.resolve_days,
        configured: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        time::shanghai()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn hours_run_in_office_time_only() {
        let cal = WorkCalendar::builtin();
        // Thu 26 Nov 2026, 15:00 + 4 h: 2 h today, 2 h Friday morning.
        assert_eq!(
            add_working_hours(&cal, bj(2026, 11, 26, 15, 0), 4),
            bj(2026, 11, 27, 11, 0)
        );
        // Friday 16:30 + 1 h: 30 min Friday, 30 min Monday.
        assert_eq!(
            add_working_hours(&cal, bj(2026, 11, 27, 16, 30), 1),
            bj(2026, 11, 30, 9, 30)
        );
        // Raised at night: the clock starts at 09:00 next working day.
        assert_eq!(
            add_working_hours(&cal, bj(2026, 11, 25, 22, 0), 2),
            bj(2026, 11, 26, 11, 0)
        );
        // Exactly a day's worth ends at closing time.
        assert_eq!(
            add_working_hours(&cal, bj(2026, 11, 26, 9, 0), 8),
            bj(2026, 11, 26, 17, 0)
        );
    }

    #[test]
    fn national_day_holiday_is_skipped() {
        let cal = WorkCalendar::builtin();
        // Raised Wed 30 Sep 2026 16:00 with 4 working hours: 1 h that day,
        // then 1–7 Oct are 国庆 and the next working day follows the holiday.
        let due = add_working_hours(&cal, bj(2026, 9, 30, 16, 0), 4);
        let next = add_working_days(&cal, NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(), 1);
        assert!(next > NaiveDate::from_ymd_opt(2026, 10, 7).unwrap(), "{next}");
        assert_eq!(due.with_timezone(&time::shanghai()).date_naive(), next);
        assert_eq!(working_minutes_between(&cal, bj(2026, 9, 30, 16, 0), due), 240);
        // The domain calendar agrees on working days.
        assert_eq!(
            add_working_days(&cal, NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(), 5),
            cal.add_working_days(NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(), 5)
                .unwrap()
        );
    }

    #[test]
    fn minutes_between_count_office_time() {
        let cal = WorkCalendar::builtin();
        assert_eq!(
            working_minutes_between(&cal, bj(2026, 11, 26, 10, 0), bj(2026, 11, 26, 10, 45)),
            45
        );
        // Over a weekend: Fri 16:00 → Mon 10:00 is 2 h.
        assert_eq!(
            working_minutes_between(&cal, bj(2026, 11, 27, 16, 0), bj(2026, 11, 30, 10, 0)),
            120
        );
        assert_eq!(
            working_minutes_between(&cal, bj(2026, 11, 27, 16, 0), bj(2026, 11, 27, 15, 0)),
            0
        );
        // Round trip with add_working_hours.
        let s = bj(2026, 12, 30, 14, 20);
        for h in [1, 5, 9, 30] {
            assert_eq!(working_minutes_between(&cal, s, add_working_hours(&cal, s, h)), h * 60);
        }
    }

    #[test]
    fn uncovered_years_count_weekdays() {
        let cal = WorkCalendar::builtin();
        let d = NaiveDate::from_ymd_opt(2031, 3, 7).unwrap(); // a Friday
        assert!(is_working(&cal, d));
        assert_eq!(
            add_working_days(&cal, d, 1),
            NaiveDate::from_ymd_opt(2031, 3, 10).unwrap()
        );
    }
}
