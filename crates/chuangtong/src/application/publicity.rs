//! 公示 → 审批 → 兑现 → 绩效评价. Results are published for the programme's
//! 公示期; any member may lodge an objection while it runs, and every
//! objection must be resolved before approval. Pay-out is one ledger
//! transfer from the programme budget (which cannot be overdrawn) to what
//! the base owes the enterprise, idempotent per application; when the
//! application names a cost item, that transfer is a 一费一补 support
//! against it (`financing::support::pay_in`), refused over the cap.

use chuangtong_domain::Fen;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::accounts;
use super::case::{self, Case, Party};
use super::clock::{self, Stage};
use super::notices;
use super::programme::{self, ReviewMode};
use super::state::{transition, Event, State};
use crate::audit::{self, Actor, Entry};
use crate::financing::support;
use crate::ledger::{self, TransferSpec};
use crate::storage::{time, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// Publishes the result: the 公示期 clock starts, and the 审批 clock is set
/// to start when it ends.
pub async fn publish(state: &AppState, actor: &Actor, base_id: &str, id: &str) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    transition(c.state, Event::Publish)?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    if p.review_mode == ReviewMode::Panel && c.state == State::Accepted {
        return Err(AppError::refused(
            "application.wrong_mode",
            "评审制批次须经专家评审后才能公示",
        ));
    }
    case::step(state, &mut tx, actor, base_id, &c, Event::Publish, "", json!({})).await?;
    let cal = crate::calendar::load(&state.db).await?;
    let today = time::today();
    let publicity_due = clock::due(&cal, today, p.limits.publicity)?;
    clock::open(&mut tx, base_id, id, Stage::Publicity, today, publicity_due).await?;
    let approval_due = clock::due(&cal, publicity_due, p.limits.approval)?;
    clock::open(&mut tx, base_id, id, Stage::Approval, publicity_due, approval_due).await?;
    tx.commit().await?;
    case::get(state, base_id, &Party::Reviewer, id).await
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Objection {
    pub id: String,
    pub application_id: String,
    pub text: String,
    /// open | dismissed | upheld
    pub state: String,
    pub resolution: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct ObjectionForm {
    pub text: String,
}

/// Any member of the base may object while the 公示期 runs.
pub async fn lodge(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    f: &ObjectionForm,
) -> Result<Objection, AppError> {
    let text = f.text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(AppError::field(
            "text",
            "text.required",
            "请填写异议内容（不超过2000字）",
        ));
    }
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    transition(c.state, Event::LodgeObjection)?;
    if clock::due_of(&mut tx, id, Stage::Publicity)
        .await?
        .is_some_and(|d| time::today() > d)
    {
        return Err(AppError::refused(
            "application.publicity_over",
            "公示期已结束，不能再提出异议",
        ));
    }
    let oid = crate::new_id();
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO application_objections (id, base_id, application_id, lodged_by, text, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6)",
    )
    .bind(&oid)
    .bind(base_id)
    .bind(id)
    .bind(actor.user_id.clone().unwrap_or_else(|| actor.name.clone()))
    .bind(text)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    case::step(
        state,
        &mut tx,
        actor,
        base_id,
        &c,
        Event::LodgeObjection,
        text,
        json!({ "objection_id": oid }),
    )
    .await?;
    notices::admins(
        &mut tx,
        base_id,
        "application.objection",
        id,
        "公示收到异议",
        format!("异议内容：{text}\n异议处理前不能批准。"),
    )
    .await?;
    tx.commit().await?;
    Ok(Objection {
        id: oid,
        application_id: id.into(),
        text: text.into(),
        state: "open".into(),
        resolution: String::new(),
        created_at: now,
    })
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    pub objection_id: String,
    /// true: the objection holds and the application is rejected
    #[serde(default)]
    pub upheld: bool,
    pub resolution: String,
}

