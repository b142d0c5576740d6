//! The writers: the five CSV files, sales streamed month by month.

use super::*;

// ---------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------

pub(super) type CsvOut = csv::Writer<BufWriter<File>>;

pub(super) fn csv_create(path: &Path, header: &[&str]) -> Result<CsvOut, GenerateError> {
    let file = File::create(path).map_err(|e| GenerateError::new(path, e.to_string()))?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(BufWriter::with_capacity(1 << 16, file));
    writer
        .write_record(header)
        .map_err(|e| GenerateError::new(path, e.to_string()))?;
    Ok(writer)
}

pub(super) fn csv_row<I, T>(writer: &mut CsvOut, path: &Path, row: I) -> Result<(), GenerateError>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    writer
        .write_record(row)
        .map_err(|e| GenerateError::new(path, e.to_string()))
}

pub(super) fn csv_finish(writer: CsvOut, path: &Path) -> Result<(), GenerateError> {
    let buffered = writer
        .into_inner()
        .map_err(|e| GenerateError::new(path, e.error().to_string()))?;
    buffered
        .into_inner()
        .map_err(|e| GenerateError::new(path, e.error().to_string()))?;
    Ok(())
}

pub(super) fn write_clients(world: &World, path: &Path) -> Result<u64, GenerateError> {
    let mut w = csv_create(
        path,
        &[
            "client_id",
            "name",
            "industry",
            "region",
            "since",
            "market_share",
            "strategic",
            "manager_id",
            "influence",
            "image_impact",
            "new_markets",
            "demanding",
        ],
    )?;
    for c in &world.clients {
        let share = format!("{}.{:03}", c.market_share / 1000, c.market_share % 1000);
        csv_row(
            &mut w,
            path,
            [
                c.id.as_str(),
                c.name.as_str(),
                INDUSTRIES[c.industry],
                REGIONS[c.region],
                &c.since.to_string(),
                &share,
                bool_text(c.strategic),
                world.managers[c.manager].id.as_str(),
                &c.influence.to_string(),
                bool_text(c.image_impact),
                bool_text(c.new_markets),
                bool_text(c.demanding),
            ],
        )?;
    }
    csv_finish(w, path)?;
    Ok(world.clients.len() as u64)
}

pub(super) fn write_managers(world: &World, path: &Path) -> Result<u64, GenerateError> {
    let mut w = csv_create(path, &["manager_id", "name", "target_bonus", "team"])?;
    for m in &world.managers {
        csv_row(
            &mut w,
            path,
            [
                m.id.as_str(),
                m.name.as_str(),
                &cents_to_string(m.target_bonus),
                m.team,
            ],
        )?;
    }
    csv_finish(w, path)?;
    Ok(world.managers.len() as u64)
}

pub(super) fn write_contracts(world: &World, path: &Path) -> Result<u64, GenerateError> {
    let mut w = csv_create(
        path,
        &[
            "contract_id",
            "client_id",
            "manager_id",
            "start",
            "end",
            "renewed_on",
        ],
    )?;
    let width = id_width(world.contracts.len(), 5);
    for (i, contract) in world.contracts.iter().enumerate() {
        let client = &world.clients[contract.client];
        csv_row(
            &mut w,
            path,
            [
                code("CT", i + 1, width).as_str(),
                client.id.as_str(),
                world.managers[client.manager].id.as_str(),
                &contract.start.to_string(),
                &contract.end.to_string(),
                &contract
                    .renewed_on
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ],
        )?;
    }
    csv_finish(w, path)?;
    Ok(world.contracts.len() as u64)
}

/// The raw sales file: lines are formatted by hand into a large buffer (no field of a
/// sales line ever needs quoting).
pub(super) struct SalesOut<'a> {
    pub(super) file: File,
    pub(super) buf: Vec<u8>,
    pub(super) path: &'a Path,
}

impl SalesOut<'_> {
    const CHUNK: usize = 1 << 20;

    pub(super) fn flush_if_full(&mut self) -> Result<(), GenerateError> {
        if self.buf.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<(), GenerateError> {
        self.file
            .write_all(&self.buf)
            .map_err(|e| GenerateError::new(self.path, e.to_string()))?;
        self.buf.clear();
        Ok(())
    }
}

