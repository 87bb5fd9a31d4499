//! Named formulas the platform evaluates over live data, so a figure it can
//! count itself is never typed in twice. Every formula is a single scoped
//! query; stock figures (totals, carriers) are taken at the end of the
//! period, flows (new firms, money paid out) within it.

use sqlx::Row;

use super::measure::{Measure, ValueType};
use super::period::Period;
use crate::storage::Db;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Formula {
    /// 新登记企业: enterprises registered on the platform within the period.
    EnterprisesNew,
    /// 企业总数: enterprises registered before the period ends.
    EnterprisesTotal,
    /// 注册资本合计 (fen) of those enterprises.
    RegisteredCapital,
    /// Carriers of any kind, or of one kind.
    Carriers,
    Makerspaces,
    Incubators,
    /// Floor area of all carriers (㎡).
    CarrierArea,
    CarrierSeats,
    CarrierOccupiedSeats,
    /// 工位入驻率, percent with two places (occupied / seats).
    CarrierOccupancy,
    /// People with a recognised talent level.
    Talents,
    /// 创业团队 in the registry.
    Teams,
    /// Money posted out of budget accounts within the period (fen): what the
    /// base actually paid out of its programmes.
    BudgetOutflow,
    /// 创新券申领金额 (fen): claims made within the period.
    VouchersClaimed,
    /// 创新券申领笔数.
    VoucherClaims,
    /// 创新券使用金额 (fen): voucher payments of orders whose delivery was
    /// confirmed within the period (their pending ledger transfer posted).
    VouchersUsed,
    /// 创新券兑现金额 (fen): provider redemptions settled within the period.
    VouchersRedeemed,
    /// 受理申报: applications submitted within the period.
    ApplicationsReceived,
    /// 申报通过率, percent with two places: approved ÷ (approved + rejected)
    /// among the decisions taken within the period.
    ApplicationsPassRate,
    /// 资助兑现金额 (fen): approved amounts paid out within the period.
    ProgrammePayouts,
    /// 受理工单: tickets raised within the period.
    TicketsOpened,
    /// 工单按时办结率, percent with two places: tickets resolved within the
    /// period on or before their resolution due date (Beijing date) ÷ all
    /// tickets resolved within the period.
    TicketsOnTime,
}

pub const ALL: [Formula; 22] = [
    Formula::EnterprisesNew,
    Formula::EnterprisesTotal,
    Formula::RegisteredCapital,
    Formula::Carriers,
    Formula::Makerspaces,
    Formula::Incubators,
    Formula::CarrierArea,
    Formula::CarrierSeats,
    Formula::CarrierOccupiedSeats,
    Formula::CarrierOccupancy,
    Formula::Talents,
    Formula::Teams,
    Formula::BudgetOutflow,
    Formula::VouchersClaimed,
    Formula::VoucherClaims,
    Formula::VouchersUsed,
    Formula::VouchersRedeemed,
    Formula::ApplicationsReceived,
    Formula::ApplicationsPassRate,
    Formula::ProgrammePayouts,
    Formula::TicketsOpened,
    Formula::TicketsOnTime,
];

/// Which records a figure drills down to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Records {
    EnterprisesCreatedIn,
    EnterprisesBefore,
    Carriers,
    Talents,
    Teams,
    BudgetTransfers,
    VoucherClaims,
    VoucherOrdersConfirmed,
    Redemptions,
    /// Applications that entered one of these states within the period.
    ApplicationsEntering(&'static [&'static str]),
    TicketsRaised,
    TicketsResolved,
}

