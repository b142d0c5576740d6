//! The parallel pass over `sales.csv`: each worker folds blocks of lines straight into the
//! three windows (run period, previous period, year-ago period) of each client–manager
//! account; the workers' accounts are merged at the end.
//!
//! Memory grows with accounts (client–manager pairs), not with sales lines or months: a line
//! outside the three windows only moves its account's first and last purchase dates. Every
//! step is exact and order-free (decimal sums, set unions, min and max), so the result is the
//! same whatever the number of threads; accounts and ids are sorted before use.

use super::accounts::{prefetch, AccountMap, WindowKey};
use super::measure::{slots_of, Amounts, Inline, LineMeasures, Put, Slot, Store};
use super::window::{decimals, insert_sorted, max_opt, min_opt, ExactSum, SumTooLarge, Window};
use super::Account;
use crate::load::fx::{Fx, RateRule, UsedRate};
use crate::load::sales::{self, SaleLine, SalesStream};
use crate::load::{CreditRule, Dataset, IdMap, InputFile, LoadError};
use crate::pack::measures::{Aggregate, Measure, MAX_DISTINCT, MAX_SUMS};
use crate::pack::windows::{Dates, DeclaredWindow};
use crate::period::{Date, Period};
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// The windows a pass aggregates: the run period, the previous period, the year-ago period,
/// then the pack's declared windows, then any period the ledger asks about (late sales).
///
/// Windows may overlap (year to date holds the run period), so the pass sums each line into
/// one *segment*: the date ranges between all windows' bounds, disjoint and sorted. Each
/// window is then the sum of its segments, once per account, not once per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowPlan {
    /// Run period, previous period, year-ago period.
    pub periods: [Period; 3],
    /// Every window's days and label, in index order.
    pub dates: Vec<Dates>,
    /// The declared windows by name: where they start in `dates`.
    pub named: Vec<NamedWindow>,
    /// Disjoint date ranges (start, exclusive end), sorted.
    segments: Vec<(Date, Date)>,
    /// Per window, the segments it is made of.
    cover: Vec<Vec<u16>>,
    /// Lines on or after this date (the run period's end) are not counted at all.
    end: Date,
    /// The pack's measures, computed for every window.
    pub measures: Vec<Measure>,
    /// The pack's currency and how lines in others are converted into it.
    pub currency: (String, RateRule),
}

/// A declared window's place in a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedWindow {
    /// The name rules ask for.
    pub name: String,
    /// Index of its first window.
    pub first: usize,
    /// How many windows (one per month for `each_month`).
    pub count: usize,
    /// Whether rules read it as a list.
    pub list: bool,
}

impl WindowPlan {
    /// The three windows of a run over `period`.
    pub fn new(period: Period) -> WindowPlan {
        WindowPlan::with(period, &[], &[])
    }

    /// The windows of a run over `period` with the pack's declared windows and the
    /// `extra` periods (each becomes a window unless one of the three already is it).
    pub fn with(period: Period, declared: &[DeclaredWindow], extra: &[Period]) -> WindowPlan {
        let periods = [period, period.previous(), period.year_ago()];
        let mut dates: Vec<Dates> = periods.iter().map(|&p| Dates::of(p)).collect();
        let mut named = Vec::new();
        for d in declared {
            let more = d.dates(period);
            named.push(NamedWindow {
                name: d.name.clone(),
                first: dates.len(),
                count: more.len(),
                list: d.is_list(),
            });
            dates.extend(more);
        }
        for &p in extra {
            if !periods.contains(&p) && p.end_date() <= period.start_date() {
                dates.push(Dates::of(p));
            }
        }
        let (segments, cover) = segments_of(&dates, &[]);
        WindowPlan {
            periods,
            dates,
            named,
            segments,
            cover,
            end: period.end_date(),
            measures: Vec::new(),
            currency: (String::new(), RateRule::Daily),
        }
    }

    /// The same plan converting lines in other currencies into `code` under `rule`.
    pub fn converting(self, code: &str, rule: RateRule) -> WindowPlan {
        WindowPlan {
            currency: (code.to_string(), rule),
            ..self
        }
    }

    /// The same plan with segments also cut at `cuts`, so that no segment straddles one
    /// (the dates a client's credit changes).
    pub fn cut_at(self, cuts: &[Date]) -> WindowPlan {
        let (segments, cover) = segments_of(&self.dates, cuts);
        WindowPlan {
            segments,
            cover,
            ..self
        }
    }

    /// The same plan computing the pack's measures for every window.
    pub fn measuring(self, measures: &[Measure]) -> WindowPlan {
        WindowPlan {
            measures: measures.to_vec(),
            ..self
        }
    }

    /// The run period.
    pub fn period(&self) -> Period {
        self.periods[0]
    }

    /// The disjoint date ranges (start, exclusive end) the pass sums each line into.
    pub fn segment_dates(&self) -> &[(Date, Date)] {
        &self.segments
    }

    /// The index of the window that is exactly `p`, if the plan has one.
    pub fn window_of(&self, p: Period) -> Option<usize> {
        let want = Dates::of(p);
        self.dates.iter().position(|d| *d == want)
    }

