//! A [`Window`]: the sales totals of one client, manager, client–manager pair or the whole
//! company over one period.

pub(crate) use crate::money::ExactSum;
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
    /// The pack's measures, in `[measures]` order (empty without measures).
    pub measures: Vec<Measured>,
}

/// The value of one measure over a window.
#[derive(Clone, Debug, PartialEq)]
pub enum Measured {
    /// A sum or a count.
    Value(Decimal),
    /// The distinct ids counted (sorted): a window's count is the size of their union.
    Ids(Vec<u32>),
}

impl Measured {
    /// The figure rules see.
    pub fn value(&self) -> Decimal {
        match self {
            Measured::Value(d) => *d,
            Measured::Ids(ids) => Decimal::from(ids.len()),
        }
    }
}

impl Window {
    /// Revenue minus cost. Every window the facts hold was checked to have a margin that
    /// fits a decimal exactly (a sum whose margin does not fit is refused).
    pub fn margin(&self) -> Decimal {
        crate::money::exact_difference(self.revenue, self.cost)
            .expect("window margins are checked when the window is built")
    }

    /// The sum of many windows: totals added, category and product sets united. Linear in
    /// the ids, where adding windows one by one re-merges the growing sets each time.
    /// Fails, naming the column, when a total does not fit a decimal.
    pub fn sum<'a>(windows: impl IntoIterator<Item = &'a Window>) -> Result<Window, SumTooLarge> {
        let mut out = Window::default();
        let mut sums = [ExactSum::default(); 4];
        let mut categories = IdBits::default();
        let mut products = IdBits::default();
        let mut measures: Vec<(ExactSum, IdBits, bool)> = Vec::new();
        for w in windows {
            if measures.len() < w.measures.len() {
                measures.resize_with(w.measures.len(), Default::default);
            }
            for (m, (sum, ids, is_ids)) in w.measures.iter().zip(measures.iter_mut()) {
                match m {
                    Measured::Value(d) => sum.add(*d),
                    Measured::Ids(v) => {
                        ids.extend(v);
                        *is_ids = true;
                    }
                }
            }
            for (sum, d) in sums
                .iter_mut()
                .zip([w.revenue, w.cost, w.quantity, w.returns])
            {
                sum.add(d);
            }
            out.lines += w.lines;
            out.return_lines += w.return_lines;
            out.first = min_opt(out.first, w.first);
            out.last = max_opt(out.last, w.last);
            categories.extend(&w.categories);
            products.extend(&w.products);
        }
        [out.revenue, out.cost, out.quantity, out.returns] = decimals(sums)?;
        out.categories = categories.into_sorted();
        out.products = products.into_sorted();
        out.measures = measures
            .into_iter()
            .map(|(sum, ids, is_ids)| {
                if is_ids {
                    Ok(Measured::Ids(ids.into_sorted()))
                } else {
                    sum.to_decimal()
                        .map(Measured::Value)
                        .ok_or(SumTooLarge("a measure"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(out)
    }
}

impl Window {
    /// The window credited at `share` (a split or overlay credit): amounts, costs,
    /// quantities and returns, and the measures marked in `sums`, times `share`, exactly;
    /// line counts, dates and distinct sets as they are (a shared line is a line for each
    /// manager credited).
    pub fn scaled(&self, share: Decimal, sums: &[bool]) -> Result<Window, SumTooLarge> {
        let times = |d: Decimal, what: &'static str| {
            crate::money::exact_product(d, share).ok_or(SumTooLarge(what))
        };
        let mut out = self.clone();
        out.revenue = times(self.revenue, "amount")?;
        out.cost = times(self.cost, "cost")?;
        out.quantity = times(self.quantity, "quantity")?;
        out.returns = times(self.returns, "returned amount")?;
        for (m, &sum) in out.measures.iter_mut().zip(sums) {
            if let (Measured::Value(d), true) = (&*m, sum) {
                *m = Measured::Value(times(*d, "a measure")?);
            }
        }
        decimals([out.revenue, out.cost, out.quantity, out.returns].map(|d| {
            let mut s = ExactSum::default();
            s.add(d);
            s
        }))?;
        Ok(out)
    }
}

/// A growable bit set of ids.
#[derive(Default)]
struct IdBits(Vec<u64>);

impl IdBits {
    fn extend(&mut self, ids: &[u32]) {
        for &id in ids {
            let word = (id / 64) as usize;
            if word >= self.0.len() {
                self.0.resize(word + 1, 0);
            }
            self.0[word] |= 1 << (id % 64);
        }
    }

    fn into_sorted(self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, &word) in self.0.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                out.push(i as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        out
    }
}

/// A total that does not fit a decimal (28 digits): the sales column it sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SumTooLarge(pub &'static str);

impl SumTooLarge {
    /// The message, for the totals of `whose` (e.g. `client C1 with manager M1`) in `period`.
    pub fn message(self, whose: &str, period: impl std::fmt::Display) -> String {
        format!(
            "the sum of the {} column for {whose} in {period} has more than 28 digits, the most a decimal holds",
            self.0
        )
    }
}

/// Exact sums of amount, cost, quantity and returns as decimals.
pub(crate) fn decimals(sums: [ExactSum; 4]) -> Result<[Decimal; 4], SumTooLarge> {
    let columns = ["amount", "cost", "quantity", "returned amount"];
    let mut out = [Decimal::ZERO; 4];
    for ((d, sum), column) in out.iter_mut().zip(sums).zip(columns) {
        *d = sum.to_decimal().ok_or(SumTooLarge(column))?;
    }
    // Margin is revenue minus cost: it must fit too, so that `Window::margin` is exact.
    let mut margin = sums[0];
    margin.merge(&{
        let mut cost = ExactSum::default();
        cost.sub(out[1]);
        cost
    });
    margin
        .to_decimal()
        .ok_or(SumTooLarge("amount minus cost (margin)"))?;
    Ok(out)
}

pub(crate) fn min_opt(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn max_opt(a: Option<Date>, b: Option<Date>) -> Option<Date> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sums_align_scales_and_report_overflow() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let mut sum = ExactSum::default();
        for x in ["1.5", "2.25", "-0.75", "10", "0.001"] {
            sum.add(d(x));
        }
        assert_eq!(sum.to_decimal().unwrap().to_string(), "13.001");
        let mut other = ExactSum::default();
        other.sub(d("3.0001"));
        sum.merge(&other);
        assert_eq!(sum.to_decimal().unwrap().to_string(), "10.0009");
        // The same result as Decimal addition, scale included.
        let mut plain = ExactSum::default();
        plain.add(d("1.10"));
        plain.add(d("2"));
        assert_eq!(plain.to_decimal(), Some(d("1.10") + d("2")));
        assert_eq!(plain.to_decimal().unwrap().to_string(), "3.10");
        // Beyond 28 digits: an error, not a rounded figure.
        let mut big = ExactSum::default();
        for _ in 0..20 {
            big.add(Decimal::MAX);
        }
        assert_eq!(big.to_decimal(), None);
        let mut wrapped = ExactSum {
            mantissa: i128::MAX,
            scale: 0,
            overflow: false,
        };
        wrapped.add(Decimal::ONE);
        assert!(wrapped.overflow);
    }

    #[test]
    fn a_sum_of_windows_adds_totals_and_unites_sets() {
        let w = |revenue: i64, categories: Vec<u32>| Window {
            revenue: Decimal::from(revenue),
            lines: 1,
            categories,
            ..Window::default()
        };
        let parts = [w(10, vec![1, 70, 200]), w(-3, vec![]), w(5, vec![0, 1, 64])];
        let sum = Window::sum(&parts).unwrap();
        assert_eq!(sum.lines, 3);
        assert_eq!(sum.categories, vec![0, 1, 64, 70, 200]);
        assert_eq!(sum.revenue, Decimal::from(12));
        assert_eq!(Window::sum([]), Ok(Window::default()));
        let huge = Window {
            revenue: Decimal::MAX,
            ..Window::default()
        };
        assert_eq!(Window::sum([&huge, &huge]), Err(SumTooLarge("amount")));
        // Revenue and cost that each fit, but whose difference (the margin) does not.
        let lopsided = Window {
            revenue: Decimal::MAX,
            cost: -Decimal::MAX,
            ..Window::default()
        };
        assert_eq!(
            Window::sum([&lopsided]),
            Err(SumTooLarge("amount minus cost (margin)"))
        );
    }

    #[test]
    fn sorted_sets_take_new_ids_once() {
        let mut a = vec![0, 1, 4, 5, 9, 10, 11, 12];
        insert_sorted(&mut a, 3);
        insert_sorted(&mut a, 3);
        assert_eq!(a, vec![0, 1, 3, 4, 5, 9, 10, 11, 12]);
    }
}
