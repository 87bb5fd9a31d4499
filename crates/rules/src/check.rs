//! Name resolution and type checking: AST → typed IR ([`Policy`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::{codes, Pos, RuleError};
use crate::lexer::lex;
use crate::parser::{normalised, BinOp, Decl, Expr, ExprKind, Parser};
use crate::schema::FactSchema;
use crate::value::{Type, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub(crate) fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Gt => o == Greater,
            CmpOp::Ge => o != Less,
            CmpOp::Eq => o == Equal,
            CmpOp::Ne => o != Equal,
        }
    }
}

/// Typed expression.
#[derive(Clone, Debug)]
pub(crate) struct TE {
    pub kind: TK,
    pub ty: Type,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub(crate) enum TK {
    Const(Value),
    Fact(usize),
    Param(usize),
    Let(usize),
    Neg(Box<TE>),
    Not(Box<TE>),
    Arith(Arith, Box<TE>, Box<TE>),
    Cmp(CmpOp, Box<TE>, Box<TE>),
    And(Box<TE>, Box<TE>),
    Or(Box<TE>, Box<TE>),
    In(Box<TE>, Box<TE>),
    Index(Box<TE>, Box<TE>),
    If(Box<TE>, Box<TE>, Box<TE>),
    Min(Vec<TE>),
    Max(Vec<TE>),
    Floor(Box<TE>),
}

/// A fact referenced by a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactRef {
    pub name: String,
    pub ty: Type,
    pub unit: Option<String>,
}

/// A parameter with its default value.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDef {
    pub name: String,
    pub ty: Type,
    pub default: Value,
    /// Declared in the schema's shared prelude rather than in the policy.
    pub from_prelude: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct LetDef {
    #[allow(dead_code)]
    pub name: String,
    pub expr: TE,
}

#[derive(Clone, Debug)]
pub(crate) struct RequireDef {
    pub label: String,
    pub expr: TE,
    /// Facts this condition depends on (through lets too), in order of first use.
    pub facts: Vec<usize>,
}

/// A compiled, type-checked policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) inner: Arc<PolicyInner>,
}

#[derive(Debug)]
pub(crate) struct PolicyInner {
    pub key: String,
    pub title: String,
    pub facts: Vec<FactRef>,
    pub params: Vec<ParamDef>,
    pub lets: Vec<LetDef>,
    pub requires: Vec<RequireDef>,
    pub amount: Option<TE>,
    pub amount_facts: Vec<usize>,
    pub normalised_source: String,
    /// SM3 of the normalised source with the default parameter values.
    pub default_hash: String,
}

/// Values that replace parameter defaults at evaluation time (budget simulation, bench).
/// Names a policy does not declare are ignored, so one set of overrides can serve many policies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamOverrides {
    pub(crate) values: BTreeMap<String, Value>,
}