impl Formula {
    pub fn as_str(self) -> &'static str {
        match self {
            Formula::EnterprisesNew => "enterprises.new_in_period",
            Formula::EnterprisesTotal => "enterprises.total_at_end",
            Formula::RegisteredCapital => "enterprises.registered_capital_fen",
            Formula::Carriers => "carriers.count",
            Formula::Makerspaces => "carriers.count_makerspace",
            Formula::Incubators => "carriers.count_incubator",
            Formula::CarrierArea => "carriers.area_m2",
            Formula::CarrierSeats => "carriers.seats",
            Formula::CarrierOccupiedSeats => "carriers.occupied_seats",
            Formula::CarrierOccupancy => "carriers.occupancy_percent",
            Formula::Talents => "persons.with_talent_level",
            Formula::Teams => "teams.count",
            Formula::BudgetOutflow => "ledger.budget_outflow_fen",
            Formula::VouchersClaimed => "vouchers.claimed_fen",
            Formula::VoucherClaims => "vouchers.claims",
            Formula::VouchersUsed => "vouchers.used_fen",
            Formula::VouchersRedeemed => "vouchers.redeemed_fen",
            Formula::ApplicationsReceived => "applications.received",
            Formula::ApplicationsPassRate => "applications.pass_rate_percent",
            Formula::ProgrammePayouts => "applications.paid_fen",
            Formula::TicketsOpened => "tickets.opened",
            Formula::TicketsOnTime => "tickets.on_time_percent",
        }
    }

    pub fn parse(s: &str) -> Option<Formula> {
        ALL.into_iter().find(|f| f.as_str() == s.trim())
    }

    pub fn value_type(self) -> ValueType {
        match self {
            Formula::RegisteredCapital
            | Formula::BudgetOutflow
            | Formula::VouchersClaimed
            | Formula::VouchersUsed
            | Formula::VouchersRedeemed
            | Formula::ProgrammePayouts => ValueType::Fen,
            _ => ValueType::Count,
        }
    }

    /// In Chinese, for the catalogue and the method page.
    pub fn describe(self) -> &'static str {
        match self {
            Formula::EnterprisesNew => "本期内在平台登记的企业数（按登记时间，北京时间）",
            Formula::EnterprisesTotal => "期末已登记企业总数",
            Formula::RegisteredCapital => "期末已登记企业注册资本合计（分）",
            Formula::Carriers => "期末载体数（众创空间、孵化器、加速器、产业园）",
            Formula::Makerspaces => "期末众创空间数",
            Formula::Incubators => "期末孵化器数",
            Formula::CarrierArea => "期末载体面积合计（平方米）",
            Formula::CarrierSeats => "期末载体工位合计",
            Formula::CarrierOccupiedSeats => "期末已入驻工位合计",
            Formula::CarrierOccupancy => "已入驻工位 ÷ 工位 × 100，保留两位小数（向下取整）",
            Formula::Talents => "期末已认定层次的人才数",
            Formula::Teams => "期末创业团队数",
            Formula::BudgetOutflow => "本期内从预算账户入账支出的金额合计（分）",
            Formula::VouchersClaimed => "本期内企业申领创新券的金额合计（分）",
            Formula::VoucherClaims => "本期内企业申领创新券的笔数",
            Formula::VouchersUsed => "本期内企业确认服务交付、创新券支付入账的金额合计（分）",
            Formula::VouchersRedeemed => "本期内服务机构兑现（已结算）的创新券金额合计（分）",
            Formula::ApplicationsReceived => "本期内首次提交的申报数（补正后重新提交不重复计）",
            Formula::ApplicationsPassRate => "本期内批准数 ÷（批准数 + 未通过数）× 100，保留两位小数（向下取整）",
            Formula::ProgrammePayouts => "本期内已兑现的资助金额合计（分）",
            Formula::TicketsOpened => "本期内企业提出的工单数",
            Formula::TicketsOnTime => {
                "本期内办结的工单中，在办结时限（北京时间日期）当天或之前办结的比例 × 100，保留两位小数（向下取整）"
            }
        }
    }

    pub fn records(self) -> Records {
        match self {
            Formula::EnterprisesNew => Records::EnterprisesCreatedIn,
            Formula::EnterprisesTotal | Formula::RegisteredCapital => Records::EnterprisesBefore,
            Formula::Talents => Records::Talents,
            Formula::Teams => Records::Teams,
            Formula::BudgetOutflow => Records::BudgetTransfers,
            Formula::VouchersClaimed | Formula::VoucherClaims => Records::VoucherClaims,
            Formula::VouchersUsed => Records::VoucherOrdersConfirmed,
            Formula::VouchersRedeemed => Records::Redemptions,
            Formula::ApplicationsReceived => Records::ApplicationsEntering(&["submitted"]),
            Formula::ApplicationsPassRate => Records::ApplicationsEntering(&["approved", "rejected"]),
            Formula::ProgrammePayouts => Records::ApplicationsEntering(&["paid"]),
            Formula::TicketsOpened => Records::TicketsRaised,
            Formula::TicketsOnTime => Records::TicketsResolved,
            _ => Records::Carriers,
        }
    }
}

