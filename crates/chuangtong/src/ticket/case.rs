//! One ticket: raising it and every step of it. Each step is one
//! transaction: the state machine decides, the row is written only if nobody
//! changed it since it was read (its `version`), the step goes into the
//! history and the audit chain, and the other party gets a notice.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::state::{transition, Event, State};
use super::{sla, steward, Category, Party};
use crate::audit::{self, Actor, Entry};
use crate::notify::{self, Notice, Recipient};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// A resolved (or rated) ticket may be reopened within this many days of its resolution.
pub const REOPEN_DAYS: i64 = 7;
const NOTE_MAX: usize = 2000;

/// A ticket as its parties see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    pub id: String,
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub requester_id: String,
    pub category: Category,
    pub category_label: String,
    pub title: String,
    pub description: String,
    pub state: State,
    pub state_label: String,
    /// Current owner; none while in the pool
    pub steward_id: Option<String>,
    pub steward_name: Option<String>,
    pub assigned_at: Option<String>,
    /// First response due (working hours after it was raised)
    pub response_due_at: String,
    pub responded_at: Option<String>,
    pub responded_by: Option<String>,
    /// Resolution due, a Beijing date (working days after it was raised or reopened)
    pub resolve_due_on: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    pub rating: Option<i64>,
    pub rating_comment: Option<String>,
    pub closed_at: Option<String>,
    pub reopen_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// The first response came (or is still missing) after its due time
    pub response_overdue: bool,
    /// Resolved after the due date, or still open past it
    pub resolve_overdue: bool,
}

impl Ticket {
    pub fn overdue(&self) -> bool {
        self.response_overdue || self.resolve_overdue
    }

    pub fn created(&self) -> String {
        time::display(&self.created_at)
    }

    pub fn response_due(&self) -> String {
        time::display(&self.response_due_at)
    }

    /// Sets the overdue flags as of `now`.
    fn flag(&mut self, now: &str, today: &str) {
        self.response_overdue = match &self.responded_at {
            Some(r) => r.as_str() > self.response_due_at.as_str(),
            None => self.state != State::Withdrawn && now > self.response_due_at.as_str(),
        };
        self.resolve_overdue = match &self.resolved_at {
            Some(r) => beijing_date(r).as_str() > self.resolve_due_on.as_str(),
            None => self.state.live() && today > self.resolve_due_on.as_str(),
        };
    }
}

fn beijing_date(instant: &str) -> String {
    time::parse_text(instant)
        .map(|t| t.with_timezone(&time::shanghai()).date_naive().to_string())
        .unwrap_or_default()
}

const SELECT: &str = "SELECT t.id, t.enterprise_id, e.name, t.requester_id, t.category, t.title, t.description, \
     t.state, t.steward_id, u.display_name, t.assigned_at, t.response_due_at, t.responded_at, t.responded_by, \
     t.resolve_due_on, t.resolved_at, t.resolved_by, t.resolution, t.rating, t.rating_comment, t.closed_at, \
     t.reopen_count, t.created_at, t.updated_at, t.version \
     FROM tickets t JOIN enterprises e ON e.id = t.enterprise_id LEFT JOIN users u ON u.id = t.steward_id";

fn ticket_of(r: &sqlx::any::AnyRow) -> Result<Ticket, AppError> {
    let category = Category::parse(&r.get::<String, _>(4)).ok_or_else(|| anyhow::anyhow!("unknown ticket category"))?;
    let state = State::parse(&r.get::<String, _>(7)).ok_or_else(|| anyhow::anyhow!("unknown ticket state"))?;
    Ok(Ticket {
        id: r.get(0),
        enterprise_id: r.get(1),
        enterprise_name: r.get(2),
        requester_id: r.get(3),
        category,
        category_label: category.label().into(),
        title: r.get(5),
        description: r.get(6),
        state,
        state_label: state.label().into(),
        steward_id: r.get(8),
        steward_name: r.get(9),
        assigned_at: r.get(10),
        response_due_at: r.get(11),
        responded_at: r.get(12),
        responded_by: r.get(13),
        resolve_due_on: r.get(14),
        resolved_at: r.get(15),
        resolved_by: r.get(16),
        resolution: r.get(17),
        rating: r.get(18),
        rating_comment: r.get(19),
        closed_at: r.get(20),
        reopen_count: r.get(21),
        created_at: r.get(22),
        updated_at: r.get(23),
        version: r.get(24),
        response_overdue: false,
        resolve_overdue: false,
    })
}

