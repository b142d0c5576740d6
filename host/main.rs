//! The `bonusrun` command line.
#![allow(clippy::result_large_err)]
//!
//! Exit codes: 0 success; 1 a failed run (the message says where, nothing was written);
//! 2 a usage error (bad flags or values); 70 an internal error (a bug in bonusrun, caught:
//! one line on stderr, no backtrace, no outputs).

use bonusrun::error::Error;
use bonusrun::evaluate::{self, LedgerHook, RunOptions, RunResult};
use bonusrun::generate::{self, GenerateOptions};
use bonusrun::ledger::record::{Invocation, Recorder};
use bonusrun::ledger::{Access, Ledger};
use bonusrun::load::DataSource;
use bonusrun::pack::PackSource;
use bonusrun::period::{MonthIndex, Period};
use bonusrun::rules::RulePack;
use bonusrun::{bundled, explain, outputs};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// bonusrun: period-end KPI and bonus runs from a company's own rule pack.
#[derive(Parser)]
#[command(name = "bonusrun", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a bonus run and write its outputs (with no flags: the bundled example).
    Run(RunArgs),
    /// Validate a rule pack (manifest, scripts, tables) without data.
    Check {
        /// Rule pack directory (with pack.toml); the bundled example if omitted.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
    /// Print the SQL that computes the facts of the sales pass where the sales live (DuckDB,
    /// Spark, a warehouse); `run --facts FILE` then pays from its result (docs/scale.md).
    Sql {
        /// Rule pack directory (with pack.toml); the bundled example if omitted.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// The period to pay: 2026-07, 2026-Q3, 2026-H2 or 2026.
        #[arg(long, value_name = "P")]
        period: String,
        /// duckdb, spark or ansi.
        #[arg(long, value_name = "NAME", default_value = "duckdb")]
        dialect: String,
        /// The table (or view) of sales lines, with the columns of sales.csv.
        #[arg(long, value_name = "NAME", default_value = "sales")]
        table: String,
        /// Decimals the query reads amount, cost and quantity with; a line with more is
        /// counted, and `run --facts` refuses the result.
        #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=18))]
        scale: u32,
        /// Decimals the query reads quantity with (likewise checked).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=18))]
        quantity_scale: u32,
    },
    /// Tell in plain words how one manager's payout (or one client's classification) came about.
    Explain {
        #[command(flatten)]
        inputs: InputArgs,
        /// The manager to explain.
        #[arg(long, value_name = "ID", required_unless_present = "client")]
        manager: Option<String>,
        /// The client whose key-client classification to explain.
        #[arg(long, value_name = "ID", conflicts_with = "manager")]
        client: Option<String>,
    },
    /// Run the golden cases shipped in a pack (tests/<case>/ with data/ and expected/).
    Test {
        /// Rule pack directory.
        #[arg(long, value_name = "DIR")]
        rules: PathBuf,
        /// Worker threads.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// What-if: compare payouts of two pack versions or parameter sets on the same data.
    Diff {
        #[command(flatten)]
        inputs: InputArgs,
        /// The baseline pack (default: the --rules pack without --set overrides).
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
        /// Parameter overrides for the baseline side, name=value (repeatable).
        #[arg(long = "against-set", value_name = "NAME=VALUE")]
        against_set: Vec<String>,
        /// The baseline's data (default: the same data as --data): compares corrected data
        /// with the data that was paid, under one pack.
        #[arg(long = "against-data", value_name = "DIR")]
        against_data: Option<PathBuf>,
        /// Also write the comparison as CSV to this file (an existing file is kept unless
        /// --force).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Also write the comparison as a page with a chart (diff.html) to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Replace the --csv or --html file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Render report.html again from a run's outputs (run.json, statements, key_clients.csv),
    /// after checking each file against the hash run.json recorded.
    Report {
        /// The run's output directory.
        run_dir: PathBuf,
        /// Where to write the report (default: RUN_DIR/report.html).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the file if it exists with other contents.
        #[arg(long)]
        force: bool,
    },
    /// Render the bonus regulation from a pack as Markdown and HTML.
    Doc {
        /// Rule pack directory; the bundled example if omitted.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Directory for regulation.md and regulation.html.
        #[arg(long, value_name = "DIR", default_value = "bonusrun-doc")]
        out: PathBuf,
        /// Replace regulation.md and regulation.html if they exist.
        #[arg(long)]
        force: bool,
    },
    /// Look at an export before mapping it: encoding, delimiter, number and date formats, the
    /// columns with types and samples, and a starter data.toml.
    Inspect {
        /// CSV files or Excel workbooks: a sales export, and its lookup files (people,
        /// teams, products) for one starter data.toml.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Approve a draft run recorded in the ledger (a retro run: its true-ups become due).
    Approve {
        /// The run id (`bonusrun history` lists them).
        run: i64,
        /// Who approves.
        #[arg(long, value_name = "NAME")]
        by: String,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Close a period: its approved run becomes the paid one, balances move, the period locks.
    Close {
        /// The period, e.g. 2026-Q1.
        period: String,
        /// The approved run to pay.
        #[arg(long, value_name = "RUN")]
        run: i64,
        /// Who closes.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Why this period is paid under another pack version than the year's earlier ones.
        #[arg(long, value_name = "REASON")]
        pack_change: Option<String>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Reopen a closed period (logged forever, with the reason).
    Reopen {
        /// The period, e.g. 2026-Q1.
        period: String,
        /// Why.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who reopens.
        #[arg(long, value_name = "NAME")]
        by: String,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// List the ledger's periods and runs with their status.
    History {
        /// Only this period.
        #[arg(long, value_name = "P")]
        period: Option<String>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Print one recorded run: payouts, settlement lines, true-ups.
    Show {
        /// The run id.
        run: i64,
        /// Also print every payout line.
        #[arg(long)]
        lines: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Run a recorded run again from its pack and inputs, and say whether every output is
    /// byte-identical (and which inputs changed, if not).
    Verify {
        /// The run id.
        run: i64,
        /// The pack (default: where the run found it).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// The data (default: where the run found it).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Write a deterministic synthetic data set in the canonical format.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// Directory to write (created if missing); its five files are replaced only with
    /// --force.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace the five data files if they exist in --out.
    #[arg(long)]
    force: bool,
    /// Number of clients.
    #[arg(long, default_value_t = 150)]
    clients: usize,
    /// Number of managers.
    #[arg(long, default_value_t = 8)]
    managers: usize,
    /// Number of sales lines.
    #[arg(long, default_value_t = 10_000)]
    sales: u64,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First month of sales, YYYY-MM.
    #[arg(long, default_value = "2024-07", value_name = "YYYY-MM")]
    from: String,
    /// Number of months of sales.
    #[arg(long, default_value_t = 24)]
    months: u32,
}

#[derive(Args)]
struct InputArgs {
    /// Rule pack directory (with pack.toml); the bundled example if omitted.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Data: a directory of canonical CSV files (clients, managers, sales, plans, contracts),
    /// or a data.toml mapping of real exports (also found as DIR/data.toml); default: the
    /// pack's data/ folder, or the bundled sample data.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Period to pay: 2026-07, 2026-Q3, 2026-H2 or 2026; default: the latest complete
    /// period in the sales.
    #[arg(long, value_name = "P")]
    period: Option<String>,
    /// Worker threads (default: all cores). Results are identical for any value.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Override a pack parameter for this run, name=value (repeatable): a what-if.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Stop the run with an error (writing nothing) if it takes longer than this many
    /// seconds, rules included.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    deadline: Option<u64>,
    /// The largest field of any input CSV, in bytes; a longer one, or a quote that never
    /// closes, is an error naming the line where the field began.
    #[arg(long, value_name = "BYTES", default_value_t = bonusrun::load::DEFAULT_MAX_FIELD_BYTES,
          value_parser = positive_size)]
    max_field_bytes: usize,
    /// The sales are known to end before the period does (a period paid early): do not
    /// warn that it is incomplete; run.json records the acknowledgement.
    #[arg(long)]
    allow_incomplete: bool,
    /// Print no progress bar while the sales are read (and, for `run`, no payout table).
    /// The bar is only ever drawn on a terminal, never into a file or a pipe.
    #[arg(long, short)]
    quiet: bool,
    /// Facts computed elsewhere (the result of `bonusrun sql` run by DuckDB, Spark or a
    /// warehouse, as CSV or Parquet): read instead of the sales; the other tables come from
    /// --data.
    #[arg(long, value_name = "FILE")]
    facts: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "bonusrun-out")]
    out: PathBuf,
    /// Replace the output directory if it exists.
    #[arg(long)]
    force: bool,
    /// Also write the canonical tables the data was mapped to (clients.csv, sales.csv, ...)
    /// into this directory, for inspection; existing files are kept unless --force.
    #[arg(long, value_name = "DIR")]
    canonical: Option<PathBuf>,
    /// Print the wall time of each step (pack load, sales pass, stages, outputs) to stderr.
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Who runs it: recorded with the draft in the ledger (default: $BONUSRUN_BY). Without
    /// it, a run records nothing, unless a ledger exists or is named, which it then refuses.
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Run without the ledger: nothing is read from it or recorded (a calculation only).
    #[arg(long, conflicts_with_all = ["by", "retro"])]
    no_ledger: bool,
    /// Recalculate a closed period with today's data and pack; the differences against the
    /// paid run become true-ups that the next open period pays once this run is approved.
    #[arg(long)]
    retro: bool,
}

#[derive(Args)]
struct LedgerArgs {
    /// The ledger file (default: $BONUSRUN_LEDGER, else ./bonusrun.db).
    #[arg(long, value_name = "PATH")]
    ledger: Option<PathBuf>,
}

/// Counts each thread's allocations, for `[limits] max_memory_per_call`.
#[global_allocator]
static ALLOCATOR: bonusrun::rules::memory::CountingAllocator =
    bonusrun::rules::memory::CountingAllocator;

/// The exit code of a caught panic (`EX_SOFTWARE` of sysexits.h).
const INTERNAL_ERROR: u8 = 70;

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_panic_hook();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| try_main(cli)));
    match outcome {
        Err(_) => ExitCode::from(INTERNAL_ERROR),
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("bonusrun: {e}");
            if let Some(snippet) = source_snippet(&e) {
                eprintln!("{snippet}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// A panic anywhere (a bug) prints one line, once, instead of a Rust backtrace; `main`
/// then exits with [`INTERNAL_ERROR`]. Outputs are written through a staging directory that
/// a panic never renames into place.
fn install_panic_hook() {
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    std::panic::set_hook(Box::new(|info| {
        if bonusrun::rules::in_rule_call() || bonusrun::load::parquet::in_reader_call() {
            return; // caught, and reported as the rule's (or the Parquet file's) error
        }
        if REPORTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "bonusrun: internal error (a bug in bonusrun, not in your data or rules): {}{at}; nothing was written; please report it with the command that caused it",
            what.replace('\n', " ")
        );
    }));
}

/// `bonusrun report`: report.html again from a run's files. A file with the same bytes is
/// left as it is; another one is replaced only with --force.
fn cmd_report(run_dir: &std::path::Path, out: Option<PathBuf>, force: bool) -> Result<(), Error> {
    let page = outputs::report::render_dir(run_dir)?;
    let path = out.unwrap_or_else(|| run_dir.join(outputs::report::FILE));
    if std::fs::read(&path).is_ok_and(|old| old == page) {
        println!("{} is up to date", path.display());
        return Ok(());
    }
    outputs::check_files(std::slice::from_ref(&path), force)?;
    outputs::write_file(&path, &page)?;
    println!("written: {}", path.display());
    Ok(())
}

fn try_main(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Approve { run, by, ledger } => cmd_approve(run, by, ledger),
        Command::Close {
            period,
            run,
            by,
            pack_change,
            ledger,
        } => cmd_close(period, run, by, pack_change, ledger),
        Command::Reopen {
            period,
            reason,
            by,
            ledger,
        } => cmd_reopen(period, reason, by, ledger),
        Command::History { period, ledger } => cmd_history(period, ledger),
        Command::Show { run, lines, ledger } => cmd_show(run, lines, ledger),
        Command::Verify {
            run,
            rules,
            data,
            ledger,
        } => cmd_verify(run, rules, data, &ledger),
        Command::Check { rules } => cmd_check(rules),
        Command::Sql {
            rules,
            period,
            dialect,
            table,
            scale,
            quantity_scale,
        } => cmd_sql(rules, &period, &dialect, (table, scale, quantity_scale)),
        Command::Explain {
            inputs,
            manager,
            client,
        } => cmd_explain(inputs, manager, client),
        Command::Test { rules, threads } => cmd_test(rules, threads),
        Command::Diff {
            inputs,
            against,
            against_set,
            against_data,
            csv,
            html,
            force,
        } => cmd_diff(
            inputs,
            (against, against_set, against_data),
            csv,
            html,
            force,
        ),
        Command::Report {
            run_dir,
            out,
            force,
        } => cmd_report(&run_dir, out, force),
        Command::Doc { rules, out, force } => cmd_doc(rules, out, force),
        Command::Inspect { files } => cmd_inspect(files),
        Command::Generate(args) => cmd_generate(args),
    }
}

/// `bonusrun approve`: a draft run becomes approved.
fn cmd_approve(run: i64, by: String, ledger: LedgerArgs) -> Result<(), Error> {
    let by = bonusrun::ledger::require_text("--by", "name a person", &by)?;
    let mut l = open_ledger(&ledger, Access::Write)?;
    println!(
        "{}",
        bonusrun::ledger::lifecycle::approve(&mut l, run, &by)?
    );
    Ok(())
}

/// `bonusrun close`: the approved run of a period becomes the paid one.
fn cmd_close(
    period: String,
    run: i64,
    by: String,
    pack_change: Option<String>,
    ledger: LedgerArgs,
) -> Result<(), Error> {
    let by = bonusrun::ledger::require_text("--by", "name a person", &by)?;
    let pack_change = match &pack_change {
        Some(r) => Some(bonusrun::ledger::require_text(
            "--pack-change",
            "say why",
            r,
        )?),
        None => None,
    };
    let mut l = open_ledger(&ledger, Access::Write)?;
    let args = bonusrun::ledger::lifecycle::CloseArgs {
        period: &period,
        run,
        by: &by,
        pack_change: pack_change.as_deref(),
    };
    println!("{}", bonusrun::ledger::lifecycle::close(&mut l, &args)?);
    Ok(())
}

/// `bonusrun reopen`: a closed period opens again, logged with its reason.
fn cmd_reopen(period: String, reason: String, by: String, ledger: LedgerArgs) -> Result<(), Error> {
    let by = bonusrun::ledger::require_text("--by", "name a person", &by)?;
    let reason = bonusrun::ledger::require_text("--reason", "say why", &reason)?;
    let mut l = open_ledger(&ledger, Access::Write)?;
    println!(
        "{}",
        bonusrun::ledger::lifecycle::reopen(&mut l, &period, &reason, &by)?
    );
    Ok(())
}

/// `bonusrun history`: the ledger's periods and runs.
fn cmd_history(period: Option<String>, ledger: LedgerArgs) -> Result<(), Error> {
    let l = open_ledger(&ledger, Access::Read)?;
    print!(
        "{}",
        bonusrun::ledger::report::history(&l, period.as_deref())?
    );
    Ok(())
}

/// `bonusrun show`: one recorded run.
fn cmd_show(run: i64, lines: bool, ledger: LedgerArgs) -> Result<(), Error> {
    let l = open_ledger(&ledger, Access::Read)?;
    print!("{}", bonusrun::ledger::report::show(&l, run, lines)?);
    Ok(())
}

/// `bonusrun check`: a pack validated without data, its decision tables analysed.
fn cmd_sql(
    rules: Option<PathBuf>,
    period: &str,
    dialect: &str,
    (table, scale, quantity_scale): (String, u32, u32),
) -> Result<(), Error> {
    use bonusrun::facts::{sql, WindowPlan};
    let dialect = sql::Dialect::parse(dialect).map_err(Error::Usage)?;
    let period = Period::parse(period).map_err(|e| Error::Usage(format!("--period: {e}")))?;
    let source = rules.map(PackSource::Dir).unwrap_or_else(bundled::pack);
    let pack = RulePack::load(&source)?;
    let kind = pack.period_kind();
    if period.kind() != kind {
        return Err(Error::Usage(format!(
            "the pack '{}' pays per {}, but --period {period} is a {}; give a {} such as {}",
            pack.manifest.pack.name,
            kind.name(),
            period.kind().name(),
            kind.name(),
            kind.example()
        )));
    }
    let plan = WindowPlan::with(period, &pack.windows, &[]).measuring(&pack.measures);
    let options = sql::SqlOptions {
        dialect,
        table,
        scale,
        quantity_scale,
    };
    print!("{}", sql::facts_sql(&plan, &options));
    Ok(())
}

fn cmd_check(rules: Option<PathBuf>) -> Result<(), Error> {
    let source = rules.map(PackSource::Dir).unwrap_or_else(bundled::pack);
    let pack = RulePack::load(&source)?;
    let info = &pack.manifest.pack;
    println!(
        "ok: pack '{}' version {} ({}): {} KPI(s), {} table(s), {} parameter(s); pays per {} in {}, rounding {}",
        info.name,
        info.version,
        info.title,
        pack.manifest.kpis.len(),
        pack.tables.len(),
        pack.params.len(),
        info.period.name(),
        pack.currency.code,
        pack.rounding.name()
    );
    print_stages(&pack);
    print_declarations(&pack);
    check_tables(&pack)
}

/// `check`: which script or plugin runs each stage.
fn print_stages(pack: &RulePack) {
    for (stage, code) in [
        ("key_clients", &pack.key_clients),
        ("kpis", &pack.kpis),
        ("bonus", &pack.bonus),
    ] {
        match code {
            bonusrun::rules::StageCode::Script(s) => println!("  stage {stage}: script {}", s.path),
            bonusrun::rules::StageCode::Plugin(p) => println!(
                "  stage {stage}: plugin {} (world {}, compiled code: {})",
                p.shown,
                p.world(),
                match p.cache {
                    bonusrun::rules::wasm::CacheUse::Hit => "from the cache",
                    bonusrun::rules::wasm::CacheUse::Miss => "compiled and cached",
                    bonusrun::rules::wasm::CacheUse::Off => "compiled, no cache",
                    bonusrun::rules::wasm::CacheUse::Rejected => "compiled again: the cached code did not verify (tampered with or corrupt), so it was not run and was replaced",
                }
            ),
        }
    }
}

/// `check`: the ledger settlement, windows and measures the pack declares, and weights
/// that do not sum to 1.
fn print_declarations(pack: &RulePack) {
    let decl = &pack.manifest.ledger;
    if decl.guarantees.is_some() || decl.draws.is_some() {
        let s = &pack.settlement;
        println!(
            "  ledger: {} guarantee(s), {} draw(s); at most {} of a payout recovers draws",
            s.guarantees.len(),
            s.draws.len(),
            s.recovery_share
        );
    }
    if !pack.windows.is_empty() {
        let names: Vec<String> = pack.windows.iter().map(|w| w.to_string()).collect();
        println!("  windows: {}", names.join(", "));
    }
    if !pack.measures.is_empty() {
        let names: Vec<String> = pack.measures.iter().map(|m| m.to_string()).collect();
        println!("  measures: {}", names.join(", "));
    }
    let total = bonusrun::money::exact_sum(pack.manifest.kpis.iter().map(|k| k.weight));
    if total != Some(rust_decimal::Decimal::ONE) {
        let total = total.map_or("more than a decimal holds".into(), |t| t.to_string());
        println!("note: the KPI weights sum to {total}, not 1");
    }
}

/// `check`: each decision table's gaps, overlaps and duplicates; an error fails the check.
fn check_tables(pack: &RulePack) -> Result<(), Error> {
    let mut errors = 0;
    for t in pack.tables.values().filter(|t| t.is_decision_table()) {
        let findings = t.analyse();
        if findings.is_empty() {
            println!(
                "  decision table {}: no gaps, overlaps or duplicates",
                t.name
            );
        }
        for f in findings {
            if f.error {
                errors += 1;
            }
            println!(
                "{}:{}: {}: decision table {}: {}",
                t.shown,
                f.line,
                if f.error { "error" } else { "warning" },
                t.name,
                f.message
            );
        }
    }
    if errors > 0 {
        return Err(Error::Failed(format!(
            "{errors} error(s) in decision tables"
        )));
    }
    Ok(())
}

/// `bonusrun explain`: one payout or one classification in plain words.
fn cmd_explain(
    inputs: InputArgs,
    manager: Option<String>,
    client: Option<String>,
) -> Result<(), Error> {
    let result = run(&inputs)?;
    if let Some(client) = client {
        let index = result
            .data
            .client_index
            .get(&client)
            .copied()
            .ok_or_else(|| {
                let ids = result.data.clients.iter().map(|c| c.id.as_str());
                Error::Usage(format!(
                    "no client '{client}' in clients.csv{}",
                    bonusrun::suggest::did_you_mean(&client, ids)
                ))
            })?;
        print!("{}", explain::explain_client(&result, index));
        return Ok(());
    }
    let manager = manager.unwrap_or_default();
    let index = result
        .data
        .manager_index
        .get(&manager)
        .copied()
        .ok_or_else(|| {
            let ids = result.data.managers.iter().map(|m| m.id.as_str());
            Error::Usage(format!(
                "no manager '{manager}' in managers.csv{}",
                bonusrun::suggest::did_you_mean(&manager, ids)
            ))
        })?;
    print!("{}", explain::explain_manager(&result, index));
    Ok(())
}

/// `bonusrun test`: the pack's golden cases.
fn cmd_test(rules: PathBuf, threads: Option<usize>) -> Result<(), Error> {
    if threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let pack = Arc::new(RulePack::load(&PackSource::Dir(rules.clone()))?);
    let cases = bonusrun::casebook::cases(&rules)?;
    if cases.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no cases; add tests/<case>/ with data/ and expected/",
            rules.join("tests").display()
        )));
    }
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let r = bonusrun::casebook::run_case(&pack, case, threads)?;
        let about = if r.description.is_empty() {
            String::new()
        } else {
            format!(" - {}", r.description)
        };
        if r.differences.is_empty() {
            passed += 1;
            println!("PASS {}{about}", r.name);
        } else {
            failed += 1;
            println!("FAIL {}{about}", r.name);
            for d in &r.differences {
                println!("     {d}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} case(s) failed",
            cases.len()
        )));
    }
    Ok(())
}

