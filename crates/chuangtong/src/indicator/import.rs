//! Import of manually reported indicator values from CSV (UTF-8) or Excel
//! (.xlsx). The whole file is validated first; every problem is listed with
//! its row, column and a reason in Chinese; nothing is imported unless every
//! row is valid. Every attempt, accepted or rejected, goes into the import
//! history.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::catalogue::{self, Definition};
use super::period::Period;
use super::values::{self, CheckedValue, ValueForm};
use crate::audit::{self, Actor, Entry};
use crate::storage::time;
use crate::web::error::{AppError, FieldError};
use crate::web::AppState;

/// Columns of the template; only the first three are read back.
pub const COLUMNS: [&str; 5] = ["指标代码", "时期", "数值", "指标名称（参考）", "单位（参考）"];

/// Largest file accepted (bytes).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Row number as the spreadsheet shows it (the header is row 1)
    pub row: usize,
    /// Column title, e.g. 数值
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// An .xlsx file is a zip archive; anything else is read as CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        if bytes.starts_with(b"PK\x03\x04") {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A file-level problem (unreadable, wrong header): reported as row 0 or 1.
fn file_error(row: usize, code: &str, message: impl Into<String>) -> Vec<RowError> {
    vec![RowError {
        row,
        column: String::new(),
        code: code.into(),
        message: message.into(),
    }]
}

/// Cells of every row, header included, as text.
pub fn read_rows(format: Format, bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    match format {
        Format::Csv => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                file_error(
                    0,
                    "import.encoding",
                    "CSV文件应为UTF-8编码（在Excel中另存为“CSV UTF-8（逗号分隔）”）",
                )
            })?;
            parse_csv(text.trim_start_matches('\u{feff}'))
        }
        Format::Xlsx => read_xlsx(bytes),
    }
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    use calamine::{Data, Reader, Xlsx};
    let unreadable = |_| file_error(0, "import.unreadable", "无法读取Excel文件，请使用模板另存为.xlsx格式");
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).map_err(unreadable)?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| file_error(0, "import.empty", "Excel文件中没有工作表"))?
        .map_err(|_| file_error(0, "import.unreadable", "无法读取第一个工作表"))?;
    let cell = |d: &Data| match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        // A date typed into the 时期 column: ask for text instead of guessing.
        Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_) => "#日期格式".into(),
        Data::Error(_) => "#错误".into(),
    };
    Ok(range.rows().map(|r| r.iter().map(cell).collect()).collect())
}

/// RFC 4180 CSV: commas, double quotes, quoted newlines, CRLF or LF.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(file_error(rows.len() + 1, "import.csv_quote", "引号未闭合"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

fn column_title(field: &str) -> &'static str {
    match field {
        "key" => COLUMNS[0],
        "period" => COLUMNS[1],
        _ => COLUMNS[2],
    }
}

