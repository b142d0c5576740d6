//! The sales pass as SQL, for an engine where the sales live (DuckDB, Spark, a warehouse):
//! [`facts_sql`] prints one `SELECT` that computes, from a table of canonical sales lines,
//! exactly what the pass sums, in the facts schema that [`super::import`] reads back
//! (`bonusrun run --facts`). The rules then run on one machine as usual.
//!
//! The query returns rows of four kinds (docs/scale.md lists every column):
//! - `segment`: one per account (client, manager) and date segment: the disjoint ranges
//!   between all windows' bounds, so that overlapping windows are each summed once per
//!   account, not once per line; the host sums segments into windows as the pass does;
//! - `client`: each client's first and last sale before the run period's end;
//! - `total`: the sums over every counted line, which the host checks the segments against
//!   (a facts file cut short, or one of several part files, does not reconcile);
//! - `run`: the run period, every line's count and date range, and how many lines have
//!   more decimals than `--scale` (the engine would round them: the host refuses those).

use super::WindowPlan;
use crate::pack::measures::{Aggregate, Measure, Test};
use std::fmt::Write;

/// The SQL dialect to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// Spark SQL.
    Spark,
    /// Standard SQL (SQL:2016 `JSON_ARRAYAGG`), for other warehouses.
    Ansi,
}