    /// The segment holding `date`, if any window counts it.
    #[inline]
    fn segment(&self, date: Date) -> Option<u16> {
        let i = self.segments.partition_point(|s| s.0 <= date);
        let (_, end) = *self.segments.get(i.checked_sub(1)?)?;
        (date < end).then(|| (i - 1) as u16)
    }
}

/// The disjoint date ranges between all windows' bounds (and `cuts`) that some window
/// counts, and per window the segments it is made of.
fn segments_of(dates: &[Dates], cuts: &[Date]) -> (Vec<(Date, Date)>, Vec<Vec<u16>>) {
    let mut bounds: Vec<Date> = dates
        .iter()
        .filter(|d| d.start < d.end)
        .flat_map(|d| [d.start, d.end])
        .chain(cuts.iter().copied())
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let covered = |s: Date| dates.iter().any(|d| d.start <= s && s < d.end);
    let segments: Vec<(Date, Date)> = bounds
        .windows(2)
        .map(|b| (b[0], b[1]))
        .filter(|&(s, _)| covered(s))
        .collect();
    let cover = dates
        .iter()
        .map(|d| {
            (0..segments.len() as u16)
                .filter(|&i| d.start <= segments[i as usize].0 && segments[i as usize].1 <= d.end)
                .collect()
        })
        .collect();
    (segments, cover)
}

/// A set of small ids: the first `64 * W` in a bit mask, the rest in a sorted list. Most
/// data sets have a few dozen categories and a few hundred products, which then take no heap.
#[derive(Clone, Debug)]
pub(crate) struct IdSet<const W: usize> {
    low: [u64; W],
    high: Vec<u32>,
}

impl<const W: usize> Default for IdSet<W> {
    fn default() -> Self {
        IdSet {
            low: [0; W],
            high: Vec::new(),
        }
    }
}

impl<const W: usize> IdSet<W> {
    const INLINE: u32 = 64 * W as u32;

    #[inline]
    pub(crate) fn insert(&mut self, id: u32) {
        if id < Self::INLINE {
            self.low[(id / 64) as usize] |= 1 << (id % 64);
        } else {
            insert_sorted(&mut self.high, id);
        }
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..Self::INLINE)
            .filter(move |i| self.low[(i / 64) as usize] & (1 << (i % 64)) != 0)
            .chain(self.high.iter().copied())
    }

    /// The ids mapped through `map`, sorted and distinct.
    pub(crate) fn mapped(&self, map: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = self.ids().map(|i| map[i as usize]).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Running totals of one account in one window.
#[derive(Clone, Debug, Default)]
struct WindowSum<M> {
    revenue: ExactSum,
    cost: ExactSum,
    quantity: ExactSum,
    returns: ExactSum,
    lines: u64,
    return_lines: u64,
    first: Option<Date>,
    last: Option<Date>,
    categories: IdSet<1>,
    products: IdSet<4>,
    measures: M,
}

/// What one sales line adds to its account's totals: kept aside while the account's totals
/// are fetched from memory ([`Partial::add`]).
#[derive(Clone, Copy)]
struct Addend {
    /// The account's index in [`Partial::sums`].
    at: u32,
    date: Date,
    /// The pack's measures the line counts for, as bits.
    hits: u32,
    line: Amounts,
}

impl<M: Store> WindowSum<M> {
    /// Adds one line; `kinds` are the pack's measures.
    #[inline]
    fn add(&mut self, addend: &Addend, kinds: &[Slot]) {
        let (line, date) = (&addend.line, addend.date);
        self.revenue.add(line.amount);
        self.cost.add(line.cost);
        self.quantity.add(line.quantity);
        self.lines += 1;
        if line.amount.is_sign_negative() && !line.amount.is_zero() {
            self.returns.sub(line.amount);
            self.return_lines += 1;
        }
        self.first = Some(self.first.map_or(date, |d| d.min(date)));
        self.last = Some(self.last.map_or(date, |d| d.max(date)));
        if let Some(c) = line.category {
            self.categories.insert(c);
        }
        if let Some(p) = line.product {
            self.products.insert(p);
        }
        if addend.hits != 0 {
            self.measures.add(kinds, addend.hits, line);
        }
    }

    /// Adds `other`, whose category and product ids go through the two maps.
    fn merge(&mut self, other: &WindowSum<M>, kinds: &[Slot], cat_map: &[u32], prod_map: &[u32]) {
        self.measures
            .merge(kinds, &other.measures, cat_map, prod_map);
        self.revenue.merge(&other.revenue);
        self.cost.merge(&other.cost);
        self.quantity.merge(&other.quantity);
        self.returns.merge(&other.returns);
        self.lines += other.lines;
        self.return_lines += other.return_lines;
        self.first = min_opt(self.first, other.first);
        self.last = max_opt(self.last, other.last);
        for c in other.categories.ids() {
            self.categories.insert(cat_map[c as usize]);
        }
        for p in other.products.ids() {
            self.products.insert(prod_map[p as usize]);
        }
    }

    /// The window, or the name of a sum too large for a decimal.
    fn to_window(
        &self,
        kinds: &[Slot],
        client: u32,
        cat_map: &[u32],
        prod_map: &[u32],
    ) -> Result<Window, SumTooLarge> {
        let [revenue, cost, quantity, returns] =
            decimals([self.revenue, self.cost, self.quantity, self.returns])?;
        let measures = if kinds.is_empty() {
            Vec::new()
        } else {
            self.measures.finish(kinds, client, cat_map, prod_map)?
        };
        Ok(Window {
            measures,
            revenue,
            cost,
            quantity,
            returns,
            lines: self.lines,
            return_lines: self.return_lines,
            categories: self.categories.mapped(cat_map),
            products: self.products.mapped(prod_map),
            first: self.first,
            last: self.last,
        })
    }
}

/// Names interned to dense ids, local to one worker until merged.
#[derive(Default)]
struct Interner {
    ids: IdMap,
    names: Vec<Box<str>>,
}

impl Interner {
    #[inline]
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name.as_bytes()) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.as_bytes(), id);
        id
    }
}

