//! The figures the 28 first-batch bases reported (table base_indicators,
//! loaded from data/demo/bases.json), brought to a common unit so they can be
//! compared, and the seed text they were read from, so every figure on a
//! chart can be checked against its source line.

use serde::Serialize;
use sqlx::Row;

use super::measure::{parse_decimal, COUNT_SCALE};
use crate::storage::Db;

const SEED_TEXT: &str = include_str!("../../../../data/seed/first-28-bases.txt");

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SeedFigure {
    pub base_code: String,
    pub base_name: String,
    pub key: String,
    /// The base's own wording of the figure
    pub name: String,
    /// Decimal as reported
    pub value: String,
    pub unit: String,
    pub period: String,
    pub source_line: Option<i64>,
    pub quote: Option<String>,
    /// Value in the common unit (whole units, rounded down), when the unit is known
    pub common_value: Option<i64>,
    pub common_unit: Option<String>,
}

/// Multipliers of the Chinese number words used in the seed's units.
const PREFIXES: [(&str, i128); 5] = [
    ("千万", 10_000_000),
    ("亿", 100_000_000),
    ("万", 10_000),
    ("千", 1_000),
    ("百", 100),
];

/// Spellings of the same unit, mapped to one.
const SYNONYMS: [(&str, &str); 6] = [
    ("平米", "平方米"),
    ("㎡", "平方米"),
    ("场次", "场"),
    ("户", "家"),
    ("名", "人"),
    ("项", "件"),
];

/// "377.35" 万平方米 → (3773500, "平方米"). Percentages and unknown forms give None.
pub fn to_common_unit(value: &str, unit: &str) -> Option<(i64, String)> {
    let raw = parse_decimal(value.trim())?;
    let unit = unit.trim();
    if unit.contains('%') {
        return None;
    }
    let (factor, rest) = PREFIXES
        .iter()
        .find(|(p, _)| unit.starts_with(p))
        .map(|(p, f)| (*f, &unit[p.len()..]))
        .unwrap_or((1, unit));
    let rest = SYNONYMS
        .iter()
        .find(|(s, _)| *s == rest)
        .map(|(_, c)| *c)
        .unwrap_or(rest);
    let whole = raw * factor / COUNT_SCALE;
    i64::try_from(whole).ok().map(|w| (w, rest.to_string()))
}

const COLUMNS: &str = "b.code, b.name, i.key, i.name, i.value, i.unit, i.period, i.source_line, i.quote";

fn from_row(r: &sqlx::any::AnyRow) -> SeedFigure {
    let value: String = r.get(4);
    let unit: String = r.get(5);
    let common = to_common_unit(&value, &unit);
    SeedFigure {
        base_code: r.get(0),
        base_name: r.get(1),
        key: r.get(2),
        name: r.get(3),
        value,
        unit,
        period: r.get(6),
        source_line: r.get(7),
        quote: r.get(8),
        common_value: common.as_ref().map(|c| c.0),
        common_unit: common.map(|c| c.1),
    }
}

/// Every base's figure for one key, largest first in the common unit.
pub async fn across_bases(db: &Db, key: &str) -> sqlx::Result<Vec<SeedFigure>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM base_indicators i JOIN bases b ON b.id = i.base_id WHERE i.key = $1 ORDER BY b.code, i.position"
    ))
    .bind(key)
    .fetch_all(db.pool())
    .await?;
    let mut figures: Vec<SeedFigure> = rows.iter().map(from_row).collect();
    figures.sort_by(|a, b| b.common_value.cmp(&a.common_value).then(a.base_code.cmp(&b.base_code)));
    Ok(figures)
}

/// One base's reported figures in the seed's order.
pub async fn of_base(db: &Db, base_id: &str) -> sqlx::Result<Vec<SeedFigure>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM base_indicators i JOIN bases b ON b.id = i.base_id WHERE i.base_id = $1 ORDER BY i.position"
    ))
    .bind(base_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The figures read from one line of the seed (usually one).
pub async fn at_line(db: &Db, line: i64) -> sqlx::Result<Vec<SeedFigure>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM base_indicators i JOIN bases b ON b.id = i.base_id WHERE i.source_line = $1 ORDER BY b.code, i.position"
    ))
    .bind(line)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Keys reported by at least two bases, with how many report them, most common first.
pub async fn comparable_keys(db: &Db) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT key, MIN(name), COUNT(DISTINCT base_id) FROM base_indicators GROUP BY key \
         HAVING COUNT(DISTINCT base_id) >= 2 ORDER BY COUNT(DISTINCT base_id) DESC, key",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Lines `line-3 ..= line+3` of the seed, numbered, for the source view.
pub fn excerpt(line: usize) -> Vec<(usize, &'static str)> {
    let first = line.saturating_sub(3).max(1);
    SEED_TEXT
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(first - 1)
        .take(line + 4 - first)
        .collect()
}

pub fn seed_line_count() -> usize {
    SEED_TEXT.lines().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_units_come_to_a_common_unit_exactly() {
        assert_eq!(to_common_unit("377.35", "万平方米"), Some((3_773_500, "平方米".into())));
        assert_eq!(to_common_unit("10", "万㎡"), Some((100_000, "平方米".into())));
        assert_eq!(to_common_unit("5400", "平米"), Some((5_400, "平方米".into())));
        assert_eq!(to_common_unit("95.7", "亿元"), Some((9_570_000_000, "元".into())));
        assert_eq!(to_common_unit("3000", "万元"), Some((30_000_000, "元".into())));
        assert_eq!(to_common_unit("3558", "户"), Some((3_558, "家".into())));
        assert_eq!(to_common_unit("4", "万家"), Some((40_000, "家".into())));
        assert_eq!(to_common_unit("12", "%"), None);
    }

    #[test]
    fn excerpt_is_centred_on_the_line() {
        let lines = excerpt(10);
        assert_eq!(lines.first().unwrap().0, 7);
        assert_eq!(lines.last().unwrap().0, 13);
        assert_eq!(excerpt(1).first().unwrap().0, 1);
    }
}
