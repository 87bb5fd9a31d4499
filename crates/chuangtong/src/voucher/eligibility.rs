//! Who may claim a batch: optionally, a policy of the base's library
//! (rules as code). The claim desk asks here before it queues a claim, with
//! the version of the policy in force today, and a refusal says why in the
//! same plain Chinese as the 政策计算器: which condition failed, or which
//! facts are missing (a missing fact makes the answer unknown, never "no").

use chuangtong_rules::{ParamOverrides, Tri};

use crate::policy::{facts, library};
use crate::storage::time;
use crate::web::error::AppError;
use crate::web::AppState;

/// Checks that a policy exists in the base and has a version in force
/// (when a batch is issued with it).
pub async fn check_policy(state: &AppState, base_id: &str, policy_id: &str) -> Result<String, AppError> {
    let info = library::get(&state.db, base_id, policy_id, time::today())
        .await
        .map_err(|_| {
            AppError::field(
                "eligibility_policy_id",
                "voucher.policy_unknown",
                "申领条件所引用的政策不存在",
            )
        })?;
    if info.current_version.is_none() {
        return Err(AppError::field(
            "eligibility_policy_id",
            "voucher.policy_not_in_force",
            format!("政策“{}”今天没有生效的版本", info.title),
        ));
    }
    Ok(info.title)
}

/// Ok when the firm qualifies under the policy's version in force today.
pub async fn check_firm(state: &AppState, base_id: &str, policy_id: &str, enterprise_id: &str) -> Result<(), AppError> {
    let info = library::get(&state.db, base_id, policy_id, time::today()).await?;
    let version = info.current_version.clone().ok_or_else(|| {
        AppError::refused(
            "voucher.policy_not_in_force",
            format!("申领条件“{}”今天没有生效的版本，暂不能申领", info.title),
        )
    })?;
    let policy = library::compiled_version(&version)?;
    let all = facts::load(&state.db, base_id, Some(enterprise_id)).await?;
    let firm = all.get(enterprise_id).ok_or(AppError::NotFound)?;
    let outcome = policy.evaluate(&firm.facts, &ParamOverrides::new());
    match outcome.eligible {
        Tri::Yes => Ok(()),
        Tri::No => Err(AppError::refused(
            "voucher.not_eligible",
            format!("不符合本批次申领条件（{}）：{}", info.title, outcome.explain_zh()),
        )),
        Tri::Unknown => Err(AppError::refused(
            "voucher.eligibility_unknown",
            format!(
                "暂不能判断是否符合本批次申领条件（{}），补充以下信息后可判断：{}",
                info.title,
                outcome.missing_facts.join("、")
            ),
        )),
    }
}
