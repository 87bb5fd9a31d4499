//! The batch path gives exactly the answers of the explaining evaluator.

use chuangtong_rules::batch::{BatchInput, BatchProgram, Column};
use chuangtong_rules::*;

/// Deterministic pseudo-random numbers (xorshift), no extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn text_col(rng: &mut Rng, rows: usize, dict: &[&str]) -> Column {
    Column::Text {
        codes: (0..rows).map(|_| rng.below(dict.len() as u64) as u8).collect(),
        dict: dict.iter().map(|s| s.to_string()).collect(),
    }
}

fn random_input(rows: usize, seed: u64) -> BatchInput {
    let s = FactSchema::enterprise();
    let mut rng = Rng(seed);
    let mut inp = BatchInput::new(rows);
    let int = |name: &str, hi: u64, rng: &mut Rng| {
        let v: Vec<i64> = (0..rows)
            .map(|_| if rng.below(10) == 0 { 0 } else { rng.below(hi) })
            .collect();
        (name.to_string(), Column::Int(v))
    };
    let mut cols = vec![
        int("founded_year", 37, &mut rng),
        int("employees", 300, &mut rng),
        int("revenue_fen", 4_000_000_000, &mut rng),
        int("tax_paid_fen", 100_000_000_000, &mut rng),
        int("rd_expense_fen", 200_000_000, &mut rng),
        int("invention_patents", 40, &mut rng),
        int("controller_age", 70, &mut rng),
        int("rent_paid_fen", 50_000_000, &mut rng),
    ];
    for (n, c) in &mut cols {
        if n == "founded_year" {
            if let Column::Int(v) = c {
                v.iter_mut().for_each(|x| *x += 1990);
            }
        }
    }
    for (n, c) in cols {
        inp.insert(&s, &n, c).unwrap();
    }
    for b in ["is_high_tech", "is_individual_business", "in_carrier", "blacklisted"] {
        let v: Vec<bool> = (0..rows).map(|_| rng.below(4) == 0).collect();
        inp.insert(&s, b, Column::Bool(v)).unwrap();
    }
    inp.insert(
        &s,
        "region_code",
        text_col(&mut rng, rows, &["110105", "510116", "210106"]),
    )
    .unwrap();
    inp.insert(&s, "industry", text_col(&mut rng, rows, &["A", "C", "I", "M"]))
        .unwrap();
    inp.insert(
        &s,
        "controller_category",
        text_col(
            &mut rng,
            rows,
            &["none", "unemployed", "disabled", "veteran", "graduate"],
        ),
    )
    .unwrap();
    inp.insert(
        &s,
        "carrier_level",
        text_col(&mut rng, rows, &["none", "municipal", "provincial", "national"]),
    )
    .unwrap();
    inp.insert(&s, "credit_grade", text_col(&mut rng, rows, &["A", "B", "C", "D"]))
        .unwrap();
    inp.insert(
        &s,
        "talent_level",
        text_col(&mut rng, rows, &["none", "district", "city", "provincial", "national"]),
    )
    .unwrap();
    inp.insert(&s, "eval_year", Column::Const(Value::Int(2026))).unwrap();
    inp
}

