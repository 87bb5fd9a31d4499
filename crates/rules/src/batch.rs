//! Batch path (精准推送, 免申即享, budget simulation, the bench): many enterprises × many
//! policies over struct-of-arrays columns.
//!
//! [`BatchProgram::compile`] lowers every policy (with its parameter values folded in as
//! constants) into one shared DAG of vector operations: identical subexpressions of different
//! policies (`not 严重失信`, `企业年龄`, `小微企业`, region filters …) become one node.
//! [`BatchProgram::run`] evaluates the DAG over blocks of [`BLOCK`] rows on several threads
//! (each thread takes a contiguous range of rows), with registers reused by liveness so that a
//! block's working set stays in cache. Per policy the result is an eligibility bitset plus the
//! amounts of the eligible rows.
//!
//! Semantics are those of [`Policy::evaluate`]: wherever the vector path cannot decide exactly
//! (a possible overflow, a table without the key for an eligible row, a construct the vector
//! path does not support), the rows concerned are evaluated by the explaining evaluator.

use std::collections::{BTreeMap, HashMap};

use crate::check::{Arith, CmpOp, ParamOverrides, Policy, TE, TK};
use crate::error::{codes, RuleError};
use crate::schema::{FactSchema, Facts};
use crate::value::{Fen, Tri, Type, Value};

/// Rows per block.
pub const BLOCK: usize = 2048;

/// One input column.
#[derive(Clone, Debug)]
pub enum Column {
    /// int or money facts (money in fen).
    Int(Vec<i64>),
    Bool(Vec<bool>),
    /// Text facts as codes into `dict` (at most 256 distinct values).
    Text {
        codes: Vec<u8>,
        dict: Vec<String>,
    },
    /// The same value for every row (e.g. the evaluation year).
    Const(Value),
}

/// Struct-of-arrays input: one column per fact, by canonical name.
#[derive(Clone, Debug, Default)]
pub struct BatchInput {
    rows: usize,
    columns: BTreeMap<String, (Type, Column)>,
}

impl BatchInput {
    pub fn new(rows: usize) -> BatchInput {
        BatchInput {
            rows,
            columns: BTreeMap::new(),
        }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds a column for a fact of `schema` (canonical name or alias), checking type and length.
    pub fn insert(&mut self, schema: &FactSchema, name: &str, col: Column) -> Result<(), RuleError> {
        let def = schema
            .lookup(name)
            .ok_or_else(|| RuleError::new(codes::UNKNOWN_FACT, format!("未知的事实“{name}”")))?;
        let (ok, len) = match (&def.ty, &col) {
            (Type::Int | Type::Money, Column::Int(v)) => (true, Some(v.len())),
            (Type::Bool, Column::Bool(v)) => (true, Some(v.len())),
            (Type::Text, Column::Text { codes, dict }) => (dict.len() <= 256, Some(codes.len())),
            (ty, Column::Const(v)) => (v.fits(ty), None),
            _ => (false, None),
        };
        if !ok {
            return Err(RuleError::new(
                codes::BAD_FACT,
                format!("列“{}”的类型应为 {}", def.name, def.ty),
            ));
        }
        if let Some(l) = len {
            if l != self.rows {
                return Err(RuleError::new(
                    codes::BAD_FACT,
                    format!("列“{}”有 {l} 行，应为 {} 行", def.name, self.rows),
                ));
            }
        }
        if let Column::Text { codes, dict } = &col {
            if codes.iter().any(|c| *c as usize >= dict.len()) {
                return Err(RuleError::new(
                    codes::BAD_FACT,
                    format!("列“{}”的编码超出字典", def.name),
                ));
            }
        }
        self.columns.insert(def.name.clone(), (def.ty.clone(), col));
        Ok(())
    }

    /// The facts of one row (for the exact fallback and for explanations).
    pub fn row_facts(&self, row: usize) -> Facts {
        let mut f = Facts::new();
        for (name, (ty, col)) in &self.columns {
            let v = match col {
                Column::Int(v) => {
                    if *ty == Type::Money {
                        Value::Money(v[row])
                    } else {
                        Value::Int(v[row])
                    }
                }
                Column::Bool(v) => Value::Bool(v[row]),
                Column::Text { codes, dict } => Value::Text(dict[codes[row] as usize].clone()),
                Column::Const(v) => v.clone(),
            };
            f.insert_unchecked(name, v);
        }
        f
    }
}

/// The result of one policy over all rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyResult {
    /// Eligibility bitset: bit `r % 64` of word `r / 64`.
    pub ok: Vec<u64>,
    /// The amount of every eligible row, in row order.
    pub amounts: Vec<Fen>,
    /// Rows whose evaluation failed (overflow, missing table key …): not eligible here.
    pub errors: Vec<(usize, String)>,
}

impl PolicyResult {
    pub fn is_ok(&self, row: usize) -> bool {
        self.ok.get(row / 64).is_some_and(|w| w >> (row % 64) & 1 == 1)
    }
    pub fn count(&self) -> usize {
        self.ok.iter().map(|w| w.count_ones() as usize).sum()
    }
    /// Total amount of the eligible rows (saturating).
    pub fn total(&self) -> i128 {
        self.amounts.iter().map(|a| *a as i128).sum()
    }
}

#[derive(Clone, Debug, Default)]
pub struct BatchResult {
    pub rows: usize,
    pub policies: Vec<PolicyResult>,
}

