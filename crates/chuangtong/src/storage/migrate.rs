//! Schema migrations: append-only, embedded in the binary, portable SQL.
//!
//! Each migration runs in its own transaction together with the row that
//! records it, so a crash leaves the schema at a migration boundary. When
//! several processes start at once on PostgreSQL, an advisory lock lets one
//! of them migrate while the others wait; on SQLite `BEGIN IMMEDIATE` does the
//! same. Never edit a migration that has shipped: add a new one.

use anyhow::Context;
use sqlx::{Connection, Executor, Row};

use super::{Backend, Db};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $name, ".sql")),
        }
    };
}

pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_platform"),
    migration!(2, "0002_registry"),
    migration!(3, "0003_ledger"),
    migration!(4, "0004_indicators"),
    migration!(5, "0005_policies"),
    migration!(6, "0006_vouchers"),
    migration!(7, "0007_applications"),
    migration!(8, "0008_search"),
    migration!(14, "0014_financing"),
    migration!(9, "0009_notifications"),
    migration!(10, "0010_tickets"),
    migration!(15, "0015_flash_claims"),
    migration!(11, "0011_imports"),
    migration!(13, "0013_policy_impact"),
    migration!(12, "0012_documents"),
    migration!(16, "0016_programme_payouts"),
    migration!(17, "0017_claim_tenant_keys"),
    migration!(18, "0018_adjustment_settlement"),
];

/// Arbitrary constant naming our advisory lock ("ctmg").
const PG_LOCK_KEY: i64 = 0x6374_6d67;

pub async fn migrate(db: &Db) -> anyhow::Result<Vec<i64>> {
    let mut conn = db.pool().acquire().await?;
    if db.backend() == Backend::Postgres {
        conn.execute(sqlx::query("SELECT pg_advisory_lock($1)").bind(PG_LOCK_KEY))
            .await?;
    }
    let result = run_pending(db.backend(), &mut conn).await;
    if db.backend() == Backend::Postgres {
        conn.execute(sqlx::query("SELECT pg_advisory_unlock($1)").bind(PG_LOCK_KEY))
            .await?;
    }
    result
}

async fn run_pending(backend: Backend, conn: &mut sqlx::pool::PoolConnection<sqlx::Any>) -> anyhow::Result<Vec<i64>> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    let mut applied_now = Vec::new();
    for m in MIGRATIONS {
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut tx = Connection::begin_with(&mut **conn, begin).await?;
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            tx.rollback().await?;
            continue;
        }
        tx.execute(sqlx::raw_sql(m.sql))
            .await
            .with_context(|| format!("migration {} failed", m.name))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(super::time::now_text())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied_now.push(m.version);
    }
    Ok(applied_now)
}

/// Versions recorded as applied, for `chuangtong migrate --status` and tests.
pub async fn applied(db: &Db) -> anyhow::Result<Vec<i64>> {
    let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(|r| r.get::<i64, _>(0)).collect())
}
