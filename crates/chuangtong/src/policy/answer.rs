//! What every answer that leads to money keeps — a 免申即享 grant, the
//! judgement of a programme application — so that it can be recomputed
//! exactly later: the policy hash, the parameter values and the facts the
//! policy reads, each with its source and date. One shape for both, so a
//! correction recomputes them the same way.

use std::collections::BTreeMap;

use chuangtong_rules::{Facts, Outcome, ParamOverrides, Policy, Tri};
use serde_json::{Map, Value};

use super::facts::{schema, FactRecord};
use super::params;

/// The record kept with an answer.
#[derive(Clone, Debug)]
pub struct Kept {
    pub policy_hash: String,
    /// `{parameter: source literal}`
    pub params_json: String,
    /// `{fact: {value, source, as_of}}`
    pub facts_json: String,
}

/// Keeps `outcome` of `policy` under `overrides`: the parameters in force
/// and the facts its conditions used or the policy declares (those a
/// recomputation needs; the rest of the firm's file is not copied).
pub fn keep(
    policy: &Policy,
    overrides: &ParamOverrides,
    outcome: &Outcome,
    records: &BTreeMap<String, FactRecord>,
) -> Kept {
    let used: Map<String, Value> = records
        .iter()
        .filter(|(name, _)| {
            outcome
                .conditions
                .iter()
                .any(|c| c.facts_used.iter().any(|(f, _)| f == *name))
                || policy.facts().iter().any(|f| &f.name == *name)
        })
        .map(|(name, rec)| (name.clone(), serde_json::to_value(rec).unwrap_or_default()))
        .collect();
    Kept {
        policy_hash: outcome.policy_hash.clone(),
        params_json: Value::Object(params::snapshot(policy, overrides)).to_string(),
        facts_json: Value::Object(used).to_string(),
    }
}

/// The facts a kept snapshot holds, as the engine reads them. A snapshot
/// that cannot be read gives no facts: the answer becomes undecidable,
/// never guessed from today's data.
pub fn facts_of(facts_json: &str) -> Facts {
    let values: Map<String, Value> = serde_json::from_str::<Map<String, Value>>(facts_json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, rec)| rec.get("value").cloned().map(|v| (k, v)))
        .collect();
    schema().facts_from_json(&Value::Object(values)).unwrap_or_default()
}

/// Whether the kept parameters and facts give the kept answer again under
/// the version it was made with: the proof that a recomputation starts
/// from what was really decided.
pub fn reproduces(
    policy: &Policy,
    params_json: &str,
    facts: &Facts,
    eligible: Tri,
    amount_fen: Option<i64>,
    policy_hash: &str,
) -> bool {
    match params::from_stored(policy, params_json) {
        Ok(o) => {
            let again = policy.evaluate(facts, &o);
            again.eligible == eligible && again.amount == amount_fen && again.policy_hash == policy_hash
        }
        Err(_) => false,
    }
}

/// `yes | no | unknown`, as stored.
pub fn tri_text(t: Tri) -> &'static str {
    match t {
        Tri::Yes => "yes",
        Tri::No => "no",
        Tri::Unknown => "unknown",
    }
}

pub fn tri_of(s: &str) -> Tri {
    match s {
        "yes" => Tri::Yes,
        "no" => Tri::No,
        _ => Tri::Unknown,
    }
}
