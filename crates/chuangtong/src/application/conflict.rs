//! Conflicts of interest (回避) for the expert draw, computed from the
//! registry as well as declared. An expert is excluded from an application
//! when any of these holds, and the draw records every reason found:
//!
//! | code | 回避理由 |
//! |---|---|
//! | `declared` | the expert (or the base) declared a conflict with the applicant |
//! | `same_employer` | the expert works for the applicant (organisation = the applicant's name) |
//! | `partner_employer` | the expert works for a joint applicant (联合申报单位) of this application |
//! | `equity_employer` | the expert's employer holds shares in or controls the applicant or a joint applicant, or the reverse |
//! | `common_controller` | one holder controls both the expert's employer and the applicant |
//! | `equity_personal` | the expert personally holds shares in or controls the applicant or a joint applicant |
//! | `co_application` | the expert's employer applied jointly with the applicant on another application of the base |
//! | `recent_review` | the expert reviewed the same applicant within the programme's 回避期 (months) |
//!
//! The expert's employer is found by name among the base's enterprises
//! (experts record their organisation as text). Shareholding and control
//! come from `registry_links`, which base admins keep ([`add_link`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// A shareholding or control link (股权、实际控制).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// enterprise | expert
    pub holder_kind: String,
    pub holder_id: String,
    pub enterprise_id: String,
    /// shareholder | controller
    pub relation: String,
}

/// What the registry says around one application.
#[derive(Clone, Debug, Default)]
pub struct Circle {
    pub applicant: String,
    pub partners: Vec<String>,
    /// Enterprises that were on another application together with the applicant
    pub co_applicants: BTreeSet<String>,
    pub links: Vec<Link>,
    /// Expert id → declared reason
    pub declared: BTreeMap<String, String>,
    /// Experts drawn for this applicant within the 回避期
    pub recent: BTreeSet<String>,
    pub conflict_months: i64,
}

/// One expert as the check needs them.
#[derive(Clone, Debug)]
pub struct ExpertView {
    pub id: String,
    /// Enterprises of the base whose name is the expert's organisation
    pub employers: Vec<String>,
}

/// One reason to exclude.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub code: String,
    pub reason: String,
}

fn reason(code: &str, text: impl Into<String>) -> Reason {
    Reason {
        code: code.into(),
        reason: text.into(),
    }
}

/// Every reason the expert must stay off this application (empty: eligible). Pure.
pub fn reasons(c: &Circle, x: &ExpertView) -> Vec<Reason> {
    let mut out = Vec::new();
    if let Some(r) = c.declared.get(&x.id) {
        out.push(reason("declared", format!("申报回避：{r}")));
    }
    let parties: Vec<&String> = std::iter::once(&c.applicant).chain(&c.partners).collect();
    if x.employers.contains(&c.applicant) {
        out.push(reason("same_employer", "任职于申报单位"));
    }
    if c.partners.iter().any(|p| x.employers.contains(p)) {
        out.push(reason("partner_employer", "任职于联合申报单位"));
    }
    let linked = |a: &str, b: &str| {
        c.links
            .iter()
            .any(|l| l.holder_kind == "enterprise" && l.holder_id == a && l.enterprise_id == b)
    };
    if x.employers
        .iter()
        .any(|e| parties.iter().any(|p| linked(e, p) || linked(p, e)))
    {
        out.push(reason("equity_employer", "任职单位与申报单位存在持股或控制关系"));
    }
    let controllers_of = |e: &str| -> BTreeSet<(&str, &str)> {
        c.links
            .iter()
            .filter(|l| l.relation == "controller" && l.enterprise_id == e)
            .map(|l| (l.holder_kind.as_str(), l.holder_id.as_str()))
            .collect()
    };
    let applicant_controllers = controllers_of(&c.applicant);
    if x.employers
        .iter()
        .filter(|e| **e != c.applicant)
        .any(|e| !controllers_of(e).is_disjoint(&applicant_controllers))
    {
        out.push(reason("common_controller", "任职单位与申报单位受同一主体控制"));
    }
    if c.links
        .iter()
        .any(|l| l.holder_kind == "expert" && l.holder_id == x.id && parties.contains(&&l.enterprise_id))
    {
        out.push(reason("equity_personal", "本人持有申报单位股权或为其实际控制人"));
    }
    if x.employers.iter().any(|e| c.co_applicants.contains(e)) {
        out.push(reason("co_application", "任职单位曾与申报单位联合申报"));
    }
    if c.recent.contains(&x.id) {
        out.push(reason(
            "recent_review",
            format!("{}个月内评审过该企业", c.conflict_months),
        ));
    }
    out
}

