//! Money as an integer number of 分 (fen; 1 元 = 100 分).
//!
//! Amounts in subsidy applications, budgets and invoices must add up to the
//! fen, so no floating point appears anywhere on this path: strings are
//! parsed digit by digit into `i64` fen with checked arithmetic, and printed
//! back the same way. `i64` fen covers ±92 万亿亿 yuan, ample for any budget;
//! overflow is still reported, never wrapped.
//!
//! Input format (what finance staff type): decimal yuan with at most two
//! decimals, `1234.5`, `1234.50`, optionally grouped with commas in threes,
//! `1,234.50`. Negative amounts are refused by [`Fen::from_yuan_str`]
//! (amounts requested, granted or spent are never negative) and allowed only
//! through the explicit [`Fen::parse_signed`] (corrections, balances).
//!
//! Unlike the identifier types, `Fen` serialises as a plain JSON integer of
//! fen (`123450`), which is exact and needs no parsing by API clients.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Coded;

/// Why a string is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Carries the input (trimmed).
    #[error("金额格式不正确：“{0}”（应为以元为单位的数字，如1234.50或1,234.50）")]
    Format(String),
    #[error("金额不能为负数：“{0}”")]
    Negative(String),
    #[error("金额最多保留两位小数（精确到分）：“{0}”")]
    Precision(String),
    #[error("金额超出可表示范围：“{0}”")]
    Overflow(String),
}

impl Coded for MoneyError {
    fn code(&self) -> &'static str {
        match self {
            MoneyError::Format(_) => "money.format",
            MoneyError::Negative(_) => "money.negative",
            MoneyError::Precision(_) => "money.precision",
            MoneyError::Overflow(_) => "money.overflow",
        }
    }
}

/// An amount in 分. Ordered, hashable, `Copy`; arithmetic only via the
/// `checked_*` methods so overflow can never pass silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn from_fen(fen: i64) -> Fen {
        Fen(fen)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses a non-negative yuan amount: `"1234.5"`, `"1,234.50"`, `"0.01"`.
    /// A leading `-` is refused with [`MoneyError::Negative`].
    pub fn from_yuan_str(input: &str) -> Result<Fen, MoneyError> {
        parse(input, false)
    }

    /// Like [`Fen::from_yuan_str`] but also accepts a leading `-`.
    /// `Fen::parse_signed(&x.to_string()) == Ok(x)` for every `Fen` except
    /// `i64::MIN` fen, which has no positive counterpart.
    pub fn parse_signed(input: &str) -> Result<Fen, MoneyError> {
        parse(input, true)
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// Multiplies by a whole number (a quantity, a number of months).
    /// Rates and percentages need a rounding rule and belong elsewhere.
    pub fn checked_mul_int(self, factor: i64) -> Option<Fen> {
        self.0.checked_mul(factor).map(Fen)
    }

    /// Yuan with two decimals and thousands separators: `"1,234.50"`,
    /// `"-1,234.50"`. For display to people; [`fmt::Display`] gives the
    /// ungrouped machine form.
    pub fn to_yuan_string_grouped(self) -> String {
        let (sign, yuan, fen) = self.parts();
        let digits = yuan.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped}.{fen:02}")
    }

    /// Sign, whole yuan and remaining fen; `unsigned_abs` so `i64::MIN` works.
    fn parts(self) -> (&'static str, u64, u64) {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        (sign, abs / 100, abs % 100)
    }
}

