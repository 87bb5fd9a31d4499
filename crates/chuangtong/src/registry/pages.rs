//! Registry pages under `/b/{base}/registry/…`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chuangtong_domain::{Fen, IndustrySection};
use serde::Deserialize;

use super::enterprise::{self, Enterprise, EnterpriseForm};
use super::{access, carrier, directory, person, ListQuery};
use crate::auth::PageScope;
use crate::web::error::{AppError, FieldErrors, PageResult};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/b/{base}/registry/enterprises", get(enterprises_page))
        .route(
            "/b/{base}/registry/enterprises/new",
            get(new_enterprise_page).post(new_enterprise_submit),
        )
        .route("/b/{base}/registry/enterprises/{id}", get(enterprise_page))
        .route("/b/{base}/registry/{section}", get(section_page))
}

#[derive(Template)]
#[template(path = "registry/enterprises.html")]
struct EnterprisesPage {
    nav: Nav,
    base_code: String,
    items: Vec<Enterprise>,
    total: i64,
    q: String,
    can_create: bool,
}

async fn enterprises_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Query(q): Query<ListQuery>,
) -> PageResult<impl IntoResponse> {
    let view = access::enterprises(&scope)?;
    let (items, total) = enterprise::list(&state, &scope.base.id, &view, &q).await?;
    Ok(page(&EnterprisesPage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        items,
        total,
        q: q.q.clone().unwrap_or_default(),
        can_create: access::create_enterprise(&scope).is_ok(),
    }))
}

#[derive(Template)]
#[template(path = "registry/enterprise.html")]
struct EnterprisePage {
    nav: Nav,
    base_code: String,
    e: Enterprise,
}

async fn enterprise_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, id)): Path<(String, String)>,
) -> PageResult<impl IntoResponse> {
    let view = access::enterprises(&scope)?;
    let e = enterprise::get(&state, &scope.base.id, &view, &id).await?;
    Ok(page(&EnterprisePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        e,
    }))
}

#[derive(Template)]
#[template(path = "registry/enterprise_new.html")]
struct NewEnterprisePage {
    nav: Nav,
    base_code: String,
    form: EnterpriseForm,
    errors: FieldErrors,
    industries: Vec<(char, &'static str)>,
}

impl NewEnterprisePage {
    /// (field, label, current value, hint) of each text input, in form order.
    fn text_fields(&self) -> Vec<(&'static str, &'static str, &str, &'static str)> {
        let f = &self.form;
        vec![
            ("name", "企业名称", f.name.as_str(), ""),
            ("uscc", "统一社会信用代码", f.uscc.as_str(), "18位，含校验码"),
            (
                "region_code",
                "所在地行政区划代码",
                f.region_code.as_str(),
                "GB/T 2260 六位代码，如 350105",
            ),
            ("founded_on", "成立日期", f.founded_on.as_str(), "YYYY-MM-DD"),
            (
                "registered_capital_yuan",
                "注册资本（元）",
                f.registered_capital_yuan.as_str(),
                "最多两位小数",
            ),
            ("employees", "从业人数", f.employees.as_str(), ""),
            ("address", "地址", f.address.as_str(), ""),
            ("contact_name", "联系人", f.contact_name.as_str(), ""),
            ("contact_phone", "联系电话", f.contact_phone.as_str(), "手机或固话"),
        ]
    }
}

fn industries() -> Vec<(char, &'static str)> {
    IndustrySection::ALL.iter().map(|s| (s.code(), s.name())).collect()
}

async fn new_enterprise_page(PageScope(scope): PageScope) -> PageResult<impl IntoResponse> {
    access::create_enterprise(&scope)?;
    Ok(page(&NewEnterprisePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        form: EnterpriseForm::default(),
        errors: FieldErrors::default(),
        industries: industries(),
    }))
}

#[derive(Deserialize)]
struct NewEnterpriseSubmit {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: EnterpriseForm,
}

