//! Types and values of the rules language.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Money: integer fen (分). 1 元 = 100 fen.
pub type Fen = i64;

/// The static type of an expression, a parameter or a fact.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Bool,
    Int,
    Money,
    Rate,
    Text,
    /// `set[text]`
    Set,
    /// `table[text -> T]`, T one of int, money, rate, bool.
    Table(Box<Type>),
}

impl Type {
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Money | Type::Rate)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Money => f.write_str("money"),
            Type::Rate => f.write_str("rate"),
            Type::Text => f.write_str("text"),
            Type::Set => f.write_str("set[text]"),
            Type::Table(t) => write!(f, "table[text -> {t}]"),
        }
    }
}

/// An exact, reduced rational `num/den` with `den > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rate {
    num: i64,
    den: i64,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Rate {
    /// `num/den`, reduced; `None` when `den == 0` or the reduced value does not fit i64/i64.
    pub fn new(num: i64, den: i64) -> Option<Rate> {
        Rate::from_i128(num as i128, den as i128)
    }

    pub(crate) fn from_i128(num: i128, den: i128) -> Option<Rate> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut n, mut d) = (num / g, den / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        Some(Rate {
            num: i64::try_from(n).ok()?,
            den: i64::try_from(d).ok()?,
        })
    }

    /// `bp` basis points (10000 bp = 100%).
    pub fn from_bp(bp: i64) -> Rate {
        Rate::new(bp, 10_000).expect("nonzero denominator")
    }

    pub fn num(&self) -> i64 {
        self.num
    }
    pub fn den(&self) -> i64 {
        self.den
    }

    /// `floor(x × self)`, exact; `None` on overflow. This is the only rounding of the language.
    pub fn floor_mul(&self, x: i64) -> Option<i64> {
        let p = x as i128 * self.num as i128;
        i64::try_from(p.div_euclid(self.den as i128)).ok()
    }

    pub(crate) fn cmp_rate(&self, other: &Rate) -> std::cmp::Ordering {
        (self.num as i128 * other.den as i128).cmp(&(other.num as i128 * self.den as i128))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Percent with up to 4 decimals when exact, else the fraction.
        let scaled = self.num as i128 * 1_000_000;
        if scaled % self.den as i128 == 0 {
            let v = scaled / self.den as i128; // percent × 10^4
            let sign = if v < 0 { "-" } else { "" };
            let v = v.abs();
            let (i, frac) = (v / 10_000, v % 10_000);
            if frac == 0 {
                write!(f, "{sign}{i}%")
            } else {
                let s = format!("{frac:04}");
                write!(f, "{sign}{i}.{}%", s.trim_end_matches('0'))
            }
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// Formats fen as yuan with two decimals: `123456` → `1234.56元`.
pub fn format_fen(fen: Fen) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}元", a / 100, a % 100)
}

/// A runtime value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Money(Fen),
    Rate(Rate),
    Text(String),
    Set(Arc<BTreeSet<String>>),
    Table(Arc<BTreeMap<String, Value>>),
}

impl Value {
    pub fn type_of(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Money(_) => Type::Money,
            Value::Rate(_) => Type::Rate,
            Value::Text(_) => Type::Text,
            Value::Set(_) => Type::Set,
            Value::Table(t) => Type::Table(Box::new(t.values().next().map(Value::type_of).unwrap_or(Type::Int))),
        }
    }

    /// Whether the value fits the type (an empty table fits any table type).
    pub fn fits(&self, ty: &Type) -> bool {
        match (self, ty) {
            (Value::Table(t), Type::Table(inner)) => t.values().all(|v| v.fits(inner)),
            _ => &self.type_of() == ty,
        }
    }

    pub fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
        Value::Set(Arc::new(items.into_iter().map(Into::into).collect()))
    }

    pub fn table<I: IntoIterator<Item = (S, Value)>, S: Into<String>>(items: I) -> Value {
        Value::Table(Arc::new(items.into_iter().map(|(k, v)| (k.into(), v)).collect()))
    }

    /// Source-language rendering (a literal that parses back to the same value).
    pub fn to_source(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Money(f) => money_literal(*f),
            Value::Rate(r) => {
                if r.den == 1 {
                    format!("{}/1", r.num)
                } else if let Some(bp) = r.num.checked_mul(10_000 / r.den).filter(|_| 10_000 % r.den == 0) {
                    // A rate too large to write in basis points (found by the
                    // fuzzer: `36366336664666666665bp`) falls through to `num/den`.
                    format!("{bp}bp")
                } else {
                    format!("{}/{}", r.num, r.den)
                }
            }
            Value::Text(s) => quote(s),
            Value::Set(s) => {
                let items: Vec<String> = s.iter().map(|x| quote(x)).collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Table(t) => {
                let items: Vec<String> = t
                    .iter()
                    .map(|(k, v)| format!("{}: {}", quote(k), v.to_source()))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
}

/// A money literal of the language for `fen`: `3000000元`, `0.01元`, `-5元`.
pub fn money_literal(fen: Fen) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    if a.is_multiple_of(100) {
        format!("{sign}{}元", a / 100)
    } else {
        format!("{sign}{}.{:02}元", a / 100, a % 100)
    }
}

pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Value {
    /// Human (Chinese UI) rendering: money as yuan with two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(true) => f.write_str("是"),
            Value::Bool(false) => f.write_str("否"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Money(m) => f.write_str(&format_fen(*m)),
            Value::Rate(r) => write!(f, "{r}"),
            Value::Text(s) => write!(f, "“{s}”"),
            other => f.write_str(&other.to_source()),
        }
    }
}

/// Three-valued truth: Kleene logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
    pub fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }
    pub fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Tri::Yes => "是",
            Tri::No => "否",
            Tri::Unknown => "未知",
        }
    }
}
