//! 影响预览: before a policy (or a changed version) is published, what it
//! does to the base's own registry — how many firms qualify and what it
//! costs, split by GB/T 4754 section, by size (see [`super::size`]) and by
//! park; which firms it shares with the policies already in force and for
//! how much; and, for a changed version, which firms gain and which lose.
//!
//! Park: the 园区 above the firm's org unit in the base's organisation
//! tree; a firm without an org unit is placed by its district (the org unit
//! of the same GB/T 2260 code) when that district has exactly one park, and
//! is otherwise shown under its district ("未分园区") or as "未归入园区".

use std::collections::{BTreeMap, HashMap};

use chuangtong_domain::IndustrySection;
use chuangtong_rules::{Facts, Outcome, ParamOverrides, Policy, Tri, Value};
use serde::Serialize;
use sqlx::Row;

use super::facts;
use super::judge;
use super::library::{self, VersionInfo};
use super::size::{self, Size};
use crate::web::error::AppError;
use crate::web::AppState;

/// A firm of the registry as the preview sees it.
pub struct Firm {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub size: Size,
    pub park: String,
    pub facts: Facts,
}

struct Unit {
    parent: Option<String>,
    level: String,
    name: String,
    region: Option<String>,
}

fn park_of(units: &HashMap<String, Unit>, org_unit: Option<&str>, region: &str) -> String {
    let mut cur = org_unit;
    while let Some(id) = cur {
        let Some(u) = units.get(id) else { break };
        if u.level == "park" {
            return u.name.clone();
        }
        cur = u.parent.as_deref();
    }
    let district = units
        .iter()
        .filter(|(_, u)| u.level == "district" && u.region.as_deref() == Some(region))
        .min_by(|a, b| a.0.cmp(b.0));
    if let Some((did, d)) = district {
        let parks: Vec<&Unit> = units
            .values()
            .filter(|u| u.level == "park" && u.parent.as_deref() == Some(did.as_str()))
            .collect();
        return match parks.as_slice() {
            [only] => only.name.clone(),
            _ => format!("{}（未分园区）", d.name),
        };
    }
    "未归入园区".into()
}

/// Every firm of the base with its facts, size and park, by name.
pub async fn registry(state: &AppState, base_id: &str) -> Result<Vec<Firm>, AppError> {
    let mut all = facts::load(&state.db, base_id, None).await?;
    let units: HashMap<String, Unit> =
        sqlx::query("SELECT id, parent_id, level, name, region_code FROM org_units WHERE base_id = $1")
            .bind(base_id)
            .fetch_all(state.db.pool())
            .await?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Unit {
                        parent: r.get(1),
                        level: r.get(2),
                        name: r.get(3),
                        region: r.get(4),
                    },
                )
            })
            .collect();
    let rows = sqlx::query(
        "SELECT id, name, industry, employees, region_code, org_unit_id FROM enterprises WHERE base_id = $1 ORDER BY name, id",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: String = r.get(0);
            let industry: String = r.get(2);
            let facts = all.remove(&id).map(|e| e.facts).unwrap_or_default();
            let revenue = match facts.get("营业收入") {
                Some(Value::Money(m)) => Some(*m),
                _ => None,
            };
            let org_unit: Option<String> = r.get(5);
            Firm {
                size: size::classify(&industry, r.get(3), revenue),
                park: park_of(&units, org_unit.as_deref(), &r.get::<String, _>(4)),
                id,
                name: r.get(1),
                industry,
                facts,
            }
        })
        .collect())
}

fn evaluate(policy: &Policy, firms: &[Firm], overrides: &ParamOverrides) -> Vec<(String, Outcome)> {
    firms
        .iter()
        .map(|f| (f.id.clone(), policy.evaluate(&f.facts, overrides)))
        .collect()
}

/// What a firm gets: `Some(amount)` when it qualifies, `None` otherwise (an
/// undecidable answer counts as not qualifying: it costs nothing until the
/// missing fact is supplied).
fn benefit(o: &Outcome) -> Option<i64> {
    (o.eligible == Tri::Yes).then(|| o.amount.unwrap_or(0))
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FirmDelta {
    pub enterprise_id: String,
    pub enterprise_name: String,
    /// `null` = did not qualify
    pub before_fen: Option<i64>,
    /// `null` = does not qualify
    pub after_fen: Option<i64>,
    pub delta_fen: i64,
}

/// Two answers for the same firms compared firm by firm.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub from: String,
    pub to: String,
    pub eligible_before: i64,
    pub eligible_after: i64,
    pub cost_before_fen: i64,
    pub cost_after_fen: i64,
    /// Firms that qualify newly or get more, largest change first
    pub gains: Vec<FirmDelta>,
    /// Firms that no longer qualify or get less, largest change first
    pub losses: Vec<FirmDelta>,
}

