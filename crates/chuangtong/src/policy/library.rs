//! The policy library: a policy's particulars (title, issuer, document
//! number, full text, required documents, procedure, budget, 免申即享) and
//! its versioned rules. A rules source is compiled before it is stored, so a
//! stored version always compiles; errors come back with line and column.

use chrono::NaiveDate;
use chuangtong_domain::Fen;
use chuangtong_rules::{compile, ParamOverrides, Policy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::facts::schema;
use crate::audit::{self, Actor, Entry};
use crate::registry::required_text;
use crate::storage::{time, Db, Tx};
use crate::web::error::{AppError, FieldError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyInfo {
    pub id: String,
    pub title: String,
    pub issuer: String,
    pub doc_number: String,
    pub full_text: String,
    pub documents: Vec<String>,
    pub procedure: String,
    pub budget_fen: i64,
    /// 免申即享: granted without application
    pub no_application: bool,
    /// draft | published | withdrawn
    pub state: String,
    pub current_version: Option<VersionInfo>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub id: String,
    pub version: i64,
    pub source: String,
    pub policy_hash: String,
    pub effective_from: String,
    pub effective_to: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PolicyForm {
    pub title: String,
    pub issuer: String,
    #[serde(default)]
    pub doc_number: String,
    #[serde(default)]
    pub full_text: String,
    /// One required document per line
    #[serde(default)]
    pub documents: String,
    #[serde(default)]
    pub procedure: String,
    /// 预算（元）
    #[serde(default)]
    pub budget_yuan: String,
    #[serde(default)]
    pub no_application: bool,
    /// The rules, in the rules language
    pub source: String,
    /// YYYY-MM-DD
    pub effective_from: String,
    #[serde(default)]
    pub effective_to: String,
}

/// Compiles a rules source; errors become field errors on `source` with line and column.
pub fn compile_source(source: &str) -> Result<Policy, AppError> {
    compile(source, schema()).map_err(|errs| {
        AppError::Validation(
            errs.iter()
                .map(|e| FieldError::new("source", &e.code, e.to_string()))
                .collect(),
        )
    })
}

/// The compiled rules of a stored version. A version's source never changes
/// once stored, so compiled policies are kept per process by version id:
/// the calculator and matching no longer recompile every published policy on
/// every request. (A cache only: it holds nothing the database does not.)
pub fn compiled_version(v: &VersionInfo) -> Result<std::sync::Arc<Policy>, AppError> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Policy>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().expect("policy cache lock").get(&v.id) {
        return Ok(p.clone());
    }
    let compiled = Arc::new(compile_source(&v.source)?);
    let mut map = cache.lock().expect("policy cache lock");
    if map.len() >= 10_000 {
        map.clear();
    }
    map.insert(v.id.clone(), compiled.clone());
    Ok(compiled)
}

fn parse_dates(e: &mut FieldErrors, from: &str, to: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let from_d = NaiveDate::parse_from_str(from.trim(), "%Y-%m-%d").ok();
    if from_d.is_none() {
        e.push("effective_from", "date.format", "生效日期格式应为YYYY-MM-DD");
    }
    let to_d = if to.trim().is_empty() {
        None
    } else {
        let d = NaiveDate::parse_from_str(to.trim(), "%Y-%m-%d").ok();
        if d.is_none() {
            e.push("effective_to", "date.format", "失效日期格式应为YYYY-MM-DD");
        }
        d
    };
    if let (Some(f), Some(t)) = (from_d, to_d) {
        if t <= f {
            e.push("effective_to", "policy.dates", "失效日期应晚于生效日期");
        }
    }
    (from_d, to_d)
}

/// Creates a draft policy with its first version.
pub async fn create(state: &AppState, actor: &Actor, base_id: &str, f: &PolicyForm) -> Result<String, AppError> {
    let mut e = FieldErrors::default();
    let title = required_text(&mut e, "title", "政策名称", &f.title, 200);
    let issuer = required_text(&mut e, "issuer", "发文机关", &f.issuer, 100);
    let budget = if f.budget_yuan.trim().is_empty() {
        Some(Fen::ZERO)
    } else {
        e.take("budget_yuan", Fen::from_yuan_str(&f.budget_yuan))
    };
    let (from, to) = parse_dates(&mut e, &f.effective_from, &f.effective_to);
    let compiled = match compile_source(&f.source) {
        Ok(p) => Some(p),
        Err(AppError::Validation(fields)) => {
            e.0.extend(fields);
            None
        }
        Err(other) => return Err(other),
    };
    e.into_result()?;
    let id = crate::new_id();
    let now = time::now_text();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO policies (id, base_id, title, issuer, doc_number, full_text, documents, procedure, budget_fen, \
         no_application, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'draft', $11, $11)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(title.as_deref().unwrap())
    .bind(issuer.as_deref().unwrap())
    .bind(f.doc_number.trim())
    .bind(f.full_text.trim())
    .bind(f.documents.trim())
    .bind(f.procedure.trim())
    .bind(budget.unwrap().fen())
    .bind(f.no_application as i64)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let version = insert_version(
        &mut tx,
        base_id,
        &id,
        &f.source,
        compiled.as_ref().unwrap(),
        from.unwrap(),
        to,
    )
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.created",
            entity: "policy",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "title": title, "issuer": issuer, "doc_number": f.doc_number.trim(),
                "no_application": f.no_application, "budget_fen": budget.unwrap().fen(), "version": version }),
            ),
        },
    )
    .await?;
    crate::search::bump(&mut tx, base_id).await?; // the search index is stale now
    tx.commit().await?;
    Ok(id)
}

