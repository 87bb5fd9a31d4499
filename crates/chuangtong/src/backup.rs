//! Backup and restore of the embedded SQLite database (等保: 数据备份恢复).
//! For PostgreSQL use `pg_dump`/`pg_restore` (see README).

use std::path::Path;

use anyhow::{bail, Context};
use sqlx::{Connection, Row};

use crate::storage::{self, Backend, Db};

/// `VACUUM INTO` writes a consistent, compacted copy while the server runs.
pub async fn backup(db: &Db, path: &Path) -> anyhow::Result<()> {
    if db.backend() != Backend::Sqlite {
        bail!("PostgreSQL 请使用 pg_dump 备份（见 README）");
    }
    if path.exists() {
        bail!("{} 已存在，不会覆盖", path.display());
    }
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let target = path.to_str().context("备份路径须为UTF-8")?;
    sqlx::query("VACUUM INTO $1").bind(target).execute(db.pool()).await?;
    Ok(())
}

/// Checks that `backup` is an intact chuangtong database, then copies it over
/// the configured database file. The server must be stopped.
pub async fn restore(database_url: &str, backup: &Path, force: bool) -> anyhow::Result<()> {
    let target = storage::sqlite_path(database_url).context("restore 仅适用于 SQLite；PostgreSQL 请使用 pg_restore")?;
    if !backup.exists() {
        bail!("备份文件 {} 不存在", backup.display());
    }
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", backup.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await.context("打开备份文件")?;
    let check: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut conn).await?.get(0);
    if check != "ok" {
        bail!("备份文件损坏: {check}");
    }
    let versions: i64 = sqlx::query("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .context("不是创通数据库备份")?
        .get(0);
    conn.close().await?;
    if versions == 0 {
        bail!("不是创通数据库备份");
    }
    if target.exists() && !force {
        bail!("{} 已存在；确认覆盖请加 --force（请先停止服务）", target.display());
    }
    for suffix in ["-wal", "-shm"] {
        let side = target.with_file_name(format!(
            "{}{suffix}",
            target.file_name().and_then(|n| n.to_str()).unwrap_or("chuangtong.db")
        ));
        if side.exists() {
            std::fs::remove_file(&side)?;
        }
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = target.with_extension("restoring");
    std::fs::copy(backup, &tmp)?;
    std::fs::rename(&tmp, &target)?;
    Ok(())
}
