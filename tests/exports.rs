//! Real exports in, spreadsheets out. The mini fixture's sales (tests/payouts.rs) are written
//! again by these tests in other dialects and encodings, behind a data.toml mapping; every
//! variant must pay exactly what the canonical files pay (231000.02 in total).

use crate::util::*;
use std::path::{Path, PathBuf};

/// One mini sales line: (date, client, manager's region, product, category, qty, amount, cost).
type Line = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The mini sales lines.
const LINES: &[Line] = &[
    (
        "2026-03-02",
        "C1",
        "North",
        "P1",
        "Dairy",
        "10",
        "600.00",
        "150.00",
    ),
    (
        "2026-03-20",
        "C1",
        "North",
        "P2",
        "Bakery",
        "5",
        "400.00",
        "150.00",
    ),
    (
        "2026-03-03",
        "C2",
        "East",
        "P1",
        "Dairy",
        "10",
        "1200.00",
        "400.00",
    ),
    (
        "2026-03-04",
        "C2",
        "East",
        "P1",
        "Dairy",
        "-1",
        "-100.00",
        "0.00",
    ),
    (
        "2026-03-05",
        "C3",
        "South",
        "P1",
        "Dairy",
        "15",
        "1500.00",
        "500.00",
    ),
    (
        "2026-03-06",
        "C4",
        "West",
        "P3",
        "Frozen",
        "1",
        "1000.00",
        "500.00",
    ),
    (
        "2026-02-10",
        "C4",
        "West",
        "P3",
        "Frozen",
        "1",
        "999.00",
        "1.00",
    ),
    (
        "2026-04-01",
        "C4",
        "West",
        "P3",
        "Frozen",
        "1",
        "5000.00",
        "1.00",
    ),
];

const REGIONS: &[(&str, &str)] = &[
    ("North", "M1"),
    ("East", "M2"),
    ("South", "M3"),
    ("West", "M4"),
];

pub(crate) struct Style {
    encoding: &'static str,
    delimiter: &'static str,
    decimal: char,
    thousands: &'static str,
    date_format: &'static str,
    bom: &'static [u8],
}

/// Tableau's Superstore: windows-1252, semicolons, decimal commas, NBSP thousands, DD/MM/YYYY.
const SUPERSTORE: Style = Style {
    encoding: "windows-1252",
    delimiter: ";",
    decimal: ',',
    thousands: "\u{a0}",
    date_format: "DD/MM/YYYY",
    bom: b"",
};

/// Plain UTF-8 with commas and ISO dates.
pub(crate) const PLAIN: Style = Style {
    encoding: "utf-8",
    delimiter: ",",
    decimal: '.',
    thousands: "",
    date_format: "YYYY-MM-DD",
    bom: b"",
};

fn format_date(iso: &str, format: &str) -> String {
    let (y, m, d) = (&iso[0..4], &iso[5..7], &iso[8..10]);
    format.replace("YYYY", y).replace("MM", m).replace("DD", d)
}

fn format_number(plain: &str, s: &Style) -> String {
    let (neg, digits) = match plain.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", plain),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(s.thousands);
        }
        grouped.push(ch);
    }
    if frac.is_empty() {
        format!("{neg}{grouped}")
    } else {
        format!("{neg}{grouped}{}{frac}", s.decimal)
    }
}

fn encode(text: &str, encoding: &str) -> Vec<u8> {
    match encoding {
        "windows-1252" => encoding_rs::WINDOWS_1252.encode(text).0.into_owned(),
        "windows-1251" => encoding_rs::WINDOWS_1251.encode(text).0.into_owned(),
        "utf-16" => text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        _ => text.as_bytes().to_vec(),
    }
}

