//! The seed rules of issue 3, each with tests of eligibility, amount and explanation.

use chuangtong_rules::*;

fn schema() -> FactSchema {
    FactSchema::enterprise()
}

fn compile_ok(src: &str, schema: &FactSchema) -> Policy {
    match compile(src, schema) {
        Ok(p) => p,
        Err(es) => panic!(
            "{}",
            es.iter()
                .map(|e| format!("{} {}", e.code, e))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn facts(schema: &FactSchema, items: &[(&str, Value)]) -> Facts {
    let mut f = Facts::new();
    for (k, v) in items {
        schema.set(&mut f, k, v.clone()).unwrap();
    }
    f
}

fn yuan(y: i64) -> Value {
    Value::Money(y * 100)
}

/// A typical small, young, clean firm (all enterprise facts known).
fn base_firm() -> Vec<(&'static str, Value)> {
    vec![
        ("region_code", Value::text("510116")),
        ("industry", Value::text("I")),
        ("founded_year", Value::Int(2024)),
        ("employees", Value::Int(12)),
        ("revenue_fen", yuan(1_500_000)),
        ("tax_paid_fen", yuan(45_000)),
        ("rd_expense_fen", yuan(45_000)),
        ("invention_patents", Value::Int(2)),
        ("is_high_tech", Value::Bool(false)),
        ("controller_age", Value::Int(30)),
        ("controller_category", Value::text("none")),
        ("is_individual_business", Value::Bool(false)),
        ("carrier_level", Value::text("none")),
        ("in_carrier", Value::Bool(true)),
        ("rent_paid_fen", yuan(30_000)),
        ("credit_grade", Value::text("B")),
        ("blacklisted", Value::Bool(false)),
        ("talent_level", Value::text("city")),
        ("eval_year", Value::Int(2026)),
    ]
}

fn firm_with(changes: &[(&'static str, Value)]) -> Facts {
    let s = schema();
    let mut items = base_firm();
    for (k, v) in changes {
        items.retain(|(n, _)| n != k);
        items.push((k, v.clone()));
    }
    facts(&s, &items)
}

fn firm_without(drop: &[&str]) -> Facts {
    let s = schema();
    let items: Vec<_> = base_firm().into_iter().filter(|(n, _)| !drop.contains(n)).collect();
    facts(&s, &items)
}

const TAX: &str = include_str!("../policies/seed/tax_credit_line.rules");
const YOUTH: &str = include_str!("../policies/seed/youth_startup_loan.rules");
const CARRIER: &str = include_str!("../policies/seed/fuzhou_carrier_award.rules");
const RENT: &str = include_str!("../policies/seed/pixian_rent_subsidy.rules");
const FEE: &str = include_str!("../policies/seed/hunnan_fee_waiver.rules");
const PROCUREMENT: &str = include_str!("../policies/seed/hunnan_procurement_reserve.rules");
const CASIC_FUND: &str = include_str!("../policies/seed/casic_fund_return.rules");
const INVENTOR: &str = include_str!("../policies/seed/tech_transfer_inventor_share.rules");
const CASIC_TRANSFER: &str = include_str!("../policies/seed/casic_tech_transfer.rules");

#[test]
fn tax_credit_line_by_grade() {
    let p = compile_ok(TAX, &schema());
    assert_eq!(p.key(), "tax_credit_line");
    assert_eq!(p.title(), "税融通");
    let none = ParamOverrides::new();
    for (grade, mult) in [("A", 5), ("B", 3), ("C", 1)] {
        let o = p.evaluate(&firm_with(&[("credit_grade", Value::text(grade))]), &none);
        assert_eq!(o.eligible, Tri::Yes, "{grade}");
        assert_eq!(o.amount, Some(4_500_000 * mult), "{grade}");
    }
    let o = p.evaluate(&firm_with(&[("credit_grade", Value::text("D"))]), &none);
    assert_eq!(o.eligible, Tri::No);
    assert_eq!(o.amount, None);
    assert!(
        o.explain_zh().contains("✗ 不满足：纳税信用等级为A、B或C"),
        "{}",
        o.explain_zh()
    );
    // cap 3,000,000 yuan
    let o = p.evaluate(
        &firm_with(&[("credit_grade", Value::text("A")), ("tax_paid_fen", yuan(10_000_000))]),
        &none,
    );
    assert_eq!(o.amount, Some(300_000_000));
    // zero tax: the gap is one fen
    let o = p.evaluate(&firm_with(&[("tax_paid_fen", Value::Money(0))]), &none);
    assert_eq!(o.eligible, Tri::No);
    let gap = o.conditions[1].gap.clone().unwrap();
    assert!(gap.contains("还差 0.01元"), "{gap}");
    // blacklisted
    let o = p.evaluate(&firm_with(&[("blacklisted", Value::Bool(true))]), &none);
    assert_eq!(o.eligible, Tri::No);
    // overrides: budget simulation of a lower cap and a new table
    let sim = ParamOverrides::new().set("上限", yuan(100_000)).set(
        "倍数",
        Value::table([("A", Value::Int(8)), ("B", Value::Int(4)), ("C", Value::Int(2))]),
    );
    let o = p.evaluate(&firm_with(&[]), &sim);
    assert_eq!(o.amount, Some(10_000_000));
    assert_ne!(o.policy_hash, p.hash());
    assert_eq!(o.policy_hash, p.hash_with(&sim));
}

#[test]
fn tax_credit_line_missing_grade_is_unknown_not_false() {
    let p = compile_ok(TAX, &schema());
    let o = p.evaluate(&firm_without(&["credit_grade"]), &ParamOverrides::new());
    assert_eq!(o.eligible, Tri::Unknown);
    assert_eq!(o.amount, None);
    assert_eq!(o.missing_facts, vec!["纳税信用等级".to_string()]);
    let text = o.explain_zh();
    assert!(text.contains("补充以下信息后可判断：纳税信用等级"), "{text}");
    assert!(text.contains("✓ 满足：未列入严重失信主体名单"), "{text}");
    // ... but a false condition decides: blacklisted and grade missing → No
    let mut f = firm_without(&["credit_grade"]);
    schema().set(&mut f, "blacklisted", Value::Bool(true)).unwrap();
    let o = p.evaluate(&f, &ParamOverrides::new());
    assert_eq!(o.eligible, Tri::No);
    assert!(o.missing_facts.is_empty());
}

#[test]
fn youth_startup_loan_limits() {
    let p = compile_ok(YOUTH, &schema());
    let none = ParamOverrides::new();
    // 20% of 1,500,000 yuan = 300,000 yuan
    let o = p.evaluate(&firm_with(&[]), &none);
    assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(30_000_000)));
    // zero revenue → floor of 50,000 yuan
    let o = p.evaluate(&firm_with(&[("revenue_fen", Value::Money(0))]), &none);
    assert_eq!(o.amount, Some(5_000_000));
    // large revenue (still small/micro) → cap 3,000,000 yuan
    let o = p.evaluate(&firm_with(&[("revenue_fen", Value::Money(1_999_999_999))]), &none);
    assert_eq!(o.amount, Some(300_000_000));
    // controller aged exactly 45 is not "under 45"; the gap says so
    let o = p.evaluate(&firm_with(&[("controller_age", Value::Int(45))]), &none);
    assert_eq!(o.eligible, Tri::No);
    let c = o.conditions.iter().find(|c| c.label == "实际控制人未满45周岁").unwrap();
    assert_eq!(c.value, Tri::No);
    assert!(c.gap.as_deref().unwrap().contains("超出 1 岁"), "{:?}", c.gap);
    // 120 staff is not small/micro
    let o = p.evaluate(&firm_with(&[("employees", Value::Int(120))]), &none);
    assert_eq!(o.eligible, Tri::No);
    assert!(
        o.explain_zh().contains("还差") || o.explain_zh().contains("超出 21 人"),
        "{}",
        o.explain_zh()
    );
    // founded 2019: 7 years old, 2 years too old
    let o = p.evaluate(&firm_with(&[("founded_year", Value::Int(2019))]), &none);
    let c = o.conditions.iter().find(|c| c.label == "成立不超过5年").unwrap();
    assert!(c.gap.as_deref().unwrap().contains("超出 2 年"), "{:?}", c.gap);
    // prelude thresholds are params too
    let o = p.evaluate(
        &firm_with(&[("employees", Value::Int(120))]),
        &ParamOverrides::new().set("小微企业从业人数上限", Value::Int(200)),
    );
    assert_eq!(o.eligible, Tri::Yes);
}

#[test]
fn fuzhou_carrier_awards() {
    let p = compile_ok(CARRIER, &schema());
    let none = ParamOverrides::new();
    for (level, fen) in [
        ("national", 100_000_000),
        ("provincial", 50_000_000),
        ("municipal", 10_000_000),
    ] {
        let o = p.evaluate(&firm_with(&[("carrier_level", Value::text(level))]), &none);
        assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(fen)), "{level}");
    }
    let o = p.evaluate(&firm_with(&[]), &none);
    assert_eq!(o.eligible, Tri::No);
}

#[test]
fn pixian_full_rent_subsidy() {
    let p = compile_ok(RENT, &schema());
    let none = ParamOverrides::new();
    let o = p.evaluate(&firm_with(&[("rent_paid_fen", Value::Money(1_234_567))]), &none);
    assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(1_234_567)));
    let o = p.evaluate(&firm_with(&[("in_carrier", Value::Bool(false))]), &none);
    assert_eq!(o.eligible, Tri::No);
    let o = p.evaluate(&firm_without(&["rent_paid_fen"]), &none);
    assert_eq!(o.eligible, Tri::Unknown);
    assert_eq!(o.missing_facts, vec!["房租".to_string()]);
}

