//! Arbitrary UTF-8 → `compile` against the enterprise schema; what compiles is evaluated on
//! an empty and on a full fact set (with explanations), and on a few rows by the batch path,
//! which must agree with the explaining evaluator.
#![no_main]

use chuangtong_rules::batch::{BatchInput, BatchProgram, Column};
use chuangtong_rules::{compile, FactSchema, Facts, ParamOverrides, Tri, Type, Value};
use libfuzzer_sys::fuzz_target;

/// Three enterprises with every fact set (values chosen to reach edges: zero, large, negative).
fn rows(schema: &FactSchema) -> (Vec<Facts>, BatchInput) {
    const N: usize = 3;
    let mut input = BatchInput::new(N);
    let mut facts: Vec<Facts> = (0..N).map(|_| Facts::new()).collect();
    for def in schema.facts() {
        let vals: Vec<Value> = match &def.ty {
            Type::Int => vec![Value::Int(0), Value::Int(44), Value::Int(i64::MAX / 3)],
            Type::Money => vec![Value::Money(0), Value::Money(1_999_999_999), Value::Money(-7)],
            Type::Bool => vec![Value::Bool(false), Value::Bool(true), Value::Bool(true)],
            _ => {
                let allowed = def
                    .allowed
                    .clone()
                    .unwrap_or_else(|| vec!["110105".into(), "510116".into()]);
                (0..N)
                    .map(|i| Value::Text(allowed[i % allowed.len()].clone()))
                    .collect()
            }
        };
        for (f, v) in facts.iter_mut().zip(&vals) {
            f.insert_unchecked(&def.name, v.clone());
        }
        let col = match &def.ty {
            Type::Int | Type::Money => Column::Int(
                vals.iter()
                    .map(|v| match v {
                        Value::Int(i) | Value::Money(i) => *i,
                        _ => 0,
                    })
                    .collect(),
            ),
            Type::Bool => Column::Bool(vals.iter().map(|v| matches!(v, Value::Bool(true))).collect()),
            _ => {
                let mut dict: Vec<String> = Vec::new();
                let mut codes = Vec::new();
                for v in &vals {
                    let Value::Text(t) = v else { continue };
                    let c = dict.iter().position(|d| d == t).unwrap_or_else(|| {
                        dict.push(t.clone());
                        dict.len() - 1
                    });
                    codes.push(c as u8);
                }
                Column::Text { codes, dict }
            }
        };
        input.insert(schema, &def.name, col).expect("valid column");
    }
    (facts, input)
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let schema = FactSchema::enterprise();
    let Ok(policy) = compile(source, &schema) else {
        return;
    };
    let ov = ParamOverrides::new();
    let empty = policy.evaluate(&Facts::new(), &ov);
    let _ = empty.explain_zh();
    let (facts, input) = rows(&schema);
    let outcomes: Vec<_> = facts.iter().map(|f| policy.evaluate(f, &ov)).collect();
    for o in &outcomes {
        let _ = o.explain_zh();
    }
    let _ = policy.hash_with(&ov);
    // The batch path agrees with the explaining evaluator.
    let Ok(prog) = BatchProgram::compile(&[(policy.clone(), ov.clone())], &input) else {
        return;
    };
    for threads in [1, 2] {
        let res = prog.run(&input, threads);
        let pr = &res.policies[0];
        let amounts = pr.amount_list();
        let mut cursor = 0;
        for (row, o) in outcomes.iter().enumerate() {
            let ok = o.eligible == Tri::Yes && o.amount.is_some();
            assert_eq!(pr.is_ok(row), ok, "row {row}: {source:?}");
            if ok {
                assert_eq!(Some(amounts[cursor]), o.amount, "row {row}: {source:?}");
                cursor += 1;
            }
        }
        assert_eq!(cursor, amounts.len());
    }
});
