//! The explaining, three-valued evaluator (政策计算器 path) and provenance hashing.

use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::check::{Arith, CmpOp, FactRef, ParamDef, ParamOverrides, Policy, PolicyInner, TE, TK};
use crate::error::{codes, RuleError};
use crate::schema::Facts;
use crate::value::{format_fen, Fen, Rate, Tri, Value};

/// An evaluation error (overflow, division by zero, a table without the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EvalError {
    pub code: &'static str,
    pub message: String,
}

fn overflow() -> EvalError {
    EvalError {
        code: codes::OVERFLOW,
        message: "计算溢出（超出 64 位整数范围）".into(),
    }
}
fn eval_err(msg: impl Into<String>) -> EvalError {
    EvalError {
        code: codes::EVAL,
        message: msg.into(),
    }
}

/// `Ok(None)` = unknown (depends on a missing fact).
pub(crate) type R = Result<Option<Value>, EvalError>;

/// The result of one condition (`require`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionResult {
    pub label: String,
    pub value: Tri,
    /// Facts the condition depends on, with their values (`None` = missing).
    pub facts_used: Vec<(String, Option<Value>)>,
    /// For a failed comparison: how far off, in Chinese ("当前 120 人，要求低于 100 人，超出 21 人").
    pub gap: Option<String>,
    /// An evaluation error (overflow, missing table key); the condition is then Unknown.
    pub error: Option<String>,
}

/// The answer of the policy calculator for one enterprise and one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub policy: String,
    pub title: String,
    pub eligible: Tri,
    /// The benefit, `Some` only when `eligible == Yes` (and the amount is known).
    pub amount: Option<Fen>,
    pub conditions: Vec<ConditionResult>,
    /// Facts whose absence keeps the answer open (eligibility or amount).
    pub missing_facts: Vec<String>,
    /// Evaluation errors (bad parameter overrides, overflow …), in Chinese.
    pub errors: Vec<String>,
    /// [`Policy::hash_with`] of the policy and the parameter values used.
    pub policy_hash: String,
}

impl Outcome {
    /// Plain Chinese lines: verdict, which conditions held, which failed (and by how much),
    /// and which facts are missing.
    pub fn explain_zh(&self) -> String {
        let mut lines = Vec::new();
        let head = match (self.eligible, self.amount) {
            (Tri::Yes, Some(a)) => format!("【{}】符合条件，金额 {}。", self.title, format_fen(a)),
            (Tri::Yes, None) => format!("【{}】符合条件，金额暂时无法计算。", self.title),
            (Tri::No, _) => format!("【{}】不符合条件。", self.title),
            (Tri::Unknown, _) => format!("【{}】暂时无法判断。", self.title),
        };
        lines.push(head);
        for c in &self.conditions {
            let line = match c.value {
                Tri::Yes => format!("✓ 满足：{}", c.label),
                Tri::No => match &c.gap {
                    Some(g) => format!("✗ 不满足：{}（{}）", c.label, g),
                    None => {
                        let known: Vec<String> = c
                            .facts_used
                            .iter()
                            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}为{v}")))
                            .collect();
                        if known.is_empty() {
                            format!("✗ 不满足：{}", c.label)
                        } else {
                            format!("✗ 不满足：{}（{}）", c.label, known.join("，"))
                        }
                    }
                },
                Tri::Unknown => {
                    if let Some(e) = &c.error {
                        format!("？ 无法判断：{}（{}）", c.label, e)
                    } else {
                        let miss: Vec<&str> = c
                            .facts_used
                            .iter()
                            .filter(|(_, v)| v.is_none())
                            .map(|(n, _)| n.as_str())
                            .collect();
                        format!("？ 待定：{}（缺少：{}）", c.label, miss.join("、"))
                    }
                }
            };
            lines.push(line);
        }
        for e in &self.errors {
            lines.push(format!("错误：{e}"));
        }
        if !self.missing_facts.is_empty() {
            lines.push(format!("补充以下信息后可判断：{}", self.missing_facts.join("、")));
        }
        lines.join("\n")
    }
}

