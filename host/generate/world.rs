//! The world: managers, clients, products and contracts, drawn once.

use super::*;

// ---------------------------------------------------------------------------------------
// The world: managers, clients, products, contracts
// ---------------------------------------------------------------------------------------

pub(super) struct Manager {
    pub(super) id: String,
    pub(super) name: String,
    /// Quarterly target bonus, kopecks.
    pub(super) target_bonus: i64,
    pub(super) team: &'static str,
}

pub(super) struct Client {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) industry: usize,
    pub(super) region: usize,
    pub(super) since: Date,
    /// Months from the range's first month to the `since` month (negative for old clients).
    pub(super) since_offset: i32,
    /// Market share in thousandths.
    pub(super) market_share: u32,
    pub(super) strategic: bool,
    pub(super) manager: usize,
    pub(super) influence: u8,
    pub(super) image_impact: bool,
    pub(super) new_markets: bool,
    pub(super) demanding: bool,
    /// 0 = biggest client.
    pub(super) rank: usize,
    /// Relative number of lines (before seasonality and trends).
    pub(super) intensity: f64,
    /// ln of the client's own yearly trend.
    pub(super) trend_ln: f64,
    /// First day without purchases, for churning clients.
    pub(super) churn: Option<Date>,
    /// Mean of the exponential behind the case count (0: always one case).
    pub(super) theta: f64,
    /// Expected case count of a line.
    pub(super) mean_units: f64,
    /// Categories in the order the client takes them up.
    pub(super) cats: [u8; 8],
    pub(super) base_cats: u8,
    pub(super) extra_cats: u8,
    /// Month offset from which the extra categories are bought.
    pub(super) extra_from: i32,
    /// How many of each category's most popular products the client buys.
    pub(super) depth: [u16; 8],
}

pub(super) struct Catalogue {
    pub(super) codes: Vec<String>,
    pub(super) pack: Vec<i64>,
    /// Base cost ratio in 1/10000.
    pub(super) cost_ratio: Vec<i64>,
    /// Unit price in kopecks, per price-list year and product.
    pub(super) prices: Vec<Vec<i64>>,
    /// Products of each category, most popular first.
    pub(super) by_cat: Vec<Vec<usize>>,
    /// Cumulative popularity along `by_cat`.
    pub(super) pop_cum: Vec<Vec<f64>>,
}

pub(super) struct Contract {
    pub(super) client: usize,
    pub(super) start: Date,
    pub(super) end: Date,
    pub(super) renewed_on: Option<Date>,
}

pub(super) struct World {
    pub(super) range_start: Date,
    pub(super) range_last: Date,
    pub(super) months: Vec<MonthInfo>,
    pub(super) quarters: Vec<Period>,
    pub(super) managers: Vec<Manager>,
    pub(super) clients: Vec<Client>,
    pub(super) catalogue: Catalogue,
    pub(super) contracts: Vec<Contract>,
}

impl World {
    pub(super) fn build(opts: &GenerateOptions) -> World {
        let first = opts.first_month;
        let first_year = first.0.div_euclid(12);
        let end_month = MonthIndex(first.0 + opts.months as i32);
        let range_start = first.first_day();
        let range_last = end_month.first_day().add_days(-1);

        let mut quarters = Vec::new();
        let mut q = Period::containing(PeriodKind::Quarter, first);
        while q.first_month() < end_month {
            quarters.push(q);
            q = Period::containing(PeriodKind::Quarter, q.end_month());
        }
        let q0 = quarters[0].first_month().0;

        let months: Vec<MonthInfo> = (0..opts.months as i32)
            .map(|offset| {
                let index = MonthIndex(first.0 + offset);
                let first_day = index.first_day();
                let days = (MonthIndex(index.0 + 1).first_day().days() - first_day.days()) as u32;
                MonthInfo {
                    first: first_day,
                    days,
                    offset,
                    season: SEASON[index.0.rem_euclid(12) as usize],
                    growth: det_exp(YEARLY_GROWTH_LN * f64::from(offset) / 12.0),
                    year: (index.0.div_euclid(12) - first_year) as usize,
                    quarter: ((Period::containing(PeriodKind::Quarter, index)
                        .first_month()
                        .0
                        - q0)
                        / 3) as usize,
                }
            })
            .collect();
        let price_years = months.last().map_or(1, |m| m.year + 1);

        let managers = build_managers(opts);
        let catalogue = build_catalogue(opts.seed, price_years);
        let clients = build_clients(opts, range_start, range_last);
        let mut world = World {
            range_start,
            range_last,
            months,
            quarters,
            managers,
            clients,
            catalogue,
            contracts: Vec::new(),
        };
        world.contracts = build_contracts(&world, opts.seed);
        world
    }
}

