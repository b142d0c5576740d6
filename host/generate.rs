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

// ---------------------------------------------------------------------------------------
// Deterministic randomness and maths
// ---------------------------------------------------------------------------------------

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through SplitMix64; one independent stream per `(seed, stream)`.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut state = seed;
        let mixed = splitmix64(&mut state);
        let mut state = mixed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `0..n` (Lemire's multiply-and-reject, unbiased); `n > 0`.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform index into a slice of length `n > 0`.
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Approximately standard normal (Irwin–Hall sum of twelve uniforms).
    fn normal(&mut self) -> f64 {
        let mut sum = 0.0;
        for _ in 0..12 {
            sum += self.f64();
        }
        sum - 6.0
    }

    /// Exponential with mean 1.
    fn exp1(&mut self) -> f64 {
        -det_ln(1.0 - self.f64())
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// A uniformly random day in `lo..=hi`.
    fn date_between(&mut self, lo: Date, hi: Date) -> Date {
        let span = (hi.days() - lo.days()).max(0) as u64 + 1;
        lo.add_days(self.below(span) as i32)
    }
}

/// Natural logarithm from IEEE-exact operations only (bit-identical on every platform).
fn det_ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x.is_finite());
    if x < f64::MIN_POSITIVE {
        return det_ln(x * 18_014_398_509_481_984.0) - 54.0 * std::f64::consts::LN_2;
    }
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …) with |s| ≤ 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 0.0;
    for k in (0..14).rev() {
        p = p * s2 + 1.0 / f64::from(2 * k + 1);
    }
    exponent as f64 * std::f64::consts::LN_2 + 2.0 * s * p
}

/// `e^x` from IEEE-exact operations only (bit-identical on every platform).
fn det_exp(x: f64) -> f64 {
    if x < -708.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    let mut p = 1.0;
    for n in (1..=20).rev() {
        p = 1.0 + r * p / f64::from(n);
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// `base^exponent` for `base > 0`, platform-independent.
fn det_pow(base: f64, exponent: f64) -> f64 {
    det_exp(exponent * det_ln(base))
}

/// A cumulative weight table for weighted choice by binary search.
#[derive(Default)]
struct Cumulative {
    cum: Vec<f64>,
    last_positive: usize,
}

impl Cumulative {
    fn from_weights(weights: impl IntoIterator<Item = f64>) -> Cumulative {
        let mut table = Cumulative::default();
        table.rebuild(weights);
        table
    }

    fn rebuild(&mut self, weights: impl IntoIterator<Item = f64>) {
        self.cum.clear();
        self.last_positive = 0;
        let mut sum = 0.0;
        for (i, w) in weights.into_iter().enumerate() {
            if w > 0.0 {
                sum += w;
                self.last_positive = i;
            }
            self.cum.push(sum);
        }
    }

    fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// An index drawn with probability proportional to its weight (never a zero weight).
    fn pick(&self, rng: &mut Rng) -> usize {
        let r = rng.f64() * self.total();
        self.cum
            .partition_point(|&c| c <= r)
            .min(self.last_positive)
    }
}

/// Splits `total` into integers proportional to `weights` (largest remainder, exact
/// integer arithmetic): the parts always sum to `total`, zero weights always get zero.
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let max = weights.iter().copied().fold(0.0_f64, f64::max);
    if total == 0 || max <= 0.0 {
        return vec![0; weights.len()];
    }
    let scale = (1u64 << 52) as f64;
    let ints: Vec<u128> = weights
        .iter()
        .map(|&w| {
            if w > 0.0 {
                ((w / max * scale).round() as u128).max(1)
            } else {
                0
            }
        })
        .collect();
    let sum: u128 = ints.iter().sum();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given = 0u64;
    for (i, &w) in ints.iter().enumerate() {
        let quota = u128::from(total) * w;
        let floor = (quota / sum) as u64;
        given += floor;
        parts.push(floor);
        remainders.push((quota % sum, i));
    }
    let leftover = (total - given) as usize;
    if leftover > 0 {
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, i) in remainders.iter().take(leftover) {
            parts[i] += 1;
        }
    }
    parts
}

/// `numerator / denominator` rounded half away from zero; `denominator > 0`.
fn div_round(numerator: i64, denominator: i64) -> i64 {
    if numerator >= 0 {
        (numerator + denominator / 2) / denominator
    } else {
        -((-numerator + denominator / 2) / denominator)
    }
}

