//! A demo voucher batch and service-supermarket listings for the main demo
//! base, so the claim → order → deliver → confirm → redeem loop can be tried
//! at once. Figures are synthetic (the batch says so in its name).

use chrono::{Duration, Utc};
use sqlx::Row;

use crate::audit::Actor;
use crate::storage::time;
use crate::voucher::{batch, market};
use crate::web::AppState;

pub async fn populate(state: &AppState, actor: &Actor, base_id: &str) -> anyhow::Result<()> {
    let now = Utc::now();
    let form = batch::BatchForm {
        code: "FZ-2026-01".into(),
        name: "2026年第一批科技创新券（模拟）".into(),
        total_yuan: "5000000".into(),
        per_firm_cap_yuan: "200000".into(),
        copay_max_percent: "50".into(),
        categories: crate::voucher::CATEGORIES.iter().map(|c| c.to_string()).collect(),
        claim_opens_at: time::to_text(now - Duration::days(1)),
        claim_closes_at: time::to_text(now + Duration::days(60)),
        valid_until: (time::today() + Duration::days(365)).to_string(),
        claim_mode: "first_come".into(),
        eligibility_policy_id: None,
    };
    batch::issue(state, actor, base_id, &form)
        .await
        .map_err(|e| anyhow::anyhow!("demo batch: {e:?}"))?;
    let providers = sqlx::query("SELECT id, name, categories FROM providers WHERE base_id = $1 ORDER BY name")
        .bind(base_id)
        .fetch_all(state.db.pool())
        .await?;
    for (i, p) in providers.iter().enumerate() {
        let (id, name, categories): (String, String, String) = (p.get(0), p.get(1), p.get(2));
        for category in categories.split(',').filter(|c| crate::voucher::is_category(c)) {
            let service = market::ServiceForm {
                name: format!("{category}服务包（{}）", name.chars().take(6).collect::<String>()),
                category: category.to_string(),
                price_yuan: format!("{}", 3000 + 1000 * (i % 8)),
                description: "演示用模拟服务".into(),
            };
            market::list_service(state, actor, base_id, &id, &service)
                .await
                .map_err(|e| anyhow::anyhow!("demo service: {e:?}"))?;
        }
    }
    Ok(())
}
