//! Applications and review (申报 → 受理/预审 → 补正 → 专家评审 → 公示 → 审批 →
//! 兑现 → 绩效评价), configurable per programme (申报批次).
//!
//! - [`state`]: the state machine, pure and tested pair by pair;
//! - [`programme`]: a base admin's call for applications, linked to one or
//!   more published policies, with required documents, time limits in
//!   working days and a funded budget;
//! - [`document`]: 申请要件 — uploads checked by content, stored by SM3
//!   digest in the database, optional virus scan, download by role;
//! - [`clock`]: each stage's statutory clock on the working-day calendar;
//! - [`judgement`]: the policy engine's answer at submission, kept per
//!   policy with the version, parameters and facts used;
//! - [`case`]: one application — draft, submit (with the policy engine's
//!   answer), withdraw, pre-review, 补正, and the shared transition step;
//! - [`conflict`]: conflicts of interest computed from the registry
//!   (employer, shareholding and control, co-applications, recent reviews)
//!   as well as declared ones;
//! - [`panel`]: 评审制 — reproducible expert draw with conflicts excluded,
//!   blind scoring on a weighted rubric, trimmed aggregate;
//! - [`agreement`]: inter-rater agreement (ICC(1)), judge calibration and
//!   outlier scores for the report, in exact integer arithmetic;
//! - [`publicity`]: 公示, objections, approval, pay-out and evaluation;
//! - [`report`]: what a base admin sees for a programme;
//! - [`notices`]: who is told about each step (through `crate::notify`).

pub mod agreement;
pub mod case;
pub mod clock;
pub mod conflict;
pub mod document;
pub mod judgement;
pub mod notices;
pub mod pages;
pub mod panel;
pub mod programme;
pub mod publicity;
pub mod report;
pub mod routes;
pub mod state;

pub use state::{transition, Event, IllegalTransition, State};

/// Ledger account codes of this capability.
pub mod accounts {
    pub use crate::voucher::accounts::FUNDING;

    pub fn budget(programme_code: &str) -> String {
        format!("budget:programme:{programme_code}")
    }

    /// What the base owes an enterprise for its approved grants and its
    /// supports against cost items (one account per firm, whichever pays first opens it).
    pub fn payable(enterprise_id: &str) -> String {
        format!("payable:enterprise:{enterprise_id}")
    }

    /// The name the payable account is opened with.
    pub const PAYABLE_NAME: &str = "应付企业扶持资金";

    /// The enterprise's payable, opened on first use: programme pay-outs,
    /// supports against cost items and settled corrections all post to it,
    /// so what the base owes a firm is one balance.
    pub async fn open_payable(
        tx: &mut crate::storage::Tx,
        base_id: &str,
        enterprise_id: &str,
    ) -> Result<String, crate::ledger::Failure> {
        crate::ledger::open_account(
            tx,
            base_id,
            &payable(enterprise_id),
            PAYABLE_NAME,
            crate::ledger::AccountKind::Payable,
            false,
        )
        .await
    }
}