/// Reads the circle of an application from the registry, inside the draw's transaction.
pub async fn circle(
    tx: &mut Tx,
    base_id: &str,
    application_id: &str,
    applicant: &str,
    conflict_months: i64,
) -> Result<Circle, AppError> {
    let partners =
        sqlx::query("SELECT enterprise_id FROM application_partners WHERE application_id = $1 ORDER BY enterprise_id")
            .bind(application_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    // Everyone on an application with the applicant, as lead or as partner.
    let co_applicants = sqlx::query(
        "SELECT DISTINCT q.e FROM \
           (SELECT id AS app, enterprise_id AS e FROM applications WHERE base_id = $1 \
            UNION ALL SELECT application_id, enterprise_id FROM application_partners WHERE base_id = $1) p \
         JOIN (SELECT id AS app, enterprise_id AS e FROM applications WHERE base_id = $1 \
            UNION ALL SELECT application_id, enterprise_id FROM application_partners WHERE base_id = $1) q \
           ON q.app = p.app \
         WHERE p.e = $2 AND q.e <> $2 AND p.app <> $3",
    )
    .bind(base_id)
    .bind(applicant)
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let links =
        sqlx::query("SELECT holder_kind, holder_id, enterprise_id, relation FROM registry_links WHERE base_id = $1")
            .bind(base_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Link {
                holder_kind: r.get(0),
                holder_id: r.get(1),
                enterprise_id: r.get(2),
                relation: r.get(3),
            })
            .collect();
    let declared =
        sqlx::query("SELECT expert_id, reason FROM expert_conflicts WHERE base_id = $1 AND enterprise_id = $2")
            .bind(base_id)
            .bind(applicant)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let since = time::to_text(Utc::now() - Duration::days(30 * conflict_months));
    let recent = sqlx::query(
        "SELECT DISTINCT expert_id FROM expert_assignments WHERE base_id = $1 AND enterprise_id = $2 AND drawn_at >= $3",
    )
    .bind(base_id)
    .bind(applicant)
    .bind(&since)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    Ok(Circle {
        applicant: applicant.into(),
        partners,
        co_applicants,
        links,
        declared,
        recent,
        conflict_months,
    })
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct LinkForm {
    /// enterprise | expert
    pub holder_kind: String,
    pub holder_id: String,
    /// The enterprise held or controlled
    pub enterprise_id: String,
    /// shareholder (持股) | controller (实际控制)
    pub relation: String,
    /// 持股比例（万分之一）, for shareholders
    #[serde(default)]
    pub share_bp: Option<i64>,
}

/// Records a shareholding or control link (base admins).
pub async fn add_link(state: &AppState, actor: &Actor, base_id: &str, f: &LinkForm) -> Result<String, AppError> {
    let mut e = FieldErrors::default();
    let holder_table = match f.holder_kind.as_str() {
        "enterprise" => Some("enterprises"),
        "expert" => Some("experts"),
        _ => {
            e.push("holder_kind", "link.holder_kind", "持有方应为企业或专家");
            None
        }
    };
    if !["shareholder", "controller"].contains(&f.relation.as_str()) {
        e.push("relation", "link.relation", "关系应为持股或实际控制");
    }
    if f.share_bp.is_some_and(|b| !(0..=10_000).contains(&b)) {
        e.push("share_bp", "link.share", "持股比例应在0到10000（万分之一）之间");
    }
    if f.holder_kind == "enterprise" && f.holder_id == f.enterprise_id {
        e.push("holder_id", "link.self", "企业不能持有自身");
    }
    let mut tx = state.db.begin().await?;
    for (field, table, id) in [
        ("holder_id", holder_table, &f.holder_id),
        ("enterprise_id", Some("enterprises"), &f.enterprise_id),
    ] {
        let Some(table) = table else { continue };
        let found = sqlx::query(&format!("SELECT 1 FROM {table} WHERE base_id = $1 AND id = $2"))
            .bind(base_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            e.push(field, "application.unknown", "本基地没有该记录");
        }
    }
    e.into_result()?;
    let id = crate::new_id();
    let inserted = sqlx::query(
        "INSERT INTO registry_links (id, base_id, holder_kind, holder_id, enterprise_id, relation, share_bp, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (base_id, holder_kind, holder_id, enterprise_id, relation) DO NOTHING",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&f.holder_kind)
    .bind(&f.holder_id)
    .bind(&f.enterprise_id)
    .bind(&f.relation)
    .bind(f.share_bp)
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::refused("link.exists", "该关联关系已登记"));
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "registry.link_added",
            entity: "enterprise",
            entity_id: Some(&f.enterprise_id),
            before: None,
            after: Some(
                json!({ "link_id": id, "holder_kind": f.holder_kind, "holder_id": f.holder_id,
                "relation": f.relation, "share_bp": f.share_bp }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: &str, holder: &str, e: &str, relation: &str) -> Link {
        Link {
            holder_kind: kind.into(),
            holder_id: holder.into(),
            enterprise_id: e.into(),
            relation: relation.into(),
        }
    }

    fn x(id: &str, employers: &[&str]) -> ExpertView {
        ExpertView {
            id: id.into(),
            employers: employers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn codes(c: &Circle, e: &ExpertView) -> Vec<String> {
        reasons(c, e).into_iter().map(|r| r.code).collect()
    }

    #[test]
    fn every_registry_conflict_is_found_and_named() {
        let c = Circle {
            applicant: "A".into(),
            partners: vec!["P".into()],
            co_applicants: ["Q".to_string()].into(),
            links: vec![
                link("enterprise", "H", "A", "shareholder"),
                link("enterprise", "G", "A", "controller"),
                link("enterprise", "G", "S", "controller"),
                link("expert", "x6", "P", "shareholder"),
                link("enterprise", "N", "Z", "controller"),
            ],
            declared: [("x7".to_string(), "亲属任职".to_string())].into(),
            recent: ["x8".to_string()].into(),
            conflict_months: 12,
        };
        assert_eq!(codes(&c, &x("x1", &["A"])), vec!["same_employer"]);
        assert_eq!(codes(&c, &x("x2", &["P"])), vec!["partner_employer"]);
        assert_eq!(codes(&c, &x("x3", &["H"])), vec!["equity_employer"]);
        assert_eq!(codes(&c, &x("x4", &["S"])), vec!["common_controller"]);
        assert_eq!(codes(&c, &x("x5", &["Q"])), vec!["co_application"]);
        assert_eq!(codes(&c, &x("x6", &[])), vec!["equity_personal"]);
        assert_eq!(codes(&c, &x("x7", &[])), vec!["declared"]);
        assert_eq!(codes(&c, &x("x8", &[])), vec!["recent_review"]);
        // Links elsewhere in the registry are no conflict; several reasons are all kept.
        assert!(codes(&c, &x("x9", &["N"])).is_empty());
        assert!(codes(&c, &x("x10", &["Z"])).is_empty());
        assert_eq!(
            codes(&c, &x("x8", &["A", "G"])),
            vec!["same_employer", "equity_employer", "recent_review"]
        );
    }
}