async fn new_enterprise_submit(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Form(body): Form<NewEnterpriseSubmit>,
) -> PageResult<Response> {
    scope.user.check_csrf(&body.csrf)?;
    access::create_enterprise(&scope)?;
    match enterprise::register(&state, &scope.user.actor(), &scope.base.id, &body.form).await {
        Ok(id) => Ok(Redirect::to(&format!("/b/{}/registry/enterprises/{id}", scope.base.code)).into_response()),
        Err(AppError::Validation(fields)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&NewEnterprisePage {
                nav: Nav::for_scope(&scope),
                base_code: scope.base.code.clone(),
                form: body.form,
                errors: FieldErrors(fields),
                industries: industries(),
            }),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// One table row: its cells and whether the record is synthetic demo data.
type Row = (Vec<String>, bool);

/// A simple table page for the directory sections and people.
#[derive(Template)]
#[template(path = "registry/table.html")]
struct TablePage {
    nav: Nav,
    base_code: String,
    title: &'static str,
    section: String,
    headers: Vec<&'static str>,
    rows: Vec<(Vec<String>, bool)>,
    q: String,
    note: &'static str,
}

async fn section_page(
    State(state): State<AppState>,
    PageScope(scope): PageScope,
    Path((_, section)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> PageResult<impl IntoResponse> {
    let base_id = scope.base.id.clone();
    let mut note = "";
    let (title, headers, rows): (&'static str, Vec<&'static str>, Vec<Row>) = match section.as_str() {
        "persons" => {
            access::persons(&scope)?;
            note = "身份证号和手机号已脱敏显示；查看明文须基地管理员权限，并记入审计日志。";
            let items = person::list(&state, &base_id, &q).await?;
            (
                "人才",
                vec!["姓名", "身份证号", "手机号", "人才层次", "工作单位"],
                items
                    .into_iter()
                    .map(|p| {
                        (
                            vec![
                                p.name,
                                p.id_number_masked,
                                p.phone_masked.unwrap_or_default(),
                                person::talent_label(&p.talent_level).into(),
                                p.employer,
                            ],
                            p.synthetic,
                        )
                    })
                    .collect(),
            )
        }
        "carriers" => {
            let items = carrier::list(&state, &base_id, &q).await?;
            (
                "载体（众创空间、孵化器、加速器、产业园）",
                vec!["名称", "类型", "级别", "面积（㎡）", "工位", "入驻率"],
                items
                    .into_iter()
                    .map(|c| {
                        (
                            vec![
                                c.name.clone(),
                                c.kind_label().into(),
                                c.level_label().into(),
                                c.area_m2.to_string(),
                                format!("{}/{}", c.occupied_seats, c.seats),
                                format!("{}%", c.occupancy_percent()),
                            ],
                            c.synthetic,
                        )
                    })
                    .collect(),
            )
        }
        "teams" => {
            let items = directory::teams(&state, &base_id, &q).await?;
            (
                "创业团队",
                vec!["团队", "项目", "负责人", "人数"],
                items
                    .into_iter()
                    .map(|t| {
                        (
                            vec![t.name, t.project, t.leader_name, t.members.to_string()],
                            t.synthetic,
                        )
                    })
                    .collect(),
            )
        }
        "providers" => {
            let items = directory::providers(&state, &base_id, &q).await?;
            (
                "服务机构",
                vec!["名称", "统一社会信用代码", "服务类别"],
                items
                    .into_iter()
                    .map(|p| (vec![p.name, p.uscc, p.categories.join("、")], p.synthetic))
                    .collect(),
            )
        }
        "investors" => {
            let items = directory::investors(&state, &base_id, &q).await?;
            (
                "投资机构与银行",
                vec!["名称", "类型", "基金规模（元）", "关注行业"],
                items
                    .into_iter()
                    .map(|i| {
                        (
                            vec![
                                i.name.clone(),
                                i.kind_label().into(),
                                Fen::from_fen(i.fund_size_fen).to_yuan_string_grouped(),
                                i.focus
                                    .iter()
                                    .filter_map(|f| IndustrySection::parse(f).ok())
                                    .map(|s| s.name())
                                    .collect::<Vec<_>>()
                                    .join("、"),
                            ],
                            i.synthetic,
                        )
                    })
                    .collect(),
            )
        }
        "experts" => {
            let items = directory::experts(&state, &base_id, &q).await?;
            (
                "评审专家",
                vec!["姓名", "单位", "职称", "领域"],
                items
                    .into_iter()
                    .map(|x| (vec![x.name, x.organisation, x.title, x.fields.join("、")], x.synthetic))
                    .collect(),
            )
        }
        "institutes" => {
            let items = directory::institutes(&state, &base_id, &q).await?;
            (
                "高校和科研院所",
                vec!["名称", "类型"],
                items
                    .into_iter()
                    .map(|i| {
                        (
                            vec![
                                i.name,
                                if i.kind == "university" {
                                    "高校".into()
                                } else {
                                    "科研院所".into()
                                },
                            ],
                            i.synthetic,
                        )
                    })
                    .collect(),
            )
        }
        _ => return Err(AppError::NotFound.into()),
    };
    Ok(page(&TablePage {
        nav: Nav::for_scope(&scope),
        base_code: scope.base.code.clone(),
        title,
        section,
        headers,
        rows,
        q: q.q.unwrap_or_default(),
        note,
    }))
}
