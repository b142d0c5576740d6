//! The CSV outputs: `payouts.csv`, `kpis.csv`, `key_clients.csv`.

use crate::error::Error;
use crate::evaluate::RunResult;
use crate::money::format_figure;
use rust_decimal::Decimal;

/// Decimals shown for ratios and other non-money figures.
pub(crate) const FIGURE_DP: u32 = 6;

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>, name: &str) -> Result<Vec<u8>, Error> {
    w.into_inner().map_err(|e| Error::Output {
        path: name.into(),
        message: e.to_string(),
    })
}

fn werr(name: &str) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::Output {
        path: name.into(),
        message: e.to_string(),
    }
}

/// Money a KPI contributed: the rounded lines that name it (the run checked that this sum
/// fits a decimal: see [`crate::evaluate::kpi_contribution`]).
pub(crate) fn contribution(m: &crate::evaluate::ManagerResult, kpi: &str) -> Decimal {
    crate::evaluate::kpi_contribution(&m.lines, kpi).expect("the run checks every contribution")
}

/// The first columns of `payouts.csv` (and of the workbook's payouts sheet); one
/// attainment column per KPI follows.
pub(crate) const PAYOUT_COLUMNS: [&str; 6] = [
    "manager_id",
    "name",
    "period",
    "currency",
    "target_bonus",
    "payout",
];

/// One row per manager: payout and each KPI's attainment.
pub(crate) fn payouts_csv(r: &RunResult) -> Result<Vec<u8>, Error> {
    let name = "payouts.csv";
    let mut w = writer();
    let mut header: Vec<String> = PAYOUT_COLUMNS.iter().map(|s| s.to_string()).collect();
    header.extend(
        r.pack
            .manifest
            .kpis
            .iter()
            .map(|k| format!("{}_attainment", k.id)),
    );
    // Settlement columns only when the run has a settlement line, so that runs without a
    // ledger, adjustments, guarantees or draws keep their bytes.
    let settled = r
        .managers
        .iter()
        .any(|m| m.lines.iter().any(|l| l.is_settlement()));
    if settled {
        header.push("computed".into());
        header.extend(SETTLEMENT_COLUMNS.iter().map(|s| s.to_string()));
    }
    // Payee currency columns only when someone is paid in another currency.
    let paid_in = r.managers.iter().any(|m| m.paid_in.is_some());
    if paid_in {
        header.extend(["paid_currency", "paid_rate", "paid_payout"].map(String::from));
    }
    w.write_record(&header).map_err(werr(name))?;
    let period = r.period().to_string();
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        let mut row = vec![
            mgr.id.clone(),
            mgr.name.clone(),
            period.clone(),
            r.pack.currency.code.clone(),
            r.pack.currency.format(mgr.target_bonus),
            r.pack.currency.format(m.payout),
        ];
        row.extend(
            m.kpis
                .iter()
                .map(|k| format_figure(k.attainment, FIGURE_DP)),
        );
        if settled {
            row.extend(settlement_row(r, m)?);
        }
        if paid_in {
            row.extend(match &m.paid_in {
                Some(p) => [
                    p.currency.code.clone(),
                    p.rate.to_string(),
                    p.currency.format(p.payout),
                ],
                None => [
                    r.pack.currency.code.clone(),
                    "1".into(),
                    r.pack.currency.format(m.payout),
                ],
            });
        }
        w.write_record(&row).map_err(werr(name))?;
    }
    finish(w, name)
}

/// One row per manager and KPI.
pub(crate) fn kpis_csv(r: &RunResult) -> Result<Vec<u8>, Error> {
    let name = "kpis.csv";
    let mut w = writer();
    w.write_record([
        "manager_id",
        "kpi",
        "value",
        "target",
        "attainment",
        "weight",
        "contribution",
    ])
    .map_err(werr(name))?;
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        for k in &m.kpis {
            w.write_record([
                mgr.id.as_str(),
                k.id.as_str(),
                &format_figure(k.value, FIGURE_DP),
                &format_figure(k.target, FIGURE_DP),
                &format_figure(k.attainment, FIGURE_DP),
                &format_figure(k.weight, FIGURE_DP),
                &r.pack.currency.format(contribution(m, &k.id)),
            ])
            .map_err(werr(name))?;
        }
    }
    finish(w, name)
}

/// The columns of `key_clients.csv` (and of the workbook's key-clients sheet).
pub(crate) const KEY_CLIENT_COLUMNS: [&str; 7] = [
    "client_id",
    "name",
    "manager_id",
    "key",
    "tier",
    "score",
    "reasons",
];

/// The id of client `i`'s manager, or "".
pub(crate) fn client_manager(r: &RunResult, i: usize) -> &str {
    r.facts.clients[i]
        .manager
        .map(|m| r.data.managers[m as usize].id.as_str())
        .unwrap_or("")
}

/// One row per client: the stage a decision.
pub(crate) fn key_clients_csv(r: &RunResult) -> Result<Vec<u8>, Error> {
    let name = "key_clients.csv";
    let mut w = writer();
    w.write_record(KEY_CLIENT_COLUMNS).map_err(werr(name))?;
    for (i, (c, d)) in r.data.clients.iter().zip(&r.decisions).enumerate() {
        let manager = client_manager(r, i);
        w.write_record([
            c.id.as_str(),
            c.name.as_str(),
            manager,
            if d.key { "true" } else { "false" },
            d.tier.as_str(),
            &format_figure(d.score, FIGURE_DP),
            &d.reasons.join("; "),
        ])
        .map_err(werr(name))?;
    }
    finish(w, name)
}

/// The settlement columns of `payouts.csv`, after `computed` (the rule lines).
const SETTLEMENT_COLUMNS: [&str; 6] = [
    "adjustment",
    "true_up",
    "clawback",
    "guarantee",
    "draw",
    "recovery",
];

/// One manager's computed amount and settlement sums, in [`SETTLEMENT_COLUMNS`] order; an
/// adjustment of any kind (from `adjustments.csv`) counts as `adjustment`.
fn settlement_row(r: &RunResult, m: &crate::evaluate::ManagerResult) -> Result<Vec<String>, Error> {
    let mut sums = [crate::money::ExactSum::default(); 7];
    for l in &m.lines {
        let column = match (&l.reference, l.kind.as_str()) {
            (None, _) => 0,
            (Some(_), "true_up") => 2,
            (Some(_), "clawback") => 3,
            (Some(_), "guarantee") => 4,
            (Some(_), "draw") => 5,
            (Some(_), "recovery") => 6,
            (Some(_), _) => 1,
        };
        sums[column].add(l.amount);
    }
    sums.iter()
        .map(|s| {
            s.to_decimal()
                .map(|d| r.pack.currency.format(d))
                .ok_or_else(|| Error::Money(format!(
                    "manager {}: a settlement column of payouts.csv sums to more than a decimal holds",
                    r.data.managers[m.manager as usize].id
                )))
        })
        .collect()
}