/// `bonusrun diff`: what a rule change costs, manager by manager.
fn cmd_diff(
    inputs: InputArgs,
    (against, against_set, against_data): (Option<PathBuf>, Vec<String>, Option<PathBuf>),
    csv: Option<PathBuf>,
    html: Option<PathBuf>,
    force: bool,
) -> Result<(), Error> {
    let files: Vec<PathBuf> = csv.iter().chain(&html).cloned().collect();
    outputs::check_files(&files, force)?;
    let after = run(&inputs)?;
    let same_data = against_data.is_none();
    let baseline = InputArgs {
        rules: against.or_else(|| inputs.rules.clone()),
        data: against_data.or_else(|| inputs.data.clone()).or_else(|| {
            // The same data as the changed side, even when --against has its own data/.
            inputs
                .rules
                .as_ref()
                .map(|r| r.join("data"))
                .filter(|d| d.is_dir())
        }),
        period: Some(after.period().to_string()),
        threads: inputs.threads,
        set: against_set,
        deadline: inputs.deadline,
        max_field_bytes: inputs.max_field_bytes,
        allow_incomplete: inputs.allow_incomplete,
        quiet: inputs.quiet,
        facts: inputs.facts.clone().filter(|_| same_data),
    };
    let before = run(&baseline)?;
    let diff = bonusrun::whatif::compare(&before, &after).map_err(Error::Usage)?;
    print!("{}", diff.to_table());
    if let Some(path) = csv {
        outputs::write_file(&path, &diff.to_csv())?;
        println!("CSV written to {}", path.display());
    }
    if let Some(path) = html {
        let side = |r: &RunResult| {
            let info = &r.pack.manifest.pack;
            let set = &r.pack.overrides;
            let set = if set.is_empty() {
                String::new()
            } else {
                format!(" with --set {}", set.join(", "))
            };
            // The data by a fingerprint of every input's hash (run.json lists them).
            use sha2::Digest;
            let mut all = sha2::Sha256::new();
            for i in &r.inputs {
                all.update(format!("{} {}\n", i.name, i.sha256));
            }
            let hex = bonusrun::load::source_hex(&all.finalize());
            let data = format!("; data {} ({} input files)", &hex[..12], r.inputs.len());
            format!(
                "{} version {}{set}, period {}{data}",
                info.name,
                info.version,
                r.period()
            )
        };
        let page = outputs::report::render_diff(&diff, &side(&before), &side(&after))?;
        outputs::write_file(&path, &page)?;
        println!("Page written to {}", path.display());
    }
    Ok(())
}

