//! Reading a small CSV table by column name, with typed field accessors whose errors name
//! file, line and column.

use super::source::{DataSource, HashingReader, InputFile};
use super::LoadError;
use crate::money::parse_decimal;
use crate::period::Date;
use csv::ByteRecord;
use rust_decimal::Decimal;
use std::io::Read;

/// Strips ASCII whitespace at both ends.
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Shows raw bytes in a message: lossy UTF-8, shortened when long.
pub(crate) fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Parses the header record: UTF-8, trimmed, BOM removed, no empty or duplicate names.
pub(crate) fn parse_header(file: &str, rec: &ByteRecord) -> Result<Vec<String>, LoadError> {
    let mut names: Vec<String> = Vec::with_capacity(rec.len());
    for (i, raw) in rec.iter().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let name = std::str::from_utf8(trim(raw))
            .map_err(|_| {
                LoadError::at(
                    file,
                    1,
                    format!("header column {}: {}", i + 1, not_utf8(raw)),
                )
            })?
            .to_string();
        if name.is_empty() {
            return Err(LoadError::at(
                file,
                1,
                format!("header column {} has no name", i + 1),
            ));
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            return Err(LoadError::at(
                file,
                1,
                format!("column '{name}' appears twice in the header"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// Index of `name` in `header` (ASCII case-insensitive).
pub(crate) fn find_column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h.eq_ignore_ascii_case(name))
}

/// A missing required column: the error lists the columns that exist.
pub(crate) fn missing_column(file: &str, name: &str, header: &[String]) -> LoadError {
    LoadError::at(
        file,
        1,
        format!(
            "required column '{name}' is missing; the header has: {}",
            header.join(", ")
        ),
    )
}

/// A small table being read record by record (the file is read into memory first; the
/// small tables are small).
pub(crate) struct TableReader {
    pub(crate) file: String,
    name: String,
    data: Vec<u8>,
    sha256: String,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    lines: LineCounter,
    pub(crate) header: Vec<String>,
    rows: u64,
}

impl TableReader {
    /// Opens `name` from `source`; `Ok(None)` when the file does not exist.
    pub(crate) fn open(
        source: &DataSource,
        name: &str,
        max_field: usize,
    ) -> Result<Option<TableReader>, LoadError> {
        let file = source.display(name);
        let Some(input) = source.open(name)? else {
            return Ok(None);
        };
        let mut hashing = HashingReader::new(input);
        let mut data = Vec::new();
        hashing
            .read_to_end(&mut data)
            .map_err(|e| LoadError::file(&file, format!("cannot read: {e}")))?;
        let (sha256, _) = hashing
            .finish()
            .map_err(|e| LoadError::file(&file, format!("cannot read: {e}")))?;
        check_line_ends(&file, &data)?;
        check_fields(&file, &data, b',', b'"', max_field)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::Cursor::new(data.clone()));
        let mut rec = ByteRecord::new();
        let got = reader
            .read_byte_record(&mut rec)
            .map_err(|e| LoadError::at(&file, 1, format!("cannot read the header: {e}")))?;
        if !got {
            return Err(LoadError::file(
                &file,
                "the file is empty; expected a header row",
            ));
        }
        let header = parse_header(&file, &rec)?;
        Ok(Some(TableReader {
            file,
            name: name.to_string(),
            data,
            sha256,
            reader,
            lines: LineCounter::default(),
            header,
            rows: 0,
        }))
    }

    /// Index of a required column, or an error listing the columns that exist.
    pub(crate) fn require(&self, column: &str) -> Result<usize, LoadError> {
        find_column(&self.header, column)
            .ok_or_else(|| missing_column(&self.file, column, &self.header))
    }

    /// Index of an optional column.
    pub(crate) fn optional(&self, column: &str) -> Option<usize> {
        find_column(&self.header, column)
    }

    /// Reads the next record; checks it has as many fields as the header.
    pub(crate) fn next_row<'a>(
        &'a mut self,
        rec: &'a mut ByteRecord,
    ) -> Result<Option<Row<'a>>, LoadError> {
        let got = self.reader.read_byte_record(rec).map_err(|e| {
            let byte = e.position().map(|p| p.byte() as usize).unwrap_or(0);
            let line = LineCounter::default().line_at(&self.data, byte);
            LoadError::at(&self.file, line, format!("cannot read the record: {e}"))
        })?;
        if !got {
            return Ok(None);
        }
        let byte = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
        let line = self.lines.line_at(&self.data, byte);
        check_width(&self.file, line, rec, self.header.len())?;
        self.rows += 1;
        Ok(Some(Row {
            file: &self.file,
            line,
            rec,
            header: &self.header,
        }))
    }

    /// Finishes the file: its hash and row count for `run.json`.
    pub(crate) fn finish(self) -> Result<InputFile, LoadError> {
        Ok(InputFile {
            name: self.name,
            sha256: self.sha256,
            rows: self.rows,
            bytes: self.data.len() as u64,
        })
    }
}

