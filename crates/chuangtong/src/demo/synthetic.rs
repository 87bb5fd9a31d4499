//! Deterministic synthetic registry for a demo base. The generator is a
//! fixed splitmix64 stream seeded by the base code, so every start produces
//! the same firms, people and carriers (and tests can rely on them) without
//! depending on a random crate's algorithm staying the same across versions.
//! Every row is written with synthetic = 1.

use chrono::NaiveDate;
use chuangtong_domain::{Fen, IdCardNumber, IndustrySection, Phone, RegionCode, Uscc};

use super::seed::SeedBase;
use crate::audit::Actor;
use crate::registry::carrier::{self, NewCarrier};
use crate::registry::directory::{self, DirValue, DirectoryTable};
use crate::registry::enterprise::{self, NewEnterprise, Origin};
use crate::registry::person::{self, NewPerson};
use crate::storage::Tx;
use crate::web::AppState;

pub enum Size {
    Full,
    Small,
}

/// Records the demo accounts act for.
pub struct Subjects {
    pub enterprise: String,
    pub team: String,
    pub provider: String,
    pub expert: String,
    pub investor: String,
}

/// The generator is chuangtong_domain's splitmix64, seeded by the base code.
type Rng = chuangtong_domain::SplitMix64;

/// Where a demo base sits: its organisation tree and the districts firms register in.
struct Geography {
    short: &'static str,
    /// (level, name, region code, children…) flattened as (depth, level, name, code)
    tree: &'static [(usize, &'static str, &'static str, Option<&'static str>)],
    districts: &'static [&'static str],
}

fn geography(code: &str) -> Geography {
    match code {
        "R04" => Geography {
            short: "杨浦",
            tree: &[
                (0, "province", "上海市", Some("310000")),
                (1, "district", "杨浦区", Some("310110")),
                (2, "park", "环同济知识经济圈服务园区", None),
                (3, "station", "四平路街道双创服务站", None),
                (2, "park", "长阳创谷服务园区", None),
                (3, "station", "长白新村街道双创服务站", None),
            ],
            districts: &["310110"],
        },
        _ => Geography {
            short: "榕城",
            tree: &[
                (0, "province", "福建省", Some("350000")),
                (1, "city", "福州市", Some("350100")),
                (2, "district", "马尾区", Some("350105")),
                (3, "park", "马尾片区双创服务园区", None),
                (4, "station", "罗星街道双创服务站", None),
                (4, "station", "马尾镇双创服务站", None),
                (2, "district", "长乐区", Some("350112")),
                (3, "park", "滨海片区双创服务园区", None),
                (4, "station", "吴航街道双创服务站", None),
                (2, "district", "仓山区", Some("350104")),
                (3, "park", "仓山片区双创服务园区", None),
            ],
            districts: &["350105", "350112", "350104"],
        },
    }
}

const SYLLABLES: &[&str] = &[
    "星", "智", "云", "帆", "联", "创", "海", "峡", "榕", "芯", "源", "启", "航", "数", "图", "瑞", "禾", "光", "泽",
    "博", "新", "睿", "达", "恒",
];
const TRADES: &[(&str, char)] = &[
    ("信息技术", 'I'),
    ("软件", 'I'),
    ("网络科技", 'I'),
    ("智能制造", 'C'),
    ("新材料", 'C'),
    ("生物医药", 'C'),
    ("电子", 'C'),
    ("检测技术", 'M'),
    ("科技服务", 'M'),
    ("环保科技", 'N'),
    ("文化创意", 'R'),
    ("商务咨询", 'L'),
    ("食品", 'C'),
    ("贸易", 'F'),
];
const SURNAMES: &[&str] = &[
    "林", "陈", "黄", "张", "王", "李", "吴", "郑", "刘", "杨", "赵", "周", "许", "何", "徐",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "敏", "静", "强", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超", "秀英", "建华", "志强", "晓燕",
    "海峰", "丽娜",
];
const USCC_BODY: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const SERVICE_CATEGORIES: &[&str] = &[
    "专利服务",
    "技术检测",
    "科技金融",
    "创业孵化",
    "法律",
    "财务",
    "人力资源",
];
const EXPERT_FIELDS: &[&str] = &[
    "电子信息",
    "生物医药",
    "新材料",
    "先进制造",
    "节能环保",
    "现代服务业",
    "金融投资",
    "知识产权",
];

fn person_name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

fn firm_stem(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SYLLABLES), rng.pick(SYLLABLES))
}

fn uscc(rng: &mut Rng, region: &str) -> Uscc {
    let body: String = (0..9).map(|_| *rng.pick(USCC_BODY) as char).collect();
    Uscc::with_check_char(&format!("91{region}{body}")).expect("generated USCC is well-formed")
}

