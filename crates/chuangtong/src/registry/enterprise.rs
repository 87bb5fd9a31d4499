//! Enterprises (企业): the firms a base serves. Identified within a base by
//! their 统一社会信用代码; the contact phone is personal information.

use chrono::NaiveDate;
use chuangtong_domain::{Fen, IndustrySection, Phone, RegionCode, Uscc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::access::EnterpriseView;
use super::{parse_count, required_text, ListQuery};
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, unique_violation};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// An enterprise as shown (contact phone masked).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Enterprise {
    pub id: String,
    /// 统一社会信用代码
    pub uscc: String,
    pub name: String,
    /// GB/T 2260 code
    pub region_code: String,
    pub region_name: String,
    /// GB/T 4754 section letter
    pub industry: String,
    pub industry_name: String,
    pub founded_on: String,
    /// 注册资本, integer fen
    pub registered_capital_fen: i64,
    pub employees: i64,
    pub high_tech: bool,
    pub address: String,
    pub contact_name: String,
    pub contact_phone_masked: Option<String>,
    /// Generated demo record (模拟数据)
    pub synthetic: bool,
    pub created_at: String,
}

impl Enterprise {
    pub fn capital_display(&self) -> String {
        Fen::from_fen(self.registered_capital_fen).to_yuan_string_grouped()
    }
}

/// The form as submitted (API JSON or HTML form): all text, parsed below.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct EnterpriseForm {
    #[serde(default)]
    pub uscc: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub region_code: String,
    #[serde(default)]
    pub industry: String,
    /// YYYY-MM-DD
    #[serde(default)]
    pub founded_on: String,
    /// 注册资本，元，最多两位小数
    #[serde(default)]
    pub registered_capital_yuan: String,
    #[serde(default)]
    pub employees: String,
    /// "1"/"true"/"on" for 高新技术企业
    #[serde(default)]
    pub high_tech: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_phone: String,
}

/// A valid new enterprise: every field parsed into its domain type.
pub struct NewEnterprise {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    pub industry: IndustrySection,
    pub founded_on: NaiveDate,
    pub registered_capital: Fen,
    pub employees: i64,
    pub high_tech: bool,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: Option<Phone>,
}

impl TryFrom<&EnterpriseForm> for NewEnterprise {
    type Error = FieldErrors;

    fn try_from(f: &EnterpriseForm) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let uscc = e.take("uscc", Uscc::parse(&f.uscc));
        let name = required_text(&mut e, "name", "企业名称", &f.name, 100);
        let region = e.take("region_code", RegionCode::parse(&f.region_code));
        let industry = e.take("industry", IndustrySection::parse(&f.industry));
        let founded_on = match NaiveDate::parse_from_str(f.founded_on.trim(), "%Y-%m-%d") {
            Ok(d) if d <= time::today() => Some(d),
            Ok(_) => {
                e.push("founded_on", "date.future", "成立日期不能晚于今天");
                None
            }
            Err(_) => {
                e.push("founded_on", "date.format", "成立日期格式应为YYYY-MM-DD");
                None
            }
        };
        let registered_capital = e.take(
            "registered_capital_yuan",
            Fen::from_yuan_str(&f.registered_capital_yuan),
        );
        let employees = parse_count(&mut e, "employees", "从业人数", &f.employees);
        let contact_phone = if f.contact_phone.trim().is_empty() {
            Some(None)
        } else {
            e.take("contact_phone", Phone::parse(&f.contact_phone)).map(Some)
        };
        let address = f.address.trim().to_string();
        if address.chars().count() > 200 {
            e.push("address", "text.too_long", "地址不能超过200个字");
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(NewEnterprise {
            uscc: uscc.expect("checked"),
            name: name.expect("checked"),
            region: region.expect("checked"),
            industry: industry.expect("checked"),
            founded_on: founded_on.expect("checked"),
            registered_capital: registered_capital.expect("checked"),
            employees: employees.expect("checked"),
            high_tech: matches!(f.high_tech.as_deref(), Some("1" | "true" | "on")),
            address,
            contact_name: f.contact_name.trim().to_string(),
            contact_phone: contact_phone.expect("checked"),
        })
    }
}

const COLUMNS: &str = "id, uscc, name, region_code, industry, founded_on, registered_capital_fen, employees, \
    high_tech, address, contact_name, contact_phone_enc, synthetic, created_at";

fn from_row(state: &AppState, r: &sqlx::any::AnyRow) -> Enterprise {
    let region_code: String = r.get(3);
    let industry: String = r.get(4);
    let phone_enc: Option<String> = r.get(11);
    Enterprise {
        id: r.get(0),
        uscc: r.get(1),
        name: r.get(2),
        region_name: RegionCode::parse(&region_code)
            .map(|c| c.full_name())
            .unwrap_or_default(),
        region_code,
        industry_name: IndustrySection::parse(&industry)
            .map(|s| s.name().to_string())
            .unwrap_or_default(),
        industry,
        founded_on: r.get(5),
        registered_capital_fen: r.get(6),
        employees: r.get(7),
        high_tech: r.get::<i64, _>(8) == 1,
        address: r.get(9),
        contact_name: r.get(10),
        contact_phone_masked: phone_enc
            .and_then(|c| state.keys.decrypt_pii(&c).ok())
            .and_then(|p| Phone::parse(&p).ok())
            .map(|p| p.masked()),
        synthetic: r.get::<i64, _>(12) == 1,
        created_at: r.get(13),
    }
}

