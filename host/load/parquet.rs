//! `sales.parquet`: the sales table as a Apache Parquet file, read in parallel by row group.
//!
//! A row whose values are all typed (a `DATE`, exact numbers, dictionary-encoded ids that
//! are known, no cell past the field limit) becomes a sales line directly (`RowCells::Known`). Any
//! other row's cells are given to the same record reader as a CSV line's fields (strings as
//! they are, dates as `YYYY-MM-DD`, decimals and integers as their exact text), so every
//! check of a sales line holds for a Parquet row too, its message included, and a Parquet
//! file pays what the same table as CSV pays. Money is never a floating-point number: a `float` or `double` amount,
//! cost or quantity is refused. An error names the file, the row (1-based, in file order)
//! and its row group.

use super::sales::{Roles, RowCells, SaleLine, Typed, MAX_EXTRA, NO_RATE};
use super::{IdMap, LoadError};
use crate::period::Date;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::statistics::Statistics;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The file name of the sales table as Parquet.
pub const SALES_PARQUET: &str = "sales.parquet";

/// Rows per batch the reader decodes at once.
const BATCH_ROWS: usize = 8192;

thread_local! {
    static IN_READER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside the Parquet reader, where a panic is caught and reported
/// as the file's error (a panic hook should then stay quiet).
pub fn in_reader_call() -> bool {
    IN_READER.with(std::cell::Cell::get)
}

/// Runs `f`, which calls the parquet crate: a damaged file can make that crate panic (a
/// negative column length in the footer, say), which is then this file's error, not a crash.
fn caught<T>(shown: &str, f: impl FnOnce() -> Result<T, LoadError>) -> Result<T, LoadError> {
    let was = IN_READER.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_READER.with(|c| c.set(was));
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".into());
        Err(LoadError::file(
            shown,
            format!("is not a readable Parquet file: the reader stopped on damaged data ({what})"),
        ))
    })
}

/// The thread hashing the file: `(sha256 hex, bytes)`.
type Hashing = std::thread::JoinHandle<Result<(String, u64), LoadError>>;

/// An open `sales.parquet`: its metadata (read once), and the next row group to hand out.
pub struct ParquetSales {
    path: PathBuf,
    /// The file as shown in messages.
    pub shown: String,
    meta: ArrowReaderMetadata,
    /// The first row (0-based, in file order) of each row group.
    starts: Vec<u64>,
    next: AtomicUsize,
    /// The file's hash, computed on its own thread while the rows are read.
    hashing: std::sync::Mutex<Option<Hashing>>,
}

impl std::fmt::Debug for ParquetSales {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParquetSales({})", self.shown)
    }
}

impl ParquetSales {
    /// Opens the file and reads its metadata; returns it and its column names. Fails on a
    /// file that is not Parquet, and on a column of a type sales cannot hold.
    pub fn open(path: PathBuf, shown: String) -> Result<(ParquetSales, Vec<String>), LoadError> {
        let label = shown.clone();
        caught(&label, || ParquetSales::open_inner(path, shown))
    }

