//! Calendar dates and bonus periods.
//!
//! A [`Date`] is a proleptic Gregorian day stored as a day number, so comparing and
//! bucketing millions of sales lines costs an integer compare. A [`Period`] is a month
//! (`2026-07`), quarter (`2026-Q3`), half (`2026-H2`) or year (`2026`); every period is a
//! whole number of months, which is why facts are aggregated per month and summed into
//! periods afterwards.

use std::fmt;

/// A calendar day (proleptic Gregorian), stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// Before every real date: the start of a window over all history.
    pub const EARLIEST: Date = Date(i32::MIN / 4);

    /// Builds a date from year, month (1..=12) and day (1..=31); `None` if it does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(1..=9999).contains(&year) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses `YYYY-MM-DD` (ISO 8601 calendar date, zero-padded).
    pub fn parse_iso(text: &str) -> Option<Date> {
        Self::parse_iso_bytes(text.as_bytes())
    }

    /// Parses `YYYY-MM-DD` from raw bytes (the hot path while streaming sales).
    pub fn parse_iso_bytes(b: &[u8]) -> Option<Date> {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |s: &[u8]| -> Option<u32> {
            let mut v = 0u32;
            for &c in s {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        let y = num(&b[0..4])? as i32;
        let m = num(&b[5..7])?;
        let d = num(&b[8..10])?;
        Date::from_ymd(y, m, d)
    }

    /// Year, month (1..=12) and day.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The date `days` after 1970-01-01, if its year is in 1..=9999 (as for
    /// [`Date::from_ymd`]).
    pub fn from_days(days: i32) -> Option<Date> {
        let (first, last) = (days_from_civil(1, 1, 1), days_from_civil(9999, 12, 31));
        (first..=last).contains(&days).then_some(Date(days))
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0
    }

    /// The date `n` days later (earlier if negative).
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// The month this date falls in, as a [`MonthIndex`].
    pub fn month_index(self) -> MonthIndex {
        let (y, m, _) = self.ymd();
        MonthIndex::new(y, m)
    }

    /// Whole years from `self` to `later` (a birthday-style count: 2023-07-01 → 2026-06-30 is 2).
    pub fn whole_years_until(self, later: Date) -> i64 {
        let (y0, m0, d0) = self.ymd();
        let (y1, m1, d1) = later.ymd();
        let mut years = i64::from(y1 - y0);
        if (m1, d1) < (m0, d0) {
            years -= 1;
        }
        years
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A month counted from year 0 (`year * 12 + month - 1`), the unit facts are bucketed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthIndex(pub i32);

impl MonthIndex {
    /// The index of `year`-`month` (month 1..=12).
    pub fn new(year: i32, month: u32) -> MonthIndex {
        MonthIndex(year * 12 + month as i32 - 1)
    }

    /// First day of the month.
    pub fn first_day(self) -> Date {
        Date(days_from_civil(
            self.0.div_euclid(12),
            self.0.rem_euclid(12) as u32 + 1,
            1,
        ))
    }
}

/// How long a bonus period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    /// A calendar month, written `2026-07`.
    Month,
    /// A calendar quarter, written `2026-Q3`.
    Quarter,
    /// A half year, written `2026-H2`.
    Half,
    /// A calendar year, written `2026`.
    Year,
}

impl PeriodKind {
    /// Months in one period of this kind.
    pub fn months(self) -> i32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Half => 6,
            PeriodKind::Year => 12,
        }
    }

    /// The lowercase name used in `pack.toml`.
    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Half => "half",
            PeriodKind::Year => "year",
        }
    }

    /// An example of how a period of this kind is written.
    pub fn example(self) -> &'static str {
        match self {
            PeriodKind::Month => "2026-07",
            PeriodKind::Quarter => "2026-Q3",
            PeriodKind::Half => "2026-H2",
            PeriodKind::Year => "2026",
        }
    }
}

/// A bonus period: a run of whole months starting at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    kind: PeriodKind,
    start: MonthIndex,
}