/// The ids `ids` maps to, each mapped again through `map`.
fn through(ids: &[u32], map: &[u32]) -> Vec<u32> {
    ids.iter().map(|&i| map[i as usize]).collect()
}

/// A worker's totals, and the maps from its category and product ids to another's.
type Merged<M> = (AccountMap<WindowSum<M>>, Vec<u32>, Vec<u32>);

/// A line on its way into the totals ([`Partial::add`]): its client and date, and its account
/// and what it adds to it when the line is in a window.
#[derive(Clone, Copy)]
struct Incoming {
    client: u32,
    date: Date,
    account: Option<(WindowKey, Addend)>,
}

/// One worker's running totals.
struct Partial<'p, M> {
    plan: &'p WindowPlan,
    /// The pack's measures, resolved against the file's columns.
    measures: &'p LineMeasures,
    kinds: &'p [Slot],
    /// The totals, per account and segment.
    sums: AccountMap<WindowSum<M>>,
    /// Other workers' totals, merged in by [`finish`] (in parallel), with maps from their
    /// category and product ids to this worker's.
    others: Vec<Merged<M>>,
    /// The last line whose account was looked up, added once its totals have been fetched.
    pending: Option<Addend>,
    /// The last line read, taken in once its client dates and account head have been
    /// fetched.
    incoming: Option<Incoming>,
    /// Per client: earliest and latest line before the run period's end.
    client_dates: Vec<Option<(Date, Date)>>,
    categories: Interner,
    products: Interner,
    rows: u64,
    min_date: Option<Date>,
    max_date: Option<Date>,
    error: Option<LoadError>,
    /// Which exchange rates converted a counted line.
    rates_used: Vec<bool>,
}