    fn open_inner(path: PathBuf, shown: String) -> Result<(ParquetSales, Vec<String>), LoadError> {
        let file =
            File::open(&path).map_err(|e| LoadError::file(&shown, format!("cannot open: {e}")))?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| LoadError::file(&shown, format!("is not a readable Parquet file: {e}")))?;
        let meta = with_dictionaries(meta);
        let starts = row_group_starts(meta.metadata());
        let names: Vec<String> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for f in meta.schema().fields() {
            check_type(&shown, f.name(), f.data_type())?;
        }
        let (p, s) = (path.clone(), shown.clone());
        let hashing = std::thread::Builder::new()
            .name("bonusrun-hash".into())
            .spawn(move || hash_file(&p, &s))
            .ok();
        let sales = ParquetSales {
            path,
            shown,
            meta,
            starts,
            next: AtomicUsize::new(0),
            hashing: std::sync::Mutex::new(hashing),
        };
        Ok((sales, names))
    }

    /// The next row group to read, or `None` when all were handed out.
    pub fn next_row_group(&self) -> Option<usize> {
        let g = self.next.fetch_add(1, Ordering::Relaxed);
        (g < self.starts.len()).then_some(g)
    }

    /// Reads row group `g` and calls `row` with each row's cells (as text), its row number
    /// (1-based, in file order) and its typed values; returns the rows read. The columns
    /// marked in `typed_only` are not written as text when their typed value is there.
    pub fn read_row_group(
        &self,
        g: usize,
        typed_only: &[bool],
        roles: Option<&Roles<'_>>,
        row: impl for<'c> FnMut(RowCells<'c>, u64) -> Result<(), LoadError>,
    ) -> Result<u64, LoadError> {
        caught(&self.shown, || {
            self.read_row_group_inner(g, typed_only, roles, row)
        })
    }

    fn read_row_group_inner(
        &self,
        g: usize,
        typed_only: &[bool],
        roles: Option<&Roles<'_>>,
        mut row: impl for<'c> FnMut(RowCells<'c>, u64) -> Result<(), LoadError>,
    ) -> Result<u64, LoadError> {
        let fail = |e: String| LoadError::file(&self.shown, format!("row group {g}: {e}"));
        let file = File::open(&self.path).map_err(|e| fail(format!("cannot open: {e}")))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let mut next_row = self.starts.get(g).copied().unwrap_or(0) + 1;
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut caches: Vec<IdCache> = Vec::new();
        let mut values: Vec<TypedCell> = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| fail(format!("cannot decode: {e}")))?;
            let cols: Vec<Cells<'_>> = batch.columns().iter().map(Cells::of).collect();
            caches.resize_with(cols.len(), IdCache::default);
            for (cache, c) in caches.iter_mut().zip(&cols) {
                cache.follow(c);
            }
            let known = roles.and_then(|roles| Known::of(roles, &cols, &caches));
            let in_group = |e: LoadError| LoadError {
                message: format!("in row group {g}: {}", e.message),
                ..e
            };
            for r in 0..batch.num_rows() {
                if let Some(k) = known.as_ref().and_then(|k| k.row(r)) {
                    row(RowCells::Known(k), next_row).map_err(in_group)?;
                    next_row += 1;
                    continue;
                }
                buf.clear();
                ranges.clear();
                values.clear();
                for (i, c) in cols.iter().enumerate() {
                    let value = match typed_only.get(i) {
                        Some(true) => c.typed(r),
                        _ => TypedCell::None,
                    };
                    let start = buf.len();
                    if matches!(value, TypedCell::None) {
                        c.render(r, &mut buf);
                    }
                    values.push(value);
                    ranges.push((start, buf.len()));
                }
                let field = |i: usize| -> &[u8] {
                    match cols.get(i) {
                        Some(c) => c.text(r).unwrap_or_else(|| {
                            let (a, b) = ranges[i];
                            &buf[a..b]
                        }),
                        None => b"",
                    }
                };
                let typed = RowTypes {
                    cols: &cols,
                    values: &values,
                    caches: &caches,
                    r,
                };
                let cells = RowCells::Cells {
                    field: &field,
                    n: cols.len(),
                    typed: &typed,
                };
                row(cells, next_row).map_err(in_group)?;
                next_row += 1;
            }
        }
        Ok(next_row - 1 - self.starts.get(g).copied().unwrap_or(0))
    }

    /// The latest date in column `date`, from the row groups' statistics (without reading a
    /// row), when the file has them.
    pub fn latest_date(&self, date: usize) -> Option<Date> {
        caught(&self.shown, || Ok(self.latest_date_inner(date))).unwrap_or(None)
    }

    fn latest_date_inner(&self, date: usize) -> Option<Date> {
        let leaf = self
            .meta
            .metadata()
            .file_metadata()
            .schema_descr()
            .num_columns();
        if date >= leaf {
            return None;
        }
        let mut latest: Option<Date> = None;
        for g in self.meta.metadata().row_groups() {
            let max = match g.column(date).statistics()? {
                Statistics::Int32(s) => date_of_days(*s.max_opt()?),
                Statistics::ByteArray(s) => Date::parse_iso_bytes(s.max_opt()?.data()),
                _ => None,
            }?;
            latest = Some(latest.map_or(max, |l| l.max(max)));
        }
        latest
    }

    /// The SHA-256 (hex) and size of the whole file, for `run.json`.
    pub fn hash(&self) -> Result<(String, u64), LoadError> {
        let handle = self.hashing.lock().ok().and_then(|mut h| h.take());
        match handle.map(|h| h.join()) {
            Some(Ok(result)) => result,
            // No thread could be started (or it ended abnormally): hash here.
            _ => hash_file(&self.path, &self.shown),
        }
    }
}