/// A ragged row is an error: the message says how many fields were found and expected.
pub(crate) fn check_width(
    file: &str,
    line: u64,
    rec: &ByteRecord,
    expected: usize,
) -> Result<(), LoadError> {
    if rec.len() != expected {
        return Err(width_error(file, line, rec.len(), expected));
    }
    Ok(())
}

/// A record with `found` fields where the header has `expected`.
pub(crate) fn width_error(file: &str, line: u64, found: usize, expected: usize) -> LoadError {
    LoadError::at(
        file,
        line,
        format!(
            "the row has {found} field(s) but the header has {expected}; a missing or extra delimiter, or an unquoted delimiter inside a value?"
        ),
    )
}

/// One record of a table, with typed accessors.
pub(crate) struct Row<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u64,
    rec: &'a ByteRecord,
    header: &'a [String],
}

impl Row<'_> {
    fn raw(&self, col: usize) -> &[u8] {
        trim(self.rec.get(col).unwrap_or_default())
    }

    fn err(&self, col: usize, message: String) -> LoadError {
        LoadError::field(self.file, self.line, &self.header[col], message)
    }

    /// The field as text (may be empty).
    pub(crate) fn text(&self, col: usize) -> Result<&str, LoadError> {
        std::str::from_utf8(self.raw(col)).map_err(|_| self.err(col, not_utf8(self.raw(col))))
    }

    /// A non-empty text field (an id or a name).
    pub(crate) fn required_text(&self, col: usize) -> Result<&str, LoadError> {
        let t = self.text(col)?;
        if t.is_empty() {
            return Err(self.err(col, "is empty; a value is required".to_string()));
        }
        Ok(t)
    }

    /// A decimal number (`1234.56`, `-10`, `0.05`).
    pub(crate) fn decimal(&self, col: usize) -> Result<Decimal, LoadError> {
        let raw = self.raw(col);
        parse_decimal(raw).ok_or_else(|| {
            self.err(
                col,
                format!("found '{}', expected a decimal number like 1234.56 (a '.' for decimals, no thousands separators)", shown(raw)),
            )
        })
    }

    /// A decimal, or `None` when empty.
    pub(crate) fn optional_decimal(&self, col: usize) -> Result<Option<Decimal>, LoadError> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.decimal(col).map(Some)
        }
    }

    /// An ISO date `YYYY-MM-DD`.
    pub(crate) fn date(&self, col: usize) -> Result<Date, LoadError> {
        let raw = self.raw(col);
        Date::parse_iso_bytes(raw).ok_or_else(|| {
            self.err(
                col,
                format!(
                    "found '{}', expected a date as YYYY-MM-DD, e.g. 2026-07-31",
                    shown(raw)
                ),
            )
        })
    }

    /// An ISO date, or `None` when empty.
    pub(crate) fn optional_date(&self, col: usize) -> Result<Option<Date>, LoadError> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.date(col).map(Some)
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`; any case); empty is `false`.
    pub(crate) fn flag(&self, col: usize) -> Result<bool, LoadError> {
        let raw = self.raw(col);
        match parse_flag(raw) {
            Some(v) => Ok(v),
            None => Err(self.err(
                col,
                format!("found '{}', expected true or false", shown(raw)),
            )),
        }
    }

    /// A field error at this row, for checks made by the caller.
    pub(crate) fn error(&self, col: usize, message: impl Into<String>) -> LoadError {
        self.err(col, message.into())
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no` in any case; empty is `false`.
pub(crate) fn parse_flag(raw: &[u8]) -> Option<bool> {
    let lower = raw.to_ascii_lowercase();
    match lower.as_slice() {
        b"true" | b"1" | b"yes" => Some(true),
        b"false" | b"0" | b"no" | b"" => Some(false),
        _ => None,
    }
}

