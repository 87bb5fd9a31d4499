//! Compile-time and evaluation errors, in Chinese, each with a stable code.

use serde::{Deserialize, Serialize};

/// A position in the source: 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Stable error codes.
pub mod codes {
    pub const SYNTAX: &str = "rules.syntax";
    pub const BAD_LITERAL: &str = "rules.bad_literal";
    pub const UNKNOWN_FACT: &str = "rules.unknown_fact";
    pub const UNKNOWN_FUNCTION: &str = "rules.unknown_function";
    pub const TYPE_MISMATCH: &str = "rules.type_mismatch";
    pub const DUPLICATE: &str = "rules.duplicate_name";
    pub const MISSING_POLICY: &str = "rules.missing_policy";
    pub const BAD_PARAM: &str = "rules.bad_param";
    pub const BAD_FACT: &str = "rules.bad_fact";
    pub const EVAL: &str = "rules.eval";
    pub const OVERFLOW: &str = "rules.overflow";
    pub const UNSUPPORTED: &str = "rules.unsupported";
}

/// An error with a stable `code`, a position (line 0 = no position) and a Chinese message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct RuleError {
    pub code: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl RuleError {
    pub fn at(code: &str, pos: Pos, message: impl Into<String>) -> RuleError {
        RuleError {
            code: code.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }
    pub fn new(code: &str, message: impl Into<String>) -> RuleError {
        RuleError::at(code, Pos::default(), message)
    }
    /// `第3行第12列：未知的事实“纳税额x”` (or just the message when there is no position).
    pub fn render(&self) -> String {
        if self.line == 0 {
            self.message.clone()
        } else {
            format!("第{}行第{}列：{}", self.line, self.col, self.message)
        }
    }
}
