//! Innovation vouchers (创新券/合创券) and the service supermarket (服务超市).
//!
//! - [`batch`]: a base admin issues a batch: total, per-firm cap, co-payment
//!   ratio, categories it pays for, claim window, validity. Issuing funds the
//!   batch's budget account in the ledger.
//! - [`claim`]: an enterprise claims its share (first come, first served):
//!   budget → its wallet, one claim per firm per batch, never more than the batch.
//! - [`market`]: providers list services; an enterprise orders one and pays
//!   part with its voucher (a pending ledger transfer wallet → provider
//!   payable); the provider delivers with structured evidence; the enterprise
//!   confirms (the transfer posts) or cancels (it is voided).
//! - [`redemption`]: a provider asks to be paid (兑现) for confirmed orders;
//!   the base admin settles (provider payable → settlement).
//!
//! Money lives only in the ledger; these tables keep the business state.

pub mod batch;
pub mod claim;
pub mod desk;
pub mod eligibility;
pub mod escrow;
pub mod escrow_routes;
pub mod expiry;
pub mod lottery;
pub mod lottery_routes;
pub mod market;
pub mod oversight;
pub mod oversight_pages;
pub mod pages;
pub mod redemption;
pub mod related;
pub mod report;
pub mod routes;

/// Service categories of the supermarket (the ones the seed's bases name).
pub const CATEGORIES: [&str; 8] = [
    "专利服务",
    "技术检测",
    "科技金融",
    "创业孵化",
    "法律",
    "财务",
    "人力资源",
    "仪器共享",
];

pub fn is_category(s: &str) -> bool {
    CATEGORIES.contains(&s)
}

/// Ledger account codes, in one place so every flow agrees on them.
pub mod accounts {
    pub const FUNDING: &str = "funding:fiscal";
    pub const SETTLEMENT: &str = "settlement:providers";

    pub fn budget(batch_code: &str) -> String {
        format!("budget:voucher:{batch_code}")
    }

    pub fn wallet(batch_code: &str, enterprise_id: &str) -> String {
        format!("wallet:{batch_code}:{enterprise_id}")
    }

    pub fn payable(provider_id: &str) -> String {
        format!("payable:provider:{provider_id}")
    }
}