pub(super) fn build_managers(opts: &GenerateOptions) -> Vec<Manager> {
    let mut rng = Rng::new(opts.seed, STREAM_MANAGERS);
    let width = id_width(opts.managers, 2);
    let teams = opts.managers.div_ceil(5).clamp(1, TEAMS.len());
    let mut used = BTreeSet::new();
    (0..opts.managers)
        .map(|i| {
            let mut name = String::new();
            for attempt in 0.. {
                let female = rng.chance(0.5);
                let surname = SURNAMES[rng.index(SURNAMES.len())];
                name = if female {
                    format!("{} {surname}а", FEMALE_FIRST[rng.index(FEMALE_FIRST.len())])
                } else {
                    format!("{} {surname}", MALE_FIRST[rng.index(MALE_FIRST.len())])
                };
                if attempt >= 50 {
                    name = format!("{name} ({})", i + 1);
                }
                if used.insert(name.clone()) {
                    break;
                }
            }
            Manager {
                id: code("M", i + 1, width),
                name,
                target_bonus: (150_000 + 10_000 * rng.below(16) as i64) * 100,
                team: TEAMS[i * teams / opts.managers],
            }
        })
        .collect()
}

pub(super) fn build_catalogue(seed: u64, price_years: usize) -> Catalogue {
    let mut rng = Rng::new(seed, STREAM_CATALOGUE);
    let mut category: Vec<u8> = CATEGORY_PRODUCTS
        .iter()
        .enumerate()
        .flat_map(|(k, &n)| std::iter::repeat_n(k as u8, n))
        .collect();
    rng.shuffle(&mut category);
    let n = category.len();
    let width = id_width(n, 4);
    let mut codes = Vec::with_capacity(n);
    let mut pack = Vec::with_capacity(n);
    let mut cost_ratio = Vec::with_capacity(n);
    let mut base_price = Vec::with_capacity(n);
    let mut inflation = Vec::with_capacity(n);
    for (p, &k) in category.iter().enumerate() {
        let k = usize::from(k);
        codes.push(code("P", p + 1, width));
        let rub = (CATEGORY_MEDIAN_PRICE[k] * det_exp(0.55 * rng.normal())).clamp(50.0, 5000.0);
        let price = (rub * 10.0).round() as i64 * 10;
        base_price.push(price);
        let packs: &[i64] = match price {
            ..=9_999 => &[12, 20, 24],
            10_000..=29_999 => &[6, 10, 12],
            30_000..=99_999 => &[1, 4, 6],
            _ => &[1, 2],
        };
        pack.push(packs[rng.index(packs.len())]);
        let ratio = CATEGORY_COST_RATIO[k] + rng.below(1001) as i64 - 500;
        cost_ratio.push(ratio.clamp(6200, 8300));
        inflation.push(400 + rng.below(501) as i64);
    }
    let mut prices = vec![base_price];
    for year in 1..price_years {
        let next = prices[year - 1]
            .iter()
            .zip(&inflation)
            .map(|(&price, &bp)| div_round(price * (10_000 + bp), 10_000))
            .collect();
        prices.push(next);
    }
    let mut by_cat = vec![Vec::new(); CATEGORIES.len()];
    for (p, &k) in category.iter().enumerate() {
        by_cat[usize::from(k)].push(p);
    }
    let pop_cum = by_cat
        .iter()
        .map(|products| {
            let mut sum = 0.0;
            (0..products.len())
                .map(|j| {
                    sum += 1.0 / det_pow(j as f64 + 1.0, 0.8);
                    sum
                })
                .collect()
        })
        .collect();
    Catalogue {
        codes,
        pack,
        cost_ratio,
        prices,
        by_cat,
        pop_cum,
    }
}

