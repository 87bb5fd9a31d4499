//! Reporting periods: a month (`2026-05`), a quarter (`2026-Q2`) or a year
//! (`2026`), as Asia/Shanghai calendar dates. Registration times are stored
//! as UTC text, so a period also knows its bounds as UTC instants.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};

use crate::storage::time;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<PeriodKind> {
        [PeriodKind::Month, PeriodKind::Quarter, PeriodKind::Year]
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            PeriodKind::Month => "月度",
            PeriodKind::Quarter => "季度",
            PeriodKind::Year => "年度",
        }
    }
}

/// One reporting period. `index` is the month (1–12) or quarter (1–4); 0 for a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub kind: PeriodKind,
    pub index: u32,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("时期格式应为 2026-05（月）、2026-Q2（季度）或 2026（年），收到“{0}”")]
pub struct PeriodError(pub String);

impl chuangtong_domain::Coded for PeriodError {
    fn code(&self) -> &'static str {
        "period.format"
    }
}

impl Period {
    pub fn parse(s: &str) -> Result<Period, PeriodError> {
        let t = s.trim();
        let bad = || PeriodError(t.to_string());
        let year_of = |y: &str| -> Result<i32, PeriodError> {
            let four_digits = y.len() == 4 && y.chars().all(|c| c.is_ascii_digit());
            match y.parse::<i32>() {
                Ok(y) if four_digits && (2000..=2100).contains(&y) => Ok(y),
                _ => Err(bad()),
            }
        };
        let (kind, year, index) = if let Some((y, q)) = t.split_once("-Q") {
            if q.len() != 1 {
                return Err(bad());
            }
            (PeriodKind::Quarter, year_of(y)?, q.parse::<u32>().map_err(|_| bad())?)
        } else if let Some((y, m)) = t.split_once('-') {
            if m.len() != 2 || !m.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            (PeriodKind::Month, year_of(y)?, m.parse::<u32>().map_err(|_| bad())?)
        } else {
            (PeriodKind::Year, year_of(t)?, 0)
        };
        let max = match kind {
            PeriodKind::Month => 12,
            PeriodKind::Quarter => 4,
            PeriodKind::Year => 0,
        };
        if (kind != PeriodKind::Year && index == 0) || index > max {
            return Err(bad());
        }
        Ok(Period { year, kind, index })
    }

    pub fn month_of(d: NaiveDate) -> Period {
        Period {
            year: d.year(),
            kind: PeriodKind::Month,
            index: d.month(),
        }
    }

    pub fn current_month() -> Period {
        Period::month_of(time::today())
    }

    /// The quarter or year that contains this period (itself for the same kind).
    pub fn enclosing(self, kind: PeriodKind) -> Period {
        let month = self.first_day().month();
        let index = match kind {
            PeriodKind::Month => month,
            PeriodKind::Quarter => (month - 1) / 3 + 1,
            PeriodKind::Year => 0,
        };
        Period {
            year: self.year,
            kind,
            index,
        }
    }

    pub fn first_day(self) -> NaiveDate {
        let month = match self.kind {
            PeriodKind::Month => self.index,
            PeriodKind::Quarter => (self.index - 1) * 3 + 1,
            PeriodKind::Year => 1,
        };
        NaiveDate::from_ymd_opt(self.year, month, 1).expect("valid period")
    }

    /// The first day after the period.
    pub fn end_day(self) -> NaiveDate {
        let months = match self.kind {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        };
        self.first_day() + chrono::Months::new(months)
    }

    pub fn last_day(self) -> NaiveDate {
        self.end_day() - Duration::days(1)
    }

    /// `[start, end)` as stored UTC instants: Beijing midnight is 16:00Z the day before.
    pub fn utc_bounds(self) -> (String, String) {
        (midnight_utc(self.first_day()), midnight_utc(self.end_day()))
    }

    /// The month before this one (months only make sense for the time series).
    pub fn previous_month(self) -> Period {
        Period::month_of(self.first_day() - Duration::days(1))
    }

    pub fn label(self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}年{}月", self.year, self.index),
            PeriodKind::Quarter => format!("{}年第{}季度", self.year, self.index),
            PeriodKind::Year => format!("{}年", self.year),
        }
    }
}

pub fn midnight_utc(d: NaiveDate) -> String {
    let local = time::shanghai()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("fixed offset");
    time::to_text(local.with_timezone(&chrono::Utc))
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            PeriodKind::Month => write!(f, "{}-{:02}", self.year, self.index),
            PeriodKind::Quarter => write!(f, "{}-Q{}", self.year, self.index),
            PeriodKind::Year => write!(f, "{}", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds_and_prints_them_back() {
        for s in ["2026-05", "2026-Q2", "2026", "2024-12", "2025-Q4"] {
            assert_eq!(Period::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn refuses_malformed_periods() {
        for s in [
            "2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-05", "2026-5", "abc", "", "1999", "2026/05",
        ] {
            assert!(Period::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn bounds_are_beijing_midnights() {
        let p = Period::parse("2026-03").unwrap();
        assert_eq!(
            p.utc_bounds(),
            ("2026-02-28T16:00:00.000Z".into(), "2026-03-31T16:00:00.000Z".into())
        );
        assert_eq!(p.enclosing(PeriodKind::Quarter).to_string(), "2026-Q1");
        assert_eq!(p.enclosing(PeriodKind::Year).to_string(), "2026");
        assert_eq!(Period::parse("2026-Q4").unwrap().last_day().to_string(), "2026-12-31");
        assert_eq!(
            Period::parse("2026-01").unwrap().previous_month().to_string(),
            "2025-12"
        );
    }
}
