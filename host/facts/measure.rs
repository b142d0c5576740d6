//! The pack's measures inside the sales pass: each line is tested once against every
//! measure's conditions ([`LineMeasures::hits`]), and the measures it meets are added to the
//! line's window segment ([`MeasureSums`]). Sums and counts stay exact; distinct counts keep
//! their ids, so that a manager's count is the size of the union of its accounts' ids.

use super::aggregate::IdSet;
use super::window::{ExactSum, Measured, SumTooLarge};
use crate::load::sales::{SaleLine, SalesColumns};
use crate::pack::measures::{Aggregate, Measure, Test};
use rust_decimal::Decimal;

/// The line field a condition reads.
#[derive(Clone, Copy, Debug)]
enum Field {
    Amount,
    Cost,
    Quantity,
    Product,
    Category,
    /// A slot of [`SaleLine::extra`].
    Extra(usize),
}

/// The measures, resolved against the sales file's columns.
#[derive(Clone, Debug, Default)]
pub struct LineMeasures {
    measures: Vec<(Aggregate, Vec<(Field, Test)>)>,
}

impl LineMeasures {
    /// Resolves each condition's column in `columns`, asking it to carry the extra ones.
    /// Fails naming the measure, the column and the columns there are.
    pub fn resolve(
        measures: &[Measure],
        columns: &mut SalesColumns,
    ) -> Result<LineMeasures, String> {
        let mut out = Vec::new();
        for m in measures {
            let mut conds = Vec::new();
            for c in &m.filter {
                let name = c.column.to_ascii_lowercase();
                let numeric = c.test.numeric();
                let field = match (name.as_str(), numeric) {
                    ("amount", true) => Field::Amount,
                    ("cost", true) => Field::Cost,
                    ("quantity", true) => Field::Quantity,
                    ("product", false) => Field::Product,
                    ("category", false) => Field::Category,
                    ("amount" | "cost" | "quantity", false) => {
                        return Err(format!(
                            "measure '{}': column '{}' is a number; compare it with at_least, above, at_most or below",
                            m.name, c.column
                        ))
                    }
                    _ => match columns.read_extra(&c.column, numeric) {
                        Some(Ok(slot)) => Field::Extra(slot),
                        Some(Err(e)) => return Err(format!("measure '{}': {e}", m.name)),
                        None => {
                            let header = columns.header();
                            let hint = crate::suggest::did_you_mean(
                                &c.column,
                                header.iter().map(|h| h.as_str()),
                            );
                            return Err(format!(
                                "measure '{}' reads column '{}', which the sales do not have (they have {}){hint}",
                                m.name,
                                c.column,
                                header.join(", ")
                            ));
                        }
                    },
                };
                conds.push((field, c.test.clone()));
            }
            out.push((m.of, conds));
        }
        Ok(LineMeasures { measures: out })
    }

    /// Whether there are none (the pass then does no measure work at all).
    pub fn is_empty(&self) -> bool {
        self.measures.is_empty()
    }

    /// How many sums and counts, and how many distinct counts.
    pub fn sizes(&self) -> (usize, usize) {
        let slots = self.slots();
        let distinct = slots.iter().filter(|(of, _)| of.is_distinct()).count();
        (slots.len() - distinct, distinct)
    }

    /// What each measure adds up and its slot in a [`Store`], in order.
    pub fn slots(&self) -> Vec<Slot> {
        slots_of(self.measures.iter().map(|&(of, _)| of))
    }

    /// The measures `line` meets, as bits.
    #[inline]
    pub fn hits(&self, line: &SaleLine<'_>) -> u32 {
        let mut bits = 0;
        for (i, (_, conds)) in self.measures.iter().enumerate() {
            if conds.iter().all(|(f, t)| meets(line, *f, t)) {
                bits |= 1 << i;
            }
        }
        bits
    }
}

#[inline]
fn meets(line: &SaleLine<'_>, field: Field, test: &Test) -> bool {
    match field {
        Field::Amount => test.number(line.amount),
        Field::Cost => test.number(line.cost),
        Field::Quantity => test.number(line.quantity),
        Field::Product => test.text(line.product.as_bytes()),
        Field::Category => test.text(line.category.as_bytes()),
        Field::Extra(slot) if test.numeric() => test.number(line.extra_number[slot]),
        Field::Extra(slot) => test.text(line.extra[slot]),
    }
}

/// Where a measure lives in a segment's [`Store`]: what it adds up and its slot.
pub type Slot = (Aggregate, usize);

/// A window segment's running measures. Each worker's segments hold them inline (no
/// pointer to chase per line); a pack without measures uses `()`, which holds nothing.
pub trait Store: Default + Clone + Send + Sync {
    /// Adds `line` to the measures of `hits`.
    fn add(&mut self, slots: &[Slot], hits: u32, line: &Amounts);
    /// Adds a value computed elsewhere (a facts file) to the measure at `i` of `slots`.
    fn put(&mut self, slots: &[Slot], i: usize, value: Put);
    /// Adds another worker's sums, whose category and product ids go through the maps.
    fn merge(&mut self, slots: &[Slot], other: &Self, cat_map: &[u32], prod_map: &[u32]);
    /// The measures of a segment of `client`'s account, ids in name order.
    fn finish(
        &self,
        slots: &[Slot],
        client: u32,
        cat_map: &[u32],
        prod_map: &[u32],
    ) -> Result<Vec<Measured>, SumTooLarge>;
}

