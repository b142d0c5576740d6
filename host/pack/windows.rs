//! The pack's `[windows]`: named sales windows beyond the run period, the previous period
//! and the same period a year ago (year to date, rolling months, each month of the period,
//! all history, a fixed date range). The sales pass sums them in the same single pass
//! (`facts::WindowPlan`); rules read them with `window("name")` and `windows("name")`.

use super::PackError;
use crate::period::{Date, MonthIndex, Period};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[windows.NAME]` as written in pack.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDecl {
    /// `year_to_date`, `rolling`, `each_month`, `history` or `range`.
    pub kind: String,
    /// `rolling`: how many months, ending with the run period's last month.
    #[serde(default)]
    pub months: Option<i64>,
    /// `range`: the first day (`YYYY-MM-DD`).
    #[serde(default)]
    pub from: Option<String>,
    /// `range`: the last day, inclusive.
    #[serde(default)]
    pub to: Option<String>,
    /// What the window is for, shown by `bonusrun doc`.
    #[serde(default)]
    pub description: String,
}

/// What dates a declared window covers, relative to the run period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// From January 1st of the run period's year to the run period's end.
    YearToDate,
    /// The last `n` months up to the run period's end.
    Rolling(i32),
    /// One window per month of the run period.
    EachMonth,
    /// Every sale before the run period's end.
    History,
    /// A fixed range of days (inclusive), cut at the run period's end.
    Range(Date, Date),
}

/// A window the pack declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredWindow {
    /// Its name, as rules ask for it.
    pub name: String,
    /// The dates it covers.
    pub span: Span,
    /// What it is for.
    pub description: String,
}

/// One concrete window of a run: a label and the days it covers (`end` exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dates {
    /// As shown by `Window.period`: `2026-Q3`, or `2026-01-01..2026-09-30`.
    pub label: String,
    /// First day.
    pub start: Date,
    /// The day after the last day.
    pub end: Date,
}

impl Dates {
    /// The dates of a whole period, labelled with its name.
    pub fn of(p: Period) -> Dates {
        Dates {
            label: p.to_string(),
            start: p.start_date(),
            end: p.end_date(),
        }
    }

    fn range(start: Date, end: Date) -> Dates {
        let label = if start == Date::EARLIEST {
            format!("..{}", end.add_days(-1))
        } else {
            format!("{start}..{}", end.add_days(-1))
        };
        Dates { label, start, end }
    }
}

impl DeclaredWindow {
    /// The concrete windows of a run over `period`: one, or one per month for `each_month`.
    /// Nothing after the period's end is counted, so a range is cut there (and may be empty).
    pub fn dates(&self, period: Period) -> Vec<Dates> {
        let end = period.end_date();
        match self.span {
            Span::YearToDate => {
                let (year, _, _) = period.start_date().ymd();
                vec![Dates::range(MonthIndex::new(year, 1).first_day(), end)]
            }
            Span::Rolling(n) => {
                let first = MonthIndex(period.end_month().0 - n);
                vec![Dates::range(first.first_day(), end)]
            }
            Span::EachMonth => (period.first_month().0..period.end_month().0)
                .map(|m| {
                    let month = MonthIndex(m);
                    let (y, mo, _) = month.first_day().ymd();
                    Dates {
                        label: format!("{y:04}-{mo:02}"),
                        start: month.first_day(),
                        end: MonthIndex(m + 1).first_day(),
                    }
                })
                .collect(),
            Span::History => vec![Dates::range(Date::EARLIEST, end)],
            Span::Range(from, to) => {
                let stop = to.add_days(1).min(end);
                vec![Dates::range(from, stop.max(from))]
            }
        }
    }

    /// Whether rules read it as a list (`windows("name")`) rather than one window.
    pub fn is_list(&self) -> bool {
        self.span == Span::EachMonth
    }
}

impl std::fmt::Display for DeclaredWindow {
    /// `ytd (year to date)`, `r12 (rolling 12 months)`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.span)
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Span::YearToDate => f.write_str("year to date"),
            Span::Rolling(n) => write!(f, "rolling {n} months"),
            Span::EachMonth => f.write_str("each month of the period"),
            Span::History => f.write_str("all history"),
            Span::Range(from, to) => write!(f, "{from} to {to}"),
        }
    }
}

/// At most this many declared windows: with `each_month`, the pass sums up to a dozen
/// windows per declaration, and every account carries each.
pub const MAX_WINDOWS: usize = 32;

const KINDS: &str = "year_to_date, rolling, each_month, history or range";

/// Reads `[windows]`; `err(needle, message)` places a message in pack.toml.
pub fn read(
    decls: &BTreeMap<String, WindowDecl>,
    err: impl Fn(&str, String) -> PackError,
) -> Result<Vec<DeclaredWindow>, PackError> {
    if let Some(name) = decls.keys().nth(MAX_WINDOWS) {
        return Err(err(
            name,
            format!(
                "[windows] declares {} windows; at most {MAX_WINDOWS} are allowed",
                decls.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (name, d) in decls {
        let at = |m: String| err(name, format!("[windows.{name}]: {m}"));
        if !valid_name(name) {
            return Err(at(
                "a window name is letters, digits and _, starting with a letter (e.g. ytd, rolling_12)".into(),
            ));
        }
        let unused = |field: &str, present: bool| -> Result<(), PackError> {
            if present {
                Err(at(format!("kind = \"{}\" takes no {field}", d.kind)))
            } else {
                Ok(())
            }
        };
        let span = match d.kind.as_str() {
            "rolling" => {
                unused("from", d.from.is_some())?;
                unused("to", d.to.is_some())?;
                match d.months {
                    Some(n @ 1..=1200) => Span::Rolling(n as i32),
                    Some(n) => return Err(at(format!("months = {n}: expected a whole number of months from 1 to 1200, e.g. months = 12"))),
                    None => return Err(at("kind = \"rolling\" needs months, e.g. months = 12".into())),
                }
            }
            "range" => {
                unused("months", d.months.is_some())?;
                let day = |field: &str, v: &Option<String>| -> Result<Date, PackError> {
                    let v = v.as_deref().ok_or_else(|| {
                        at(format!(
                            "kind = \"range\" needs {field}, a date like \"2026-01-01\""
                        ))
                    })?;
                    Date::parse_iso(v).ok_or_else(|| {
                        at(format!(
                            "{field} = \"{v}\": expected a date YYYY-MM-DD, e.g. \"2026-01-01\""
                        ))
                    })
                };
                let (from, to) = (day("from", &d.from)?, day("to", &d.to)?);
                if to < from {
                    return Err(at(format!("to = {to} is before from = {from}")));
                }
                Span::Range(from, to)
            }
            kind => {
                unused("months", d.months.is_some())?;
                unused("from", d.from.is_some())?;
                unused("to", d.to.is_some())?;
                match kind {
                    "year_to_date" => Span::YearToDate,
                    "each_month" => Span::EachMonth,
                    "history" => Span::History,
                    other => {
                        let hint = crate::suggest::did_you_mean(
                            other,
                            ["year_to_date", "rolling", "each_month", "history", "range"],
                        );
                        return Err(at(format!(
                            "kind = \"{other}\" is not a window kind; expected {KINDS}{hint}"
                        )));
                    }
                }
            }
        };
        out.push(DeclaredWindow {
            name: name.clone(),
            span,
            description: d.description.clone(),
        });
    }
    Ok(out)
}

/// Whether `name` can name a window or measure: letters, digits and `_`, first a letter.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(span: Span) -> DeclaredWindow {
        DeclaredWindow {
            name: "w".into(),
            span,
            description: String::new(),
        }
    }

    fn labels(span: Span, period: &str) -> Vec<String> {
        window(span)
            .dates(Period::parse(period).unwrap())
            .into_iter()
            .map(|d| d.label)
            .collect()
    }

    #[test]
    fn declared_windows_cover_the_days_they_say() {
        assert_eq!(
            labels(Span::YearToDate, "2026-Q3"),
            ["2026-01-01..2026-09-30"]
        );
        assert_eq!(
            labels(Span::YearToDate, "2026-01"),
            ["2026-01-01..2026-01-31"]
        );
        assert_eq!(
            labels(Span::Rolling(12), "2026-Q1"),
            ["2025-04-01..2026-03-31"]
        );
        assert_eq!(
            labels(Span::Rolling(1), "2026-02"),
            ["2026-02-01..2026-02-28"]
        );
        assert_eq!(
            labels(Span::EachMonth, "2026-Q2"),
            ["2026-04", "2026-05", "2026-06"]
        );
        assert_eq!(labels(Span::History, "2026-Q2"), ["..2026-06-30"]);
        let d = |s| Date::parse_iso(s).unwrap();
        let range = Span::Range(d("2026-05-15"), d("2026-12-31"));
        assert_eq!(labels(range, "2026-Q2"), ["2026-05-15..2026-06-30"]);
        // A range that starts after the period: empty, never counting later sales.
        let dates = window(range).dates(Period::parse("2026-Q1").unwrap());
        assert_eq!(dates[0].start, dates[0].end);
    }
}
