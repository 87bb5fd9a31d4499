//! People and talents (人才). The 居民身份证号 and phone are personal
//! information (PIPL): stored SM4-GCM encrypted, shown masked, and revealed
//! only to base admins with an audit entry for every reveal.

use chuangtong_domain::{IdCardNumber, Phone};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::{required_text, ListQuery};
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, unique_violation, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

pub const TALENT_LEVELS: [(&str, &str); 5] = [
    ("none", "未认定"),
    ("a", "A类（国际顶尖）"),
    ("b", "B类（国家级领军）"),
    ("c", "C类（省级领军）"),
    ("d", "D类（市级高层次）"),
];

pub fn talent_label(code: &str) -> &'static str {
    TALENT_LEVELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or("未认定")
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    /// e.g. 110***********123X
    pub id_number_masked: String,
    pub phone_masked: Option<String>,
    pub talent_level: String,
    pub employer: String,
    pub synthetic: bool,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PersonForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub talent_level: String,
    #[serde(default)]
    pub employer: String,
}

pub struct NewPerson {
    pub name: String,
    pub id_number: IdCardNumber,
    pub phone: Option<Phone>,
    pub talent_level: &'static str,
    pub employer: String,
}

impl TryFrom<&PersonForm> for NewPerson {
    type Error = FieldErrors;

    fn try_from(f: &PersonForm) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = required_text(&mut e, "name", "姓名", &f.name, 50);
        let id_number = e.take("id_number", IdCardNumber::parse(&f.id_number));
        let phone = if f.phone.trim().is_empty() {
            Some(None)
        } else {
            e.take("phone", Phone::parse(&f.phone)).map(Some)
        };
        let level = if f.talent_level.trim().is_empty() {
            "none"
        } else {
            f.talent_level.trim()
        };
        let talent_level = TALENT_LEVELS.iter().find(|(c, _)| *c == level).map(|(c, _)| *c);
        if talent_level.is_none() {
            e.push(
                "talent_level",
                "talent_level.unknown",
                format!("人才层次“{level}”不在可选范围内"),
            );
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(NewPerson {
            name: name.expect("checked"),
            id_number: id_number.expect("checked"),
            phone: phone.expect("checked"),
            talent_level: talent_level.expect("checked"),
            employer: f.employer.trim().to_string(),
        })
    }
}

pub async fn create(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    base_id: &str,
    p: &NewPerson,
    synthetic: bool,
) -> Result<String, AppError> {
    let id = crate::new_id();
    let result = sqlx::query(
        "INSERT INTO persons (id, base_id, name, id_number_enc, id_number_digest, id_number_masked, phone_enc, \
         phone_masked, talent_level, employer, synthetic, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&p.name)
    .bind(state.keys.encrypt_pii(p.id_number.as_str()))
    .bind(state.keys.pii_digest(p.id_number.as_str()))
    .bind(p.id_number.masked())
    .bind(p.phone.as_ref().map(|ph| state.keys.encrypt_pii(ph.as_str())))
    .bind(p.phone.as_ref().map(|ph| ph.masked()))
    .bind(p.talent_level)
    .bind(&p.employer)
    .bind(synthetic as i64)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await;
    if let Err(err) = result {
        return Err(if unique_violation(&err) {
            AppError::field("id_number", "id_number.duplicate", "该身份证号已在本基地登记")
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
            action: "person.created",
            entity: "person",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({ "name": p.name, "id_number": p.id_number.masked(),
                "phone": p.phone.as_ref().map(|ph| ph.masked()), "talent_level": p.talent_level, "synthetic": synthetic })),
        },
    )
    .await?;
    Ok(id)
}

pub async fn register(state: &AppState, actor: &Actor, base_id: &str, form: &PersonForm) -> Result<String, AppError> {
    let new = NewPerson::try_from(form).map_err(|e| AppError::Validation(e.0))?;
    let mut tx = state.db.begin().await?;
    let id = create(state, &mut tx, actor, base_id, &new, false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn list(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Person>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, id_number_masked, phone_masked, talent_level, employer, synthetic FROM persons \
         WHERE base_id = $1 AND name LIKE $2 ESCAPE '\\' ORDER BY name, id LIMIT $3 OFFSET $4",
    )
    .bind(base_id)
    .bind(q.like())
    .bind(ListQuery::PER_PAGE)
    .bind(q.offset())
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Person {
            id: r.get(0),
            name: r.get(1),
            id_number_masked: r.get(2),
            phone_masked: r.get(3),
            talent_level: r.get(4),
            employer: r.get(5),
            synthetic: r.get::<i64, _>(6) == 1,
        })
        .collect())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub id_number: String,
    pub phone: Option<String>,
}

/// The unmasked ID number and phone; the reveal is audited in the same transaction.
pub async fn reveal(state: &AppState, actor: &Actor, base_id: &str, id: &str) -> Result<Revealed, AppError> {
    let mut tx = state.db.begin().await?;
    let row = sqlx::query("SELECT id_number_enc, phone_enc FROM persons WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let id_number = state.keys.decrypt_pii(&row.get::<String, _>(0))?;
    let phone = row
        .get::<Option<String>, _>(1)
        .map(|c| state.keys.decrypt_pii(&c))
        .transpose()?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "pii.viewed",
            entity: "person",
            entity_id: Some(id),
            before: None,
            after: Some(json!({ "fields": ["id_number", "phone"] })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Revealed { id_number, phone })
}