fn flagged(mut t: Ticket) -> Ticket {
    t.flag(&time::now_text(), &time::today().to_string());
    t
}

/// The visibility rule as SQL: an enterprise sees its own tickets only.
fn visible_clause(p: &Party) -> (&'static str, Option<&str>) {
    match p {
        Party::Requester { enterprise_id, .. } => (" AND t.enterprise_id = $3", Some(enterprise_id)),
        Party::Steward(_) | Party::Admin(_) => ("", None),
    }
}

async fn load(tx: &mut Tx, base_id: &str, p: &Party, id: &str) -> Result<Ticket, AppError> {
    let (extra, arg) = visible_clause(p);
    let sql = format!("{SELECT} WHERE t.base_id = $1 AND t.id = $2{extra}");
    let mut q = sqlx::query(&sql).bind(base_id).bind(id);
    if let Some(a) = arg {
        q = q.bind(a);
    }
    let row = q.fetch_optional(&mut **tx).await?.ok_or(AppError::NotFound)?;
    ticket_of(&row)
}

/// One ticket; 404 unless the caller may see it.
pub async fn get(state: &AppState, base_id: &str, p: &Party, id: &str) -> Result<Ticket, AppError> {
    let (extra, arg) = visible_clause(p);
    let sql = format!("{SELECT} WHERE t.base_id = $1 AND t.id = $2{extra}");
    let mut q = sqlx::query(&sql).bind(base_id).bind(id);
    if let Some(a) = arg {
        q = q.bind(a);
    }
    let row = q.fetch_optional(state.db.pool()).await?.ok_or(AppError::NotFound)?;
    Ok(flagged(ticket_of(&row)?))
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// open | in_pool | accepted | resolved | closed | withdrawn
    pub state: Option<String>,
    /// Stewards: `mine` (in my hands), `pool` (待抢单); default: every ticket of the base
    pub view: Option<String>,
    /// Only tickets with an overdue clock
    #[serde(default)]
    pub overdue: bool,
}

/// Tickets the caller may see, newest first.
pub async fn list(state: &AppState, base_id: &str, p: &Party, q: &ListQuery) -> Result<Vec<Ticket>, AppError> {
    let mut sql = format!("{SELECT} WHERE t.base_id = $1");
    let mut args: Vec<String> = vec![base_id.to_string()];
    let mut push = |cond: &str, v: &str, sql: &mut String| {
        args.push(v.to_string());
        sql.push_str(&format!(" AND {cond} = ${}", args.len()));
    };
    if let Party::Requester { enterprise_id, .. } = p {
        push("t.enterprise_id", enterprise_id, &mut sql);
    }
    match (q.view.as_deref(), p) {
        (Some("mine"), Party::Steward(u) | Party::Admin(u)) => push("t.steward_id", u, &mut sql),
        (Some("pool"), _) => push("t.state", State::InPool.as_str(), &mut sql),
        _ => {}
    }
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        let s = State::parse(s).ok_or_else(|| AppError::field("state", "ticket.state", "未知的工单状态"))?;
        push("t.state", s.as_str(), &mut sql);
    }
    sql.push_str(" ORDER BY t.created_at DESC, t.id DESC LIMIT 500");
    let mut query = sqlx::query(&sql);
    for a in &args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(state.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let t = flagged(ticket_of(r)?);
        if !q.overdue || t.overdue() {
            out.push(t);
        }
    }
    Ok(out)
}

/// One step in a ticket's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: String,
    pub actor_name: String,
    pub event: String,
    pub event_label: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub to_state_label: String,
    pub from_steward_name: Option<String>,
    pub to_steward_name: Option<String>,
    pub note: String,
}

impl HistoryEntry {
    pub fn when(&self) -> String {
        time::display(&self.at)
    }
}

