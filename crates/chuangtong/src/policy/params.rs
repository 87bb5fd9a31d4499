//! Changed parameter values for budget simulation and for recomputing a
//! stored grant: a scalar (cap, rate, threshold) or single entries of a
//! table (by grade or level). Values written as literals of the rules
//! language (`120万元`, `25%`, `6`, `{"A": 6}`) are read by the rules
//! compiler itself, so a page form accepts exactly what a policy source does.

use chuangtong_rules::{compile, FactSchema, ParamOverrides, Policy, Type, Value};

use crate::web::error::{AppError, FieldError};

/// Reads `literal` as a value of type `ty` with the rules compiler (no facts, no prelude).
pub fn parse_literal(ty: &Type, literal: &str) -> Result<Value, String> {
    static EMPTY: std::sync::OnceLock<FactSchema> = std::sync::OnceLock::new();
    let literal = literal.trim();
    if literal.is_empty() || literal.contains('\n') {
        return Err("请填写参数值".into());
    }
    let source = format!("policy 参数 \"参数\"\nparam 值: {ty} = {literal}\n");
    match compile(&source, EMPTY.get_or_init(FactSchema::new)) {
        Ok(p) => p
            .params()
            .first()
            .map(|d| d.default.clone())
            .ok_or_else(|| "参数值无法识别".into()),
        Err(errs) => Err(errs.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("；")),
    }
}

/// One JSON value as a value of type `ty`: money in integer fen, int, bool,
/// or a string holding a literal of the language (any type, e.g. "25%").
fn value_of(ty: &Type, v: &serde_json::Value) -> Result<Value, String> {
    match (ty, v) {
        (Type::Int, serde_json::Value::Number(n)) => n.as_i64().map(Value::Int).ok_or_else(|| "应为整数".into()),
        (Type::Money, serde_json::Value::Number(n)) => {
            n.as_i64().map(Value::Money).ok_or_else(|| "金额应为整数分".into())
        }
        (Type::Bool, serde_json::Value::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Text, serde_json::Value::String(s)) => Ok(Value::Text(s.clone())),
        (_, serde_json::Value::String(s)) => parse_literal(ty, s),
        _ => Err(format!("应为 {ty}（金额为整数分，比例写作“25%”）")),
    }
}

/// The value of parameter `def_ty` (default `default`) after a change given
/// as JSON; a table accepts an object of entries that replace or add single
/// entries of the default table.
fn changed(def_ty: &Type, default: &Value, v: &serde_json::Value) -> Result<Value, String> {
    match (def_ty, default, v) {
        (Type::Table(inner), Value::Table(t), serde_json::Value::Object(entries)) => {
            let mut table = (**t).clone();
            for (k, ev) in entries {
                let value = value_of(inner, ev).map_err(|e| format!("表项“{k}”{e}"))?;
                table.insert(k.clone(), value);
            }
            Ok(Value::Table(std::sync::Arc::new(table)))
        }
        _ => value_of(def_ty, v),
    }
}

/// Overrides from `{parameter name: new value}`; every bad entry is reported.
pub fn from_json(
    policy: &Policy,
    given: &serde_json::Map<String, serde_json::Value>,
) -> Result<ParamOverrides, AppError> {
    let mut o = ParamOverrides::new();
    let mut errs = Vec::new();
    for (name, v) in given {
        let Some(def) = policy.params().iter().find(|p| &p.name == name) else {
            errs.push(FieldError::new(
                "params",
                "policy.unknown_param",
                format!("政策没有参数“{name}”"),
            ));
            continue;
        };
        match changed(&def.ty, &def.default, v) {
            Ok(value) => o.insert(name, value),
            Err(e) => errs.push(FieldError::new(
                "params",
                "policy.bad_param",
                format!("参数“{name}”的值不对：{e}"),
            )),
        }
    }
    if errs.is_empty() {
        Ok(o)
    } else {
        Err(AppError::Validation(errs))
    }
}