#[test]
fn hunnan_fee_waiver_groups() {
    let p = compile_ok(FEE, &schema());
    let none = ParamOverrides::new();
    for cat in ["unemployed", "disabled", "veteran", "graduate"] {
        let o = p.evaluate(
            &firm_with(&[
                ("controller_category", Value::text(cat)),
                ("is_individual_business", Value::Bool(true)),
            ]),
            &none,
        );
        assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(0)), "{cat}");
    }
    let o = p.evaluate(&firm_with(&[("is_individual_business", Value::Bool(true))]), &none);
    assert_eq!(o.eligible, Tri::No);
    // a company (not an individual business) does not qualify even for a veteran
    let o = p.evaluate(&firm_with(&[("controller_category", Value::text("veteran"))]), &none);
    assert_eq!(o.eligible, Tri::No);
    // blacklist does not matter for the fee waiver
    let o = p.evaluate(
        &firm_with(&[
            ("controller_category", Value::text("disabled")),
            ("is_individual_business", Value::Bool(true)),
            ("blacklisted", Value::Bool(true)),
        ]),
        &none,
    );
    assert_eq!(o.eligible, Tri::Yes);
}

fn procurement_schema() -> FactSchema {
    FactSchema::new()
        .fact("采购预算", Some("budget_fen"), Type::Money)
        .fact("预留中小企业份额", Some("sme_reserved_fen"), Type::Money)
        .fact("其中小微企业份额", Some("small_micro_reserved_fen"), Type::Money)
}