/// The SHA-256 (hex) and size of the file at `path`.
fn hash_file(path: &std::path::Path, shown: &str) -> Result<(String, u64), LoadError> {
    use std::io::Read;
    let mut file =
        File::open(path).map_err(|e| LoadError::file(shown, format!("cannot read: {e}")))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LoadError::file(shown, format!("cannot read: {e}"))),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((super::source::hex(&hasher.finalize()), total))
}

/// A whole (small) Parquet file as CSV text: a header of its column names, then each row's
/// cells as [`ParquetSales`] reads them; a NULL is an empty field.
pub struct ParquetText {
    /// The CSV text.
    pub text: Vec<u8>,
    /// Per column, whether it holds floating-point numbers.
    pub floats: Vec<bool>,
    /// The first row (0-based) of each row group, for [`in_row_group`].
    pub starts: Vec<u64>,
}

/// The file as [`ParquetText`], for files whose numbers must be exact (facts): a
/// floating-point column is refused.
pub fn to_csv(path: &std::path::Path, shown: &str) -> Result<ParquetText, LoadError> {
    caught(shown, || to_csv_inner(path, shown, false))
}

/// [`to_csv`] for a mapping, which may round floating-point columns as it says: their cells
/// are written as the shortest decimal text that reads back as the same number (`0.1`, not
/// `0.1000000000000000055511151231257827`).
pub fn to_csv_with_floats(path: &std::path::Path, shown: &str) -> Result<ParquetText, LoadError> {
    caught(shown, || to_csv_inner(path, shown, true))
}

/// `e` with its row's row group, when it is at row `e.line` (1-based) of the Parquet file
/// `shown` whose row groups start at `starts`: `in row group 1: ...`, as for
/// `sales.parquet`.
pub fn in_row_group(e: LoadError, shown: &str, starts: &[u64]) -> LoadError {
    let Some(row) = e.line.filter(|&r| r > 0 && e.file == shown) else {
        return e;
    };
    match starts.partition_point(|&s| s < row).checked_sub(1) {
        Some(g) if !e.message.starts_with("in row group") => LoadError {
            message: format!("in row group {g}: {}", e.message),
            ..e
        },
        _ => e,
    }
}

fn to_csv_inner(
    path: &std::path::Path,
    shown: &str,
    floats_ok: bool,
) -> Result<ParquetText, LoadError> {
    let fail = |e: String| LoadError::file(shown, e);
    let file = File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| fail(format!("is not a readable Parquet file: {e}")))?;
    let floats: Vec<bool> = (builder.schema().fields().iter())
        .map(|f| matches!(f.data_type(), DataType::Float32 | DataType::Float64))
        .collect();
    for f in builder.schema().fields() {
        let float = matches!(f.data_type(), DataType::Float32 | DataType::Float64);
        if float && floats_ok {
            continue;
        }
        if float {
            return Err(LoadError::field(
                shown,
                0,
                f.name(),
                format!(
                    "is a floating-point column ({}): the numbers bonusrun reads must be exact; write it as DECIMAL (or as text)",
                    f.data_type()
                ),
            )
            .without_line());
        }
        check_type(shown, f.name(), f.data_type())?;
    }
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let starts = row_group_starts(builder.metadata());
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let write_err = |e: csv::Error| LoadError::file(shown, format!("cannot convert: {e}"));
    out.write_record(&names).map_err(write_err)?;
    let mut buf = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(format!("cannot decode: {e}")))?;
        let cols: Vec<Cells<'_>> = batch.columns().iter().map(Cells::of).collect();
        for r in 0..batch.num_rows() {
            for c in &cols {
                buf.clear();
                match c.text(r) {
                    Some(t) => buf.extend_from_slice(t),
                    None => c.render(r, &mut buf),
                }
                out.write_field(&buf).map_err(write_err)?;
            }
            out.write_record(None::<&[u8]>).map_err(write_err)?;
        }
    }
    let text = out
        .into_inner()
        .map_err(|e| LoadError::file(shown, format!("cannot convert: {e}")))?;
    Ok(ParquetText {
        text,
        floats,
        starts,
    })
}