/// Compares two answers for the same firms (`after` aligned with `before` by enterprise id).
pub fn compare(
    from: &str,
    to: &str,
    before: &[(String, Outcome)],
    after: &[(String, Outcome)],
    names: &BTreeMap<String, String>,
) -> Comparison {
    let after: HashMap<&str, &Outcome> = after.iter().map(|(id, o)| (id.as_str(), o)).collect();
    let mut c = Comparison {
        from: from.into(),
        to: to.into(),
        eligible_before: 0,
        eligible_after: 0,
        cost_before_fen: 0,
        cost_after_fen: 0,
        gains: Vec::new(),
        losses: Vec::new(),
    };
    for (id, b) in before {
        let (b, a) = (benefit(b), after.get(id.as_str()).and_then(|o| benefit(o)));
        c.eligible_before += b.is_some() as i64;
        c.eligible_after += a.is_some() as i64;
        c.cost_before_fen = c.cost_before_fen.saturating_add(b.unwrap_or(0));
        c.cost_after_fen = c.cost_after_fen.saturating_add(a.unwrap_or(0));
        let delta = a.unwrap_or(0) - b.unwrap_or(0);
        let d = FirmDelta {
            enterprise_id: id.clone(),
            enterprise_name: names.get(id).cloned().unwrap_or_default(),
            before_fen: b,
            after_fen: a,
            delta_fen: delta,
        };
        if delta > 0 || (b.is_none() && a.is_some()) {
            c.gains.push(d);
        } else if delta < 0 || (b.is_some() && a.is_none()) {
            c.losses.push(d);
        }
    }
    let order = |x: &FirmDelta, y: &FirmDelta| {
        y.delta_fen
            .abs()
            .cmp(&x.delta_fen.abs())
            .then(x.enterprise_name.cmp(&y.enterprise_name))
    };
    c.gains.sort_by(order);
    c.losses.sort_by(order);
    c
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub key: String,
    pub label: String,
    /// Firms of the registry in the group
    pub firms: i64,
    pub eligible: i64,
    pub cost_fen: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Overlap {
    pub policy_id: String,
    pub title: String,
    /// Firms that qualify for both
    pub both: i64,
    /// What this policy gives those firms
    pub this_fen: i64,
    /// What the policy in force already gives them
    pub other_fen: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ParamView {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// Default as a literal of the rules language
    pub value: String,
    /// Shared by every policy (前言)
    pub shared: bool,
    /// Keys of a table parameter (by grade or level)
    pub keys: Vec<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Impact {
    pub policy_id: String,
    pub title: String,
    /// draft | published | withdrawn
    pub policy_state: String,
    pub version: i64,
    pub effective_from: String,
    /// The version in force today, if any
    pub in_force_version: Option<i64>,
    pub params: Vec<ParamView>,
    /// Firms in the registry
    pub firms: i64,
    pub eligible: i64,
    pub unknown: i64,
    pub not_eligible: i64,
    pub cost_fen: i64,
    pub budget_fen: i64,
    /// Cost above the budget (0 when it fits)
    pub over_budget_fen: i64,
    pub by_industry: Vec<Group>,
    pub by_size: Vec<Group>,
    pub by_park: Vec<Group>,
    /// Policies in force today whose qualifying firms overlap with this one's
    pub overlaps: Vec<Overlap>,
    /// Against the version in force today (or the previous version): who gains, who loses
    pub change: Option<Comparison>,
}

fn groups(
    firms: &[Firm],
    outcomes: &[(String, Outcome)],
    key: impl Fn(&Firm) -> (String, String, String),
) -> Vec<Group> {
    // Keyed by (sort key, key, label) so groups come out in a stable order.
    let mut map: BTreeMap<String, Group> = BTreeMap::new();
    for (f, (_, o)) in firms.iter().zip(outcomes) {
        let (sort, k, label) = key(f);
        let g = map.entry(sort).or_insert(Group {
            key: k,
            label,
            firms: 0,
            eligible: 0,
            cost_fen: 0,
        });
        g.firms += 1;
        if let Some(a) = benefit(o) {
            g.eligible += 1;
            g.cost_fen = g.cost_fen.saturating_add(a);
        }
    }
    map.into_values().collect()
}

fn param_views(policy: &Policy) -> Vec<ParamView> {
    policy
        .params()
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            ty: p.ty.to_string(),
            value: p.default.to_source(),
            shared: p.from_prelude,
            keys: match &p.default {
                Value::Table(t) => t.keys().cloned().collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// The impact of version `number` of a policy (default its latest version).
pub async fn preview(
    state: &AppState,
    base_id: &str,
    policy_id: &str,
    number: Option<i64>,
) -> Result<Impact, AppError> {
    let (info, v, policy) = judge::version_of(state, base_id, policy_id, number).await?;
    let firms = registry(state, base_id).await?;
    let outcomes = evaluate(&policy, &firms, &ParamOverrides::new());
    let names: BTreeMap<String, String> = firms.iter().map(|f| (f.id.clone(), f.name.clone())).collect();
    let summary = judge::summarise(&info.id, info.budget_fen, &outcomes, &names);

    let mut overlaps = Vec::new();
    for (other, other_policy) in judge::in_force(state, base_id).await? {
        if other.id == info.id {
            continue;
        }
        let mut o = Overlap {
            policy_id: other.id.clone(),
            title: other.title.clone(),
            both: 0,
            this_fen: 0,
            other_fen: 0,
        };
        for (f, (_, mine)) in firms.iter().zip(&outcomes) {
            let Some(this) = benefit(mine) else { continue };
            if let Some(theirs) = benefit(&other_policy.evaluate(&f.facts, &ParamOverrides::new())) {
                o.both += 1;
                o.this_fen = o.this_fen.saturating_add(this);
                o.other_fen = o.other_fen.saturating_add(theirs);
            }
        }
        overlaps.push(o);
    }
    overlaps.sort_by(|a, b| b.both.cmp(&a.both).then(a.title.cmp(&b.title)));

    let in_force = info.current_version.clone();
    let baseline: Option<VersionInfo> = match &in_force {
        Some(cur) if cur.id != v.id => Some(cur.clone()),
        _ => library::versions(&state.db, base_id, policy_id)
            .await?
            .into_iter()
            .find(|p| p.version == v.version - 1),
    };
    let change = match baseline {
        Some(b) => {
            let before = evaluate(&*library::compiled_version(&b)?, &firms, &ParamOverrides::new());
            Some(compare(
                &format!("第{}版", b.version),
                &format!("第{}版", v.version),
                &before,
                &outcomes,
                &names,
            ))
        }
        None => None,
    };

    Ok(Impact {
        policy_id: info.id.clone(),
        title: info.title.clone(),
        policy_state: info.state.clone(),
        version: v.version,
        effective_from: v.effective_from.clone(),
        in_force_version: in_force.map(|c| c.version),
        params: param_views(&policy),
        firms: firms.len() as i64,
        eligible: summary.eligible,
        unknown: summary.unknown,
        not_eligible: summary.not_eligible,
        cost_fen: summary.cost_fen,
        budget_fen: info.budget_fen,
        over_budget_fen: (summary.cost_fen - info.budget_fen).max(0),
        by_industry: groups(&firms, &outcomes, |f| {
            let label = IndustrySection::parse(&f.industry)
                .map(|s| s.name().to_string())
                .unwrap_or_else(|_| f.industry.clone());
            (f.industry.clone(), f.industry.clone(), label)
        }),
        by_size: groups(&firms, &outcomes, |f| {
            // Sorted 大 → 微 → 未知 by the enum's order.
            (format!("{}", f.size as u8), f.size.code().into(), f.size.zh().into())
        }),
        by_park: groups(&firms, &outcomes, |f| (f.park.clone(), f.park.clone(), f.park.clone())),
        overlaps,
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(parent: Option<&str>, level: &str, name: &str, region: Option<&str>) -> Unit {
        Unit {
            parent: parent.map(str::to_string),
            level: level.into(),
            name: name.into(),
            region: region.map(str::to_string),
        }
    }

    #[test]
    fn park_comes_from_the_org_tree_then_the_district() {
        let units: HashMap<String, Unit> = [
            ("d1", unit(None, "district", "马尾区", Some("350105"))),
            ("p1", unit(Some("d1"), "park", "马尾园区", None)),
            ("s1", unit(Some("p1"), "station", "罗星站", None)),
            ("d2", unit(None, "district", "仓山区", Some("350104"))),
            ("p2", unit(Some("d2"), "park", "甲园", None)),
            ("p3", unit(Some("d2"), "park", "乙园", None)),
        ]
        .into_iter()
        .map(|(k, u)| (k.to_string(), u))
        .collect();
        assert_eq!(park_of(&units, Some("s1"), "350104"), "马尾园区");
        assert_eq!(park_of(&units, None, "350105"), "马尾园区");
        assert_eq!(park_of(&units, None, "350104"), "仓山区（未分园区）");
        assert_eq!(park_of(&units, None, "110101"), "未归入园区");
    }
}
