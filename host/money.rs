//! Exact money: decimal parsing, currencies, named rounding modes and formatting.
//!
//! Amounts are [`rust_decimal::Decimal`] from the CSV text to the payout file: no `f64`
//! anywhere on the way. Rounding to the currency's minor unit happens once per payout line,
//! with the mode the rule pack names.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// How a payout line is rounded to the currency's minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoundingMode {
    /// Halves away from zero (commercial rounding): 0.125 → 0.13, -0.125 → -0.13.
    HalfUp,
    /// Halves to the even neighbour (banker's rounding): 0.125 → 0.12, 0.135 → 0.14.
    HalfEven,
    /// Halves towards zero: 0.125 → 0.12.
    HalfDown,
    /// Always towards zero (truncate): 0.129 → 0.12.
    Down,
    /// Always away from zero: 0.121 → 0.13.
    Up,
}

impl RoundingMode {
    /// All modes with their `pack.toml` names.
    pub const ALL: [(&'static str, RoundingMode); 5] = [
        ("half-up", RoundingMode::HalfUp),
        ("half-even", RoundingMode::HalfEven),
        ("half-down", RoundingMode::HalfDown),
        ("down", RoundingMode::Down),
        ("up", RoundingMode::Up),
    ];

    /// The name used in `pack.toml` and in `run.json`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("half-even")
    }

    fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::HalfDown => RoundingStrategy::MidpointTowardZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
        }
    }
}

/// A currency: its ISO code and the number of decimals of its minor unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Currency {
    /// ISO 4217 code, e.g. `RUB`.
    pub code: String,
    /// Decimals of the minor unit: 2 for RUB (kopecks), 0 for JPY.
    pub minor_units: u32,
}

impl Currency {
    /// The minor unit of well-known ISO 4217 codes; `None` for codes not in the table
    /// (the pack then has to say `minor_units` itself).
    pub fn known_minor_units(code: &str) -> Option<u32> {
        const ZERO: &[&str] = &[
            "JPY", "KRW", "CLP", "ISK", "VND", "XOF", "XAF", "UGX", "PYG", "RWF",
        ];
        const THREE: &[&str] = &["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"];
        const TWO: &[&str] = &[
            "RUB", "USD", "EUR", "GBP", "CHF", "CNY", "KZT", "BYN", "UAH", "AMD", "GEL", "AZN",
            "UZS", "INR", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "TRY",
            "BRL", "MXN", "ZAR", "SGD", "HKD", "AED", "SAR", "ILS", "THB", "MYR", "IDR", "PHP",
        ];
        if ZERO.contains(&code) {
            Some(0)
        } else if THREE.contains(&code) {
            Some(3)
        } else if TWO.contains(&code) {
            Some(2)
        } else {
            None
        }
    }

    /// Rounds `amount` to the minor unit with `mode`.
    pub fn round(&self, amount: Decimal, mode: RoundingMode) -> Decimal {
        let mut r = amount.round_dp_with_strategy(self.minor_units, mode.strategy());
        r.rescale(self.minor_units);
        r
    }

    /// `amount × rate` rounded once to the minor unit with `mode`. The product is exact
    /// when it fits a decimal; when it needs more than 28 digits it is first taken to the
    /// nearest 28-digit decimal, which rounds to the same minor unit unless it lies exactly
    /// on a rounding boundary (a midpoint, or for `up` and `down` a multiple of the unit):
    /// then the result cannot be known exactly and this gives `None`, as it does on overflow.
    pub fn convert(&self, amount: Decimal, rate: Decimal, mode: RoundingMode) -> Option<Decimal> {
        if let Some(p) = exact_product(amount, rate) {
            return Some(self.round(p, mode));
        }
        let p = amount.checked_mul(rate)?;
        let unit = Decimal::new(1, self.minor_units);
        let rem = p.checked_rem(unit)?.abs();
        let boundary = match mode {
            RoundingMode::HalfUp | RoundingMode::HalfEven | RoundingMode::HalfDown => {
                rem.checked_mul(Decimal::TWO)? == unit
            }
            RoundingMode::Down | RoundingMode::Up => rem.is_zero(),
        };
        (!boundary).then(|| self.round(p, mode))
    }

    /// Whether `amount` can be written with exactly the minor unit's decimals: a decimal
    /// holds 28 digits, so RUB amounts have at most 26 before the point.
    pub fn holds(&self, amount: Decimal) -> bool {
        let mut a = amount;
        a.rescale(self.minor_units);
        a.scale() == self.minor_units && a == amount
    }

    /// Formats an already rounded amount with exactly the minor unit's decimals (`1500.50`).
    pub fn format(&self, amount: Decimal) -> String {
        let mut a = amount;
        a.rescale(self.minor_units);
        a.to_string()
    }
}

/// Rounds a ratio or other non-money figure for display: at most `dp` decimals, trailing
/// zeros removed (`1.050000` → `1.05`).
pub fn format_figure(value: Decimal, dp: u32) -> String {
    let v = value
        .round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven)
        .normalize();
    if v.is_zero() {
        "0".to_string()
    } else {
        v.to_string()
    }
}

