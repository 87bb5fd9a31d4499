//! Pratt parser: tokens → AST. Never panics; recursion depth is bounded.

use crate::error::{codes, Pos, RuleError};
use crate::lexer::{Tok, Token, KEYWORDS};
use crate::value::{Rate, Type};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    In,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum ExprKind {
    Int(i64),
    Money(i64),
    Rate(Rate),
    Text(String),
    Bool(bool),
    Name(String),
    SetLit(Vec<Expr>),
    TableLit(Vec<(Expr, Expr)>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Index(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub(crate) enum Decl {
    Policy {
        key: String,
        title: String,
        pos: Pos,
    },
    Param {
        name: String,
        ty: Type,
        value: Expr,
        pos: Pos,
    },
    Let {
        name: String,
        value: Expr,
        pos: Pos,
    },
    Require {
        label: String,
        cond: Expr,
        pos: Pos,
    },
    Amount {
        value: Expr,
        pos: Pos,
    },
}

const MAX_DEPTH: usize = 200;

pub(crate) struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn err(pos: Pos, msg: impl Into<String>) -> RuleError {
    RuleError::at(codes::SYNTAX, pos, msg)
}

impl Parser {
    pub(crate) fn new(toks: Vec<Token>) -> Parser {
        Parser { toks, i: 0, depth: 0 }
    }

    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and we never advance past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn expect(&mut self, tok: Tok, what: &str) -> Result<Pos, RuleError> {
        let t = self.next();
        if t.tok == tok {
            Ok(t.pos)
        } else {
            Err(err(t.pos, format!("此处应为{what}，却是“{}”", t.tok.show())))
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<Pos, RuleError> {
        let t = self.next();
        match &t.tok {
            Tok::Ident(s) if s == kw => Ok(t.pos),
            other => Err(err(t.pos, format!("此处应为“{kw}”，却是“{}”", other.show()))),
        }
    }
    fn name(&mut self, what: &str) -> Result<(String, Pos), RuleError> {
        let t = self.next();
        match t.tok {
            Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()) => Ok((s, t.pos)),
            Tok::Ident(s) => Err(err(t.pos, format!("“{s}”是保留字，不能用作{what}"))),
            other => Err(err(t.pos, format!("此处应为{what}，却是“{}”", other.show()))),
        }
    }
    fn string(&mut self, what: &str) -> Result<String, RuleError> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) => Ok(s),
            other => Err(err(
                t.pos,
                format!("此处应为{what}（带引号的文字），却是“{}”", other.show()),
            )),
        }
    }

    pub(crate) fn parse_file(&mut self) -> Result<Vec<Decl>, RuleError> {
        let mut decls = Vec::new();
        loop {
            let t = self.peek().clone();
            let kw = match &t.tok {
                Tok::Eof => return Ok(decls),
                Tok::Ident(s) => s.clone(),
                other => {
                    return Err(err(
                        t.pos,
                        format!(
                            "此处应为声明（policy、param、let、require 或 amount），却是“{}”",
                            other.show()
                        ),
                    ))
                }
            };
            let pos = t.pos;
            match kw.as_str() {
                "policy" => {
                    self.next();
                    let (key, _) = self.name("政策标识")?;
                    let title = if matches!(self.peek().tok, Tok::Str(_)) {
                        self.string("政策名称")?
                    } else {
                        key.clone()
                    };
                    decls.push(Decl::Policy { key, title, pos });
                }
                "param" => {
                    self.next();
                    let (name, pos) = self.name("参数名")?;
                    self.expect(Tok::Colon, "“:”")?;
                    let ty = self.parse_type()?;
                    self.expect(Tok::Assign, "“=”")?;
                    let value = self.expr(0)?;
                    decls.push(Decl::Param { name, ty, value, pos });
                }
                "let" => {
                    self.next();
                    let (name, pos) = self.name("名称")?;
                    self.expect(Tok::Assign, "“=”")?;
                    let value = self.expr(0)?;
                    decls.push(Decl::Let { name, value, pos });
                }
                "require" => {
                    self.next();
                    let label = self.string("条件说明")?;
                    self.expect(Tok::Colon, "“:”")?;
                    let cond = self.expr(0)?;
                    decls.push(Decl::Require { label, cond, pos });
                }
                "amount" => {
                    self.next();
                    self.expect(Tok::Assign, "“=”")?;
                    let value = self.expr(0)?;
                    decls.push(Decl::Amount { value, pos });
                }
                _ => {
                    return Err(err(
                        pos,
                        format!("此处应为声明（policy、param、let、require 或 amount），却是“{kw}”"),
                    ))
                }
            }
        }
    }

    fn parse_type(&mut self) -> Result<Type, RuleError> {
        let (name, pos) = match self.next() {
            Token {
                tok: Tok::Ident(s),
                pos,
            } => (s, pos),
            t => return Err(err(t.pos, format!("此处应为类型，却是“{}”", t.tok.show()))),
        };
        Ok(match name.as_str() {
            "bool" => Type::Bool,
            "int" => Type::Int,
            "money" => Type::Money,
            "rate" => Type::Rate,
            "text" => Type::Text,
            "set" => {
                self.expect(Tok::LBracket, "“[”")?;
                self.expect_kw("text")?;
                self.expect(Tok::RBracket, "“]”")?;
                Type::Set
            }
            "table" => {
                self.expect(Tok::LBracket, "“[”")?;
                self.expect_kw("text")?;
                self.expect(Tok::Arrow, "“->”")?;
                let inner = self.parse_type()?;
                if !matches!(inner, Type::Int | Type::Money | Type::Rate | Type::Bool) {
                    return Err(RuleError::at(
                        codes::TYPE_MISMATCH,
                        pos,
                        format!("表的值类型只能是 int、money、rate 或 bool，不能是 {inner}"),
                    ));
                }
                self.expect(Tok::RBracket, "“]”")?;
                Type::Table(Box::new(inner))
            }
            other => {
                return Err(err(
                    pos,
                    format!("未知的类型“{other}”（可用：bool、int、money、rate、text、set[text]、table[text -> T]）"),
                ))
            }
        })
    }

    /// Binding power of an infix operator at the current token: (left bp, op).
    fn infix(&self) -> Option<(u8, BinOp)> {
        Some(match &self.peek().tok {
            Tok::Ident(s) if s == "or" => (1, BinOp::Or),
            Tok::Ident(s) if s == "and" => (3, BinOp::And),
            Tok::Ident(s) if s == "in" => (7, BinOp::In),
            Tok::Lt => (7, BinOp::Lt),
            Tok::Le => (7, BinOp::Le),
            Tok::Gt => (7, BinOp::Gt),
            Tok::Ge => (7, BinOp::Ge),
            Tok::EqEq => (7, BinOp::Eq),
            Tok::Ne => (7, BinOp::Ne),
            Tok::Plus => (9, BinOp::Add),
            Tok::Minus => (9, BinOp::Sub),
            Tok::Star => (11, BinOp::Mul),
            Tok::Slash => (11, BinOp::Div),
            _ => return None,
        })
    }

    pub(crate) fn expr(&mut self, min_bp: u8) -> Result<Expr, RuleError> {
        let saved = self.depth;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.peek().pos, "表达式嵌套过深"));
        }
        let r = self.expr_inner(min_bp);
        self.depth = saved;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Expr, RuleError> {
        let mut lhs = self.prefix()?;
        loop {
            // Every postfix/infix step deepens the tree: count it against the same budget so
            // that later recursive passes (checker, evaluator) stay within bounded depth.
            if self.depth > MAX_DEPTH {
                return Err(err(self.peek().pos, "表达式过长或嵌套过深"));
            }
            // postfix: indexing
            if self.peek().tok == Tok::LBracket {
                let pos = self.next().pos;
                let key = self.expr(0)?;
                self.expect(Tok::RBracket, "“]”")?;
                lhs = Expr {
                    kind: ExprKind::Index(Box::new(lhs), Box::new(key)),
                    pos,
                };
                self.depth += 1;
                continue;
            }
            let Some((lbp, op)) = self.infix() else { break };
            if lbp < min_bp {
                break;
            }
            let pos = self.next().pos;
            // comparisons are non-associative: the right side binds tighter
            let rbp = lbp + 1;
            let rhs = self.expr(rbp)?;
            if lbp == 7 {
                if let Some((7, _)) = self.infix() {
                    return Err(err(self.peek().pos, "比较运算不能连写，请用 and 连接"));
                }
            }
            lhs = Expr {
                kind: ExprKind::Bin(op, Box::new(lhs), Box::new(rhs)),
                pos,
            };
            self.depth += 1;
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Expr, RuleError> {
        let t = self.next();
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Int(i) => ExprKind::Int(i),
            Tok::Money(m) => ExprKind::Money(m),
            Tok::Rate(r) => ExprKind::Rate(r),
            Tok::Str(s) => ExprKind::Text(s),
            Tok::Minus => ExprKind::Neg(Box::new(self.expr(13)?)),
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "“)”")?;
                return Ok(e);
            }
            Tok::LBrace => self.brace_literal(pos)?,
            Tok::Ident(s) => match s.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                "not" => ExprKind::Not(Box::new(self.expr(5)?)),
                "if" => {
                    let c = self.expr(0)?;
                    self.expect_kw("then")?;
                    let a = self.expr(0)?;
                    self.expect_kw("else")?;
                    let b = self.expr(0)?;
                    ExprKind::If(Box::new(c), Box::new(a), Box::new(b))
                }
                kw if KEYWORDS.contains(&kw) => return Err(err(pos, format!("此处应为表达式，却是保留字“{kw}”"))),
                _ => {
                    if self.peek().tok == Tok::LParen {
                        self.next();
                        let mut args = Vec::new();
                        if self.peek().tok != Tok::RParen {
                            loop {
                                args.push(self.expr(0)?);
                                if self.peek().tok == Tok::Comma {
                                    self.next();
                                } else {
                                    break;
                                }
                            }
                        }
                        self.expect(Tok::RParen, "“)”")?;
                        ExprKind::Call(s, args)
                    } else {
                        ExprKind::Name(s)
                    }
                }
            },
            other => return Err(err(pos, format!("此处应为表达式，却是“{}”", other.show()))),
        };
        Ok(Expr { kind, pos })
    }

    /// `{}` `{"a", "b"}` (set) or `{"a": 1, "b": 2}` (table).
    fn brace_literal(&mut self, _pos: Pos) -> Result<ExprKind, RuleError> {
        if self.peek().tok == Tok::RBrace {
            self.next();
            return Ok(ExprKind::SetLit(Vec::new()));
        }
        let first = self.expr(0)?;
        if self.peek().tok == Tok::Colon {
            let mut entries = Vec::new();
            self.next();
            let v = self.expr(0)?;
            entries.push((first, v));
            while self.peek().tok == Tok::Comma {
                self.next();
                if self.peek().tok == Tok::RBrace {
                    break;
                }
                let k = self.expr(0)?;
                self.expect(Tok::Colon, "“:”")?;
                let v = self.expr(0)?;
                entries.push((k, v));
            }
            self.expect(Tok::RBrace, "“}”")?;
            Ok(ExprKind::TableLit(entries))
        } else {
            let mut items = vec![first];
            while self.peek().tok == Tok::Comma {
                self.next();
                if self.peek().tok == Tok::RBrace {
                    break;
                }
                items.push(self.expr(0)?);
            }
            self.expect(Tok::RBrace, "“}”")?;
            Ok(ExprKind::SetLit(items))
        }
    }
}

/// The normalised source: tokens joined by single spaces (comments and layout removed).
pub(crate) fn normalised(toks: &[Token]) -> String {
    let mut s = String::new();
    for t in toks {
        if t.tok == Tok::Eof {
            break;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&t.tok.show());
    }
    s
}
