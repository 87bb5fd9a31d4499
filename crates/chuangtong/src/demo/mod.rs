//! Demo data, loaded on first start: the 28 first-batch demonstration bases
//! with the figures their reports state (data/demo/bases.json, every figure
//! tied to its line in data/seed/first-28-bases.txt), an organisation tree
//! and a deterministic synthetic registry for two of them (福州新区 and
//! 杨浦区, so tenant isolation can be seen), and one account per role.
//! Every generated record carries `synthetic = 1` and shows a 模拟 badge.

pub mod load;
mod market;
mod policies;
mod seed;
mod synthetic;

use secrecy::ExposeSecret;
use sqlx::Row;

use crate::audit::Actor;
use crate::auth::{password, users, Role};
use crate::web::AppState;

pub use seed::SeedBase;

/// The base where every role has a demo account.
pub const MAIN_BASE: &str = "R08";
/// A second base with its own administrator, to show tenant isolation.
pub const OTHER_BASE: &str = "R04";

#[derive(Clone, Debug)]
pub struct DemoAccount {
    pub username: String,
    pub role_label: String,
    pub base_name: String,
    pub password: String,
}

/// Loads everything in one transaction if the platform has no bases yet.
/// Returns the accounts created (empty when data already existed). Safe when
/// several processes start at once: the loser's transaction fails on the
/// unique base code and it carries on with the winner's data.
pub async fn load_if_empty(state: &AppState) -> anyhow::Result<Vec<DemoAccount>> {
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM bases")
        .fetch_one(state.db.pool())
        .await?
        .get(0);
    if count > 0 {
        return Ok(Vec::new());
    }
    let password_text = match &state.settings.demo_password {
        Some(p) => p.expose_secret().to_string(),
        None => random_password(),
    };
    let hash = password::hash(password_text.clone()).await?;
    let actor = Actor::system("demo");
    let mut tx = state.db.begin().await?;
    let bases = seed::load_bases(state, &mut tx, &actor).await?;
    let main = bases
        .iter()
        .find(|b| b.code == MAIN_BASE)
        .expect("main demo base in bases.json");
    let other = bases
        .iter()
        .find(|b| b.code == OTHER_BASE)
        .expect("second demo base in bases.json");
    let main_subjects = synthetic::populate(state, &mut tx, &actor, main, synthetic::Size::Full).await?;
    let other_subjects = synthetic::populate(state, &mut tx, &actor, other, synthetic::Size::Small).await?;

    let mut accounts = Vec::new();
    let admin_id = users::create(
        &mut tx,
        &state.keys,
        &actor,
        users::NewUser {
            username: "admin",
            display_name: "平台管理员",
            password_hash: &hash,
            platform_admin: true,
            phone: None,
        },
    )
    .await?;
    let _ = admin_id;
    accounts.push(DemoAccount {
        username: "admin".into(),
        role_label: "平台管理员".into(),
        base_name: "全部基地".into(),
        password: password_text.clone(),
    });

    let main_roles: [(&str, Role, &str, Option<&str>); 7] = [
        ("fz-admin", Role::BaseAdmin, "新区双创办 林主任", None),
        ("fz-steward", Role::Steward, "服务管家 陈管家", None),
        (
            "fz-enterprise",
            Role::Enterprise,
            "企业用户",
            Some(main_subjects.enterprise.as_str()),
        ),
        (
            "fz-team",
            Role::Team,
            "创业团队负责人",
            Some(main_subjects.team.as_str()),
        ),
        (
            "fz-provider",
            Role::Provider,
            "服务机构",
            Some(main_subjects.provider.as_str()),
        ),
        (
            "fz-expert",
            Role::Expert,
            "评审专家",
            Some(main_subjects.expert.as_str()),
        ),
        (
            "fz-investor",
            Role::Investor,
            "投资机构",
            Some(main_subjects.investor.as_str()),
        ),
    ];
    let mut steward_id = None;
    for (username, role, display, subject) in main_roles {
        let id = users::create(
            &mut tx,
            &state.keys,
            &actor,
            users::NewUser {
                username,
                display_name: display,
                password_hash: &hash,
                platform_admin: false,
                phone: None,
            },
        )
        .await?;
        users::add_membership(&mut tx, &state.keys, &actor, &id, &main.id, role, subject).await?;
        if role == Role::Steward {
            steward_id = Some(id.clone());
        }
        accounts.push(DemoAccount {
            username: username.into(),
            role_label: role.label().into(),
            base_name: main.name.clone(),
            password: password_text.clone(),
        });
    }
    let yp = users::create(
        &mut tx,
        &state.keys,
        &actor,
        users::NewUser {
            username: "yp-admin",
            display_name: "杨浦区双创办",
            password_hash: &hash,
            platform_admin: false,
            phone: None,
        },
    )
    .await?;
    users::add_membership(&mut tx, &state.keys, &actor, &yp, &other.id, Role::BaseAdmin, None).await?;
    let _ = other_subjects;
    accounts.push(DemoAccount {
        username: "yp-admin".into(),
        role_label: Role::BaseAdmin.label().into(),
        base_name: other.name.clone(),
        password: password_text.clone(),
    });

    match tx.commit().await {
        Ok(()) => {}
        Err(e) if crate::storage::unique_violation(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    }
    market::populate(state, &actor, &main.id).await?;
    policies::populate(state, &actor, &main.id).await?;
    // The demo enterprise's tickets need someone to go to (首问负责).
    let form = crate::ticket::steward::AssignForm {
        enterprise_id: main_subjects.enterprise.clone(),
        steward_id: steward_id.expect("a steward among the demo accounts"),
    };
    crate::ticket::steward::assign(state, &actor, &main.id, &form)
        .await
        .map_err(|e| anyhow::anyhow!("demo steward: {e:?}"))?;
    Ok(accounts)
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..10).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    // Guarantee the policy's letter-and-digit rule.
    format!("Ct{body}7")
}
