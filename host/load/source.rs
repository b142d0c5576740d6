//! Where input files come from (a directory, or bytes compiled into the binary) and the
//! record of what was read (sha256 and row count) that goes into `run.json`.

use super::LoadError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A set of input files: a directory on disk, or the bundled example compiled into the binary.
#[derive(Clone, Debug)]
pub enum DataSource {
    /// A directory holding `clients.csv`, `managers.csv`, `sales.csv`, ...
    Dir(PathBuf),
    /// A data directory inside a rule pack (its sample data, a golden case's data): read
    /// like [`DataSource::Dir`], but a file that leads outside the pack (a symbolic link) is
    /// refused.
    PackDir {
        /// The data directory.
        dir: PathBuf,
        /// The pack directory nothing may be read outside of.
        pack: PathBuf,
    },
    /// Canonical tables made in memory by a mapping (`data.toml`).
    Memory {
        /// Shown in messages in place of a directory, e.g. `mapped:data/data.toml`.
        label: String,
        /// File names and contents.
        files: std::sync::Arc<Vec<(String, Vec<u8>)>>,
        /// The source files the tables were made from, for `run.json`.
        sources: Vec<InputFile>,
        /// What the mapping guessed (rows that took a lookup's default), for the run's
        /// warnings.
        notes: Vec<String>,
        /// Where each table's rows came from, so that an error names the source file and
        /// line rather than a canonical table the user never saw.
        origins: Vec<Origin>,
    },
    /// Files compiled into the binary: `(label shown in messages, [(file name, bytes)])`.
    Embedded {
        /// Shown in messages in place of a directory, e.g. `bundled:rules/romashka/data`.
        label: String,
        /// File names and contents.
        files: &'static [(&'static str, &'static [u8])],
    },
}

/// Where a table made by a mapping came from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The canonical file, e.g. `sales.csv`.
    pub table: String,
    /// The source file as shown in messages.
    pub source: String,
    /// Per data row of the canonical table, in order: the line it starts on there, and its
    /// line in the source file.
    pub lines: Vec<(u64, u64)>,
    /// Canonical column → the source column (or what) it was mapped from.
    pub columns: Vec<(String, String)>,
    /// For a Parquet source, the first row (0-based) of each row group.
    pub row_groups: Vec<u64>,
}

impl DataSource {
    /// `e` as the user's files show it: an error at a line of a table a mapping made names
    /// the source file, line and column, and the row of the mapped table.
    pub fn locate(&self, e: LoadError) -> LoadError {
        let DataSource::Memory { origins, .. } = self else {
            return e;
        };
        let Some(o) = origins.iter().find(|o| self.display(&o.table) == e.file) else {
            return e;
        };
        let Some(line) = e.line else {
            return LoadError {
                message: format!("{} (the {} made from {})", e.message, o.table, o.source),
                ..e
            };
        };
        let row = o.lines.partition_point(|&(start, _)| start <= line);
        let Some(&(_, at)) = row.checked_sub(1).and_then(|i| o.lines.get(i)) else {
            return e;
        };
        let column = e.column.as_ref().map(|c| {
            o.columns
                .iter()
                .find(|(canonical, _)| canonical.eq_ignore_ascii_case(c))
                .map_or(c.clone(), |(_, from)| from.clone())
        });
        let canonical = match &e.column {
            Some(c) => format!("{} of {}", c, o.table),
            None => o.table.clone(),
        };
        let located = LoadError {
            file: o.source.clone(),
            line: Some(at),
            column,
            message: format!("{} (mapped to {canonical}, row {row})", e.message),
        };
        super::parquet::in_row_group(located, &o.source, &o.row_groups)
    }

    /// How `name` is shown in messages: the path for a directory, `label/name` otherwise.
    pub fn display(&self, name: &str) -> String {
        match self {
            DataSource::Dir(dir) | DataSource::PackDir { dir, .. } => {
                dir.join(name).display().to_string()
            }
            DataSource::Embedded { label, .. } | DataSource::Memory { label, .. } => {
                format!("{label}/{name}")
            }
        }
    }