fn sources() -> Vec<&'static str> {
    vec![
        include_str!("../policies/seed/tax_credit_line.rules"),
        include_str!("../policies/seed/youth_startup_loan.rules"),
        include_str!("../policies/seed/fuzhou_carrier_award.rules"),
        include_str!("../policies/seed/pixian_rent_subsidy.rules"),
        include_str!("../policies/seed/hunnan_fee_waiver.rules"),
        include_str!("../policies/bench/tax_credit_line.rules"),
        include_str!("../policies/bench/youth_startup_loan.rules"),
        include_str!("../policies/bench/carrier_award.rules"),
        include_str!("../policies/bench/rent_subsidy.rules"),
        include_str!("../policies/bench/innovation_voucher.rules"),
        include_str!("../policies/bench/rd_subsidy.rules"),
        include_str!("../policies/bench/patent_subsidy.rules"),
        include_str!("../policies/bench/high_tech_award.rules"),
        include_str!("../policies/bench/talent_award.rules"),
        include_str!("../policies/bench/fee_waiver.rules"),
        // constructs the vector path handles specially or not at all
        "policy ratio \"比率\"\nrequire \"r\": 营业收入 > 0元 and 研发费用 / 营业收入 >= 3%\namount = 研发费用 * (1/3)\n",
        "policy sel \"选择\"\nlet x = if 高新技术企业 then 从业人数 else -从业人数\nrequire \"b\": 高新技术企业 == 入驻载体 or x > 50\namount = max(营业收入 * 7%, 房租) - 1元\n",
        "policy ovf \"溢出\"\nrequire \"r\": 纳税额 * 100000000 > 0元\namount = 纳税额 * 1000000\n",
        "policy miss \"缺键\"\nparam t: table[text -> money] = {\"A\": 1元, \"B\": 2元}\nrequire \"r\": not 严重失信\namount = t[纳税信用等级]\n",
        "policy grade \"等级\"\nrequire \"r\": 纳税信用等级 != \"D\" and 人才层次 >= \"district\"\n",
        // amount plans: a product that overflows on some rows (fused kernel with its check, the
        // rows fall back and fail), clamped into 32 bits
        "policy fovf \"溢出封顶\"\nrequire \"r\": not 严重失信\namount = min(纳税额 * 100000000, 5元)\n",
        // a column times a table by level, floor and cap; a column alone, clamped both ways
        "policy ftab \"倍数\"\nparam m: table[text -> int] = {\"A\": 3, \"B\": -2, \"C\": 0}\nrequire \"r\": 纳税信用等级 in {\"A\", \"B\", \"C\"}\namount = clamp(营业收入 * m[纳税信用等级], -1000元, 90000元)\n",
        "policy fcol \"原值\"\nrequire \"r\": 入驻载体\namount = max(min(房租, 300000元), 1元)\n",
        "policy frate \"比例\"\nrequire \"r\": 高新技术企业\namount = 营业收入 * (2/3)\n",
        // non-negative products under a cap with no floor above 0 (the kernel without the floor
        // step): a cap of 0, a cap hit by some rows only, and a policy no row is eligible for
        // (empty amount storage in every block)
        "policy fzero \"零封顶\"\nrequire \"r\": not 严重失信\namount = max(min(发明专利数 * 3元, 0元), 0元)\n",
        "policy fhalf \"半额封顶\"\nrequire \"r\": 房租 > 0元\namount = min(房租 * 50%, 20万元)\n",
        "policy nobody \"无人\"\nrequire \"r\": 从业人数 > 1000000000\namount = min(房租 * 50%, 1000元)\n",
        // a table clamped by constants (coded), a choice between constants (by bit), a constant
        "policy coded \"按级\"\nparam t: table[text -> money] = {\"district\": 1元, \"city\": 7元, \"provincial\": 9元, \"national\": 30元}\nrequire \"r\": 人才层次 != \"none\"\namount = min(t[人才层次], 8元)\n",
        "policy bybit \"二选一\"\nrequire \"r\": not 严重失信\namount = if 发明专利数 >= 20 and 高新技术企业 then 3元 else 1元\n",
        "policy konst \"定额\"\nrequire \"r\": 从业人数 >= 7\namount = 12元\n",
        // comparisons at the edges of the narrow column copies (16 and 32 bits, saturated)
        "policy edges \"边界\"\nrequire \"r\": 从业人数 >= 32766 or 从业人数 < -32767 or 营业收入 >= 21474836.46元 or 营业收入 > 21474836.47元 or 纳税额 == 327.67元 or 发明专利数 != 0\n",
        // arithmetic on a column against a constant (rewritten to a comparison of the column)
        "policy shift \"平移\"\nrequire \"r\": 从业人数 + 5 > 60 and 实际控制人年龄 - 10 <= 40 and 2030 - 成立年度 >= 7\namount = 1元\n",
    ]
}

