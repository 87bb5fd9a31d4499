//! The registry of a base: enterprises, teams, people and talents, carriers
//! (众创空间/孵化器/加速器/产业园), service providers, investors, experts and
//! universities/institutes.
//!
//! Who sees what (checked in every handler through [`access`]):
//! - enterprises: base admins, stewards and investors see all; an enterprise
//!   account sees only its own record; other roles are refused;
//! - people (personal information): base admins and stewards, masked;
//!   only base admins may unmask, and every unmasking is audited;
//! - carriers, teams, providers, investors, experts, institutes: a directory
//!   every member of the base may read;
//! - creating records: base admins (enterprises also stewards).

pub mod carrier;
pub mod directory;
pub mod enterprise;
pub mod import;
pub mod import_routes;
pub mod pages;
pub mod person;
pub mod routes;

use crate::auth::{BaseScope, Role};
use crate::web::error::AppError;

pub mod access {
    use super::*;

    /// Which enterprises a scope may read.
    pub enum EnterpriseView {
        All,
        Own(String),
    }

    pub fn enterprises(scope: &BaseScope) -> Result<EnterpriseView, AppError> {
        if scope.is_admin() || scope.has(Role::Steward) || scope.has(Role::Investor) {
            return Ok(EnterpriseView::All);
        }
        if scope.has(Role::Enterprise) {
            return scope
                .subject_id
                .clone()
                .map(EnterpriseView::Own)
                .ok_or(AppError::Forbidden);
        }
        Err(AppError::Forbidden)
    }

    pub fn create_enterprise(scope: &BaseScope) -> Result<(), AppError> {
        scope.require(&[Role::BaseAdmin, Role::Steward])
    }

    pub fn persons(scope: &BaseScope) -> Result<(), AppError> {
        scope.require(&[Role::BaseAdmin, Role::Steward])
    }

    pub fn unmask(scope: &BaseScope) -> Result<(), AppError> {
        scope.require(&[Role::BaseAdmin])
    }

    pub fn directory(_scope: &BaseScope) -> Result<(), AppError> {
        // Membership was checked by the BaseScope extractor.
        Ok(())
    }

    pub fn manage(scope: &BaseScope) -> Result<(), AppError> {
        scope.require(&[Role::BaseAdmin])
    }
}

/// Paging for list endpoints: `?page=1&q=关键词`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Name contains this text
    pub q: Option<String>,
    /// 1-based page number (50 per page)
    pub page: Option<i64>,
}

impl ListQuery {
    pub const PER_PAGE: i64 = 50;

    pub fn offset(&self) -> i64 {
        (self.page.unwrap_or(1).clamp(1, 100_000) - 1) * Self::PER_PAGE
    }

    /// `%q%` for LIKE, with LIKE's wildcards in the user's text escaped.
    pub fn like(&self) -> String {
        let q = self.q.as_deref().unwrap_or("").trim();
        let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    }
}

/// Parses a non-negative integer form field.
pub fn parse_count(errors: &mut crate::web::error::FieldErrors, field: &str, label: &str, s: &str) -> Option<i64> {
    match s.trim().parse::<i64>() {
        Ok(n) if (0..=1_000_000_000).contains(&n) => Some(n),
        _ => {
            errors.push(
                field,
                "number.invalid",
                format!("{label}应为非负整数，收到“{}”", s.trim()),
            );
            None
        }
    }
}

/// Checks a required text field and its length.
pub fn required_text(
    errors: &mut crate::web::error::FieldErrors,
    field: &str,
    label: &str,
    s: &str,
    max: usize,
) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        errors.push(field, "text.required", format!("请填写{label}"));
        None
    } else if t.chars().count() > max {
        errors.push(field, "text.too_long", format!("{label}不能超过{max}个字"));
        None
    } else {
        Some(t.to_string())
    }
}