pub(super) fn client_name(rng: &mut Rng, used: &mut BTreeSet<String>) -> String {
    let individual = rng.chance(0.12);
    let female = rng.chance(0.4);
    let surname = SURNAMES[rng.index(SURNAMES.len())];
    let first = if female {
        FEMALE_FIRST[rng.index(FEMALE_FIRST.len())]
    } else {
        MALE_FIRST[rng.index(MALE_FIRST.len())]
    };
    let patronymic = PATRONYMIC_INITIALS[rng.index(PATRONYMIC_INITIALS.len())];
    let root = NAME_ROOTS[rng.index(NAME_ROOTS.len())];
    let suffix = NAME_SUFFIXES[rng.index(NAME_SUFFIXES.len())];
    let form = rng.f64();
    let prefix = if form < 0.8 {
        "ООО"
    } else if form < 0.95 {
        "АО"
    } else {
        "ПАО"
    };
    let ascii_quotes = rng.chance(0.2);
    let build = |number: Option<usize>| -> String {
        let number = number.map(|n| format!("-{n}")).unwrap_or_default();
        if individual {
            let initial = first.chars().next().unwrap_or('А');
            let feminine = if female { "а" } else { "" };
            format!("ИП {surname}{feminine} {initial}. {patronymic}.{number}")
        } else if ascii_quotes {
            format!("{prefix} \"{root}{suffix}{number}\"")
        } else {
            format!("{prefix} «{root}{suffix}{number}»")
        }
    };
    let mut name = build(None);
    let mut number = 1;
    while used.contains(&name) {
        number += 1;
        name = build(Some(number));
    }
    used.insert(name.clone());
    name
}

pub(super) fn build_clients(
    opts: &GenerateOptions,
    range_start: Date,
    range_last: Date,
) -> Vec<Client> {
    let n = opts.clients;
    let mut rng = Rng::new(opts.seed, STREAM_CLIENTS);

    // Sizes: Zipf over a random order, with log-normal noise; rank by the final weight.
    let mut zipf: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut zipf);
    let weight: Vec<f64> = zipf
        .iter()
        .map(|&z| det_exp(0.3 * rng.normal()) / (z as f64 + 1.0))
        .collect();
    let mut by_size: Vec<usize> = (0..n).collect();
    by_size.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]).then(a.cmp(&b)));
    let mut rank = vec![0; n];
    for (r, &c) in by_size.iter().enumerate() {
        rank[c] = r;
    }
    let w_max = weight[by_size[0]];

    // Owners: every manager gets at least one client, the rest by manager capacity.
    let mut owner = vec![0; n];
    let mut shuffled: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut shuffled);
    let capacity = Cumulative::from_weights((0..opts.managers).map(|_| rng.uniform(0.6, 1.4)));
    for (i, &c) in shuffled.iter().enumerate() {
        owner[c] = if i < opts.managers {
            i
        } else {
            capacity.pick(&mut rng)
        };
    }

    let industries = Cumulative::from_weights(INDUSTRY_WEIGHTS);
    let regions = Cumulative::from_weights(REGION_WEIGHTS);
    let history_start = {
        let y2014 = ymd(2014, 1, 1);
        if range_start.days() - y2014.days() >= 730 {
            y2014
        } else {
            range_start.add_days(-3650)
        }
    };
    let last_month_first = range_last.month_index().first_day();
    let new_until = last_month_first.add_days(27).min(range_last);
    let span = range_last.days() - range_start.days() + 1;
    let churn_from = range_start.add_days(span * 2 / 3);
    let width = id_width(n, 4);
    let top_tenth = n.div_ceil(10);
    let mut used_names = BTreeSet::new();

    (0..n)
        .map(|c| {
            let name = client_name(&mut rng, &mut used_names);
            let industry = industries.pick(&mut rng);
            let region = regions.pick(&mut rng);
            let relative = weight[c] / w_max;
            let size_pct = 1.0 - rank[c] as f64 / n as f64;
            let is_new = rng.chance(NEW_CLIENT_SHARE);
            let since = if is_new {
                rng.date_between(range_start, new_until)
            } else {
                rng.date_between(history_start, range_start.add_days(-1))
            };
            let since_offset = since.month_index().0 - opts.first_month.0;
            let market_share = if rng.chance(0.10) {
                200 + rng.below(401) as u32
            } else if rng.chance(0.83) {
                10 + rng.below(91) as u32
            } else {
                100 + rng.below(100) as u32
            };
            let strategic = rng.chance(if rank[c] < top_tenth { 0.3 } else { 0.022 });
            let influence = (1.0 + 4.99 * (0.6 * size_pct + 0.4 * rng.f64())).floor() as u8;
            let image_impact = rng.chance(0.04 + 0.12 * size_pct);
            let new_markets = rng.chance(0.10);
            let demanding = rng.chance(0.04 + 0.12 * size_pct);

            let mean_units = 1.0 + 7.0 * det_pow(relative, 0.35);
            let theta = if mean_units > 1.000_001 {
                1.0 / det_ln(1.0 + 1.0 / (mean_units - 1.0))
            } else {
                0.0
            };
            let trend_ln = 0.10 * rng.normal();
            let churn = (!is_new
                && !strategic
                && rank[c] >= n.div_ceil(20)
                && since < range_start
                && rng.chance(0.04))
            .then(|| rng.date_between(churn_from, range_last));

            // Range: categories in an industry-flavoured order; breadth and depth grow with size.
            let mut cats = [0u8; 8];
            let mut left: Vec<usize> = (0..CATEGORIES.len()).collect();
            for slot in &mut cats {
                let table = Cumulative::from_weights(
                    left.iter()
                        .map(|&k| CATEGORY_POPULARITY[k] * AFFINITY[industry][k]),
                );
                *slot = left.remove(table.pick(&mut rng)) as u8;
            }
            let base_cats = (1.0 + 7.0 * size_pct + 0.8 * rng.normal())
                .round()
                .clamp(1.0, 8.0) as u8;
            let (extra_cats, extra_from) = if base_cats < 8 && opts.months >= 2 && rng.chance(0.25)
            {
                let extra = 1 + rng.below(u64::from((8 - base_cats).min(2))) as u8;
                (extra, 1 + rng.below(u64::from(opts.months - 1)) as i32)
            } else {
                (0, i32::MAX)
            };
            let depth_share =
                (0.2 + 0.8 * det_pow(size_pct, 1.2) + 0.1 * rng.normal()).clamp(0.15, 1.0);
            let mut depth = [0u16; 8];
            for (k, d) in depth.iter_mut().enumerate() {
                *d = ((depth_share * CATEGORY_PRODUCTS[k] as f64).ceil() as u16)
                    .clamp(1, CATEGORY_PRODUCTS[k] as u16);
            }

            Client {
                id: code("C", c + 1, width),
                name,
                industry,
                region,
                since,
                since_offset,
                market_share,
                strategic,
                manager: owner[c],
                influence,
                image_impact,
                new_markets,
                demanding,
                rank: rank[c],
                intensity: det_pow(relative, 0.65),
                trend_ln,
                churn,
                theta,
                mean_units,
                cats,
                base_cats,
                extra_cats,
                extra_from,
                depth,
            }
        })
        .collect()
}

