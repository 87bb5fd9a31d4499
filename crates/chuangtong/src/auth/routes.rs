//! Login, logout and password change, as pages and as JSON API.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{Membership, Via};
use super::login::{self, Issue, Issued};
use super::session::{self, SESSION_HOURS};
use super::{CurrentUser, PageUser};
use crate::web::error::{ApiResult, AppError, FieldErrors, PageResult};
use crate::web::forms::{session_cookie, ApiJson, CsrfOnly};
use crate::web::pages::{page, Nav};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout_submit))
        .route("/password", get(password_page).post(password_submit))
        .route("/api/v1/auth/login", post(api_login))
        .route("/api/v1/auth/logout", post(api_logout))
        .route("/api/v1/me", get(api_me))
        .route("/api/v1/me/password", post(api_password))
}

fn client_of(addr: &SocketAddr) -> String {
    addr.ip().to_string()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    username: String,
    error: Option<String>,
}

async fn login_page() -> impl IntoResponse {
    page(&LoginPage {
        nav: Nav::anonymous(),
        username: String::new(),
        error: None,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Response {
    match login::login(
        &state,
        &form.username,
        &form.password,
        &client_of(&addr),
        Issue::Session,
    )
    .await
    {
        Ok((_, Issued::Session(s))) => (
            [(
                header::SET_COOKIE,
                session_cookie(&s.token, state.settings.secure_cookies, SESSION_HOURS * 3600),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Ok((_, Issued::Token(_))) => unreachable!("a session was asked for"),
        Err(AppError::Internal(e)) => crate::web::error::PageError(AppError::Internal(e)).into_response(),
        Err(e) => {
            let status = e.status();
            let message = match &e {
                AppError::Validation(f) => f.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("；"),
                other => other.to_string(),
            };
            (
                status,
                page(&LoginPage {
                    nav: Nav::anonymous(),
                    username: form.username,
                    error: Some(message),
                }),
            )
                .into_response()
        }
    }
}

async fn logout_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<CsrfOnly>,
) -> PageResult<Response> {
    user.check_csrf(&form.csrf)?;
    end_session(&state, &user).await?;
    Ok((
        [(header::SET_COOKIE, session_cookie("", state.settings.secure_cookies, 0))],
        Redirect::to("/login"),
    )
        .into_response())
}

async fn end_session(state: &AppState, user: &CurrentUser) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    match &user.via {
        Via::Session { token, .. } => session::delete_session(&mut tx, token).await?,
        Via::Token(token) => session::revoke_token(&mut tx, token).await?,
    }
    crate::audit::append(
        &mut tx,
        &state.keys,
        &user.actor(),
        crate::audit::Entry {
            base_id: None,
            action: "auth.logout",
            entity: "user",
            entity_id: Some(&user.id),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    errors: FieldErrors,
    done: bool,
}

async fn password_page(PageUser(user): PageUser) -> impl IntoResponse {
    page(&PasswordPage {
        nav: Nav::for_user(&user),
        errors: FieldErrors::default(),
        done: false,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordForm {
    #[serde(rename = "_csrf", default)]
    #[schema(ignore)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn password_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<PasswordForm>,
) -> PageResult<Response> {
    user.check_csrf(&form.csrf)?;
    match login::change_password(
        &state,
        &user.id,
        &user.username,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(()) => Ok((
            [(header::SET_COOKIE, session_cookie("", state.settings.secure_cookies, 0))],
            page(&PasswordPage {
                nav: Nav::anonymous(),
                errors: FieldErrors::default(),
                done: true,
            }),
        )
            .into_response()),
        Err(AppError::Validation(f)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&PasswordPage {
                nav: Nav::for_user(&user),
                errors: FieldErrors(f),
                done: false,
            }),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    user_id: String,
    expires_in_days: i64,
}

/// Exchanges username and password for an API token.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginForm,
    responses((status = 200, body = TokenAnswer), (status = 401, body = crate::web::error::ErrorBody),
              (status = 423, body = crate::web::error::ErrorBody), (status = 429, body = crate::web::error::ErrorBody)))]
pub async fn api_login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(form): ApiJson<LoginForm>,
) -> ApiResult<Json<TokenAnswer>> {
    let (user_id, issued) =
        login::login(&state, &form.username, &form.password, &client_of(&addr), Issue::Token).await?;
    let Issued::Token(token) = issued else {
        unreachable!("a token was asked for")
    };
    Ok(Json(TokenAnswer {
        token,
        user_id,
        expires_in_days: session::TOKEN_DAYS,
    }))
}

/// Revokes the token (or ends the session) used for this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204), (status = 401)))]
pub async fn api_logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    end_session(&state, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    id: String,
    username: String,
    display_name: String,
    platform_admin: bool,
    bases: Vec<Membership>,
}

/// The logged-in account and the bases it belongs to, with its role in each.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401)))]
pub async fn api_me(user: CurrentUser) -> Json<Me> {
    Json(Me {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        platform_admin: user.platform_admin,
        bases: user.memberships,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password; every session and token of the account ends.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange,
    responses((status = 204), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    login::change_password(
        &state,
        &user.id,
        &user.username,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
