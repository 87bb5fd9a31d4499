//! The base's directory: teams (创业团队), service providers (服务机构),
//! investors (投资机构/银行), experts (评审专家) and universities/institutes
//! (高校院所). Every member of the base may read it.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::ListQuery;
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub project: String,
    pub leader_name: String,
    pub members: i64,
    pub synthetic: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub uscc: String,
    /// Service categories (专利服务、技术检测…)
    pub categories: Vec<String>,
    pub synthetic: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Investor {
    pub id: String,
    pub name: String,
    /// angel | vc | bank | guidance_fund
    pub kind: String,
    pub fund_size_fen: i64,
    /// GB/T 4754 section letters of interest
    pub focus: Vec<String>,
    pub synthetic: bool,
}

impl Investor {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "angel" => "天使投资",
            "vc" => "创业投资",
            "bank" => "银行",
            "guidance_fund" => "政府引导基金",
            _ => "",
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Expert {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub title: String,
    pub fields: Vec<String>,
    pub synthetic: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Institute {
    pub id: String,
    pub name: String,
    /// university | institute
    pub kind: String,
    pub synthetic: bool,
}

fn split(s: String) -> Vec<String> {
    s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

async fn rows(state: &AppState, sql: &str, base_id: &str, q: &ListQuery) -> Result<Vec<sqlx::any::AnyRow>, AppError> {
    Ok(sqlx::query(sql)
        .bind(base_id)
        .bind(q.like())
        .bind(ListQuery::PER_PAGE)
        .bind(q.offset())
        .fetch_all(state.db.pool())
        .await?)
}

const PAGE: &str = "base_id = $1 AND name LIKE $2 ESCAPE '\\' ORDER BY name, id LIMIT $3 OFFSET $4";

pub async fn teams(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Team>, AppError> {
    let sql = format!("SELECT id, name, project, leader_name, members, synthetic FROM teams WHERE {PAGE}");
    Ok(rows(state, &sql, base_id, q)
        .await?
        .iter()
        .map(|r| Team {
            id: r.get(0),
            name: r.get(1),
            project: r.get(2),
            leader_name: r.get(3),
            members: r.get(4),
            synthetic: r.get::<i64, _>(5) == 1,
        })
        .collect())
}

pub async fn providers(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Provider>, AppError> {
    let sql = format!("SELECT id, name, uscc, categories, synthetic FROM providers WHERE {PAGE}");
    Ok(rows(state, &sql, base_id, q)
        .await?
        .iter()
        .map(|r| Provider {
            id: r.get(0),
            name: r.get(1),
            uscc: r.get(2),
            categories: split(r.get(3)),
            synthetic: r.get::<i64, _>(4) == 1,
        })
        .collect())
}

pub async fn investors(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Investor>, AppError> {
    let sql = format!("SELECT id, name, kind, fund_size_fen, focus, synthetic FROM investors WHERE {PAGE}");
    Ok(rows(state, &sql, base_id, q)
        .await?
        .iter()
        .map(|r| Investor {
            id: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            fund_size_fen: r.get(3),
            focus: split(r.get(4)),
            synthetic: r.get::<i64, _>(5) == 1,
        })
        .collect())
}

pub async fn experts(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Expert>, AppError> {
    let sql = format!("SELECT id, name, organisation, title, fields, synthetic FROM experts WHERE {PAGE}");
    Ok(rows(state, &sql, base_id, q)
        .await?
        .iter()
        .map(|r| Expert {
            id: r.get(0),
            name: r.get(1),
            organisation: r.get(2),
            title: r.get(3),
            fields: split(r.get(4)),
            synthetic: r.get::<i64, _>(5) == 1,
        })
        .collect())
}

pub async fn institutes(state: &AppState, base_id: &str, q: &ListQuery) -> Result<Vec<Institute>, AppError> {
    let sql = format!("SELECT id, name, kind, synthetic FROM institutes WHERE {PAGE}");
    Ok(rows(state, &sql, base_id, q)
        .await?
        .iter()
        .map(|r| Institute {
            id: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            synthetic: r.get::<i64, _>(3) == 1,
        })
        .collect())
}

/// Inserts a directory record and its audit entry. Used by the demo loader;
/// values are already valid there. `fields` holds the column values after
/// (id, base_id) in table order, excluding synthetic and created_at.
pub async fn insert(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    base_id: &str,
    table: DirectoryTable,
    fields: &[DirValue<'_>],
    synthetic: bool,
) -> Result<String, AppError> {
    let id = crate::new_id();
    let cols = table.columns();
    assert_eq!(cols.len(), fields.len(), "column count of {}", table.name());
    let placeholders: Vec<String> = (1..=cols.len() + 4).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} (id, base_id, {}, synthetic, created_at) VALUES ({})",
        table.name(),
        cols.join(", "),
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(&id).bind(base_id);
    let mut after = serde_json::Map::new();
    for (c, v) in cols.iter().zip(fields) {
        q = match v {
            DirValue::Text(s) => {
                after.insert(c.to_string(), json!(s));
                q.bind(*s)
            }
            DirValue::Int(n) => {
                after.insert(c.to_string(), json!(n));
                q.bind(*n)
            }
        };
    }
    q.bind(synthetic as i64)
        .bind(time::now_text())
        .execute(&mut **tx)
        .await?;
    after.insert("synthetic".into(), json!(synthetic));
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: table.created_action(),
            entity: table.entity(),
            entity_id: Some(&id),
            before: None,
            after: Some(serde_json::Value::Object(after)),
        },
    )
    .await?;
    Ok(id)
}

pub enum DirValue<'a> {
    Text(&'a str),
    Int(i64),
}

#[derive(Clone, Copy, Debug)]
pub enum DirectoryTable {
    Teams,
    Providers,
    Investors,
    Experts,
    Institutes,
}

impl DirectoryTable {
    fn name(self) -> &'static str {
        match self {
            DirectoryTable::Teams => "teams",
            DirectoryTable::Providers => "providers",
            DirectoryTable::Investors => "investors",
            DirectoryTable::Experts => "experts",
            DirectoryTable::Institutes => "institutes",
        }
    }

    fn entity(self) -> &'static str {
        match self {
            DirectoryTable::Teams => "team",
            DirectoryTable::Providers => "provider",
            DirectoryTable::Investors => "investor",
            DirectoryTable::Experts => "expert",
            DirectoryTable::Institutes => "institute",
        }
    }

    fn created_action(self) -> &'static str {
        match self {
            DirectoryTable::Teams => "team.created",
            DirectoryTable::Providers => "provider.created",
            DirectoryTable::Investors => "investor.created",
            DirectoryTable::Experts => "expert.created",
            DirectoryTable::Institutes => "institute.created",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            DirectoryTable::Teams => &["name", "project", "leader_name", "members"],
            DirectoryTable::Providers => &["name", "uscc", "categories"],
            DirectoryTable::Investors => &["name", "kind", "fund_size_fen", "focus"],
            DirectoryTable::Experts => &["name", "organisation", "title", "fields"],
            DirectoryTable::Institutes => &["name", "kind"],
        }
    }
}
