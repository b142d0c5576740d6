//! Streaming `sales.csv`: the workers take turns reading the next block of the file, cut at
//! a record boundary (never inside a quoted field) and hashed in file order, then parse their
//! blocks in parallel. There is no reader thread: `--threads 1` runs on one thread, and a
//! second worker reads while the first parses.
//!
//! Memory stays flat whatever the file size: one block per worker is in flight at once.
//! Line numbers are exact, so a bad value on line 7,340,112 is reported as such.
//!
//! A data directory may hold `sales.parquet` instead ([`super::parquet`]): the workers then
//! take turns at its row groups, and each row goes through the same record reader.

use super::parquet::{ParquetSales, SALES_PARQUET};
use super::source::DataSource;
use super::text::{
    find_column, missing_column, parse_header, shown, trim, width_error, LineCounter,
};
use super::{IdMap, LoadError};
use crate::money::parse_decimal;
use crate::period::Date;
use csv::ByteRecord;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The file name of the sales table.
pub const SALES_FILE: &str = "sales.csv";

const BLOCK_SIZE: usize = 1 << 20;

/// Column positions of `sales.csv`.
#[derive(Clone, Debug)]
pub struct SalesColumns {
    date: usize,
    client: usize,
    /// Optional with `owners.csv`: a line without a manager goes to the client's owner.
    manager: Option<usize>,
    product: Option<usize>,
    category: Option<usize>,
    quantity: Option<usize>,
    amount: usize,
    cost: Option<usize>,
    /// The line's currency, when not the pack's.
    currency: Option<usize>,
    width: usize,
    header: Vec<String>,
    /// The largest field, in bytes.
    max_field: usize,
    /// Columns the pack's measures read besides the standard fields: position, and whether
    /// a measure compares it as a number.
    extra: Vec<(usize, bool)>,
    /// The Parquet file the rows come from, when the sales are `sales.parquet`.
    parquet: Option<Arc<ParquetSales>>,
}

/// At most this many columns, besides product, category, quantity, amount and cost, feed the
/// pack's measures.
pub const MAX_EXTRA: usize = 4;

impl SalesColumns {
    /// Whether the file has a `cost` column (without it, margin equals revenue).
    pub fn has_cost(&self) -> bool {
        self.cost.is_some()
    }

    /// Whether the file has a `currency` column.
    pub fn has_currency(&self) -> bool {
        self.currency.is_some()
    }

    /// Whether the file has a `manager_id` column.
    pub fn has_manager(&self) -> bool {
        self.manager.is_some()
    }

    /// Without a `manager_id` column every line goes to its client's owner, which needs
    /// `owners.csv`.
    pub fn check_manager(&self, file: &str, has_owners: bool) -> Result<(), LoadError> {
        if self.manager.is_some() || has_owners {
            return Ok(());
        }
        let mut e = missing_column(file, "manager_id", &self.header);
        e.message
            .push_str(" (it may be left out when an owners.csv says who owns each client when)");
        Err(e)
    }

    /// Position of the `date` column.
    pub fn date(&self) -> usize {
        self.date
    }

    /// The header as read.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Has every line carry column `name` (case-insensitive) in a slot of
    /// [`SaleLine::extra`], and its number in [`SaleLine::extra_number`] when `numeric` (a
    /// field that is not a number is then an error naming its line). Returns the slot, or
    /// `None` when the file has no such column.
    pub fn read_extra(&mut self, name: &str, numeric: bool) -> Option<Result<usize, String>> {
        let c = find_column(&self.header, name)?;
        if let Some(slot) = self.extra.iter().position(|(e, _)| *e == c) {
            self.extra[slot].1 |= numeric;
            return Some(Ok(slot));
        }
        if self.extra.len() == MAX_EXTRA {
            return Some(Err(format!(
                "the measures read more than {MAX_EXTRA} columns besides product, category, quantity, amount and cost"
            )));
        }
        self.extra.push((c, numeric));
        Some(Ok(self.extra.len() - 1))
    }
}

/// A run of whole records from the file.
pub struct Block {
    /// The bytes: whole records, each ending with a newline except perhaps the last one.
    pub bytes: Vec<u8>,
    /// Line number of the block's first line.
    pub first_line: u64,
    /// For `sales.parquet`: the row group to read (the bytes are then empty).
    pub row_group: Option<usize>,
}

/// A sales file being streamed: its columns, and the reading state the workers share.
pub struct SalesStream {
    /// The file as shown in messages.
    pub file: String,
    /// Column positions.
    pub columns: SalesColumns,
    state: std::sync::Mutex<ReadState>,
}

/// Where reading stands: the bytes read past the last block handed out, the hash so far,
/// and the quote state of the scan for the next record end.
struct ReadState {
    input: Box<dyn Read + Send>,
    hasher: Sha256,
    total: u64,
    pending: Vec<u8>,
    /// Line number of the first line in `pending`.
    line: u64,
    in_quote: bool,
    /// Where the quoted field open at `scanned` began, when `in_quote`.
    quote_at: usize,
    scanned: usize,
    eof: bool,
    hash: bool,
    max_field: usize,
    width: usize,
}

impl SalesStream {
    /// Reads without hashing: for the benchmarks' parse-only floor, which measures reading
    /// and splitting alone. [`SalesStream::finish`] then reports an empty hash.
    pub fn without_hash(self) -> SalesStream {
        let state = self.state.into_inner().map(|mut s| {
            s.hash = false;
            s
        });
        SalesStream {
            state: std::sync::Mutex::new(state.unwrap_or_else(|e| e.into_inner())),
            ..self
        }
    }

