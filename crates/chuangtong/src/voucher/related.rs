//! Related-party review (关联交易审查): an order between an enterprise and a
//! provider that share a shareholder (股东), an actual controller (实际控制人),
//! a registered address or a phone is flagged when it is placed, with the
//! reasons; its voucher part cannot be redeemed until a base admin clears it.
//!
//! What is compared: the enterprise's registry record (address, contact phone)
//! and the facts recorded here for enterprises and providers (the registry
//! keeps no shareholders, controllers, addresses or phones for providers).
//! Values are compared by a keyed digest of their normalised form, so a phone
//! or an identity number is never stored in clear; a shareholder and a
//! controller are the same kind of party (a person or a firm), so "the
//! enterprise's controller is a shareholder of the provider" is found too.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::auth::Role;
use crate::notify::{self, Notice, Recipient};
use crate::storage::{time, Tx};
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;

/// Sends a notice inside the caller's transaction, linking to `path` under the base.
pub(crate) async fn tell(
    tx: &mut Tx,
    base_id: &str,
    to: Recipient<'_>,
    kind: &'static str,
    title: String,
    body: String,
    path: &str,
) -> Result<(), AppError> {
    let code: String = sqlx::query("SELECT code FROM bases WHERE id = $1")
        .bind(base_id)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    notify::send(
        tx,
        base_id,
        to,
        &Notice {
            kind,
            title,
            body,
            link: Some(format!("/b/{code}/{path}")),
        },
    )
    .await?;
    Ok(())
}

pub const FACT_KINDS: [&str; 4] = ["shareholder", "controller", "address", "phone"];

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "shareholder" => "股东",
        "controller" => "实际控制人",
        "address" => "注册地址",
        "phone" => "联系电话",
        _ => "未知",
    }
}

/// Shareholders and controllers are one namespace: parties.
fn class_of(kind: &str) -> &'static str {
    match kind {
        "shareholder" | "controller" => "party",
        "address" => "address",
        _ => "phone",
    }
}

