//! The language: literals, operators, type errors with positions, three-valued logic, fuzzing.

use chuangtong_rules::*;
use proptest::prelude::*;

fn s() -> FactSchema {
    FactSchema::enterprise()
}

fn errs(src: &str) -> Vec<RuleError> {
    match compile(src, &s()) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

/// Evaluates `amount = <expr>` on the given facts.
fn amount_of(expr: &str, facts: &[(&str, Value)]) -> Outcome {
    let src = format!("policy t \"测试\"\namount = {expr}\n");
    let p = compile(&src, &s()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut f = Facts::new();
    for (k, v) in facts {
        s().set(&mut f, k, v.clone()).unwrap();
    }
    p.evaluate(&f, &ParamOverrides::new())
}

fn cond(expr: &str, facts: &[(&str, Value)]) -> Tri {
    let src = format!("policy t \"测试\"\nrequire \"c\": {expr}\n");
    let p = compile(&src, &s()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut f = Facts::new();
    for (k, v) in facts {
        s().set(&mut f, k, v.clone()).unwrap();
    }
    p.evaluate(&f, &ParamOverrides::new()).eligible
}

#[test]
fn unknown_fact_points_to_line_and_column() {
    let e = errs("policy t \"x\"\n\nrequire \"a\": 纳税额x > 0元\n");
    assert_eq!(e[0].code, "rules.unknown_fact");
    assert_eq!((e[0].line, e[0].col), (3, 14));
    assert_eq!(e[0].to_string(), "第3行第14列：未知的事实“纳税额x”");
}

#[test]
fn type_errors_are_chinese_with_codes() {
    let e = errs("policy t \"x\"\nrequire \"a\": 纳税额 > 5\n");
    assert_eq!(e[0].code, "rules.type_mismatch");
    assert_eq!(e[0].line, 2);
    assert!(e[0].message.contains("money"), "{}", e[0].message);
    let e = errs("policy t \"x\"\namount = 从业人数\n");
    assert_eq!(e[0].code, "rules.type_mismatch");
    let e = errs("policy t \"x\"\nrequire \"a\": 纳税信用等级 == \"E\"\n");
    assert_eq!(e[0].code, "rules.type_mismatch");
    let e = errs("policy t \"x\"\nrequire \"a\": 从业人数 + \n");
    assert_eq!(e[0].code, "rules.syntax");
    assert_eq!(e[0].line, 3);
    let e = errs("policy t \"x\"\namount = 1.234元\n");
    assert_eq!(e[0].code, "rules.bad_literal");
    let e = errs("require \"a\": true\n");
    assert_eq!(e[0].code, "rules.missing_policy");
    let e = errs("policy t \"x\"\nlet a = 1\nlet a = 2\n");
    assert_eq!(e[0].code, "rules.duplicate_name");
    let e = errs("policy t \"x\"\nrequire \"a\": 1 < 2 < 3\n");
    assert_eq!(e[0].code, "rules.syntax");
    let e = errs("policy t \"x\"\namount = foo(1元)\n");
    assert_eq!(e[0].code, "rules.unknown_function");
    // several errors are reported together
    let e = errs("policy t \"x\"\nrequire \"a\": 甲 > 0\nrequire \"b\": 乙 > 0\n");
    assert_eq!(e.len(), 2);
}

#[test]
fn money_and_rate_literals() {
    assert_eq!(amount_of("123.45元", &[]).amount, Some(12_345));
    assert_eq!(amount_of("50万元", &[]).amount, Some(50_000_000));
    assert_eq!(amount_of("1.5万元", &[]).amount, Some(1_500_000));
    assert_eq!(amount_of("3亿元", &[]).amount, Some(30_000_000_000));
    assert_eq!(amount_of("1分", &[]).amount, Some(1));
    assert_eq!(amount_of("100元 * 20%", &[]).amount, Some(2_000));
    assert_eq!(amount_of("100元 * 2000bp", &[]).amount, Some(2_000));
    // floor: 1元 × 1/3 = 33.33… fen → 33
    assert_eq!(amount_of("1元 * (1/3)", &[]).amount, Some(33));
    assert_eq!(amount_of("1元 * 12.5%", &[]).amount, Some(12));
    // floor towards −∞
    assert_eq!(amount_of("-1元 * (1/3)", &[]).amount, Some(-34));
    assert_eq!(amount_of("10元 * floor(7/2)", &[]).amount, Some(3_000));
    assert_eq!(amount_of("clamp(5元, 10元, 20元)", &[]).amount, Some(1_000));
    assert_eq!(amount_of("if 1/3 > 33% then 1元 else 2元", &[]).amount, Some(100));
    assert_eq!(amount_of("max(1元, 2元, 0)", &[]).amount, Some(200));
    // full-width punctuation and ≥ are accepted
    assert_eq!(cond("从业人数 ≥ 3", &[("employees", Value::Int(3))]), Tri::Yes);
    assert_eq!(amount_of("min（1元，2元）", &[]).amount, Some(100));
}

#[test]
fn overflow_is_an_error_not_a_wrap() {
    let o = amount_of("营业收入 * 1000000000", &[("revenue_fen", Value::Money(i64::MAX / 2))]);
    assert_eq!(o.eligible, Tri::Yes);
    assert_eq!(o.amount, None);
    assert!(o.errors[0].contains("溢出"), "{:?}", o.errors);
}

#[test]
fn kleene_logic() {
    let bl = |b: bool| ("blacklisted", Value::Bool(b));
    // 严重失信 missing
    assert_eq!(cond("严重失信 and false", &[]), Tri::No);
    assert_eq!(cond("false and 严重失信", &[]), Tri::No);
    assert_eq!(cond("严重失信 or true", &[]), Tri::Yes);
    assert_eq!(cond("严重失信 or false", &[]), Tri::Unknown);
    assert_eq!(cond("not 严重失信", &[]), Tri::Unknown);
    assert_eq!(cond("if 严重失信 then true else true", &[]), Tri::Unknown);
    assert_eq!(cond("not 严重失信", &[bl(false)]), Tri::Yes);
    assert_eq!(
        cond("从业人数 < 100 and 严重失信", &[("employees", Value::Int(200))]),
        Tri::No
    );
    // money / money is an exact rate: 3% exactly
    let f = [
        ("rd_expense_fen", Value::Money(4_500_000)),
        ("revenue_fen", Value::Money(150_000_000)),
    ];
    assert_eq!(cond("营业收入 > 0 and 研发费用 / 营业收入 >= 3%", &f), Tri::Yes);
    assert_eq!(cond("营业收入 > 0 and 研发费用 / 营业收入 > 3%", &f), Tri::No);
    // division by zero is short-circuited away
    let z = [("rd_expense_fen", Value::Money(5)), ("revenue_fen", Value::Money(0))];
    assert_eq!(cond("营业收入 > 0 and 研发费用 / 营业收入 >= 3%", &z), Tri::No);
}

#[test]
fn english_aliases_and_chinese_names_are_the_same_fact() {
    assert_eq!(cond("employees == 从业人数", &[("从业人数", Value::Int(3))]), Tri::Yes);
}

#[test]
fn facts_from_json() {
    let f = s()
        .facts_from_json(
            &serde_json::json!({"employees": 12, "纳税信用等级": "A", "blacklisted": 0, "revenue_fen": null}),
        )
        .unwrap();
    assert_eq!(f.get("从业人数"), Some(&Value::Int(12)));
    assert_eq!(f.get("严重失信"), Some(&Value::Bool(false)));
    assert_eq!(f.get("营业收入"), None);
    let e = s()
        .facts_from_json(&serde_json::json!({"employeez": 1, "credit_grade": "E"}))
        .unwrap_err();
    assert_eq!(e.len(), 2);
}

#[test]
fn bad_override_is_reported() {
    let p = compile("policy t \"x\"\nparam 上限: money = 1元\namount = 上限\n", &s()).unwrap();
    let o = p.evaluate(&Facts::new(), &ParamOverrides::new().set("上限", Value::Int(3)));
    assert_eq!(o.eligible, Tri::Unknown);
    assert!(!o.errors.is_empty());
}

const TOKENS: &[&str] = &[
    "policy",
    "param",
    "let",
    "require",
    "amount",
    "and",
    "or",
    "not",
    "in",
    "if",
    "then",
    "else",
    "true",
    "false",
    "纳税额",
    "从业人数",
    "纳税信用等级",
    "严重失信",
    "x",
    "min",
    "max",
    "clamp",
    "floor",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
    "->",
    "+",
    "-",
    "*",
    "/",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "1",
    "0",
    "20%",
    "50万元",
    "1/3",
    "\"A\"",
    "\"标签\"",
    "money",
    "int",
    "rate",
    "text",
    "bool",
    "set",
    "table",
    "\n",
    "1.5",
    "999999999999999999999",
    "#",
    "“",
    "\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn compile_never_panics_on_random_strings(src in ".{0,200}") {
        let _ = compile(&src, &s());
    }

    #[test]
    fn compile_never_panics_on_token_soup(idx in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let src: Vec<&str> = idx.iter().map(|i| TOKENS[*i]).collect();
        let src = src.join(" ");
        if let Ok(p) = compile(&src, &s()) {
            // whatever compiles also evaluates without panicking
            let o = p.evaluate(&Facts::new(), &ParamOverrides::new());
            let _ = o.explain_zh();
        }
    }

    #[test]
    fn prefixed_soup_never_panics(idx in proptest::collection::vec(0..TOKENS.len(), 0..40)) {
        let src: Vec<&str> = idx.iter().map(|i| TOKENS[*i]).collect();
        let src = format!("policy t \"x\"\nrequire \"c\": {}\n", src.join(" "));
        if let Ok(p) = compile(&src, &s()) {
            let _ = p.evaluate(&Facts::new(), &ParamOverrides::new()).explain_zh();
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(
        "policy t \"x\"\namount = {}1元{}\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert_eq!(errs(&deep)[0].code, "rules.syntax");
    let long = format!("policy t \"x\"\namount = 1元{}\n", " + 1元".repeat(10_000));
    assert_eq!(errs(&long)[0].code, "rules.syntax");
    let nots = format!("policy t \"x\"\nrequire \"a\": {} true\n", "not ".repeat(10_000));
    assert_eq!(errs(&nots)[0].code, "rules.syntax");
}

/// Found by the fuzzer (`cargo fuzz run compile`, 2026-11-27): a basis-point
/// literal too large to write back in basis points made the normalised
/// source (and so the policy hash) overflow. It must compile or be refused,
/// never panic; a rate that large is written back as `num/den`.
#[test]
fn huge_basis_point_literal_does_not_panic() {
    for source in [
        "36366336664666666665bp",
        "policy t \"x\"\namount = 100元 * 36366336664666666665bp\n",
    ] {
        let _ = compile(source, &FactSchema::enterprise());
    }
    let rate = Rate::new(7_273_267_332_933_333_333, 2_000).unwrap();
    assert_eq!(Value::Rate(rate).to_source(), "7273267332933333333/2000");
    assert_eq!(Value::Rate(Rate::from_bp(250)).to_source(), "250bp");
}