/// The largest field a CSV input may hold unless the run says otherwise
/// (`bonusrun run --max-field-bytes`): 1 MiB.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 1 << 20;

/// The message for a field that is not valid UTF-8, with the likely cause.
pub(crate) fn not_utf8(raw: &[u8]) -> String {
    format!(
        "'{}' is not valid UTF-8; is the file in another encoding (windows-1251, windows-1252)? Save it as UTF-8, or read it through a data.toml mapping that says `encoding = \"windows-1251\"` (docs/real-exports.md)",
        shown(raw)
    )
}

/// A file whose lines end with a bare CR (classic Mac) reads as one long line: say so
/// rather than report a missing header column or no rows.
pub(crate) fn check_line_ends(file: &str, bytes: &[u8]) -> Result<(), LoadError> {
    if memchr::memchr(b'\r', bytes).is_some() && memchr::memchr(b'\n', bytes).is_none() {
        let cr = memchr::memchr_iter(b'\r', bytes).count();
        if cr > 1 || !bytes.ends_with(b"\r") {
            return Err(LoadError::file(
                file,
                "its lines end with a bare CR (classic Mac line ends), so it reads as one line; save it with LF or CRLF line ends",
            ));
        }
    }
    Ok(())
}

/// Why a CSV text cannot be read safely: a quoted field that never closes, or a field
/// longer than the limit. Both name the line where the field began.
pub(crate) fn field_error(file: &str, line: u64, unclosed: bool, max_field: usize) -> LoadError {
    LoadError::at(
        file,
        line,
        if unclosed {
            "a quoted field opens on this line and is never closed (the file ends inside it); close the quote, or remove the stray '\"'".to_string()
        } else {
            format!(
                "a field starting on this line is longer than {max_field} bytes, the limit (--max-field-bytes); an unclosed quote swallowing the lines after it?"
            )
        },
    )
}

/// Scans a whole CSV text the way the csv crate reads quotes (a quote opens a field only at
/// its start; inside one, a doubled quote is a quote) and fails on a quoted field that never
/// closes or a field longer than `max_field` bytes. Without this check a stray quote makes
/// the parser swallow the rest of the file into one field, silently.
pub(crate) fn check_fields(
    file: &str,
    bytes: &[u8],
    delimiter: u8,
    quote: u8,
    max_field: usize,
) -> Result<(), LoadError> {
    let mut line: u64 = 1;
    let mut field_start = 0usize;
    let mut field_line = 1u64;
    let mut i = 0usize;
    let too_long = |start: usize, end: usize| end - start > max_field;
    while i < bytes.len() {
        if bytes[i] == quote && i == field_start {
            // A quoted field: find its closing quote.
            let open_line = line;
            let mut j = i + 1;
            loop {
                let Some(off) = memchr::memchr2(quote, b'\n', &bytes[j..]) else {
                    return Err(field_error(file, open_line, true, max_field));
                };
                let k = j + off;
                if bytes[k] == b'\n' {
                    line += 1;
                    j = k + 1;
                } else if bytes.get(k + 1) == Some(&quote) {
                    j = k + 2;
                } else {
                    i = k + 1;
                    break;
                }
                if too_long(field_start, j) {
                    return Err(field_error(file, open_line, false, max_field));
                }
            }
            if too_long(field_start, i) {
                return Err(field_error(file, open_line, false, max_field));
            }
            continue;
        }
        match memchr::memchr3(delimiter, b'\n', quote, &bytes[i..]) {
            None => {
                i = bytes.len();
            }
            Some(off) => {
                let k = i + off;
                if too_long(field_start, k) {
                    return Err(field_error(file, field_line, false, max_field));
                }
                if bytes[k] == quote {
                    // A quote inside an unquoted field is a character.
                    i = k + 1;
                    continue;
                }
                if bytes[k] == b'\n' {
                    line += 1;
                }
                i = k + 1;
                field_start = i;
                field_line = line;
                continue;
            }
        }
    }
    if too_long(field_start, bytes.len()) {
        return Err(field_error(file, field_line, false, max_field));
    }
    Ok(())
}