/// The comparable form: no spaces or punctuation, ASCII upper case; phones
/// as digits without the country code.
pub fn normalise(kind: &str, value: &str) -> String {
    if kind == "phone" {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        let trimmed = digits.strip_prefix("86").filter(|d| d.len() == 11).unwrap_or(&digits);
        return trimmed.to_string();
    }
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !"-_,.，。、·()（）#".contains(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn shown(kind: &str, value: &str) -> String {
    if kind == "phone" {
        let d = normalise(kind, value);
        if d.len() >= 7 {
            return format!("{}****{}", &d[..3], &d[d.len() - 4..]);
        }
        return "****".into();
    }
    value.trim().to_string()
}

fn digest(state: &AppState, kind: &str, value: &str) -> String {
    state
        .keys
        .pii_digest(&format!("party:{}:{}", class_of(kind), normalise(kind, value)))
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PartyFact {
    pub id: String,
    pub kind: String,
    /// What a reviewer sees (phones masked)
    pub shown: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PartyFactForm {
    /// shareholder | controller | address | phone
    pub kind: String,
    /// 名称或统一社会信用代码（股东、实际控制人），地址，或电话
    pub value: String,
}

async fn subject_exists(state: &AppState, base_id: &str, subject_kind: &str, id: &str) -> Result<(), AppError> {
    let table = match subject_kind {
        "enterprise" => "enterprises",
        "provider" => "providers",
        _ => return Err(AppError::NotFound),
    };
    sqlx::query(&format!("SELECT 1 FROM {table} WHERE base_id = $1 AND id = $2"))
        .bind(base_id)
        .bind(id)
        .fetch_optional(state.db.pool())
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

/// Records one fact about an enterprise or a provider (base admins).
pub async fn record_fact(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    subject_kind: &str,
    subject_id: &str,
    f: &PartyFactForm,
) -> Result<PartyFact, AppError> {
    subject_exists(state, base_id, subject_kind, subject_id).await?;
    let mut e = FieldErrors::default();
    let kind = f.kind.trim();
    if !FACT_KINDS.contains(&kind) {
        e.push(
            "kind",
            "party.kind",
            "类别应为 shareholder（股东）、controller（实际控制人）、address（注册地址）或 phone（联系电话）",
        );
    }
    let value = f.value.trim();
    if value.is_empty() {
        e.push("value", "text.required", "请填写内容");
    } else if value.chars().count() > 200 {
        e.push("value", "text.too_long", "内容不能超过200个字");
    } else if kind == "phone" && !(7..=11).contains(&normalise(kind, value).len()) {
        e.push("value", "party.phone", "电话号码应为7到11位数字");
    } else if FACT_KINDS.contains(&kind) && normalise(kind, value).is_empty() {
        e.push("value", "text.required", "请填写内容");
    }
    e.into_result()?;
    let id = crate::new_id();
    let now = time::now_text();
    let shown = shown(kind, value);
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO party_facts (id, base_id, subject_kind, subject_id, kind, value_digest, shown, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (base_id, subject_kind, subject_id, kind, value_digest) DO NOTHING",
    )
    .bind(&id)
    .bind(base_id)
    .bind(subject_kind)
    .bind(subject_id)
    .bind(kind)
    .bind(digest(state, kind, value))
    .bind(&shown)
    .bind(&now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::refused("party.duplicate", "该信息已登记"));
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "party.fact_recorded",
            entity: subject_kind,
            entity_id: Some(subject_id),
            before: None,
            after: Some(json!({ "kind": kind, "shown": shown })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(PartyFact {
        id,
        kind: kind.to_string(),
        shown,
        created_at: now,
    })
}

pub async fn list_facts(
    state: &AppState,
    base_id: &str,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<PartyFact>, AppError> {
    subject_exists(state, base_id, subject_kind, subject_id).await?;
    let rows = sqlx::query(
        "SELECT id, kind, shown, created_at FROM party_facts WHERE base_id = $1 AND subject_kind = $2 AND subject_id = $3 \
         ORDER BY kind, created_at",
    )
    .bind(base_id)
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PartyFact {
            id: r.get(0),
            kind: r.get(1),
            shown: r.get(2),
            created_at: r.get(3),
        })
        .collect())
}

/// (kind, digest, shown) of one side.
async fn facts_of(
    tx: &mut Tx,
    base_id: &str,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<(String, String, String)>, AppError> {
    Ok(sqlx::query(
        "SELECT kind, value_digest, shown FROM party_facts WHERE base_id = $1 AND subject_kind = $2 AND subject_id = $3",
    )
    .bind(base_id)
    .bind(subject_kind)
    .bind(subject_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// Why two parties are related, or nothing. Reads inside the caller's transaction.
pub async fn reasons(
    tx: &mut Tx,
    state: &AppState,
    base_id: &str,
    enterprise_id: &str,
    provider_id: &str,
) -> Result<Vec<String>, AppError> {
    let mut mine = facts_of(tx, base_id, "enterprise", enterprise_id).await?;
    // The registry's own address and contact phone of the enterprise.
    if let Some(r) =
        sqlx::query("SELECT address, contact_phone_enc, name, uscc FROM enterprises WHERE base_id = $1 AND id = $2")
            .bind(base_id)
            .bind(enterprise_id)
            .fetch_optional(&mut **tx)
            .await?
    {
        let address: String = r.get(0);
        if !normalise("address", &address).is_empty() {
            mine.push((
                "address".into(),
                digest(state, "address", &address),
                shown("address", &address),
            ));
        }
        if let Some(enc) = r.get::<Option<String>, _>(1) {
            let phone = state.keys.decrypt_pii(&enc).map_err(AppError::Internal)?;
            if !normalise("phone", &phone).is_empty() {
                mine.push(("phone".into(), digest(state, "phone", &phone), shown("phone", &phone)));
            }
        }
        // The firm itself, by name and by 统一社会信用代码: a party that may
        // hold shares in, or control, the provider.
        for v in [r.get::<String, _>(2), r.get::<String, _>(3)] {
            mine.push(("self".into(), digest(state, "shareholder", &v), r.get(2)));
        }
    }
    let mut theirs = facts_of(tx, base_id, "provider", provider_id).await?;
    if let Some(r) = sqlx::query("SELECT name, uscc FROM providers WHERE base_id = $1 AND id = $2")
        .bind(base_id)
        .bind(provider_id)
        .fetch_optional(&mut **tx)
        .await?
    {
        for v in [r.get::<String, _>(0), r.get::<String, _>(1)] {
            theirs.push(("self".into(), digest(state, "shareholder", &v), r.get(0)));
        }
    }
    let mut out = BTreeSet::new();
    for (ek, ed, es) in &mine {
        for (pk, pd, _) in &theirs {
            if ed != pd {
                continue;
            }
            out.insert(match (ek.as_str(), pk.as_str()) {
                // The two records' own names cannot make them related.
                ("self", "self") => continue,
                ("self", b) => format!("企业本身是服务机构的{}：{es}", kind_label(b)),
                (a, "self") => format!("服务机构本身是企业的{}：{es}", kind_label(a)),
                ("shareholder", "shareholder") => format!("双方有共同股东：{es}"),
                ("controller", "controller") => format!("双方实际控制人相同：{es}"),
                ("address", _) => format!("注册地址相同：{es}"),
                ("phone", _) => format!("联系电话相同：{es}"),
                (a, b) => format!("企业的{}同时是服务机构的{}：{es}", kind_label(a), kind_label(b)),
            });
        }
    }
    Ok(out.into_iter().collect())
}

/// Screens a new order inside its transaction; flags it when the parties
/// are related. Returns the reasons (empty: not related).
pub async fn screen_order(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    order_id: &str,
    enterprise_id: &str,
    provider_id: &str,
) -> Result<Vec<String>, AppError> {
    let found = reasons(tx, state, base_id, enterprise_id, provider_id).await?;
    if found.is_empty() {
        return Ok(found);
    }
    sqlx::query(
        "INSERT INTO voucher_order_flags (order_id, base_id, reasons, state, cleared_by, note, created_at, cleared_at) \
         VALUES ($1, $2, $3, 'flagged', NULL, '', $4, NULL)",
    )
    .bind(order_id)
    .bind(base_id)
    .bind(serde_json::to_string(&found).map_err(anyhow::Error::from)?)
    .bind(time::now_text())
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "order.related_party_flagged",
            entity: "service_order",
            entity_id: Some(order_id),
            before: None,
            after: Some(json!({ "reasons": found })),
        },
    )
    .await?;
    tell(
        tx,
        base_id,
        Recipient::Role(Role::BaseAdmin),
        "order.related_party_flagged",
        "服务订单涉嫌关联交易，待审核".into(),
        found.join("；"),
        "market/related-party",
    )
    .await?;
    Ok(found)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OrderFlag {
    pub order_id: String,
    pub enterprise_name: String,
    pub provider_name: String,
    pub service_name: String,
    pub price_fen: i64,
    pub voucher_fen: i64,
    pub order_state: String,
    pub reasons: Vec<String>,
    /// flagged | cleared
    pub state: String,
    pub note: String,
    pub created_at: String,
}

const FLAG_SQL: &str = "SELECT f.order_id, e.name, p.name, s.name, o.price_fen, o.voucher_fen, o.state, f.reasons, \
     f.state, f.note, f.created_at FROM voucher_order_flags f JOIN service_orders o ON o.id = f.order_id \
     JOIN enterprises e ON e.id = o.enterprise_id JOIN providers p ON p.id = o.provider_id \
     JOIN services s ON s.id = o.service_id WHERE f.base_id = $1";

fn flag_from_row(r: &sqlx::any::AnyRow) -> OrderFlag {
    OrderFlag {
        order_id: r.get(0),
        enterprise_name: r.get(1),
        provider_name: r.get(2),
        service_name: r.get(3),
        price_fen: r.get(4),
        voucher_fen: r.get(5),
        order_state: r.get(6),
        reasons: serde_json::from_str(&r.get::<String, _>(7)).unwrap_or_default(),
        state: r.get(8),
        note: r.get(9),
        created_at: r.get(10),
    }
}

/// Flagged orders of the base, those awaiting clearance first.
pub async fn list_flags(state: &AppState, base_id: &str) -> Result<Vec<OrderFlag>, AppError> {
    let rows = sqlx::query(&format!(
        "{FLAG_SQL} ORDER BY CASE WHEN f.state = 'flagged' THEN 0 ELSE 1 END, f.created_at DESC LIMIT 500"
    ))
    .bind(base_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows.iter().map(flag_from_row).collect())
}

pub async fn get_flag(state: &AppState, base_id: &str, order_id: &str) -> Result<OrderFlag, AppError> {
    let row = sqlx::query(&format!("{FLAG_SQL} AND f.order_id = $2"))
        .bind(base_id)
        .bind(order_id)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(flag_from_row(&row))
}

/// A base admin clears a flagged order after review; its voucher part may
/// then be redeemed. The note (why it is acceptable) is required.
pub async fn clear(
    state: &AppState,
    actor: &Actor,
    base_id: &str,
    order_id: &str,
    note: &str,
) -> Result<OrderFlag, AppError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(AppError::field("note", "text.required", "请填写审核意见"));
    }
    if note.chars().count() > 500 {
        return Err(AppError::field("note", "text.too_long", "审核意见不能超过500个字"));
    }
    let mut tx = state.db.begin().await?;
    let current: Option<String> =
        sqlx::query("SELECT state FROM voucher_order_flags WHERE base_id = $1 AND order_id = $2")
            .bind(base_id)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0));
    match current.as_deref() {
        None => return Err(AppError::NotFound),
        Some("cleared") => return Err(AppError::refused("party.already_cleared", "该订单已通过关联交易审核")),
        _ => {}
    }
    let changed = sqlx::query(
        "UPDATE voucher_order_flags SET state = 'cleared', cleared_by = $1, note = $2, cleared_at = $3 \
         WHERE base_id = $4 AND order_id = $5 AND state = 'flagged'",
    )
    .bind(actor.user_id.as_deref().unwrap_or(&actor.name))
    .bind(note)
    .bind(time::now_text())
    .bind(base_id)
    .bind(order_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AppError::refused("party.already_cleared", "该订单已通过关联交易审核"));
    }
    audit::append(
        &mut tx,
        &state.keys,
        actor,
        Entry {
            base_id: Some(base_id),
            action: "order.related_party_cleared",
            entity: "service_order",
            entity_id: Some(order_id),
            before: Some(json!({ "state": "flagged" })),
            after: Some(json!({ "state": "cleared", "note": note })),
        },
    )
    .await?;
    let provider: String = sqlx::query("SELECT provider_id FROM service_orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    tell(
        &mut tx,
        base_id,
        Recipient::Subject(&provider),
        "order.related_party_cleared",
        "关联交易审核已通过".into(),
        format!("订单已通过审核，可申请兑现。审核意见：{note}"),
        "market/orders",
    )
    .await?;
    tx.commit().await?;
    get_flag(state, base_id, order_id).await
}
