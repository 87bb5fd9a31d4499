//! Pages: 工单 (an enterprise raises and follows its tickets; a steward sees
//! what is in its hands and the pool; a base admin sees everything), one
//! ticket with its clocks, history and the buttons the caller may press, the
//! steward rankings, and the steward assignments with the time limits.
//! Buttons post to handlers that call the same services as the API and
//! redirect back with a notice or the error in Chinese.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::case::{self, HistoryEntry, ListQuery, RaiseForm, StepForm, Ticket};
use super::rankings::{self, StewardRank};
use super::sla::{self, Limits, LimitsForm};
use super::steward::{self, AssignForm, Assignment, Steward};
use super::{Category, Event, Party};
use crate::auth::{BaseScope, PageScope, Role};
use crate::notify::pages::Flash;
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/tickets", get(tickets_page).post(raise))
        .route("/b/{base}/tickets/rankings", get(rankings_page))
        .route("/b/{base}/tickets/{id}", get(ticket_page))
        .route("/b/{base}/tickets/{id}/{event}", post(ticket_action))
        .route("/b/{base}/stewards", get(stewards_page))
        .route("/b/{base}/stewards/assign", post(assign))
        .route("/b/{base}/stewards/sla", post(set_sla))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Back to `path` with a notice, or with the error in Chinese.
fn back(path: &str, result: Result<String, AppError>) -> PageResult<Response> {
    let target = match result {
        Ok(m) => format!("{path}?ok={}", enc(&m)),
        Err(e @ (AppError::Internal(_) | AppError::NotFound | AppError::Forbidden)) => return Err(e.into()),
        Err(AppError::Validation(fs)) => {
            let m = fs.iter().map(|x| x.message.clone()).collect::<Vec<_>>().join("；");
            format!("{path}?err={}", enc(&m))
        }
        Err(e) => format!("{path}?err={}", enc(&e.to_string())),
    };
    Ok(Redirect::to(&target).into_response())
}

fn csrf(scope: &BaseScope, f: &HashMap<String, String>) -> Result<(), AppError> {
    scope.user.check_csrf(f.get("_csrf").map(String::as_str).unwrap_or(""))
}

#[derive(Template)]
#[template(path = "ticket/list.html")]
struct TicketsPage {
    nav: Nav,
    base_code: String,
    requester: bool,
    steward: bool,
    admin: bool,
    categories: Vec<(&'static str, &'static str)>,
    /// The enterprise's steward (requester view)
    my_steward: Option<String>,
    mine: Vec<Ticket>,
    pool: Vec<Ticket>,
    all: Vec<Ticket>,
    flash: Flash,
}

async fn tickets_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(flash): Query<Flash>,
) -> PageResult<impl IntoResponse> {
    let p = super::party(&scope)?;
    let base = &scope.base.id;
    let view = |v: &str| ListQuery {
        view: Some(v.into()),
        ..Default::default()
    };
    let (mine, pool, all, my_steward) = match &p {
        Party::Requester { enterprise_id, .. } => (
            case::list(&state, base, &p, &ListQuery::default()).await?,
            Vec::new(),
            Vec::new(),
            steward::assignment(&state, base, enterprise_id).await?.steward_name,
        ),
        Party::Steward(_) => (
            case::list(&state, base, &p, &view("mine")).await?,
            case::list(&state, base, &p, &view("pool")).await?,
            case::list(&state, base, &p, &ListQuery::default()).await?,
            None,
        ),
        Party::Admin(_) => (
            Vec::new(),
            case::list(&state, base, &p, &view("pool")).await?,
            case::list(&state, base, &p, &ListQuery::default()).await?,
            None,
        ),
    };
    Ok(page(&TicketsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        requester: matches!(p, Party::Requester { .. }),
        steward: matches!(p, Party::Steward(_)),
        admin: matches!(p, Party::Admin(_)),
        categories: Category::ALL.iter().map(|c| (c.as_str(), c.label())).collect(),
        my_steward,
        mine,
        pool,
        all,
        flash,
    }))
}

async fn raise(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    let p = super::party(&scope)?;
    if !matches!(p, Party::Requester { .. }) {
        return Err(AppError::Forbidden.into());
    }
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let form = RaiseForm {
        category: field("category"),
        title: field("title"),
        description: field("description"),
    };
    match case::raise(&state, &scope.user.actor(), &scope.base.id, &p, &form).await {
        Ok(t) => back(
            &format!("/b/{}/tickets/{}", scope.base.code, t.id),
            Ok(match t.steward_name {
                Some(s) => format!("工单已提交，已派给您的服务管家 {s}"),
                None => "工单已提交，进入工单池等待服务管家接单".into(),
            }),
        ),
        Err(e) => back(&format!("/b/{}/tickets", scope.base.code), Err(e)),
    }
}

