//! The facts an enterprise is judged on: what the registry knows (founding
//! year, employees, high-tech status, region, industry) plus facts recorded
//! with their source and date (revenue, tax paid, credit grade…). A fact
//! that is known nowhere is missing, and the rules engine says so.

use std::collections::BTreeMap;

use chuangtong_rules::{FactSchema, Facts, Value};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Db};
use crate::web::error::{AppError, FieldError};
use crate::web::AppState;

/// Where a fact came from, kept with every answer that leads to money.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FactRecord {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub source: String,
    pub as_of: String,
}

pub struct EnterpriseFacts {
    pub facts: Facts,
    pub records: BTreeMap<String, FactRecord>,
}

pub fn schema() -> &'static FactSchema {
    static SCHEMA: std::sync::OnceLock<FactSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(FactSchema::enterprise)
}

fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) | Value::Money(i) => json!(i),
        Value::Text(s) => json!(s),
        other => json!(other.to_source()),
    }
}

/// Loads the facts of every enterprise of a base (or one), keyed by enterprise id.
pub async fn load(
    db: &Db,
    base_id: &str,
    enterprise_id: Option<&str>,
) -> Result<BTreeMap<String, EnterpriseFacts>, AppError> {
    let schema = schema();
    let today = time::today();
    let eval_year = chrono::Datelike::year(&today) as i64;
    let mut out: BTreeMap<String, EnterpriseFacts> = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT id, founded_on, employees, high_tech, region_code, industry, created_at FROM enterprises \
         WHERE base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id = $2)",
    )
    .bind(base_id)
    .bind(enterprise_id)
    .fetch_all(db.pool())
    .await?;
    for r in rows {
        let id: String = r.get(0);
        let founded: String = r.get(1);
        let registry_as_of: String = r.get::<String, _>(6).chars().take(10).collect();
        let mut facts = Facts::new();
        let mut records = BTreeMap::new();
        let mut put = |name: &str, v: Value, source: &str, as_of: &str| {
            if schema.set(&mut facts, name, v.clone()).is_ok() {
                records.insert(
                    name.to_string(),
                    FactRecord {
                        value: json_of(&v),
                        source: source.into(),
                        as_of: as_of.into(),
                    },
                );
            }
        };
        if let Some(year) = founded.get(0..4).and_then(|y| y.parse::<i64>().ok()) {
            put("成立年度", Value::Int(year), "注册库", &registry_as_of);
        }
        put("从业人数", Value::Int(r.get(2)), "注册库", &registry_as_of);
        put(
            "高新技术企业",
            Value::Bool(r.get::<i64, _>(3) == 1),
            "注册库",
            &registry_as_of,
        );
        put("所在地", Value::Text(r.get(4)), "注册库", &registry_as_of);
        put("行业门类", Value::Text(r.get(5)), "注册库", &registry_as_of);
        put("评估年度", Value::Int(eval_year), "系统", &today.to_string());
        out.insert(id, EnterpriseFacts { facts, records });
    }
    let rows = sqlx::query(
        "SELECT enterprise_id, fact, value_json, source, as_of FROM enterprise_facts \
         WHERE base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR enterprise_id = $2)",
    )
    .bind(base_id)
    .bind(enterprise_id)
    .fetch_all(db.pool())
    .await?;
    for r in rows {
        let (eid, fact, value, source, as_of): (String, String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let Some(entry) = out.get_mut(&eid) else { continue };
        let Ok(json_value) = serde_json::from_str::<serde_json::Value>(&value) else {
            continue;
        };
        // Validated on the way in; a value that no longer fits the schema is treated as missing.
        if let Ok(parsed) = schema.facts_from_json(&json!({ fact.clone(): json_value.clone() })) {
            if let Some(v) = parsed.get(&fact) {
                let _ = schema.set(&mut entry.facts, &fact, v.clone());
                entry.records.insert(
                    fact,
                    FactRecord {
                        value: json_value,
                        source,
                        as_of,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// The facts an enterprise or its steward may record (not those the registry owns).
pub fn recordable(name: &str) -> bool {
    !matches!(
        name,
        "成立年度" | "从业人数" | "高新技术企业" | "所在地" | "行业门类" | "评估年度"
    )
}

/// Records facts given as a JSON object {fact name or alias: value}; every error is reported, nothing is kept on error.
pub async fn record(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    values: &serde_json::Value,
    source: &str,
) -> Result<usize, AppError> {
    let schema = schema();
    let parsed = schema.facts_from_json(values).map_err(|errs| {
        AppError::Validation(
            errs.iter()
                .map(|e| FieldError::new("facts", &e.code, e.message.clone()))
                .collect(),
        )
    })?;
    let mut bad = Vec::new();
    for (name, _) in parsed.iter() {
        if !recordable(name) {
            bad.push(FieldError::new(
                "facts",
                "facts.registry_owned",
                format!("“{name}”来自注册库，请在企业信息中修改"),
            ));
        }
    }
    if !bad.is_empty() {
        return Err(AppError::Validation(bad));
    }
    let mut tx = state.db.begin().await?;
    let known = sqlx::query("SELECT 1 FROM enterprises WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(enterprise_id)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        return Err(AppError::NotFound);
    }
    let now = time::now_text();
    let today = time::today().to_string();
    let mut n = 0;
    let mut after = serde_json::Map::new();
    for (name, v) in parsed.iter() {
        let value = json_of(v).to_string();
        sqlx::query(
            "INSERT INTO enterprise_facts (base_id, enterprise_id, fact, value_json, source, as_of, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (enterprise_id, fact) DO UPDATE SET \
             value_json = excluded.value_json, source = excluded.source, as_of = excluded.as_of, recorded_at = excluded.recorded_at",
        )
        .bind(base_id)
        .bind(enterprise_id)
        .bind(name)
        .bind(&value)
        .bind(source)
        .bind(&today)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        after.insert(name.clone(), json_of(v));
        n += 1;
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "facts.recorded",
            entity: "enterprise",
            entity_id: Some(enterprise_id),
            before: None,
            after: Some(json!({ "facts": after, "source": source })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}
