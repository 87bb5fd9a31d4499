//! Pages: 政策库 (published policies with their rules), 政策计算器, and for
//! base admins per policy: 影响预览 with budget simulation, 精准推送 (the
//! qualifying firms, notify them) and 补发与追回 after a correction. Forms
//! call the same service functions as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::correction::{self, CorrectionPlan};
use super::impact::{self, Impact};
use super::judge::{self, Answer, Matches, Simulation};
use super::library::{self, PolicyInfo};
use super::{params, push, settlement};
use crate::auth::{PageScope, Role};
use crate::storage::time;
use crate::web::error::{AppError, PageResult};
use crate::web::pages::{back, page, Nav, Notice};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/policies", get(policies_page))
        .route("/b/{base}/calculator", get(calculator_page))
        .route("/b/{base}/policies/{id}/impact", get(impact_page))
        .route("/b/{base}/policies/{id}/matches", get(matches_page))
        .route("/b/{base}/policies/{id}/notify", post(notify_submit))
        .route(
            "/b/{base}/policies/{id}/corrections",
            get(corrections_page).post(corrections_submit),
        )
        .route(
            "/b/{base}/policies/{id}/adjustments/{adjustment}/settle",
            post(settle_submit),
        )
}

pub fn yuan(fen: &Option<i64>) -> String {
    fen.map(|f| chuangtong_domain::Fen::from_fen(f).to_yuan_string_grouped())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "policy/list.html")]
struct PoliciesPage {
    nav: Nav,
    policies: Vec<PolicyInfo>,
}

async fn policies_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    let policies = library::list(&state.db, &scope.base.id, time::today(), !scope.is_admin()).await?;
    Ok(page(&PoliciesPage {
        nav: Nav::for_scope(&scope),
        policies,
    }))
}

#[derive(Template)]
#[template(path = "policy/calculator.html")]
struct CalculatorPage {
    nav: Nav,
    enterprise_name: String,
    answers: Vec<Answer>,
    total_fen: Option<i64>,
}

#[derive(Deserialize)]
struct CalcQuery {
    enterprise: Option<String>,
}

async fn calculator_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<CalcQuery>,
) -> PageResult<impl IntoResponse> {
    let enterprise_id = match (&q.enterprise, scope.has(Role::Enterprise)) {
        (_, true) => scope.subject_id.clone().ok_or(AppError::Forbidden)?,
        (Some(id), false) => id.clone(),
        (None, false) => {
            return Err(AppError::field("enterprise", "calculator.enterprise", "请从企业详情页进入政策计算器").into())
        }
    };
    super::routes::may_act_for(&scope, &enterprise_id)?;
    let answers = judge::calculator(&state, &scope.base.id, &enterprise_id).await?;
    let name: String = {
        use sqlx::Row;
        sqlx::query("SELECT name FROM enterprises WHERE base_id = $1 AND id = $2")
            .bind(&scope.base.id)
            .bind(&enterprise_id)
            .fetch_one(state.db.pool())
            .await?
            .get(0)
    };
    let total: i64 = answers
        .iter()
        .filter(|a| a.eligible == "yes")
        .filter_map(|a| a.amount_fen)
        .sum();
    Ok(page(&CalculatorPage {
        nav: Nav::for_scope(&scope),
        enterprise_name: name,
        answers,
        total_fen: Some(total),
    }))
}

pub fn fen(fen: &i64) -> String {
    chuangtong_domain::Fen::from_fen(*fen).to_yuan_string_grouped()
}

pub fn fen_abs(fen: &i64) -> String {
    chuangtong_domain::Fen::from_fen(fen.saturating_abs()).to_yuan_string_grouped()
}

/// With a sign: "+1,000.00", "-500.00", "0.00".
pub fn signed_fen(fen: &i64) -> String {
    let sign = if *fen > 0 { "+" } else { "" };
    format!(
        "{sign}{}",
        chuangtong_domain::Fen::from_fen(*fen).to_yuan_string_grouped()
    )
}

#[derive(Deserialize)]
struct ImpactQuery {
    version: Option<i64>,
    /// Budget simulation: the parameter to change, a table key, the new value as a literal
    #[serde(default)]
    param: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Template)]
#[template(path = "policy/impact.html")]
struct ImpactPage {
    nav: Nav,
    base_code: String,
    impact: Impact,
    param: String,
    key: String,
    value: String,
    simulation: Option<Simulation>,
    simulation_error: Option<String>,
}

