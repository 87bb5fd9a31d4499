//! Drill-down: the records behind a figure. A computed figure lists the
//! registry rows or ledger transfers its formula counted, under the same
//! read rules as the registry and the ledger; a manual figure lists its
//! recorded values with who entered or imported them.

use chuangtong_domain::Fen;
use sqlx::Row;

use super::catalogue::Definition;
use super::compute::Records;
use super::period::Period;
use super::values;
use crate::auth::{BaseScope, Role};
use crate::registry::access::{self as registry_access, EnterpriseView};
use crate::web::error::AppError;
use crate::web::AppState;

/// Rows shown at most; the page says when there are more.
const LIMIT: i64 = 500;

/// A cell: its text and, when it is a record, the link to it.
pub type Cell = (String, Option<String>);

pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub total: i64,
}

pub async fn records(state: &AppState, scope: &BaseScope, d: &Definition, period: Period) -> Result<Table, AppError> {
    let Some(formula) = d.formula() else {
        return manual_values(state, scope, d).await;
    };
    match formula.records() {
        Records::EnterprisesCreatedIn => enterprises(state, scope, period, true).await,
        Records::EnterprisesBefore => enterprises(state, scope, period, false).await,
        Records::Carriers => carriers(state, scope, period).await,
        Records::Talents => talents(state, scope, period).await,
        Records::Teams => teams(state, scope, period).await,
        Records::BudgetTransfers => budget_transfers(state, scope, period).await,
    }
}

fn text(s: impl Into<String>) -> Cell {
    (s.into(), None)
}

async fn enterprises(state: &AppState, scope: &BaseScope, period: Period, only_new: bool) -> Result<Table, AppError> {
    let view = registry_access::enterprises(scope)?;
    let own = match &view {
        EnterpriseView::All => None,
        EnterpriseView::Own(id) => Some(id.clone()),
    };
    let (start, end) = period.utc_bounds();
    let start = if only_new { start } else { String::new() };
    let filter = "base_id = $1 AND created_at >= $2 AND created_at < $3 AND (CAST($4 AS TEXT) IS NULL OR id = $4)";
    let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM enterprises WHERE {filter}"))
        .bind(&scope.base.id)
        .bind(&start)
        .bind(&end)
        .bind(&own)
        .fetch_one(state.db.pool())
        .await?
        .get(0);
    let rows = sqlx::query(&format!(
        "SELECT id, name, uscc, registered_capital_fen, created_at FROM enterprises WHERE {filter} \
         ORDER BY created_at, id LIMIT $5"
    ))
    .bind(&scope.base.id)
    .bind(&start)
    .bind(&end)
    .bind(&own)
    .bind(LIMIT)
    .fetch_all(state.db.pool())
    .await?;
    let code = &scope.base.code;
    Ok(Table {
        headers: vec!["企业名称", "统一社会信用代码", "注册资本（元）", "登记时间"],
        rows: rows
            .iter()
            .map(|r| {
                let id: String = r.get(0);
                vec![
                    (r.get(1), Some(format!("/b/{code}/registry/enterprises/{id}"))),
                    text(r.get::<String, _>(2)),
                    text(Fen::from_fen(r.get(3)).to_yuan_string_grouped()),
                    text(crate::storage::time::display(&r.get::<String, _>(4))),
                ]
            })
            .collect(),
        total,
    })
}

async fn carriers(state: &AppState, scope: &BaseScope, period: Period) -> Result<Table, AppError> {
    registry_access::directory(scope)?;
    let (_, end) = period.utc_bounds();
    let rows = sqlx::query(
        "SELECT name, kind, level, area_m2, seats, occupied_seats FROM carriers WHERE base_id = $1 AND created_at < $2 \
         ORDER BY name, id LIMIT $3",
    )
    .bind(&scope.base.id)
    .bind(&end)
    .bind(LIMIT)
    .fetch_all(state.db.pool())
    .await?;
    let label = |table: &[(&str, &'static str)], code: &str| {
        table.iter().find(|(c, _)| *c == code).map(|(_, l)| *l).unwrap_or("")
    };
    let link = format!("/b/{}/registry/carriers", scope.base.code);
    Ok(Table {
        headers: vec!["载体", "类型", "级别", "面积（平方米）", "工位", "已入驻"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    (r.get(0), Some(link.clone())),
                    text(label(&crate::registry::carrier::KINDS, &r.get::<String, _>(1))),
                    text(label(&crate::registry::carrier::LEVELS, &r.get::<String, _>(2))),
                    text(r.get::<i64, _>(3).to_string()),
                    text(r.get::<i64, _>(4).to_string()),
                    text(r.get::<i64, _>(5).to_string()),
                ]
            })
            .collect(),
    })
}

