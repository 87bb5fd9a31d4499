//! Batch path (精准推送, 免申即享, budget simulation, the bench): many enterprises × many
//! policies over struct-of-arrays columns.
//!
//! [`BatchProgram::compile`] lowers every policy (with its parameter values folded in as
//! constants) into one shared DAG of vector operations: identical subexpressions of different
//! policies (`not 严重失信`, `企业年龄`, `小微企业`, region filters …) become one node.
//! [`BatchProgram::run`] evaluates the DAG over blocks of [`BLOCK`] rows on several threads
//! (contiguous chunks of rows, several per thread, taken from a shared queue) in two passes: eligibility with booleans as
//! 64-row bitmasks written straight into the result bitsets, then the amounts of the eligible
//! rows only, into storage allocated once at its exact size, in the form the compiler chose for
//! each policy ([`Amounts`]: a constant, a bitset choosing between two amounts, one byte per row
//! into a value list, 32- or 64-bit values; fused kernels for `min`/`max` of a column times a
//! constant, rate or table). Value ranges of the input columns decide 32-bit storage, unchecked
//! arithmetic and comparisons on saturated narrow copies of the columns. Registers are reused by liveness
//! so that a block's working set stays in cache. Per policy the result is an eligibility bitset
//! plus the amounts of the eligible rows.
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
    /// value range (min, max) of every int column, taken when the column is inserted: the
    /// compiler uses it to prove that products cannot overflow and that amounts fit in 32 bits
    span: BTreeMap<String, (i64, i64)>,
    /// saturated narrow copies of every int column: comparisons with a constant strictly inside
    /// the narrow type's range give the same answer on them, with 4–8× more lanes per vector
    sat: BTreeMap<String, Sat>,
}

/// An int column saturated to 32 and to 16 bits.
#[derive(Clone, Debug, Default)]
struct Sat {
    s32: Vec<i32>,
    s16: Vec<i16>,
}

