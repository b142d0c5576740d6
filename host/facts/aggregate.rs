//! The parallel pass over `sales.csv`: each worker folds blocks of lines into monthly
//! buckets keyed by (client, manager, month); the workers' buckets are merged at the end.
//!
//! Every step is exact and order-free (decimal sums, set unions, min and max), so the result
//! is the same whatever the number of threads; buckets are sorted before use.

use super::window::{insert_sorted, merge_sorted};
use crate::load::sales::{self, SaleLine, SalesStream};
use crate::load::{Dataset, InputFile, LoadError};
use crate::period::Date;
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// Sales of one client with one manager in one month.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Sum of amounts.
    pub revenue: Decimal,
    /// Sum of costs.
    pub cost: Decimal,
    /// Sum of quantities.
    pub quantity: Decimal,
    /// Sum of the negative amounts, as a positive number.
    pub returns: Decimal,
    /// Number of lines.
    pub lines: u64,
    /// Number of lines with a negative amount.
    pub return_lines: u64,
    /// Earliest line date.
    pub first: Date,
    /// Latest line date.
    pub last: Date,
    /// Category ids bought (sorted, distinct).
    pub categories: Vec<u32>,
    /// Product ids bought (sorted, distinct).
    pub products: Vec<u32>,
}

impl Bucket {
    fn new(date: Date) -> Bucket {
        Bucket {
            revenue: Decimal::ZERO,
            cost: Decimal::ZERO,
            quantity: Decimal::ZERO,
            returns: Decimal::ZERO,
            lines: 0,
            return_lines: 0,
            first: date,
            last: date,
            categories: Vec::new(),
            products: Vec::new(),
        }
    }

    fn merge(&mut self, other: Bucket) {
        self.revenue += other.revenue;
        self.cost += other.cost;
        self.quantity += other.quantity;
        self.returns += other.returns;
        self.lines += other.lines;
        self.return_lines += other.return_lines;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        merge_sorted(&mut self.categories, &other.categories);
        merge_sorted(&mut self.products, &other.products);
    }
}

/// Bucket key: (client index, manager index, month index).
pub type BucketKey = (u32, u32, i32);

/// Names interned to dense ids, local to one worker until merged.
#[derive(Default)]
struct Interner {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }
}

/// One worker's running totals.
#[derive(Default)]
struct Partial {
    buckets: FxHashMap<BucketKey, Bucket>,
    categories: Interner,
    products: Interner,
    rows: u64,
    min_date: Option<Date>,
    max_date: Option<Date>,
    error: Option<LoadError>,
}

impl Partial {
    fn add(&mut self, line: &SaleLine<'_>) {
        // An empty category or product is "unknown", not a value of its own.
        let category = (!line.category.is_empty()).then(|| self.categories.id(line.category));
        let product = (!line.product.is_empty()).then(|| self.products.id(line.product));
        let key = (line.client, line.manager, line.date.month_index().0);
        let b = self
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(line.date));
        b.revenue += line.amount;
        b.cost += line.cost;
        b.quantity += line.quantity;
        b.lines += 1;
        if line.amount.is_sign_negative() && !line.amount.is_zero() {
            b.returns -= line.amount;
            b.return_lines += 1;
        }
        b.first = b.first.min(line.date);
        b.last = b.last.max(line.date);
        if let Some(c) = category {
            insert_sorted(&mut b.categories, c);
        }
        if let Some(p) = product {
            insert_sorted(&mut b.products, p);
        }
        self.min_date = Some(self.min_date.map_or(line.date, |d| d.min(line.date)));
        self.max_date = Some(self.max_date.map_or(line.date, |d| d.max(line.date)));
    }

    fn keep_first_error(&mut self, e: LoadError) {
        let earlier = match &self.error {
            Some(old) => e.line < old.line,
            None => true,
        };
        if earlier {
            self.error = Some(e);
        }
    }

    fn merge(mut self, mut other: Partial) -> Partial {
        if self.buckets.len() < other.buckets.len() {
            std::mem::swap(&mut self, &mut other);
        }
        let cat_map: Vec<u32> = other
            .categories
            .names
            .iter()
            .map(|n| self.categories.id(n))
            .collect();
        let prod_map: Vec<u32> = other
            .products
            .names
            .iter()
            .map(|n| self.products.id(n))
            .collect();
        for (key, mut b) in other.buckets {
            remap(&mut b.categories, &cat_map);
            remap(&mut b.products, &prod_map);
            match self.buckets.get_mut(&key) {
                Some(mine) => mine.merge(b),
                None => {
                    self.buckets.insert(key, b);
                }
            }
        }
        self.rows += other.rows;
        self.min_date = match (self.min_date, other.min_date) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_date = match (self.max_date, other.max_date) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(e) = other.error {
            self.keep_first_error(e);
        }
        self
    }
}