/// `bonusrun doc`: the regulation rendered from the pack.
fn cmd_doc(rules: Option<PathBuf>, out: PathBuf, force: bool) -> Result<(), Error> {
    let names = ["regulation.md", "regulation.html"];
    outputs::check_files(&names.map(|n| out.join(n)), force)?;
    let source = rules.map(PackSource::Dir).unwrap_or_else(bundled::pack);
    let pack = RulePack::load(&source)?;
    let doc = bonusrun::regulation::render(&pack, &source);
    std::fs::create_dir_all(&out).map_err(|e| Error::Output {
        path: out.display().to_string(),
        message: e.to_string(),
    })?;
    for (name, text) in names.into_iter().zip([doc.markdown(), doc.html()]) {
        let path = out.join(name);
        outputs::write_file(&path, text.as_bytes())?;
        println!("written: {}", path.display());
    }
    Ok(())
}

/// `bonusrun inspect`: a look at an export and a starter data.toml.
fn cmd_inspect(files: Vec<PathBuf>) -> Result<(), Error> {
    print!("{}", bonusrun::mapping::inspect::inspect_all(&files)?);
    Ok(())
}

/// `bonusrun generate`: a synthetic data set.
fn cmd_generate(args: GenerateArgs) -> Result<(), Error> {
    let GenerateArgs {
        out,
        force,
        clients,
        managers,
        sales,
        seed,
        from,
        months,
    } = args;
    let first = parse_month(&from)?;
    let files = generate::FILES.map(|f| out.join(f));
    outputs::check_files(&files, force)?;
    let summary = generate::generate(&GenerateOptions {
        out: out.clone(),
        clients,
        managers,
        sales,
        seed,
        first_month: first,
        months,
    })
    .map_err(|e| {
        if e.message.starts_with("invalid options") {
            Error::Usage(format!("generate: {}", e.message))
        } else {
            Error::Generate(e)
        }
    })?;
    for (name, rows) in &summary.files {
        println!("{:>12} rows  {}", rows, out.join(name).display());
    }
    Ok(())
}

