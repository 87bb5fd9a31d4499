//! 统一社会信用代码 (Unified Social Credit Code, USCC) per GB 32100-2015.
//!
//! Every legal person and organisation in mainland China — companies,
//! institutions, social organisations — carries one 18-character code:
//!
//! | position | meaning                                             |
//! |----------|-----------------------------------------------------|
//! | 1        | 登记管理部门代码 (registration authority)            |
//! | 2        | 机构类别代码 (organisation category)                  |
//! | 3–8      | 登记管理机关行政区划码 (GB/T 2260 division code)      |
//! | 9–17     | 主体标识码 (the former 组织机构代码, GB 11714)        |
//! | 18       | 校验码 (check character)                             |
//!
//! The alphabet is the 31 characters `0-9A-Z` minus `I O Z S V` (dropped
//! because they are easily confused with `1 0 2 5 U`). The check character is
//! computed modulo 31 with the weights 3^i mod 31 given in the standard.
//!
//! We deliberately do **not** validate positions 1–2 against a list: the set
//! of registration authorities has grown since 2015 (e.g. `A`, `N`, `Y`) and a
//! stale list would reject real codes. Positions 3–8 must be six digits but
//! are not checked against the region table either: codes issued before a
//! district was renamed or merged keep their old division code for life.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Coded;

/// The GB 32100-2015 alphabet, in value order: a character's index is its
/// numeric value in the check computation.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights W_i for positions 1–17 (3^(i-1) mod 31), GB 32100-2015 §5.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a string is not a 统一社会信用代码.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("统一社会信用代码不能为空")]
    Empty,
    /// Carries the actual number of characters.
    #[error("统一社会信用代码应为18位，实际为{0}位")]
    Length(usize),
    /// Carries the actual number of characters given to [`Uscc::with_check_char`].
    #[error("统一社会信用代码前17位应为17位，实际为{0}位")]
    BodyLength(usize),
    /// Carries the first character outside the GB 32100 alphabet.
    #[error("统一社会信用代码含有非法字符“{0}”（只允许数字和除I、O、Z、S、V以外的大写字母）")]
    Charset(char),
    /// Carries positions 3–8 when they are not six digits.
    #[error("统一社会信用代码第3至8位应为6位数字的行政区划码，实际为“{0}”")]
    Region(String),
    #[error("统一社会信用代码校验码错误：应为“{expected}”，实际为“{actual}”")]
    CheckChar { expected: char, actual: char },
}

impl Coded for UsccError {
    fn code(&self) -> &'static str {
        match self {
            UsccError::Empty => "uscc.empty",
            UsccError::Length(_) => "uscc.length",
            UsccError::BodyLength(_) => "uscc.body_length",
            UsccError::Charset(_) => "uscc.charset",
            UsccError::Region(_) => "uscc.region",
            UsccError::CheckChar { .. } => "uscc.check_char",
        }
    }
}

/// A valid 统一社会信用代码, stored upper-case without surrounding whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Parses a USCC. Surrounding whitespace is trimmed and lower-case
    /// letters are accepted (people type them), then stored upper-case.
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        let s = normalise(input)?;
        let len = s.chars().count();
        if len != 18 {
            return Err(UsccError::Length(len));
        }
        check_charset(&s)?;
        // All 18 characters are ASCII now, so byte indexing is safe.
        let expected = check_char(&s[..17])?;
        let actual = char::from(s.as_bytes()[17]);
        if actual != expected {
            return Err(UsccError::CheckChar { expected, actual });
        }
        Ok(Uscc(s))
    }

    /// Completes the first 17 characters with the computed check character.
    /// Used to generate synthetic but well-formed codes for demo data.
    pub fn with_check_char(first17: &str) -> Result<Self, UsccError> {
        let mut s = normalise(first17)?;
        let len = s.chars().count();
        if len != 17 {
            return Err(UsccError::BodyLength(len));
        }
        check_charset(&s)?;
        let c = check_char(&s)?;
        s.push(c);
        Ok(Uscc(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Positions 3–8: the GB/T 2260 division code of the registering authority
    /// (e.g. `"350100"` for 福州市). Guaranteed to be six ASCII digits.
    pub fn region_prefix(&self) -> &str {
        &self.0[2..8]
    }

    /// Position 18, the check character.
    pub fn check_char(&self) -> char {
        char::from(self.0.as_bytes()[17])
    }
}

/// Trims, rejects empty input and upper-cases ASCII letters.
fn normalise(input: &str) -> Result<String, UsccError> {
    let t = input.trim();
    if t.is_empty() {
        return Err(UsccError::Empty);
    }
    Ok(t.to_ascii_uppercase())
}

/// Numeric value of a character in the GB 32100 alphabet.
fn value_of(c: char) -> Option<u32> {
    let b = u8::try_from(c).ok()?;
    ALPHABET.iter().position(|&a| a == b).map(|i| i as u32)
}

/// Rejects the first character outside the GB 32100 alphabet.
fn check_charset(s: &str) -> Result<(), UsccError> {
    match s.chars().find(|&c| value_of(c).is_none()) {
        Some(c) => Err(UsccError::Charset(c)),
        None => Ok(()),
    }
}

/// Checks positions 3–8 are digits and returns the check character of the
/// 17-character body: C18 = 31 − (Σ Ci·Wi mod 31), with 31 mapped to 0.
/// The caller guarantees `body` is 17 characters of the alphabet.
fn check_char(body: &str) -> Result<char, UsccError> {
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| value_of(c).unwrap_or(0) * w)
        .sum();
    let region = &body[2..8];
    if !region.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsccError::Region(region.to_owned()));
    }
    let idx = (31 - sum % 31) % 31;
    Ok(char::from(ALPHABET[idx as usize]))
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

