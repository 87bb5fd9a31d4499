//! 双创工作月报: the monthly report of a base — 福州's 月报制 in one page. It
//! gathers, for one month, every indicator with its actual, target and
//! completion (the dashboard's figures, so the two never disagree), the
//! targets behind schedule with their responsible unit, person and deadline,
//! and the month's notable events read from the records themselves (new
//! enterprises, policies published, programmes opened, applications
//! received/approved/paid, voucher batches and claims, registry imports).
//!
//! The same [`MonthlyReport`] feeds the printable page, the Excel workbook
//! and the JSON API. There is no PDF: every PDF crate we could use needs a
//! CJK font embedded in the document, and none ships one, so we would have to
//! vendor a font of several megabytes (or read one from the host at run time).
//! The page has a print stylesheet instead; "打印 / 另存为PDF" in any browser
//! gives a PDF with the reader's own fonts.

use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;
use sqlx::Row;

use super::dashboard::{self, Card};
use super::export::xlsx_error;
use super::period::Period;
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

/// How many records each event group lists by name (the count is always complete).
pub const LISTED: i64 = 20;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BehindItem {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub period: String,
    pub actual_display: String,
    pub target_display: String,
    pub completion: String,
    pub org_unit: String,
    pub responsible_person: String,
    pub deadline: String,
    /// The deadline has passed (not only behind the time-proportional pace)
    pub overdue: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventItem {
    /// Beijing date, YYYY-MM-DD
    pub date: String,
    pub text: String,
    /// Page of the record, when there is one
    pub href: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventGroup {
    /// Stable code: enterprises.registered, policies.published, …
    pub kind: String,
    pub title: String,
    pub count: i64,
    /// Money involved, in yuan text (for groups that move money)
    pub amount: Option<String>,
    pub amount_fen: Option<i64>,
    /// The first [`LISTED`] records, oldest first
    pub items: Vec<EventItem>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonthlyReport {
    pub base_code: String,
    pub base_name: String,
    pub month: String,
    pub month_label: String,
    pub generated_at: String,
    pub indicators: Vec<Card>,
    pub behind: Vec<BehindItem>,
    pub events: Vec<EventGroup>,
}

impl MonthlyReport {
    pub fn with_target(&self) -> usize {
        self.indicators.iter().filter(|c| c.target.is_some()).count()
    }

    pub fn file_name(&self, ext: &str) -> String {
        format!("monthly-report-{}-{}.{ext}", self.base_code, self.month)
    }
}

pub async fn build(
    state: &AppState,
    base_id: &str,
    base_code: &str,
    base_name: &str,
    month: Period,
) -> Result<MonthlyReport, AppError> {
    let d = dashboard::build(state, base_id, base_code, month).await?;
    let today = time::today();
    let behind = d
        .cards
        .iter()
        .filter(|c| c.behind_schedule)
        .filter_map(|c| {
            let t = c.target.as_ref()?;
            Some(BehindItem {
                key: c.key.clone(),
                name: c.name.clone(),
                unit: c.unit.clone(),
                period: c.period.clone(),
                actual_display: c.actual_display.clone().unwrap_or_else(|| "未填报".into()),
                target_display: t.target_display.clone(),
                completion: c.completion_text(),
                org_unit: t.org_unit_name.clone().unwrap_or_default(),
                responsible_person: t.responsible_person.clone(),
                deadline: t.deadline.clone(),
                overdue: t.deadline < today.to_string(),
            })
        })
        .collect();
    Ok(MonthlyReport {
        base_code: base_code.to_string(),
        base_name: base_name.to_string(),
        month: month.to_string(),
        month_label: month.label(),
        generated_at: time::now_text(),
        indicators: d.cards,
        behind,
        events: events(state, base_id, base_code, month).await?,
    })
}

/// One event query: the count and money over the whole month, the first rows by name.
struct EventQuery {
    kind: &'static str,
    title: &'static str,
    /// `SELECT COUNT(*), CAST(SUM(money) AS BIGINT)` (or NULL) with $1 base, $2/$3 bounds
    totals: &'static str,
    /// `SELECT at, text, id` with the same parameters and `LIMIT $4`
    items: &'static str,
    href: Option<&'static str>,
    /// Bounds are Beijing dates (YYYY-MM-DD, inclusive) instead of UTC instants
    by_date: bool,
}

const EVENTS: [EventQuery; 8] = [
    EventQuery {
        kind: "enterprises.registered",
        title: "新登记企业",
        totals: "SELECT COUNT(*), CAST(SUM(registered_capital_fen) AS BIGINT) FROM enterprises \
                 WHERE base_id = $1 AND created_at >= $2 AND created_at < $3",
        items: "SELECT created_at, name, id FROM enterprises WHERE base_id = $1 AND created_at >= $2 \
                AND created_at < $3 ORDER BY created_at, id LIMIT $4",
        href: Some("/b/{base}/registry/enterprises/{id}"),
        by_date: false,
    },
    EventQuery {
        kind: "policies.published",
        title: "发布政策",
        totals: "SELECT COUNT(*), CAST(NULL AS BIGINT) FROM policies WHERE base_id = $1 AND state = 'published' \
                 AND updated_at >= $2 AND updated_at < $3",
        items: "SELECT updated_at, title, id FROM policies WHERE base_id = $1 AND state = 'published' \
                AND updated_at >= $2 AND updated_at < $3 ORDER BY updated_at, id LIMIT $4",
        href: Some("/b/{base}/policies"),
        by_date: false,
    },
    EventQuery {
        kind: "programmes.opened",
        title: "开放申报的项目",
        totals: "SELECT COUNT(*), CAST(SUM(budget_fen) AS BIGINT) FROM programmes WHERE base_id = $1 \
                 AND opens_on >= $2 AND opens_on <= $3",
        items: "SELECT opens_on, name || '（' || opens_on || ' 至 ' || closes_on || '）', id FROM programmes \
                WHERE base_id = $1 AND opens_on >= $2 AND opens_on <= $3 ORDER BY opens_on, id LIMIT $4",
        href: Some("/b/{base}/programmes/{id}/report"),
        by_date: true,
    },
    EventQuery {
        kind: "applications.received",
        title: "收到申报",
        totals: "SELECT COUNT(*), CAST(SUM(a.amount_requested_fen) AS BIGINT) FROM application_events ev \
                 JOIN applications a ON a.id = ev.application_id \
                 WHERE ev.base_id = $1 AND ev.to_state = 'submitted' AND ev.at >= $2 AND ev.at < $3",
        items: "SELECT ev.at, e.name || ' · ' || p.name, a.id FROM application_events ev \
                JOIN applications a ON a.id = ev.application_id JOIN enterprises e ON e.id = a.enterprise_id \
                JOIN programmes p ON p.id = a.programme_id \
                WHERE ev.base_id = $1 AND ev.to_state = 'submitted' AND ev.at >= $2 AND ev.at < $3 \
                ORDER BY ev.at, ev.id LIMIT $4",
        href: Some("/b/{base}/applications/{id}"),
        by_date: false,
    },
    EventQuery {
        kind: "applications.approved",
        title: "批准的申报",
        totals: "SELECT COUNT(*), CAST(SUM(a.amount_approved_fen) AS BIGINT) FROM application_events ev \
                 JOIN applications a ON a.id = ev.application_id \
                 WHERE ev.base_id = $1 AND ev.to_state = 'approved' AND ev.at >= $2 AND ev.at < $3",
        items: "SELECT ev.at, e.name || ' · ' || p.name, a.id FROM application_events ev \
                JOIN applications a ON a.id = ev.application_id JOIN enterprises e ON e.id = a.enterprise_id \
                JOIN programmes p ON p.id = a.programme_id \
                WHERE ev.base_id = $1 AND ev.to_state = 'approved' AND ev.at >= $2 AND ev.at < $3 \
                ORDER BY ev.at, ev.id LIMIT $4",
        href: Some("/b/{base}/applications/{id}"),
        by_date: false,
    },
    EventQuery {
        kind: "applications.paid",
        title: "兑现的资助",
        totals: "SELECT COUNT(*), CAST(SUM(a.amount_approved_fen) AS BIGINT) FROM application_events ev \
                 JOIN applications a ON a.id = ev.application_id \
                 WHERE ev.base_id = $1 AND ev.to_state = 'paid' AND ev.at >= $2 AND ev.at < $3",
        items: "SELECT ev.at, e.name || ' · ' || p.name, a.id FROM application_events ev \
                JOIN applications a ON a.id = ev.application_id JOIN enterprises e ON e.id = a.enterprise_id \
                JOIN programmes p ON p.id = a.programme_id \
                WHERE ev.base_id = $1 AND ev.to_state = 'paid' AND ev.at >= $2 AND ev.at < $3 \
                ORDER BY ev.at, ev.id LIMIT $4",
        href: Some("/b/{base}/applications/{id}"),
        by_date: false,
    },
    EventQuery {
        kind: "vouchers.batches_issued",
        title: "发放创新券批次",
        totals: "SELECT COUNT(*), CAST(SUM(total_fen) AS BIGINT) FROM voucher_batches WHERE base_id = $1 \
                 AND created_at >= $2 AND created_at < $3",
        items: "SELECT created_at, name || '（' || code || '）', id FROM voucher_batches WHERE base_id = $1 \
                AND created_at >= $2 AND created_at < $3 ORDER BY created_at, id LIMIT $4",
        href: Some("/b/{base}/vouchers"),
        by_date: false,
    },
    EventQuery {
        kind: "vouchers.claimed",
        title: "申领创新券",
        totals: "SELECT COUNT(*), CAST(SUM(amount_fen) AS BIGINT) FROM voucher_claims WHERE base_id = $1 \
                 AND created_at >= $2 AND created_at < $3",
        items: "SELECT c.created_at, e.name || ' · ' || b.name, c.id FROM voucher_claims c \
                JOIN enterprises e ON e.id = c.enterprise_id JOIN voucher_batches b ON b.id = c.batch_id \
                WHERE c.base_id = $1 AND c.created_at >= $2 AND c.created_at < $3 ORDER BY c.created_at, c.id LIMIT $4",
        href: None,
        by_date: false,
    },
];

async fn events(state: &AppState, base_id: &str, base_code: &str, month: Period) -> Result<Vec<EventGroup>, AppError> {
    let (start, end) = month.utc_bounds();
    let (first, last) = (month.first_day().to_string(), month.last_day().to_string());
    let mut out = Vec::with_capacity(EVENTS.len() + 1);
    for q in &EVENTS {
        let (a, b) = if q.by_date { (&first, &last) } else { (&start, &end) };
        let totals = sqlx::query(q.totals)
            .bind(base_id)
            .bind(a)
            .bind(b)
            .fetch_one(state.db.pool())
            .await?;
        let count: i64 = totals.get(0);
        let money: Option<i64> = totals.get(1);
        let rows = if count == 0 {
            Vec::new()
        } else {
            sqlx::query(q.items)
                .bind(base_id)
                .bind(a)
                .bind(b)
                .bind(LISTED)
                .fetch_all(state.db.pool())
                .await?
        };
        let items = rows
            .iter()
            .map(|r| {
                let at: String = r.get(0);
                let id: String = r.get(2);
                EventItem {
                    date: if q.by_date { at } else { beijing_date(&at) },
                    text: r.get(1),
                    href: q.href.map(|h| h.replace("{base}", base_code).replace("{id}", &id)),
                }
            })
            .collect();
        let has_money = !q.totals.contains("CAST(NULL");
        out.push(EventGroup {
            kind: q.kind.into(),
            title: q.title.into(),
            count,
            amount_fen: has_money.then(|| money.unwrap_or(0)),
            amount: has_money.then(|| chuangtong_domain::Fen::from_fen(money.unwrap_or(0)).to_yuan_string_grouped()),
            items,
        });
    }
    out.push(imports(state, base_id, base_code, &start, &end).await?);
    Ok(out)
}

/// Registry imports applied in the month (file name and rows).
async fn imports(
    state: &AppState,
    base_id: &str,
    base_code: &str,
    start: &str,
    end: &str,
) -> Result<EventGroup, AppError> {
    let rows = sqlx::query(
        "SELECT finished_at, filename, rows_imported, id FROM registry_imports WHERE base_id = $1 \
         AND status = 'imported' AND finished_at >= $2 AND finished_at < $3 ORDER BY finished_at, id",
    )
    .bind(base_id)
    .bind(start)
    .bind(end)
    .fetch_all(state.db.pool())
    .await?;
    Ok(EventGroup {
        kind: "registry.imported".into(),
        title: "批量导入企业".into(),
        count: rows.len() as i64,
        amount: None,
        amount_fen: None,
        items: rows
            .iter()
            .take(LISTED as usize)
            .map(|r| EventItem {
                date: beijing_date(&r.get::<String, _>(0)),
                text: format!("{}（{}家）", r.get::<String, _>(1), r.get::<i64, _>(2)),
                href: Some(format!("/b/{base_code}/registry/imports/{}", r.get::<String, _>(3))),
            })
            .collect(),
    })
}

fn beijing_date(stored: &str) -> String {
    time::parse_text(stored)
        .map(|t| t.with_timezone(&time::shanghai()).date_naive().to_string())
        .unwrap_or_else(|| stored.chars().take(10).collect())
}

/// The report as a workbook: 指标, 进度落后, 本月大事 — one sheet each.
pub fn xlsx(r: &MonthlyReport) -> Result<Vec<u8>, AppError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);

    let sheet = wb.add_worksheet();
    sheet.set_name("指标").map_err(xlsx_error)?;
    sheet
        .write_string_with_format(
            0,
            0,
            format!("{} 双创工作月报（{}）", r.base_name, r.month_label),
            &title,
        )
        .map_err(xlsx_error)?;
    sheet
        .write_string(1, 0, format!("生成时间：{}", time::display(&r.generated_at)))
        .map_err(xlsx_error)?;
    let heads = [
        "指标",
        "单位",
        "统计时期",
        "方式",
        "实际值",
        "目标值",
        "完成率",
        "进度落后",
        "责任单位",
        "责任人",
        "完成时限",
    ];
    for (col, h) in heads.iter().enumerate() {
        sheet
            .write_string_with_format(3, col as u16, *h, &bold)
            .map_err(xlsx_error)?;
        sheet.set_column_width(col as u16, 14).map_err(xlsx_error)?;
    }
    sheet.set_column_width(0, 22).map_err(xlsx_error)?;
    for (i, c) in r.indicators.iter().enumerate() {
        let t = c.target.as_ref();
        let cells = [
            c.name.clone(),
            c.unit.clone(),
            c.period.clone(),
            if c.kind == "manual" { "填报" } else { "自动计算" }.to_string(),
            c.actual_display.clone().unwrap_or_else(|| "未填报".into()),
            t.map(|t| t.target_display.clone()).unwrap_or_default(),
            c.completion_text(),
            if c.behind_schedule { "是" } else { "" }.to_string(),
            t.and_then(|t| t.org_unit_name.clone()).unwrap_or_default(),
            t.map(|t| t.responsible_person.clone()).unwrap_or_default(),
            t.map(|t| t.deadline.clone()).unwrap_or_default(),
        ];
        for (col, v) in cells.iter().enumerate() {
            sheet.write_string(4 + i as u32, col as u16, v).map_err(xlsx_error)?;
        }
    }

    let sheet = wb.add_worksheet();
    sheet.set_name("进度落后").map_err(xlsx_error)?;
    let heads = [
        "指标",
        "统计时期",
        "实际值",
        "目标值",
        "完成率",
        "责任单位",
        "责任人",
        "完成时限",
        "已逾期",
    ];
    for (col, h) in heads.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *h, &bold)
            .map_err(xlsx_error)?;
        sheet.set_column_width(col as u16, 14).map_err(xlsx_error)?;
    }
    for (i, b) in r.behind.iter().enumerate() {
        let cells = [
            b.name.clone(),
            b.period.clone(),
            format!("{}{}", b.actual_display, b.unit),
            format!("{}{}", b.target_display, b.unit),
            b.completion.clone(),
            b.org_unit.clone(),
            b.responsible_person.clone(),
            b.deadline.clone(),
            if b.overdue { "是" } else { "否" }.to_string(),
        ];
        for (col, v) in cells.iter().enumerate() {
            sheet.write_string(1 + i as u32, col as u16, v).map_err(xlsx_error)?;
        }
    }

    let sheet = wb.add_worksheet();
    sheet.set_name("本月大事").map_err(xlsx_error)?;
    for (col, h) in ["事项", "数量", "金额（元）", "日期", "明细"].iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *h, &bold)
            .map_err(xlsx_error)?;
    }
    sheet.set_column_width(0, 18).map_err(xlsx_error)?;
    sheet.set_column_width(4, 48).map_err(xlsx_error)?;
    let mut row = 1u32;
    for g in &r.events {
        sheet
            .write_string_with_format(row, 0, &g.title, &bold)
            .map_err(xlsx_error)?;
        sheet.write_number(row, 1, g.count as f64).map_err(xlsx_error)?;
        if let Some(a) = &g.amount {
            sheet.write_string(row, 2, a).map_err(xlsx_error)?;
        }
        row += 1;
        for it in &g.items {
            sheet.write_string(row, 3, &it.date).map_err(xlsx_error)?;
            sheet.write_string(row, 4, &it.text).map_err(xlsx_error)?;
            row += 1;
        }
    }
    wb.save_to_buffer().map_err(xlsx_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_dates_are_beijing_dates() {
        // 23:30 UTC on the 31st is already the 1st in Beijing.
        assert_eq!(beijing_date("2026-03-31T23:30:00.000Z"), "2026-04-01");
        assert_eq!(beijing_date("2026-03-31T15:59:59.000Z"), "2026-03-31");
    }

    #[test]
    fn money_groups_are_the_ones_with_a_sum() {
        let without: Vec<_> = EVENTS
            .iter()
            .filter(|q| q.totals.contains("CAST(NULL"))
            .map(|q| q.kind)
            .collect();
        assert_eq!(without, vec!["policies.published"]);
    }
}
