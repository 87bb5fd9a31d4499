//! Excel export of the platform's list views (people, carriers, providers,
//! voucher batches and claims, applications; enterprises and the dashboard
//! live in [`super::export`]). One small helper writes any table as a
//! one-sheet workbook; each list is one query under the read rules of the
//! page it mirrors. Personal information leaves only masked (PIPL), money as
//! integer fen plus a yuan text column.

use chuangtong_domain::Fen;
use rust_xlsxwriter::{Format, Workbook};
use sqlx::Row;

use super::export::xlsx_error;
use crate::auth::{BaseScope, Role};
use crate::web::error::AppError;
use crate::web::AppState;

pub enum Cell {
    Text(String),
    Int(i64),
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

/// A one-sheet workbook: a bold header row, then the rows.
pub fn workbook(
    sheet_name: &str,
    heads: &[&str],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<Vec<u8>, AppError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(sheet_name).map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    for (col, h) in heads.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *h, &bold)
            .map_err(xlsx_error)?;
        sheet.set_column_width(col as u16, 16).map_err(xlsx_error)?;
    }
    for (i, row) in rows.into_iter().enumerate() {
        for (col, cell) in row.into_iter().enumerate() {
            let (r, c) = (i as u32 + 1, col as u16);
            match cell {
                Cell::Text(s) => sheet.write_string(r, c, s),
                Cell::Int(n) => sheet.write_number(r, c, n as f64),
            }
            .map_err(xlsx_error)?;
        }
    }
    wb.save_to_buffer().map_err(xlsx_error)
}

/// The lists that can be exported, with their file stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Persons,
    Carriers,
    Providers,
    VoucherBatches,
    VoucherClaims,
    Applications,
}

impl List {
    pub fn stem(self) -> &'static str {
        match self {
            List::Persons => "persons",
            List::Carriers => "carriers",
            List::Providers => "providers",
            List::VoucherBatches => "voucher-batches",
            List::VoucherClaims => "voucher-claims",
            List::Applications => "applications",
        }
    }

    /// The same read rule as the page the list mirrors.
    fn allowed(self, scope: &BaseScope) -> Result<(), AppError> {
        match self {
            List::Persons => crate::registry::access::persons(scope),
            List::Carriers | List::Providers => crate::registry::access::directory(scope),
            // Batches with their uptake, every firm's claims and every
            // application are the base's own books: base admins only.
            List::VoucherBatches | List::VoucherClaims | List::Applications => scope.require(&[Role::BaseAdmin]),
        }
    }
}

fn yes_no(v: i64) -> &'static str {
    if v == 1 {
        "是"
    } else {
        "否"
    }
}

fn yuan(fen: i64) -> Cell {
    Cell::Text(Fen::from_fen(fen).to_yuan_string_grouped())
}