/// Line numbers from byte offsets. The csv crate miscounts lines in files with CRLF line
/// ends (a CR LF pair is counted as two breaks, and not where it is), so lines are counted
/// here from the record's byte offset, incrementally.
#[derive(Default)]
pub(crate) struct LineCounter {
    byte: usize,
    line: u64,
}

impl LineCounter {
    /// The 1-based line of the record the csv crate says starts at `byte` in `buf` (offsets
    /// must not decrease). After a CR LF pair the crate points at the LF, which belongs to
    /// the line before, so an LF at `byte` itself is counted.
    pub(crate) fn line_at(&mut self, buf: &[u8], byte: usize) -> u64 {
        let mut end = byte.min(buf.len());
        if end < buf.len() && buf[end] == b'\n' {
            end += 1;
        }
        if end < self.byte {
            self.byte = 0;
            self.line = 0;
        }
        self.line += memchr::memchr_iter(b'\n', &buf[self.byte..end]).count() as u64;
        self.byte = end;
        self.line + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_quotes_and_long_fields_name_their_line() {
        let check = |text: &str, max: usize| {
            check_fields("t.csv", text.as_bytes(), b',', b'"', max).map_err(|e| e.to_string())
        };
        assert_eq!(
            check("a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"\n", 100),
            Ok(())
        );
        assert_eq!(check("a,b\n1,12\" pipe\n", 100), Ok(()));
        let err = check("a,b\n1,2\n3,\"oops\n4,5\n", 100).unwrap_err();
        assert!(
            err.starts_with("t.csv:3: a quoted field opens on this line and is never closed"),
            "{err}"
        );
        let err = check("a,b\n1,2\n3,xxxxxxxxxxxx\n", 10).unwrap_err();
        assert!(
            err.starts_with("t.csv:3: a field starting on this line is longer than 10 bytes"),
            "{err}"
        );
        let err = check("a,b\n1,\"xxxx\nxxxxxxxxxx\"\n", 10).unwrap_err();
        assert!(err.starts_with("t.csv:2: a field starting"), "{err}");
        assert!(check_line_ends("t.csv", b"a,b\r1,2\r").is_err());
        assert!(check_line_ends("t.csv", b"a,b\r\n1,2\r\n").is_ok());
        assert!(check_line_ends("t.csv", b"a,b\r").is_ok());
    }

    #[test]
    fn lines_of_lf_and_crlf_records() {
        for text in [&b"h1,h2\na,b\nc,d\n"[..], b"h1,h2\r\na,b\r\nc,d\r\n"] {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(text);
            let mut counter = LineCounter::default();
            let mut rec = ByteRecord::new();
            let mut lines = Vec::new();
            while rdr.read_byte_record(&mut rec).unwrap() {
                lines.push(counter.line_at(text, rec.position().unwrap().byte() as usize));
            }
            assert_eq!(lines, vec![1, 2, 3], "{:?}", String::from_utf8_lossy(text));
        }
    }
}