struct Env<'a> {
    p: &'a PolicyInner,
    facts: Vec<Option<&'a Value>>,
    params: &'a [Value],
    lets: Vec<Option<R>>,
}

impl<'a> Env<'a> {
    fn eval(&mut self, te: &TE) -> R {
        Ok(Some(match &te.kind {
            TK::Const(v) => v.clone(),
            TK::Fact(i) => return Ok(self.facts[*i].cloned()),
            TK::Param(i) => self.params[*i].clone(),
            TK::Let(l) => {
                if let Some(r) = &self.lets[*l] {
                    return r.clone();
                }
                let p = self.p;
                let r = self.eval(&p.lets[*l].expr);
                self.lets[*l] = Some(r.clone());
                return r;
            }
            TK::Neg(x) => match self.eval(x)? {
                None => return Ok(None),
                Some(Value::Int(i)) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
                Some(Value::Money(i)) => Value::Money(i.checked_neg().ok_or_else(overflow)?),
                Some(Value::Rate(r)) => {
                    Value::Rate(Rate::from_i128(-(r.num() as i128), r.den() as i128).ok_or_else(overflow)?)
                }
                Some(_) => return Err(eval_err("类型错误")),
            },
            TK::Not(x) => match self.eval(x)? {
                None => return Ok(None),
                Some(Value::Bool(b)) => Value::Bool(!b),
                Some(_) => return Err(eval_err("类型错误")),
            },
            TK::Arith(op, a, b) => {
                let (Some(a), Some(b)) = (self.eval(a)?, self.eval(b)?) else {
                    return Ok(None);
                };
                arith(*op, &a, &b)?
            }
            TK::Cmp(op, a, b) => {
                let (Some(a), Some(b)) = (self.eval(a)?, self.eval(b)?) else {
                    return Ok(None);
                };
                Value::Bool(op.holds(compare(&a, &b)?))
            }
            TK::And(a, b) => {
                let l = as_tri(self.eval(a)?);
                if l == Tri::No {
                    return Ok(Some(Value::Bool(false)));
                }
                let r = as_tri(self.eval(b)?);
                return Ok(tri_value(l.and(r)));
            }
            TK::Or(a, b) => {
                let l = as_tri(self.eval(a)?);
                if l == Tri::Yes {
                    return Ok(Some(Value::Bool(true)));
                }
                let r = as_tri(self.eval(b)?);
                return Ok(tri_value(l.or(r)));
            }
            TK::In(a, s) => {
                let (Some(a), Some(s)) = (self.eval(a)?, self.eval(s)?) else {
                    return Ok(None);
                };
                match (a, s) {
                    (Value::Text(t), Value::Set(s)) => Value::Bool(s.contains(&t)),
                    _ => return Err(eval_err("类型错误")),
                }
            }
            TK::Index(t, k) => {
                let (Some(t), Some(k)) = (self.eval(t)?, self.eval(k)?) else {
                    return Ok(None);
                };
                match (t, k) {
                    (Value::Table(t), Value::Text(k)) => match t.get(&k) {
                        Some(v) => v.clone(),
                        None => {
                            let name = match &te_table_name(self.p, te) {
                                Some(n) => format!("“{n}”"),
                                None => String::new(),
                            };
                            return Err(eval_err(format!("表{name}中没有键“{k}”")));
                        }
                    },
                    _ => return Err(eval_err("类型错误")),
                }
            }
            TK::If(c, a, b) => match self.eval(c)? {
                None => return Ok(None),
                Some(Value::Bool(true)) => return self.eval(a),
                Some(Value::Bool(false)) => return self.eval(b),
                Some(_) => return Err(eval_err("类型错误")),
            },
            TK::Min(xs) | TK::Max(xs) => {
                let is_min = matches!(te.kind, TK::Min(_));
                let mut best: Option<Value> = None;
                let mut unknown = false;
                for x in xs {
                    match self.eval(x)? {
                        None => unknown = true,
                        Some(v) => {
                            best = Some(match best {
                                None => v,
                                Some(b) => {
                                    let o = compare(&v, &b)?;
                                    let take = if is_min { o.is_lt() } else { o.is_gt() };
                                    if take {
                                        v
                                    } else {
                                        b
                                    }
                                }
                            })
                        }
                    }
                }
                if unknown {
                    return Ok(None);
                }
                match best {
                    Some(b) => b,
                    None => return Ok(None),
                }
            }
            TK::Floor(x) => match self.eval(x)? {
                None => return Ok(None),
                Some(Value::Rate(r)) => Value::Int(r.num().div_euclid(r.den())),
                Some(v) => v,
            },
        }))
    }
}