impl TryFrom<&str> for Uscc {
    type Error = UsccError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Uscc::parse(s)
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Uscc::parse(&s)
    }
}

impl From<Uscc> for String {
    fn from(u: Uscc) -> String {
        u.0
    }
}

impl AsRef<str> for Uscc {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real-format codes whose check characters verify under GB 32100-2015.
    const VALID: &[&str] = &[
        "91350100M000100Y43",
        "91110000600037341L",
        "91440300708461136T",
        "91110108551385082Q",
        "91330000142916567N",
    ];

    #[test]
    fn accepts_real_format_codes() {
        for s in VALID {
            let u = Uscc::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(u.as_str(), *s);
            assert_eq!(u.to_string(), *s);
        }
    }

    #[test]
    fn region_prefix_and_check_char() {
        let u = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(u.region_prefix(), "350100");
        assert_eq!(u.check_char(), '3');
    }

    #[test]
    fn trims_and_uppercases() {
        let u = Uscc::parse("  91350100m000100y43\t").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(Uscc::parse(""), Err(UsccError::Empty));
        assert_eq!(Uscc::parse("   "), Err(UsccError::Empty));
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(Uscc::parse("91350100M000100Y4"), Err(UsccError::Length(17)));
        assert_eq!(Uscc::parse("91350100M000100Y433"), Err(UsccError::Length(19)));
        // Counted in characters, not bytes.
        assert_eq!(Uscc::parse("统一社会信用代码"), Err(UsccError::Length(8)));
    }

    #[test]
    fn rejects_forbidden_letters() {
        for bad in ['I', 'O', 'Z', 'S', 'V'] {
            let s = format!("91350100M000100{bad}43");
            assert_eq!(Uscc::parse(&s), Err(UsccError::Charset(bad)), "{s}");
        }
        assert_eq!(Uscc::parse("91350100M000100Y4-"), Err(UsccError::Charset('-')));
        assert_eq!(Uscc::parse("9135010０M000100Y43"), Err(UsccError::Charset('０')));
    }

    #[test]
    fn rejects_non_digit_region() {
        assert_eq!(
            Uscc::parse("9135A100M000100Y43"),
            Err(UsccError::Region("35A100".into()))
        );
    }

    #[test]
    fn rejects_wrong_check_char() {
        assert_eq!(
            Uscc::parse("91350100M000100Y44"),
            Err(UsccError::CheckChar {
                expected: '3',
                actual: '4'
            })
        );
        assert_eq!(
            Uscc::parse("91110000600037341X"),
            Err(UsccError::CheckChar {
                expected: 'L',
                actual: 'X'
            })
        );
    }

    #[test]
    fn with_check_char_completes_codes() {
        let u = Uscc::with_check_char("91350100M000100Y4").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
        let u = Uscc::with_check_char(" 91110000600037341 ").unwrap();
        assert_eq!(u.as_str(), "91110000600037341L");
        assert_eq!(Uscc::with_check_char("9135"), Err(UsccError::BodyLength(4)));
        assert_eq!(Uscc::with_check_char(""), Err(UsccError::Empty));
        assert_eq!(Uscc::with_check_char("91350100M000100I4"), Err(UsccError::Charset('I')));
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(UsccError::Length(17).code(), "uscc.length");
        assert_eq!(
            UsccError::Length(17).to_string(),
            "统一社会信用代码应为18位，实际为17位"
        );
        assert_eq!(UsccError::Charset('I').code(), "uscc.charset");
        assert_eq!(
            UsccError::CheckChar {
                expected: '3',
                actual: '4'
            }
            .code(),
            "uscc.check_char"
        );
        assert_eq!(UsccError::Region(String::new()).code(), "uscc.region");
        assert_eq!(UsccError::Empty.code(), "uscc.empty");
        assert_eq!(UsccError::BodyLength(3).code(), "uscc.body_length");
    }

    #[test]
    fn conversions_and_serde() {
        let u: Uscc = "91350100M000100Y43".parse().unwrap();
        assert_eq!(Uscc::try_from("91350100M000100Y43").unwrap(), u);
        assert_eq!(Uscc::try_from(String::from("91350100M000100Y43")).unwrap(), u);
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, "\"91350100M000100Y43\"");
        assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), u);
        assert!(serde_json::from_str::<Uscc>("\"91350100M000100Y44\"").is_err());
    }

    fn body() -> impl Strategy<Value = String> {
        let alpha = proptest::sample::select(ALPHABET.to_vec());
        let digit = proptest::sample::select(b"0123456789".to_vec());
        (
            proptest::collection::vec(alpha.clone(), 2),
            proptest::collection::vec(digit, 6),
            proptest::collection::vec(alpha, 9),
        )
            .prop_map(|(a, b, c)| a.into_iter().chain(b).chain(c).map(char::from).collect())
    }

    proptest! {
        #[test]
        fn generated_codes_parse(b in body()) {
            let u = Uscc::with_check_char(&b).unwrap();
            prop_assert_eq!(Uscc::parse(u.as_str()).unwrap(), u);
        }

        /// Mod-31 weights are all non-zero and 31 is prime, so any single
        /// substitution within the alphabet changes the check character.
        #[test]
        fn single_substitution_is_detected(b in body(), pos in 0usize..18, delta in 1usize..31) {
            let code = Uscc::with_check_char(&b).unwrap().0;
            let mut bytes = code.into_bytes();
            let v = ALPHABET.iter().position(|&a| a == bytes[pos]).unwrap();
            bytes[pos] = ALPHABET[(v + delta) % 31];
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Uscc::parse(&changed).is_err());
        }
    }
}