fn remap(ids: &mut Vec<u32>, map: &[u32]) {
    for id in ids.iter_mut() {
        *id = map[*id as usize];
    }
    ids.sort_unstable();
    ids.dedup();
}

/// All sales, bucketed by (client, manager, month), with ids in name order.
#[derive(Debug, Default)]
pub struct MonthlySales {
    /// Buckets sorted by key.
    pub buckets: Vec<(BucketKey, Bucket)>,
    /// Category names; a category id indexes this list (sorted by name).
    pub categories: Vec<String>,
    /// Product names; a product id indexes this list (sorted by name).
    pub products: Vec<String>,
    /// Data rows read.
    pub rows: u64,
    /// Earliest sale date, if any line.
    pub first_date: Option<Date>,
    /// Latest sale date, if any line.
    pub last_date: Option<Date>,
    /// Whether the file had a cost column.
    pub has_cost: bool,
}

/// Streams `sales.csv` from `stream` and aggregates it on the current rayon pool.
pub fn aggregate(
    stream: SalesStream,
    data: &Dataset,
) -> Result<(MonthlySales, InputFile), LoadError> {
    let file = stream.file.clone();
    let columns = stream.columns.clone();
    let (blocks, reader) = stream.into_parts();
    // One accumulator per worker: a worker takes blocks from the shared queue until it is
    // empty, so merging costs one step per thread, not one per block.
    let queue = std::sync::Mutex::new(blocks);
    let workers = rayon::current_num_threads().max(1);
    let partials: Vec<Partial> = (0..workers)
        .into_par_iter()
        .with_max_len(1)
        .map(|_| {
            let mut acc = Partial::default();
            loop {
                let next = match queue.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => break,
                };
                let Ok(block) = next else { break };
                if acc
                    .error
                    .as_ref()
                    .is_some_and(|e| e.line.unwrap_or(0) < block.first_line)
                {
                    continue; // an earlier error is already known; drain the queue
                }
                let result = sales::parse_block(
                    &block,
                    &file,
                    &columns,
                    &data.client_index,
                    &data.manager_index,
                    |line| acc.add(line),
                );
                match result {
                    Ok(rows) => acc.rows += rows,
                    Err(e) => acc.keep_first_error(e),
                }
            }
            acc
        })
        .collect();
    let partial = partials
        .into_iter()
        .reduce(Partial::merge)
        .unwrap_or_default();
    let (sha256, bytes) = reader.finish()?;
    if let Some(e) = partial.error {
        return Err(e);
    }
    let rows = partial.rows;
    Ok((
        finish(partial, columns.has_cost()),
        InputFile {
            name: sales::SALES_FILE.to_string(),
            sha256,
            rows,
            bytes,
        },
    ))
}

/// Renumbers ids in name order and sorts the buckets: the deterministic form.
fn finish(p: Partial, has_cost: bool) -> MonthlySales {
    let (cat_names, cat_map) = sorted_names(p.categories);
    let (prod_names, prod_map) = sorted_names(p.products);
    let mut buckets: Vec<(BucketKey, Bucket)> = p
        .buckets
        .into_iter()
        .map(|(k, mut b)| {
            remap(&mut b.categories, &cat_map);
            remap(&mut b.products, &prod_map);
            (k, b)
        })
        .collect();
    buckets.sort_unstable_by_key(|(k, _)| *k);
    MonthlySales {
        buckets,
        categories: cat_names,
        products: prod_names,
        rows: p.rows,
        first_date: p.min_date,
        last_date: p.max_date,
        has_cost,
    }
}

fn sorted_names(i: Interner) -> (Vec<String>, Vec<u32>) {
    let mut order: Vec<u32> = (0..i.names.len() as u32).collect();
    order.sort_by(|a, b| i.names[*a as usize].cmp(&i.names[*b as usize]));
    let mut map = vec![0u32; i.names.len()];
    for (new, old) in order.iter().enumerate() {
        map[*old as usize] = new as u32;
    }
    let names = order
        .iter()
        .map(|o| i.names[*o as usize].to_string())
        .collect();
    (names, map)
}