impl<'p, M: Store> Partial<'p, M> {
    fn new(
        plan: &'p WindowPlan,
        measures: &'p (LineMeasures, Vec<Slot>),
        clients: usize,
        rates: usize,
    ) -> Partial<'p, M> {
        Partial {
            plan,
            measures: &measures.0,
            kinds: &measures.1,
            sums: AccountMap::new(clients, plan.segments.len()),
            others: Vec::new(),
            pending: None,
            incoming: None,
            client_dates: vec![None; clients],
            categories: Interner::default(),
            products: Interner::default(),
            rows: 0,
            min_date: None,
            max_date: None,
            error: None,
            rates_used: vec![false; rates],
        }
    }

    /// Adds one line in three steps, each a line apart, so that its memory loads overlap the
    /// reading of the next lines: the line's client dates and account head are asked for
    /// first ([`Incoming`]), its account's totals next ([`Partial::take_in`]), and it is
    /// added to them last. The totals of 100,000s of accounts and the heads of 20,000s of
    /// clients do not fit a cache, and waiting for them was most of the pass's time.
    #[inline]
    fn add(&mut self, line: &SaleLine<'_>) {
        let date = line.date;
        self.min_date = Some(self.min_date.map_or(date, |d| d.min(date)));
        self.max_date = Some(self.max_date.map_or(date, |d| d.max(date)));
        if date >= self.plan.end {
            return; // after the run period: only the date range counts
        }
        let Some(segment) = self.plan.segment(date) else {
            // In no window: only the client's dates count.
            self.expect(Incoming {
                client: line.client,
                date,
                account: None,
            });
            return;
        };
        if line.rate != sales::NO_RATE {
            self.rates_used[line.rate as usize] = true;
        }
        // An empty category or product is "unknown", not a value of its own.
        let category = (!line.category.is_empty()).then(|| self.categories.id(line.category));
        let product = (!line.product.is_empty()).then(|| self.products.id(line.product));
        let hits = if self.measures.is_empty() {
            0
        } else {
            self.measures.hits(line)
        };
        let key = (line.client, line.manager, segment);
        let addend = Addend {
            at: 0, // looked up in take_in
            date,
            hits,
            line: Amounts {
                amount: line.amount,
                cost: line.cost,
                quantity: line.quantity,
                category,
                product,
            },
        };
        self.expect(Incoming {
            client: line.client,
            date,
            account: Some((key, addend)),
        });
    }

    /// Asks for `line`'s client dates and account head, and takes in the line before.
    #[inline]
    fn expect(&mut self, line: Incoming) {
        prefetch(self.client_dates.get(line.client as usize));
        if let Some((key, _)) = line.account {
            self.sums.prefetch_head(key);
        }
        if let Some(before) = self.incoming.replace(line) {
            self.take_in(before);
        }
    }

    /// Counts `line`'s date for its client and looks its account up; the account's totals
    /// are asked for, and the line taken in before is added to its own.
    #[inline]
    fn take_in(&mut self, line: Incoming) {
        self.client_seen(line.client, line.date);
        let Some((key, mut addend)) = line.account else {
            return;
        };
        addend.at = self.sums.index(key);
        self.sums.prefetch(addend.at);
        if let Some(before) = self.pending.replace(addend) {
            self.sums.at(before.at).add(&before, self.kinds);
        }
    }

    /// Widens `client`'s earliest and latest line date to `date`.
    #[inline]
    fn client_seen(&mut self, client: u32, date: Date) {
        let dates = &mut self.client_dates[client as usize];
        *dates = Some(dates.map_or((date, date), |(f, l)| (f.min(date), l.max(date))));
    }

    /// Adds the lines still on their way, if any.
    fn flush(&mut self) {
        if let Some(line) = self.incoming.take() {
            self.take_in(line);
        }
        if let Some(before) = self.pending.take() {
            self.sums.at(before.at).add(&before, self.kinds);
        }
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

    fn merge(mut self, mut other: Partial<'p, M>) -> Partial<'p, M> {
        if self.sums.len() < other.sums.len() {
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
        for (sums, cats, prods) in other.others {
            self.others
                .push((sums, through(&cats, &cat_map), through(&prods, &prod_map)));
        }
        self.others.push((other.sums, cat_map, prod_map));
        for (mine, theirs) in self.client_dates.iter_mut().zip(other.client_dates) {
            *mine = match (*mine, theirs) {
                (Some((f, l)), Some((g, m))) => Some((f.min(g), l.max(m))),
                (a, b) => a.or(b),
            };
        }
        for (mine, theirs) in self.rates_used.iter_mut().zip(other.rates_used) {
            *mine |= theirs;
        }
        self.rows += other.rows;
        self.min_date = min_opt(self.min_date, other.min_date);
        self.max_date = max_opt(self.max_date, other.max_date);
        if let Some(e) = other.error {
            self.keep_first_error(e);
        }
        self
    }
}

/// All sales, summed per account over the windows of one [`WindowPlan`], ids in name order.
#[derive(Debug)]
pub struct SalesTotals {
    /// The windows the totals are for.
    pub plan: WindowPlan,
    /// Accounts with sales in at least one window, and each client's owner's account even
    /// without sales (so owned clients stay in view), sorted by (client, manager).
    pub accounts: Vec<Account>,
    /// Per client whose credit is split or overlaid: its own windows (every line once),
    /// which the sum of its accounts no longer is. Sorted by client.
    pub sold: Vec<(u32, super::Windows)>,
    /// Per client: the earliest and latest sale before the run period's end.
    pub client_dates: Vec<Option<(Date, Date)>>,
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
    /// The exchange rates that converted counted lines, in `fx_rates.csv` order.
    pub rates: Vec<UsedRate>,
}

/// Streams `sales.csv` from `stream` and sums it into the windows of `plan`, on the current
/// rayon pool.
pub fn aggregate(
    stream: SalesStream,
    data: &Dataset,
    plan: WindowPlan,
) -> Result<(SalesTotals, InputFile), LoadError> {
    let file = stream.file.clone();
    let mut stream = stream;
    stream
        .columns
        .check_manager(&file, !data.owners.is_empty())?;
    // A client's credit may change within a window: cut the segments there.
    let plan = if data.has_credits() {
        let mut cuts: Vec<Date> = data
            .credits
            .values()
            .flatten()
            .flat_map(|r| [Some(r.from), r.until])
            .flatten()
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        plan.cut_at(&cuts)
    } else {
        plan
    };
    if plan.segments.len() > u16::MAX as usize {
        return Err(LoadError::file(
            &data.credits_file,
            format!(
                "credit changes on too many dates within the run's windows (the windows fall into {} ranges; at most {})",
                plan.segments.len(),
                u16::MAX
            ),
        ));
    }
    let resolved = LineMeasures::resolve(&plan.measures, &mut stream.columns)
        .map_err(|m| LoadError::file(&file, m))?;
    let slots = resolved.slots();
    let m = (resolved, slots);
    // The smallest store that holds the measures: every segment carries one.
    match m.0.sizes() {
        (0, 0) => aggregate_with::<()>(stream, data, plan, m),
        (0..=2, 0..=1) => aggregate_with::<Inline<2, 1>>(stream, data, plan, m),
        (0..=4, 0..=2) => aggregate_with::<Inline<4, 2>>(stream, data, plan, m),
        _ => aggregate_with::<Inline<{ MAX_SUMS }, { MAX_DISTINCT }>>(stream, data, plan, m),
    }
}

/// [`aggregate`] with measures held in `M`.
fn aggregate_with<M: Store>(
    stream: SalesStream,
    data: &Dataset,
    plan: WindowPlan,
    measures: (LineMeasures, Vec<Slot>),
) -> Result<(SalesTotals, InputFile), LoadError> {
    let file = &stream.file.clone();
    let columns = &stream.columns;
    let clients: IdMap = data
        .client_index
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let managers: IdMap = data
        .manager_index
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let fx = match columns.has_currency() {
        true => Some(Fx::new(data, &plan.currency.0, plan.currency.1)?),
        false => None,
    };
    let rates = fx.as_ref().map_or(0, |f| f.rates.len());
    let ids = sales::LineIds {
        clients: &clients,
        managers: &managers,
        data,
        fx: fx.as_ref(),
    };
    // One accumulator per worker: a worker reads the next block and parses it, until the
    // file ends, so merging costs one step per thread, not one per block.
    let workers = rayon::current_num_threads().max(1);
    let partials: Vec<Partial<M>> = (0..workers)
        .into_par_iter()
        .with_max_len(1)
        .map(|_| {
            let mut acc = Partial::new(&plan, &measures, data.clients.len(), rates);
            let mut used = None;
            loop {
                let block = match stream.next_block(used.take()) {
                    Ok(Some(block)) => block,
                    Ok(None) => break,
                    Err(e) => {
                        acc.keep_first_error(e);
                        break;
                    }
                };
                let known_earlier = acc
                    .error
                    .as_ref()
                    .is_some_and(|e| e.line.unwrap_or(0) < block.first_line);
                if !known_earlier {
                    let result =
                        sales::parse_block(&block, file, columns, &ids, |line| acc.add(line));
                    match result {
                        Ok(rows) => acc.rows += rows,
                        Err(e) => acc.keep_first_error(e),
                    }
                }
                used = Some(block.bytes);
            }
            acc.flush();
            acc
        })
        .collect();
    let partial = partials
        .into_iter()
        .reduce(Partial::merge)
        .unwrap_or_else(|| Partial::new(&plan, &measures, data.clients.len(), rates));
    if let Some(e) = partial.error {
        return Err(e);
    }
    let has_cost = columns.has_cost();
    let name = columns.file_name().to_string();
    let (sha256, bytes) = stream.finish()?;
    let rows = partial.rows;
    let used: Vec<UsedRate> = match &fx {
        Some(fx) => (fx.rates.iter().zip(&partial.rates_used))
            .filter(|(_, used)| **used)
            .map(|(r, _)| r.clone())
            .collect(),
        None => Vec::new(),
    };
    let period = plan.period();
    let owners: Vec<(u32, u32)> = (0..data.clients.len() as u32)
        .filter_map(|i| Some((i, data.owner_for(i, period)?)))
        .collect();
    let mut totals = finish(partial, has_cost, &owners, &data.credits).map_err(
        |(client, manager, w, what)| {
            let client = &data.clients[client as usize].id;
            let whose = match data.managers.get(manager as usize) {
                Some(m) => format!("client {client} with manager {}", m.id),
                None => format!("client {client}"),
            };
            LoadError::file(file, what.message(&whose, &plan.dates[w].label))
        },
    )?;
    totals.rates = used;
    Ok((
        totals,
        InputFile {
            name,
            sha256,
            rows,
            bytes,
        },
    ))
}

/// One account's segment as an engine computed it (a `segment` row of a facts file).
#[derive(Clone, Debug, Default)]
pub struct SegmentFact {
    /// Client index.
    pub client: u32,
    /// Manager index.
    pub manager: u32,
    /// Index in [`WindowPlan::segment_dates`].
    pub segment: u16,
    /// The totals; categories and products are left empty, their names are below.
    pub window: Window,
    /// Category names bought.
    pub categories: Vec<String>,
    /// Product names bought.
    pub products: Vec<String>,
    /// The pack's measures, in order.
    pub measures: Vec<MeasureFact>,
}

/// A measure's value in a facts file.
#[derive(Clone, Debug)]
pub enum MeasureFact {
    /// A sum or count.
    Sum(Decimal),
    /// The distinct product or category names.
    Names(Vec<String>),
    /// Whether the client counts, for a distinct count of clients.
    Client(bool),
}

/// What a facts file says beside its segments.
#[derive(Clone, Debug, Default)]
pub struct RunFact {
    /// Sales lines the engine read.
    pub rows: u64,
    /// The earliest and latest sale date of all lines.
    pub dates: Option<(Date, Date)>,
    /// Per client: the earliest and latest sale before the run period's end.
    pub client_dates: Vec<Option<(Date, Date)>>,
}

/// The totals a pass over the sales would have made, from segments summed elsewhere
/// (`bonusrun run --facts`): the same renumbering, crediting and window sums as the pass.
pub fn from_segments(
    data: &Dataset,
    plan: WindowPlan,
    run: RunFact,
    segments: Vec<SegmentFact>,
) -> Result<SalesTotals, String> {
    let slots = slots_of(plan.measures.iter().map(|m| m.of));
    let distinct = slots.iter().filter(|(of, _)| of.is_distinct()).count();
    match (slots.len() - distinct, distinct) {
        (0, 0) => from_segments_with::<()>(data, &plan, run, segments, slots),
        (0..=2, 0..=1) => from_segments_with::<Inline<2, 1>>(data, &plan, run, segments, slots),
        (0..=4, 0..=2) => from_segments_with::<Inline<4, 2>>(data, &plan, run, segments, slots),
        _ => from_segments_with::<Inline<{ MAX_SUMS }, { MAX_DISTINCT }>>(
            data, &plan, run, segments, slots,
        ),
    }
}

fn from_segments_with<M: Store>(
    data: &Dataset,
    plan: &WindowPlan,
    run: RunFact,
    segments: Vec<SegmentFact>,
    slots: Vec<Slot>,
) -> Result<SalesTotals, String> {
    let measures = (LineMeasures::default(), slots);
    let mut p: Partial<M> = Partial::new(plan, &measures, data.clients.len(), 0);
    p.rows = run.rows;
    p.min_date = run.dates.map(|d| d.0);
    p.max_date = run.dates.map(|d| d.1);
    p.client_dates = run.client_dates;
    for f in segments {
        let w = &f.window;
        let mut sum = WindowSum::<M>::default();
        sum.revenue.add(w.revenue);
        sum.cost.add(w.cost);
        sum.quantity.add(w.quantity);
        sum.returns.add(w.returns);
        (sum.lines, sum.return_lines) = (w.lines, w.return_lines);
        (sum.first, sum.last) = (w.first, w.last);
        for c in &f.categories {
            sum.categories.insert(p.categories.id(c));
        }
        for name in &f.products {
            sum.products.insert(p.products.id(name));
        }
        for (i, m) in f.measures.iter().enumerate() {
            match m {
                MeasureFact::Sum(d) => sum.measures.put(&measures.1, i, Put::Sum(*d)),
                MeasureFact::Client(true) => sum.measures.put(&measures.1, i, Put::Client),
                MeasureFact::Client(false) => {}
                MeasureFact::Names(names) => {
                    let ids = match measures.1[i].0 {
                        Aggregate::Categories => &mut p.categories,
                        _ => &mut p.products,
                    };
                    for n in names {
                        let id = ids.id(n);
                        sum.measures.put(&measures.1, i, Put::Id(id));
                    }
                }
            }
        }
        *p.sums.entry((f.client, f.manager, f.segment)) = sum;
    }
    // Each client's owner keeps an account even without sales, as in the pass.
    let period = plan.period();
    let owners: Vec<(u32, u32)> = (0..data.clients.len() as u32)
        .filter_map(|i| Some((i, data.owner_for(i, period)?)))
        .collect();
    finish(p, true, &owners, &data.credits).map_err(|(client, manager, w, what)| {
        let client = &data.clients[client as usize].id;
        let whose = match data.managers.get(manager as usize) {
            Some(m) => format!("client {client} with manager {}", m.id),
            None => format!("client {client}"),
        };
        what.message(&whose, &plan.dates[w].label)
    })
}

/// One client's accounts while they are built: manager, and per segment its window.
type Segments = Vec<(u32, Vec<Option<Window>>)>;

/// A sum too large for a decimal: client, manager, window and what.
type Failed = (u32, u32, usize, SumTooLarge);

/// Accounts and credited clients' own windows of a range of clients.
type Finished = (Vec<Account>, Vec<(u32, super::Windows)>);

/// Renumbers ids in name order, sorts the accounts and sums each account's segments into
/// its windows, crediting split and overlay shares: the deterministic form. Fails with the
/// account, window and column of a sum too large for a decimal (the first in client order).
///
/// Clients are finished in ranges on the current rayon pool, since each client's accounts
/// depend on its own sums only; the ranges are joined in client order.
fn finish<M: Store>(
    p: Partial<'_, M>,
    has_cost: bool,
    owners: &[(u32, u32)],
    credits: &FxHashMap<u32, Vec<CreditRule>>,
) -> Result<SalesTotals, Failed> {
    let plan = p.plan;
    let (cat_names, cat_map) = sorted_names(p.categories);
    let (prod_names, prod_map) = sorted_names(p.products);
    let scales: Vec<bool> = plan
        .measures
        .iter()
        .map(|m| m.of.scales_with_credit())
        .collect();
    // Every worker's totals, each with its maps to ids in name order.
    let mut maps = vec![(cat_map, prod_map)];
    let mut sums: Vec<(WindowKey, WindowSum<M>)> = p.sums.into_entries().collect();
    let mut part = vec![0u32; sums.len()];
    for (i, (theirs, cats, prods)) in p.others.into_iter().enumerate() {
        let (cat_map, prod_map) = &maps[0];
        maps.push((through(&cats, cat_map), through(&prods, prod_map)));
        sums.extend(theirs.into_entries());
        part.resize(sums.len(), (i + 1) as u32);
    }
    // Sort the keys with an index rather than the totals themselves, which are large.
    let mut order: Vec<(WindowKey, u32)> = (sums.iter().enumerate())
        .map(|(i, (k, _))| (*k, i as u32))
        .collect();
    use rayon::slice::ParallelSliceMut;
    order.par_sort_unstable();
    let same = (
        (0..cat_names.len() as u32).collect(),
        (0..prod_names.len() as u32).collect(),
    );
    let clients = Clients {
        plan,
        kinds: p.kinds,
        maps: &maps,
        same: &same,
        part: &part,
        scales: &scales,
        credits,
        sums: &sums,
    };
    let ranges = client_ranges(&order, owners, rayon::current_num_threads() * 8);
    let done: Vec<Result<Finished, Failed>> = ranges
        .into_par_iter()
        .map(|(order, owners)| clients.finish(order, owners))
        .collect();
    let mut accounts: Vec<Account> = Vec::with_capacity(order.len() + owners.len());
    let mut sold = Vec::new();
    for range in done {
        let (a, s) = range?;
        accounts.extend(a);
        sold.extend(s);
    }
    Ok(SalesTotals {
        plan: plan.clone(),
        accounts,
        sold,
        client_dates: p.client_dates,
        categories: cat_names,
        products: prod_names,
        rows: p.rows,
        first_date: p.min_date,
        last_date: p.max_date,
        has_cost,
        rates: Vec::new(),
    })
}

/// A range of clients: its accounts' keys with their index in the totals, and its owners.
type ClientRange<'a> = (&'a [(WindowKey, u32)], &'a [(u32, u32)]);

/// `order` and `owners` (both sorted by client) cut into about `n` ranges of whole clients.
fn client_ranges<'a>(
    order: &'a [(WindowKey, u32)],
    owners: &'a [(u32, u32)],
    n: usize,
) -> Vec<ClientRange<'a>> {
    // The first entry of each range, in `order`; a range starts at a client's first entry.
    let mut cuts = vec![0usize];
    for k in 1..n.max(1) {
        let Some(&((client, _, _), _)) = order.get(k * order.len() / n) else {
            break;
        };
        let at = order.partition_point(|e| e.0 .0 < client);
        if at > *cuts.last().unwrap_or(&0) {
            cuts.push(at);
        }
    }
    let owner_cut = |i: usize| match cuts.get(i) {
        Some(&at) if i > 0 => owners.partition_point(|o| o.0 < order[at].0 .0),
        Some(_) => 0,
        None => owners.len(),
    };
    (0..cuts.len())
        .map(|i| {
            let end = cuts.get(i + 1).copied().unwrap_or(order.len());
            (
                &order[cuts[i]..end],
                &owners[owner_cut(i)..owner_cut(i + 1)],
            )
        })
        .collect()
}