#[test]
fn hunnan_procurement_reserve() {
    let s = procurement_schema();
    let p = compile_ok(PROCUREMENT, &s);
    let none = ParamOverrides::new();
    // budget 10,000,000 yuan → ≥ 3,000,000 to SMEs, of which ≥ 1,800,000 to small/micro
    let ok = facts(
        &s,
        &[
            ("budget_fen", yuan(10_000_000)),
            ("sme_reserved_fen", yuan(3_000_000)),
            ("small_micro_reserved_fen", yuan(1_800_000)),
        ],
    );
    let o = p.evaluate(&ok, &none);
    assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(180_000_000)));
    let short = facts(
        &s,
        &[
            ("budget_fen", yuan(10_000_000)),
            ("sme_reserved_fen", yuan(3_000_000)),
            ("small_micro_reserved_fen", yuan(1_700_000)),
        ],
    );
    let o = p.evaluate(&short, &none);
    assert_eq!(o.eligible, Tri::No);
    assert!(
        o.conditions[1].gap.as_deref().unwrap().contains("还差 100000.00元"),
        "{:?}",
        o.conditions[1].gap
    );
    // budget simulation: reserve 40%
    let o = p.evaluate(
        &ok,
        &ParamOverrides::new().set("中小企业预留比例", Value::Rate(Rate::new(2, 5).unwrap())),
    );
    assert_eq!(o.eligible, Tri::No);
}

