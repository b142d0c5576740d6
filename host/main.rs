//! The `bonusrun` command line.
#![allow(clippy::result_large_err)]
//!
//! Exit codes: 0 success; 1 a failed run (the message says where, nothing was written);
//! 2 a usage error (bad flags or values).

use bonusrun::error::Error;
use bonusrun::evaluate::{self, RunOptions, RunResult};
use bonusrun::generate::{self, GenerateOptions};
use bonusrun::load::DataSource;
use bonusrun::pack::{PackSource, RulePack};
use bonusrun::period::{MonthIndex, Period};
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
    /// Tell in plain words how one manager's payout came about.
    Explain {
        #[command(flatten)]
        inputs: InputArgs,
        /// The manager to explain.
        #[arg(long, value_name = "ID")]
        manager: String,
    },
    /// Write a deterministic synthetic data set in the canonical format.
    Generate {
        /// Directory to write (created if missing; files in it are overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
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
    },
}

#[derive(Args)]
struct InputArgs {
    /// Rule pack directory (with pack.toml); the bundled example if omitted.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Data directory (clients.csv, managers.csv, sales.csv, plans.csv, contracts.csv);
    /// default: the pack's data/ folder, or the bundled sample data.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Period to pay: 2026-07, 2026-Q3, 2026-H2 or 2026; default: the latest complete
    /// period in the sales.
    #[arg(long, value_name = "P")]
    period: Option<String>,
    /// Worker threads (default: all cores). Results are identical for any value.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
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
    /// Do not print the payout table.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match try_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bonusrun: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn try_main(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => {
            outputs::check_target(&args.out, args.force)?;
            let result = run(&args.inputs)?;
            outputs::write_run(&result, &args.out, args.force)?;
            if !args.quiet {
                print_table(&result);
                println!("Outputs written to {}", args.out.display());
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
            Ok(())
        }
        Command::Check { rules } => {
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
            for (stage, code) in [
                ("key_clients", &pack.key_clients),
                ("kpis", &pack.kpis),
                ("bonus", &pack.bonus),
            ] {
                match code {
                    bonusrun::pack::StageCode::Script(s) => println!("  stage {stage}: script {}", s.path),
                    bonusrun::pack::StageCode::Plugin(p) => println!(
                        "  stage {stage}: plugin {} (world bonusrun:rules@0.1.0, compiled code: {})",
                        p.shown,
                        match p.cache {
                            bonusrun::rules::wasm::CacheUse::Hit => "from the cache",
                            bonusrun::rules::wasm::CacheUse::Miss => "compiled and cached",
                            bonusrun::rules::wasm::CacheUse::Off => "compiled, no cache",
                        }
                    ),
                }
            }
            let total: rust_decimal::Decimal = pack.manifest.kpis.iter().map(|k| k.weight).sum();
            if total != rust_decimal::Decimal::ONE {
                println!("note: the KPI weights sum to {total}, not 1");
            }
            Ok(())
        }
        Command::Explain { inputs, manager } => {
            let result = run(&inputs)?;
            let index = result
                .data
                .manager_index
                .get(&manager)
                .copied()
                .ok_or_else(|| Error::Usage(format!("no manager '{manager}' in managers.csv")))?;
            print!("{}", explain::explain_manager(&result, index));
            Ok(())
        }
        Command::Generate {
            out,
            clients,
            managers,
            sales,
            seed,
            from,
            months,
        } => {
            let first = parse_month(&from)?;
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
    let period = match &inputs.period {
        Some(p) => Some(Period::parse(p).map_err(|e| Error::Usage(format!("--period: {e}")))?),
        None => None,
    };
    let (pack_source, default_data) = match &inputs.rules {
        Some(dir) => {
            let data_dir = dir.join("data");
            (
                PackSource::Dir(dir.clone()),
                data_dir.is_dir().then_some(DataSource::Dir(data_dir)),
            )
        }
        None => (bundled::pack(), Some(bundled::data())),
    };
    let data = match &inputs.data {
        Some(d) => {
            if !d.is_dir() {
                return Err(Error::Usage(format!(
                    "--data {}: no such directory",
                    d.display()
                )));
            }
            DataSource::Dir(d.clone())
        }
        None => default_data.ok_or_else(|| {
            Error::Usage("no --data given and the pack has no data/ folder; give --data DIR".into())
        })?,
    };
    let pack = Arc::new(RulePack::load(&pack_source)?);
    evaluate::run(
        pack,
        &data,
        &RunOptions {
            period,
            threads: inputs.threads,
        },
    )
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
    println!(
        "{:<10} {:<name_width$} {:>14} {:>14}",
        "manager", "name", "target", "payout"
    );
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        let name: String = mgr.name.chars().take(name_width).collect();
        let pad = name_width - name.chars().count();
        println!(
            "{:<10} {name}{:pad$} {:>14} {:>14}",
            mgr.id,
            "",
            cur.format(mgr.target_bonus),
            cur.format(m.payout)
        );
    }
    println!(
        "{:<10} {:<name_width$} {:>14} {:>14} {}",
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