pub async fn history(state: &AppState, base_id: &str, ticket_id: &str) -> Result<Vec<HistoryEntry>, AppError> {
    let rows = sqlx::query(
        "SELECT v.at, v.actor_name, v.event, v.from_state, v.to_state, a.display_name, b.display_name, v.note \
         FROM ticket_events v LEFT JOIN users a ON a.id = v.from_steward LEFT JOIN users b ON b.id = v.to_steward \
         WHERE v.base_id = $1 AND v.ticket_id = $2 ORDER BY v.at, v.id",
    )
    .bind(base_id)
    .bind(ticket_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let event: String = r.get(2);
            let to_state: String = r.get(4);
            HistoryEntry {
                at: r.get(0),
                actor_name: r.get(1),
                event_label: Event::parse(&event)
                    .map(Event::label)
                    .unwrap_or(if event == "raise" { "提交工单" } else { "" })
                    .into(),
                event,
                from_state: r.get(3),
                to_state_label: State::parse(&to_state).map(State::label).unwrap_or("").into(),
                to_state,
                from_steward_name: r.get(5),
                to_steward_name: r.get(6),
                note: r.get(7),
            }
        })
        .collect())
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct RaiseForm {
    /// registration | tax | ip | financing | premises | talent | other
    pub category: String,
    pub title: String,
    pub description: String,
}

fn text_field(errs: &mut FieldErrors, field: &str, v: &str, max: usize, label: &str) -> String {
    let v = v.trim();
    if v.is_empty() {
        errs.push(field, "ticket.required", format!("请填写{label}"));
    } else if v.chars().count() > max {
        errs.push(field, "ticket.too_long", format!("{label}不能超过{max}个字"));
    }
    v.to_string()
}

async fn base_code(tx: &mut Tx, base_id: &str) -> Result<String, AppError> {
    Ok(sqlx::query("SELECT code FROM bases WHERE id = $1")
        .bind(base_id)
        .fetch_one(&mut **tx)
        .await?
        .get(0))
}

#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut Tx,
    keys: &crate::crypto::Keys,
    base_id: &str,
    ticket_id: &str,
    actor: &Actor,
    event: &str,
    from: Option<&Ticket>,
    to: &Ticket,
    note: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO ticket_events (id, base_id, ticket_id, at, actor_id, actor_name, event, from_state, to_state, \
         from_steward, to_steward, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(crate::new_id())
    .bind(base_id)
    .bind(ticket_id)
    .bind(&to.updated_at)
    .bind(actor.user_id.as_deref())
    .bind(&actor.name)
    .bind(event)
    .bind(from.map(|f| f.state.as_str()))
    .bind(to.state.as_str())
    .bind(from.and_then(|f| f.steward_id.as_deref()))
    .bind(to.steward_id.as_deref())
    .bind(note)
    .execute(&mut **tx)
    .await?;
    let summary =
        |t: &Ticket| serde_json::json!({ "state": t.state.as_str(), "steward_id": t.steward_id, "rating": t.rating });
    audit::append(
        tx,
        keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: &format!("ticket.{event}"),
            entity: "ticket",
            entity_id: Some(ticket_id),
            before: from.map(summary),
            after: Some(summary(to)),
        },
    )
    .await?;
    Ok(())
}