/// A mobile number in the 170 0000 xxxx block, recognisably synthetic.
fn phone(rng: &mut Rng) -> Phone {
    Phone::parse(&format!("1700000{:04}", rng.below(10_000))).expect("well-formed mobile number")
}

pub async fn populate(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    base: &SeedBase,
    size: Size,
) -> anyhow::Result<Subjects> {
    let mut rng = Rng::from_text(&base.code);
    let geo = geography(&base.code);
    let (n_enterprises, n_persons, n_small) = match size {
        Size::Full => (120, 40, 1),
        Size::Small => (30, 10, 0),
    };

    // Organisation tree.
    let mut parents: Vec<String> = Vec::new();
    for (pos, (depth, level, name, code)) in geo.tree.iter().enumerate() {
        let id = crate::new_id();
        parents.truncate(*depth);
        sqlx::query("INSERT INTO org_units (id, base_id, parent_id, level, name, region_code, position) VALUES ($1,$2,$3,$4,$5,$6,$7)")
            .bind(&id)
            .bind(&base.id)
            .bind(parents.last().cloned())
            .bind(*level)
            .bind(*name)
            .bind(*code)
            .bind(pos as i64)
            .execute(&mut **tx)
            .await?;
        parents.push(id);
    }

    // Enterprises.
    let mut first_enterprise = None;
    let mut used_names = std::collections::HashSet::new();
    for _ in 0..n_enterprises {
        let (trade, section) = *rng.pick(TRADES);
        let mut name = format!("{}{}{}有限公司", geo.short, firm_stem(&mut rng), trade);
        while !used_names.insert(name.clone()) {
            name = format!(
                "{}{}{}{}有限公司",
                geo.short,
                firm_stem(&mut rng),
                rng.pick(SYLLABLES),
                trade
            );
        }
        let region = *rng.pick(geo.districts);
        let founded = NaiveDate::from_ymd_opt(
            rng.range(2008, 2025) as i32,
            rng.range(1, 12) as u32,
            rng.range(1, 28) as u32,
        )
        .expect("valid date");
        let e = NewEnterprise {
            uscc: uscc(&mut rng, region),
            name,
            region: RegionCode::parse(region).expect("demo district in GB/T 2260 table"),
            industry: IndustrySection::parse(&section.to_string()).expect("valid section"),
            founded_on: founded,
            registered_capital: Fen::from_fen(rng.range(10, 5000) * 10_000 * 100),
            employees: rng.range(3, 480),
            high_tech: rng.below(4) == 0,
            address: format!("{}片区创业路{}号", geo.short, rng.range(1, 300)),
            contact_name: person_name(&mut rng),
            contact_phone: Some(phone(&mut rng)),
        };
        let id = enterprise::create(state, tx, actor, &base.id, &e, Origin { synthetic: true })
            .await
            .map_err(|e| anyhow::anyhow!("demo enterprise: {e:?}"))?;
        first_enterprise.get_or_insert(id);
    }

    // People and talents.
    for _ in 0..n_persons {
        let region = *rng.pick(geo.districts);
        let birth = NaiveDate::from_ymd_opt(
            rng.range(1965, 2002) as i32,
            rng.range(1, 12) as u32,
            rng.range(1, 28) as u32,
        )
        .expect("valid date");
        let first17 = format!("{region}{}{:03}", birth.format("%Y%m%d"), rng.below(1000));
        let p = NewPerson {
            name: person_name(&mut rng),
            id_number: IdCardNumber::with_check_digit(&first17).expect("generated ID number is well-formed"),
            phone: Some(phone(&mut rng)),
            talent_level: rng.pick::<&str>(&["none", "none", "none", "b", "c", "d"]),
            employer: format!("{}{}科技有限公司", geo.short, firm_stem(&mut rng)),
        };
        // A repeated ID number (1 in 10^3 per district-day) is simply skipped.
        let _ = person::create(state, tx, actor, &base.id, &p, true).await;
    }

    // Carriers.
    let carrier_kinds = [
        ("makerspace", "众创空间"),
        ("incubator", "孵化器"),
        ("accelerator", "加速器"),
        ("industrial_park", "产业园"),
    ];
    for i in 0..(6 + 6 * n_small) {
        let (kind, label) = carrier_kinds[i % 4];
        let seats = rng.range(40, 600);
        let c = NewCarrier {
            name: format!("{}{}{}", geo.short, firm_stem(&mut rng), label),
            kind,
            level: rng.pick::<&str>(&["national", "provincial", "municipal", "none"]),
            area_m2: rng.range(800, 60_000),
            seats,
            occupied_seats: rng.range(0, seats),
        };
        carrier::create(state, tx, actor, &base.id, &c, true)
            .await
            .map_err(|e| anyhow::anyhow!("demo carrier: {e:?}"))?;
    }

    let dir = |e: crate::web::error::AppError| anyhow::anyhow!("demo directory: {e:?}");
    let first = |slot: &mut Option<String>, id: String| {
        slot.get_or_insert(id);
    };
    let (mut team, mut provider, mut expert, mut investor) = (None, None, None, None);
    for _ in 0..(5 + 10 * n_small) {
        let name = format!("{}团队", firm_stem(&mut rng));
        let project = format!("{}{}项目", firm_stem(&mut rng), rng.pick(TRADES).0);
        let leader = person_name(&mut rng);
        let id = directory::insert(
            state,
            tx,
            actor,
            &base.id,
            DirectoryTable::Teams,
            &[
                DirValue::Text(&name),
                DirValue::Text(&project),
                DirValue::Text(&leader),
                DirValue::Int(rng.range(2, 12)),
            ],
            true,
        )
        .await
        .map_err(dir)?;
        first(&mut team, id);
    }
    for _ in 0..(6 + 14 * n_small) {
        let region = *rng.pick(geo.districts);
        let name = format!(
            "{}{}{}服务有限公司",
            geo.short,
            firm_stem(&mut rng),
            rng.pick(&["知识产权", "检测认证", "会计", "律师事务", "人力资源", "科技咨询"])
        );
        let code = uscc(&mut rng, region);
        let mut cats: Vec<&str> = (0..rng.range(1, 3)).map(|_| *rng.pick(SERVICE_CATEGORIES)).collect();
        cats.sort();
        cats.dedup();
        let id = directory::insert(
            state,
            tx,
            actor,
            &base.id,
            DirectoryTable::Providers,
            &[
                DirValue::Text(&name),
                DirValue::Text(code.as_str()),
                DirValue::Text(&cats.join(",")),
            ],
            true,
        )
        .await
        .map_err(dir)?;
        first(&mut provider, id);
    }
    for i in 0..(4 + 6 * n_small) {
        let (kind, suffix) = [
            ("angel", "天使投资"),
            ("vc", "创业投资基金"),
            ("bank", "银行科技支行"),
            ("guidance_fund", "创新创业引导基金"),
        ][i % 4];
        let name = format!("{}{}{}", geo.short, firm_stem(&mut rng), suffix);
        let focus = format!("{},{}", rng.pick(TRADES).1, rng.pick(TRADES).1);
        let id = directory::insert(
            state,
            tx,
            actor,
            &base.id,
            DirectoryTable::Investors,
            &[
                DirValue::Text(&name),
                DirValue::Text(kind),
                DirValue::Int(rng.range(1, 200) * 1_000_000 * 100),
                DirValue::Text(&focus),
            ],
            true,
        )
        .await
        .map_err(dir)?;
        first(&mut investor, id);
    }
    for _ in 0..(8 + 17 * n_small) {
        let name = person_name(&mut rng);
        let org = format!(
            "{}{}",
            geo.short,
            rng.pick(&[
                "理工学院",
                "科技研究院",
                "会计师事务所",
                "律师事务所",
                "创业投资有限公司",
                "产业技术研究院"
            ])
        );
        let title = *rng.pick(&["教授", "研究员", "高级工程师", "注册会计师", "合伙人", "副教授"]);
        let mut fields: Vec<&str> = (0..2).map(|_| *rng.pick(EXPERT_FIELDS)).collect();
        fields.dedup();
        let id = directory::insert(
            state,
            tx,
            actor,
            &base.id,
            DirectoryTable::Experts,
            &[
                DirValue::Text(&name),
                DirValue::Text(&org),
                DirValue::Text(title),
                DirValue::Text(&fields.join(",")),
            ],
            true,
        )
        .await
        .map_err(dir)?;
        first(&mut expert, id);
    }
    for (name, kind) in [
        (format!("{}应用技术学院", geo.short), "university"),
        (format!("{}产业技术研究院", geo.short), "institute"),
        (format!("{}海洋科技研究院", geo.short), "institute"),
    ] {
        directory::insert(
            state,
            tx,
            actor,
            &base.id,
            DirectoryTable::Institutes,
            &[DirValue::Text(&name), DirValue::Text(kind)],
            true,
        )
        .await
        .map_err(dir)?;
    }

    Ok(Subjects {
        enterprise: first_enterprise.expect("at least one enterprise"),
        team: team.expect("at least one team"),
        provider: provider.expect("at least one provider"),
        expert: expert.expect("at least one expert"),
        investor: investor.expect("at least one investor"),
    })
}