async fn insert_version(
    tx: &mut Tx,
    base_id: &str,
    policy_id: &str,
    source: &str,
    compiled: &Policy,
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Result<i64, AppError> {
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM policy_versions WHERE policy_id = $1")
        .bind(policy_id)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    // The previous open version ends where this one starts.
    sqlx::query("UPDATE policy_versions SET effective_to = $1 WHERE policy_id = $2 AND effective_to IS NULL AND effective_from < $1")
        .bind(from.to_string())
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO policy_versions (id, base_id, policy_id, version, source, policy_hash, effective_from, effective_to, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(policy_id)
    .bind(next)
    .bind(source)
    .bind(compiled.hash_with(&ParamOverrides::new()))
    .bind(from.to_string())
    .bind(to.map(|d| d.to_string()))
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    Ok(next)
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct VersionForm {
    pub source: String,
    pub effective_from: String,
    #[serde(default)]
    pub effective_to: String,
}

/// A corrected or amended version of the rules.
pub async fn add_version(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    policy_id: &str,
    f: &VersionForm,
) -> Result<i64, AppError> {
    let mut e = FieldErrors::default();
    let (from, to) = parse_dates(&mut e, &f.effective_from, &f.effective_to);
    let compiled = match compile_source(&f.source) {
        Ok(p) => Some(p),
        Err(AppError::Validation(fields)) => {
            e.0.extend(fields);
            None
        }
        Err(other) => return Err(other),
    };
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let exists = sqlx::query("SELECT 1 FROM policies WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(policy_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound);
    }
    let version = insert_version(
        &mut tx,
        base_id,
        policy_id,
        &f.source,
        compiled.as_ref().unwrap(),
        from.unwrap(),
        to,
    )
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.versioned",
            entity: "policy",
            entity_id: Some(policy_id),
            before: None,
            after: Some(json!({ "version": version, "effective_from": f.effective_from })),
        },
    )
    .await?;
    crate::search::bump(&mut tx, base_id).await?; // the search index is stale now
    tx.commit().await?;
    Ok(version)
}

/// Publishing makes a policy visible to enterprises and usable by the calculator.
pub async fn publish(state: &AppState, actor: &Actor, base_id: &str, policy_id: &str) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let changed = sqlx::query("UPDATE policies SET state = 'published', updated_at = $1 WHERE base_id = $2 AND id = $3 AND state <> 'published'")
        .bind(time::now_text())
        .bind(base_id)
        .bind(policy_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        let exists = sqlx::query("SELECT 1 FROM policies WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(policy_id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(if exists.is_some() {
            AppError::Conflict {
                code: "policy.already_published",
                message: "政策已发布".into(),
            }
        } else {
            AppError::NotFound
        });
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "policy.published",
            entity: "policy",
            entity_id: Some(policy_id),
            before: None,
            after: Some(json!({ "state": "published" })),
        },
    )
    .await?;
    crate::search::bump(&mut tx, base_id).await?; // the search index is stale now
    tx.commit().await?;
    Ok(())
}