/// Writes the export in `style` and a data.toml that maps it; returns the data.toml path.
pub(crate) fn export(dir: &Path, style: &Style, customer_note: &str) -> PathBuf {
    let d = style.delimiter.replace("\\t", "\t");
    let mut orders = format!(
        "Row ID{d}Order Date{d}Customer ID{d}Customer Name{d}Region{d}Product ID{d}Category{d}Quantity{d}Sales{d}Profit\r\n"
    );
    for (i, (date, client, region, product, category, qty, amount, cost)) in
        LINES.iter().enumerate()
    {
        let profit = (amount.parse::<rust_decimal::Decimal>().unwrap()
            - cost.parse::<rust_decimal::Decimal>().unwrap())
        .to_string();
        orders.push_str(&format!(
            "{}{d}{}{d}{client}{d}\"{customer_note} {client}; \"\"Ltd\"\"\"{d}{region}{d}{product}{d}{category}{d}{qty}{d}{}{d}{}\r\n",
            i + 1,
            format_date(date, style.date_format),
            format_number(amount, style),
            format_number(&profit, style),
        ));
    }
    let mut bytes = style.bom.to_vec();
    bytes.extend(encode(&orders, style.encoding));
    std::fs::write(dir.join("Orders.csv"), bytes).unwrap();
    let people: String = std::iter::once("Person;Region\n".to_string())
        .chain(REGIONS.iter().map(|(r, m)| format!("{m};{r}\n")))
        .collect();
    std::fs::write(dir.join("People.csv"), people).unwrap();
    for f in ["managers.csv", "plans.csv"] {
        std::fs::copy(fixture("mini/data").join(f), dir.join(f)).unwrap();
    }
    let mapping = format!(
        r#"
[dialect]
encoding = "{enc}"
delimiter = "{delim}"
decimal = "{dec}"
thousands = "{th}"
date_format = "{df}"

[files.orders]
path = "Orders.csv"
[files.people]
path = "People.csv"
encoding = "utf-8"
delimiter = ";"
[files.managers]
path = "managers.csv"
encoding = "utf-8"
delimiter = ","
decimal = "."
thousands = ""
[files.plans]
path = "plans.csv"
encoding = "utf-8"
delimiter = ","
decimal = "."
thousands = ""

[tables.sales]
from = "orders"
[tables.sales.columns]
date = "Order Date"
client_id = "Customer ID"
manager_id = {{ lookup = "people", match = "Region", on = "Region", take = "Person" }}
product = "Product ID"
category = "Category"
quantity = "Quantity"
amount = "Sales"
cost = {{ expr = "Sales - Profit" }}

[tables.clients]
from = "orders"
distinct = "client_id"
[tables.clients.columns]
client_id = "Customer ID"
name = "Customer Name"
strategic = {{ const = "no" }}

[tables.managers]
from = "managers"
[tables.managers.columns]
manager_id = "manager_id"
name = "name"
target_bonus = "target_bonus"

[tables.plans]
from = "plans"
[tables.plans.columns]
manager_id = "manager_id"
period = "period"
kpi = "kpi"
target = "target"
"#,
        enc = style.encoding,
        delim = style.delimiter,
        dec = style.decimal,
        th = if style.thousands == "\u{a0}" {
            "nbsp"
        } else {
            style.thousands
        },
        df = style.date_format,
    );
    std::fs::write(dir.join("data.toml"), mapping).unwrap();
    dir.join("data.toml")
}

/// Runs the mini pack on the mapping `data` into `dir/out`.
pub(crate) fn run_mini(dir: &Path, data: &Path) {
    let mini = fixture("mini");
    ok(
        dir,
        &[
            "run",
            "--rules",
            mini.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            "out",
        ],
    );
}

fn pays_like_the_canonical_files(name: &str, style: Style, note: &str) {
    let dir = scratch(name);
    let data = export(&dir, &style, note);
    run_mini(&dir, &data);
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["total_payout"], "231000.02", "{name}");
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M3", "payout"),
        "120000.00"
    );
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.02"
    );
    assert!(
        run["inputs"].to_string().contains("source:Orders.csv"),
        "run.json records the source files"
    );
}

#[test]
fn superstore_dialect_windows_1252_semicolons_decimal_commas() {
    pays_like_the_canonical_files(
        "ex-1252",
        SUPERSTORE,
        "Anna H\u{e4}berlin \u{201c}R\u{e9}sum\u{e9}\u{201d}",
    );
}

#[test]
fn windows_1251_tabs_dotted_dates_space_thousands() {
    let style = Style {
        encoding: "windows-1251",
        delimiter: "\\t",
        decimal: ',',
        thousands: " ",
        date_format: "DD.MM.YYYY",
        bom: b"",
    };
    pays_like_the_canonical_files("ex-1251", style, "ООО «Ромашка»");
}

#[test]
fn utf16_with_bom() {
    let style = Style {
        encoding: "utf-16",
        delimiter: ",",
        decimal: '.',
        thousands: "",
        date_format: "MM/DD/YYYY",
        bom: b"\xFF\xFE",
    };
    pays_like_the_canonical_files("ex-utf16", style, "Zoë");
}

#[test]
fn utf8_with_bom_and_iso_dates() {
    let style = Style {
        encoding: "utf-8",
        delimiter: ",",
        decimal: '.',
        thousands: "",
        date_format: "YYYY-MM-DD",
        bom: b"\xEF\xBB\xBF",
    };
    pays_like_the_canonical_files("ex-utf8bom", style, "Ünal");
}

