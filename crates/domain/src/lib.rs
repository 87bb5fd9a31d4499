//! Pure domain types of chuangtong. Nothing here does I/O: every value is
//! parsed once at the edge ("parse, don't validate") and is valid from then on.
//!
//! Each validation concept has its own error enum, one variant per reason,
//! carrying the offending value. Every error implements [`Coded`], giving a
//! stable machine code (for API clients and tests) next to its Chinese
//! `Display` message (for people).

pub mod calendar;
pub mod id_card;
pub mod industry;
pub mod money;
pub mod phone;
pub mod region;
pub mod rng;
pub mod uscc;

pub use calendar::{CalendarError, WorkCalendar, YearSchedule};
pub use id_card::{IdCardError, IdCardNumber};
pub use industry::{IndustryError, IndustrySection};
pub use money::{Fen, MoneyError};
pub use phone::{Phone, PhoneError};
pub use region::{RegionCode, RegionError, RegionLevel};
pub use rng::SplitMix64;
pub use uscc::{Uscc, UsccError};

/// A validation error with a stable code such as `uscc.check_char`.
/// The code never changes once published; the message may be reworded.
pub trait Coded: std::fmt::Display {
    fn code(&self) -> &'static str;
}
