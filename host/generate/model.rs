//! The per-month model: who is active, how much, and what they buy.

use super::*;

// ---------------------------------------------------------------------------------------
// Per-month model: who is active, how much, what they buy
// ---------------------------------------------------------------------------------------

/// Relative number of lines of `client` in `month` while active (before seasonality).
pub(super) fn client_month_weight(client: &Client, month: &MonthInfo) -> f64 {
    let mut w = client.intensity * det_exp(client.trend_ln * f64::from(month.offset) / 12.0);
    if month.offset >= client.extra_from {
        w *= 1.0 + 0.15 * f64::from(client.extra_cats);
    }
    let age = month.offset - client.since_offset;
    if (0..3).contains(&age) {
        w *= RAMP_UP[age as usize];
    }
    if let Some(churn) = client.churn {
        if churn.days() - month.first.days() <= 120 {
            w *= 0.55;
        }
    }
    w
}

/// Which clients buy on which days of one month, and how much.
#[derive(Default)]
pub(super) struct Activity {
    pub(super) weight: Vec<f64>,
    /// Active days are `lo..hi` (day of month, 0-based).
    pub(super) lo: Vec<u32>,
    pub(super) hi: Vec<u32>,
    /// Segment boundaries: the active set is constant on `bounds[i]..bounds[i + 1]`.
    pub(super) bounds: Vec<u32>,
}

impl Activity {
    pub(super) fn compute(&mut self, clients: &[Client], month: &MonthInfo) {
        self.weight.clear();
        self.lo.clear();
        self.hi.clear();
        self.bounds.clear();
        self.bounds.push(0);
        self.bounds.push(month.days);
        let first = month.first.days();
        let days = month.days as i32;
        for client in clients {
            let lo = (client.since.days() - first).clamp(0, days);
            let hi = client
                .churn
                .map_or(days, |d| (d.days() - first).clamp(0, days));
            if lo < hi {
                self.weight.push(client_month_weight(client, month));
                for b in [lo, hi] {
                    if b > 0 && b < days {
                        self.bounds.push(b as u32);
                    }
                }
            } else {
                self.weight.push(0.0);
            }
            self.lo.push(lo as u32);
            self.hi.push(hi as u32);
        }
        self.bounds.sort_unstable();
        self.bounds.dedup();
    }

    /// The weight of client `c` on day `day`.
    pub(super) fn weight_at(&self, c: usize, day: u32) -> f64 {
        if self.lo[c] <= day && day < self.hi[c] {
            self.weight[c]
        } else {
            0.0
        }
    }

    pub(super) fn total_at(&self, day: u32) -> f64 {
        let mut sum = 0.0;
        for c in 0..self.weight.len() {
            let w = self.weight_at(c, day);
            if w > 0.0 {
                sum += w;
            }
        }
        sum
    }
}

/// The categories a client buys in one month, with cumulative line weights.
#[derive(Clone, Copy, Default)]
pub(super) struct Mix {
    pub(super) len: usize,
    pub(super) cats: [u8; 8],
    pub(super) cum: [f64; 8],
}

impl Mix {
    pub(super) fn of(client: &Client, month: &MonthInfo) -> Mix {
        let mut len = usize::from(client.base_cats);
        if month.offset >= client.extra_from {
            len += usize::from(client.extra_cats);
        }
        let mut mix = Mix {
            len,
            cats: client.cats,
            cum: [0.0; 8],
        };
        let mut sum = 0.0;
        for (slot, &k) in mix.cum.iter_mut().zip(&client.cats[..len]) {
            let k = usize::from(k);
            sum += CATEGORY_POPULARITY[k] * AFFINITY[client.industry][k];
            *slot = sum;
        }
        mix
    }

    pub(super) fn pick(&self, rng: &mut Rng) -> usize {
        if self.len == 1 {
            return usize::from(self.cats[0]);
        }
        let r = rng.f64() * self.cum[self.len - 1];
        let i = self.cum[..self.len]
            .iter()
            .position(|&c| c > r)
            .unwrap_or(self.len - 1);
        usize::from(self.cats[i])
    }
}

/// Per category, cumulative popularity-weighted line value (kopecks per case) and margin
/// along the popularity order, for one price-list year.
pub(super) struct ValueTables {
    pub(super) amount: Vec<Vec<f64>>,
    pub(super) margin: Vec<Vec<f64>>,
}

impl ValueTables {
    pub(super) fn new(catalogue: &Catalogue, year: usize) -> ValueTables {
        let prices = &catalogue.prices[year];
        let mut amount = Vec::with_capacity(CATEGORIES.len());
        let mut margin = Vec::with_capacity(CATEGORIES.len());
        for (k, products) in catalogue.by_cat.iter().enumerate() {
            let (mut a_sum, mut m_sum) = (0.0, 0.0);
            let mut a_row = Vec::with_capacity(products.len());
            let mut m_row = Vec::with_capacity(products.len());
            let mut previous = 0.0;
            for (j, &p) in products.iter().enumerate() {
                let popularity = catalogue.pop_cum[k][j] - previous;
                previous = catalogue.pop_cum[k][j];
                let case = (prices[p] * catalogue.pack[p]) as f64;
                a_sum += popularity * case;
                m_sum += popularity * case * (10_000 - catalogue.cost_ratio[p]) as f64 / 10_000.0;
                a_row.push(a_sum);
                m_row.push(m_sum);
            }
            amount.push(a_row);
            margin.push(m_row);
        }
        ValueTables { amount, margin }
    }

    /// Expected signed amount and margin of one line of `client` (kopecks).
    pub(super) fn expected_line(
        &self,
        catalogue: &Catalogue,
        client: &Client,
        mix: &Mix,
    ) -> (f64, f64) {
        let (mut amount, mut margin) = (0.0, 0.0);
        let mut previous = 0.0;
        let total = mix.cum[mix.len - 1];
        for (&cum, &k) in mix.cum[..mix.len].iter().zip(&mix.cats) {
            let share = (cum - previous) / total;
            previous = cum;
            let k = usize::from(k);
            let n = usize::from(client.depth[k]);
            let popularity = catalogue.pop_cum[k][n - 1];
            let sign = 1.0 - 2.0 * CATEGORY_RETURN_RATE[k];
            amount += share * sign * self.amount[k][n - 1] / popularity;
            margin += share * sign * self.margin[k][n - 1] / popularity;
        }
        (amount * client.mean_units, margin * client.mean_units)
    }
}

/// Expected revenue and margin per client and quarter (kopecks), `client * quarters + q`.
pub(super) struct Expected {
    pub(super) revenue: Vec<f64>,
    pub(super) margin: Vec<f64>,
}