/// An enterprise raises a ticket. It goes to the enterprise's steward, or to
/// the pool when the enterprise has none yet.
pub async fn raise(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    p: &Party,
    f: &RaiseForm,
) -> Result<Ticket, AppError> {
    let Party::Requester { enterprise_id, user_id } = p else {
        return Err(AppError::Forbidden);
    };
    let mut errs = FieldErrors::default();
    let category = Category::parse(f.category.trim());
    if category.is_none() {
        errs.push("category", "ticket.category", "请选择工单类别");
    }
    let title = text_field(&mut errs, "title", &f.title, 100, "标题");
    let description = text_field(&mut errs, "description", &f.description, NOTE_MAX, "问题描述");
    errs.into_result()?;
    let category = category.expect("checked above");
    let cal = crate::calendar::load(&state.db).await?;
    let mut tx = state.db.begin().await?;
    let code = base_code(&mut tx, base_id).await?;
    let (hours, days) = sla::limits_for(&mut *tx, base_id, category).await?;
    let mut owner = steward::steward_of(&mut *tx, base_id, enterprise_id).await?;
    if let Some(s) = &owner {
        // A steward whose account left the base cannot be 首问负责人: pool.
        if steward::steward_name(&mut *tx, base_id, s).await?.is_none() {
            owner = None;
        }
    }
    // The stored instant (to the millisecond) is the one the clocks start from.
    let now = time::now_text();
    let now_t = time::parse_text(&now).unwrap_or_else(Utc::now);
    let id = crate::new_id();
    let st = if owner.is_some() { State::Open } else { State::InPool };
    let response_due_at = time::to_text(sla::add_working_hours(&cal, now_t, hours));
    let resolve_due_on = sla::add_working_days(&cal, time::today(), days).to_string();
    sqlx::query(
        "INSERT INTO tickets (id, base_id, enterprise_id, requester_id, category, title, description, state, \
         steward_id, assigned_at, response_due_at, resolve_due_on, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(enterprise_id)
    .bind(user_id)
    .bind(category.as_str())
    .bind(&title)
    .bind(&description)
    .bind(st.as_str())
    .bind(owner.as_deref())
    .bind(owner.as_ref().map(|_| now.clone()))
    .bind(&response_due_at)
    .bind(&resolve_due_on)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let t = load(&mut tx, base_id, p, &id).await?;
    record(
        &mut tx,
        &state.keys,
        base_id,
        &id,
        actor,
        "raise",
        None,
        &t,
        &description,
    )
    .await?;
    let notice = Notice {
        kind: "ticket.raised",
        title: format!("新工单（{}）：{}", category.label(), title),
        body: format!(
            "{} 提交了工单，请在 {} 前响应。",
            t.enterprise_name,
            time::display(&response_due_at)
        ),
        link: Some(format!("/b/{code}/tickets/{id}")),
    };
    match &owner {
        Some(s) => notify::send(&mut tx, base_id, Recipient::User(s), &notice).await?,
        None => notify::send(&mut tx, base_id, Recipient::Role(crate::auth::Role::Steward), &notice).await?,
    };
    tx.commit().await?;
    Ok(flagged(t))
}

/// What a step carries besides its event.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct StepForm {
    pub event: Event,
    /// Reply, comment, 转派 note, resolution, reason to reopen or rating comment
    #[serde(default)]
    pub note: String,
    /// 转派: the steward (users.id) who takes it over
    pub to_steward: Option<String>,
    /// Rate: 1–5
    pub rating: Option<i64>,
}

fn not_owner() -> AppError {
    AppError::rejected(
        axum::http::StatusCode::FORBIDDEN,
        "ticket.not_owner",
        "该工单当前不在您名下",
    )
}

