//! 行政区划代码 (administrative division codes) of GB/T 2260.
//!
//! A 6-digit code `PPCCDD`: `PP` the province, `CC` the prefecture within it,
//! `DD` the county within that. Levels are told apart by trailing zeros:
//! `PP0000` is a province-level division, `PPCC00` a prefecture-level one,
//! anything else county-level.
//!
//! Unlike the check-digit identifiers, validity here is membership: a code
//! is valid if the Ministry of Civil Affairs publishes it. The table ships as
//! `data/regions/gb2260.tsv` (one `code<TAB>name` per line, `#` comments),
//! embedded at compile time and parsed once on first use. It follows the
//! modern MCA convention of listing only real divisions: no `市辖区`/`县`
//! placeholder rows (so `110100` is not a code) and no `省直辖县级行政区划`
//! rows (so `419001 济源市` is a county-level city with no prefecture).
//! Provenance and the year of the data are in the file's header.
//!
//! When divisions change (a county becomes a district, two merge), replace
//! the file with the new MCA list; codes that disappear stop parsing, which
//! is why identifiers that merely *contain* a division code (ID card, USCC)
//! do not look it up here.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Coded;

const TABLE_TSV: &str = include_str!("../../../data/regions/gb2260.tsv");

/// Placeholder names used in older tables for the "districts under the city"
/// and "counties" groupings; never part of a place's full name.
const PLACEHOLDER_NAMES: &[&str] = &["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];

/// `(code, name)` sorted by code, borrowed from the embedded file.
fn table() -> &'static [(&'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows: Vec<_> = TABLE_TSV
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .filter(|(code, name)| is_six_digits(code) && !name.is_empty())
            .collect();
        // The file is sorted; sorting again makes binary search safe even if
        // a hand edit breaks the order (the tests catch that too).
        rows.sort_unstable_by_key(|&(code, _)| code);
        rows.dedup_by_key(|&mut (code, _)| code);
        rows
    })
}

fn lookup(code: &str) -> Option<(&'static str, &'static str)> {
    let t = table();
    t.binary_search_by_key(&code, |&(c, _)| c).ok().map(|i| t[i])
}

fn is_six_digits(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Why a string is not a current GB/T 2260 division code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// Carries the input (trimmed) when it is not exactly six digits.
    #[error("行政区划代码应为6位数字，实际为“{0}”")]
    Format(String),
    /// Carries a well-formed code that is not in the current table.
    #[error("行政区划代码“{0}”不存在或已撤销")]
    Unknown(String),
}

impl Coded for RegionError {
    fn code(&self) -> &'static str {
        match self {
            RegionError::Format(_) => "region.format",
            RegionError::Unknown(_) => "region.unknown",
        }
    }
}

/// The level of a division, read from the code's trailing zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// 省级: province, autonomous region, municipality, SAR (`PP0000`).
    Province,
    /// 地级: prefecture-level city, prefecture, league, autonomous prefecture (`PPCC00`).
    Prefecture,
    /// 县级: district, county, county-level city, banner, …
    County,
}

/// A current GB/T 2260 division code. `Copy`: it borrows the code from the
/// embedded table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(&'static str);

impl RegionCode {
    pub fn parse(input: &str) -> Result<Self, RegionError> {
        let s = input.trim();
        if !is_six_digits(s) {
            return Err(RegionError::Format(s.to_owned()));
        }
        lookup(s)
            .map(|(code, _)| RegionCode(code))
            .ok_or_else(|| RegionError::Unknown(s.to_owned()))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// The division's own name, e.g. `"鼓楼区"` for 350102.
    pub fn name(&self) -> &'static str {
        lookup(self.0).map_or("", |(_, name)| name)
    }

    pub fn level(&self) -> RegionLevel {
        if self.0.ends_with("0000") {
            RegionLevel::Province
        } else if self.0.ends_with("00") {
            RegionLevel::Prefecture
        } else {
            RegionLevel::County
        }
    }

    /// The province-level division containing this one (itself for a province).
    pub fn province(&self) -> RegionCode {
        self.ancestor(2).unwrap_or(*self)
    }

    /// The prefecture-level division containing this one: itself for a
    /// prefecture; `None` for a province, and for a county-level division
    /// directly under its province (districts of 直辖市 like 110101, or
    /// 省直辖县级市 like 419001 济源市).
    pub fn prefecture(&self) -> Option<RegionCode> {
        match self.level() {
            RegionLevel::Province => None,
            RegionLevel::Prefecture => Some(*self),
            RegionLevel::County => self.ancestor(4),
        }
    }

    /// Province, prefecture and county names joined, as written on
    /// addresses: `"福建省福州市鼓楼区"`, `"北京市东城区"`, `"河南省济源市"`.
    pub fn full_name(&self) -> String {
        let mut parts = vec![self.province()];
        parts.extend(self.prefecture());
        parts.push(*self);
        parts.dedup();
        parts
            .iter()
            .map(RegionCode::name)
            .filter(|n| !PLACEHOLDER_NAMES.contains(n))
            .collect()
    }

    /// Every code in the table, in code order.
    pub fn all() -> impl Iterator<Item = RegionCode> {
        table().iter().map(|&(code, _)| RegionCode(code))
    }

