//! Shared page pieces: the navigation context every page carries, the error
//! page, and `render`. Templates are askama: compiled and type-checked with
//! the crate, auto-escaping everything interpolated.

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::{AppError, FieldError, PageResult};
use crate::auth::{BaseScope, CurrentUser};

/// The outcome of a form post as the page shows it: `?ok=…` or `?err=…`.
#[derive(Deserialize, Default)]
pub struct Notice {
    pub ok: Option<String>,
    pub err: Option<String>,
}

/// After a form post (post/redirect/get): back to `target` — a path, which
/// may already carry a query — with the outcome as a [`Notice`]: the success
/// message, or the error in Chinese (field errors joined by "；"). Only an
/// internal error becomes the error page.
pub fn back_to(target: &str, result: Result<String, AppError>) -> PageResult<Response> {
    let (key, msg) = match result {
        Ok(msg) => ("ok", msg),
        Err(AppError::Internal(e)) => return Err(AppError::Internal(e).into()),
        Err(AppError::Validation(f)) => (
            "err",
            f.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("；"),
        ),
        Err(e) => ("err", e.to_string()),
    };
    let sep = if target.contains('?') { '&' } else { '?' };
    let msg: String = url::form_urlencoded::byte_serialize(msg.as_bytes()).collect();
    Ok(Redirect::to(&format!("{target}{sep}{key}={msg}")).into_response())
}

/// [`back_to`] a page of the base: `/b/{base}/{path}`.
pub fn back(base: &str, path: &str, result: Result<String, AppError>) -> PageResult<Response> {
    back_to(&format!("/b/{base}/{path}"), result)
}

pub struct NavUser {
    pub display_name: String,
}

pub struct NavBase {
    pub code: String,
    pub name: String,
}

/// What the layout needs: who is logged in, which base they are in, the CSRF token.
pub struct Nav {
    pub user: Option<NavUser>,
    pub base: Option<NavBase>,
    pub csrf: String,
    pub is_admin: bool,
    /// Where the header's 注册库 link goes: the enterprise list for roles
    /// that may read it, the directory otherwise.
    pub registry_section: &'static str,
}

impl Nav {
    pub fn anonymous() -> Nav {
        Nav {
            user: None,
            base: None,
            csrf: String::new(),
            is_admin: false,
            registry_section: "enterprises",
        }
    }

    pub fn for_user(u: &CurrentUser) -> Nav {
        Nav {
            user: Some(NavUser {
                display_name: u.display_name.clone(),
            }),
            base: None,
            csrf: u.csrf_token().to_string(),
            is_admin: u.platform_admin,
            registry_section: "enterprises",
        }
    }

    pub fn for_scope(s: &BaseScope) -> Nav {
        Nav {
            base: Some(NavBase {
                code: s.base.code.clone(),
                name: s.base.name.clone(),
            }),
            is_admin: s.is_admin(),
            registry_section: if crate::registry::access::enterprises(s).is_ok() {
                "enterprises"
            } else {
                "carriers"
            },
            ..Nav::for_user(&s.user)
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Nav,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// Renders a template; a template error is a bug, logged and shown as a plain message.
pub fn render<T: Template>(t: &T) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template rendering failed");
        "<!doctype html><meta charset=utf-8><p>页面渲染失败，请联系管理员。</p>".to_string()
    })
}

/// `Html` response of a rendered template.
pub fn page<T: Template>(t: &T) -> axum::response::Html<String> {
    axum::response::Html(render(t))
}
