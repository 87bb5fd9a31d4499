//! The dashboard of a base for one month: every current indicator with its
//! actual for the period it is counted in (live for computed indicators, the
//! reported value for manual ones), its target and completion, and where the
//! figure drills down to.

use serde::Serialize;

use super::catalogue::{self, Definition};
use super::compute;
use super::measure::{completion_bp, percent_text, Measure};
use super::period::Period;
use super::targets::{self, Target};
use super::values;
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Card {
    pub key: String,
    pub name: String,
    pub unit: String,
    /// computed | manual
    pub kind: String,
    pub definition_version: i64,
    /// The period the figure is counted in (the month, or its quarter or year)
    pub period: String,
    /// Stored text of the actual (decimal, or integer fen); None when not yet reported
    pub actual: Option<String>,
    pub actual_display: Option<String>,
    pub target: Option<Target>,
    /// Completion in basis points (10000 = 100%), rounded down
    pub completion_bp: Option<i64>,
    pub behind_schedule: bool,
    /// Page listing the records behind the figure
    pub drill_href: String,
}

impl Card {
    pub fn completion_text(&self) -> String {
        self.completion_bp.map(percent_text).unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub base_code: String,
    pub month: String,
    pub cards: Vec<Card>,
}

pub async fn build(state: &AppState, base_id: &str, base_code: &str, month: Period) -> Result<Dashboard, AppError> {
    let defs = catalogue::current(state, base_id).await?;
    let all_targets = targets::for_periods(state, base_id, &[]).await?;
    // Every figure is an independent read: run them side by side on the
    // pool's connections, then put them back in catalogue order.
    let all_targets = std::sync::Arc::new(all_targets);
    let mut set = tokio::task::JoinSet::new();
    for (i, d) in defs.into_iter().enumerate() {
        let (state, base_id, base_code, targets) = (
            state.clone(),
            base_id.to_string(),
            base_code.to_string(),
            all_targets.clone(),
        );
        set.spawn(async move { (i, card(&state, &base_id, &base_code, &d, month, &targets).await) });
    }
    let mut cards: Vec<(usize, Card)> = Vec::with_capacity(set.len());
    while let Some(done) = set.join_next().await {
        let (i, c) = done.map_err(anyhow::Error::from)?;
        cards.push((i, c?));
    }
    cards.sort_by_key(|(i, _)| *i);
    let cards = cards.into_iter().map(|(_, c)| c).collect();
    Ok(Dashboard {
        base_code: base_code.to_string(),
        month: month.to_string(),
        cards,
    })
}

async fn card(
    state: &AppState,
    base_id: &str,
    base_code: &str,
    d: &Definition,
    month: Period,
    all_targets: &[Target],
) -> Result<Card, AppError> {
    let period = month.enclosing(d.period_kind());
    let actual = actual(state, base_id, d, period).await?;
    let target = all_targets
        .iter()
        .find(|t| t.key == d.key && t.period == period.to_string())
        .cloned();
    let target_measure = target
        .as_ref()
        .and_then(|t| Measure::parse(d.value_type(), &t.target).ok());
    let completion = match (actual, target_measure) {
        (Some(a), Some(t)) => completion_bp(a, t),
        (None, Some(_)) => Some(0),
        _ => None,
    };
    let deadline = target
        .as_ref()
        .and_then(|t| chrono::NaiveDate::parse_from_str(&t.deadline, "%Y-%m-%d").ok());
    let behind = match (completion, deadline) {
        (Some(c), Some(dl)) => targets::is_behind(c, period, dl, time::today()),
        _ => false,
    };
    Ok(Card {
        key: d.key.clone(),
        name: d.name.clone(),
        unit: d.unit.clone(),
        kind: d.kind.clone(),
        definition_version: d.version,
        period: period.to_string(),
        actual: actual.map(|a| a.stored()),
        actual_display: actual.map(|a| a.display()),
        target,
        completion_bp: completion,
        behind_schedule: behind,
        drill_href: format!("/b/{base_code}/indicators/drill/{}?period={period}", d.key),
    })
}

/// Live for a computed indicator; the reported value for a manual one.
async fn actual(state: &AppState, base_id: &str, d: &Definition, period: Period) -> Result<Option<Measure>, AppError> {
    if let Some(formula) = d.formula() {
        return Ok(Some(compute::evaluate(&state.db, base_id, formula, period).await?));
    }
    let stored = values::stored(state, base_id, &d.key, &period.to_string()).await?;
    Ok(stored.and_then(|v| Measure::parse(d.value_type(), &v.value).ok()))
}