    /// The code formed by the first `digits` digits padded with zeros, if it
    /// is in the table.
    fn ancestor(&self, digits: usize) -> Option<RegionCode> {
        let code = format!("{:0<6}", &self.0[..digits]);
        lookup(&code).map(|(c, _)| RegionCode(c))
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl TryFrom<&str> for RegionCode {
    type Error = RegionError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        RegionCode::parse(s)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn table_file_is_well_formed() {
        let data: Vec<&str> = TABLE_TSV
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        // Every data line parsed: nothing silently dropped by table().
        assert_eq!(data.len(), table().len());
        let codes: Vec<&str> = data.iter().map(|l| l.split('\t').next().unwrap()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted, "file must be sorted by code without duplicates");
        for l in &data {
            assert_eq!(l.split('\t').count(), 2, "{l}");
            assert_eq!(l.trim(), *l, "stray whitespace in {l:?}");
        }
    }

    #[test]
    fn table_counts() {
        let count = |lvl| RegionCode::all().filter(|c| c.level() == lvl).count();
        assert_eq!(count(RegionLevel::Province), 34);
        // 333 prefecture-level and 2845 county-level rows in the 2025 list;
        // loose bounds so a routine MCA update does not break the build.
        assert!((320..=345).contains(&count(RegionLevel::Prefecture)));
        assert!((2800..=2900).contains(&count(RegionLevel::County)));
    }

    #[test]
    fn every_code_has_its_province_and_sensible_prefecture() {
        for c in RegionCode::all() {
            let p = c.province();
            assert_eq!(p.level(), RegionLevel::Province, "{c}");
            assert_eq!(&p.as_str()[..2], &c.as_str()[..2], "{c}");
            if let Some(pref) = c.prefecture() {
                assert_eq!(pref.level(), RegionLevel::Prefecture, "{c}");
                assert_eq!(&pref.as_str()[..4], &c.as_str()[..4], "{c}");
            }
            assert!(!c.name().is_empty(), "{c}");
            assert!(!PLACEHOLDER_NAMES.contains(&c.name()), "{c} is a placeholder row");
        }
    }

    #[test]
    fn parse_and_names() {
        let c = r("350102");
        assert_eq!(c.as_str(), "350102");
        assert_eq!(c.name(), "鼓楼区");
        assert_eq!(c.level(), RegionLevel::County);
        assert_eq!(c.province(), r("350000"));
        assert_eq!(c.prefecture(), Some(r("350100")));
        assert_eq!(c.full_name(), "福建省福州市鼓楼区");
        assert_eq!(r(" 350100 ").name(), "福州市");
    }

    #[test]
    fn levels() {
        assert_eq!(r("350000").level(), RegionLevel::Province);
        assert_eq!(r("350100").level(), RegionLevel::Prefecture);
        assert_eq!(r("350181").level(), RegionLevel::County);
        assert_eq!(r("350000").prefecture(), None);
        assert_eq!(r("350100").prefecture(), Some(r("350100")));
        assert_eq!(r("350000").province(), r("350000"));
    }

    #[test]
    fn full_names() {
        assert_eq!(r("110000").full_name(), "北京市");
        assert_eq!(r("110101").full_name(), "北京市东城区"); // no 市辖区 row
        assert_eq!(r("110101").prefecture(), None);
        assert_eq!(r("350100").full_name(), "福建省福州市");
        assert_eq!(r("419001").full_name(), "河南省济源市"); // 省直辖县级市
        assert_eq!(r("419001").prefecture(), None);
        assert_eq!(r("441900").full_name(), "广东省东莞市"); // no counties
        assert_eq!(r("652902").full_name(), "新疆维吾尔自治区阿克苏地区库车市");
        assert_eq!(r("810000").full_name(), "香港特别行政区");
    }

    #[test]
    fn recent_changes_are_in_the_table() {
        // 2021: 杭州 regrouped; 下城区/江干区 abolished, 临平区/钱塘区 created.
        assert_eq!(r("330113").name(), "临平区");
        assert_eq!(RegionCode::parse("330103"), Err(RegionError::Unknown("330103".into())));
        // 2024: 和田地区 gained 和康县 and 和安县.
        assert_eq!(r("653228").name(), "和康县");
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in ["", "35010", "3501020", "35010a", "３５０１０２", "350 102"] {
            assert_eq!(
                RegionCode::parse(bad),
                Err(RegionError::Format(bad.trim().to_owned())),
                "{bad:?}"
            );
        }
        for unknown in ["000000", "999999", "350199", "110100"] {
            assert_eq!(
                RegionCode::parse(unknown),
                Err(RegionError::Unknown(unknown.to_owned())),
                "{unknown}"
            );
        }
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(RegionError::Format("1".into()).code(), "region.format");
        assert_eq!(RegionError::Unknown("999999".into()).code(), "region.unknown");
        assert_eq!(
            RegionError::Unknown("999999".into()).to_string(),
            "行政区划代码“999999”不存在或已撤销"
        );
    }

    #[test]
    fn all_is_sorted_and_parses_back() {
        let all: Vec<_> = RegionCode::all().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        for c in &all {
            assert_eq!(RegionCode::parse(c.as_str()).as_ref(), Ok(c));
        }
    }

    #[test]
    fn conversions_and_serde() {
        let c: RegionCode = "350102".parse().unwrap();
        assert_eq!(RegionCode::try_from("350102"), Ok(c));
        assert_eq!(RegionCode::try_from(String::from("350102")), Ok(c));
        assert_eq!(c.to_string(), "350102");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"350102\"");
        assert_eq!(serde_json::from_str::<RegionCode>("\"350102\"").unwrap(), c);
        assert!(serde_json::from_str::<RegionCode>("\"999999\"").is_err());
        assert_eq!(
            serde_json::to_string(&RegionLevel::Prefecture).unwrap(),
            "\"prefecture\""
        );
    }
}