impl BatchInput {
    pub fn new(rows: usize) -> BatchInput {
        BatchInput {
            rows,
            columns: BTreeMap::new(),
            span: BTreeMap::new(),
            sat: BTreeMap::new(),
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
        match &col {
            Column::Int(v) => {
                let lo = v.iter().copied().min().unwrap_or(0);
                let hi = v.iter().copied().max().unwrap_or(0);
                self.span.insert(def.name.clone(), (lo, hi));
                let sat = Sat {
                    s32: v
                        .iter()
                        .map(|x| (*x).clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                        .collect(),
                    s16: v
                        .iter()
                        .map(|x| (*x).clamp(i16::MIN as i64, i16::MAX as i64) as i16)
                        .collect(),
                };
                self.sat.insert(def.name.clone(), sat);
            }
            _ => {
                self.span.remove(&def.name);
                self.sat.remove(&def.name);
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

/// The amounts of one policy's eligible rows, in the most compact form the compiler could prove
/// sufficient (every form answers [`Amounts::get`] identically; none is consulted for an
/// ineligible row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Amounts {
    /// Every eligible row gets this amount (a fixed award, a fee waiver's 0).
    Const(Fen),
    /// One of two amounts chosen by a condition: bit `r % 64` of word `r / 64` of `bits` (set
    /// only for eligible rows) picks `set`, otherwise `clear` (创新券: high or low voucher).
    ByBit { bits: Vec<u64>, set: Fen, clear: Fen },
    /// The `j`-th eligible row gets `values[codes[j]]` (an award table by level).
    Coded { values: Vec<Fen>, codes: Chunked<u8> },
    /// The `j`-th eligible row gets `v[j]`; the compiler proved every amount fits in 32 bits.
    Narrow(Chunked<i32>),
    /// The `j`-th eligible row gets `v[j]`.
    Wide(Chunked<Fen>),
}

impl Default for Amounts {
    fn default() -> Amounts {
        Amounts::Wide(Chunked::single(Vec::new()))
    }
}

/// One value per eligible row, stored per chunk of rows (each chunk is filled by the thread that
/// evaluated it, right after its eligibility, so nothing is copied afterwards).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunked<T> {
    /// rows per chunk (the last chunk may be shorter)
    chunk_rows: usize,
    /// index (among all eligible rows) of each chunk's first eligible row
    starts: Vec<usize>,
    parts: Vec<Vec<T>>,
}

impl<T: Copy> Chunked<T> {
    /// All values in one chunk.
    pub fn single(values: Vec<T>) -> Chunked<T> {
        Chunked {
            chunk_rows: usize::MAX,
            starts: vec![0],
            parts: vec![values],
        }
    }
    /// The value of row `row`, the `j`-th eligible row.
    #[inline]
    pub fn get(&self, row: usize, j: usize) -> T {
        let c = row / self.chunk_rows;
        self.parts[c][j - self.starts[c]]
    }
}

impl Amounts {
    /// The amount of row `row`, the `j`-th eligible row (0-based, in row order).
    #[inline]
    pub fn get(&self, row: usize, j: usize) -> Fen {
        match self {
            Amounts::Const(v) => *v,
            Amounts::ByBit { bits, set, clear } => {
                if bits[row / 64] >> (row % 64) & 1 == 1 {
                    *set
                } else {
                    *clear
                }
            }
            Amounts::Coded { values, codes } => values[codes.get(row, j) as usize],
            Amounts::Narrow(v) => v.get(row, j) as Fen,
            Amounts::Wide(v) => v.get(row, j),
        }
    }
}

/// The result of one policy over all rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyResult {
    /// Eligibility bitset: bit `r % 64` of word `r / 64`.
    pub ok: Vec<u64>,
    /// The amounts of the eligible rows ([`PolicyResult::amount_list`] lists them).
    pub amounts: Amounts,
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
    /// The eligible rows in order, with their amounts.
    pub fn eligible(&self) -> impl Iterator<Item = (usize, Fen)> + '_ {
        self.ok
            .iter()
            .enumerate()
            .flat_map(|(w, word)| {
                let mut m = *word;
                std::iter::from_fn(move || {
                    (m != 0).then(|| {
                        let r = w * 64 + m.trailing_zeros() as usize;
                        m &= m - 1;
                        r
                    })
                })
            })
            .enumerate()
            .map(|(j, row)| (row, self.amounts.get(row, j)))
    }
    /// The amount of every eligible row, in row order.
    pub fn amount_list(&self) -> Vec<Fen> {
        self.eligible().map(|(_, a)| a).collect()
    }
    /// Total amount of the eligible rows.
    pub fn total(&self) -> i128 {
        self.eligible().map(|(_, a)| a as i128).sum()
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

/// One policy of the vector path.
#[derive(Clone, Debug)]
struct Emit {
    policy: usize,
    requires: Vec<SB>,
    /// miss lanes of table look-ups in the requires: any set lane in a block forces the exact
    /// fallback for that block
    guard_any: Vec<SB>,
    /// nodes of the requires' cones that may overflow
    guard_ovf: Vec<u32>,
    amount: SI,
    /// miss lanes of table look-ups in the amount (must be false where eligible)
    amount_miss: Vec<SB>,
    /// the nodes the amount and its miss lanes depend on, ascending (= topological order)
    amt_cone: Vec<u32>,
    /// how pass 2 produces and stores the amounts
    plan: Plan,
}

/// How the amounts of one policy are produced and stored, chosen by the compiler from the
/// shape of the amount expression and the value ranges of the input columns.
#[derive(Clone, Debug)]
enum Plan {
    /// the same amount for every eligible row: nothing to compute per row
    Const(i64),
    /// `if <bool node> then set else clear`: the node's bits (saved by pass 1) are the result
    ByBit { node: u32, set: i64, clear: i64 },
    /// an int table by a text column (possibly clamped by constants): one byte per eligible row
    Coded { col: u32, map: Vec<u8>, values: Vec<i64> },
    /// `max(min(mul(int column), hi), lo)` in one loop over the eligible rows
    Fused(Fused),
    /// node by node over the eligible rows (any other shape)
    General { narrow: bool },
}

#[derive(Clone, Debug)]
struct Fused {
    src: u32,
    mul: Mul,
    hi: i64,
    lo: i64,
    /// the product may overflow i64 for some value of the column's range: check every row
    check: bool,
    /// every amount fits in 32 bits
    narrow: bool,
    /// the column and the multiplier are ≥ 0 (so is the product)
    nonneg: bool,
}

#[derive(Clone, Debug)]
enum Mul {
    One,
    K(i64),
    /// floor(x × num / den), den > 0
    Rate(i64, i64),
    /// x × table[code of a text column]
    Table(u32, Vec<i64>),
}

type Span = Option<(i128, i128)>;

fn clip(lo: i128, hi: i128) -> Span {
    let (lo, hi) = (lo.max(i64::MIN as i128), hi.min(i64::MAX as i128));
    (lo <= hi).then_some((lo, hi))
}

fn fits_i32(s: Span) -> bool {
    s.is_some_and(|(lo, hi)| lo >= i32::MIN as i128 && hi <= i32::MAX as i128)
}

/// Value range of every int node (None: unknown or bool). A row whose intermediate value
/// overflows is an evaluation error, so ranges are clipped to i64: every value that reaches an
/// amount lies within its node's range.
fn node_spans(nodes: &[Node], col_span: &[Span]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let si = |s: &SI, out: &[Span]| match s {
            SI::K(k) => Some((*k as i128, *k as i128)),
            SI::Col(c) => col_span[*c as usize],
            SI::Reg(r) => out[*r as usize],
        };
        let span = match node {
            Node::Bin(op, a, b) => match (si(a, &out), si(b, &out)) {
                (Some((al, ah)), Some((bl, bh))) => match op {
                    IOp::Add => clip(al + bl, ah + bh),
                    IOp::Sub => clip(al - bh, ah - bl),
                    IOp::Mul => {
                        let p = [al * bl, al * bh, ah * bl, ah * bh];
                        clip(*p.iter().min().unwrap_or(&0), *p.iter().max().unwrap_or(&0))
                    }
                    IOp::Min => clip(al.min(bl), ah.min(bh)),
                    IOp::Max => clip(al.max(bl), ah.max(bh)),
                },
                _ => None,
            },
            Node::MulRate(a, num, den) => si(a, &out).and_then(|(l, h)| {
                let (n, d) = (*num as i128, *den as i128);
                let (pl, ph) = clip((l * n).min(h * n), (l * n).max(h * n))?;
                clip(pl.div_euclid(d), ph.div_euclid(d))
            }),
            Node::Neg(a) => si(a, &out).and_then(|(l, h)| clip(-h, -l)),
            Node::LookupI(_, vals) => {
                let lo = vals.iter().min().copied().unwrap_or(0) as i128;
                let hi = vals.iter().max().copied().unwrap_or(0) as i128;
                Some((lo.min(0), hi.max(0)))
            }
            Node::SelI(_, a, b) => match (si(a, &out), si(b, &out)) {
                (Some((al, ah)), Some((bl, bh))) => Some((al.min(bl), ah.max(bh))),
                _ => None,
            },
            _ => None,
        };
        out.push(span);
    }
    out
}

/// Whether an int node may overflow for some values within its inputs' ranges.
fn may_overflow(nodes: &[Node], spans: &[Span], col_span: &[Span]) -> Vec<bool> {
    let si = |s: &SI| match s {
        SI::K(k) => Some((*k as i128, *k as i128)),
        SI::Col(c) => col_span[*c as usize],
        SI::Reg(r) => spans[*r as usize],
    };
    let out = |lo: i128, hi: i128| lo < i64::MIN as i128 || hi > i64::MAX as i128;
    nodes
        .iter()
        .map(|node| match node {
            Node::Bin(op @ (IOp::Add | IOp::Sub | IOp::Mul), a, b) => match (si(a), si(b)) {
                (Some((al, ah)), Some((bl, bh))) => match op {
                    IOp::Add => out(al + bl, ah + bh),
                    IOp::Sub => out(al - bh, ah - bl),
                    _ => {
                        let p = [al * bl, al * bh, ah * bl, ah * bh];
                        out(*p.iter().min().unwrap_or(&0), *p.iter().max().unwrap_or(&0))
                    }
                },
                _ => true,
            },
            Node::MulRate(a, num, _) => si(a).is_none_or(|(l, h)| {
                let n = *num as i128;
                out((l * n).min(h * n), (l * n).max(h * n))
            }),
            Node::Neg(a) => si(a).is_none_or(|(l, h)| out(-h, -l)),
            // a comparison "overflows" when a − b might: then it cannot use the sign of a − b
            Node::Cmp(_, a, b) => match (si(a), si(b)) {
                (Some((al, ah)), Some((bl, bh))) => out(al - bh, ah - bl) || out(bl - ah, bh - al),
                _ => true,
            },
            _ => false,
        })
        .collect()
}

/// Chooses the amount plan of one policy.
fn plan_of(nodes: &[Node], spans: &[Span], col_span: &[Span], saved_of: &[u32], e: &Emit) -> Plan {
    let general = Plan::General {
        narrow: fits_i32(match e.amount {
            SI::K(k) => Some((k as i128, k as i128)),
            SI::Col(c) => col_span[c as usize],
            SI::Reg(r) => spans[r as usize],
        }),
    };
    // miss lanes must be saved bitsets (or constants) for the per-block check of the fast plans
    if !e.amount_miss.iter().all(|m| match m {
        SB::K(_) => true,
        SB::Reg(r) => saved_of[*r as usize] != u32::MAX,
        SB::Col(_) => false,
    }) {
        return general;
    }
    // peel min/max by constants: the normal form of any such chain is max(min(x, hi), lo)
    let mut chain: Vec<(IOp, i64)> = Vec::new();
    let mut core = e.amount;
    while let SI::Reg(r) = core {
        match &nodes[r as usize] {
            Node::Bin(op @ (IOp::Min | IOp::Max), x, SI::K(k)) | Node::Bin(op @ (IOp::Min | IOp::Max), SI::K(k), x) => {
                chain.push((*op, *k));
                core = *x;
            }
            _ => break,
        }
    }
    let (mut hi, mut lo) = (i64::MAX, i64::MIN);
    for (op, k) in chain.iter().rev() {
        if *op == IOp::Min {
            hi = hi.min(*k);
            lo = lo.min(*k);
        } else {
            lo = lo.max(*k);
        }
    }
    let clampv = |v: i64| v.min(hi).max(lo);
    let (src, mul) = match core {
        SI::K(k) => return Plan::Const(clampv(k)),
        SI::Col(c) => (c, Mul::One),
        SI::Reg(r) => match &nodes[r as usize] {
            Node::SelI(SB::Reg(b), SI::K(x), SI::K(y)) if saved_of[*b as usize] != u32::MAX => {
                return Plan::ByBit {
                    node: *b,
                    set: clampv(*x),
                    clear: clampv(*y),
                }
            }
            Node::LookupI(c, vals) => {
                let mut values: Vec<i64> = Vec::new();
                let mut map = Vec::with_capacity(vals.len());
                for v in vals {
                    let v = clampv(*v);
                    let at = values.iter().position(|x| *x == v).unwrap_or_else(|| {
                        values.push(v);
                        values.len() - 1
                    });
                    map.push(at as u8);
                }
                return Plan::Coded { col: *c, map, values };
            }
            Node::MulRate(SI::Col(c), num, den) => (*c, Mul::Rate(*num, *den)),
            Node::Bin(IOp::Mul, SI::Col(c), SI::K(k)) | Node::Bin(IOp::Mul, SI::K(k), SI::Col(c)) => (*c, Mul::K(*k)),
            Node::Bin(IOp::Mul, SI::Col(c), SI::Reg(t)) | Node::Bin(IOp::Mul, SI::Reg(t), SI::Col(c)) => {
                match &nodes[*t as usize] {
                    Node::LookupI(tc, vals) => (*c, Mul::Table(*tc, vals.clone())),
                    _ => return general,
                }
            }
            _ => return general,
        },
    };
    // the product's range over the column's range: can it overflow, does the amount fit i32?
    let (check, prod) = match col_span[src as usize] {
        None => (true, None),
        Some((l, h)) => {
            let ks: Vec<i128> = match &mul {
                Mul::One => vec![1],
                Mul::K(k) | Mul::Rate(k, _) => vec![*k as i128],
                Mul::Table(_, vals) => vals.iter().map(|v| *v as i128).collect(),
            };
            let ps: Vec<i128> = ks.iter().flat_map(|k| [l * k, h * k]).collect();
            let (pl, ph) = (
                ps.iter().min().copied().unwrap_or(0),
                ps.iter().max().copied().unwrap_or(0),
            );
            let check = pl < i64::MIN as i128 || ph > i64::MAX as i128;
            let prod = clip(pl, ph).map(|(pl, ph)| match &mul {
                Mul::Rate(_, d) => (pl.div_euclid(*d as i128), ph.div_euclid(*d as i128)),
                _ => (pl, ph),
            });
            (check, prod)
        }
    };
    let out = prod.map(|(pl, ph)| {
        let c = |v: i128| v.min(hi as i128).max(lo as i128);
        (c(pl), c(ph))
    });
    let nonneg = col_span[src as usize].is_some_and(|(l, _)| l >= 0)
        && match &mul {
            Mul::One => true,
            Mul::K(k) | Mul::Rate(k, _) => *k >= 0,
            Mul::Table(_, vals) => vals.iter().all(|v| *v >= 0),
        };
    Plan::Fused(Fused {
        src,
        mul,
        hi,
        lo,
        check,
        narrow: fits_i32(out),
        nonneg,
    })
}

/// A step of the eligibility pass: run a node over the block, or conclude a policy.
#[derive(Clone, Copy, Debug)]
enum Step {
    Node(u32),
    Emit(u32),
}

/// A compiled batch program for a fixed set of policies and an input shape.
pub struct BatchProgram {
    policies: Vec<(Policy, Vec<Value>)>,
    col_names: Vec<String>,
    nodes: Vec<Node>,
    /// for `Node::Mask`: (negate, dictionary codes to OR), the shorter of the set and its complement
    mask_plan: Vec<(bool, Vec<u8>)>,
    /// dictionary size of each text column (0 for other columns)
    dict_len: Vec<usize>,
    /// eligibility pass: nodes of the requires' cones interleaved with the policies that need them
    sched_a: Vec<Step>,
    /// eligibility pass: register slot of each node (bool slots and int slots are separate)
    slot_a: Vec<u32>,
    n_slots_ai: usize,
    n_slots_ab: usize,
    /// bool nodes of the amounts' cones: computed in pass 1 and kept as bitsets for pass 2
    /// (index into the saved bitsets, `u32::MAX` if not saved)
    saved_of: Vec<u32>,
    n_saved: usize,
    emits: Vec<Emit>,
    /// nodes that may overflow given the input's column ranges (the others skip the check)
    may_ovf: Vec<bool>,
    /// the amount plan of each policy (None: evaluated row by row)
    plan_of_policy: Vec<Option<Plan>>,
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

    /// `(k1 − column) op k2` and `(column ± k1) op k2` become `column op' k`, a comparison of a
    /// column with a constant (which runs on the narrow copy of the column), when the column's
    /// range shows that the arithmetic cannot overflow (so no row could have failed on it).
    fn cmp_on_column(&self, op: CmpOp, x: SI, y: SI) -> (CmpOp, SI, SI) {
        let (op, r, k) = match (x, y) {
            (SI::Reg(r), SI::K(k)) => (op, r, k),
            (SI::K(k), SI::Reg(r)) => (flip(op), r, k),
            _ => return (op, x, y),
        };
        let span = |c: u32| {
            self.input
                .span
                .get(&self.col_names[c as usize])
                .map(|(l, h)| (*l as i128, *h as i128))
        };
        let fits = |v: i128| v >= i64::MIN as i128 && v <= i64::MAX as i128;
        let (k, a) = (k as i128, |v: i64| v as i128);
        let rewritten = match &self.nodes[r as usize] {
            // k1 − c op k  ⇔  c flip(op) k1 − k
            Node::Bin(IOp::Sub, SI::K(k1), SI::Col(c)) => span(*c)
                .filter(|(l, h)| fits(a(*k1) - h) && fits(a(*k1) - l))
                .map(|_| (flip(op), *c, a(*k1) - k)),
            // c − k1 op k  ⇔  c op k + k1
            Node::Bin(IOp::Sub, SI::Col(c), SI::K(k1)) => span(*c)
                .filter(|(l, h)| fits(l - a(*k1)) && fits(h - a(*k1)))
                .map(|_| (op, *c, k + a(*k1))),
            // c + k1 op k  ⇔  c op k − k1
            Node::Bin(IOp::Add, SI::Col(c), SI::K(k1)) | Node::Bin(IOp::Add, SI::K(k1), SI::Col(c)) => span(*c)
                .filter(|(l, h)| fits(l + a(*k1)) && fits(h + a(*k1)))
                .map(|_| (op, *c, k - a(*k1))),
            _ => None,
        };
        match rewritten {
            Some((op2, c, k2)) if fits(k2) => (op2, SI::Col(c), SI::K(k2 as i64)),
            _ => (op, SI::Reg(r), SI::K(k as i64)),
        }
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
                        let (op, x, y) = self.cmp_on_column(*op, x, y);
                        Ok(self.bool_node(Node::Cmp(op, x, y)))
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
        // number of nodes that exist when each emit may run
        let mut emit_after = Vec::new();
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
                    let mut guard_ovf: Vec<u32> = cone(&lw.nodes, &req_roots);
                    guard_ovf.retain(|n| lw.nodes[*n as usize].may_overflow());
                    guard_ovf.sort_unstable();
                    let amt_roots: Vec<u32> = si_reg(&amount)
                        .into_iter()
                        .chain(misses_amt.iter().filter_map(sb_reg))
                        .collect();
                    let mut amt_cone = cone(&lw.nodes, &amt_roots);
                    amt_cone.sort_unstable();
                    emit_after.push(lw.nodes.len());
                    emits.push(Emit {
                        policy: pi,
                        requires,
                        guard_any: misses_req,
                        guard_ovf,
                        amount,
                        amount_miss: misses_amt,
                        amt_cone,
                        plan: Plan::General { narrow: false },
                    });
                }
                Err(Unsupported) => {
                    // Nodes created for this policy stay (they may be shared later); harmless.
                    scalar.push(pi);
                }
            }
            resolved.push((p.clone(), params));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let n = lw.nodes.len();
        // The eligibility pass runs the cones of the requires (and of their miss lanes) only.
        // Bool nodes of the amounts run there too and are saved as bitsets (one bit per row).
        let mut in_a = vec![false; n];
        let mut saved_of = vec![u32::MAX; n];
        let mut n_saved = 0usize;
        for e in &emits {
            let mut roots: Vec<u32> = e.requires.iter().chain(&e.guard_any).filter_map(sb_reg).collect();
            for &k in &e.amt_cone {
                if lw.nodes[k as usize].is_bool() {
                    roots.push(k);
                    if saved_of[k as usize] == u32::MAX {
                        saved_of[k as usize] = n_saved as u32;
                        n_saved += 1;
                    }
                }
            }
            for k in cone(&lw.nodes, &roots) {
                in_a[k as usize] = true;
            }
        }
        // Liveness: time of node k = 2k, of an emit after k nodes = 2k - 1.
        let mut last = vec![0usize; n];
        for (k, node) in lw.nodes.iter().enumerate() {
            if !in_a[k] {
                continue;
            }
            last[k] = last[k].max(2 * k);
            for i in node.inputs() {
                last[i as usize] = last[i as usize].max(2 * k);
            }
        }
        for (e, after) in emits.iter().zip(&emit_after) {
            let t = (2 * after).saturating_sub(1);
            for r in e.requires.iter().chain(&e.guard_any).filter_map(sb_reg) {
                last[r as usize] = last[r as usize].max(t);
            }
        }
        let mut slot_a = vec![u32::MAX; n];
        let (mut free_i, mut free_b): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let (mut n_i, mut n_b) = (0usize, 0usize);
        let mut by_last: Vec<(usize, u32)> = (0..n as u32)
            .filter(|k| in_a[*k as usize])
            .map(|k| (last[k as usize], k))
            .collect();
        by_last.sort_unstable();
        let mut rel = 0usize;
        let mut sched_a = Vec::new();
        let mut ei = 0usize;
        for k in 0..=n {
            while ei < emits.len() && emit_after[ei] == k {
                sched_a.push(Step::Emit(ei as u32));
                ei += 1;
            }
            if k == n {
                break;
            }
            if !in_a[k] {
                continue;
            }
            while rel < by_last.len() && by_last[rel].0 < 2 * k {
                let m = by_last[rel].1 as usize;
                if m < k {
                    if lw.nodes[m].is_bool() {
                        free_b.push(slot_a[m]);
                    } else {
                        free_i.push(slot_a[m]);
                    }
                }
                rel += 1;
            }
            slot_a[k] = if lw.nodes[k].is_bool() {
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
            sched_a.push(Step::Node(k as u32));
        }
        let col_span: Vec<Span> = lw
            .col_names
            .iter()
            .map(|c| input.span.get(c).map(|(l, h)| (*l as i128, *h as i128)))
            .collect();
        let spans = node_spans(&lw.nodes, &col_span);
        let may_ovf = may_overflow(&lw.nodes, &spans, &col_span);
        for e in emits.iter_mut() {
            e.guard_ovf.retain(|k| may_ovf[*k as usize]);
        }
        for e in emits.iter_mut() {
            e.plan = plan_of(&lw.nodes, &spans, &col_span, &saved_of, e);
        }
        let mut plan_of_policy: Vec<Option<Plan>> = vec![None; resolved.len()];
        for e in &emits {
            plan_of_policy[e.policy] = Some(e.plan.clone());
        }
        let mask_plan = lw
            .nodes
            .iter()
            .map(|node| match node {
                Node::Mask(_, m) => {
                    let ones: Vec<u8> = (0..m.len()).filter(|i| m[*i] != 0).map(|i| i as u8).collect();
                    let zeros: Vec<u8> = (0..m.len()).filter(|i| m[*i] == 0).map(|i| i as u8).collect();
                    if zeros.len() < ones.len() {
                        (true, zeros)
                    } else {
                        (false, ones)
                    }
                }
                _ => (false, Vec::new()),
            })
            .collect();
        let dict_len = lw
            .col_names
            .iter()
            .map(|c| match input.columns.get(c) {
                Some((_, Column::Text { dict, .. })) => dict.len(),
                _ => 0,
            })
            .collect();
        Ok(BatchProgram {
            policies: resolved,
            col_names: lw.col_names,
            nodes: lw.nodes,
            mask_plan,
            dict_len,
            sched_a,
            slot_a,
            n_slots_ai: n_i,
            n_slots_ab: n_b,
            saved_of,
            n_saved,
            plan_of_policy,
            may_ovf,
            emits,
            scalar,
        })
    }

    /// Number of shared vector nodes (after common-subexpression elimination).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// How the amounts of policy `i` (input order) are computed and stored: `const`, `by-bit`,
    /// `coded`, `fused` / `fused-checked` (with `-i32` when 32 bits suffice), `general` /
    /// `general-i32`, or `row-by-row` (the explaining evaluator).
    pub fn amount_plan(&self, i: usize) -> &'static str {
        match self.plan_of_policy.get(i) {
            Some(Some(Plan::Const(_))) => "const",
            Some(Some(Plan::ByBit { .. })) => "by-bit",
            Some(Some(Plan::Coded { .. })) => "coded",
            Some(Some(Plan::Fused(f))) => match (f.check, f.narrow) {
                (false, false) => "fused",
                (false, true) => "fused-i32",
                (true, false) => "fused-checked",
                (true, true) => "fused-checked-i32",
            },
            Some(Some(Plan::General { narrow: false })) => "general",
            Some(Some(Plan::General { narrow: true })) => "general-i32",
            _ => "row-by-row",
        }
    }

    /// Policies that the vector path cannot express and that run row by row.
    pub fn scalar_policies(&self) -> Vec<&str> {
        self.scalar.iter().map(|i| self.policies[*i].0.key()).collect()
    }

    /// Evaluates all policies over all rows on `threads` threads.
    ///
    /// The rows are split into contiguous chunks (eight per thread, taken from a shared queue so
    /// that a thread that loses its core does not hold up the others); each chunk makes two passes
    /// over its blocks, the second while the chunk's bits and columns are still in cache:
    /// 1. eligibility: the requires' cones over blocks of [`BLOCK`] rows, booleans as 64-row
    ///    bitmasks, written straight into the result bitsets (and counted);
    /// 2. amounts: with the chunk's counts known, its amount storage is allocated at its exact
    ///    size ([`Chunked`]) and filled as the policy's plan says (see [`Amounts`]); the general plan
    ///    computes subexpressions in demand by many eligible rows for the whole block, the rest
    ///    only for the eligible rows (gathered by their set bits).
    pub fn run(&self, input: &BatchInput, threads: usize) -> BatchResult {
        let rows = input.rows;
        let threads = threads.max(1);
        let blocks = rows.div_ceil(BLOCK);
        // Several chunks per thread, taken from a shared queue: when the machine is busy and one
        // thread loses its core, the other threads take over its remaining chunks.
        let chunks = if threads == 1 {
            1
        } else {
            (threads * 8).min(blocks).max(1)
        };
        let per = blocks.div_ceil(chunks).max(1);
        let ranges: Vec<(usize, usize)> = (0..chunks)
            .map(|t| ((t * per * BLOCK).min(rows), ((t + 1) * per * BLOCK).min(rows)))
            .filter(|(a, b)| a < b)
            .collect();
        let np = self.policies.len();
        let cols = self.col_refs(input);
        let mut oks: Vec<Vec<u64>> = par_map(threads, np, |_| vec![0u64; rows.div_ceil(64)]);

        // Per-thread views of the bitsets (ranges start at multiples of BLOCK, so of 64 rows).
        let mut ok_views: Vec<Vec<&mut [u64]>> = ranges.iter().map(|_| Vec::with_capacity(np)).collect();
        for ok in oks.iter_mut() {
            let mut rest: &mut [u64] = ok;
            for (t, (a, b)) in ranges.iter().enumerate() {
                let (mine, tail) = rest.split_at_mut(b.div_ceil(64) - a / 64);
                ok_views[t].push(mine);
                rest = tail;
            }
        }

        // Amounts chosen by a condition are bits per row, like eligibility.
        let mut bitsets: Vec<Option<Vec<u64>>> = par_map(threads, np, |p| {
            (form_of(&self.plan_of_policy[p]) == Form::Bits).then(|| vec![0u64; rows.div_ceil(64)])
        });
        let mut bit_views: Vec<Vec<Option<&mut [u64]>>> = ranges.iter().map(|_| Vec::with_capacity(np)).collect();
        for bs in bitsets.iter_mut() {
            match bs {
                Some(v) => {
                    let mut rest: &mut [u64] = v;
                    for (t, (a, b)) in ranges.iter().enumerate() {
                        let (mine, tail) = rest.split_at_mut(b.div_ceil(64) - a / 64);
                        bit_views[t].push(Some(mine));
                        rest = tail;
                    }
                }
                None => bit_views.iter_mut().for_each(|v| v.push(None)),
            }
        }

        // Each chunk: eligibility, then its amount storage (exactly sized: its counts are known),
        // then its amounts, while the chunk's bits and columns are still in cache.
        let parts: Vec<(PartA, PartB, Vec<Store>)> = par(
            threads,
            ok_views.iter_mut().zip(bit_views.iter_mut()).zip(&ranges).collect(),
            |((views, bviews), (a, b))| {
                let pa = self.pass_a(input, &cols, *a, *b, views);
                let mut stores: Vec<Store> = (0..np)
                    .map(|p| {
                        let n = pa.counts[p];
                        match form_of(&self.plan_of_policy[p]) {
                            // exact capacity, not zeroed: pass 2 appends every amount once
                            Form::Wide => Store::Wide(Vec::with_capacity(n)),
                            Form::Narrow => Store::Narrow(Vec::with_capacity(n)),
                            Form::Codes => Store::Codes(Vec::with_capacity(n)),
                            Form::Bits | Form::None => Store::None,
                        }
                    })
                    .collect();
                let mut segs: Vec<Seg> = stores
                    .iter_mut()
                    .zip(bviews.iter_mut())
                    .map(|(st, bv)| match (st, bv.take()) {
                        (_, Some(b)) => Seg::Bits(b),
                        (Store::Codes(v), None) => Seg::Codes(v),
                        (Store::Narrow(v), None) => Seg::Narrow(v),
                        (Store::Wide(v), None) => Seg::Wide(v),
                        (Store::None, None) => Seg::None,
                    })
                    .collect();
                let pb = self.pass_b(input, &cols, *a, *b, views, &mut segs, &pa);
                drop(segs);
                (pa, pb, stores)
            },
        );
        drop(ok_views);
        drop(bit_views);
        let chunk_rows = per * BLOCK;
        let mut parts_a = Vec::with_capacity(parts.len());
        let mut parts_b = Vec::with_capacity(parts.len());
        let mut stores_of_chunk = Vec::with_capacity(parts.len());
        for (a, b, st) in parts {
            parts_a.push(a);
            parts_b.push(b);
            stores_of_chunk.push(st);
        }

        let mut out: Vec<PolicyResult> = Vec::with_capacity(np);
        for (p, mut ok) in oks.into_iter().enumerate() {
            let mut starts = Vec::with_capacity(parts_a.len());
            let mut n = 0;
            for pa in &parts_a {
                starts.push(n);
                n += pa.counts[p];
            }
            let st: Vec<Store> = stores_of_chunk
                .iter_mut()
                .map(|c| std::mem::replace(&mut c[p], Store::None))
                .collect();
            macro_rules! chunked {
                ($variant:ident) => {
                    Chunked {
                        chunk_rows,
                        starts,
                        parts: st
                            .into_iter()
                            .map(|s| match s {
                                Store::$variant(v) => v,
                                _ => Vec::new(), // unreachable: every chunk follows the plan
                            })
                            .collect(),
                    }
                };
            }
            let mut amounts = match &self.plan_of_policy[p] {
                Some(Plan::ByBit { set, clear, .. }) => Amounts::ByBit {
                    bits: bitsets[p].take().unwrap_or_default(),
                    set: *set,
                    clear: *clear,
                },
                Some(Plan::Const(k)) => Amounts::Const(*k),
                Some(Plan::Coded { values, .. }) => Amounts::Coded {
                    values: values.clone(),
                    codes: chunked!(Codes),
                },
                plan if form_of(plan) == Form::Narrow => Amounts::Narrow(chunked!(Narrow)),
                _ => Amounts::Wide(chunked!(Wide)),
            };
            let mut errors: Vec<(usize, String)> = Vec::new();
            let mut fix: Vec<(usize, Fen)> = Vec::new();
            let mut dropped: Vec<usize> = Vec::new();
            for (a, b) in parts_a.iter().zip(&parts_b) {
                errors.extend(a.errors[p].iter().cloned());
                errors.extend(b.errors[p].iter().cloned());
                fix.extend_from_slice(&a.fix[p]);
                fix.extend_from_slice(&b.fix[p]);
                dropped.extend_from_slice(&b.dropped[p]);
            }
            errors.sort_by_key(|e| e.0);
            if !fix.is_empty() || !dropped.is_empty() {
                // Rows decided by the exact evaluator (rare): their amounts replace the
                // placeholders, rows that failed leave the eligible set.
                fix.sort_unstable_by_key(|f| f.0);
                dropped.sort_unstable();
                let (mut fi, mut di, mut j) = (0, 0, 0);
                let mut wide = Vec::new();
                for (w, word) in ok.iter_mut().enumerate() {
                    let mut m = *word;
                    while m != 0 {
                        let row = w * 64 + m.trailing_zeros() as usize;
                        m &= m - 1;
                        if dropped.get(di) == Some(&row) {
                            di += 1;
                            *word &= !(1u64 << (row % 64));
                        } else if fix.get(fi).is_some_and(|f| f.0 == row) {
                            wide.push(fix[fi].1);
                            fi += 1;
                        } else {
                            wide.push(amounts.get(row, j));
                        }
                        j += 1;
                    }
                }
                amounts = Amounts::Wide(Chunked::single(wide));
            }
            out.push(PolicyResult { ok, amounts, errors });
        }
        BatchResult { rows, policies: out }
    }

    fn col_refs<'a>(&self, input: &'a BatchInput) -> Vec<ColRef<'a>> {
        self.col_names
            .iter()
            .map(|n| match input.columns.get(n) {
                Some((_, Column::Int(v))) => ColRef::I(v, input.sat.get(n)),
                Some((_, Column::Bool(v))) => ColRef::B(v),
                Some((_, Column::Text { codes, .. })) => ColRef::T(codes),
                _ => ColRef::None,
            })
            .collect()
    }

    /// Columns to unpack per block for the given node set: bool columns as bitmasks, text columns
    /// read by dense masks as one bitmask per dictionary code.
    fn block_columns(&self, nodes: impl Iterator<Item = u32>, extra: &[SB]) -> (Vec<u32>, Vec<u32>) {
        let mut bools = Vec::new();
        let mut texts = Vec::new();
        let see_b = |s: &SB, bools: &mut Vec<u32>| {
            if let SB::Col(c) = s {
                if !bools.contains(c) {
                    bools.push(*c)
                }
            }
        };
        for s in extra {
            see_b(s, &mut bools);
        }
        for k in nodes {
            match &self.nodes[k as usize] {
                Node::And(a, b) | Node::Or(a, b) => {
                    see_b(a, &mut bools);
                    see_b(b, &mut bools)
                }
                Node::Not(a) | Node::SelI(a, _, _) => see_b(a, &mut bools),
                Node::SelB(c, a, b) => {
                    see_b(c, &mut bools);
                    see_b(a, &mut bools);
                    see_b(b, &mut bools)
                }
                Node::Mask(c, _) if !texts.contains(c) => texts.push(*c),
                _ => {}
            }
        }
        (bools, texts)
    }

    /// Pass 1 over rows `start..end`: eligibility bits into `oks` (one slice per policy, word 0 =
    /// row `start`), counts, and the exact fallback where the vector path cannot decide.
    fn pass_a(&self, input: &BatchInput, cols: &[ColRef], start: usize, end: usize, oks: &mut [&mut [u64]]) -> PartA {
        let np = self.policies.len();
        let mut part = PartA {
            counts: vec![0; np],
            bcount: vec![0; (end - start).div_ceil(BLOCK) * np],
            start,
            fix: vec![Vec::new(); np],
            scalar_blocks: vec![Vec::new(); np],
            errors: vec![Vec::new(); np],
            saved: vec![vec![0; (end - start).div_ceil(64)]; self.n_saved],
        };
        let mut ri: Vec<Vec<i64>> = vec![vec![0; BLOCK]; self.n_slots_ai];
        let mut rb: Vec<Vec<u64>> = vec![vec![0; BW]; self.n_slots_ab];
        let mut ovf = vec![false; self.nodes.len()];
        let a_nodes = self.sched_a.iter().filter_map(|s| match s {
            Step::Node(k) => Some(*k),
            Step::Emit(_) => None,
        });
        let reqs: Vec<SB> = self
            .emits
            .iter()
            .flat_map(|e| e.requires.iter().chain(&e.guard_any).copied())
            .collect();
        let (bcols, tcols) = self.block_columns(a_nodes, &reqs);
        let mut blk = BlockCols::new(cols.len());
        let mut acc = vec![0u64; BW];
        let mut b0 = start;
        while b0 < end {
            let len = (end - b0).min(BLOCK);
            let nw = len.div_ceil(64);
            let w0 = (b0 - start) / 64;
            let last = last_mask(len);
            blk.load(cols, &self.dict_len, &bcols, &tcols, b0, len);
            for step in &self.sched_a {
                match *step {
                    Step::Node(k) => {
                        let k = k as usize;
                        let d = Dense {
                            slot: &self.slot_a,
                            cols,
                            blk: &blk,
                            b0,
                            len,
                            saved: None,
                        };
                        ovf[k] = d.exec(
                            &self.nodes[k],
                            !self.may_ovf[k],
                            &self.mask_plan[k],
                            self.slot_a[k] as usize,
                            &mut ri,
                            &mut rb,
                        );
                        if let Some(sv) = part.saved.get_mut(self.saved_of[k] as usize) {
                            sv[w0..w0 + nw].copy_from_slice(&rb[self.slot_a[k] as usize][..nw]);
                        }
                    }
                    Step::Emit(ei) => {
                        let e = &self.emits[ei as usize];
                        let d = Dense {
                            slot: &self.slot_a,
                            cols,
                            blk: &blk,
                            b0,
                            len,
                            saved: None,
                        };
                        let trouble =
                            e.guard_ovf.iter().any(|n| ovf[*n as usize]) || e.guard_any.iter().any(|m| d.any(m, &rb));
                        let words = &mut oks[e.policy][w0..w0 + nw];
                        if trouble {
                            self.scalar_block(e.policy, input, b0, len, words, &mut part);
                            continue;
                        }
                        let acc = &mut acc[..nw];
                        acc.fill(!0);
                        acc[nw - 1] = last;
                        for r in &e.requires {
                            d.and_into(acc, r, &rb);
                        }
                        let mut cnt = 0usize;
                        for (w, a) in words.iter_mut().zip(acc.iter()) {
                            *w = *a;
                            cnt += a.count_ones() as usize;
                        }
                        part.counts[e.policy] += cnt;
                        part.bcount[(b0 - start) / BLOCK * np + e.policy] = cnt as u32;
                    }
                }
            }
            for &pi in &self.scalar {
                self.scalar_block(pi, input, b0, len, &mut oks[pi][w0..w0 + nw], &mut part);
            }
            b0 += len;
        }
        part
    }

    /// The exact evaluator on every row of a block: bits, counts, amounts kept aside for pass 2.
    fn scalar_block(&self, pi: usize, input: &BatchInput, b0: usize, len: usize, words: &mut [u64], part: &mut PartA) {
        let (p, params) = &self.policies[pi];
        words.fill(0);
        for r in 0..len {
            let row = b0 + r;
            match p.decide(&input.row_facts(row), params) {
                Ok((Tri::Yes, Some(a))) => {
                    words[r / 64] |= 1 << (r % 64);
                    part.fix[pi].push((row, a));
                    part.counts[pi] += 1;
                }
                Ok((Tri::Yes, None)) | Ok((Tri::Unknown, _)) => {
                    part.errors[pi].push((row, "缺少事实，无法判断".into()))
                }
                Ok((Tri::No, _)) => {}
                Err(e) => part.errors[pi].push((row, e.message)),
            }
        }
        part.scalar_blocks[pi].push((b0 / BLOCK) as u32);
        let np = self.policies.len();
        part.bcount[(b0 - part.start) / BLOCK * np + pi] = words.iter().map(|w| w.count_ones()).sum();
    }

    /// Pass 2 over rows `start..end`: the amounts of the eligible rows into `segs`, as each
    /// policy's plan says. Rows the vector path cannot decide go to the exact evaluator; their
    /// amounts (or failures) are returned aside and the storage keeps a placeholder.
    #[allow(clippy::too_many_arguments)]
    fn pass_b(
        &self,
        input: &BatchInput,
        cols: &[ColRef],
        start: usize,
        end: usize,
        oks: &[&mut [u64]],
        segs: &mut [Seg],
        pa: &PartA,
    ) -> PartB {
        let np = self.policies.len();
        let n = self.nodes.len();
        let mut part = PartB {
            fix: vec![Vec::new(); np],
            dropped: vec![Vec::new(); np],
            errors: vec![Vec::new(); np],
        };
        let is_general = |e: &Emit| matches!(e.plan, Plan::General { .. });
        // General plans: int nodes worth computing for whole blocks are those needed on average
        // at least once per row (summed over the policies whose amounts use them); their int
        // inputs follow. Bool nodes come from pass 1's bitsets.
        let rows_t = end - start;
        let mut demand = vec![0usize; n];
        for e in self.emits.iter().filter(|e| is_general(e)) {
            let c = pa.counts[e.policy];
            for k in &e.amt_cone {
                demand[*k as usize] += c;
            }
        }
        let mut dense = vec![false; n];
        for k in (0..n).rev() {
            if self.nodes[k].is_bool() {
                continue;
            }
            if demand[k] > 0 && demand[k] >= rows_t {
                dense[k] = true;
            }
            if dense[k] {
                for i in self.nodes[k].inputs() {
                    if !self.nodes[i as usize].is_bool() {
                        dense[i as usize] = true;
                    }
                }
            }
        }
        let dense_nodes: Vec<u32> = (0..n as u32).filter(|k| dense[*k as usize]).collect();
        let mut slot_b = vec![u32::MAX; n];
        for (j, &k) in dense_nodes.iter().enumerate() {
            slot_b[k as usize] = j as u32;
        }
        let (bcols, tcols) = self.block_columns(dense_nodes.iter().copied(), &[]);
        let progs: Vec<Vec<u32>> = self
            .emits
            .iter()
            .map(|e| {
                if !is_general(e) {
                    return Vec::new();
                }
                e.amt_cone
                    .iter()
                    .copied()
                    .filter(|k| !dense[*k as usize] && self.saved_of[*k as usize] == u32::MAX)
                    .collect()
            })
            .collect();
        let n_scratch = progs.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut ri: Vec<Vec<i64>> = vec![vec![0; BLOCK]; dense_nodes.len()];
        let mut rb: Vec<Vec<u64>> = Vec::new();
        let mut ovf = vec![false; n];
        let mut scratch: Vec<Vec<i64>> = vec![vec![0; BLOCK]; n_scratch];
        let mut spos = vec![0u32; n];
        let mut tmps: [Vec<i64>; 3] = [vec![0; BLOCK], vec![0; BLOCK], vec![0; BLOCK]];
        let mut idx: Vec<u32> = Vec::with_capacity(BLOCK);
        // one block's amounts of one policy, before they are appended to its storage
        let mut gbuf: Vec<i64> = vec![0; BLOCK];
        let mut nbuf: Vec<i32> = vec![0; BLOCK];
        let mut blk = BlockCols::new(cols.len());
        let mut sblk_cur = vec![0usize; np];
        // emit of each policy (scalar policies have none)
        let mut emit_of: Vec<Option<usize>> = vec![None; np];
        for (ei, e) in self.emits.iter().enumerate() {
            emit_of[e.policy] = Some(ei);
        }
        let mut b0 = start;
        while b0 < end {
            let len = (end - b0).min(BLOCK);
            let nw = len.div_ceil(64);
            let w0 = (b0 - start) / 64;
            let bi = (b0 / BLOCK) as u32;
            if !dense_nodes.is_empty() {
                blk.load(cols, &self.dict_len, &bcols, &tcols, b0, len);
                let d = Dense {
                    slot: &slot_b,
                    cols,
                    blk: &blk,
                    b0,
                    len,
                    saved: Some((&pa.saved, &self.saved_of, w0)),
                };
                for &k in &dense_nodes {
                    let k = k as usize;
                    ovf[k] = d.exec(
                        &self.nodes[k],
                        !self.may_ovf[k],
                        &self.mask_plan[k],
                        slot_b[k] as usize,
                        &mut ri,
                        &mut rb,
                    );
                }
            }
            for pi in 0..np {
                let m = pa.bcount[(b0 - start) / BLOCK * np + pi] as usize;
                if m == 0 {
                    continue;
                }
                let words = &oks[pi][w0..w0 + nw];
                let sb = &pa.scalar_blocks[pi];
                while sb.get(sblk_cur[pi]).is_some_and(|b| *b < bi) {
                    sblk_cur[pi] += 1;
                }
                if sb.get(sblk_cur[pi]) == Some(&bi) {
                    // decided by the exact evaluator in pass 1: placeholders here
                    sblk_cur[pi] += 1;
                    segs[pi].pad(m);
                    continue;
                }
                let Some(ei) = emit_of[pi] else {
                    continue; // unreachable: scalar policies only have scalar blocks
                };
                let e = &self.emits[ei];
                let saved_w = |r: u32| &pa.saved[self.saved_of[r as usize] as usize][w0..w0 + nw];
                let mut trouble = !is_general(e)
                    && e.amount_miss.iter().any(|mm| match mm {
                        SB::K(k) => *k,
                        SB::Reg(r) => saved_w(*r).iter().zip(words).any(|(a, b)| a & b != 0),
                        SB::Col(_) => true,
                    });
                if !trouble {
                    trouble = match (&e.plan, &mut segs[pi]) {
                        (Plan::Const(_), _) => false,
                        (Plan::ByBit { node, .. }, Seg::Bits(bits)) => {
                            for ((o, sv), w) in bits[w0..w0 + nw].iter_mut().zip(saved_w(*node)).zip(words) {
                                *o = sv & w;
                            }
                            false
                        }
                        (Plan::Coded { col, map, .. }, Seg::Codes(out)) => match cols[*col as usize] {
                            ColRef::T(codes) => {
                                let codes = &codes[b0..b0 + len];
                                for_each_set(words, |i| out.push(map[codes[i] as usize]));
                                false
                            }
                            _ => true,
                        },
                        (Plan::Fused(f), Seg::Wide(out)) => {
                            let ov = fused(f, cols, b0, len, words, &mut gbuf[..m], |v| v);
                            if !ov {
                                out.extend_from_slice(&gbuf[..m]);
                            }
                            ov
                        }
                        (Plan::Fused(f), Seg::Narrow(out)) => {
                            // the compiler proved every amount that does not overflow fits 32 bits
                            let ov = fused(f, cols, b0, len, words, &mut nbuf[..m], |v| v as i32);
                            if !ov {
                                out.extend_from_slice(&nbuf[..m]);
                            }
                            ov
                        }
                        (Plan::General { .. }, seg) => {
                            let out = &mut gbuf[..m];
                            let prog = &progs[ei];
                            idx.clear();
                            for_each_set(words, |i| idx.push(i as u32));
                            let mut trouble = e.amt_cone.iter().any(|k| dense[*k as usize] && ovf[*k as usize]);
                            for (j, &k) in prog.iter().enumerate() {
                                spos[k as usize] = j as u32;
                            }
                            let root = si_reg(&e.amount).filter(|r| prog.last() == Some(r));
                            if !trouble {
                                for (j, &k) in prog.iter().enumerate() {
                                    let mut buf = std::mem::take(&mut scratch[j]);
                                    let sp = Sparse {
                                        idx: &idx,
                                        b0,
                                        cols,
                                        dense: &dense,
                                        slot: &slot_b,
                                        ri: &ri,
                                        saved: &pa.saved,
                                        saved_of: &self.saved_of,
                                        sw0: w0,
                                        scratch: &scratch,
                                        spos: &spos,
                                    };
                                    // the amount itself goes straight into the result
                                    let o = if Some(k) == root { &mut *out } else { &mut buf[..m] };
                                    let ov = sp.exec(&self.nodes[k as usize], o, &mut tmps);
                                    scratch[j] = buf;
                                    if ov {
                                        trouble = true;
                                        break;
                                    }
                                }
                            }
                            let sp = Sparse {
                                idx: &idx,
                                b0,
                                cols,
                                dense: &dense,
                                slot: &slot_b,
                                ri: &ri,
                                saved: &pa.saved,
                                saved_of: &self.saved_of,
                                sw0: w0,
                                scratch: &scratch,
                                spos: &spos,
                            };
                            if !trouble {
                                for miss in &e.amount_miss {
                                    let [t0, ..] = &mut tmps;
                                    let any = match sp.gb(miss, t0) {
                                        Op::K(k) => k != 0,
                                        Op::S(v) | Op::G(v) => v[..m].iter().any(|x| *x != 0),
                                    };
                                    if any {
                                        trouble = true;
                                        break;
                                    }
                                }
                            }
                            if !trouble && root.is_none() {
                                sp.gather_into(&e.amount, out);
                            }
                            if !trouble {
                                match seg {
                                    Seg::Wide(o) => o.extend_from_slice(out),
                                    Seg::Narrow(o) => {
                                        let ns = &mut nbuf[..m];
                                        trouble = !narrow_into(out, ns);
                                        if !trouble {
                                            o.extend_from_slice(ns);
                                        }
                                    }
                                    _ => {}
                                }
                            }
                            trouble
                        }
                        _ => true, // unreachable: storage follows the plan
                    };
                }
                if !trouble {
                    continue;
                }
                // placeholders: the exact evaluator's amounts replace them
                segs[pi].pad(m);
                // Exact fallback for the eligible rows of this block.
                let (p, params) = &self.policies[pi];
                for_each_set(words, |r| {
                    let row = b0 + r;
                    match p.decide(&input.row_facts(row), params) {
                        Ok((Tri::Yes, Some(a))) => part.fix[pi].push((row, a)),
                        Ok((Tri::Yes, None)) | Ok((Tri::Unknown, _)) => {
                            part.errors[pi].push((row, "缺少事实，无法判断".into()));
                            part.dropped[pi].push(row);
                        }
                        Ok((Tri::No, _)) => part.dropped[pi].push(row),
                        Err(err) => {
                            part.errors[pi].push((row, err.message));
                            part.dropped[pi].push(row);
                        }
                    }
                });
            }
            b0 += len;
        }
        part
    }
}

