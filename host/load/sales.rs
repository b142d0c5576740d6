//! Streaming `sales.csv`: a reader thread cuts the file into blocks at record boundaries
//! (never inside a quoted field) and hashes it; workers parse blocks in parallel.
//!
//! Memory stays flat whatever the file size: only a few blocks are in flight at once.
//! Line numbers are exact, so a bad value on line 7,340,112 is reported as such.

use super::source::DataSource;
use super::text::{
    check_width, find_column, missing_column, parse_header, shown, trim, LineCounter,
};
use super::LoadError;
use crate::money::parse_decimal;
use crate::period::Date;
use csv::ByteRecord;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// The file name of the sales table.
pub const SALES_FILE: &str = "sales.csv";

const BLOCK_SIZE: usize = 1 << 20;

/// Column positions of `sales.csv`.
#[derive(Clone, Debug)]
pub struct SalesColumns {
    date: usize,
    client: usize,
    manager: usize,
    product: Option<usize>,
    category: Option<usize>,
    quantity: Option<usize>,
    amount: usize,
    cost: Option<usize>,
    width: usize,
    header: Vec<String>,
}

impl SalesColumns {
    /// Whether the file has a `cost` column (without it, margin equals revenue).
    pub fn has_cost(&self) -> bool {
        self.cost.is_some()
    }
}

/// A run of whole records from the file.
pub struct Block {
    /// The bytes: whole records, each ending with a newline except perhaps the last one.
    pub bytes: Vec<u8>,
    /// Line number of the block's first line.
    pub first_line: u64,
}

/// A sales file being streamed: its columns, its blocks, and the thread that reads it.
pub struct SalesStream {
    /// The file as shown in messages.
    pub file: String,
    /// Column positions.
    pub columns: SalesColumns,
    /// Blocks in file order.
    pub blocks: Receiver<Block>,
    reader: JoinHandle<Result<(String, u64), LoadError>>,
}

/// The reader thread of a [`SalesStream`], to wait for once the blocks are consumed.
pub struct SalesReader {
    file: String,
    reader: JoinHandle<Result<(String, u64), LoadError>>,
}

impl SalesStream {
    /// Splits the stream into its blocks and its reader thread.
    pub fn into_parts(self) -> (Receiver<Block>, SalesReader) {
        (
            self.blocks,
            SalesReader {
                file: self.file,
                reader: self.reader,
            },
        )
    }
}

impl SalesReader {
    /// Waits for the reader thread: `(sha256 hex, bytes)` of the whole file.
    pub fn finish(self) -> Result<(String, u64), LoadError> {
        self.reader.join().unwrap_or_else(|_| {
            Err(LoadError::file(
                &self.file,
                "the reader thread stopped unexpectedly",
            ))
        })
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
}

/// Opens `sales.csv`, reads its header and starts the reader thread.
pub fn open(source: &DataSource, queue: usize) -> Result<SalesStream, LoadError> {
    let file = source.display(SALES_FILE);
    let mut input = source.open(SALES_FILE)?.ok_or_else(|| {
        LoadError::file(&file, "the file does not exist; a data set needs sales.csv")
    })?;
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
        eof = fill(&mut input, &mut buf, &mut hasher, &mut total, &file)?;
    };
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
    let req =
        |name: &str| find_column(&header, name).ok_or_else(|| missing_column(&file, name, &header));
    let columns = SalesColumns {
        date: req("date")?,
        client: req("client_id")?,
        manager: req("manager_id")?,
        product: find_column(&header, "product"),
        category: find_column(&header, "category"),
        quantity: find_column(&header, "quantity"),
        amount: req("amount")?,
        cost: find_column(&header, "cost"),
        width: header.len(),
        header: header.clone(),
    };
    let header_lines = count_lines(&buf[..header_end]);
    let rest = buf.split_off(header_end);
    let (tx, rx) = sync_channel::<Block>(queue.max(1));
    let thread_file = file.clone();
    let reader = std::thread::Builder::new()
        .name("sales-reader".into())
        .spawn(move || -> Result<(String, u64), LoadError> {
            let mut pending = rest;
            let mut line = 1 + header_lines;
            let mut in_quote = false;
            let mut scanned = 0usize;
            let mut eof = eof;
            loop {
                while !eof && pending.len() < BLOCK_SIZE {
                    eof = fill(
                        &mut input,
                        &mut pending,
                        &mut hasher,
                        &mut total,
                        &thread_file,
                    )?;
                }
                // Find the last newline outside quotes.
                let (cut, quote_state_at_end, resume) =
                    last_record_end(&pending, scanned, in_quote);
                let cut = if eof { Some(pending.len()) } else { cut };
                match cut {
                    Some(cut) if cut > 0 => {
                        let rest = pending.split_off(cut);
                        let block = std::mem::replace(&mut pending, rest);
                        let lines = count_lines(&block);
                        // Quote state at the cut: recompute over what stays pending.
                        in_quote = false;
                        scanned = 0;
                        let first_line = line;
                        line += lines;
                        if tx
                            .send(Block {
                                bytes: block,
                                first_line,
                            })
                            .is_err()
                        {
                            // The consumer stopped (an error elsewhere): just hash the rest.
                            break;
                        }
                    }
                    _ => {
                        // A record longer than the buffer: keep reading.
                        scanned = resume;
                        in_quote = quote_state_at_end;
                        if eof {
                            break;
                        }
                        eof = fill(
                            &mut input,
                            &mut pending,
                            &mut hasher,
                            &mut total,
                            &thread_file,
                        )?;
                    }
                }
                if eof && pending.is_empty() {
                    break;
                }
            }
            drop(tx);
            let mut sink = vec![0u8; 64 * 1024];
            loop {
                let n = input
                    .read(&mut sink)
                    .map_err(|e| LoadError::file(&thread_file, format!("cannot read: {e}")))?;
                if n == 0 {
                    break;
                }
                hasher.update(&sink[..n]);
                total += n as u64;
            }
            Ok((super::source::hex(&hasher.finalize()), total))
        })
        .map_err(|e| LoadError::file(&file, format!("cannot start the reader thread: {e}")))?;
    Ok(SalesStream {
        file,
        columns,
        blocks: rx,
        reader,
    })
}