#[test]
fn excel_workbook_input() {
    let dir = scratch("ex-xlsx");
    let data = export(&dir, &PLAIN, "Book");
    // The same orders as a typed sheet: real dates and numbers.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Orders").unwrap();
    let date_fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in [
        "Row ID",
        "Order Date",
        "Customer ID",
        "Customer Name",
        "Region",
        "Product ID",
        "Category",
        "Quantity",
        "Sales",
        "Profit",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, (date, client, region, product, category, qty, amount, cost)) in
        LINES.iter().enumerate()
    {
        let r = i as u32 + 1;
        let dt = rust_xlsxwriter::ExcelDateTime::parse_from_str(date).unwrap();
        ws.write_number(r, 0, r as f64).unwrap();
        ws.write_datetime_with_format(r, 1, &dt, &date_fmt).unwrap();
        ws.write_string(r, 2, *client).unwrap();
        ws.write_string(r, 3, format!("Book {client}")).unwrap();
        ws.write_string(r, 4, *region).unwrap();
        ws.write_string(r, 5, *product).unwrap();
        ws.write_string(r, 6, *category).unwrap();
        ws.write_number(r, 7, qty.parse::<f64>().unwrap()).unwrap();
        ws.write_number(r, 8, amount.parse::<f64>().unwrap())
            .unwrap();
        let profit: f64 = amount.parse::<f64>().unwrap() - cost.parse::<f64>().unwrap();
        ws.write_number(r, 9, profit).unwrap();
    }
    wb.save(dir.join("Orders.xlsx")).unwrap();
    edit(
        &data,
        "[files.orders]\npath = \"Orders.csv\"",
        "[files.orders]\npath = \"Orders.xlsx\"\nsheet = \"Orders\"",
    );
    run_mini(&dir, &data);
    assert_eq!(json(&dir.join("out/run.json"))["total_payout"], "231000.02");
}

#[test]
fn inspect_reports_the_superstore_dialect() {
    let dir = scratch("ex-inspect");
    export(&dir, &SUPERSTORE, "Anna H\u{e4}berlin");
    let out = ok(&dir, &["inspect", "Orders.csv"]);
    for expected in [
        "encoding: windows-1252",
        "delimiter: ';'",
        "decimal separator: ','",
        "thousands separator: 'nbsp'",
        "date format: DD/MM/YYYY",
        "rows: 8",
        "Sales [decimal]",
        "date = \"Order Date\"",
        "cost = { expr = \"[Sales] - [Profit]\" }",
    ] {
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
}

fn mapped_failure(name: &str, change: impl FnOnce(&Path), expected: &[&str]) {
    let dir = scratch(name);
    let data = export(
        &dir,
        &Style {
            encoding: "utf-8",
            delimiter: ";",
            decimal: ',',
            thousands: "",
            date_format: "DD/MM/YYYY",
            bom: b"",
        },
        "Ann",
    );
    change(&dir);
    let mini = fixture("mini");
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            mini.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            "out",
        ],
        1,
    );
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn bytes_invalid_in_the_declared_encoding_are_an_error() {
    mapped_failure(
        "ex-bad-utf8",
        |d| {
            let mut b = std::fs::read(d.join("Orders.csv")).unwrap();
            let at = b.windows(3).position(|w| w == b"Ann").unwrap();
            b[at + 1] = 0xE4; // windows-1252 'ä' in a file declared UTF-8
            std::fs::write(d.join("Orders.csv"), b).unwrap();
        },
        &[
            "Orders.csv: line 2: byte 0xE4",
            "is not valid UTF-8",
            "Set `encoding` in data.toml",
        ],
    );
}

#[test]
fn a_mapped_column_that_is_missing_lists_the_columns() {
    mapped_failure(
        "ex-missing",
        |d| {
            edit(
                &d.join("data.toml"),
                "amount = \"Sales\"",
                "amount = \"Sale\"",
            )
        },
        &[
            "Orders.csv: has no column 'Sale' (did you mean 'Sales'?)",
            "its columns are: Row ID, Order Date, Customer ID",
        ],
    );
}

#[test]
fn a_value_that_does_not_parse_shows_the_raw_value_and_format() {
    mapped_failure(
        "ex-bad-number",
        |d| {
            let text = read(&d.join("Orders.csv")).replacen("1200,00", "1.200,00", 1);
            std::fs::write(d.join("Orders.csv"), text).unwrap();
        },
        &["Orders.csv:4: column 'Sales': found '1.200,00', expected a number like 1234,56"],
    );
    mapped_failure(
        "ex-bad-date",
        |d| {
            let text = read(&d.join("Orders.csv")).replacen("05/03/2026", "2026/03/05", 1);
            std::fs::write(d.join("Orders.csv"), text).unwrap();
        },
        &["Orders.csv:6: column 'Order Date': found '2026/03/05', expected a date as DD/MM/YYYY"],
    );
}