    /// Opens `name`, or `Ok(None)` if the source has no such file.
    pub fn open(&self, name: &str) -> Result<Option<Box<dyn Read + Send>>, LoadError> {
        match self {
            DataSource::Dir(_) | DataSource::PackDir { .. } => {
                let path = self.path(name)?;
                // A device or a pipe may never end (and opening a pipe waits for a writer):
                // only regular files are read.
                if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
                    return Err(LoadError::file(
                        &self.display(name),
                        "is not a regular file (a directory, device or pipe); give a file",
                    ));
                }
                match std::fs::File::open(&path) {
                    Ok(f) => Ok(Some(Box::new(f))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(LoadError::file(
                        &self.display(name),
                        format!("cannot open: {e}"),
                    )),
                }
            }
            DataSource::Embedded { files, .. } => Ok(files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| Box::new(*bytes) as Box<dyn Read + Send>)),
            DataSource::Memory { files, .. } => {
                Ok(files.iter().position(|(n, _)| n == name).map(|i| {
                    Box::new(std::io::Cursor::new(Shared(files.clone(), i))) as Box<dyn Read + Send>
                }))
            }
        }
    }

    /// The canonical tables of a data set made in memory (a `data.toml` mapping, or the
    /// bundled sample), by file name; `None` for a directory, whose files already are.
    pub fn canonical_files(&self) -> Option<Vec<(String, Vec<u8>)>> {
        match self {
            DataSource::Memory { files, .. } => Some(files.as_ref().clone()),
            DataSource::Embedded { files, .. } => Some(
                files
                    .iter()
                    .map(|(n, b)| (n.to_string(), b.to_vec()))
                    .collect(),
            ),
            DataSource::Dir(_) | DataSource::PackDir { .. } => None,
        }
    }

    /// The size of file `name` in bytes, when it exists (for a progress bar).
    pub fn size(&self, name: &str) -> Option<u64> {
        match self {
            DataSource::Dir(_) | DataSource::PackDir { .. } => {
                std::fs::metadata(self.path(name).ok()?)
                    .ok()
                    .map(|m| m.len())
            }
            DataSource::Embedded { files, .. } => files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| b.len() as u64),
            DataSource::Memory { files, .. } => files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.len() as u64),
        }
    }

    /// Up to `n` bytes from the start and up to `n` from the end of `name` (the whole file
    /// twice when it is shorter), or `None` when the file is missing or unreadable.
    pub fn ends(&self, name: &str, n: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        fn cut(bytes: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
            let head = &bytes[..n.min(bytes.len())];
            let tail = &bytes[bytes.len().saturating_sub(n)..];
            (head.to_vec(), tail.to_vec())
        }
        match self {
            DataSource::Dir(_) | DataSource::PackDir { .. } => {
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::File::open(self.path(name).ok()?).ok()?;
                let len = f.metadata().ok()?.len();
                let mut head = Vec::new();
                (&mut f).take(n as u64).read_to_end(&mut head).ok()?;
                f.seek(SeekFrom::Start(len.saturating_sub(n as u64))).ok()?;
                let mut tail = Vec::new();
                f.take(n as u64).read_to_end(&mut tail).ok()?;
                Some((head, tail))
            }
            DataSource::Embedded { files, .. } => files
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, bytes)| cut(bytes, n)),
            DataSource::Memory { files, .. } => files
                .iter()
                .find(|(f, _)| f == name)
                .map(|(_, bytes)| cut(bytes, n)),
        }
    }

    /// The path of file `name` of a directory source; inside a pack, it must not lead out.
    fn path(&self, name: &str) -> Result<PathBuf, LoadError> {
        match self {
            DataSource::PackDir { dir, pack } => crate::confine::inside(pack, &dir.join(name))
                .map_err(|m| LoadError::file(&self.display(name), m)),
            DataSource::Dir(dir) => Ok(dir.join(name)),
            _ => Ok(PathBuf::from(name)),
        }
    }

    /// The path of file `name` of a data directory, when it is there (never for mapped,
    /// bundled or in-memory data).
    pub fn local(&self, name: &str) -> Result<Option<PathBuf>, LoadError> {
        match self {
            DataSource::Dir(_) | DataSource::PackDir { .. } => {
                let path = self.path(name)?;
                Ok(path.is_file().then_some(path))
            }
            _ => Ok(None),
        }
    }

    /// The source files behind a mapped data set (empty otherwise).
    pub fn sources(&self) -> &[InputFile] {
        match self {
            DataSource::Memory { sources, .. } => sources,
            _ => &[],
        }
    }

    /// What a mapping guessed, for the run's warnings (none for files read as they are).
    pub fn notes(&self) -> &[String] {
        match self {
            DataSource::Memory { notes, .. } => notes,
            _ => &[],
        }
    }

    /// The directory, when the source is one.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            DataSource::Dir(d) | DataSource::PackDir { dir: d, .. } => Some(d),
            DataSource::Embedded { .. } | DataSource::Memory { .. } => None,
        }
    }
}

/// One file of a shared in-memory set, readable through a `Cursor`.
struct Shared(std::sync::Arc<Vec<(String, Vec<u8>)>>, usize);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0[self.1].1
    }
}

/// What was read from one input file: recorded in `run.json` so a run can be reproduced.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct InputFile {
    /// File name within the data set, e.g. `sales.csv`.
    pub name: String,
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// Data rows (records after the header).
    pub rows: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// A reader that hashes and counts everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Reads the rest of the input (so the hash covers the whole file) and returns
    /// `(sha256 hex, bytes)`.
    pub(crate) fn finish(mut self) -> std::io::Result<(String, u64)> {
        let mut sink = [0u8; 64 * 1024];
        while self.read(&mut sink)? > 0 {}
        Ok((hex(&self.hasher.finalize()), self.bytes))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
