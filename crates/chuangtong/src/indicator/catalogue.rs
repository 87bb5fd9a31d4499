//! The indicator catalogue of a base: what it measures, in which unit, per
//! which period, and how (a named formula over live data, or entered by
//! hand). Definitions are versioned: an edit adds a version; values keep the
//! version they were made with. The standard set — the figures the seed's
//! bases report, under the same keys — is loaded the first time a base's
//! indicators are used.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::compute::Formula;
use super::measure::ValueType;
use super::period::PeriodKind;
use crate::audit::{self, Actor, Entry};
use crate::registry::required_text;
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Definition {
    pub id: String,
    pub key: String,
    pub version: i64,
    pub name: String,
    pub unit: String,
    /// month | quarter | year
    pub period_kind: String,
    /// computed | manual
    pub kind: String,
    /// Named formula of a computed indicator
    pub formula: Option<String>,
    /// count | fen
    pub value_type: String,
    pub source: String,
}

impl Definition {
    pub fn value_type(&self) -> ValueType {
        ValueType::parse(&self.value_type).unwrap_or(ValueType::Count)
    }

    pub fn period_kind(&self) -> PeriodKind {
        PeriodKind::parse(&self.period_kind).unwrap_or(PeriodKind::Month)
    }

    pub fn formula(&self) -> Option<Formula> {
        self.formula.as_deref().and_then(Formula::parse)
    }

    pub fn is_manual(&self) -> bool {
        self.kind == "manual"
    }

    pub fn kind_label(&self) -> &'static str {
        if self.is_manual() {
            "填报"
        } else {
            "平台自动计算"
        }
    }
}

/// (key, name, unit, period, formula or None for manual, value type, source)
type Standard = (
    &'static str,
    &'static str,
    &'static str,
    PeriodKind,
    Option<Formula>,
    ValueType,
    &'static str,
);

/// The standard set. Keys match the seed's figures so that a base's own
/// numbers line up with what the 28 bases reported.
pub const STANDARD: [Standard; 26] = [
    (
        "new_enterprises",
        "新登记企业",
        "家",
        PeriodKind::Month,
        Some(Formula::EnterprisesNew),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "enterprises",
        "企业总数",
        "家",
        PeriodKind::Month,
        Some(Formula::EnterprisesTotal),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "registered_capital",
        "企业注册资本合计",
        "元",
        PeriodKind::Month,
        Some(Formula::RegisteredCapital),
        ValueType::Fen,
        "平台注册库",
    ),
    (
        "carriers",
        "双创载体",
        "家",
        PeriodKind::Month,
        Some(Formula::Carriers),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "makerspaces",
        "众创空间",
        "家",
        PeriodKind::Month,
        Some(Formula::Makerspaces),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "incubators",
        "孵化器",
        "家",
        PeriodKind::Month,
        Some(Formula::Incubators),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "incubator_area",
        "载体面积",
        "平方米",
        PeriodKind::Month,
        Some(Formula::CarrierArea),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "carrier_seats",
        "载体工位",
        "个",
        PeriodKind::Month,
        Some(Formula::CarrierSeats),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "carrier_occupancy",
        "工位入驻率",
        "%",
        PeriodKind::Month,
        Some(Formula::CarrierOccupancy),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "talents",
        "认定人才",
        "人",
        PeriodKind::Month,
        Some(Formula::Talents),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "startup_teams",
        "创业团队",
        "个",
        PeriodKind::Month,
        Some(Formula::Teams),
        ValueType::Count,
        "平台注册库",
    ),
    (
        "policy_payouts",
        "预算资金支出",
        "元",
        PeriodKind::Month,
        Some(Formula::BudgetOutflow),
        ValueType::Fen,
        "平台总账",
    ),
    (
        "vouchers_claimed",
        "创新券申领金额",
        "元",
        PeriodKind::Month,
        Some(Formula::VouchersClaimed),
        ValueType::Fen,
        "平台创新券",
    ),
    (
        "voucher_claims",
        "创新券申领笔数",
        "笔",
        PeriodKind::Month,
        Some(Formula::VoucherClaims),
        ValueType::Count,
        "平台创新券",
    ),
    (
        "vouchers_used",
        "创新券使用金额",
        "元",
        PeriodKind::Month,
        Some(Formula::VouchersUsed),
        ValueType::Fen,
        "平台服务超市（确认交付）",
    ),
    (
        "vouchers_redeemed",
        "创新券兑现金额",
        "元",
        PeriodKind::Month,
        Some(Formula::VouchersRedeemed),
        ValueType::Fen,
        "平台服务超市（已结算）",
    ),
    (
        "applications_received",
        "受理申报",
        "项",
        PeriodKind::Month,
        Some(Formula::ApplicationsReceived),
        ValueType::Count,
        "平台项目申报",
    ),
    (
        "applications_pass_rate",
        "申报通过率",
        "%",
        PeriodKind::Month,
        Some(Formula::ApplicationsPassRate),
        ValueType::Count,
        "平台项目申报",
    ),
    (
        "programme_payouts",
        "资助兑现金额",
        "元",
        PeriodKind::Month,
        Some(Formula::ProgrammePayouts),
        ValueType::Fen,
        "平台项目申报",
    ),
    (
        "tickets_opened",
        "受理工单",
        "件",
        PeriodKind::Month,
        Some(Formula::TicketsOpened),
        ValueType::Count,
        "平台服务管家工单",
    ),
    (
        "tickets_on_time",
        "工单按时办结率",
        "%",
        PeriodKind::Month,
        Some(Formula::TicketsOnTime),
        ValueType::Count,
        "平台服务管家工单",
    ),
    (
        "financing_raised",
        "企业融资额",
        "元",
        PeriodKind::Quarter,
        None,
        ValueType::Fen,
        "基地填报（金融机构、投资机构报送）",
    ),
    (
        "patents",
        "专利申请",
        "件",
        PeriodKind::Quarter,
        None,
        ValueType::Count,
        "基地填报（知识产权部门）",
    ),
    (
        "events",
        "双创活动",
        "场",
        PeriodKind::Month,
        None,
        ValueType::Count,
        "基地填报（活动台账）",
    ),
    (
        "high_tech_enterprises",
        "高新技术企业",
        "家",
        PeriodKind::Year,
        None,
        ValueType::Count,
        "基地填报（科技部门认定名单）",
    ),
    (
        "jobs_created",
        "带动就业",
        "人",
        PeriodKind::Year,
        None,
        ValueType::Count,
        "基地填报（人社部门）",
    ),
];

