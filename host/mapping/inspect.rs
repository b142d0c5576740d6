//! `bonusrun inspect FILE`: the first thing a new user runs on an export. It detects the
//! encoding, delimiter, decimal and thousands separators and the date format, shows the
//! header and a few typed rows, and prints a starter `data.toml`.

use super::dialect::{decode, parse_date, Dialect, DialectDecl};
use super::source::SourceTable;
use crate::load::LoadError;
use std::fmt::Write;
use std::path::Path;

/// What was detected about a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// Encoding name for data.toml.
    pub encoding: String,
    /// Why that encoding.
    pub encoding_reason: String,
    /// Delimiter.
    pub delimiter: char,
    /// Decimal separator.
    pub decimal: char,
    /// Thousands separator, as data.toml spells it.
    pub thousands: String,
    /// Date format, if any column holds dates.
    pub date_format: Option<String>,
}

fn detect_encoding(bytes: &[u8]) -> (String, String) {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return ("utf-8".into(), "UTF-8 with a byte-order mark".into());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return ("utf-16".into(), "UTF-16 byte-order mark".into());
    }
    if std::str::from_utf8(bytes).is_ok() {
        return ("utf-8".into(), "valid UTF-8".into());
    }
    let high: Vec<u8> = bytes.iter().copied().filter(|b| *b >= 0x80).collect();
    // Cyrillic text in windows-1251 is mostly letters 0xC0..=0xFF; Western text in
    // windows-1252 has few high bytes, many of them punctuation or NBSP.
    let letters = high.iter().filter(|b| **b >= 0xC0).count();
    if !high.is_empty() && letters * 10 >= high.len() * 7 && letters > 20 {
        (
            "windows-1251".into(),
            format!(
                "not UTF-8; {letters} of {} non-ASCII bytes are Cyrillic letters in windows-1251",
                high.len()
            ),
        )
    } else {
        ("windows-1252".into(), format!("not UTF-8 (first invalid byte at offset {}); {} non-ASCII bytes read as Western European", std::str::from_utf8(bytes).err().map(|e| e.valid_up_to()).unwrap_or(0), high.len()))
    }
}

fn count_outside_quotes(line: &str, c: char) -> usize {
    let mut in_quote = false;
    let mut n = 0;
    for ch in line.chars() {
        if ch == '"' {
            in_quote = !in_quote;
        } else if ch == c && !in_quote {
            n += 1;
        }
    }
    n
}

fn detect_delimiter(text: &str) -> char {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .collect();
    let mut best = (',', 0usize);
    for c in [',', ';', '\t', '|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, c)).collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        let consistent = counts.iter().filter(|&&n| n == first).count();
        if first > 0 && consistent * 10 >= counts.len() * 9 && first > best.1 {
            best = (c, first);
        }
    }
    best.0
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn detect_numbers(cells: &[&str]) -> (char, String) {
    let mut comma_decimal = 0;
    let mut dot_decimal = 0;
    let mut nbsp = 0;
    let mut space = 0;
    for c in cells {
        let t = c.trim().trim_start_matches('-');
        if t.contains('\u{a0}')
            && t.split('\u{a0}')
                .all(|p| is_digits(p.split([',', '.']).next().unwrap_or("")))
        {
            nbsp += 1;
        }
        if t.contains(' ')
            && t.split(' ')
                .all(|p| is_digits(p.split([',', '.']).next().unwrap_or("")))
        {
            space += 1;
        }
        let plain: String = t.chars().filter(|c| !matches!(c, '\u{a0}' | ' ')).collect();
        if let Some((a, b)) = plain.split_once(',') {
            if is_digits(a) && is_digits(b) && !b.contains(',') && b.len() != 3 {
                comma_decimal += 1;
            }
        }
        if let Some((a, b)) = plain.split_once('.') {
            if is_digits(a) && is_digits(b) {
                dot_decimal += 1;
            }
        }
    }
    let decimal = if comma_decimal > dot_decimal {
        ','
    } else {
        '.'
    };
    let thousands = if nbsp > 0 {
        "nbsp"
    } else if space > 0 {
        " "
    } else {
        ""
    };
    (decimal, thousands.to_string())
}

fn detect_date(cells: &[&str]) -> Option<String> {
    let mut iso = 0;
    let mut first_over_12 = false;
    let mut second_over_12 = false;
    let mut sep = None;
    let mut seen = 0;
    for c in cells {
        let t = c.trim().split([' ', 'T']).next().unwrap_or("");
        if parse_date(t, "YYYY-MM-DD").is_some() {
            iso += 1;
            continue;
        }
        for s in ['/', '.', '-'] {
            let parts: Vec<&str> = t.split(s).collect();
            if parts.len() == 3 && parts.iter().all(|p| is_digits(p)) && parts[2].len() == 4 {
                seen += 1;
                sep = Some(s);
                let a: u32 = parts[0].parse().unwrap_or(0);
                let b: u32 = parts[1].parse().unwrap_or(0);
                first_over_12 |= a > 12;
                second_over_12 |= b > 12;
            }
        }
    }
    if seen > iso {
        let s = sep.unwrap_or('/');
        Some(if second_over_12 && !first_over_12 {
            format!("MM{s}DD{s}YYYY")
        } else {
            format!("DD{s}MM{s}YYYY")
        })
    } else if iso > 0 {
        Some("YYYY-MM-DD".into())
    } else {
        None
    }
}

fn type_of(cells: &[&String], d: &Dialect) -> &'static str {
    let values: Vec<&&String> = cells.iter().filter(|c| !c.trim().is_empty()).collect();
    if values.is_empty() {
        return "empty";
    }
    if values
        .iter()
        .all(|c| is_digits(c.trim().trim_start_matches('-')))
    {
        return "integer";
    }
    if values.iter().all(|c| d.number(c).is_some()) {
        return "decimal";
    }
    if values.iter().all(|c| d.date(c).is_some()) {
        return "date";
    }
    if values.iter().all(|c| d.flag(c).is_some()) {
        return "true/false";
    }
    "text"
}