#[test]
fn a_failed_lookup_names_the_value_and_the_file() {
    mapped_failure(
        "ex-lookup",
        |d| edit(&d.join("People.csv"), "M3;South", "M3;Sud"),
        &[
            "Orders.csv:6: column 'Region': 'South' is not found in",
            "People.csv (looked up for manager_id)",
        ],
    );
}

#[test]
fn payouts_xlsx_opens_with_the_numbers_of_payouts_csv() {
    use calamine::{Data, Reader};
    let dir = scratch("xlsx-out");
    ok(&dir, &["run", "--out", "out", "-q"]);
    let mut book = calamine::open_workbook_auto(dir.join("out/payouts.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), vec!["Payouts", "KPIs", "Key clients"]);
    let sheet = book.worksheet_range("Payouts").unwrap();
    let mut rdr = csv::Reader::from_path(dir.join("out/payouts.csv")).unwrap();
    let mut n = 0;
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        let row = i as u32 + 1;
        assert_eq!(
            sheet.get_value((row, 0)),
            Some(&Data::String(rec[0].to_string()))
        );
        let Some(Data::Float(payout)) = sheet.get_value((row, 5)) else {
            panic!("row {row}: payout is not a number")
        };
        assert_eq!(format!("{payout:.2}"), rec[5].to_string(), "row {row}");
        n += 1;
    }
    assert_eq!(n, 8);
    let total = json(&dir.join("out/run.json"))["total_payout"]
        .as_str()
        .unwrap()
        .to_string();
    let Some(Data::Float(t)) = sheet.get_value((n + 2, 5)) else {
        panic!("no total")
    };
    assert_eq!(format!("{t:.2}"), total);
}

#[test]
fn conflicting_separators_and_bad_column_specs_are_refused() {
    mapped_failure(
        "ex-separators",
        |d| {
            edit(
                &d.join("data.toml"),
                "[files.orders]\npath = \"Orders.csv\"",
                "[files.orders]\npath = \"Orders.csv\"\nthousands = \",\"",
            )
        },
        &["[files.orders]: the thousands separator and the decimal separator are both ','"],
    );
    mapped_failure(
        "ex-spec",
        |d| {
            edit(
                &d.join("data.toml"),
                "cost = { expr = \"Sales - Profit\" }",
                "cost = { expr = \"Sales - Profit\", const = \"1\" }",
            )
        },
        &["unexpected keys const, expr"],
    );
}

#[test]
fn constants_are_read_in_the_canonical_dialect() {
    let dir = scratch("ex-const");
    let data = export(&dir, &SUPERSTORE, "Ann");
    edit(
        &data,
        "[tables.clients.columns]",
        "[tables.clients.columns]\nmarket_share = { const = \"0.25\" }",
    );
    run_mini(&dir, &data);
    assert_eq!(json(&dir.join("out/run.json"))["total_payout"], "231000.02");
}

#[test]
fn mapping_configuration_errors_name_the_table_and_the_fix() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "ex-cfg-table",
            "[tables.plans]",
            "[tables.sale]\nfrom = \"orders\"\n[tables.sale.columns]\nx = \"Sales\"\n\n[tables.plans]",
            "[tables.sale] is not a canonical table (did you mean 'sales'?)",
        ),
        ("ex-cfg-from", "[tables.sales]\nfrom = \"orders\"", "[tables.sales]\nfrom = \"order\"", "from = 'order': no such file in [files] (did you mean 'orders'?)"),
        ("ex-cfg-distinct", "distinct = \"client_id\"", "distinct = \"client\"", "distinct = 'client' is not one of its mapped columns"),
        ("ex-cfg-lookup", "lookup = \"people\"", "lookup = \"persons\"", "lookup 'persons' is not in [files]"),
        ("ex-cfg-sheet", "[files.orders]\npath = \"Orders.csv\"", "[files.orders]\npath = \"Orders.csv\"\nsheet = \"Orders\"", "`sheet` applies to Excel workbooks, and this is not one"),
        ("ex-cfg-encoding", "encoding = \"utf-8\"\ndelimiter = \";\"", "encoding = \"koi8-r\"\ndelimiter = \";\"", "encoding 'koi8-r' is not supported"),
        ("ex-cfg-expr", "expr = \"Sales - Profit\"", "expr = \"Sales - (Profit\"", "a '(' without its ')'"),
        ("ex-cfg-header", "[files.orders]\npath = \"Orders.csv\"", "[files.orders]\npath = \"Orders.csv\"\nheader_row = 99", "has no header row (header_row = 99)"),
    ];
    for (name, from, to, expected) in cases {
        mapped_failure(name, |d| edit(&d.join("data.toml"), from, to), &[expected]);
    }
    mapped_failure(
        "ex-cfg-ragged",
        |d| {
            let text = read(&d.join("Orders.csv")).replacen("\r\n2;", "\r\n2;extra;", 1);
            std::fs::write(d.join("Orders.csv"), text).unwrap();
        },
        &["Orders.csv:3: the row has 11 field(s) but the header has 10; is the delimiter ';' right?"],
    );
}

