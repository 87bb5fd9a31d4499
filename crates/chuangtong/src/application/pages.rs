//! Pages: 申报批次 (programmes; an enterprise sees the open ones it may
//! qualify for and its own applications; a base admin defines a new one on
//! a form), one application with its clock, history, form and documents,
//! the 预审 queue, the 公示 list and the programme report.
//! Action buttons post to one handler that calls the same services as the
//! API and redirects back with a notice or the error in Chinese.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;

use super::case::{self, Case, OpenProgramme, Party};
use super::document;
use super::panel;
use super::programme::Criterion;
use super::programme::{self, FieldSpec, Programme, ProgrammeForm};
use super::publicity::{self, Notice};
use super::report::{self, Report};
use super::routes::{self, CaseDetail};
use super::state::{Event, State as CaseState};
use crate::auth::{PageScope, Role};
use crate::financing::support;
use crate::web::error::{AppError, FieldErrors, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/programmes", get(programmes_page))
        .route(
            "/b/{base}/programmes/new",
            get(new_programme_page).post(create_programme),
        )
        .route("/b/{base}/programmes/{id}/report", get(report_page))
        .route(
            "/b/{base}/applications/{id}/documents",
            post(upload_page).layer(DefaultBodyLimit::max(document::MAX_BYTES + 256 * 1024)),
        )
        .route("/b/{base}/documents/{id}", get(download_page))
        .route("/b/{base}/applications/{id}", get(case_page))
        .route("/b/{base}/applications/{id}/{action}", post(case_action))
        .route("/b/{base}/programmes/{id}/apply", post(apply))
        .route("/b/{base}/review-queue", get(queue_page))
}

pub fn yuan(fen: &i64) -> String {
    crate::voucher::pages::yuan(fen)
}

/// Basis points as a percentage with two decimals.
pub fn percent(bp: &Option<i64>) -> String {
    match bp {
        Some(b) => format!("{}.{:02}%", b / 100, b % 100),
        None => "—".into(),
    }
}

/// A ×100 fixed-point figure (scores, z) with two decimals and its sign.
pub fn points(x100: &i64) -> String {
    let sign = if *x100 < 0 { "-" } else { "" };
    let a = x100.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Basis points as a ratio with four decimals (ICC: 9603 → 0.9603).
pub fn ratio(bp: &i64) -> String {
    let sign = if *bp < 0 { "-" } else { "" };
    let a = bp.unsigned_abs();
    format!("{sign}{}.{:04}", a / 10_000, a % 10_000)
}

/// The first 16 characters of a digest, to recognise it by.
pub fn short(s: &str) -> &str {
    s.get(..16).unwrap_or(s)
}

#[derive(Template)]
#[template(path = "application/programmes.html")]
struct ProgrammesPage {
    nav: Nav,
    base_code: String,
    programmes: Vec<Programme>,
    open: Vec<OpenProgramme>,
    mine: Vec<Case>,
    notices: Vec<Notice>,
    reviewer: bool,
    /// The applicant's own cost items (id, label), to name one a grant pays for
    cost_items: Vec<(String, String)>,
    notice: crate::web::pages::Notice,
}

/// An enterprise's cost items as choices of the application form.
async fn cost_choices(state: &AppState, base_id: &str, enterprise_id: &str) -> Result<Vec<(String, String)>, AppError> {
    Ok(support::of_enterprise(state, base_id, enterprise_id)
        .await?
        .into_iter()
        .map(|(id, description, cost)| (id, format!("{description}（费用 {} 元）", yuan(&cost))))
        .collect())
}

async fn programmes_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(notice): Query<crate::web::pages::Notice>,
) -> PageResult<impl IntoResponse> {
    scope.require(&Role::ALL)?;
    let party = routes::party(&scope).ok();
    let (open, mine, cost_items) = match &party {
        Some(Party::Enterprise(e)) => (
            case::open_for(&state, &scope.base.id, e).await?,
            case::list(&state, &scope.base.id, party.as_ref().unwrap(), &Default::default()).await?,
            cost_choices(&state, &scope.base.id, e).await?,
        ),
        Some(Party::Expert(_)) => (
            Vec::new(),
            case::list(&state, &scope.base.id, party.as_ref().unwrap(), &Default::default()).await?,
            Vec::new(),
        ),
        _ => (Vec::new(), Vec::new(), Vec::new()),
    };
    Ok(page(&ProgrammesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        programmes: programme::list(&state, &scope.base.id).await?,
        open,
        mine,
        notices: publicity::notices(&state, &scope.base.id).await?,
        reviewer: matches!(party, Some(Party::Reviewer)),
        cost_items,
        notice,
    }))
}