/// For errors located in a pack file: the source line with a caret.
fn source_snippet(e: &Error) -> Option<String> {
    let (file, line, column, message) = match e {
        Error::Pack(p) => (
            p.file.as_str(),
            p.line?,
            p.column.unwrap_or(1),
            p.message.as_str(),
        ),
        Error::Rule(r) => (
            r.script.as_str(),
            r.line?,
            r.column.unwrap_or(1),
            r.message.as_str(),
        ),
        _ => return None,
    };
    let text = bundled::text(file).or_else(|| std::fs::read_to_string(file).ok())?;
    let (message, help) = match message.split_once(" (did you mean ") {
        Some((before, rest)) => match rest.split_once("?)") {
            Some((hint, after)) => (
                format!("{before}{after}"),
                Some(format!("did you mean {hint}?")),
            ),
            None => (message.to_string(), None),
        },
        None => (message.to_string(), None),
    };
    bonusrun::diagnostic::snippet(file, &text, line, column, &message, help.as_deref())
}

/// A count of bytes, at least 1.
fn positive_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{text}' is not a whole number of bytes of at least 1"
        )),
    }
}

fn parse_month(text: &str) -> Result<MonthIndex, Error> {
    match Period::parse(text) {
        Ok(p) if p.kind() == bonusrun::period::PeriodKind::Month => Ok(p.first_month()),
        _ => Err(Error::Usage(format!(
            "--from '{text}' is not a month; expected YYYY-MM, e.g. 2024-07"
        ))),
    }
}

