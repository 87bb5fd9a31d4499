//! The database side of search: what is indexed, how a process tells that its
//! index is stale, and the re-check of hits against the current rows.

use chrono::NaiveDate;
use sqlx::Row;

use super::index::{Doc, Kind};
use crate::storage::{Db, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// Marks a base's search documents as changed. Call it inside the
/// transaction that changes a policy or a service: the bump commits (or rolls
/// back) with the change, so no process can see the change with an old index.
pub async fn bump(tx: &mut Tx, base_id: &str) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO search_generations (base_id, generation) VALUES ($1, 1) \
         ON CONFLICT (base_id) DO UPDATE SET generation = search_generations.generation + 1",
    )
    .bind(base_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What an index was built from. Besides the generation it holds counts and
/// the latest change time, so writers that do not bump (the demo loader, a
/// future import) still make the index stale; and the date, because the
/// rules version in force changes at midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    generation: i64,
    policies: i64,
    policies_changed: String,
    versions: i64,
    services: i64,
    services_active: i64,
    date: NaiveDate,
}

pub async fn stamp(db: &Db, base_id: &str, date: NaiveDate) -> Result<Stamp, AppError> {
    let r = sqlx::query(
        "SELECT \
           (SELECT COALESCE(MAX(generation), 0) FROM search_generations WHERE base_id = $1), \
           (SELECT COUNT(*) FROM policies WHERE base_id = $1), \
           (SELECT COALESCE(MAX(updated_at), '') FROM policies WHERE base_id = $1), \
           (SELECT COUNT(*) FROM policy_versions WHERE base_id = $1), \
           (SELECT COUNT(*) FROM services WHERE base_id = $1), \
           (SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM services WHERE base_id = $1)",
    )
    .bind(base_id)
    .fetch_one(db.pool())
    .await?;
    Ok(Stamp {
        generation: r.get(0),
        policies: r.get(1),
        policies_changed: r.get(2),
        versions: r.get(3),
        services: r.get(4),
        services_active: r.get(5),
        date,
    })
}

/// The labels of a rules source's conditions (`require "标签": …`), which
/// are the eligibility terms a reader searches for.
fn condition_labels(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("require"))
        .filter_map(|rest| rest.trim_start().strip_prefix('"'))
        .filter_map(|rest| rest.split_once('"').map(|(label, _)| label))
        .collect()
}

/// Every searchable document of a base: published policies (with the rules
/// version in force on `date`) and active services with their provider.
pub async fn documents(state: &AppState, base_id: &str, date: NaiveDate) -> Result<Vec<Doc>, AppError> {
    let mut docs = Vec::new();
    for p in crate::policy::library::list(&state.db, base_id, date, true).await? {
        let mut body = p.full_text.clone();
        for line in p.documents.iter().map(String::as_str).chain(
            p.current_version
                .as_ref()
                .map(|v| condition_labels(&v.source))
                .unwrap_or_default(),
        ) {
            body.push('\n');
            body.push_str(line);
        }
        docs.push(Doc {
            base_id: base_id.to_string(),
            kind: Kind::Policy,
            meta: format!("{} {}", p.issuer, p.doc_number).trim().to_string(),
            id: p.id,
            title: p.title,
            body,
            issuer: p.issuer,
            category: String::new(),
            no_application: p.no_application,
        });
    }
    for s in crate::voucher::market::list_services(state, base_id, None).await? {
        docs.push(Doc {
            base_id: base_id.to_string(),
            kind: Kind::Service,
            meta: format!("{} {}", s.provider_name, s.category),
            id: s.id,
            title: s.name,
            body: s.description,
            issuer: String::new(),
            category: s.category,
            no_application: false,
        });
    }
    Ok(docs)
}

/// Of `ids` of one kind, those still visible in `base_id` now (published
/// policies, active services). The index may be a moment old; this is not.
pub async fn still_visible(db: &Db, base_id: &str, kind: Kind, ids: &[&str]) -> Result<Vec<String>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let table_filter = match kind {
        Kind::Policy => "policies WHERE state = 'published'",
        Kind::Service => "services WHERE active = 1",
    };
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT id FROM {table_filter} AND base_id = $1 AND id IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(base_id);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(db.pool()).await?.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn condition_labels_come_from_require_lines() {
        let src = "policy t \"t\"\nrequire \"小微企业\": 小微企业\n  require \"未失信\": not 严重失信\namount = 1\n";
        assert_eq!(super::condition_labels(src), ["小微企业", "未失信"]);
    }
}