#[derive(Template)]
#[template(path = "application/case.html")]
struct CasePage {
    nav: Nav,
    base_code: String,
    d: CaseDetail,
    reviewer: bool,
    applicant: bool,
    admin: bool,
    /// A drawn expert who has not scored yet gets the rubric form
    rubric: Vec<Criterion>,
    programme: Programme,
    /// The applicant's cost items (id, label): applicant and reviewers only
    cost_items: Vec<(String, String)>,
    notice: crate::web::pages::Notice,
}

impl CasePage {
    fn is(&self, s: &str) -> bool {
        self.d.case.state.as_str() == s
    }

    fn editable(&self) -> bool {
        self.applicant && (self.is("draft") || self.is("returned_for_amendment"))
    }

    /// The value of one form field as entered.
    fn value(&self, name: &str) -> String {
        match self.d.case.form.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    fn has_document(&self, key: &str) -> bool {
        self.d.documents.iter().any(|d| d.kind == key)
    }

    fn cost_item_named(&self, id: &str) -> bool {
        self.d.case.cost_item_id.as_deref() == Some(id)
    }
}

async fn case_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    Query(notice): Query<crate::web::pages::Notice>,
) -> PageResult<impl IntoResponse> {
    let party = routes::party(&scope)?;
    let d = routes::detail(&state, &scope.base.id, &party, &id).await?;
    let programme = programme::get(&state, &scope.base.id, &d.case.programme_id).await?;
    let rubric = match &party {
        Party::Expert(x) if d.case.state == CaseState::UnderExpertReview && !panel::scored(&state, &id, x).await? => {
            programme.rubric.clone()
        }
        _ => Vec::new(),
    };
    let cost_items = match &party {
        Party::Enterprise(_) | Party::Reviewer => cost_choices(&state, &scope.base.id, &d.case.enterprise_id).await?,
        Party::Expert(_) => Vec::new(),
    };
    Ok(page(&CasePage {
        rubric,
        programme,
        cost_items,
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        reviewer: matches!(party, Party::Reviewer),
        applicant: matches!(party, Party::Enterprise(_)),
        admin: scope.is_admin(),
        d,
        notice,
    }))
}

/// Every action button of the pages posts here; fields are read by name
/// because the score and apply forms carry the programme's own fields.
async fn case_action(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    scope.user.check_csrf(&field("_csrf"))?;
    let actor = scope.user.actor();
    let base = scope.base.id.clone();
    let mut back = format!("/b/{}/applications/{id}", scope.base.code);
    let result: Result<String, AppError> = async {
        let case = match action.as_str() {
            "save" => {
                scope.require(&[Role::Enterprise])?;
                let p = routes::party(&scope)?;
                let form = draft_form(&f);
                case::update_form(&state, &actor, &base, &p, &id, &form).await?;
                return Ok("已保存".into());
            }
            "submit" | "withdraw" => {
                scope.require(&[Role::Enterprise])?;
                let p = routes::party(&scope)?;
                if action == "submit" {
                    case::submit(&state, &actor, &base, &p, &id).await
                } else {
                    case::withdraw(&state, &actor, &base, &p, &id).await
                }
            }
            "accept" | "return" | "reject" => {
                scope.require(&[Role::BaseAdmin, Role::Steward])?;
                let event = match action.as_str() {
                    "accept" => Event::Accept,
                    "return" => Event::ReturnForAmendment,
                    _ => Event::Reject,
                };
                case::pre_review(&state, &actor, &base, &id, event, &field("reason")).await
            }
            "draw" => {
                scope.require(&[Role::BaseAdmin])?;
                let d = panel::draw_panel(&state, &actor, &base, &id).await?;
                return Ok(format!("已抽取评审专家 {} 名（随机种子 {}）", d.drawn.len(), d.seed));
            }
            "score" => {
                scope.require(&[Role::Expert])?;
                let expert = scope.subject_id.clone().ok_or(AppError::Forbidden)?;
                let scores = f
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.strip_prefix("s.")?;
                        let value = v
                            .trim()
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::from(v.clone()));
                        Some((key.to_string(), value))
                    })
                    .collect();
                let form = panel::ScoreForm {
                    scores,
                    comment: field("comment"),
                };
                panel::score(&state, &actor, &base, &expert, &id, &form).await
            }
            "resolve-objection" => {
                scope.require(&[Role::BaseAdmin])?;
                let form = publicity::Resolution {
                    objection_id: field("objection_id"),
                    upheld: field("upheld") == "1",
                    resolution: field("resolution"),
                };
                publicity::resolve(&state, &actor, &base, &id, &form).await
            }
            "objection" => {
                scope.require(&Role::ALL)?;
                back = format!("/b/{}/programmes", scope.base.code);
                let form = publicity::ObjectionForm { text: field("text") };
                publicity::lodge(&state, &actor, &base, &id, &form).await?;
                return Ok("异议已提交，将在批准前处理".into());
            }
            "publish" => {
                scope.require(&[Role::BaseAdmin])?;
                publicity::publish(&state, &actor, &base, &id).await
            }
            "approve" => {
                scope.require(&[Role::BaseAdmin])?;
                let form = publicity::ApprovalForm {
                    amount_approved_yuan: field("amount_yuan"),
                };
                publicity::approve(&state, &actor, &base, &id, &form).await
            }
            "pay" => {
                scope.require(&[Role::BaseAdmin])?;
                publicity::pay(&state, &actor, &base, &id).await
            }
            _ => Err(AppError::NotFound),
        }?;
        Ok(format!("已办理，当前状态：{}", case.state_label))
    }
    .await;
    redirect(&back, result)
}

