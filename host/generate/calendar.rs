//! Calendar helpers: weekdays, holidays and the rhythm of a month.

use super::*;

// ---------------------------------------------------------------------------------------
// Calendar helpers
// ---------------------------------------------------------------------------------------

pub(super) fn ymd(year: i32, month: u32, day: u32) -> Date {
    Date::from_ymd(year, month, day).expect("a valid calendar date")
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub(super) fn weekday(date: Date) -> i32 {
    (date.days() + 3).rem_euclid(7)
}

/// The same day a year later (29 February becomes 1 March).
pub(super) fn add_year(date: Date) -> Date {
    let (y, m, d) = date.ymd();
    Date::from_ymd(y + 1, m, d).unwrap_or_else(|| ymd(y + 1, 3, 1))
}

/// Relative number of sales lines on a day: weekends, Russian public holidays, and the
/// push in the last week of every quarter.
pub(super) fn day_factor(date: Date, days_in_month: u32) -> f64 {
    const WEEKDAY: [f64; 7] = [1.0, 1.05, 1.05, 1.0, 0.95, 0.3, 0.08];
    let (_, month, day) = date.ymd();
    let mut factor = WEEKDAY[weekday(date) as usize];
    if month == 1 && day <= 8 {
        factor *= 0.12;
    }
    if matches!(
        (month, day),
        (2, 23) | (3, 8) | (5, 1) | (5, 9) | (6, 12) | (11, 4)
    ) {
        factor *= 0.25;
    }
    if month % 3 == 0 && day + 6 >= days_in_month {
        factor *= 1.25;
    }
    factor
}

/// One month of the data range.
pub(super) struct MonthInfo {
    pub(super) first: Date,
    pub(super) days: u32,
    /// Months since the first month of the range.
    pub(super) offset: i32,
    pub(super) season: f64,
    pub(super) growth: f64,
    /// Price-list year: calendar years since the first month's year.
    pub(super) year: usize,
    /// Index into `World::quarters`.
    pub(super) quarter: usize,
}
