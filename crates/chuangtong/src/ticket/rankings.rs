//! Steward rankings for base admins: how many tickets each steward resolved,
//! how fast they answered and resolved (median, in office minutes on the
//! working-day calendar, counted from when the ticket was raised), how many
//! were resolved on time, and how the enterprises rated them. Integers only:
//! percentages in basis points, the average rating ×100.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::sla;
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct StewardRank {
    pub steward_id: String,
    pub display_name: String,
    /// Tickets this steward resolved (resolved or closed now)
    pub handled: i64,
    /// Tickets in this steward's hands now
    pub in_hand: i64,
    /// Median office minutes from raising to this steward's first response
    pub median_response_minutes: Option<i64>,
    /// Median office minutes from raising to this steward's resolution
    pub median_resolution_minutes: Option<i64>,
    /// Share of this steward's resolutions on or before the due date, in basis points
    pub on_time_bp: Option<i64>,
    /// Average rating ×100 (e.g. 450 = 4.5 stars)
    pub avg_rating_x100: Option<i64>,
    pub ratings: i64,
}

impl StewardRank {
    pub fn response(&self) -> String {
        minutes_text(self.median_response_minutes)
    }

    pub fn resolution(&self) -> String {
        minutes_text(self.median_resolution_minutes)
    }

    pub fn on_time(&self) -> String {
        match self.on_time_bp {
            Some(b) => format!("{}.{:01}%", b / 100, (b % 100) / 10),
            None => "—".into(),
        }
    }

    pub fn rating(&self) -> String {
        match self.avg_rating_x100 {
            Some(r) => format!("{}.{:02}", r / 100, r % 100),
            None => "—".into(),
        }
    }
}

/// Office minutes as people read them: "3小时20分".
pub fn minutes_text(m: Option<i64>) -> String {
    match m {
        None => "—".into(),
        Some(m) if m < 60 => format!("{m}分钟"),
        Some(m) if m % 60 == 0 => format!("{}小时", m / 60),
        Some(m) => format!("{}小时{}分", m / 60, m % 60),
    }
}

/// The middle value (mean of the two middle ones, rounded down, for an even count).
pub fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

pub async fn rankings(state: &AppState, base_id: &str) -> Result<Vec<StewardRank>, AppError> {
    let cal = crate::calendar::load(&state.db).await?;
    let stewards = sqlx::query(
        "SELECT u.id, u.display_name FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.base_id = $1 AND m.role = 'steward' ORDER BY u.username",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    let tickets = sqlx::query(
        "SELECT created_at, responded_at, responded_by, resolved_at, resolved_by, resolve_due_on, rating, \
         state, steward_id FROM tickets WHERE base_id = $1",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    let instant = |s: Option<String>| s.as_deref().and_then(time::parse_text);
    struct T {
        created: Option<DateTime<Utc>>,
        responded: Option<DateTime<Utc>>,
        responded_by: Option<String>,
        resolved: Option<DateTime<Utc>>,
        resolved_by: Option<String>,
        due_on: String,
        rating: Option<i64>,
        state: String,
        steward: Option<String>,
    }
    let tickets: Vec<T> = tickets
        .into_iter()
        .map(|r| T {
            created: instant(r.get(0)),
            responded: instant(r.get(1)),
            responded_by: r.get(2),
            resolved: instant(r.get(3)),
            resolved_by: r.get(4),
            due_on: r.get(5),
            rating: r.get(6),
            state: r.get(7),
            steward: r.get(8),
        })
        .collect();
    let mut out = Vec::new();
    for s in stewards {
        let id: String = s.get(0);
        let mine = |who: &Option<String>| who.as_deref() == Some(id.as_str());
        let responses: Vec<i64> = tickets
            .iter()
            .filter(|t| mine(&t.responded_by))
            .filter_map(|t| Some(sla::working_minutes_between(&cal, t.created?, t.responded?)))
            .collect();
        let resolved: Vec<&T> = tickets
            .iter()
            .filter(|t| mine(&t.resolved_by) && t.resolved.is_some())
            .collect();
        let resolutions: Vec<i64> = resolved
            .iter()
            .filter_map(|t| Some(sla::working_minutes_between(&cal, t.created?, t.resolved?)))
            .collect();
        let on_time = resolved
            .iter()
            .filter(|t| {
                t.resolved
                    .map(|r| r.with_timezone(&time::shanghai()).date_naive().to_string() <= t.due_on)
                    .unwrap_or(false)
            })
            .count() as i64;
        let ratings: Vec<i64> = resolved.iter().filter_map(|t| t.rating).collect();
        let handled = resolved.len() as i64;
        out.push(StewardRank {
            display_name: s.get(1),
            handled,
            in_hand: tickets
                .iter()
                .filter(|t| mine(&t.steward) && (t.state == "open" || t.state == "accepted"))
                .count() as i64,
            median_response_minutes: median(responses),
            median_resolution_minutes: median(resolutions),
            on_time_bp: (handled > 0).then(|| on_time * 10_000 / handled),
            avg_rating_x100: (!ratings.is_empty()).then(|| ratings.iter().sum::<i64>() * 100 / ratings.len() as i64),
            ratings: ratings.len() as i64,
            steward_id: id,
        });
    }
    // Most resolved first; among equals the more punctual, then the better rated.
    out.sort_by(|a, b| {
        b.handled
            .cmp(&a.handled)
            .then(b.on_time_bp.cmp(&a.on_time_bp))
            .then(b.avg_rating_x100.cmp(&a.avg_rating_x100))
            .then(a.display_name.cmp(&b.display_name))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![7]), Some(7));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![10, 1, 4, 3]), Some(3));
    }

    #[test]
    fn minutes_read_as_hours() {
        assert_eq!(minutes_text(None), "—");
        assert_eq!(minutes_text(Some(45)), "45分钟");
        assert_eq!(minutes_text(Some(120)), "2小时");
        assert_eq!(minutes_text(Some(200)), "3小时20分");
    }
}
