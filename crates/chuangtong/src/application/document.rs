//! Documents (申请要件): what an applicant uploads with an application.
//!
//! - The type comes from the content's magic bytes (PDF, JPEG, PNG, and the
//!   Office Open XML zips DOCX/XLSX, told apart by their central directory),
//!   and the file name's extension must agree; a `.pdf` that is a PNG, or an
//!   executable renamed `.docx`, is refused.
//! - At most [`MAX_BYTES`]; empty files are refused.
//! - Stored in the database, addressed by the SM3 digest of the content
//!   (see migration 0012 for why the database and not the data directory):
//!   the name the user chose is shown, never used as a path.
//! - When the operator configured a virus scanner
//!   (`CHUANGTONG_VIRUS_SCAN_COMMAND`), it runs on a private temporary copy
//!   before anything is stored; a non-zero exit (or a scanner that cannot
//!   run) refuses the upload.
//! - Only the applicant uploads (in 草稿 or 退回补正); the applicant, the
//!   base's reviewers and admins, and the experts drawn for the application
//!   download; anyone else gets 404.
//! - A programme's required documents must all be there before submission.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::case::{self, Party};
use super::programme;
use super::state::State;
use crate::audit::{self, Actor, Entry};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// 10 MiB: a scanned audit report fits; a video does not.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// How long a configured virus scanner may take on one file.
const SCAN_TIMEOUT: Duration = Duration::from_secs(60);

/// The kind of an upload that is not one of the programme's required documents.
pub const OTHER: &str = "other";

/// One document a programme requires.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocSpec {
    pub key: String,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
    Docx,
    Xlsx,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            MediaType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Pdf => &["pdf"],
            MediaType::Jpeg => &["jpg", "jpeg"],
            MediaType::Png => &["png"],
            MediaType::Docx => &["docx"],
            MediaType::Xlsx => &["xlsx"],
        }
    }
}

