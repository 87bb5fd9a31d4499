//! 企业规模 (大型/中型/小型/微型) for the impact preview, after
//! 《中小企业划型标准规定》(工信部联企业〔2011〕300号).
//!
//! The registry keeps no size of its own, so it is derived here from the
//! facts the rules engine also uses: 从业人数 (registry), 营业收入 (recorded
//! fact) and the GB/T 4754 section (registry). The standard sets thresholds
//! per industry; at section level we take, per section:
//!
//! | 门类 | 标准中的行业 | 大型 | 中型 | 小型 | 其余为微型 |
//! |---|---|---|---|---|---|
//! | A | 农、林、牧、渔业 | 收入≥2亿 | 收入≥500万 | 收入≥50万 | |
//! | B C D | 工业 | 人数≥1000 且 收入≥4亿 | ≥300人 且 ≥2000万 | ≥20人 且 ≥300万 | |
//! | E | 建筑业（无资产总额，只看收入） | 收入≥8亿 | ≥6000万 | ≥300万 | |
//! | F | 零售业 | ≥300人 且 ≥2亿 | ≥50人 且 ≥500万 | ≥10人 且 ≥100万 | |
//! | G | 交通运输业 | ≥1000人 且 ≥3亿 | ≥300人 且 ≥3000万 | ≥20人 且 ≥200万 | |
//! | H | 住宿业、餐饮业 | ≥300人 且 ≥1亿 | ≥100人 且 ≥2000万 | ≥10人 且 ≥100万 | |
//! | I | 软件和信息技术服务业 | ≥300人 且 ≥1亿 | ≥100人 且 ≥1000万 | ≥10人 且 ≥50万 | |
//! | 其他 | 其他未列明行业（只看人数） | ≥300人 | ≥100人 | ≥10人 | |
//!
//! A firm is of the largest class whose every threshold it reaches. When
//! 营业收入 is missing and the class depends on it, the size is 未知 (as in
//! the rules language, a missing fact never counts as zero): the class is
//! computed for the lowest and the highest possible revenue and is known only
//! when both agree (a manufacturer with 12 people is 微型 whatever it earns).

use serde::Serialize;

/// 企业规模.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
pub enum Size {
    Large,
    Medium,
    Small,
    Micro,
    Unknown,
}

impl Size {
    pub fn code(self) -> &'static str {
        match self {
            Size::Large => "large",
            Size::Medium => "medium",
            Size::Small => "small",
            Size::Micro => "micro",
            Size::Unknown => "unknown",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Size::Large => "大型",
            Size::Medium => "中型",
            Size::Small => "小型",
            Size::Micro => "微型",
            Size::Unknown => "规模未知（缺营业收入）",
        }
    }
}

const WAN: i64 = 1_000_000; // 1万元 in fen

/// (employees, revenue in fen) thresholds of 大型, 中型 and 小型.
fn thresholds(section: &str) -> [(i64, i64); 3] {
    match section {
        "A" => [(0, 20_000 * WAN), (0, 500 * WAN), (0, 50 * WAN)],
        "B" | "C" | "D" => [(1000, 40_000 * WAN), (300, 2_000 * WAN), (20, 300 * WAN)],
        "E" => [(0, 80_000 * WAN), (0, 6_000 * WAN), (0, 300 * WAN)],
        "F" => [(300, 20_000 * WAN), (50, 500 * WAN), (10, 100 * WAN)],
        "G" => [(1000, 30_000 * WAN), (300, 3_000 * WAN), (20, 200 * WAN)],
        "H" => [(300, 10_000 * WAN), (100, 2_000 * WAN), (10, 100 * WAN)],
        "I" => [(300, 10_000 * WAN), (100, 1_000 * WAN), (10, 50 * WAN)],
        _ => [(300, 0), (100, 0), (10, 0)],
    }
}

fn class_of(section: &str, employees: i64, revenue_fen: i64) -> Size {
    let [large, medium, small] = thresholds(section);
    let reaches = |(e, r): (i64, i64)| employees >= e && revenue_fen >= r;
    if reaches(large) {
        Size::Large
    } else if reaches(medium) {
        Size::Medium
    } else if reaches(small) {
        Size::Small
    } else {
        Size::Micro
    }
}

/// The size of a firm of GB/T 4754 `section`; `revenue_fen` = 营业收入 if known.
pub fn classify(section: &str, employees: i64, revenue_fen: Option<i64>) -> Size {
    match revenue_fen {
        Some(r) => class_of(section, employees, r),
        None => {
            let (low, high) = (class_of(section, employees, 0), class_of(section, employees, i64::MAX));
            if low == high {
                low
            } else {
                Size::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn industry_thresholds_follow_the_2011_standard() {
        // 工业: 300 people and 2000万 make 中型; one fen less is 小型.
        assert_eq!(classify("C", 300, Some(2_000 * WAN)), Size::Medium);
        assert_eq!(classify("C", 300, Some(2_000 * WAN - 1)), Size::Small);
        assert_eq!(classify("C", 1000, Some(40_000 * WAN)), Size::Large);
        assert_eq!(classify("C", 19, Some(100_000 * WAN)), Size::Micro);
        // 软件和信息技术服务业
        assert_eq!(classify("I", 10, Some(50 * WAN)), Size::Small);
        assert_eq!(classify("I", 9, Some(50 * WAN)), Size::Micro);
        // 农业 looks only at revenue; 其他未列明行业 only at people.
        assert_eq!(classify("A", 5000, Some(49 * WAN)), Size::Micro);
        assert_eq!(classify("M", 100, None), Size::Medium);
        assert_eq!(classify("M", 9, None), Size::Micro);
    }

    #[test]
    fn missing_revenue_is_unknown_only_when_it_matters() {
        assert_eq!(classify("C", 12, None), Size::Micro);
        assert_eq!(classify("C", 500, None), Size::Unknown);
        assert_eq!(classify("A", 1, None), Size::Unknown);
    }
}