    /// The next block of whole records, or `None` at the end of the file. `used` is a block
    /// buffer the caller is done with, reused to spare an allocation.
    pub fn next_block(&self, used: Option<Vec<u8>>) -> Result<Option<Block>, LoadError> {
        if let Some(p) = &self.columns.parquet {
            return Ok(p.next_row_group().map(|g| Block {
                bytes: used.unwrap_or_default(),
                first_line: 0,
                row_group: Some(g),
            }));
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| LoadError::file(&self.file, "a worker stopped while reading"))?;
        state.next_block(&self.file, used)
    }

    /// Reads what is left (so the hash covers the whole file): `(sha256 hex, bytes)`.
    pub fn finish(self) -> Result<(String, u64), LoadError> {
        if let Some(p) = &self.columns.parquet {
            return p.hash();
        }
        let file = self.file;
        let mut state = self
            .state
            .into_inner()
            .map_err(|_| LoadError::file(&file, "a worker stopped while reading"))?;
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            let n = match state.input.read(&mut sink) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LoadError::file(&file, format!("cannot read: {e}"))),
            };
            if n == 0 {
                break;
            }
            if state.hash {
                state.hasher.update(&sink[..n]);
            }
            state.total += n as u64;
        }
        let sha256 = if state.hash {
            super::source::hex(&state.hasher.finalize())
        } else {
            String::new()
        };
        Ok((sha256, state.total))
    }
}

impl ReadState {
    /// Appends the next bytes of the file to `pending`, hashing them.
    fn read_more(&mut self, file: &str) -> Result<(), LoadError> {
        self.eof = fill(
            &mut self.input,
            &mut self.pending,
            self.hash.then_some(&mut self.hasher),
            &mut self.total,
            file,
        )?;
        Ok(())
    }

    fn next_block(
        &mut self,
        file: &str,
        used: Option<Vec<u8>>,
    ) -> Result<Option<Block>, LoadError> {
        loop {
            while !self.eof && self.pending.len() < BLOCK_SIZE {
                self.read_more(file)?;
            }
            if self.pending.is_empty() {
                return Ok(None);
            }
            // Cut after the last newline outside quotes (or at the end of the file).
            let scan = last_record_end(&self.pending, self.scanned, self.in_quote, self.eof);
            let quote_at = match scan.quote_at {
                Some(at) => at,
                None => self.quote_at,
            };
            if self.eof && scan.in_quote {
                return Err(self.field_error(file, quote_at, true));
            }
            let cut = if self.eof {
                Some(self.pending.len())
            } else {
                scan.cut
            };
            match cut {
                Some(cut) if cut > 0 => {
                    let mut rest = used.unwrap_or_default();
                    rest.clear();
                    rest.reserve(BLOCK_SIZE * 2);
                    rest.extend_from_slice(&self.pending[cut..]);
                    self.pending.truncate(cut);
                    let bytes = std::mem::replace(&mut self.pending, rest);
                    // The cut is outside quotes: scan what stays pending afresh.
                    self.in_quote = false;
                    self.scanned = 0;
                    let first_line = self.line;
                    self.line += count_lines(&bytes);
                    return Ok(Some(Block {
                        bytes,
                        first_line,
                        row_group: None,
                    }));
                }
                _ => {
                    // One record longer than the buffer: read on, up to the field limit
                    // (a quote that never closes would otherwise take the whole file).
                    if scan.in_quote && self.pending.len() - quote_at > self.max_field {
                        return Err(self.field_error(file, quote_at, false));
                    }
                    if self.pending.len() > self.max_field.saturating_mul(self.width.max(1)) {
                        return Err(self.field_error(file, 0, false));
                    }
                    self.scanned = scan.resume;
                    self.in_quote = scan.in_quote;
                    self.quote_at = quote_at;
                    self.read_more(file)?;
                }
            }
        }
    }

    /// A quoted field that never closes, or one past the size limit, starting at byte `at`
    /// of what is pending.
    fn field_error(&self, file: &str, at: usize, unclosed: bool) -> LoadError {
        let line = self.line + count_lines(&self.pending[..at.min(self.pending.len())]);
        super::text::field_error(file, line, unclosed, self.max_field)
    }
}

/// A reader that adds the bytes it reads to a shared count.
struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One parsed sales line.
pub struct SaleLine<'a> {
    /// Invoice date.
    pub date: Date,
    /// Client index.
    pub client: u32,
    /// Manager index.
    pub manager: u32,
    /// Product code (may be empty).
    pub product: &'a str,
    /// Product category (may be empty).
    pub category: &'a str,
    /// Quantity (negative on returns).
    pub quantity: Decimal,
    /// Net revenue (negative on returns).
    pub amount: Decimal,
    /// Cost of goods (zero when the file has no cost column).
    pub cost: Decimal,
    /// The columns the pack's measures read ([`SalesColumns::read_extra`]), trimmed.
    pub extra: [&'a [u8]; MAX_EXTRA],
    /// The same as numbers, for the columns a measure compares as numbers (else 0).
    pub extra_number: [Decimal; MAX_EXTRA],
    /// The exchange rate the amount and cost were converted at ([`super::fx::Fx::rates`]
    /// index), or [`NO_RATE`].
    pub rate: u32,
}

/// [`SaleLine::rate`] of a line in the pack's currency.
pub const NO_RATE: u32 = u32::MAX;

