//! Facts: the schema of what the engine may know about an enterprise, and the facts of one.

use std::collections::BTreeMap;

use crate::error::{codes, RuleError};
use crate::value::{Type, Value};

/// One fact: a canonical (Chinese) name, an English alias, a type, optional allowed text values
/// and an optional unit used in explanations (人, 年, 岁, 件).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactDef {
    pub name: String,
    pub alias: Option<String>,
    pub ty: Type,
    pub allowed: Option<Vec<String>>,
    pub unit: Option<String>,
}

/// Name → type of every fact a policy may use, plus a prelude of shared `param`s and `let`s
/// (rules-language source) that every policy compiled against this schema can use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactSchema {
    facts: Vec<FactDef>,
    prelude: String,
}

/// The shared prelude of [`FactSchema::enterprise`]. Its thresholds are params, so callers
/// (and the bench) can set them per evaluation.
pub const ENTERPRISE_PRELUDE: &str = include_str!("../policies/prelude.rules");

impl FactSchema {
    pub fn new() -> FactSchema {
        FactSchema::default()
    }

    /// Adds a fact (builder style).
    pub fn fact(mut self, name: &str, alias: Option<&str>, ty: Type) -> FactSchema {
        self.facts.push(FactDef {
            name: name.to_string(),
            alias: alias.map(str::to_string),
            ty,
            allowed: None,
            unit: None,
        });
        self
    }

    /// Sets the allowed text values of the last added fact.
    pub fn allowed(mut self, values: &[&str]) -> FactSchema {
        if let Some(f) = self.facts.last_mut() {
            f.allowed = Some(values.iter().map(|s| s.to_string()).collect());
        }
        self
    }

    /// Sets the unit of the last added fact.
    pub fn unit(mut self, unit: &str) -> FactSchema {
        if let Some(f) = self.facts.last_mut() {
            f.unit = Some(unit.to_string());
        }
        self
    }

    /// Sets the prelude source (shared `param`s and `let`s).
    pub fn with_prelude(mut self, prelude: &str) -> FactSchema {
        self.prelude = prelude.to_string();
        self
    }

    pub fn prelude(&self) -> &str {
        &self.prelude
    }

    pub fn facts(&self) -> &[FactDef] {
        &self.facts
    }

    /// Finds a fact by canonical name or alias.
    pub fn lookup(&self, name: &str) -> Option<&FactDef> {
        self.facts
            .iter()
            .find(|f| f.name == name || f.alias.as_deref() == Some(name))
    }

    /// The enterprise facts: the input columns of the policy benchmark plus the evaluation year,
    /// with the prelude (`企业年龄`, `小微企业`, `研发费用占比达到` …).
    pub fn enterprise() -> FactSchema {
        use Type::*;
        FactSchema::new()
            .fact("所在地", Some("region_code"), Text)
            .fact("行业门类", Some("industry"), Text)
            .allowed(&[
                "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T",
            ])
            .fact("成立年度", Some("founded_year"), Int)
            .unit("年")
            .fact("从业人数", Some("employees"), Int)
            .unit("人")
            .fact("营业收入", Some("revenue_fen"), Money)
            .fact("纳税额", Some("tax_paid_fen"), Money)
            .fact("研发费用", Some("rd_expense_fen"), Money)
            .fact("发明专利数", Some("invention_patents"), Int)
            .unit("件")
            .fact("高新技术企业", Some("is_high_tech"), Bool)
            .fact("实际控制人年龄", Some("controller_age"), Int)
            .unit("岁")
            .fact("实际控制人类别", Some("controller_category"), Text)
            .allowed(&["none", "unemployed", "disabled", "veteran", "graduate"])
            .fact("个体工商户", Some("is_individual_business"), Bool)
            .fact("运营载体级别", Some("carrier_level"), Text)
            .allowed(&["none", "municipal", "provincial", "national"])
            .fact("入驻载体", Some("in_carrier"), Bool)
            .fact("房租", Some("rent_paid_fen"), Money)
            .fact("纳税信用等级", Some("credit_grade"), Text)
            .allowed(&["A", "B", "C", "D"])
            .fact("严重失信", Some("blacklisted"), Bool)
            .fact("人才层次", Some("talent_level"), Text)
            .allowed(&["none", "district", "city", "provincial", "national"])
            .fact("评估年度", Some("eval_year"), Int)
            .unit("年")
            .with_prelude(ENTERPRISE_PRELUDE)
    }

