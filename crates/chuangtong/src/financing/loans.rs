//! Loan products and risk pools (贷款产品与风险池).
//!
//! - A base admin sets up a product with a partner bank (an investor of kind
//!   bank): amount range, optional rules from the policy library giving each
//!   firm's credit line (税融通: tax paid × multiple by credit grade), and an
//!   optional risk pool (青创资金): the fund is deposited into a floored
//!   risk-pool account, the bank must lend at least `leverage_min` times it,
//!   and a default is compensated from the pool at `compensation` (代偿).
//! - An enterprise applies; the application is routed to the product's bank.
//! - The bank grants or rejects, then reports repayment or default.
//!
//! Ledger accounts (the bank's money is tracked as memorandum accounts, so
//! the leverage and losses are in the books too):
//! `funding:bank:{bank}` → `receivable:loans:{product}` on grant;
//! back on repayment; → `receivable:loans-defaulted:{product}` on default;
//! `risk_pool:{product}` → `payable:bank:{bank}` for compensation.

use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::notify::Recipient;
use crate::registry::required_text;
use crate::storage::{time, Backend, Tx};
use crate::voucher::related::tell;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

pub const KINDS: [(&str, &str); 4] = [
    ("tax_credit", "税融通"),
    ("youth_startup", "青创资金"),
    ("incubation", "孵化贷"),
    ("growth", "成长贷"),
];

pub fn kind_label(k: &str) -> &'static str {
    KINDS.iter().find(|(c, _)| *c == k).map(|(_, l)| *l).unwrap_or("未知")
}

pub fn state_label(s: &str) -> &'static str {
    match s {
        "submitted" => "已提交待银行审批",
        "rejected" => "银行未批准",
        "granted" => "已放款",
        "repaid" => "已还清",
        "defaulted" => "已违约",
        _ => "未知",
    }
}