/// Opens `sales.csv` and reads its header.
pub fn open(source: &DataSource) -> Result<SalesStream, LoadError> {
    open_with(source, super::DEFAULT_MAX_FIELD_BYTES)
}

/// [`open`] with a limit on the size of any field, in bytes: a longer field, or a quote
/// that never closes, is an error naming the line where the field began.
pub fn open_with(source: &DataSource, max_field: usize) -> Result<SalesStream, LoadError> {
    open_counted(source, max_field, None)
}

/// [`open_with`], counting the bytes read into `progress` (set to 0 first), for a progress
/// bar.
pub fn open_counted(
    source: &DataSource,
    max_field: usize,
    progress: Option<&Arc<AtomicU64>>,
) -> Result<SalesStream, LoadError> {
    let file = source.display(SALES_FILE);
    let parquet = source.local(SALES_PARQUET)?;
    let mut input = match (source.open(SALES_FILE)?, parquet) {
        (Some(_), Some(_)) => {
            return Err(LoadError::file(
                &file,
                format!("and {SALES_PARQUET} are both in the data directory; keep one, so that it is clear which sales are paid"),
            ))
        }
        (None, Some(path)) => return open_parquet(source, path, max_field),
        (Some(input), None) => input,
        (None, None) => {
            return Err(LoadError::file(
                &file,
                "the file does not exist; a data set needs sales.csv (or sales.parquet)",
            ))
        }
    };
    if let Some(count) = progress {
        count.store(0, Ordering::Relaxed);
        input = Box::new(Counted {
            inner: input,
            count: count.clone(),
        });
    }
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    // Read until the header record is complete.
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK_SIZE);
    let mut eof = false;
    let header_end = loop {
        if let Some(end) = header_end(&buf) {
            break end;
        }
        if eof {
            break buf.len();
        }
        if buf.len() > max_field.max(BLOCK_SIZE) {
            super::text::check_line_ends(&file, &buf)?;
            return Err(super::text::field_error(&file, 1, false, max_field));
        }
        eof = fill(&mut input, &mut buf, Some(&mut hasher), &mut total, &file)?;
    };
    super::text::check_line_ends(&file, &buf[..header_end])?;
    if buf.is_empty() {
        return Err(LoadError::file(
            &file,
            "the file is empty; expected a header row",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&buf[..header_end]);
    let mut rec = ByteRecord::new();
    rdr.read_byte_record(&mut rec)
        .map_err(|e| LoadError::at(&file, 1, format!("cannot read the header: {e}")))?;
    let header = parse_header(&file, &rec)?;
    let columns = SalesColumns::of(&file, &header, max_field)?;
    let header_lines = count_lines(&buf[..header_end]);
    let pending = buf.split_off(header_end);
    Ok(SalesStream {
        file,
        columns,
        state: std::sync::Mutex::new(ReadState {
            input,
            hasher,
            total,
            pending,
            line: 1 + header_lines,
            in_quote: false,
            quote_at: 0,
            scanned: 0,
            eof,
            hash: true,
            max_field,
            width: header.len(),
        }),
    })
}

/// `sales.parquet` at `path`: its metadata read, its columns found by name.
fn open_parquet(
    source: &DataSource,
    path: std::path::PathBuf,
    max_field: usize,
) -> Result<SalesStream, LoadError> {
    let file = source.display(SALES_PARQUET);
    let (sales, names) = ParquetSales::open(path, file.clone())?;
    let mut columns = SalesColumns::of(&file, &names, max_field)?;
    columns.parquet = Some(Arc::new(sales));
    Ok(SalesStream {
        file,
        columns,
        state: std::sync::Mutex::new(ReadState {
            input: Box::new(std::io::empty()),
            hasher: Sha256::new(),
            total: 0,
            pending: Vec::new(),
            line: 1,
            in_quote: false,
            quote_at: 0,
            scanned: 0,
            eof: true,
            hash: false,
            max_field,
            width: names.len(),
        }),
    })
}

impl SalesColumns {
    /// The positions of the sales columns in `header`; the required ones must be there.
    fn of(file: &str, header: &[String], max_field: usize) -> Result<SalesColumns, LoadError> {
        let req = |name: &str| {
            find_column(header, name).ok_or_else(|| missing_column(file, name, header))
        };
        Ok(SalesColumns {
            date: req("date")?,
            client: req("client_id")?,
            manager: find_column(header, "manager_id"),
            product: find_column(header, "product"),
            category: find_column(header, "category"),
            quantity: find_column(header, "quantity"),
            amount: req("amount")?,
            cost: find_column(header, "cost"),
            currency: find_column(header, "currency"),
            width: header.len(),
            header: header.to_vec(),
            max_field,
            extra: Vec::new(),
            parquet: None,
        })
    }

    /// The sales file's name in `run.json`'s inputs: `sales.csv` or `sales.parquet`.
    pub fn file_name(&self) -> &'static str {
        match self.parquet {
            Some(_) => SALES_PARQUET,
            None => SALES_FILE,
        }
    }
}