pub async fn export(state: &AppState, scope: &BaseScope, list: List) -> Result<Vec<u8>, AppError> {
    list.allowed(scope)?;
    let base_id = scope.base.id.as_str();
    let pool = state.db.pool();
    let display = |s: String| Cell::Text(crate::storage::time::display(&s));
    match list {
        List::Persons => {
            let rows = sqlx::query(
                "SELECT name, id_number_masked, phone_masked, talent_level, employer, synthetic, created_at \
                 FROM persons WHERE base_id = $1 ORDER BY name, id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            workbook(
                "人才",
                &[
                    "姓名",
                    "身份证号（脱敏）",
                    "电话（脱敏）",
                    "人才层次",
                    "工作单位",
                    "模拟数据",
                    "登记时间",
                ],
                rows.iter().map(|r| {
                    vec![
                        r.get::<String, _>(0).into(),
                        r.get::<String, _>(1).into(),
                        r.get::<Option<String>, _>(2).unwrap_or_default().into(),
                        crate::registry::person::talent_label(&r.get::<String, _>(3)).into(),
                        r.get::<String, _>(4).into(),
                        yes_no(r.get(5)).into(),
                        display(r.get(6)),
                    ]
                }),
            )
        }
        List::Carriers => {
            let rows = sqlx::query(
                "SELECT name, kind, level, area_m2, seats, occupied_seats, synthetic FROM carriers \
                 WHERE base_id = $1 ORDER BY name, id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            let label = |table: &[(&'static str, &'static str)], code: String| -> Cell {
                table
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, l)| Cell::from(*l))
                    .unwrap_or(Cell::Text(code))
            };
            workbook(
                "载体",
                &[
                    "名称",
                    "类型",
                    "级别",
                    "面积（平方米）",
                    "工位",
                    "已入驻工位",
                    "入驻率（%）",
                    "模拟数据",
                ],
                rows.iter().map(|r| {
                    let (seats, occupied): (i64, i64) = (r.get(4), r.get(5));
                    vec![
                        r.get::<String, _>(0).into(),
                        label(&crate::registry::carrier::KINDS, r.get(1)),
                        label(&crate::registry::carrier::LEVELS, r.get(2)),
                        r.get::<i64, _>(3).into(),
                        seats.into(),
                        occupied.into(),
                        (if seats == 0 { 0 } else { occupied * 100 / seats }).into(),
                        yes_no(r.get(6)).into(),
                    ]
                }),
            )
        }
        List::Providers => {
            let rows = sqlx::query(
                "SELECT name, uscc, categories, synthetic, created_at FROM providers WHERE base_id = $1 ORDER BY name, id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            workbook(
                "服务机构",
                &["名称", "统一社会信用代码", "服务类别", "模拟数据", "登记时间"],
                rows.iter().map(|r| {
                    vec![
                        r.get::<String, _>(0).into(),
                        r.get::<String, _>(1).into(),
                        r.get::<String, _>(2).replace(',', "、").into(),
                        yes_no(r.get(3)).into(),
                        display(r.get(4)),
                    ]
                }),
            )
        }
        List::VoucherBatches => {
            let rows = sqlx::query(
                "SELECT b.code, b.name, b.total_fen, b.per_firm_cap_fen, b.copay_max_bp, b.categories, b.claim_opens_at, \
                 b.claim_closes_at, b.valid_until, \
                 (SELECT COUNT(*) FROM voucher_claims c WHERE c.batch_id = b.id), \
                 (SELECT CAST(COALESCE(SUM(c.amount_fen), 0) AS BIGINT) FROM voucher_claims c WHERE c.batch_id = b.id) \
                 FROM voucher_batches b WHERE b.base_id = $1 ORDER BY b.created_at, b.id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            workbook(
                "创新券批次",
                &[
                    "批次编号",
                    "名称",
                    "总额（分）",
                    "总额（元）",
                    "每家上限（元）",
                    "券支付比例上限（%）",
                    "适用类别",
                    "申领开始",
                    "申领截止",
                    "有效期至",
                    "已申领企业",
                    "已申领（分）",
                    "已申领（元）",
                ],
                rows.iter().map(|r| {
                    let (total, claimed): (i64, i64) = (r.get(2), r.get(10));
                    vec![
                        r.get::<String, _>(0).into(),
                        r.get::<String, _>(1).into(),
                        total.into(),
                        yuan(total),
                        yuan(r.get(3)),
                        super::measure::percent_text(r.get(4))
                            .trim_end_matches('%')
                            .to_string()
                            .into(),
                        r.get::<String, _>(5).replace(',', "、").into(),
                        display(r.get(6)),
                        display(r.get(7)),
                        r.get::<String, _>(8).into(),
                        r.get::<i64, _>(9).into(),
                        claimed.into(),
                        yuan(claimed),
                    ]
                }),
            )
        }
        List::VoucherClaims => {
            let rows = sqlx::query(
                "SELECT b.code, b.name, e.name, e.uscc, c.amount_fen, c.created_at FROM voucher_claims c \
                 JOIN voucher_batches b ON b.id = c.batch_id JOIN enterprises e ON e.id = c.enterprise_id \
                 WHERE c.base_id = $1 ORDER BY c.created_at, c.id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            workbook(
                "创新券申领",
                &[
                    "批次编号",
                    "批次",
                    "企业",
                    "统一社会信用代码",
                    "金额（分）",
                    "金额（元）",
                    "申领时间",
                ],
                rows.iter().map(|r| {
                    let amount: i64 = r.get(4);
                    vec![
                        r.get::<String, _>(0).into(),
                        r.get::<String, _>(1).into(),
                        r.get::<String, _>(2).into(),
                        r.get::<String, _>(3).into(),
                        amount.into(),
                        yuan(amount),
                        display(r.get(5)),
                    ]
                }),
            )
        }
        List::Applications => {
            let rows = sqlx::query(
                "SELECT p.code, p.name, e.name, e.uscc, a.state, a.amount_requested_fen, a.amount_approved_fen, \
                 COALESCE(a.eligible, ''), a.created_at, a.updated_at FROM applications a \
                 JOIN programmes p ON p.id = a.programme_id JOIN enterprises e ON e.id = a.enterprise_id \
                 WHERE a.base_id = $1 ORDER BY p.code, a.created_at, a.id",
            )
            .bind(base_id)
            .fetch_all(pool)
            .await?;
            workbook(
                "申报",
                &[
                    "项目编号",
                    "项目",
                    "企业",
                    "统一社会信用代码",
                    "状态",
                    "申请金额（分）",
                    "批准金额（分）",
                    "批准金额（元）",
                    "政策判断",
                    "创建时间",
                    "更新时间",
                ],
                rows.iter().map(|r| {
                    let state: String = r.get(4);
                    let approved: Option<i64> = r.get(6);
                    vec![
                        r.get::<String, _>(0).into(),
                        r.get::<String, _>(1).into(),
                        r.get::<String, _>(2).into(),
                        r.get::<String, _>(3).into(),
                        crate::application::State::parse(&state)
                            .map(|s| s.label().to_string())
                            .unwrap_or(state)
                            .into(),
                        r.get::<i64, _>(5).into(),
                        approved.map(Cell::Int).unwrap_or(Cell::Text(String::new())),
                        approved.map(yuan).unwrap_or(Cell::Text(String::new())),
                        match r.get::<String, _>(7).as_str() {
                            "yes" => "符合",
                            "no" => "不符合",
                            "unknown" => "待补充信息",
                            _ => "",
                        }
                        .into(),
                        display(r.get(8)),
                        display(r.get(9)),
                    ]
                }),
            )
        }
    }
}
