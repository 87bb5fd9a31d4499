//! The programme report a base admin reads: how many applications are in
//! each state, the pass rate, the money asked, approved and paid; for every
//! stage, and for every department (the org unit of the staff member who
//! ended the stage), how often it finished within its time limit; for
//! 评审制, the ranking against the funding line, inter-rater agreement
//! (ICC(1)), each expert's calibration and the outlier scores (see
//! [`super::agreement`]). Rates are integer basis points (no floats anywhere
//! near public money).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::agreement::{self, Agreement};
use super::clock::Stage;
use super::programme::{self, Programme};
use super::state::State;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StageTimeliness {
    pub stage: String,
    pub stage_label: String,
    pub limit_working_days: i64,
    pub closed: i64,
    pub on_time: i64,
    /// on_time / closed in basis points; None before any stage closed
    pub on_time_rate_bp: Option<i64>,
    /// Still running and already past the due date
    pub overdue_now: i64,
}

/// One scored application in the ranking, against the funding line.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Ranked {
    pub application_id: String,
    pub enterprise_name: String,
    pub score_x100: i64,
    pub amount_requested_fen: i64,
    /// Requested amounts of this and every better-ranked application
    pub cumulative_fen: i64,
    /// Within the budget when funded in rank order
    pub above_line: bool,
    /// Mean score with each expert's lenience taken off (advisory; ranking uses score_x100)
    pub calibrated_x100: Option<i64>,
}

/// On-time rate of the stages one department ended.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DepartmentTimeliness {
    /// The org unit's name; "未设部门" for staff without one
    pub department: String,
    pub stage: String,
    pub stage_label: String,
    pub closed: i64,
    pub on_time: i64,
    pub on_time_rate_bp: Option<i64>,
}

/// The stages staff end (受理/预审, 审批, 兑现); 补正 is the applicant's,
/// 专家评审 the panel's and 公示期 ends by the calendar.
pub const STAFF_STAGES: [Stage; 3] = [Stage::PreReview, Stage::Approval, Stage::Payout];

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub programme: Programme,
    /// State → number of applications
    pub by_state: BTreeMap<String, i64>,
    /// Submitted at least once (drafts and withdrawn drafts excluded)
    pub submitted: i64,
    /// Approved, paid or evaluated
    pub passed: i64,
    pub rejected: i64,
    /// passed / (passed + rejected) in basis points
    pub pass_rate_bp: Option<i64>,
    pub requested_fen: i64,
    pub approved_fen: i64,
    pub paid_fen: i64,
    pub stages: Vec<StageTimeliness>,
    /// Per department and staff stage
    pub departments: Vec<DepartmentTimeliness>,
    /// 评审制: agreement, calibration and outliers of the completed panels
    pub agreement: Option<Agreement>,
    /// 评审制: scored applications by score, with the funding line drawn at the budget
    pub ranking: Vec<Ranked>,
}

/// Ranks by score (ties: smaller request first, then id, so the order is
/// stable) and funds in that order until the budget is used up.
pub fn rank(mut rows: Vec<(String, String, i64, i64)>, budget_fen: i64) -> Vec<Ranked> {
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.3.cmp(&b.3)).then(a.0.cmp(&b.0)));
    let mut cumulative = 0i64;
    rows.into_iter()
        .map(|(application_id, enterprise_name, score_x100, amount)| {
            cumulative = cumulative.saturating_add(amount);
            Ranked {
                application_id,
                enterprise_name,
                score_x100,
                amount_requested_fen: amount,
                cumulative_fen: cumulative,
                above_line: cumulative <= budget_fen,
                calibrated_x100: None,
            }
        })
        .collect()
}

pub fn rate_bp(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (part * 10_000 + whole / 2) / whole)
}

