//! Who is told about each step of an application, through
//! [`crate::notify::send`] inside the step's own transaction (a notice exists
//! exactly when its step committed):
//!
//! | step | to | kind |
//! |---|---|---|
//! | 退回补正 | the applicant | `application.returned` |
//! | 不予通过 (pre-review or an upheld objection) | the applicant | `application.rejected` |
//! | 专家抽取 | each drawn expert | `application.expert_drawn` |
//! | 公示异议 | the base admins | `application.objection` |
//! | 批准 | the applicant | `application.approved` |
//! | 兑现 | the applicant | `application.paid` |

use sqlx::Row;

use crate::auth::Role;
use crate::notify::{self, Notice, Recipient};
use crate::storage::Tx;
use crate::web::error::AppError;

async fn link(tx: &mut Tx, base_id: &str, application_id: &str) -> Result<(String, String), AppError> {
    let r = sqlx::query(
        "SELECT b.code, g.name FROM applications a JOIN bases b ON b.id = a.base_id JOIN programmes g ON g.id = a.programme_id \
         WHERE a.base_id = $1 AND a.id = $2",
    )
    .bind(base_id)
    .bind(application_id)
    .fetch_one(&mut **tx)
    .await?;
    let (code, programme): (String, String) = (r.get(0), r.get(1));
    Ok((format!("/b/{code}/applications/{application_id}"), programme))
}

/// Tells `to` about a step of `application_id`; the title is prefixed with the programme's name.
pub async fn tell(
    tx: &mut Tx,
    base_id: &str,
    to: Recipient<'_>,
    kind: &'static str,
    application_id: &str,
    title: &str,
    body: String,
) -> Result<u64, AppError> {
    let (link, programme) = link(tx, base_id, application_id).await?;
    let n = notify::send(
        tx,
        base_id,
        to,
        &Notice {
            kind,
            title: format!("{programme}：{title}"),
            body,
            link: Some(link),
        },
    )
    .await?;
    Ok(n)
}

/// The applicant (every account acting for the enterprise).
pub async fn applicant(
    tx: &mut Tx,
    base_id: &str,
    enterprise_id: &str,
    kind: &'static str,
    application_id: &str,
    title: &str,
    body: String,
) -> Result<u64, AppError> {
    tell(
        tx,
        base_id,
        Recipient::Subject(enterprise_id),
        kind,
        application_id,
        title,
        body,
    )
    .await
}

/// The base admins, who resolve objections.
pub async fn admins(
    tx: &mut Tx,
    base_id: &str,
    kind: &'static str,
    application_id: &str,
    title: &str,
    body: String,
) -> Result<u64, AppError> {
    tell(
        tx,
        base_id,
        Recipient::Role(Role::BaseAdmin),
        kind,
        application_id,
        title,
        body,
    )
    .await
}
