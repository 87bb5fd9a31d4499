//! 摇号 (lottery) mode of a voucher batch: fairer than first come, first
//! served when scripts press the button faster than people.
//!
//! - When the batch is issued the platform draws a random 32-byte seed and
//!   publishes its SM3 digest (GB/T 32905) — the commitment — at once.
//! - During the claim window firms register interest (登记意向); the list of
//!   registrants (their 统一社会信用代码) is public.
//! - After the window closes a base admin runs the draw: the seed is
//!   revealed, each registrant's draw key is `SM3(seed ‖ ":" ‖ USCC)` in hex,
//!   registrants are served in ascending key order, each getting
//!   min(per-firm cap, what is left) until the budget is spent.
//!
//! Anyone can check that the revealed seed matches the digest published
//! before the window closed and recompute every key and the order from the
//! published list; nobody, the platform included, could steer the order
//! after seeing who registered. The winners' claims are written exactly like
//! first-come claims (wallets, one ledger fan-out, one audit entry).

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::desk::{self, Firm};
use crate::audit::{self, Actor, Entry};
use crate::crypto::sm3_hex;
use crate::ledger;
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

/// A batch's draw seed and its public commitment.
pub struct Seed {
    /// 64 hex characters
    pub seed: String,
    /// SM3 of the seed's hex text
    pub commitment: String,
}

impl Seed {
    pub fn generate() -> Seed {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let seed = hex::encode(bytes);
        let commitment = commitment(&seed);
        Seed { seed, commitment }
    }
}

pub fn commitment(seed: &str) -> String {
    sm3_hex(seed.as_bytes())
}

