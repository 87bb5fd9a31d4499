//! 补发与追回: when a version under which grants were made is corrected by a
//! later version, every stored grant is recomputed from what it stored —
//! the facts snapshot (with sources) and the parameter values — first with
//! its own version (to show the stored amount is reproduced exactly), then
//! with the correcting version and that version's own parameters (the
//! correction is the authority on them). The difference against what the
//! firm was granted plus any earlier adjustment is a top-up (补发) or a
//! clawback (追回). A base admin records them as pending adjustments in one
//! transaction; grants are not paid through the ledger yet, so the
//! adjustment row is where the money owed either way is kept.
//!
//! A fact the correcting version reads but the snapshot lacks makes the
//! grant undecided: it is listed with the missing facts, never guessed from
//! today's data.

use std::collections::BTreeMap;

use chuangtong_rules::{ParamOverrides, Tri};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::facts::schema;
use super::library::{self, VersionInfo};
use super::params;
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionItem {
    pub grant_id: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    /// Version the grant was made under
    pub granted_version: i64,
    pub granted_fen: i64,
    /// Adjustments recorded by earlier corrections of this grant
    pub adjusted_fen: i64,
    /// The stored facts and parameters give the stored amount and policy hash again under the grant's own version
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

async fn plan_on(
    conn: &mut sqlx::AnyConnection,
    versions: &BTreeMap<String, VersionInfo>,
    base_id: &str,
    policy_id: &str,
    v: &VersionInfo,
) -> Result<CorrectionPlan, AppError> {
    let policy = library::compiled_version(v)?;
    let rows = sqlx::query(
        "SELECT g.id, g.enterprise_id, e.name, g.version_id, g.amount_fen, g.params_json, g.facts_json, g.policy_hash \
         FROM policy_grants g JOIN enterprises e ON e.id = g.enterprise_id \
         WHERE g.base_id = $1 AND g.policy_id = $2 AND g.state <> 'cancelled' ORDER BY e.name, g.id",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut adjusted: BTreeMap<String, i64> = BTreeMap::new();
    let mut recorded: std::collections::BTreeSet<String> = Default::default();
    for r in sqlx::query(
        "SELECT grant_id, version_id, delta_fen FROM policy_adjustments \
         WHERE base_id = $1 AND policy_id = $2 AND state <> 'cancelled'",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?
    {
        let (grant, version, delta): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        if version == v.id {
            recorded.insert(grant);
        } else {
            *adjusted.entry(grant).or_insert(0) += delta;
        }
    }
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
    for r in rows {
        let version_id: String = r.get(3);
        // Only grants of earlier versions are corrected by this one.
        let Some(granted_under) = versions.get(&version_id).filter(|g| g.version < v.version) else {
            continue;
        };
        let grant_id: String = r.get(0);
        let granted_fen: i64 = r.get(4);
        let params_json: String = r.get(5);
        let facts_json: String = r.get(6);
        // The snapshot is {fact: {value, source, as_of}}; the engine needs {fact: value}.
        let values: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&facts_json)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, rec)| rec.get("value").cloned().map(|v| (k, v)))
                .collect();
        let facts = schema()
            .facts_from_json(&serde_json::Value::Object(values))
            .unwrap_or_default();
        let old_policy = library::compiled_version(granted_under)?;
        let stored_hash: String = r.get(7);
        let reproduced = match params::from_stored(&old_policy, &params_json) {
            Ok(o) => {
                let again = old_policy.evaluate(&facts, &o);
                again.eligible == Tri::Yes && again.amount == Some(granted_fen) && again.policy_hash == stored_hash
            }
            Err(_) => false,
        };
        let now = policy.evaluate(&facts, &ParamOverrides::new());
        let entitled = match (now.eligible, now.amount) {
            (Tri::Yes, Some(a)) => Some(a),
            (Tri::No, _) => Some(0),
            _ => None,
        };
        let adjusted_fen = adjusted.get(&grant_id).copied().unwrap_or(0);
        let delta = entitled.map(|e| e - granted_fen - adjusted_fen).unwrap_or(0);
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
        plan.items.push(CorrectionItem {
            recorded: recorded.contains(&grant_id),
            grant_id,
            enterprise_id: r.get(1),
            enterprise_name: r.get(2),
            granted_version: granted_under.version,
            granted_fen,
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
/// version in force today) makes to the grants of earlier versions.
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
/// pending adjustments (undecided grants wait for their facts); one
/// transaction, one audit entry; recording again adds nothing.
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
        let inserted = sqlx::query(
            "INSERT INTO policy_adjustments (id, base_id, policy_id, grant_id, enterprise_id, version_id, entitled_fen, \
             delta_fen, kind, policy_hash, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) \
             ON CONFLICT (grant_id, version_id) DO NOTHING",
        )
        .bind(crate::new_id())
        .bind(base_id)
        .bind(policy_id)
        .bind(&item.grant_id)
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
