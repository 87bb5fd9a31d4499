//! Mainland China telephone numbers (联系电话): mobile or fixed line.
//!
//! * Mobile (手机号): 11 digits `1[3-9]X XXXX XXXX` under the national
//!   numbering plan (工信部《电信网编号计划》). A leading `+86`/`86`/`0086`
//!   country code is accepted and dropped; we store the national form.
//! * Landline (固定电话): trunk prefix `0`, an area code, then a 7–8 digit
//!   subscriber number. Area codes are 3 digits (`010`, `020`–`029`: Beijing
//!   and the large cities) or 4 digits (everything else), so the split is
//!   determined by the second digit even when the user omits the hyphen.
//!   Stored normalised as `0AA-NNNNNNNN`, so one number has one spelling.
//!
//! A phone number is personal information: [`fmt::Debug`] prints the masked
//! form, and errors do not carry the input (only a safe description of it).
//! Extensions (分机) and Hong Kong/Macao/Taiwan numbers are not accepted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Coded;

/// Why a string is not a mainland phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("电话号码不能为空")]
    Empty,
    /// Carries the input with its digits masked (`1**********`), preserving
    /// its shape for diagnosis without leaking the number.
    #[error("电话号码格式不正确：“{0}”（手机号应为1开头的11位数字，固定电话应为“区号-号码”，如010-12345678）")]
    Format(String),
}

impl Coded for PhoneError {
    fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone.empty",
            PhoneError::Format(_) => "phone.format",
        }
    }
}

/// A valid mainland mobile or landline number in normalised form:
/// `13800138000` or `010-12345678`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        let bad = || PhoneError::Format(mask_digits(s));
        if let Some(national) = strip_country_code(s) {
            // After a country code only a mobile number is meaningful here
            // (a landline would drop its trunk 0, which we do not accept).
            return if is_mobile(national) {
                Ok(Phone(national.to_owned()))
            } else {
                Err(bad())
            };
        }
        if is_mobile(s) {
            return Ok(Phone(s.to_owned()));
        }
        parse_landline(s).map(Phone).ok_or_else(bad)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_mobile(&self) -> bool {
        !self.0.starts_with('0')
    }

    /// The area code with its trunk `0` (`"010"`, `"0591"`); `None` for mobiles.
    pub fn area_code(&self) -> Option<&str> {
        self.0.split_once('-').map(|(area, _)| area)
    }

    /// Mobile: first 3 and last 4 digits kept, `138****5678` (the common
    /// display convention of Chinese apps). Landline: the area code (which
    /// only names a city) and the last 2 digits kept, `010-******78`.
    pub fn masked(&self) -> String {
        match self.0.split_once('-') {
            None => format!("{}****{}", &self.0[..3], &self.0[7..]),
            Some((area, number)) => {
                let keep = number.len() - 2;
                format!("{area}-{}{}", "*".repeat(keep), &number[keep..])
            }
        }
    }
}

/// `+86`, `0086` or `86`, optionally followed by one space or hyphen;
/// returns the rest when a country code was present.
fn strip_country_code(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("0086"))
        // A bare "86" prefix only makes sense before an 11-digit mobile.
        .or_else(|| {
            s.strip_prefix("86")
                .filter(|r| r.trim_start_matches([' ', '-']).len() == 11)
        })?;
    Some(rest.strip_prefix([' ', '-']).unwrap_or(rest))
}

/// `1[3-9]\d{9}`.
fn is_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// `0\d{2,3}-?\d{7,8}` with the area-code length fixed by the numbering plan;
/// returns the normalised `area-number` form.
fn parse_landline(s: &str) -> Option<String> {
    let (digits, hyphen_at) = match s.split_once('-') {
        Some((a, n)) => (format!("{a}{n}"), Some(a.len())),
        None => (s.to_owned(), None),
    };
    let b = digits.as_bytes();
    if b.len() < 3 || b[0] != b'0' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let area_len = if matches!(b[1], b'1' | b'2') { 3 } else { 4 };
    // A hyphen in the wrong place means the user split a different area code
    // from ours: the number is ambiguous, so refuse rather than guess.
    if hyphen_at.is_some_and(|h| h != area_len) {
        return None;
    }
    // 010 is the only 3-digit code starting 01; 011–019 do not exist.
    if b[1] == b'1' && b[2] != b'0' {
        return None;
    }
    // A subscriber number starting with 0 is a doubled trunk prefix typo.
    let number = digits.get(area_len..)?;
    if !(7..=8).contains(&number.len()) || number.starts_with('0') {
        return None;
    }
    Some(format!("{}-{number}", &digits[..area_len]))
}