pub async fn report(state: &AppState, base_id: &str, programme_id: &str) -> Result<Report, AppError> {
    let programme = programme::get(state, base_id, programme_id).await?;
    let rows = sqlx::query(
        "SELECT a.state, COUNT(*), CAST(SUM(a.amount_requested_fen) AS BIGINT), \
         CAST(SUM(COALESCE(a.amount_approved_fen, 0)) AS BIGINT), \
         CAST(SUM(CASE WHEN a.payout_transfer_id IS NULL THEN 0 ELSE COALESCE(a.amount_approved_fen, 0) END) AS BIGINT), \
         CAST(SUM(CASE WHEN EXISTS (SELECT 1 FROM application_events v WHERE v.application_id = a.id AND v.event = 'submit') THEN 1 ELSE 0 END) AS BIGINT) \
         FROM applications a WHERE a.base_id = $1 AND a.programme_id = $2 GROUP BY a.state",
    )
    .bind(base_id)
    .bind(programme_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut r = Report {
        programme,
        by_state: BTreeMap::new(),
        submitted: 0,
        passed: 0,
        rejected: 0,
        pass_rate_bp: None,
        requested_fen: 0,
        approved_fen: 0,
        paid_fen: 0,
        stages: Vec::new(),
        departments: Vec::new(),
        agreement: None,
        ranking: Vec::new(),
    };
    for row in &rows {
        let st: String = row.get(0);
        let n: i64 = row.get(1);
        let parsed = State::parse(&st);
        r.by_state.insert(st, n);
        r.submitted += row.get::<i64, _>(5);
        if parsed != Some(State::Draft) {
            r.requested_fen += row.get::<i64, _>(2);
        }
        if parsed.is_some_and(State::passed) {
            r.passed += n;
            r.approved_fen += row.get::<i64, _>(3);
        }
        if parsed == Some(State::Rejected) {
            r.rejected += n;
        }
        r.paid_fen += row.get::<i64, _>(4);
    }
    r.pass_rate_bp = rate_bp(r.passed, r.passed + r.rejected);
    let today = crate::storage::time::today().to_string();
    let stage_rows = sqlx::query(
        "SELECT s.stage, CAST(SUM(CASE WHEN s.ended_on IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN s.on_time = 1 THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN s.ended_on IS NULL AND s.due_on < $3 THEN 1 ELSE 0 END) AS BIGINT) \
         FROM application_stages s JOIN applications a ON a.id = s.application_id \
         WHERE a.base_id = $1 AND a.programme_id = $2 GROUP BY s.stage",
    )
    .bind(base_id)
    .bind(programme_id)
    .bind(&today)
    .fetch_all(state.db.pool())
    .await?;
    let mut by_stage: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for row in &stage_rows {
        by_stage.insert(row.get(0), (row.get(1), row.get(2), row.get(3)));
    }
    for s in Stage::ALL {
        let (closed, on_time, overdue_now) = by_stage.get(s.as_str()).copied().unwrap_or((0, 0, 0));
        r.stages.push(StageTimeliness {
            stage: s.as_str().into(),
            stage_label: s.label().into(),
            limit_working_days: s.limit(&r.programme.limits),
            closed,
            on_time,
            on_time_rate_bp: rate_bp(on_time, closed),
            overdue_now,
        });
    }
    let scored = sqlx::query(
        "SELECT a.id, e.name, a.score_x100, a.amount_requested_fen FROM applications a JOIN enterprises e ON e.id = a.enterprise_id \
         WHERE a.base_id = $1 AND a.programme_id = $2 AND a.score_x100 IS NOT NULL AND a.state <> 'withdrawn'",
    )
    .bind(base_id)
    .bind(programme_id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
    .collect();
    r.ranking = rank(scored, r.programme.budget_fen);
    r.departments = departments(state, base_id, programme_id).await?;
    if r.programme.review_mode == super::programme::ReviewMode::Panel {
        let a = panels(state, base_id, programme_id).await?;
        for x in &mut r.ranking {
            x.calibrated_x100 = a.calibrated_x100.get(&x.application_id).copied();
        }
        r.agreement = Some(a);
    }
    Ok(r)
}

async fn departments(
    state: &AppState,
    base_id: &str,
    programme_id: &str,
) -> Result<Vec<DepartmentTimeliness>, AppError> {
    let rows = sqlx::query(
        "SELECT COALESCE(u.name, '未设部门'), s.stage, COUNT(*), CAST(SUM(CASE WHEN s.on_time = 1 THEN 1 ELSE 0 END) AS BIGINT) \
         FROM application_stages s JOIN applications a ON a.id = s.application_id \
         LEFT JOIN memberships m ON m.user_id = s.closed_by AND m.base_id = a.base_id \
         LEFT JOIN org_units u ON u.id = m.org_unit_id \
         WHERE a.base_id = $1 AND a.programme_id = $2 AND s.ended_on IS NOT NULL AND s.closed_by IS NOT NULL \
         AND s.stage IN ('pre_review', 'approval', 'payout') \
         GROUP BY COALESCE(u.name, '未设部门'), s.stage",
    )
    .bind(base_id)
    .bind(programme_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut out: Vec<DepartmentTimeliness> = rows
        .iter()
        .map(|row| {
            let stage: String = row.get(1);
            let (closed, on_time): (i64, i64) = (row.get(2), row.get(3));
            DepartmentTimeliness {
                department: row.get(0),
                stage_label: Stage::parse(&stage).map(Stage::label).unwrap_or("").into(),
                stage,
                closed,
                on_time,
                on_time_rate_bp: rate_bp(on_time, closed),
            }
        })
        .collect();
    let order = |s: &str| STAFF_STAGES.iter().position(|x| x.as_str() == s).unwrap_or(9);
    out.sort_by(|a, b| {
        a.department
            .cmp(&b.department)
            .then(order(&a.stage).cmp(&order(&b.stage)))
    });
    Ok(out)
}

/// The completed panels of the programme (every drawn expert has scored).
async fn panels(state: &AppState, base_id: &str, programme_id: &str) -> Result<Agreement, AppError> {
    let rows = sqlx::query(
        "SELECT s.application_id, s.expert_id, s.score_x100, x.name FROM expert_assignments s \
         JOIN applications a ON a.id = s.application_id JOIN experts x ON x.id = s.expert_id \
         WHERE a.base_id = $1 AND a.programme_id = $2 AND a.score_x100 IS NOT NULL AND s.score_x100 IS NOT NULL \
         ORDER BY s.application_id, s.expert_id",
    )
    .bind(base_id)
    .bind(programme_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut panels: Vec<agreement::Panel> = Vec::new();
    let mut names = BTreeMap::new();
    for row in &rows {
        let (app, expert, score, name): (String, String, i64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        names.insert(expert.clone(), name);
        match panels.last_mut() {
            Some((a, s)) if *a == app => s.push((expert, score)),
            _ => panels.push((app, vec![(expert, score)])),
        }
    }
    agreement::analyse(&panels, &names)
        .ok_or_else(|| anyhow::anyhow!("programme {programme_id}: agreement arithmetic overflowed").into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_funding_line_falls_where_the_budget_runs_out() {
        let rows = vec![
            ("a".to_string(), "甲".to_string(), 8000, 60),
            ("b".to_string(), "乙".to_string(), 9000, 50),
            ("c".to_string(), "丙".to_string(), 7000, 10),
        ];
        let r = super::rank(rows, 100);
        let order: Vec<_> = r.iter().map(|x| (x.application_id.as_str(), x.above_line)).collect();
        assert_eq!(order, vec![("b", true), ("a", false), ("c", false)]);
        assert_eq!(r[2].cumulative_fen, 120);
    }

    #[test]
    fn rates_are_rounded_basis_points() {
        assert_eq!(super::rate_bp(0, 0), None);
        assert_eq!(super::rate_bp(2, 3), Some(6667));
        assert_eq!(super::rate_bp(64, 75), Some(8533));
    }
}