/// Kopecks as an exact decimal with two places: `-1234` → `-12.34`.
fn cents_to_string(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

fn push_i64(buf: &mut Vec<u8>, value: i64) {
    if value < 0 {
        buf.push(b'-');
    }
    push_u64(buf, value.unsigned_abs());
}

fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_u64(buf, abs / 100);
    let frac = (abs % 100) as u8;
    buf.extend_from_slice(&[b'.', b'0' + frac / 10, b'0' + frac % 10]);
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// `prefix` followed by `n` (1-based) zero-padded to `width` digits.
fn code(prefix: &str, n: usize, width: usize) -> String {
    format!("{prefix}{n:0width$}")
}

/// Digits needed to print `n`, and at least `min`.
fn id_width(n: usize, min: usize) -> usize {
    n.to_string().len().max(min)
}

// ---------------------------------------------------------------------------------------
// Calendar helpers
// ---------------------------------------------------------------------------------------

fn ymd(year: i32, month: u32, day: u32) -> Date {
    Date::from_ymd(year, month, day).expect("a valid calendar date")
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(date: Date) -> i32 {
    (date.days() + 3).rem_euclid(7)
}

/// The same day a year later (29 February becomes 1 March).
fn add_year(date: Date) -> Date {
    let (y, m, d) = date.ymd();
    Date::from_ymd(y + 1, m, d).unwrap_or_else(|| ymd(y + 1, 3, 1))
}

/// Relative number of sales lines on a day: weekends, Russian public holidays, and the
/// push in the last week of every quarter.
fn day_factor(date: Date, days_in_month: u32) -> f64 {
    const WEEKDAY: [f64; 7] = [1.0, 1.05, 1.05, 1.0, 0.95, 0.3, 0.08];
    let (_, month, day) = date.ymd();
    let mut factor = WEEKDAY[weekday(date) as usize];
    if month == 1 && day <= 8 {
        factor *= 0.12;
    }
    if matches!(
        (month, day),
        (2, 23) | (3, 8) | (5, 1) | (5, 9) | (6, 12) | (11, 4)
    ) {
        factor *= 0.25;
    }
    if month % 3 == 0 && day + 6 >= days_in_month {
        factor *= 1.25;
    }
    factor
}

/// One month of the data range.
struct MonthInfo {
    first: Date,
    days: u32,
    /// Months since the first month of the range.
    offset: i32,
    season: f64,
    growth: f64,
    /// Price-list year: calendar years since the first month's year.
    year: usize,
    /// Index into `World::quarters`.
    quarter: usize,
}

// ---------------------------------------------------------------------------------------
// The world: managers, clients, products, contracts
// ---------------------------------------------------------------------------------------

struct Manager {
    id: String,
    name: String,
    /// Quarterly target bonus, kopecks.
    target_bonus: i64,
    team: &'static str,
}

struct Client {
    id: String,
    name: String,
    industry: usize,
    region: usize,
    since: Date,
    /// Months from the range's first month to the `since` month (negative for old clients).
    since_offset: i32,
    /// Market share in thousandths.
    market_share: u32,
    strategic: bool,
    manager: usize,
    influence: u8,
    image_impact: bool,
    new_markets: bool,
    demanding: bool,
    /// 0 = biggest client.
    rank: usize,
    /// Relative number of lines (before seasonality and trends).
    intensity: f64,
    /// ln of the client's own yearly trend.
    trend_ln: f64,
    /// First day without purchases, for churning clients.
    churn: Option<Date>,
    /// Mean of the exponential behind the case count (0: always one case).
    theta: f64,
    /// Expected case count of a line.
    mean_units: f64,
    /// Categories in the order the client takes them up.
    cats: [u8; 8],
    base_cats: u8,
    extra_cats: u8,
    /// Month offset from which the extra categories are bought.
    extra_from: i32,
    /// How many of each category's most popular products the client buys.
    depth: [u16; 8],
}

struct Catalogue {
    codes: Vec<String>,
    pack: Vec<i64>,
    /// Base cost ratio in 1/10000.
    cost_ratio: Vec<i64>,
    /// Unit price in kopecks, per price-list year and product.
    prices: Vec<Vec<i64>>,
    /// Products of each category, most popular first.
    by_cat: Vec<Vec<usize>>,
    /// Cumulative popularity along `by_cat`.
    pop_cum: Vec<Vec<f64>>,
}

struct Contract {
    client: usize,
    start: Date,
    end: Date,
    renewed_on: Option<Date>,
}

struct World {
    range_start: Date,
    range_last: Date,
    months: Vec<MonthInfo>,
    quarters: Vec<Period>,
    managers: Vec<Manager>,
    clients: Vec<Client>,
    catalogue: Catalogue,
    contracts: Vec<Contract>,
}

impl World {
    fn build(opts: &GenerateOptions) -> World {
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

fn build_managers(opts: &GenerateOptions) -> Vec<Manager> {
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

fn build_catalogue(seed: u64, price_years: usize) -> Catalogue {
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

fn client_name(rng: &mut Rng, used: &mut BTreeSet<String>) -> String {
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

fn build_clients(opts: &GenerateOptions, range_start: Date, range_last: Date) -> Vec<Client> {
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

fn build_contracts(world: &World, seed: u64) -> Vec<Contract> {
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

// ---------------------------------------------------------------------------------------
// Per-month model: who is active, how much, what they buy
// ---------------------------------------------------------------------------------------

/// Relative number of lines of `client` in `month` while active (before seasonality).
fn client_month_weight(client: &Client, month: &MonthInfo) -> f64 {
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
struct Activity {
    weight: Vec<f64>,
    /// Active days are `lo..hi` (day of month, 0-based).
    lo: Vec<u32>,
    hi: Vec<u32>,
    /// Segment boundaries: the active set is constant on `bounds[i]..bounds[i + 1]`.
    bounds: Vec<u32>,
}

impl Activity {
    fn compute(&mut self, clients: &[Client], month: &MonthInfo) {
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
    fn weight_at(&self, c: usize, day: u32) -> f64 {
        if self.lo[c] <= day && day < self.hi[c] {
            self.weight[c]
        } else {
            0.0
        }
    }

    fn total_at(&self, day: u32) -> f64 {
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
struct Mix {
    len: usize,
    cats: [u8; 8],
    cum: [f64; 8],
}

impl Mix {
    fn of(client: &Client, month: &MonthInfo) -> Mix {
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

    fn pick(&self, rng: &mut Rng) -> usize {
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
struct ValueTables {
    amount: Vec<Vec<f64>>,
    margin: Vec<Vec<f64>>,
}

impl ValueTables {
    fn new(catalogue: &Catalogue, year: usize) -> ValueTables {
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
    fn expected_line(&self, catalogue: &Catalogue, client: &Client, mix: &Mix) -> (f64, f64) {
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
struct Expected {
    revenue: Vec<f64>,
    margin: Vec<f64>,
}

// ---------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------

type CsvOut = csv::Writer<BufWriter<File>>;

fn csv_create(path: &Path, header: &[&str]) -> Result<CsvOut, GenerateError> {
    let file = File::create(path).map_err(|e| GenerateError::new(path, e.to_string()))?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(BufWriter::with_capacity(1 << 16, file));
    writer
        .write_record(header)
        .map_err(|e| GenerateError::new(path, e.to_string()))?;
    Ok(writer)
}

fn csv_row<I, T>(writer: &mut CsvOut, path: &Path, row: I) -> Result<(), GenerateError>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    writer
        .write_record(row)
        .map_err(|e| GenerateError::new(path, e.to_string()))
}

fn csv_finish(writer: CsvOut, path: &Path) -> Result<(), GenerateError> {
    let buffered = writer
        .into_inner()
        .map_err(|e| GenerateError::new(path, e.error().to_string()))?;
    buffered
        .into_inner()
        .map_err(|e| GenerateError::new(path, e.error().to_string()))?;
    Ok(())
}

fn write_clients(world: &World, path: &Path) -> Result<u64, GenerateError> {
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

fn write_managers(world: &World, path: &Path) -> Result<u64, GenerateError> {
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

fn write_contracts(world: &World, path: &Path) -> Result<u64, GenerateError> {
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
struct SalesOut<'a> {
    file: File,
    buf: Vec<u8>,
    path: &'a Path,
}

impl SalesOut<'_> {
    const CHUNK: usize = 1 << 20;

    fn flush_if_full(&mut self) -> Result<(), GenerateError> {
        if self.buf.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), GenerateError> {
        self.file
            .write_all(&self.buf)
            .map_err(|e| GenerateError::new(self.path, e.to_string()))?;
        self.buf.clear();
        Ok(())
    }
}

fn write_sales(
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

fn write_plans(
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