/// Evaluates a formula for a base and period.
pub async fn evaluate(db: &Db, base_id: &str, formula: Formula, period: Period) -> sqlx::Result<Measure> {
    let (start, end) = period.utc_bounds();
    let scalar = |sql: &'static str, with_start: bool| {
        let (db, base_id, start, end) = (db.clone(), base_id.to_string(), start.clone(), end.clone());
        async move {
            let q = sqlx::query(sql).bind(base_id);
            let q = if with_start {
                q.bind(start).bind(end)
            } else {
                q.bind(end)
            };
            q.fetch_one(db.pool()).await.map(|r| r.get::<i64, _>(0))
        }
    };
    let count = |n: i64| Measure::count(n);
    Ok(match formula {
        Formula::EnterprisesNew => count(
            scalar(
                "SELECT COUNT(*) FROM enterprises WHERE base_id = $1 AND created_at >= $2 AND created_at < $3",
                true,
            )
            .await?,
        ),
        Formula::EnterprisesTotal => count(
            scalar(
                "SELECT COUNT(*) FROM enterprises WHERE base_id = $1 AND created_at < $2",
                false,
            )
            .await?,
        ),
        Formula::RegisteredCapital => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(registered_capital_fen), 0) AS BIGINT) FROM enterprises \
                 WHERE base_id = $1 AND created_at < $2",
                false,
            )
            .await?,
        ),
        Formula::Carriers => count(carrier_sum(db, base_id, "1", None, &end).await?),
        Formula::Makerspaces => count(carrier_sum(db, base_id, "1", Some("makerspace"), &end).await?),
        Formula::Incubators => count(carrier_sum(db, base_id, "1", Some("incubator"), &end).await?),
        Formula::CarrierArea => count(carrier_sum(db, base_id, "area_m2", None, &end).await?),
        Formula::CarrierSeats => count(carrier_sum(db, base_id, "seats", None, &end).await?),
        Formula::CarrierOccupiedSeats => count(carrier_sum(db, base_id, "occupied_seats", None, &end).await?),
        Formula::CarrierOccupancy => {
            let seats = carrier_sum(db, base_id, "seats", None, &end).await?;
            let occupied = carrier_sum(db, base_id, "occupied_seats", None, &end).await?;
            occupancy(occupied, seats)
        }
        Formula::Talents => count(
            scalar(
                "SELECT COUNT(*) FROM persons WHERE base_id = $1 AND talent_level <> 'none' AND created_at < $2",
                false,
            )
            .await?,
        ),
        Formula::Teams => count(
            scalar(
                "SELECT COUNT(*) FROM teams WHERE base_id = $1 AND created_at < $2",
                false,
            )
            .await?,
        ),
        Formula::BudgetOutflow => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(t.amount_fen), 0) AS BIGINT) FROM ledger_transfers t \
                 JOIN ledger_accounts a ON a.id = t.debit_account_id \
                 WHERE t.base_id = $1 AND a.kind = 'budget' AND t.state = 'posted' \
                 AND COALESCE(t.resolved_at, t.created_at) >= $2 AND COALESCE(t.resolved_at, t.created_at) < $3",
                true,
            )
            .await?,
        ),
        Formula::VouchersClaimed => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM voucher_claims \
                 WHERE base_id = $1 AND created_at >= $2 AND created_at < $3",
                true,
            )
            .await?,
        ),
        Formula::VoucherClaims => count(
            scalar(
                "SELECT COUNT(*) FROM voucher_claims WHERE base_id = $1 AND created_at >= $2 AND created_at < $3",
                true,
            )
            .await?,
        ),
        Formula::VouchersUsed => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(t.amount_fen), 0) AS BIGINT) FROM service_orders o \
                 JOIN ledger_transfers t ON t.id = o.voucher_transfer_id \
                 WHERE o.base_id = $1 AND t.state = 'posted' AND t.resolved_at >= $2 AND t.resolved_at < $3",
                true,
            )
            .await?,
        ),
        Formula::VouchersRedeemed => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM redemptions \
                 WHERE base_id = $1 AND state = 'settled' AND resolved_at >= $2 AND resolved_at < $3",
                true,
            )
            .await?,
        ),
        Formula::ApplicationsReceived => count(entering(db, base_id, "submitted", &start, &end).await?),
        Formula::ApplicationsPassRate => {
            let approved = entering(db, base_id, "approved", &start, &end).await?;
            let rejected = entering(db, base_id, "rejected", &start, &end).await?;
            occupancy(approved, approved + rejected)
        }
        Formula::ProgrammePayouts => Measure::fen(
            scalar(
                "SELECT CAST(COALESCE(SUM(a.amount_approved_fen), 0) AS BIGINT) FROM application_events ev \
                 JOIN applications a ON a.id = ev.application_id \
                 WHERE ev.base_id = $1 AND ev.to_state = 'paid' AND ev.at >= $2 AND ev.at < $3",
                true,
            )
            .await?,
        ),
        Formula::TicketsOpened => count(
            scalar(
                "SELECT COUNT(*) FROM tickets WHERE base_id = $1 AND created_at >= $2 AND created_at < $3",
                true,
            )
            .await?,
        ),
        Formula::TicketsOnTime => {
            let (on_time, resolved) = tickets_on_time(db, base_id, &start, &end).await?;
            occupancy(on_time, resolved)
        }
    })
}