/// Calls `f` with the position of every set bit of `words`, ascending.
#[inline(always)]
fn for_each_set(words: &[u64], mut f: impl FnMut(usize)) {
    for (w, word) in words.iter().enumerate() {
        let mut m = *word;
        while m != 0 {
            f(w * 64 + m.trailing_zeros() as usize);
            m &= m - 1;
        }
    }
}

/// Fills `out` in order with `f(i)` for the positions `i` of the set bits of `words`
/// (ascending); `out` has one slot per set bit (the block's count from pass 1), so the loop runs
/// over the slots and only moves to the next word when the current one is used up.
#[inline(always)]
fn for_each_slot<O>(words: &[u64], out: &mut [O], mut f: impl FnMut(usize) -> O) {
    let mut wi = 0usize;
    let mut m = words.first().copied().unwrap_or(0);
    for o in out.iter_mut() {
        while m == 0 {
            wi += 1;
            match words.get(wi) {
                Some(w) => m = *w,
                None => return, // fewer set bits than slots: cannot happen (counts are exact)
            }
        }
        let i = wi * 64 + m.trailing_zeros() as usize;
        m &= m - 1;
        *o = f(i);
    }
}

/// Copies amounts into 32-bit storage; false if one does not fit (then the block falls back).
fn narrow_into(src: &[i64], out: &mut [i32]) -> bool {
    let mut fits = true;
    for (o, v) in out.iter_mut().zip(src) {
        *o = *v as i32;
        fits &= *o as i64 == *v;
    }
    fits
}