/// The latest date found in the first and last 64 KiB of `sales.csv` (for `sales.parquet`,
/// in its row groups' statistics): a cheap guess at the file's last sale, right for files
/// sorted by date either way. A wrong guess costs time, not correctness: the caller checks
/// it against the real last date after the pass.
pub fn latest_date_near_ends(source: &DataSource, columns: &SalesColumns) -> Option<Date> {
    if let Some(p) = &columns.parquet {
        return p.latest_date(columns.date);
    }
    const PEEK: usize = 64 * 1024;
    let (head, tail) = source.ends(SALES_FILE, PEEK)?;
    let date_in = |line: &[u8]| -> Option<Date> {
        let field = line.split(|&b| b == b',').nth(columns.date)?;
        let field = trim(field);
        let field = field
            .strip_prefix(b"\"")
            .and_then(|f| f.strip_suffix(b"\""))
            .unwrap_or(field);
        Date::parse_iso_bytes(field)
    };
    // The tail's first line may be cut; the head's first line is the header.
    let head_lines = head.split(|&b| b == b'\n').skip(1);
    let tail_lines = tail.split(|&b| b == b'\n').skip(1);
    head_lines.chain(tail_lines).filter_map(date_in).max()
}

/// Reads more bytes into `buf`; returns true at end of file.
fn fill(
    input: &mut Box<dyn Read + Send>,
    buf: &mut Vec<u8>,
    hasher: Option<&mut Sha256>,
    total: &mut u64,
    file: &str,
) -> Result<bool, LoadError> {
    let start = buf.len();
    buf.resize(start + BLOCK_SIZE, 0);
    let n = loop {
        match input.read(&mut buf[start..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LoadError::file(file, format!("cannot read: {e}"))),
        }
    };
    buf.truncate(start + n);
    if let Some(hasher) = hasher {
        hasher.update(&buf[start..]);
    }
    *total += n as u64;
    Ok(n == 0)
}