/// A change entered on the page: parameter, optional table key, literal value.
pub fn from_form(policy: &Policy, name: &str, key: &str, literal: &str) -> Result<ParamOverrides, AppError> {
    let def = policy
        .params()
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::field("param", "policy.unknown_param", format!("政策没有参数“{name}”")))?;
    let bad = |e: String| AppError::field("value", "policy.bad_param", format!("参数“{name}”的值不对：{e}"));
    let value = match (&def.ty, &def.default, key.trim()) {
        (Type::Table(inner), Value::Table(t), k) if !k.is_empty() => {
            let mut table = (**t).clone();
            table.insert(k.to_string(), parse_literal(inner, literal).map_err(bad)?);
            Value::Table(std::sync::Arc::new(table))
        }
        (ty, _, _) => parse_literal(ty, literal).map_err(bad)?,
    };
    Ok(ParamOverrides::new().set(name, value))
}

/// The parameter values a grant stored (`{name: source literal}`) as
/// overrides of `policy`; names it does not declare are left out.
pub fn from_stored(policy: &Policy, params_json: &str) -> Result<ParamOverrides, String> {
    let stored: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(params_json).map_err(|e| format!("参数记录无法读取：{e}"))?;
    let mut o = ParamOverrides::new();
    for def in policy.params() {
        if let Some(serde_json::Value::String(lit)) = stored.get(&def.name) {
            o.insert(&def.name, parse_literal(&def.ty, lit)?);
        }
    }
    Ok(o)
}

/// `{name: source literal}` of a policy's parameters after `overrides`, as stored with a grant.
pub fn snapshot(policy: &Policy, overrides: &ParamOverrides) -> serde_json::Map<String, serde_json::Value> {
    policy
        .params()
        .iter()
        .map(|p| {
            let v = overrides.get(&p.name).unwrap_or(&p.default);
            (p.name.clone(), serde_json::Value::String(v.to_source()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chuangtong_rules::Rate;

    #[test]
    fn literals_are_read_by_the_rules_compiler() {
        assert_eq!(parse_literal(&Type::Money, "120万元"), Ok(Value::Money(120_000_000)));
        assert_eq!(
            parse_literal(&Type::Rate, "25%"),
            Ok(Value::Rate(Rate::new(1, 4).unwrap()))
        );
        assert_eq!(parse_literal(&Type::Int, "6"), Ok(Value::Int(6)));
        assert!(parse_literal(&Type::Int, "6元").is_err());
        assert!(parse_literal(&Type::Int, "6\nrequire \"x\": true").is_err());
    }

    #[test]
    fn a_table_entry_changes_alone_and_stored_values_round_trip() {
        let p = compile(
            "policy t \"t\"\nparam 倍数: table[text -> int] = {\"A\": 5, \"B\": 3}\nparam 上限: money = 300万元\namount = 纳税额 * 倍数[纳税信用等级]\n",
            &FactSchema::enterprise(),
        )
        .unwrap();
        let mut given = serde_json::Map::new();
        given.insert("倍数".into(), serde_json::json!({ "A": 6 }));
        let o = from_json(&p, &given).unwrap();
        assert_eq!(
            o.get("倍数"),
            Some(&Value::table([("A", Value::Int(6)), ("B", Value::Int(3))]))
        );
        let stored = serde_json::Value::Object(snapshot(&p, &o)).to_string();
        assert_eq!(from_stored(&p, &stored).unwrap().get("倍数"), o.get("倍数"));
        assert_eq!(
            from_stored(&p, &stored).unwrap().get("上限"),
            Some(&Value::Money(300_000_000))
        );
        assert_eq!(
            from_form(&p, "倍数", "B", "4").unwrap().get("倍数"),
            Some(&Value::table([("A", Value::Int(5)), ("B", Value::Int(4))]))
        );
    }
}