/// The first row (0-based, in file order) of each row group.
fn row_group_starts(meta: &parquet::file::metadata::ParquetMetaData) -> Vec<u64> {
    let mut at = 0u64;
    let rows = meta.row_groups().iter().map(|g| g.num_rows().max(0) as u64);
    rows.map(|n| {
        let start = at;
        at = at.saturating_add(n);
        start
    })
    .collect()
}

/// The same metadata, reading text columns as dictionaries: an export's ids and names are
/// stored once per row group and referenced by key, so they are looked up once per distinct
/// value (the file is read as it is if the reader declines).
fn with_dictionaries(meta: ArrowReaderMetadata) -> ArrowReaderMetadata {
    let fields: Vec<arrow_schema::Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(DataType::Utf8),
            )),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        meta.schema().metadata().clone(),
    ));
    let options = ArrowReaderOptions::new().with_schema(schema);
    ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta)
}

/// A column type sales can hold: text, a date, an exact number; a floating-point number only
/// outside the money and quantity columns.
fn check_type(shown: &str, name: &str, ty: &DataType) -> Result<(), LoadError> {
    let exact = matches!(
        ty,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Date32
            | DataType::Decimal128(_, _)
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Null
            | DataType::Boolean
    ) || matches!(ty, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8));
    let float = matches!(ty, DataType::Float32 | DataType::Float64);
    let money = ["amount", "cost", "quantity"].contains(&name.trim().to_ascii_lowercase().as_str());
    match (exact, float) {
        (true, _) => Ok(()),
        (_, true) if !money => Ok(()),
        (_, true) => Err(LoadError::field(
            shown,
            0,
            name,
            format!("is a floating-point column ({ty}): an amount must be exact; write it as DECIMAL (or as text) in the Parquet file"),
        )
        .without_line()),
        _ => Err(LoadError::field(
            shown,
            0,
            name,
            format!("has the Parquet type {ty}; expected text, a date, a DECIMAL or an integer"),
        )
        .without_line()),
    }
}

/// A cell's typed value, for [`Typed`]; `None` when the cell is read as text.
#[derive(Clone, Copy)]
enum TypedCell {
    None,
    Date(Date),
    Number(Decimal),
}

/// An id column's lookups per dictionary value: [`NOT_YET`], [`UNKNOWN`] or the id. Kept
/// while the batches of a row group share their dictionary.
#[derive(Default)]
struct IdCache {
    values: Option<ArrayRef>,
    ids: Vec<std::cell::Cell<u32>>,
    /// The longest of the dictionary's values, in bytes.
    longest: usize,
}

const NOT_YET: u32 = u32::MAX;
const UNKNOWN: u32 = u32::MAX - 1;

impl IdCache {
    /// Starts afresh when `cells` has a dictionary other than the last batch's.
    fn follow(&mut self, cells: &Cells<'_>) {
        let Cells::Dict(Dict { values, .. }) = cells else {
            self.values = None;
            self.ids.clear();
            return;
        };
        if self.values.as_ref().is_some_and(|v| Arc::ptr_eq(v, values)) {
            return;
        }
        self.values = Some(values.clone());
        self.ids.clear();
        self.ids
            .resize_with(values.len(), || std::cell::Cell::new(NOT_YET));
        self.longest = match cells {
            Cells::Dict(d) => (0..values.len()).map(|k| d.value(k).len()).max(),
            _ => None,
        }
        .unwrap_or(0);
    }

    /// The id in `map` of the (trimmed) dictionary value behind key `k`, looked up once.
    #[inline]
    fn lookup<'t>(&self, k: usize, map: &IdMap, text: impl FnOnce() -> &'t [u8]) -> Option<u32> {
        let slot = self.ids.get(k)?;
        match slot.get() {
            NOT_YET => {
                let id = map.get(text());
                slot.set(id.unwrap_or(UNKNOWN));
                id
            }
            UNKNOWN => None,
            id => Some(id),
        }
    }
}