/// End of the header record (index after its newline), if the buffer holds all of it.
fn header_end(buf: &[u8]) -> Option<usize> {
    let mut in_quote = false;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' => in_quote = !in_quote,
            b'\n' if !in_quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// What [`last_record_end`] found.
struct Scan {
    /// The index just after the last newline outside quotes.
    cut: Option<usize>,
    /// Whether the scan ended inside a quoted field.
    in_quote: bool,
    /// Where the quoted field open at the end began, if it opened in this scan.
    quote_at: Option<usize>,
    /// Where to resume: a `"` at the very end cannot be decided before more bytes arrive.
    resume: usize,
}

/// Scans `buf[start..]` for record ends the way the CSV parser reads quotes: a `"` opens a
/// quoted field only at the start of a field, and inside one `""` is an escaped quote.
/// `in_quote` is the state at `start`. At the end of the file (`eof`) a `"` as the last byte
/// closes the field.
fn last_record_end(buf: &[u8], start: usize, mut in_quote: bool, eof: bool) -> Scan {
    if !in_quote && memchr::memchr(b'"', &buf[start..]).is_none() {
        // No quote (nearly every block of a real export): the cut is after the last newline.
        return Scan {
            cut: memchr::memrchr(b'\n', &buf[start..]).map(|p| start + p + 1),
            in_quote: false,
            quote_at: None,
            resume: buf.len(),
        };
    }
    let mut last = None;
    let mut quote_at = None;
    let mut i = start;
    while let Some(off) = memchr::memchr2(b'"', b'\n', &buf[i..]) {
        let j = i + off;
        if buf[j] == b'\n' {
            if !in_quote {
                last = Some(j + 1);
            }
            i = j + 1;
        } else if in_quote {
            match buf.get(j + 1) {
                None if eof => {
                    in_quote = false;
                    i = j + 1;
                }
                None => {
                    return Scan {
                        cut: last,
                        in_quote,
                        quote_at,
                        resume: j,
                    }
                }
                Some(b'"') => i = j + 2,
                Some(_) => {
                    in_quote = false;
                    i = j + 1;
                }
            }
        } else {
            if j == 0 || matches!(buf[j - 1], b',' | b'\n' | b'\r') {
                in_quote = true;
                quote_at = Some(j);
            }
            i = j + 1;
        }
    }
    Scan {
        cut: last,
        in_quote,
        quote_at: quote_at.filter(|_| in_quote),
        resume: buf.len(),
    }
}

fn count_lines(buf: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', buf).count() as u64
}

/// Parses every record of `block`, calling `each` for each line; returns the record count.
/// Stops at the first bad record of the block.
///
/// Lines without quotes (nearly all of them in real exports) are split at commas directly;
/// from the first line with a quote (or a bare CR) on, the rest of the block goes through the
/// CSV parser, which handles quoted fields and newlines inside them. Both read the same.
pub fn parse_block(
    block: &Block,
    file: &str,
    columns: &SalesColumns,
    ids: &LineIds<'_>,
    mut each: impl FnMut(&SaleLine<'_>),
) -> Result<u64, LoadError> {
    let reader = RecordReader::new(file, columns, ids);
    if let (Some(g), Some(p)) = (block.row_group, &columns.parquet) {
        let typed_roles = typed_roles(columns);
        let roles = columns.roles(ids);
        return p.read_row_group(g, &typed_roles, roles.as_ref(), |cells, row| {
            match cells {
                RowCells::Known(sale) => each(&sale),
                RowCells::Cells { field, n, typed } => {
                    if let Some(sale) = reader.record(field, n, || row, typed)? {
                        each(&sale);
                    }
                }
            }
            Ok(())
        });
    }
    let bytes = &block.bytes[..];
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(columns.width + 1);
    let mut rows = 0u64;
    let mut pos = 0usize;
    while pos < bytes.len() {
        // One pass over the line: commas, its end, and the first quote or CR if any.
        ranges.clear();
        let mut start = pos;
        let mut special = usize::MAX;
        let (mut i, found) = split_plain(bytes, pos, &mut start, &mut ranges);
        while !found && i < bytes.len() {
            match bytes[i] {
                b',' => {
                    ranges.push((start - pos, i - pos));
                    start = i + 1;
                }
                b'\n' => break,
                b'"' | b'\r' if special == usize::MAX => special = i,
                _ => {}
            }
            i += 1;
        }
        let line_end = i;
        let content_end = if line_end > start && bytes[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        if special < content_end {
            // A quoted field (or a bare CR): the CSV parser reads the rest of the block.
            let first_line = block.first_line + count_lines(&bytes[..pos]);
            let more = parse_with_csv(&bytes[pos..], first_line, &reader, &mut each)?;
            return Ok(rows + more);
        }
        let content = &bytes[pos..content_end];
        ranges.push((start - pos, content.len()));
        // The line number is only needed for a message: count newlines up to the record
        // then, not for every record.
        let line = || block.first_line + count_lines(&bytes[..pos]);
        let field = |i: usize| {
            let (a, b) = ranges[i];
            &content[a..b]
        };
        if let Some(sale) = reader.record(field, ranges.len(), line, &Untyped)? {
            each(&sale);
            rows += 1;
        }
        pos = line_end + 1;
    }
    Ok(rows)
}

/// Which columns the record reader reads only as typed values when it can (the date, amount,
/// cost and quantity, unless a measure also reads one as an extra column): their text is
/// then not written out.
fn typed_roles(columns: &SalesColumns) -> Vec<bool> {
    let mut roles = vec![false; columns.width];
    let typed = [
        Some(columns.date),
        Some(columns.amount),
        columns.cost,
        columns.quantity,
    ];
    for c in typed.into_iter().flatten() {
        roles[c] = true;
    }
    for &(c, _) in &columns.extra {
        roles[c] = false;
    }
    roles
}

/// The bytes of `w` equal to `b`, as the high bit of each byte (exact: no false positives).
#[inline]
fn bytes_equal(w: u64, b: u8) -> u64 {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (0x0101_0101_0101_0101 * u64::from(b));
    !(((x & LOW) + LOW) | x) & !LOW
}

/// Splits the line from `pos` at commas eight bytes at a time (pushing each field's range,
/// relative to `pos`, and moving `start` past each comma), up to its newline or the first
/// eight bytes holding a quote or a CR. Returns where it stopped and whether that is the
/// line's newline; otherwise the byte loop goes on from there.
#[inline]
fn split_plain(
    bytes: &[u8],
    pos: usize,
    start: &mut usize,
    ranges: &mut Vec<(usize, usize)>,
) -> (usize, bool) {
    let mut i = pos;
    while let Some(word) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if bytes_equal(w, b'"') | bytes_equal(w, b'\r') != 0 {
            return (i, false);
        }
        let newline = bytes_equal(w, b'\n');
        let mut commas = bytes_equal(w, b',');
        if newline != 0 {
            // Only the commas before the first newline.
            commas &= (newline & newline.wrapping_neg()) - 1;
        }
        while commas != 0 {
            let at = i + (commas.trailing_zeros() / 8) as usize;
            ranges.push((*start - pos, at - pos));
            *start = at + 1;
            commas &= commas - 1;
        }
        if newline != 0 {
            return (i + (newline.trailing_zeros() / 8) as usize, true);
        }
        i += 8;
    }
    (i, false)
}

/// Parses `bytes` (whole records, the first on line `first_line`) with the CSV parser.
fn parse_with_csv(
    bytes: &[u8],
    first_line: u64,
    reader: &RecordReader<'_>,
    each: &mut impl FnMut(&SaleLine<'_>),
) -> Result<u64, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = ByteRecord::new();
    let mut rows = 0u64;
    loop {
        let got = rdr.read_byte_record(&mut rec).map_err(|e| {
            let byte = e.position().map(|p| p.byte() as usize).unwrap_or(0);
            let line = LineCounter::default().line_at(bytes, byte);
            LoadError::at(
                reader.file,
                first_line + line - 1,
                format!("cannot read the record: {e}"),
            )
        })?;
        if !got {
            break;
        }
        let line = || {
            let byte = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
            first_line + LineCounter::default().line_at(bytes, byte) - 1
        };
        if let Some(sale) = reader.record(|i| &rec[i], rec.len(), line, &Untyped)? {
            each(&sale);
            rows += 1;
        }
    }
    Ok(rows)
}

/// The columns a sales line is made of, for a typed file whose rows may be read from typed
/// values alone ([`RowCells::Known`]): only when the line has a manager column, and neither a
/// currency nor a measure's extra column.
pub struct Roles<'a> {
    pub date: usize,
    pub client: usize,
    pub manager: usize,
    pub product: Option<usize>,
    pub category: Option<usize>,
    pub quantity: Option<usize>,
    pub amount: usize,
    pub cost: Option<usize>,
    /// The largest field, in bytes (`--max-field-bytes`).
    pub max_field: usize,
    pub clients: &'a IdMap,
    pub managers: &'a IdMap,
}

impl SalesColumns {
    /// The [`Roles`] of these columns, or `None` when a row needs the record reader.
    fn roles<'a>(&self, ids: &LineIds<'a>) -> Option<Roles<'a>> {
        if !self.extra.is_empty() || self.currency.is_some() {
            return None;
        }
        Some(Roles {
            date: self.date,
            client: self.client,
            manager: self.manager?,
            product: self.product,
            category: self.category,
            quantity: self.quantity,
            amount: self.amount,
            cost: self.cost,
            max_field: self.max_field,
            clients: ids.clients,
            managers: ids.managers,
        })
    }
}