/// Resolves one objection; the case leaves 异议待处理 when none is left open.
pub async fn resolve(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    f: &Resolution,
) -> Result<Case, AppError> {
    let text = f.resolution.trim();
    if text.is_empty() {
        return Err(AppError::field("resolution", "text.required", "请填写处理意见"));
    }
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    let event = if f.upheld {
        Event::UpholdObjection
    } else {
        Event::DismissObjection
    };
    transition(c.state, event)?;
    let updated = sqlx::query(
        "UPDATE application_objections SET state = $1, resolution = $2, resolved_at = $3 \
         WHERE id = $4 AND application_id = $5 AND state = 'open'",
    )
    .bind(if f.upheld { "upheld" } else { "dismissed" })
    .bind(text)
    .bind(time::now_text())
    .bind(&f.objection_id)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(AppError::NotFound);
    }
    let still_open: i64 =
        sqlx::query("SELECT COUNT(*) FROM application_objections WHERE application_id = $1 AND state = 'open'")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
    if f.upheld || still_open == 0 {
        case::step(
            state,
            &mut tx,
            actor,
            base_id,
            &c,
            event,
            text,
            json!({ "objection_id": f.objection_id }),
        )
        .await?;
        if f.upheld {
            clock::close_all(&mut tx, id, time::today(), actor.user_id.as_deref()).await?;
            notices::applicant(
                &mut tx,
                base_id,
                &c.enterprise_id,
                "application.rejected",
                id,
                "公示异议成立，申报未通过",
                format!("处理意见：{text}"),
            )
            .await?;
        }
    } else {
        // Others remain open: the objection is answered, the case stays where it is.
        audit::append(
            &mut tx,
            &state.keys,
            actor,
            Entry {
                base_id: Some(base_id),
                action: "application.objection_dismissed",
                entity: "application",
                entity_id: Some(id),
                before: None,
                after: Some(json!({ "objection_id": f.objection_id, "resolution": text, "still_open": still_open })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    case::get(state, base_id, &Party::Reviewer, id).await
}

pub async fn objections(state: &AppState, base_id: &str, id: &str) -> Result<Vec<Objection>, AppError> {
    Ok(sqlx::query(
        "SELECT id, application_id, text, state, resolution, created_at FROM application_objections \
         WHERE base_id = $1 AND application_id = $2 ORDER BY created_at",
    )
    .bind(base_id)
    .bind(id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Objection {
        id: r.get(0),
        application_id: r.get(1),
        text: r.get(2),
        state: r.get(3),
        resolution: r.get(4),
        created_at: r.get(5),
    })
    .collect())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub application_id: String,
    pub enterprise_name: String,
    pub programme_name: String,
    pub amount_requested_fen: i64,
    pub state_label: String,
    pub publicity_ends_on: String,
}

/// What is in 公示 now: visible to every member of the base.
pub async fn notices(state: &AppState, base_id: &str) -> Result<Vec<Notice>, AppError> {
    Ok(sqlx::query(
        "SELECT a.id, e.name, g.name, a.amount_requested_fen, a.state, s.due_on FROM applications a \
         JOIN enterprises e ON e.id = a.enterprise_id JOIN programmes g ON g.id = a.programme_id \
         JOIN application_stages s ON s.application_id = a.id AND s.stage = 'publicity' AND s.ended_on IS NULL \
         WHERE a.base_id = $1 AND a.state IN ('in_publicity', 'objection_open', 'objection_resolved') ORDER BY s.due_on, e.name",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Notice {
        application_id: r.get(0),
        enterprise_name: r.get(1),
        programme_name: r.get(2),
        amount_requested_fen: r.get(3),
        state_label: State::parse(&r.get::<String, _>(4)).map(State::label).unwrap_or("").into(),
        publicity_ends_on: r.get(5),
    })
    .collect())
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct ApprovalForm {
    /// 批准金额（元），不超过申请金额
    pub amount_approved_yuan: String,
}

/// Approves after the 公示期 with no open objection: this is the grant.
pub async fn approve(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    f: &ApprovalForm,
) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    transition(c.state, Event::Approve)?;
    let fen = Fen::from_yuan_str(&f.amount_approved_yuan)
        .map_err(|e| {
            AppError::field(
                "amount_approved_yuan",
                chuangtong_domain::Coded::code(&e),
                e.to_string(),
            )
        })?
        .fen();
    if fen <= 0 || fen > c.amount_requested_fen {
        return Err(AppError::field(
            "amount_approved_yuan",
            "application.amount_approved",
            "批准金额应大于0且不超过申请金额",
        ));
    }
    let today = time::today();
    if let Some(end) = clock::due_of(&mut tx, id, Stage::Publicity).await? {
        if today <= end {
            return Err(AppError::refused(
                "application.publicity_running",
                format!("公示期至 {end} 结束，期满后方可批准"),
            ));
        }
    }
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    sqlx::query("UPDATE applications SET amount_approved_fen = $1 WHERE id = $2")
        .bind(fen)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    case::step(
        state,
        &mut tx,
        actor,
        base_id,
        &c,
        Event::Approve,
        "",
        json!({ "amount_approved_fen": fen }),
    )
    .await?;
    clock::close(&mut tx, id, Stage::Publicity, today, actor.user_id.as_deref()).await?;
    clock::close(&mut tx, id, Stage::Approval, today, actor.user_id.as_deref()).await?;
    let cal = crate::calendar::load(&state.db).await?;
    let due = clock::due(&cal, today, p.limits.payout)?;
    clock::open(&mut tx, base_id, id, Stage::Payout, today, due).await?;
    notices::applicant(
        &mut tx,
        base_id,
        &c.enterprise_id,
        "application.approved",
        id,
        "申报已批准",
        format!("批准金额 {} 元，将在 {due} 前兑现。", Fen::from_fen(fen)),
    )
    .await?;
    tx.commit().await?;
    case::get(state, base_id, &Party::Reviewer, id).await
}

/// Pays an approved grant: budget → the enterprise's payable, in one
/// transaction with the state change. Paying again answers with the first
/// payment; a budget that cannot cover it refuses and nothing changes.
/// A grant that names a cost item is paid as a support against it
/// (一费一补): the cap is checked in this transaction and the support's
/// transfer is the one posting; over the cap, nothing changes.
pub async fn pay(state: &AppState, actor: &Actor, base_id: &str, id: &str) -> Result<Case, AppError> {
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    if c.state == State::Paid || c.state == State::Evaluated {
        tx.rollback().await?;
        return case::get(state, base_id, &Party::Reviewer, id).await;
    }
    transition(c.state, Event::Pay)?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let amount = c.amount_approved_fen.unwrap_or(0);
    let r = sqlx::query(
        "SELECT g.budget_account_id, a.cost_item_id FROM applications a JOIN programmes g ON g.id = a.programme_id \
         WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let (budget, cost_item): (String, Option<String>) = (r.get(0), r.get(1));
    let transfer_id = match cost_item {
        Some(item) => {
            support::pay_in(
                &mut tx,
                state,
                actor,
                base_id,
                &item,
                &p.name,
                &budget,
                amount,
                &format!("application:{id}"),
            )
            .await?
            .transfer_id
        }
        None => {
            payout(
                &mut tx,
                state,
                actor,
                base_id,
                id,
                &c.enterprise_id,
                &p.name,
                &budget,
                amount,
            )
            .await?
        }
    };
    sqlx::query("UPDATE applications SET payout_transfer_id = $1 WHERE id = $2")
        .bind(&transfer_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    case::step(
        state,
        &mut tx,
        actor,
        base_id,
        &c,
        Event::Pay,
        "",
        json!({ "amount_fen": amount, "transfer_id": transfer_id }),
    )
    .await?;
    clock::close(&mut tx, id, Stage::Payout, time::today(), actor.user_id.as_deref()).await?;
    notices::applicant(
        &mut tx,
        base_id,
        &c.enterprise_id,
        "application.paid",
        id,
        "扶持资金已兑现",
        format!("已拨付 {} 元（记账凭证 {transfer_id}）。", Fen::from_fen(amount)),
    )
    .await?;
    tx.commit().await?;
    case::get(state, base_id, &Party::Reviewer, id).await
}

/// A grant paying for no particular cost: budget → the enterprise's payable.
#[allow(clippy::too_many_arguments)]
async fn payout(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    enterprise_id: &str,
    programme_name: &str,
    budget: &str,
    amount: i64,
) -> Result<String, AppError> {
    let payable = accounts::open_payable(tx, base_id, enterprise_id).await?;
    let applied = ledger::transfer(
        tx,
        state.db.backend(),
        &state.keys,
        actor,
        base_id,
        &format!("application-payout:{id}"),
        &[TransferSpec {
            debit_account_id: budget.to_string(),
            credit_account_id: payable,
            amount_fen: amount,
            pending_timeout_secs: None,
            memo: format!("{programme_name} 兑现"),
        }],
    )
    .await?;
    Ok(applied.transfer_ids[0].clone())
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct EvaluationForm {
    /// 绩效评价得分 0–100
    pub score: i64,
    pub summary: String,
    /// The applicant's feedback, when collected
    #[serde(default)]
    pub feedback: String,
}

/// 绩效评价 closes the loop.
pub async fn evaluate(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
    f: &EvaluationForm,
) -> Result<Case, AppError> {
    if !(0..=100).contains(&f.score) {
        return Err(AppError::field(
            "score",
            "application.evaluation_score",
            "绩效评价得分应为0到100",
        ));
    }
    if f.summary.trim().is_empty() {
        return Err(AppError::field("summary", "text.required", "请填写评价意见"));
    }
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, id, &Party::Reviewer).await?;
    transition(c.state, Event::Evaluate)?;
    let evaluation = json!({ "score": f.score, "summary": f.summary.trim(), "feedback": f.feedback.trim() });
    sqlx::query("UPDATE applications SET evaluation_json = $1 WHERE id = $2")
        .bind(evaluation.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    case::step(
        state,
        &mut tx,
        actor,
        base_id,
        &c,
        Event::Evaluate,
        f.summary.trim(),
        json!({ "evaluation": evaluation }),
    )
    .await?;
    tx.commit().await?;
    case::get(state, base_id, &Party::Reviewer, id).await
}
