//! Demo policies for the main demo base: the seed's rules that are written
//! over enterprise facts (税融通, 青创资金, 福州 carrier awards — 免申即享 —,
//! 郫县 rent subsidy, 浑南 fee waiver), published, plus deterministic
//! synthetic facts for the demo firms (source "模拟数据"; about one firm in
//! six lacks some facts, so the calculator also shows "待补充信息").

use serde_json::json;
use sqlx::Row;

use crate::audit::Actor;
use crate::policy::{facts, library};
use crate::storage::time;
use crate::web::AppState;

const SEED: [(&str, &str, &str, bool, &str); 5] = [
    (
        "税融通",
        "福州新区管委会（示范）",
        include_str!("../../../rules/policies/seed/tax_credit_line.rules"),
        false,
        "300000000",
    ),
    (
        "青创资金",
        "共青团福州市委（示范）",
        include_str!("../../../rules/policies/seed/youth_startup_loan.rules"),
        false,
        "30000000",
    ),
    (
        "孵化载体认定奖励",
        "福州市科技局（示范）",
        include_str!("../../../rules/policies/seed/fuzhou_carrier_award.rules"),
        true,
        "5000000",
    ),
    (
        "园区企业房租补贴",
        "园区管委会（示范）",
        include_str!("../../../rules/policies/seed/pixian_rent_subsidy.rules"),
        false,
        "2000000",
    ),
    (
        "行政事业性收费减免",
        "区市场监管局（示范）",
        include_str!("../../../rules/policies/seed/hunnan_fee_waiver.rules"),
        false,
        "0",
    ),
];

pub async fn populate(state: &AppState, actor: &Actor, base_id: &str) -> anyhow::Result<()> {
    let from = format!("{}-01-01", chrono::Datelike::year(&time::today()) - 1);
    for (title, issuer, source, no_application, budget) in SEED {
        let form = library::PolicyForm {
            title: title.into(),
            issuer: issuer.into(),
            doc_number: String::new(),
            full_text: format!("{title}：根据首批双创示范基地经验材料编写的示范政策（模拟）。"),
            documents: "营业执照\n申请表".into(),
            procedure: "网上申报 → 受理 → 审核 → 公示 → 兑现".into(),
            budget_yuan: budget.into(),
            no_application,
            source: source.into(),
            effective_from: from.clone(),
            effective_to: String::new(),
        };
        let id = library::create(state, actor, base_id, &form)
            .await
            .map_err(|e| anyhow::anyhow!("demo policy {title}: {e:?}"))?;
        library::publish(state, actor, base_id, &id)
            .await
            .map_err(|e| anyhow::anyhow!("publish {title}: {e:?}"))?;
    }
    let firms = sqlx::query("SELECT id FROM enterprises WHERE base_id = $1 ORDER BY uscc")
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?;
    let mut rng = chuangtong_domain::SplitMix64::new(0x6368_7561_6e67);
    for (i, r) in firms.iter().enumerate() {
        let id: String = r.get(0);
        let revenue = (rng.below(3_000) as i64) * 1_000_000; // up to 3000万元
        let category = ["none", "none", "none", "graduate", "veteran", "unemployed", "disabled"][rng.below(7) as usize];
        let carrier = ["none", "none", "none", "none", "municipal", "provincial", "national"][rng.below(7) as usize];
        let grade = ["A", "A", "B", "B", "B", "C", "D"][rng.below(7) as usize];
        let talent = ["none", "none", "district", "city", "provincial", "national"][rng.below(6) as usize];
        let mut f = json!({
            "营业收入": revenue,
            "纳税额": revenue / 100 * (rng.below(8) as i64),
            "研发费用": revenue / 100 * (rng.below(10) as i64),
            "发明专利数": (rng.below(12) as i64),
            "实际控制人类别": category,
            "个体工商户": rng.below(10) == 0,
            "运营载体级别": carrier,
            "入驻载体": rng.below(3) == 0,
            "房租": (rng.below(400) as i64) * 100_000,
            "纳税信用等级": grade,
            "严重失信": rng.below(25) == 0,
            "人才层次": talent,
        });
        // Every sixth firm has not told its controller's age yet.
        if i % 6 != 5 {
            f["实际控制人年龄"] = json!(24 + (rng.below(40) as i64));
        }
        facts::record(state, actor, base_id, &id, &f, "模拟数据")
            .await
            .map_err(|e| anyhow::anyhow!("demo facts: {e:?}"))?;
    }
    Ok(())
}
