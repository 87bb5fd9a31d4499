//! 国民经济行业分类 门类 (industry sections) of GB/T 4754-2017.
//!
//! GB/T 4754-2017 (unchanged at section level by its 2019 amendment 第1号
//! 修改单) classifies economic activity in four levels: 门类 (section, a
//! letter A–T), 大类 (division, 2 digits), 中类 and 小类. Enterprises in a
//! 双创 base report their industry at least at section level, which is what
//! statistics and eligibility rules use; this type models exactly the 20
//! sections. Finer codes can be added as their own type when needed.
//!
//! Serialised as the section letter (`"I"`), like the standard writes it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Coded;

/// Why a string is not an industry section letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndustryError {
    #[error("行业门类不能为空")]
    Empty,
    /// Carries the input (trimmed).
    #[error("未知的行业门类“{0}”（应为GB/T 4754-2017中A至T的一个字母）")]
    Unknown(String),
}

impl Coded for IndustryError {
    fn code(&self) -> &'static str {
        match self {
            IndustryError::Empty => "industry.empty",
            IndustryError::Unknown(_) => "industry.unknown",
        }
    }
}

/// One of the 20 门类 of GB/T 4754-2017.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum IndustrySection {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
    M,
    N,
    O,
    P,
    Q,
    R,
    S,
    T,
}

impl IndustrySection {
    /// All sections in the standard's order.
    pub const ALL: [IndustrySection; 20] = {
        use IndustrySection::*;
        [A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T]
    };

    /// Parses the section letter, case-insensitively, ignoring surrounding
    /// whitespace.
    pub fn parse(input: &str) -> Result<Self, IndustryError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IndustryError::Empty);
        }
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => {
                let upper = c.to_ascii_uppercase();
                Self::ALL.into_iter().find(|sec| sec.code() == upper)
            }
            _ => None,
        }
        .ok_or_else(|| IndustryError::Unknown(s.to_owned()))
    }

    /// The section letter, `'A'`..=`'T'`.
    pub fn code(self) -> char {
        char::from(self.as_str().as_bytes()[0])
    }

    /// The section letter as a string, `"A"`..=`"T"`.
    pub fn as_str(self) -> &'static str {
        use IndustrySection::*;
        match self {
            A => "A",
            B => "B",
            C => "C",
            D => "D",
            E => "E",
            F => "F",
            G => "G",
            H => "H",
            I => "I",
            J => "J",
            K => "K",
            L => "L",
            M => "M",
            N => "N",
            O => "O",
            P => "P",
            Q => "Q",
            R => "R",
            S => "S",
            T => "T",
        }
    }

    /// The section's official name in GB/T 4754-2017.
    pub fn name(self) -> &'static str {
        use IndustrySection::*;
        match self {
            A => "农、林、牧、渔业",
            B => "采矿业",
            C => "制造业",
            D => "电力、热力、燃气及水生产和供应业",
            E => "建筑业",
            F => "批发和零售业",
            G => "交通运输、仓储和邮政业",
            H => "住宿和餐饮业",
            I => "信息传输、软件和信息技术服务业",
            J => "金融业",
            K => "房地产业",
            L => "租赁和商务服务业",
            M => "科学研究和技术服务业",
            N => "水利、环境和公共设施管理业",
            O => "居民服务、修理和其他服务业",
            P => "教育",
            Q => "卫生和社会工作",
            R => "文化、体育和娱乐业",
            S => "公共管理、社会保障和社会组织",
            T => "国际组织",
        }
    }
}

/// The section letter, as in the standard's tables.
impl fmt::Display for IndustrySection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndustrySection {
    type Err = IndustryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndustrySection::parse(s)
    }
}

impl TryFrom<&str> for IndustrySection {
    type Error = IndustryError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        IndustrySection::parse(s)
    }
}

impl TryFrom<String> for IndustrySection {
    type Error = IndustryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IndustrySection::parse(&s)
    }
}

impl From<IndustrySection> for String {
    fn from(s: IndustrySection) -> String {
        s.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_twenty_in_order() {
        let letters: String = IndustrySection::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(letters, "ABCDEFGHIJKLMNOPQRST");
        let mut sorted = IndustrySection::ALL;
        sorted.sort();
        assert_eq!(sorted, IndustrySection::ALL);
    }

    #[test]
    fn names() {
        assert_eq!(IndustrySection::A.name(), "农、林、牧、渔业");
        assert_eq!(IndustrySection::C.name(), "制造业");
        assert_eq!(IndustrySection::I.name(), "信息传输、软件和信息技术服务业");
        assert_eq!(IndustrySection::M.name(), "科学研究和技术服务业");
        assert_eq!(IndustrySection::T.name(), "国际组织");
        let names: std::collections::HashSet<_> = IndustrySection::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), 20);
    }

    #[test]
    fn parse_letters() {
        for sec in IndustrySection::ALL {
            assert_eq!(IndustrySection::parse(sec.as_str()), Ok(sec));
            let lower = sec.as_str().to_ascii_lowercase();
            assert_eq!(IndustrySection::parse(&format!(" {lower} ")), Ok(sec));
        }
    }

    #[test]
    fn rejects_unknown() {
        assert_eq!(IndustrySection::parse(""), Err(IndustryError::Empty));
        assert_eq!(IndustrySection::parse("  "), Err(IndustryError::Empty));
        for bad in ["U", "z", "AB", "1", "65", "Ａ", "制造业"] {
            assert_eq!(
                IndustrySection::parse(bad),
                Err(IndustryError::Unknown(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_codes() {
        assert_eq!(IndustryError::Empty.code(), "industry.empty");
        assert_eq!(IndustryError::Unknown("U".into()).code(), "industry.unknown");
        assert_eq!(
            IndustryError::Unknown("U".into()).to_string(),
            "未知的行业门类“U”（应为GB/T 4754-2017中A至T的一个字母）"
        );
    }

    #[test]
    fn conversions_and_serde() {
        assert_eq!("i".parse::<IndustrySection>(), Ok(IndustrySection::I));
        assert_eq!(IndustrySection::try_from("C"), Ok(IndustrySection::C));
        assert_eq!(IndustrySection::try_from(String::from("c")), Ok(IndustrySection::C));
        assert_eq!(IndustrySection::C.to_string(), "C");
        assert_eq!(String::from(IndustrySection::C), "C");
        assert_eq!(serde_json::to_string(&IndustrySection::I).unwrap(), "\"I\"");
        assert_eq!(
            serde_json::from_str::<IndustrySection>("\"m\"").unwrap(),
            IndustrySection::M
        );
        assert!(serde_json::from_str::<IndustrySection>("\"U\"").is_err());
    }
}