    /// Checks a value against a fact and stores it under the canonical name.
    pub fn set(&self, facts: &mut Facts, name: &str, value: Value) -> Result<(), RuleError> {
        let def = self
            .lookup(name)
            .ok_or_else(|| RuleError::new(codes::UNKNOWN_FACT, format!("未知的事实“{name}”")))?;
        if !value.fits(&def.ty) {
            return Err(RuleError::new(
                codes::BAD_FACT,
                format!("事实“{}”应为 {}，却是 {}", def.name, def.ty, value.type_of()),
            ));
        }
        if let (Some(allowed), Value::Text(s)) = (&def.allowed, &value) {
            if !allowed.iter().any(|a| a == s) {
                return Err(RuleError::new(
                    codes::BAD_FACT,
                    format!("事实“{}”的取值“{s}”不在允许范围内（{}）", def.name, allowed.join("、")),
                ));
            }
        }
        facts.values.insert(def.name.clone(), value);
        Ok(())
    }

    /// Facts from a JSON object `{name or alias: value}`; money is integer fen, bools are
    /// `true/false` or `0/1`, `null` means missing. Collects every error.
    pub fn facts_from_json(&self, json: &serde_json::Value) -> Result<Facts, Vec<RuleError>> {
        let mut facts = Facts::new();
        let mut errors = Vec::new();
        let Some(obj) = json.as_object() else {
            return Err(vec![RuleError::new(codes::BAD_FACT, "事实应为 JSON 对象")]);
        };
        for (k, v) in obj {
            if v.is_null() {
                continue;
            }
            let Some(def) = self.lookup(k) else {
                errors.push(RuleError::new(codes::UNKNOWN_FACT, format!("未知的事实“{k}”")));
                continue;
            };
            let value = match (&def.ty, v) {
                (Type::Bool, serde_json::Value::Bool(b)) => Some(Value::Bool(*b)),
                (Type::Bool, serde_json::Value::Number(n)) => match n.as_i64() {
                    Some(0) => Some(Value::Bool(false)),
                    Some(1) => Some(Value::Bool(true)),
                    _ => None,
                },
                (Type::Int, serde_json::Value::Number(n)) => n.as_i64().map(Value::Int),
                (Type::Money, serde_json::Value::Number(n)) => n.as_i64().map(Value::Money),
                (Type::Text, serde_json::Value::String(s)) => Some(Value::Text(s.clone())),
                (Type::Text, serde_json::Value::Number(n)) if n.is_i64() => Some(Value::Text(n.to_string())),
                _ => None,
            };
            match value {
                Some(val) => {
                    if let Err(e) = self.set(&mut facts, k, val) {
                        errors.push(e);
                    }
                }
                None => errors.push(RuleError::new(
                    codes::BAD_FACT,
                    format!("事实“{}”应为 {}，却是 {v}", def.name, def.ty),
                )),
            }
        }
        if errors.is_empty() {
            Ok(facts)
        } else {
            Err(errors)
        }
    }
}

/// The known facts of one enterprise, by canonical name. A fact that is absent is *missing*.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub(crate) values: BTreeMap<String, Value>,
}

impl Facts {
    pub fn new() -> Facts {
        Facts::default()
    }
    /// Stores a value under a canonical name without checking (prefer [`FactSchema::set`]).
    pub fn insert_unchecked(&mut self, canonical: &str, value: Value) {
        self.values.insert(canonical.to_string(), value);
    }
    pub fn remove(&mut self, canonical: &str) -> Option<Value> {
        self.values.remove(canonical)
    }
    pub fn get(&self, canonical: &str) -> Option<&Value> {
        self.values.get(canonical)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.values.iter()
    }
}
