//! Tenancy: the bases a deployment hosts, each base's organisation tree
//! (province → city → district → park → station) and the figures each base
//! reports (from the seed, with the line they come from).

pub mod routes;

use serde::Serialize;
use sqlx::Row;

use crate::auth::CurrentUser;
use crate::storage::Db;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Base {
    pub id: String,
    pub code: String,
    pub name: String,
    /// region | university | enterprise
    pub kind: String,
    pub province: Option<String>,
    pub city: Option<String>,
    pub region_code: Option<String>,
    /// "from-to" line range of the base's report in the seed
    pub seed_lines: Option<String>,
}

impl Base {
    pub fn kind_label(&self) -> &'static str {
        kind_label(&self.kind)
    }
}

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "region" => "区域示范基地",
        "university" => "高校和科研院所示范基地",
        "enterprise" => "企业示范基地",
        _ => "示范基地",
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Indicator {
    pub key: String,
    pub name: String,
    /// Decimal exactly as reported (never a float)
    pub value: String,
    pub unit: String,
    pub period: String,
    /// Line of data/seed/first-28-bases.txt the figure comes from
    pub source_line: Option<i64>,
    pub quote: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OrgUnit {
    pub id: String,
    pub parent_id: Option<String>,
    /// province | city | district | park | station
    pub level: String,
    pub name: String,
    pub region_code: Option<String>,
}

impl OrgUnit {
    pub fn level_label(&self) -> &'static str {
        match self.level.as_str() {
            "province" => "省",
            "city" => "市",
            "district" => "区县",
            "park" => "园区",
            "station" => "街道/社区服务站",
            _ => "",
        }
    }
}

const BASE_COLUMNS: &str = "id, code, name, kind, province, city, region_code, seed_lines";

fn base_from_row(r: &sqlx::any::AnyRow) -> Base {
    Base {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        kind: r.get(3),
        province: r.get(4),
        city: r.get(5),
        region_code: r.get(6),
        seed_lines: r.get(7),
    }
}

/// The bases a user may enter: their memberships, or every base for a platform administrator.
pub async fn visible_bases(db: &Db, user: &CurrentUser) -> sqlx::Result<Vec<Base>> {
    let rows = if user.platform_admin {
        sqlx::query(&format!("SELECT {BASE_COLUMNS} FROM bases ORDER BY code"))
            .fetch_all(db.pool())
            .await?
    } else {
        sqlx::query(&format!(
            "SELECT {BASE_COLUMNS} FROM bases WHERE id IN (SELECT base_id FROM memberships WHERE user_id = $1) ORDER BY code"
        ))
        .bind(&user.id)
        .fetch_all(db.pool())
        .await?
    };
    Ok(rows.iter().map(base_from_row).collect())
}

pub async fn get_base(db: &Db, base_id: &str) -> sqlx::Result<Base> {
    let r = sqlx::query(&format!("SELECT {BASE_COLUMNS} FROM bases WHERE id = $1"))
        .bind(base_id)
        .fetch_one(db.pool())
        .await?;
    Ok(base_from_row(&r))
}

pub async fn indicators(db: &Db, base_id: &str) -> sqlx::Result<Vec<Indicator>> {
    let rows = sqlx::query(
        "SELECT key, name, value, unit, period, source_line, quote FROM base_indicators \
         WHERE base_id = $1 ORDER BY position",
    )
    .bind(base_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Indicator {
            key: r.get(0),
            name: r.get(1),
            value: r.get(2),
            unit: r.get(3),
            period: r.get(4),
            source_line: r.get(5),
            quote: r.get(6),
        })
        .collect())
}

pub async fn org_units(db: &Db, base_id: &str) -> sqlx::Result<Vec<OrgUnit>> {
    let rows = sqlx::query(
        "SELECT id, parent_id, level, name, region_code FROM org_units WHERE base_id = $1 ORDER BY position, name",
    )
    .bind(base_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| OrgUnit {
            id: r.get(0),
            parent_id: r.get(1),
            level: r.get(2),
            name: r.get(3),
            region_code: r.get(4),
        })
        .collect())
}

/// The organisation tree flattened in display order with its depth, for pages.
pub fn tree_rows(units: &[OrgUnit]) -> Vec<(usize, &OrgUnit)> {
    fn walk<'a>(units: &'a [OrgUnit], parent: Option<&str>, depth: usize, out: &mut Vec<(usize, &'a OrgUnit)>) {
        for u in units.iter().filter(|u| u.parent_id.as_deref() == parent) {
            out.push((depth, u));
            walk(units, Some(&u.id), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(units, None, 0, &mut out);
    out
}

/// Counts of registry records, shown on the base overview.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RegistryCounts {
    pub enterprises: i64,
    pub teams: i64,
    pub persons: i64,
    pub carriers: i64,
    pub providers: i64,
    pub investors: i64,
    pub experts: i64,
    pub institutes: i64,
}

pub async fn registry_counts(db: &Db, base_id: &str) -> sqlx::Result<RegistryCounts> {
    let count = |table: &'static str| {
        let db = db.clone();
        let base_id = base_id.to_string();
        async move {
            sqlx::query(&format!("SELECT COUNT(*) FROM {table} WHERE base_id = $1"))
                .bind(base_id)
                .fetch_one(db.pool())
                .await
                .map(|r| r.get::<i64, _>(0))
        }
    };
    Ok(RegistryCounts {
        enterprises: count("enterprises").await?,
        teams: count("teams").await?,
        persons: count("persons").await?,
        carriers: count("carriers").await?,
        providers: count("providers").await?,
        investors: count("investors").await?,
        experts: count("experts").await?,
        institutes: count("institutes").await?,
    })
}
