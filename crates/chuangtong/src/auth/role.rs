//! Roles a member can hold in a base. Platform administrators are a flag on
//! the account, not a base role, because they are not tied to any base.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 企业用户
    Enterprise,
    /// 创业团队
    Team,
    /// 服务机构
    Provider,
    /// 服务管家
    Steward,
    /// 评审专家
    Expert,
    /// 投资机构 / 银行
    Investor,
    /// 基地管理员
    BaseAdmin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Enterprise,
        Role::Team,
        Role::Provider,
        Role::Steward,
        Role::Expert,
        Role::Investor,
        Role::BaseAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Enterprise => "enterprise",
            Role::Team => "team",
            Role::Provider => "provider",
            Role::Steward => "steward",
            Role::Expert => "expert",
            Role::Investor => "investor",
            Role::BaseAdmin => "base_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Enterprise => "企业用户",
            Role::Team => "创业团队",
            Role::Provider => "服务机构",
            Role::Steward => "服务管家",
            Role::Expert => "评审专家",
            Role::Investor => "投资机构",
            Role::BaseAdmin => "基地管理员",
        }
    }
}
