//! Excel exports: the enterprise list and the dashboard's table. Workbooks
//! are written in memory with rust_xlsxwriter. Money goes out as integer fen
//! (exact in a spreadsheet number) next to a yuan text column; contact
//! phones are not exported at all (PIPL: only what the purpose needs).

use chuangtong_domain::{Fen, IndustrySection, RegionCode};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use sqlx::Row;

use super::dashboard::Dashboard;
use crate::registry::access::EnterpriseView;
use crate::web::error::AppError;
use crate::web::AppState;

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn xlsx_error(e: XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("xlsx: {e}"))
}

fn header(sheet: &mut Worksheet, titles: &[&str]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    for (col, t) in titles.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *t, &bold)?;
        sheet.set_column_width(col as u16, 16)?;
    }
    Ok(())
}

/// Every enterprise the caller may read (all, or its own), by name.
pub async fn enterprises(state: &AppState, base_id: &str, view: &EnterpriseView) -> Result<Vec<u8>, AppError> {
    let own = match view {
        EnterpriseView::All => None,
        EnterpriseView::Own(id) => Some(id.as_str()),
    };
    let rows = sqlx::query(
        "SELECT name, uscc, industry, region_code, founded_on, registered_capital_fen, employees, high_tech, \
         synthetic, created_at FROM enterprises WHERE base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id = $2) ORDER BY name, id",
    )
    .bind(base_id)
    .bind(own)
    .fetch_all(state.db.pool())
    .await?;
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name("企业").map_err(xlsx_error)?;
    header(
        sheet,
        &[
            "企业名称",
            "统一社会信用代码",
            "行业",
            "所在地",
            "成立日期",
            "注册资本（分）",
            "注册资本（元）",
            "从业人数",
            "高新技术企业",
            "模拟数据",
            "登记时间",
        ],
    )
    .map_err(xlsx_error)?;
    for (i, r) in rows.iter().enumerate() {
        enterprise_row(sheet, i as u32 + 1, r).map_err(xlsx_error)?;
    }
    wb.save_to_buffer().map_err(xlsx_error)
}

fn enterprise_row(sheet: &mut Worksheet, row: u32, r: &sqlx::any::AnyRow) -> Result<(), XlsxError> {
    let industry: String = r.get(2);
    let region: String = r.get(3);
    let capital: i64 = r.get(5);
    let yes_no = |v: i64| if v == 1 { "是" } else { "否" };
    sheet.write_string(row, 0, r.get::<String, _>(0))?;
    sheet.write_string(row, 1, r.get::<String, _>(1))?;
    sheet.write_string(
        row,
        2,
        IndustrySection::parse(&industry)
            .map(|s| s.name().to_string())
            .unwrap_or(industry),
    )?;
    sheet.write_string(
        row,
        3,
        RegionCode::parse(&region).map(|c| c.full_name()).unwrap_or(region),
    )?;
    sheet.write_string(row, 4, r.get::<String, _>(4))?;
    sheet.write_number(row, 5, capital as f64)?;
    sheet.write_string(row, 6, Fen::from_fen(capital).to_yuan_string_grouped())?;
    sheet.write_number(row, 7, r.get::<i64, _>(6) as f64)?;
    sheet.write_string(row, 8, yes_no(r.get(7)))?;
    sheet.write_string(row, 9, yes_no(r.get(8)))?;
    sheet.write_string(row, 10, crate::storage::time::display(&r.get::<String, _>(9)))?;
    Ok(())
}

/// The dashboard's table: indicator, period, actual, target, completion, responsibility.
pub fn dashboard(d: &Dashboard) -> Result<Vec<u8>, AppError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(format!("指标 {}", d.month)).map_err(xlsx_error)?;
    header(
        sheet,
        &[
            "指标代码",
            "指标",
            "单位",
            "方式",
            "统计时期",
            "实际值",
            "目标值",
            "完成率",
            "进度落后",
            "责任单位",
            "责任人",
            "完成时限",
            "定义版本",
        ],
    )
    .map_err(xlsx_error)?;
    for (i, c) in d.cards.iter().enumerate() {
        let row = i as u32 + 1;
        let t = c.target.as_ref();
        let cells = [
            c.key.clone(),
            c.name.clone(),
            c.unit.clone(),
            if c.kind == "manual" { "填报" } else { "自动计算" }.to_string(),
            c.period.clone(),
            c.actual_display.clone().unwrap_or_else(|| "未填报".into()),
            t.map(|t| t.target_display.clone()).unwrap_or_default(),
            c.completion_text(),
            if c.behind_schedule { "是" } else { "" }.to_string(),
            t.and_then(|t| t.org_unit_name.clone()).unwrap_or_default(),
            t.map(|t| t.responsible_person.clone()).unwrap_or_default(),
            t.map(|t| t.deadline.clone()).unwrap_or_default(),
            format!("v{}", c.definition_version),
        ];
        for (col, v) in cells.iter().enumerate() {
            sheet.write_string(row, col as u16, v).map_err(xlsx_error)?;
        }
    }
    wb.save_to_buffer().map_err(xlsx_error)
}

/// The import template as a workbook: the same columns as the CSV template.
pub fn template_xlsx(rows: &[[String; 5]]) -> Result<Vec<u8>, AppError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name("填报").map_err(xlsx_error)?;
    header(sheet, &super::import::COLUMNS).map_err(xlsx_error)?;
    for (i, r) in rows.iter().enumerate() {
        for (col, v) in r.iter().enumerate() {
            sheet.write_string(i as u32 + 1, col as u16, v).map_err(xlsx_error)?;
        }
    }
    wb.save_to_buffer().map_err(xlsx_error)
}
