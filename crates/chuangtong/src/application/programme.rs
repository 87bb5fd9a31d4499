//! Programmes (申报批次): a base admin's call for applications under one or
//! more published policies. The first (主政策) gives the amount a firm may
//! get; a firm must not fail any of them. Creating a programme funds its
//! budget account in the ledger, like a voucher batch, so pay-outs can never
//! exceed it. It also lists the documents (申请要件) an application needs.

use chrono::NaiveDate;
use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::accounts;
use super::document::{self, DocSpec};
use crate::audit::{self, Actor, Entry};
use crate::ledger::{self, AccountKind, TransferSpec};
use crate::registry::required_text;
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// One field of the application form.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldSpec {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// text | integer
    #[serde(default = "text_kind")]
    pub kind: String,
}

fn text_kind() -> String {
    "text".into()
}

/// One criterion of the expert rubric; weights of a rubric sum to 100.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Criterion {
    pub key: String,
    pub label: String,
    pub weight: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewMode {
    /// 核准制: checked against the rules and approved
    Approval,
    /// 评审制: scored by drawn experts
    Panel,
}

impl ReviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Approval => "approval",
            ReviewMode::Panel => "panel",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ReviewMode::Approval => "核准制",
            ReviewMode::Panel => "评审制",
        }
    }
    fn parse(s: &str) -> ReviewMode {
        if s == "panel" {
            ReviewMode::Panel
        } else {
            ReviewMode::Approval
        }
    }
}

/// Time limits of the stages, in working days.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    /// 受理/预审
    pub pre_review: i64,
    /// 补正 (the applicant's deadline)
    pub amendment: i64,
    /// 专家评审
    pub expert_review: i64,
    /// 公示期
    pub publicity: i64,
    /// 审批, counted from the end of 公示期
    pub approval: i64,
    /// 兑现
    pub payout: i64,
}

/// A policy a programme is linked to.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyRef {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Programme {
    pub id: String,
    pub code: String,
    pub name: String,
    pub policy_id: String,
    pub policy_title: String,
    /// Every linked policy, the 主政策 first
    pub policies: Vec<PolicyRef>,
    /// Documents every application must carry before submission
    pub required_documents: Vec<DocSpec>,
    pub review_mode: ReviewMode,
    pub review_mode_label: String,
    pub opens_on: String,
    pub closes_on: String,
    pub form_fields: Vec<FieldSpec>,
    pub rubric: Vec<Criterion>,
    pub expert_field: String,
    pub experts_per_application: i64,
    pub conflict_months: i64,
    pub limits: Limits,
    pub budget_fen: i64,
    /// What is left in the budget account, from the ledger
    pub budget_available_fen: i64,
    /// Open for applications today
    pub open: bool,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct ProgrammeForm {
    pub code: String,
    pub name: String,
    /// 主政策: its benefit gives the amount
    pub policy_id: String,
    /// Further policies whose conditions a firm must also meet
    #[serde(default)]
    pub other_policy_ids: Vec<String>,
    /// 申请要件: documents every application must carry
    #[serde(default)]
    pub required_documents: Vec<DocSpec>,
    /// approval (核准制) | panel (评审制)
    pub review_mode: String,
    /// YYYY-MM-DD
    pub opens_on: String,
    pub closes_on: String,
    #[serde(default)]
    pub form_fields: Vec<FieldSpec>,
    #[serde(default)]
    pub rubric: Vec<Criterion>,
    #[serde(default)]
    pub expert_field: String,
    #[serde(default)]
    pub experts_per_application: i64,
    #[serde(default = "default_conflict_months")]
    pub conflict_months: i64,
    pub limits: Limits,
    /// 预算（元）
    pub budget_yuan: String,
}

fn default_conflict_months() -> i64 {
    12
}

fn date(e: &mut FieldErrors, field: &str, label: &str, s: &str) -> Option<NaiveDate> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    if d.is_none() {
        e.push(field, "date.format", format!("{label}格式应为YYYY-MM-DD"));
    }
    d
}