/// One fused amount kernel over the eligible rows of a block (`words`): for each, `mul(x)`,
/// then `max(min(·, hi), lo)`, converted by `conv` into `out` (32-bit storage when the compiler
/// proved every amount fits). Returns whether a product overflowed (only possible when the
/// compiler could not rule it out from the column's range; `out` is then garbage).
fn fused<O: Copy>(
    f: &Fused,
    cols: &[ColRef],
    b0: usize,
    len: usize,
    words: &[u64],
    out: &mut [O],
    conv: impl Fn(i64) -> O,
) -> bool {
    let ColRef::I(src, _) = cols[f.src as usize] else {
        return true;
    };
    let src = &src[b0..b0 + len];
    let (hi, lo) = (f.hi, f.lo);
    // no overflow possible and every product ≥ 0
    let nonneg = f.nonneg && !f.check;
    #[inline(always)]
    fn run<O: Copy>(
        words: &[u64],
        src: &[i64],
        out: &mut [O],
        (hi, lo): (i64, i64),
        nonneg: bool,
        conv: impl Fn(i64) -> O,
        g: impl Fn(usize, i64) -> (i64, bool),
    ) -> bool {
        if hi >= 0 && nonneg {
            // products ≥ 0 and a cap ≥ 0: min and max by the sign of a difference that cannot
            // overflow, with no branch (whether the cap applies is unpredictable)
            if lo <= 0 {
                // min(p, hi) ≥ 0 ≥ lo already: no floor to apply (most capped amounts)
                for_each_slot(words, out, |i| {
                    let (p, _) = g(i, src[i]);
                    let d = p - hi;
                    conv(hi + (d & (d >> 63)))
                });
            } else {
                for_each_slot(words, out, |i| {
                    let (p, _) = g(i, src[i]);
                    let d = p - hi;
                    let m = hi + (d & (d >> 63));
                    let e = m - lo;
                    conv(lo + (e & !(e >> 63)))
                });
            }
            return false;
        }
        let mut ov = false;
        for_each_slot(words, out, |i| {
            let (p, o) = g(i, src[i]);
            ov |= o;
            conv(p.min(hi).max(lo))
        });
        ov
    }
    let hl = (hi, lo);
    match (&f.mul, f.check) {
        (Mul::One, _) => run(words, src, out, hl, nonneg, conv, |_, x| (x, false)),
        (Mul::K(k), false) => {
            let k = *k;
            run(words, src, out, hl, nonneg, conv, |_, x| (x.wrapping_mul(k), false))
        }
        (Mul::K(k), true) => {
            let k = *k;
            run(words, src, out, hl, nonneg, conv, |_, x| x.overflowing_mul(k))
        }
        (Mul::Rate(num, den), false) if f.nonneg => {
            // x × num cannot overflow and is ≥ 0: floor division by multiplication only
            let (num, dd) = (*num, *den as u64);
            let magic = (u64::MAX / dd) as u128;
            run(words, src, out, hl, nonneg, conv, |_, x| {
                let p = x.wrapping_mul(num) as u64;
                let q = ((p as u128 * magic) >> 64) as u64;
                ((q + (p - q * dd >= dd) as u64) as i64, false)
            })
        }
        (Mul::Rate(num, den), _) => {
            let g = rate_fn(*num, *den);
            run(words, src, out, hl, nonneg, conv, |_, x| g(x))
        }
        (Mul::Table(c, vals), check) => {
            let ColRef::T(codes) = cols[*c as usize] else {
                return true;
            };
            let codes = &codes[b0..b0 + len];
            let mut table = [0i64; 256];
            table[..vals.len()].copy_from_slice(vals);
            if check {
                run(words, src, out, hl, nonneg, conv, |i, x| {
                    x.overflowing_mul(table[codes[i] as usize])
                })
            } else {
                run(words, src, out, hl, nonneg, conv, |i, x| {
                    (x.wrapping_mul(table[codes[i] as usize]), false)
                })
            }
        }
    }
}

