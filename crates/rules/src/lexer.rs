//! Hand-written lexer. Never panics; every error carries a position.

use crate::error::{codes, Pos, RuleError};
use crate::value::Rate;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    Int(i64),
    Money(i64),
    Rate(Rate),
    Str(String),
    Colon,
    Comma,
    Assign,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Arrow,
    Plus,
    Minus,
    Star,
    Slash,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
    Eof,
}

impl Tok {
    /// How the token is shown in an error message and in the normalised source.
    pub(crate) fn show(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Int(i) => i.to_string(),
            Tok::Money(m) => crate::value::money_literal(*m),
            Tok::Rate(r) => crate::value::Value::Rate(*r).to_source(),
            Tok::Str(s) => crate::value::quote(s),
            Tok::Colon => ":".into(),
            Tok::Comma => ",".into(),
            Tok::Assign => "=".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::Arrow => "->".into(),
            Tok::Plus => "+".into(),
            Tok::Minus => "-".into(),
            Tok::Star => "*".into(),
            Tok::Slash => "/".into(),
            Tok::Lt => "<".into(),
            Tok::Le => "<=".into(),
            Tok::Gt => ">".into(),
            Tok::Ge => ">=".into(),
            Tok::EqEq => "==".into(),
            Tok::Ne => "!=".into(),
            Tok::Eof => "文件结尾".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

pub(crate) const KEYWORDS: &[&str] = &[
    "policy", "param", "let", "require", "amount", "and", "or", "not", "in", "if", "then", "else", "true", "false",
];

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}
fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, RuleError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    let (mut line, mut col) = (1u32, 1u32);
    // Advance helper is inlined by hand to keep borrowck simple.
    macro_rules! bump {
        () => {{
            if chars[i] == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        if c.is_whitespace() {
            bump!();
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                bump!();
            }
            continue;
        }
        let next = chars.get(i + 1).copied();
        let sym = match c {
            ':' | '：' => Some((Tok::Colon, 1)),
            ',' | '，' | '、' => Some((Tok::Comma, 1)),
            '(' | '（' => Some((Tok::LParen, 1)),
            ')' | '）' => Some((Tok::RParen, 1)),
            '[' => Some((Tok::LBracket, 1)),
            ']' => Some((Tok::RBracket, 1)),
            '{' | '｛' => Some((Tok::LBrace, 1)),
            '}' | '｝' => Some((Tok::RBrace, 1)),
            '+' => Some((Tok::Plus, 1)),
            '*' | '×' => Some((Tok::Star, 1)),
            '/' => Some((Tok::Slash, 1)),
            '≥' => Some((Tok::Ge, 1)),
            '≤' => Some((Tok::Le, 1)),
            '≠' => Some((Tok::Ne, 1)),
            '-' if next == Some('>') => Some((Tok::Arrow, 2)),
            '-' => Some((Tok::Minus, 1)),
            '<' if next == Some('=') => Some((Tok::Le, 2)),
            '<' => Some((Tok::Lt, 1)),
            '>' if next == Some('=') => Some((Tok::Ge, 2)),
            '>' => Some((Tok::Gt, 1)),
            '=' if next == Some('=') => Some((Tok::EqEq, 2)),
            '=' => Some((Tok::Assign, 1)),
            '!' if next == Some('=') => Some((Tok::Ne, 2)),
            _ => None,
        };
        if let Some((tok, n)) = sym {
            for _ in 0..n {
                bump!();
            }
            out.push(Token { tok, pos });
            continue;
        }
        if c == '"' || c == '“' {
            let close = if c == '"' { '"' } else { '”' };
            bump!();
            let mut s = String::new();
            loop {
                if i >= chars.len() {
                    return Err(RuleError::at(codes::SYNTAX, pos, "字符串没有结束引号"));
                }
                let d = chars[i];
                if d == close {
                    bump!();
                    break;
                }
                if d == '\n' {
                    return Err(RuleError::at(codes::SYNTAX, pos, "字符串不能跨行"));
                }
                if d == '\\' {
                    let epos = Pos { line, col };
                    bump!();
                    match chars.get(i) {
                        Some('n') => s.push('\n'),
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        _ => return Err(RuleError::at(codes::SYNTAX, epos, "无效的转义字符")),
                    }
                    bump!();
                    continue;
                }
                s.push(d);
                bump!();
            }
            out.push(Token { tok: Tok::Str(s), pos });
            continue;
        }
        if c.is_ascii_digit() {
            let mut int_digits = String::new();
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                if chars[i] != '_' {
                    int_digits.push(chars[i]);
                }
                bump!();
            }
            let mut frac_digits = String::new();
            let mut has_point = false;
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                has_point = true;
                bump!();
                while i < chars.len() && chars[i].is_ascii_digit() {
                    frac_digits.push(chars[i]);
                    bump!();
                }
            }
            let at = |k: usize| chars.get(i + k).copied();
            // Suffix: 元 万元 亿元 分 % bp
            let (scale_fen, suffix_len, is_rate_pct, is_bp): (i128, usize, bool, bool) = match (at(0), at(1), at(2)) {
                (Some('元'), _, _) => (100, 1, false, false),
                (Some('万'), Some('元'), _) => (1_000_000, 2, false, false),
                (Some('亿'), Some('元'), _) => (10_000_000_000, 2, false, false),
                (Some('分'), _, _) => (1, 1, false, false),
                (Some('%'), _, _) | (Some('％'), _, _) => (0, 1, true, false),
                (Some('b'), Some('p'), n) if !n.is_some_and(is_ident_continue) => (0, 2, false, true),
                _ => (0, 0, false, false),
            };
            for _ in 0..suffix_len {
                bump!();
            }
            let bad = |m: &str| Err(RuleError::at(codes::BAD_LITERAL, pos, m.to_string()));
            if frac_digits.len() > 12 || int_digits.len() > 30 {
                return bad("数字过长");
            }
            let ip: i128 = match int_digits.parse::<i128>() {
                Ok(v) => v,
                Err(_) => return bad("无法解析的数字"),
            };
            let fp: i128 = if frac_digits.is_empty() {
                0
            } else {
                frac_digits.parse().unwrap_or(0)
            };
            let fscale: i128 = 10i128.pow(frac_digits.len() as u32);
            let tok = if suffix_len > 0 && !is_rate_pct && !is_bp {
                // money: (ip + fp/fscale) * scale_fen must be whole fen
                let total = (ip * fscale + fp) * scale_fen;
                if total % fscale != 0 {
                    return bad("金额最多精确到分");
                }
                match i64::try_from(total / fscale) {
                    Ok(v) => Tok::Money(v),
                    Err(_) => return bad("金额超出范围"),
                }
            } else if is_rate_pct || is_bp {
                let den = if is_rate_pct { 100 } else { 10_000 } * fscale;
                match Rate::from_i128(ip * fscale + fp, den) {
                    Some(r) => Tok::Rate(r),
                    None => return bad("比率超出范围"),
                }
            } else {
                if has_point {
                    return bad("整数不能带小数点；金额请加单位“元”，比率请用“%”或“bp”");
                }
                match i64::try_from(ip) {
                    Ok(v) => Tok::Int(v),
                    Err(_) => return bad("整数超出范围"),
                }
            };
            out.push(Token { tok, pos });
            continue;
        }
        if is_ident_start(c) {
            let mut s = String::new();
            while i < chars.len() && is_ident_continue(chars[i]) {
                s.push(chars[i]);
                bump!();
            }
            out.push(Token {
                tok: Tok::Ident(s),
                pos,
            });
            continue;
        }
        return Err(RuleError::at(codes::SYNTAX, pos, format!("无法识别的字符“{c}”")));
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: Pos { line, col },
    });
    Ok(out)
}