fn validate(f: &ProgrammeForm) -> Result<(String, String, Fen, ReviewMode), FieldErrors> {
    let mut e = FieldErrors::default();
    let code = required_text(&mut e, "code", "批次编号", &f.code, 40);
    if code
        .as_ref()
        .is_some_and(|c| !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'))
    {
        e.push("code", "programme.code", "批次编号只能包含字母、数字和连字符");
    }
    let name = required_text(&mut e, "name", "批次名称", &f.name, 100);
    let mode = match f.review_mode.as_str() {
        "approval" => Some(ReviewMode::Approval),
        "panel" => Some(ReviewMode::Panel),
        _ => {
            e.push("review_mode", "programme.review_mode", "评审方式应为核准制或评审制");
            None
        }
    };
    let (o, c) = (
        date(&mut e, "opens_on", "开始日期", &f.opens_on),
        date(&mut e, "closes_on", "截止日期", &f.closes_on),
    );
    if let (Some(o), Some(c)) = (o, c) {
        if c < o {
            e.push("closes_on", "programme.window", "截止日期不能早于开始日期");
        }
    }
    let l = &f.limits;
    for (field, v) in [
        ("limits.pre_review", l.pre_review),
        ("limits.amendment", l.amendment),
        ("limits.expert_review", l.expert_review),
        ("limits.publicity", l.publicity),
        ("limits.approval", l.approval),
        ("limits.payout", l.payout),
    ] {
        if !(0..=365).contains(&v) {
            e.push(field, "programme.limit", "时限应为0到365个工作日");
        }
    }
    let budget = e.take("budget_yuan", Fen::from_yuan_str(&f.budget_yuan));
    if budget.is_some_and(|b| b.fen() <= 0) {
        e.push("budget_yuan", "programme.budget", "预算应大于0");
    }
    for (i, spec) in f.form_fields.iter().enumerate() {
        if spec.name.trim().is_empty()
            || spec.label.trim().is_empty()
            || !["text", "integer"].contains(&spec.kind.as_str())
        {
            e.push(
                &format!("form_fields[{i}]"),
                "programme.form_field",
                "表单字段须有名称、标题，类型为 text 或 integer",
            );
        }
    }
    if mode == Some(ReviewMode::Panel) {
        if f.rubric.is_empty()
            || f.rubric.iter().map(|c| c.weight).sum::<i64>() != 100
            || f.rubric.iter().any(|c| c.weight <= 0)
        {
            e.push(
                "rubric",
                "programme.rubric",
                "评审制须设置评分细则，各项权重为正且合计100",
            );
        }
        if !(1..=25).contains(&f.experts_per_application) {
            e.push(
                "experts_per_application",
                "programme.experts",
                "每件申报的评审专家人数应为1到25",
            );
        }
    }
    let mut keys = std::collections::BTreeSet::new();
    for (i, d) in f.required_documents.iter().enumerate() {
        let key = d.key.trim();
        let ok_key = !key.is_empty()
            && key.len() <= 40
            && key != document::OTHER
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_key || d.label.trim().is_empty() || d.label.chars().count() > 60 || !keys.insert(key.to_string()) {
            e.push(
                &format!("required_documents[{i}]"),
                "programme.document",
                "申请要件须有不重复的代码（字母、数字、下划线）和名称",
            );
        }
    }
    let mut seen = vec![f.policy_id.as_str()];
    for (i, p) in f.other_policy_ids.iter().enumerate() {
        if seen.contains(&p.as_str()) {
            e.push(
                &format!("other_policy_ids[{i}]"),
                "programme.policy_repeated",
                "同一政策不能重复关联",
            );
        }
        seen.push(p);
    }
    if !(0..=120).contains(&f.conflict_months) {
        e.push("conflict_months", "programme.conflict_months", "回避期应为0到120个月");
    }
    if !e.is_empty() {
        return Err(e);
    }
    Ok((code.unwrap(), name.unwrap(), budget.unwrap(), mode.unwrap()))
}

/// Creates a programme with its budget account and the funding transfer — one transaction.
pub async fn create(state: &AppState, actor: &Actor, base_id: &str, f: &ProgrammeForm) -> Result<String, AppError> {
    let (code, name, budget, mode) = validate(f).map_err(|e| AppError::Validation(e.0))?;
    let linked: Vec<(String, &String)> = std::iter::once(("policy_id".to_string(), &f.policy_id))
        .chain(
            f.other_policy_ids
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("other_policy_ids[{i}]"), p)),
        )
        .collect();
    let mut e = FieldErrors::default();
    for (field, policy_id) in &linked {
        let policy = sqlx::query("SELECT state, no_application FROM policies WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(*policy_id)
            .fetch_optional(state.db.pool())
            .await?;
        match policy {
            None => e.push(field, "programme.policy", "政策不存在"),
            Some(r) if r.get::<String, _>(0) != "published" => {
                e.push(field, "programme.policy", "只能为已发布的政策设置申报批次")
            }
            Some(r) if r.get::<i64, _>(1) == 1 => {
                e.push(field, "programme.policy", "免申即享政策无需申报，不能设置申报批次")
            }
            _ => {}
        }
    }
    e.into_result()?;
    let mut tx = state.db.begin().await?;
    let taken = sqlx::query("SELECT 1 FROM programmes WHERE base_id = $1 AND code = $2")
        .bind(base_id)
        .bind(&code)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(AppError::field(
            "code",
            "programme.code_taken",
            format!("批次编号“{code}”已存在"),
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
    let budget_account = ledger::open_account(
        &mut tx,
        base_id,
        &accounts::budget(&code),
        &format!("{name} 预算"),
        AccountKind::Budget,
        true,
    )
    .await?;
    let id = crate::new_id();
    let l = &f.limits;
    sqlx::query(
        "INSERT INTO programmes (id, base_id, code, name, policy_id, review_mode, opens_on, closes_on, form_fields, rubric, \
         expert_field, experts_per_application, conflict_months, days_pre_review, days_amendment, days_expert_review, \
         days_publicity, days_approval, days_payout, budget_fen, budget_account_id, created_at, required_documents) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&code)
    .bind(&name)
    .bind(&f.policy_id)
    .bind(mode.as_str())
    .bind(f.opens_on.trim())
    .bind(f.closes_on.trim())
    .bind(serde_json::to_string(&f.form_fields).map_err(anyhow::Error::from)?)
    .bind(serde_json::to_string(&f.rubric).map_err(anyhow::Error::from)?)
    .bind(f.expert_field.trim())
    .bind(f.experts_per_application)
    .bind(f.conflict_months)
    .bind(l.pre_review)
    .bind(l.amendment)
    .bind(l.expert_review)
    .bind(l.publicity)
    .bind(l.approval)
    .bind(l.payout)
    .bind(budget.fen())
    .bind(&budget_account)
    .bind(time::now_text())
    .bind(serde_json::to_string(&f.required_documents).map_err(anyhow::Error::from)?)
    .execute(&mut *tx)
    .await?;
    for (position, (_, policy_id)) in linked.iter().enumerate() {
        sqlx::query(
            "INSERT INTO programme_policies (programme_id, base_id, policy_id, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(base_id)
        .bind(*policy_id)
        .bind(position as i64)
        .execute(&mut *tx)
        .await?;
    }
    ledger::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("programme-fund:{id}"),
        &[TransferSpec {
            debit_account_id: funding,
            credit_account_id: budget_account,
            amount_fen: budget.fen(),
            pending_timeout_secs: None,
            memo: format!("申报批次 {code} 预算"),
        }],
    )
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.programme_created",
            entity: "programme",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "code": code, "name": name, "policy_id": f.policy_id, "review_mode": mode.as_str(),
                "opens_on": f.opens_on, "closes_on": f.closes_on, "limits": f.limits, "budget_fen": budget.fen(),
                "experts_per_application": f.experts_per_application, "expert_field": f.expert_field,
                "other_policy_ids": f.other_policy_ids, "required_documents": f.required_documents }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

const COLUMNS: &str = "g.id, g.code, g.name, g.policy_id, p.title, g.review_mode, g.opens_on, g.closes_on, g.form_fields, g.rubric, \
    g.expert_field, g.experts_per_application, g.conflict_months, g.days_pre_review, g.days_amendment, g.days_expert_review, \
    g.days_publicity, g.days_approval, g.days_payout, g.budget_fen, a.credits_posted - a.debits_posted - a.debits_pending, \
    g.required_documents";
const FROM: &str =
    "FROM programmes g JOIN policies p ON p.id = g.policy_id JOIN ledger_accounts a ON a.id = g.budget_account_id";

fn from_row(r: &sqlx::any::AnyRow) -> Programme {
    let today = time::today().to_string();
    let (opens_on, closes_on): (String, String) = (r.get(6), r.get(7));
    let mode = ReviewMode::parse(&r.get::<String, _>(5));
    Programme {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        policy_id: r.get(3),
        policies: vec![PolicyRef {
            id: r.get(3),
            title: r.get(4),
        }],
        required_documents: serde_json::from_str(&r.get::<String, _>(21)).unwrap_or_default(),
        policy_title: r.get(4),
        review_mode: mode,
        review_mode_label: mode.label().into(),
        open: opens_on <= today && today <= closes_on,
        opens_on,
        closes_on,
        form_fields: serde_json::from_str(&r.get::<String, _>(8)).unwrap_or_default(),
        rubric: serde_json::from_str(&r.get::<String, _>(9)).unwrap_or_default(),
        expert_field: r.get(10),
        experts_per_application: r.get(11),
        conflict_months: r.get(12),
        limits: Limits {
            pre_review: r.get(13),
            amendment: r.get(14),
            expert_review: r.get(15),
            publicity: r.get(16),
            approval: r.get(17),
            payout: r.get(18),
        },
        budget_fen: r.get(19),
        budget_available_fen: r.get(20),
    }
}

pub async fn list(state: &AppState, base_id: &str) -> Result<Vec<Programme>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE g.base_id = $1 ORDER BY g.created_at DESC"
    ))
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    let links = sqlx::query(LINKS)
        .bind(base_id)
        .bind(Option::<String>::None)
        .fetch_all(state.db.pool())
        .await?;
    let mut out: Vec<Programme> = rows.iter().map(from_row).collect();
    attach(&mut out, &links);
    Ok(out)
}