pub async fn list(
    state: &AppState,
    base_id: &str,
    view: &EnterpriseView,
    q: &ListQuery,
) -> Result<(Vec<Enterprise>, i64), AppError> {
    let own = match view {
        EnterpriseView::All => None,
        EnterpriseView::Own(id) => Some(id.as_str()),
    };
    // `$3 IS NULL OR id = $3` keeps one statement for both views.
    let filter = "base_id = $1 AND name LIKE $2 ESCAPE '\\' AND (CAST($3 AS TEXT) IS NULL OR id = $3)";
    let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM enterprises WHERE {filter}"))
        .bind(base_id)
        .bind(q.like())
        .bind(own)
        .fetch_one(state.db.pool())
        .await?
        .get(0);
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM enterprises WHERE {filter} ORDER BY name, id LIMIT $4 OFFSET $5"
    ))
    .bind(base_id)
    .bind(q.like())
    .bind(own)
    .bind(ListQuery::PER_PAGE)
    .bind(q.offset())
    .fetch_all(state.db.pool())
    .await?;
    Ok((rows.iter().map(|r| from_row(state, r)).collect(), total))
}

/// One enterprise of the base, if the view allows it; otherwise "not found"
/// (an enterprise account cannot probe for other firms' ids).
pub async fn get(state: &AppState, base_id: &str, view: &EnterpriseView, id: &str) -> Result<Enterprise, AppError> {
    if let EnterpriseView::Own(own) = view {
        if own != id {
            return Err(AppError::NotFound);
        }
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM enterprises WHERE base_id = $1 AND id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(from_row(state, &row))
}

pub struct Origin {
    pub synthetic: bool,
}

pub async fn create(
    state: &AppState,
    tx: &mut crate::storage::Tx,
    actor: &Actor,
    base_id: &str,
    e: &NewEnterprise,
    origin: Origin,
) -> Result<String, AppError> {
    let id = crate::new_id();
    let now = time::now_text();
    let result = sqlx::query(&format!(
        "INSERT INTO enterprises ({COLUMNS}, base_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $14)"
    ))
    .bind(&id)
    .bind(e.uscc.as_str())
    .bind(&e.name)
    .bind(e.region.as_str())
    .bind(e.industry.code().to_string())
    .bind(e.founded_on.to_string())
    .bind(e.registered_capital.fen())
    .bind(e.employees)
    .bind(e.high_tech as i64)
    .bind(&e.address)
    .bind(&e.contact_name)
    .bind(e.contact_phone.as_ref().map(|p| state.keys.encrypt_pii(p.as_str())))
    .bind(origin.synthetic as i64)
    .bind(&now)
    .bind(base_id)
    .execute(&mut **tx)
    .await;
    if let Err(err) = result {
        return Err(if unique_violation(&err) {
            AppError::field(
                "uscc",
                "uscc.duplicate",
                format!("统一社会信用代码 {} 已在本基地登记", e.uscc),
            )
        } else {
            err.into()
        });
    }
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "enterprise.created",
            entity: "enterprise",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({
                "uscc": e.uscc.as_str(), "name": e.name, "region_code": e.region.as_str(),
                "industry": e.industry.code().to_string(), "founded_on": e.founded_on.to_string(),
                "registered_capital_fen": e.registered_capital.fen(), "employees": e.employees,
                "high_tech": e.high_tech, "contact_phone": e.contact_phone.as_ref().map(|p| p.masked()),
                "synthetic": origin.synthetic,
            })),
        },
    )
    .await?;
    Ok(id)
}

/// The use case behind "登记企业": one transaction, one audit entry.
pub async fn register(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    form: &EnterpriseForm,
) -> Result<String, AppError> {
    let new = NewEnterprise::try_from(form).map_err(|e| AppError::Validation(e.0))?;
    let mut tx = state.db.begin().await?;
    let id = create(state, &mut tx, actor, base_id, &new, Origin { synthetic: false }).await?;
    tx.commit().await?;
    Ok(id)
}

/// The contact phone in clear, for a role that needs it; the viewing is audited.
pub async fn reveal_contact(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    id: &str,
) -> Result<Option<String>, AppError> {
    let mut tx = state.db.begin().await?;
    let enc: Option<String> = sqlx::query("SELECT contact_phone_enc FROM enterprises WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?
        .get(0);
    let phone = enc.map(|c| state.keys.decrypt_pii(&c)).transpose()?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "pii.viewed",
            entity: "enterprise",
            entity_id: Some(id),
            before: None,
            after: Some(json!({ "fields": ["contact_phone"] })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(phone)
}
