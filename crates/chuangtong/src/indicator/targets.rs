//! Targets (目标任务): per indicator and period, a figure to reach, the org
//! unit and person responsible, and a deadline — the shape of 福州's 双创工作
//! 月报制 (责任单位、责任人、完成时限).
//!
//! A target is behind schedule when its completion is below the share of the
//! time already gone between the period's start and the deadline, or when the
//! deadline has passed short of 100%.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::catalogue::{self, Definition};
use super::measure::Measure;
use super::period::Period;
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TargetForm {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub period: String,
    /// Same encoding as a value: decimal for counts, integer fen for money
    #[serde(default)]
    pub target: String,
    /// Responsible org unit of the base (id); empty for none
    #[serde(default)]
    pub org_unit_id: String,
    #[serde(default)]
    pub responsible_person: String,
    /// YYYY-MM-DD
    #[serde(default)]
    pub deadline: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub key: String,
    pub period: String,
    pub target: String,
    pub target_display: String,
    pub org_unit_id: Option<String>,
    pub org_unit_name: Option<String>,
    pub responsible_person: String,
    pub deadline: String,
}

struct CheckedTarget {
    definition: Definition,
    period: Period,
    target: Measure,
    org_unit_id: Option<String>,
    person: String,
    deadline: NaiveDate,
}

async fn check(state: &AppState, base_id: &str, f: &TargetForm) -> Result<CheckedTarget, AppError> {
    let defs = catalogue::current(state, base_id).await?;
    let mut e = FieldErrors::default();
    let definition = defs.iter().find(|d| d.key == f.key.trim());
    if definition.is_none() {
        e.push("key", "indicator.unknown", format!("本基地没有指标“{}”", f.key.trim()));
    }
    let period = e.take("period", Period::parse(&f.period));
    if let (Some(d), Some(p)) = (definition, period) {
        if p.kind != d.period_kind() {
            e.push(
                "period",
                "period.kind_mismatch",
                format!("“{}”按{}统计，时期“{p}”不符", d.name, d.period_kind().label()),
            );
        }
    }
    let target = definition.and_then(|d| e.take("target", Measure::parse(d.value_type(), &f.target)));
    if target.is_some_and(|t| t.raw == 0) {
        e.push("target", "target.zero", "目标值应大于0");
    }
    let org_unit_id = org_unit(state, base_id, &f.org_unit_id, &mut e).await?;
    let person = f.responsible_person.trim().to_string();
    if person.chars().count() > 50 {
        e.push("responsible_person", "text.too_long", "责任人不能超过50个字");
    }
    let deadline = match NaiveDate::parse_from_str(f.deadline.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            e.push("deadline", "date.format", "完成时限格式应为YYYY-MM-DD");
            None
        }
    };
    e.into_result()?;
    Ok(CheckedTarget {
        definition: definition.expect("checked").clone(),
        period: period.expect("checked"),
        target: target.expect("checked"),
        org_unit_id,
        person,
        deadline: deadline.expect("checked"),
    })
}

