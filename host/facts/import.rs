//! Facts computed elsewhere (`bonusrun run --facts FILE`): the rows of the query that
//! [`super::sql::facts_sql`] prints, as a CSV or Parquet file, read back into the totals the sales
//! pass would have made. Every row is checked as sales lines are: known client and manager
//! ids, segments that are the run's, numbers that are numbers, no account twice, and the
//! segments must add up to the file's `total` row (a file cut short, or one part file of
//! several, does not). Errors name the file, line and column.

use super::aggregate::{from_segments, MeasureFact, RunFact, SegmentFact};
use super::{SalesTotals, Window, WindowPlan};
use crate::load::{self, Dataset, InputFile, LoadError};
use crate::pack::measures::Aggregate;
use crate::period::Date;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;

/// The columns of a facts file, before the measures' `measure_NAME` columns.
pub const COLUMNS: [&str; 18] = [
    "kind",
    "period",
    "client_id",
    "manager_id",
    "start_date",
    "end_date",
    "lines",
    "return_lines",
    "revenue",
    "cost",
    "quantity",
    "returns",
    "first_date",
    "last_date",
    "categories",
    "products",
    "inexact",
    "decimals",
];

/// Reads the facts file at `path` (shown as `shown`) for a run of `plan` over `data`.
pub fn import(
    path: &Path,
    shown: &str,
    data: &Dataset,
    plan: WindowPlan,
) -> Result<(SalesTotals, InputFile), LoadError> {
    refuse_unsupported(data)?;
    let (raw, parquet) = read_facts(path, shown)?;
    let bytes = raw.len();
    let sha256 = load::source_hex(&Sha256::digest(&raw));
    let text = parquet.as_ref().map_or(&raw[..], |p| &p.text[..]);
    let rows = Reader::new(shown, text, &plan).and_then(|mut r| r.rows(data, &plan));
    let (run, segments, rows) = rows.map_err(|e| at_row(e, shown, parquet.as_ref()))?;
    let totals = from_segments(data, plan, run, segments).map_err(|m| LoadError::file(shown, m))?;
    let file = InputFile {
        name: file_name(path),
        sha256,
        rows,
        bytes: bytes as u64,
    };
    Ok((totals, file))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What the pushed-down pass does not compute yet: the data's own answer is refused rather
/// than paid differently.
fn refuse_unsupported(data: &Dataset) -> Result<(), LoadError> {
    let refuse = |file: &str, what: &str| {
        Err(LoadError::file(
            file,
            format!("{what}; the facts a --facts run reads are summed per manager on each line, so this data set needs the sales pass (run without --facts)"),
        ))
    };
    if !data.owners.is_empty() {
        return refuse(
            &data.owners_file,
            "credits lines without a manager to the client's owner on the line's date",
        );
    }
    if data.has_credits() {
        return refuse(
            &data.credits_file,
            "splits or overlays a client's credit between managers",
        );
    }
    if !data.fx_rates.is_empty() {
        return refuse(
            &data.fx_file,
            "converts lines in other currencies at each line's date",
        );
    }
    Ok(())
}

/// A facts CSV being read.
struct Reader<'a> {
    shown: &'a str,
    csv: csv::Reader<&'a [u8]>,
    /// Column index of each of [`COLUMNS`], then of each measure.
    at: Vec<usize>,
    kinds: Vec<Aggregate>,
    measures: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(shown: &'a str, bytes: &'a [u8], plan: &WindowPlan) -> Result<Reader<'a>, LoadError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header = csv
            .headers()
            .map_err(|e| LoadError::at(shown, 1, format!("cannot read the header: {e}")))?
            .clone();
        let names: Vec<String> = COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(plan.measures.iter().map(|m| format!("measure_{}", m.name)))
            .collect();
        let mut at = Vec::with_capacity(names.len());
        for name in &names {
            match header.iter().position(|h| h.trim().eq_ignore_ascii_case(name)) {
                Some(i) => at.push(i),
                None => {
                    return Err(LoadError::at(
                        shown,
                        1,
                        format!(
                            "has no column '{name}'; a facts file has the columns {} (docs/scale.md); print the query for this pack with `bonusrun sql`",
                            names.join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(Reader {
            shown,
            csv,
            at,
            kinds: plan.measures.iter().map(|m| m.of).collect(),
            measures: plan.measures.iter().map(|m| m.name.clone()).collect(),
        })
    }

    /// Every row: the run's facts, the segments, and how many rows there were.
    fn rows(
        &mut self,
        data: &Dataset,
        plan: &WindowPlan,
    ) -> Result<(RunFact, Vec<SegmentFact>, u64), LoadError> {
        let mut run = RunFact {
            client_dates: vec![None; data.clients.len()],
            ..RunFact::default()
        };
        let (mut saw_run, mut total) = (false, None);
        let mut segments = Vec::new();
        let mut seen = HashSet::new();
        let mut rows = 0;
        let mut record = csv::StringRecord::new();
        loop {
            let line = self.csv.position().line();
            match self.csv.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(LoadError::at(self.shown, line, format!("{e}"))),
            }
            rows += 1;
            let row = Row {
                shown: self.shown,
                line,
                record: &record,
                at: &self.at,
                measures: &self.measures,
            };
            match row.text("kind")? {
                "segment" => {
                    let s = self.segment(&row, data, plan)?;
                    if !seen.insert((s.client, s.manager, s.segment)) {
                        return Err(row.error("client_id", "this account and segment has a row already: the query groups by them, so each is one row"));
                    }
                    segments.push(s);
                }
                "client" => {
                    let c = row.client(data)?;
                    run.client_dates[c as usize] =
                        Some((row.date("first_date")?, row.date("last_date")?));
                }
                "total" => {
                    total = Some((
                        line,
                        row.count("lines")?,
                        row.number("revenue")?,
                        row.number("cost")?,
                        row.number("quantity")?,
                    ));
                }
                "run" => {
                    saw_run = true;
                    run_row(&row, plan, &mut run)?;
                }
                other => {
                    return Err(row.error(
                        "kind",
                        &format!("found '{other}', expected segment, client, total or run"),
                    ))
                }
            }
        }
        if !saw_run {
            return Err(LoadError::file(
                self.shown,
                "has no 'run' row: it is not the whole result of the facts query (docs/scale.md)",
            ));
        }
        let Some(total) = total else {
            return Err(LoadError::file(
                self.shown,
                "has no 'total' row: it is not the whole result of the facts query (docs/scale.md)",
            ));
        };
        reconcile(self.shown, total, &segments)?;
        Ok((run, segments, rows))
    }

    fn segment(
        &self,
        row: &Row,
        data: &Dataset,
        plan: &WindowPlan,
    ) -> Result<SegmentFact, LoadError> {
        let client = row.client(data)?;
        let id = row.text("manager_id")?;
        let Some(&manager) = data.manager_index.get(id) else {
            let msg = if id.is_empty() {
                "is empty: every line's manager must be known where the facts are summed"
                    .to_string()
            } else {
                format!(
                    "unknown manager '{id}': it is not in {}",
                    data.managers_file
                )
            };
            return Err(row.error("manager_id", &msg));
        };
        let dates = (row.date("start_date")?, row.date("end_date")?);
        let shown = super::sql::shown_segments(plan);
        let Some(segment) = shown.iter().position(|s| *s == dates) else {
            return Err(row.error(
                "start_date",
                &format!(
                    "the segment {}..{} is not one of this run's ({}); the facts were computed for other windows: print the query for this pack and period with `bonusrun sql`",
                    dates.0,
                    dates.1,
                    shown.iter().map(|(s, e)| format!("{s}..{e}")).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let return_lines = row.count("return_lines")?;
        let dp = row.decimals(3 + self.kinds.len())?;
        let window = Window {
            revenue: rescaled(row.number("revenue")?, dp[0]),
            cost: rescaled(row.number("cost")?, dp[1]),
            quantity: rescaled(row.number("quantity")?, dp[2]),
            // Without a return line, the pass's returns are a plain 0 (no decimals).
            returns: match return_lines {
                0 => Decimal::ZERO,
                _ => rescaled(row.number("returns")?, dp[3]),
            },
            lines: row.count("lines")?,
            return_lines,
            first: Some(row.date("first_date")?),
            last: Some(row.date("last_date")?),
            ..Window::default()
        };
        let measures = self
            .kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| row.measure(i, *kind, dp[4 + i]))
            .collect::<Result<_, _>>()?;
        Ok(SegmentFact {
            client,
            manager,
            segment: segment as u16,
            window,
            categories: row.names("categories")?,
            products: row.names("products")?,
            measures,
        })
    }
}

/// The `run` row: the period the facts are for, every line's count and dates.
fn run_row(row: &Row, plan: &WindowPlan, run: &mut RunFact) -> Result<(), LoadError> {
    let period = row.text("period")?;
    if period != plan.period().to_string() {
        return Err(row.error(
            "period",
            &format!(
                "the facts are for {period}, but this run is for {}; print the query with `bonusrun sql --period {}`, or run with --period {period}",
                plan.period(),
                plan.period()
            ),
        ));
    }
    let inexact = row.count("inexact")?;
    if inexact > 0 {
        return Err(row.error(
            "inexact",
            &format!("{inexact} sales line(s) have more decimals than the query read them with, so the engine rounded them; print the query with a larger --scale"),
        ));
    }
    run.rows = row.count("lines")?;
    if run.rows > 0 {
        run.dates = Some((row.date("first_date")?, row.date("last_date")?));
    }
    Ok(())
}

/// The segments must add up to the `total` row, exactly.
fn reconcile(
    shown: &str,
    (line, lines, revenue, cost, quantity): (u64, u64, Decimal, Decimal, Decimal),
    segments: &[SegmentFact],
) -> Result<(), LoadError> {
    let sums = Window::sum(segments.iter().map(|s| &s.window))
        .map_err(|what| LoadError::file(shown, what.message("all accounts", "the facts")))?;
    let pairs = [
        ("lines", Decimal::from(sums.lines), Decimal::from(lines)),
        ("revenue", sums.revenue, revenue),
        ("cost", sums.cost, cost),
        ("quantity", sums.quantity, quantity),
    ];
    for (what, segs, total) in pairs {
        if segs != total {
            return Err(LoadError::field(
                shown,
                line,
                what,
                format!("the segments sum to {segs}, but the total row says {total}: the file is not the whole result of the query (cut short, or one part of several?)"),
            ));
        }
    }
    Ok(())
}

/// One record of a facts file.
struct Row<'r> {
    shown: &'r str,
    line: u64,
    record: &'r csv::StringRecord,
    at: &'r [usize],
    /// The measures' names, in order.
    measures: &'r [String],
}

impl Row<'_> {
    fn error(&self, column: &str, message: &str) -> LoadError {
        LoadError::field(self.shown, self.line, column, message)
    }

    fn field(&self, i: usize) -> &str {
        self.at
            .get(i)
            .and_then(|&c| self.record.get(c))
            .map_or("", str::trim)
    }

    fn index(column: &str) -> usize {
        COLUMNS.iter().position(|c| *c == column).unwrap_or(0)
    }

    fn text(&self, column: &str) -> Result<&str, LoadError> {
        Ok(self.field(Row::index(column)))
    }

    fn client(&self, data: &Dataset) -> Result<u32, LoadError> {
        let id = self.text("client_id")?;
        data.client_index.get(id).copied().ok_or_else(|| {
            self.error(
                "client_id",
                &format!("unknown client '{id}': it is not in clients.csv"),
            )
        })
    }

    fn number(&self, column: &str) -> Result<Decimal, LoadError> {
        parse_number(self.text(column)?).ok_or_else(|| {
            self.error(
                column,
                &format!(
                    "found '{}', expected a number",
                    self.text(column).unwrap_or("")
                ),
            )
        })
    }

    fn count(&self, column: &str) -> Result<u64, LoadError> {
        let text = self.text(column)?;
        text.parse::<u64>().map_err(|_| {
            self.error(
                column,
                &format!("found '{text}', expected a count (0 or more)"),
            )
        })
    }

    fn date(&self, column: &str) -> Result<Date, LoadError> {
        let text = self.text(column)?;
        Date::parse_iso(text).ok_or_else(|| {
            self.error(
                column,
                &format!("found '{text}', expected a date (YYYY-MM-DD)"),
            )
        })
    }

    fn names(&self, column: &str) -> Result<Vec<String>, LoadError> {
        json_names(self.text(column)?).map_err(|m| self.error(column, &m))
    }

    /// The `decimals` column: `n` + 1 counts of decimals.
    fn decimals(&self, n: usize) -> Result<Vec<u32>, LoadError> {
        let text = self.text("decimals")?;
        let dp: Vec<u32> = text
            .split_whitespace()
            .map(|t| t.parse::<u32>().ok().filter(|d| *d <= 28))
            .collect::<Option<_>>()
            .unwrap_or_default();
        if dp.len() != n + 1 {
            return Err(self.error(
                "decimals",
                &format!(
                    "found '{text}', expected {} counts of decimals separated by spaces",
                    n + 1
                ),
            ));
        }
        Ok(dp)
    }

    fn measure(&self, i: usize, kind: Aggregate, dp: u32) -> Result<MeasureFact, LoadError> {
        let text = self.field(COLUMNS.len() + i);
        let name_of = || format!("measure_{}", self.measures[i]);
        match kind {
            Aggregate::Products | Aggregate::Categories => json_names(text)
                .map(MeasureFact::Names)
                .map_err(|m| self.error(&name_of(), &m)),
            Aggregate::Clients => match text {
                "0" | "0.0" | "0.00" => Ok(MeasureFact::Client(false)),
                t if parse_number(t).is_some_and(|d| d == Decimal::ONE) => {
                    Ok(MeasureFact::Client(true))
                }
                t => Err(self.error(&name_of(), &format!("found '{t}', expected 0 or 1"))),
            },
            Aggregate::Lines => text
                .split('.')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|_| parse_number(text).is_some_and(|d| d.fract().is_zero()))
                .map(|n| MeasureFact::Sum(Decimal::from(n)))
                .ok_or_else(|| {
                    self.error(&name_of(), &format!("found '{text}', expected a count"))
                }),
            _ if text.is_empty() => Ok(MeasureFact::Sum(Decimal::ZERO)),
            _ => parse_number(text)
                .map(|d| MeasureFact::Sum(rescaled(d, dp)))
                .ok_or_else(|| {
                    self.error(&name_of(), &format!("found '{text}', expected a number"))
                }),
        }
    }
}

/// `d` with `dp` decimals, as the pass would have summed it from lines with at most that
/// many; never drops a digit (a value with more decimals keeps them).
fn rescaled(d: Decimal, dp: u32) -> Decimal {
    let mut r = d;
    r.rescale(dp);
    if r == d {
        r
    } else {
        d
    }
}

fn parse_number(text: &str) -> Option<Decimal> {
    crate::money::parse_decimal(text.as_bytes())
}

/// A JSON array of texts (`["a","b"]`), sorted and distinct; empty or `null` is none.
fn json_names(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() || text == "null" {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = serde_json::from_str(text)
        .map_err(|e| format!("found '{text}', expected a JSON array of texts ({e})"))?;
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    Ok(names)
}

/// The facts file's bytes, and for a Parquet file (it starts with `PAR1`) the same rows as
/// CSV text, which is then read as a CSV facts file ([`at_row`] turns its line numbers back
/// into rows).
fn read_facts(
    path: &Path,
    shown: &str,
) -> Result<(Vec<u8>, Option<load::parquet::ParquetText>), LoadError> {
    let raw = crate::confine::read_regular(path)
        .map_err(|e| LoadError::file(shown, format!("cannot read: {e}")))?;
    let text = match raw.starts_with(b"PAR1") {
        true => Some(load::parquet::to_csv(path, shown)?),
        false => None,
    };
    Ok((raw, text))
}

/// For Parquet facts, `e` at the file's row (1-based; the CSV text's line minus its header)
/// and row group rather than at a line of the text it was read as; the header is no row.
fn at_row(e: LoadError, shown: &str, parquet: Option<&load::parquet::ParquetText>) -> LoadError {
    let Some(p) = parquet.filter(|_| e.file == shown) else {
        return e;
    };
    match e.line {
        Some(line) if line > 1 => {
            let e = LoadError {
                line: Some(line - 1),
                ..e
            };
            load::parquet::in_row_group(e, shown, &p.starts)
        }
        Some(_) => e.without_line(),
        None => e,
    }
}

/// The period of the facts file at `path`: its `run` row's.
pub fn period_of(path: &Path, shown: &str) -> Result<(crate::period::Period, u64), LoadError> {
    let (raw, parquet) = read_facts(path, shown)?;
    let header = u64::from(parquet.is_some());
    period_in(&raw, shown, parquet.as_ref())
        .map(|(period, line)| (period, line.saturating_sub(header)))
        .map_err(|e| at_row(e, shown, parquet.as_ref()))
}

fn period_in(
    raw: &[u8],
    shown: &str,
    parquet: Option<&load::parquet::ParquetText>,
) -> Result<(crate::period::Period, u64), LoadError> {
    let text = parquet.map_or(raw, |p| &p.text[..]);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text);
    let header = csv
        .headers()
        .map_err(|e| LoadError::at(shown, 1, format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(kind), Some(period)) = (col("kind"), col("period")) else {
        return Err(LoadError::at(
            shown,
            1,
            "has no columns 'kind' and 'period': it is not a facts file (docs/scale.md)",
        ));
    };
    for record in csv.records() {
        let record = record.map_err(|e| LoadError::file(shown, e.to_string()))?;
        if record.get(kind).map(str::trim) == Some("run") {
            let text = record.get(period).unwrap_or("").trim();
            let line = record.position().map_or(0, |p| p.line());
            return crate::period::Period::parse(text)
                .map(|p| (p, line))
                .map_err(|e| LoadError::field(shown, line, "period", e));
        }
    }
    Err(LoadError::file(
        shown,
        "has no 'run' row: it is not the whole result of the facts query (docs/scale.md)",
    ))
}