// ---------------------------------------------------------------------------------------------
// The DAG

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SI {
    Reg(u32),
    Col(u32),
    K(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SB {
    Reg(u32),
    Col(u32),
    K(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum IOp {
    Add,
    Sub,
    Mul,
    Min,
    Max,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    Bin(IOp, SI, SI),
    MulRate(SI, i64, i64),
    Neg(SI),
    LookupI(u32, Vec<i64>),
    SelI(SB, SI, SI),
    Cmp(CmpOp, SI, SI),
    And(SB, SB),
    Or(SB, SB),
    Not(SB),
    /// text column code ∈ mask
    Mask(u32, Vec<u8>),
    SelB(SB, SB, SB),
}

impl Node {
    fn is_bool(&self) -> bool {
        matches!(
            self,
            Node::Cmp(..) | Node::And(..) | Node::Or(..) | Node::Not(..) | Node::Mask(..) | Node::SelB(..)
        )
    }
    fn may_overflow(&self) -> bool {
        matches!(
            self,
            Node::Bin(IOp::Add | IOp::Sub | IOp::Mul, ..) | Node::MulRate(..) | Node::Neg(..)
        )
    }
    fn inputs(&self) -> Vec<u32> {
        let mut v = Vec::new();
        let mut i = |s: &SI| {
            if let SI::Reg(r) = s {
                v.push(*r)
            }
        };
        let mut regs_i = Vec::new();
        let mut regs_b = Vec::new();
        match self {
            Node::Bin(_, a, b) | Node::Cmp(_, a, b) => {
                regs_i.push(*a);
                regs_i.push(*b)
            }
            Node::MulRate(a, _, _) | Node::Neg(a) => regs_i.push(*a),
            Node::LookupI(..) | Node::Mask(..) => {}
            Node::SelI(c, a, b) => {
                regs_b.push(*c);
                regs_i.push(*a);
                regs_i.push(*b)
            }
            Node::And(a, b) | Node::Or(a, b) => {
                regs_b.push(*a);
                regs_b.push(*b)
            }
            Node::Not(a) => regs_b.push(*a),
            Node::SelB(c, a, b) => {
                regs_b.push(*c);
                regs_b.push(*a);
                regs_b.push(*b)
            }
        }
        for s in &regs_i {
            i(s)
        }
        for s in regs_b {
            if let SB::Reg(r) = s {
                v.push(r)
            }
        }
        v
    }
}

/// Abstract value during lowering.
#[derive(Clone, Debug)]
enum LV {
    K(Value),
    I(SI),
    B(SB),
    /// a text column
    T(u32),
}

struct Unsupported;

#[derive(Clone, Debug)]
struct Emit {
    /// after node index `after` (exclusive end), i.e. when `after` nodes have run
    after: usize,
    policy: usize,
    requires: Vec<SB>,
    amount: SI,
    /// miss lanes of table look-ups in the amount (must be false where eligible)
    amount_miss: Vec<SB>,
    /// nodes whose overflow (or miss, for bool miss lanes) in a block forces the exact fallback
    guard_overflow: Vec<u32>,
    guard_any: Vec<SB>,
}

/// A compiled batch program for a fixed set of policies and an input shape.
pub struct BatchProgram {
    policies: Vec<(Policy, Vec<Value>)>,
    col_names: Vec<String>,
    nodes: Vec<Node>,
    /// register slot of each node
    slot: Vec<u32>,
    n_slots_i: usize,
    n_slots_b: usize,
    emits: Vec<Emit>,
    /// policies evaluated row by row with the exact evaluator
    scalar: Vec<usize>,
}

struct Lower<'a> {
    input: &'a BatchInput,
    col_index: HashMap<String, u32>,
    col_names: Vec<String>,
    nodes: Vec<Node>,
    dedup: HashMap<Node, u32>,
}

impl<'a> Lower<'a> {
    fn col(&mut self, name: &str) -> u32 {
        if let Some(c) = self.col_index.get(name) {
            return *c;
        }
        let c = self.col_names.len() as u32;
        self.col_names.push(name.to_string());
        self.col_index.insert(name.to_string(), c);
        c
    }
    fn node(&mut self, n: Node) -> u32 {
        if let Some(id) = self.dedup.get(&n) {
            return *id;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(n.clone());
        self.dedup.insert(n, id);
        id
    }
    fn dict(&self, col: u32) -> &[String] {
        match self.input.columns.get(&self.col_names[col as usize]) {
            Some((_, Column::Text { dict, .. })) => dict,
            _ => &[],
        }
    }

    fn si(&self, v: &LV) -> Result<SI, Unsupported> {
        match v {
            LV::I(s) => Ok(*s),
            LV::K(Value::Int(i)) | LV::K(Value::Money(i)) => Ok(SI::K(*i)),
            _ => Err(Unsupported),
        }
    }
    fn sb(&self, v: &LV) -> Result<SB, Unsupported> {
        match v {
            LV::B(s) => Ok(*s),
            LV::K(Value::Bool(b)) => Ok(SB::K(*b)),
            _ => Err(Unsupported),
        }
    }
    fn bool_node(&mut self, n: Node) -> LV {
        LV::B(SB::Reg(self.node(n)))
    }
    fn int_node(&mut self, n: Node) -> LV {
        LV::I(SI::Reg(self.node(n)))
    }

    /// text column value ∈ `pred`-selected dictionary entries
    fn mask(&mut self, col: u32, pred: impl Fn(&str) -> bool) -> LV {
        let m: Vec<u8> = self.dict(col).iter().map(|s| pred(s) as u8).collect();
        if m.iter().all(|x| *x == 0) {
            return LV::K(Value::Bool(false));
        }
        if m.iter().all(|x| *x == 1) {
            return LV::K(Value::Bool(true));
        }
        self.bool_node(Node::Mask(col, m))
    }

    fn lower(
        &mut self,
        p: &Policy,
        params: &[Value],
        lets: &mut Vec<Option<LV>>,
        misses: &mut Vec<SB>,
        te: &TE,
    ) -> Result<LV, Unsupported> {
        let inner = &*p.inner;
        Ok(match &te.kind {
            TK::Const(v) => LV::K(v.clone()),
            TK::Param(i) => LV::K(params[*i].clone()),
            TK::Fact(i) => {
                let name = &inner.facts[*i].name;
                match self.input.columns.get(name) {
                    None => return Err(Unsupported),
                    Some((_, Column::Const(v))) => LV::K(v.clone()),
                    Some((_, Column::Int(_))) => LV::I(SI::Col(self.col(name))),
                    Some((_, Column::Bool(_))) => LV::B(SB::Col(self.col(name))),
                    Some((_, Column::Text { .. })) => LV::T(self.col(name)),
                }
            }
            TK::Let(l) => {
                if let Some(v) = &lets[*l] {
                    return Ok(v.clone());
                }
                let v = self.lower(p, params, lets, misses, &inner.lets[*l].expr)?;
                lets[*l] = Some(v.clone());
                v
            }
            _ => {
                // Children first; fold when everything is constant.
                return self.lower_op(p, params, lets, misses, te);
            }
        })
    }

    fn lower_op(
        &mut self,
        p: &Policy,
        params: &[Value],
        lets: &mut Vec<Option<LV>>,
        misses: &mut Vec<SB>,
        te: &TE,
    ) -> Result<LV, Unsupported> {
        let mut go = |this: &mut Self, e: &TE| this.lower(p, params, lets, misses, e);
        match &te.kind {
            TK::Neg(x) => {
                let x = go(self, x)?;
                if let LV::K(v) = &x {
                    return fold_neg(v);
                }
                let s = self.si(&x)?;
                Ok(self.int_node(Node::Neg(s)))
            }
            TK::Not(x) => {
                let x = go(self, x)?;
                match x {
                    LV::K(Value::Bool(b)) => Ok(LV::K(Value::Bool(!b))),
                    LV::B(s) => Ok(self.bool_node(Node::Not(s))),
                    _ => Err(Unsupported),
                }
            }
            TK::And(a, b) | TK::Or(a, b) => {
                let is_and = matches!(te.kind, TK::And(..));
                let a = go(self, a)?;
                let b = go(self, b)?;
                let (a, b) = (self.sb(&a)?, self.sb(&b)?);
                Ok(match (a, b, is_and) {
                    (SB::K(x), SB::K(y), true) => LV::K(Value::Bool(x && y)),
                    (SB::K(x), SB::K(y), false) => LV::K(Value::Bool(x || y)),
                    (SB::K(false), _, true) | (_, SB::K(false), true) => LV::K(Value::Bool(false)),
                    (SB::K(true), o, true) | (o, SB::K(true), true) => LV::B(o),
                    (SB::K(true), _, false) | (_, SB::K(true), false) => LV::K(Value::Bool(true)),
                    (SB::K(false), o, false) | (o, SB::K(false), false) => LV::B(o),
                    (x, y, true) => self.bool_node(Node::And(x, y)),
                    (x, y, false) => self.bool_node(Node::Or(x, y)),
                })
            }
            TK::Arith(op, a, b) => {
                let a = go(self, a)?;
                let b = go(self, b)?;
                if let (LV::K(x), LV::K(y)) = (&a, &b) {
                    return crate::eval::arith(*op, x, y).map(LV::K).map_err(|_| Unsupported);
                }
                match (op, &a, &b) {
                    (Arith::Mul, LV::K(Value::Rate(r)), other) | (Arith::Mul, other, LV::K(Value::Rate(r))) => {
                        let s = self.si(other)?;
                        if r.den() == 1 {
                            return Ok(self.int_node(Node::Bin(IOp::Mul, s, SI::K(r.num()))));
                        }
                        Ok(self.int_node(Node::MulRate(s, r.num(), r.den())))
                    }
                    (Arith::Div, _, _) => Err(Unsupported),
                    _ => {
                        let (x, y) = (self.si(&a)?, self.si(&b)?);
                        let iop = match op {
                            Arith::Add => IOp::Add,
                            Arith::Sub => IOp::Sub,
                            _ => IOp::Mul,
                        };
                        Ok(self.int_node(Node::Bin(iop, x, y)))
                    }
                }
            }
            TK::Cmp(op, a, b) => {
                let a = go(self, a)?;
                let b = go(self, b)?;
                match (&a, &b) {
                    (LV::K(x), LV::K(y)) => {
                        let o = match (x, y) {
                            (Value::Int(x), Value::Int(y)) | (Value::Money(x), Value::Money(y)) => x.cmp(y),
                            (Value::Rate(x), Value::Rate(y)) => x.cmp_rate(y),
                            (Value::Text(x), Value::Text(y)) => x.cmp(y),
                            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                            _ => return Err(Unsupported),
                        };
                        Ok(LV::K(Value::Bool(op.holds(o))))
                    }
                    (LV::T(c), LV::K(Value::Text(t))) => {
                        let (op, c, t) = (*op, *c, t.clone());
                        Ok(self.mask(c, |s| op.holds(s.cmp(t.as_str()))))
                    }
                    (LV::K(Value::Text(t)), LV::T(c)) => {
                        let (op, c, t) = (*op, *c, t.clone());
                        Ok(self.mask(c, |s| op.holds(t.as_str().cmp(s))))
                    }
                    (LV::B(_), _) | (_, LV::B(_)) => {
                        // bool == bool
                        let (x, y) = (self.sb(&a)?, self.sb(&b)?);
                        let eq = match (x, y) {
                            (SB::K(true), o) | (o, SB::K(true)) => LV::B(o),
                            (SB::K(false), o) | (o, SB::K(false)) => self.bool_node(Node::Not(o)),
                            (x, y) => {
                                let ne = self.bool_node(Node::SelB(x, SB::K(false), SB::K(true)));
                                let ne = self.sb(&ne)?;
                                self.bool_node(Node::SelB(y, x, ne))
                            }
                        };
                        match op {
                            CmpOp::Eq => Ok(eq),
                            CmpOp::Ne => {
                                let s = self.sb(&eq)?;
                                Ok(match s {
                                    SB::K(b) => LV::K(Value::Bool(!b)),
                                    s => self.bool_node(Node::Not(s)),
                                })
                            }
                            _ => Err(Unsupported),
                        }
                    }
                    _ => {
                        let (x, y) = (self.si(&a)?, self.si(&b)?);
                        Ok(self.bool_node(Node::Cmp(*op, x, y)))
                    }
                }
            }
            TK::In(a, s) => {
                let a = go(self, a)?;
                let s = go(self, s)?;
                match (a, s) {
                    (LV::K(Value::Text(t)), LV::K(Value::Set(s))) => Ok(LV::K(Value::Bool(s.contains(&t)))),
                    (LV::T(c), LV::K(Value::Set(s))) => Ok(self.mask(c, |x| s.contains(x))),
                    _ => Err(Unsupported),
                }
            }
            TK::Index(t, k) => {
                let t = go(self, t)?;
                let k = go(self, k)?;
                let LV::K(Value::Table(tab)) = t else {
                    return Err(Unsupported);
                };
                match k {
                    LV::K(Value::Text(key)) => tab.get(&key).cloned().map(LV::K).ok_or(Unsupported),
                    LV::T(c) => {
                        let dict: Vec<String> = self.dict(c).to_vec();
                        let miss = self.mask(c, |s| !tab.contains_key(s));
                        match &miss {
                            LV::K(Value::Bool(false)) => {}
                            other => misses.push(self.sb(other)?),
                        }
                        let vals: Vec<i64> = dict
                            .iter()
                            .map(|s| match tab.get(s) {
                                Some(Value::Int(i)) | Some(Value::Money(i)) => Ok(*i),
                                Some(Value::Bool(b)) => Ok(*b as i64),
                                None => Ok(0),
                                Some(_) => Err(Unsupported),
                            })
                            .collect::<Result<_, _>>()?;
                        let is_bool = matches!(te.ty, Type::Bool);
                        if is_bool {
                            let m: Vec<u8> = vals.iter().map(|v| *v as u8).collect();
                            Ok(self.bool_node(Node::Mask(c, m)))
                        } else {
                            Ok(self.int_node(Node::LookupI(c, vals)))
                        }
                    }
                    _ => Err(Unsupported),
                }
            }
            TK::If(c, a, b) => {
                let c = go(self, c)?;
                let a = go(self, a)?;
                let b = go(self, b)?;
                match self.sb(&c)? {
                    SB::K(true) => Ok(a),
                    SB::K(false) => Ok(b),
                    c => {
                        if matches!(te.ty, Type::Bool) {
                            let (x, y) = (self.sb(&a)?, self.sb(&b)?);
                            Ok(self.bool_node(Node::SelB(c, x, y)))
                        } else {
                            let (x, y) = (self.si(&a)?, self.si(&b)?);
                            Ok(self.int_node(Node::SelI(c, x, y)))
                        }
                    }
                }
            }
            TK::Min(xs) | TK::Max(xs) => {
                let is_min = matches!(te.kind, TK::Min(_));
                let mut acc: Option<LV> = None;
                for x in xs {
                    let v = go(self, x)?;
                    acc = Some(match acc {
                        None => v,
                        Some(a) => match (&a, &v) {
                            (LV::K(x), LV::K(y)) => {
                                let o = match (x, y) {
                                    (Value::Int(x), Value::Int(y)) | (Value::Money(x), Value::Money(y)) => x.cmp(y),
                                    (Value::Rate(x), Value::Rate(y)) => x.cmp_rate(y),
                                    _ => return Err(Unsupported),
                                };
                                let take_y = if is_min { o.is_gt() } else { o.is_lt() };
                                if take_y {
                                    v
                                } else {
                                    a
                                }
                            }
                            _ => {
                                let (x, y) = (self.si(&a)?, self.si(&v)?);
                                self.int_node(Node::Bin(if is_min { IOp::Min } else { IOp::Max }, x, y))
                            }
                        },
                    });
                }
                acc.ok_or(Unsupported)
            }
            TK::Floor(x) => {
                let x = go(self, x)?;
                match x {
                    LV::K(Value::Rate(r)) => Ok(LV::K(Value::Int(r.num().div_euclid(r.den())))),
                    LV::K(v) => Ok(LV::K(v)),
                    LV::I(s) => Ok(LV::I(s)),
                    _ => Err(Unsupported),
                }
            }
            _ => Err(Unsupported),
        }
    }
}

fn fold_neg(v: &Value) -> Result<LV, Unsupported> {
    Ok(LV::K(match v {
        Value::Int(i) => Value::Int(i.checked_neg().ok_or(Unsupported)?),
        Value::Money(i) => Value::Money(i.checked_neg().ok_or(Unsupported)?),
        Value::Rate(r) => {
            Value::Rate(crate::value::Rate::new(r.num().checked_neg().ok_or(Unsupported)?, r.den()).ok_or(Unsupported)?)
        }
        _ => return Err(Unsupported),
    }))
}

/// Nodes reachable from `roots` (transitively), deduplicated.
fn cone(nodes: &[Node], roots: &[u32]) -> Vec<u32> {
    let mut seen = vec![false; nodes.len()];
    let mut stack: Vec<u32> = roots.to_vec();
    let mut out = Vec::new();
    while let Some(n) = stack.pop() {
        if seen[n as usize] {
            continue;
        }
        seen[n as usize] = true;
        out.push(n);
        stack.extend(nodes[n as usize].inputs());
    }
    out
}

fn sb_reg(s: &SB) -> Option<u32> {
    if let SB::Reg(r) = s {
        Some(*r)
    } else {
        None
    }
}
fn si_reg(s: &SI) -> Option<u32> {
    if let SI::Reg(r) = s {
        Some(*r)
    } else {
        None
    }
}

impl BatchProgram {
    /// Compiles policies (each with its parameter overrides) for an input shape.
    /// Errors when a policy reads a fact that the input has no column for.
    pub fn compile(policies: &[(Policy, ParamOverrides)], input: &BatchInput) -> Result<BatchProgram, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut lw = Lower {
            input,
            col_index: HashMap::new(),
            col_names: Vec::new(),
            nodes: Vec::new(),
            dedup: HashMap::new(),
        };
        let mut emits = Vec::new();
        let mut scalar = Vec::new();
        let mut resolved = Vec::new();
        for (pi, (p, ov)) in policies.iter().enumerate() {
            let params = match p.resolve_params(ov) {
                Ok(v) => v,
                Err(es) => {
                    errors.extend(es);
                    continue;
                }
            };
            for f in p.facts() {
                if !input.columns.contains_key(&f.name) {
                    errors.push(RuleError::new(
                        codes::BAD_FACT,
                        format!("政策“{}”用到的事实“{}”没有输入列", p.key(), f.name),
                    ));
                }
            }
            let mark = lw.nodes.len();
            let dedup_snapshot_len = lw.nodes.len();
            let mut lets = vec![None; p.inner.lets.len()];
            let mut misses_req = Vec::new();
            let mut misses_amt = Vec::new();
            let lowered = (|| -> Result<(Vec<SB>, SI), Unsupported> {
                let mut reqs = Vec::new();
                for r in &p.inner.requires {
                    let v = lw.lower(p, &params, &mut lets, &mut misses_req, &r.expr)?;
                    reqs.push(lw.sb(&v)?);
                }
                let amount = match &p.inner.amount {
                    None => SI::K(0),
                    Some(a) => {
                        let v = lw.lower(p, &params, &mut lets, &mut misses_amt, a)?;
                        lw.si(&v)?
                    }
                };
                Ok((reqs, amount))
            })();
            match lowered {
                Ok((requires, amount)) => {
                    let req_roots: Vec<u32> = requires
                        .iter()
                        .filter_map(sb_reg)
                        .chain(misses_req.iter().filter_map(sb_reg))
                        .collect();
                    let mut guard_overflow: Vec<u32> = cone(&lw.nodes, &req_roots);
                    let amt_roots: Vec<u32> = si_reg(&amount).into_iter().collect();
                    guard_overflow.extend(cone(&lw.nodes, &amt_roots));
                    guard_overflow.retain(|n| lw.nodes[*n as usize].may_overflow());
                    guard_overflow.sort_unstable();
                    guard_overflow.dedup();
                    emits.push(Emit {
                        after: lw.nodes.len(),
                        policy: pi,
                        requires,
                        amount,
                        amount_miss: misses_amt,
                        guard_overflow,
                        guard_any: misses_req,
                    });
                }
                Err(Unsupported) => {
                    // Nodes created for this policy stay (they may be shared later); harmless.
                    let _ = (mark, dedup_snapshot_len);
                    scalar.push(pi);
                }
            }
            resolved.push((p.clone(), params));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Liveness: time of node k = 2k, of an emit after k nodes = 2k - 1.
        let n = lw.nodes.len();
        let mut last = vec![0usize; n];
        for (k, node) in lw.nodes.iter().enumerate() {
            last[k] = last[k].max(2 * k);
            for i in node.inputs() {
                last[i as usize] = last[i as usize].max(2 * k);
            }
        }
        for e in &emits {
            let t = (2 * e.after).saturating_sub(1);
            let regs = e
                .requires
                .iter()
                .filter_map(sb_reg)
                .chain(e.amount_miss.iter().filter_map(sb_reg))
                .chain(e.guard_any.iter().filter_map(sb_reg))
                .chain(si_reg(&e.amount));
            for r in regs {
                last[r as usize] = last[r as usize].max(t);
            }
        }
        let mut slot = vec![0u32; n];
        let (mut free_i, mut free_b): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let (mut n_i, mut n_b) = (0usize, 0usize);
        // release queue: (last use, node)
        let mut by_last: Vec<(usize, u32)> = (0..n as u32).map(|k| (last[k as usize], k)).collect();
        by_last.sort_unstable();
        let mut rel = 0usize;
        for k in 0..n {
            while rel < by_last.len() && by_last[rel].0 < 2 * k {
                let m = by_last[rel].1 as usize;
                if m < k {
                    if lw.nodes[m].is_bool() {
                        free_b.push(slot[m]);
                    } else {
                        free_i.push(slot[m]);
                    }
                }
                rel += 1;
            }
            slot[k] = if lw.nodes[k].is_bool() {
                free_b.pop().unwrap_or_else(|| {
                    n_b += 1;
                    (n_b - 1) as u32
                })
            } else {
                free_i.pop().unwrap_or_else(|| {
                    n_i += 1;
                    (n_i - 1) as u32
                })
            };
        }
        Ok(BatchProgram {
            policies: resolved,
            col_names: lw.col_names,
            nodes: lw.nodes,
            slot,
            n_slots_i: n_i,
            n_slots_b: n_b,
            emits,
            scalar,
        })
    }

    /// Number of shared vector nodes (after common-subexpression elimination).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// Policies that the vector path cannot express and that run row by row.
    pub fn scalar_policies(&self) -> Vec<&str> {
        self.scalar.iter().map(|i| self.policies[*i].0.key()).collect()
    }

    /// Evaluates all policies over all rows on `threads` threads.
    pub fn run(&self, input: &BatchInput, threads: usize) -> BatchResult {
        let rows = input.rows;
        let threads = threads.max(1);
        let blocks = rows.div_ceil(BLOCK);
        let per = blocks.div_ceil(threads).max(1);
        let ranges: Vec<(usize, usize)> = (0..threads)
            .map(|t| ((t * per * BLOCK).min(rows), ((t + 1) * per * BLOCK).min(rows)))
            .filter(|(a, b)| a < b)
            .collect();
        let parts: Vec<Vec<PolicyResult>> = if ranges.len() <= 1 {
            ranges.iter().map(|(a, b)| self.run_range(input, *a, *b)).collect()
        } else {
            std::thread::scope(|s| {
                let hs: Vec<_> = ranges
                    .iter()
                    .map(|(a, b)| s.spawn(move || self.run_range(input, *a, *b)))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            })
        };
        let mut out: Vec<PolicyResult> = (0..self.policies.len()).map(|_| PolicyResult::default()).collect();
        for part in parts {
            for (o, p) in out.iter_mut().zip(part) {
                o.ok.extend(p.ok);
                o.amounts.extend(p.amounts);
                o.errors.extend(p.errors);
            }
        }
        for o in &mut out {
            o.ok.resize(rows.div_ceil(64), 0);
        }
        BatchResult { rows, policies: out }
    }

    fn run_range(&self, input: &BatchInput, start: usize, end: usize) -> Vec<PolicyResult> {
        let cols: Vec<ColRef> = self
            .col_names
            .iter()
            .map(|n| match input.columns.get(n) {
                Some((_, Column::Int(v))) => ColRef::I(v),
                Some((_, Column::Bool(v))) => ColRef::B(v),
                Some((_, Column::Text { codes, .. })) => ColRef::T(codes),
                _ => ColRef::None,
            })
            .collect();
        let mut ri: Vec<Vec<i64>> = vec![vec![0; BLOCK]; self.n_slots_i];
        let mut rb: Vec<Vec<u8>> = vec![vec![0; BLOCK]; self.n_slots_b];
        let mut ovf = vec![false; self.nodes.len()];
        let mut out: Vec<PolicyResult> = (0..self.policies.len())
            .map(|_| PolicyResult {
                ok: Vec::with_capacity((end - start).div_ceil(64)),
                ..Default::default()
            })
            .collect();
        let mut okbuf = vec![0u8; BLOCK];
        let mut missbuf = vec![0u8; BLOCK];
        let mut b0 = start;
        while b0 < end {
            let b1 = (b0 + BLOCK).min(end);
            let len = b1 - b0;
            let mut ei = 0usize;
            for k in 0..=self.nodes.len() {
                while ei < self.emits.len() && self.emits[ei].after == k {
                    let e = &self.emits[ei];
                    self.emit(
                        e,
                        input,
                        &cols,
                        &ri,
                        &rb,
                        &ovf,
                        b0,
                        len,
                        &mut okbuf,
                        &mut missbuf,
                        &mut out[e.policy],
                    );
                    ei += 1;
                }
                if k == self.nodes.len() {
                    break;
                }
                ovf[k] = exec(
                    &self.nodes[k],
                    self.slot[k] as usize,
                    &self.slot,
                    &cols,
                    &mut ri,
                    &mut rb,
                    b0,
                    len,
                );
            }
            for &pi in &self.scalar {
                let (p, params) = &self.policies[pi];
                let mut words = vec![0u64; len.div_ceil(64)];
                for r in 0..len {
                    self.scalar_row(p, params, input, b0 + r, r, &mut words, &mut out[pi]);
                }
                out[pi].ok.extend(words);
            }
            b0 = b1;
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn scalar_row(
        &self,
        p: &Policy,
        params: &[Value],
        input: &BatchInput,
        row: usize,
        r: usize,
        words: &mut [u64],
        out: &mut PolicyResult,
    ) {
        match p.decide(&input.row_facts(row), params) {
            Ok((Tri::Yes, Some(a))) => {
                words[r / 64] |= 1 << (r % 64);
                out.amounts.push(a);
            }
            Ok((Tri::Yes, None)) | Ok((Tri::Unknown, _)) => out.errors.push((row, "缺少事实，无法判断".into())),
            Ok((Tri::No, _)) => {}
            Err(e) => out.errors.push((row, e.message)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        e: &Emit,
        input: &BatchInput,
        cols: &[ColRef],
        ri: &[Vec<i64>],
        rb: &[Vec<u8>],
        ovf: &[bool],
        b0: usize,
        len: usize,
        okbuf: &mut [u8],
        missbuf: &mut [u8],
        out: &mut PolicyResult,
    ) {
        let get_b = |s: &SB| -> BSrc { bsrc(s, &self.slot, rb, cols, b0, len) };
        let mut trouble = e.guard_overflow.iter().any(|n| ovf[*n as usize]);
        if !trouble {
            for m in &e.guard_any {
                if any_b(get_b(m), len) {
                    trouble = true;
                    break;
                }
            }
        }
        // ok = ∧ requires
        let ok = &mut okbuf[..len];
        ok.fill(1);
        for r in &e.requires {
            and_into(ok, get_b(r));
        }
        if !trouble && !e.amount_miss.is_empty() {
            let miss = &mut missbuf[..len];
            miss.fill(0);
            for m in &e.amount_miss {
                or_into(miss, get_b(m));
            }
            trouble = ok.iter().zip(miss.iter()).any(|(a, b)| a & b != 0);
        }
        let (p, params) = &self.policies[e.policy];
        let nwords = len.div_ceil(64);
        if trouble {
            let mut words = vec![0u64; nwords];
            for r in 0..len {
                self.scalar_row(p, params, input, b0 + r, r, &mut words, out);
            }
            out.ok.extend(words);
            return;
        }
        let amt = isrc(&e.amount, &self.slot, ri, cols, b0, len);
        for w in 0..nwords {
            let lo = w * 64;
            let hi = (lo + 64).min(len);
            let mut word = 0u64;
            for (j, v) in ok[lo..hi].iter().enumerate() {
                word |= (*v as u64) << j;
            }
            out.ok.push(word);
            if word != 0 {
                let mut m = word;
                while m != 0 {
                    let j = m.trailing_zeros() as usize;
                    m &= m - 1;
                    out.amounts.push(match amt {
                        ISrc::S(s) => s[lo + j],
                        ISrc::K(k) => k,
                    });
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum ColRef<'a> {
    I(&'a [i64]),
    B(&'a [bool]),
    T(&'a [u8]),
    None,
}

#[derive(Clone, Copy)]
enum ISrc<'a> {
    S(&'a [i64]),
    K(i64),
}

#[derive(Clone, Copy)]
enum BSrc<'a> {
    S(&'a [u8]),
    Bools(&'a [bool]),
    K(bool),
}

fn isrc<'a>(s: &SI, slot: &[u32], ri: &'a [Vec<i64>], cols: &[ColRef<'a>], b0: usize, len: usize) -> ISrc<'a> {
    match s {
        SI::K(k) => ISrc::K(*k),
        SI::Reg(r) => ISrc::S(&ri[slot[*r as usize] as usize][..len]),
        SI::Col(c) => match cols[*c as usize] {
            ColRef::I(v) => ISrc::S(&v[b0..b0 + len]),
            _ => ISrc::K(0),
        },
    }
}

fn bsrc<'a>(s: &SB, slot: &[u32], rb: &'a [Vec<u8>], cols: &[ColRef<'a>], b0: usize, len: usize) -> BSrc<'a> {
    match s {
        SB::K(k) => BSrc::K(*k),
        SB::Reg(r) => BSrc::S(&rb[slot[*r as usize] as usize][..len]),
        SB::Col(c) => match cols[*c as usize] {
            ColRef::B(v) => BSrc::Bools(&v[b0..b0 + len]),
            _ => BSrc::K(false),
        },
    }
}

fn any_b(s: BSrc, len: usize) -> bool {
    match s {
        BSrc::K(k) => k && len > 0,
        BSrc::S(v) => v.iter().any(|x| *x != 0),
        BSrc::Bools(v) => v.iter().any(|x| *x),
    }
}

fn and_into(out: &mut [u8], s: BSrc) {
    match s {
        BSrc::K(true) => {}
        BSrc::K(false) => out.fill(0),
        BSrc::S(v) => out.iter_mut().zip(v).for_each(|(o, x)| *o &= *x),
        BSrc::Bools(v) => out.iter_mut().zip(v).for_each(|(o, x)| *o &= *x as u8),
    }
}

fn or_into(out: &mut [u8], s: BSrc) {
    match s {
        BSrc::K(false) => {}
        BSrc::K(true) => out.fill(1),
        BSrc::S(v) => out.iter_mut().zip(v).for_each(|(o, x)| *o |= *x),
        BSrc::Bools(v) => out.iter_mut().zip(v).for_each(|(o, x)| *o |= *x as u8),
    }
}

/// out[i] = f(a[i], b[i]); returns whether any lane overflowed.
#[inline(always)]
fn map2_i(out: &mut [i64], a: ISrc, b: ISrc, f: impl Fn(i64, i64) -> (i64, bool)) -> bool {
    let mut ov = false;
    match (a, b) {
        (ISrc::S(x), ISrc::S(y)) => {
            for ((o, x), y) in out.iter_mut().zip(x).zip(y) {
                let (v, f1) = f(*x, *y);
                *o = v;
                ov |= f1;
            }
        }
        (ISrc::S(x), ISrc::K(y)) => {
            for (o, x) in out.iter_mut().zip(x) {
                let (v, f1) = f(*x, y);
                *o = v;
                ov |= f1;
            }
        }
        (ISrc::K(x), ISrc::S(y)) => {
            for (o, y) in out.iter_mut().zip(y) {
                let (v, f1) = f(x, *y);
                *o = v;
                ov |= f1;
            }
        }
        (ISrc::K(x), ISrc::K(y)) => {
            let (v, f1) = f(x, y);
            out.fill(v);
            ov = f1;
        }
    }
    ov
}

#[inline(always)]
fn cmp_i(out: &mut [u8], a: ISrc, b: ISrc, f: impl Fn(i64, i64) -> bool) {
    match (a, b) {
        (ISrc::S(x), ISrc::S(y)) => out
            .iter_mut()
            .zip(x)
            .zip(y)
            .for_each(|((o, x), y)| *o = f(*x, *y) as u8),
        (ISrc::S(x), ISrc::K(y)) => out.iter_mut().zip(x).for_each(|(o, x)| *o = f(*x, y) as u8),
        (ISrc::K(x), ISrc::S(y)) => out.iter_mut().zip(y).for_each(|(o, y)| *o = f(x, *y) as u8),
        (ISrc::K(x), ISrc::K(y)) => out.fill(f(x, y) as u8),
    }
}

fn to_u8<'a>(s: BSrc<'a>, tmp: &'a mut Vec<u8>, len: usize) -> &'a [u8] {
    match s {
        BSrc::S(v) => v,
        BSrc::Bools(v) => {
            tmp.clear();
            tmp.extend(v.iter().map(|b| *b as u8));
            tmp
        }
        BSrc::K(k) => {
            tmp.clear();
            tmp.resize(len, k as u8);
            tmp
        }
    }
}

/// Executes one node for one block; returns whether any lane overflowed.
#[allow(clippy::too_many_arguments)]
fn exec(
    node: &Node,
    out_slot: usize,
    slot: &[u32],
    cols: &[ColRef],
    ri: &mut [Vec<i64>],
    rb: &mut [Vec<u8>],
    b0: usize,
    len: usize,
) -> bool {
    if node.is_bool() {
        let mut out = std::mem::take(&mut rb[out_slot]);
        {
            let o = &mut out[..len];
            let ri: &[Vec<i64>] = ri;
            let rb: &[Vec<u8>] = rb;
            let gi = |s: &SI| isrc(s, slot, ri, cols, b0, len);
            let gb = |s: &SB| bsrc(s, slot, rb, cols, b0, len);
            match node {
                Node::Cmp(op, a, b) => {
                    let (a, b) = (gi(a), gi(b));
                    match op {
                        CmpOp::Lt => cmp_i(o, a, b, |x, y| x < y),
                        CmpOp::Le => cmp_i(o, a, b, |x, y| x <= y),
                        CmpOp::Gt => cmp_i(o, a, b, |x, y| x > y),
                        CmpOp::Ge => cmp_i(o, a, b, |x, y| x >= y),
                        CmpOp::Eq => cmp_i(o, a, b, |x, y| x == y),
                        CmpOp::Ne => cmp_i(o, a, b, |x, y| x != y),
                    }
                }
                Node::And(a, b) | Node::Or(a, b) => {
                    let (mut t1, mut t2) = (Vec::new(), Vec::new());
                    let x = to_u8(gb(a), &mut t1, len);
                    let y = to_u8(gb(b), &mut t2, len);
                    if matches!(node, Node::And(..)) {
                        o.iter_mut().zip(x).zip(y).for_each(|((o, x), y)| *o = x & y);
                    } else {
                        o.iter_mut().zip(x).zip(y).for_each(|((o, x), y)| *o = x | y);
                    }
                }
                Node::Not(a) => {
                    let mut t1 = Vec::new();
                    let x = to_u8(gb(a), &mut t1, len);
                    o.iter_mut().zip(x).for_each(|(o, x)| *o = x ^ 1);
                }
                Node::Mask(c, m) => {
                    if let ColRef::T(codes) = cols[*c as usize] {
                        let mut table = [0u8; 256];
                        table[..m.len()].copy_from_slice(m);
                        o.iter_mut()
                            .zip(&codes[b0..b0 + len])
                            .for_each(|(o, c)| *o = table[*c as usize]);
                    }
                }
                Node::SelB(c, a, b) => {
                    let (mut t1, mut t2, mut t3) = (Vec::new(), Vec::new(), Vec::new());
                    let c = to_u8(gb(c), &mut t1, len);
                    let x = to_u8(gb(a), &mut t2, len);
                    let y = to_u8(gb(b), &mut t3, len);
                    for i in 0..len {
                        o[i] = if c[i] != 0 { x[i] } else { y[i] };
                    }
                }
                _ => {}
            }
        }
        rb[out_slot] = out;
        false
    } else {
        let mut out = std::mem::take(&mut ri[out_slot]);
        let ov;
        {
            let o = &mut out[..len];
            let ri: &[Vec<i64>] = ri;
            let rb: &[Vec<u8>] = rb;
            let gi = |s: &SI| isrc(s, slot, ri, cols, b0, len);
            let gb = |s: &SB| bsrc(s, slot, rb, cols, b0, len);
            ov = match node {
                Node::Bin(op, a, b) => {
                    let (a, b) = (gi(a), gi(b));
                    match op {
                        IOp::Add => map2_i(o, a, b, |x, y| x.overflowing_add(y)),
                        IOp::Sub => map2_i(o, a, b, |x, y| x.overflowing_sub(y)),
                        IOp::Mul => map2_i(o, a, b, |x, y| x.overflowing_mul(y)),
                        IOp::Min => map2_i(o, a, b, |x, y| (x.min(y), false)),
                        IOp::Max => map2_i(o, a, b, |x, y| (x.max(y), false)),
                    }
                }
                Node::MulRate(a, num, den) => {
                    let (num, den) = (*num, *den);
                    // floor(p / den) without a hardware division for p >= 0:
                    // q = mulhi(p, floor(2^64 / den)) is floor(p/den) or one less; one correction.
                    let magic = (u64::MAX / den as u64) as u128;
                    let dd = den as u64;
                    map2_i(o, gi(a), ISrc::K(0), |x, _| {
                        let (p, f) = x.overflowing_mul(num);
                        if p >= 0 {
                            let pu = p as u64;
                            let mut q = ((pu as u128 * magic) >> 64) as u64;
                            if pu - q * dd >= dd {
                                q += 1;
                            }
                            (q as i64, f)
                        } else {
                            (p.div_euclid(den), f)
                        }
                    })
                }
                Node::Neg(a) => map2_i(o, gi(a), ISrc::K(0), |x, _| x.overflowing_neg()),
                Node::LookupI(c, vals) => {
                    if let ColRef::T(codes) = cols[*c as usize] {
                        let mut table = [0i64; 256];
                        table[..vals.len()].copy_from_slice(vals);
                        o.iter_mut()
                            .zip(&codes[b0..b0 + len])
                            .for_each(|(o, c)| *o = table[*c as usize]);
                    }
                    false
                }
                Node::SelI(c, a, b) => {
                    let mut t1 = Vec::new();
                    let c = to_u8(gb(c), &mut t1, len);
                    let (a, b) = (gi(a), gi(b));
                    for i in 0..len {
                        let x = match a {
                            ISrc::S(s) => s[i],
                            ISrc::K(k) => k,
                        };
                        let y = match b {
                            ISrc::S(s) => s[i],
                            ISrc::K(k) => k,
                        };
                        o[i] = if c[i] != 0 { x } else { y };
                    }
                    false
                }
                _ => false,
            };
        }
        ri[out_slot] = out;
        ov
    }
}