/// The org unit must belong to this base (an id of another base is "unknown").
async fn org_unit(state: &AppState, base_id: &str, id: &str, e: &mut FieldErrors) -> Result<Option<String>, AppError> {
    let id = id.trim();
    if id.is_empty() {
        return Ok(None);
    }
    let found = sqlx::query("SELECT id FROM org_units WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?;
    if found.is_none() {
        e.push("org_unit_id", "org_unit.unknown", "责任单位不是本基地的组织机构");
    }
    Ok(found.map(|r| r.get(0)))
}

/// The use case behind "下达目标": one transaction, one audit entry.
pub async fn set(state: &AppState, actor: &Actor, base_id: &str, form: &TargetForm) -> Result<(), AppError> {
    let t = check(state, base_id, form).await?;
    let period = t.period.to_string();
    let mut tx = state.db.begin().await?;
    let before: Option<String> =
        sqlx::query("SELECT target FROM indicator_targets WHERE base_id = $1 AND key = $2 AND period = $3")
            .bind(base_id)
            .bind(&t.definition.key)
            .bind(&period)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0));
    sqlx::query(
        "INSERT INTO indicator_targets (id, base_id, key, period, target, org_unit_id, responsible_person, deadline, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (base_id, key, period) DO UPDATE SET target = excluded.target, \
         org_unit_id = excluded.org_unit_id, responsible_person = excluded.responsible_person, \
         deadline = excluded.deadline, updated_at = excluded.updated_at",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(&t.definition.key)
    .bind(&period)
    .bind(t.target.stored())
    .bind(&t.org_unit_id)
    .bind(&t.person)
    .bind(t.deadline.to_string())
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "indicator.target_set",
            entity: "indicator_target",
            entity_id: Some(&format!("{}@{}", t.definition.key, period)),
            before: before.map(|b| json!({ "target": b })),
            after: Some(json!({ "target": t.target.stored(), "org_unit_id": t.org_unit_id,
                "responsible_person": t.person, "deadline": t.deadline.to_string() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Targets of a base for the given periods (any kind), keyed by (key, period).
pub async fn for_periods(state: &AppState, base_id: &str, periods: &[String]) -> Result<Vec<Target>, AppError> {
    let rows = sqlx::query(
        "SELECT t.key, t.period, t.target, t.org_unit_id, o.name, t.responsible_person, t.deadline, d.value_type \
         FROM indicator_targets t \
         LEFT JOIN org_units o ON o.id = t.org_unit_id \
         LEFT JOIN indicator_definitions d ON d.base_id = t.base_id AND d.key = t.key AND d.is_current = 1 \
         WHERE t.base_id = $1 ORDER BY t.period, t.key",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(target_from_row)
        .filter(|t| periods.is_empty() || periods.contains(&t.period))
        .collect())
}

fn target_from_row(r: &sqlx::any::AnyRow) -> Target {
    let target: String = r.get(2);
    let value_type = r
        .get::<Option<String>, _>(7)
        .and_then(|v| super::measure::ValueType::parse(&v))
        .unwrap_or(super::measure::ValueType::Count);
    Target {
        key: r.get(0),
        period: r.get(1),
        target_display: Measure::parse(value_type, &target)
            .map(|m| m.display())
            .unwrap_or_else(|_| target.clone()),
        target,
        org_unit_id: r.get(3),
        org_unit_name: r.get(4),
        responsible_person: r.get(5),
        deadline: r.get(6),
    }
}

/// Share of the time from the period's start to the deadline already gone, in bp.
pub fn expected_bp(period: Period, deadline: NaiveDate, today: NaiveDate) -> i64 {
    let start = period.first_day();
    if today < start {
        return 0;
    }
    let span = (deadline - start).num_days() + 1;
    let gone = (today - start).num_days() + 1;
    if span <= 0 || gone >= span {
        10_000
    } else {
        gone * 10_000 / span
    }
}

/// Behind schedule: completion below the time-proportional expectation.
pub fn is_behind(completion_bp: i64, period: Period, deadline: NaiveDate, today: NaiveDate) -> bool {
    completion_bp < expected_bp(period, deadline, today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn behind_schedule_follows_the_time_gone() {
        let q = Period::parse("2026-Q1").unwrap();
        // Half-way through a 90-day window (45 of 90 days gone) 50% is expected.
        assert_eq!(expected_bp(q, d("2026-03-31"), d("2026-02-14")), 5000);
        assert!(is_behind(4999, q, d("2026-03-31"), d("2026-02-14")));
        assert!(!is_behind(5000, q, d("2026-03-31"), d("2026-02-14")));
        // After the deadline anything short of 100% is behind.
        assert!(is_behind(9999, q, d("2026-03-31"), d("2026-04-02")));
        assert!(!is_behind(10_000, q, d("2026-03-31"), d("2026-04-02")));
        // Before the period nothing is expected.
        assert_eq!(expected_bp(q, d("2026-03-31"), d("2025-12-01")), 0);
    }
}