/// Back to the page with a notice, or with the error in Chinese.
fn redirect(path: &str, result: Result<String, AppError>) -> PageResult<Response> {
    if let Err(e @ (AppError::NotFound | AppError::Forbidden)) = result {
        return Err(e.into());
    }
    crate::web::pages::back_to(path, result)
}

/// An enterprise applies from the programmes page: a draft, then its page.
async fn apply(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, programme_id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    scope
        .user
        .check_csrf(f.get("_csrf").map(String::as_str).unwrap_or(""))?;
    scope.require(&[Role::Enterprise])?;
    let Party::Enterprise(e) = routes::party(&scope)? else {
        return Err(AppError::Forbidden.into());
    };
    let form = draft_form(&f);
    match case::create_draft(&state, &scope.user.actor(), &scope.base.id, &e, &programme_id, &form).await {
        Ok(id) => redirect(
            &format!("/b/{}/applications/{id}", scope.base.code),
            Ok("草稿已保存，请核对后提交".into()),
        ),
        Err(err) => redirect(&format!("/b/{}/programmes", scope.base.code), Err(err)),
    }
}

/// The programme's fields (`f.<name>`) and the amount, as posted.
fn draft_form(f: &HashMap<String, String>) -> case::DraftForm {
    case::DraftForm {
        form: f
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("f.")?.to_string(), Value::from(v.trim()))))
            .collect(),
        amount_requested_yuan: f.get("amount_requested_yuan").cloned().unwrap_or_default(),
        partner_ids: Vec::new(),
        cost_item_id: f.get("cost_item_id").cloned(),
    }
}

/// The applicant uploads one document from the case page.
async fn upload_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
    multipart: Multipart,
) -> PageResult<Response> {
    let back = format!("/b/{}/applications/{id}", scope.base.code);
    let posted = match document::read_multipart(multipart).await {
        Ok(p) => p,
        // Nothing is stored: the form comes back with the reason.
        Err(e) => return redirect(&back, Err(e)),
    };
    scope.user.check_csrf(&posted.csrf)?;
    scope.require(&[Role::Enterprise])?;
    let p = routes::party(&scope)?;
    let result = document::upload(
        &state,
        &scope.user.actor(),
        &scope.base.id,
        &p,
        &id,
        &posted.kind,
        &posted.filename,
        &posted.bytes,
    )
    .await
    .map(|d| format!("已上传：{}（{}）", d.filename, d.kind_label));
    redirect(&back, result)
}

async fn download_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<Response> {
    let p = routes::party(&scope)?;
    let (doc, bytes) = document::fetch(&state, &scope.base.id, &p, &id).await?;
    Ok(routes::download(&doc, bytes))
}

