//! The pack's measures inside the sales pass: each line is tested once against every
//! measure's conditions ([`LineMeasures::hits`]), and the measures it meets are added to the
//! line's window segment ([`MeasureSums`]). Sums and counts stay exact; distinct counts keep
//! their ids, so that a manager's count is the size of the union of its accounts' ids.

use super::window::{insert_sorted, ExactSum, Measured, SumTooLarge};
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

    /// What each measure adds up, in order.
    pub fn kinds(&self) -> Vec<Aggregate> {
        self.measures.iter().map(|(of, _)| *of).collect()
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

/// One window segment's running measures.
#[derive(Clone, Debug, Default)]
pub struct MeasureSums(Vec<(ExactSum, Vec<u32>)>);

impl MeasureSums {
    /// Adds `line` to the measures of `hits`; `category` and `product` are the worker's ids.
    #[inline]
    pub fn add(
        &mut self,
        kinds: &[Aggregate],
        hits: u32,
        line: &SaleLine<'_>,
        category: Option<u32>,
        product: Option<u32>,
    ) {
        if self.0.len() < kinds.len() {
            self.0.resize_with(kinds.len(), Default::default);
        }
        for (i, (&kind, (sum, ids))) in kinds.iter().zip(self.0.iter_mut()).enumerate() {
            if hits & (1 << i) == 0 {
                continue;
            }
            match kind {
                Aggregate::Amount => sum.add(line.amount),
                Aggregate::Cost => sum.add(line.cost),
                Aggregate::Quantity => sum.add(line.quantity),
                Aggregate::Margin => {
                    sum.add(line.amount);
                    sum.sub(line.cost);
                }
                Aggregate::Lines => sum.add(Decimal::ONE),
                Aggregate::Products => product.into_iter().for_each(|p| insert_sorted(ids, p)),
                Aggregate::Categories => category.into_iter().for_each(|c| insert_sorted(ids, c)),
                Aggregate::Clients => insert_sorted(ids, line.client),
            }
        }
    }

    /// Adds another worker's sums, whose category and product ids go through the maps.
    pub fn merge(
        &mut self,
        kinds: &[Aggregate],
        other: &MeasureSums,
        cat_map: &[u32],
        prod_map: &[u32],
    ) {
        if self.0.len() < other.0.len() {
            self.0.resize_with(other.0.len(), Default::default);
        }
        for ((kind, (sum, ids)), (their_sum, their_ids)) in
            kinds.iter().zip(self.0.iter_mut()).zip(&other.0)
        {
            sum.merge(their_sum);
            for &id in their_ids {
                insert_sorted(ids, remap(*kind, id, cat_map, prod_map));
            }
        }
    }

    /// The measures of a window, ids in name order.
    pub fn finish(
        self,
        kinds: &[Aggregate],
        cat_map: &[u32],
        prod_map: &[u32],
    ) -> Result<Vec<Measured>, SumTooLarge> {
        let mut sums = self.0;
        sums.resize_with(kinds.len(), Default::default);
        kinds
            .iter()
            .zip(sums)
            .map(|(&kind, (sum, ids))| match kind {
                Aggregate::Products | Aggregate::Categories | Aggregate::Clients => {
                    let mut ids: Vec<u32> = ids
                        .iter()
                        .map(|&i| remap(kind, i, cat_map, prod_map))
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    Ok(Measured::Ids(ids))
                }
                _ => sum
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
