//! The policy engine's answer on an application: judged on today's facts
//! at (re)submission under every policy of the programme, and kept per
//! policy the way 免申即享 grants keep theirs (`policy::answer`): version,
//! hash, parameter values and the facts used with their source and date,
//! so that a correction of a version can recompute it exactly.

use chuangtong_rules::ParamOverrides;
use serde_json::Value;

use super::programme::Programme;
use crate::policy::answer::{self, Kept};
use crate::policy::{facts, library};
use crate::storage::{time, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// One policy's answer, as kept.
pub struct PolicyAnswer {
    pub policy_id: String,
    pub version_id: String,
    /// yes | no | unknown
    pub eligible: String,
    pub amount_fen: Option<i64>,
    pub kept: Kept,
}

/// The policy engine's answer for one enterprise, with what it was computed from.
pub struct Judgement {
    pub eligible: String,
    pub explanation: String,
    pub amount_fen: Option<i64>,
    pub policy_hash: String,
    pub facts: Value,
    /// One per policy of the programme, 主政策 first.
    pub answers: Vec<PolicyAnswer>,
}

pub async fn judge(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    enterprise_id: &str,
) -> Result<Judgement, AppError> {
    let info = library::get(&state.db, base_id, policy_id, time::today()).await?;
    let v = info
        .current_version
        .as_ref()
        .ok_or_else(|| AppError::refused("policy.not_in_force", "该政策今天没有生效的版本"))?;
    let policy = library::compiled_version(v)?;
    let all = facts::load(&state.db, base_id, Some(enterprise_id)).await?;
    let ef = all.get(enterprise_id).ok_or(AppError::NotFound)?;
    let overrides = ParamOverrides::new();
    let o = policy.evaluate(&ef.facts, &overrides);
    let eligible = answer::tri_text(o.eligible).to_string();
    Ok(Judgement {
        eligible: eligible.clone(),
        explanation: o.explain_zh(),
        amount_fen: o.amount,
        policy_hash: o.policy_hash.clone(),
        facts: serde_json::to_value(&ef.records).unwrap_or_default(),
        answers: vec![PolicyAnswer {
            policy_id: policy_id.to_string(),
            version_id: v.id.clone(),
            eligible,
            amount_fen: o.amount,
            kept: answer::keep(&policy, &overrides, &o, &ef.records),
        }],
    })
}

/// The engine's answer under every policy of the programme: a firm fails
/// when any policy says no, qualifies when all say yes, and is "unknown"
/// otherwise; the amount is the 主政策's (the first).
pub async fn judge_all(
    state: &AppState,
    base_id: &str,
    p: &Programme,
    enterprise_id: &str,
) -> Result<Judgement, AppError> {
    let mut all = Vec::new();
    for policy in &p.policies {
        all.push((policy, judge(state, base_id, &policy.id, enterprise_id).await?));
    }
    if all.len() == 1 {
        return Ok(all.remove(0).1);
    }
    let eligible = if all.iter().any(|(_, j)| j.eligible == "no") {
        "no"
    } else if all.iter().all(|(_, j)| j.eligible == "yes") {
        "yes"
    } else {
        "unknown"
    };
    let explanation = all
        .iter()
        .map(|(policy, j)| format!("【{}】\n{}", policy.title, j.explanation))
        .collect::<Vec<_>>()
        .join("\n\n");
    let policy_hash = all
        .iter()
        .map(|(_, j)| j.policy_hash.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut judgements = all.into_iter().map(|(_, j)| j);
    let first = judgements.next().expect("a programme has a policy");
    let mut answers = first.answers;
    answers.extend(judgements.flat_map(|j| j.answers));
    Ok(Judgement {
        eligible: eligible.into(),
        explanation,
        amount_fen: first.amount_fen,
        policy_hash,
        facts: first.facts,
        answers,
    })
}

/// Keeps the answer on the application and, per policy, in
/// `application_judgements` (replacing the answer of an earlier submission:
/// the last one is the one acted on).
pub async fn record(tx: &mut Tx, base_id: &str, id: &str, j: &Judgement) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE applications SET eligible = $1, eligibility_explanation = $2, eligible_amount_fen = $3, policy_hash = $4, \
         facts_json = $5 WHERE id = $6",
    )
    .bind(&j.eligible)
    .bind(&j.explanation)
    .bind(j.amount_fen)
    .bind(&j.policy_hash)
    .bind(j.facts.to_string())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM application_judgements WHERE application_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let now = time::now_text();
    for (position, a) in j.answers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO application_judgements (application_id, base_id, policy_id, version_id, position, eligible, \
             amount_fen, policy_hash, params_json, facts_json, judged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(base_id)
        .bind(&a.policy_id)
        .bind(&a.version_id)
        .bind(position as i64)
        .bind(&a.eligible)
        .bind(a.amount_fen)
        .bind(&a.kept.policy_hash)
        .bind(&a.kept.params_json)
        .bind(&a.kept.facts_json)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
