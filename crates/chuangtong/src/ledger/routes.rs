//! `/api/v1/bases/{base}/ledger/…`: accounts and transfers, for base
//! administrators. Programmes and voucher batches move money through the
//! service functions in `ledger`; these routes are the administrator's view
//! and manual entry (e.g. funding a budget).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{Account, AccountKind, Applied, LedgerError, Resolution, TransferSpec};
use crate::auth::{BaseScope, Role};
use crate::registry::required_text;
use crate::web::error::{ApiResult, AppError, FieldErrors};
use crate::web::forms::ApiJson;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/bases/{base}/ledger/accounts",
            get(list_accounts).post(open_account),
        )
        .route("/api/v1/bases/{base}/ledger/transfers", post(create_transfers))
        .route("/api/v1/bases/{base}/ledger/transfers/{id}/post", post(post_pending))
        .route("/api/v1/bases/{base}/ledger/transfers/{id}/void", post(void_pending))
}

/// Every account of the base with its running totals (base administrators).
#[utoipa::path(get, path = "/api/v1/bases/{base}/ledger/accounts", params(("base" = String, Path)),
    responses((status = 200, body = [Account]), (status = 403)))]
pub async fn list_accounts(State(state): State<AppState>, scope: BaseScope) -> ApiResult<Json<Vec<Account>>> {
    scope.require(&[Role::BaseAdmin])?;
    Ok(Json(super::accounts(&state.db, &scope.base.id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    code: String,
    name: String,
    kind: AccountKind,
    /// Debits may not exceed credits (budgets and wallets)
    #[serde(default)]
    no_overdraft: bool,
}

/// Opens an account (or returns the existing one with that code).
#[utoipa::path(post, path = "/api/v1/bases/{base}/ledger/accounts", params(("base" = String, Path)), request_body = NewAccount,
    responses((status = 201, body = crate::registry::routes::Created), (status = 403), (status = 422)))]
pub async fn open_account(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(body): ApiJson<NewAccount>,
) -> ApiResult<(StatusCode, Json<crate::registry::routes::Created>)> {
    scope.require(&[Role::BaseAdmin])?;
    let mut errors = FieldErrors::default();
    let code = required_text(&mut errors, "code", "账户代码", &body.code, 100);
    let name = required_text(&mut errors, "name", "账户名称", &body.name, 100);
    errors.into_result()?;
    let mut tx = state.db.begin().await?;
    let id = super::open_account(
        &mut tx,
        &scope.base.id,
        &code.unwrap(),
        &name.unwrap(),
        body.kind,
        body.no_overdraft,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(crate::registry::routes::Created { id })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TransferRequest {
    /// Unique per request; a retry with the same key returns the first result
    idempotency_key: String,
    /// Linked: all apply or none
    transfers: Vec<TransferLeg>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TransferLeg {
    /// Account code to debit
    debit: String,
    /// Account code to credit
    credit: String,
    amount_fen: i64,
    /// Makes the transfer pending, expiring after this many seconds
    pending_timeout_secs: Option<i64>,
    #[serde(default)]
    memo: String,
}

/// Applies linked transfers atomically and idempotently.
#[utoipa::path(post, path = "/api/v1/bases/{base}/ledger/transfers", params(("base" = String, Path)), request_body = TransferRequest,
    responses((status = 201, body = Applied), (status = 200, body = Applied, description = "replayed"),
              (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn create_transfers(
    State(state): State<AppState>,
    scope: BaseScope,
    ApiJson(body): ApiJson<TransferRequest>,
) -> ApiResult<(StatusCode, Json<Applied>)> {
    scope.require(&[Role::BaseAdmin])?;
    let key = body.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::field(
            "idempotency_key",
            "ledger.idempotency_key",
            "请提供1到200个字符的幂等键",
        ));
    }
    let mut tx = state.db.begin().await?;
    let mut legs = Vec::with_capacity(body.transfers.len());
    for l in &body.transfers {
        if let Some(s) = l.pending_timeout_secs {
            if !(1..=366 * 24 * 3600).contains(&s) {
                return Err(AppError::field(
                    "pending_timeout_secs",
                    "ledger.timeout",
                    "待入账期限应为1秒到366天",
                ));
            }
        }
        legs.push(TransferSpec {
            debit_account_id: super::account_by_code(&mut tx, &scope.base.id, &l.debit).await?.id,
            credit_account_id: super::account_by_code(&mut tx, &scope.base.id, &l.credit).await?.id,
            amount_fen: l.amount_fen,
            pending_timeout_secs: l.pending_timeout_secs,
            memo: l.memo.clone(),
        });
    }
    let applied = super::transfer(
        &mut tx,
        state.db.backend(),
        &state.keys,
        &scope.user.actor(),
        &scope.base.id,
        key,
        &legs,
    )
    .await?;
    tx.commit().await?;
    let status = if applied.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(applied)))
}

async fn resolve(state: &AppState, scope: &BaseScope, id: &str, how: Resolution) -> ApiResult<StatusCode> {
    scope.require(&[Role::BaseAdmin])?;
    let mut tx = state.db.begin().await?;
    super::resolve(&mut tx, &state.keys, &scope.user.actor(), &scope.base.id, id, how).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Posts a pending transfer (e.g. delivery confirmed).
#[utoipa::path(post, path = "/api/v1/bases/{base}/ledger/transfers/{id}/post", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn post_pending(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    resolve(&state, &scope, &id, Resolution::Post).await
}

/// Voids a pending transfer (e.g. order cancelled): the reservation is released.
#[utoipa::path(post, path = "/api/v1/bases/{base}/ledger/transfers/{id}/void", params(("base" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn void_pending(
    State(state): State<AppState>,
    scope: BaseScope,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    resolve(&state, &scope, &id, Resolution::Void).await
}

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        super::Failure::Refused(e).into()
    }
}
