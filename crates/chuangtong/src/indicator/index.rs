//! 双创指数: a composite index of a base, computed reproducibly with integer
//! arithmetic. The method is fixed and versioned (see the method page):
//!
//! 1. Ten component indicators with stated weights (summing to 100).
//! 2. Each base's input for a component is its own recorded value for the
//!    period (a month's value, else its quarter's, else its year's; money in
//!    whole yuan), or else the figure its report states in the seed.
//! 3. Min-max normalisation across every base with an input:
//!    `(v − min) × 10000 ÷ (max − min)` basis points, rounded down; 10000
//!    when all inputs are equal; 0 for a base without an input.
//! 4. Index = Σ weight × normalised ÷ 100, rounded down: 0–10000 bp, shown
//!    as 0.00–100.00.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::measure::{Measure, ValueType};
use super::period::{Period, PeriodKind};
use super::seed::to_common_unit;
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

pub const METHOD_VERSION: i64 = 1;

/// (key, weight, name, common unit)
pub const COMPONENTS: [(&str, i64, &str, &str); 10] = [
    ("new_enterprises", 15, "新登记企业", "家"),
    ("financing_raised", 15, "企业融资额", "元"),
    ("incubator_area", 10, "载体面积", "平方米"),
    ("incubators", 10, "孵化器", "家"),
    ("makerspaces", 10, "众创空间", "家"),
    ("talents", 10, "高层次人才", "人"),
    ("high_tech_enterprises", 10, "高新技术企业", "家"),
    ("patents", 10, "专利", "件"),
    ("events", 5, "双创活动", "场"),
    ("startup_teams", 5, "创业团队", "个"),
];

/// Where an input came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Recorded,
    Seed,
}

/// Inputs of every base: base id → key → (value in common unit, origin).
pub type Inputs = BTreeMap<String, BTreeMap<String, (i64, Origin)>>;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Component {
    pub key: String,
    pub weight: i64,
    pub input: Option<i64>,
    /// recorded | seed
    pub origin: Option<String>,
    pub min: i64,
    pub max: i64,
    pub normalised_bp: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub score_bp: i64,
    pub components: Vec<Component>,
}

/// The pure core: scores of every base from their inputs.
pub fn score_all(inputs: &Inputs) -> BTreeMap<String, Score> {
    let ranges: Vec<Option<(i64, i64)>> = COMPONENTS
        .iter()
        .map(|(key, ..)| {
            let values = inputs.values().filter_map(|m| m.get(*key).map(|v| v.0));
            values.fold(None, |acc, v| {
                Some(acc.map_or((v, v), |(lo, hi): (i64, i64)| (lo.min(v), hi.max(v))))
            })
        })
        .collect();
    inputs
        .iter()
        .map(|(base, own)| (base.clone(), score_one(own, &ranges)))
        .collect()
}

fn score_one(own: &BTreeMap<String, (i64, Origin)>, ranges: &[Option<(i64, i64)>]) -> Score {
    let components: Vec<Component> = COMPONENTS
        .iter()
        .zip(ranges)
        .map(|((key, weight, ..), range)| {
            let input = own.get(*key).copied();
            let (min, max) = range.unwrap_or((0, 0));
            Component {
                key: key.to_string(),
                weight: *weight,
                input: input.map(|i| i.0),
                origin: input.map(|i| if i.1 == Origin::Recorded { "recorded" } else { "seed" }.to_string()),
                min,
                max,
                normalised_bp: input.map_or(0, |(v, _)| normalise(v, min, max)),
            }
        })
        .collect();
    let weighted: i128 = components
        .iter()
        .map(|c| c.weight as i128 * c.normalised_bp as i128)
        .sum();
    Score {
        score_bp: (weighted / 100) as i64,
        components,
    }
}

/// Min-max in basis points, rounded down.
pub fn normalise(v: i64, min: i64, max: i64) -> i64 {
    if max <= min {
        return 10_000;
    }
    ((v as i128 - min as i128) * 10_000 / (max as i128 - min as i128)) as i64
}

/// Loads every base's inputs for a period, reading inside the caller's
/// transaction so values recorded in the same use case count.
pub async fn load_inputs(tx: &mut Tx, period: Period) -> sqlx::Result<Inputs> {
    let mut inputs = Inputs::new();
    for r in sqlx::query("SELECT b.id FROM bases b").fetch_all(&mut **tx).await? {
        inputs.insert(r.get(0), BTreeMap::new());
    }
    let keys: Vec<&str> = COMPONENTS.iter().map(|c| c.0).collect();
    for r in sqlx::query("SELECT base_id, key, value, unit FROM base_indicators ORDER BY position DESC")
        .fetch_all(&mut **tx)
        .await?
    {
        let key: String = r.get(1);
        if !keys.contains(&key.as_str()) {
            continue;
        }
        // Descending position: the base's first figure for a key wins.
        if let Some((v, _)) = to_common_unit(&r.get::<String, _>(2), &r.get::<String, _>(3)) {
            inputs.entry(r.get(0)).or_default().insert(key, (v, Origin::Seed));
        }
    }
    // Most specific period last, so it overrides: year, then quarter, then month.
    for p in [PeriodKind::Year, PeriodKind::Quarter, PeriodKind::Month].map(|k| period.enclosing(k)) {
        let rows = sqlx::query(
            "SELECT v.base_id, v.key, v.value, d.value_type FROM indicator_values v \
             JOIN indicator_definitions d ON d.id = v.definition_id WHERE v.period = $1",
        )
        .bind(p.to_string())
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let key: String = r.get(1);
            if !keys.contains(&key.as_str()) {
                continue;
            }
            if let Some(v) = recorded_in_common_unit(&r.get::<String, _>(2), &r.get::<String, _>(3)) {
                inputs.entry(r.get(0)).or_default().insert(key, (v, Origin::Recorded));
            }
        }
    }
    Ok(inputs)
}

