//! Answers: 政策计算器 (one enterprise → every policy it may qualify for),
//! 精准推送 (one policy → every enterprise that qualifies), budget simulation
//! (what a changed parameter costs) and 免申即享 grants (recorded with the
//! policy hash, the parameter values and the facts used, so that every
//! grant can be recomputed exactly later).

use std::collections::BTreeMap;
use std::sync::Arc;

use chuangtong_rules::{Outcome, ParamOverrides, Policy, Tri};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::answer;
use super::facts::{self, EnterpriseFacts};
use super::impact::{self, Comparison};
use super::library::{self, PolicyInfo, VersionInfo};
use super::params;
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub policy_id: String,
    pub title: String,
    pub issuer: String,
    /// yes | no | unknown
    pub eligible: String,
    pub amount_fen: Option<i64>,
    /// Plain Chinese: which conditions held, which failed and by how much, what is missing
    pub explanation: String,
    pub missing_facts: Vec<String>,
    pub version: i64,
    pub policy_hash: String,
    #[schema(value_type = Object)]
    pub outcome: serde_json::Value,
}

fn answer(info: &PolicyInfo, outcome: &Outcome) -> Answer {
    let v = info
        .current_version
        .as_ref()
        .expect("only policies with a version in force are judged");
    Answer {
        policy_id: info.id.clone(),
        title: info.title.clone(),
        issuer: info.issuer.clone(),
        eligible: answer::tri_text(outcome.eligible).into(),
        amount_fen: outcome.amount,
        explanation: outcome.explain_zh(),
        missing_facts: outcome.missing_facts.clone(),
        version: v.version,
        policy_hash: outcome.policy_hash.clone(),
        outcome: serde_json::to_value(outcome).unwrap_or_default(),
    }
}

/// Published policies in force today, compiled.
pub(crate) async fn in_force(state: &AppState, base_id: &str) -> Result<Vec<(PolicyInfo, Arc<Policy>)>, AppError> {
    let mut out = Vec::new();
    for info in library::list(&state.db, base_id, time::today(), true).await? {
        if let Some(v) = &info.current_version {
            let compiled = library::compiled_version(v)?;
            out.push((info, compiled));
        }
    }
    Ok(out)
}

