//! The batch report (批次报表) for base admins: what was claimed, reserved by
//! open orders, used (confirmed delivery, paid), asked to be redeemed,
//! redeemed (settled) and expired (returned to the budget) — counts and fen,
//! in total, by service category and by provider; as JSON, a page and Excel.
//!
//! The figures come from the business tables; the wallet balance comes from
//! the ledger, so the report also shows whether the two agree:
//! claimed = in wallets + reserved + used + returned.

use std::collections::BTreeMap;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde::Serialize;
use sqlx::Row;

use super::batch::{self, Batch};
use crate::web::error::AppError;
use crate::web::AppState;

/// A count and an amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figure {
    pub count: i64,
    pub fen: i64,
}

impl Figure {
    fn add(&mut self, count: i64, fen: i64) {
        self.count += count;
        self.fen += fen;
    }
}

/// Voucher orders of one category or one provider.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Breakdown {
    /// The category, or the provider's id
    pub key: String,
    /// The category, or the provider's name
    pub label: String,
    /// Placed or delivered, voucher part reserved (pending)
    pub reserved: Figure,
    /// Delivery confirmed: voucher part paid (confirmed + redeemed)
    pub used: Figure,
    /// Confirmed orders in a redemption request not yet settled
    pub redemption_requested: Figure,
    /// Redemption settled
    pub redeemed: Figure,
    /// Reservations released because the batch expired before delivery
    pub released_at_expiry: Figure,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    pub batch: Batch,
    pub expired: bool,
    /// Claims (firms) and amounts claimed
    pub claimed: Figure,
    pub reserved: Figure,
    pub used: Figure,
    pub redemption_requested: Figure,
    pub redeemed: Figure,
    /// Returned to the budget on expiry: count = wallets that returned something
    pub returned_at_expiry: Figure,
    pub released_at_expiry: Figure,
    /// Still spendable in the batch's wallets, from the ledger
    pub in_wallets_fen: i64,
    /// claimed = in wallets + reserved + used + returned (from the ledger and the orders)
    pub reconciles: bool,
    pub by_category: Vec<Breakdown>,
    pub by_provider: Vec<Breakdown>,
}

fn entry<'a>(map: &'a mut BTreeMap<String, Breakdown>, key: &str, label: &str) -> &'a mut Breakdown {
    map.entry(key.to_string()).or_insert_with(|| Breakdown {
        key: key.to_string(),
        label: label.to_string(),
        ..Default::default()
    })
}