/// A registrant's place in the draw: smaller keys are served first.
pub fn draw_key(seed: &str, uscc: &str) -> String {
    sm3_hex(format!("{seed}:{uscc}").as_bytes())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Interest {
    pub batch_id: String,
    pub enterprise_id: String,
    pub registered_at: String,
    /// True when the firm had registered before
    pub replayed: bool,
}

/// 登记意向: one registration per firm, inside the claim window.
pub async fn register_interest(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    batch_id: &str,
    enterprise_id: &str,
) -> Result<Interest, AppError> {
    let desk = state.claim_desks.get(state, base_id, batch_id).await?;
    if !desk.terms.lottery {
        return Err(AppError::refused("voucher.not_lottery", "本批次为先到先得，请直接申领"));
    }
    desk.terms.check_window(Utc::now())?;
    if let Some(policy) = &desk.terms.eligibility_policy_id {
        super::eligibility::check_firm(state, base_id, policy, enterprise_id).await?;
    }
    let known = sqlx::query("SELECT 1 FROM enterprises WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(enterprise_id)
        .fetch_optional(state.db.pool())
        .await?;
    if known.is_none() {
        return Err(AppError::NotFound);
    }
    // One statement, no read-modify-write: a registration never waits for
    // another firm's. It is not an audit entry of its own: the draw's entry
    // lists every registrant it served, and the list is public.
    let now = time::now_text();
    let fresh = sqlx::query(
        "INSERT INTO voucher_interests (batch_id, enterprise_id, base_id, user_id, registered_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id, enterprise_id) DO NOTHING",
    )
    .bind(batch_id)
    .bind(enterprise_id)
    .bind(base_id)
    .bind(actor.user_id.as_deref())
    .bind(&now)
    .execute(state.db.pool())
    .await?
    .rows_affected()
        == 1;
    let registered_at = if fresh {
        now
    } else {
        sqlx::query("SELECT registered_at FROM voucher_interests WHERE batch_id = $1 AND enterprise_id = $2")
            .bind(batch_id)
            .bind(enterprise_id)
            .fetch_one(state.db.pool())
            .await?
            .get(0)
    };
    Ok(Interest {
        batch_id: batch_id.to_string(),
        enterprise_id: enterprise_id.to_string(),
        registered_at,
        replayed: !fresh,
    })
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Registrant {
    pub uscc: String,
    pub name: String,
    pub registered_at: String,
    /// After the draw: SM3(seed ‖ ":" ‖ USCC)
    pub draw_key: Option<String>,
    /// After the draw: 1 = served first
    pub rank: Option<i64>,
    /// After the draw: what the firm received (0 = not drawn)
    pub amount_fen: Option<i64>,
}

/// The public record of a lottery: commitment, seed once drawn, registrants.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Lottery {
    pub batch_id: String,
    pub seed_sm3: String,
    pub seed: Option<String>,
    pub drawn_at: Option<String>,
    pub registrants: Vec<Registrant>,
    /// How to recompute the draw
    pub method: String,
}

pub const METHOD: &str = "开奖后公布种子 seed（64位十六进制）。核对：SM3(seed) 应等于申领开始前公布的承诺值；\
     每家登记企业的排序键 = SM3(seed + \":\" + 统一社会信用代码)（十六进制小写），按排序键升序依次分配，\
     每家取“每家上限”与“剩余额度”中的较小者，直至额度用完。";

pub async fn view(state: &AppState, base_id: &str, batch_id: &str) -> Result<Lottery, AppError> {
    let row = sqlx::query(
        "SELECT claim_mode, lottery_seed, lottery_seed_sm3, lottery_drawn_at FROM voucher_batches \
         WHERE base_id = $1 AND id = $2",
    )
    .bind(base_id)
    .bind(batch_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    if row.get::<String, _>(0) != "lottery" {
        return Err(AppError::NotFound);
    }
    let drawn_at: Option<String> = row.get(3);
    let seed: Option<String> = drawn_at.as_ref().and(row.get(1));
    let rows = sqlx::query(
        "SELECT e.uscc, e.name, i.registered_at, c.amount_fen FROM voucher_interests i \
         JOIN enterprises e ON e.id = i.enterprise_id \
         LEFT JOIN voucher_claims c ON c.batch_id = i.batch_id AND c.enterprise_id = i.enterprise_id \
         WHERE i.batch_id = $1 AND i.base_id = $2",
    )
    .bind(batch_id)
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut registrants: Vec<Registrant> = rows
        .iter()
        .map(|r| {
            let uscc: String = r.get(0);
            Registrant {
                draw_key: seed.as_deref().map(|s| draw_key(s, &uscc)),
                uscc,
                name: r.get(1),
                registered_at: r.get(2),
                rank: None,
                amount_fen: seed.as_ref().map(|_| r.get::<Option<i64>, _>(3).unwrap_or(0)),
            }
        })
        .collect();
    if seed.is_some() {
        registrants.sort_by(|a, b| a.draw_key.cmp(&b.draw_key));
        for (i, r) in registrants.iter_mut().enumerate() {
            r.rank = Some(i as i64 + 1);
        }
    } else {
        registrants.sort_by(|a, b| a.registered_at.cmp(&b.registered_at).then(a.uscc.cmp(&b.uscc)));
    }
    Ok(Lottery {
        batch_id: batch_id.to_string(),
        seed_sm3: row.get(2),
        seed,
        drawn_at,
        registrants,
        method: METHOD.to_string(),
    })
}

/// 开奖: after the window, once. Running it again returns the same result.
pub async fn draw(state: &AppState, actor: &Actor, base_id: &str, batch_id: &str) -> Result<Lottery, AppError> {
    let desk = state.claim_desks.get(state, base_id, batch_id).await?;
    let terms = &desk.terms;
    if !terms.lottery {
        return Err(AppError::refused("voucher.not_lottery", "本批次为先到先得，无需摇号"));
    }
    if terms.closes.is_some_and(|c| Utc::now() < c) {
        return Err(AppError::refused(
            "voucher.lottery_window_open",
            format!("登记截止（{}）后才能摇号", time::display(&terms.closes_text)),
        ));
    }
    let mut tx = state.db.begin().await?;
    let lock = state.db.backend().row_lock();
    let row = sqlx::query(&format!(
        "SELECT lottery_seed, lottery_drawn_at FROM voucher_batches WHERE base_id = $1 AND id = $2{lock}"
    ))
    .bind(base_id)
    .bind(batch_id)
    .fetch_one(&mut *tx)
    .await?;
    let (seed, drawn_at): (String, Option<String>) = (row.get(0), row.get(1));
    if drawn_at.is_some() {
        tx.rollback().await?;
        return view(state, base_id, batch_id).await;
    }
    let mut left = ledger::available(&mut tx, state.db.backend(), &terms.budget_account_id, true).await?;
    let rows = sqlx::query(
        "SELECT i.enterprise_id, e.uscc, i.user_id FROM voucher_interests i \
         JOIN enterprises e ON e.id = i.enterprise_id WHERE i.batch_id = $1 AND i.base_id = $2",
    )
    .bind(batch_id)
    .bind(base_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut drawn: Vec<(String, Firm)> = rows
        .iter()
        .map(|r| {
            let uscc: String = r.get(1);
            (
                draw_key(&seed, &uscc),
                Firm {
                    enterprise_id: r.get(0),
                    user_id: r.get(2),
                },
            )
        })
        .collect();
    drawn.sort_by(|a, b| a.0.cmp(&b.0));
    let mut fresh = Vec::new();
    for (_, firm) in &drawn {
        let amount = terms.per_firm_cap_fen.min(left);
        if amount <= 0 {
            break;
        }
        left -= amount;
        fresh.push((firm, amount));
    }
    let winners = fresh.len();
    if !fresh.is_empty() {
        let written = desk::write_claims(&mut tx, state, terms, fresh, "voucher.lottery_claimed")
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("lottery draw: {e}")))?;
        if !written.lost_race.is_empty() {
            // A wallet of this batch can only come from this draw.
            return Err(AppError::Internal(anyhow::anyhow!(
                "lottery draw found existing wallets"
            )));
        }
    }
    let now = time::now_text();
    sqlx::query("UPDATE voucher_batches SET lottery_drawn_at = $1 WHERE base_id = $2 AND id = $3")
        .bind(&now)
        .bind(base_id)
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "voucher.lottery_drawn",
            entity: "voucher_batch",
            entity_id: Some(batch_id),
            before: None,
            after: Some(
                json!({ "seed": seed, "seed_sm3": commitment(&seed), "registrants": drawn.len(),
                "winners": winners, "budget_left_fen": left }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    view(state, base_id, batch_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_and_keys_are_recomputable() {
        let s = Seed::generate();
        assert_eq!(s.seed.len(), 64);
        assert_eq!(s.commitment, commitment(&s.seed));
        // SM3("abc") from GB/T 32905 appendix A.
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        let a = draw_key(&s.seed, "91350105MA00000011");
        assert_eq!(a, draw_key(&s.seed, "91350105MA00000011"));
        assert_ne!(a, draw_key(&s.seed, "91350105MA00000020"));
        assert_ne!(a, draw_key(&Seed::generate().seed, "91350105MA00000011"));
    }
}