/// The type of the content from its first bytes (and, for zips, the names in
/// its central directory). `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(b"%PDF-") {
        Some(MediaType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(MediaType::Png)
    } else if bytes.starts_with(b"PK\x03\x04") {
        let names = zip_names(bytes)?;
        let has = |n: &str| names.iter().any(|x| x == n);
        if !has("[Content_Types].xml") {
            None
        } else if has("word/document.xml") {
            Some(MediaType::Docx)
        } else if has("xl/workbook.xml") {
            Some(MediaType::Xlsx)
        } else {
            None
        }
    } else {
        None
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The entry names of a zip's central directory (every read bounds-checked;
/// a truncated or lying archive gives `None`).
fn zip_names(b: &[u8]) -> Option<Vec<String>> {
    const EOCD: [u8; 4] = [b'P', b'K', 5, 6];
    const CEN: [u8; 4] = [b'P', b'K', 1, 2];
    // The end record is 22 bytes plus a comment of at most 65,535.
    let earliest = b.len().saturating_sub(22 + 65_535);
    let eocd = (earliest..=b.len().checked_sub(22)?)
        .rev()
        .find(|&i| b[i..i + 4] == EOCD)?;
    let entries = u16_at(b, eocd + 10)?;
    let mut at = u32_at(b, eocd + 16)?;
    let mut names = Vec::with_capacity(entries.min(1024));
    for _ in 0..entries.min(10_000) {
        if b.get(at..at + 4)? != CEN {
            return None;
        }
        let (name_len, extra_len, comment_len) = (u16_at(b, at + 28)?, u16_at(b, at + 30)?, u16_at(b, at + 32)?);
        let name = b.get(at + 46..at + 46 + name_len)?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at = at + 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

/// The name to show: the last path component, without control characters,
/// at most 100 characters. Never used to build a path.
pub fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '|' | '*' | '?' | ':'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut out: String = cleaned
        .chars()
        .rev()
        .take(100)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if out.is_empty() {
        out = "document".into();
    }
    out
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Checks size, type and extension of an upload.
pub fn check(filename: &str, bytes: &[u8]) -> Result<MediaType, AppError> {
    if bytes.is_empty() {
        return Err(AppError::field("file", "document.empty", "请选择要上传的文件"));
    }
    if bytes.len() > MAX_BYTES {
        return Err(too_large());
    }
    let kind = sniff(bytes).ok_or_else(|| {
        AppError::field(
            "file",
            "document.type",
            "只接受 PDF、JPEG、PNG、DOCX 或 XLSX 文件（按文件内容识别）",
        )
    })?;
    if !kind.extensions().contains(&extension(filename).as_str()) {
        return Err(AppError::field(
            "file",
            "document.type_mismatch",
            format!(
                "文件内容是 {}，与文件扩展名不符",
                kind.extensions()[0].to_ascii_uppercase()
            ),
        ));
    }
    Ok(kind)
}

pub fn too_large() -> AppError {
    AppError::field(
        "file",
        "document.too_large",
        format!("文件不能超过 {} MB", MAX_BYTES / 1024 / 1024),
    )
}

/// Runs the configured scanner on a private temporary copy: the command is
/// split on whitespace (no shell) and gets the file's path as its last
/// argument. Exit 0 = clean; anything else, a timeout or a scanner that
/// cannot start refuses the upload (fail closed).
pub async fn scan(command: &str, data_dir: &std::path::Path, bytes: &[u8]) -> Result<(), AppError> {
    let words: Vec<String> = command.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Ok(());
    }
    let dir = data_dir.join("scan");
    let bytes = bytes.to_vec();
    let outcome = tokio::task::spawn_blocking(move || scan_blocking(&words, &dir, &bytes))
        .await
        .map_err(anyhow::Error::from)??;
    match outcome {
        ScanOutcome::Clean => Ok(()),
        ScanOutcome::Refused(code) => {
            tracing::warn!(exit = ?code, "virus scan refused an upload");
            Err(AppError::field(
                "file",
                "document.infected",
                "病毒扫描未通过，文件未保存",
            ))
        }
        ScanOutcome::CannotRun(e) => {
            tracing::error!(error = %e, "virus scanner cannot run");
            Err(AppError::refused(
                "document.scan_failed",
                "病毒扫描暂不可用，文件未保存，请稍后重试",
            ))
        }
        ScanOutcome::TimedOut => Err(AppError::refused(
            "document.scan_failed",
            "病毒扫描超时，文件未保存，请稍后重试",
        )),
    }
}

enum ScanOutcome {
    Clean,
    Refused(Option<i32>),
    CannotRun(std::io::Error),
    TimedOut,
}

fn scan_blocking(words: &[String], dir: &std::path::Path, bytes: &[u8]) -> Result<ScanOutcome, AppError> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
    // Our own random name: nothing the user sent reaches the file system.
    let path = dir.join(format!("{}.upload", uuid::Uuid::new_v4().simple()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts
        .open(&path)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        return Err(anyhow::Error::from(e).into());
    }
    let outcome = run_scanner(words, &path);
    let _ = std::fs::remove_file(&path);
    Ok(outcome)
}

fn run_scanner(words: &[String], path: &std::path::Path) -> ScanOutcome {
    use std::process::{Command, Stdio};
    let child = Command::new(&words[0])
        .args(&words[1..])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return ScanOutcome::CannotRun(e),
    };
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return ScanOutcome::Clean,
            Ok(Some(s)) => return ScanOutcome::Refused(s.code()),
            Ok(None) if started.elapsed() > SCAN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return ScanOutcome::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return ScanOutcome::CannotRun(e),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Document {
    pub id: String,
    pub application_id: String,
    /// A required document's key, or `other`
    pub kind: String,
    pub kind_label: String,
    pub filename: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// SM3 of the content, hex
    pub digest_sm3: String,
    pub uploaded_at: String,
}

/// Stores an upload for the applicant's draft or 补正 case; a new upload of
/// a required kind replaces the earlier one (which stays on record).
// Who, where, which case, what kind, and the file itself: each is checked separately.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    party: &Party,
    application_id: &str,
    kind: &str,
    raw_filename: &str,
    bytes: &[u8],
) -> Result<Document, AppError> {
    if !matches!(party, Party::Enterprise(_)) {
        return Err(AppError::Forbidden);
    }
    let filename = clean_filename(raw_filename);
    let media = check(&filename, bytes)?;
    // Who and what, before the (slow) scan: a stranger learns nothing.
    {
        let mut tx = state.db.begin().await?;
        let c = case::load(&mut tx, base_id, application_id, party).await?;
        editable(c.state)?;
        let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
        kind_label(&p.required_documents, kind)?;
        tx.rollback().await?;
    }
    if let Some(cmd) = state.settings.virus_scan_command.as_deref() {
        scan(cmd, &state.settings.data_dir, bytes).await?;
    }
    let digest = crate::crypto::sm3_hex(bytes);
    let now = time::now_text();
    let mut tx = state.db.begin().await?;
    let c = case::load(&mut tx, base_id, application_id, party).await?;
    editable(c.state)?;
    let p = programme::get_tx(&mut tx, base_id, &c.programme_id).await?;
    let label = kind_label(&p.required_documents, kind)?;
    sqlx::query(
        "INSERT INTO document_blobs (base_id, digest_sm3, size_bytes, content_b64, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (base_id, digest_sm3) DO NOTHING",
    )
    .bind(base_id)
    .bind(&digest)
    .bind(bytes.len() as i64)
    .bind(base64::engine::general_purpose::STANDARD.encode(bytes))
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let replaced = if kind == OTHER {
        0
    } else {
        sqlx::query(
            "UPDATE application_documents SET removed_at = $1 WHERE application_id = $2 AND kind = $3 AND removed_at IS NULL",
        )
        .bind(&now)
        .bind(application_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO application_documents (id, base_id, application_id, kind, filename, media_type, size_bytes, digest_sm3, \
         uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(base_id)
    .bind(application_id)
    .bind(kind)
    .bind(&filename)
    .bind(media.mime())
    .bind(bytes.len() as i64)
    .bind(&digest)
    .bind(actor.user_id.clone().unwrap_or_else(|| actor.name.clone()))
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "application.document_uploaded",
            entity: "application",
            entity_id: Some(application_id),
            before: None,
            after: Some(
                json!({ "document_id": id, "kind": kind, "filename": filename, "media_type": media.mime(),
                "size_bytes": bytes.len(), "digest_sm3": digest, "replaced": replaced }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Document {
        id,
        application_id: application_id.into(),
        kind: kind.into(),
        kind_label: label,
        filename,
        media_type: media.mime().into(),
        size_bytes: bytes.len() as i64,
        digest_sm3: digest,
        uploaded_at: now,
    })
}

fn editable(s: State) -> Result<(), AppError> {
    if matches!(s, State::Draft | State::ReturnedForAmendment) {
        Ok(())
    } else {
        Err(AppError::refused(
            "application.not_editable",
            "只有草稿或退回补正的申报可以上传材料",
        ))
    }
}

fn kind_label(required: &[DocSpec], kind: &str) -> Result<String, AppError> {
    if kind == OTHER {
        return Ok("其他材料".into());
    }
    required
        .iter()
        .find(|d| d.key == kind)
        .map(|d| d.label.clone())
        .ok_or_else(|| AppError::field("kind", "document.kind", "该批次没有这一类申请要件"))
}

const DOC_COLUMNS: &str =
    "d.id, d.application_id, d.kind, d.filename, d.media_type, d.size_bytes, d.digest_sm3, d.uploaded_at";

fn doc_from_row(r: &sqlx::any::AnyRow, required: &[DocSpec]) -> Document {
    let kind: String = r.get(2);
    Document {
        kind_label: kind_label(required, &kind).unwrap_or_else(|_| kind.clone()),
        id: r.get(0),
        application_id: r.get(1),
        kind,
        filename: r.get(3),
        media_type: r.get(4),
        size_bytes: r.get(5),
        digest_sm3: r.get(6),
        uploaded_at: r.get(7),
    }
}

/// The current documents of an application (callers have checked access).
pub async fn list(state: &AppState, base_id: &str, application_id: &str) -> Result<Vec<Document>, AppError> {
    let required = sqlx::query(
        "SELECT g.required_documents FROM applications a JOIN programmes g ON g.id = a.programme_id \
         WHERE a.base_id = $1 AND a.id = $2",
    )
    .bind(base_id)
    .bind(application_id)
    .fetch_optional(state.db.pool())
    .await?
    .map(|r| serde_json::from_str::<Vec<DocSpec>>(&r.get::<String, _>(0)).unwrap_or_default())
    .unwrap_or_default();
    Ok(sqlx::query(&format!(
        "SELECT {DOC_COLUMNS} FROM application_documents d WHERE d.base_id = $1 AND d.application_id = $2 \
         AND d.removed_at IS NULL ORDER BY d.uploaded_at, d.id"
    ))
    .bind(base_id)
    .bind(application_id)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| doc_from_row(r, &required))
    .collect())
}

/// One document and its content, for the applicant, the base's reviewers
/// and admins, and the experts drawn for its application; 404 for anyone else.
pub async fn fetch(state: &AppState, base_id: &str, party: &Party, id: &str) -> Result<(Document, Vec<u8>), AppError> {
    let r = sqlx::query(&format!(
        "SELECT {DOC_COLUMNS}, a.enterprise_id, b.content_b64 FROM application_documents d \
         JOIN applications a ON a.id = d.application_id \
         JOIN document_blobs b ON b.base_id = d.base_id AND b.digest_sm3 = d.digest_sm3 \
         WHERE d.base_id = $1 AND d.id = $2"
    ))
    .bind(base_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    let doc = doc_from_row(&r, &[]);
    let applicant: String = r.get(8);
    let allowed = match party {
        Party::Reviewer => true,
        Party::Enterprise(e) => *e == applicant,
        Party::Expert(x) => {
            sqlx::query("SELECT 1 FROM expert_assignments WHERE application_id = $1 AND expert_id = $2")
                .bind(&doc.application_id)
                .bind(x)
                .fetch_optional(state.db.pool())
                .await?
                .is_some()
        }
    };
    if !allowed {
        return Err(AppError::NotFound);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.get::<String, _>(9))
        .map_err(anyhow::Error::from)?;
    // The content must still be what was recorded.
    if crate::crypto::sm3_hex(&bytes) != doc.digest_sm3 {
        return Err(anyhow::anyhow!("document {id}: stored content does not match its SM3 digest").into());
    }
    Ok((doc, bytes))
}

/// One upload as posted: the CSRF token (pages), the kind, the file's name and bytes.
#[derive(Default)]
pub struct Posted {
    pub csrf: String,
    pub kind: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Reads a multipart upload chunk by chunk, stopping as soon as the file
/// passes [`MAX_BYTES`] (a field error, not a dropped connection).
pub async fn read_multipart(mut multipart: axum::extract::Multipart) -> Result<Posted, AppError> {
    let bad = |_| AppError::field("file", "document.upload", "上传失败，请重新选择文件");
    let mut out = Posted::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            bad(e)
        }
    })? {
        match field.name() {
            Some("_csrf") => out.csrf = field.text().await.map_err(bad)?,
            Some("kind") => out.kind = field.text().await.map_err(bad)?.trim().to_string(),
            Some("file") => {
                out.filename = field.file_name().unwrap_or_default().to_string();
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        bad(e)
                    }
                })? {
                    if out.bytes.len() + chunk.len() > MAX_BYTES {
                        return Err(too_large());
                    }
                    out.bytes.extend_from_slice(&chunk);
                }
            }
            _ => {}
        }
    }
    if out.kind.is_empty() {
        out.kind = OTHER.into();
    }
    Ok(out)
}