#[test]
fn inspect_of_a_missing_file_says_so() {
    let dir = scratch("ex-inspect-missing");
    let err = fails(&dir, &["inspect", "nope.csv"], 1);
    assert!(err.contains("nope.csv: cannot read"), "{err}");
}

/// The Superstore-like export of these tests, in its plain UTF-8 style.
fn plain_export(dir: &Path) -> PathBuf {
    export(
        dir,
        &Style {
            encoding: "utf-8",
            delimiter: ";",
            decimal: ',',
            thousands: "",
            date_format: "DD/MM/YYYY",
            bom: b"",
        },
        "Ann",
    )
}

#[test]
fn value_maps_and_lookup_defaults_fix_names_in_the_mapping_not_in_a_copy_of_the_file() {
    // People.csv spells a region differently from the orders ("Sud"), and forgets another
    // ("North", whose manager is M1): a map and a default in the lookup fix both, and the
    // orders' category "Dairy" arrives as "Milk", renamed back by a value map, which also
    // files "Bakery" under "Dairy". The payouts are those of the canonical files.
    let dir = scratch("ex-value-maps");
    let data = plain_export(&dir);
    edit(&dir.join("People.csv"), "M3;South", "M3;Sud");
    let people = read(&dir.join("People.csv"));
    assert!(people.contains("M1;North"), "{people}");
    std::fs::write(dir.join("People.csv"), people.replace("M1;North\n", "")).unwrap();
    let orders = read(&dir.join("Orders.csv")).replace(";Dairy;", ";Milk;");
    std::fs::write(dir.join("Orders.csv"), orders).unwrap();
    edit(
        &data,
        r#"manager_id = { lookup = "people", match = "Region", on = "Region", take = "Person" }"#,
        r#"manager_id = { lookup = "people", match = "Region", on = "Region", take = "Person", map = { South = "Sud" }, default = "M1" }"#,
    );
    edit(
        &data,
        "category = \"Category\"",
        "category = { column = \"Category\", map = { Milk = \"Dairy\", Bakery = \"Dairy\" } }",
    );
    run_mini(&dir, &data);
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["total_payout"], "231000.02");
    // The rows that took the default are a guess, and the run says so.
    let warned = run["warnings"].to_string();
    assert!(
        warned.contains("sales.manager_id: ") && warned.contains("Orders.csv took the lookup default 'M1', not found in people (the first: line 2, 'North')"),
        "{warned}"
    );
    // M1 bought Dairy and Bakery in March: one category once both are Dairy.
    let m1 = json(&dir.join("out/statements/M1.json"));
    assert_eq!(m1["facts"]["current"]["categories"], 1);
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M3", "payout"),
        "120000.00"
    );
    // Without the default, the forgotten region is an error that names both fixes.
    edit(&data, ", default = \"M1\"", "");
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            fixture("mini").to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            "out2",
        ],
        1,
    );
    assert!(
        err.contains("'North' is not found in") && err.contains("map it to a value the file has (map = { \"North\" = \"...\" }) or give the lookup a default"),
        "{err}"
    );
    // Shapes that are not allowed say which are.
    for (spec, expected) in [
        (
            r#"{ column = "Category", default = "x" }"#,
            "default is for a lookup",
        ),
        (
            r#"{ column = "Category", map = { Milk = 1 } }"#,
            "map: 'Milk' maps to integer",
        ),
        (
            r#"{ const = "x", map = { a = "b" } }"#,
            "map and default go with column or lookup",
        ),
    ] {
        edit(
            &data,
            "category = { column = \"Category\", map = { Milk = \"Dairy\", Bakery = \"Dairy\" } }",
            &format!("category = {spec}"),
        );
        let err = fails(
            &dir,
            &[
                "run",
                "--rules",
                fixture("mini").to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--out",
                "out3",
            ],
            1,
        );
        assert!(err.contains(expected), "{spec}: {err}");
        edit(
            &data,
            &format!("category = {spec}"),
            "category = { column = \"Category\", map = { Milk = \"Dairy\", Bakery = \"Dairy\" } }",
        );
    }
}