/// `value` as a percentage with at most `dp` decimals (`0.125` → `12.5%`), or `None` when
/// `value × 100` does not fit a decimal.
pub fn percent_text(value: Decimal, dp: u32) -> Option<String> {
    value
        .checked_mul(Decimal::ONE_HUNDRED)
        .map(|p| format!("{}%", format_figure(p, dp)))
}

/// The common case of [`parse_decimal`]: at most 18 characters of digits and one `.` (so
/// the value fits an `i64` without checks), as (mantissa, scale); `None` for anything
/// else, which the general path then reads or refuses.
#[inline]
fn short_decimal(digits: &[u8]) -> Option<(u64, u32)> {
    if digits.len() > 18 {
        return None;
    }
    let mut mantissa = 0u64;
    let mut dot = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(c - b'0'),
            b'.' if dot.is_none() => dot = Some(i),
            _ => return None,
        }
    }
    let scale = match dot {
        // "12." and ".5" have a digit on one side only: the general path decides.
        Some(i) if i == 0 || i + 1 == digits.len() => return None,
        Some(i) => (digits.len() - i - 1) as u32,
        None => 0,
    };
    Some((mantissa, scale))
}

/// Parses a plain decimal number: optional sign, digits, optional `.` and digits.
/// No exponents, thousands separators or spaces: those are mapping concerns, not data.
/// Returns `None` on anything else, including more than 28 significant digits.
pub fn parse_decimal(text: &[u8]) -> Option<Decimal> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    if let Some((mantissa, scale)) = short_decimal(digits) {
        let m = mantissa as i64;
        return Some(Decimal::new(if negative { -m } else { m }, scale));
    }
    // One pass into a u128, which holds 38 digits without overflow checks; leading zeros do
    // not count towards them.
    let mut mantissa: u128 = 0;
    let mut scale: u32 = 0;
    let mut significant: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                if mantissa != 0 || c != b'0' {
                    significant += 1;
                    if significant > 38 {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + u128::from(c - b'0');
                scale += u32::from(seen_dot);
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit || scale > 28 || mantissa > 79_228_162_514_264_337_593_543_950_335 {
        return None;
    }
    let m = mantissa as i128;
    Decimal::try_from_i128_with_scale(if negative { -m } else { m }, scale).ok()
}

/// An exact running sum of decimals as a 128-bit integer at the largest scale seen: one
/// integer addition per line where `Decimal` addition aligns scales every time. Overflow is
/// remembered and reported, never wrapped.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExactSum {
    pub(crate) mantissa: i128,
    pub(crate) scale: u32,
    pub(crate) overflow: bool,
}

impl ExactSum {
    #[inline]
    pub fn add(&mut self, d: Decimal) {
        self.add_parts(d.mantissa(), d.scale());
    }

    #[inline]
    pub fn sub(&mut self, d: Decimal) {
        self.add_parts(-d.mantissa(), d.scale());
    }

    #[inline]
    fn add_parts(&mut self, m: i128, scale: u32) {
        if scale == self.scale {
            match self.mantissa.checked_add(m) {
                Some(v) => self.mantissa = v,
                None => self.overflow = true,
            }
        } else {
            self.add_rescaled(m, scale);
        }
    }

    #[cold]
    fn add_rescaled(&mut self, m: i128, scale: u32) {
        let widen = |v: i128, by: u32| 10i128.checked_pow(by).and_then(|f| v.checked_mul(f));
        let sum = if scale > self.scale {
            let mine = widen(self.mantissa, scale - self.scale);
            self.scale = scale;
            mine.and_then(|a| a.checked_add(m))
        } else {
            widen(m, self.scale - scale).and_then(|b| self.mantissa.checked_add(b))
        };
        match sum {
            Some(v) => self.mantissa = v,
            None => self.overflow = true,
        }
    }

    pub fn merge(&mut self, other: &ExactSum) {
        self.overflow |= other.overflow;
        self.add_parts(other.mantissa, other.scale);
    }

    /// The sum as a decimal, or `None` when it does not fit one (28 digits).
    pub fn to_decimal(self) -> Option<Decimal> {
        if self.overflow {
            return None;
        }
        let (mut m, mut scale) = (self.mantissa, self.scale);
        loop {
            if let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) {
                return Some(d);
            }
            if scale > 0 && m % 10 == 0 {
                m /= 10;
                scale -= 1;
            } else {
                return None;
            }
        }
    }
}

/// The exact sum of `values`, or `None` when it does not fit a decimal (28 digits) without
/// rounding. `Decimal`'s own `+` would panic on overflow, and silently drop decimals when a
/// sum needs more than 28 digits; money is added with this instead.
pub fn exact_sum(values: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    let mut sum = ExactSum::default();
    for v in values {
        sum.add(v);
    }
    sum.to_decimal()
}

/// `a × b` exactly, or `None` when the product does not fit a decimal without rounding
/// (`Decimal`'s own `*` would round beyond 28 digits).
pub fn exact_product(a: Decimal, b: Decimal) -> Option<Decimal> {
    let m = a.mantissa().checked_mul(b.mantissa())?;
    ExactSum {
        mantissa: m,
        scale: a.scale() + b.scale(),
        overflow: false,
    }
    .to_decimal()
}

