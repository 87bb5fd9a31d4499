//! Time as stored: UTC instants as fixed-width ISO-8601 text (sorts correctly
//! as text on both backends), calendar dates as `YYYY-MM-DD` in Asia/Shanghai.
//!
//! China has used UTC+8 without daylight saving since 1991, so a fixed offset
//! is exact for every date the platform handles and needs no tz database.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};

pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Now, as stored: `2026-11-27T03:30:24.123Z`.
pub fn now_text() -> String {
    to_text(Utc::now())
}

pub fn to_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_text(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Today's calendar date in Beijing time.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&shanghai()).date_naive()
}

/// An instant shown to a person: Beijing time, to the minute.
pub fn display(s: &str) -> String {
    parse_text(s)
        .map(|t| t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| s.to_string())
}
