//! The working-day calendar of mainland China (工作日历).
//!
//! A day is a working day (工作日) if it is Monday–Friday and not a rest day
//! of a statutory holiday period, **or** it is a 调休 make-up working day: a
//! Saturday/Sunday that the State Council declared a working day to pay for a
//! longer holiday. Every statutory time limit in the platform ("N个工作日内"
//! review deadlines, SLA clocks) is computed with [`WorkCalendar`].
//!
//! The arrangement is *not* derivable from rules: the State Council General
//! Office (国务院办公厅) publishes a notice every autumn for the next year
//! (e.g. 国办发明电〔2024〕12号 for 2025). So each year is data — one JSON file
//! per year under `data/holidays/`, parsed into a [`YearSchedule`] — and a
//! year without a loaded notice is an error ([`CalendarError::YearNotCovered`]),
//! never a guess: guessing "Mon–Fri" for an unpublished year would silently
//! produce wrong legal deadlines around 春节/国庆.
//!
//! Conventions:
//! * `holidays[].days` lists every rest day of the period, including the
//!   Saturdays/Sundays inside it, so [`WorkCalendar::holiday_name`] names the
//!   whole period. Only dates of the schedule's own year are allowed; e.g. the
//!   2024 元旦 notice ("1月1日放假，与周末连休") also rests on 2023-12-30/31,
//!   which belong to the 2023 schedule.
//! * Days the notice merely *encourages* employers to give off (2024's 除夕
//!   2024-02-09: "鼓励各单位……安排职工在除夕休息") are working days.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::Coded;

/// Smallest year a [`YearSchedule`] may describe (the 全国年节及纪念日放假办法
/// dates from 1949; nothing earlier is meaningful here).
pub const MIN_YEAR: i32 = 1949;
/// Largest year a [`YearSchedule`] may describe (keeps all date arithmetic
/// far away from chrono's limits).
pub const MAX_YEAR: i32 = 9999;

/// Why a holiday schedule or a working-day computation was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The JSON text is malformed or does not have the expected shape.
    #[error("节假日安排数据格式错误：{message}")]
    Json { message: String },
    /// The schedule's year is outside [`MIN_YEAR`]..=[`MAX_YEAR`].
    #[error("年份{year}超出支持范围（1949–9999年）")]
    YearOutOfRange { year: i32 },
    /// A listed date does not belong to the schedule's year.
    #[error("日期{date}不属于{year}年的节假日安排")]
    DateOutsideYear { year: i32, date: NaiveDate },
    /// A make-up working day that is not a Saturday or Sunday: 调休 only ever
    /// turns a weekend day into a working day, so this is a data-entry error.
    #[error("调休上班日{date}是{}，调休上班日只能是周六或周日", weekday_cn(.date))]
    MakeupNotWeekend { date: NaiveDate },
    /// The same date is listed both as a rest day and as a make-up working day.
    #[error("日期{date}既被列为放假日又被列为调休上班日")]
    HolidayAndMakeup { date: NaiveDate },
    /// The same date is listed twice (in two holidays, twice in one holiday,
    /// or twice among the make-up working days).
    #[error("日期{date}在节假日安排中重复出现")]
    DuplicateDate { date: NaiveDate },
    /// Two schedules for the same year were supplied.
    #[error("{year}年的节假日安排重复录入")]
    DuplicateYear { year: i32 },
    /// A computation needed a year whose State Council notice is not loaded.
    #[error("{year}年的节假日安排尚未录入，无法计算工作日")]
    YearNotCovered { year: i32 },
}

impl Coded for CalendarError {
    fn code(&self) -> &'static str {
        match self {
            CalendarError::Json { .. } => "calendar.json",
            CalendarError::YearOutOfRange { .. } => "calendar.year_out_of_range",
            CalendarError::DateOutsideYear { .. } => "calendar.date_outside_year",
            CalendarError::MakeupNotWeekend { .. } => "calendar.makeup_not_weekend",
            CalendarError::HolidayAndMakeup { .. } => "calendar.holiday_and_makeup",
            CalendarError::DuplicateDate { .. } => "calendar.duplicate_date",
            CalendarError::DuplicateYear { .. } => "calendar.duplicate_year",
            CalendarError::YearNotCovered { .. } => "calendar.year_not_covered",
        }
    }
}