/// What a base admin typed on the new-programme form, kept to show it again.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewProgramme {
    code: String,
    name: String,
    policy_id: String,
    other_policy_ids: Vec<String>,
    review_mode: String,
    opens_on: String,
    closes_on: String,
    /// One field a line: 名称|标题|必填|整数
    form_fields: String,
    /// One document a line: 代码|名称
    required_documents: String,
    /// One criterion a line: 代码|名称|权重
    rubric: String,
    expert_field: String,
    experts_per_application: String,
    conflict_months: String,
    limits: [String; 6],
    budget_yuan: String,
}

const LIMITS: [(&str, &str); 6] = [
    ("pre_review", "受理/预审"),
    ("amendment", "补正"),
    ("expert_review", "专家评审"),
    ("publicity", "公示期"),
    ("approval", "审批"),
    ("payout", "兑现"),
];

impl NewProgramme {
    fn from_pairs(pairs: &[(String, String)]) -> NewProgramme {
        let mut n = NewProgramme::default();
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "code" => n.code = v,
                "name" => n.name = v,
                "policy_id" => n.policy_id = v,
                "other_policy_ids" => n.other_policy_ids.push(v),
                "review_mode" => n.review_mode = v,
                "opens_on" => n.opens_on = v,
                "closes_on" => n.closes_on = v,
                "form_fields" => n.form_fields = v,
                "required_documents" => n.required_documents = v,
                "rubric" => n.rubric = v,
                "expert_field" => n.expert_field = v,
                "experts_per_application" => n.experts_per_application = v,
                "conflict_months" => n.conflict_months = v,
                "budget_yuan" => n.budget_yuan = v,
                other => {
                    if let Some(i) = other
                        .strip_prefix("limits.")
                        .and_then(|l| LIMITS.iter().position(|(k, _)| *k == l))
                    {
                        n.limits[i] = v;
                    }
                }
            }
        }
        n
    }

    /// The API's form, or the field errors of what could not be read.
    fn to_form(&self) -> Result<ProgrammeForm, FieldErrors> {
        let mut e = FieldErrors::default();
        let mut int = |field: &str, label: &str, v: &str, default: i64| -> i64 {
            if v.trim().is_empty() {
                return default;
            }
            v.trim().parse().unwrap_or_else(|_| {
                e.push(field, "number.integer", format!("{label}应为整数"));
                default
            })
        };
        let experts = int(
            "experts_per_application",
            "每件专家人数",
            &self.experts_per_application,
            0,
        );
        let months = int("conflict_months", "回避期", &self.conflict_months, 12);
        let mut l = [0i64; 6];
        for (i, (k, label)) in LIMITS.iter().enumerate() {
            l[i] = int(&format!("limits.{k}"), &format!("{label}时限"), &self.limits[i], -1);
        }
        let lines = |text: &str| -> Vec<Vec<String>> {
            text.lines()
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| x.split(['|', '｜']).map(|p| p.trim().to_string()).collect())
                .collect()
        };
        let form_fields = lines(&self.form_fields)
            .into_iter()
            .map(|p| FieldSpec {
                name: p.first().cloned().unwrap_or_default(),
                label: p.get(1).cloned().unwrap_or_default(),
                required: p.iter().skip(2).any(|x| x == "必填"),
                kind: if p.iter().skip(2).any(|x| x == "整数") {
                    "integer".into()
                } else {
                    "text".into()
                },
            })
            .collect();
        let required_documents = lines(&self.required_documents)
            .into_iter()
            .map(|p| document::DocSpec {
                key: p.first().cloned().unwrap_or_default(),
                label: p.get(1).cloned().unwrap_or_default(),
            })
            .collect();
        let mut rubric = Vec::new();
        for (i, p) in lines(&self.rubric).into_iter().enumerate() {
            let weight = p.get(2).and_then(|w| w.parse().ok()).unwrap_or_else(|| {
                e.push(
                    "rubric",
                    "programme.rubric",
                    format!("评分细则第{}行应为“代码|名称|权重”", i + 1),
                );
                0
            });
            rubric.push(Criterion {
                key: p.first().cloned().unwrap_or_default(),
                label: p.get(1).cloned().unwrap_or_default(),
                weight,
            });
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ProgrammeForm {
            code: self.code.clone(),
            name: self.name.clone(),
            policy_id: self.policy_id.clone(),
            other_policy_ids: self
                .other_policy_ids
                .iter()
                .filter(|p| !p.is_empty())
                .cloned()
                .collect(),
            required_documents,
            review_mode: self.review_mode.clone(),
            opens_on: self.opens_on.clone(),
            closes_on: self.closes_on.clone(),
            form_fields,
            rubric,
            expert_field: self.expert_field.clone(),
            experts_per_application: experts,
            conflict_months: months,
            limits: programme::Limits {
                pre_review: l[0],
                amendment: l[1],
                expert_review: l[2],
                publicity: l[3],
                approval: l[4],
                payout: l[5],
            },
            budget_yuan: self.budget_yuan.clone(),
        })
    }
}

