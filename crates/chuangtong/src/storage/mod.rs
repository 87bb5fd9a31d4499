//! Storage: the one place that knows which database is behind the platform.
//!
//! Everything above takes a [`Db`] and speaks portable SQL through sqlx's `Any`
//! driver: `$1` placeholders (SQLite reads them as numbered parameters),
//! `TEXT`/`BIGINT` columns only, booleans as 0/1, timestamps as ISO-8601 text,
//! money as BIGINT fen. That keeps one schema and one query layer for SQLite
//! (embedded default) and PostgreSQL (several stateless processes in front of
//! one database), and every SQL test runs on both.
//!
//! Rules for queries written against this layer:
//! - wrap aggregates that PostgreSQL widens to NUMERIC (`SUM`) in `CAST(... AS BIGINT)`;
//! - never rely on process-local state for correctness: locks live in the database;
//! - a use case is one transaction, started with [`Db::begin`] (see there why).

pub mod bulk;
pub mod migrate;
pub mod time;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use migrate::{migrate, MIGRATIONS};

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// What a `SELECT` appends to keep the rows it read until the
    /// transaction ends: ` FOR UPDATE` on PostgreSQL; nothing on SQLite,
    /// whose `BEGIN IMMEDIATE` already serialises writers.
    pub fn row_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// [`row_lock`](Self::row_lock) for the rows of one table of a join
    /// (`alias`); the join's other tables are not locked.
    pub fn row_lock_of(self, alias: &str) -> String {
        match self {
            Backend::Postgres => format!(" FOR UPDATE OF {alias}"),
            Backend::Sqlite => String::new(),
        }
    }
}

/// A pool on either backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `url`, which must start with `sqlite:` or `postgres:`/`postgresql:`.
    /// An unknown scheme is an error rather than a silently created SQLite file.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            bail!("不支持的数据库地址（应以 sqlite: 或 postgres: 开头）: {url}");
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_parent_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url).context("parse DATABASE_URL")?;
        let pool = AnyPoolOptions::new()
            // SQLite has one writer; a handful of connections serve readers
            // while writes queue on the busy timeout.
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never block the writer. synchronous=NORMAL
                        // in WAL mode is durable against a process crash (kill -9);
                        // only an OS crash/power loss can lose the last commits.
                        // busy_timeout: writers wait for the lock instead of failing.
                        // mmap_size/cache_size: reads come from mapped pages and a
                        // 16 MB cache per connection instead of a pread per page
                        // (measured on the flash-claim path, see bench/RESULTS.md).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connect to {}", redact(url)))?;
        Ok(Db { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a read-write transaction.
    ///
    /// On SQLite this is `BEGIN IMMEDIATE`: the write lock is taken up front,
    /// so a transaction that reads and then writes cannot fail half way with
    /// SQLITE_BUSY when another writer got in between (a deferred transaction
    /// cannot upgrade its snapshot). PostgreSQL uses row locks (`FOR UPDATE`)
    /// where a use case needs them.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// `sqlite://data/runtime/x.db?mode=rwc` → make sure `data/runtime` exists.
fn ensure_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| format!("create directory {}", parent.display()))?;
        }
    }
    Ok(())
}

/// Hides the password in a database URL for logs.
/// Numbered parameters for statements built at run time (multi-row
/// `VALUES` lists, `IN (…)` lists), written in the order they are bound.
///
/// PostgreSQL gets `$1, $2, …`; SQLite gets plain `?`. The reason is speed:
/// sqlx binds a `$n` parameter on SQLite by looking its name up, a scan over
/// every parameter of the statement, so a 500-row insert of 13 columns
/// spent most of its time in name lookups; `?` binds by position.
pub struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Params {
        Params { backend, next: 1 }
    }

    /// The next parameter.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `n` parameters separated by commas, for `IN (…)`.
    pub fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `(…), (…)`: `rows` rows of `width` parameters, for `VALUES`.
    pub fn rows(&mut self, rows: usize, width: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(width)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// SQLite file path of a `sqlite:` URL, for backup and restore.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// Maps a unique-constraint violation to `Some(constraint or message)`; used
/// to turn a race on a unique key into a field error rather than a 500.
pub fn unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.message().contains("UNIQUE constraint failed")
                || db.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// A row named a parent that does not exist (or, through a composite key,
/// one of another base).
pub fn foreign_key_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_foreign_key_violation()
                || db.message().contains("FOREIGN KEY constraint failed")
                || db.code().as_deref() == Some("23503")
        }
        _ => false,
    }
}

#[cfg(test)]
mod params_tests {
    use super::{Backend, Params};

    #[test]
    fn parameters_are_numbered_in_binding_order() {
        let mut p = Params::new(Backend::Postgres);
        assert_eq!(p.one(), "$1");
        assert_eq!(p.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(p.list(2), "$6, $7");
        let mut p = Params::new(Backend::Sqlite);
        assert_eq!(p.rows(1, 3), "(?, ?, ?)");
        assert_eq!(p.list(2), "?, ?");
    }
}