async fn impact_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<ImpactQuery>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let impact = impact::preview(&state, &scope.base.id, &id, q.version).await?;
    let (mut simulation, mut simulation_error) = (None, None);
    if !q.param.trim().is_empty() {
        let (info, v, policy) = judge::version_of(&state, &scope.base.id, &id, Some(impact.version)).await?;
        let run = match params::from_form(&policy, q.param.trim(), &q.key, &q.value) {
            Ok(o) => judge::simulate_with(&state, &scope.base.id, &info, &v, &policy, &o).await,
            Err(e) => Err(e),
        };
        match run {
            Ok(s) => simulation = Some(s),
            Err(AppError::Validation(f)) => {
                simulation_error = Some(f.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("；"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(page(&ImpactPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        impact,
        param: q.param,
        key: q.key,
        value: q.value,
        simulation,
        simulation_error,
    }))
}

#[derive(Deserialize)]
struct MatchesQuery {
    ok: Option<String>,
    err: Option<String>,
}

#[derive(Template)]
#[template(path = "policy/matches.html")]
struct MatchesPage {
    nav: Nav,
    base_code: String,
    policy: PolicyInfo,
    matches: Matches,
    notified: std::collections::BTreeSet<String>,
    can_notify: bool,
    notice: Notice,
}

async fn matches_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<MatchesQuery>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    let matches = judge::matches(&state, &scope.base.id, &id).await?;
    let policy = library::get(&state.db, &scope.base.id, &id, time::today()).await?;
    let notified = match &policy.current_version {
        Some(v) => push::notified(&state.db, &scope.base.id, &v.id).await?,
        None => Default::default(),
    };
    Ok(page(&MatchesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        can_notify: scope.is_admin() && policy.state == "published",
        policy,
        matches,
        notified,
        notice: Notice { ok: q.ok, err: q.err },
    }))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    version: String,
}

async fn notify_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = push::notify_matches(&state, &scope.user.actor(), &scope.base.id, &scope.base.code, &id)
        .await
        .map(|r| {
            format!(
                "已通知 {} 家企业（{} 个账号）；此前已通知 {} 家，未重复发送",
                r.notified, r.accounts, r.already_notified
            )
        });
    back(&scope.base.code, &format!("policies/{id}/matches"), result)
}

#[derive(Deserialize)]
struct CorrectionsQuery {
    version: Option<i64>,
    ok: Option<String>,
    err: Option<String>,
}

#[derive(Template)]
#[template(path = "policy/corrections.html")]
struct CorrectionsPage {
    nav: Nav,
    base_code: String,
    policy: PolicyInfo,
    versions: Vec<i64>,
    plan: Option<CorrectionPlan>,
    problem: Option<String>,
    notice: Notice,
}

async fn corrections_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<CorrectionsQuery>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let policy = library::get(&state.db, &scope.base.id, &id, time::today()).await?;
    let versions = library::versions(&state.db, &scope.base.id, &id)
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    let (plan, problem) = match correction::plan(&state, &scope.base.id, &id, q.version).await {
        Ok(p) => (Some(p), None),
        Err(AppError::Internal(e)) => return Err(AppError::Internal(e).into()),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(page(&CorrectionsPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        policy,
        versions,
        plan,
        problem,
        notice: Notice { ok: q.ok, err: q.err },
    }))
}

async fn corrections_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let version = f.version.trim().parse::<i64>().ok();
    let result = correction::record(&state, &scope.user.actor(), &scope.base.id, &id, version)
        .await
        .map(|r| {
            format!(
                "已按第{}版记录 {} 笔调整：补发 {} 元，追回 {} 元（待处理）；{} 笔此前已记录，{} 笔缺少信息暂不能判断",
                r.version,
                r.recorded,
                yuan(&Some(r.top_up_fen)),
                yuan(&Some(r.clawback_fen)),
                r.already_recorded,
                r.undecided
            )
        });
    let path = match version {
        Some(v) => format!("policies/{id}/corrections?version={v}"),
        None => format!("policies/{id}/corrections"),
    };
    back(&scope.base.code, &path, result)
}

async fn settle_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, adjustment)): Path<(String, String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    scope.user.check_csrf(&f.csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let result = settlement::settle(&state, &scope.user.actor(), &scope.base.id, &id, &adjustment)
        .await
        .map(|s| {
            let amount = yuan(&Some(s.delta_fen.abs()));
            match (s.delta_fen > 0, s.replayed) {
                (_, true) => format!("该调整此前已结算（记账凭证 {}）", s.transfer_id),
                (true, false) => format!("已补发 {amount} 元（记账凭证 {}）", s.transfer_id),
                (false, false) => format!("已追回 {amount} 元（记账凭证 {}）", s.transfer_id),
            }
        });
    let path = match f.version.trim().parse::<i64>() {
        Ok(v) => format!("policies/{id}/corrections?version={v}"),
        Err(_) => format!("policies/{id}/corrections"),
    };
    back(&scope.base.code, &path, result)
}