/// The run of `data` with the mini pack into `dir/out`, or its error.
fn run_mini_result(dir: &Path, data: &Path, out: &str) -> Result<(), String> {
    let o = bonusrun(
        dir,
        &[
            "run",
            "--rules",
            fixture("mini").to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out,
        ],
    );
    if o.status.success() {
        Ok(())
    } else {
        assert!(!dir.join(out).exists(), "a failed run wrote {out}");
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

fn march_revenue(dir: &Path, out: &str, manager: &str) -> String {
    let s = json(&dir.join(format!("{out}/statements/{manager}.json")));
    s["facts"]["current"]["revenue"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_effective_dated_lookup_takes_the_row_in_force_on_the_lines_date() {
    // West belongs to M4 until 2026-03-05, then to M2: C4's 1,000.00 of 2026-03-06 is M2's,
    // whose March is then 1,200.00 - 100.00 + 1,000.00 = 2,100.00; M4 has none in March.
    let dir = scratch("ex-dated-lookup");
    let data = plain_export(&dir);
    std::fs::write(
        dir.join("People.csv"),
        "Person;Region;From;To\nM1;North;;\nM2;East;;\nM3;South;;\nM4;West;;05/03/2026\nM2;West;06/03/2026;\n",
    )
    .unwrap();
    edit(
        &data,
        r#"take = "Person" }"#,
        r#"take = "Person", from = "From", to = "To", date = "Order Date" }"#,
    );
    run_mini_result(&dir, &data, "out").unwrap();
    assert_eq!(march_revenue(&dir, "out", "M2"), "2100.00");
    assert_eq!(march_revenue(&dir, "out", "M4"), "0");
    // Two rows in force at once name both lines of the lookup file.
    edit(
        &dir.join("People.csv"),
        "M2;West;06/03/2026;",
        "M2;West;05/03/2026;",
    );
    let err = run_mini_result(&dir, &data, "out2").unwrap_err();
    assert!(
        err.contains("People.csv:6: 'West' has two rows in force at once: this one (2026-03-05 on) and line 5 (until 2026-03-05); make their dates follow each other"),
        "{err}"
    );
    // A line on a day no row holds names the line, the value and the date.
    edit(
        &dir.join("People.csv"),
        "M2;West;05/03/2026;",
        "M2;West;07/03/2026;",
    );
    let err = run_mini_result(&dir, &data, "out3").unwrap_err();
    assert!(
        err.contains("Orders.csv:7: column 'Region': 'West' has no row of")
            && err.contains("People.csv in force on 2026-03-06 (looked up for manager_id; its rows hold until 2026-03-05, 2026-03-07 on)"),
        "{err}"
    );
    // Dates go with a lookup, and need the column that picks the row.
    edit(&data, r#", date = "Order Date" }"#, " }");
    let err = run_mini_result(&dir, &data, "out4").unwrap_err();
    assert!(
        err.contains("an effective-dated lookup needs date = \"...\""),
        "{err}"
    );
}

#[test]
fn rows_found_in_another_file_can_be_excluded() {
    // Superstore's Returns.csv lists returned orders: row 3 (C2's 1,200.00 on 2026-03-03)
    // is left out, so M2's March is the return of -100.00 alone.
    let dir = scratch("ex-exclude");
    let data = plain_export(&dir);
    std::fs::write(dir.join("Returns.csv"), "Returned;Row ID\nYes;3\n").unwrap();
    edit(
        &data,
        "[files.people]",
        "[files.returns]\npath = \"Returns.csv\"\nencoding = \"utf-8\"\ndelimiter = \";\"\n[files.people]",
    );
    edit(
        &data,
        "[tables.sales]\nfrom = \"orders\"\n",
        "[tables.sales]\nfrom = \"orders\"\nexclude = { lookup = \"returns\", match = \"Row ID\", on = \"Row ID\" }\n",
    );
    run_mini_result(&dir, &data, "out").unwrap();
    assert_eq!(march_revenue(&dir, "out", "M2"), "-100.00");
    let s = json(&dir.join("out/statements/M2.json"));
    assert_eq!(s["facts"]["current"]["lines"], 1);
    edit(&data, "lookup = \"returns\"", "lookup = \"return\"");
    let err = run_mini_result(&dir, &data, "out2").unwrap_err();
    assert!(
        err.contains(
            "[tables.sales] exclude: lookup 'return' is not in [files] (did you mean 'returns'?)"
        ),
        "{err}"
    );
}

#[test]
fn an_error_in_a_mapped_table_names_the_source_file_line_and_column() {
    // People.csv gives East to a manager managers.csv lacks: the sales loader finds it on
    // the mapped sales.csv, and the message names Orders.csv's line and column instead.
    let dir = scratch("ex-located");
    let data = plain_export(&dir);
    edit(&dir.join("People.csv"), "M2;East", "M9;East");
    let err = run_mini_result(&dir, &data, "out").unwrap_err();
    assert!(
        err.contains("Orders.csv:4: column 'Region (looked up in")
            && err.contains("People.csv)': unknown manager_id 'M9'; it is not in managers.csv (mapped to manager_id of sales.csv, row 3)"),
        "{err}"
    );
    assert!(!err.contains("mapped:"), "{err}");
}

#[test]
fn a_dated_lookup_with_bad_dates_or_keys_is_refused_naming_the_place() {
    let dir = scratch("ex-dated-bad");
    let data = plain_export(&dir);
    edit(
        &data,
        r#"take = "Person" }"#,
        r#"take = "Person", from = "From", to = "To", date = "Order Date" }"#,
    );
    let people = |rows: &str| {
        std::fs::write(
            dir.join("People.csv"),
            format!("Person;Region;From;To\nM1;North;;\nM2;East;;\nM3;South;;\n{rows}"),
        )
        .unwrap();
    };
    people("M4;West;06/03/2026;05/03/2026\n");
    let err = run_mini_result(&dir, &data, "o1").unwrap_err();
    assert!(
        err.contains("People.csv:5: 'West' holds to 2026-03-05, before it holds from 2026-03-06"),
        "{err}"
    );
    people("M4;West;someday;\n");
    let err = run_mini_result(&dir, &data, "o2").unwrap_err();
    assert!(
        err.contains("People.csv:5: column 'From': found 'someday', expected a date as DD/MM/YYYY or empty (open)"),
        "{err}"
    );
    people("M4;West;;\n");
    edit(
        &data,
        r#", from = "From", to = "To", date = "Order Date" }"#,
        r#", from = "From" }"#,
    );
    let err = run_mini_result(&dir, &data, "o3").unwrap_err();
    assert!(
        err.contains("an effective-dated lookup needs date = \"...\""),
        "{err}"
    );
    edit(&data, r#", from = "From" }"#, r#", date = "Order Date" }"#);
    let err = run_mini_result(&dir, &data, "o4").unwrap_err();
    assert!(
        err.contains("date picks the row in force by the lookup file's from and to columns; give from, to or both"),
        "{err}"
    );
    edit(
        &data,
        r#"take = "Person", date = "Order Date" }"#,
        r#"take = "Person" }"#,
    );
    edit(
        &data,
        "product = \"Product ID\"",
        "product = { const = \"P\", date = \"Order Date\" }",
    );
    let err = run_mini_result(&dir, &data, "o5").unwrap_err();
    assert!(err.contains("from, to and date go with a lookup"), "{err}");
}

#[test]
fn a_constant_the_files_dialect_reads_otherwise_is_refused() {
    // With thousands = ".", "0.250" could be 0.25 (bonusrun's form) or 250 (the file's):
    // the mapping refuses to guess.
    mapped_failure(
        "ex-const-ambiguous",
        |d| {
            let toml = d.join("data.toml");
            edit(&toml, "thousands = \"\"", "thousands = \".\"");
            edit(
                &toml,
                "[tables.clients.columns]",
                "[tables.clients.columns]\nmarket_share = { const = \"0.250\" }",
            );
        },
        &["data.toml: [tables.clients.columns] market_share: { const = \"0.250\" } reads as 0.250 in bonusrun's form but as 250 in this file's (decimal ',', thousands '.'); write it in bonusrun's form, without thousands separators (e.g. \"250\")"],
    );
}

#[test]
fn a_misshapen_filter_or_exclude_says_which_shapes_are_allowed() {
    mapped_failure(
        "ex-shape-filter",
        |d| edit(&d.join("data.toml"), "[tables.sales]\nfrom = \"orders\"", "[tables.sales]\nfrom = \"orders\"\nfilter = { Region = 5 }"),
        &["invalid type: integer `5`, expected a text or a list of texts, e.g. filter = { deal_stage = \"Won\" } or { deal_stage = [\"Won\", \"Lost\"] }"],
    );
    mapped_failure(
        "ex-shape-exclude",
        |d| edit(&d.join("data.toml"), "[tables.sales]\nfrom = \"orders\"", "[tables.sales]\nfrom = \"orders\"\nexclude = \"returns\""),
        &["invalid type: string \"returns\", expected a table or a list of tables, e.g. exclude = { lookup = \"returns\", match = \"Order ID\", on = \"Order ID\" }"],
    );
}

#[test]
fn run_canonical_writes_the_mapped_tables_which_pay_the_same() {
    let dir = scratch("ex-canonical");
    let data = export(&dir, &SUPERSTORE, "Ann");
    let mini = fixture("mini").display().to_string();
    let data = data.display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run", "--rules", &mini, "--data", &data, "--out", "out", "--force", "-q",
        ];
        args.extend_from_slice(extra);
        bonusrun(&dir, &args)
    };
    assert!(run(&["--canonical", "canon"]).status.success());
    let sales = read(&dir.join("canon/sales.csv"));
    assert!(
        sales.starts_with("amount,category,client_id,cost,date,manager_id,"),
        "{sales}"
    );
    // The canonical tables are what the run read: run on them, it pays the same.
    ok(
        &dir,
        &[
            "run", "--rules", &mini, "--data", "canon", "--out", "again", "-q",
        ],
    );
    assert_eq!(
        json(&dir.join("again/run.json"))["total_payout"],
        "231000.02"
    );
    // Existing files are kept without --force (run's --force covers them too).
    let out = bonusrun(
        &dir,
        &[
            "run",
            "--rules",
            &mini,
            "--data",
            &data,
            "--out",
            "o2",
            "-q",
            "--canonical",
            "canon",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("canon/clients.csv: it already exists and is kept"));
    // A directory of canonical files has nothing to map.
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            &mini,
            "--data",
            "canon",
            "--out",
            "o3",
            "--canonical",
            "c2",
        ],
        2,
    );
    assert!(
        err.contains("--canonical: the data (canon/) is a directory of canonical files already"),
        "{err}"
    );
}

#[test]
fn a_golden_case_can_pin_a_real_exports_pipeline_through_data_toml() {
    let dir = scratch("ex-golden-mapping");
    copy_dir(&fixture("mini"), &dir.join("pack"));
    let case = dir.join("pack/tests/superstore");
    std::fs::create_dir_all(case.join("data")).unwrap();
    std::fs::create_dir_all(case.join("expected")).unwrap();
    export(&case.join("data"), &SUPERSTORE, "Ann");
    // The expected payouts, from a run on the export; its figures are the hand-worked ones
    // of pays_like_the_canonical_files.
    ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--data",
            "pack/tests/superstore/data",
            "--out",
            "out",
            "-q",
        ],
    );
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M3", "payout"),
        "120000.00"
    );
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.02"
    );
    std::fs::copy(
        dir.join("out/payouts.csv"),
        case.join("expected/payouts.csv"),
    )
    .unwrap();
    let said = ok(&dir, &["test", "--rules", "pack"]);
    assert!(
        said.contains("PASS superstore") && said.ends_with("1 passed, 0 failed\n"),
        "{said}"
    );
    // A change in the export's pipeline (here: the decimal separator) fails the case.
    edit(
        &case.join("data/data.toml"),
        "decimal = \",\"",
        "decimal = \".\"",
    );
    let out = bonusrun(&dir, &["test", "--rules", "pack"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && said.contains("FAIL superstore"),
        "{said}"
    );
    // A case's mapping may not read outside the pack.
    edit(
        &case.join("data/data.toml"),
        "decimal = \".\"",
        "decimal = \",\"",
    );
    edit(
        &case.join("data/data.toml"),
        "path = \"People.csv\"",
        "path = \"../../../../People.csv\"",
    );
    std::fs::copy(case.join("data/People.csv"), dir.join("People.csv")).unwrap();
    let out = bonusrun(&dir, &["test", "--rules", "pack"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("FAIL superstore")
            && said.contains("path = \"../../../../People.csv\": ")
            && said.contains("leads outside the pack"),
        "{said}"
    );
}

#[test]
fn inspect_gives_a_lookup_file_a_lookup_section_and_several_files_one_starter() {
    let dir = scratch("ex-inspect-many");
    export(&dir, &SUPERSTORE, "Ann");
    // People.csv (Person;Region) alone: a lookup, not a sales table.
    let out = ok(&dir, &["inspect", "People.csv"]);
    assert!(!out.contains("[tables.sales]\nfrom"), "{out}");
    assert!(out.contains("# People.csv is a lookup file (no dates and amounts): a column of a table reads it, e.g.\n# manager_id = { lookup = \"people\", match = \"?\", on = \"Person\", take = \"Region\" }"), "{out}");
    // With the orders: one starter, sales from Orders.csv, People.csv looked up on the
    // column both files have.
    let out = ok(&dir, &["inspect", "People.csv", "Orders.csv"]);
    assert_eq!(out.matches("starter data.toml").count(), 1, "{out}");
    assert!(
        out.contains("[files.people]\npath = \"People.csv\""),
        "{out}"
    );
    assert!(
        out.contains("[files.orders]\npath = \"Orders.csv\""),
        "{out}"
    );
    assert!(out.contains("[tables.sales]\nfrom = \"orders\""), "{out}");
    assert!(out.contains("# manager_id = { lookup = \"people\", match = \"Region\", on = \"Region\", take = \"Person\" }"), "{out}");
    let err = fails(&dir, &["inspect"], 2);
    assert!(err.contains("<FILES>..."), "{err}");
}