async fn talents(state: &AppState, scope: &BaseScope, period: Period) -> Result<Table, AppError> {
    registry_access::persons(scope)?;
    let (_, end) = period.utc_bounds();
    let rows = sqlx::query(
        "SELECT name, id_number_masked, talent_level, employer FROM persons \
         WHERE base_id = $1 AND talent_level <> 'none' AND created_at < $2 ORDER BY name, id LIMIT $3",
    )
    .bind(&scope.base.id)
    .bind(&end)
    .bind(LIMIT)
    .fetch_all(state.db.pool())
    .await?;
    let link = format!("/b/{}/registry/persons", scope.base.code);
    Ok(Table {
        headers: vec!["姓名", "身份证号（脱敏）", "人才层次", "工作单位"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    (r.get(0), Some(link.clone())),
                    text(r.get::<String, _>(1)),
                    text(crate::registry::person::talent_label(&r.get::<String, _>(2))),
                    text(r.get::<String, _>(3)),
                ]
            })
            .collect(),
    })
}

async fn teams(state: &AppState, scope: &BaseScope, period: Period) -> Result<Table, AppError> {
    registry_access::directory(scope)?;
    let (_, end) = period.utc_bounds();
    let rows = sqlx::query("SELECT name, project, leader_name, members FROM teams WHERE base_id = $1 AND created_at < $2 ORDER BY name, id LIMIT $3")
        .bind(&scope.base.id)
        .bind(&end)
        .bind(LIMIT)
        .fetch_all(state.db.pool())
        .await?;
    let link = format!("/b/{}/registry/teams", scope.base.code);
    Ok(Table {
        headers: vec!["团队", "项目", "负责人", "人数"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    (r.get(0), Some(link.clone())),
                    text(r.get::<String, _>(1)),
                    text(r.get::<String, _>(2)),
                    text(r.get::<i64, _>(3).to_string()),
                ]
            })
            .collect(),
    })
}

async fn budget_transfers(state: &AppState, scope: &BaseScope, period: Period) -> Result<Table, AppError> {
    // The ledger is the base administrators' view.
    scope.require(&[Role::BaseAdmin])?;
    let (start, end) = period.utc_bounds();
    let rows = sqlx::query(
        "SELECT t.id, a.code, c.code, t.amount_fen, t.memo, COALESCE(t.resolved_at, t.created_at) FROM ledger_transfers t \
         JOIN ledger_accounts a ON a.id = t.debit_account_id JOIN ledger_accounts c ON c.id = t.credit_account_id \
         WHERE t.base_id = $1 AND a.kind = 'budget' AND t.state = 'posted' \
         AND COALESCE(t.resolved_at, t.created_at) >= $2 AND COALESCE(t.resolved_at, t.created_at) < $3 \
         ORDER BY COALESCE(t.resolved_at, t.created_at), t.id LIMIT $4",
    )
    .bind(&scope.base.id)
    .bind(&start)
    .bind(&end)
    .bind(LIMIT)
    .fetch_all(state.db.pool())
    .await?;
    Ok(Table {
        headers: vec!["转账编号", "支出账户", "收款账户", "金额（元）", "摘要", "入账时间"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    text(r.get::<String, _>(0)),
                    text(r.get::<String, _>(1)),
                    text(r.get::<String, _>(2)),
                    text(Fen::from_fen(r.get(3)).to_yuan_string_grouped()),
                    text(r.get::<String, _>(4)),
                    text(crate::storage::time::display(&r.get::<String, _>(5))),
                ]
            })
            .collect(),
    })
}

async fn manual_values(state: &AppState, scope: &BaseScope, d: &Definition) -> Result<Table, AppError> {
    let list = values::list(state, &scope.base.id, Some(&d.key), None).await?;
    let imports = format!("/b/{}/indicators/import", scope.base.code);
    Ok(Table {
        headers: vec!["时期", "数值", "来源", "定义版本", "填报人", "时间"],
        total: list.len() as i64,
        rows: list
            .into_iter()
            .map(|v| {
                let origin = match v.origin.as_str() {
                    "import" => ("文件导入".to_string(), Some(imports.clone())),
                    "computed" => text("结转计算"),
                    _ => text("手工填报"),
                };
                vec![
                    text(v.period),
                    text(v.display),
                    origin,
                    text(format!("v{}", v.definition_version)),
                    text(v.updated_by),
                    text(crate::storage::time::display(&v.updated_at)),
                ]
            })
            .collect(),
    })
}