/// Tickets resolved within `[start, end)`: how many on or before their due
/// date in Beijing time, and how many in all. The comparison is made here
/// rather than in SQL because the instant has to become a Beijing date.
pub async fn tickets_on_time(db: &Db, base_id: &str, start: &str, end: &str) -> sqlx::Result<(i64, i64)> {
    let rows = sqlx::query(
        "SELECT resolved_at, resolve_due_on FROM tickets WHERE base_id = $1 AND resolved_at >= $2 AND resolved_at < $3",
    )
    .bind(base_id)
    .bind(start)
    .bind(end)
    .fetch_all(db.pool())
    .await?;
    let on_time = rows
        .iter()
        .filter(|r| resolved_on_time(&r.get::<String, _>(0), &r.get::<String, _>(1)))
        .count();
    Ok((on_time as i64, rows.len() as i64))
}

pub fn resolved_on_time(resolved_at: &str, due_on: &str) -> bool {
    crate::storage::time::parse_text(resolved_at)
        .map(|t| {
            t.with_timezone(&crate::storage::time::shanghai())
                .date_naive()
                .to_string()
        })
        .is_some_and(|d| d.as_str() <= due_on)
}

/// Applications that entered `state` within `[start, end)`, counted once each.
async fn entering(db: &Db, base_id: &str, state: &str, start: &str, end: &str) -> sqlx::Result<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(DISTINCT application_id) FROM application_events \
         WHERE base_id = $1 AND to_state = $2 AND at >= $3 AND at < $4",
    )
    .bind(base_id)
    .bind(state)
    .bind(start)
    .bind(end)
    .fetch_one(db.pool())
    .await?
    .get(0))
}

/// Occupancy in percent with two places, rounded down: 83.33 for 5/6.
fn occupancy(occupied: i64, seats: i64) -> Measure {
    let bp = if seats == 0 {
        0
    } else {
        occupied as i128 * 10_000 / seats as i128
    };
    Measure {
        value_type: ValueType::Count,
        raw: bp * 100,
    }
}

/// `SUM(column)` (or a count with column "1") over carriers existing at `end`.
async fn carrier_sum(db: &Db, base_id: &str, column: &'static str, kind: Option<&str>, end: &str) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) FROM carriers \
         WHERE base_id = $1 AND created_at < $2 AND (CAST($3 AS TEXT) IS NULL OR kind = $3)"
    );
    Ok(sqlx::query(&sql)
        .bind(base_id)
        .bind(end)
        .bind(kind)
        .fetch_one(db.pool())
        .await?
        .get(0))
}

/// New enterprises per month for the `months` months ending with `last`, oldest first.
pub async fn new_enterprises_by_month(
    db: &Db,
    base_id: &str,
    last: Period,
    months: usize,
) -> sqlx::Result<Vec<(Period, i64)>> {
    let mut periods = vec![last];
    while periods.len() < months {
        let earliest = *periods.last().expect("non-empty");
        periods.push(earliest.previous_month());
    }
    periods.reverse();
    let mut out = Vec::with_capacity(months);
    for p in periods {
        let n = evaluate(db, base_id, Formula::EnterprisesNew, p).await?.whole_units() as i64;
        out.push((p, n));
    }
    Ok(out)
}