fn run(inputs: &InputArgs) -> Result<RunResult, Error> {
    run_with_ledger(inputs, None, None)
}

/// Runs the inputs, with the ledger's hook when given; `canonical` is `run --canonical DIR`
/// (and --force), where the mapped tables are written before the run.
fn run_with_ledger(
    inputs: &InputArgs,
    ledger: Option<LedgerHook>,
    canonical: Option<(&std::path::Path, bool)>,
) -> Result<RunResult, Error> {
    let period = match &inputs.period {
        Some(p) => Some(Period::parse(p).map_err(|e| Error::Usage(format!("--period: {e}")))?),
        None => None,
    };
    let (pack_source, default_data) = match &inputs.rules {
        Some(dir) => {
            let data_dir = dir.join("data");
            (
                PackSource::Dir(dir.clone()),
                data_dir.is_dir().then_some(DataSource::PackDir {
                    dir: data_dir,
                    pack: dir.clone(),
                }),
            )
        }
        None => (bundled::pack(), Some(bundled::data())),
    };
    let data = match &inputs.data {
        Some(d) if d.is_file() && d.extension().is_some_and(|e| e == "toml") => {
            bonusrun::mapping::load_with(d, inputs.max_field_bytes)?
        }
        Some(d) if d.join("data.toml").is_file() => {
            bonusrun::mapping::load_with(&d.join("data.toml"), inputs.max_field_bytes)?
        }
        Some(d) => {
            if !d.is_dir() {
                return Err(Error::Usage(format!(
                    "--data {}: no such directory (give a directory of canonical CSV files, or a data.toml mapping)",
                    d.display()
                )));
            }
            DataSource::Dir(d.clone())
        }
        None => default_data.ok_or_else(|| {
            Error::Usage("no --data given and the pack has no data/ folder; give --data DIR".into())
        })?,
    };
    if let Some((dir, force)) = canonical {
        write_canonical(&data, dir, force)?;
    }
    let mut pack = RulePack::load(&pack_source)?;
    pack.set_params(&inputs.set).map_err(Error::Usage)?;
    let pack = Arc::new(pack);
    let bar = Progress::start(inputs.quiet, sales_size(&data));
    let result = evaluate::run(
        pack,
        &data,
        &RunOptions {
            period,
            threads: inputs.threads,
            max_field_bytes: inputs.max_field_bytes,
            deadline: inputs.deadline.map(std::time::Duration::from_secs),
            ledger,
            allow_incomplete: inputs.allow_incomplete,
            progress: bar.as_ref().map(|b| b.count.clone()),
            facts: inputs.facts.clone(),
        },
    );
    drop(bar);
    result
}

