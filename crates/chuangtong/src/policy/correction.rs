//! 补发与追回: when a version under which money was decided is corrected by
//! a later version, every answer kept with it — a 免申即享 grant, or the
//! judgement of an approved or paid programme application — is recomputed
//! from what it kept (`super::answer`): the facts snapshot (with sources)
//! and the parameter values, first with its own version (to show the kept
//! answer is reproduced exactly), then with the correcting version and that
//! version's own parameters (the correction is the authority on them). The
//! difference against what the firm was granted plus any earlier adjustment
//! is a top-up (补发) or a clawback (追回). A base admin records them as
//! pending adjustments in one transaction (grants in `policy_adjustments`,
//! applications in `application_adjustments`); the adjustment row is where
//! the money owed either way is kept until it is settled.
//!
//! An application's amount was decided by people within the ceiling the
//! rules gave ([`programme_entitlement`]): the correction moves it only
//! where the rules, not the reviewer, set it.
//!
//! A fact the correcting version reads but the snapshot lacks makes the
//! answer undecided: it is listed with the missing facts, never guessed from
//! today's data.

use std::collections::BTreeMap;

use chuangtong_rules::{Outcome, ParamOverrides, Tri};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::answer;
use super::library::{self, VersionInfo};
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionItem {
    /// grant (免申即享) | application (申报)
    pub subject: String,
    /// The grant corrected (grants only)
    pub grant_id: Option<String>,
    /// The application corrected (applications only)
    pub application_id: Option<String>,
    /// The programme applied to (applications only)
    pub programme_name: Option<String>,
    pub enterprise_id: String,
    pub enterprise_name: String,
    /// Version the answer was made under
    pub granted_version: i64,
    /// What the firm was granted: the grant, or the approved amount of the application
    pub granted_fen: i64,
    /// Adjustments recorded by earlier corrections
    pub adjusted_fen: i64,
    /// The kept facts and parameters give the kept answer and policy hash again under its own version
    pub reproduced: bool,
    /// What the correcting version gives (`null` = undecidable from the snapshot)
    pub entitled_fen: Option<i64>,
    /// entitled − (granted + adjusted); > 0 补发, < 0 追回
    pub delta_fen: i64,
    /// top_up | clawback | unchanged | undecided
    pub kind: String,
    pub missing_facts: Vec<String>,
    /// Already recorded as an adjustment for this correcting version
    pub recorded: bool,
    /// The recorded adjustment, and its state (pending | settled | cancelled)
    pub adjustment_id: Option<String>,
    pub adjustment_state: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionPlan {
    pub policy_id: String,
    /// The correcting version
    pub version: i64,
    pub policy_hash: String,
    pub items: Vec<CorrectionItem>,
    pub top_ups: i64,
    pub top_up_fen: i64,
    pub clawbacks: i64,
    /// Total to claw back, as a positive amount
    pub clawback_fen: i64,
    pub undecided: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionRun {
    pub version: i64,
    pub recorded: i64,
    pub already_recorded: i64,
    pub top_up_fen: i64,
    pub clawback_fen: i64,
    pub undecided: i64,
}

/// The correcting version: `number`, or the version in force today.
async fn target(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    number: Option<i64>,
) -> Result<(VersionInfo, BTreeMap<String, VersionInfo>), AppError> {
    let all = library::versions(&state.db, base_id, policy_id)
        .await?
        .into_iter()
        .map(|x| (x.id.clone(), x))
        .collect();
    let v = match number {
        Some(_) => library::version(&state.db, base_id, policy_id, number).await?,
        None => library::get(&state.db, base_id, policy_id, time::today())
            .await?
            .current_version
            .ok_or_else(|| AppError::refused("policy.not_in_force", "该政策今天没有生效的版本，请指定更正版本"))?,
    };
    Ok((v, all))
}

/// How the money followed from a kept answer.
enum Decided {
    /// 免申即享: the rules alone set the amount.
    Grant,
    /// 申报: reviewers approved an amount within the rules' ceiling; `main`:
    /// this policy is the programme's 主政策, whose amount is that ceiling
    /// (the others only decide eligibility).
    Application { requested_fen: i64, main: bool },
}

/// An answer that led to money, as it was kept.
struct KeptAnswer {
    id: String,
    decided: Decided,
    programme_name: Option<String>,
    enterprise_id: String,
    enterprise_name: String,
    version_id: String,
    granted_fen: i64,
    eligible: Tri,
    amount_fen: Option<i64>,
    policy_hash: String,
    params_json: String,
    facts_json: String,
}

async fn grants(conn: &mut sqlx::AnyConnection, base_id: &str, policy_id: &str) -> Result<Vec<KeptAnswer>, AppError> {
    Ok(sqlx::query(
        "SELECT g.id, g.enterprise_id, e.name, g.version_id, g.amount_fen, g.params_json, g.facts_json, g.policy_hash \
         FROM policy_grants g JOIN enterprises e ON e.id = g.enterprise_id \
         WHERE g.base_id = $1 AND g.policy_id = $2 AND g.state <> 'cancelled' ORDER BY e.name, g.id",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| KeptAnswer {
        id: r.get(0),
        decided: Decided::Grant,
        programme_name: None,
        enterprise_id: r.get(1),
        enterprise_name: r.get(2),
        version_id: r.get(3),
        granted_fen: r.get(4),
        eligible: Tri::Yes,
        amount_fen: Some(r.get(4)),
        params_json: r.get(5),
        facts_json: r.get(6),
        policy_hash: r.get(7),
    })
    .collect())
}

/// Applications whose money is decided (approved) or paid, with the answer
/// kept under this policy at their last submission.
async fn applications(
    conn: &mut sqlx::AnyConnection,
    base_id: &str,
    policy_id: &str,
) -> Result<Vec<KeptAnswer>, AppError> {
    Ok(sqlx::query(
        "SELECT a.id, a.enterprise_id, e.name, g.name, j.version_id, a.amount_approved_fen, j.eligible, j.amount_fen, \
         j.policy_hash, j.params_json, j.facts_json, a.amount_requested_fen, j.position \
         FROM application_judgements j JOIN applications a ON a.id = j.application_id \
         JOIN enterprises e ON e.id = a.enterprise_id JOIN programmes g ON g.id = a.programme_id \
         WHERE j.base_id = $1 AND j.policy_id = $2 AND a.state IN ('approved', 'paid', 'evaluated') \
         AND a.amount_approved_fen IS NOT NULL ORDER BY e.name, a.id",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| KeptAnswer {
        id: r.get(0),
        decided: Decided::Application {
            requested_fen: r.get(11),
            main: r.get::<i64, _>(12) == 0,
        },
        programme_name: Some(r.get(3)),
        enterprise_id: r.get(1),
        enterprise_name: r.get(2),
        version_id: r.get(4),
        granted_fen: r.get(5),
        eligible: answer::tri_of(&r.get::<String, _>(6)),
        amount_fen: r.get(7),
        policy_hash: r.get(8),
        params_json: r.get(9),
        facts_json: r.get(10),
    })
    .collect())
}

/// Adjustments of this policy's grants and applications: the sum recorded
/// by other corrections per answer, and the adjustments (id, state)
/// correcting version `version_id` has already recorded, by answer. (Grant
/// and application ids are distinct ids, so one map holds both.)
async fn adjustments(
    conn: &mut sqlx::AnyConnection,
    base_id: &str,
    policy_id: &str,
    version_id: &str,
) -> Result<(BTreeMap<String, i64>, BTreeMap<String, (String, String)>), AppError> {
    let rows = sqlx::query(
        "SELECT grant_id, version_id, delta_fen, id, state FROM policy_adjustments \
         WHERE base_id = $1 AND policy_id = $2 AND state <> 'cancelled' \
         UNION ALL SELECT application_id, version_id, delta_fen, id, state FROM application_adjustments \
         WHERE base_id = $1 AND policy_id = $2 AND state <> 'cancelled'",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut adjusted: BTreeMap<String, i64> = BTreeMap::new();
    let mut recorded = BTreeMap::new();
    for r in rows {
        let (id, version, delta): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        if version == version_id {
            recorded.insert(id, (r.get(3), r.get(4)));
        } else {
            *adjusted.entry(id).or_insert(0) += delta;
        }
    }
    Ok((adjusted, recorded))
}

/// What an approved application is entitled to under corrected rules.
/// Reviewers approved `approved` of the `requested` amount within the
/// ceiling the rules gave then (`then`). Where they approved less than that
/// ceiling, the cut was theirs and stands: the correction can only lower it
/// to the new ceiling (`now`). Where the approval reached the ceiling, the
/// rules set it, so it moves with the ceiling, never above what the firm
/// asked for. `None`: the new rules give no amount to compare with.
pub fn programme_entitlement(requested: i64, approved: i64, then: Option<i64>, now: Option<i64>) -> Option<i64> {
    match (then, now) {
        (Some(t), Some(n)) if approved >= t => Some((approved + n - t).clamp(0, requested.max(approved))),
        (_, Some(n)) => Some(approved.min(n)),
        (None, None) => Some(approved),
        (Some(_), None) => None,
    }
}

/// What the correcting version's answer `now` entitles the kept answer to.
fn entitled(k: &KeptAnswer, now: &Outcome) -> Option<i64> {
    match (now.eligible, &k.decided) {
        (Tri::No, _) => Some(0),
        (Tri::Unknown, _) => None,
        (Tri::Yes, Decided::Grant) => now.amount,
        (
            Tri::Yes,
            Decided::Application {
                requested_fen,
                main: true,
            },
        ) => {
            let then = if k.eligible == Tri::Yes { k.amount_fen } else { None };
            programme_entitlement(*requested_fen, k.granted_fen, then, now.amount)
        }
        // A further policy of the programme decides eligibility, not the amount.
        (Tri::Yes, Decided::Application { main: false, .. }) => Some(k.granted_fen),
    }
}

async fn plan_on(
    conn: &mut sqlx::AnyConnection,
    versions: &BTreeMap<String, VersionInfo>,
    base_id: &str,
    policy_id: &str,
    v: &VersionInfo,
) -> Result<CorrectionPlan, AppError> {
    let policy = library::compiled_version(v)?;
    let mut kept = grants(conn, base_id, policy_id).await?;
    kept.extend(applications(conn, base_id, policy_id).await?);
    let (adjusted, recorded) = adjustments(conn, base_id, policy_id, &v.id).await?;
    let mut plan = CorrectionPlan {
        policy_id: policy_id.into(),
        version: v.version,
        policy_hash: policy.hash(),
        items: Vec::new(),
        top_ups: 0,
        top_up_fen: 0,
        clawbacks: 0,
        clawback_fen: 0,
        undecided: 0,
    };
    for k in kept {
        // Only answers of earlier versions are corrected by this one.
        let Some(made_under) = versions.get(&k.version_id).filter(|g| g.version < v.version) else {
            continue;
        };
        let facts = answer::facts_of(&k.facts_json);
        let reproduced = answer::reproduces(
            &*library::compiled_version(made_under)?,
            &k.params_json,
            &facts,
            k.eligible,
            k.amount_fen,
            &k.policy_hash,
        );
        let now = policy.evaluate(&facts, &ParamOverrides::new());
        let entitled = entitled(&k, &now);
        let adjusted_fen = adjusted.get(&k.id).copied().unwrap_or(0);
        let delta = entitled.map(|e| e - k.granted_fen - adjusted_fen).unwrap_or(0);
        let kind = match entitled {
            None => "undecided",
            Some(_) if delta > 0 => "top_up",
            Some(_) if delta < 0 => "clawback",
            Some(_) => "unchanged",
        };
        match kind {
            "top_up" => {
                plan.top_ups += 1;
                plan.top_up_fen += delta;
            }
            "clawback" => {
                plan.clawbacks += 1;
                plan.clawback_fen -= delta;
            }
            "undecided" => plan.undecided += 1,
            _ => {}
        }
        let is_grant = matches!(k.decided, Decided::Grant);
        plan.items.push(CorrectionItem {
            subject: if is_grant { "grant" } else { "application" }.into(),
            recorded: recorded.contains_key(&k.id),
            adjustment_id: recorded.get(&k.id).map(|(id, _)| id.clone()),
            adjustment_state: recorded.get(&k.id).map(|(_, state)| state.clone()),
            grant_id: is_grant.then(|| k.id.clone()),
            application_id: (!is_grant).then(|| k.id.clone()),
            programme_name: k.programme_name,
            enterprise_id: k.enterprise_id,
            enterprise_name: k.enterprise_name,
            granted_version: made_under.version,
            granted_fen: k.granted_fen,
            adjusted_fen,
            reproduced,
            entitled_fen: entitled,
            delta_fen: delta,
            kind: kind.into(),
            missing_facts: if entitled.is_none() {
                now.missing_facts
            } else {
                Vec::new()
            },
        });
    }
    Ok(plan)
}

/// Top-ups and clawbacks that correcting version `number` (default: the
/// version in force today) makes to the grants and applications of earlier
/// versions.
pub async fn plan(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    number: Option<i64>,
) -> Result<CorrectionPlan, AppError> {
    let (v, versions) = target(state, base_id, policy_id, number).await?;
    let mut conn = state.db.pool().acquire().await?;
    plan_on(&mut conn, &versions, base_id, policy_id, &v).await
}

/// Records the plan's top-ups, clawbacks and unchanged carry-overs as
/// pending adjustments of grants and applications (undecided ones wait for
/// their facts); one transaction, one audit entry; recording again adds
/// nothing.
pub async fn record(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    policy_id: &str,
    number: Option<i64>,
) -> Result<CorrectionRun, AppError> {
    let (v, versions) = target(state, base_id, policy_id, number).await?;
    let mut tx = state.db.begin().await?;
    let plan = plan_on(&mut tx, &versions, base_id, policy_id, &v).await?;
    let mut run = CorrectionRun {
        version: v.version,
        recorded: 0,
        already_recorded: 0,
        top_up_fen: 0,
        clawback_fen: 0,
        undecided: plan.undecided,
    };
    let now = time::now_text();
    for item in &plan.items {
        let Some(entitled) = item.entitled_fen else { continue };
        // Same columns in both tables; only what the row corrects differs.
        let (sql, subject_id) = match (&item.grant_id, &item.application_id) {
            (Some(g), _) => (
                "INSERT INTO policy_adjustments (id, base_id, policy_id, grant_id, enterprise_id, version_id, entitled_fen, \
                 delta_fen, kind, policy_hash, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) \
                 ON CONFLICT (grant_id, version_id) DO NOTHING",
                g,
            ),
            (None, Some(a)) => (
                "INSERT INTO application_adjustments (id, base_id, policy_id, application_id, enterprise_id, version_id, \
                 entitled_fen, delta_fen, kind, policy_hash, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) \
                 ON CONFLICT (application_id, version_id) DO NOTHING",
                a,
            ),
            (None, None) => continue,
        };
        let inserted = sqlx::query(sql)
            .bind(crate::new_id())
            .bind(base_id)
            .bind(policy_id)
            .bind(subject_id)
            .bind(&item.enterprise_id)
            .bind(&v.id)
            .bind(entitled)
            .bind(item.delta_fen)
            .bind(&item.kind)
            .bind(&plan.policy_hash)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            run.recorded += 1;
            if item.delta_fen > 0 {
                run.top_up_fen += item.delta_fen;
            } else {
                run.clawback_fen -= item.delta_fen;
            }
        } else {
            run.already_recorded += 1;
        }
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.corrected",
            entity: "policy",
            entity_id: Some(policy_id),
            before: None,
            after: Some(json!({ "version": v.version, "recorded": run.recorded,
                "top_up_fen": run.top_up_fen, "clawback_fen": run.clawback_fen, "undecided": run.undecided })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::programme_entitlement;

    #[test]
    fn a_reviewers_cut_stands_and_only_the_ceiling_lowers_it() {
        // Approved 30万 of 30万 asked, ceiling 50万: the cut was the firm's ask.
        assert_eq!(programme_entitlement(30, 30, Some(50), Some(60)), Some(30));
        assert_eq!(programme_entitlement(30, 30, Some(50), Some(20)), Some(20));
        // Approved 20万 of 40万 asked under a 50万 ceiling: the reviewer's cut stands.
        assert_eq!(programme_entitlement(40, 20, Some(50), Some(60)), Some(20));
        assert_eq!(programme_entitlement(40, 20, Some(50), Some(10)), Some(10));
    }

    #[test]
    fn an_approval_at_the_ceiling_moves_with_it_up_to_the_request() {
        assert_eq!(programme_entitlement(60, 50, Some(50), Some(55)), Some(55));
        assert_eq!(programme_entitlement(60, 50, Some(50), Some(90)), Some(60));
        assert_eq!(programme_entitlement(60, 50, Some(50), Some(40)), Some(40));
        // Unchanged rules change nothing, even where reviewers went past the ceiling.
        assert_eq!(programme_entitlement(70, 60, Some(50), Some(50)), Some(60));
        assert_eq!(programme_entitlement(70, 60, Some(50), Some(0)), Some(10));
    }

    #[test]
    fn without_amounts_the_approval_stands_or_is_undecided() {
        assert_eq!(programme_entitlement(40, 30, None, None), Some(30));
        assert_eq!(programme_entitlement(40, 30, None, Some(25)), Some(25));
        assert_eq!(programme_entitlement(40, 30, Some(30), None), None);
    }
}