/// Words per block bitmask.
const BW: usize = BLOCK / 64;

fn last_mask(len: usize) -> u64 {
    match len % 64 {
        0 => !0,
        r => (1u64 << r) - 1,
    }
}

/// Runs `f` on every item on up to `threads` threads, each taking the next item from a shared
/// queue (inline for one thread or one item); results in item order.
fn par<T: Send, R: Send>(threads: usize, items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    use std::sync::Mutex;
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads.min(n))
            .map(|_| {
                s.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item was processed")
        })
        .collect()
}

/// `(0..n).map(f)` computed on up to `threads` threads (interleaved), in order.
fn par_map<R: Send>(threads: usize, n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let t = threads.clamp(1, n.max(1));
    let groups: Vec<Vec<usize>> = (0..t).map(|g| (g..n).step_by(t).collect()).collect();
    let mut parts: Vec<std::vec::IntoIter<R>> = par(t, groups, |g| g.into_iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .map(|v| v.into_iter())
        .collect();
    (0..n).filter_map(|i| parts[i % t].next()).collect()
}

/// What pass 1 of one thread hands to pass 2.
struct PartA {
    /// eligible rows per policy
    counts: Vec<usize>,
    /// eligible rows per block and policy (`block * policies + policy`, blocks of the chunk)
    bcount: Vec<u32>,
    /// first row of the chunk
    start: usize,
    /// rows and amounts decided by the exact evaluator (in row order), per policy
    fix: Vec<Vec<(usize, Fen)>>,
    /// blocks (global block number, ascending) decided by the exact evaluator, per policy
    scalar_blocks: Vec<Vec<u32>>,
    errors: Vec<Vec<(usize, String)>>,
    /// the saved bool nodes over the thread's rows
    saved: Vec<Vec<u64>>,
}

struct PartB {
    /// rows and amounts decided by the exact evaluator, per policy
    fix: Vec<Vec<(usize, Fen)>>,
    /// eligible rows whose amount failed (they leave the eligible set), per policy
    dropped: Vec<Vec<usize>>,
    errors: Vec<Vec<(usize, String)>>,
}

/// The amount storage of one policy over one chunk.
enum Store {
    None,
    Codes(Vec<u8>),
    Narrow(Vec<i32>),
    Wide(Vec<Fen>),
}

/// How a plan stores its amounts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    None,
    Bits,
    Codes,
    Narrow,
    Wide,
}