/// Validates every data row; returns the checked values or every error.
pub fn validate(defs: &[Definition], rows: &[Vec<String>]) -> Result<Vec<CheckedValue>, Vec<RowError>> {
    let Some(head) = rows.first() else {
        return Err(file_error(0, "import.empty", "文件为空"));
    };
    let head: Vec<&str> = head.iter().map(|s| s.trim()).collect();
    if head.len() < 3 || head[..3] != COLUMNS[..3] {
        return Err(file_error(
            1,
            "import.header",
            format!("第1行应为表头：{}", COLUMNS[..3].join("，")),
        ));
    }
    let mut checked = Vec::new();
    let mut errors = Vec::new();
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let row = i + 1;
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |n: usize| r.get(n).cloned().unwrap_or_default();
        let form = ValueForm {
            key: get(0),
            period: get(1),
            value: get(2),
        };
        if form.value.trim().is_empty() {
            errors.push(row_error(row, "value", "value.required", "数值为空，请填写或删除本行"));
            continue;
        }
        match values::check(defs, &form) {
            Ok(v) => {
                let id = (v.definition.key.clone(), v.period.to_string());
                if let Some((_, _, first)) = seen.iter().find(|(k, p, _)| (k, p) == (&id.0, &id.1)) {
                    errors.push(row_error(
                        row,
                        "period",
                        "import.duplicate",
                        &format!("与第{first}行重复（同一指标同一时期）"),
                    ));
                } else {
                    seen.push((id.0, id.1, row));
                    checked.push(v);
                }
            }
            Err(e) => errors.extend(e.0.iter().map(|f| from_field_error(row, f))),
        }
    }
    if checked.is_empty() && errors.is_empty() {
        errors.push(row_error(2, "key", "import.no_rows", "文件中没有数据行"));
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

fn row_error(row: usize, field: &str, code: &str, reason: &str) -> RowError {
    let column = column_title(field);
    RowError {
        row,
        column: column.into(),
        code: code.into(),
        message: format!("第{row}行“{column}”列：{reason}"),
    }
}

fn from_field_error(row: usize, f: &FieldError) -> RowError {
    row_error(row, &f.field, &f.code, &f.message)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImportRecord {
    pub id: String,
    pub filename: String,
    /// csv | xlsx
    pub format: String,
    /// imported | rejected
    pub status: String,
    pub rows_total: i64,
    pub rows_imported: i64,
    pub errors: Vec<RowError>,
    pub actor_name: String,
    pub created_at: String,
}

/// The use case behind "导入": validate everything, then either store every
/// value and the history row, or store only the history row with the errors.
/// One transaction either way.
pub async fn run(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    filename: &str,
    bytes: &[u8],
) -> Result<ImportRecord, AppError> {
    let format = Format::sniff(bytes);
    let defs = catalogue::current(state, base_id).await?;
    let rows = read_rows(format, bytes);
    let rows_total = rows.as_ref().map(|r| r.len().saturating_sub(1)).unwrap_or(0) as i64;
    let outcome = rows.and_then(|r| validate(&defs, &r));
    let id = crate::new_id();
    let mut tx = state.db.begin().await?;
    let (status, imported, errors) = match &outcome {
        Ok(checked) => {
            for v in checked {
                values::store(&mut tx, state, actor, base_id, v, "import", Some(&id)).await?;
            }
            ("imported", checked.len() as i64, Vec::new())
        }
        Err(errors) => ("rejected", 0, errors.clone()),
    };
    let record = ImportRecord {
        id: id.clone(),
        filename: clean_filename(filename),
        format: format.as_str().into(),
        status: status.into(),
        rows_total,
        rows_imported: imported,
        errors,
        actor_name: actor.name.clone(),
        created_at: time::now_text(),
    };
    insert_record(&mut tx, base_id, &record).await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: if status == "imported" {
                "indicator.import_applied"
            } else {
                "indicator.import_rejected"
            },
            entity: "indicator_import",
            entity_id: Some(&id),
            before: None,
            after: Some(
                json!({ "filename": record.filename, "rows_total": rows_total, "rows_imported": imported,
                "errors": record.errors.len() }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let short: String = base.chars().take(100).collect();
    if short.is_empty() {
        "未命名文件".into()
    } else {
        short
    }
}

async fn insert_record(tx: &mut crate::storage::Tx, base_id: &str, r: &ImportRecord) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO indicator_imports (id, base_id, filename, format, status, rows_total, rows_imported, errors_json, \
         actor_name, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&r.id)
    .bind(base_id)
    .bind(&r.filename)
    .bind(&r.format)
    .bind(&r.status)
    .bind(r.rows_total)
    .bind(r.rows_imported)
    .bind(serde_json::to_string(&r.errors).map_err(anyhow::Error::from)?)
    .bind(&r.actor_name)
    .bind(&r.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The import history of a base, newest first.
pub async fn history(state: &AppState, base_id: &str) -> Result<Vec<ImportRecord>, AppError> {
    let rows = sqlx::query(
        "SELECT id, filename, format, status, rows_total, rows_imported, errors_json, actor_name, created_at \
         FROM indicator_imports WHERE base_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100",
    )
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ImportRecord {
            id: r.get(0),
            filename: r.get(1),
            format: r.get(2),
            status: r.get(3),
            rows_total: r.get(4),
            rows_imported: r.get(5),
            errors: serde_json::from_str(&r.get::<String, _>(6)).unwrap_or_default(),
            actor_name: r.get(7),
            created_at: r.get(8),
        })
        .collect())
}

/// Template rows: one per manual indicator, for its current period, value left empty.
pub fn template_rows(defs: &[Definition], month: Period) -> Vec<[String; 5]> {
    defs.iter()
        .filter(|d| d.is_manual())
        .map(|d| {
            [
                d.key.clone(),
                month.enclosing(d.period_kind()).to_string(),
                String::new(),
                d.name.clone(),
                if d.value_type() == super::measure::ValueType::Fen {
                    "分".into()
                } else {
                    d.unit.clone()
                },
            ]
        })
        .collect()
}

/// The CSV template (UTF-8 with BOM so Excel opens it as UTF-8).
pub fn template_csv(rows: &[[String; 5]]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_bom_and_crlf() {
        let rows = parse_csv("a,\"b,\"\"c\"\"\",d\r\n1,2,3\n").unwrap();
        assert_eq!(rows, vec![vec!["a", "b,\"c\"", "d"], vec!["1", "2", "3"]]);
        assert!(parse_csv("a,\"b\n").is_err());
    }

    #[test]
    fn file_names_lose_their_directories() {
        assert_eq!(clean_filename("C:\\Users\\x\\报表.csv"), "报表.csv");
        assert_eq!(clean_filename(""), "未命名文件");
    }
}
