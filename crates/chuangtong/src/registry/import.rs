//! Batch registration of enterprises from a CSV (UTF-8) or Excel (.xlsx)
//! file — the way a base moves its existing 台账 onto the platform.
//!
//! The file is validated as a whole before anything is written: every row
//! through the same parser as the 登记企业 form (统一社会信用代码 check
//! character, GB/T 2260 region code, GB/T 4754 section, dates, money, phone),
//! plus duplicates inside the file and against the registry. Every problem is
//! listed with its row, column and a reason in Chinese; if there is one,
//! nothing is imported. A valid file is written in one transaction with one
//! audit entry for the whole import (the entry names the import, its file's
//! SM3 digest and row count; the import row keeps who, when and what).
//!
//! Large files run as a background job: the upload returns at once with an
//! import id, and the job records its progress (rows checked) in its
//! `registry_imports` row, which the page polls. A job whose process died is
//! shown as interrupted once its progress has been silent for
//! [`STALE_MINUTES`]; nothing of it was written, so the file can simply be
//! imported again.

use std::collections::{HashMap, HashSet};

use chuangtong_domain::IndustrySection;
use serde::Serialize;
use serde_json::json;
use sm3::{Digest, Sm3};
use sqlx::Row;

use super::enterprise::{EnterpriseForm, NewEnterprise};
use crate::audit::{self, Actor, Entry};
use crate::indicator::import::{Format, RowError};
use crate::storage::{time, unique_violation, Tx};
use crate::web::error::AppError;
use crate::web::AppState;

/// Columns of the template, in order. The first eight are required per row
/// (except 高新技术企业, which may be empty), the last three are optional.
pub const COLUMNS: [&str; 11] = [
    "统一社会信用代码",
    "企业名称",
    "所在地区代码",
    "行业门类",
    "成立日期",
    "注册资本（元）",
    "从业人数",
    "高新技术企业",
    "地址",
    "联系人",
    "联系电话",
];

/// The form field each column fills (the form's parser names its errors by field).
const FIELDS: [&str; 11] = [
    "uscc",
    "name",
    "region_code",
    "industry",
    "founded_on",
    "registered_capital_yuan",
    "employees",
    "high_tech",
    "address",
    "contact_name",
    "contact_phone",
];

/// What each column expects, for the template's notes and the page.
pub const RULES: [&str; 11] = [
    "18位，GB 32100-2015，末位校验码须正确；同一文件内及本基地已登记的不能重复",
    "必填，最长100个字",
    "6位GB/T 2260行政区划代码，如 350105",
    "GB/T 4754-2017门类字母 A–T，或门类名称，如 I 或 信息传输、软件和信息技术服务业",
    "YYYY-MM-DD，不晚于今天",
    "元，最多两位小数，如 1000000.50",
    "非负整数",
    "是 / 否（可留空，视为否）",
    "可选，最长200个字",
    "可选",
    "可选，11位手机号码",
];

/// Largest file accepted (bytes): 100,000 rows of CSV are about 15 MB.
pub const MAX_BYTES: usize = 48 * 1024 * 1024;
/// Errors kept for display; the count is always complete.
pub const MAX_ERRORS_KEPT: usize = 1000;
/// Rows validated between two progress updates.
const PROGRESS_EVERY: usize = 5000;
/// Rows per INSERT statement (16 parameters each, far under both backends' limits).
const INSERT_CHUNK: usize = 200;
/// A running import whose progress row has not moved for this long is shown as interrupted.
pub const STALE_MINUTES: i64 = 15;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: String,
    pub filename: String,
    /// csv | xlsx
    pub format: String,
    /// queued | validating | importing | imported | rejected | failed
    pub status: String,
    pub rows_total: i64,
    pub rows_checked: i64,
    pub rows_imported: i64,
    pub error_count: i64,
    /// The first errors (at most 1000), in row order
    pub errors: Vec<RowError>,
    pub actor_name: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl ImportJob {
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "validating" | "importing")
    }

    /// Progress in whole percent: validation is the first 90%, writing the rest.
    pub fn percent(&self) -> i64 {
        match self.status.as_str() {
            "imported" | "rejected" => 100,
            "importing" => 90,
            _ if self.rows_total > 0 => self.rows_checked * 90 / self.rows_total,
            _ => 0,
        }
    }

    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "queued" => "排队中",
            "validating" => "校验中",
            "importing" => "写入中",
            "imported" => "已导入",
            "rejected" => "有错误，未导入",
            _ => "已中断，未导入",
        }
    }
}

