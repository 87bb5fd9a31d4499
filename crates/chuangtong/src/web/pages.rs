//! Shared page pieces: the navigation context every page carries, the error
//! page, and `render`. Templates are askama: compiled and type-checked with
//! the crate, auto-escaping everything interpolated.

use askama::Template;

use super::error::FieldError;
use crate::auth::{BaseScope, CurrentUser};

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