/// `-?` integer part (plain digits, or 1–3 digits then `,ddd` groups),
/// then optionally `.` and one or two digits.
fn parse(input: &str, allow_negative: bool) -> Result<Fen, MoneyError> {
    let s = input.trim();
    let format = || MoneyError::Format(s.to_owned());
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if !valid_integer_part(int_part) {
        return Err(format());
    }
    let frac = match frac_part {
        None => "",
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format());
        }
        Some(f) if f.len() > 2 => return Err(MoneyError::Precision(s.to_owned())),
        Some(f) => f,
    };
    // Only after the whole string proved to be a number do we complain about
    // the sign, so "-abc" is a format error, not a "negative" one.
    if negative && !allow_negative {
        return Err(MoneyError::Negative(s.to_owned()));
    }
    let overflow = || MoneyError::Overflow(s.to_owned());
    let mut fen: i64 = 0;
    for b in int_part.bytes().filter(u8::is_ascii_digit) {
        fen = fen
            .checked_mul(10)
            .and_then(|f| f.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    // Append exactly two fractional digits: "5" means 50 fen.
    for b in frac.bytes().chain(std::iter::repeat(b'0')).take(2) {
        fen = fen
            .checked_mul(10)
            .and_then(|f| f.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    Ok(Fen(if negative { -fen } else { fen }))
}

/// Digits only, or comma-grouped thousands (`1,234,567`); at least one digit.
fn valid_integer_part(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if !s.contains(',') {
        return s.bytes().all(|b| b.is_ascii_digit());
    }
    let mut groups = s.split(',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Yuan with exactly two decimals, no separators: `1234.50`, `-0.05`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sign, yuan, fen) = self.parts();
        write!(f, "{sign}{yuan}.{fen:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn y(s: &str) -> i64 {
        Fen::from_yuan_str(s).unwrap_or_else(|e| panic!("{s}: {e}")).fen()
    }

    #[test]
    fn parses_yuan_strings() {
        assert_eq!(y("1234.5"), 123_450);
        assert_eq!(y("1234.50"), 123_450);
        assert_eq!(y("1234"), 123_400);
        assert_eq!(y("0.01"), 1);
        assert_eq!(y("0"), 0);
        assert_eq!(y("007.10"), 710);
        assert_eq!(y(" 1,234.50 "), 123_450);
        assert_eq!(y("1,234,567.89"), 123_456_789);
        assert_eq!(y("999"), 99_900);
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "", " ", "abc", "1.2.3", ".5", "5.", "1 234", "1,23", "12,34.00", ",123", "1,,234", "1234,567", "+5",
            "--5", "1e3", "¥12", "12元", "１２", "1.-5", "-", "-abc", "NaN",
        ] {
            assert_eq!(
                Fen::from_yuan_str(s),
                Err(MoneyError::Format(s.trim().to_owned())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn rejects_more_than_two_decimals() {
        assert_eq!(Fen::from_yuan_str("1.234"), Err(MoneyError::Precision("1.234".into())));
        assert_eq!(Fen::from_yuan_str("1.500"), Err(MoneyError::Precision("1.500".into())));
        assert_eq!(Fen::parse_signed("-0.001"), Err(MoneyError::Precision("-0.001".into())));
    }

    #[test]
    fn negatives_only_when_signed() {
        assert_eq!(Fen::from_yuan_str("-1.00"), Err(MoneyError::Negative("-1.00".into())));
        assert_eq!(Fen::from_yuan_str("-0"), Err(MoneyError::Negative("-0".into())));
        assert_eq!(Fen::parse_signed("-1,234.5"), Ok(Fen::from_fen(-123_450)));
        assert_eq!(Fen::parse_signed("-0.05"), Ok(Fen::from_fen(-5)));
        assert_eq!(Fen::parse_signed("12"), Ok(Fen::from_fen(1200)));
    }

    #[test]
    fn overflow() {
        // i64::MAX fen = 92233720368547758.07 yuan.
        assert_eq!(y("92233720368547758.07"), i64::MAX);
        assert_eq!(
            Fen::from_yuan_str("92233720368547758.08"),
            Err(MoneyError::Overflow("92233720368547758.08".into()))
        );
        assert_eq!(
            Fen::from_yuan_str("100000000000000000000"),
            Err(MoneyError::Overflow("100000000000000000000".into()))
        );
        assert_eq!(Fen::parse_signed("-92233720368547758.07"), Ok(Fen::from_fen(-i64::MAX)));
    }

    #[test]
    fn display() {
        assert_eq!(Fen::from_fen(123_450).to_string(), "1234.50");
        assert_eq!(Fen::from_fen(5).to_string(), "0.05");
        assert_eq!(Fen::ZERO.to_string(), "0.00");
        assert_eq!(Fen::from_fen(-5).to_string(), "-0.05");
        assert_eq!(Fen::from_fen(-123_456).to_string(), "-1234.56");
        assert_eq!(Fen::from_fen(i64::MIN).to_string(), "-92233720368547758.08");
    }

    #[test]
    fn grouped() {
        assert_eq!(Fen::from_fen(123_450).to_yuan_string_grouped(), "1,234.50");
        assert_eq!(Fen::from_fen(12_345).to_yuan_string_grouped(), "123.45");
        assert_eq!(Fen::from_fen(100_000_000).to_yuan_string_grouped(), "1,000,000.00");
        assert_eq!(Fen::from_fen(-123_456_789).to_yuan_string_grouped(), "-1,234,567.89");
        assert_eq!(Fen::ZERO.to_yuan_string_grouped(), "0.00");
    }

    #[test]
    fn checked_arithmetic() {
        let a = Fen::from_fen(150);
        assert_eq!(a.checked_add(Fen::from_fen(50)), Some(Fen::from_fen(200)));
        assert_eq!(a.checked_sub(Fen::from_fen(200)), Some(Fen::from_fen(-50)));
        assert_eq!(a.checked_mul_int(3), Some(Fen::from_fen(450)));
        assert_eq!(Fen::from_fen(i64::MAX).checked_add(Fen::from_fen(1)), None);
        assert_eq!(Fen::from_fen(i64::MIN).checked_sub(Fen::from_fen(1)), None);
        assert_eq!(Fen::from_fen(i64::MAX / 2 + 1).checked_mul_int(2), None);
        assert!(Fen::from_fen(-1).is_negative());
        assert!(Fen::from_fen(1) > Fen::ZERO);
    }

    #[test]
    fn serde_is_integer_fen() {
        let f = Fen::from_fen(123_450);
        assert_eq!(serde_json::to_string(&f).unwrap(), "123450");
        assert_eq!(serde_json::from_str::<Fen>("-5").unwrap(), Fen::from_fen(-5));
        assert!(serde_json::from_str::<Fen>("\"1234.50\"").is_err());
        assert!(serde_json::from_str::<Fen>("12.5").is_err());
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(MoneyError::Format("x".into()).code(), "money.format");
        assert_eq!(MoneyError::Negative("-1".into()).code(), "money.negative");
        assert_eq!(MoneyError::Precision("1.234".into()).code(), "money.precision");
        assert_eq!(MoneyError::Overflow("9".into()).code(), "money.overflow");
        assert_eq!(
            MoneyError::Precision("1.234".into()).to_string(),
            "金额最多保留两位小数（精确到分）：“1.234”"
        );
    }

    proptest! {
        #[test]
        fn display_roundtrips(x in 0i64..=i64::MAX) {
            let f = Fen::from_fen(x);
            prop_assert_eq!(Fen::from_yuan_str(&f.to_string()), Ok(f));
            prop_assert_eq!(Fen::from_yuan_str(&f.to_yuan_string_grouped()), Ok(f));
        }

        #[test]
        fn signed_display_roundtrips(x in (i64::MIN + 1)..=i64::MAX) {
            let f = Fen::from_fen(x);
            prop_assert_eq!(Fen::parse_signed(&f.to_string()), Ok(f));
            prop_assert_eq!(Fen::parse_signed(&f.to_yuan_string_grouped()), Ok(f));
        }

        #[test]
        fn small_amounts_roundtrip(x in 0i64..1_000_000) {
            let f = Fen::from_fen(x);
            prop_assert_eq!(Fen::from_yuan_str(&f.to_string()), Ok(f));
        }

        /// Never panics, whatever is typed.
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,24}") {
            let _ = Fen::parse_signed(&s);
        }
    }
}