fn weekday_cn(d: &NaiveDate) -> &'static str {
    match d.weekday() {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// One holiday period of a notice, e.g. 春节 with all its rest days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// Name as written in the notice, e.g. `"国庆节、中秋节"`.
    pub name: String,
    /// Every rest day of the period, weekend days inside it included.
    pub days: Vec<NaiveDate>,
}

/// The holiday arrangement of one year, as published by 国务院办公厅.
///
/// Deserializing (serde or [`YearSchedule::from_json`]) validates it, and
/// [`WorkCalendar`] validates again on insertion, so a schedule built with a
/// struct literal cannot smuggle bad data into a calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawYearSchedule")]
pub struct YearSchedule {
    pub year: i32,
    /// Title and document number of the notice this data was copied from.
    pub source: String,
    pub holidays: Vec<Holiday>,
    /// Saturdays/Sundays declared working days (调休上班).
    pub makeup_workdays: Vec<NaiveDate>,
}

/// Wire shape of [`YearSchedule`]; unknown fields are rejected so that a typo
/// such as `"makeup_workday"` cannot silently drop every make-up day.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYearSchedule {
    year: i32,
    source: String,
    holidays: Vec<Holiday>,
    makeup_workdays: Vec<NaiveDate>,
}

impl TryFrom<RawYearSchedule> for YearSchedule {
    type Error = CalendarError;

    fn try_from(raw: RawYearSchedule) -> Result<Self, CalendarError> {
        let s = YearSchedule {
            year: raw.year,
            source: raw.source,
            holidays: raw.holidays,
            makeup_workdays: raw.makeup_workdays,
        };
        s.validate()?;
        Ok(s)
    }
}

impl YearSchedule {
    /// Parses and validates one `data/holidays/<year>.json` file.
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        // Parse the raw shape first so that validation failures surface as
        // their own variants rather than as a stringified serde error.
        let raw: RawYearSchedule =
            serde_json::from_str(text).map_err(|e| CalendarError::Json { message: e.to_string() })?;
        YearSchedule::try_from(raw)
    }

    /// Checks the invariants: year in range; every date in that year;
    /// make-up days on Sat/Sun; no date both rest and make-up; no duplicates.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let year = self.year;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(CalendarError::YearOutOfRange { year });
        }
        let mut rest: HashSet<NaiveDate> = HashSet::new();
        for date in self.holidays.iter().flat_map(|h| h.days.iter().copied()) {
            if date.year() != year {
                return Err(CalendarError::DateOutsideYear { year, date });
            }
            if !rest.insert(date) {
                return Err(CalendarError::DuplicateDate { date });
            }
        }
        let mut makeup: HashSet<NaiveDate> = HashSet::new();
        for &date in &self.makeup_workdays {
            if date.year() != year {
                return Err(CalendarError::DateOutsideYear { year, date });
            }
            if !is_weekend(date) {
                return Err(CalendarError::MakeupNotWeekend { date });
            }
            if rest.contains(&date) {
                return Err(CalendarError::HolidayAndMakeup { date });
            }
            if !makeup.insert(date) {
                return Err(CalendarError::DuplicateDate { date });
            }
        }
        Ok(())
    }
}

/// Precomputed lookup tables of one loaded year.
#[derive(Debug, Clone)]
struct YearData {
    schedule: YearSchedule,
    /// Ordinals (1 = 1 January) of the working days, ascending. Binary search
    /// on this gives O(log n) `is_working_day`, prefix counts and "k-th
    /// working day from here" without walking day by day.
    working: Vec<u16>,
    /// `(ordinal, index into schedule.holidays)`, sorted by ordinal.
    rest: Vec<(u16, usize)>,
}

