//! A [`Window`]: the sales totals of one client, manager, client–manager pair or the whole
//! company over one period.

use super::aggregate::Bucket;
use crate::period::Date;
use rust_decimal::Decimal;

/// Sales totals over one period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// Net revenue: the sum of amounts (returns are negative amounts).
    pub revenue: Decimal,
    /// Cost of goods.
    pub cost: Decimal,
    /// Sum of quantities.
    pub quantity: Decimal,
    /// Returned revenue, as a positive number.
    pub returns: Decimal,
    /// Number of sales lines.
    pub lines: u64,
    /// Number of return lines (negative amounts).
    pub return_lines: u64,
    /// Category ids bought (sorted, distinct).
    pub categories: Vec<u32>,
    /// Product ids bought (sorted, distinct).
    pub products: Vec<u32>,
    /// First line date in the period.
    pub first: Option<Date>,
    /// Last line date in the period.
    pub last: Option<Date>,
}

impl Window {
    /// Revenue minus cost.
    pub fn margin(&self) -> Decimal {
        self.revenue - self.cost
    }

    /// Adds a monthly bucket.
    pub fn add_bucket(&mut self, b: &Bucket) {
        self.revenue += b.revenue;
        self.cost += b.cost;
        self.quantity += b.quantity;
        self.returns += b.returns;
        self.lines += b.lines;
        self.return_lines += b.return_lines;
        merge_sorted(&mut self.categories, &b.categories);
        merge_sorted(&mut self.products, &b.products);
        self.first = Some(self.first.map_or(b.first, |d| d.min(b.first)));
        self.last = Some(self.last.map_or(b.last, |d| d.max(b.last)));
    }

    /// Adds another window.
    pub fn add(&mut self, w: &Window) {
        self.revenue += w.revenue;
        self.cost += w.cost;
        self.quantity += w.quantity;
        self.returns += w.returns;
        self.lines += w.lines;
        self.return_lines += w.return_lines;
        merge_sorted(&mut self.categories, &w.categories);
        merge_sorted(&mut self.products, &w.products);
        self.first = min_opt(self.first, w.first);
        self.last = max_opt(self.last, w.last);
    }
}

fn min_opt(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Inserts `v` into a sorted, distinct list.
pub(crate) fn insert_sorted(list: &mut Vec<u32>, v: u32) {
    if let Err(pos) = list.binary_search(&v) {
        list.insert(pos, v);
    }
}

/// Merges sorted, distinct `other` into sorted, distinct `list`.
pub(crate) fn merge_sorted(list: &mut Vec<u32>, other: &[u32]) {
    if other.is_empty() {
        return;
    }
    if list.is_empty() {
        list.extend_from_slice(other);
        return;
    }
    if other.len() <= 4 {
        for &v in other {
            insert_sorted(list, v);
        }
        return;
    }
    let mut out = Vec::with_capacity(list.len() + other.len());
    let (mut i, mut j) = (0, 0);
    while i < list.len() && j < other.len() {
        match list[i].cmp(&other[j]) {
            std::cmp::Ordering::Less => {
                out.push(list[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(other[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(list[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&list[i..]);
    out.extend_from_slice(&other[j..]);
    *list = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_sets_merge() {
        let mut a = vec![1, 4, 9];
        merge_sorted(&mut a, &[0, 4, 5, 10, 11, 12]);
        assert_eq!(a, vec![0, 1, 4, 5, 9, 10, 11, 12]);
        insert_sorted(&mut a, 3);
        insert_sorted(&mut a, 3);
        assert_eq!(a, vec![0, 1, 3, 4, 5, 9, 10, 11, 12]);
    }
}