/// `a - b` exactly, or `None` when the difference does not fit a decimal without rounding.
pub fn exact_difference(a: Decimal, b: Decimal) -> Option<Decimal> {
    let mut sum = ExactSum::default();
    sum.add(a);
    sum.sub(b);
    sum.to_decimal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn conversions_round_once_even_past_28_digits() {
        let eur = Currency {
            code: "EUR".into(),
            minor_units: 2,
        };
        let half_up = RoundingMode::HalfUp;
        // Exact: 102.50 x 0.010123 = 1.0376075.
        assert_eq!(
            eur.convert(d("102.50"), d("0.010123"), half_up),
            Some(d("1.04"))
        );
        // 28 digits times a rate: the product is taken to 28 digits, then rounded once.
        let long = d("3576071.4285714285714285714286");
        assert_eq!(eur.convert(long, d("0.0099"), half_up), Some(d("35403.11")));
        // On a midpoint after the 28-digit step: 0.00499999...95 would become 0.005 and
        // round up, where the exact product rounds down. Not knowable, so refused.
        let third = d("0.3333333333333333333333333333");
        assert_eq!(eur.convert(third, d("0.015"), half_up), None);
        assert_eq!(
            eur.convert(d("1.000000000000000000000000001"), d("0.005"), half_up),
            None
        );
    }

    #[test]
    fn rounding_modes_at_midpoints() {
        let rub = Currency {
            code: "RUB".into(),
            minor_units: 2,
        };
        assert_eq!(rub.round(d("0.125"), RoundingMode::HalfUp), d("0.13"));
        assert_eq!(rub.round(d("0.125"), RoundingMode::HalfEven), d("0.12"));
        assert_eq!(rub.round(d("0.135"), RoundingMode::HalfEven), d("0.14"));
        assert_eq!(rub.round(d("-0.125"), RoundingMode::HalfUp), d("-0.13"));
        assert_eq!(rub.round(d("0.129"), RoundingMode::Down), d("0.12"));
        assert_eq!(rub.round(d("0.121"), RoundingMode::Up), d("0.13"));
        assert_eq!(rub.format(d("5")), "5.00");
        assert!(rub.holds(d("12345678901234567890123456.78")));
        assert!(!rub.holds(d("987654321098765432109876543.2")));
        let jpy = Currency {
            code: "JPY".into(),
            minor_units: 0,
        };
        assert_eq!(jpy.format(jpy.round(d("2.5"), RoundingMode::HalfEven)), "2");
    }

    #[test]
    fn parses_plain_decimals_only() {
        assert_eq!(parse_decimal(b"1500.50"), Some(d("1500.50")));
        // Both paths: every length around the short path's limit reads the same.
        for n in 1..=24 {
            let digits: String = "987654321".chars().cycle().take(n).collect();
            for text in [
                digits.clone(),
                format!("-{digits}"),
                format!("{}.{}", &digits[..n / 2 + 1], &digits[n / 2 + 1..]),
            ] {
                let text = text.trim_end_matches('.').to_string();
                assert_eq!(
                    parse_decimal(text.as_bytes()),
                    text.parse::<Decimal>().ok(),
                    "{text}"
                );
                assert_eq!(
                    parse_decimal(text.as_bytes()).map(|d| d.to_string()),
                    text.parse::<Decimal>().ok().map(|d| d.to_string()),
                    "{text}"
                );
            }
        }
        assert_eq!(parse_decimal(b"1.2.3"), None);
        assert_eq!(parse_decimal(b"1-2"), None);
        assert_eq!(
            parse_decimal(b"00012.50").map(|d| d.to_string()),
            Some("12.50".into())
        );
        assert_eq!(parse_decimal(b"-3"), Some(d("-3")));
        assert_eq!(parse_decimal(b".5"), Some(d("0.5")));
        assert_eq!(parse_decimal(b"+7."), Some(d("7")));
        assert_eq!(parse_decimal(b"-0.00"), Some(d("0.00")));
        // Long figures, leading zeros and the smallest step are exact.
        assert_eq!(
            parse_decimal(b"9999999999999999999"),
            Some(d("9999999999999999999"))
        );
        assert_eq!(
            parse_decimal(b"-12345678901234567.891"),
            Some(d("-12345678901234567.891"))
        );
        assert_eq!(
            parse_decimal(b"0.0000000000000000000000000001"),
            Some(d("0.0000000000000000000000000001"))
        );
        assert_eq!(
            parse_decimal(b"0000000000000000000000000000000000000000042.5"),
            Some(d("42.5"))
        );
        assert_eq!(parse_decimal(b"79228162514264337593543950336"), None);
        assert_eq!(
            parse_decimal(b"1234567890123456789012345678901234567890"),
            None
        );
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"1e5",
            b"1,5",
            b"1 000",
            b"abc",
            b"1.2.3",
            b"0x10",
        ] {
            assert_eq!(
                parse_decimal(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(format_figure(d("1.050000"), 6), "1.05");
        assert_eq!(format_figure(d("0.3333333333"), 4), "0.3333");
    }
}