impl Dialect {
    /// From its name on the command line.
    pub fn parse(name: &str) -> Result<Dialect, String> {
        match name.to_ascii_lowercase().as_str() {
            "duckdb" => Ok(Dialect::DuckDb),
            "spark" => Ok(Dialect::Spark),
            "ansi" => Ok(Dialect::Ansi),
            _ => Err(format!("--dialect {name}: expected duckdb, spark or ansi")),
        }
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            _ => "VARCHAR",
        }
    }

    fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// How many decimals the text of `col` has (0 without a point).
    fn decimals(self, col: &str) -> String {
        let t = format!("CAST({col} AS {})", self.text_type());
        match self {
            Dialect::Ansi => format!(
                "CASE WHEN POSITION('.' IN {t}) > 0 THEN CHAR_LENGTH({t}) - POSITION('.' IN {t}) ELSE 0 END"
            ),
            _ => format!("CASE WHEN instr({t}, '.') > 0 THEN length({t}) - instr({t}, '.') ELSE 0 END"),
        }
    }

    /// Texts joined with spaces.
    fn join(self, parts: &[String]) -> String {
        let text = |p: &String| format!("CAST({p} AS {})", self.text_type());
        match self {
            Dialect::Ansi => parts
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join(" || ' ' || "),
            _ => format!(
                "concat_ws(' ', {})",
                parts.iter().map(text).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// A sorted JSON array of the distinct non-null values of `expr` in a group.
    fn json_set(self, expr: &str) -> String {
        match self {
            Dialect::DuckDb => {
                format!("CAST(to_json(list_sort(list_distinct(list({expr})))) AS VARCHAR)")
            }
            Dialect::Spark => format!("to_json(array_sort(collect_set({expr})))"),
            Dialect::Ansi => format!(
                "JSON_ARRAYAGG(DISTINCT {expr} ORDER BY {expr} ABSENT ON NULL RETURNING VARCHAR(1000000))"
            ),
        }
    }
}

/// What the query reads and how.
#[derive(Clone, Debug)]
pub struct SqlOptions {
    /// The dialect.
    pub dialect: Dialect,
    /// The table (or view) of sales lines, with the canonical columns of sales.csv.
    pub table: String,
    /// Decimals of amount and cost (and numeric measure columns).
    pub scale: u32,
    /// Decimals of quantity.
    pub quantity_scale: u32,
}

/// The facts query for `plan` (the run period's windows, the pack's windows and measures).
pub fn facts_sql(plan: &WindowPlan, options: &SqlOptions) -> String {
    let d = options.dialect;
    let num = format!("DECIMAL(38,{})", options.scale);
    let wide = "DECIMAL(38,12)";
    let text = d.text_type();
    let end = plan.period().end_date();
    let mut q = String::new();
    let _ = writeln!(
        q,
        "-- bonusrun facts for {} ({} segments, {} measures): see docs/scale.md",
        plan.period(),
        plan.segment_dates().len(),
        plan.measures.len()
    );
    q.push_str("WITH lines AS (\n  SELECT\n");
    let _ = writeln!(q, "    CAST(client_id AS {text}) AS client_id,");
    let _ = writeln!(q, "    CAST(manager_id AS {text}) AS manager_id,");
    q.push_str(
        "    CAST(\"date\" AS DATE) AS d,\n"
            .replace("\"date\"", &d.ident("date"))
            .as_str(),
    );
    let qty = format!("DECIMAL(38,{})", options.quantity_scale);
    for col in ["amount", "cost", "quantity"] {
        let ty = if col == "quantity" { &qty } else { &num };
        let _ = writeln!(q, "    CAST({c} AS {ty}) AS {col},", c = d.ident(col));
        let _ = writeln!(
            q,
            "    CAST({c} AS {wide}) AS {col}_wide,",
            c = d.ident(col)
        );
        let _ = writeln!(q, "    {} AS {col}_dp,", d.decimals(&d.ident(col)));
    }
    let _ = writeln!(q, "    NULLIF(CAST(category AS {text}), '') AS category,");
    let _ = writeln!(q, "    NULLIF(CAST(product AS {text}), '') AS product,");
    q.push_str("    CASE\n");
    for (i, (start, stop)) in shown_segments(plan).iter().enumerate() {
        let _ = writeln!(
            q,
            "      WHEN CAST({date} AS DATE) >= DATE '{start}' AND CAST({date} AS DATE) < DATE '{stop}' THEN {i}",
            date = d.ident("date")
        );
    }
    q.push_str("    END AS segment");
    for (i, m) in plan.measures.iter().enumerate() {
        let _ = write!(
            q,
            ",\n    CASE WHEN {} THEN 1 ELSE 0 END AS hit_{i}",
            condition(m, d, &num)
        );
    }
    let _ = writeln!(q, "\n  FROM {}\n),", options.table);
    q.push_str("segments AS (\n  SELECT * FROM (VALUES\n");
    let rows: Vec<String> = shown_segments(plan)
        .iter()
        .enumerate()
        .map(|(i, (s, e))| format!("    ({i}, DATE '{s}', DATE '{e}')"))
        .collect();
    q.push_str(&rows.join(",\n"));
    q.push_str("\n  ) AS s(segment, seg_start, seg_end)\n)\n");
    let measures: Vec<String> = plan
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| measure_sql(m, i, d, &num))
        .collect();
    let nulls = |ty: &str| format!("CAST(NULL AS {ty})");
    let measure_nulls: Vec<String> = plan
        .measures
        .iter()
        .map(|m| {
            let ty = match m.of {
                Aggregate::Products | Aggregate::Categories => text.to_string(),
                _ => num.clone(),
            };
            format!(
                ", {} AS {}",
                nulls(&ty),
                d.ident(&format!("measure_{}", m.name))
            )
        })
        .collect();
    let returns = format!("SUM(CASE WHEN l.amount < 0 THEN -l.amount ELSE CAST(0 AS {num}) END)");
    // segment rows
    let _ = writeln!(
        q,
        "SELECT 'segment' AS kind, {np} AS period, l.client_id, l.manager_id, s.seg_start AS start_date, s.seg_end AS end_date,\n  COUNT(*) AS lines, CAST(SUM(CASE WHEN l.amount < 0 THEN 1 ELSE 0 END) AS BIGINT) AS return_lines,\n  SUM(l.amount) AS revenue, SUM(l.cost) AS cost, SUM(l.quantity) AS quantity, {returns} AS returns,\n  MIN(l.d) AS first_date, MAX(l.d) AS last_date,\n  {cats} AS categories, {prods} AS products, CAST(NULL AS BIGINT) AS inexact,\n  {dps} AS decimals{ms}\nFROM lines l JOIN segments s ON l.segment = s.segment\nGROUP BY l.client_id, l.manager_id, s.seg_start, s.seg_end",
        dps = d.join(&decimals(plan)),
        np = nulls(text),
        cats = d.json_set("l.category"),
        prods = d.json_set("l.product"),
        ms = measures.iter().map(|m| format!(",\n  {m}")).collect::<String>()
    );
    let zero_row = |kind: &str,
                    period: &str,
                    client: &str,
                    sums: &str,
                    dates: &str,
                    inexact: &str| {
        format!(
            "SELECT '{kind}', {period}, {client}, {mgr}, CAST(NULL AS DATE), CAST(NULL AS DATE),\n  {sums},\n  {dates},\n  {t}, {t}, {inexact}, {t}{mn}",
            mgr = nulls(text),
            t = nulls(text),
            mn = measure_nulls.concat()
        )
    };
    let null_sums = format!(
        "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), {n}, {n}, {n}, {n}",
        n = nulls(&num)
    );
    let _ = writeln!(
        q,
        "UNION ALL\n{}\nFROM lines l WHERE l.d < DATE '{end}' GROUP BY l.client_id",
        zero_row(
            "client",
            &nulls(text),
            "l.client_id",
            &null_sums,
            "MIN(l.d), MAX(l.d)",
            "CAST(NULL AS BIGINT)"
        )
    );
    let _ = writeln!(
        q,
        "UNION ALL\n{}\nFROM lines l WHERE l.segment IS NOT NULL",
        zero_row(
            "total",
            &nulls(text),
            &nulls(text),
            &format!("COUNT(*), CAST(NULL AS BIGINT), COALESCE(SUM(l.amount), CAST(0 AS {num})), COALESCE(SUM(l.cost), CAST(0 AS {num})), COALESCE(SUM(l.quantity), CAST(0 AS {num})), {n}", n = nulls(&num)),
            "CAST(NULL AS DATE), CAST(NULL AS DATE)",
            "CAST(NULL AS BIGINT)"
        )
    );
    // Sums of integers are 128-bit in some engines (DuckDB), which Parquet has no type for.
    let inexact = "CAST(SUM(CASE WHEN l.amount <> l.amount_wide OR l.cost <> l.cost_wide OR l.quantity <> l.quantity_wide THEN 1 ELSE 0 END) AS BIGINT)";
    let _ = writeln!(
        q,
        "UNION ALL\n{}\nFROM lines l",
        zero_row(
            "run",
            &format!("'{}'", plan.period()),
            &nulls(text),
            &format!(
                "COUNT(*), CAST(NULL AS BIGINT), {n}, {n}, {n}, {n}",
                n = nulls(&num)
            ),
            "MIN(l.d), MAX(l.d)",
            inexact
        )
    );
    q
}

/// Per segment, the most decimals of the lines each sum adds (revenue, cost, quantity,
/// returns, then each measure: 0 for counts), so that the host gives each sum the scale the
/// pass would (`6044`, not `6044.00`).
fn decimals(plan: &WindowPlan) -> Vec<String> {
    let most = |e: &str| format!("COALESCE(MAX({e}), 0)");
    let mut out = vec![
        most("l.amount_dp"),
        most("l.cost_dp"),
        most("l.quantity_dp"),
        most("CASE WHEN l.amount < 0 THEN l.amount_dp END"),
    ];
    for (i, m) in plan.measures.iter().enumerate() {
        let hit = |col: &str| most(&format!("CASE WHEN l.hit_{i} = 1 THEN {col} END"));
        out.push(match m.of {
            Aggregate::Amount => hit("l.amount_dp"),
            Aggregate::Cost => hit("l.cost_dp"),
            Aggregate::Quantity => hit("l.quantity_dp"),
            Aggregate::Margin => {
                hit("CASE WHEN l.amount_dp > l.cost_dp THEN l.amount_dp ELSE l.cost_dp END")
            }
            _ => "0".into(),
        });
    }
    out
}

/// The plan's segments as the query writes them: a window over all history starts at the
/// earliest date bonusrun knows, which SQL dates do not reach, so it starts at year 1.
pub fn shown_segments(plan: &WindowPlan) -> Vec<(crate::period::Date, crate::period::Date)> {
    let first =
        crate::period::Date::parse_iso("0001-01-01").unwrap_or(crate::period::Date::EARLIEST);
    plan.segment_dates()
        .iter()
        .map(|&(s, e)| (s.max(first), e))
        .collect()
}

/// A measure's aggregate over a segment's lines, named `measure_NAME`.
fn measure_sql(m: &Measure, i: usize, d: Dialect, num: &str) -> String {
    let hit = format!("l.hit_{i} = 1");
    // No line met the conditions: NULL, which reads as 0 (as the pass has it).
    let sum = |e: &str| format!("SUM(CASE WHEN {hit} THEN {e} END)");
    let expr = match m.of {
        Aggregate::Amount => sum("l.amount"),
        Aggregate::Cost => sum("l.cost"),
        Aggregate::Quantity => sum("l.quantity"),
        Aggregate::Margin => sum("l.amount - l.cost"),
        Aggregate::Lines => format!("CAST(SUM(l.hit_{i}) AS {num})"),
        Aggregate::Products => d.json_set(&format!("CASE WHEN {hit} THEN l.product END")),
        Aggregate::Categories => d.json_set(&format!("CASE WHEN {hit} THEN l.category END")),
        Aggregate::Clients => format!("CAST(MAX(l.hit_{i}) AS {num})"),
    };
    format!("{expr} AS {}", d.ident(&format!("measure_{}", m.name)))
}

/// A measure's conditions on a sales line, all of them (`TRUE` without any).
fn condition(m: &Measure, d: Dialect, num: &str) -> String {
    if m.filter.is_empty() {
        return "TRUE".into();
    }
    let parts: Vec<String> = m
        .filter
        .iter()
        .map(|c| {
            let col = d.ident(&c.column.to_ascii_lowercase());
            let text = |xs: &[String]| {
                xs.iter()
                    .map(|x| format!("'{}'", x.replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // Amount and cost are read at the query's scale (a line with more decimals is
            // counted and refused); other columns wide, so that no value rounds across a bound.
            let ty = if ["amount", "cost"].contains(&c.column.to_ascii_lowercase().as_str()) {
                num
            } else {
                "DECIMAL(38,12)"
            };
            let n = |x: &rust_decimal::Decimal| format!("CAST({col} AS {ty}) {{}} {x}");
            match &c.test {
                Test::OneOf(xs) => format!(
                    "COALESCE(CAST({col} AS {}), '') IN ({})",
                    d.text_type(),
                    text(xs)
                ),
                Test::NoneOf(xs) => format!(
                    "COALESCE(CAST({col} AS {}), '') NOT IN ({})",
                    d.text_type(),
                    text(xs)
                ),
                Test::AtLeast(x) => n(x).replace("{}", ">="),
                Test::Above(x) => n(x).replace("{}", ">"),
                Test::AtMost(x) => n(x).replace("{}", "<="),
                Test::Below(x) => n(x).replace("{}", "<"),
            }
        })
        .collect();
    format!("({})", parts.join(" AND "))
}