#[derive(Template)]
#[template(path = "application/programme_new.html")]
struct NewProgrammePage {
    nav: Nav,
    base_code: String,
    /// Published policies a programme may be linked to: (id, title)
    policies: Vec<(String, String)>,
    form: NewProgramme,
    errors: FieldErrors,
}

impl NewProgrammePage {
    fn limits(&self) -> Vec<(&'static str, &'static str, String)> {
        LIMITS
            .iter()
            .zip(&self.form.limits)
            .map(|((k, label), v)| (*k, *label, v.clone()))
            .collect()
    }

    fn other(&self, id: &str) -> bool {
        self.form.other_policy_ids.iter().any(|x| x == id)
    }

    /// Every message, for the summary at the top (indexed fields have no box of their own).
    fn messages(&self) -> Vec<String> {
        self.errors.0.iter().map(|f| f.message.clone()).collect()
    }
}

async fn applicable_policies(state: &AppState, base_id: &str) -> Result<Vec<(String, String)>, AppError> {
    Ok(
        crate::policy::library::list(&state.db, base_id, crate::storage::time::today(), true)
            .await?
            .into_iter()
            .filter(|p| !p.no_application)
            .map(|p| (p.id, p.title))
            .collect(),
    )
}

async fn new_programme_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin])?;
    let today = crate::storage::time::today();
    let form = NewProgramme {
        review_mode: "approval".into(),
        opens_on: today.to_string(),
        closes_on: (today + chrono::Duration::days(30)).to_string(),
        form_fields: "project|项目名称|必填".into(),
        conflict_months: "12".into(),
        experts_per_application: "5".into(),
        limits: ["5", "5", "10", "5", "5", "10"].map(String::from),
        ..Default::default()
    };
    Ok(page(&NewProgrammePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        policies: applicable_policies(&state, &scope.base.id).await?,
        form,
        errors: FieldErrors::default(),
    }))
}

async fn create_programme(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    scope.user.check_csrf(csrf)?;
    scope.require(&[Role::BaseAdmin])?;
    let n = NewProgramme::from_pairs(&pairs);
    let result = match n.to_form() {
        Ok(form) => programme::create(&state, &scope.user.actor(), &scope.base.id, &form).await,
        Err(e) => Err(AppError::Validation(e.0)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/b/{}/programmes?ok={}",
            scope.base.code,
            urlencode(&format!("申报批次“{}”已创建，预算已拨入", n.name.trim()))
        ))
        .into_response()),
        Err(AppError::Validation(fields)) => {
            let p = NewProgrammePage {
                nav: Nav::for_scope(&scope),
                base_code: scope.base.code.clone(),
                policies: applicable_policies(&state, &scope.base.id).await?,
                form: n,
                errors: FieldErrors(fields),
            };
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page(&p)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "application/queue.html")]
struct QueuePage {
    nav: Nav,
    base_code: String,
    entries: Vec<case::QueueEntry>,
}

async fn queue_page(State(state): State<AppState>, PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(page(&QueuePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        entries: case::queue(&state, &scope.base.id).await?,
    }))
}

#[derive(Template)]
#[template(path = "application/report.html")]
struct ReportPage {
    nav: Nav,
    base_code: String,
    r: Report,
}

impl ReportPage {
    fn state_label(&self, s: &str) -> &'static str {
        CaseState::parse(s).map(CaseState::label).unwrap_or("")
    }
}

async fn report_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<impl IntoResponse> {
    scope.require(&[Role::BaseAdmin, Role::Steward])?;
    Ok(page(&ReportPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        r: report::report(&state, &scope.base.id, &id).await?,
    }))
}