/// What finishing a client needs, shared by the ranges.
struct Clients<'a, M> {
    plan: &'a WindowPlan,
    kinds: &'a [Slot],
    /// Per worker: its category and product ids to ids in name order.
    maps: &'a [(Vec<u32>, Vec<u32>)],
    /// The maps of ids already in name order.
    same: &'a (Vec<u32>, Vec<u32>),
    /// Per entry of `sums`: the worker it is from.
    part: &'a [u32],
    scales: &'a [bool],
    credits: &'a FxHashMap<u32, Vec<CreditRule>>,
    sums: &'a [(WindowKey, WindowSum<M>)],
}

impl<M: Store> Clients<'_, M> {
    /// The accounts of every client in `order` or `owners` (one range of clients).
    fn finish(
        &self,
        order: &[(WindowKey, u32)],
        owners: &[(u32, u32)],
    ) -> Result<Finished, Failed> {
        let (mut accounts, mut sold) = (Vec::new(), Vec::new());
        let mut owned = owners.iter().copied().peekable();
        let mut i = 0;
        loop {
            let client = match (order.get(i).map(|e| e.0 .0), owned.peek()) {
                (Some(c), Some(&(o, _))) => c.min(o),
                (Some(c), None) => c,
                (None, Some(&(o, _))) => o,
                (None, None) => break,
            };
            let n = order[i..].partition_point(|e| e.0 .0 == client);
            let owner = owned.next_if(|&(o, _)| o == client).map(|(_, m)| m);
            let (mine, own) = self.client(client, &order[i..i + n], owner)?;
            i += n;
            for (manager, segments) in mine {
                let windows = windows_from_segments(self.plan, segments)
                    .map_err(|(w, what)| (client, manager, w, what))?;
                accounts.push(Account {
                    client,
                    manager,
                    windows,
                });
            }
            sold.extend(own);
        }
        Ok((accounts, sold))
    }

    /// The window of one account's segment from its workers' totals (at `entries`).
    fn window(&self, client: u32, entries: &[(WindowKey, u32)]) -> Result<Window, SumTooLarge> {
        let maps = |k: u32| {
            let (cats, prods) = &self.maps[self.part[k as usize] as usize];
            (&cats[..], &prods[..])
        };
        if let [(_, k)] = entries {
            let (cats, prods) = maps(*k);
            return self.sums[*k as usize]
                .1
                .to_window(self.kinds, client, cats, prods);
        }
        let mut sum = WindowSum::<M>::default();
        for &(_, k) in entries {
            let (cats, prods) = maps(k);
            sum.merge(&self.sums[k as usize].1, self.kinds, cats, prods);
        }
        sum.to_window(self.kinds, client, &self.same.0, &self.same.1)
    }

    /// One client's accounts by segment from its sums (`entries`, sorted by manager and
    /// segment), with its owner's account even without sales, credited; and, for a
    /// credited client, its own windows.
    #[allow(clippy::type_complexity)]
    fn client(
        &self,
        client: u32,
        entries: &[(WindowKey, u32)],
        owner: Option<u32>,
    ) -> Result<(Segments, Option<(u32, super::Windows)>), Failed> {
        let (plan, n) = (self.plan, self.plan.segments.len());
        let mut mine: Segments = Vec::new();
        let mut rest = entries;
        while let Some(&((_, m, segment), _)) = rest.first() {
            let n_same = rest.partition_point(|e| e.0 == (client, m, segment));
            let (same, after) = rest.split_at(n_same);
            rest = after;
            let w = first_cover(plan, segment);
            let window = self
                .window(client, same)
                .map_err(|what| (client, m, w, what))?;
            if mine.last().map(|x| x.0) != Some(m) {
                mine.push((m, vec![None; n]));
            }
            if let Some(last) = mine.last_mut() {
                last.1[segment as usize] = Some(window);
            }
        }
        // The owner's account, even without sales, so that owned clients stay in view.
        if let Some(m) = owner {
            if let Err(at) = mine.binary_search_by_key(&m, |x| x.0) {
                mine.insert(at, (m, vec![None; n]));
            }
        }
        let Some(rules) = self.credits.get(&client) else {
            return Ok((mine, None));
        };
        let all: Vec<Option<Window>> = (0..n)
            .map(|s| segment_total(mine.iter().map(|(_, v)| v), s))
            .collect::<Result<_, _>>()
            .map_err(|what| (client, u32::MAX, 0, what))?;
        let windows =
            windows_from_segments(plan, all).map_err(|(w, what)| (client, u32::MAX, w, what))?;
        let mine = credit(plan, mine, rules, owner, self.scales)
            .map_err(|(m, s, what)| (client, m, first_cover(plan, s as u16), what))?;
        Ok((mine, Some((client, windows))))
    }
}