const INFO_COLUMNS: &str =
    "p.id, p.title, p.issuer, p.doc_number, p.full_text, p.documents, p.procedure, p.budget_fen, \
    p.no_application, p.state, v.id, v.version, v.source, v.policy_hash, v.effective_from, v.effective_to";

/// The version in force on `date` joins each policy (LEFT JOIN: a policy may have none in force).
fn info_sql(filter: &str) -> String {
    format!(
        "SELECT {INFO_COLUMNS} FROM policies p LEFT JOIN policy_versions v ON v.policy_id = p.id \
         AND v.effective_from <= $2 AND (v.effective_to IS NULL OR v.effective_to > $2) \
         WHERE p.base_id = $1 {filter} ORDER BY p.title, p.id"
    )
}

fn info_from_row(r: &sqlx::any::AnyRow) -> PolicyInfo {
    let version_id: Option<String> = r.get(10);
    PolicyInfo {
        id: r.get(0),
        title: r.get(1),
        issuer: r.get(2),
        doc_number: r.get(3),
        full_text: r.get(4),
        documents: r
            .get::<String, _>(5)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        procedure: r.get(6),
        budget_fen: r.get(7),
        no_application: r.get::<i64, _>(8) == 1,
        state: r.get(9),
        current_version: version_id.map(|id| VersionInfo {
            id,
            version: r.get(11),
            source: r.get(12),
            policy_hash: r.get(13),
            effective_from: r.get(14),
            effective_to: r.get(15),
        }),
    }
}

/// Policies of a base with the version in force on `date`; `published_only` for enterprises.
pub async fn list(db: &Db, base_id: &str, date: NaiveDate, published_only: bool) -> Result<Vec<PolicyInfo>, AppError> {
    let filter = if published_only {
        "AND p.state = 'published'"
    } else {
        ""
    };
    let rows = sqlx::query(&info_sql(filter))
        .bind(base_id)
        .bind(date.to_string())
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(info_from_row).collect())
}

pub async fn get(db: &Db, base_id: &str, id: &str, date: NaiveDate) -> Result<PolicyInfo, AppError> {
    let row = sqlx::query(&info_sql("AND p.id = $3"))
        .bind(base_id)
        .bind(date.to_string())
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(info_from_row).ok_or(AppError::NotFound)
}

/// Every version of a policy of the base, oldest first (drafts and future versions included).
pub async fn versions(db: &Db, base_id: &str, policy_id: &str) -> Result<Vec<VersionInfo>, AppError> {
    let rows = sqlx::query(
        "SELECT id, version, source, policy_hash, effective_from, effective_to FROM policy_versions \
         WHERE base_id = $1 AND policy_id = $2 ORDER BY version",
    )
    .bind(base_id)
    .bind(policy_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| VersionInfo {
            id: r.get(0),
            version: r.get(1),
            source: r.get(2),
            policy_hash: r.get(3),
            effective_from: r.get(4),
            effective_to: r.get(5),
        })
        .collect())
}

/// Version `number` of a policy, or its latest version (the one being
/// prepared, when previewing before publishing). 404 for another base's policy.
pub async fn version(db: &Db, base_id: &str, policy_id: &str, number: Option<i64>) -> Result<VersionInfo, AppError> {
    let all = versions(db, base_id, policy_id).await?;
    if all.is_empty() {
        return Err(AppError::NotFound);
    }
    match number {
        None => Ok(all.last().cloned().expect("not empty")),
        Some(n) => all
            .into_iter()
            .find(|v| v.version == n)
            .ok_or_else(|| AppError::field("version", "policy.unknown_version", format!("该政策没有第{n}版"))),
    }
}
