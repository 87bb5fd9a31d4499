//! # chuangtong-rules — rules as code
//!
//! A small, typed policy language (see `policies/seed/*.rules` and `README.md` of this crate),
//! compiled against a [`FactSchema`], evaluated two ways:
//!
//! * [`Policy::evaluate`] — one enterprise, three-valued (a missing fact makes a condition
//!   *unknown*, never false; `and`/`or` follow Kleene logic), with an explanation per
//!   condition ([`Outcome::explain_zh`]). This is the 政策计算器 path.
//! * [`batch::BatchProgram`] — many enterprises × many policies over struct-of-arrays columns,
//!   with common subexpressions shared across policies, on several threads. Same semantics
//!   (it falls back to the explaining evaluator row by row where the fast path cannot decide).
//!
//! **Numbers.** Money is integer fen (`i64`), rates are exact reduced rationals, there are no
//! floats. **Rounding:** the only rounding in the language is `money × rate` and `int × rate`,
//! which round **down** (floor, towards −∞); everything else is exact. Overflow is an
//! evaluation error, never a wrap-around.
//!
//! **Provenance.** [`Policy::hash_with`] is the SM3 digest of the normalised source and the
//! parameter values, so an answer that leads to money can be recomputed exactly later.
//!
//! Pure: no I/O, no async, no database. Parsing and checking never panic (fuzzed by proptest).

pub mod batch;
mod check;
pub mod error;
mod eval;
mod lexer;
mod parser;
pub mod schema;
pub mod value;

pub use check::{compile, FactRef, ParamDef, ParamOverrides, Policy};
pub use error::{codes, Pos, RuleError};
pub use eval::{ConditionResult, Outcome};
pub use schema::{FactDef, FactSchema, Facts};
pub use value::{format_fen, money_literal, Fen, Rate, Tri, Type, Value};