/// Every linked policy of the base's programmes (or of one), in order.
const LINKS: &str =
    "SELECT l.programme_id, l.policy_id, p.title FROM programme_policies l JOIN policies p ON p.id = l.policy_id \
    WHERE l.base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR l.programme_id = $2) ORDER BY l.programme_id, l.position";

/// Programmes created before multi-policy links keep their one policy.
fn attach(programmes: &mut [Programme], links: &[sqlx::any::AnyRow]) {
    for p in programmes {
        let mine: Vec<PolicyRef> = links
            .iter()
            .filter(|r| r.get::<String, _>(0) == p.id)
            .map(|r| PolicyRef {
                id: r.get(1),
                title: r.get(2),
            })
            .collect();
        if !mine.is_empty() {
            p.policies = mine;
        }
    }
}

pub async fn get(state: &AppState, base_id: &str, id: &str) -> Result<Programme, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE g.base_id = $1 AND g.id = $2"))
        .bind(base_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    let links = sqlx::query(LINKS)
        .bind(base_id)
        .bind(id)
        .fetch_all(state.db.pool())
        .await?;
    let mut p = [from_row(&row)];
    attach(&mut p, &links);
    let [p] = p;
    Ok(p)
}

/// The same, inside a use case's transaction.
pub async fn get_tx(tx: &mut Tx, base_id: &str, id: &str) -> Result<Programme, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE g.base_id = $1 AND g.id = $2"))
        .bind(base_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let links = sqlx::query(LINKS).bind(base_id).bind(id).fetch_all(&mut **tx).await?;
    let mut p = [from_row(&row)];
    attach(&mut p, &links);
    let [p] = p;
    Ok(p)
}