/// The sum of one segment over a client's accounts (`None` when none sold in it).
fn segment_total<'a>(
    accounts: impl Iterator<Item = &'a Vec<Option<Window>>>,
    s: usize,
) -> Result<Option<Window>, SumTooLarge> {
    let parts: Vec<&Window> = accounts.filter_map(|v| v[s].as_ref()).collect();
    match parts.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Window::sum(many.iter().copied()).map(Some),
    }
}

/// A client's accounts credited by its rules: in each segment a split moves the client's
/// sales from the managers on the lines to the split's managers, at their shares, and each
/// overlay adds its share on top. A manager left with nothing (and not the owner) has no
/// account. Fails with the manager and segment of a credited sum too large for a decimal.
fn credit(
    plan: &WindowPlan,
    mine: Segments,
    rules: &[CreditRule],
    owner: Option<u32>,
    scales: &[bool],
) -> Result<Segments, (u32, usize, SumTooLarge)> {
    let n = plan.segments.len();
    let mut out: std::collections::BTreeMap<u32, Vec<Option<Window>>> = mine.into_iter().collect();
    for s in 0..n {
        let start = plan.segments[s].0;
        let split = rules.iter().find(|r| !r.overlay && r.holds(start));
        let overlays: Vec<&CreditRule> = rules
            .iter()
            .filter(|r| r.overlay && r.holds(start))
            .collect();
        if split.is_none() && overlays.is_empty() {
            continue;
        }
        let total = segment_total(out.values(), s).map_err(|what| (u32::MAX, s, what))?;
        let Some(total) = total else { continue };
        let mut shares: Vec<(u32, Decimal)> = Vec::new();
        if let Some(r) = split {
            for v in out.values_mut() {
                v[s] = None;
            }
            shares.extend(&r.shares);
        }
        shares.extend(overlays.iter().map(|r| r.shares[0]));
        for (m, share) in shares {
            let part = total.scaled(share, scales).map_err(|what| (m, s, what))?;
            let slot = &mut out.entry(m).or_insert_with(|| vec![None; n])[s];
            *slot = Some(match slot.take() {
                Some(had) => Window::sum([&had, &part]).map_err(|what| (m, s, what))?,
                None => part,
            });
        }
    }
    Ok(out
        .into_iter()
        .filter(|(m, v)| Some(*m) == owner || v.iter().any(Option::is_some))
        .collect())
}