pub(super) fn write_sales(
    world: &World,
    opts: &GenerateOptions,
    path: &Path,
) -> Result<(u64, Expected), GenerateError> {
    let clients = &world.clients;
    let catalogue = &world.catalogue;
    let nc = clients.len();
    let nq = world.quarters.len();
    let nm = world.managers.len();

    // Pass 1: the weight of every day, then the exact number of lines of every month.
    let mut activity = Activity::default();
    let mut day_weights = Vec::with_capacity(world.months.len());
    let mut month_weights = Vec::with_capacity(world.months.len());
    for month in &world.months {
        activity.compute(clients, month);
        let mut weights = vec![0.0; month.days as usize];
        for seg in activity.bounds.windows(2) {
            let total = activity.total_at(seg[0]);
            for day in seg[0]..seg[1] {
                weights[day as usize] =
                    day_factor(month.first.add_days(day as i32), month.days) * total;
            }
        }
        month_weights.push(month.season * month.growth * weights.iter().sum::<f64>());
        day_weights.push(weights);
    }
    let month_lines = apportion(opts.sales, &month_weights);

    // Pass 2: draw and write the lines in date order, month by month.
    let file = File::create(path).map_err(|e| GenerateError::new(path, e.to_string()))?;
    let mut out = SalesOut {
        file,
        buf: Vec::with_capacity(SalesOut::CHUNK + 4096),
        path,
    };
    out.buf
        .extend_from_slice(b"date,client_id,manager_id,product,category,quantity,amount,cost\n");
    let client_ids: Vec<&[u8]> = clients.iter().map(|c| c.id.as_bytes()).collect();
    let manager_ids: Vec<&[u8]> = world.managers.iter().map(|m| m.id.as_bytes()).collect();

    let mut expected = Expected {
        revenue: vec![0.0; nc * nq],
        margin: vec![0.0; nc * nq],
    };
    let mut mixes = vec![Mix::default(); nc];
    let mut line_amount = vec![0.0; nc];
    let mut line_margin = vec![0.0; nc];
    let mut lines_of = vec![0.0; nc];
    let mut table = Cumulative::default();
    let mut values: Option<(usize, ValueTables)> = None;
    let mut written = 0u64;

    for (mi, month) in world.months.iter().enumerate() {
        if month_lines[mi] == 0 {
            continue;
        }
        activity.compute(clients, month);
        let day_lines = apportion(month_lines[mi], &day_weights[mi]);
        if !matches!(&values, Some((year, _)) if *year == month.year) {
            values = Some((month.year, ValueTables::new(catalogue, month.year)));
        }
        let value_tables = &values.as_ref().expect("value tables").1;
        for (c, client) in clients.iter().enumerate() {
            mixes[c] = Mix::of(client, month);
            let (a, m) = value_tables.expected_line(catalogue, client, &mixes[c]);
            line_amount[c] = a;
            line_margin[c] = m;
        }
        lines_of.fill(0.0);
        let prices = &catalogue.prices[month.year];
        let mut rng = Rng::new(opts.seed, STREAM_SALES + mi as u64);

        for seg in activity.bounds.windows(2) {
            let (from, to) = (seg[0], seg[1]);
            let seg_lines: u64 = day_lines[from as usize..to as usize].iter().sum();
            if seg_lines == 0 {
                continue;
            }
            table.rebuild((0..nc).map(|c| activity.weight_at(c, from)));
            let total = table.total();
            for (c, lines) in lines_of.iter_mut().enumerate() {
                let w = activity.weight_at(c, from);
                if w > 0.0 {
                    *lines += seg_lines as f64 * w / total;
                }
            }
            for day in from..to {
                let date = month.first.add_days(day as i32).to_string();
                let date = date.as_bytes();
                for _ in 0..day_lines[day as usize] {
                    let c = table.pick(&mut rng);
                    let client = &clients[c];
                    let mut manager = client.manager;
                    if nm > 1 && rng.chance(FOREIGN_SHARE) {
                        let other = rng.index(nm - 1);
                        manager = if other >= manager { other + 1 } else { other };
                    }
                    let k = mixes[c].pick(&mut rng);
                    let depth = usize::from(client.depth[k]);
                    let cum = &catalogue.pop_cum[k][..depth];
                    let r = rng.f64() * cum[depth - 1];
                    let j = cum.partition_point(|&x| x <= r).min(depth - 1);
                    let p = catalogue.by_cat[k][j];
                    let is_return = rng.chance(CATEGORY_RETURN_RATE[k]);
                    let mut units = 1;
                    if client.theta > 0.0 {
                        units += (client.theta * rng.exp1()).floor().min(MAX_UNITS) as i64;
                    }
                    let mut quantity = units * catalogue.pack[p];
                    if is_return {
                        quantity = -quantity;
                    }
                    let amount = quantity * prices[p];
                    let ratio = catalogue.cost_ratio[p] + rng.below(401) as i64 - 200;
                    let cost = div_round(amount * ratio, 10_000);

                    let buf = &mut out.buf;
                    buf.extend_from_slice(date);
                    buf.push(b',');
                    buf.extend_from_slice(client_ids[c]);
                    buf.push(b',');
                    buf.extend_from_slice(manager_ids[manager]);
                    buf.push(b',');
                    buf.extend_from_slice(catalogue.codes[p].as_bytes());
                    buf.push(b',');
                    buf.extend_from_slice(CATEGORIES[k].as_bytes());
                    buf.push(b',');
                    push_i64(buf, quantity);
                    buf.push(b',');
                    push_cents(buf, amount);
                    buf.push(b',');
                    push_cents(buf, cost);
                    buf.push(b'\n');
                    out.flush_if_full()?;
                }
                written += day_lines[day as usize];
            }
        }

        for c in 0..nc {
            let at = c * nq + month.quarter;
            expected.revenue[at] += lines_of[c] * line_amount[c];
            expected.margin[at] += lines_of[c] * line_margin[c];
        }
    }
    out.flush()?;
    Ok((written, expected))
}

