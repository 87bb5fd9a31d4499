//! One application (申报): the draft and its form (with the cost item the
//! grant pays for, if any), submission with the policy engine's answer
//! ([`super::judgement`]), withdrawal, pre-review (受理/预审) and 补正 — plus
//! [`step`], the one way any use case moves a case: the state machine
//! decides, the row changes only from the state it was read in, the history
//! and the audit entry are written in the same transaction.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::Row;

use super::clock::{self, Clock, Stage};
use super::judgement;
use super::notices;
use super::programme::{self, FieldSpec, Programme};
use super::state::{transition, Event, IllegalTransition, State};
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// Who is asking: decides what they may see and do.
#[derive(Clone, Debug)]
pub enum Party {
    Enterprise(String),
    /// Base admin or steward
    Reviewer,
    Expert(String),
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Case {
    pub id: String,
    pub programme_id: String,
    pub programme_name: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub state: State,
    pub state_label: String,
    #[schema(value_type = Object)]
    pub form: Value,
    pub amount_requested_fen: i64,
    pub amount_approved_fen: Option<i64>,
    /// The policy engine's answer at submission: yes | no | unknown
    pub eligible: Option<String>,
    pub eligibility_explanation: Option<String>,
    pub eligible_amount_fen: Option<i64>,
    pub policy_hash: Option<String>,
    /// The running statutory clock that falls due first
    pub clock: Option<Clock>,
    /// Aggregate expert score ×100 (reviewers only)
    pub score_x100: Option<i64>,
    pub payout_transfer_id: Option<String>,
    /// 成本事项 the grant pays for (一费一补)
    pub cost_item_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<IllegalTransition> for AppError {
    fn from(e: IllegalTransition) -> Self {
        AppError::refused(IllegalTransition::CODE, e.to_string())
    }
}

/// The row a use case works on, read inside its transaction.
pub struct Row0 {
    pub id: String,
    pub programme_id: String,
    pub enterprise_id: String,
    pub state: State,
    pub amount_requested_fen: i64,
    pub amount_approved_fen: Option<i64>,
}

/// Reads a case of this base that `party` may act on; anything else is 404.
pub async fn load(tx: &mut Tx, base_id: &str, id: &str, party: &Party) -> Result<Row0, AppError> {
    let r = sqlx::query(
        "SELECT id, programme_id, enterprise_id, state, amount_requested_fen, amount_approved_fen FROM applications \
         WHERE base_id = $1 AND id = $2",
    )
    .bind(base_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = Row0 {
        id: r.get(0),
        programme_id: r.get(1),
        enterprise_id: r.get(2),
        state: State::parse(&r.get::<String, _>(3)).ok_or_else(|| anyhow::anyhow!("unknown state"))?,
        amount_requested_fen: r.get(4),
        amount_approved_fen: r.get(5),
    };
    match party {
        Party::Reviewer => {}
        Party::Enterprise(e) if *e == row.enterprise_id => {}
        Party::Expert(x) => {
            let drawn = sqlx::query("SELECT 1 FROM expert_assignments WHERE application_id = $1 AND expert_id = $2")
                .bind(id)
                .bind(x)
                .fetch_optional(&mut **tx)
                .await?;
            if drawn.is_none() {
                return Err(AppError::NotFound);
            }
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(row)
}

/// Moves a case by one event: state machine, guarded update, history, audit.
// Every argument is part of the one record a move leaves; bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn step(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    base_id: &str,
    case: &Row0,
    event: Event,
    reason: &str,
    extra: Value,
) -> Result<State, AppError> {
    let to = transition(case.state, event)?;
    let now = time::now_text();
    // Guarded by the state we read: a concurrent move of the same case loses here.
    let moved = sqlx::query("UPDATE applications SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
        .bind(to.as_str())
        .bind(&now)
        .bind(&case.id)
        .bind(case.state.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if moved != 1 {
        return Err(AppError::refused(
            "application.concurrent_change",
            "申报状态刚被他人修改，请刷新后重试",
        ));
    }
    sqlx::query(
        "INSERT INTO application_events (id, base_id, application_id, from_state, to_state, event, reason, actor, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(&case.id)
    .bind(case.state.as_str())
    .bind(to.as_str())
    .bind(event.as_str())
    .bind(reason)
    .bind(&actor.name)
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    let mut after = json!({ "state": to.as_str(), "event": event.as_str(), "reason": reason });
    if let (Some(a), Value::Object(x)) = (after.as_object_mut(), extra) {
        a.extend(x);
    }
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: &format!("application.{}", event.as_str()),
            entity: "application",
            entity_id: Some(&case.id),
            before: Some(json!({ "state": case.state.as_str() })),
            after: Some(after),
        },
    )
    .await?;
    Ok(to)
}

/// Validates the form against the programme's fields: required, integer, no unknown fields.
pub fn check_form(fields: &[FieldSpec], form: &Map<String, Value>) -> Result<(), AppError> {
    let mut e = FieldErrors::default();
    for (k, v) in form {
        match fields.iter().find(|f| &f.name == k) {
            None => e.push(
                &format!("form.{k}"),
                "application.form_unknown",
                format!("表单没有字段“{k}”"),
            ),
            Some(f) => {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => String::new(),
                    _ => {
                        e.push(
                            &format!("form.{k}"),
                            "application.form_type",
                            format!("“{}”应为文字或数字", f.label),
                        );
                        continue;
                    }
                };
                if text.chars().count() > 2000 {
                    e.push(
                        &format!("form.{k}"),
                        "text.too_long",
                        format!("{}不能超过2000个字", f.label),
                    );
                }
                if f.kind == "integer" && !text.is_empty() && text.parse::<i64>().is_err() {
                    e.push(
                        &format!("form.{k}"),
                        "application.form_integer",
                        format!("“{}”应为整数", f.label),
                    );
                }
            }
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        let empty = match form.get(&f.name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if empty {
            e.push(
                &format!("form.{}", f.name),
                "text.required",
                format!("请填写{}", f.label),
            );
        }
    }
    e.into_result()
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct DraftForm {
    /// Field name → value, as the programme's form defines
    #[schema(value_type = Object)]
    #[serde(default)]
    pub form: Map<String, Value>,
    /// 申请金额（元）
    pub amount_requested_yuan: String,
    /// 联合申报单位: enterprises of the base applying together with the applicant
    #[serde(default)]
    pub partner_ids: Vec<String>,
    /// 成本事项: the cost item of the applicant firm the grant pays for; its
    /// cap (一费一补) then holds at pay-out. Empty or absent: none.
    #[serde(default)]
    pub cost_item_id: Option<String>,
}

/// The cost item a form names, checked to be one of this base's and the
/// applicant's own (a grant may only pay for the applicant's own cost).
async fn cost_item_of(tx: &mut Tx, base_id: &str, applicant: &str, f: &DraftForm) -> Result<Option<String>, AppError> {
    let Some(id) = f.cost_item_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    match crate::financing::support::owner(tx, base_id, id).await? {
        None => Err(AppError::field(
            "cost_item_id",
            "application.cost_item_unknown",
            "本基地没有该成本事项",
        )),
        Some(owner) if owner != applicant => Err(AppError::field(
            "cost_item_id",
            "application.cost_item_not_own",
            "该成本事项不属于申报企业，只能选择本企业的成本事项",
        )),
        Some(_) => Ok(Some(id.to_string())),
    }
}

/// Records the joint applicants of a draft (replacing earlier ones); each
/// must be another enterprise of the base.
async fn set_partners(
    tx: &mut Tx,
    base_id: &str,
    application_id: &str,
    applicant: &str,
    partners: &[String],
) -> Result<(), AppError> {
    let mut e = FieldErrors::default();
    let mut seen = Vec::new();
    for (i, pid) in partners.iter().enumerate() {
        let found = sqlx::query("SELECT 1 FROM enterprises WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(pid)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() || pid == applicant || seen.contains(&pid) {
            e.push(
                &format!("partner_ids[{i}]"),
                "application.partner",
                "联合申报单位应为本基地的其他企业，且不重复",
            );
        }
        seen.push(pid);
    }
    e.into_result()?;
    sqlx::query("DELETE FROM application_partners WHERE application_id = $1")
        .bind(application_id)
        .execute(&mut **tx)
        .await?;
    for pid in partners {
        sqlx::query("INSERT INTO application_partners (application_id, base_id, enterprise_id) VALUES ($1, $2, $3)")
            .bind(application_id)
            .bind(base_id)
            .bind(pid)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn amount(s: &str) -> Result<i64, AppError> {
    let fen = chuangtong_domain::Fen::from_yuan_str(s)
        .map_err(|e| {
            AppError::field(
                "amount_requested_yuan",
                chuangtong_domain::Coded::code(&e),
                e.to_string(),
            )
        })?
        .fen();
    if fen <= 0 {
        return Err(AppError::field(
            "amount_requested_yuan",
            "application.amount",
            "申请金额应大于0",
        ));
    }
    Ok(fen)
}

fn ensure_open(p: &Programme) -> Result<(), AppError> {
    if p.open {
        Ok(())
    } else {
        Err(AppError::refused(
            "application.programme_closed",
            format!(
                "申报批次“{}”的申报时间为 {} 至 {}，当前不在申报期内",
                p.name, p.opens_on, p.closes_on
            ),
        ))
    }
}

/// Creates a draft for the enterprise (one live application per programme).
pub async fn create_draft(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    enterprise_id: &str,
    programme_id: &str,
    f: &DraftForm,
) -> Result<String, AppError> {
    let mut tx = state.db.begin().await?;
    let p = programme::get_tx(&mut tx, base_id, programme_id).await?;
    ensure_open(&p)?;
    let fen = amount(&f.amount_requested_yuan)?;
    check_form(&p.form_fields, &f.form)?;
    let live = sqlx::query(
        "SELECT id FROM applications WHERE programme_id = $1 AND enterprise_id = $2 AND state NOT IN ('withdrawn', 'rejected')",
    )
    .bind(programme_id)
    .bind(enterprise_id)
    .fetch_optional(&mut *tx)
    .await?;
    if live.is_some() {
        return Err(AppError::refused(
            "application.duplicate",
            "本企业在该批次已有申报，请继续办理原申报",
        ));
    }
    let cost_item = cost_item_of(&mut tx, base_id, enterprise_id, f).await?;
    let id = crate::new_id();
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO applications (id, base_id, programme_id, enterprise_id, state, form_json, amount_requested_fen, cost_item_id, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(programme_id)
    .bind(enterprise_id)
    .bind(Value::Object(f.form.clone()).to_string())
    .bind(fen)
    .bind(&cost_item)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    set_partners(&mut tx, base_id, &id, enterprise_id, &f.partner_ids).await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.draft_created",
            entity: "application",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "programme_id": programme_id, "enterprise_id": enterprise_id, "amount_requested_fen": fen,
                    "partner_ids": f.partner_ids, "cost_item_id": cost_item }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Edits the form of a draft or of a case returned for 补正.
pub async fn update_form(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    party: &Party,
    id: &str,
    f: &DraftForm,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let c = load(&mut tx, base_id, id, party).await?;
    if !matches!(c.state, State::Draft | State::ReturnedForAmendment) {
        return Err(AppError::refused(
            "application.not_editable",
            "只有草稿或退回补正的申报可以修改",
        ));
    }
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let fen = amount(&f.amount_requested_yuan)?;
    check_form(&p.form_fields, &f.form)?;
    let cost_item = cost_item_of(&mut tx, base_id, &c.enterprise_id, f).await?;
    sqlx::query(
        "UPDATE applications SET form_json = $1, amount_requested_fen = $2, cost_item_id = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(Value::Object(f.form.clone()).to_string())
    .bind(fen)
    .bind(&cost_item)
    .bind(time::now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    set_partners(&mut tx, base_id, id, &c.enterprise_id, &f.partner_ids).await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.form_updated",
            entity: "application",
            entity_id: Some(id),
            before: Some(json!({ "amount_requested_fen": c.amount_requested_fen })),
            after: Some(
                json!({ "amount_requested_fen": fen, "partner_ids": f.partner_ids, "cost_item_id": cost_item }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Submits a draft (or resubmits after 补正): the engine judges the firm on
/// today's facts and the answer is kept; a firm the engine says does not
/// qualify is told why and nothing changes. The pre-review clock starts.
pub async fn submit(state: &AppState, actor: &Actor, base_id: &str, party: &Party, id: &str) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let c = load(&mut tx, base_id, id, party).await?;
    let event = if c.state == State::ReturnedForAmendment {
        Event::Resubmit
    } else {
        Event::Submit
    };
    transition(c.state, event)?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let cal = crate::calendar::load(&state.db).await?;
    let today = time::today();
    if event == Event::Submit {
        ensure_open(&p)?;
    } else if clock::due_of(&mut tx, id, Stage::Amendment)
        .await?
        .is_some_and(|d| today > d)
    {
        return Err(AppError::refused(
            "application.amendment_overdue",
            "补正期限已过，不能再提交补正材料",
        ));
    }
    super::document::missing_required(&mut tx, &p.required_documents, id).await?;
    let j = judgement::judge_all(state, base_id, &p, &c.enterprise_id).await?;
    if j.eligible == "no" {
        return Err(AppError::refused("application.not_eligible", j.explanation));
    }
    judgement::record(&mut tx, base_id, id, &j).await?;
    let extra = json!({ "eligible": j.eligible, "policy_hash": j.policy_hash, "eligible_amount_fen": j.amount_fen });
    step(state, &mut tx, actor, base_id, &c, event, "", extra).await?;
    clock::close(&mut tx, id, Stage::Amendment, today, actor.user_id.as_deref()).await?;
    let due = clock::due(&cal, today, p.limits.pre_review)?;
    clock::open(&mut tx, base_id, id, Stage::PreReview, today, due).await?;
    tx.commit().await?;
    get(state, base_id, party, id).await
}

/// The applicant withdraws (from draft, submitted or returned).
pub async fn withdraw(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    party: &Party,
    id: &str,
) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let c = load(&mut tx, base_id, id, party).await?;
    step(state, &mut tx, actor, base_id, &c, Event::Withdraw, "", json!({})).await?;
    clock::close_all(&mut tx, id, time::today(), actor.user_id.as_deref()).await?;
    tx.commit().await?;
    get(state, base_id, party, id).await
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    /// Required when returning for 补正 or rejecting
    #[serde(default)]
    pub reason: String,
}

/// Pre-review decision: accept, return for 补正 (with reasons; the applicant's
/// deadline starts) or reject (with reasons).
pub async fn pre_review(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    event: Event,
    reason: &str,
) -> Result<Case, AppError> {
    let reason = reason.trim();
    if matches!(event, Event::ReturnForAmendment | Event::Reject) && reason.is_empty() {
        return Err(AppError::field("reason", "text.required", "请填写理由"));
    }
    if reason.chars().count() > 2000 {
        return Err(AppError::field("reason", "text.too_long", "理由不能超过2000个字"));
    }
    let mut tx = state.db.begin().await?;
    let c = load(&mut tx, base_id, id, &Party::Reviewer).await?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let today = time::today();
    step(state, &mut tx, actor, base_id, &c, event, reason, json!({})).await?;
    clock::close(&mut tx, id, Stage::PreReview, today, actor.user_id.as_deref()).await?;
    match event {
        Event::ReturnForAmendment => {
            let cal = crate::calendar::load(&state.db).await?;
            let due = clock::due(&cal, today, p.limits.amendment)?;
            clock::open(&mut tx, base_id, id, Stage::Amendment, today, due).await?;
            notices::applicant(
                &mut tx,
                base_id,
                &c.enterprise_id,
                "application.returned",
                id,
                "申报被退回补正",
                format!("补正理由：{reason}\n请在 {due} 前补正并重新提交。"),
            )
            .await?;
        }
        Event::Reject => {
            clock::close_all(&mut tx, id, today, actor.user_id.as_deref()).await?;
            notices::applicant(
                &mut tx,
                base_id,
                &c.enterprise_id,
                "application.rejected",
                id,
                "申报未通过",
                format!("理由：{reason}"),
            )
            .await?;
        }
        _ => {}
    }
    tx.commit().await?;
    get(state, base_id, &Party::Reviewer, id).await
}

const CASE_COLUMNS: &str =
    "a.id, a.programme_id, g.name, a.enterprise_id, e.name, a.state, a.form_json, a.amount_requested_fen, \
    a.amount_approved_fen, a.eligible, a.eligibility_explanation, a.eligible_amount_fen, a.policy_hash, a.score_x100, \
    a.payout_transfer_id, a.created_at, a.updated_at, a.cost_item_id";
const CASE_FROM: &str =
    "FROM applications a JOIN programmes g ON g.id = a.programme_id JOIN enterprises e ON e.id = a.enterprise_id";

fn case_from_row(r: &sqlx::any::AnyRow, reviewer: bool) -> Case {
    let st = State::parse(&r.get::<String, _>(5)).unwrap_or(State::Draft);
    Case {
        id: r.get(0),
        programme_id: r.get(1),
        programme_name: r.get(2),
        enterprise_id: r.get(3),
        enterprise_name: r.get(4),
        state: st,
        state_label: st.label().into(),
        form: serde_json::from_str(&r.get::<String, _>(6)).unwrap_or_default(),
        amount_requested_fen: r.get(7),
        amount_approved_fen: r.get(8),
        eligible: r.get(9),
        eligibility_explanation: r.get(10),
        eligible_amount_fen: r.get(11),
        policy_hash: r.get(12),
        clock: None,
        score_x100: if reviewer { r.get(13) } else { None },
        payout_transfer_id: r.get(14),
        created_at: r.get(15),
        updated_at: r.get(16),
        cost_item_id: r.get(17),
    }
}

async fn with_clocks(state: &AppState, mut cases: Vec<Case>) -> Result<Vec<Case>, AppError> {
    let cal = crate::calendar::load(&state.db).await?;
    let today = time::today();
    for c in &mut cases {
        c.clock = clock::current(state.db.pool(), &cal, &c.id, today).await?;
    }
    Ok(cases)
}

/// One case as `party` may see it (404 for anyone else).
pub async fn get(state: &AppState, base_id: &str, party: &Party, id: &str) -> Result<Case, AppError> {
    let r = sqlx::query(&format!(
        "SELECT {CASE_COLUMNS} {CASE_FROM} WHERE a.base_id = $1 AND a.id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    let c = case_from_row(&r, matches!(party, Party::Reviewer));
    match party {
        Party::Reviewer => {}
        Party::Enterprise(e) if *e == c.enterprise_id => {}
        Party::Expert(x) => {
            let drawn = sqlx::query("SELECT 1 FROM expert_assignments WHERE application_id = $1 AND expert_id = $2")
                .bind(id)
                .bind(x)
                .fetch_optional(state.db.pool())
                .await?;
            if drawn.is_none() {
                return Err(AppError::NotFound);
            }
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(with_clocks(state, vec![c]).await?.remove(0))
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    pub programme_id: Option<String>,
    pub state: Option<String>,
}

/// Cases `party` may see: its own (enterprise), those drawn for it (expert), all (reviewer).
pub async fn list(state: &AppState, base_id: &str, party: &Party, q: &ListQuery) -> Result<Vec<Case>, AppError> {
    let (filter, subject) = match party {
        Party::Reviewer => ("", None),
        Party::Enterprise(e) => ("AND a.enterprise_id = $4", Some(e.clone())),
        Party::Expert(x) => (
            "AND a.id IN (SELECT application_id FROM expert_assignments WHERE expert_id = $4)",
            Some(x.clone()),
        ),
    };
    let sql = format!(
        "SELECT {CASE_COLUMNS} {CASE_FROM} WHERE a.base_id = $1 AND (CAST($2 AS TEXT) IS NULL OR a.programme_id = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR a.state = $3) {filter} ORDER BY a.created_at"
    );
    let mut query = sqlx::query(&sql)
        .bind(base_id)
        .bind(q.programme_id.clone())
        .bind(q.state.clone());
    if let Some(s) = subject {
        query = query.bind(s);
    }
    let rows = query.fetch_all(state.db.pool()).await?;
    let cases = rows
        .iter()
        .map(|r| case_from_row(r, matches!(party, Party::Reviewer)))
        .collect();
    with_clocks(state, cases).await
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueEntry {
    #[serde(flatten)]
    pub case: Case,
    /// The organisation unit the enterprise belongs to (who handles it first)
    pub responsible_unit: Option<String>,
    /// When overdue: the next unit up the organisation tree, which now owns the case
    pub escalated_to: Option<String>,
}

/// 预审 queue: submitted and resubmitted cases, the one falling due first on
/// top; an overdue case is shown as escalated to the next unit up the tree.
pub async fn queue(state: &AppState, base_id: &str) -> Result<Vec<QueueEntry>, AppError> {
    let mut all = list(state, base_id, &Party::Reviewer, &ListQuery::default()).await?;
    all.retain(|c| matches!(c.state, State::Submitted | State::Resubmitted));
    all.sort_by(|a, b| {
        let due = |c: &Case| c.clock.as_ref().map(|k| k.due_on.clone()).unwrap_or_default();
        due(a).cmp(&due(b))
    });
    let mut out = Vec::new();
    for c in all {
        let units = sqlx::query(
            "SELECT u.name, p.name FROM enterprises e JOIN org_units u ON u.id = e.org_unit_id \
             LEFT JOIN org_units p ON p.id = u.parent_id WHERE e.id = $1",
        )
        .bind(&c.enterprise_id)
        .fetch_optional(state.db.pool())
        .await?;
        let (unit, parent): (Option<String>, Option<String>) = match units {
            Some(r) => (r.get(0), r.get(1)),
            None => (None, None),
        };
        let overdue = c.clock.as_ref().is_some_and(|k| k.overdue);
        out.push(QueueEntry {
            escalated_to: overdue.then(|| parent.unwrap_or_else(|| "基地管理员".into())),
            responsible_unit: unit,
            case: c,
        });
    }
    Ok(out)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub from_state: String,
    pub to_state: String,
    pub event: String,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StageRecord {
    pub stage: String,
    pub stage_label: String,
    pub started_on: String,
    pub due_on: String,
    pub ended_on: Option<String>,
    pub on_time: Option<bool>,
}

/// The case's history and every stage clock, for the applicant and reviewers.
pub async fn history(state: &AppState, id: &str) -> Result<(Vec<HistoryEntry>, Vec<StageRecord>), AppError> {
    let events = sqlx::query(
        "SELECT from_state, to_state, event, reason, actor, at FROM application_events WHERE application_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| HistoryEntry {
        from_state: r.get(0),
        to_state: r.get(1),
        event: r.get(2),
        reason: r.get(3),
        actor: r.get(4),
        at: r.get(5),
    })
    .collect();
    let stages = sqlx::query(
        "SELECT stage, started_on, due_on, ended_on, on_time FROM application_stages WHERE application_id = $1 ORDER BY started_on, id",
    )
    .bind(id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| {
        let stage: String = r.get(0);
        StageRecord {
            stage_label: Stage::parse(&stage).map(Stage::label).unwrap_or("").into(),
            stage,
            started_on: r.get(1),
            due_on: r.get(2),
            ended_on: r.get(3),
            on_time: r.get::<Option<i64>, _>(4).map(|v| v == 1),
        }
    })
    .collect();
    Ok((events, stages))
}

/// Today's date, parsed back from text; kept here so tests and services agree.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OpenProgramme {
    pub programme: Programme,
    /// The engine's answer today: yes | no | unknown
    pub eligible: String,
    /// Which conditions held, which failed, which data is missing
    pub explanation: String,
    pub amount_fen: Option<i64>,
}

/// Programmes open today that the enterprise may qualify for (not those the
/// engine says it does not), with the engine's reasons.
pub async fn open_for(state: &AppState, base_id: &str, enterprise_id: &str) -> Result<Vec<OpenProgramme>, AppError> {
    let mut out = Vec::new();
    for p in programme::list(state, base_id).await?.into_iter().filter(|p| p.open) {
        let j = match judgement::judge_all(state, base_id, &p, enterprise_id).await {
            Ok(j) => j,
            // A policy no longer in force today closes its programme in practice.
            Err(AppError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        };
        if j.eligible != "no" {
            out.push(OpenProgramme {
                programme: p,
                eligible: j.eligible,
                explanation: j.explanation,
                amount_fen: j.amount_fen,
            });
        }
    }
    Ok(out)
}