/// What one sales line adds up: its amount, cost and quantity, and its category and product
/// as the worker's ids (`None` when empty).
#[derive(Clone, Copy, Debug)]
pub struct Amounts {
    pub amount: Decimal,
    pub cost: Decimal,
    pub quantity: Decimal,
    pub category: Option<u32>,
    pub product: Option<u32>,
}

/// A measure's value from a facts file, for [`Store::put`].
#[derive(Clone, Copy, Debug)]
pub enum Put {
    /// Added to a sum or count.
    Sum(Decimal),
    /// A product or category id (the worker's), for a distinct count.
    Id(u32),
    /// The client counts for a distinct count of clients.
    Client,
}

/// Each measure's slot in a [`Store`], in order: sums and counts, and distinct counts,
/// numbered apart.
pub fn slots_of(kinds: impl Iterator<Item = Aggregate>) -> Vec<Slot> {
    let (mut sums, mut ids) = (0, 0);
    kinds
        .map(|of| {
            let next = if of.is_distinct() {
                &mut ids
            } else {
                &mut sums
            };
            *next += 1;
            (of, *next - 1)
        })
        .collect()
}

impl Store for () {
    fn put(&mut self, _: &[Slot], _: usize, _: Put) {}
    #[inline]
    fn add(&mut self, _: &[Slot], _: u32, _: &Amounts) {}
    fn merge(&mut self, _: &[Slot], _: &(), _: &[u32], _: &[u32]) {}
    fn finish(
        &self,
        _: &[Slot],
        _: u32,
        _: &[u32],
        _: &[u32],
    ) -> Result<Vec<Measured>, SumTooLarge> {
        Ok(Vec::new())
    }
}

/// The measures of one segment: `S` sums and counts exact, `D` distinct counts (products
/// and categories as bits, clients as a flag: a segment belongs to one account, so one
/// client). The pass picks the smallest store that holds the pack's measures, since every
/// segment of every account carries one.
#[derive(Clone, Debug)]
pub struct Inline<const S: usize, const D: usize> {
    sums: [ExactSum; S],
    ids: [IdSet<4>; D],
}

impl<const S: usize, const D: usize> Default for Inline<S, D> {
    fn default() -> Self {
        Inline {
            sums: [ExactSum::default(); S],
            ids: std::array::from_fn(|_| IdSet::default()),
        }
    }
}

impl<const S: usize, const D: usize> Store for Inline<S, D> {
    #[inline]
    fn add(&mut self, slots: &[Slot], hits: u32, line: &Amounts) {
        for (i, &(kind, slot)) in slots.iter().enumerate() {
            if hits & (1 << i) == 0 {
                continue;
            }
            match kind {
                Aggregate::Amount => self.sums[slot].add(line.amount),
                Aggregate::Cost => self.sums[slot].add(line.cost),
                Aggregate::Quantity => self.sums[slot].add(line.quantity),
                Aggregate::Margin => {
                    self.sums[slot].add(line.amount);
                    self.sums[slot].sub(line.cost);
                }
                Aggregate::Lines => self.sums[slot].add(Decimal::ONE),
                Aggregate::Products => line
                    .product
                    .into_iter()
                    .for_each(|p| self.ids[slot].insert(p)),
                Aggregate::Categories => line
                    .category
                    .into_iter()
                    .for_each(|c| self.ids[slot].insert(c)),
                Aggregate::Clients => self.ids[slot].insert(0),
            }
        }
    }

    fn put(&mut self, slots: &[Slot], i: usize, value: Put) {
        let Some(&(_, slot)) = slots.get(i) else {
            return;
        };
        match value {
            Put::Sum(d) => self.sums[slot].add(d),
            Put::Id(id) => self.ids[slot].insert(id),
            Put::Client => self.ids[slot].insert(0),
        }
    }

    fn merge(&mut self, slots: &[Slot], other: &Self, cat_map: &[u32], prod_map: &[u32]) {
        for &(kind, slot) in slots {
            match kind {
                Aggregate::Products | Aggregate::Categories | Aggregate::Clients => {
                    for id in other.ids[slot].ids() {
                        self.ids[slot].insert(remap(kind, id, cat_map, prod_map));
                    }
                }
                _ => self.sums[slot].merge(&other.sums[slot]),
            }
        }
    }

    fn finish(
        &self,
        slots: &[Slot],
        client: u32,
        cat_map: &[u32],
        prod_map: &[u32],
    ) -> Result<Vec<Measured>, SumTooLarge> {
        slots
            .iter()
            .map(|&(kind, slot)| match kind {
                Aggregate::Products => Ok(Measured::Ids(self.ids[slot].mapped(prod_map))),
                Aggregate::Categories => Ok(Measured::Ids(self.ids[slot].mapped(cat_map))),
                Aggregate::Clients => Ok(Measured::Ids(
                    self.ids[slot]
                        .ids()
                        .next()
                        .map(|_| vec![client])
                        .unwrap_or_default(),
                )),
                _ => self.sums[slot]
                    .to_decimal()
                    .map(Measured::Value)
                    .ok_or(SumTooLarge("a measure")),
            })
            .collect()
    }
}

fn remap(kind: Aggregate, id: u32, cat_map: &[u32], prod_map: &[u32]) -> u32 {
    match kind {
        Aggregate::Products => prod_map[id as usize],
        Aggregate::Categories => cat_map[id as usize],
        _ => id,
    }
}
