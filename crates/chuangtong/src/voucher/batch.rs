//! Voucher batches (券批次).

use chrono::NaiveDate;
use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::accounts;
use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::registry::required_text;
use crate::storage::time;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Batch {
    pub id: String,
    pub code: String,
    pub name: String,
    pub total_fen: i64,
    pub per_firm_cap_fen: i64,
    /// The voucher pays at most this share of an order, in basis points
    pub copay_max_bp: i64,
    pub categories: Vec<String>,
    pub claim_opens_at: String,
    pub claim_closes_at: String,
    pub valid_until: String,
    /// Still claimable, from the ledger
    pub remaining_fen: i64,
    pub claims: i64,
    /// first_come (先到先得) or lottery (摇号)
    pub claim_mode: String,
    /// Lottery batches: SM3 of the draw seed, published from issue on
    pub lottery_seed_sm3: Option<String>,
    /// Who may claim: a policy of the library, judged at claim time
    pub eligibility_policy_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct BatchForm {
    pub code: String,
    pub name: String,
    /// 总额（元）
    pub total_yuan: String,
    /// 每家企业上限（元）
    pub per_firm_cap_yuan: String,
    /// 券最多支付订单金额的比例，1–100（%）
    pub copay_max_percent: String,
    pub categories: Vec<String>,
    /// RFC 3339 instants, e.g. 2026-12-01T09:00:00+08:00
    pub claim_opens_at: String,
    pub claim_closes_at: String,
    /// YYYY-MM-DD
    pub valid_until: String,
    /// first_come (先到先得, the default) or lottery (摇号: firms register
    /// interest in the window, a committed seed draws the order after it)
    #[serde(default)]
    pub claim_mode: String,
    /// 申领条件: a policy of the base's library; only firms that qualify under
    /// its version in force may claim (empty: every firm of the base)
    #[serde(default)]
    pub eligibility_policy_id: Option<String>,
}

pub struct NewBatch {
    pub code: String,
    pub name: String,
    pub total: Fen,
    pub per_firm_cap: Fen,
    pub copay_max_bp: i64,
    pub categories: Vec<String>,
    pub opens: String,
    pub closes: String,
    pub valid_until: NaiveDate,
    pub lottery: bool,
    pub eligibility_policy_id: Option<String>,
}

impl TryFrom<&BatchForm> for NewBatch {
    type Error = FieldErrors;

    fn try_from(f: &BatchForm) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let code = required_text(&mut e, "code", "批次编号", &f.code, 40);
        if let Some(c) = &code {
            if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
                e.push("code", "voucher.code", "批次编号只能包含字母、数字和连字符");
            }
        }
        let name = required_text(&mut e, "name", "批次名称", &f.name, 100);
        let total = e.take("total_yuan", Fen::from_yuan_str(&f.total_yuan));
        let cap = e.take("per_firm_cap_yuan", Fen::from_yuan_str(&f.per_firm_cap_yuan));
        if let (Some(t), Some(c)) = (total, cap) {
            if t.fen() <= 0 {
                e.push("total_yuan", "voucher.total", "总额应大于0");
            }
            if c.fen() <= 0 || c.fen() > t.fen() {
                e.push("per_firm_cap_yuan", "voucher.cap", "每家企业上限应大于0且不超过总额");
            }
        }
        let copay = match f.copay_max_percent.trim().parse::<i64>() {
            Ok(p) if (1..=100).contains(&p) => Some(p * 100),
            _ => {
                e.push(
                    "copay_max_percent",
                    "voucher.copay",
                    "券支付比例应为1到100之间的整数（%）",
                );
                None
            }
        };
        if f.categories.is_empty() {
            e.push("categories", "voucher.categories", "请至少选择一个服务类别");
        }
        for c in &f.categories {
            if !super::is_category(c) {
                e.push("categories", "voucher.category_unknown", format!("未知的服务类别“{c}”"));
            }
        }
        let opens = time::parse_text(f.claim_opens_at.trim());
        let closes = time::parse_text(f.claim_closes_at.trim());
        if opens.is_none() {
            e.push(
                "claim_opens_at",
                "date.format",
                "申领开始时间格式应为 2026-12-01T09:00:00+08:00",
            );
        }
        if closes.is_none() {
            e.push(
                "claim_closes_at",
                "date.format",
                "申领截止时间格式应为 2026-12-01T17:00:00+08:00",
            );
        }
        if let (Some(o), Some(c)) = (opens, closes) {
            if c <= o {
                e.push("claim_closes_at", "voucher.window", "申领截止时间应晚于开始时间");
            }
        }
        let valid_until = match NaiveDate::parse_from_str(f.valid_until.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                e.push("valid_until", "date.format", "有效期格式应为YYYY-MM-DD");
                None
            }
        };
        let lottery = match f.claim_mode.trim() {
            "" | "first_come" => false,
            "lottery" => true,
            _ => {
                e.push(
                    "claim_mode",
                    "voucher.claim_mode",
                    "申领方式应为先到先得（first_come）或摇号（lottery）",
                );
                false
            }
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(NewBatch {
            lottery,
            eligibility_policy_id: f
                .eligibility_policy_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            code: code.unwrap(),
            name: name.unwrap(),
            total: total.unwrap(),
            per_firm_cap: cap.unwrap(),
            copay_max_bp: copay.unwrap(),
            categories: f.categories.clone(),
            opens: time::to_text(opens.unwrap()),
            closes: time::to_text(closes.unwrap()),
            valid_until: valid_until.unwrap(),
        })
    }
}

