//! Closing a period (月报): computed indicators are evaluated and recorded
//! with the definition version they were computed with, then the 双创指数 of
//! the month is computed from them and stored in the index history — all in
//! one transaction, so a report never mixes two moments.

use serde::{Deserialize, Serialize};

use super::catalogue;
use super::compute;
use super::index::{self, Score};
use super::period::{Period, PeriodKind};
use super::values::{self, CheckedValue};
use crate::audit::Actor;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SnapshotForm {
    /// The month to close, e.g. 2026-05
    #[serde(default)]
    pub period: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub period: String,
    pub recorded: usize,
    pub index: Score,
}

fn month(form: &SnapshotForm) -> Result<Period, AppError> {
    let mut e = FieldErrors::default();
    let p = e.take("period", Period::parse(&form.period));
    if p.is_some_and(|p| p.kind != PeriodKind::Month) {
        e.push("period", "period.month_required", "请按月结转，时期格式如 2026-05");
    }
    e.into_result()?;
    Ok(p.expect("checked"))
}

pub async fn close(state: &AppState, actor: &Actor, base_id: &str, form: &SnapshotForm) -> Result<Snapshot, AppError> {
    let month = month(form)?;
    let defs = catalogue::current(state, base_id).await?;
    // Evaluate before the write transaction: reads need no lock.
    let mut computed = Vec::new();
    for d in defs.iter().filter(|d| !d.is_manual()) {
        if let Some(formula) = d.formula() {
            let period = month.enclosing(d.period_kind());
            let measure = compute::evaluate(&state.db, base_id, formula, period).await?;
            computed.push(CheckedValue {
                definition: d.clone(),
                period,
                measure,
            });
        }
    }
    let mut tx = state.db.begin().await?;
    for v in &computed {
        values::store(&mut tx, state, actor, base_id, v, "computed", None).await?;
    }
    let score = index::record(&mut tx, state, actor, base_id, month).await?;
    tx.commit().await?;
    Ok(Snapshot {
        period: month.to_string(),
        recorded: computed.len(),
        index: score,
    })
}
