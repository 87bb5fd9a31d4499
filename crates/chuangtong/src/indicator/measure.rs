//! Indicator values as exact integers. A count is a decimal with at most four
//! places, held as ten-thousandths; money is integer fen. Nothing here is a
//! float, so completion percentages and the index are reproducible to the
//! last digit on every machine.

use chuangtong_domain::Fen;

/// Largest value accepted: 10^15 units (or fen), far inside i128 arithmetic.
const MAX_UNITS: i128 = 1_000_000_000_000_000;
/// Counts keep four decimal places.
pub const COUNT_SCALE: i128 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// A number of things (家, 人, 件, ㎡…), decimal with up to four places.
    Count,
    /// Money in integer fen.
    Fen,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Count => "count",
            ValueType::Fen => "fen",
        }
    }

    pub fn parse(s: &str) -> Option<ValueType> {
        match s.trim() {
            "count" => Some(ValueType::Count),
            "fen" => Some(ValueType::Fen),
            _ => None,
        }
    }
}

/// A value of one indicator: ten-thousandths of a count, or fen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measure {
    pub value_type: ValueType,
    pub raw: i128,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    #[error("数值应为非负数，最多四位小数，收到“{0}”")]
    NotADecimal(String),
    #[error("金额应为以分为单位的非负整数，收到“{0}”")]
    NotFen(String),
    #[error("数值过大：{0}")]
    TooLarge(String),
}

impl chuangtong_domain::Coded for MeasureError {
    fn code(&self) -> &'static str {
        match self {
            MeasureError::NotADecimal(_) => "value.decimal",
            MeasureError::NotFen(_) => "value.fen",
            MeasureError::TooLarge(_) => "value.too_large",
        }
    }
}

impl Measure {
    pub fn count(whole: i64) -> Measure {
        Measure {
            value_type: ValueType::Count,
            raw: whole as i128 * COUNT_SCALE,
        }
    }

    pub fn fen(fen: i64) -> Measure {
        Measure {
            value_type: ValueType::Fen,
            raw: fen as i128,
        }
    }

    /// Parses user input or stored text of the given type.
    pub fn parse(value_type: ValueType, s: &str) -> Result<Measure, MeasureError> {
        let t = s.trim();
        let raw = match value_type {
            ValueType::Count => parse_decimal(t).ok_or_else(|| MeasureError::NotADecimal(t.to_string()))?,
            ValueType::Fen if !t.is_empty() && t.len() <= 19 && t.chars().all(|c| c.is_ascii_digit()) => {
                t.parse::<i128>().map_err(|_| MeasureError::NotFen(t.to_string()))?
            }
            ValueType::Fen => return Err(MeasureError::NotFen(t.to_string())),
        };
        if raw > MAX_UNITS * scale(value_type) {
            return Err(MeasureError::TooLarge(t.to_string()));
        }
        Ok(Measure { value_type, raw })
    }

    /// The text stored in the database: canonical decimal, or integer fen.
    pub fn stored(self) -> String {
        match self.value_type {
            ValueType::Count => decimal_text(self.raw),
            ValueType::Fen => self.raw.to_string(),
        }
    }

    /// For people: the decimal, or yuan with thousands separators.
    pub fn display(self) -> String {
        match self.value_type {
            ValueType::Count => decimal_text(self.raw),
            ValueType::Fen => Fen::from_fen(self.raw as i64).to_yuan_string_grouped(),
        }
    }

    /// Whole units, rounded down (for chart heights and the index).
    pub fn whole_units(self) -> i128 {
        self.raw / scale(self.value_type)
    }
}

fn scale(t: ValueType) -> i128 {
    match t {
        ValueType::Count => COUNT_SCALE,
        ValueType::Fen => 1,
    }
}

/// "12.5" → 125000 (ten-thousandths). Digits, an optional point, ≤ 4 places.
pub fn parse_decimal(t: &str) -> Option<i128> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || whole.len() > 16 || !digits(whole) || frac.len() > 4 || !digits(frac) {
        return None;
    }
    if t.contains('.') && frac.is_empty() {
        return None;
    }
    let frac_scaled = format!("{frac:0<4}").parse::<i128>().ok()?;
    Some(whole.parse::<i128>().ok()? * COUNT_SCALE + frac_scaled)
}

fn decimal_text(raw: i128) -> String {
    let whole = raw / COUNT_SCALE;
    let frac = raw % COUNT_SCALE;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:04}").trim_end_matches('0').to_string()
    }
}

/// Completion in basis points (10000 = 100%), rounded down; None without a target.
pub fn completion_bp(actual: Measure, target: Measure) -> Option<i64> {
    if target.raw <= 0 || actual.value_type != target.value_type {
        return None;
    }
    Some((actual.raw * 10_000 / target.raw).min(i64::MAX as i128) as i64)
}

/// 12345 bp → "123.45%".
pub fn percent_text(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_four_places_exactly() {
        let m = Measure::parse(ValueType::Count, "12.5").unwrap();
        assert_eq!(m.raw, 125_000);
        assert_eq!(m.stored(), "12.5");
        assert_eq!(Measure::parse(ValueType::Count, "0.0001").unwrap().stored(), "0.0001");
        assert_eq!(Measure::parse(ValueType::Count, "3558").unwrap().stored(), "3558");
        for bad in ["-1", "1.23456", "1e3", "", ".5", "5.", "1,000", "abc"] {
            assert_eq!(
                Measure::parse(ValueType::Count, bad).unwrap_err(),
                MeasureError::NotADecimal(bad.to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn money_is_integer_fen() {
        let m = Measure::parse(ValueType::Fen, "123456").unwrap();
        assert_eq!(m.display(), "1,234.56");
        for bad in ["12.5", "-3", "", "1e5"] {
            assert!(
                matches!(Measure::parse(ValueType::Fen, bad), Err(MeasureError::NotFen(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn completion_rounds_down_in_basis_points() {
        let bp = completion_bp(Measure::count(3558), Measure::count(1600)).unwrap();
        assert_eq!(bp, 22237); // 杨浦: 3,558 firms against 1,600 → 222.37%
        assert_eq!(percent_text(bp), "222.37%");
        assert_eq!(completion_bp(Measure::count(1), Measure::count(3)), Some(3333));
        assert_eq!(completion_bp(Measure::count(1), Measure::count(0)), None);
    }
}
