//! `payouts.xlsx`: the run for finance, in Excel: a summary sheet with payouts and the total,
//! a KPI sheet and a key-clients sheet; money and percentages formatted, headers frozen,
//! autofilter on. The numbers are those of the CSV files (Excel stores them as doubles;
//! the CSVs stay the exact record). The file's creation date is fixed so that the same run
//! gives the same bytes.

use super::files::{client_manager, contribution, KEY_CLIENT_COLUMNS, PAYOUT_COLUMNS};
use crate::error::Error;
use crate::evaluate::RunResult;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

fn xerr(e: XlsxError) -> Error {
    Error::Output {
        path: "payouts.xlsx".into(),
        message: e.to_string(),
    }
}

fn num(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn header(ws: &mut Worksheet, cols: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
        ws.set_column_width(c as u16, (h.chars().count().max(10) + 2) as f64)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The workbook's bytes.
pub fn payouts_xlsx(r: &RunResult) -> Result<Vec<u8>, Error> {
    build(r).map_err(xerr)
}

fn build(r: &RunResult) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(&r.pack.manifest.pack.title)
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold();
    let decimals = r.pack.currency.minor_units as usize;
    let money_fmt = if decimals == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{}", "0".repeat(decimals))
    };
    let money = Format::new().set_num_format(&money_fmt);
    let money_bold = Format::new().set_num_format(&money_fmt).set_bold();
    let pct = Format::new().set_num_format("0.00%");
    let figure = Format::new().set_num_format("#,##0.######");
    let period = r.period().to_string();

    // Summary.
    let kpis = &r.pack.manifest.kpis;
    let ws = wb.add_worksheet();
    ws.set_name("Payouts")?;
    let mut cols = PAYOUT_COLUMNS.to_vec();
    let kpi_cols: Vec<String> = kpis
        .iter()
        .map(|k| format!("{} attainment", k.label))
        .collect();
    cols.extend(kpi_cols.iter().map(String::as_str));
    // Payee currency columns, as in payouts.csv, when someone is paid in another currency.
    let paid_in = r.managers.iter().any(|m| m.paid_in.is_some());
    let paid_at = cols.len() as u16;
    if paid_in {
        cols.extend(["paid_currency", "paid_rate", "paid_payout"]);
    }
    header(ws, &cols, &bold)?;
    ws.set_column_width(1, 28)?;
    let mut row = 1u32;
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        ws.write_string(row, 0, &mgr.id)?;
        ws.write_string(row, 1, &mgr.name)?;
        ws.write_string(row, 2, &period)?;
        ws.write_string(row, 3, &r.pack.currency.code)?;
        ws.write_number_with_format(row, 4, num(mgr.target_bonus), &money)?;
        ws.write_number_with_format(row, 5, num(m.payout), &money)?;
        for (i, k) in m.kpis.iter().enumerate() {
            ws.write_number_with_format(row, 6 + i as u16, num(k.attainment), &pct)?;
        }
        if paid_in {
            let (code, rate, payout) = match &m.paid_in {
                Some(p) => (p.currency.code.as_str(), p.rate, p.payout),
                None => (r.pack.currency.code.as_str(), Decimal::ONE, m.payout),
            };
            ws.write_string(row, paid_at, code)?;
            ws.write_number_with_format(row, paid_at + 1, num(rate), &figure)?;
            ws.write_number_with_format(row, paid_at + 2, num(payout), &money)?;
        }
        row += 1;
    }
    let last = row.saturating_sub(1).max(1);
    ws.autofilter(0, 0, last, (cols.len() - 1) as u16)?;
    ws.write_string_with_format(row + 1, 0, "TOTAL", &bold)?;
    ws.write_number_with_format(row + 1, 5, num(r.total), &money_bold)?;

    // KPIs.
    let ws = wb.add_worksheet();
    ws.set_name("KPIs")?;
    let cols = [
        "manager_id",
        "kpi",
        "label",
        "value",
        "target",
        "attainment",
        "weight",
        "contribution",
    ];
    header(ws, &cols, &bold)?;
    ws.set_column_width(2, 36)?;
    let mut row = 1u32;
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        for k in &m.kpis {
            ws.write_string(row, 0, &mgr.id)?;
            ws.write_string(row, 1, &k.id)?;
            ws.write_string(row, 2, &k.label)?;
            ws.write_number_with_format(row, 3, num(k.value), &figure)?;
            ws.write_number_with_format(row, 4, num(k.target), &figure)?;
            ws.write_number_with_format(row, 5, num(k.attainment), &pct)?;
            ws.write_number_with_format(row, 6, num(k.weight), &pct)?;
            ws.write_number_with_format(row, 7, num(contribution(m, &k.id)), &money)?;
            row += 1;
        }
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), (cols.len() - 1) as u16)?;

    // Key clients.
    let ws = wb.add_worksheet();
    ws.set_name("Key clients")?;
    let cols = KEY_CLIENT_COLUMNS;
    header(ws, &cols, &bold)?;
    ws.set_column_width(1, 28)?;
    ws.set_column_width(6, 60)?;
    let mut row = 1u32;
    for (i, (c, d)) in r.data.clients.iter().zip(&r.decisions).enumerate() {
        let manager = client_manager(r, i);
        ws.write_string(row, 0, &c.id)?;
        ws.write_string(row, 1, &c.name)?;
        ws.write_string(row, 2, manager)?;
        ws.write_boolean(row, 3, d.key)?;
        ws.write_string(row, 4, &d.tier)?;
        ws.write_number_with_format(row, 5, num(d.score), &figure)?;
        ws.write_string(row, 6, d.reasons.join("; "))?;
        row += 1;
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), (cols.len() - 1) as u16)?;
    settlement_sheet(&mut wb, r, &bold, &money)?;
    // Level 2 of 9: about half the time of the default 6 for a file a tenth larger; with
    // 20,000 key-client rows, compressing was most of the workbook's time.
    wb.set_zip_compression_level(2);
    wb.save_to_buffer()
}