/// The input with every digit replaced by `*` except the first, so an error
/// message shows the shape of bad input without repeating the number.
fn mask_digits(s: &str) -> String {
    let mut seen_digit = false;
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                let first = !seen_digit;
                seen_digit = true;
                if first {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// Prints the masked form only: phone numbers are personal information.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Phone").field(&self.masked()).finish()
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

impl TryFrom<&str> for Phone {
    type Error = PhoneError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Phone::parse(s)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> String {
        Phone::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).0
    }

    fn format_err(s: &str) {
        assert!(
            matches!(Phone::parse(s), Err(PhoneError::Format(_))),
            "{s} should be phone.format, got {:?}",
            Phone::parse(s)
        );
    }

    #[test]
    fn mobiles() {
        assert_eq!(ok("13800138000"), "13800138000");
        assert_eq!(ok("19912345678"), "19912345678");
        assert_eq!(ok(" 15012345678 "), "15012345678");
        assert_eq!(ok("+8613800138000"), "13800138000");
        assert_eq!(ok("+86 13800138000"), "13800138000");
        assert_eq!(ok("+86-13800138000"), "13800138000");
        assert_eq!(ok("008613800138000"), "13800138000");
        assert_eq!(ok("8613800138000"), "13800138000");
        assert!(Phone::parse("13800138000").unwrap().is_mobile());
        assert_eq!(Phone::parse("13800138000").unwrap().area_code(), None);
    }

    #[test]
    fn bad_mobiles() {
        format_err("12800138000"); // 12x is not a mobile prefix
        format_err("10800138000");
        format_err("1380013800"); // 10 digits
        format_err("138001380000"); // 12 digits
        format_err("1380013800a");
        format_err("+8612800138000");
        format_err("+86010-12345678"); // country code only before mobiles
        format_err("138 0013 8000"); // no internal spaces
        format_err("１3800138000"); // full-width digit
    }

    #[test]
    fn landlines() {
        assert_eq!(ok("010-12345678"), "010-12345678");
        assert_eq!(ok("01012345678"), "010-12345678");
        assert_eq!(ok("021-6123456"), "021-6123456");
        assert_eq!(ok("0591-87654321"), "0591-87654321");
        assert_eq!(ok("059187654321"), "0591-87654321");
        assert_eq!(ok("0755-2345678"), "0755-2345678");
        let p = Phone::parse("0591-87654321").unwrap();
        assert!(!p.is_mobile());
        assert_eq!(p.area_code(), Some("0591"));
    }

    #[test]
    fn bad_landlines() {
        format_err("05-12345678"); // area code too short
        format_err("0591-123456"); // 6-digit number
        format_err("0591-123456789"); // 9-digit number
        format_err("059-187654321"); // hyphen disagrees with the 4-digit area code
        format_err("0101-2345678"); // hyphen disagrees with the 3-digit 010
        format_err("011-12345678"); // no such area code
        format_err("010-02345678"); // subscriber numbers never start with 0
        format_err("030"); // shorter than its area code
        format_err("10-12345678");
        format_err("010--12345678");
        format_err("abc");
    }

    #[test]
    fn empty() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("  "), Err(PhoneError::Empty));
    }

    #[test]
    fn masking() {
        assert_eq!(Phone::parse("13812345678").unwrap().masked(), "138****5678");
        assert_eq!(Phone::parse("010-12345678").unwrap().masked(), "010-******78");
        assert_eq!(Phone::parse("0591-8765432").unwrap().masked(), "0591-*****32");
    }

    #[test]
    fn debug_prints_masked_only() {
        let p = Phone::parse("13812345678").unwrap();
        assert_eq!(format!("{p:?}"), "Phone(\"138****5678\")");
        assert!(!format!("{:?}", vec![p]).contains("13812345678"));
    }

    #[test]
    fn errors_do_not_echo_the_number() {
        let e = Phone::parse("12812345678").unwrap_err();
        assert_eq!(e, PhoneError::Format("1**********".into()));
        assert!(!e.to_string().contains("12812345678"));
        assert_eq!(e.code(), "phone.format");
        assert_eq!(PhoneError::Empty.code(), "phone.empty");
    }

    #[test]
    fn conversions_and_serde() {
        let p: Phone = "+86 13800138000".parse().unwrap();
        assert_eq!(p.to_string(), "13800138000");
        assert_eq!(Phone::try_from("13800138000").unwrap(), p);
        assert_eq!(Phone::try_from(String::from("13800138000")).unwrap(), p);
        let json = serde_json::to_string(&Phone::parse("01012345678").unwrap()).unwrap();
        assert_eq!(json, "\"010-12345678\"");
        let back: Phone = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "010-12345678");
        assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
    }

    proptest! {
        #[test]
        fn every_mobile_roundtrips(second in 3u8..=9, rest in 0u64..1_000_000_000) {
            let s = format!("1{second}{rest:09}");
            let p = Phone::parse(&s).unwrap();
            prop_assert_eq!(p.as_str(), s.as_str());
            prop_assert_eq!(Phone::parse(&format!("+86{s}")).unwrap(), p.clone());
            let m = p.masked();
            prop_assert_eq!(&m[..3], &s[..3]);
            prop_assert_eq!(&m[7..], &s[7..]);
        }

        #[test]
        fn normalised_form_is_a_fixed_point(s in "[0-9+ -]{0,16}") {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p);
            }
        }
    }
}