/// One row of a typed file, as the reader gives it: a sales line already read from typed
/// values alone, with every check the record reader makes holding for it (its date, known
/// ids, exact numbers, no field past the size limit); or cells for the record reader, which
/// reads any other row and gives its message.
pub enum RowCells<'c> {
    Known(SaleLine<'c>),
    Cells {
        /// Field `i`'s text, untrimmed.
        field: &'c dyn Fn(usize) -> &'c [u8],
        /// The number of fields.
        n: usize,
        typed: &'c dyn Typed,
    },
}

/// A record's cells as typed values, where the file has types (Parquet): dates and exact
/// numbers are taken as they are rather than written as text and parsed again, and an id
/// column that repeats a dictionary's values is looked up once per value. Every getter may
/// decline, and the record is then read from its text as a CSV line is.
pub trait Typed {
    /// The date in column `c`.
    fn date(&self, _c: usize) -> Option<Date> {
        None
    }
    /// The exact number in column `c`.
    fn decimal(&self, _c: usize) -> Option<Decimal> {
        None
    }
    /// The id of column `c`, whose (trimmed) text is `text`, in `map`.
    fn id(&self, _c: usize, map: &IdMap, text: &[u8]) -> Option<u32> {
        map.get(text)
    }
}

/// A CSV record: text only.
struct Untyped;

impl Typed for Untyped {}

/// How a line's ids become indices: the client and manager ids, and who owns each client
/// when (`owners.csv`), for lines that name no manager.
pub struct LineIds<'a> {
    /// client_id → index.
    pub clients: &'a IdMap,
    /// manager_id → index.
    pub managers: &'a IdMap,
    /// The data set, for owners.
    pub data: &'a super::Dataset,
    /// The converter into the pack's currency, for a file with a `currency` column.
    pub fx: Option<&'a super::fx::Fx>,
}

/// Turns the fields of one record into a [`SaleLine`], or a located error.
struct RecordReader<'a> {
    file: &'a str,
    columns: &'a SalesColumns,
    ids: &'a LineIds<'a>,
    /// The last date field read and its date: exports run in date order, so most lines
    /// repeat the line before's date, and comparing 10 bytes is cheaper than a calendar.
    last_date: std::cell::Cell<([u8; 10], Option<Date>)>,
}

