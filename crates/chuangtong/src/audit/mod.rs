//! Security audit (等保 "安全审计"): every state change is appended to a
//! hash chain with who, when, what, and the record before and after.
//!
//! There is one chain per base and one for the platform. An entry's hash is
//! HMAC-SM3(prev_hash, canonical content), and `audit_heads` keeps each
//! chain's last seq and hash, so [`verify`] detects an edited entry (hash
//! mismatch), an inserted or deleted one (broken seq or prev link) and a cut
//! tail (head ahead of the log). Appending locks the chain's head row inside
//! the caller's transaction: the entry commits or rolls back with the change
//! it describes, and concurrent appenders (in any process) queue on the row.
//!
//! Callers never put personal information in clear into before/after: they
//! pass masked values.

pub mod routes;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::crypto::Keys;
use crate::storage::{time, Db, Tx};

pub const PLATFORM_CHAIN: &str = "platform";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it. Built from the authenticated user by the web layer, or
/// `Actor::system("…")` for the CLI and demo loader.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<String>,
    pub name: String,
}

impl Actor {
    pub fn system(name: &str) -> Actor {
        Actor {
            user_id: None,
            name: format!("system:{name}"),
        }
    }
}

/// One change to record.
pub struct Entry<'a> {
    /// The base the change belongs to, or `None` for platform-wide changes.
    pub base_id: Option<&'a str>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The exact bytes that are hashed. Field order is fixed by this struct.
#[derive(Serialize)]
struct Canonical<'a> {
    chain: &'a str,
    seq: i64,
    at: &'a str,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    action: &'a str,
    entity: &'a str,
    entity_id: Option<&'a str>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

pub async fn append(tx: &mut Tx, keys: &Keys, actor: &Actor, e: Entry<'_>) -> anyhow::Result<i64> {
    let chain = e.base_id.unwrap_or(PLATFORM_CHAIN);
    // Taking the row lock here serialises appends to this chain. A chain's
    // head is created by its first append only (one statement fewer on every
    // other append: the claim desk appends once per group).
    const NEXT: &str = "UPDATE audit_heads SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash";
    let head = match sqlx::query(NEXT).bind(chain).fetch_optional(&mut **tx).await? {
        Some(head) => head,
        None => {
            sqlx::query("INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING")
                .bind(chain)
                .bind(GENESIS)
                .execute(&mut **tx)
                .await?;
            sqlx::query(NEXT).bind(chain).fetch_one(&mut **tx).await?
        }
    };
    let seq: i64 = head.get(0);
    let prev_hash: String = head.get(1);
    let at = time::now_text();
    let before = e.before.map(|v| v.to_string());
    let after = e.after.map(|v| v.to_string());
    let content = serde_json::to_string(&Canonical {
        chain,
        seq,
        at: &at,
        actor_id: actor.user_id.as_deref(),
        actor_name: &actor.name,
        action: e.action,
        entity: e.entity,
        entity_id: e.entity_id,
        before: before.as_deref(),
        after: after.as_deref(),
    })?;
    let hash = keys.audit_mac(&prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_log (chain, seq, at, actor_id, actor_name, action, entity, entity_id, \
         before_json, after_json, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(chain)
    .bind(seq)
    .bind(&at)
    .bind(actor.user_id.as_deref())
    .bind(&actor.name)
    .bind(e.action)
    .bind(e.entity)
    .bind(e.entity_id)
    .bind(before.as_deref())
    .bind(after.as_deref())
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_heads SET hash = $1 WHERE chain = $2")
        .bind(&hash)
        .bind(chain)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

/// What `audit verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub chains: usize,
    pub entries: usize,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn verify(db: &Db, keys: &Keys) -> anyhow::Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut chains: Vec<(String, i64, String)> = sqlx::query("SELECT chain, seq, hash FROM audit_heads ORDER BY chain")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    // Entries whose chain has no head were inserted behind the platform's back.
    let orphan = sqlx::query("SELECT DISTINCT chain FROM audit_log WHERE chain NOT IN (SELECT chain FROM audit_heads)")
        .fetch_all(db.pool())
        .await?;
    for r in orphan {
        let chain: String = r.get(0);
        report
            .problems
            .push(format!("链 {chain}: 存在日志但没有链头记录（疑似伪造）"));
        chains.push((chain, 0, GENESIS.to_string()));
    }
    report.chains = chains.len();
    for (chain, head_seq, head_hash) in chains {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor_name, action, entity, entity_id, before_json, \
             after_json, prev_hash, hash FROM audit_log WHERE chain = $1 ORDER BY seq",
        )
        .bind(&chain)
        .fetch_all(db.pool())
        .await?;
        let mut expected_prev = GENESIS.to_string();
        let mut expected_seq = 1i64;
        for r in &rows {
            report.entries += 1;
            let seq: i64 = r.get(0);
            let at: String = r.get(1);
            let actor_id: Option<String> = r.get(2);
            let actor_name: String = r.get(3);
            let action: String = r.get(4);
            let entity: String = r.get(5);
            let entity_id: Option<String> = r.get(6);
            let before: Option<String> = r.get(7);
            let after: Option<String> = r.get(8);
            let prev_hash: String = r.get(9);
            let hash: String = r.get(10);
            if seq != expected_seq {
                report.problems.push(format!(
                    "链 {chain}: 第{expected_seq}条缺失或序号被改动（读到第{seq}条）"
                ));
            }
            if prev_hash != expected_prev {
                report.problems.push(format!(
                    "链 {chain} 第{seq}条: 前序哈希不连续（条目被插入、删除或改动）"
                ));
            }
            let content = serde_json::to_string(&Canonical {
                chain: &chain,
                seq,
                at: &at,
                actor_id: actor_id.as_deref(),
                actor_name: &actor_name,
                action: &action,
                entity: &entity,
                entity_id: entity_id.as_deref(),
                before: before.as_deref(),
                after: after.as_deref(),
            })?;
            if keys.audit_mac(&prev_hash, &content) != hash {
                report
                    .problems
                    .push(format!("链 {chain} 第{seq}条: 内容与哈希不符（条目被改动）"));
            }
            expected_prev = hash;
            expected_seq = seq + 1;
        }
        let last_seq = expected_seq - 1;
        if last_seq != head_seq || expected_prev != head_hash {
            report.problems.push(format!(
                "链 {chain}: 链头记录为第{head_seq}条，日志止于第{last_seq}条（尾部条目被删除或链头被改动）"
            ));
        }
    }
    Ok(report)
}

/// One entry as shown to an administrator.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor_name: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub hash: String,
}

pub async fn recent(db: &Db, chain: &str, limit: i64) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_name, action, entity, entity_id, before_json, after_json, hash \
         FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(chain)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            seq: r.get(0),
            at: r.get(1),
            actor_name: r.get(2),
            action: r.get(3),
            entity: r.get(4),
            entity_id: r.get(5),
            before: r.get(6),
            after: r.get(7),
            hash: r.get(8),
        })
        .collect())
}