/// Reads more bytes into `buf`; returns true at end of file.
fn fill(
    input: &mut Box<dyn Read + Send>,
    buf: &mut Vec<u8>,
    hasher: &mut Sha256,
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
    hasher.update(&buf[start..]);
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

/// Scans `buf[start..]` for record ends the way the CSV parser reads quotes: a `"` opens a
/// quoted field only at the start of a field, and inside one `""` is an escaped quote.
/// `in_quote` is the state at `start`. Returns the index just after the last newline outside
/// quotes, the state where the scan stopped, and where to resume: a `"` at the very end of
/// the buffer cannot be decided until more bytes arrive.
fn last_record_end(buf: &[u8], start: usize, mut in_quote: bool) -> (Option<usize>, bool, usize) {
    let mut last = None;
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
                None => return (last, in_quote, j),
                Some(b'"') => i = j + 2,
                Some(_) => {
                    in_quote = false;
                    i = j + 1;
                }
            }
        } else {
            if j == 0 || matches!(buf[j - 1], b',' | b'\n' | b'\r') {
                in_quote = true;
            }
            i = j + 1;
        }
    }
    (last, in_quote, buf.len())
}

fn count_lines(buf: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', buf).count() as u64
}

/// Parses every record of `block`, calling `each` for each line; returns the record count.
/// Stops at the first bad record of the block.
pub fn parse_block(
    block: &Block,
    file: &str,
    columns: &SalesColumns,
    clients: &FxHashMap<String, u32>,
    managers: &FxHashMap<String, u32>,
    mut each: impl FnMut(&SaleLine<'_>),
) -> Result<u64, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&block.bytes[..]);
    let mut rec = ByteRecord::new();
    let mut rows = 0u64;
    let mut counter = LineCounter::default();
    loop {
        let got = rdr.read_byte_record(&mut rec).map_err(|e| {
            let byte = e.position().map(|p| p.byte() as usize).unwrap_or(0);
            let line = LineCounter::default().line_at(&block.bytes, byte);
            LoadError::at(
                file,
                block.first_line + line - 1,
                format!("cannot read the record: {e}"),
            )
        })?;
        if !got {
            break;
        }
        let byte = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
        let line = block.first_line + counter.line_at(&block.bytes, byte) - 1;
        if rec.len() == 1 && trim(&rec[0]).is_empty() {
            continue; // a blank line
        }
        check_width(file, line, &rec, columns.width)?;
        let col_err = |c: usize, msg: String| LoadError::field(file, line, &columns.header[c], msg);
        let field = |c: usize| trim(&rec[c]);
        let text = |c: usize| -> Result<&str, LoadError> {
            std::str::from_utf8(field(c))
                .map_err(|_| col_err(c, format!("'{}' is not valid UTF-8", shown(field(c)))))
        };
        let number = |c: usize| -> Result<Decimal, LoadError> {
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
        let date = Date::parse_iso_bytes(field(columns.date)).ok_or_else(|| {
            col_err(
                columns.date,
                format!(
                    "found '{}', expected a date as YYYY-MM-DD, e.g. 2026-07-31",
                    shown(field(columns.date))
                ),
            )
        })?;
        let client_id = text(columns.client)?;
        let client = *clients.get(client_id).ok_or_else(|| {
            col_err(
                columns.client,
                format!("unknown client_id '{client_id}'; it is not in clients.csv"),
            )
        })?;
        let manager_id = text(columns.manager)?;
        let manager = *managers.get(manager_id).ok_or_else(|| {
            col_err(
                columns.manager,
                format!("unknown manager_id '{manager_id}'; it is not in managers.csv"),
            )
        })?;
        let line_data = SaleLine {
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
                Some(c) if !field(c).is_empty() => number(c)?,
                _ => Decimal::ZERO,
            },
            amount: number(columns.amount)?,
            cost: match columns.cost {
                Some(c) => number(c)?,
                None => Decimal::ZERO,
            },
        };
        each(&line_data);
        rows += 1;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ends_skip_quoted_newlines() {
        let buf = b"a,\"x\ny\",1\nb,2\nc,\"open\n";
        let (cut, in_quote, resume) = last_record_end(buf, 0, false);
        assert_eq!(cut, Some(14));
        assert!(in_quote);
        assert_eq!(resume, buf.len());
        // A quote inside an unquoted field is a character, as the CSV parser reads it.
        let buf = b"P1,12\" pipe,3\nP2,\"say \"\"hi\"\"\n\",4\nP3,x,5\n";
        let (cut, in_quote, _) = last_record_end(buf, 0, false);
        assert_eq!(cut, Some(buf.len()));
        assert!(!in_quote);
        // A quote at the end of the buffer waits for the next byte.
        let (cut, _, resume) = last_record_end(b"a,\"x\"", 0, false);
        assert_eq!((cut, resume), (None, 4));
        assert_eq!(header_end(b"date,\"a\nb\"\nrest"), Some(11));
    }
}