/// One row's typed values.
struct RowTypes<'a> {
    cols: &'a [Cells<'a>],
    values: &'a [TypedCell],
    caches: &'a [IdCache],
    r: usize,
}

impl Typed for RowTypes<'_> {
    fn date(&self, c: usize) -> Option<Date> {
        match self.values.get(c) {
            Some(TypedCell::Date(d)) => Some(*d),
            _ => None,
        }
    }

    fn decimal(&self, c: usize) -> Option<Decimal> {
        match self.values.get(c) {
            Some(TypedCell::Number(d)) => Some(*d),
            _ => None,
        }
    }

    fn id(&self, c: usize, map: &IdMap, text: &[u8]) -> Option<u32> {
        match (self.cols.get(c), self.caches.get(c)) {
            (Some(Cells::Dict(d)), Some(cache)) if !d.is_null(self.r) => match d.keys.get(self.r) {
                Some(&k) => cache.lookup(k, map, || text),
                None => map.get(text),
            },
            _ => map.get(text),
        }
    }
}

/// A batch whose rows may be read as sales lines directly ([`RowCells::Known`]): its date, id, money and text columns are
/// of types the typed path reads, and no cell's text is longer than the field limit.
struct Known<'b> {
    roles: &'b Roles<'b>,
    date: &'b PrimitiveArray<Date32Type>,
    client: (&'b Dict<'b>, &'b IdCache),
    manager: (&'b Dict<'b>, &'b IdCache),
    cols: &'b [Cells<'b>],
    quantity: Num<'b>,
    amount: Num<'b>,
    cost: Num<'b>,
}

/// A number column of a batch for [`Known`], its common types downcast once.
enum Num<'b> {
    /// No such column: zero.
    Zero,
    Decimal(&'b PrimitiveArray<Decimal128Type>, u32),
    Int32(&'b PrimitiveArray<Int32Type>),
    Int64(&'b PrimitiveArray<Int64Type>),
    Other(&'b Cells<'b>),
}

impl<'b> Num<'b> {
    fn of(cols: &'b [Cells<'b>], c: Option<usize>) -> Option<Num<'b>> {
        let Some(c) = c else {
            return Some(Num::Zero);
        };
        let cells = cols.get(c)?;
        Some(match cells {
            Cells::Decimal(a, scale) if (0..=28).contains(scale) => Num::Decimal(a, *scale as u32),
            Cells::Int(a, _) if a.data_type() == &DataType::Int32 => Num::Int32(a.as_primitive()),
            Cells::Int(a, _) if a.data_type() == &DataType::Int64 => Num::Int64(a.as_primitive()),
            _ => Num::Other(cells),
        })
    }

    /// Row `r`'s value as [`Cells::typed`] reads it, or `None`.
    #[inline]
    fn at(&self, r: usize) -> Option<Decimal> {
        match self {
            Num::Zero => Some(Decimal::ZERO),
            Num::Decimal(..) | Num::Int32(_) | Num::Int64(_) if self.is_null(r) => None,
            Num::Decimal(a, scale) => Decimal::try_from_i128_with_scale(a.value(r), *scale).ok(),
            Num::Int32(a) => Some(Decimal::from(a.value(r))),
            Num::Int64(a) => Some(Decimal::from(a.value(r))),
            Num::Other(cells) => match cells.typed(r) {
                TypedCell::Number(d) => Some(d),
                _ => None,
            },
        }
    }

    #[inline]
    fn is_null(&self, r: usize) -> bool {
        match self {
            Num::Decimal(a, _) => a.is_null(r),
            Num::Int32(a) => a.is_null(r),
            Num::Int64(a) => a.is_null(r),
            _ => false,
        }
    }
}

/// The longest string of `a`, in bytes.
fn longest<O: arrow_array::OffsetSizeTrait>(a: &arrow_array::GenericStringArray<O>) -> usize {
    let lengths = a.offsets().windows(2).map(|w| (w[1] - w[0]).as_usize());
    lengths.max().unwrap_or(0)
}