impl ParamOverrides {
    pub fn new() -> ParamOverrides {
        ParamOverrides::default()
    }
    pub fn set(mut self, name: &str, value: Value) -> ParamOverrides {
        self.values.insert(name.to_string(), value);
        self
    }
    pub fn insert(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[derive(Clone)]
enum Binding {
    Let(usize),
    Param(usize),
}

struct Checker<'a> {
    schema: &'a FactSchema,
    facts: Vec<FactRef>,
    fact_index: HashMap<String, usize>,
    params: Vec<ParamDef>,
    lets: Vec<LetDef>,
    let_facts: Vec<Vec<usize>>,
    names: HashMap<String, Binding>,
    in_prelude: bool,
    errors: Vec<RuleError>,
}

fn tmis(pos: Pos, msg: impl Into<String>) -> RuleError {
    RuleError::at(codes::TYPE_MISMATCH, pos, msg)
}

/// Compiles a policy against a schema (and the schema's prelude). Never panics.
pub fn compile(source: &str, schema: &FactSchema) -> Result<Policy, Vec<RuleError>> {
    let mut ck = Checker {
        schema,
        facts: Vec::new(),
        fact_index: HashMap::new(),
        params: Vec::new(),
        lets: Vec::new(),
        let_facts: Vec::new(),
        names: HashMap::new(),
        in_prelude: true,
        errors: Vec::new(),
    };
    let mut norm = String::new();
    // Prelude.
    if !schema.prelude().trim().is_empty() {
        let decls = match lex(schema.prelude()).and_then(|t| {
            norm.push_str(&normalised(&t));
            norm.push('\n');
            Parser::new(t).parse_file()
        }) {
            Ok(d) => d,
            Err(mut e) => {
                e.message = format!("共用前言：{}", e.message);
                return Err(vec![e]);
            }
        };
        for d in decls {
            ck.decl(d, &mut None, &mut Vec::new(), &mut None);
        }
        if !ck.errors.is_empty() {
            for e in &mut ck.errors {
                e.message = format!("共用前言：{}", e.message);
            }
            return Err(ck.errors);
        }
    }
    ck.in_prelude = false;
    let toks = lex(source).map_err(|e| vec![e])?;
    norm.push_str(&normalised(&toks));
    let decls = Parser::new(toks).parse_file().map_err(|e| vec![e])?;
    let mut header: Option<(String, String)> = None;
    let mut requires = Vec::new();
    let mut amount: Option<(TE, Vec<usize>)> = None;
    for d in decls {
        ck.decl(d, &mut header, &mut requires, &mut amount);
    }
    if header.is_none() {
        ck.errors.push(RuleError::at(
            codes::MISSING_POLICY,
            Pos { line: 1, col: 1 },
            "缺少政策声明：请以 policy 标识 \"名称\" 开头",
        ));
    }
    if !ck.errors.is_empty() {
        return Err(ck.errors);
    }
    let (key, title) = header.unwrap_or_default();
    let (amount, amount_facts) = match amount {
        Some((a, f)) => (Some(a), f),
        None => (None, Vec::new()),
    };
    let mut inner = PolicyInner {
        key,
        title,
        facts: ck.facts,
        params: ck.params,
        lets: ck.lets,
        requires,
        amount,
        amount_facts,
        normalised_source: norm,
        default_hash: String::new(),
    };
    let defaults: Vec<Value> = inner.params.iter().map(|p| p.default.clone()).collect();
    inner.default_hash = crate::eval::hash_of(&inner, &defaults);
    Ok(Policy { inner: Arc::new(inner) })
}

impl<'a> Checker<'a> {
    fn decl(
        &mut self,
        d: Decl,
        header: &mut Option<(String, String)>,
        requires: &mut Vec<RequireDef>,
        amount: &mut Option<(TE, Vec<usize>)>,
    ) {
        match d {
            Decl::Policy { key, title, pos } => {
                if self.in_prelude {
                    self.errors
                        .push(RuleError::at(codes::SYNTAX, pos, "共用前言中不能声明 policy"));
                } else if header.is_some() {
                    self.errors
                        .push(RuleError::at(codes::DUPLICATE, pos, "policy 只能声明一次"));
                } else {
                    *header = Some((key, title));
                }
            }
            Decl::Param { name, ty, value, pos } => {
                if !self.fresh_name(&name, pos) {
                    return;
                }
                let Some(v) = self.const_value(&value, &ty) else { return };
                self.names.insert(name.clone(), Binding::Param(self.params.len()));
                self.params.push(ParamDef {
                    name,
                    ty,
                    default: v,
                    from_prelude: self.in_prelude,
                });
            }
            Decl::Let { name, value, pos } => {
                if !self.fresh_name(&name, pos) {
                    return;
                }
                let Some(te) = self.expr(&value) else { return };
                if matches!(te.ty, Type::Set | Type::Table(_)) {
                    self.errors
                        .push(tmis(value.pos, "let 的值不能是集合或表；请改用 param"));
                    return;
                }
                let mut fs = Vec::new();
                self.collect_facts(&te, &mut fs);
                self.names.insert(name.clone(), Binding::Let(self.lets.len()));
                self.lets.push(LetDef { name, expr: te });
                self.let_facts.push(fs);
            }
            Decl::Require { label, cond, pos } => {
                if self.in_prelude {
                    self.errors
                        .push(RuleError::at(codes::SYNTAX, pos, "共用前言中不能写 require"));
                    return;
                }
                let Some(te) = self.expr(&cond) else { return };
                if te.ty != Type::Bool {
                    self.errors
                        .push(tmis(cond.pos, format!("条件“{label}”应为 bool，却是 {}", te.ty)));
                    return;
                }
                let mut fs = Vec::new();
                self.collect_facts(&te, &mut fs);
                requires.push(RequireDef {
                    label,
                    expr: te,
                    facts: fs,
                });
            }
            Decl::Amount { value, pos } => {
                if self.in_prelude {
                    self.errors
                        .push(RuleError::at(codes::SYNTAX, pos, "共用前言中不能写 amount"));
                    return;
                }
                if amount.is_some() {
                    self.errors
                        .push(RuleError::at(codes::DUPLICATE, pos, "amount 只能声明一次"));
                    return;
                }
                let Some(te) = self.expr(&value) else { return };
                let te = coerce_zero(te, &Type::Money);
                if te.ty != Type::Money {
                    self.errors
                        .push(tmis(value.pos, format!("amount 应为 money（金额），却是 {}", te.ty)));
                    return;
                }
                let mut fs = Vec::new();
                self.collect_facts(&te, &mut fs);
                *amount = Some((te, fs));
            }
        }
    }

