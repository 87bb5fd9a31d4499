//! 评审制: experts drawn at random from the base's pool by field, with
//! conflicts of interest excluded (declared, and computed from the registry:
//! see [`super::conflict`]), from a recorded seed so anyone can redo the draw and
//! get the same panel; then blind scoring on a weighted rubric and a
//! trimmed aggregate (highest and lowest dropped when there are at least 5).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::Row;

use super::case::{self, Case, Party};
use super::clock::{self, Stage};
use super::programme::{self, Criterion, ReviewMode};
use super::state::{Event, State};
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// Draws `n` of the candidates: sort by id, then a partial Fisher–Yates
/// shuffle driven by the seed. Pure, so the draw is reproducible.
pub fn draw(seed: u64, candidates: &[String], n: usize) -> Vec<String> {
    let mut pool: Vec<String> = candidates.to_vec();
    pool.sort();
    let mut rng = chuangtong_domain::SplitMix64::new(seed);
    let n = n.min(pool.len());
    for i in 0..n {
        let j = i + rng.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    pool
}

/// Balanced load: the seed's random order, then those with the fewest
/// unfinished reviews first (a stable sort keeps the random order among
/// equals). `loads[i]` is the load of `pool[i]`, as recorded with the draw.
pub fn draw_balanced(seed: u64, pool: &[String], loads: &[i64], n: usize) -> Vec<String> {
    let load: std::collections::HashMap<&str, i64> =
        pool.iter().map(String::as_str).zip(loads.iter().copied()).collect();
    let mut order = draw(seed, pool, pool.len());
    order.sort_by_key(|x| load.get(x.as_str()).copied().unwrap_or(0));
    order.truncate(n);
    order
}

/// Trimmed mean ×100, rounded half up: drops one highest and one lowest score when there are ≥ 5.
pub fn aggregate(scores: &[i64]) -> Option<i64> {
    if scores.is_empty() {
        return None;
    }
    let mut s = scores.to_vec();
    s.sort();
    let kept = if s.len() >= 5 { &s[1..s.len() - 1] } else { &s[..] };
    let sum: i64 = kept.iter().sum();
    let n = kept.len() as i64;
    Some((2 * sum + n) / (2 * n))
}

/// Weighted score ×100 of one expert: each criterion 0–100, weights sum to 100.
pub fn weighted(rubric: &[Criterion], scores: &Map<String, Value>) -> Result<i64, AppError> {
    let mut e = FieldErrors::default();
    let mut total = 0;
    for c in rubric {
        match scores.get(&c.key).and_then(Value::as_i64) {
            Some(v) if (0..=100).contains(&v) => total += v * c.weight,
            _ => e.push(
                &format!("scores.{}", c.key),
                "application.score",
                format!("“{}”应为0到100的整数分", c.label),
            ),
        }
    }
    for k in scores.keys() {
        if !rubric.iter().any(|c| &c.key == k) {
            e.push(
                &format!("scores.{k}"),
                "application.score_unknown",
                format!("评分细则没有“{k}”"),
            );
        }
    }
    e.into_result()?;
    Ok(total)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DrawRecord {
    /// Hex seed; `draw_balanced(seed, pool, loads, n)` gives `drawn` again
    pub seed: String,
    /// Eligible experts (the draw sorts them by id itself)
    pub pool: Vec<String>,
    /// Unfinished reviews of each pool expert at the time of the draw
    pub loads: Vec<i64>,
    /// Expert id → why they were excluded (every reason, joined)
    pub excluded: Vec<(String, String)>,
    /// The same with each reason's stable code
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    pub drawn: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exclusion {
    pub expert_id: String,
    pub reasons: Vec<super::conflict::Reason>,
}

/// Draws the panel for an accepted case of a 评审制 programme.
pub async fn draw_panel(state: &AppState, actor: &Actor, base_id: &str, id: &str) -> Result<DrawRecord, AppError> {
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    super::state::transition(c.state, Event::DrawExperts)?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    if p.review_mode != ReviewMode::Panel {
        return Err(AppError::refused("application.wrong_mode", "核准制批次不进行专家评审"));
    }
    let circle = super::conflict::circle(&mut tx, base_id, id, &c.enterprise_id, p.conflict_months).await?;
    let rows = sqlx::query(
        "SELECT x.id, x.fields, \
           (SELECT COUNT(*) FROM expert_assignments s WHERE s.expert_id = x.id AND s.score_x100 IS NULL) \
         FROM experts x WHERE x.base_id = $1 ORDER BY x.id",
    )
    .bind(base_id)
    .fetch_all(&mut *tx)
    .await?;
    // Each expert's employer among the base's enterprises, matched by name.
    let employers = sqlx::query(
        "SELECT x.id, e.id FROM experts x JOIN enterprises e ON e.base_id = x.base_id AND e.name = TRIM(x.organisation) \
         WHERE x.base_id = $1",
    )
    .bind(base_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut pool = Vec::new();
    let mut loads = Vec::new();
    let mut excluded = Vec::new();
    let mut exclusions = Vec::new();
    for r in &rows {
        let (xid, fields): (String, String) = (r.get(0), r.get(1));
        if !p.expert_field.is_empty() && !fields.split(',').any(|f| f.trim() == p.expert_field) {
            continue;
        }
        let view = super::conflict::ExpertView {
            employers: employers
                .iter()
                .filter(|e| e.get::<String, _>(0) == xid)
                .map(|e| e.get(1))
                .collect(),
            id: xid.clone(),
        };
        let why = super::conflict::reasons(&circle, &view);
        if why.is_empty() {
            pool.push(xid);
            loads.push(r.get::<i64, _>(2));
        } else {
            let joined = why.iter().map(|w| w.reason.as_str()).collect::<Vec<_>>().join("；");
            excluded.push((xid.clone(), joined));
            exclusions.push(Exclusion {
                expert_id: xid,
                reasons: why,
            });
        }
    }
    let n = p.experts_per_application as usize;
    if pool.len() < n {
        return Err(AppError::refused(
            "application.experts_insufficient",
            format!("符合条件的专家只有{}人，少于所需的{}人", pool.len(), n),
        ));
    }
    let seed = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
    let drawn = draw_balanced(seed, &pool, &loads, n);
    let record = DrawRecord {
        seed: format!("{seed:016x}"),
        pool,
        loads,
        excluded,
        exclusions,
        drawn,
    };
    let now = time::now_text();
    for x in &record.drawn {
        super::notices::tell(
            &mut tx,
            base_id,
            crate::notify::Recipient::Subject(x),
            "application.expert_drawn",
            id,
            "您被抽取为评审专家",
            format!(
                "请在 {} 个工作日内完成评分。评分前请确认与申报单位无利益冲突，如有请申报回避。",
                p.limits.expert_review
            ),
        )
        .await?;
        sqlx::query(
            "INSERT INTO expert_assignments (id, base_id, application_id, expert_id, enterprise_id, drawn_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crate::new_id())
        .bind(base_id)
        .bind(id)
        .bind(x)
        .bind(&c.enterprise_id)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    let record_json = serde_json::to_value(&record).map_err(anyhow::Error::from)?;
    sqlx::query("UPDATE applications SET draw_seed = $1, draw_json = $2 WHERE id = $3")
        .bind(&record.seed)
        .bind(record_json.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    case::step(
        state,
        &mut tx,
        actor,
        base_id,
        &c,
        Event::DrawExperts,
        "",
        json!({ "draw": record_json }),
    )
    .await?;
    let today = time::today();
    let cal = crate::calendar::load(&state.db).await?;
    let due = clock::due(&cal, today, p.limits.expert_review)?;
    clock::open(&mut tx, base_id, id, Stage::ExpertReview, today, due).await?;
    tx.commit().await?;
    Ok(record)
}

/// The recorded draw of a case (reviewers).
pub async fn draw_of(state: &AppState, base_id: &str, id: &str) -> Result<Option<DrawRecord>, AppError> {
    let row = sqlx::query("SELECT draw_json FROM applications WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let text: Option<String> = row.get(0);
    Ok(text.and_then(|t| {
        let v: Value = serde_json::from_str(&t).ok()?;
        Some(DrawRecord {
            seed: v["seed"].as_str()?.into(),
            pool: serde_json::from_value(v["pool"].clone()).ok()?,
            loads: serde_json::from_value(v["loads"].clone()).ok()?,
            excluded: serde_json::from_value(v["excluded"].clone()).ok()?,
            exclusions: serde_json::from_value(v["exclusions"].clone()).unwrap_or_default(),
            drawn: serde_json::from_value(v["drawn"].clone()).ok()?,
        })
    }))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct ScoreForm {
    /// Criterion key → 0–100
    #[schema(value_type = Object)]
    pub scores: Map<String, Value>,
    #[serde(default)]
    pub comment: String,
}

/// An expert's score. The last score of the panel completes the review.
pub async fn score(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    expert_id: &str,
    id: &str,
    f: &ScoreForm,
) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let party = Party::Expert(expert_id.to_string());
    let c = case::load(&mut tx, base_id, id, &party).await?;
    if c.state != State::UnderExpertReview {
        return Err(AppError::refused(
            "application.not_under_review",
            "该申报当前不在专家评审阶段",
        ));
    }
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let total = weighted(&p.rubric, &f.scores)?;
    let updated = sqlx::query(
        "UPDATE expert_assignments SET score_x100 = $1, rubric_json = $2, scored_at = $3 \
         WHERE application_id = $4 AND expert_id = $5 AND score_x100 IS NULL",
    )
    .bind(total)
    .bind(json!({ "scores": f.scores, "comment": f.comment }).to_string())
    .bind(time::now_text())
    .bind(id)
    .bind(expert_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(AppError::refused(
            "application.already_scored",
            "您已对该申报评分，不能重复评分",
        ));
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.scored",
            entity: "application",
            entity_id: Some(id),
            before: None,
            after: Some(json!({ "expert_id": expert_id, "score_x100": total })),
        },
    )
    .await?;
    let scores: Vec<Option<i64>> = sqlx::query("SELECT score_x100 FROM expert_assignments WHERE application_id = $1")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if scores.iter().all(Option::is_some) {
        let all: Vec<i64> = scores.into_iter().flatten().collect();
        let agg = aggregate(&all);
        sqlx::query("UPDATE applications SET score_x100 = $1 WHERE id = $2")
            .bind(agg)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let system = Actor::system("panel");
        case::step(
            state,
            &mut tx,
            &system,
            base_id,
            &c,
            Event::CompleteScoring,
            "",
            json!({ "score_x100": agg, "scores": all }),
        )
        .await?;
        clock::close(&mut tx, id, Stage::ExpertReview, time::today(), None).await?;
    }
    tx.commit().await?;
    case::get(state, base_id, &party, id).await
}

/// Whether this expert has already scored this case.
pub async fn scored(state: &AppState, id: &str, expert_id: &str) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "SELECT 1 FROM expert_assignments WHERE application_id = $1 AND expert_id = $2 AND score_x100 IS NOT NULL",
    )
    .bind(id)
    .bind(expert_id)
    .fetch_optional(state.db.pool())
    .await?
    .is_some())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    pub expert_id: String,
    pub expert_name: String,
    pub score_x100: Option<i64>,
    pub scored_at: Option<String>,
}

/// The panel and its scores (reviewers only; experts never see each other's).
pub async fn assignments(state: &AppState, base_id: &str, id: &str) -> Result<Vec<Assignment>, AppError> {
    Ok(sqlx::query(
        "SELECT s.expert_id, x.name, s.score_x100, s.scored_at FROM expert_assignments s JOIN experts x ON x.id = s.expert_id \
         WHERE s.base_id = $1 AND s.application_id = $2 ORDER BY x.name",
    )
    .bind(base_id)
    .bind(id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Assignment {
        expert_id: r.get(0),
        expert_name: r.get(1),
        score_x100: r.get(2),
        scored_at: r.get(3),
    })
    .collect())
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct ConflictForm {
    pub expert_id: String,
    pub enterprise_id: String,
    pub reason: String,
}

/// Declares a conflict of interest (the expert for themself, or a base admin).
pub async fn declare_conflict(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    f: &ConflictForm,
) -> Result<(), AppError> {
    let reason = f.reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "text.required", "请填写回避理由"));
    }
    let mut tx = state.db.begin().await?;
    for (table, field, v) in [
        ("experts", "expert_id", &f.expert_id),
        ("enterprises", "enterprise_id", &f.enterprise_id),
    ] {
        let found = sqlx::query(&format!("SELECT 1 FROM {table} WHERE base_id = $1 AND id = $2"))
            .bind(base_id)
            .bind(v)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(AppError::field(field, "application.unknown", "本基地没有该记录"));
        }
    }
    sqlx::query(
        "INSERT INTO expert_conflicts (id, base_id, expert_id, enterprise_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (expert_id, enterprise_id) DO UPDATE SET reason = excluded.reason",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(&f.expert_id)
    .bind(&f.enterprise_id)
    .bind(reason)
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.conflict_declared",
            entity: "expert",
            entity_id: Some(&f.expert_id),
            before: None,
            after: Some(json!({ "enterprise_id": f.enterprise_id, "reason": reason })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_panel_in_any_input_order() {
        let pool: Vec<String> = (0..20).map(|i| format!("x{i:02}")).collect();
        let mut shuffled = pool.clone();
        shuffled.reverse();
        let a = draw(42, &pool, 5);
        assert_eq!(a, draw(42, &shuffled, 5));
        assert_eq!(a.len(), 5);
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5);
        assert_ne!(a, draw(43, &pool, 5));
        assert_eq!(draw(1, &pool[..3], 5).len(), 3);
    }

    #[test]
    fn a_balanced_draw_prefers_the_least_loaded() {
        let pool: Vec<String> = (0..6).map(|i| format!("x{i}")).collect();
        let loads = [3, 0, 3, 0, 3, 0];
        let mut a = draw_balanced(7, &pool, &loads, 3);
        assert_eq!(a, draw_balanced(7, &pool, &loads, 3));
        a.sort();
        assert_eq!(a, vec!["x1", "x3", "x5"]);
        // With equal loads it is the plain random draw.
        assert_eq!(draw_balanced(9, &pool, &[0; 6], 4), draw(9, &pool, 4));
    }

    #[test]
    fn aggregate_drops_highest_and_lowest_from_five() {
        assert_eq!(aggregate(&[]), None);
        assert_eq!(aggregate(&[8000, 9000]), Some(8500));
        assert_eq!(aggregate(&[6000, 7000, 8000, 9000]), Some(7500));
        // 10000 and 1000 dropped: (7000 + 8000 + 8001) / 3 = 7667 (rounded half up)
        assert_eq!(aggregate(&[10000, 7000, 1000, 8000, 8001]), Some(7667));
    }

    #[test]
    fn weighted_scores_are_integers_times_100() {
        let rubric = vec![
            Criterion {
                key: "a".into(),
                label: "创新性".into(),
                weight: 60,
            },
            Criterion {
                key: "b".into(),
                label: "可行性".into(),
                weight: 40,
            },
        ];
        let ok: Map<String, Value> = serde_json::from_value(json!({ "a": 90, "b": 75 })).unwrap();
        assert_eq!(weighted(&rubric, &ok).unwrap(), 90 * 60 + 75 * 40);
        let bad: Map<String, Value> = serde_json::from_value(json!({ "a": 101, "c": 1 })).unwrap();
        assert!(weighted(&rubric, &bad).is_err());
    }
}