pub async fn build(state: &AppState, base_id: &str, batch_id: &str) -> Result<BatchReport, AppError> {
    let batch = batch::get(state, base_id, batch_id).await?;
    let pool = state.db.pool();
    let claimed = sqlx::query(
        "SELECT COUNT(*), COALESCE(CAST(SUM(c.amount_fen) AS BIGINT), 0), \
         COALESCE(CAST(SUM(a.credits_posted - a.debits_posted - a.debits_pending) AS BIGINT), 0) \
         FROM voucher_claims c JOIN ledger_accounts a ON a.id = c.wallet_account_id \
         WHERE c.base_id = $1 AND c.batch_id = $2",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_one(pool)
    .await?;
    let returned = sqlx::query(
        "SELECT COUNT(DISTINCT enterprise_id), COALESCE(CAST(SUM(amount_fen) AS BIGINT), 0) \
         FROM voucher_wallet_returns WHERE base_id = $1 AND batch_id = $2",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_one(pool)
    .await?;
    let expired = sqlx::query("SELECT 1 FROM voucher_expiries WHERE base_id = $1 AND batch_id = $2")
        .bind(base_id)
        .bind(batch_id)
        .fetch_optional(pool)
        .await?
        .is_some();

    let mut report = BatchReport {
        batch,
        expired,
        claimed: Figure {
            count: claimed.get(0),
            fen: claimed.get(1),
        },
        reserved: Figure::default(),
        used: Figure::default(),
        redemption_requested: Figure::default(),
        redeemed: Figure::default(),
        returned_at_expiry: Figure {
            count: returned.get(0),
            fen: returned.get(1),
        },
        released_at_expiry: Figure::default(),
        in_wallets_fen: claimed.get(2),
        reconciles: false,
        by_category: Vec::new(),
        by_provider: Vec::new(),
    };
    let mut categories = BTreeMap::new();
    let mut providers = BTreeMap::new();

    // Voucher orders by category, provider and state (cancelled ones paid nothing).
    let rows = sqlx::query(
        "SELECT s.category, o.provider_id, p.name, o.state, CASE WHEN o.redemption_id IS NULL THEN 0 ELSE 1 END, \
         COUNT(*), CAST(SUM(o.voucher_fen) AS BIGINT) \
         FROM service_orders o JOIN services s ON s.id = o.service_id JOIN providers p ON p.id = o.provider_id \
         WHERE o.base_id = $1 AND o.batch_id = $2 AND o.voucher_fen > 0 AND o.state <> 'cancelled' \
         GROUP BY s.category, o.provider_id, p.name, o.state, CASE WHEN o.redemption_id IS NULL THEN 0 ELSE 1 END",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_all(pool)
    .await?;
    for r in &rows {
        let (category, provider_id, provider_name, st): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let requested = r.get::<i64, _>(4) == 1;
        let (n, fen): (i64, i64) = (r.get(5), r.get(6));
        for b in [
            entry(&mut categories, &category, &category),
            entry(&mut providers, &provider_id, &provider_name),
        ] {
            match st.as_str() {
                "placed" | "delivered" => b.reserved.add(n, fen),
                "confirmed" => {
                    b.used.add(n, fen);
                    if requested {
                        b.redemption_requested.add(n, fen);
                    }
                }
                "redeemed" => {
                    b.used.add(n, fen);
                    b.redeemed.add(n, fen);
                }
                _ => {}
            }
        }
    }

    let rows = sqlx::query(
        "SELECT s.category, o.provider_id, p.name, COUNT(*), CAST(SUM(r.amount_fen) AS BIGINT) \
         FROM voucher_released_reservations r JOIN service_orders o ON o.id = r.order_id \
         JOIN services s ON s.id = o.service_id JOIN providers p ON p.id = o.provider_id \
         WHERE r.base_id = $1 AND r.batch_id = $2 GROUP BY s.category, o.provider_id, p.name",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_all(pool)
    .await?;
    for r in &rows {
        let (category, provider_id, provider_name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (n, fen): (i64, i64) = (r.get(3), r.get(4));
        entry(&mut categories, &category, &category)
            .released_at_expiry
            .add(n, fen);
        entry(&mut providers, &provider_id, &provider_name)
            .released_at_expiry
            .add(n, fen);
    }

    for b in categories.values() {
        report.reserved.add(b.reserved.count, b.reserved.fen);
        report.used.add(b.used.count, b.used.fen);
        report
            .redemption_requested
            .add(b.redemption_requested.count, b.redemption_requested.fen);
        report.redeemed.add(b.redeemed.count, b.redeemed.fen);
        report
            .released_at_expiry
            .add(b.released_at_expiry.count, b.released_at_expiry.fen);
    }
    report.reconciles = report.claimed.fen
        == report.in_wallets_fen + report.reserved.fen + report.used.fen + report.returned_at_expiry.fen;
    // Categories in the supermarket's order; providers by amount used, then name.
    let mut by_category: Vec<Breakdown> = categories.into_values().collect();
    by_category.sort_by_key(|b| super::CATEGORIES.iter().position(|c| *c == b.key).unwrap_or(usize::MAX));
    let mut by_provider: Vec<Breakdown> = providers.into_values().collect();
    by_provider.sort_by(|a, b| b.used.fen.cmp(&a.used.fen).then(a.label.cmp(&b.label)));
    report.by_category = by_category;
    report.by_provider = by_provider;
    Ok(report)
}

fn xlsx_error(e: XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("xlsx: {e}"))
}

/// Money goes out as integer fen (exact in a spreadsheet number) next to yuan text.
fn figure_cells(sheet: &mut Worksheet, row: u32, col: u16, f: &Figure) -> Result<(), XlsxError> {
    sheet.write_number(row, col, f.count as f64)?;
    sheet.write_number(row, col + 1, f.fen as f64)?;
    sheet.write_string(row, col + 2, super::pages::yuan(&f.fen))?;
    Ok(())
}

fn breakdown_sheet(wb: &mut Workbook, name: &str, first: &str, rows: &[Breakdown]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet();
    sheet.set_name(name)?;
    sheet.write_string_with_format(0, 0, first, &bold)?;
    let groups = ["已预留", "已使用", "兑现申请中", "已兑现", "到期释放"];
    for (i, g) in groups.iter().enumerate() {
        let c = 1 + 3 * i as u16;
        sheet.write_string_with_format(0, c, format!("{g}笔数"), &bold)?;
        sheet.write_string_with_format(0, c + 1, format!("{g}（分）"), &bold)?;
        sheet.write_string_with_format(0, c + 2, format!("{g}（元）"), &bold)?;
    }
    sheet.set_column_width(0, 24)?;
    for (i, b) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &b.label)?;
        for (j, f) in [
            &b.reserved,
            &b.used,
            &b.redemption_requested,
            &b.redeemed,
            &b.released_at_expiry,
        ]
        .iter()
        .enumerate()
        {
            figure_cells(sheet, r, 1 + 3 * j as u16, f)?;
        }
    }
    Ok(())
}

/// The report as a workbook: 汇总, 按服务类别, 按服务机构.
pub fn xlsx(r: &BatchReport) -> Result<Vec<u8>, AppError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    {
        let sheet = wb.add_worksheet();
        sheet.set_name("汇总").map_err(xlsx_error)?;
        let head = ["项目", "笔数/家数", "金额（分）", "金额（元）"];
        for (c, t) in head.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *t, &bold)
                .map_err(xlsx_error)?;
        }
        sheet.set_column_width(0, 28).map_err(xlsx_error)?;
        let lines: [(&str, Figure); 9] = [
            (
                "批次总额",
                Figure {
                    count: 1,
                    fen: r.batch.total_fen,
                },
            ),
            ("已申领", r.claimed),
            ("已预留（待交付确认）", r.reserved),
            ("已使用（交付已确认）", r.used),
            ("兑现申请中", r.redemption_requested),
            ("已兑现", r.redeemed),
            ("到期回收预算", r.returned_at_expiry),
            ("到期释放的预留", r.released_at_expiry),
            (
                "钱包余额",
                Figure {
                    count: r.claimed.count,
                    fen: r.in_wallets_fen,
                },
            ),
        ];
        for (i, (label, f)) in lines.iter().enumerate() {
            let row = i as u32 + 1;
            sheet.write_string(row, 0, *label).map_err(xlsx_error)?;
            figure_cells(sheet, row, 1, f).map_err(xlsx_error)?;
        }
        let row = lines.len() as u32 + 2;
        sheet
            .write_string(
                row,
                0,
                format!(
                    "批次 {} {}（有效期至 {}）",
                    r.batch.code, r.batch.name, r.batch.valid_until
                ),
            )
            .map_err(xlsx_error)?;
        sheet
            .write_string(
                row + 1,
                0,
                if r.reconciles {
                    "核对：已申领 = 钱包余额 + 已预留 + 已使用 + 到期回收，一致"
                } else {
                    "核对：已申领与钱包余额、预留、使用、回收之和不一致，请检查"
                },
            )
            .map_err(xlsx_error)?;
    }
    breakdown_sheet(&mut wb, "按服务类别", "服务类别", &r.by_category).map_err(xlsx_error)?;
    breakdown_sheet(&mut wb, "按服务机构", "服务机构", &r.by_provider).map_err(xlsx_error)?;
    wb.save_to_buffer().map_err(xlsx_error)
}