/// The most bytes the text of a date, exact number or flag cell takes (a float's may take
/// more): a batch is only read as known rows when the field limit is at least this.
const SHORT_CELL: usize = 64;

impl<'b> Known<'b> {
    /// The batch's known-row reader, or `None` when its rows need the record reader.
    fn of(roles: &'b Roles<'b>, cols: &'b [Cells<'b>], caches: &'b [IdCache]) -> Option<Self> {
        if roles.max_field < SHORT_CELL {
            return None;
        }
        for (c, cache) in cols.iter().zip(caches) {
            let longest = match c {
                Cells::Dict(_) => cache.longest,
                Cells::Utf8(a) => longest(a),
                Cells::Large(a) => longest(a),
                Cells::View(a) => (0..a.len()).map(|r| a.value(r).len()).max().unwrap_or(0),
                Cells::Float(..) => return None,
                _ => 0,
            };
            if longest > roles.max_field {
                return None;
            }
        }
        let dict = |c: usize| match (cols.get(c), caches.get(c)) {
            (Some(Cells::Dict(d)), Some(cache)) => Some((d, cache)),
            _ => None,
        };
        let date = match cols.get(roles.date) {
            Some(Cells::Date(a)) => *a,
            _ => return None,
        };
        Some(Known {
            roles,
            date,
            client: dict(roles.client)?,
            manager: dict(roles.manager)?,
            cols,
            quantity: Num::of(cols, roles.quantity)?,
            amount: Num::of(cols, Some(roles.amount))?,
            cost: Num::of(cols, roles.cost)?,
        })
    }

    /// Row `r` as a known row, or `None` when any of its values is not read typed (a NULL, an
    /// unknown id, a number a decimal cannot hold), and the record reader reads it.
    #[inline]
    fn row(&self, r: usize) -> Option<SaleLine<'b>> {
        let roles = self.roles;
        if self.date.is_null(r) {
            return None;
        }
        let date = Date::from_days(self.date.value(r))?;
        let id = |(d, cache): (&Dict<'b>, &IdCache), map: &IdMap| {
            if d.is_null(r) {
                return None;
            }
            let k = *d.keys.get(r)?;
            cache.lookup(k, map, || d.value(k).trim_ascii().as_bytes())
        };
        let client = id(self.client, roles.clients)?;
        let manager = id(self.manager, roles.managers)?;
        let text = |c: Option<usize>| -> Option<&'b str> {
            match c {
                Some(c) => self.cols.get(c)?.str_cell(r),
                None => Some(""),
            }
        };
        Some(SaleLine {
            date,
            client,
            manager,
            product: text(roles.product)?,
            category: text(roles.category)?,
            quantity: self.quantity.at(r)?,
            amount: self.amount.at(r)?,
            cost: self.cost.at(r)?,
            extra: [&[]; MAX_EXTRA],
            extra_number: [Decimal::ZERO; MAX_EXTRA],
            rate: NO_RATE,
        })
    }
}

/// A dictionary-encoded text column of a batch: per row a key into its values.
struct Dict<'a> {
    keys: Vec<usize>,
    /// The column, when it has nulls.
    nulls: Option<&'a dyn Array>,
    text: DictText<'a>,
    /// The values, to tell whether the next batch shares them.
    values: ArrayRef,
}

/// A dictionary's values, downcast once.
enum DictText<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    None,
}

impl<'a> Dict<'a> {
    #[inline]
    fn is_null(&self, r: usize) -> bool {
        self.nulls.is_some_and(|a| a.is_null(r))
    }

    /// The text of dictionary value `k`, untrimmed.
    #[inline]
    fn value(&self, k: usize) -> &'a str {
        match self.text {
            DictText::Utf8(v) => v.value(k),
            DictText::Large(v) => v.value(k),
            DictText::None => "",
        }
    }
}