fn te_table_name(p: &PolicyInner, te: &TE) -> Option<String> {
    if let TK::Index(t, _) = &te.kind {
        if let TK::Param(i) = t.kind {
            return Some(p.params[i].name.clone());
        }
    }
    None
}

fn as_tri(v: Option<Value>) -> Tri {
    match v {
        Some(Value::Bool(true)) => Tri::Yes,
        Some(Value::Bool(false)) => Tri::No,
        _ => Tri::Unknown,
    }
}

fn tri_value(t: Tri) -> Option<Value> {
    match t {
        Tri::Yes => Some(Value::Bool(true)),
        Tri::No => Some(Value::Bool(false)),
        Tri::Unknown => None,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, EvalError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) | (Value::Money(x), Value::Money(y)) => x.cmp(y),
        (Value::Rate(x), Value::Rate(y)) => x.cmp_rate(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => return Err(eval_err("类型错误：无法比较")),
    })
}

pub(crate) fn arith(op: Arith, a: &Value, b: &Value) -> Result<Value, EvalError> {
    use Value::*;
    let rate = |n: i128, d: i128| -> Result<Value, EvalError> {
        if d == 0 {
            return Err(eval_err("除数为零"));
        }
        crate::value::Rate::from_i128(n, d)
            .map(Value::Rate)
            .ok_or_else(overflow)
    };
    Ok(match (op, a, b) {
        (Arith::Add, Int(x), Int(y)) => Int(x.checked_add(*y).ok_or_else(overflow)?),
        (Arith::Sub, Int(x), Int(y)) => Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (Arith::Mul, Int(x), Int(y)) => Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (Arith::Add, Money(x), Money(y)) => Money(x.checked_add(*y).ok_or_else(overflow)?),
        (Arith::Sub, Money(x), Money(y)) => Money(x.checked_sub(*y).ok_or_else(overflow)?),
        (Arith::Mul, Money(x), Int(y)) | (Arith::Mul, Int(y), Money(x)) => {
            Money(x.checked_mul(*y).ok_or_else(overflow)?)
        }
        (Arith::Mul, Money(x), Rate(r)) | (Arith::Mul, Rate(r), Money(x)) => {
            Money(r.floor_mul(*x).ok_or_else(overflow)?)
        }
        (Arith::Mul, Int(x), Rate(r)) | (Arith::Mul, Rate(r), Int(x)) => Int(r.floor_mul(*x).ok_or_else(overflow)?),
        (Arith::Div, Int(x), Int(y)) | (Arith::Div, Money(x), Money(y)) => rate(*x as i128, *y as i128)?,
        (Arith::Div, Rate(r), Int(y)) => rate(r.num() as i128, r.den() as i128 * *y as i128)?,
        (op, Rate(x), Rate(y)) => {
            let (xn, xd, yn, yd) = (x.num() as i128, x.den() as i128, y.num() as i128, y.den() as i128);
            match op {
                Arith::Add => rate(xn * yd + yn * xd, xd * yd)?,
                Arith::Sub => rate(xn * yd - yn * xd, xd * yd)?,
                Arith::Mul => rate(xn * yn, xd * yd)?,
                Arith::Div => rate(xn * yd, xd * yn)?,
            }
        }
        _ => return Err(eval_err("类型错误：无法计算")),
    })
}