/// The first window made of `segment`, to name it in a message.
fn first_cover(plan: &WindowPlan, segment: u16) -> usize {
    plan.cover
        .iter()
        .position(|c| c.contains(&segment))
        .unwrap_or(0)
}

/// One account's windows from its segments: a window of one segment takes it (moved when no
/// other window needs it), a window of several is their sum.
fn windows_from_segments(
    plan: &WindowPlan,
    mut segments: Vec<Option<Window>>,
) -> Result<Vec<Window>, (usize, SumTooLarge)> {
    let mut uses = vec![0usize; segments.len()];
    for c in &plan.cover {
        for &s in c {
            uses[s as usize] += 1;
        }
    }
    let mut out = Vec::with_capacity(plan.cover.len());
    for (w, cover) in plan.cover.iter().enumerate() {
        let window = match cover.as_slice() {
            [] => Window::default(),
            [s] => {
                let s = *s as usize;
                uses[s] -= 1;
                if uses[s] == 0 {
                    segments[s].take().unwrap_or_default()
                } else {
                    segments[s].clone().unwrap_or_default()
                }
            }
            many => {
                let sum = Window::sum(many.iter().filter_map(|&s| segments[s as usize].as_ref()))
                    .map_err(|what| (w, what))?;
                for &s in many {
                    uses[s as usize] -= 1;
                }
                sum
            }
        };
        out.push(window);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_keep_low_and_high_ids() {
        let mut s = IdSet::<1>::default();
        for id in [70, 3, 64, 3, 0, 63, 70] {
            s.insert(id);
        }
        assert_eq!(s.ids().collect::<Vec<_>>(), vec![0, 3, 63, 64, 70]);
        let map: Vec<u32> = (0..71).rev().collect();
        assert_eq!(s.mapped(&map), vec![0, 6, 7, 67, 70]);
    }
}