    fn fresh_name(&mut self, name: &str, pos: Pos) -> bool {
        if self.names.contains_key(name) {
            self.errors
                .push(RuleError::at(codes::DUPLICATE, pos, format!("名称“{name}”已经定义过")));
            return false;
        }
        if self.schema.lookup(name).is_some() {
            self.errors.push(RuleError::at(
                codes::DUPLICATE,
                pos,
                format!("名称“{name}”与事实同名，请换一个名称"),
            ));
            return false;
        }
        true
    }

    fn collect_facts(&self, te: &TE, out: &mut Vec<usize>) {
        walk(te, &mut |e| match &e.kind {
            TK::Fact(i) if !out.contains(i) => out.push(*i),
            TK::Let(l) => {
                for i in &self.let_facts[*l] {
                    if !out.contains(i) {
                        out.push(*i)
                    }
                }
            }
            _ => {}
        });
    }

    /// A constant parameter value of the declared type.
    fn const_value(&mut self, e: &Expr, ty: &Type) -> Option<Value> {
        let bad = |this: &mut Self, msg: String| {
            this.errors.push(RuleError::at(codes::BAD_PARAM, e.pos, msg));
            None
        };
        match (&e.kind, ty) {
            (ExprKind::SetLit(items), Type::Table(_)) if items.is_empty() => {
                Some(Value::Table(Arc::new(BTreeMap::new())))
            }
            (ExprKind::SetLit(items), Type::Set) => {
                let mut s = BTreeSet::new();
                for it in items {
                    match &it.kind {
                        ExprKind::Text(t) => {
                            s.insert(t.clone());
                        }
                        _ => return bad(self, "集合的元素必须是带引号的文字".into()),
                    }
                }
                Some(Value::Set(Arc::new(s)))
            }
            (ExprKind::TableLit(entries), Type::Table(inner)) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    let ExprKind::Text(k) = &k.kind else {
                        return bad(self, "表的键必须是带引号的文字".into());
                    };
                    let v = self.const_value(v, inner)?;
                    if m.insert(k.clone(), v).is_some() {
                        return bad(self, format!("表中的键“{k}”重复"));
                    }
                }
                Some(Value::Table(Arc::new(m)))
            }
            _ => {
                let te = self.expr(e)?;
                let te = coerce_zero(te, ty);
                if &te.ty != ty {
                    return bad(self, format!("参数应为 {ty}，却是 {}", te.ty));
                }
                match crate::eval::eval_const(&te) {
                    Some(v) => Some(v),
                    None => bad(self, "参数的值必须是常量（字面量或常量表达式）".into()),
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr) -> Option<TE> {
        match self.expr_r(e) {
            Ok(te) => Some(te),
            Err(err) => {
                self.errors.push(err);
                None
            }
        }
    }

    fn expr_r(&mut self, e: &Expr) -> Result<TE, RuleError> {
        let pos = e.pos;
        let mk = |kind: TK, ty: Type| TE { kind, ty, pos };
        Ok(match &e.kind {
            ExprKind::Int(i) => mk(TK::Const(Value::Int(*i)), Type::Int),
            ExprKind::Money(m) => mk(TK::Const(Value::Money(*m)), Type::Money),
            ExprKind::Rate(r) => mk(TK::Const(Value::Rate(*r)), Type::Rate),
            ExprKind::Text(s) => mk(TK::Const(Value::Text(s.clone())), Type::Text),
            ExprKind::Bool(b) => mk(TK::Const(Value::Bool(*b)), Type::Bool),
            ExprKind::Name(n) => self.resolve(n, pos)?,
            ExprKind::SetLit(items) => {
                let mut s = BTreeSet::new();
                for it in items {
                    match &it.kind {
                        ExprKind::Text(t) => {
                            s.insert(t.clone());
                        }
                        _ => return Err(tmis(it.pos, "集合的元素必须是带引号的文字")),
                    }
                }
                mk(TK::Const(Value::Set(Arc::new(s))), Type::Set)
            }
            ExprKind::TableLit(_) => {
                return Err(tmis(
                    pos,
                    "表字面量只能用作参数的值（param 名称: table[text -> T] = {...}）",
                ))
            }
            ExprKind::Neg(x) => {
                let x = self.expr_r(x)?;
                if !x.ty.is_numeric() {
                    return Err(tmis(pos, format!("负号只能用于 int、money、rate，不能用于 {}", x.ty)));
                }
                let ty = x.ty.clone();
                mk(TK::Neg(Box::new(x)), ty)
            }
            ExprKind::Not(x) => {
                let x = self.expr_r(x)?;
                if x.ty != Type::Bool {
                    return Err(tmis(pos, format!("not 只能用于 bool，不能用于 {}", x.ty)));
                }
                mk(TK::Not(Box::new(x)), Type::Bool)
            }
            ExprKind::Bin(op, a, b) => {
                let a = self.expr_r(a)?;
                let b = self.expr_r(b)?;
                self.binary(*op, a, b, pos)?
            }
            ExprKind::Index(t, k) => {
                let t = self.expr_r(t)?;
                let k = self.expr_r(k)?;
                let Type::Table(inner) = &t.ty else {
                    return Err(tmis(pos, format!("只有表才能用 [键] 取值，这里是 {}", t.ty)));
                };
                if k.ty != Type::Text {
                    return Err(tmis(k.pos, format!("表的键应为 text，却是 {}", k.ty)));
                }
                let ty = (**inner).clone();
                mk(TK::Index(Box::new(t), Box::new(k)), ty)
            }
            ExprKind::If(c, a, b) => {
                let c = self.expr_r(c)?;
                if c.ty != Type::Bool {
                    return Err(tmis(c.pos, format!("if 的条件应为 bool，却是 {}", c.ty)));
                }
                let a = self.expr_r(a)?;
                let b = self.expr_r(b)?;
                let (a, b) = unify_zero(a, b);
                if a.ty != b.ty {
                    return Err(tmis(pos, format!("if 的两个分支类型不同：{} 与 {}", a.ty, b.ty)));
                }
                if matches!(a.ty, Type::Set | Type::Table(_)) {
                    return Err(tmis(pos, "if 的分支不能是集合或表"));
                }
                let ty = a.ty.clone();
                mk(TK::If(Box::new(c), Box::new(a), Box::new(b)), ty)
            }
            ExprKind::Call(name, args) => {
                let mut targs = Vec::with_capacity(args.len());
                for a in args {
                    targs.push(self.expr_r(a)?);
                }
                self.call(name, targs, pos)?
            }
        })
    }

    fn resolve(&mut self, n: &str, pos: Pos) -> Result<TE, RuleError> {
        if let Some(b) = self.names.get(n) {
            return Ok(match b {
                Binding::Let(i) => TE {
                    kind: TK::Let(*i),
                    ty: self.lets[*i].expr.ty.clone(),
                    pos,
                },
                Binding::Param(i) => TE {
                    kind: TK::Param(*i),
                    ty: self.params[*i].ty.clone(),
                    pos,
                },
            });
        }
        if let Some(def) = self.schema.lookup(n) {
            let idx = match self.fact_index.get(&def.name) {
                Some(i) => *i,
                None => {
                    self.facts.push(FactRef {
                        name: def.name.clone(),
                        ty: def.ty.clone(),
                        unit: def.unit.clone(),
                    });
                    self.fact_index.insert(def.name.clone(), self.facts.len() - 1);
                    self.facts.len() - 1
                }
            };
            return Ok(TE {
                kind: TK::Fact(idx),
                ty: def.ty.clone(),
                pos,
            });
        }
        Err(RuleError::at(codes::UNKNOWN_FACT, pos, format!("未知的事实“{n}”")))
    }

    fn binary(&mut self, op: BinOp, a: TE, b: TE, pos: Pos) -> Result<TE, RuleError> {
        use Type::*;
        let mk = |kind: TK, ty: Type| TE { kind, ty, pos };
        let bad = |a: &TE, b: &TE| tmis(pos, format!("运算“{}”不能用于 {} 与 {}", op.symbol(), a.ty, b.ty));
        let (a, b) = if matches!(op, BinOp::And | BinOp::Or | BinOp::In) {
            (a, b)
        } else {
            unify_zero(a, b)
        };
        Ok(match op {
            BinOp::And | BinOp::Or => {
                if a.ty != Bool || b.ty != Bool {
                    return Err(bad(&a, &b));
                }
                if op == BinOp::And {
                    mk(TK::And(Box::new(a), Box::new(b)), Bool)
                } else {
                    mk(TK::Or(Box::new(a), Box::new(b)), Bool)
                }
            }
            BinOp::In => {
                if a.ty != Text || b.ty != Set {
                    return Err(tmis(
                        pos,
                        format!("“in”的左边应为 text、右边应为 set[text]，却是 {} 与 {}", a.ty, b.ty),
                    ));
                }
                mk(TK::In(Box::new(a), Box::new(b)), Bool)
            }
            BinOp::Add | BinOp::Sub => {
                if a.ty != b.ty || !a.ty.is_numeric() {
                    return Err(bad(&a, &b));
                }
                let ty = a.ty.clone();
                let ar = if op == BinOp::Add { Arith::Add } else { Arith::Sub };
                mk(TK::Arith(ar, Box::new(a), Box::new(b)), ty)
            }
            BinOp::Mul => {
                let ty = match (&a.ty, &b.ty) {
                    (Int, Int) => Int,
                    (Money, Int) | (Int, Money) | (Money, Rate) | (Rate, Money) => Money,
                    (Int, Rate) | (Rate, Int) => Int,
                    (Rate, Rate) => Rate,
                    _ => return Err(bad(&a, &b)),
                };
                mk(TK::Arith(Arith::Mul, Box::new(a), Box::new(b)), ty)
            }
            BinOp::Div => {
                match (&a.ty, &b.ty) {
                    (Int, Int) | (Money, Money) | (Rate, Int) | (Rate, Rate) => {}
                    _ => return Err(bad(&a, &b)),
                }
                mk(TK::Arith(Arith::Div, Box::new(a), Box::new(b)), Rate)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                let ok = a.ty == b.ty
                    && (a.ty.is_numeric() || a.ty == Text || (a.ty == Bool && matches!(op, BinOp::Eq | BinOp::Ne)));
                if !ok {
                    return Err(bad(&a, &b));
                }
                let c = match op {
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    BinOp::Ge => CmpOp::Ge,
                    BinOp::Eq => CmpOp::Eq,
                    _ => CmpOp::Ne,
                };
                self.check_text_value(&a, &b);
                self.check_text_value(&b, &a);
                mk(TK::Cmp(c, Box::new(a), Box::new(b)), Bool)
            }
        })
    }

    /// `等级 == "E"` where 等级 only takes A..D: almost certainly a typo.
    fn check_text_value(&mut self, fact: &TE, lit: &TE) {
        if let (TK::Fact(i), TK::Const(Value::Text(s))) = (&fact.kind, &lit.kind) {
            if let Some(def) = self.schema.lookup(&self.facts[*i].name) {
                if let Some(allowed) = &def.allowed {
                    if !allowed.contains(s) {
                        self.errors.push(tmis(
                            lit.pos,
                            format!("事实“{}”不会取值“{s}”（可取：{}）", def.name, allowed.join("、")),
                        ));
                    }
                }
            }
        }
    }

    fn call(&mut self, name: &str, args: Vec<TE>, pos: Pos) -> Result<TE, RuleError> {
        let mk = |kind: TK, ty: Type| TE { kind, ty, pos };
        let same_numeric = |args: &mut Vec<TE>| -> Result<Type, RuleError> {
            let target = args
                .iter()
                .map(|a| a.ty.clone())
                .find(|t| *t != Type::Int)
                .unwrap_or(Type::Int);
            let taken = std::mem::take(args);
            *args = taken.into_iter().map(|a| coerce_zero(a, &target)).collect();
            for a in args.iter() {
                if a.ty != target || !a.ty.is_numeric() {
                    return Err(tmis(
                        a.pos,
                        format!("函数“{name}”的参数应同为 int、money 或 rate，这里有 {}", a.ty),
                    ));
                }
            }
            Ok(target)
        };
        let mut args = args;
        Ok(match name {
            "min" | "max" => {
                if args.len() < 2 {
                    return Err(tmis(pos, format!("函数“{name}”至少需要两个参数")));
                }
                let ty = same_numeric(&mut args)?;
                if name == "min" {
                    mk(TK::Min(args), ty)
                } else {
                    mk(TK::Max(args), ty)
                }
            }
            "clamp" => {
                if args.len() != 3 {
                    return Err(tmis(pos, "函数“clamp”需要三个参数：clamp(值, 下限, 上限)"));
                }
                let ty = same_numeric(&mut args)?;
                let hi = args.pop().unwrap_or_else(|| unreachable_te(pos));
                let lo = args.pop().unwrap_or_else(|| unreachable_te(pos));
                let x = args.pop().unwrap_or_else(|| unreachable_te(pos));
                // clamp(x, lo, hi) = max(min(x, hi), lo)
                let inner = TE {
                    kind: TK::Min(vec![x, hi]),
                    ty: ty.clone(),
                    pos,
                };
                mk(TK::Max(vec![inner, lo]), ty)
            }
            "floor" => {
                if args.len() != 1 {
                    return Err(tmis(pos, "函数“floor”需要一个参数"));
                }
                let x = args.pop().unwrap_or_else(|| unreachable_te(pos));
                let ty = match x.ty {
                    Type::Rate | Type::Int => Type::Int,
                    Type::Money => Type::Money,
                    _ => return Err(tmis(x.pos, format!("函数“floor”不能用于 {}", x.ty))),
                };
                mk(TK::Floor(Box::new(x)), ty)
            }
            _ => {
                return Err(RuleError::at(
                    codes::UNKNOWN_FUNCTION,
                    pos,
                    format!("未知的函数“{name}”（可用：min、max、clamp、floor）"),
                ))
            }
        })
    }
}

fn unreachable_te(pos: Pos) -> TE {
    TE {
        kind: TK::Const(Value::Int(0)),
        ty: Type::Int,
        pos,
    }
}

/// The integer literal `0` may stand for `0元` or `0%`.
fn coerce_zero(te: TE, target: &Type) -> TE {
    if matches!(te.kind, TK::Const(Value::Int(0))) {
        match target {
            Type::Money => {
                return TE {
                    kind: TK::Const(Value::Money(0)),
                    ty: Type::Money,
                    pos: te.pos,
                }
            }
            Type::Rate => {
                return TE {
                    kind: TK::Const(Value::Rate(crate::value::Rate::from_bp(0))),
                    ty: Type::Rate,
                    pos: te.pos,
                }
            }
            _ => {}
        }
    }
    te
}

fn unify_zero(a: TE, b: TE) -> (TE, TE) {
    let (ta, tb) = (a.ty.clone(), b.ty.clone());
    (coerce_zero(a, &tb), coerce_zero(b, &ta))
}

/// Pre-order walk over a typed expression.
pub(crate) fn walk(te: &TE, f: &mut dyn FnMut(&TE)) {
    f(te);
    match &te.kind {
        TK::Const(_) | TK::Fact(_) | TK::Param(_) | TK::Let(_) => {}
        TK::Neg(x) | TK::Not(x) | TK::Floor(x) => walk(x, f),
        TK::Arith(_, a, b) | TK::Cmp(_, a, b) | TK::And(a, b) | TK::Or(a, b) | TK::In(a, b) | TK::Index(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        TK::If(c, a, b) => {
            walk(c, f);
            walk(a, f);
            walk(b, f);
        }
        TK::Min(xs) | TK::Max(xs) => {
            for x in xs {
                walk(x, f)
            }
        }
    }
}
