//! Creating accounts and memberships (used by the demo loader, the CLI and,
//! later, the platform administrator's pages).

use serde_json::json;

use super::role::Role;
use crate::audit::{self, Actor, Entry};
use crate::crypto::Keys;
use crate::storage::{time, Tx};

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub platform_admin: bool,
    pub phone: Option<&'a chuangtong_domain::Phone>,
}

pub async fn create(tx: &mut Tx, keys: &Keys, actor: &Actor, u: NewUser<'_>) -> anyhow::Result<String> {
    let id = crate::new_id();
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, platform_admin, phone_enc, \
         failed_logins, locked_until, password_changed_at, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, $7, 0, $7)",
    )
    .bind(&id)
    .bind(u.username)
    .bind(u.display_name)
    .bind(u.password_hash)
    .bind(u.platform_admin as i64)
    .bind(u.phone.map(|p| keys.encrypt_pii(p.as_str())))
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        keys,
        actor,
        Entry {
            base_id: None,
            action: "user.created",
            entity: "user",
            entity_id: Some(&id),
            before: None,
            after: Some(json!({
                "username": u.username,
                "display_name": u.display_name,
                "platform_admin": u.platform_admin,
                "phone": u.phone.map(|p| p.masked()),
            })),
        },
    )
    .await?;
    Ok(id)
}

pub async fn add_membership(
    tx: &mut Tx,
    keys: &Keys,
    actor: &Actor,
    user_id: &str,
    base_id: &str,
    role: Role,
    subject_id: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO memberships (user_id, base_id, role, subject_id) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(base_id)
        .bind(role.as_str())
        .bind(subject_id)
        .execute(&mut **tx)
        .await?;
    audit::append(
        tx,
        keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "membership.granted",
            entity: "user",
            entity_id: Some(user_id),
            before: None,
            after: Some(json!({ "role": role.as_str(), "subject_id": subject_id })),
        },
    )
    .await?;
    Ok(())
}
