//! Synthetic firms for load and crash programs: `n` enterprises of a base,
//! each with an enterprise account and an API token, written in SQL in
//! chunks. (Ten thousand argon2 logins would take minutes and measure the
//! password hash, not the claim.) The names say 压测 and the rows are flagged
//! synthetic, like every demo row.

use sqlx::Row;

use crate::storage::{time, Db};

/// Registers `n` firms (USCC prefix `91350105` + `tag` + a number) and
/// returns `(enterprise_id, api_token)` for each.
pub async fn register_firms(db: &Db, base_id: &str, tag: char, n: usize) -> anyhow::Result<Vec<(String, String)>> {
    // Load accounts log in with a token only; the hash is of a random password.
    let hash = crate::auth::password::hash_blocking(&crate::crypto::random_token())?;
    let now = time::now_text();
    let far = time::to_text(chrono::Utc::now() + chrono::Duration::days(1));
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin().await?;
        for &i in chunk {
            let (eid, uid) = (crate::new_id(), crate::new_id());
            let uscc = chuangtong_domain::Uscc::with_check_char(&format!("91350105M{tag}{i:07}"))
                .map_err(|e| anyhow::anyhow!("load firm USCC: {e:?}"))?;
            sqlx::query(
                "INSERT INTO enterprises (id, base_id, uscc, name, region_code, industry, founded_on, \
                 registered_capital_fen, employees, high_tech, address, contact_name, synthetic, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, '350105', 'C', '2020-01-01', 100, 5, 0, '', '', 1, $5, $5)",
            )
            .bind(&eid)
            .bind(base_id)
            .bind(uscc.as_str())
            .bind(format!("压测企业{tag}{i}"))
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO users (id, username, display_name, password_hash, platform_admin, failed_logins, \
                 password_changed_at, disabled, created_at) VALUES ($1, $2, '压测', $3, 0, 0, $4, 0, $4)",
            )
            .bind(&uid)
            .bind(format!("load-{tag}-{i}"))
            .bind(&hash)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO memberships (user_id, base_id, role, subject_id) VALUES ($1, $2, 'enterprise', $3)",
            )
            .bind(&uid)
            .bind(base_id)
            .bind(&eid)
            .execute(&mut *tx)
            .await?;
            let token = format!("ct_load_{}", crate::crypto::random_token());
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, token_digest, name, created_at, expires_at, revoked) \
                 VALUES ($1, $2, $3, 'load', $4, $5, 0)",
            )
            .bind(crate::new_id())
            .bind(&uid)
            .bind(crate::crypto::sm3_hex(token.as_bytes()))
            .bind(&now)
            .bind(&far)
            .execute(&mut *tx)
            .await?;
            out.push((eid, token));
        }
        tx.commit().await?;
    }
    Ok(out)
}

/// The id of the base with `code`.
pub async fn base_id(db: &Db, code: &str) -> anyhow::Result<String> {
    Ok(sqlx::query("SELECT id FROM bases WHERE code = $1")
        .bind(code)
        .fetch_one(db.pool())
        .await?
        .get(0))
}