/// 政策计算器: every published policy for one enterprise, qualifying ones first.
pub async fn calculator(state: &AppState, base_id: &str, enterprise_id: &str) -> Result<Vec<Answer>, AppError> {
    let facts = facts::load(&state.db, base_id, Some(enterprise_id)).await?;
    let ef = facts.get(enterprise_id).ok_or(AppError::NotFound)?;
    let mut answers: Vec<Answer> = in_force(state, base_id)
        .await?
        .iter()
        .map(|(info, p)| answer(info, &p.evaluate(&ef.facts, &ParamOverrides::new())))
        .collect();
    let rank = |a: &Answer| match a.eligible.as_str() {
        "yes" => 0,
        "unknown" => 1,
        _ => 2,
    };
    answers.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.amount_fen.cmp(&a.amount_fen)));
    Ok(answers)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Match {
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub amount_fen: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Matches {
    pub policy_id: String,
    pub eligible: i64,
    pub unknown: i64,
    pub not_eligible: i64,
    /// Total of the amounts of eligible firms (integer fen)
    pub cost_fen: i64,
    pub budget_fen: i64,
    /// Eligible firms, largest amount first
    pub firms: Vec<Match>,
    /// Firms that might qualify once these facts are supplied: fact → number of firms
    pub missing_facts: BTreeMap<String, i64>,
}

async fn judge_all(
    state: &AppState,
    base_id: &str,
    policy: &Policy,
    overrides: &ParamOverrides,
) -> Result<(Vec<(String, Outcome)>, BTreeMap<String, EnterpriseFacts>), AppError> {
    let all = facts::load(&state.db, base_id, None).await?;
    let outcomes = all
        .iter()
        .map(|(id, ef)| (id.clone(), policy.evaluate(&ef.facts, overrides)))
        .collect();
    Ok((outcomes, all))
}

pub(crate) async fn names(state: &AppState, base_id: &str) -> Result<BTreeMap<String, String>, AppError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT id, name FROM enterprises WHERE base_id = $1")
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(crate) fn summarise(
    policy_id: &str,
    budget_fen: i64,
    outcomes: &[(String, Outcome)],
    names: &BTreeMap<String, String>,
) -> Matches {
    let mut m = Matches {
        policy_id: policy_id.into(),
        eligible: 0,
        unknown: 0,
        not_eligible: 0,
        cost_fen: 0,
        budget_fen,
        firms: Vec::new(),
        missing_facts: BTreeMap::new(),
    };
    for (id, o) in outcomes {
        match o.eligible {
            Tri::Yes => {
                m.eligible += 1;
                let amount = o.amount.unwrap_or(0);
                m.cost_fen = m.cost_fen.saturating_add(amount);
                m.firms.push(Match {
                    enterprise_id: id.clone(),
                    enterprise_name: names.get(id).cloned().unwrap_or_default(),
                    amount_fen: amount,
                });
            }
            Tri::No => m.not_eligible += 1,
            Tri::Unknown => {
                m.unknown += 1;
                for f in &o.missing_facts {
                    *m.missing_facts.entry(f.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    m.firms.sort_by(|a, b| {
        b.amount_fen
            .cmp(&a.amount_fen)
            .then(a.enterprise_name.cmp(&b.enterprise_name))
    });
    m
}

async fn policy_and_info(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
) -> Result<(PolicyInfo, Arc<Policy>), AppError> {
    let info = library::get(&state.db, base_id, policy_id, time::today()).await?;
    let v = info.current_version.clone().ok_or_else(|| AppError::Conflict {
        code: "policy.not_in_force",
        message: "该政策今天没有生效的版本".into(),
    })?;
    let compiled = library::compiled_version(&v)?;
    Ok((info, compiled))
}

/// 精准推送: which enterprises of the base qualify for a policy, and what it costs.
pub async fn matches(state: &AppState, base_id: &str, policy_id: &str) -> Result<Matches, AppError> {
    let (info, policy) = policy_and_info(state, base_id, policy_id).await?;
    let (outcomes, _) = judge_all(state, base_id, &policy, &ParamOverrides::new()).await?;
    Ok(summarise(
        &info.id,
        info.budget_fen,
        &outcomes,
        &names(state, base_id).await?,
    ))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct SimulationRequest {
    /// Parameter name → new value: money in integer fen, int, bool, a literal
    /// of the rules language as a string ("25%", "120万元"), or for a table an
    /// object of the entries to change ({"A": 6})
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Version to simulate; default the latest (the draft being prepared)
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    pub version: i64,
    pub before: Matches,
    pub after: Matches,
    /// Firms that qualify only after the change
    pub gained: Vec<String>,
    /// Firms that qualify only before the change
    pub lost: Vec<String>,
    /// Per firm, who gains and who loses and by how much (amounts too, not only eligibility)
    pub changes: Comparison,
    /// The changed parameters after the change, as literals of the rules language
    #[schema(value_type = Object)]
    pub params_after: serde_json::Map<String, serde_json::Value>,
}

/// A version of a policy of the base with its compiled rules.
pub async fn version_of(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    number: Option<i64>,
) -> Result<(PolicyInfo, VersionInfo, Arc<Policy>), AppError> {
    let info = library::get(&state.db, base_id, policy_id, time::today()).await?;
    let v = library::version(&state.db, base_id, policy_id, number).await?;
    let compiled = library::compiled_version(&v)?;
    Ok((info, v, compiled))
}

/// Budget simulation: change parameters, compare counts and cost before and after.
pub async fn simulate(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    req: &SimulationRequest,
) -> Result<Simulation, AppError> {
    let (info, v, policy) = version_of(state, base_id, policy_id, req.version).await?;
    let overrides = params::from_json(&policy, &req.params)?;
    simulate_with(state, base_id, &info, &v, &policy, &overrides).await
}

/// Budget simulation of `overrides` on one version of a policy.
pub async fn simulate_with(
    state: &AppState,
    base_id: &str,
    info: &PolicyInfo,
    v: &VersionInfo,
    policy: &Policy,
    overrides: &ParamOverrides,
) -> Result<Simulation, AppError> {
    let names = names(state, base_id).await?;
    let (before_o, all) = judge_all(state, base_id, policy, &ParamOverrides::new()).await?;
    let after_o: Vec<(String, Outcome)> = all
        .iter()
        .map(|(id, ef)| (id.clone(), policy.evaluate(&ef.facts, overrides)))
        .collect();
    if let Some((_, o)) = after_o.iter().find(|(_, o)| !o.errors.is_empty()) {
        return Err(AppError::field("params", "policy.bad_param", o.errors.join("；")));
    }
    let yes = |v: &[(String, Outcome)]| {
        v.iter()
            .filter(|(_, o)| o.eligible == Tri::Yes)
            .map(|(id, _)| id.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (b, a) = (yes(&before_o), yes(&after_o));
    let after_params = params::snapshot(policy, overrides);
    Ok(Simulation {
        version: v.version,
        gained: a
            .difference(&b)
            .map(|id| names.get(id).cloned().unwrap_or_default())
            .collect(),
        lost: b
            .difference(&a)
            .map(|id| names.get(id).cloned().unwrap_or_default())
            .collect(),
        changes: impact::compare("当前参数", "调整后", &before_o, &after_o, &names),
        params_after: after_params
            .into_iter()
            .filter(|(k, _)| overrides.get(k).is_some())
            .collect(),
        before: summarise(&info.id, info.budget_fen, &before_o, &names),
        after: summarise(&info.id, info.budget_fen, &after_o, &names),
    })
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct GrantRun {
    pub created: i64,
    pub already_granted: i64,
    pub total_fen: i64,
}

/// 免申即享: records a pending grant for every qualifying enterprise, with
/// provenance (policy hash, parameters, facts snapshot with sources).
/// Running it again grants nobody twice (one grant per version and firm).
pub async fn grant_without_application(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    policy_id: &str,
) -> Result<GrantRun, AppError> {
    let (info, policy) = policy_and_info(state, base_id, policy_id).await?;
    if !info.no_application {
        return Err(AppError::Conflict {
            code: "policy.not_no_application",
            message: "该政策不是免申即享政策，须经申报审批".into(),
        });
    }
    if info.state != "published" {
        return Err(AppError::Conflict {
            code: "policy.not_published",
            message: "政策尚未发布".into(),
        });
    }
    let version = info.current_version.clone().expect("checked in policy_and_info");
    let overrides = ParamOverrides::new();
    let (outcomes, all) = judge_all(state, base_id, &policy, &overrides).await?;
    let mut run = GrantRun {
        created: 0,
        already_granted: 0,
        total_fen: 0,
    };
    let mut tx = state.db.begin().await?;
    let now = time::now_text();
    for (enterprise_id, o) in outcomes.iter().filter(|(_, o)| o.eligible == Tri::Yes) {
        let kept = answer::keep(&policy, &overrides, o, &all[enterprise_id].records);
        // A grant of an earlier version that a correction already carried
        // over to this one (补发/追回 recorded) is not granted a second time.
        let corrected = sqlx::query("SELECT 1 FROM policy_adjustments WHERE version_id = $1 AND enterprise_id = $2")
            .bind(&version.id)
            .bind(enterprise_id)
            .fetch_optional(&mut *tx)
            .await?;
        if corrected.is_some() {
            run.already_granted += 1;
            continue;
        }
        let amount = o.amount.unwrap_or(0);
        let inserted = sqlx::query(
            "INSERT INTO policy_grants (id, base_id, policy_id, version_id, enterprise_id, amount_fen, policy_hash, params_json, \
             facts_json, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10) \
             ON CONFLICT (version_id, enterprise_id) DO NOTHING",
        )
        .bind(crate::new_id())
        .bind(base_id)
        .bind(policy_id)
        .bind(&version.id)
        .bind(enterprise_id)
        .bind(amount)
        .bind(&kept.policy_hash)
        .bind(&kept.params_json)
        .bind(&kept.facts_json)
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            run.created += 1;
            run.total_fen += amount;
        } else {
            run.already_granted += 1;
        }
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.granted_without_application",
            entity: "policy",
            entity_id: Some(policy_id),
            before: None,
            after: Some(json!({ "version": version.version, "created": run.created, "total_fen": run.total_fen })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}