/// Who may fire which event, on top of the state machine.
fn authorize(p: &Party, t: &Ticket, event: Event) -> Result<(), AppError> {
    let owner = |u: &str| t.steward_id.as_deref() == Some(u);
    match (event, p) {
        (Event::Accept | Event::Reply | Event::Resolve, Party::Steward(u)) if owner(u) => Ok(()),
        (Event::HandOn | Event::Release, Party::Steward(u)) if owner(u) => Ok(()),
        (Event::Accept | Event::Reply | Event::Resolve | Event::HandOn | Event::Release, Party::Steward(_))
            if t.state != State::InPool =>
        {
            Err(not_owner())
        }
        (Event::HandOn | Event::Release, Party::Admin(_)) => Ok(()),
        (Event::Grab, Party::Steward(_)) => Ok(()),
        (Event::Comment | Event::Rate | Event::Reopen | Event::Withdraw, Party::Requester { .. }) => Ok(()),
        // A steward acting on a pool ticket without grabbing it: the state
        // machine explains (e.g. "待抢单，不能受理").
        (Event::Accept | Event::Reply | Event::Resolve | Event::HandOn | Event::Release, Party::Steward(_)) => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// The events the caller may fire on this ticket now (for the page's buttons).
pub fn allowed(p: &Party, t: &Ticket) -> Vec<Event> {
    Event::ALL
        .into_iter()
        .filter(|e| authorize(p, t, *e).is_ok() && transition(t.state, *e).is_ok())
        .collect()
}

/// Fires one event on a ticket.
pub async fn step(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    p: &Party,
    id: &str,
    f: &StepForm,
) -> Result<Ticket, AppError> {
    let cal = crate::calendar::load(&state.db).await?;
    let mut tx = state.db.begin().await?;
    let before = load(&mut tx, base_id, p, id).await?;
    let event = f.event;
    authorize(p, &before, event)?;
    let to = transition(before.state, event)
        .map_err(|e| AppError::refused(super::IllegalTransition::CODE, e.to_string()))?;
    let note = f.note.trim().to_string();
    let mut errs = FieldErrors::default();
    if note.chars().count() > NOTE_MAX {
        errs.push("note", "ticket.too_long", format!("说明不能超过{NOTE_MAX}个字"));
    }
    let needs_note = match event {
        Event::Reply => Some("答复内容"),
        Event::Comment => Some("补充说明"),
        Event::HandOn => Some("转派说明"),
        Event::Release => Some("退回原因"),
        Event::Resolve => Some("办结说明"),
        Event::Reopen => Some("重新打开的原因"),
        _ => None,
    };
    if let Some(label) = needs_note {
        if note.is_empty() {
            errs.push("note", "ticket.required", format!("请填写{label}"));
        }
    }
    let mut new_steward_name = None;
    if event == Event::HandOn {
        match f.to_steward.as_deref().filter(|s| !s.is_empty()) {
            None => errs.push("to_steward", "ticket.required", "请选择接手的服务管家"),
            Some(s) if Some(s) == before.steward_id.as_deref() => {
                errs.push("to_steward", "ticket.same_steward", "不能转派给当前负责的管家")
            }
            Some(s) => match steward::steward_name(&mut *tx, base_id, s).await? {
                Some(n) => new_steward_name = Some(n),
                None => errs.push("to_steward", "ticket.steward", "该账户不是本基地的服务管家"),
            },
        }
    }
    if event == Event::Rate && !f.rating.is_some_and(|r| (1..=5).contains(&r)) {
        errs.push("rating", "ticket.rating", "请给出 1–5 星的评价");
    }
    errs.into_result()?;
    let now_t = Utc::now();
    let now = time::to_text(now_t);
    if event == Event::Reopen {
        let resolved = before.resolved_at.as_deref().and_then(time::parse_text);
        if resolved.is_some_and(|r| now_t > r + chrono::Duration::days(REOPEN_DAYS)) {
            return Err(AppError::refused(
                "ticket.reopen_window",
                format!("办结已超过{REOPEN_DAYS}天，不能重新打开，请提交新工单"),
            ));
        }
    }

    let mut t = before.clone();
    t.state = to;
    t.state_label = to.label().into();
    t.updated_at = now.clone();
    let me = p.user_id().to_string();
    match event {
        Event::Accept | Event::Reply | Event::Grab => {
            if event == Event::Grab {
                t.steward_id = Some(me.clone());
                t.assigned_at = Some(now.clone());
            }
            if t.responded_at.is_none() {
                t.responded_at = Some(now.clone());
                t.responded_by = Some(me.clone());
            }
        }
        Event::HandOn => {
            t.steward_id = f.to_steward.clone();
            t.assigned_at = Some(now.clone());
        }
        Event::Release => {
            t.steward_id = None;
            t.assigned_at = None;
        }
        Event::Resolve => {
            t.resolved_at = Some(now.clone());
            t.resolved_by = Some(me.clone());
            t.resolution = Some(note.clone());
        }
        Event::Rate => {
            t.rating = f.rating;
            t.rating_comment = Some(note.clone()).filter(|n| !n.is_empty());
            t.closed_at = Some(now.clone());
        }
        Event::Reopen => {
            // Back to the steward who resolved it, with a fresh resolution clock.
            let (_, days) = sla::limits_for(&mut *tx, base_id, t.category).await?;
            t.steward_id = t.resolved_by.clone().or(t.steward_id.clone());
            t.resolve_due_on = sla::add_working_days(&cal, time::today(), days).to_string();
            t.resolved_at = None;
            t.resolved_by = None;
            t.resolution = None;
            t.rating = None;
            t.rating_comment = None;
            t.closed_at = None;
            t.reopen_count += 1;
        }
        Event::Withdraw => t.closed_at = Some(now.clone()),
        Event::Comment => {}
    }
    let written = sqlx::query(
        "UPDATE tickets SET state = $1, steward_id = $2, assigned_at = $3, responded_at = $4, responded_by = $5, \
         resolve_due_on = $6, resolved_at = $7, resolved_by = $8, resolution = $9, rating = $10, \
         rating_comment = $11, closed_at = $12, reopen_count = $13, updated_at = $14, version = version + 1 \
         WHERE id = $15 AND base_id = $16 AND version = $17",
    )
    .bind(t.state.as_str())
    .bind(t.steward_id.as_deref())
    .bind(t.assigned_at.as_deref())
    .bind(t.responded_at.as_deref())
    .bind(t.responded_by.as_deref())
    .bind(&t.resolve_due_on)
    .bind(t.resolved_at.as_deref())
    .bind(t.resolved_by.as_deref())
    .bind(t.resolution.as_deref())
    .bind(t.rating)
    .bind(t.rating_comment.as_deref())
    .bind(t.closed_at.as_deref())
    .bind(t.reopen_count)
    .bind(&now)
    .bind(id)
    .bind(base_id)
    .bind(before.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if written != 1 {
        // Someone else changed it between our read and write (e.g. two
        // stewards grabbing at once on PostgreSQL): the first one wins.
        return Err(AppError::refused(
            "ticket.concurrent",
            "工单刚刚已被他人处理，请刷新后查看最新状态",
        ));
    }
    t.version += 1;
    if t.steward_id != before.steward_id {
        t.steward_name = match &t.steward_id {
            Some(s) => steward::steward_name(&mut *tx, base_id, s).await?,
            None => None,
        };
    }
    record(
        &mut tx,
        &state.keys,
        base_id,
        id,
        actor,
        event.as_str(),
        Some(&before),
        &t,
        &note,
    )
    .await?;
    notify_step(&mut tx, base_id, &before, &t, event, &note, new_steward_name.as_deref()).await?;
    tx.commit().await?;
    Ok(flagged(t))
}

/// The other party hears of each step.
async fn notify_step(
    tx: &mut Tx,
    base_id: &str,
    before: &Ticket,
    t: &Ticket,
    event: Event,
    note: &str,
    new_steward: Option<&str>,
) -> Result<(), AppError> {
    let code = base_code(tx, base_id).await?;
    let link = Some(format!("/b/{code}/tickets/{}", t.id));
    let who = t.steward_name.clone().unwrap_or_else(|| "服务管家".into());
    let notice = |kind: &'static str, title: String, body: String| Notice {
        kind,
        title,
        body,
        link: link.clone(),
    };
    let enterprise = Recipient::Subject(&t.enterprise_id);
    let (to, n) = match event {
        Event::Accept => (
            enterprise,
            notice(
                "ticket.accepted",
                format!("工单已受理：{}", t.title),
                format!("{who} 已受理您的工单，将跟进到底。"),
            ),
        ),
        Event::Reply => (
            enterprise,
            notice("ticket.replied", format!("管家答复：{}", t.title), note.to_string()),
        ),
        Event::Grab => (
            enterprise,
            notice(
                "ticket.grabbed",
                format!("工单已接单：{}", t.title),
                format!("{who} 已接手您的工单。"),
            ),
        ),
        Event::Resolve => (
            enterprise,
            notice(
                "ticket.resolved",
                format!("工单已办结，请评价：{}", t.title),
                format!("办结说明：{note}\n如问题未解决，可在{REOPEN_DAYS}天内重新打开。"),
            ),
        ),
        Event::HandOn => {
            let new = t.steward_id.as_deref().unwrap_or_default();
            notify::send(
                tx,
                base_id,
                Recipient::User(new),
                &notice(
                    "ticket.handed_on",
                    format!("转派给您的工单：{}", t.title),
                    format!(
                        "来自 {}：{note}",
                        before.steward_name.as_deref().unwrap_or("基地管理员")
                    ),
                ),
            )
            .await?;
            (
                enterprise,
                notice(
                    "ticket.handed_on",
                    format!("工单已转派：{}", t.title),
                    format!("您的工单已转由 {} 办理。", new_steward.unwrap_or("其他管家")),
                ),
            )
        }
        Event::Release => (
            Recipient::Role(crate::auth::Role::Steward),
            notice(
                "ticket.pooled",
                format!("工单池有新工单：{}", t.title),
                format!("退回原因：{note}"),
            ),
        ),
        Event::Comment | Event::Reopen | Event::Withdraw | Event::Rate => {
            let steward = match event {
                Event::Rate => t.resolved_by.as_deref().or(t.steward_id.as_deref()),
                _ => t.steward_id.as_deref(),
            };
            let Some(s) = steward else { return Ok(()) };
            let n = match event {
                Event::Comment => notice(
                    "ticket.commented",
                    format!("企业补充说明：{}", t.title),
                    note.to_string(),
                ),
                Event::Reopen => notice(
                    "ticket.reopened",
                    format!("工单被重新打开：{}", t.title),
                    format!("原因：{note}"),
                ),
                Event::Withdraw => notice("ticket.withdrawn", format!("工单已撤回：{}", t.title), note.to_string()),
                _ => notice(
                    "ticket.rated",
                    format!("收到评价 {} 星：{}", t.rating.unwrap_or(0), t.title),
                    note.to_string(),
                ),
            };
            (Recipient::User(s), n)
        }
    };
    notify::send(tx, base_id, to, &n).await?;
    Ok(())
}