/// Counts in whole units; money from fen to whole yuan.
fn recorded_in_common_unit(value: &str, value_type: &str) -> Option<i64> {
    let t = ValueType::parse(value_type)?;
    let m = Measure::parse(t, value).ok()?;
    let whole = match t {
        ValueType::Count => m.whole_units(),
        ValueType::Fen => m.raw / 100,
    };
    i64::try_from(whole).ok()
}

/// Computes the index of one base for a period and stores it in its history
/// (replacing an earlier computation of the same period), inside the
/// caller's transaction, with an audit entry.
pub async fn record(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    period: Period,
) -> Result<Score, AppError> {
    let inputs = load_inputs(tx, period).await?;
    let score = score_all(&inputs).remove(base_id).ok_or(AppError::NotFound)?;
    let components = serde_json::to_string(&score.components).map_err(anyhow::Error::from)?;
    sqlx::query(
        "INSERT INTO indicator_index_history (id, base_id, period, method_version, score_bp, components_json, computed_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (base_id, period, method_version) DO UPDATE SET \
         score_bp = excluded.score_bp, components_json = excluded.components_json, computed_at = excluded.computed_at",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(period.to_string())
    .bind(METHOD_VERSION)
    .bind(score.score_bp)
    .bind(&components)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "indicator.index_computed",
            entity: "indicator_index",
            entity_id: Some(&period.to_string()),
            before: None,
            after: Some(json!({ "score_bp": score.score_bp, "method_version": METHOD_VERSION })),
        },
    )
    .await?;
    Ok(score)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct IndexPoint {
    pub period: String,
    pub method_version: i64,
    pub score_bp: i64,
    /// e.g. "63.25"
    pub score: String,
    pub components: Vec<Component>,
    pub computed_at: String,
}

pub async fn history(state: &AppState, base_id: &str) -> Result<Vec<IndexPoint>, AppError> {
    let rows = sqlx::query(
        "SELECT period, method_version, score_bp, components_json, computed_at FROM indicator_index_history \
         WHERE base_id = $1 ORDER BY period, method_version",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let bp: i64 = r.get(2);
            IndexPoint {
                period: r.get(0),
                method_version: r.get(1),
                score_bp: bp,
                score: score_text(bp),
                components: deserialize_components(&r.get::<String, _>(3)),
                computed_at: r.get(4),
            }
        })
        .collect())
}

fn deserialize_components(s: &str) -> Vec<Component> {
    let v: Vec<serde_json::Value> = serde_json::from_str(s).unwrap_or_default();
    v.iter()
        .map(|c| Component {
            key: c["key"].as_str().unwrap_or("").into(),
            weight: c["weight"].as_i64().unwrap_or(0),
            input: c["input"].as_i64(),
            origin: c["origin"].as_str().map(String::from),
            min: c["min"].as_i64().unwrap_or(0),
            max: c["max"].as_i64().unwrap_or(0),
            normalised_bp: c["normalised_bp"].as_i64().unwrap_or(0),
        })
        .collect()
}

/// 6325 bp → "63.25".
pub fn score_text(bp: i64) -> String {
    format!("{}.{:02}", bp / 100, bp % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(rows: &[(&str, &str, i64)]) -> Inputs {
        let mut i = Inputs::new();
        for (base, key, v) in rows {
            i.entry(base.to_string())
                .or_default()
                .insert(key.to_string(), (*v, Origin::Seed));
        }
        i
    }

    #[test]
    fn weights_sum_to_one_hundred() {
        assert_eq!(COMPONENTS.iter().map(|c| c.1).sum::<i64>(), 100);
    }

    #[test]
    fn min_max_normalisation_in_integers() {
        let s = score_all(&inputs(&[
            ("A", "new_enterprises", 100),
            ("B", "new_enterprises", 400),
            ("C", "new_enterprises", 200),
            ("C", "patents", 7),
        ]));
        // A is the minimum (0), B the maximum (10000 × 15 / 100 = 1500 bp).
        assert_eq!(s["A"].score_bp, 0);
        assert_eq!(s["B"].score_bp, 1500);
        // C: (200 − 100) × 10000 / 300 = 3333 bp → 3333 × 15 = 49995; patents alone: 10000 × 10.
        assert_eq!(s["C"].score_bp, (3333 * 15 + 10_000 * 10) / 100);
        assert_eq!(score_text(s["C"].score_bp), "14.99");
    }
}