impl<'a> RecordReader<'a> {
    fn new(file: &'a str, columns: &'a SalesColumns, ids: &'a LineIds<'a>) -> RecordReader<'a> {
        RecordReader {
            file,
            columns,
            ids,
            last_date: std::cell::Cell::new(([0; 10], None)),
        }
    }

    /// The date of a date field, through the one-entry cache.
    #[inline]
    fn date(&self, b: &[u8]) -> Option<Date> {
        let (bytes, date) = self.last_date.get();
        if date.is_some() && b == bytes {
            return date;
        }
        let date = Date::parse_iso_bytes(b)?;
        if let Ok(bytes) = <[u8; 10]>::try_from(b) {
            self.last_date.set((bytes, Some(date)));
        }
        Some(date)
    }
    /// Why a line without a manager cannot be credited.
    #[cold]
    fn no_owner(&self, client: u32, date: Date) -> String {
        let data = self.ids.data;
        let id = &data.clients[client as usize].id;
        match data.owners.get(&client) {
            Some(h) => format!(
                "the line names no manager, and {} gives client '{id}' no owner on {date} (its history runs from {}{})",
                data.owners_file,
                h[0].from,
                h.last()
                    .and_then(|o| o.until)
                    .map(|u| format!(" to {}", u.add_days(-1)))
                    .unwrap_or_default()
            ),
            None => format!(
                "the line names no manager; give its manager_id, or an owners.csv that says who owns client '{id}' on each date"
            ),
        }
    }

    /// The sale on one record of `n` fields (`field(i)` is field `i`, untrimmed), or `None`
    /// for a blank line. `line` gives the record's line number, for messages.
    #[inline]
    fn record<'r>(
        &self,
        field: impl Fn(usize) -> &'r [u8],
        n: usize,
        line: impl Fn() -> u64,
        typed: &dyn Typed,
    ) -> Result<Option<SaleLine<'r>>, LoadError> {
        let (file, columns) = (self.file, self.columns);
        if n == 1 && trim(field(0)).is_empty() {
            return Ok(None); // a blank line
        }
        if n != columns.width {
            return Err(width_error(file, line(), n, columns.width));
        }
        if let Some(c) = (0..n).find(|&c| field(c).len() > columns.max_field) {
            return Err(LoadError::field(
                file,
                line(),
                &columns.header[c],
                format!(
                    "the field is longer than {} bytes, the limit (--max-field-bytes)",
                    columns.max_field
                ),
            ));
        }
        let col_err =
            |c: usize, msg: String| LoadError::field(file, line(), &columns.header[c], msg);
        let field = |c: usize| trim(field(c));
        let text = |c: usize| -> Result<&'r str, LoadError> {
            std::str::from_utf8(field(c)).map_err(|_| col_err(c, super::text::not_utf8(field(c))))
        };
        let number = |c: usize| -> Result<Decimal, LoadError> {
            if let Some(d) = typed.decimal(c) {
                return Ok(d);
            }
            parse_decimal(field(c)).ok_or_else(|| {
                col_err(
                    c,
                    format!(
                        "found '{}', expected a decimal number like 1234.56 (a '.' for decimals, no thousands separators)",
                        shown(field(c))
                    ),
                )
            })
        };
        let date = typed.date(columns.date);
        let date = date
            .or_else(|| self.date(field(columns.date)))
            .ok_or_else(|| {
                col_err(
                    columns.date,
                    format!(
                        "found '{}', expected a date as YYYY-MM-DD, e.g. 2026-07-31",
                        shown(field(columns.date))
                    ),
                )
            })?;
        // Ids are looked up as bytes; only an unknown one is decoded, for the message.
        let client = match typed.id(columns.client, self.ids.clients, field(columns.client)) {
            Some(c) => c,
            None => {
                let client_id = text(columns.client)?;
                return Err(col_err(
                    columns.client,
                    format!("unknown client_id '{client_id}'; it is not in clients.csv"),
                ));
            }
        };
        let named = columns.manager.map(field).unwrap_or_default();
        let found = match columns.manager {
            Some(c) => typed.id(c, self.ids.managers, named),
            None => self.ids.managers.get(named),
        };
        let manager = match found {
            Some(m) => m,
            None if named.is_empty() => self.ids.data.owner_on(client, date).ok_or_else(|| {
                let c = columns.manager.unwrap_or(columns.client);
                col_err(c, self.no_owner(client, date))
            })?,
            None => {
                let c = columns.manager.unwrap_or(columns.client);
                let manager_id = text(c)?;
                return Err(col_err(
                    c,
                    format!("unknown manager_id '{manager_id}'; it is not in managers.csv"),
                ));
            }
        };
        let mut extra: [&'r [u8]; MAX_EXTRA] = [&[]; MAX_EXTRA];
        let mut extra_number = [Decimal::ZERO; MAX_EXTRA];
        for (slot, &(c, numeric)) in columns.extra.iter().enumerate() {
            extra[slot] = field(c);
            if numeric && !field(c).is_empty() {
                extra_number[slot] = number(c)?;
            }
        }
        let mut amount = number(columns.amount)?;
        let mut cost = match columns.cost {
            Some(c) => number(c)?,
            None => Decimal::ZERO,
        };
        let mut rate = NO_RATE;
        if let (Some(c), Some(fx)) = (columns.currency, self.ids.fx) {
            let code = field(c);
            if !code.is_empty() && code != fx.target().as_bytes() {
                let (r, id) = fx.rate(code, date).map_err(|m| col_err(c, m))?;
                let times = |d: Decimal, what: usize| {
                    crate::money::exact_product(d, r).ok_or_else(|| {
                        col_err(
                            what,
                            format!("{d} at the rate {r} has more than 28 digits, the most a decimal holds"),
                        )
                    })
                };
                amount = times(amount, columns.amount)?;
                cost = times(cost, columns.cost.unwrap_or(columns.amount))?;
                rate = id;
            }
        }
        Ok(Some(SaleLine {
            rate,
            extra,
            extra_number,
            date,
            client,
            manager,
            product: match columns.product {
                Some(c) => text(c)?,
                None => "",
            },
            category: match columns.category {
                Some(c) => text(c)?,
                None => "",
            },
            quantity: match columns.quantity {
                Some(c) if typed.decimal(c).is_some() || !field(c).is_empty() => number(c)?,
                _ => Decimal::ZERO,
            },
            amount,
            cost,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> SalesColumns {
        let header: Vec<String> = "date,client_id,manager_id,product,category,quantity,amount,cost"
            .split(',')
            .map(String::from)
            .collect();
        SalesColumns::of("sales.csv", &header, 1 << 20).unwrap()
    }

    fn parse(text: &str, first_line: u64) -> Result<Vec<String>, String> {
        let block = Block {
            bytes: text.as_bytes().to_vec(),
            first_line,
            row_group: None,
        };
        let clients: IdMap = [("C1", 0), ("C 2", 1)].into_iter().collect();
        let managers: IdMap = [("M1", 0)].into_iter().collect();
        let data = crate::load::Dataset::default();
        let ids = LineIds {
            clients: &clients,
            managers: &managers,
            data: &data,
            fx: None,
        };
        let mut seen = Vec::new();
        parse_block(&block, "sales.csv", &columns(), &ids, |l| {
            seen.push(format!(
                "{} c{} m{} {}/{} {} {} {}",
                l.date, l.client, l.manager, l.product, l.category, l.quantity, l.amount, l.cost
            ))
        })
        .map_err(|e| e.to_string())?;
        Ok(seen)
    }

    /// The eight-bytes-at-a-time splitter finds the fields a plain split finds, wherever the
    /// commas and the newline fall in its words, and stops at a quote or CR.
    #[test]
    fn the_word_splitter_splits_as_a_byte_loop_does() {
        let pieces = [
            "",
            "a",
            "bc",
            "1234567",
            "12345678",
            "x,",
            "2026-01-02",
            "-0.5",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for end in ["\n", "", "\nnext,line\n", "\"q\",\n", "\r\n"] {
                        let line = format!("{a},{b},{c}{end}");
                        let bytes = line.as_bytes();
                        let (mut start, mut ranges) = (0, Vec::new());
                        let (stop, found) = split_plain(bytes, 0, &mut start, &mut ranges);
                        ranges.push((start, stop));
                        let text = |&(x, y): &(usize, usize)| &line[x..y];
                        let got: Vec<&str> = ranges.iter().map(text).collect();
                        let content = line.split('\n').next().unwrap();
                        let want: Vec<&str> = content.split(',').collect();
                        if found {
                            assert_eq!(got, want, "{line:?}");
                            assert_eq!(bytes[stop], b'\n', "{line:?}");
                        } else {
                            // Stopped early: what it split is a prefix of the fields.
                            assert!(stop <= content.len(), "{line:?}");
                            assert_eq!(got[..got.len() - 1], want[..got.len() - 1], "{line:?}");
                        }
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 8 * 8 * 8 * 5);
    }

    #[test]
    fn plain_crlf_blank_and_quoted_lines_read_alike() {
        let text = "2026-01-02,C1,M1,P1,Dairy,1,10.50,4\r\n\
                    \r\n\
                    2026-01-03, C1 ,M1,P2,,,-2,0\n\
                    2026-01-04,\"C 2\",M1,\"P,3\",\"Fro\nzen\",2,7,1\n\
                    2026-01-05,C1,M1,P4,Dairy,1,1,0";
        let seen = parse(text, 10).unwrap();
        assert_eq!(
            seen,
            vec![
                "2026-01-02 c0 m0 P1/Dairy 1 10.50 4",
                "2026-01-03 c0 m0 P2/ 0 -2 0",
                "2026-01-04 c1 m0 P,3/Fro\nzen 2 7 1",
                "2026-01-05 c0 m0 P4/Dairy 1 1 0",
            ]
        );
    }

    #[test]
    fn errors_name_the_line_on_both_paths() {
        // Line 12 in a block starting at line 10, before any quote: the comma splitter.
        let plain = "2026-01-02,C1,M1,P1,Dairy,1,1,0\n\n2026-01-03,C9,M1,P1,Dairy,1,1,0\n";
        let err = parse(plain, 10).unwrap_err();
        assert!(
            err.starts_with("sales.csv:12: column 'client_id': unknown client_id 'C9'"),
            "{err}"
        );
        // The same after a quoted field with a newline inside: the CSV parser.
        let quoted = "2026-01-02,C1,M1,\"P\n1\",Dairy,1,1,0\n2026-01-03,C1,M1,P1,Dairy,1,x,0\n";
        let err = parse(quoted, 10).unwrap_err();
        assert!(
            err.starts_with("sales.csv:12: column 'amount': found 'x'"),
            "{err}"
        );
        let short = "2026-01-02,C1,M1,P1,Dairy,1,1\r\n";
        let err = parse(short, 3).unwrap_err();
        assert!(
            err.starts_with("sales.csv:3: the row has 7 field(s) but the header has 8"),
            "{err}"
        );
    }

    #[test]
    fn record_ends_skip_quoted_newlines() {
        let buf = b"a,\"x\ny\",1\nb,2\nc,\"open\n";
        let scan = last_record_end(buf, 0, false, false);
        assert_eq!(scan.cut, Some(14));
        assert!(scan.in_quote);
        assert_eq!(scan.quote_at, Some(16));
        assert_eq!(scan.resume, buf.len());
        // A quote inside an unquoted field is a character, as the CSV parser reads it.
        let buf = b"P1,12\" pipe,3\nP2,\"say \"\"hi\"\"\n\",4\nP3,x,5\n";
        let scan = last_record_end(buf, 0, false, false);
        assert_eq!(scan.cut, Some(buf.len()));
        assert!(!scan.in_quote);
        // A quote at the end of the buffer waits for the next byte, unless the file ends.
        let scan = last_record_end(b"a,\"x\"", 0, false, false);
        assert_eq!((scan.cut, scan.resume), (None, 4));
        assert!(!last_record_end(b"a,\"x\"", 0, false, true).in_quote);
        assert_eq!(header_end(b"date,\"a\nb\"\nrest"), Some(11));
    }

    #[test]
    fn a_quote_that_never_closes_is_an_error_at_its_line() {
        let text = "date,client_id,manager_id,amount,note\n\
                    2026-01-02,C1,M1,1,ok\n\
                    2026-01-03,C1,M1,2,\"oops\n\
                    2026-01-04,C1,M1,3,fine\n";
        let source = DataSource::Memory {
            label: "mem".into(),
            files: std::sync::Arc::new(vec![("sales.csv".into(), text.as_bytes().to_vec())]),
            sources: Vec::new(),
            notes: Vec::new(),
            origins: Vec::new(),
        };
        let stream = open(&source).unwrap();
        let mut err = None;
        for _ in 0..3 {
            match stream.next_block(None) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let err = err.expect("an error");
        assert!(
            err.starts_with(
                "mem/sales.csv:3: a quoted field opens on this line and is never closed"
            ),
            "{err}"
        );
        // A long field is refused at the limit, naming the line where it began.
        let long = format!(
            "date,client_id,manager_id,amount\n2026-01-02,C1,M1,\"{}\"\n",
            "9".repeat(5000)
        );
        let source = DataSource::Memory {
            label: "mem".into(),
            files: std::sync::Arc::new(vec![("sales.csv".into(), long.into_bytes())]),
            sources: Vec::new(),
            notes: Vec::new(),
            origins: Vec::new(),
        };
        let stream = open_with(&source, 100).unwrap();
        let block = stream.next_block(None).unwrap().unwrap();
        let clients: IdMap = [("C1", 0)].into_iter().collect();
        let managers: IdMap = [("M1", 0)].into_iter().collect();
        let data = crate::load::Dataset::default();
        let ids = LineIds {
            clients: &clients,
            managers: &managers,
            data: &data,
            fx: None,
        };
        let err = parse_block(&block, "sales.csv", &stream.columns, &ids, |_| {})
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("sales.csv:2: column 'amount': the field is longer than 100 bytes"),
            "{err}"
        );
    }
}