fn guess(
    header: &[String],
    types: &[&str],
    wanted: &[&str],
    want_type: Option<&str>,
) -> Option<String> {
    for w in wanted {
        for (h, t) in header.iter().zip(types) {
            let name = h.to_lowercase().replace(['_', '-'], " ");
            let type_ok = match want_type {
                None => true,
                Some("number") => matches!(*t, "integer" | "decimal"),
                Some(wt) => wt == *t,
            };
            if name.contains(w) && type_ok {
                return Some(h.clone());
            }
        }
    }
    None
}

/// One file looked at: its report so far and what the starter needs.
struct Analysed {
    out: String,
    name: String,
    file_name: String,
    detected: Option<Detected>,
    header: Vec<String>,
    types: Vec<&'static str>,
}

impl Analysed {
    /// The file's column that best matches `wanted` (of type `t`).
    fn g(&self, wanted: &[&str], t: Option<&str>) -> Option<String> {
        guess(&self.header, &self.types, wanted, t)
    }

    /// A sales table has a date and an amount; anything else is a lookup (people, teams,
    /// products...).
    fn looks_like_sales(&self) -> bool {
        self.g(&["date"], Some("date")).is_some() && self.g(AMOUNT, Some("number")).is_some()
    }
}

const AMOUNT: &[&str] = &[
    "sales",
    "amount",
    "revenue",
    "close value",
    "value",
    "total",
];

/// Inspects `path` and returns the report.
pub fn inspect(path: &Path) -> Result<String, LoadError> {
    inspect_all(&[path.to_path_buf()])
}