const COLUMNS: &str = "id, key, version, name, unit, period_kind, kind, formula, value_type, source";

fn from_row(r: &sqlx::any::AnyRow) -> Definition {
    Definition {
        id: r.get(0),
        key: r.get(1),
        version: r.get(2),
        name: r.get(3),
        unit: r.get(4),
        period_kind: r.get(5),
        kind: r.get(6),
        formula: r.get(7),
        value_type: r.get(8),
        source: r.get(9),
    }
}

/// Loads the standard set for a base that has none of it yet, and adds the
/// standard indicators introduced since (a base keeps its own edits: only
/// keys it has never had are added, at the standard's position). Runs in its
/// own transaction; two requests racing here are harmless (the loser hits the
/// unique key and finds the winner's rows).
pub async fn ensure_standard_set(state: &AppState, base_id: &str) -> Result<(), AppError> {
    let have: Vec<String> = sqlx::query("SELECT DISTINCT key FROM indicator_definitions WHERE base_id = $1")
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<(usize, &Standard)> = STANDARD
        .iter()
        .enumerate()
        .filter(|(_, s)| !have.iter().any(|k| k == s.0))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    for (position, s) in &missing {
        let spec = Spec::from_standard(s);
        if let Err(e) = insert_version(&mut tx, base_id, &spec, 1, *position as i64).await {
            if crate::storage::unique_violation(&e) {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    audit::append(
        &mut tx,
        &state.keys,
        &Actor::system("indicator"),
        Entry {
            base_id: Some(base_id),
            action: "indicator.standard_set_loaded",
            entity: "indicator_definition",
            entity_id: None,
            before: None,
            after: Some(json!({ "keys": missing.iter().map(|(_, s)| s.0).collect::<Vec<_>>() })),
        },
    )
    .await?;
    match tx.commit().await {
        Err(e) if crate::storage::unique_violation(&e) => Ok(()),
        other => Ok(other?),
    }
}

/// The current version of every indicator of a base, in catalogue order.
pub async fn current(state: &AppState, base_id: &str) -> Result<Vec<Definition>, AppError> {
    ensure_standard_set(state, base_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM indicator_definitions WHERE base_id = $1 AND is_current = 1 ORDER BY position, key"
    ))
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn current_by_key(state: &AppState, base_id: &str, key: &str) -> Result<Option<Definition>, AppError> {
    Ok(current(state, base_id).await?.into_iter().find(|d| d.key == key))
}

/// A definition as submitted (API JSON or form).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DefinitionForm {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub unit: String,
    /// month | quarter | year
    #[serde(default)]
    pub period_kind: String,
    /// Named formula (see the method page); empty for a manually reported indicator
    #[serde(default)]
    pub formula: String,
    /// count | fen (ignored for a formula, which fixes its own type)
    #[serde(default)]
    pub value_type: String,
    #[serde(default)]
    pub source: String,
}

/// A valid definition, ready to store.
pub struct Spec {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub period_kind: PeriodKind,
    pub formula: Option<Formula>,
    pub value_type: ValueType,
    pub source: String,
}

impl Spec {
    fn from_standard(s: &Standard) -> Spec {
        Spec {
            key: s.0.into(),
            name: s.1.into(),
            unit: s.2.into(),
            period_kind: s.3,
            formula: s.4,
            value_type: s.5,
            source: s.6.into(),
        }
    }
}

impl TryFrom<&DefinitionForm> for Spec {
    type Error = FieldErrors;

    fn try_from(f: &DefinitionForm) -> Result<Spec, FieldErrors> {
        let mut e = FieldErrors::default();
        let key = f.key.trim();
        let key_ok = !key.is_empty()
            && key.len() <= 60
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            e.push(
                "key",
                "indicator.key",
                "指标代码应为小写字母、数字和下划线，最长60个字符",
            );
        }
        let name = required_text(&mut e, "name", "指标名称", &f.name, 60);
        let unit = required_text(&mut e, "unit", "计量单位", &f.unit, 20);
        let period_kind = PeriodKind::parse(&f.period_kind);
        if period_kind.is_none() {
            e.push(
                "period_kind",
                "indicator.period_kind",
                "统计周期应为 month（月）、quarter（季）或 year（年）",
            );
        }
        let formula = match f.formula.trim() {
            "" => Some(None),
            name => match Formula::parse(name) {
                Some(formula) => Some(Some(formula)),
                None => {
                    e.push("formula", "indicator.formula", format!("没有名为“{name}”的计算公式"));
                    None
                }
            },
        };
        let value_type = match formula {
            Some(Some(formula)) => Some(formula.value_type()),
            _ => ValueType::parse(&f.value_type),
        };
        if value_type.is_none() && formula.is_some() {
            e.push(
                "value_type",
                "indicator.value_type",
                "数值类型应为 count（数量）或 fen（金额，分）",
            );
        }
        if f.source.trim().chars().count() > 100 {
            e.push("source", "text.too_long", "数据来源不能超过100个字");
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Spec {
            key: key.to_string(),
            name: name.expect("checked"),
            unit: unit.expect("checked"),
            period_kind: period_kind.expect("checked"),
            formula: formula.expect("checked"),
            value_type: value_type.expect("checked"),
            source: f.source.trim().to_string(),
        })
    }
}

async fn insert_version(tx: &mut Tx, base_id: &str, s: &Spec, version: i64, position: i64) -> sqlx::Result<String> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO indicator_definitions (id, base_id, key, version, name, unit, period_kind, kind, formula, \
         value_type, source, is_current, position, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,1,$12,$13)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&s.key)
    .bind(version)
    .bind(&s.name)
    .bind(&s.unit)
    .bind(s.period_kind.as_str())
    .bind(if s.formula.is_some() { "computed" } else { "manual" })
    .bind(s.formula.map(|f| f.as_str()))
    .bind(s.value_type.as_str())
    .bind(&s.source)
    .bind(position)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Defines a new indicator or a new version of an existing one (the use case
/// behind "编辑指标"): one transaction, one audit entry with both versions.
pub async fn define(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    form: &DefinitionForm,
) -> Result<Definition, AppError> {
    let spec = Spec::try_from(form).map_err(|e| AppError::Validation(e.0))?;
    ensure_standard_set(state, base_id).await?;
    let mut tx = state.db.begin().await?;
    let previous = sqlx::query(&format!(
        "SELECT {COLUMNS}, position FROM indicator_definitions WHERE base_id = $1 AND key = $2 AND is_current = 1"
    ))
    .bind(base_id)
    .bind(&spec.key)
    .fetch_optional(&mut *tx)
    .await?;
    let (version, position) = match &previous {
        Some(r) => (r.get::<i64, _>(2) + 1, r.get::<i64, _>(10)),
        None => (1, next_position(&mut tx, base_id).await?),
    };
    sqlx::query("UPDATE indicator_definitions SET is_current = 0 WHERE base_id = $1 AND key = $2")
        .bind(base_id)
        .bind(&spec.key)
        .execute(&mut *tx)
        .await?;
    let id = insert_version(&mut tx, base_id, &spec, version, position)
        .await
        .map_err(|e| conflict_or(e, &spec.key))?;
    let before = previous
        .as_ref()
        .map(|r| serde_json::to_value(from_row(r)).unwrap_or_default());
    let created = Definition {
        id: id.clone(),
        key: spec.key.clone(),
        version,
        name: spec.name.clone(),
        unit: spec.unit.clone(),
        period_kind: spec.period_kind.as_str().into(),
        kind: if spec.formula.is_some() { "computed" } else { "manual" }.into(),
        formula: spec.formula.map(|f| f.as_str().to_string()),
        value_type: spec.value_type.as_str().into(),
        source: spec.source.clone(),
    };
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: if version == 1 {
                "indicator.defined"
            } else {
                "indicator.revised"
            },
            entity: "indicator_definition",
            entity_id: Some(&id),
            before,
            after: Some(serde_json::to_value(&created).map_err(anyhow::Error::from)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

fn conflict_or(e: sqlx::Error, key: &str) -> AppError {
    if crate::storage::unique_violation(&e) {
        AppError::Conflict {
            code: "indicator.concurrent_edit",
            message: format!("指标“{key}”正被同时修改，请刷新后重试"),
        }
    } else {
        e.into()
    }
}

async fn next_position(tx: &mut Tx, base_id: &str) -> sqlx::Result<i64> {
    Ok(sqlx::query(
        "SELECT CAST(COALESCE(MAX(position), 0) AS BIGINT) + 1 FROM indicator_definitions WHERE base_id = $1",
    )
    .bind(base_id)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}