/// Evaluates a constant expression (no facts, params or lets); `None` otherwise or on error.
pub(crate) fn eval_const(te: &TE) -> Option<Value> {
    let mut constant = true;
    crate::check::walk(te, &mut |e| {
        if matches!(e.kind, TK::Fact(_) | TK::Param(_) | TK::Let(_)) {
            constant = false
        }
    });
    if !constant {
        return None;
    }
    let inner = PolicyInner {
        key: String::new(),
        title: String::new(),
        facts: Vec::new(),
        params: Vec::new(),
        lets: Vec::new(),
        requires: Vec::new(),
        amount: None,
        amount_facts: Vec::new(),
        normalised_source: String::new(),
        default_hash: String::new(),
    };
    let mut env = Env {
        p: &inner,
        facts: Vec::new(),
        params: &[],
        lets: Vec::new(),
    };
    env.eval(te).ok().flatten()
}

fn cmp_zh(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "低于",
        CmpOp::Le => "不超过",
        CmpOp::Gt => "高于",
        CmpOp::Ge => "不低于",
        CmpOp::Eq => "等于",
        CmpOp::Ne => "不等于",
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

fn depends_on_facts(p: &PolicyInner, te: &TE) -> bool {
    let mut d = false;
    crate::check::walk(te, &mut |e| match e.kind {
        TK::Fact(_) => d = true,
        TK::Let(l) => d |= depends_on_facts(p, &p.lets[l].expr),
        _ => {}
    });
    d
}

fn unit_of(p: &PolicyInner, te: &TE) -> Option<String> {
    match &te.kind {
        TK::Fact(i) => p.facts[*i].unit.clone(),
        TK::Let(l) => unit_of(p, &p.lets[*l].expr),
        TK::Arith(Arith::Add | Arith::Sub, a, b) => unit_of(p, a).or_else(|| unit_of(p, b)),
        TK::Neg(x) => unit_of(p, x),
        TK::Min(xs) | TK::Max(xs) => xs.iter().find_map(|x| unit_of(p, x)),
        _ => None,
    }
}

fn show_num(v: &Value, unit: &Option<String>) -> String {
    match (v, unit) {
        (Value::Int(i), Some(u)) => format!("{i} {u}"),
        (Value::Money(m), _) => format_fen(*m),
        (v, _) => v.to_string(),
    }
}

impl<'a> Env<'a> {
    /// Explains a false condition: the first failed comparison, with the distance to the threshold.
    fn gap(&mut self, te: &TE) -> Option<String> {
        match &te.kind {
            TK::Let(l) => {
                let p = self.p;
                self.gap(&p.lets[*l].expr)
            }
            TK::And(a, b) => {
                if as_tri(self.eval(a).ok()?) == Tri::No {
                    self.gap(a)
                } else {
                    self.gap(b)
                }
            }
            TK::Cmp(op, a, b) => {
                let (mut op, mut a, mut b) = (*op, &**a, &**b);
                if !depends_on_facts(self.p, a) && depends_on_facts(self.p, b) {
                    std::mem::swap(&mut a, &mut b);
                    op = flip(op);
                }
                let unit = unit_of(self.p, a).or_else(|| unit_of(self.p, b));
                let x = self.eval(a).ok()??;
                let t = self.eval(b).ok()??;
                let head = format!(
                    "当前 {}，要求{} {}",
                    show_num(&x, &unit),
                    cmp_zh(op),
                    show_num(&t, &unit)
                );
                let diff = |x: i64, t: i64, extra: i64| -> Option<i64> {
                    (x as i128 - t as i128 + extra as i128).try_into().ok()
                };
                let mk = |d: i64| match x {
                    Value::Money(_) => Value::Money(d),
                    _ => Value::Int(d),
                };
                let tail = match (&x, &t) {
                    (Value::Int(xv), Value::Int(tv)) | (Value::Money(xv), Value::Money(tv)) => {
                        let (xv, tv) = (*xv, *tv);
                        match op {
                            CmpOp::Ge => Some(format!("还差 {}", show_num(&mk(diff(tv, xv, 0)?), &unit))),
                            CmpOp::Gt => Some(format!("还差 {}", show_num(&mk(diff(tv, xv, 1)?), &unit))),
                            CmpOp::Le => Some(format!("超出 {}", show_num(&mk(diff(xv, tv, 0)?), &unit))),
                            CmpOp::Lt => Some(format!("超出 {}", show_num(&mk(diff(xv, tv, 1)?), &unit))),
                            CmpOp::Eq => Some(format!(
                                "相差 {}",
                                show_num(&mk(diff(xv, tv, 0)?.checked_abs()?), &unit)
                            )),
                            CmpOp::Ne => None,
                        }
                    }
                    _ => None,
                };
                Some(match tail {
                    Some(t) => format!("{head}，{t}"),
                    None => head,
                })
            }
            _ => None,
        }
    }
}

impl Policy {
    pub fn key(&self) -> &str {
        &self.inner.key
    }
    pub fn title(&self) -> &str {
        &self.inner.title
    }
    /// Parameters with their defaults (prelude parameters included).
    pub fn params(&self) -> &[ParamDef] {
        &self.inner.params
    }
    /// Facts the policy reads.
    pub fn facts(&self) -> &[FactRef] {
        &self.inner.facts
    }
    /// Labels of the conditions, in order.
    pub fn condition_labels(&self) -> Vec<&str> {
        self.inner.requires.iter().map(|r| r.label.as_str()).collect()
    }
    /// The normalised source (prelude + policy; comments and layout removed).
    pub fn normalised_source(&self) -> &str {
        &self.inner.normalised_source
    }

    /// Parameter values: defaults replaced by type-checked overrides.
    pub fn resolve_params(&self, overrides: &ParamOverrides) -> Result<Vec<Value>, Vec<RuleError>> {
        let mut out = Vec::with_capacity(self.inner.params.len());
        let mut errs = Vec::new();
        for p in &self.inner.params {
            match overrides.get(&p.name) {
                None => out.push(p.default.clone()),
                Some(v) if v.fits(&p.ty) => out.push(v.clone()),
                Some(v) => {
                    errs.push(RuleError::new(
                        codes::BAD_PARAM,
                        format!("参数“{}”应为 {}，覆盖值却是 {}", p.name, p.ty, v.type_of()),
                    ));
                    out.push(p.default.clone());
                }
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }

    /// SM3 (hex) of the normalised source and the default parameter values.
    pub fn hash(&self) -> String {
        self.inner.default_hash.clone()
    }

    /// SM3 (hex) of the normalised source and the effective parameter values: with the facts
    /// snapshot, enough to recompute an answer exactly later.
    pub fn hash_with(&self, overrides: &ParamOverrides) -> String {
        let values = match self.resolve_params(overrides) {
            Ok(v) => v,
            Err(_) => self.inner.params.iter().map(|p| p.default.clone()).collect(),
        };
        hash_of(&self.inner, &values)
    }

    /// Evaluates the policy for one enterprise, with explanations (政策计算器).
    pub fn evaluate(&self, facts: &Facts, overrides: &ParamOverrides) -> Outcome {
        let p = &*self.inner;
        let mut errors = Vec::new();
        let params = match self.resolve_params(overrides) {
            Ok(v) => v,
            Err(es) => {
                errors.extend(es.into_iter().map(|e| e.message));
                p.params.iter().map(|p| p.default.clone()).collect()
            }
        };
        // Rehash only when an override actually changes a value (hashing costs microseconds).
        let touched = p.params.iter().zip(&params).any(|(d, v)| &d.default != v);
        let policy_hash = if touched {
            hash_of(p, &params)
        } else {
            self.cached_hash()
        };
        let mut env = self.env(facts, &params, &mut errors);
        let mut conditions = Vec::with_capacity(p.requires.len());
        let mut eligible = Tri::Yes;
        for r in &p.requires {
            let (value, error) = match env.eval(&r.expr) {
                Ok(v) => (as_tri(v), None),
                Err(e) => (Tri::Unknown, Some(e.message)),
            };
            let gap = if value == Tri::No { env.gap(&r.expr) } else { None };
            eligible = eligible.and(value);
            let facts_used = r
                .facts
                .iter()
                .map(|i| (p.facts[*i].name.clone(), env.facts[*i].cloned()))
                .collect();
            conditions.push(ConditionResult {
                label: r.label.clone(),
                value,
                facts_used,
                gap,
                error,
            });
        }
        if !errors.is_empty() && eligible == Tri::Yes {
            eligible = Tri::Unknown;
        }
        let mut missing = Vec::new();
        let mut add_missing = |idx: &[usize], env: &Env| {
            for i in idx {
                if env.facts[*i].is_none() && !missing.contains(&p.facts[*i].name) {
                    missing.push(p.facts[*i].name.clone());
                }
            }
        };
        let mut amount = None;
        match eligible {
            Tri::Unknown => {
                for (r, c) in p.requires.iter().zip(&conditions) {
                    if c.value == Tri::Unknown {
                        add_missing(&r.facts, &env);
                    }
                }
            }
            Tri::Yes => match &p.amount {
                None => amount = Some(0),
                Some(a) => match env.eval(a) {
                    Ok(Some(Value::Money(m))) => amount = Some(m),
                    Ok(_) => add_missing(&p.amount_facts, &env),
                    Err(e) => errors.push(format!("金额：{}", e.message)),
                },
            },
            Tri::No => {}
        }
        Outcome {
            policy: p.key.clone(),
            title: p.title.clone(),
            eligible,
            amount,
            conditions,
            missing_facts: missing,
            errors,
            policy_hash,
        }
    }

    fn cached_hash(&self) -> String {
        self.inner.default_hash.clone()
    }

    fn env<'a>(&'a self, facts: &'a Facts, params: &'a [Value], errors: &mut Vec<String>) -> Env<'a> {
        let p = &*self.inner;
        let fs = p
            .facts
            .iter()
            .map(|f| match facts.get(&f.name) {
                Some(v) if v.fits(&f.ty) => Some(v),
                Some(v) => {
                    errors.push(format!(
                        "事实“{}”应为 {}，却是 {}，按缺失处理",
                        f.name,
                        f.ty,
                        v.type_of()
                    ));
                    None
                }
                None => None,
            })
            .collect();
        Env {
            p,
            facts: fs,
            params,
            lets: vec![None; p.lets.len()],
        }
    }

    /// Eligibility and amount without explanations (used by the batch path for exact fallback).
    /// `params` must come from [`Policy::resolve_params`].
    pub(crate) fn decide(&self, facts: &Facts, params: &[Value]) -> Result<(Tri, Option<Fen>), EvalError> {
        let p = &*self.inner;
        let mut errors = Vec::new();
        let mut env = self.env(facts, params, &mut errors);
        let mut eligible = Tri::Yes;
        let mut first_err = None;
        for r in &p.requires {
            match env.eval(&r.expr) {
                Ok(v) => eligible = eligible.and(as_tri(v)),
                Err(e) => {
                    eligible = eligible.and(Tri::Unknown);
                    first_err.get_or_insert(e);
                }
            }
        }
        if eligible == Tri::No {
            return Ok((Tri::No, None));
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if eligible == Tri::Unknown {
            return Ok((Tri::Unknown, None));
        }
        match &p.amount {
            None => Ok((Tri::Yes, Some(0))),
            Some(a) => match env.eval(a)? {
                Some(Value::Money(m)) => Ok((Tri::Yes, Some(m))),
                _ => Ok((Tri::Yes, None)),
            },
        }
    }
}

pub(crate) fn hash_of(p: &PolicyInner, values: &[Value]) -> String {
    let mut h = Sm3::new();
    h.update(b"chuangtong-rules/1\n");
    h.update(p.normalised_source.as_bytes());
    h.update(b"\n--params--\n");
    for (d, v) in p.params.iter().zip(values) {
        h.update(format!("{}: {} = {}\n", d.name, d.ty, v.to_source()).as_bytes());
    }
    let out = h.finalize();
    out.iter().map(|b| format!("{b:02x}")).collect()
}