/// Every row of every policy: the batch result equals the explaining evaluator's.
fn check_against_scalar(policies: &[(Policy, ParamOverrides)], input: &BatchInput, threads: &[usize]) {
    let prog = BatchProgram::compile(policies, input).unwrap();
    let rows = input.rows();
    let outcomes: Vec<Vec<Outcome>> = policies
        .iter()
        .map(|(p, ov)| (0..rows).map(|row| p.evaluate(&input.row_facts(row), ov)).collect())
        .collect();
    for &threads in threads {
        let res = prog.run(input, threads);
        for (pi, (p, _)) in policies.iter().enumerate() {
            let pr = &res.policies[pi];
            let amounts = pr.amount_list();
            let mut cursor = 0;
            let mut errors = 0;
            for (row, o) in outcomes[pi].iter().enumerate() {
                let expect_ok = o.eligible == Tri::Yes && o.amount.is_some();
                assert_eq!(
                    pr.is_ok(row),
                    expect_ok,
                    "policy {} row {row} threads {threads}: {}",
                    p.key(),
                    o.explain_zh()
                );
                if expect_ok {
                    assert_eq!(amounts[cursor], o.amount.unwrap(), "policy {} row {row}", p.key());
                    cursor += 1;
                }
                if !o.errors.is_empty() || o.eligible == Tri::Unknown {
                    errors += 1;
                }
            }
            assert_eq!(cursor, amounts.len());
            assert_eq!(errors, pr.errors.len(), "policy {}", p.key());
            assert!(pr.errors.windows(2).all(|w| w[0].0 <= w[1].0), "errors in row order");
        }
    }
}

#[test]
fn batch_equals_scalar_on_random_data() {
    let schema = FactSchema::enterprise();
    let policies: Vec<(Policy, ParamOverrides)> = sources()
        .iter()
        .map(|s| {
            (
                compile(s, &schema).unwrap_or_else(|e| panic!("{e:?}")),
                ParamOverrides::new(),
            )
        })
        .collect();
    let rows = 5000 + 37; // not a multiple of the block size
    let input = random_input(rows, 0x9e3779b97f4a7c15);
    let prog = BatchProgram::compile(&policies, &input).unwrap();
    assert!(
        prog.scalar_policies().contains(&"ratio"),
        "{:?}",
        prog.scalar_policies()
    );
    // the compiler chose the specialised amount plans for these shapes and ranges
    let plan = |key: &str| {
        let i = policies.iter().position(|(p, _)| p.key() == key).unwrap();
        prog.amount_plan(i)
    };
    assert_eq!(plan("fovf"), "fused-checked-i32");
    assert_eq!(plan("ftab"), "fused-i32");
    assert_eq!(plan("fcol"), "fused-i32");
    assert_eq!(plan("frate"), "fused");
    assert_eq!(plan("fzero"), "fused-i32");
    assert_eq!(plan("fhalf"), "fused-i32");
    assert_eq!(plan("nobody"), "fused-i32");
    assert_eq!(plan("coded"), "coded");
    assert_eq!(plan("bybit"), "by-bit");
    assert_eq!(plan("konst"), "const");
    assert_eq!(plan("high_tech_award"), "const");
    assert_eq!(plan("innovation_voucher"), "by-bit");
    assert_eq!(plan("talent_award"), "coded");
    assert_eq!(plan("tax_credit_line"), "fused-i32");
    assert_eq!(plan("sel"), "general-i32");
    assert_eq!(plan("ovf"), "fused");
    assert_eq!(plan("ratio"), "row-by-row");
    let res = prog.run(&input, 2);
    let count = |key: &str| res.policies[policies.iter().position(|(p, _)| p.key() == key).unwrap()].count();
    assert_eq!(count("nobody"), 0);
    assert!(count("fzero") > 0 && count("fhalf") > 0);
    let fovf = policies.iter().position(|(p, _)| p.key() == "fovf").unwrap();
    assert!(!res.policies[fovf].errors.is_empty(), "some products overflow");
    assert!(res.policies[fovf].count() > 0);
    check_against_scalar(&policies, &input, &[1, 2, 3]);
}

