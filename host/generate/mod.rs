//! `bonusrun generate`: a deterministic synthetic data set in the canonical CSV format.
//!
//! The generator writes five files into one directory — `clients.csv`, `managers.csv`,
//! `sales.csv`, `plans.csv` and `contracts.csv` — shaped like the books of a Russian
//! FMCG distributor (Romashka LLC), so that bonus rules, benchmarks and demos meet the
//! distributions they will meet in production:
//!
//! * **client sizes** follow a Zipf law with log-normal noise: a few key accounts carry
//!   most of the revenue. Bigger clients buy more often, in bigger quantities, from more
//!   categories and deeper into each category's assortment;
//! * **time**: monthly seasonality (December peak, the long January holidays, a summer
//!   dip), a quarter-end push, a weekday/weekend/public-holiday rhythm, ~7 % yearly
//!   volume growth, a per-client trend, and price-list indexation every January;
//! * **client life cycle**: nobody buys before its `since` date, new clients ramp up
//!   over their first months, some clients widen their range by adding categories, and
//!   a few churn late in the range after a decline;
//! * **lines**: ~3 % are sold by a manager other than the client's owner and ~2 % are
//!   returns (negative quantity, amount and cost; perishables are returned more often);
//!   quantities come in case packs; cost is 60–85 % of the amount;
//! * **plans** are the *expected* values of the very model that draws the sales (not the
//!   drawn sales), times a random factor 0.85–1.15, so attainment lands around 100 %;
//! * **contracts** fall due in every quarter; most are renewed within 30 days of the end.
//!
//! The output is a pure function of [`GenerateOptions`]: the module carries its own PRNG
//! (SplitMix64 seeding xoshiro256**), its own `ln`/`exp` built from IEEE-exact arithmetic
//! only (so no platform maths library can change a digit), integer kopecks for every
//! amount it writes, and no hash-map iteration, clock or environment. Sales are streamed
//! month by month in date order, so ten million lines need only a few megabytes of memory.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::period::{Date, MonthIndex, Period, PeriodKind};

mod calendar;
mod model;
mod random;
mod world;
mod write;

use calendar::*;
use model::*;
use random::*;
use world::*;
use write::*;

/// What `bonusrun generate` should produce.
pub struct GenerateOptions {
    /// Directory to write into; created if missing. Files inside are overwritten.
    pub out: PathBuf,
    /// Number of clients (the CLI default is 150).
    pub clients: usize,
    /// Number of key-account managers (the CLI default is 8); at most `clients`.
    pub managers: usize,
    /// Exact number of data lines written to `sales.csv`.
    pub sales: u64,
    /// Seed of every random choice: the same options give byte-identical files.
    pub seed: u64,
    /// First month of the sales data (the CLI default is 2024-07).
    pub first_month: MonthIndex,
    /// Number of months of sales data (the CLI default is 24).
    pub months: u32,
}

/// What [`generate`] wrote.
pub struct GenerateSummary {
    /// Each file's name inside `out` and the number of data rows written (header excluded).
    pub files: Vec<(String, u64)>,
}