fn casic_schema() -> FactSchema {
    FactSchema::new()
        .fact("已产业化", Some("industrialised"), Type::Bool)
        .fact("已注册公司", Some("incorporated"), Type::Bool)
        .fact("约定年化回报率", Some("agreed_return"), Type::Rate)
        .fact("基金投入", Some("fund_invested_fen"), Type::Money)
}

#[test]
fn casic_fund_return_caps() {
    let s = casic_schema();
    let p = compile_ok(CASIC_FUND, &s);
    let none = ParamOverrides::new();
    let pct = |n| Value::Rate(Rate::new(n, 100).unwrap());
    let f = |ind: bool, inc: bool, r: i64| {
        facts(
            &s,
            &[
                ("industrialised", Value::Bool(ind)),
                ("incorporated", Value::Bool(inc)),
                ("agreed_return", pct(r)),
                ("fund_invested_fen", yuan(1_000_000)),
            ],
        )
    };
    assert_eq!(p.evaluate(&f(true, true, 6), &none).amount, Some(6_000_000));
    assert_eq!(p.evaluate(&f(true, true, 7), &none).eligible, Tri::No);
    assert_eq!(p.evaluate(&f(false, true, 8), &none).amount, Some(8_000_000));
    assert_eq!(p.evaluate(&f(false, true, 9), &none).eligible, Tri::No);
    assert_eq!(p.evaluate(&f(false, false, 5), &none).eligible, Tri::No);
    // unknown industrialisation but incorporated: the first condition holds (true or unknown),
    // the cap depends on the unknown fact → Unknown, never false
    let partial = facts(
        &s,
        &[
            ("incorporated", Value::Bool(true)),
            ("agreed_return", pct(7)),
            ("fund_invested_fen", yuan(1)),
        ],
    );
    let o = p.evaluate(&partial, &none);
    assert_eq!(o.conditions[0].value, Tri::Yes);
    assert_eq!(o.eligible, Tri::Unknown);
    assert_eq!(o.missing_facts, vec!["已产业化".to_string()]);
}

fn transfer_schema() -> FactSchema {
    FactSchema::new()
        .fact("转化收入", Some("income_fen"), Type::Money)
        .fact("转化成本", Some("cost_fen"), Type::Money)
        .fact("分配给发明人", Some("to_inventors_fen"), Type::Money)
}

#[test]
fn tech_transfer_shares() {
    let s = transfer_schema();
    let none = ParamOverrides::new();
    let p = compile_ok(INVENTOR, &s);
    let f = |inc, cost, inv| {
        facts(
            &s,
            &[
                ("income_fen", yuan(inc)),
                ("cost_fen", yuan(cost)),
                ("to_inventors_fen", yuan(inv)),
            ],
        )
    };
    let o = p.evaluate(&f(1_000_000, 200_000, 560_000), &none);
    assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(56_000_000)));
    let o = p.evaluate(&f(1_000_000, 200_000, 500_000), &none);
    assert_eq!(o.eligible, Tri::No);
    assert!(o.conditions[1].gap.as_deref().unwrap().contains("还差 60000.00元"));

    let c = compile_ok(CASIC_TRANSFER, &s);
    let o = c.evaluate(&f(1_000_000, 200_001, 0), &none);
    // (1,000,000 − 200,001) × 50% = 399,999.5 yuan → floor to fen = 39,999,950 fen
    assert_eq!((o.eligible, o.amount), (Tri::Yes, Some(39_999_950)));
    let o = c.evaluate(
        &facts(&s, &[("income_fen", Value::Money(3)), ("cost_fen", Value::Money(0))]),
        &none,
    );
    assert_eq!(o.amount, Some(1)); // 1.5 fen rounds down
    let o = c.evaluate(&f(100, 200, 0), &none);
    assert_eq!(o.eligible, Tri::No);
}

#[test]
fn all_seed_rules_have_stable_distinct_hashes() {
    let s = schema();
    let a = compile_ok(TAX, &s);
    let b = compile_ok(&format!("# 注释不同\n{TAX}\n\n"), &s);
    assert_eq!(a.hash(), b.hash(), "comments and layout do not change the hash");
    assert_eq!(a.hash().len(), 64);
    let c = compile_ok(&TAX.replace("3000000元", "3000001元"), &s);
    assert_ne!(a.hash(), c.hash());
}
