//! The 28 bases and their reported figures from data/demo/bases.json.

use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::AppState;

const BASES_JSON: &str = include_str!("../../../../data/demo/bases.json");

#[derive(Deserialize)]
struct JsonBase {
    code: String,
    name: String,
    kind: String,
    province: Option<String>,
    city: Option<String>,
    region_code: Option<String>,
    seed_lines: [i64; 2],
    indicators: Vec<JsonIndicator>,
}

#[derive(Deserialize)]
struct JsonIndicator {
    key: String,
    name: String,
    value: String,
    unit: String,
    period: String,
    line: i64,
    quote: String,
}

/// A base as inserted, for the rest of the demo loader.
pub struct SeedBase {
    pub id: String,
    pub code: String,
    pub name: String,
    pub region_code: Option<String>,
}

pub async fn load_bases(state: &AppState, tx: &mut Tx, actor: &Actor) -> anyhow::Result<Vec<SeedBase>> {
    let bases: Vec<JsonBase> = serde_json::from_str(BASES_JSON)?;
    let now = time::now_text();
    let mut out = Vec::new();
    for b in bases {
        let id = crate::new_id();
        let seed_lines = format!("{}-{}", b.seed_lines[0], b.seed_lines[1]);
        sqlx::query(
            "INSERT INTO bases (id, code, name, kind, province, city, region_code, seed_lines, synthetic, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)",
        )
        .bind(&id)
        .bind(&b.code)
        .bind(&b.name)
        .bind(&b.kind)
        .bind(&b.province)
        .bind(&b.city)
        .bind(&b.region_code)
        .bind(&seed_lines)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
        for (pos, i) in b.indicators.iter().enumerate() {
            sqlx::query(
                "INSERT INTO base_indicators (id, base_id, key, name, value, unit, period, source_line, quote, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(crate::new_id())
            .bind(&id)
            .bind(&i.key)
            .bind(&i.name)
            .bind(&i.value)
            .bind(&i.unit)
            .bind(&i.period)
            .bind(i.line)
            .bind(&i.quote)
            .bind(pos as i64)
            .execute(&mut **tx)
            .await?;
        }
        audit::append(
            tx,
            &state.keys,
            actor,
            Entry {
                base_id: None,
                action: "base.created",
                entity: "base",
                entity_id: Some(&id),
                before: None,
                after: Some(json!({ "code": b.code, "name": b.name, "kind": b.kind, "indicators": b.indicators.len(), "seed_lines": seed_lines })),
            },
        )
        .await?;
        out.push(SeedBase {
            id,
            code: b.code,
            name: b.name,
            region_code: b.region_code,
        });
    }
    Ok(out)
}