/// Issues a batch: its row, its budget account, and the funding transfer —
/// one transaction.
pub async fn issue(state: &AppState, actor: &Actor, base_id: &str, form: &BatchForm) -> Result<String, AppError> {
    let b = NewBatch::try_from(form).map_err(|e| AppError::Validation(e.0))?;
    if let Some(policy) = &b.eligibility_policy_id {
        super::eligibility::check_policy(state, base_id, policy).await?;
    }
    let mut tx = state.db.begin().await?;
    let exists = sqlx::query("SELECT 1 FROM voucher_batches WHERE base_id = $1 AND code = $2")
        .bind(base_id)
        .bind(&b.code)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(AppError::field(
            "code",
            "voucher.code_taken",
            format!("批次编号“{}”已存在", b.code),
        ));
    }
    let funding = ledger::open_account(
        &mut tx,
        base_id,
        accounts::FUNDING,
        "财政资金",
        AccountKind::Funding,
        false,
    )
    .await?;
    let budget = ledger::open_account(
        &mut tx,
        base_id,
        &accounts::budget(&b.code),
        &format!("{} 预算", b.name),
        AccountKind::Budget,
        true,
    )
    .await?;
    let id = crate::new_id();
    // A lottery batch commits to its seed now: the digest is public from
    // issue on, the seed only after the draw.
    let seed = b.lottery.then(super::lottery::Seed::generate);
    sqlx::query(
        "INSERT INTO voucher_batches (id, base_id, code, name, total_fen, per_firm_cap_fen, copay_max_bp, categories, \
         claim_opens_at, claim_closes_at, valid_until, budget_account_id, created_at, claim_mode, lottery_seed, \
         lottery_seed_sm3, eligibility_policy_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&b.code)
    .bind(&b.name)
    .bind(b.total.fen())
    .bind(b.per_firm_cap.fen())
    .bind(b.copay_max_bp)
    .bind(b.categories.join(","))
    .bind(&b.opens)
    .bind(&b.closes)
    .bind(b.valid_until.to_string())
    .bind(&budget)
    .bind(time::now_text())
    .bind(if b.lottery { "lottery" } else { "first_come" })
    .bind(seed.as_ref().map(|s| s.seed.clone()))
    .bind(seed.as_ref().map(|s| s.commitment.clone()))
    .bind(&b.eligibility_policy_id)
    .execute(&mut *tx)
    .await?;
    ledger::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("voucher-batch-fund:{id}"),
        &[TransferSpec {
            debit_account_id: funding,
            credit_account_id: budget,
            amount_fen: b.total.fen(),
            pending_timeout_secs: None,
            memo: format!("创新券批次 {} 资金", b.code),
        }],
    )
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "voucher.batch_issued",
            entity: "voucher_batch",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "code": b.code, "name": b.name, "total_fen": b.total.fen(),
                "per_firm_cap_fen": b.per_firm_cap.fen(), "copay_max_bp": b.copay_max_bp,
                "categories": b.categories, "claim_opens_at": b.opens, "claim_closes_at": b.closes,
                "valid_until": b.valid_until.to_string(),
                "claim_mode": if b.lottery { "lottery" } else { "first_come" },
                "lottery_seed_sm3": seed.as_ref().map(|s| s.commitment.clone()),
                "eligibility_policy_id": b.eligibility_policy_id })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

const COLUMNS: &str = "b.id, b.code, b.name, b.total_fen, b.per_firm_cap_fen, b.copay_max_bp, b.categories, \
    b.claim_opens_at, b.claim_closes_at, b.valid_until, \
    a.credits_posted - a.debits_posted - a.debits_pending, \
    (SELECT COUNT(*) FROM voucher_claims c WHERE c.batch_id = b.id), b.claim_mode, b.lottery_seed_sm3, b.eligibility_policy_id";

fn from_row(r: &sqlx::any::AnyRow) -> Batch {
    Batch {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        total_fen: r.get(3),
        per_firm_cap_fen: r.get(4),
        copay_max_bp: r.get(5),
        categories: r.get::<String, _>(6).split(',').map(str::to_string).collect(),
        claim_opens_at: r.get(7),
        claim_closes_at: r.get(8),
        valid_until: r.get(9),
        remaining_fen: r.get(10),
        claims: r.get(11),
        claim_mode: r.get(12),
        lottery_seed_sm3: r.get(13),
        eligibility_policy_id: r.get(14),
    }
}

pub async fn list(state: &AppState, base_id: &str) -> Result<Vec<Batch>, AppError> {
    // The check on access: expired batches return their unused wallets first.
    super::expiry::sweep_due(state, base_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM voucher_batches b JOIN ledger_accounts a ON a.id = b.budget_account_id \
         WHERE b.base_id = $1 ORDER BY b.created_at DESC"
    ))
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn get(state: &AppState, base_id: &str, id: &str) -> Result<Batch, AppError> {
    super::expiry::sweep_due(state, base_id).await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM voucher_batches b JOIN ledger_accounts a ON a.id = b.budget_account_id \
         WHERE b.base_id = $1 AND b.id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(from_row(&row))
}