/// `run --canonical DIR`: the canonical tables of mapped (or bundled) data, as the run reads
/// them; written before the run, so that they can be looked at when the run then fails.
fn write_canonical(data: &DataSource, dir: &std::path::Path, force: bool) -> Result<(), Error> {
    let files = data.canonical_files().ok_or_else(|| {
        Error::Usage(format!(
            "--canonical: the data ({}) is a directory of canonical files already; --canonical writes what a data.toml mapping makes",
            data.display("")
        ))
    })?;
    let paths: Vec<PathBuf> = files.iter().map(|(n, _)| dir.join(n)).collect();
    outputs::check_files(&paths, force)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Output {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    for ((name, bytes), path) in files.iter().zip(&paths) {
        outputs::write_file(path, bytes)?;
        eprintln!(
            "canonical: {name} ({} bytes) written to {}",
            bytes.len(),
            path.display()
        );
    }
    Ok(())
}

/// The size of the data's `sales.csv` in bytes.
fn sales_size(data: &DataSource) -> Option<u64> {
    data.size(bonusrun::load::sales::SALES_FILE)
}

/// A progress bar on stderr while the sales are read: drawn only on a terminal, only once
/// the run has taken a second, and removed when the run ends (dropped).
struct Progress {
    count: Arc<std::sync::atomic::AtomicU64>,
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(quiet: bool, total: Option<u64>) -> Option<Progress> {
        use std::io::IsTerminal;
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, d) = (count.clone(), done.clone());
        let thread = std::thread::spawn(move || Progress::draw(&c, &d, total));
        Some(Progress {
            count,
            done,
            thread: Some(thread),
        })
    }

    fn draw(
        count: &std::sync::atomic::AtomicU64,
        done: &std::sync::atomic::AtomicBool,
        total: Option<u64>,
    ) {
        use std::sync::atomic::Ordering;
        let started = std::time::Instant::now();
        // After how long the bar shows (a second; the tests set it to 0).
        let after = std::env::var("BONUSRUN_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_millis,
            );
        let bar = indicatif::ProgressBar::with_draw_target(
            total,
            indicatif::ProgressDrawTarget::hidden(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "reading sales {bar:30} {binary_bytes}/{binary_total_bytes} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        while !done.load(Ordering::Relaxed) {
            if bar.is_hidden() && started.elapsed() >= after {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.tick();
            }
            bar.set_position(count.load(Ordering::Relaxed));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn print_table(r: &RunResult) {
    let cur = &r.pack.currency;
    let info = &r.pack.manifest.pack;
    println!(
        "{} {} - {} - period {}",
        info.name,
        info.version,
        info.title,
        r.period()
    );
    let name_width = r
        .data
        .managers
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 30);
    let id_width = r
        .data
        .managers
        .iter()
        .map(|m| m.id.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 24);
    println!(
        "{:<id_width$} {:<name_width$} {:>14} {:>14}",
        "manager", "name", "target", "payout"
    );
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        let name: String = mgr.name.chars().take(name_width).collect();
        let pad = name_width - name.chars().count();
        println!(
            "{:<id_width$} {name}{:pad$} {:>14} {:>14}",
            mgr.id,
            "",
            cur.format(mgr.target_bonus),
            cur.format(m.payout)
        );
    }
    println!(
        "{:<id_width$} {:<name_width$} {:>14} {:>14} {}",
        "total",
        "",
        "",
        cur.format(r.total),
        cur.code
    );
    let keys = r.decisions.iter().filter(|d| d.key).count();
    println!(
        "{} managers, {} clients ({} key), {} sales lines",
        r.data.managers.len(),
        r.data.clients.len(),
        keys,
        r.facts.rows
    );
}

fn open_ledger(args: &LedgerArgs, access: Access) -> Result<Ledger, Error> {
    let (path, _) = bonusrun::ledger::choose_path(args.ledger.as_deref());
    Ledger::open(&path, access)
}

/// The ledger a `run` records in, if any: with `--by` (or `$BONUSRUN_BY`) it is opened or
/// created; without, a run records nothing, unless a ledger is named or exists, because a
/// run that finance expects in the ledger must not silently be missing from it.
fn recorder(args: &RunArgs) -> Result<Option<Arc<Recorder>>, Error> {
    if args.no_ledger {
        return Ok(None);
    }
    let (path, named) = bonusrun::ledger::choose_path(args.ledger.ledger.as_deref());
    let by = args.by.clone().or_else(|| {
        std::env::var("BONUSRUN_BY")
            .ok()
            .filter(|b| !b.trim().is_empty())
    });
    let Some(by) = by else {
        if !named && !path.exists() && !args.retro {
            return Ok(None);
        }
        return Err(Error::Usage(format!(
            "bonusrun run records a draft in the ledger {} and needs who ran it: give --by NAME (or set BONUSRUN_BY), or --no-ledger to run without recording",
            path.display()
        )));
    };
    let by = bonusrun::ledger::require_text("--by", "name a person", &by)?;
    let ledger = Ledger::open(&path, Access::Create)?;
    let given = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let invocation = Invocation {
        rules: given(&args.inputs.rules),
        data: given(&args.inputs.data),
        cwd: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        period_given: args.inputs.period.is_some(),
        out: given(&Some(args.out.clone())).unwrap_or_default(),
    };
    Ok(Some(Arc::new(Recorder::new(
        ledger, args.retro, by, invocation,
    ))))
}

fn cmd_run(args: RunArgs) -> Result<(), Error> {
    let opening = std::time::Instant::now();
    let rec = recorder(&args)?;
    let opened = opening.elapsed();
    let notes = match &rec {
        Some(r) => outputs::recover_recorded(&args.out, &|json| r.recorded(json))?,
        None => outputs::recover(&args.out)?,
    };
    for note in notes {
        eprintln!("note: {note}");
    }
    outputs::check_target(&args.out, args.force)?;
    let started = std::time::Instant::now();
    let hook = rec
        .clone()
        .map(|r| LedgerHook(r as Arc<dyn evaluate::CarrySource>));
    let canonical = args.canonical.as_deref().map(|d| (d, args.force));
    let result = match run_with_ledger(&args.inputs, hook, canonical) {
        Ok(r) => r,
        Err(e) => {
            if let Some(r) = &rec {
                if !matches!(e, Error::Usage(_) | Error::Ledger(_)) {
                    let period = args
                        .inputs
                        .period
                        .as_deref()
                        .and_then(|p| Period::parse(p).ok());
                    r.record_failure(period, &e, None);
                }
            }
            return Err(e);
        }
    };
    let written = std::time::Instant::now();
    let mut recorded = None;
    match &rec {
        Some(r) => {
            let mut record =
                |json: &serde_json::Value,
                 stage: &mut dyn FnMut(&serde_json::Value) -> Result<(), Error>| {
                    recorded = Some(r.record(&result, json, stage)?);
                    Ok(())
                };
            outputs::write_run_recorded(&result, &args.out, args.force, Some(&mut record))?
        }
        None => outputs::write_run(&result, &args.out, args.force)?,
    }
    if args.timings {
        print_timings(&result, started, written);
        if let Some(r) = &rec {
            let [read, record] = r.spent();
            eprintln!(
                "timing: {:>9.1} ms  of which the ledger: open {:.1} ms (before the run), read {:.1} ms, record {:.1} ms (in outputs)",
                (opened + read + record).as_secs_f64() * 1000.0,
                opened.as_secs_f64() * 1000.0,
                read.as_secs_f64() * 1000.0,
                record.as_secs_f64() * 1000.0
            );
        }
    }
    if !args.inputs.quiet {
        print_table(&result);
        println!("Outputs written to {}", args.out.display());
    }
    if let (Some(r), Some((id, diffs))) = (&rec, &recorded) {
        print_recorded(&result, r, *id, diffs);
    }
    for w in result.warnings.iter().take(10) {
        eprintln!("warning: {w}");
    }
    if result.warnings.len() > 10 {
        eprintln!(
            "warning: ... and {} more in run.json",
            result.warnings.len() - 10
        );
    }
    // The process ends next: freeing the run's millions of small allocations one by one
    // took 70 ms at 10M lines, for memory the system takes back at exit anyway.
    std::mem::forget(result);
    Ok(())
}

fn print_timings(result: &RunResult, started: std::time::Instant, written: std::time::Instant) {
    let run_steps: std::time::Duration = result.timings.iter().map(|(_, d)| *d).sum();
    let mut steps = vec![(
        "pack load and data mapping".to_string(),
        (written - started).saturating_sub(run_steps),
    )];
    steps.extend(result.timings.iter().cloned());
    steps.push(("outputs".to_string(), written.elapsed()));
    for (step, d) in &steps {
        eprintln!("timing: {:>9.1} ms  {step}", d.as_secs_f64() * 1000.0);
    }
    eprintln!(
        "timing: {:>9.1} ms  total",
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(mib) = bonusrun::evaluate::peak_memory_mib() {
        eprintln!("timing: peak memory {mib:.1} MiB");
    }
}

fn print_recorded(
    result: &RunResult,
    rec: &Recorder,
    id: i64,
    diffs: &[bonusrun::ledger::record::Difference],
) {
    let period = result.period();
    if !rec.retro {
        println!(
            "Recorded run {id} (draft) for {period} in {}; approve it with: bonusrun approve {id} --by NAME",
            rec.shown()
        );
        return;
    }
    if diffs.is_empty() {
        println!(
            "Recorded retro run {id} for {period} in {}: it pays exactly what the paid run paid; there is nothing to true up",
            rec.shown()
        );
        return;
    }
    println!("Differences against the paid run of {period}:");
    println!(
        "{:<10} {:<12} {:<10} {:>14} {:>14} {:>14}  line",
        "manager", "kind", "kpi", "paid", "now", "true-up"
    );
    for d in diffs {
        println!(
            "{:<10} {:<12} {:<10} {:>14} {:>14} {:>14}  {}",
            d.manager,
            d.kind,
            d.kpi.as_deref().unwrap_or(""),
            d.paid,
            d.now,
            d.amount,
            d.label
        );
    }
    let total = bonusrun::money::exact_sum(diffs.iter().map(|d| d.amount)).unwrap_or_default();
    println!(
        "Recorded retro run {id} for {period} in {}: true-ups total {total} {}; approve it with: bonusrun approve {id} --by NAME, and the next open period pays them",
        rec.shown(),
        result.pack.currency.code
    );
}

fn cmd_verify(
    id: i64,
    rules: Option<PathBuf>,
    data: Option<PathBuf>,
    ledger: &LedgerArgs,
) -> Result<(), Error> {
    use bonusrun::ledger::verify;
    let l = open_ledger(ledger, Access::Read)?;
    let rec = verify::recorded(&l, id)?;
    // Paths given to verify are the user's, from here; the recorded ones are from where the
    // run was made, so that every file is named as it was.
    let here = |p: Option<PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
    let (rules, data) = (here(rules), here(data));
    if let Some(cwd) = &rec.cwd {
        std::env::set_current_dir(cwd).map_err(|e| {
            Error::Usage(format!(
                "run {id} was made in {cwd}, which cannot be entered now ({e}); verify runs it from there so that files are named as they were"
            ))
        })?;
    }
    let inputs = InputArgs {
        rules: rules.or_else(|| rec.rules.as_ref().map(PathBuf::from)),
        data: data.or_else(|| rec.data.as_ref().map(PathBuf::from)),
        period: Some(rec.period.clone()),
        threads: None,
        set: rec.overrides.clone(),
        deadline: None,
        max_field_bytes: bonusrun::load::DEFAULT_MAX_FIELD_BYTES,
        // verify compares outputs, which a warning is part of: as the run was made.
        allow_incomplete: false,
        quiet: false,
        facts: None,
    };
    // The paths come from the ledger the user named: say which are read.
    let shown = |p: &Option<PathBuf>, none: &str| {
        p.as_ref()
            .map_or(none.to_string(), |p| p.display().to_string())
    };
    eprintln!(
        "verify: run {id} of {} with the pack {} and the data {}{}",
        rec.period,
        shown(&inputs.rules, "bundled with bonusrun"),
        shown(&inputs.data, "of the pack"),
        rec.cwd
            .as_ref()
            .map(|c| format!(", from {c}"))
            .unwrap_or_default()
    );
    let hook = LedgerHook(Arc::new(verify::FixedCarry(rec.carry.clone())));
    let result = run_with_ledger(&inputs, Some(hook), None)?;
    let outputs = outputs::render_outputs(&result)?;
    println!("{}", verify::compare(&rec, &result, &outputs)?);
    Ok(())
}