/// A button of the ticket page.
struct Action {
    event: &'static str,
    label: &'static str,
    note: Option<&'static str>,
    steward: bool,
    rating: bool,
}

fn action_of(e: Event) -> Action {
    let note = match e {
        Event::Reply => Some("答复内容"),
        Event::Comment => Some("补充说明"),
        Event::HandOn => Some("转派说明"),
        Event::Release => Some("退回原因"),
        Event::Resolve => Some("办结说明"),
        Event::Reopen => Some("重新打开的原因"),
        Event::Rate => Some("评价（选填）"),
        Event::Withdraw => Some("撤回原因（选填）"),
        _ => None,
    };
    Action {
        event: e.as_str(),
        label: e.label(),
        note,
        steward: e == Event::HandOn,
        rating: e == Event::Rate,
    }
}

#[derive(Template)]
#[template(path = "ticket/detail.html")]
struct TicketPage {
    nav: Nav,
    base_code: String,
    t: Ticket,
    history: Vec<HistoryEntry>,
    actions: Vec<Action>,
    stewards: Vec<Steward>,
    flash: Flash,
}

async fn ticket_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(flash): Query<Flash>,
) -> PageResult<impl IntoResponse> {
    let p = super::party(&scope)?;
    let d = super::routes::detail(&state, &scope.base.id, &p, &id).await?;
    let actions: Vec<Action> = case::allowed(&p, &d.ticket).into_iter().map(action_of).collect();
    let stewards = if actions.iter().any(|a| a.steward) {
        steward::list(&state, &scope.base.id)
            .await?
            .into_iter()
            .filter(|s| Some(&s.id) != d.ticket.steward_id.as_ref())
            .collect()
    } else {
        Vec::new()
    };
    Ok(page(&TicketPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        t: d.ticket,
        history: d.history,
        actions,
        stewards,
        flash,
    }))
}

async fn ticket_action(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, event)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    let p = super::party(&scope)?;
    let event = Event::parse(&event).ok_or(AppError::NotFound)?;
    let form = StepForm {
        event,
        note: f.get("note").cloned().unwrap_or_default(),
        to_steward: f.get("to_steward").cloned().filter(|s| !s.is_empty()),
        rating: f.get("rating").and_then(|r| r.trim().parse().ok()),
    };
    let r = case::step(&state, &scope.user.actor(), &scope.base.id, &p, &id, &form).await;
    back(
        &format!("/b/{}/tickets/{id}", scope.base.code),
        r.map(|t| format!("已{}，当前状态：{}", event.label(), t.state_label)),
    )
}

#[derive(Template)]
#[template(path = "ticket/rankings.html")]
struct RankingsPage {
    nav: Nav,
    base_code: String,
    ranks: Vec<StewardRank>,
}

async fn rankings_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(page(&RankingsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        ranks: rankings::rankings(&state, &scope.base.id).await?,
    }))
}

#[derive(Template)]
#[template(path = "ticket/stewards.html")]
struct StewardsPage {
    nav: Nav,
    base_code: String,
    stewards: Vec<Steward>,
    assignments: Vec<Assignment>,
    limits: Vec<Limits>,
    flash: Flash,
}

async fn stewards_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(flash): Query<Flash>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(page(&StewardsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        stewards: steward::list(&state, &scope.base.id).await?,
        assignments: steward::assignments(&state, &scope.base.id).await?,
        limits: sla::limits(state.db.pool(), &scope.base.id).await?,
        flash,
    }))
}

async fn assign(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    scope.require(&[Role::BaseAdmin])?;
    let form = AssignForm {
        enterprise_id: f.get("enterprise_id").cloned().unwrap_or_default(),
        steward_id: f.get("steward_id").cloned().unwrap_or_default(),
    };
    let r = steward::assign(&state, &scope.user.actor(), &scope.base.id, &form).await;
    back(
        &format!("/b/{}/stewards", scope.base.code),
        r.map(|a| {
            format!(
                "已指派 {} 为“{}”的服务管家",
                a.steward_name.unwrap_or_default(),
                a.enterprise_name
            )
        }),
    )
}

async fn set_sla(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    csrf(&scope, &f)?;
    scope.require(&[Role::BaseAdmin])?;
    let num = |k: &str| f.get(k).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
    let form = LimitsForm {
        category: f.get("category").cloned().unwrap_or_default(),
        response_hours: num("response_hours"),
        resolve_days: num("resolve_days"),
    };
    let r = sla::set_limits(&state, &scope.user.actor(), &scope.base.id, &form).await;
    back(
        &format!("/b/{}/stewards", scope.base.code),
        r.map(|l| {
            format!(
                "{}：响应 {} 个工作小时，办结 {} 个工作日",
                l.category_label, l.response_hours, l.resolve_days
            )
        }),
    )
}