/// Inspects several files (a sales export and its lookups: people, teams, products) into
/// one report and one starter `data.toml`: the file that looks like sales feeds
/// `[tables.sales]`, and each other file gets a lookup section.
pub fn inspect_all(paths: &[std::path::PathBuf]) -> Result<String, LoadError> {
    let all = paths
        .iter()
        .map(|p| analyse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let sales = all.iter().position(Analysed::looks_like_sales);
    let mut out: Vec<String> = all.iter().map(|a| a.out.clone()).collect::<Vec<_>>();
    let mut starter = String::from("\nstarter data.toml (check every guess):\n\n");
    for (i, a) in all.iter().enumerate() {
        if i > 0 {
            starter.push('\n');
        }
        starter.push_str(&files_section(a));
    }
    match sales {
        Some(i) => starter.push_str(&sales_tables(&all[i])),
        None => starter.push_str("\n# no file here has a date and an amount column, so none is taken for [tables.sales]: inspect the sales export with it\n"),
    }
    for (i, a) in all.iter().enumerate() {
        if Some(i) != sales {
            starter.push_str(&lookup_hint(a, sales.map(|s| &all[s])));
        }
    }
    let last = out.len() - 1;
    out[last].push_str(&starter);
    Ok(out.join("\n"))
}

/// The report of one file: its dialect, rows and columns with types and samples.
fn analyse(path: &Path) -> Result<Analysed, LoadError> {
    let shown = path.display().to_string();
    let bytes = crate::confine::read_regular(path)
        .map_err(|e| LoadError::file(&shown, format!("cannot read: {e}")))?;
    let mut out = String::new();
    let workbook = matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("xlsx" | "xlsm" | "xls" | "xlsb" | "ods")
    );
    let (table, detected) = if workbook {
        let t = SourceTable::read(path, None, Dialect::default())?;
        let _ = writeln!(
            out,
            "file: {shown} (an Excel workbook; cells are typed, so no text dialect applies)"
        );
        (t, None)
    } else {
        let (encoding, reason) = detect_encoding(&bytes);
        let text = decode(&bytes, &encoding).map_err(|m| LoadError::file(&shown, m))?;
        let delimiter = detect_delimiter(&text);
        let probe = Dialect::default()
            .with(&DialectDecl {
                encoding: Some(encoding.clone()),
                delimiter: Some(delimiter.to_string()),
                ..Default::default()
            })
            .map_err(|m| LoadError::file(&shown, m))?;
        let raw = SourceTable::read(path, None, probe)?;
        let cells: Vec<&str> = raw
            .rows
            .iter()
            .take(500)
            .flat_map(|(_, r)| r.iter().map(String::as_str))
            .collect();
        let (decimal, thousands) = detect_numbers(&cells);
        let date_format = detect_date(&cells);
        let dialect = Dialect::default()
            .with(&DialectDecl {
                encoding: Some(encoding.clone()),
                delimiter: Some(delimiter.to_string()),
                decimal: Some(decimal.to_string()),
                thousands: Some(thousands.clone()),
                date_format: date_format.clone(),
                ..Default::default()
            })
            .map_err(|m| LoadError::file(&shown, m))?;
        let t = SourceTable::read(path, None, dialect)?;
        let _ = writeln!(out, "file: {shown}");
        let _ = writeln!(out, "encoding: {encoding} ({reason})");
        let _ = writeln!(
            out,
            "delimiter: {}",
            if delimiter == '\t' {
                "tab".to_string()
            } else {
                format!("'{delimiter}'")
            }
        );
        let _ = writeln!(out, "decimal separator: '{decimal}'");
        let _ = writeln!(
            out,
            "thousands separator: {}",
            if thousands.is_empty() {
                "none".to_string()
            } else {
                format!("'{thousands}'")
            }
        );
        let _ = writeln!(
            out,
            "date format: {}",
            date_format
                .clone()
                .unwrap_or_else(|| "no dates found".into())
        );
        let det = Detected {
            encoding,
            encoding_reason: reason,
            delimiter,
            decimal,
            thousands,
            date_format,
        };
        (t, Some(det))
    };
    let _ = writeln!(out, "rows: {}", table.rows.len());
    let types: Vec<&str> = (0..table.header.len())
        .map(|c| {
            let col: Vec<&String> = table.rows.iter().take(500).map(|(_, r)| &r[c]).collect();
            type_of(&col, &table.dialect)
        })
        .collect();
    let _ = writeln!(out, "columns ({}):", table.header.len());
    for (i, (h, t)) in table.header.iter().zip(&types).enumerate() {
        let samples: Vec<&str> = table
            .rows
            .iter()
            .take(3)
            .map(|(_, r)| r[i].trim())
            .collect();
        let _ = writeln!(
            out,
            "  {:>2}. {h} [{t}] e.g. {}",
            i + 1,
            samples.join(" | ")
        );
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase().replace(' ', "_"))
        .unwrap_or_else(|| "source".into());
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Analysed {
        out,
        name,
        file_name,
        detected,
        header: table.header.clone(),
        types,
    })
}

/// The `[files.NAME]` section of one file, with its dialect.
fn files_section(a: &Analysed) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[files.{}]", a.name);
    let _ = writeln!(out, "path = \"{}\"", a.file_name);
    if let Some(d) = &a.detected {
        let _ = writeln!(out, "encoding = \"{}\"", d.encoding);
        let delim = if d.delimiter == '\t' {
            "\\t".to_string()
        } else {
            d.delimiter.to_string()
        };
        let _ = writeln!(out, "delimiter = \"{delim}\"");
        let _ = writeln!(out, "decimal = \"{}\"", d.decimal);
        if !d.thousands.is_empty() {
            let _ = writeln!(out, "thousands = \"{}\"", d.thousands);
        }
        if let Some(f) = &d.date_format {
            let _ = writeln!(out, "date_format = \"{f}\"");
        }
    }
    out
}

