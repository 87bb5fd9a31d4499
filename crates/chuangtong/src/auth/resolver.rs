//! Credential look-ups, coalesced: one query answers every request that is
//! waiting to be authenticated.
//!
//! Every route authenticates, and in a flash claim thousands of firms, each
//! with its own token, arrive in the same second: one query per request made
//! the look-up cost as much as the claim itself (on SQLite every query is a
//! hand-off to a connection's worker thread and back). The resolver keeps the
//! answer exact — each look-up reads the database after its request arrived,
//! so a revoked token or a disabled account is refused at once, in every
//! process — but lets look-ups that wait at the same moment share a query
//! (`WHERE token_digest IN (…)`), as the claim desk lets claims share a
//! commit. Under light load a batch is a single look-up; nothing waits for a
//! batch to fill.

use std::collections::HashMap;
use std::sync::OnceLock;

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::extract::Membership;
use super::role::Role;
use crate::coalesce;
use crate::storage::{time, Backend, Db, Params};

/// Up to 256 credentials per query, up to four queries at once (each holds
/// one pooled connection), but a query beside others only for at least 32:
/// in a rush, batches of six (1,659 queries for 10,000 claims) cost the
/// database more in planning and round trips than the wait saves
/// (bench/RESULTS.md).
const BATCHING: coalesce::Batching = coalesce::Batching {
    max: 256,
    in_flight: 4,
    min_beside: 32,
};
/// Look-ups waiting per process; a full queue waits (backpressure).
const QUEUE: usize = 16_384;

/// How the client proved who it is; both carry the secret it presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Authorization: Bearer …` (an API token)
    Token,
    /// The session cookie of the pages
    Session,
}

/// A live credential's account, with every membership and its base.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub platform_admin: bool,
    /// The session's CSRF token (sessions only)
    pub csrf: Option<String>,
    pub memberships: Vec<Membership>,
}

struct Lookup {
    kind: Kind,
    digest: String,
    reply: oneshot::Sender<sqlx::Result<Option<Resolved>>>,
}

/// The per-process resolver. Its task starts on first use and ends when the
/// application state (which holds the queue's sender) is dropped.
#[derive(Default)]
pub struct Resolver {
    queue: OnceLock<mpsc::Sender<Lookup>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("started", &self.queue.get().is_some())
            .finish()
    }
}

impl Resolver {
    /// The live account behind `digest` (the SM3 of the presented secret),
    /// or `None` for an unknown, expired or revoked credential or a disabled
    /// account.
    pub async fn resolve(&self, db: &Db, kind: Kind, digest: String) -> sqlx::Result<Option<Resolved>> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let db = db.clone();
            tokio::spawn(coalesce::serve_in_batches(rx, BATCHING, move |batch| {
                let db = db.clone();
                async move { answer_batch(&db, batch).await }
            }));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let lookup = Lookup { kind, digest, reply };
        // The task is gone only if it was started on a runtime that has
        // since shut down (tests that build the state on one runtime and use
        // it on another): look up directly.
        if let Err(mpsc::error::SendError(lookup)) = queue.send(lookup).await {
            return Ok(look_up(db, lookup.kind, &[lookup.digest]).await?.pop().flatten());
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }
}

/// Answers one batch with one query per kind.
async fn answer_batch(db: &Db, batch: Vec<Lookup>) {
    let (tokens, sessions): (Vec<Lookup>, Vec<Lookup>) = batch.into_iter().partition(|l| l.kind == Kind::Token);
    for group in [tokens, sessions] {
        let Some(kind) = group.first().map(|l| l.kind) else {
            continue;
        };
        let digests: Vec<String> = group.iter().map(|l| l.digest.clone()).collect();
        match look_up(db, kind, &digests).await {
            Ok(found) => {
                for (l, answer) in group.into_iter().zip(found) {
                    let _ = l.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for l in group {
                    let _ = l.reply.send(Err(sqlx::Error::Protocol(msg.clone())));
                }
            }
        }
    }
}

/// One query for `digests` of one kind; one answer per digest, in order (a
/// credential looked up twice in one batch is answered twice).
async fn look_up(db: &Db, kind: Kind, digests: &[String]) -> sqlx::Result<Vec<Option<Resolved>>> {
    let (csrf, from, live) = match kind {
        Kind::Token => ("NULL", "api_tokens", "AND p.revoked = 0"),
        Kind::Session => ("p.csrf_token", "sessions", ""),
    };
    // PostgreSQL: one text parameter (digests are hex, so a comma separates
    // them safely) keeps the statement's text the same whatever the batch
    // size, so each connection prepares and plans it once; an `IN` list of
    // varying length was planned afresh at every batch. SQLite prepares in
    // microseconds: a plain `IN` list.
    let mut p = Params::new(db.backend());
    let digests_in = match db.backend() {
        Backend::Postgres => format!("= ANY(string_to_array({}, ','))", p.one()),
        Backend::Sqlite => format!("IN ({})", p.list(digests.len())),
    };
    let sql = format!(
        "SELECT p.token_digest, u.id, u.username, u.display_name, u.platform_admin, u.disabled, {csrf}, \
         b.id, b.code, b.name, b.kind, m.role, m.subject_id FROM {from} p JOIN users u ON u.id = p.user_id \
         LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN bases b ON b.id = m.base_id \
         WHERE p.token_digest {digests_in} AND p.expires_at > {} {live} ORDER BY p.token_digest, b.code",
        p.one()
    );
    let mut q = sqlx::query(&sql);
    match db.backend() {
        Backend::Postgres => q = q.bind(digests.join(",")),
        Backend::Sqlite => {
            for d in digests {
                q = q.bind(d);
            }
        }
    }
    let rows = q.bind(time::now_text()).fetch_all(db.pool()).await?;
    let mut by_digest: HashMap<String, Resolved> = HashMap::new();
    for r in &rows {
        let digest: String = r.get(0);
        if r.get::<i64, _>(5) == 1 {
            continue;
        }
        let entry = by_digest.entry(digest).or_insert_with(|| Resolved {
            user_id: r.get(1),
            username: r.get(2),
            display_name: r.get(3),
            platform_admin: r.get::<i64, _>(4) == 1,
            csrf: r.get(6),
            memberships: Vec::new(),
        });
        if let (Some(base_id), Some(role)) = (
            r.get::<Option<String>, _>(7),
            r.get::<Option<String>, _>(11).as_deref().and_then(Role::parse),
        ) {
            entry.memberships.push(Membership {
                base_id,
                base_code: r.get(8),
                base_name: r.get(9),
                base_kind: r.get(10),
                role,
                subject_id: r.get(12),
            });
        }
    }
    Ok(digests.iter().map(|d| by_digest.get(d).cloned()).collect())
}
