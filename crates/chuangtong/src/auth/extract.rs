//! Extractors that say what a handler needs: an authenticated user
//! ([`CurrentUser`]) or a user acting inside one base ([`BaseScope`]). Every
//! tenant route takes a `BaseScope`, which checks membership before the
//! handler runs; handlers then scope every query with `scope.base.id`.
//!
//! The `Page*` variants are the same checks for HTML pages: their rejection
//! redirects to the login page or renders an error page instead of JSON.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, Method};
use sqlx::Row;

use super::resolver::Kind;
use super::role::Role;
use super::session;
use crate::audit::Actor;
use crate::web::error::{AppError, PageError};
use crate::web::AppState;

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub base_id: String,
    pub base_code: String,
    pub base_name: String,
    pub base_kind: String,
    pub role: Role,
    /// The registry record the account acts for (its enterprise, provider…).
    pub subject_id: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Via {
    Session { token: String, csrf: String },
    Token(String),
}

#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub memberships: Vec<Membership>,
    pub via: Via,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id.clone()),
            name: self.username.clone(),
        }
    }

    pub fn csrf_token(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token(_) => "",
        }
    }

    /// Forms posted with a session cookie must carry the session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), AppError> {
        match &self.via {
            Via::Session { csrf, .. } if constant_time_eq(csrf.as_bytes(), given.as_bytes()) => Ok(()),
            Via::Session { .. } => Err(AppError::rejected(
                axum::http::StatusCode::FORBIDDEN,
                "auth.csrf",
                "页面已过期或请求来源不可信，请刷新页面后重试",
            )),
            Via::Token(_) => Ok(()),
        }
    }

    pub fn membership(&self, base_id: &str) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.base_id == base_id)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

pub async fn load_user(parts: &Parts, state: &AppState) -> Result<CurrentUser, AppError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let (kind, token) = if let Some(token) = bearer {
        (Kind::Token, token.to_string())
    } else if let Some(token) = cookie_value(parts, session::SESSION_COOKIE) {
        (Kind::Session, token)
    } else {
        return Err(AppError::Unauthenticated);
    };
    // One look-up per request, shared with whatever other requests are
    // waiting at the same moment (see `resolver`).
    let found = state
        .credentials
        .resolve(&state.db, kind, crate::crypto::sm3_hex(token.as_bytes()))
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let via = match kind {
        Kind::Token => Via::Token(token),
        Kind::Session => Via::Session {
            token,
            csrf: found.csrf.unwrap_or_default(),
        },
    };
    let user = CurrentUser {
        id: found.user_id,
        username: found.username,
        display_name: found.display_name,
        platform_admin: found.platform_admin,
        memberships: found.memberships,
        via,
    };
    // A JSON call that rides on the session cookie must prove it comes from
    // our own pages: SameSite=Lax already blocks most cross-site posts, the
    // header closes the rest.
    if parts.uri.path().starts_with("/api/") && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let given = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        user.check_csrf(given)?;
    }
    Ok(user)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(u.clone());
        }
        let user = load_user(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// For pages: not logged in → redirect to /login.
pub struct PageUser(pub CurrentUser);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PageUser(CurrentUser::from_request_parts(parts, state).await?))
    }
}

/// The base a request acts in, taken from the `{base}` path segment (the base code).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BaseRef {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Clone, Debug)]
pub struct BaseScope {
    pub base: BaseRef,
    /// `None` for a platform administrator acting in a base they are not a member of.
    pub role: Option<Role>,
    pub subject_id: Option<String>,
    pub user: CurrentUser,
}

impl BaseScope {
    /// Allows the listed roles; platform administrators are always allowed.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.user.platform_admin || self.role.is_some_and(|r| roles.contains(&r)) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.platform_admin || self.role == Some(Role::BaseAdmin)
    }

    pub fn has(&self, role: Role) -> bool {
        self.role == Some(role)
    }
}

pub async fn load_scope(parts: &mut Parts, state: &AppState) -> Result<BaseScope, AppError> {
    let user = CurrentUser::from_request_parts(parts, state).await?;
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::NotFound)?;
    let code = params.get("base").ok_or(AppError::NotFound)?;
    // A member's base came with the user; only a platform admin outside
    // their memberships needs another query.
    let base = match user.memberships.iter().find(|m| &m.base_code == code) {
        Some(m) => BaseRef {
            id: m.base_id.clone(),
            code: m.base_code.clone(),
            name: m.base_name.clone(),
            kind: m.base_kind.clone(),
        },
        None => {
            let row = sqlx::query("SELECT id, code, name, kind FROM bases WHERE code = $1")
                .bind(code)
                .fetch_optional(state.db.pool())
                .await?
                .ok_or(AppError::NotFound)?;
            BaseRef {
                id: row.get(0),
                code: row.get(1),
                name: row.get(2),
                kind: row.get(3),
            }
        }
    };
    let membership = user.membership(&base.id).cloned();
    if membership.is_none() && !user.platform_admin {
        return Err(AppError::Forbidden);
    }
    Ok(BaseScope {
        base,
        role: membership.as_ref().map(|m| m.role),
        subject_id: membership.and_then(|m| m.subject_id),
        user,
    })
}

impl FromRequestParts<AppState> for BaseScope {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        load_scope(parts, state).await
    }
}

pub struct PageScope(pub BaseScope);

impl FromRequestParts<AppState> for PageScope {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PageScope(load_scope(parts, state).await?))
    }
}