/// Many policies sharing amount subexpressions: the amount pass computes those for whole
/// blocks (including ones that overflow or miss a table key) instead of per eligible row.
#[test]
fn shared_amounts_computed_for_whole_blocks_equal_scalar() {
    let schema = FactSchema::enterprise();
    let mut policies: Vec<(Policy, ParamOverrides)> = Vec::new();
    for s in sources() {
        let p = compile(s, &schema).unwrap_or_else(|e| panic!("{e:?}"));
        for _ in 0..4 {
            policies.push((p.clone(), ParamOverrides::new()));
        }
    }
    let input = random_input(2048 + 300, 0x2545f4914f6cdd1d);
    check_against_scalar(&policies, &input, &[1, 2]);
}

/// Columns with extreme values: the compiler's range analysis must not prove anything false
/// (no narrow copy, no rewritten comparison, no unchecked product where a row can overflow).
#[test]
fn extreme_values_equal_scalar() {
    let schema = FactSchema::enterprise();
    let policies: Vec<(Policy, ParamOverrides)> = sources()
        .iter()
        .map(|s| (compile(s, &schema).unwrap(), ParamOverrides::new()))
        .collect();
    let rows = 2048 + 700;
    let mut input = random_input(rows, 0x51_7cc1_b727_220a);
    let mut rng = Rng(77);
    let extremes = [
        i64::MIN,
        i64::MIN + 1,
        -1,
        0,
        1,
        i32::MAX as i64,
        i32::MAX as i64 + 1,
        i64::MAX,
    ];
    for name in [
        "founded_year",
        "employees",
        "revenue_fen",
        "tax_paid_fen",
        "invention_patents",
        "controller_age",
        "rent_paid_fen",
    ] {
        let v: Vec<i64> = (0..rows)
            .map(|_| {
                if rng.below(8) == 0 {
                    extremes[rng.below(extremes.len() as u64) as usize]
                } else {
                    rng.below(100_000) - 50_000
                }
            })
            .collect();
        input.insert(&schema, name, Column::Int(v)).unwrap();
    }
    check_against_scalar(&policies, &input, &[1, 2]);
}

/// Narrow ranges make the compiler choose 32-bit amounts and unchecked products; the answers
/// stay those of the explaining evaluator.
#[test]
fn small_ranges_equal_scalar() {
    let schema = FactSchema::enterprise();
    let policies: Vec<(Policy, ParamOverrides)> = sources()
        .iter()
        .map(|s| (compile(s, &schema).unwrap(), ParamOverrides::new()))
        .collect();
    let rows = 3000;
    let mut input = random_input(rows, 0xdead_beef);
    let mut rng = Rng(5);
    for name in ["revenue_fen", "tax_paid_fen", "rent_paid_fen", "rd_expense_fen"] {
        let v: Vec<i64> = (0..rows).map(|_| rng.below(2_000_000)).collect();
        input.insert(&schema, name, Column::Int(v)).unwrap();
    }
    check_against_scalar(&policies, &input, &[1, 3]);
}

#[test]
fn shared_subexpressions_are_computed_once() {
    let schema = FactSchema::enterprise();
    let one = compile(include_str!("../policies/bench/high_tech_award.rules"), &schema).unwrap();
    let input = random_input(10, 1);
    let a = BatchProgram::compile(&[(one.clone(), ParamOverrides::new())], &input).unwrap();
    let many: Vec<_> = (0..50).map(|_| (one.clone(), ParamOverrides::new())).collect();
    let b = BatchProgram::compile(&many, &input).unwrap();
    assert_eq!(a.node_count(), b.node_count());
}

#[test]
fn missing_column_is_a_compile_error() {
    let schema = FactSchema::enterprise();
    let p = compile(include_str!("../policies/seed/tax_credit_line.rules"), &schema).unwrap();
    let input = BatchInput::new(3);
    assert!(BatchProgram::compile(&[(p, ParamOverrides::new())], &input).is_err());
}
