//! 居民身份证号码 (citizen identity number) per GB 11643-1999.
//!
//! | position | meaning                                               |
//! |----------|-------------------------------------------------------|
//! | 1–6      | 地址码: GB/T 2260 division code of the first registration |
//! | 7–14     | 出生日期码: YYYYMMDD                                   |
//! | 15–17    | 顺序码: sequence; the 17th digit is odd for men         |
//! | 18       | 校验码: ISO 7064 MOD 11-2, `X` standing for 10          |
//!
//! The number is personal information (《个人信息保护法》): [`fmt::Debug`]
//! prints only the masked form, and errors carry the offending *part*
//! (a character, the date digits), never the whole number, so neither ends
//! up in logs. [`fmt::Display`] and serde still give the full number, for
//! storage and for the holder's own view.
//!
//! The address code is not checked against the region table: it records
//! where the number was first issued, and many such districts have since
//! been renamed or merged, yet the numbers stay valid for life.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Coded;

/// Weights W_i = 2^(18-i) mod 11 for positions 1–17, GB 11643-1999 §7.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by Σ(a_i·W_i) mod 11.
const CHECK: &[u8; 11] = b"10X98765432";

/// Birth dates outside this range are data-entry errors for anyone who can
/// found or work in an enterprise today; the bound keeps the type stable
/// (no dependency on "today") and so testable.
const MIN_BIRTH: (i32, u32, u32) = (1900, 1, 1);
const MAX_BIRTH: (i32, u32, u32) = (2099, 12, 31);

/// Why a string is not a 居民身份证号码.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("身份证号码不能为空")]
    Empty,
    /// Carries the actual number of characters.
    #[error("身份证号码应为18位，实际为{0}位")]
    Length(usize),
    /// Carries the actual number of characters given to [`IdCardNumber::with_check_digit`].
    #[error("身份证号码前17位应为17位数字，实际为{0}位")]
    BodyLength(usize),
    /// Carries the first offending character: positions 1–17 must be digits,
    /// position 18 a digit or `X`.
    #[error("身份证号码含有非法字符“{0}”（前17位应为数字，第18位应为数字或X）")]
    Charset(char),
    /// Carries positions 7–14 when they are not a calendar date in 1900–2099.
    #[error("身份证号码中的出生日期“{0}”无效（应为1900年至2099年间的真实日期）")]
    BirthDate(String),
    #[error("身份证号码校验码错误：应为“{expected}”，实际为“{actual}”")]
    CheckDigit { expected: char, actual: char },
}

impl Coded for IdCardError {
    fn code(&self) -> &'static str {
        match self {
            IdCardError::Empty => "id_card.empty",
            IdCardError::Length(_) => "id_card.length",
            IdCardError::BodyLength(_) => "id_card.body_length",
            IdCardError::Charset(_) => "id_card.charset",
            IdCardError::BirthDate(_) => "id_card.birth_date",
            IdCardError::CheckDigit { .. } => "id_card.check_digit",
        }
    }
}

/// A valid 18-digit 居民身份证号码 (the 15-digit first-generation format is
/// long expired and not accepted). Stored with an upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdCardNumber(String);

impl IdCardNumber {
    /// Parses an ID number: trims whitespace, accepts a lower-case `x`.
    pub fn parse(input: &str) -> Result<Self, IdCardError> {
        let s = normalise(input)?;
        let len = s.chars().count();
        if len != 18 {
            return Err(IdCardError::Length(len));
        }
        let expected = check_body(&s)?;
        // check_body proved the first 17 characters ASCII, so byte 17 starts
        // the last character.
        let actual = s[17..].chars().next().unwrap_or_default();
        if !(actual.is_ascii_digit() || actual == 'X') {
            return Err(IdCardError::Charset(actual));
        }
        if actual != expected {
            return Err(IdCardError::CheckDigit { expected, actual });
        }
        Ok(IdCardNumber(s))
    }

    /// Completes 17 digits with the computed check digit. For synthetic
    /// demo data; real numbers come from the holder's card.
    pub fn with_check_digit(first17: &str) -> Result<Self, IdCardError> {
        let mut s = normalise(first17)?;
        let len = s.chars().count();
        if len != 17 {
            return Err(IdCardError::BodyLength(len));
        }
        let c = check_body(&s)?;
        s.push(c);
        Ok(IdCardNumber(s))
    }

    /// The full number. Handle with care: personal information.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 3 and last 4 characters kept, the 11 between replaced by `*`:
    /// `110***********002X`. Enough for a person to recognise their own
    /// number, too little to identify anyone.
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.0[..3], "*".repeat(11), &self.0[14..])
    }

    /// Positions 7–14 as a date; always valid by construction.
    pub fn birth_date(&self) -> NaiveDate {
        parse_birth(&self.0[6..14]).unwrap_or_default()
    }

    /// GB 11643-1999: the sequence code's last digit (position 17) is odd for
    /// men, even for women.
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    /// Positions 1–6: the GB/T 2260 division code where the number was issued.
    pub fn region_prefix(&self) -> &str {
        &self.0[..6]
    }
}