mod codes {
    pub fn bank_funds(bank: &str) -> String {
        format!("funding:bank:{bank}")
    }
    pub fn outstanding(product: &str) -> String {
        format!("receivable:loans:{product}")
    }
    pub fn defaulted(product: &str) -> String {
        format!("receivable:loans-defaulted:{product}")
    }
    pub fn pool(product: &str) -> String {
        format!("risk_pool:{product}")
    }
    pub fn bank_payable(bank: &str) -> String {
        format!("payable:bank:{bank}")
    }
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProductForm {
    pub code: String,
    pub name: String,
    /// tax_credit (税融通) | youth_startup (青创资金) | incubation (孵化贷) | growth (成长贷)
    pub kind: String,
    /// The partner bank: an investor of kind bank
    pub bank_id: String,
    /// A published policy whose amount is each firm's credit line (required for 税融通)
    #[serde(default)]
    pub policy_id: String,
    pub min_yuan: String,
    pub max_yuan: String,
    /// Fund deposited into the risk pool (元); empty or 0: no pool
    #[serde(default)]
    pub pool_yuan: String,
    /// The bank must lend at least this multiple of the pool, e.g. "3" or "4.5"
    #[serde(default)]
    pub leverage_min: String,
    /// Share of a default the pool compensates, 0–100 (%)
    #[serde(default)]
    pub compensation_percent: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Product {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub bank_id: String,
    pub bank_name: String,
    pub policy_id: Option<String>,
    pub min_fen: i64,
    pub max_fen: i64,
    pub pool_fen: i64,
    /// Required multiple × 100 (300 = the bank lends at least 3× the pool)
    pub leverage_min_x100: i64,
    pub compensation_bp: i64,
    /// Left in the risk pool, from the ledger
    pub pool_available_fen: i64,
    pub applications: i64,
    pub loans_granted: i64,
    /// Every principal granted
    pub granted_fen: i64,
    /// Principal still outstanding, from the ledger
    pub outstanding_fen: i64,
    pub defaults: i64,
    pub defaulted_fen: i64,
    pub compensated_fen: i64,
    /// Granted ÷ pool × 100, rounded down (None without a pool)
    pub leverage_reached_x100: Option<i64>,
    /// Granted amount the bank must still lend to reach the required multiple
    pub leverage_shortfall_fen: i64,
}

fn parse_multiple(s: &str) -> Option<i64> {
    // "3", "4.5", "3.25" → ×100, exact.
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    (w <= 100).then_some(w * 100 + f)
}

/// Sets up a product (base admins); a risk pool is funded in the same transaction.
pub async fn create_product(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    f: &ProductForm,
) -> Result<String, AppError> {
    let mut e = FieldErrors::default();
    let code = required_text(&mut e, "code", "产品编号", &f.code, 40);
    if code
        .as_deref()
        .is_some_and(|c| !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'))
    {
        e.push("code", "loan.code", "产品编号只能包含字母、数字和连字符");
    }
    let name = required_text(&mut e, "name", "产品名称", &f.name, 100);
    let kind = f.kind.trim();
    if !KINDS.iter().any(|(k, _)| *k == kind) {
        e.push(
            "kind",
            "loan.kind",
            "产品类型应为 tax_credit（税融通）、youth_startup（青创资金）、incubation（孵化贷）或 growth（成长贷）",
        );
    }
    let min = e.take("min_yuan", Fen::from_yuan_str(&f.min_yuan));
    let max = e.take("max_yuan", Fen::from_yuan_str(&f.max_yuan));
    if let (Some(a), Some(b)) = (min, max) {
        if a.fen() <= 0 || b.fen() < a.fen() {
            e.push("max_yuan", "loan.range", "贷款额度范围应满足 0 < 最低额度 ≤ 最高额度");
        }
    }
    let pool = if f.pool_yuan.trim().is_empty() {
        Some(Fen::from_fen(0))
    } else {
        e.take("pool_yuan", Fen::from_yuan_str(&f.pool_yuan))
    };
    if pool.is_some_and(|p| p.fen() < 0) {
        e.push("pool_yuan", "loan.pool", "风险池资金不能为负");
    }
    let leverage = parse_multiple(&f.leverage_min);
    if leverage.is_none() {
        e.push(
            "leverage_min",
            "loan.leverage",
            "放大倍数应为0到100之间的数，最多两位小数，如 3 或 4.5",
        );
    }
    let compensation = match f.compensation_percent.trim() {
        "" => Some(0),
        s => match s.parse::<i64>() {
            Ok(p) if (0..=100).contains(&p) => Some(p * 100),
            _ => {
                e.push(
                    "compensation_percent",
                    "loan.compensation",
                    "代偿比例应为0到100之间的整数（%）",
                );
                None
            }
        },
    };
    let has_pool = pool.is_some_and(|p| p.fen() > 0);
    if !has_pool && (leverage.unwrap_or(0) > 0 || compensation.unwrap_or(0) > 0) {
        e.push(
            "pool_yuan",
            "loan.pool_required",
            "设置放大倍数或代偿比例须同时存入风险池资金",
        );
    }
    let policy_id = Some(f.policy_id.trim().to_string()).filter(|p| !p.is_empty());
    if kind == "tax_credit" && policy_id.is_none() {
        e.push(
            "policy_id",
            "loan.policy_required",
            "税融通产品须关联政策库中的税融通规则，以计算授信额度",
        );
    }
    e.into_result()?;
    let (code, name) = (code.unwrap(), name.unwrap());
    let mut tx = state.db.begin().await?;
    let bank = sqlx::query("SELECT kind FROM investors WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(f.bank_id.trim())
        .fetch_optional(&mut *tx)
        .await?;
    match bank.map(|r| r.get::<String, _>(0)) {
        None => return Err(AppError::field("bank_id", "loan.unknown_bank", "本基地没有该合作银行")),
        Some(k) if k != "bank" => {
            return Err(AppError::field("bank_id", "loan.not_a_bank", "合作机构须为银行"));
        }
        _ => {}
    }
    if let Some(p) = &policy_id {
        let known = sqlx::query("SELECT 1 FROM policies WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(p)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(AppError::field(
                "policy_id",
                "loan.unknown_policy",
                "政策库中没有该政策",
            ));
        }
    }
    let taken = sqlx::query("SELECT 1 FROM loan_products WHERE base_id = $1 AND code = $2")
        .bind(base_id)
        .bind(&code)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(AppError::field(
            "code",
            "loan.code_taken",
            format!("产品编号“{code}”已存在"),
        ));
    }
    let id = crate::new_id();
    let pool_fen = pool.unwrap().fen();
    let pool_account = if has_pool {
        let funding = ledger::open_account(
            &mut tx,
            base_id,
            crate::voucher::accounts::FUNDING,
            "财政资金",
            AccountKind::Funding,
            false,
        )
        .await?;
        let pool_acc = ledger::open_account(
            &mut tx,
            base_id,
            &codes::pool(&code),
            &format!("{name} 风险池"),
            AccountKind::RiskPool,
            true,
        )
        .await?;
        ledger::transfer(
            &mut tx,
            state.db.backend(),
            &state.keys,
            actor,
            base_id,
            &format!("loan-pool:{id}"),
            &[TransferSpec {
                debit_account_id: funding,
                credit_account_id: pool_acc.clone(),
                amount_fen: pool_fen,
                pending_timeout_secs: None,
                memo: format!("{name} 风险池资金存入"),
            }],
        )
        .await?;
        Some(pool_acc)
    } else {
        None
    };
    sqlx::query(
        "INSERT INTO loan_products (id, base_id, code, name, kind, bank_id, policy_id, min_fen, max_fen, pool_fen, \
         leverage_min_x100, compensation_bp, pool_account_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&code)
    .bind(&name)
    .bind(kind)
    .bind(f.bank_id.trim())
    .bind(policy_id.as_deref())
    .bind(min.unwrap().fen())
    .bind(max.unwrap().fen())
    .bind(pool_fen)
    .bind(leverage.unwrap())
    .bind(compensation.unwrap())
    .bind(pool_account.as_deref())
    .bind(time::now_text())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "loan.product_created",
            entity: "loan_product",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "code": code, "name": name, "kind": kind, "bank_id": f.bank_id.trim(),
                "policy_id": policy_id, "min_fen": min.unwrap().fen(), "max_fen": max.unwrap().fen(),
                "pool_fen": pool_fen, "leverage_min_x100": leverage, "compensation_bp": compensation }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

const PRODUCT_SQL: &str = "SELECT p.id, p.code, p.name, p.kind, p.bank_id, i.name, p.policy_id, p.min_fen, p.max_fen, \
     p.pool_fen, p.leverage_min_x100, p.compensation_bp, \
     COALESCE((SELECT a.credits_posted - a.debits_posted - a.debits_pending FROM ledger_accounts a WHERE a.id = p.pool_account_id), 0), \
     (SELECT COUNT(*) FROM loan_applications l WHERE l.product_id = p.id), \
     (SELECT COUNT(*) FROM loan_applications l WHERE l.product_id = p.id AND l.granted_fen IS NOT NULL), \
     COALESCE((SELECT CAST(SUM(l.granted_fen) AS BIGINT) FROM loan_applications l WHERE l.product_id = p.id), 0), \
     COALESCE((SELECT a.credits_posted - a.debits_posted FROM ledger_accounts a WHERE a.base_id = p.base_id \
               AND a.code = 'receivable:loans:' || p.code), 0), \
     (SELECT COUNT(*) FROM loan_applications l WHERE l.product_id = p.id AND l.state = 'defaulted'), \
     COALESCE((SELECT CAST(SUM(l.defaulted_fen) AS BIGINT) FROM loan_applications l WHERE l.product_id = p.id), 0), \
     COALESCE((SELECT CAST(SUM(l.compensation_fen) AS BIGINT) FROM loan_applications l WHERE l.product_id = p.id), 0) \
     FROM loan_products p JOIN investors i ON i.id = p.bank_id WHERE p.base_id = $1";

fn product_from_row(r: &sqlx::any::AnyRow) -> Product {
    let pool: i64 = r.get(9);
    let leverage_min: i64 = r.get(10);
    let granted: i64 = r.get(15);
    let required = (pool as i128 * leverage_min as i128 / 100) as i64;
    Product {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        kind: r.get(3),
        bank_id: r.get(4),
        bank_name: r.get(5),
        policy_id: r.get(6),
        min_fen: r.get(7),
        max_fen: r.get(8),
        pool_fen: pool,
        leverage_min_x100: leverage_min,
        compensation_bp: r.get(11),
        pool_available_fen: r.get(12),
        applications: r.get(13),
        loans_granted: r.get(14),
        granted_fen: granted,
        outstanding_fen: r.get(16),
        defaults: r.get(17),
        defaulted_fen: r.get(18),
        compensated_fen: r.get(19),
        leverage_reached_x100: (pool > 0).then(|| (granted as i128 * 100 / pool as i128) as i64),
        leverage_shortfall_fen: (required - granted).max(0),
    }
}

pub async fn list_products(state: &AppState, base_id: &str) -> Result<Vec<Product>, AppError> {
    let rows = sqlx::query(&format!("{PRODUCT_SQL} ORDER BY p.created_at"))
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(product_from_row).collect())
}

pub async fn get_product(state: &AppState, base_id: &str, id: &str) -> Result<Product, AppError> {
    let row = sqlx::query(&format!("{PRODUCT_SQL} AND p.id = $2"))
        .bind(base_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(product_from_row(&row))
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Loan {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub bank_id: String,
    pub amount_fen: i64,
    pub term_months: i64,
    pub credit_line_fen: Option<i64>,
    pub state: String,
    pub granted_fen: Option<i64>,
    pub defaulted_fen: Option<i64>,
    pub compensation_fen: Option<i64>,
    pub note: String,
    pub created_at: String,
}

const LOAN_SQL: &str =
    "SELECT l.id, l.product_id, p.name, l.enterprise_id, e.name, l.bank_id, l.amount_fen, l.term_months, \
     l.credit_line_fen, l.state, l.granted_fen, l.defaulted_fen, l.compensation_fen, l.note, l.created_at \
     FROM loan_applications l JOIN loan_products p ON p.id = l.product_id JOIN enterprises e ON e.id = l.enterprise_id \
     WHERE l.base_id = $1";

fn loan_from_row(r: &sqlx::any::AnyRow) -> Loan {
    Loan {
        id: r.get(0),
        product_id: r.get(1),
        product_name: r.get(2),
        enterprise_id: r.get(3),
        enterprise_name: r.get(4),
        bank_id: r.get(5),
        amount_fen: r.get(6),
        term_months: r.get(7),
        credit_line_fen: r.get(8),
        state: r.get(9),
        granted_fen: r.get(10),
        defaulted_fen: r.get(11),
        compensation_fen: r.get(12),
        note: r.get(13),
        created_at: r.get(14),
    }
}

/// Who is asking about loans.
pub enum LoanView<'a> {
    Enterprise(&'a str),
    Bank(&'a str),
    Admin,
}

pub async fn list_loans(state: &AppState, base_id: &str, view: &LoanView<'_>) -> Result<Vec<Loan>, AppError> {
    let (filter, who) = match view {
        LoanView::Enterprise(e) => ("AND l.enterprise_id = $2", Some(*e)),
        LoanView::Bank(b) => ("AND l.bank_id = $2", Some(*b)),
        LoanView::Admin => ("AND CAST($2 AS TEXT) IS NULL", None),
    };
    let rows = sqlx::query(&format!("{LOAN_SQL} {filter} ORDER BY l.created_at DESC LIMIT 500"))
        .bind(base_id)
        .bind(who)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(loan_from_row).collect())
}

async fn load_loan(tx: &mut Tx, backend: Backend, base_id: &str, id: &str) -> Result<Loan, AppError> {
    // PostgreSQL: lock the application row (the join's other tables are not locked).
    let lock = backend.row_lock_of("l");
    let row = sqlx::query(&format!("{LOAN_SQL} AND l.id = $2{lock}"))
        .bind(base_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(loan_from_row(&row))
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ApplicationForm {
    /// 申请金额（元）
    pub amount_yuan: String,
    /// 期限（月），1–120
    pub term_months: String,
}

/// An enterprise applies; the credit line comes from the product's rules.
pub async fn apply(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    product_id: &str,
    f: &ApplicationForm,
) -> Result<Loan, AppError> {
    let product = get_product(state, base_id, product_id).await?;
    let mut e = FieldErrors::default();
    let amount = e.take("amount_yuan", Fen::from_yuan_str(&f.amount_yuan));
    let term = match f.term_months.trim().parse::<i64>() {
        Ok(t) if (1..=120).contains(&t) => Some(t),
        _ => {
            e.push("term_months", "loan.term", "贷款期限应为1到120个月");
            None
        }
    };
    if let Some(a) = amount {
        if a.fen() < product.min_fen || a.fen() > product.max_fen {
            e.push(
                "amount_yuan",
                "loan.amount_range",
                format!(
                    "{}的贷款额度为 {} 元至 {} 元",
                    product.name,
                    Fen::from_fen(product.min_fen).to_yuan_string_grouped(),
                    Fen::from_fen(product.max_fen).to_yuan_string_grouped()
                ),
            );
        }
    }
    e.into_result()?;
    let amount = amount.unwrap().fen();
    // The credit line, from the rules engine (税融通: tax paid × multiple by grade).
    let credit_line = match &product.policy_id {
        None => None,
        Some(pid) => {
            let answers = crate::policy::judge::calculator(state, base_id, enterprise_id).await?;
            let a = answers
                .iter()
                .find(|a| &a.policy_id == pid)
                .ok_or_else(|| AppError::refused("loan.policy_not_in_force", "该产品关联的政策目前未生效"))?;
            match a.eligible.as_str() {
                "yes" => a.amount_fen,
                "unknown" => {
                    return Err(AppError::refused(
                        "loan.facts_missing",
                        format!("无法计算授信额度，请补充以下信息：{}", a.missing_facts.join("、")),
                    ))
                }
                _ => {
                    return Err(AppError::refused(
                        "loan.not_eligible",
                        format!("不符合{}条件：{}", a.title, a.explanation),
                    ))
                }
            }
        }
    };
    if let Some(line) = credit_line {
        if amount > line {
            return Err(AppError::field(
                "amount_yuan",
                "loan.over_credit_line",
                format!(
                    "申请金额超过授信额度 {} 元（按政策规则计算）",
                    Fen::from_fen(line).to_yuan_string_grouped()
                ),
            ));
        }
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
    let open = sqlx::query(
        "SELECT 1 FROM loan_applications WHERE product_id = $1 AND enterprise_id = $2 AND state IN ('submitted', 'granted')",
    )
    .bind(product_id)
    .bind(enterprise_id)
    .fetch_optional(&mut *tx)
    .await?;
    if open.is_some() {
        return Err(AppError::refused(
            "loan.already_open",
            "该产品已有一笔审批中或未结清的贷款",
        ));
    }
    let id = crate::new_id();
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO loan_applications (id, base_id, product_id, enterprise_id, bank_id, amount_fen, term_months, \
         credit_line_fen, state, note, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', '', $9, $9)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(product_id)
    .bind(enterprise_id)
    .bind(&product.bank_id)
    .bind(amount)
    .bind(term.unwrap())
    .bind(credit_line)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "loan.applied",
            entity: "loan_application",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "product_id": product_id, "enterprise_id": enterprise_id, "bank_id": product.bank_id,
                "amount_fen": amount, "term_months": term, "credit_line_fen": credit_line }),
            ),
        },
    )
    .await?;
    tell(
        &mut tx,
        base_id,
        Recipient::Subject(&product.bank_id),
        "loan.routed",
        format!("新的{}申请待审批", product.name),
        format!(
            "申请金额 {} 元，期限 {} 个月",
            Fen::from_fen(amount).to_yuan_string_grouped(),
            term.unwrap()
        ),
        "financing",
    )
    .await?;
    let loan = load_loan(&mut tx, state.db.backend(), base_id, &id).await?;
    tx.commit().await?;
    Ok(loan)
}

/// What a bank does with an application routed to it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct BankAction {
    /// grant: amount granted (元, at most the amount applied for); default: principal outstanding (元)
    #[serde(default)]
    pub amount_yuan: String,
    #[serde(default)]
    pub note: String,
}

/// Moves an application from its current state, exactly once; `amount`
/// also sets one amount column.
#[allow(clippy::too_many_arguments)]
async fn set_state(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    loan: &Loan,
    to: &str,
    amount: Option<(&str, i64)>,
    note: &str,
) -> Result<(), AppError> {
    let set = amount.map(|(c, _)| format!(", {c} = $6")).unwrap_or_default();
    let sql = format!(
        "UPDATE loan_applications SET state = $1, note = $2, updated_at = $3{set} WHERE id = $4 AND state = $5"
    );
    let mut query = sqlx::query(&sql)
        .bind(to)
        .bind(note)
        .bind(time::now_text())
        .bind(&loan.id)
        .bind(&loan.state);
    if let Some((_, v)) = amount {
        query = query.bind(v);
    }
    let value = amount.map(|(_, v)| v);
    let changed = query.execute(&mut **tx).await?.rows_affected();
    if changed == 0 {
        return Err(AppError::refused(
            "loan.state",
            "贷款状态已被其他操作改变，请刷新后重试",
        ));
    }
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: match to {
                "granted" => "loan.granted",
                "rejected" => "loan.rejected",
                "repaid" => "loan.repaid",
                _ => "loan.defaulted",
            },
            entity: "loan_application",
            entity_id: Some(&loan.id),
            before: Some(json!({ "state": loan.state })),
            after: Some(json!({ "state": to, "amount_fen": value, "note": note })),
        },
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn move_money(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    key: &str,
    from: (&str, &str, AccountKind, bool),
    to: (&str, &str, AccountKind, bool),
    amount: i64,
    memo: String,
) -> Result<(), AppError> {
    let debit = ledger::open_account(tx, base_id, from.0, from.1, from.2, from.3).await?;
    let credit = ledger::open_account(tx, base_id, to.0, to.1, to.2, to.3).await?;
    ledger::transfer(
        tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        key,
        &[TransferSpec {
            debit_account_id: debit,
            credit_account_id: credit,
            amount_fen: amount,
            pending_timeout_secs: None,
            memo,
        }],
    )
    .await?;
    Ok(())
}

/// The bank acts on an application routed to it: grant, reject, repaid, default.
/// A default is compensated from the product's risk pool in the same transaction.
pub async fn bank_act(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    bank_id: Option<&str>,
    loan_id: &str,
    action: &str,
    f: &BankAction,
) -> Result<Loan, AppError> {
    let note = f.note.trim();
    if note.chars().count() > 500 {
        return Err(AppError::field("note", "text.too_long", "说明不能超过500个字"));
    }
    let mut tx = state.db.begin().await?;
    let loan = load_loan(&mut tx, state.db.backend(), base_id, loan_id).await?;
    if bank_id.is_some_and(|b| b != loan.bank_id) {
        return Err(AppError::NotFound);
    }
    let product = get_product(state, base_id, &loan.product_id).await?;
    let need = |from: &str, what: &str| -> Result<(), AppError> {
        if loan.state == from {
            Ok(())
        } else {
            Err(AppError::refused(
                "loan.state",
                format!("贷款当前为“{}”，不能{what}", state_label(&loan.state)),
            ))
        }
    };
    let amount = || -> Result<i64, AppError> {
        let a = Fen::from_yuan_str(&f.amount_yuan)
            .map_err(|e| AppError::field("amount_yuan", chuangtong_domain::Coded::code(&e), e.to_string()))?;
        if a.fen() <= 0 {
            return Err(AppError::field("amount_yuan", "loan.amount", "金额应大于0"));
        }
        Ok(a.fen())
    };
    let bank_funds = codes::bank_funds(&loan.bank_id);
    let outstanding = codes::outstanding(&product.code);
    match action {
        "grant" => {
            need("submitted", "放款")?;
            let granted = amount()?;
            if granted > loan.amount_fen {
                return Err(AppError::field(
                    "amount_yuan",
                    "loan.over_applied",
                    "放款金额不能超过申请金额",
                ));
            }
            move_money(
                &mut tx,
                state,
                actor,
                base_id,
                &format!("loan-grant:{loan_id}"),
                (
                    &bank_funds,
                    &format!("{} 信贷资金", product.bank_name),
                    AccountKind::Funding,
                    false,
                ),
                (
                    &outstanding,
                    &format!("{} 贷款余额", product.name),
                    AccountKind::Receivable,
                    true,
                ),
                granted,
                format!("{} 放款：{}", product.name, loan.enterprise_name),
            )
            .await?;
            set_state(
                &mut tx,
                state,
                actor,
                base_id,
                &loan,
                "granted",
                Some(("granted_fen", granted)),
                note,
            )
            .await?;
        }
        "reject" => {
            need("submitted", "拒绝")?;
            if note.is_empty() {
                return Err(AppError::field("note", "text.required", "请说明未批准的原因"));
            }
            set_state(&mut tx, state, actor, base_id, &loan, "rejected", None, note).await?;
        }
        "repaid" => {
            need("granted", "登记还清")?;
            let principal = loan.granted_fen.unwrap_or(0);
            move_money(
                &mut tx,
                state,
                actor,
                base_id,
                &format!("loan-repaid:{loan_id}"),
                (&outstanding, "贷款余额", AccountKind::Receivable, true),
                (&bank_funds, "银行信贷资金", AccountKind::Funding, false),
                principal,
                format!("{} 还清：{}", product.name, loan.enterprise_name),
            )
            .await?;
            set_state(&mut tx, state, actor, base_id, &loan, "repaid", None, note).await?;
        }
        "default" => {
            need("granted", "登记违约")?;
            let lost = amount()?;
            if lost > loan.granted_fen.unwrap_or(0) {
                return Err(AppError::field(
                    "amount_yuan",
                    "loan.over_granted",
                    "违约本金不能超过放款金额",
                ));
            }
            // The principal still owed moves out of the book; what was repaid before goes back to the bank.
            let repaid_before = loan.granted_fen.unwrap_or(0) - lost;
            move_money(
                &mut tx,
                state,
                actor,
                base_id,
                &format!("loan-default:{loan_id}"),
                (&outstanding, "贷款余额", AccountKind::Receivable, true),
                (
                    &codes::defaulted(&product.code),
                    &format!("{} 违约贷款", product.name),
                    AccountKind::Receivable,
                    false,
                ),
                lost,
                format!("{} 违约：{}", product.name, loan.enterprise_name),
            )
            .await?;
            if repaid_before > 0 {
                move_money(
                    &mut tx,
                    state,
                    actor,
                    base_id,
                    &format!("loan-partly-repaid:{loan_id}"),
                    (&outstanding, "贷款余额", AccountKind::Receivable, true),
                    (&bank_funds, "银行信贷资金", AccountKind::Funding, false),
                    repaid_before,
                    format!("{} 违约前已还本金：{}", product.name, loan.enterprise_name),
                )
                .await?;
            }
            set_state(
                &mut tx,
                state,
                actor,
                base_id,
                &loan,
                "defaulted",
                Some(("defaulted_fen", lost)),
                note,
            )
            .await?;
            // 代偿: the pool pays its share of the loss to the bank, never below its floor.
            let compensation = (lost as i128 * product.compensation_bp as i128 / 10_000) as i64;
            if compensation > 0 {
                move_money(
                    &mut tx,
                    state,
                    actor,
                    base_id,
                    &format!("loan-compensation:{loan_id}"),
                    (&codes::pool(&product.code), "风险池", AccountKind::RiskPool, true),
                    (
                        &codes::bank_payable(&loan.bank_id),
                        &format!("应付{}代偿款", product.bank_name),
                        AccountKind::Payable,
                        false,
                    ),
                    compensation,
                    format!(
                        "{} 风险池代偿 {}%：{}",
                        product.name,
                        product.compensation_bp / 100,
                        loan.enterprise_name
                    ),
                )
                .await?;
                sqlx::query("UPDATE loan_applications SET compensation_fen = $1 WHERE id = $2")
                    .bind(compensation)
                    .bind(loan_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        _ => return Err(AppError::NotFound),
    }
    let out = load_loan(&mut tx, state.db.backend(), base_id, loan_id).await?;
    if matches!(action, "grant" | "reject") {
        let (kind, title) = if action == "grant" {
            (
                "loan.granted",
                format!(
                    "{}已放款 {} 元",
                    product.name,
                    Fen::from_fen(out.granted_fen.unwrap_or(0)).to_yuan_string_grouped()
                ),
            )
        } else {
            ("loan.rejected", format!("{}申请未获批准", product.name))
        };
        tell(
            &mut tx,
            base_id,
            Recipient::Subject(&loan.enterprise_id),
            kind,
            title,
            out.note.clone(),
            "financing",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}
