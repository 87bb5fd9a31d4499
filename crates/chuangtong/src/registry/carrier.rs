//! Carriers (载体): 众创空间, 孵化器, 加速器, 产业园 — with their recognition
//! level, floor area, seats and occupancy.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::{parse_count, required_text, ListQuery};
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

pub const KINDS: [(&str, &str); 4] = [
    ("makerspace", "众创空间"),
    ("incubator", "孵化器"),
    ("accelerator", "加速器"),
    ("industrial_park", "产业园"),
];

pub const LEVELS: [(&str, &str); 4] = [
    ("national", "国家级"),
    ("provincial", "省级"),
    ("municipal", "市级"),
    ("none", "未认定"),
];

fn label(table: &[(&'static str, &'static str)], code: &str) -> &'static str {
    table.iter().find(|(c, _)| *c == code).map(|(_, l)| *l).unwrap_or("")
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Carrier {
    pub id: String,
    pub name: String,
    /// makerspace | incubator | accelerator | industrial_park
    pub kind: String,
    /// national | provincial | municipal | none
    pub level: String,
    pub area_m2: i64,
    pub seats: i64,
    pub occupied_seats: i64,
    pub synthetic: bool,
}

impl Carrier {
    pub fn kind_label(&self) -> &'static str {
        label(&KINDS, &self.kind)
    }
    pub fn level_label(&self) -> &'static str {
        label(&LEVELS, &self.level)
    }
    /// Occupancy in whole percent, rounded down (integers only, no floats).
    pub fn occupancy_percent(&self) -> i64 {
        if self.seats == 0 {
            0
        } else {
            self.occupied_seats * 100 / self.seats
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CarrierForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub area_m2: String,
    #[serde(default)]
    pub seats: String,
    #[serde(default)]
    pub occupied_seats: String,
}

pub struct NewCarrier {
    pub name: String,
    pub kind: &'static str,
    pub level: &'static str,
    pub area_m2: i64,
    pub seats: i64,
    pub occupied_seats: i64,
}

impl TryFrom<&CarrierForm> for NewCarrier {
    type Error = FieldErrors;

    fn try_from(f: &CarrierForm) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = required_text(&mut e, "name", "载体名称", &f.name, 100);
        let kind = KINDS.iter().find(|(c, _)| *c == f.kind.trim()).map(|(c, _)| *c);
        if kind.is_none() {
            e.push("kind", "carrier.kind", "载体类型应为众创空间、孵化器、加速器或产业园");
        }
        let level = LEVELS.iter().find(|(c, _)| *c == f.level.trim()).map(|(c, _)| *c);
        if level.is_none() {
            e.push("level", "carrier.level", "认定级别应为国家级、省级、市级或未认定");
        }
        let area = parse_count(&mut e, "area_m2", "面积（平方米）", &f.area_m2);
        let seats = parse_count(&mut e, "seats", "工位数", &f.seats);
        let occupied = parse_count(&mut e, "occupied_seats", "已入驻工位数", &f.occupied_seats);
        if let (Some(s), Some(o)) = (seats, occupied) {
            if o > s {
                e.push(
                    "occupied_seats",
                    "carrier.over_occupied",
                    format!("已入驻工位数（{o}）不能超过工位数（{s}）"),
                );
            }
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(NewCarrier {
            name: name.expect("checked"),
            kind: kind.expect("checked"),
            level: level.expect("checked"),
            area_m2: area.expect("checked"),
            seats: seats.expect("checked"),
            occupied_seats: occupied.expect("checked"),
        })
    }
}

pub async fn create(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    base_id: &str,
    c: &NewCarrier,
    synthetic: bool,
) -> Result<String, AppError> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO carriers (id, base_id, name, kind, level, area_m2, seats, occupied_seats, synthetic, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&c.name)
    .bind(c.kind)
    .bind(c.level)
    .bind(c.area_m2)
    .bind(c.seats)
    .bind(c.occupied_seats)
    .bind(synthetic as i64)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "carrier.created",
            entity: "carrier",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "name": c.name, "kind": c.kind, "level": c.level, "area_m2": c.area_m2,
                "seats": c.seats, "occupied_seats": c.occupied_seats, "synthetic": synthetic }),
            ),
        },
    )
    .await?;
    Ok(id)
}

pub async fn register(state: &AppState, actor: &Actor, base_id: &str, form: &CarrierForm) -> Result<String, AppError> {
    let new = NewCarrier::try_from(form).map_err(|e| AppError::Validation(e.0))?;
    let mut tx = state.db.begin().await?;
    let id = create(state, &mut tx, actor, base_id, &new, false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn list(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Carrier>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, kind, level, area_m2, seats, occupied_seats, synthetic FROM carriers \
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
        .map(|r| Carrier {
            id: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            level: r.get(3),
            area_m2: r.get(4),
            seats: r.get(5),
            occupied_seats: r.get(6),
            synthetic: r.get::<i64, _>(7) == 1,
        })
        .collect())
}