/// One row per settlement line (adjustments, true-ups, guarantees, draws, recoveries), with
/// where it comes from; no sheet when the run has none.
fn settlement_sheet(
    wb: &mut Workbook,
    r: &RunResult,
    bold: &Format,
    money: &Format,
) -> Result<(), XlsxError> {
    let lines: Vec<(&str, &crate::evaluate::PayoutLine)> = r
        .managers
        .iter()
        .flat_map(|m| {
            let id = r.data.managers[m.manager as usize].id.as_str();
            m.lines
                .iter()
                .filter(|l| l.is_settlement())
                .map(move |l| (id, l))
        })
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let ws = wb.add_worksheet();
    ws.set_name("Settlement")?;
    let cols = [
        "manager_id",
        "kind",
        "kpi",
        "label",
        "amount",
        "note",
        "ref_period",
        "ref_run",
        "approved_by",
        "source",
    ];
    header(ws, &cols, bold)?;
    ws.set_column_width(3, 36)?;
    for (row, (id, l)) in lines.iter().enumerate() {
        let row = row as u32 + 1;
        let rf = l.reference.clone().unwrap_or_default();
        ws.write_string(row, 0, *id)?;
        ws.write_string(row, 1, &l.kind)?;
        ws.write_string(row, 2, l.kpi.as_deref().unwrap_or(""))?;
        ws.write_string(row, 3, &l.label)?;
        ws.write_number_with_format(row, 4, num(l.amount), money)?;
        ws.write_string(row, 5, &l.note)?;
        ws.write_string(row, 6, rf.ref_period.as_deref().unwrap_or(""))?;
        if let Some(run) = rf.ref_run {
            ws.write_number(row, 7, run as f64)?;
        }
        ws.write_string(row, 8, rf.approved_by.as_deref().unwrap_or(""))?;
        ws.write_string(row, 9, rf.source.as_deref().unwrap_or(""))?;
    }
    Ok(())
}