impl Period {
    /// Parses `2026-07`, `2026-Q3`, `2026-H2` or `2026`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let bad = || {
            format!(
                "'{text}' is not a period; expected a month (2026-07), quarter (2026-Q3), half (2026-H2) or year (2026)"
            )
        };
        let t = text.trim();
        let (year_text, rest) = match t.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (t, None),
        };
        if year_text.len() != 4 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year_text.parse().map_err(|_| bad())?;
        if year < 1 {
            return Err(bad());
        }
        let digit = |s: &str, max: u32| -> Option<u32> {
            let v: u32 = s.parse().ok()?;
            (1..=max).contains(&v).then_some(v)
        };
        let (kind, first_month) = match rest {
            None => (PeriodKind::Year, 1),
            Some(r) if r.len() == 2 && (r.starts_with('Q') || r.starts_with('q')) => {
                let q = digit(&r[1..], 4).ok_or_else(bad)?;
                (PeriodKind::Quarter, (q - 1) * 3 + 1)
            }
            Some(r) if r.len() == 2 && (r.starts_with('H') || r.starts_with('h')) => {
                let h = digit(&r[1..], 2).ok_or_else(bad)?;
                (PeriodKind::Half, (h - 1) * 6 + 1)
            }
            Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_digit()) => {
                (PeriodKind::Month, digit(r, 12).ok_or_else(bad)?)
            }
            Some(_) => return Err(bad()),
        };
        Ok(Period {
            kind,
            start: MonthIndex::new(year, first_month),
        })
    }

    /// The period of `kind` that contains `month`.
    pub fn containing(kind: PeriodKind, month: MonthIndex) -> Period {
        let len = kind.months();
        let start = month.0 - month.0.rem_euclid(12) % len;
        Period {
            kind,
            start: MonthIndex(start),
        }
    }

    /// The period's kind.
    pub fn kind(self) -> PeriodKind {
        self.kind
    }

    /// First month of the period.
    pub fn first_month(self) -> MonthIndex {
        self.start
    }

    /// One past the last month of the period.
    pub fn end_month(self) -> MonthIndex {
        MonthIndex(self.start.0 + self.kind.months())
    }

    /// Whether `month` falls inside the period.
    pub fn contains_month(self, month: MonthIndex) -> bool {
        month >= self.start && month < self.end_month()
    }

    /// Whether `date` falls inside the period.
    pub fn contains(self, date: Date) -> bool {
        date >= self.start_date() && date < self.end_date()
    }

    /// First day of the period.
    pub fn start_date(self) -> Date {
        self.start.first_day()
    }

    /// The day after the period's last day (exclusive end).
    pub fn end_date(self) -> Date {
        self.end_month().first_day()
    }

    /// The last day of the period (inclusive end).
    pub fn last_date(self) -> Date {
        self.end_date().add_days(-1)
    }

    /// The period just before this one (2026-Q3 → 2026-Q2).
    pub fn previous(self) -> Period {
        Period {
            kind: self.kind,
            start: MonthIndex(self.start.0 - self.kind.months()),
        }
    }

    /// The period just after this one (2026-Q3 → 2026-Q4).
    pub fn next(self) -> Period {
        Period {
            kind: self.kind,
            start: MonthIndex(self.start.0 + self.kind.months()),
        }
    }

    /// The same period one year earlier (2026-Q3 → 2025-Q3).
    pub fn year_ago(self) -> Period {
        Period {
            kind: self.kind,
            start: MonthIndex(self.start.0 - 12),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let year = self.start.0.div_euclid(12);
        let month0 = self.start.0.rem_euclid(12);
        match self.kind {
            PeriodKind::Month => write!(f, "{year:04}-{:02}", month0 + 1),
            PeriodKind::Quarter => write!(f, "{year:04}-Q{}", month0 / 3 + 1),
            PeriodKind::Half => write!(f, "{year:04}-H{}", month0 / 6 + 1),
            PeriodKind::Year => write!(f, "{year:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for text in [
            "1970-01-01",
            "2024-02-29",
            "2026-12-31",
            "2000-03-01",
            "1899-12-31",
        ] {
            assert_eq!(Date::parse_iso(text).unwrap().to_string(), text);
        }
        assert!(Date::parse_iso("2025-02-29").is_none());
        assert!(Date::parse_iso("2025-13-01").is_none());
        assert!(Date::parse_iso("2025-1-01").is_none());
        assert!(Date::parse_iso("01/02/2025").is_none());
    }

    #[test]
    fn whole_years() {
        let a = Date::parse_iso("2023-07-01").unwrap();
        assert_eq!(
            a.whole_years_until(Date::parse_iso("2026-06-30").unwrap()),
            2
        );
        assert_eq!(
            a.whole_years_until(Date::parse_iso("2026-07-01").unwrap()),
            3
        );
    }

    #[test]
    fn periods_parse_and_shift() {
        let q = Period::parse("2026-Q3").unwrap();
        assert_eq!(q.to_string(), "2026-Q3");
        assert_eq!(q.previous().to_string(), "2026-Q2");
        assert_eq!(q.year_ago().to_string(), "2025-Q3");
        assert_eq!(q.start_date().to_string(), "2026-07-01");
        assert_eq!(q.last_date().to_string(), "2026-09-30");
        assert_eq!(
            Period::parse("2026-Q1").unwrap().previous().to_string(),
            "2025-Q4"
        );
        assert_eq!(
            Period::parse("2026-01").unwrap().previous().to_string(),
            "2025-12"
        );
        assert_eq!(
            Period::parse("2026-H1").unwrap().previous().to_string(),
            "2025-H2"
        );
        assert_eq!(
            Period::parse("2026").unwrap().previous().to_string(),
            "2025"
        );
        assert_eq!(Period::parse("2026-07").unwrap().kind(), PeriodKind::Month);
        for bad in ["2026-Q5", "2026-13", "26", "2026-H3", "2026-7", "x"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        let m = Date::parse_iso("2026-08-15").unwrap().month_index();
        assert_eq!(
            Period::containing(PeriodKind::Quarter, m).to_string(),
            "2026-Q3"
        );
        assert_eq!(
            Period::containing(PeriodKind::Half, m).to_string(),
            "2026-H2"
        );
        assert_eq!(Period::containing(PeriodKind::Year, m).to_string(), "2026");
    }
}