pub(super) fn build_contracts(world: &World, seed: u64) -> Vec<Contract> {
    let mut rng = Rng::new(seed, STREAM_CONTRACTS);
    let mut contracts = Vec::new();
    // The client's current contract is drawn so that its end falls between the range
    // start and three months after its last day. About half of the clients also
    // have the contract before it (renewed into the current one), or the one after it
    // (when the current one is renewed), which keeps due dates even across the quarters.
    // Contracts never start on 29 February, so a year back and forth is always exact.
    let earliest_start = world.range_start.add_days(-364);
    let latest_start = world.range_last.add_days(90 - 364);
    let no_leap_day = |d: Date| {
        let (_, m, day) = d.ymd();
        if m == 2 && day == 29 {
            d.add_days(1)
        } else {
            d
        }
    };
    let renewal = |rng: &mut Rng, client: &Client, end: Date| {
        let churned = client.churn.is_some_and(|ch| ch <= end.add_days(30));
        let roll = rng.chance(RENEWAL_RATE);
        let days_before = 1 + rng.below(30) as i32;
        (end <= world.range_last && !churned && roll).then(|| end.add_days(-days_before))
    };
    for (c, client) in world.clients.iter().enumerate() {
        if !rng.chance(0.6) {
            continue;
        }
        let mut start = no_leap_day(rng.date_between(earliest_start, latest_start));
        let neighbour = rng.f64();
        let (mut previous, next) = (neighbour < 0.45, neighbour >= 0.55);
        if start < client.since {
            start = no_leap_day(client.since.add_days(rng.below(30) as i32));
            previous = false;
        }
        let end = add_year(start).add_days(-1);
        if previous {
            let (y, m, d) = start.ymd();
            let prev_start = ymd(y - 1, m, d);
            if prev_start >= client.since {
                let prev_end = start.add_days(-1);
                contracts.push(Contract {
                    client: c,
                    start: prev_start,
                    end: prev_end,
                    renewed_on: Some(prev_end.add_days(-1 - rng.below(30) as i32)),
                });
            }
        }
        let renewed_on = renewal(&mut rng, client, end);
        contracts.push(Contract {
            client: c,
            start,
            end,
            renewed_on,
        });
        if next && renewed_on.is_some() {
            let next_start = end.add_days(1);
            let next_end = add_year(next_start).add_days(-1);
            let renewed_on = renewal(&mut rng, client, next_end);
            contracts.push(Contract {
                client: c,
                start: next_start,
                end: next_end,
                renewed_on,
            });
        }
    }
    contracts
}
