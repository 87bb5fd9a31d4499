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
        Records::VoucherClaims => money_records(state, scope, period, &VOUCHER_CLAIMS).await,
        Records::VoucherOrdersConfirmed => money_records(state, scope, period, &VOUCHER_ORDERS).await,
        Records::Redemptions => money_records(state, scope, period, &REDEMPTIONS).await,
        Records::ApplicationsEntering(states) => applications_entering(state, scope, period, states).await,
        Records::TicketsRaised => tickets(state, scope, period, false).await,
        Records::TicketsResolved => tickets(state, scope, period, true).await,
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

/// A list of money records within a period: `SELECT at, who, what, amount_fen, link id`.
struct MoneyRecords {
    headers: [&'static str; 4],
    sql: &'static str,
    /// Page of the record, `{base}` and `{id}` filled in
    href: &'static str,
}

const VOUCHER_CLAIMS: MoneyRecords = MoneyRecords {
    headers: ["申领时间", "企业", "批次", "金额（元）"],
    sql: "SELECT c.created_at, e.name, b.name, c.amount_fen, e.id FROM voucher_claims c \
          JOIN enterprises e ON e.id = c.enterprise_id JOIN voucher_batches b ON b.id = c.batch_id \
          WHERE c.base_id = $1 AND c.created_at >= $2 AND c.created_at < $3 ORDER BY c.created_at, c.id LIMIT $4",
    href: "/b/{base}/registry/enterprises/{id}",
};

const VOUCHER_ORDERS: MoneyRecords = MoneyRecords {
    headers: ["确认时间", "企业", "服务", "创新券支付（元）"],
    sql: "SELECT t.resolved_at, e.name, s.name, t.amount_fen, e.id FROM service_orders o \
          JOIN ledger_transfers t ON t.id = o.voucher_transfer_id JOIN enterprises e ON e.id = o.enterprise_id \
          JOIN services s ON s.id = o.service_id \
          WHERE o.base_id = $1 AND t.state = 'posted' AND t.resolved_at >= $2 AND t.resolved_at < $3 \
          ORDER BY t.resolved_at, o.id LIMIT $4",
    href: "/b/{base}/registry/enterprises/{id}",
};

const REDEMPTIONS: MoneyRecords = MoneyRecords {
    headers: ["结算时间", "服务机构", "备注", "金额（元）"],
    sql: "SELECT r.resolved_at, p.name, r.note, r.amount_fen, p.id FROM redemptions r \
          JOIN providers p ON p.id = r.provider_id \
          WHERE r.base_id = $1 AND r.state = 'settled' AND r.resolved_at >= $2 AND r.resolved_at < $3 \
          ORDER BY r.resolved_at, r.id LIMIT $4",
    href: "/b/{base}/registry/providers",
};

async fn money_records(
    state: &AppState,
    scope: &BaseScope,
    period: Period,
    q: &MoneyRecords,
) -> Result<Table, AppError> {
    // Claims, payments and settlements of every firm are the base's books.
    scope.require(&[Role::BaseAdmin])?;
    let (start, end) = period.utc_bounds();
    let rows = sqlx::query(q.sql)
        .bind(&scope.base.id)
        .bind(&start)
        .bind(&end)
        .bind(LIMIT)
        .fetch_all(state.db.pool())
        .await?;
    Ok(Table {
        headers: q.headers.to_vec(),
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                let id: String = r.get(4);
                let href = q.href.replace("{base}", &scope.base.code).replace("{id}", &id);
                vec![
                    text(crate::storage::time::display(&r.get::<String, _>(0))),
                    (r.get(1), Some(href)),
                    text(r.get::<String, _>(2)),
                    text(Fen::from_fen(r.get(3)).to_yuan_string_grouped()),
                ]
            })
            .collect(),
    })
}

async fn applications_entering(
    state: &AppState,
    scope: &BaseScope,
    period: Period,
    states: &[&str],
) -> Result<Table, AppError> {
    scope.require(&[Role::BaseAdmin])?;
    let (start, end) = period.utc_bounds();
    let mut rows = Vec::new();
    for to_state in states {
        rows.extend(
            sqlx::query(
                "SELECT ev.at, e.name, p.name, ev.to_state, COALESCE(a.amount_approved_fen, a.amount_requested_fen), a.id \
                 FROM application_events ev JOIN applications a ON a.id = ev.application_id \
                 JOIN enterprises e ON e.id = a.enterprise_id JOIN programmes p ON p.id = a.programme_id \
                 WHERE ev.base_id = $1 AND ev.to_state = $2 AND ev.at >= $3 AND ev.at < $4 ORDER BY ev.at, ev.id LIMIT $5",
            )
            .bind(&scope.base.id)
            .bind(*to_state)
            .bind(&start)
            .bind(&end)
            .bind(LIMIT)
            .fetch_all(state.db.pool())
            .await?,
        );
    }
    rows.sort_by_key(|r| r.get::<String, _>(0));
    Ok(Table {
        headers: vec!["时间", "企业", "项目", "进入状态", "金额（元）"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                let id: String = r.get(5);
                let to: String = r.get(3);
                vec![
                    text(crate::storage::time::display(&r.get::<String, _>(0))),
                    (r.get(1), Some(format!("/b/{}/applications/{id}", scope.base.code))),
                    text(r.get::<String, _>(2)),
                    text(
                        crate::application::State::parse(&to)
                            .map(|s| s.label().to_string())
                            .unwrap_or(to),
                    ),
                    text(Fen::from_fen(r.get(4)).to_yuan_string_grouped()),
                ]
            })
            .collect(),
    })
}

/// Tickets raised (or resolved) within the period, with their due date and
/// whether they were resolved in time.
async fn tickets(state: &AppState, scope: &BaseScope, period: Period, resolved: bool) -> Result<Table, AppError> {
    // Every firm's requests: base admins (stewards see their own in 工单).
    scope.require(&[Role::BaseAdmin])?;
    let (start, end) = period.utc_bounds();
    let column = if resolved { "t.resolved_at" } else { "t.created_at" };
    let rows = sqlx::query(&format!(
        "SELECT t.id, t.title, e.name, t.state, t.created_at, t.resolve_due_on, COALESCE(t.resolved_at, '') \
         FROM tickets t JOIN enterprises e ON e.id = t.enterprise_id \
         WHERE t.base_id = $1 AND {column} >= $2 AND {column} < $3 ORDER BY {column}, t.id LIMIT $4"
    ))
    .bind(&scope.base.id)
    .bind(&start)
    .bind(&end)
    .bind(LIMIT)
    .fetch_all(state.db.pool())
    .await?;
    Ok(Table {
        headers: vec!["工单", "企业", "状态", "提出时间", "办结时限", "办结时间", "按时办结"],
        total: rows.len() as i64,
        rows: rows
            .iter()
            .map(|r| {
                let id: String = r.get(0);
                let due: String = r.get(5);
                let resolved_at: String = r.get(6);
                let on_time = if resolved_at.is_empty() {
                    ""
                } else if super::compute::resolved_on_time(&resolved_at, &due) {
                    "是"
                } else {
                    "否"
                };
                vec![
                    (r.get(1), Some(format!("/b/{}/tickets/{id}", scope.base.code))),
                    text(r.get::<String, _>(2)),
                    text(r.get::<String, _>(3)),
                    text(crate::storage::time::display(&r.get::<String, _>(4))),
                    text(due),
                    text(crate::storage::time::display(&resolved_at)),
                    text(on_time),
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