impl YearData {
    fn build(schedule: YearSchedule) -> Self {
        let year = schedule.year;
        let mut rest: Vec<(u16, usize)> = schedule
            .holidays
            .iter()
            .enumerate()
            .flat_map(|(i, h)| h.days.iter().map(move |d| (ordinal(*d), i)))
            .collect();
        rest.sort_unstable();
        let mut makeup: Vec<u16> = schedule.makeup_workdays.iter().map(|d| ordinal(*d)).collect();
        makeup.sort_unstable();

        let mut working = Vec::with_capacity(262);
        let mut day = NaiveDate::from_yo_opt(year, 1).expect("year validated to be in range");
        while day.year() == year {
            let ord = ordinal(day);
            let is_rest = rest.binary_search_by_key(&ord, |&(o, _)| o).is_ok();
            let is_makeup = makeup.binary_search(&ord).is_ok();
            if is_makeup || (!is_weekend(day) && !is_rest) {
                working.push(ord);
            }
            day = match day.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
        YearData {
            schedule,
            working,
            rest,
        }
    }

    /// Number of working days with ordinal <= `ord` (0 for `ord` = 0).
    fn count_through(&self, ord: u32) -> usize {
        self.working.partition_point(|&o| u32::from(o) <= ord)
    }

    fn date_of(&self, ord: u16) -> NaiveDate {
        NaiveDate::from_yo_opt(self.schedule.year, u32::from(ord)).expect("ordinal of a real day")
    }
}

fn days_in_year(year: i32) -> u32 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

fn ordinal(d: NaiveDate) -> u16 {
    // Ordinals are 1..=366, which always fits.
    d.ordinal() as u16
}

/// Working-day calendar over a set of loaded years (not necessarily
/// contiguous: a computation touching a missing year fails with
/// [`CalendarError::YearNotCovered`]).
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    years: BTreeMap<i32, YearData>,
}

static BUILTIN: OnceLock<WorkCalendar> = OnceLock::new();

impl WorkCalendar {
    /// Builds a calendar from validated schedules; two schedules for the same
    /// year are rejected ([`CalendarError::DuplicateYear`]).
    pub fn new(years: Vec<YearSchedule>) -> Result<Self, CalendarError> {
        let mut cal = WorkCalendar::default();
        for y in years {
            cal.add_year(y)?;
        }
        Ok(cal)
    }

    /// The arrangements shipped with the platform (2024–2026), copied from:
    /// * 国办发明电〔2023〕7号 (2024, issued 2023-10-25),
    /// * 国办发明电〔2024〕12号 (2025, issued 2024-11-12, the first under the
    ///   2024 revision of 全国年节及纪念日放假办法 adding 除夕 and 5月2日),
    /// * 国办发明电〔2025〕7号 (2026, issued 2025-11-04).
    ///
    /// When the next notice appears (usually in November), add
    /// `data/holidays/<year>.json` and list it here.
    pub fn builtin() -> WorkCalendar {
        BUILTIN
            .get_or_init(|| {
                let files = [
                    include_str!("../../../data/holidays/2024.json"),
                    include_str!("../../../data/holidays/2025.json"),
                    include_str!("../../../data/holidays/2026.json"),
                ];
                let schedules = files
                    .iter()
                    .map(|t| YearSchedule::from_json(t).expect("shipped holiday data is valid"))
                    .collect();
                WorkCalendar::new(schedules).expect("shipped holiday data has distinct years")
            })
            .clone()
    }

    /// Adds a year; fails with [`CalendarError::DuplicateYear`] if that year
    /// is already loaded (use [`WorkCalendar::replace_year`] to correct one).
    pub fn add_year(&mut self, schedule: YearSchedule) -> Result<(), CalendarError> {
        schedule.validate()?;
        if self.years.contains_key(&schedule.year) {
            return Err(CalendarError::DuplicateYear { year: schedule.year });
        }
        self.years.insert(schedule.year, YearData::build(schedule));
        Ok(())
    }

    /// Adds or replaces a year (e.g. after the State Council amends a notice),
    /// returning the schedule it replaced, if any.
    pub fn replace_year(&mut self, schedule: YearSchedule) -> Result<Option<YearSchedule>, CalendarError> {
        schedule.validate()?;
        Ok(self
            .years
            .insert(schedule.year, YearData::build(schedule))
            .map(|old| old.schedule))
    }

    /// Loaded years, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The loaded schedule of `year`, if any.
    pub fn schedule(&self, year: i32) -> Option<&YearSchedule> {
        self.years.get(&year).map(|y| &y.schedule)
    }

    fn year(&self, year: i32) -> Result<&YearData, CalendarError> {
        self.years.get(&year).ok_or(CalendarError::YearNotCovered { year })
    }