pub(super) fn write_plans(
    world: &World,
    expected: &Expected,
    seed: u64,
    path: &Path,
) -> Result<u64, GenerateError> {
    let nq = world.quarters.len();
    let nm = world.managers.len();
    let nc = world.clients.len();
    let top = (nc * 15).div_ceil(100);

    let mut own_margin = vec![0.0; nm * nq];
    let mut key_revenue = vec![0.0; nm * nq];
    let mut new_clients = vec![0u32; nm * nq];
    let mut total_margin = vec![0.0; nq];
    for (c, client) in world.clients.iter().enumerate() {
        for (q, quarter) in world.quarters.iter().enumerate() {
            let at = client.manager * nq + q;
            let margin = expected.margin[c * nq + q];
            own_margin[at] += margin;
            total_margin[q] += margin;
            let key = client.strategic
                || client.rank < top
                || (client.market_share >= 200
                    && client.since.whole_years_until(quarter.start_date()) >= 3);
            if key {
                key_revenue[at] += expected.revenue[c * nq + q];
            }
            if quarter.contains(client.since) {
                new_clients[at] += 1;
            }
        }
    }

    let mut rng = Rng::new(seed, STREAM_PLANS);
    let mut w = csv_create(path, &["manager_id", "period", "kpi", "target"])?;
    let mut rows = 0u64;
    for (m, manager) in world.managers.iter().enumerate() {
        for (q, quarter) in world.quarters.iter().enumerate() {
            let at = m * nq + q;
            let margin = if nm > 1 {
                (1.0 - FOREIGN_SHARE) * own_margin[at]
                    + FOREIGN_SHARE / (nm - 1) as f64 * (total_margin[q] - own_margin[at])
            } else {
                own_margin[at]
            };
            let key_target = (key_revenue[at] * rng.uniform(0.85, 1.15)).round() as i64;
            let margin_target = (margin * rng.uniform(0.85, 1.15)).round() as i64;
            let stretch = u32::from(rng.chance(0.2));
            let new_key = (new_clients[at] + stretch).min(2);
            let period = quarter.to_string();
            for (kpi, target) in [
                ("key_revenue", cents_to_string(key_target)),
                ("margin", cents_to_string(margin_target)),
                ("new_key_clients", new_key.to_string()),
            ] {
                csv_row(&mut w, path, [manager.id.as_str(), &period, kpi, &target])?;
                rows += 1;
            }
        }
    }
    csv_finish(w, path)?;
    Ok(rows)
}