/// One column of a batch, downcast once, read as text row by row.
enum Cells<'a> {
    /// Text: the cell's bytes as they are.
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Dict(Dict<'a>),
    /// Written into the row's buffer.
    Date(&'a PrimitiveArray<Date32Type>),
    Decimal(&'a PrimitiveArray<Decimal128Type>, i8),
    Int(&'a dyn Array, fn(&dyn Array, usize) -> i128),
    Float(&'a dyn Array, fn(&dyn Array, usize, &mut Vec<u8>)),
    Flag(&'a arrow_array::BooleanArray),
    Null,
}

fn int<T: ArrowPrimitiveType>(a: &dyn Array, r: usize) -> i128
where
    T::Native: Into<i128>,
{
    a.as_primitive::<T>().value(r).into()
}

/// The shortest decimal text that reads back as the same number (of its own width: an `f32`
/// as an `f32`).
fn float<T: ArrowPrimitiveType>(a: &dyn Array, r: usize, buf: &mut Vec<u8>)
where
    T::Native: std::fmt::Display,
{
    use std::io::Write;
    let _ = write!(buf, "{}", a.as_primitive::<T>().value(r));
}

impl<'a> Cells<'a> {
    fn of(col: &'a ArrayRef) -> Cells<'a> {
        let a = col.as_ref();
        match col.data_type() {
            DataType::Utf8 => Cells::Utf8(col.as_string::<i32>()),
            DataType::LargeUtf8 => Cells::Large(col.as_string::<i64>()),
            DataType::Utf8View => Cells::View(col.as_string_view()),
            DataType::Dictionary(_, _) => {
                let d = col.as_any_dictionary();
                let values = d.values();
                Cells::Dict(Dict {
                    keys: d.normalized_keys(),
                    nulls: (a.logical_null_count() > 0).then_some(a),
                    text: match values.data_type() {
                        DataType::Utf8 => DictText::Utf8(values.as_string::<i32>()),
                        DataType::LargeUtf8 => DictText::Large(values.as_string::<i64>()),
                        _ => DictText::None,
                    },
                    values: values.clone(),
                })
            }
            DataType::Date32 => Cells::Date(col.as_primitive::<Date32Type>()),
            DataType::Decimal128(_, scale) => {
                Cells::Decimal(col.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Int8 => Cells::Int(a, int::<Int8Type>),
            DataType::Int16 => Cells::Int(a, int::<Int16Type>),
            DataType::Int32 => Cells::Int(a, int::<Int32Type>),
            DataType::Int64 => Cells::Int(a, int::<Int64Type>),
            DataType::UInt8 => Cells::Int(a, int::<UInt8Type>),
            DataType::UInt16 => Cells::Int(a, int::<UInt16Type>),
            DataType::UInt32 => Cells::Int(a, int::<UInt32Type>),
            DataType::UInt64 => Cells::Int(a, int::<UInt64Type>),
            DataType::Boolean => Cells::Flag(col.as_boolean()),
            DataType::Float32 => Cells::Float(a, float::<Float32Type>),
            DataType::Float64 => Cells::Float(a, float::<Float64Type>),
            _ => Cells::Null,
        }
    }

    /// The cell of row `r` when the column holds text (empty for NULL), else `None`.
    #[inline]
    fn text(&self, r: usize) -> Option<&[u8]> {
        let null = |a: &dyn Array| a.is_null(r);
        Some(match self {
            Cells::Utf8(a) if null(*a) => b"",
            Cells::Utf8(a) => a.value(r).as_bytes(),
            Cells::Large(a) if null(*a) => b"",
            Cells::Large(a) => a.value(r).as_bytes(),
            Cells::View(a) if null(*a) => b"",
            Cells::View(a) => a.value(r).as_bytes(),
            Cells::Dict(d) if d.is_null(r) => b"",
            Cells::Dict(d) => d.value(d.keys[r]).as_bytes(),
            _ => return None,
        })
    }

    /// The cell of row `r` of a text column as a string, trimmed (empty for NULL), or `None`
    /// for a column that does not hold text.
    #[inline]
    fn str_cell(&self, r: usize) -> Option<&'a str> {
        let null = |a: &dyn Array| a.is_null(r);
        let s = match self {
            Cells::Utf8(a) if null(*a) => "",
            Cells::Utf8(a) => a.value(r),
            Cells::Large(a) if null(*a) => "",
            Cells::Large(a) => a.value(r),
            Cells::View(a) if null(*a) => "",
            Cells::View(a) => a.value(r),
            Cells::Dict(d) if d.is_null(r) => "",
            Cells::Dict(d) => d.value(d.keys[r]),
            _ => return None,
        };
        Some(s.trim_ascii())
    }

    /// The typed value of row `r`: a date in 1..=9999, or a decimal or integer that fits
    /// a [`Decimal`] (as the text path would read them); else `None`, and the cell is read
    /// from its text, which gives the same value or the same message.
    #[inline]
    fn typed(&self, r: usize) -> TypedCell {
        match self {
            Cells::Date(a) if !a.is_null(r) => {
                Date::from_days(a.value(r)).map_or(TypedCell::None, TypedCell::Date)
            }
            Cells::Decimal(a, scale) if !a.is_null(r) && (0..=28).contains(scale) => {
                Decimal::try_from_i128_with_scale(a.value(r), *scale as u32)
                    .map_or(TypedCell::None, TypedCell::Number)
            }
            Cells::Int(a, value) if !a.is_null(r) => {
                Decimal::try_from_i128_with_scale(value(*a, r), 0)
                    .map_or(TypedCell::None, TypedCell::Number)
            }
            _ => TypedCell::None,
        }
    }

    /// Writes the text of row `r` of a column that does not hold text into `buf`.
    #[inline]
    fn render(&self, r: usize, buf: &mut Vec<u8>) {
        match self {
            Cells::Date(a) if !a.is_null(r) => write_date(a.value(r), buf),
            Cells::Decimal(a, scale) if !a.is_null(r) => decimal_text(a.value(r), *scale, buf),
            Cells::Int(a, value) if !a.is_null(r) => decimal_text(value(*a, r), 0, buf),
            Cells::Flag(a) if !a.is_null(r) => {
                buf.extend_from_slice(if a.value(r) { b"true" } else { b"false" })
            }
            Cells::Float(a, write) if !a.is_null(r) => write(*a, r, buf),
            _ => {}
        }
    }
}

/// An exact decimal's text: `unscaled` × 10^-`scale`, without allocating.
fn decimal_text(unscaled: i128, scale: i8, buf: &mut Vec<u8>) {
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let abs = unscaled.unsigned_abs();
    // Nearly every amount fits 64 bits, whose division is far cheaper than 128 bits'.
    match u64::try_from(abs) {
        Ok(mut n) => loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        },
        Err(_) => {
            let mut n = abs;
            loop {
                at -= 1;
                digits[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
    }
    let digits = &digits[at..];
    if unscaled < 0 {
        buf.push(b'-');
    }
    if scale <= 0 {
        buf.extend_from_slice(digits);
        if unscaled != 0 {
            buf.extend(std::iter::repeat_n(b'0', scale.unsigned_abs() as usize));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        buf.extend_from_slice(b"0.");
        buf.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        buf.extend_from_slice(digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        buf.extend_from_slice(int);
        buf.push(b'.');
        buf.extend_from_slice(frac);
    }
}

/// `YYYY-MM-DD` of the day `days` after 1970-01-01 (a year outside 0..=9999 is written as
/// it is, and refused as a date by the reader).
fn write_date(days: i32, buf: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    if !(0..=9999).contains(&y) {
        use std::io::Write;
        let _ = write!(buf, "{y}-{m:02}-{d:02}");
        return;
    }
    let y = y as u32;
    buf.extend_from_slice(&[
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (d / 10) as u8,
        b'0' + (d % 10) as u8,
    ]);
}

/// Year, month and day of the day `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i32) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The date `days` after 1970-01-01.
fn date_of_days(days: i32) -> Option<Date> {
    let mut buf = Vec::with_capacity(10);
    write_date(days, &mut buf);
    Date::parse_iso_bytes(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_dates_read_as_their_exact_text() {
        let text = |u: i128, s: i8| {
            let mut b = Vec::new();
            decimal_text(u, s, &mut b);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(text(123456, 2), "1234.56");
        assert_eq!(text(-5, 2), "-0.05");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(7, 0), "7");
        assert_eq!(text(7, -2), "700");
        assert_eq!(date_of_days(0).unwrap().to_string(), "1970-01-01");
        assert_eq!(date_of_days(20_454).unwrap().to_string(), "2026-01-01");
        assert_eq!(date_of_days(-1).unwrap().to_string(), "1969-12-31");
    }
}