/// `Content-Disposition` for a download: RFC 6266 with the UTF-8 name (RFC 5987).
pub fn disposition(filename: &str) -> String {
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    // Old clients get an ASCII name with the right extension; others the real one.
    let ext = extension(filename);
    let ascii = if !ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!("document.{ext}")
    } else {
        "document".to_string()
    };
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Field errors for every required document missing from the application.
pub async fn missing_required(tx: &mut Tx, required: &[DocSpec], application_id: &str) -> Result<(), AppError> {
    let present: Vec<String> =
        sqlx::query("SELECT DISTINCT kind FROM application_documents WHERE application_id = $1 AND removed_at IS NULL")
            .bind(application_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let mut e = FieldErrors::default();
    for d in required.iter().filter(|d| !present.contains(&d.key)) {
        e.push(
            &format!("documents.{}", d.key),
            "document.required",
            format!("请上传{}", d.label),
        );
    }
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal but well-formed zip holding the given (empty) entries.
    pub fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for n in names {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&(n.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(n.as_bytes());
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&(n.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(n.as_bytes());
        }
        let cd_offset = out.len() as u32;
        let cd_size = central.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(MediaType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some(MediaType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(MediaType::Png));
        let docx = zip_with(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"]);
        assert_eq!(sniff(&docx), Some(MediaType::Docx));
        let xlsx = zip_with(&["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]);
        assert_eq!(sniff(&xlsx), Some(MediaType::Xlsx));
        // A plain zip, an executable, text, a truncated archive: refused.
        assert_eq!(sniff(&zip_with(&["payload.exe"])), None);
        assert_eq!(sniff(b"MZ\x90\0\x03"), None);
        assert_eq!(sniff("营业执照".as_bytes()), None);
        assert_eq!(sniff(&docx[..docx.len() - 10]), None);
    }

    #[test]
    fn the_extension_must_agree_with_the_content() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        assert!(check("照片.PNG", &png).is_ok());
        let codes = |r: Result<MediaType, AppError>| match r {
            Err(AppError::Validation(f)) => f[0].code.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(codes(check("审计报告.pdf", &png)), "document.type_mismatch");
        assert_eq!(codes(check("a.pdf", b"")), "document.empty");
        assert_eq!(codes(check("a.txt", b"hello")), "document.type");
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_BYTES + 1, b' ');
        assert_eq!(codes(check("a.pdf", &big)), "document.too_large");
    }

    #[test]
    fn downloads_name_the_file_in_utf8() {
        assert_eq!(
            disposition("审计 报告.pdf"),
            "attachment; filename=\"document.pdf\"; filename*=UTF-8''%E5%AE%A1%E8%AE%A1%20%E6%8A%A5%E5%91%8A.pdf"
        );
        assert!(disposition("无扩展名").starts_with("attachment; filename=\"document\";"));
        assert!(disposition("a.计划").starts_with("attachment; filename=\"document\";"));
    }

    #[test]
    fn file_names_never_carry_a_path() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\Users\\a\\营业执照.pdf"), "营业执照.pdf");
        assert_eq!(clean_filename("..\u{0}\n"), "document");
        assert_eq!(clean_filename(".hidden.pdf"), "hidden.pdf");
        assert_eq!(
            clean_filename(&format!("{}.pdf", "长".repeat(200))).chars().count(),
            100
        );
    }

    #[tokio::test]
    async fn a_scanner_that_exits_non_zero_refuses() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan("true", dir.path(), b"%PDF-").await.is_ok());
        match scan("false", dir.path(), b"%PDF-").await {
            Err(AppError::Validation(f)) => assert_eq!(f[0].code, "document.infected"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            scan("/nonexistent/scanner --flag", dir.path(), b"%PDF-").await,
            Err(AppError::Conflict {
                code: "document.scan_failed",
                ..
            })
        ));
        // The temporary copies are gone.
        assert_eq!(std::fs::read_dir(dir.path().join("scan")).unwrap().count(), 0);
    }
}