fn normalise(input: &str) -> Result<String, IdCardError> {
    let t = input.trim();
    if t.is_empty() {
        return Err(IdCardError::Empty);
    }
    Ok(t.to_ascii_uppercase())
}

/// Validates the first 17 characters (digits, real birth date) of `s`
/// (which has at least 17 characters) and returns the check character.
fn check_body(s: &str) -> Result<char, IdCardError> {
    let mut sum = 0u32;
    for (c, w) in s.chars().take(17).zip(WEIGHTS) {
        // `to_digit` accepts only ASCII digits, so full-width digits are rejected.
        let d = c.to_digit(10).ok_or(IdCardError::Charset(c))?;
        sum += d * w;
    }
    let birth = &s[6..14];
    if parse_birth(birth).is_none() {
        return Err(IdCardError::BirthDate(birth.to_owned()));
    }
    Ok(char::from(CHECK[(sum % 11) as usize]))
}

/// YYYYMMDD (eight ASCII digits) → a real date within the accepted range.
fn parse_birth(digits: &str) -> Option<NaiveDate> {
    let y: i32 = digits[..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..8].parse().ok()?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let min = NaiveDate::from_ymd_opt(MIN_BIRTH.0, MIN_BIRTH.1, MIN_BIRTH.2)?;
    let max = NaiveDate::from_ymd_opt(MAX_BIRTH.0, MAX_BIRTH.1, MAX_BIRTH.2)?;
    (min..=max).contains(&date).then_some(date)
}

/// Never prints the full number: personal information must not reach logs.
impl fmt::Debug for IdCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdCardNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IdCardNumber {
    type Err = IdCardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdCardNumber::parse(s)
    }
}

impl TryFrom<&str> for IdCardNumber {
    type Error = IdCardError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        IdCardNumber::parse(s)
    }
}

impl TryFrom<String> for IdCardNumber {
    type Error = IdCardError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdCardNumber::parse(&s)
    }
}

impl From<IdCardNumber> for String {
    fn from(n: IdCardNumber) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    /// The worked example of GB 11643-1999.
    const STANDARD_EXAMPLE: &str = "11010519491231002X";

    #[test]
    fn accepts_standard_example() {
        let n = IdCardNumber::parse(STANDARD_EXAMPLE).unwrap();
        assert_eq!(n.as_str(), STANDARD_EXAMPLE);
        assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(n.region_prefix(), "110105");
        assert!(!n.is_male()); // 17th digit 2: female
    }

    #[test]
    fn accepts_other_valid_numbers() {
        let n = IdCardNumber::parse("11010119900307803X").unwrap();
        assert!(n.is_male()); // 17th digit 3
        assert_eq!(n.birth_date().year(), 1990);
        let n = IdCardNumber::parse("110101199003074477").unwrap();
        assert!(n.is_male());
    }

    #[test]
    fn trims_and_uppercases_x() {
        let n = IdCardNumber::parse(" 11010519491231002x\n").unwrap();
        assert_eq!(n.as_str(), STANDARD_EXAMPLE);
    }

    #[test]
    fn masked_keeps_three_and_four() {
        let n = IdCardNumber::parse(STANDARD_EXAMPLE).unwrap();
        assert_eq!(n.masked(), "110***********002X");
        assert_eq!(n.masked().chars().count(), 18);
    }

    #[test]
    fn debug_never_shows_full_number() {
        let n = IdCardNumber::parse(STANDARD_EXAMPLE).unwrap();
        let dbg = format!("{n:?}");
        assert_eq!(dbg, "IdCardNumber(\"110***********002X\")");
        assert!(!dbg.contains("19491231"));
        let dbg = format!("{:?}", Some(n));
        assert!(!dbg.contains(STANDARD_EXAMPLE));
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(
            IdCardNumber::parse("110105194912310021"),
            Err(IdCardError::CheckDigit {
                expected: 'X',
                actual: '1'
            })
        );
    }