/// Accepts a file: records the job and starts it in the background.
pub async fn start(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Result<ImportJob, AppError> {
    if bytes.is_empty() {
        return Err(AppError::field(
            "file",
            "import.no_file",
            "请选择要导入的CSV或Excel文件",
        ));
    }
    let format = Format::sniff(&bytes);
    let id = crate::new_id();
    let now = time::now_text();
    let filename = clean_filename(filename);
    sqlx::query(
        "INSERT INTO registry_imports (id, base_id, kind, filename, format, status, actor_id, actor_name, created_at, \
         updated_at) VALUES ($1, $2, 'enterprises', $3, $4, 'queued', $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(&filename)
    .bind(format_text(format))
    .bind(&actor.user_id)
    .bind(&actor.name)
    .bind(&now)
    .execute(state.db.pool())
    .await?;
    let job = Job {
        state: state.clone(),
        actor: Actor {
            user_id: actor.user_id.clone(),
            name: actor.name.clone(),
        },
        base_id: base_id.to_string(),
        id: id.clone(),
        filename,
        format,
    };
    tokio::spawn(async move {
        let id = job.id.clone();
        let state = job.state.clone();
        if let Err(e) = job.run(bytes).await {
            tracing::error!(import_id = %id, error = ?e, "registry import failed");
            let _ = mark_failed(&state, &id).await;
        }
    });
    get(state, base_id, &id).await
}

fn format_text(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
    }
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

struct Job {
    state: AppState,
    actor: Actor,
    base_id: String,
    id: String,
    filename: String,
    format: Format,
}

/// A row that passed validation, with its spreadsheet row number.
pub struct CheckedRow {
    pub row: usize,
    pub enterprise: NewEnterprise,
}

impl Job {
    async fn run(self, bytes: Vec<u8>) -> Result<(), AppError> {
        self.progress("validating", 0, 0).await?;
        let digest = hex::encode(Sm3::digest(&bytes));
        let format = self.format;
        let rows = tokio::task::spawn_blocking(move || read_rows(format, &bytes))
            .await
            .map_err(anyhow::Error::from)?;
        let rows = match rows {
            Ok(rows) => rows,
            Err(errors) => return self.reject(0, errors.len(), errors).await,
        };
        let total = rows.len().saturating_sub(1);
        self.progress("validating", total as i64, 0).await?;
        let existing = registered_usccs(&self.state, &self.base_id).await?;
        let mut v = Validator::new(&rows, existing)?;
        while !v.done() {
            v.step(PROGRESS_EVERY);
            self.progress("validating", total as i64, v.checked() as i64).await?;
            tokio::task::yield_now().await;
        }
        let (checked, errors, error_count) = v.finish();
        if error_count > 0 {
            return self.reject(total, error_count, errors).await;
        }
        self.progress("importing", total as i64, total as i64).await?;
        match self.write(&checked, &digest).await {
            Err(AppError::Internal(e)) if e.downcast_ref::<sqlx::Error>().is_some_and(unique_violation) => {
                // Someone registered one of these firms while we validated:
                // name them, as rows, from a fresh look at the registry.
                let now_registered = registered_usccs(&self.state, &self.base_id).await?;
                let errors: Vec<RowError> = checked
                    .iter()
                    .filter(|c| now_registered.contains(c.enterprise.uscc.as_str()))
                    .map(|c| already_registered(c.row, c.enterprise.uscc.as_str()))
                    .collect();
                let n = errors.len().max(1);
                self.reject(total, n, errors).await
            }
            other => other,
        }
    }

    async fn progress(&self, status: &str, total: i64, checked: i64) -> Result<(), AppError> {
        sqlx::query(
            "UPDATE registry_imports SET status = $1, rows_total = $2, rows_checked = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(status)
        .bind(total)
        .bind(checked)
        .bind(time::now_text())
        .bind(&self.id)
        .execute(self.state.db.pool())
        .await?;
        Ok(())
    }

    /// Records the errors; nothing else changes. One transaction, one audit entry.
    async fn reject(&self, total: usize, error_count: usize, mut errors: Vec<RowError>) -> Result<(), AppError> {
        errors.truncate(MAX_ERRORS_KEPT);
        let mut tx = self.state.db.begin().await?;
        let now = time::now_text();
        sqlx::query(
            "UPDATE registry_imports SET status = 'rejected', rows_total = $1, rows_checked = $1, rows_imported = 0, \
             error_count = $2, errors_json = $3, updated_at = $4, finished_at = $4 WHERE id = $5",
        )
        .bind(total as i64)
        .bind(error_count as i64)
        .bind(serde_json::to_string(&errors).map_err(anyhow::Error::from)?)
        .bind(&now)
        .bind(&self.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            "registry.import_rejected",
            json!({ "filename": self.filename, "rows_total": total, "errors": error_count }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every enterprise, the job row and the audit entry: one transaction.
    async fn write(&self, rows: &[CheckedRow], digest: &str) -> Result<(), AppError> {
        let mut tx = self.state.db.begin().await?;
        let now = time::now_text();
        for chunk in rows.chunks(INSERT_CHUNK) {
            insert_chunk(&mut tx, &self.state, &self.base_id, chunk, &now).await?;
        }
        sqlx::query(
            "UPDATE registry_imports SET status = 'imported', rows_imported = $1, rows_checked = $1, rows_total = $1, \
             error_count = 0, errors_json = '[]', updated_at = $2, finished_at = $2 WHERE id = $3",
        )
        .bind(rows.len() as i64)
        .bind(&now)
        .bind(&self.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            "registry.imported",
            json!({ "filename": self.filename, "sm3": digest, "enterprises": rows.len(),
                "first_uscc": rows.first().map(|r| r.enterprise.uscc.as_str()),
                "last_uscc": rows.last().map(|r| r.enterprise.uscc.as_str()) }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit(&self, tx: &mut Tx, action: &str, after: serde_json::Value) -> Result<(), AppError> {
        audit::append(
            tx,
            &self.state.keys,
            &self.actor,
            Entry {
                base_id: Some(&self.base_id),
                action,
                entity: "registry_import",
                entity_id: Some(&self.id),
                before: None,
                after: Some(after),
            },
        )
        .await?;
        Ok(())
    }
}

async fn insert_chunk(
    tx: &mut Tx,
    state: &AppState,
    base_id: &str,
    chunk: &[CheckedRow],
    now: &str,
) -> Result<(), AppError> {
    const COLS: usize = 16;
    let mut sql = String::from(
        "INSERT INTO enterprises (id, base_id, uscc, name, region_code, industry, founded_on, registered_capital_fen, \
         employees, high_tech, address, contact_name, contact_phone_enc, synthetic, created_at, updated_at) VALUES ",
    );
    for i in 0..chunk.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLS {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * COLS + c + 1));
        }
        sql.push(')');
    }
    let mut q = sqlx::query(&sql);
    for r in chunk {
        let e = &r.enterprise;
        q = q
            .bind(crate::new_id())
            .bind(base_id.to_string())
            .bind(e.uscc.as_str().to_string())
            .bind(e.name.clone())
            .bind(e.region.as_str())
            .bind(e.industry.code().to_string())
            .bind(e.founded_on.to_string())
            .bind(e.registered_capital.fen())
            .bind(e.employees)
            .bind(e.high_tech as i64)
            .bind(e.address.clone())
            .bind(e.contact_name.clone())
            .bind(e.contact_phone.as_ref().map(|p| state.keys.encrypt_pii(p.as_str())))
            .bind(0i64)
            .bind(now.to_string())
            .bind(now.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn registered_usccs(state: &AppState, base_id: &str) -> Result<HashSet<String>, AppError> {
    let rows = sqlx::query("SELECT uscc FROM enterprises WHERE base_id = $1")
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn mark_failed(state: &AppState, id: &str) -> Result<(), AppError> {
    let now = time::now_text();
    sqlx::query(
        "UPDATE registry_imports SET status = 'failed', updated_at = $1, finished_at = $1 WHERE id = $2 \
         AND status IN ('queued', 'validating', 'importing')",
    )
    .bind(&now)
    .bind(id)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Cells of every row, header included. Excel dates become YYYY-MM-DD;
/// whole numbers lose their ".0".
pub fn read_rows(format: Format, bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    match format {
        Format::Csv => crate::indicator::import::read_rows(Format::Csv, bytes),
        Format::Xlsx => read_xlsx(bytes),
    }
}

fn file_error(code: &str, message: &str) -> Vec<RowError> {
    vec![RowError {
        row: 0,
        column: String::new(),
        code: code.into(),
        message: message.into(),
    }]
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, Vec<RowError>> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|_| file_error("import.unreadable", "无法读取Excel文件，请使用模板另存为.xlsx格式"))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| file_error("import.empty", "Excel文件中没有工作表"))?
        .map_err(|_| file_error("import.unreadable", "无法读取第一个工作表"))?;
    let cell = |d: &Data| match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        Data::DateTimeIso(s) => s.chars().take(10).collect(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(_) => "#错误".into(),
    };
    Ok(range.rows().map(|r| r.iter().map(cell).collect()).collect())
}

fn row_error(row: usize, col: usize, code: &str, reason: &str) -> RowError {
    let column = COLUMNS[col];
    RowError {
        row,
        column: column.into(),
        code: code.into(),
        message: format!("第{row}行“{column}”列：{reason}"),
    }
}

fn already_registered(row: usize, uscc: &str) -> RowError {
    row_error(
        row,
        0,
        "uscc.duplicate",
        &format!("统一社会信用代码 {uscc} 已在本基地登记"),
    )
}

/// Validates a file's rows in steps, so that progress can be recorded in between.
pub struct Validator<'a> {
    rows: &'a [Vec<String>],
    next: usize,
    existing: HashSet<String>,
    seen: HashMap<String, usize>,
    checked: Vec<CheckedRow>,
    errors: Vec<RowError>,
    error_count: usize,
}

impl<'a> Validator<'a> {
    /// Checks the header; a wrong header is the only error then.
    pub fn new(rows: &'a [Vec<String>], existing: HashSet<String>) -> Result<Validator<'a>, AppError> {
        let mut v = Validator {
            rows,
            next: 1,
            existing,
            seen: HashMap::new(),
            checked: Vec::new(),
            errors: Vec::new(),
            error_count: 0,
        };
        let header_ok = rows.first().is_some_and(|h| {
            h.len() >= COLUMNS.len()
                && h.iter()
                    .zip(COLUMNS)
                    .all(|(got, want)| got.trim().trim_start_matches('\u{feff}') == want)
        });
        if rows.is_empty() {
            v.add(RowError {
                row: 0,
                column: String::new(),
                code: "import.empty".into(),
                message: "文件为空".into(),
            });
            v.next = rows.len();
        } else if !header_ok {
            v.add(RowError {
                row: 1,
                column: String::new(),
                code: "import.header".into(),
                message: format!("第1行应为表头：{}（请使用下载的模板）", COLUMNS.join("，")),
            });
            v.next = rows.len();
        }
        Ok(v)
    }

    pub fn done(&self) -> bool {
        self.next >= self.rows.len()
    }

    /// Data rows looked at so far.
    pub fn checked(&self) -> usize {
        self.next.saturating_sub(1)
    }

    fn add(&mut self, e: RowError) {
        self.error_count += 1;
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(e);
        }
    }

    pub fn step(&mut self, n: usize) {
        let end = (self.next + n).min(self.rows.len());
        for i in self.next..end {
            self.row(i);
        }
        self.next = end;
    }

    fn row(&mut self, i: usize) {
        let r = &self.rows[i];
        let row = i + 1;
        if r.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        let get = |n: usize| r.get(n).map(|s| s.trim().to_string()).unwrap_or_default();
        let mut row_errors = Vec::new();
        let high_tech = match get(7).as_str() {
            "" | "否" | "N" | "n" | "0" | "false" => None,
            "是" | "Y" | "y" | "1" | "true" => Some("1".to_string()),
            other => {
                row_errors.push(row_error(
                    row,
                    7,
                    "high_tech.invalid",
                    &format!("应填写“是”或“否”，收到“{other}”"),
                ));
                None
            }
        };
        let industry = get(3);
        let industry = IndustrySection::ALL
            .into_iter()
            .find(|s| s.name() == industry)
            .map(|s| s.as_str().to_string())
            .unwrap_or(industry);
        let form = EnterpriseForm {
            uscc: get(0),
            name: get(1),
            region_code: get(2),
            industry,
            founded_on: get(4),
            registered_capital_yuan: get(5).replace(',', ""),
            employees: get(6),
            high_tech,
            address: get(8),
            contact_name: get(9),
            contact_phone: get(10),
        };
        let parsed = NewEnterprise::try_from(&form);
        if let Err(fields) = &parsed {
            for f in &fields.0 {
                let col = FIELDS.iter().position(|x| *x == f.field).unwrap_or(0);
                row_errors.push(row_error(row, col, &f.code, &f.message));
            }
        }
        if let Ok(e) = &parsed {
            let uscc = e.uscc.as_str().to_string();
            if self.existing.contains(&uscc) {
                row_errors.push(already_registered(row, &uscc));
            } else if let Some(first) = self.seen.get(&uscc) {
                row_errors.push(row_error(
                    row,
                    0,
                    "import.duplicate",
                    &format!("与第{first}行重复（同一统一社会信用代码）"),
                ));
            } else {
                self.seen.insert(uscc, row);
            }
        }
        if row_errors.is_empty() {
            if let Ok(enterprise) = parsed {
                self.checked.push(CheckedRow { row, enterprise });
            }
        } else {
            for e in row_errors {
                self.add(e);
            }
        }
    }

    /// The valid rows, the first errors and the total number of errors.
    pub fn finish(mut self) -> (Vec<CheckedRow>, Vec<RowError>, usize) {
        if self.error_count == 0 && self.checked.is_empty() {
            self.add(RowError {
                row: 2,
                column: String::new(),
                code: "import.no_rows".into(),
                message: "文件中没有数据行".into(),
            });
        }
        (self.checked, self.errors, self.error_count)
    }
}

const JOB_COLUMNS: &str = "id, filename, format, status, rows_total, rows_checked, rows_imported, error_count, \
    errors_json, actor_name, created_at, finished_at, updated_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> ImportJob {
    let job = ImportJob {
        id: r.get(0),
        filename: r.get(1),
        format: r.get(2),
        status: r.get(3),
        rows_total: r.get(4),
        rows_checked: r.get(5),
        rows_imported: r.get(6),
        error_count: r.get(7),
        errors: serde_json::from_str(&r.get::<String, _>(8)).unwrap_or_default(),
        actor_name: r.get(9),
        created_at: r.get(10),
        finished_at: r.get(11),
    };
    settle_stale(job, &r.get::<String, _>(12))
}

/// A running import whose progress went silent (its process died) is shown
/// as failed. Decided when read, so that reading never writes: a GET must not
/// queue behind the import's own write transaction on SQLite.
fn settle_stale(mut job: ImportJob, updated_at: &str) -> ImportJob {
    let cutoff = time::to_text(chrono::Utc::now() - chrono::Duration::minutes(STALE_MINUTES));
    if job.is_running() && updated_at < cutoff.as_str() {
        job.status = "failed".into();
    }
    job
}

/// One import of the base (404 for another base's id).
pub async fn get(state: &AppState, base_id: &str, id: &str) -> Result<ImportJob, AppError> {
    let row = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM registry_imports WHERE base_id = $1 AND id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(job_from_row(&row))
}

/// The import history of the base, newest first; errors are left out (see [`get`]).
pub async fn history(state: &AppState, base_id: &str) -> Result<Vec<ImportJob>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM registry_imports WHERE base_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100",
        JOB_COLUMNS.replace("errors_json", "'[]'")
    ))
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(job_from_row).collect())
}

/// The CSV template (UTF-8 with BOM so that Excel opens it as UTF-8).
pub fn template_csv() -> Vec<u8> {
    format!("\u{feff}{}\r\n", COLUMNS.join(",")).into_bytes()
}

/// The Excel template: the header, and a sheet explaining every column.
pub fn template_xlsx() -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let err = crate::indicator::export::xlsx_error;
    let mut wb = Workbook::new();
    let text = CellFormat::new().set_num_format("@");
    let bold = CellFormat::new().set_bold().set_num_format("@");
    let sheet = wb.add_worksheet();
    sheet.set_name("企业").map_err(err)?;
    for (col, h) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, &bold).map_err(err)?;
        // Text cells, so that codes keep leading zeros and dates stay as typed.
        sheet.set_column_format(col as u16, &text).map_err(err)?;
        sheet.set_column_width(col as u16, 20).map_err(err)?;
    }
    let notes = wb.add_worksheet();
    notes.set_name("填写说明").map_err(err)?;
    notes.write_string(0, 0, "列").map_err(err)?;
    notes.write_string(0, 1, "填写要求").map_err(err)?;
    notes.set_column_width(0, 20).map_err(err)?;
    notes.set_column_width(1, 80).map_err(err)?;
    for (i, (c, rule)) in COLUMNS.iter().zip(RULES).enumerate() {
        notes.write_string(i as u32 + 1, 0, *c).map_err(err)?;
        notes.write_string(i as u32 + 1, 1, rule).map_err(err)?;
    }
    notes
        .write_string(
            COLUMNS.len() as u32 + 2,
            0,
            "整个文件全部正确才会导入；有任何错误时一行也不导入，并列出每一处错误（行、列、原因）。",
        )
        .map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chuangtong_domain::Uscc;

    fn uscc(n: u32) -> String {
        Uscc::with_check_char(&format!("91350100MA{n:07}"))
            .unwrap()
            .as_str()
            .to_string()
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    fn validate(rows: &[Vec<String>], existing: &[&str]) -> (usize, Vec<RowError>) {
        let mut v = Validator::new(rows, existing.iter().map(|s| s.to_string()).collect()).unwrap();
        while !v.done() {
            v.step(2);
        }
        let (ok, errors, n) = v.finish();
        assert_eq!(n, errors.len());
        (ok.len(), errors)
    }

    #[test]
    fn every_error_has_its_row_and_column() {
        let head = row(&COLUMNS);
        let good = uscc(1);
        let mut bad_check = uscc(2);
        bad_check.pop();
        bad_check.push(if uscc(2).ends_with('0') { '1' } else { '0' });
        let rows = vec![
            head,
            row(&[
                &good,
                "甲公司",
                "350105",
                "I",
                "2020-01-01",
                "100",
                "5",
                "是",
                "",
                "",
                "",
            ]),
            row(&[
                &bad_check,
                "乙公司",
                "999999",
                "Z",
                "2020-13-01",
                "1.234",
                "-1",
                "也许",
                "",
                "",
                "123",
            ]),
            row(&[
                &good,
                "丙公司",
                "350105",
                "信息传输、软件和信息技术服务业",
                "2020-01-01",
                "0",
                "0",
                "",
                "",
                "",
                "",
            ]),
            row(&[
                &uscc(3),
                "丁公司",
                "350105",
                "I",
                "2020-01-01",
                "0",
                "0",
                "",
                "",
                "",
                "",
            ]),
        ];
        let (ok, errors) = validate(&rows, &[&uscc(3)]);
        assert_eq!(ok, 1);
        let at = |r: usize| -> Vec<(&str, &str)> {
            errors
                .iter()
                .filter(|e| e.row == r)
                .map(|e| (e.column.as_str(), e.code.as_str()))
                .collect()
        };
        let row3 = at(3);
        for col in [
            "统一社会信用代码",
            "所在地区代码",
            "行业门类",
            "成立日期",
            "注册资本（元）",
            "从业人数",
            "高新技术企业",
            "联系电话",
        ] {
            assert!(row3.iter().any(|(c, _)| *c == col), "row 3 misses {col}: {row3:?}");
        }
        assert_eq!(at(4), vec![("统一社会信用代码", "import.duplicate")]);
        assert_eq!(at(5), vec![("统一社会信用代码", "uscc.duplicate")]);
        assert!(errors.iter().all(|e| e.message.starts_with(&format!("第{}行", e.row))));
    }

    #[test]
    fn a_wrong_header_is_one_error_and_no_rows_are_read() {
        let (ok, errors) = validate(&[row(&["名称"]), row(&["x"])], &[]);
        assert_eq!(ok, 0);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "import.header");
    }

    #[test]
    fn the_template_reads_back_as_an_empty_file() {
        let rows = read_rows(Format::Xlsx, &template_xlsx().unwrap()).unwrap();
        assert_eq!(rows.len(), 1);
        let (_, errors) = validate(&rows, &[]);
        assert_eq!(errors[0].code, "import.no_rows");
        let rows = read_rows(Format::Csv, &template_csv()).unwrap();
        let (_, errors) = validate(&rows, &[]);
        assert_eq!(errors[0].code, "import.no_rows");
    }
}