    /// Whether `d` is a working day; errors if `d`'s year is not loaded.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.year(d.year())?.working.binary_search(&ordinal(d)).is_ok())
    }

    /// Name of the holiday period `d` rests in (`None` for ordinary days,
    /// make-up days, or years not loaded).
    pub fn holiday_name(&self, d: NaiveDate) -> Option<&str> {
        let y = self.years.get(&d.year())?;
        let i = y.rest.binary_search_by_key(&ordinal(d), |&(o, _)| o).ok()?;
        Some(y.schedule.holidays[y.rest[i].1].name.as_str())
    }

    /// The date that is the `n`-th working day after `start`.
    ///
    /// Convention for "N个工作日内" deadlines: the day of acceptance itself is
    /// not counted (计算期间时开始的当日不计入), counting starts the next day,
    /// and the deadline is the last day of the period. `n = 0` returns `start`
    /// unchanged. Only the years of the days actually counted must be loaded
    /// (so a case accepted on 2023-12-31 can still be computed from 2024 data).
    ///
    /// A case accepted on Friday 2025-09-26 with a 5-working-day limit is due
    /// on Friday 2025-10-10: 09-27 (Sat) is a rest day, but 09-28 (Sun) is a
    /// 调休 make-up working day under 国办发明电〔2024〕12号 (1), then 09-29 (2),
    /// 09-30 (3), the 国庆节、中秋节 break 10-01..10-08, 10-09 (4), 10-10 (5).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use chuangtong_domain::WorkCalendar;
    ///
    /// let cal = WorkCalendar::builtin();
    /// let accepted = NaiveDate::from_ymd_opt(2025, 9, 26).unwrap();
    /// let due = cal.add_working_days(accepted, 5).unwrap();
    /// assert_eq!(due, NaiveDate::from_ymd_opt(2025, 10, 10).unwrap());
    /// assert_eq!(cal.working_days_between(accepted, due).unwrap(), 5);
    /// ```
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Ok(start);
        }
        let first = start.succ_opt().ok_or(CalendarError::YearNotCovered {
            year: start.year().saturating_add(1),
        })?;
        let mut remaining = n as usize;
        let mut year = first.year();
        let mut from_ord = first.ordinal();
        loop {
            let data = self.year(year)?;
            // Working days of this year on or after `from_ord`.
            let idx = data.working.partition_point(|&o| u32::from(o) < from_ord);
            let available = data.working.len() - idx;
            if remaining <= available {
                return Ok(data.date_of(data.working[idx + remaining - 1]));
            }
            remaining -= available;
            // Years are validated <= MAX_YEAR, so this cannot overflow; the
            // next iteration fails with YearNotCovered if it is not loaded.
            year += 1;
            from_ord = 1;
        }
    }

    /// Number of working days `d` with `from < d <= to`; negative (the
    /// count for `(to, from]`, negated) if `to < from`. Consistent with
    /// [`WorkCalendar::add_working_days`]:
    /// `working_days_between(s, add_working_days(s, n)?)? == n`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
        if to < from {
            return self.working_days_between(to, from).map(|c| -c);
        }
        let mut total: i64 = 0;
        for year in from.year()..=to.year() {
            let lo_excl = if year == from.year() { from.ordinal() } else { 0 };
            let hi_incl = if year == to.year() {
                to.ordinal()
            } else {
                days_in_year(year)
            };
            // Empty slice of this year, e.g. from = 31 Dec: nothing of that
            // year is counted, so it need not be loaded.
            if hi_incl <= lo_excl {
                continue;
            }
            let data = self.year(year)?;
            total += (data.count_through(hi_incl) - data.count_through(lo_excl)) as i64;
        }
        Ok(total)
    }

    /// `d` itself if it is a working day, otherwise the next working day
    /// (e.g. a deadline falling into a holiday is 顺延 to the next working day).
    pub fn next_working_day_on_or_after(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        if self.is_working_day(d)? {
            Ok(d)
        } else {
            self.add_working_days(d, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> WorkCalendar {
        WorkCalendar::builtin()
    }

    fn schedule_json(year: i32, holidays: &str, makeup: &str) -> String {
        format!(r#"{{"year": {year}, "source": "测试", "holidays": {holidays}, "makeup_workdays": {makeup}}}"#)
    }

    #[test]
    fn builtin_covers_2024_to_2026() {
        let c = cal();
        assert_eq!(c.years(), vec![2024, 2025, 2026]);
        assert!(c.schedule(2025).unwrap().source.contains("国办发明电〔2024〕12号"));
        assert!(c.schedule(2027).is_none());
    }

    #[test]
    fn every_makeup_day_is_working_and_every_weekday_rest_day_is_not() {
        let c = cal();
        for year in c.years() {
            let s = c.schedule(year).unwrap();
            for &m in &s.makeup_workdays {
                assert!(is_weekend(m), "{m}");
                assert!(c.is_working_day(m).unwrap(), "make-up day {m} must be a working day");
                assert_eq!(c.holiday_name(m), None);
            }
            for h in &s.holidays {
                for &day in &h.days {
                    assert!(!c.is_working_day(day).unwrap(), "{} {day} must be a rest day", h.name);
                    assert_eq!(c.holiday_name(day), Some(h.name.as_str()));
                }
            }
        }
    }

    #[test]
    fn specific_days_from_the_notices() {
        let c = cal();
        // 国办发明电〔2023〕7号: 2月4日（星期日）、2月18日（星期日）上班.
        assert!(c.is_working_day(d(2024, 2, 4)).unwrap());
        assert!(c.is_working_day(d(2024, 2, 18)).unwrap());
        // 除夕 2024-02-09 is only "encouraged" off: still a working day.
        assert!(c.is_working_day(d(2024, 2, 9)).unwrap());
        assert!(!c.is_working_day(d(2024, 2, 12)).unwrap());
        // 2025: 1月26日（周日）上班; 除夕 1月28日 is now statutory.
        assert!(c.is_working_day(d(2025, 1, 26)).unwrap());
        assert!(!c.is_working_day(d(2025, 1, 28)).unwrap());
        assert_eq!(c.holiday_name(d(2025, 10, 8)), Some("国庆节、中秋节"));
        // 2026: 1月4日（周日）、2月14日（周六）、2月28日（周六）、9月20日（周日）上班.
        for m in [
            d(2026, 1, 4),
            d(2026, 2, 14),
            d(2026, 2, 28),
            d(2026, 9, 20),
            d(2026, 10, 10),
        ] {
            assert!(c.is_working_day(m).unwrap(), "{m}");
        }
        assert!(!c.is_working_day(d(2026, 2, 23)).unwrap()); // 正月初七, Monday
        assert_eq!(c.holiday_name(d(2026, 2, 23)), Some("春节"));
        // Ordinary days.
        assert!(c.is_working_day(d(2025, 3, 12)).unwrap()); // Wednesday
        assert!(!c.is_working_day(d(2025, 3, 15)).unwrap()); // Saturday
        assert_eq!(c.holiday_name(d(2025, 3, 15)), None);
    }

    #[test]
    fn working_days_per_year_match_the_published_totals() {
        // 365/366 days − weekends − statutory days; 调休 only moves days around.
        let c = cal();
        assert_eq!(c.working_days_between(d(2023, 12, 31), d(2024, 12, 31)).unwrap(), 251);
        assert_eq!(c.working_days_between(d(2024, 12, 31), d(2025, 12, 31)).unwrap(), 248);
        assert_eq!(c.working_days_between(d(2025, 12, 31), d(2026, 12, 31)).unwrap(), 248);
    }

    #[test]
    fn deadlines_across_spring_festival_and_national_day() {
        let c = cal();
        let cases = [
            // 2026 春节: Friday 02-13 → Saturday 02-14 make-up day.
            (d(2026, 2, 13), 1, d(2026, 2, 14)),
            (d(2026, 2, 13), 2, d(2026, 2, 24)),
            // 2025 国庆中秋 8-day break.
            (d(2025, 9, 30), 1, d(2025, 10, 9)),
            (d(2025, 9, 26), 5, d(2025, 10, 10)),
            // 2025-10-11 (Saturday) is a make-up day.
            (d(2025, 10, 10), 1, d(2025, 10, 11)),
            // 2024 春节: 除夕 Friday is working, then Sunday 02-18 make-up.
            (d(2024, 2, 8), 1, d(2024, 2, 9)),
            (d(2024, 2, 8), 2, d(2024, 2, 18)),
            // Across year boundaries.
            (d(2024, 12, 31), 1, d(2025, 1, 2)),
            (d(2025, 12, 31), 1, d(2026, 1, 4)), // 元旦 01-01..03, Sunday 01-04 上班
            (d(2025, 12, 31), 2, d(2026, 1, 5)),
            // Start on a holiday: first counted day is the next working day.
            (d(2025, 10, 3), 1, d(2025, 10, 9)),
            (d(2025, 6, 1), 0, d(2025, 6, 1)),
        ];
        for (start, n, due) in cases {
            assert_eq!(c.add_working_days(start, n).unwrap(), due, "{start} + {n}");
            assert_eq!(
                c.working_days_between(start, due).unwrap(),
                i64::from(n),
                "{start}..{due}"
            );
        }
        assert_eq!(c.working_days_between(d(2025, 10, 9), d(2025, 9, 30)).unwrap(), -1);
        assert_eq!(c.working_days_between(d(2025, 10, 1), d(2025, 10, 8)).unwrap(), 0);
    }

    #[test]
    fn next_working_day_on_or_after() {
        let c = cal();
        assert_eq!(c.next_working_day_on_or_after(d(2025, 10, 1)).unwrap(), d(2025, 10, 9));
        assert_eq!(c.next_working_day_on_or_after(d(2025, 10, 9)).unwrap(), d(2025, 10, 9));
        assert_eq!(c.next_working_day_on_or_after(d(2026, 1, 3)).unwrap(), d(2026, 1, 4));
        assert_eq!(
            c.next_working_day_on_or_after(d(2026, 12, 31)).unwrap(),
            d(2026, 12, 31)
        );
    }

    #[test]
    fn uncovered_year_is_an_error_not_a_guess() {
        let c = cal();
        let err = c.is_working_day(d(2027, 1, 4)).unwrap_err();
        assert_eq!(err, CalendarError::YearNotCovered { year: 2027 });
        assert_eq!(err.code(), "calendar.year_not_covered");
        assert_eq!(err.to_string(), "2027年的节假日安排尚未录入，无法计算工作日");
        assert_eq!(
            c.is_working_day(d(2023, 6, 1)).unwrap_err(),
            CalendarError::YearNotCovered { year: 2023 }
        );
        // Running off the end of the loaded data.
        assert_eq!(
            c.add_working_days(d(2026, 12, 28), 5).unwrap_err(),
            CalendarError::YearNotCovered { year: 2027 }
        );
        assert_eq!(
            c.next_working_day_on_or_after(d(2027, 1, 1)).unwrap_err(),
            CalendarError::YearNotCovered { year: 2027 }
        );
        // (2023-12-29, 2024-01-05] touches 2023-12-30/31.
        assert_eq!(
            c.working_days_between(d(2023, 12, 29), d(2024, 1, 5)).unwrap_err(),
            CalendarError::YearNotCovered { year: 2023 }
        );
        // ...but (2023-12-31, ...] only touches 2024, and the start day is
        // never counted, so no 2023 data is needed.
        assert_eq!(c.working_days_between(d(2023, 12, 31), d(2024, 1, 5)).unwrap(), 4);
        assert_eq!(c.add_working_days(d(2023, 12, 31), 1).unwrap(), d(2024, 1, 2));
        assert_eq!(c.working_days_between(d(2024, 1, 5), d(2023, 12, 31)).unwrap(), -4);
        assert_eq!(c.holiday_name(d(2027, 1, 1)), None);
    }

    #[test]
    fn gap_between_loaded_years_is_an_error() {
        let c = cal();
        let mut gappy = WorkCalendar::new(vec![
            c.schedule(2024).unwrap().clone(),
            c.schedule(2026).unwrap().clone(),
        ])
        .unwrap();
        assert_eq!(
            gappy.add_working_days(d(2024, 12, 30), 5).unwrap_err(),
            CalendarError::YearNotCovered { year: 2025 }
        );
        assert_eq!(
            gappy.working_days_between(d(2024, 6, 1), d(2026, 6, 1)).unwrap_err(),
            CalendarError::YearNotCovered { year: 2025 }
        );
        gappy.add_year(c.schedule(2025).unwrap().clone()).unwrap();
        assert_eq!(gappy.years(), vec![2024, 2025, 2026]);
        assert_eq!(
            gappy.add_working_days(d(2024, 12, 30), 5).unwrap(),
            c.add_working_days(d(2024, 12, 30), 5).unwrap()
        );
    }

    #[test]
    fn duplicate_year_rejected_and_replace_allowed() {
        let c = cal();
        let s2025 = c.schedule(2025).unwrap().clone();
        assert_eq!(
            WorkCalendar::new(vec![s2025.clone(), s2025.clone()]).unwrap_err(),
            CalendarError::DuplicateYear { year: 2025 }
        );
        let mut c2 = cal();
        let err = c2.add_year(s2025.clone()).unwrap_err();
        assert_eq!(err.code(), "calendar.duplicate_year");
        assert_eq!(err.to_string(), "2025年的节假日安排重复录入");

        // Hypothetical amendment: 10-08 becomes an ordinary working day.
        let mut amended = s2025.clone();
        amended
            .holidays
            .last_mut()
            .unwrap()
            .days
            .retain(|&x| x != d(2025, 10, 8));
        let old = c2.replace_year(amended).unwrap();
        assert_eq!(old, Some(s2025));
        assert_eq!(c2.add_working_days(d(2025, 9, 30), 1).unwrap(), d(2025, 10, 8));
        // The shared builtin is unaffected.
        assert_eq!(cal().add_working_days(d(2025, 9, 30), 1).unwrap(), d(2025, 10, 9));
        // Replacing a year that is not loaded simply adds it.
        let mut empty = WorkCalendar::new(vec![]).unwrap();
        assert_eq!(empty.replace_year(c.schedule(2026).unwrap().clone()).unwrap(), None);
        assert_eq!(empty.years(), vec![2026]);
    }

    #[test]
    fn makeup_day_on_a_wednesday_is_rejected() {
        let err = YearSchedule::from_json(&schedule_json(2025, "[]", r#"["2025-01-01"]"#)).unwrap_err();
        assert_eq!(err, CalendarError::MakeupNotWeekend { date: d(2025, 1, 1) });
        assert_eq!(err.code(), "calendar.makeup_not_weekend");
        assert_eq!(
            err.to_string(),
            "调休上班日2025-01-01是周三，调休上班日只能是周六或周日"
        );
    }

    #[test]
    fn json_validation_errors() {
        let cases = [
            (
                schedule_json(2025, r#"[{"name": "元旦", "days": ["2024-12-31"]}]"#, "[]"),
                CalendarError::DateOutsideYear {
                    year: 2025,
                    date: d(2024, 12, 31),
                },
                "calendar.date_outside_year",
            ),
            (
                schedule_json(2025, "[]", r#"["2026-01-04"]"#),
                CalendarError::DateOutsideYear {
                    year: 2025,
                    date: d(2026, 1, 4),
                },
                "calendar.date_outside_year",
            ),
            (
                schedule_json(
                    2025,
                    r#"[{"name": "春节", "days": ["2025-02-08"]}]"#,
                    r#"["2025-02-08"]"#,
                ),
                CalendarError::HolidayAndMakeup { date: d(2025, 2, 8) },
                "calendar.holiday_and_makeup",
            ),
            (
                schedule_json(
                    2025,
                    r#"[{"name": "A", "days": ["2025-10-01"]}, {"name": "B", "days": ["2025-10-01"]}]"#,
                    "[]",
                ),
                CalendarError::DuplicateDate { date: d(2025, 10, 1) },
                "calendar.duplicate_date",
            ),
            (
                schedule_json(2025, "[]", r#"["2025-02-08", "2025-02-08"]"#),
                CalendarError::DuplicateDate { date: d(2025, 2, 8) },
                "calendar.duplicate_date",
            ),
            (
                schedule_json(1900, "[]", "[]"),
                CalendarError::YearOutOfRange { year: 1900 },
                "calendar.year_out_of_range",
            ),
        ];
        for (json, expected, code) in cases {
            let err = YearSchedule::from_json(&json).unwrap_err();
            assert_eq!(err, expected, "{json}");
            assert_eq!(err.code(), code);
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn malformed_json_is_rejected() {
        for bad in [
            "not json",
            r#"{"year": 2025, "source": "x", "holidays": []}"#,
            r#"{"year": 2025, "source": "x", "holidays": [], "makeup_workday": []}"#,
            r#"{"year": 2025, "source": "x", "holidays": [], "makeup_workdays": ["2025-02-30"]}"#,
            r#"{"year": 2025, "source": "x", "holidays": [], "makeup_workdays": ["2025/02/08"]}"#,
        ] {
            let err = YearSchedule::from_json(bad).unwrap_err();
            assert_eq!(err.code(), "calendar.json", "{bad}");
            assert!(err.to_string().starts_with("节假日安排数据格式错误"));
        }
    }

    #[test]
    fn serde_deserialize_validates_and_round_trips() {
        let bad = schedule_json(2025, "[]", r#"["2025-01-01"]"#);
        assert!(serde_json::from_str::<YearSchedule>(&bad).is_err());
        let s = cal().schedule(2026).unwrap().clone();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(YearSchedule::from_json(&text).unwrap(), s);
        assert_eq!(serde_json::from_str::<YearSchedule>(&text).unwrap(), s);
    }

    #[test]
    fn struct_literal_schedule_is_validated_on_insert() {
        let s = YearSchedule {
            year: 2027,
            source: "手工构造".into(),
            holidays: vec![],
            makeup_workdays: vec![d(2027, 1, 6)], // Wednesday
        };
        assert_eq!(
            WorkCalendar::new(vec![s.clone()]).unwrap_err(),
            CalendarError::MakeupNotWeekend { date: d(2027, 1, 6) }
        );
        assert!(cal().replace_year(s).is_err());
    }

    #[test]
    fn every_error_has_a_distinct_code() {
        let errs = [
            CalendarError::Json { message: String::new() },
            CalendarError::YearOutOfRange { year: 0 },
            CalendarError::DateOutsideYear {
                year: 2025,
                date: d(2024, 1, 1),
            },
            CalendarError::MakeupNotWeekend { date: d(2025, 1, 1) },
            CalendarError::HolidayAndMakeup { date: d(2025, 1, 1) },
            CalendarError::DuplicateDate { date: d(2025, 1, 1) },
            CalendarError::DuplicateYear { year: 2025 },
            CalendarError::YearNotCovered { year: 2027 },
        ];
        let codes: HashSet<&str> = errs.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), errs.len());
        assert!(codes.iter().all(|c| c.starts_with("calendar.")));
    }

    /// Slow day-by-day reference implementation for the property tests.
    fn naive_add(c: &WorkCalendar, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day.succ_opt().unwrap();
            if c.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    fn naive_between(c: &WorkCalendar, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
        let (lo, hi, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        let mut count = 0;
        let mut day = lo;
        while day < hi {
            day = day.succ_opt().unwrap();
            if c.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(sign * count)
    }

    /// Any date from 2024-01-01 to 2026-12-31.
    fn covered_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..1096).prop_map(|off| d(2024, 1, 1) + chrono::Duration::days(off))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn add_then_count_round_trips(start in covered_date(), n in 0u32..800) {
            let c = cal();
            let fast = c.add_working_days(start, n);
            prop_assert_eq!(&fast, &naive_add(&c, start, n));
            if let Ok(due) = fast {
                prop_assert_eq!(c.working_days_between(start, due).unwrap(), i64::from(n));
                prop_assert_eq!(c.working_days_between(due, start).unwrap(), -i64::from(n));
                if n > 0 {
                    prop_assert!(c.is_working_day(due).unwrap());
                    prop_assert!(due > start);
                }
            } else {
                prop_assert_eq!(fast.unwrap_err(), CalendarError::YearNotCovered { year: 2027 });
            }
        }

        #[test]
        fn between_matches_reference(a in covered_date(), b in covered_date()) {
            let c = cal();
            prop_assert_eq!(c.working_days_between(a, b), naive_between(&c, a, b));
        }

        #[test]
        fn add_is_monotone(s1 in covered_date(), s2 in covered_date(), n1 in 0u32..300, n2 in 0u32..300) {
            let c = cal();
            let (s_lo, s_hi) = if s1 <= s2 { (s1, s2) } else { (s2, s1) };
            let (n_lo, n_hi) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
            if let Ok(hi) = c.add_working_days(s_hi, n_hi) {
                // Later start or more days never gives an earlier deadline.
                prop_assert!(c.add_working_days(s_lo, n_hi).unwrap() <= hi);
                prop_assert!(c.add_working_days(s_hi, n_lo).unwrap() <= hi);
                prop_assert!(c.add_working_days(s_lo, n_lo).unwrap() <= hi);
            }
            // Counting is monotone in `to` and additive.
            let (a, b) = (s_lo, s_hi);
            let mid = a + (b - a) / 2;
            let ab = c.working_days_between(a, b).unwrap();
            prop_assert!(ab >= 0);
            prop_assert_eq!(ab, c.working_days_between(a, mid).unwrap() + c.working_days_between(mid, b).unwrap());
        }

        #[test]
        fn next_working_day_is_first_working_on_or_after(day in covered_date()) {
            let c = cal();
            if let Ok(next) = c.next_working_day_on_or_after(day) {
                prop_assert!(next >= day);
                prop_assert!(c.is_working_day(next).unwrap());
                prop_assert!(c.working_days_between(day, next).unwrap() <= 1);
                let mut x = day;
                while x < next {
                    prop_assert!(!c.is_working_day(x).unwrap());
                    x = x.succ_opt().unwrap();
                }
            }
        }
    }
}
