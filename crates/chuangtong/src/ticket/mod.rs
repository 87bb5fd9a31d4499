//! Stewards and tickets (服务管家 / 工单, 逆向派单).
//!
//! Every enterprise of a base has a steward: its first contact, who stays with
//! it to the end (首问负责、专人对接、一管到底). The front line raises a need,
//! the back office answers it:
//!
//! - [`steward`]: which steward looks after which enterprise (base admins assign);
//! - [`state`]: the ticket's state machine, pure and tested pair by pair;
//! - [`sla`]: response in working hours and resolution in working days, per
//!   category, on the working-day calendar;
//! - [`case`]: raising a ticket and every step of it (accept, reply, 转派,
//!   pool, 抢单, resolve, rate, reopen, withdraw), each one transaction, one
//!   audit entry and a notice to the other party;
//! - [`rankings`]: per steward, what base admins compare them on.
//!
//! Visibility: an enterprise sees only its own tickets, stewards and admins
//! those of their base, another base never (ids of another base are 404).

pub mod case;
pub mod pages;
pub mod rankings;
pub mod routes;
pub mod sla;
pub mod state;
pub mod steward;

use serde::{Deserialize, Serialize};

pub use state::{transition, Event, IllegalTransition, State};

/// What a ticket is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 工商注册
    Registration,
    /// 税务
    Tax,
    /// 知识产权
    Ip,
    /// 融资
    Financing,
    /// 场地
    Premises,
    /// 人才
    Talent,
    /// 其他
    Other,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Registration,
        Category::Tax,
        Category::Ip,
        Category::Financing,
        Category::Premises,
        Category::Talent,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Registration => "registration",
            Category::Tax => "tax",
            Category::Ip => "ip",
            Category::Financing => "financing",
            Category::Premises => "premises",
            Category::Talent => "talent",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Registration => "工商注册",
            Category::Tax => "税务",
            Category::Ip => "知识产权",
            Category::Financing => "融资",
            Category::Premises => "场地",
            Category::Talent => "人才",
            Category::Other => "其他",
        }
    }
}

/// Who is asking, for tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Party {
    /// An enterprise account acting for this enterprise.
    Requester { enterprise_id: String, user_id: String },
    /// A steward of the base.
    Steward(String),
    /// A base admin (or platform admin).
    Admin(String),
}

impl Party {
    pub fn user_id(&self) -> &str {
        match self {
            Party::Requester { user_id, .. } => user_id,
            Party::Steward(u) | Party::Admin(u) => u,
        }
    }
}

/// The caller's party, or 403 for roles that have no business with tickets.
pub fn party(scope: &crate::auth::BaseScope) -> Result<Party, crate::web::error::AppError> {
    use crate::auth::Role;
    use crate::web::error::AppError;
    if scope.is_admin() {
        return Ok(Party::Admin(scope.user.id.clone()));
    }
    match scope.role {
        Some(Role::Steward) => Ok(Party::Steward(scope.user.id.clone())),
        Some(Role::Enterprise) => Ok(Party::Requester {
            enterprise_id: scope.subject_id.clone().ok_or(AppError::Forbidden)?,
            user_id: scope.user.id.clone(),
        }),
        _ => Err(AppError::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert_eq!(Category::parse("工商注册"), None);
    }
}
