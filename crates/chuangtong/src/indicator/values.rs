//! Values of manually reported indicators (and computed values recorded at
//! a period's close). One value per key and period; entering it again
//! replaces it, with the old value in the audit entry.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::catalogue::{self, Definition};
use super::measure::Measure;
use super::period::Period;
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ValueForm {
    #[serde(default)]
    pub key: String,
    /// 2026-05, 2026-Q2 or 2026, matching the indicator's period
    #[serde(default)]
    pub period: String,
    /// Decimal for counts (up to 4 places), integer fen for money
    #[serde(default)]
    pub value: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StoredValue {
    pub key: String,
    pub period: String,
    pub value: String,
    pub display: String,
    /// manual | import | computed
    pub origin: String,
    pub definition_version: i64,
    pub updated_by: String,
    pub updated_at: String,
}

/// A checked manual value: the definition it belongs to, its period and amount.
pub struct CheckedValue {
    pub definition: Definition,
    pub period: Period,
    pub measure: Measure,
}

/// Checks one value against the catalogue; every problem is reported.
pub fn check(defs: &[Definition], f: &ValueForm) -> Result<CheckedValue, FieldErrors> {
    let mut e = FieldErrors::default();
    let definition = defs.iter().find(|d| d.key == f.key.trim());
    match definition {
        None => e.push("key", "indicator.unknown", format!("本基地没有指标“{}”", f.key.trim())),
        Some(d) if !d.is_manual() => e.push(
            "key",
            "indicator.computed",
            format!("“{}”由平台根据实时数据计算，无需填报", d.name),
        ),
        Some(_) => {}
    }
    let period = e.take("period", Period::parse(&f.period));
    if let (Some(d), Some(p)) = (definition, period) {
        if p.kind != d.period_kind() {
            e.push(
                "period",
                "period.kind_mismatch",
                format!("“{}”按{}统计，时期“{}”不符", d.name, d.period_kind().label(), p),
            );
        }
    }
    let measure = definition.and_then(|d| e.take("value", Measure::parse(d.value_type(), &f.value)));
    if !e.is_empty() {
        return Err(e);
    }
    Ok(CheckedValue {
        definition: definition.expect("checked").clone(),
        period: period.expect("checked"),
        measure: measure.expect("checked"),
    })
}

/// The use case behind "填报指标值": validate, store, audit, in one transaction.
pub async fn enter(state: &AppState, actor: &Actor, base_id: &str, form: &ValueForm) -> Result<StoredValue, AppError> {
    let defs = catalogue::current(state, base_id).await?;
    let v = check(&defs, form).map_err(|e| AppError::Validation(e.0))?;
    let mut tx = state.db.begin().await?;
    store(&mut tx, state, actor, base_id, &v, "manual", None).await?;
    tx.commit().await?;
    Ok(StoredValue {
        key: v.definition.key.clone(),
        period: v.period.to_string(),
        value: v.measure.stored(),
        display: v.measure.display(),
        origin: "manual".into(),
        definition_version: v.definition.version,
        updated_by: actor.name.clone(),
        updated_at: time::now_text(),
    })
}

/// Inserts or replaces one value inside the caller's transaction, with its audit entry.
pub async fn store(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    v: &CheckedValue,
    origin: &str,
    import_id: Option<&str>,
) -> Result<(), AppError> {
    let period = v.period.to_string();
    let before: Option<String> =
        sqlx::query("SELECT value FROM indicator_values WHERE base_id = $1 AND key = $2 AND period = $3")
            .bind(base_id)
            .bind(&v.definition.key)
            .bind(&period)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0));
    sqlx::query(
        "INSERT INTO indicator_values (id, base_id, key, period, definition_id, value, origin, import_id, updated_by, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (base_id, key, period) DO UPDATE SET \
         definition_id = excluded.definition_id, value = excluded.value, origin = excluded.origin, \
         import_id = excluded.import_id, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(&v.definition.key)
    .bind(&period)
    .bind(&v.definition.id)
    .bind(v.measure.stored())
    .bind(origin)
    .bind(import_id)
    .bind(&actor.name)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "indicator.value_recorded",
            entity: "indicator_value",
            entity_id: Some(&format!("{}@{}", v.definition.key, period)),
            before: before.map(|b| json!({ "value": b })),
            after: Some(json!({ "value": v.measure.stored(), "origin": origin,
                "definition_version": v.definition.version, "import_id": import_id })),
        },
    )
    .await?;
    Ok(())
}

/// Stored values of a base, optionally for one key or period.
pub async fn list(
    state: &AppState,
    base_id: &str,
    key: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<StoredValue>, AppError> {
    let rows = sqlx::query(
        "SELECT v.key, v.period, v.value, v.origin, d.version, v.updated_by, v.updated_at, d.value_type \
         FROM indicator_values v JOIN indicator_definitions d ON d.id = v.definition_id \
         WHERE v.base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR v.key = $2) AND (CAST($3 AS TEXT) IS NULL OR v.period = $3) \
         ORDER BY v.period DESC, v.key",
    )
    .bind(base_id)
    .bind(key)
    .bind(period)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(stored_from_row).collect())
}

fn stored_from_row(r: &sqlx::any::AnyRow) -> StoredValue {
    let value: String = r.get(2);
    let value_type =
        super::measure::ValueType::parse(&r.get::<String, _>(7)).unwrap_or(super::measure::ValueType::Count);
    StoredValue {
        key: r.get(0),
        period: r.get(1),
        display: Measure::parse(value_type, &value)
            .map(|m| m.display())
            .unwrap_or_else(|_| value.clone()),
        value,
        origin: r.get(3),
        definition_version: r.get(4),
        updated_by: r.get(5),
        updated_at: r.get(6),
    }
}

/// The stored value of one key and period, if any.
pub async fn stored(state: &AppState, base_id: &str, key: &str, period: &str) -> Result<Option<StoredValue>, AppError> {
    Ok(list(state, base_id, Some(key), Some(period)).await?.into_iter().next())
}