/// Invalid options, or a file or directory that could not be written.
#[derive(Debug)]
pub struct GenerateError {
    /// The file or directory concerned (the output directory for invalid options).
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl GenerateError {
    fn new(path: &Path, message: impl Into<String>) -> GenerateError {
        GenerateError {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for GenerateError {}

/// The files [`generate`] writes.
pub const FILES: [&str; 5] = [
    "clients.csv",
    "managers.csv",
    "sales.csv",
    "plans.csv",
    "contracts.csv",
];

/// Writes `clients.csv`, `managers.csv`, `sales.csv`, `plans.csv` and `contracts.csv`
/// into `opts.out` and returns the number of data rows of each file.
///
/// The same options always produce byte-identical files.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    validate(opts)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| GenerateError::new(&opts.out, e.to_string()))?;
    let world = World::build(opts);

    let clients_rows = write_clients(&world, &opts.out.join("clients.csv"))?;
    let managers_rows = write_managers(&world, &opts.out.join("managers.csv"))?;
    let contracts_rows = write_contracts(&world, &opts.out.join("contracts.csv"))?;
    let (sales_rows, expected) = write_sales(&world, opts, &opts.out.join("sales.csv"))?;
    let plans_rows = write_plans(&world, &expected, opts.seed, &opts.out.join("plans.csv"))?;

    Ok(GenerateSummary {
        files: vec![
            ("clients.csv".to_string(), clients_rows),
            ("managers.csv".to_string(), managers_rows),
            ("sales.csv".to_string(), sales_rows),
            ("plans.csv".to_string(), plans_rows),
            ("contracts.csv".to_string(), contracts_rows),
        ],
    })
}

fn validate(opts: &GenerateOptions) -> Result<(), GenerateError> {
    let bad = |message: String| {
        Err(GenerateError::new(
            &opts.out,
            format!("invalid options: {message}"),
        ))
    };
    if opts.clients == 0 {
        return bad("the number of clients must be at least 1".into());
    }
    if opts.clients > MAX_CLIENTS {
        return bad(format!(
            "the number of clients ({}) must not exceed {MAX_CLIENTS}",
            opts.clients
        ));
    }
    if opts.managers == 0 {
        return bad("the number of managers must be at least 1".into());
    }
    if opts.managers > opts.clients {
        return bad(format!(
            "the number of managers ({}) must not exceed the number of clients ({})",
            opts.managers, opts.clients
        ));
    }
    if opts.months == 0 {
        return bad("the number of months must be at least 1".into());
    }
    if opts.months > MAX_MONTHS {
        return bad(format!(
            "the number of months ({}) must not exceed {MAX_MONTHS}",
            opts.months
        ));
    }
    let first_year = opts.first_month.0.div_euclid(12);
    let last_year = (opts.first_month.0 + opts.months as i32).div_euclid(12);
    if first_year < 1900 || last_year > 9000 {
        return bad("the data must lie between the years 1900 and 9000".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Model constants
// ---------------------------------------------------------------------------------------

const MAX_CLIENTS: usize = 1_000_000;
const MAX_MONTHS: u32 = 1200;

const CATEGORIES: [&str; 8] = [
    "Dairy",
    "Bakery",
    "Beverages",
    "Grocery",
    "Frozen",
    "Household",
    "Snacks",
    "Baby food",
];
/// Products per category (200 in all).
const CATEGORY_PRODUCTS: [usize; 8] = [32, 22, 30, 36, 22, 22, 22, 14];
/// How often a line is of each category, before the industry's affinity.
const CATEGORY_POPULARITY: [f64; 8] = [1.3, 0.9, 1.1, 1.4, 0.7, 0.6, 0.9, 0.4];
/// Median shelf price per category, RUB.
const CATEGORY_MEDIAN_PRICE: [f64; 8] = [110.0, 70.0, 140.0, 180.0, 320.0, 380.0, 120.0, 290.0];
/// Typical cost as a share of the amount, in 1/10000.
const CATEGORY_COST_RATIO: [i64; 8] = [7800, 7400, 7000, 7600, 7300, 6800, 6600, 7200];
/// Share of lines that are returns (perishables come back more often).
const CATEGORY_RETURN_RATE: [f64; 8] = [0.035, 0.03, 0.015, 0.012, 0.02, 0.01, 0.015, 0.02];

const INDUSTRIES: [&str; 6] = [
    "Retail",
    "HoReCa",
    "Pharmacy",
    "Wholesale",
    "Manufacturing",
    "E-commerce",
];
const INDUSTRY_WEIGHTS: [f64; 6] = [35.0, 15.0, 10.0, 20.0, 8.0, 12.0];
/// How much each industry favours each category (rows follow `INDUSTRIES`).
const AFFINITY: [[f64; 8]; 6] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [2.0, 2.0, 1.5, 1.2, 1.5, 0.5, 0.6, 0.1],
    [0.3, 0.1, 0.8, 0.3, 0.1, 1.5, 0.5, 4.0],
    [1.2, 0.8, 1.2, 1.5, 1.0, 1.0, 1.0, 0.8],
    [1.5, 0.8, 0.6, 2.0, 1.0, 0.6, 0.6, 0.3],
    [0.8, 0.6, 1.3, 1.2, 0.8, 1.4, 1.5, 1.2],
];

const REGIONS: [&str; 6] = [
    "Moscow",
    "Saint Petersburg",
    "Kazan",
    "Novosibirsk",
    "Yekaterinburg",
    "Krasnodar",
];
const REGION_WEIGHTS: [f64; 6] = [35.0, 20.0, 10.0, 10.0, 12.0, 13.0];

const TEAMS: [&str; 8] = [
    "North", "South", "East", "West", "Central", "Volga", "Siberia", "Ural",
];

/// Volume multiplier per calendar month, January first.
const SEASON: [f64; 12] = [
    0.82, 0.86, 0.97, 0.96, 1.00, 0.93, 0.86, 0.88, 1.02, 1.06, 1.10, 1.38,
];
/// ln(1.07): 7 % volume growth a year.
const YEARLY_GROWTH_LN: f64 = 0.067_658_648_473_814_8;
/// Intensity of a new client in its first, second and third month.
const RAMP_UP: [f64; 3] = [0.45, 0.7, 0.88];
/// Share of lines sold by a manager other than the client's owner.
const FOREIGN_SHARE: f64 = 0.03;
/// Share of clients whose relationship starts inside the data range.
const NEW_CLIENT_SHARE: f64 = 0.15;
/// Chance that a current contract falling due inside the range is renewed (previous
/// contracts always were, so ~75 % of all contracts due in the range are renewed).
const RENEWAL_RATE: f64 = 0.68;
/// Upper bound of the case count of one line.
const MAX_UNITS: f64 = 999.0;

const MALE_FIRST: [&str; 20] = [
    "Александр",
    "Алексей",
    "Андрей",
    "Дмитрий",
    "Сергей",
    "Иван",
    "Михаил",
    "Николай",
    "Павел",
    "Роман",
    "Евгений",
    "Владимир",
    "Максим",
    "Игорь",
    "Олег",
    "Константин",
    "Артём",
    "Денис",
    "Илья",
    "Виктор",
];
const FEMALE_FIRST: [&str; 20] = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Екатерина",
    "Ирина",
    "Светлана",
    "Юлия",
    "Анастасия",
    "Марина",
    "Дарья",
    "Ксения",
    "Виктория",
    "Полина",
    "Алина",
    "Валерия",
    "Вера",
    "Людмила",
];
/// Male surnames; every one takes the feminine form by appending "а".
const SURNAMES: [&str; 30] = [
    "Смирнов",
    "Иванов",
    "Кузнецов",
    "Соколов",
    "Попов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Петров",
    "Волков",
    "Соловьёв",
    "Васильев",
    "Зайцев",
    "Павлов",
    "Семёнов",
    "Голубев",
    "Виноградов",
    "Богданов",
    "Воробьёв",
    "Фёдоров",
    "Михайлов",
    "Беляев",
    "Тарасов",
    "Белов",
    "Комаров",
    "Орлов",
    "Киселёв",
    "Макаров",
    "Андреев",
];
const PATRONYMIC_INITIALS: [&str; 10] = ["А", "В", "Г", "Д", "И", "М", "Н", "О", "П", "С"];
const NAME_ROOTS: [&str; 40] = [
    "Альфа",
    "Вега",
    "Гранит",
    "Дельта",
    "Европа",
    "Жемчуг",
    "Заря",
    "Исток",
    "Кристалл",
    "Лазурь",
    "Меридиан",
    "Нева",
    "Орион",
    "Полюс",
    "Радуга",
    "Сатурн",
    "Тайга",
    "Урал",
    "Феникс",
    "Хорс",
    "Эталон",
    "Юпитер",
    "Янтарь",
    "Волга",
    "Восток",
    "Север",
    "Океан",
    "Сфера",
    "Олимп",
    "Атлант",
    "Ресурс",
    "Гарант",
    "Прогресс",
    "Фаворит",
    "Вертикаль",
    "Монолит",
    "Старт",
    "Ладья",
    "Берёзка",
    "Колос",
];
const NAME_SUFFIXES: [&str; 12] = [
    "",
    "-Трейд",
    "-Опт",
    "-Маркет",
    "-Продукт",
    "-Снаб",
    " Групп",
    "-Фуд",
    " Плюс",
    "-Сервис",
    "-Торг",
    " Дистрибуция",
];

// Independent random streams, so that changing one file's size never reshuffles another.
const STREAM_MANAGERS: u64 = 1;
const STREAM_CLIENTS: u64 = 2;
const STREAM_CATALOGUE: u64 = 3;
const STREAM_CONTRACTS: u64 = 4;
const STREAM_PLANS: u64 = 5;
const STREAM_SALES: u64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn options(out: PathBuf, seed: u64) -> GenerateOptions {
        GenerateOptions {
            out,
            clients: 40,
            managers: 5,
            sales: 20_000,
            seed,
            first_month: MonthIndex::new(2024, 7),
            months: 8,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bonusrun-generate-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
        [
            "clients.csv",
            "managers.csv",
            "sales.csv",
            "plans.csv",
            "contracts.csv",
        ]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
    }

    #[test]
    fn same_seed_same_bytes_and_exact_counts() {
        let (a, b, c) = (scratch("a"), scratch("b"), scratch("c"));
        let summary = generate(&options(a.clone(), 7)).unwrap();
        generate(&options(b.clone(), 7)).unwrap();
        generate(&options(c.clone(), 8)).unwrap();
        let (files_a, files_b, files_c) = (read_all(&a), read_all(&b), read_all(&c));
        assert_eq!(files_a, files_b);
        assert_ne!(files_a, files_c);

        for ((name, rows), (file, bytes)) in summary.files.iter().zip(&files_a) {
            assert_eq!(name, file);
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(lines, rows + 1, "{name}");
        }
        let rows = |name: &str| summary.files.iter().find(|f| f.0 == name).unwrap().1;
        assert_eq!(rows("sales.csv"), 20_000);
        assert_eq!(rows("clients.csv"), 40);
        assert_eq!(rows("managers.csv"), 5);
        // 2024-07 .. 2025-02 overlaps three quarters; three KPIs each.
        assert_eq!(rows("plans.csv"), 5 * 3 * 3);

        let sales = String::from_utf8(files_a[2].1.clone()).unwrap();
        let mut previous = String::new();
        for line in sales.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 8, "{line}");
            assert!(fields[0] >= previous.as_str(), "dates out of order");
            previous = fields[0].to_string();
            assert!(fields[0] >= "2024-07-01" && fields[0] <= "2025-02-28");
            for amount in &fields[6..8] {
                let (_, cents) = amount.split_once('.').unwrap();
                assert_eq!(cents.len(), 2, "{line}");
            }
        }
        for dir in [a, b, c] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn rejects_bad_options() {
        let dir = scratch("bad");
        let mut opts = options(dir.clone(), 1);
        opts.managers = 41;
        let err = generate(&opts).err().unwrap();
        assert_eq!(err.path, dir);
        assert!(err.to_string().contains("must not exceed"), "{err}");
        opts.managers = 0;
        assert!(generate(&opts).is_err());
        opts.managers = 1;
        opts.months = 0;
        assert!(generate(&opts).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn helpers_are_exact() {
        assert_eq!(cents_to_string(-5), "-0.05");
        assert_eq!(cents_to_string(123_456), "1234.56");
        let mut buf = Vec::new();
        push_cents(&mut buf, -120);
        buf.push(b' ');
        push_cents(&mut buf, 7);
        assert_eq!(buf, b"-1.20 0.07");
        assert_eq!(div_round(-15, 10), -2);
        assert_eq!(div_round(14, 10), 1);
        let parts = apportion(10, &[1.0, 0.0, 1.0, 1.0]);
        assert_eq!(parts.iter().sum::<u64>(), 10);
        assert_eq!(parts[1], 0);
        for x in [1e-300, 0.001, 0.5, 1.0, 1.5, 2.0, 10.0, 12345.678] {
            assert!(
                (det_ln(x) - x.ln()).abs() <= 1e-13 * x.ln().abs().max(1.0),
                "{x}"
            );
        }
        for x in [-700.0, -3.0, -0.2, 0.0, 0.3, 1.0, 5.5, 100.0] {
            let rel = (det_exp(x) - x.exp()).abs() / x.exp();
            assert!(rel <= 1e-13, "{x}");
        }
    }
}