/// `[tables.sales]`, and clients and managers from the same file, for the sales file.
fn sales_tables(a: &Analysed) -> String {
    let mut out = String::new();
    let name = &a.name;
    let g = |wanted: &[&str], t: Option<&str>| a.g(wanted, t);

    let line = |canon: &str, src: Option<String>| match src {
        Some(s) => format!("{canon} = \"{s}\""),
        None => format!("# {canon} = \"?\""),
    };
    let _ = writeln!(
        out,
        "\n[tables.sales]\nfrom = \"{name}\"\n[tables.sales.columns]"
    );
    let mut cols = vec![
        line(
            "date",
            g(
                &["order date", "close date", "invoice date", "date"],
                Some("date"),
            ),
        ),
        line(
            "client_id",
            g(
                &["customer id", "client id", "account", "customer", "client"],
                None,
            ),
        ),
        line(
            "manager_id",
            g(
                &["manager", "sales agent", "agent", "person", "rep", "owner"],
                None,
            ),
        ),
        line(
            "product",
            g(&["product id", "product", "sku", "item"], None),
        ),
        line("category", g(&["category", "series", "group"], None)),
        line("quantity", g(&["quantity", "qty"], Some("number"))),
        line("amount", g(AMOUNT, Some("number"))),
    ];
    match (
        g(&["cost"], Some("number")),
        g(&["profit", "margin"], Some("number")),
        g(&["sales", "amount", "revenue"], Some("number")),
    ) {
        (Some(c), _, _) => cols.push(format!("cost = \"{c}\"")),
        (None, Some(p), Some(a)) => cols.push(format!("cost = {{ expr = \"[{a}] - [{p}]\" }}")),
        _ => cols.push("# cost = \"?\"  (without cost, margin equals revenue)".into()),
    }
    for c in cols {
        let _ = writeln!(out, "{c}");
    }
    let _ = writeln!(
        out,
        "\n# clients and managers can come from this file too, one row per distinct id:\n[tables.clients]\nfrom = \"{name}\"\ndistinct = \"client_id\"\n[tables.clients.columns]\n{}\n{}\n\n[tables.managers]\nfrom = \"{name}\"\ndistinct = \"manager_id\"\n[tables.managers.columns]\n{}\n{}\ntarget_bonus = {{ const = \"100000\" }}",
        line("client_id", g(&["customer id", "client id", "account", "customer", "client"], None)),
        line("name", g(&["customer name", "client name", "account", "customer", "name"], None)),
        line("manager_id", g(&["manager", "sales agent", "agent", "person", "rep", "owner"], None)),
        line("name", g(&["manager", "sales agent", "agent", "person", "rep", "owner"], None)),
    );
    out
}

/// A lookup section for a file that is not the sales: how a table's column reads it.
fn lookup_hint(a: &Analysed, sales: Option<&Analysed>) -> String {
    let shared = sales.and_then(|s| {
        a.header
            .iter()
            .find(|h| s.header.iter().any(|c| c.eq_ignore_ascii_case(h)))
    });
    let on = shared.or(a.header.first()).cloned().unwrap_or_default();
    let take = a
        .header
        .iter()
        .find(|h| **h != on)
        .cloned()
        .unwrap_or_else(|| on.clone());
    let matched = sales
        .and_then(|s| {
            s.header
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&on))
                .cloned()
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "\n# {} is a lookup file (no dates and amounts): a column of a table reads it, e.g.\n# manager_id = {{ lookup = \"{}\", match = \"{matched}\", on = \"{on}\", take = \"{take}\" }}\n",
        a.file_name, a.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_european_export() {
        let text = "Row;Order Date;Sales\n1;08/11/2020;261,96\n2;25/12/2021;1\u{a0}022,5\n";
        assert_eq!(detect_delimiter(text), ';');
        let cells = ["08/11/2020", "261,96", "25/12/2021", "1\u{a0}022,5"];
        assert_eq!(detect_numbers(&cells), (',', "nbsp".to_string()));
        assert_eq!(detect_date(&cells).as_deref(), Some("DD/MM/YYYY"));
        assert_eq!(
            detect_date(&["12/31/2020", "01/02/2021"]).as_deref(),
            Some("MM/DD/YYYY")
        );
        assert_eq!(detect_encoding(b"H\xe4berlin;x").0, "windows-1252");
    }
}