fn form_of(plan: &Option<Plan>) -> Form {
    match plan {
        None | Some(Plan::General { narrow: false }) => Form::Wide,
        Some(Plan::General { narrow: true }) => Form::Narrow,
        Some(Plan::Fused(f)) if f.narrow => Form::Narrow,
        Some(Plan::Fused(_)) => Form::Wide,
        Some(Plan::Coded { .. }) => Form::Codes,
        Some(Plan::ByBit { .. }) => Form::Bits,
        Some(Plan::Const(_)) => Form::None,
    }
}

/// One thread's part of a [`Store`] (amounts are appended in row order).
enum Seg<'a> {
    None,
    Bits(&'a mut [u64]),
    Codes(&'a mut Vec<u8>),
    Narrow(&'a mut Vec<i32>),
    Wide(&'a mut Vec<Fen>),
}

impl Seg<'_> {
    /// Placeholders for `m` eligible rows decided elsewhere (the exact evaluator).
    fn pad(&mut self, m: usize) {
        match self {
            Seg::Codes(v) => v.resize(v.len() + m, 0),
            Seg::Narrow(v) => v.resize(v.len() + m, 0),
            Seg::Wide(v) => v.resize(v.len() + m, 0),
            Seg::None | Seg::Bits(_) => {}
        }
    }
}

#[derive(Clone, Copy)]
enum ColRef<'a> {
    I(&'a [i64], Option<&'a Sat>),
    B(&'a [bool]),
    T(&'a [u8]),
    None,
}

/// The current block's bool columns as bitmasks and text columns as one bitmask per code.
struct BlockCols {
    bits: Vec<Vec<u64>>,
    onehot: Vec<Vec<u64>>,
}

impl BlockCols {
    fn new(ncols: usize) -> BlockCols {
        BlockCols {
            bits: vec![Vec::new(); ncols],
            onehot: vec![Vec::new(); ncols],
        }
    }
    fn load(&mut self, cols: &[ColRef], dict_len: &[usize], bools: &[u32], texts: &[u32], b0: usize, len: usize) {
        for &c in bools {
            if let ColRef::B(v) = cols[c as usize] {
                let out = &mut self.bits[c as usize];
                out.resize(BW, 0);
                pack_cmp(&mut out[..len.div_ceil(64)], &v[b0..b0 + len], |b| b);
            }
        }
        for &c in texts {
            if let ColRef::T(codes) = cols[c as usize] {
                let out = &mut self.onehot[c as usize];
                let d = dict_len[c as usize];
                out.clear();
                out.resize(d * BW, 0);
                let codes = &codes[b0..b0 + len];
                if d <= 8 {
                    // few codes: one vectorised comparison per code
                    for (code, o) in out.chunks_exact_mut(BW).enumerate() {
                        let code = code as u8;
                        pack_cmp(&mut o[..len.div_ceil(64)], codes, |x| x == code);
                    }
                } else {
                    for (i, code) in codes.iter().enumerate() {
                        out[*code as usize * BW + i / 64] |= 1u64 << (i % 64);
                    }
                }
            }
        }
    }
}

/// Bitsets saved by pass 1, the saved index of each node, and the block's first word.
type Saved<'b> = (&'b [Vec<u64>], &'b [u32], usize);

/// Whole-block evaluation: ints as `BLOCK` lanes, bools as `BW` bitmask words.
struct Dense<'a, 'b> {
    slot: &'b [u32],
    cols: &'b [ColRef<'a>],
    blk: &'b BlockCols,
    b0: usize,
    len: usize,
    /// pass 2: bool nodes come from the bitsets saved by pass 1 (bitsets, index per node, first word)
    saved: Option<Saved<'b>>,
}

#[derive(Clone, Copy)]
enum DI<'a> {
    S(&'a [i64]),
    K(i64),
}

#[derive(Clone, Copy)]
enum DB<'a> {
    W(&'a [u64]),
    K(bool),
}

impl<'a, 'b> Dense<'a, 'b> {
    fn gi<'c>(&'c self, s: &SI, ri: &'c [Vec<i64>]) -> DI<'c> {
        match s {
            SI::K(k) => DI::K(*k),
            SI::Reg(r) => DI::S(&ri[self.slot[*r as usize] as usize][..self.len]),
            SI::Col(c) => match self.cols[*c as usize] {
                ColRef::I(v, _) => DI::S(&v[self.b0..self.b0 + self.len]),
                _ => DI::K(0),
            },
        }
    }
    fn gb<'c>(&'c self, s: &SB, rb: &'c [Vec<u64>]) -> DB<'c> {
        let nw = self.len.div_ceil(64);
        match s {
            SB::K(k) => DB::K(*k),
            SB::Reg(r) => match self.saved {
                Some((sv, of, w0)) => DB::W(&sv[of[*r as usize] as usize][w0..w0 + nw]),
                None => DB::W(&rb[self.slot[*r as usize] as usize][..nw]),
            },
            SB::Col(c) => DB::W(&self.blk.bits[*c as usize][..nw]),
        }
    }
    /// Whether any row of the block has `s` set.
    fn any(&self, s: &SB, rb: &[Vec<u64>]) -> bool {
        match self.gb(s, rb) {
            DB::K(k) => k,
            DB::W(w) => {
                let n = w.len();
                w[..n - 1].iter().any(|x| *x != 0) || w[n - 1] & last_mask(self.len) != 0
            }
        }
    }
    fn and_into(&self, acc: &mut [u64], s: &SB, rb: &[Vec<u64>]) {
        match self.gb(s, rb) {
            DB::K(true) => {}
            DB::K(false) => acc.fill(0),
            DB::W(w) => acc.iter_mut().zip(w).for_each(|(a, x)| *a &= *x),
        }
    }

    /// `column op constant` on a saturated narrow copy of the column when the constant lies
    /// strictly inside the narrow range (then saturation cannot change the answer). False if
    /// the comparison has another shape.
    fn cmp_narrow(&self, o: &mut [u64], op: CmpOp, a: &SI, b: &SI) -> bool {
        let (op, c, k) = match (a, b) {
            (SI::Col(c), SI::K(k)) => (op, *c, *k),
            (SI::K(k), SI::Col(c)) => (flip(op), *c, *k),
            _ => return false,
        };
        let ColRef::I(_, Some(sat)) = self.cols[c as usize] else {
            return false;
        };
        let (b0, len) = (self.b0, self.len);
        macro_rules! go {
            ($v:expr, $k:expr) => {{
                let (v, k) = (&$v[b0..b0 + len], $k);
                match op {
                    CmpOp::Lt => pack_cmp(o, v, |x| x < k),
                    CmpOp::Le => pack_cmp(o, v, |x| x <= k),
                    CmpOp::Gt => pack_cmp(o, v, |x| x > k),
                    CmpOp::Ge => pack_cmp(o, v, |x| x >= k),
                    CmpOp::Eq => pack_cmp(o, v, |x| x == k),
                    CmpOp::Ne => pack_cmp(o, v, |x| x != k),
                }
            }};
        }
        if k > i16::MIN as i64 && k < i16::MAX as i64 {
            go!(sat.s16, k as i16);
        } else if k > i32::MIN as i64 && k < i32::MAX as i64 {
            go!(sat.s32, k as i32);
        } else {
            return false;
        }
        true
    }

    /// Runs one node into its register; returns whether any lane overflowed.
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        node: &Node,
        safe: bool,
        plan: &(bool, Vec<u8>),
        out_slot: usize,
        ri: &mut [Vec<i64>],
        rb: &mut [Vec<u64>],
    ) -> bool {
        let len = self.len;
        let nw = len.div_ceil(64);
        if node.is_bool() {
            let mut out = std::mem::take(&mut rb[out_slot]);
            {
                let o = &mut out[..nw];
                let ri: &[Vec<i64>] = ri;
                let rb: &[Vec<u64>] = rb;
                match node {
                    Node::Cmp(op, a, b) if self.cmp_narrow(o, *op, a, b) => {}
                    Node::Cmp(op @ (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge), a, b) if safe => {
                        // a − b cannot overflow (column ranges): the comparison is its sign bit,
                        // which vectorises (64-bit compares do not, on baseline x86-64)
                        let (a, b) = (self.gi(a, ri), self.gi(b, ri));
                        let (x, y, negate) = match op {
                            CmpOp::Lt => (a, b, false),
                            CmpOp::Ge => (a, b, true),
                            CmpOp::Gt => (b, a, false),
                            _ => (b, a, true),
                        };
                        let n = negate as u8;
                        let lt = |u: i64, v: i64| ((u.wrapping_sub(v) as u64 >> 63) as u8 ^ n) != 0;
                        match (x, y) {
                            (DI::S(x), DI::S(y)) => pack_cmp2(o, &x[..len], &y[..len], lt),
                            (DI::S(x), DI::K(y)) => pack_cmp(o, &x[..len], |u| lt(u, y)),
                            (DI::K(x), DI::S(y)) => pack_cmp(o, &y[..len], |v| lt(x, v)),
                            (DI::K(x), DI::K(y)) => o.fill(if lt(x, y) { !0 } else { 0 }),
                        }
                    }
                    Node::Cmp(op, a, b) => {
                        let (a, b) = (self.gi(a, ri), self.gi(b, ri));
                        match op {
                            CmpOp::Lt => cmp_bits(o, a, b, len, |x, y| x < y),
                            CmpOp::Le => cmp_bits(o, a, b, len, |x, y| x <= y),
                            CmpOp::Gt => cmp_bits(o, a, b, len, |x, y| x > y),
                            CmpOp::Ge => cmp_bits(o, a, b, len, |x, y| x >= y),
                            CmpOp::Eq => cmp_bits(o, a, b, len, |x, y| x == y),
                            CmpOp::Ne => cmp_bits(o, a, b, len, |x, y| x != y),
                        }
                    }
                    Node::And(a, b) | Node::Or(a, b) => {
                        let is_and = matches!(node, Node::And(..));
                        match (self.gb(a, rb), self.gb(b, rb)) {
                            (DB::W(x), DB::W(y)) => {
                                for ((o, x), y) in o.iter_mut().zip(x).zip(y) {
                                    *o = if is_and { x & y } else { x | y };
                                }
                            }
                            (DB::W(x), DB::K(k)) | (DB::K(k), DB::W(x)) => match (is_and, k) {
                                (true, true) | (false, false) => o.copy_from_slice(x),
                                (true, false) => o.fill(0),
                                (false, true) => o.fill(!0),
                            },
                            (DB::K(x), DB::K(y)) => {
                                o.fill(if is_and && x && y || !is_and && (x || y) { !0 } else { 0 })
                            }
                        }
                    }
                    Node::Not(a) => match self.gb(a, rb) {
                        DB::W(x) => o.iter_mut().zip(x).for_each(|(o, x)| *o = !x),
                        DB::K(k) => o.fill(if k { 0 } else { !0 }),
                    },
                    Node::Mask(c, _) => {
                        let oh = &self.blk.onehot[*c as usize];
                        let (neg, codes) = plan;
                        o.fill(0);
                        for code in codes {
                            let src = &oh[*code as usize * BW..*code as usize * BW + nw];
                            o.iter_mut().zip(src).for_each(|(o, x)| *o |= x);
                        }
                        if *neg {
                            o.iter_mut().for_each(|x| *x = !*x);
                        }
                    }
                    Node::SelB(c, a, b) => {
                        let w = |s: DB, i: usize| match s {
                            DB::W(v) => v[i],
                            DB::K(k) => {
                                if k {
                                    !0
                                } else {
                                    0
                                }
                            }
                        };
                        let (c, a, b) = (self.gb(c, rb), self.gb(a, rb), self.gb(b, rb));
                        for (i, o) in o.iter_mut().enumerate() {
                            let cw = w(c, i);
                            *o = (cw & w(a, i)) | (!cw & w(b, i));
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
                let rb: &[Vec<u64>] = rb;
                ov = match node {
                    Node::Bin(op, a, b) if safe => bin_safe(o, *op, self.gi(a, ri), self.gi(b, ri)),
                    Node::Bin(op, a, b) => bin_i(o, *op, self.gi(a, ri), self.gi(b, ri)),
                    Node::MulRate(a, num, den) => mul_rate(o, self.gi(a, ri), *num, *den),
                    Node::Neg(a) => map2_i(o, self.gi(a, ri), DI::K(0), |x, _| x.overflowing_neg()),
                    Node::LookupI(c, vals) => {
                        if let ColRef::T(codes) = self.cols[*c as usize] {
                            let mut table = [0i64; 256];
                            table[..vals.len()].copy_from_slice(vals);
                            o.iter_mut()
                                .zip(&codes[self.b0..self.b0 + len])
                                .for_each(|(o, c)| *o = table[*c as usize]);
                        }
                        false
                    }
                    Node::SelI(c, a, b) => {
                        let c = self.gb(c, rb);
                        let (a, b) = (self.gi(a, ri), self.gi(b, ri));
                        for (i, o) in o.iter_mut().enumerate() {
                            let bit = match c {
                                DB::W(w) => w[i / 64] >> (i % 64) & 1 == 1,
                                DB::K(k) => k,
                            };
                            let src = if bit { a } else { b };
                            *o = match src {
                                DI::S(s) => s[i],
                                DI::K(k) => k,
                            };
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
}

/// Bitmask words of `f(a[i], b[i])` for `len` lanes.
#[inline(always)]
fn cmp_bits(out: &mut [u64], a: DI, b: DI, len: usize, f: impl Fn(i64, i64) -> bool) {
    match (a, b) {
        (DI::S(x), DI::K(y)) => pack_cmp(out, &x[..len], |v| f(v, y)),
        (DI::K(x), DI::S(y)) => pack_cmp(out, &y[..len], |v| f(x, v)),
        (DI::S(x), DI::S(y)) => pack_cmp2(out, &x[..len], &y[..len], f),
        (DI::K(x), DI::K(y)) => out.fill(if f(x, y) { !0 } else { 0 }),
    }
}

/// Packs 64 bytes of 0/1 into one word (byte `i` → bit `i`): each multiplication gathers the
/// low bits of eight bytes into the top byte (the partial products never collide).
#[inline(always)]
fn pack64(b: &[u8; 64]) -> u64 {
    let mut m = 0u64;
    for (i, ch) in b.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes([ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6], ch[7]]);
        m |= (w.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    m
}

/// Bitmask words of `f(x[i])`: the comparisons go to a byte array first (a loop the compiler
/// vectorises), then eight bytes per multiplication into bits.
#[inline(always)]
fn pack_cmp<T: Copy>(out: &mut [u64], x: &[T], f: impl Fn(T) -> bool) {
    let mut bytes = [0u8; 64];
    for (o, ch) in out.iter_mut().zip(x.chunks(64)) {
        if ch.len() < 64 {
            bytes.fill(0);
        }
        for (b, v) in bytes.iter_mut().zip(ch) {
            *b = f(*v) as u8;
        }
        *o = pack64(&bytes);
    }
}

#[inline(always)]
fn pack_cmp2<T: Copy>(out: &mut [u64], x: &[T], y: &[T], f: impl Fn(T, T) -> bool) {
    let mut bytes = [0u8; 64];
    for ((o, cx), cy) in out.iter_mut().zip(x.chunks(64)).zip(y.chunks(64)) {
        if cx.len() < 64 {
            bytes.fill(0);
        }
        for ((b, u), v) in bytes.iter_mut().zip(cx).zip(cy) {
            *b = f(*u, *v) as u8;
        }
        *o = pack64(&bytes);
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

/// out[i] = f(a[i], b[i]); returns whether any lane overflowed.
#[inline(always)]
fn map2_i(out: &mut [i64], a: DI, b: DI, f: impl Fn(i64, i64) -> (i64, bool)) -> bool {
    let mut ov = false;
    match (a, b) {
        (DI::S(x), DI::S(y)) => {
            for ((o, x), y) in out.iter_mut().zip(x).zip(y) {
                let (v, f1) = f(*x, *y);
                *o = v;
                ov |= f1;
            }
        }
        (DI::S(x), DI::K(y)) => {
            for (o, x) in out.iter_mut().zip(x) {
                let (v, f1) = f(*x, y);
                *o = v;
                ov |= f1;
            }
        }
        (DI::K(x), DI::S(y)) => {
            for (o, y) in out.iter_mut().zip(y) {
                let (v, f1) = f(x, *y);
                *o = v;
                ov |= f1;
            }
        }
        (DI::K(x), DI::K(y)) => {
            let (v, f1) = f(x, y);
            out.fill(v);
            ov = f1;
        }
    }
    ov
}

/// [`bin_i`] for a node that cannot overflow (proved from the column ranges).
fn bin_safe(o: &mut [i64], op: IOp, a: DI, b: DI) -> bool {
    match op {
        IOp::Add => map2_i(o, a, b, |x, y| (x.wrapping_add(y), false)),
        IOp::Sub => map2_i(o, a, b, |x, y| (x.wrapping_sub(y), false)),
        IOp::Mul => map2_i(o, a, b, |x, y| (x.wrapping_mul(y), false)),
        IOp::Min => map2_i(o, a, b, |x, y| (x.min(y), false)),
        IOp::Max => map2_i(o, a, b, |x, y| (x.max(y), false)),
    }
}

fn bin_i(o: &mut [i64], op: IOp, a: DI, b: DI) -> bool {
    match op {
        IOp::Add => map2_i(o, a, b, |x, y| x.overflowing_add(y)),
        IOp::Sub => map2_i(o, a, b, |x, y| x.overflowing_sub(y)),
        IOp::Mul => map2_i(o, a, b, |x, y| x.overflowing_mul(y)),
        IOp::Min => map2_i(o, a, b, |x, y| (x.min(y), false)),
        IOp::Max => map2_i(o, a, b, |x, y| (x.max(y), false)),
    }
}

/// floor(a × num / den), exact; overflow of a × num is reported.
fn mul_rate(o: &mut [i64], a: DI, num: i64, den: i64) -> bool {
    // floor(p / den) without a hardware division for p >= 0:
    // q = mulhi(p, floor(2^64 / den)) is floor(p/den) or one less; one correction.
    let magic = (u64::MAX / den as u64) as u128;
    let dd = den as u64;
    map2_i(o, a, DI::K(0), |x, _| {
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

/// Evaluation over the eligible rows of one policy in one block only (`idx`: row offsets in
/// the block, ascending); bools as 0/1.
struct Sparse<'a, 'b> {
    idx: &'b [u32],
    b0: usize,
    cols: &'b [ColRef<'a>],
    /// int nodes computed for the whole block in pass 2, and their registers
    dense: &'b [bool],
    slot: &'b [u32],
    ri: &'b [Vec<i64>],
    /// bool nodes saved by pass 1 (bitsets over the thread's rows), and the block's first word
    saved: &'b [Vec<u64>],
    saved_of: &'b [u32],
    sw0: usize,
    scratch: &'b [Vec<i64>],
    spos: &'b [u32],
}

/// An operand over the eligible rows: a block-long slice read through `idx`, one value per
/// eligible row, or a constant.
#[derive(Clone, Copy)]
enum Op<'a> {
    G(&'a [i64]),
    S(&'a [i64]),
    K(i64),
}

trait Src: Copy {
    fn at(self, j: usize) -> i64;
}
#[derive(Clone, Copy)]
struct Gat<'a>(&'a [i64], &'a [u32]);
impl Src for Gat<'_> {
    #[inline(always)]
    fn at(self, j: usize) -> i64 {
        self.0[self.1[j] as usize]
    }
}
#[derive(Clone, Copy)]
struct Seq<'a>(&'a [i64]);
impl Src for Seq<'_> {
    #[inline(always)]
    fn at(self, j: usize) -> i64 {
        self.0[j]
    }
}
#[derive(Clone, Copy)]
struct Kon(i64);
impl Src for Kon {
    #[inline(always)]
    fn at(self, _: usize) -> i64 {
        self.0
    }
}

#[inline(always)]
fn zip2<A: Src, B: Src>(o: &mut [i64], a: A, b: B, f: impl Fn(usize, i64, i64) -> (i64, bool)) -> bool {
    let mut ov = false;
    for (j, o) in o.iter_mut().enumerate() {
        let (v, f1) = f(j, a.at(j), b.at(j));
        *o = v;
        ov |= f1;
    }
    ov
}

/// `o[j] = f(j, a[j], b[j])` over the eligible rows, monomorphised per operand kind; returns
/// whether any lane overflowed.
#[inline(always)]
fn apply2(o: &mut [i64], idx: &[u32], a: Op, b: Op, f: impl Fn(usize, i64, i64) -> (i64, bool)) -> bool {
    match (a, b) {
        (Op::G(x), Op::G(y)) => zip2(o, Gat(x, idx), Gat(y, idx), f),
        (Op::G(x), Op::S(y)) => zip2(o, Gat(x, idx), Seq(y), f),
        (Op::G(x), Op::K(y)) => zip2(o, Gat(x, idx), Kon(y), f),
        (Op::S(x), Op::G(y)) => zip2(o, Seq(x), Gat(y, idx), f),
        (Op::S(x), Op::S(y)) => zip2(o, Seq(x), Seq(y), f),
        (Op::S(x), Op::K(y)) => zip2(o, Seq(x), Kon(y), f),
        (Op::K(x), Op::G(y)) => zip2(o, Kon(x), Gat(y, idx), f),
        (Op::K(x), Op::S(y)) => zip2(o, Kon(x), Seq(y), f),
        (Op::K(x), Op::K(y)) => zip2(o, Kon(x), Kon(y), f),
    }
}

/// floor(x × num / den) for one value (see [`mul_rate`]).
#[inline(always)]
fn rate_fn(num: i64, den: i64) -> impl Fn(i64) -> (i64, bool) {
    let magic = (u64::MAX / den as u64) as u128;
    let dd = den as u64;
    move |x| {
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
    }
}

fn cmp_fn(op: CmpOp) -> fn(i64, i64) -> bool {
    match op {
        CmpOp::Lt => |x, y| x < y,
        CmpOp::Le => |x, y| x <= y,
        CmpOp::Gt => |x, y| x > y,
        CmpOp::Ge => |x, y| x >= y,
        CmpOp::Eq => |x, y| x == y,
        CmpOp::Ne => |x, y| x != y,
    }
}

impl<'a, 'b> Sparse<'a, 'b> {
    fn m(&self) -> usize {
        self.idx.len()
    }
    fn gi(&self, s: &SI) -> Op<'_> {
        match s {
            SI::K(k) => Op::K(*k),
            SI::Col(c) => match self.cols[*c as usize] {
                ColRef::I(v, _) => Op::G(&v[self.b0..]),
                _ => Op::K(0),
            },
            SI::Reg(r) => {
                let r = *r as usize;
                if self.dense[r] {
                    Op::G(&self.ri[self.slot[r] as usize])
                } else {
                    Op::S(&self.scratch[self.spos[r] as usize][..self.m()])
                }
            }
        }
    }
    /// A bool operand as 0/1 values (gathered into `tmp` unless constant or computed here).
    fn gb<'c>(&'c self, s: &SB, tmp: &'c mut [i64]) -> Op<'c> {
        let m = self.m();
        match s {
            SB::K(k) => Op::K(*k as i64),
            SB::Col(c) => match self.cols[*c as usize] {
                ColRef::B(v) => {
                    let v = &v[self.b0..];
                    for (t, i) in tmp.iter_mut().zip(self.idx) {
                        *t = v[*i as usize] as i64;
                    }
                    Op::S(&tmp[..m])
                }
                _ => Op::K(0),
            },
            SB::Reg(r) => {
                let r = *r as usize;
                match self.saved_of[r] {
                    u32::MAX => Op::S(&self.scratch[self.spos[r] as usize][..m]),
                    s => {
                        let w = &self.saved[s as usize][self.sw0..];
                        for (t, i) in tmp.iter_mut().zip(self.idx) {
                            *t = (w[*i as usize / 64] >> (*i % 64) & 1) as i64;
                        }
                        Op::S(&tmp[..m])
                    }
                }
            }
        }
    }

    /// A value into `o` (one per eligible row).
    fn gather_into(&self, s: &SI, o: &mut [i64]) {
        match self.gi(s) {
            Op::K(k) => o.fill(k),
            Op::S(v) => o.copy_from_slice(&v[..o.len()]),
            Op::G(v) => o.iter_mut().zip(self.idx).for_each(|(o, i)| *o = v[*i as usize]),
        }
    }

    /// Runs one node for the eligible rows into `o`; returns whether any lane overflowed.
    fn exec(&self, node: &Node, o: &mut [i64], tmps: &mut [Vec<i64>; 3]) -> bool {
        let idx = self.idx;
        let [t0, t1, t2] = tmps;
        let codes_of = |c: &u32| match self.cols[*c as usize] {
            ColRef::T(codes) => &codes[self.b0..],
            _ => &[][..],
        };
        match node {
            Node::Bin(op, a, b) => {
                let (a, b) = (self.gi(a), self.gi(b));
                match op {
                    IOp::Add => apply2(o, idx, a, b, |_, x, y| x.overflowing_add(y)),
                    IOp::Sub => apply2(o, idx, a, b, |_, x, y| x.overflowing_sub(y)),
                    IOp::Mul => apply2(o, idx, a, b, |_, x, y| x.overflowing_mul(y)),
                    IOp::Min => apply2(o, idx, a, b, |_, x, y| (x.min(y), false)),
                    IOp::Max => apply2(o, idx, a, b, |_, x, y| (x.max(y), false)),
                }
            }
            Node::MulRate(a, num, den) => {
                let f = rate_fn(*num, *den);
                apply2(o, idx, self.gi(a), Op::K(0), |_, x, _| f(x))
            }
            Node::Neg(a) => apply2(o, idx, self.gi(a), Op::K(0), |_, x, _| x.overflowing_neg()),
            Node::LookupI(c, vals) => {
                let codes = codes_of(c);
                for (o, i) in o.iter_mut().zip(idx) {
                    *o = vals.get(codes[*i as usize] as usize).copied().unwrap_or(0);
                }
                false
            }
            Node::Mask(c, m) => {
                let codes = codes_of(c);
                for (o, i) in o.iter_mut().zip(idx) {
                    *o = m.get(codes[*i as usize] as usize).copied().unwrap_or(0) as i64;
                }
                false
            }
            Node::Cmp(op, a, b) => {
                let f = cmp_fn(*op);
                apply2(o, idx, self.gi(a), self.gi(b), |_, x, y| (f(x, y) as i64, false))
            }
            Node::And(a, b) => apply2(o, idx, self.gb(a, t0), self.gb(b, t1), |_, x, y| (x & y, false)),
            Node::Or(a, b) => apply2(o, idx, self.gb(a, t0), self.gb(b, t1), |_, x, y| (x | y, false)),
            Node::Not(a) => apply2(o, idx, self.gb(a, t0), Op::K(0), |_, x, _| (x ^ 1, false)),
            Node::SelI(c, a, b) => {
                let c = self.gb(c, t0);
                let (a, b) = (self.gi(a), self.gi(b));
                sel(o, idx, c, a, b)
            }
            Node::SelB(c, a, b) => {
                let c = self.gb(c, t0);
                let (a, b) = (self.gb(a, t1), self.gb(b, t2));
                sel(o, idx, c, a, b)
            }
        }
    }
}

fn sel(o: &mut [i64], idx: &[u32], c: Op, a: Op, b: Op) -> bool {
    match c {
        Op::K(k) => apply2(o, idx, if k != 0 { a } else { b }, Op::K(0), |_, x, _| (x, false)),
        Op::S(c) => apply2(o, idx, a, b, |j, x, y| (if c[j] != 0 { x } else { y }, false)),
        Op::G(c) => apply2(o, idx, a, b, |j, x, y| {
            (if c[idx[j] as usize] != 0 { x } else { y }, false)
        }),
    }
}