    #[test]
    fn rejects_bad_birth_dates() {
        // 1949-02-30 does not exist.
        let n = IdCardNumber::with_check_digit("11010519490230002");
        assert_eq!(n, Err(IdCardError::BirthDate("19490230".into())));
        // Month 13.
        assert_eq!(
            IdCardNumber::parse("110105194913310021"),
            Err(IdCardError::BirthDate("19491331".into()))
        );
        // 1880: check digit right, but out of range.
        assert_eq!(
            IdCardNumber::parse("440524188001010014"),
            Err(IdCardError::BirthDate("18800101".into()))
        );
        // 2100-01-01: out of range.
        assert_eq!(
            IdCardNumber::parse("110105210001010011"),
            Err(IdCardError::BirthDate("21000101".into()))
        );
        // Leap day only in leap years.
        assert!(IdCardNumber::with_check_digit("11010520000229001").is_ok());
        assert_eq!(
            IdCardNumber::with_check_digit("11010519000229001"),
            Err(IdCardError::BirthDate("19000229".into()))
        );
    }

    #[test]
    fn rejects_bad_characters_and_lengths() {
        assert_eq!(IdCardNumber::parse(""), Err(IdCardError::Empty));
        assert_eq!(IdCardNumber::parse("1101051949123100"), Err(IdCardError::Length(16)));
        assert_eq!(IdCardNumber::parse("11010519491231002XX"), Err(IdCardError::Length(19)));
        assert_eq!(
            IdCardNumber::parse("1101051949123100X2"),
            Err(IdCardError::Charset('X'))
        );
        assert_eq!(
            IdCardNumber::parse("11010519491231002Y"),
            Err(IdCardError::Charset('Y'))
        );
        assert_eq!(
            IdCardNumber::parse("１10105194912310021"),
            Err(IdCardError::Charset('１'))
        );
        assert_eq!(IdCardNumber::with_check_digit("1101"), Err(IdCardError::BodyLength(4)));
    }

    #[test]
    fn with_check_digit_completes() {
        let n = IdCardNumber::with_check_digit("11010519491231002").unwrap();
        assert_eq!(n.as_str(), STANDARD_EXAMPLE);
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(IdCardError::BirthDate("19490230".into()).code(), "id_card.birth_date");
        assert_eq!(IdCardError::Length(3).to_string(), "身份证号码应为18位，实际为3位");
        assert_eq!(
            IdCardError::CheckDigit {
                expected: 'X',
                actual: '1'
            }
            .code(),
            "id_card.check_digit"
        );
        assert_eq!(IdCardError::Charset('a').code(), "id_card.charset");
        assert_eq!(IdCardError::Length(3).code(), "id_card.length");
        assert_eq!(IdCardError::BodyLength(3).code(), "id_card.body_length");
        assert_eq!(IdCardError::Empty.code(), "id_card.empty");
    }

    #[test]
    fn conversions_and_serde() {
        let n: IdCardNumber = STANDARD_EXAMPLE.parse().unwrap();
        assert_eq!(IdCardNumber::try_from(STANDARD_EXAMPLE).unwrap(), n);
        assert_eq!(IdCardNumber::try_from(STANDARD_EXAMPLE.to_string()).unwrap(), n);
        assert_eq!(n.to_string(), STANDARD_EXAMPLE);
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, format!("\"{STANDARD_EXAMPLE}\""));
        assert_eq!(serde_json::from_str::<IdCardNumber>(&json).unwrap(), n);
        assert!(serde_json::from_str::<IdCardNumber>("\"110105194912310021\"").is_err());
    }

    /// 17 digits: random region and sequence, a real birth date in range.
    fn body() -> impl Strategy<Value = String> {
        let min = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        let max = NaiveDate::from_ymd_opt(2099, 12, 31).unwrap();
        let days = (max - min).num_days();
        (0u32..1_000_000, 0..=days, 0u32..1000).prop_map(move |(region, off, seq)| {
            let d = min + chrono::Duration::days(off);
            format!("{region:06}{}{seq:03}", d.format("%Y%m%d"))
        })
    }

    proptest! {
        #[test]
        fn any_valid_body_with_check_digit_parses(b in body()) {
            let n = IdCardNumber::with_check_digit(&b).unwrap();
            let p = IdCardNumber::parse(n.as_str()).unwrap();
            prop_assert_eq!(&p.as_str()[..17], b.as_str());
            prop_assert_eq!(p.birth_date().format("%Y%m%d").to_string(), &b[6..14]);
        }

        /// MOD 11-2 detects every single-digit substitution: all weights are
        /// non-zero modulo the prime 11.
        #[test]
        fn changing_any_one_digit_fails(b in body(), pos in 0usize..18, delta in 1u8..10) {
            let full = IdCardNumber::with_check_digit(&b).unwrap().0;
            let mut bytes = full.into_bytes();
            bytes[pos] = if bytes[pos] == b'X' {
                b'0' + delta // X (10) → any digit 1–9 differs
            } else {
                b'0' + (bytes[pos] - b'0' + delta) % 10
            };
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(IdCardNumber::parse(&changed).is_err(), "{}", changed);
        }
    }
}
