//! Deterministic randomness, maths and number formatting: the same digits on every platform.

use super::*;

// ---------------------------------------------------------------------------------------
// Deterministic randomness and maths
// ---------------------------------------------------------------------------------------

pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through SplitMix64; one independent stream per `(seed, stream)`.
pub(super) struct Rng {
    pub(super) s: [u64; 4],
}

impl Rng {
    pub(super) fn new(seed: u64, stream: u64) -> Rng {
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

    pub(super) fn next_u64(&mut self) -> u64 {
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
    pub(super) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `0..n` (Lemire's multiply-and-reject, unbiased); `n > 0`.
    pub(super) fn below(&mut self, n: u64) -> u64 {
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
    pub(super) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Approximately standard normal (Irwin–Hall sum of twelve uniforms).
    pub(super) fn normal(&mut self) -> f64 {
        let mut sum = 0.0;
        for _ in 0..12 {
            sum += self.f64();
        }
        sum - 6.0
    }

    /// Exponential with mean 1.
    pub(super) fn exp1(&mut self) -> f64 {
        -det_ln(1.0 - self.f64())
    }

    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// A uniformly random day in `lo..=hi`.
    pub(super) fn date_between(&mut self, lo: Date, hi: Date) -> Date {
        let span = (hi.days() - lo.days()).max(0) as u64 + 1;
        lo.add_days(self.below(span) as i32)
    }
}

/// Natural logarithm from IEEE-exact operations only (bit-identical on every platform).
pub(super) fn det_ln(x: f64) -> f64 {
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
pub(super) fn det_exp(x: f64) -> f64 {
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
pub(super) fn det_pow(base: f64, exponent: f64) -> f64 {
    det_exp(exponent * det_ln(base))
}

/// A cumulative weight table for weighted choice by binary search.
#[derive(Default)]
pub(super) struct Cumulative {
    pub(super) cum: Vec<f64>,
    pub(super) last_positive: usize,
}

impl Cumulative {
    pub(super) fn from_weights(weights: impl IntoIterator<Item = f64>) -> Cumulative {
        let mut table = Cumulative::default();
        table.rebuild(weights);
        table
    }

    pub(super) fn rebuild(&mut self, weights: impl IntoIterator<Item = f64>) {
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

    pub(super) fn total(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// An index drawn with probability proportional to its weight (never a zero weight).
    pub(super) fn pick(&self, rng: &mut Rng) -> usize {
        let r = rng.f64() * self.total();
        self.cum
            .partition_point(|&c| c <= r)
            .min(self.last_positive)
    }
}

/// Splits `total` into integers proportional to `weights` (largest remainder, exact
/// integer arithmetic): the parts always sum to `total`, zero weights always get zero.
pub(super) fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
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
pub(super) fn div_round(numerator: i64, denominator: i64) -> i64 {
    if numerator >= 0 {
        (numerator + denominator / 2) / denominator
    } else {
        -((-numerator + denominator / 2) / denominator)
    }
}

/// Kopecks as an exact decimal with two places: `-1234` → `-12.34`.
pub(super) fn cents_to_string(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

pub(super) fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
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

pub(super) fn push_i64(buf: &mut Vec<u8>, value: i64) {
    if value < 0 {
        buf.push(b'-');
    }
    push_u64(buf, value.unsigned_abs());
}

pub(super) fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_u64(buf, abs / 100);
    let frac = (abs % 100) as u8;
    buf.extend_from_slice(&[b'.', b'0' + frac / 10, b'0' + frac % 10]);
}

pub(super) fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// `prefix` followed by `n` (1-based) zero-padded to `width` digits.
pub(super) fn code(prefix: &str, n: usize, width: usize) -> String {
    format!("{prefix}{n:0width$}")
}

/// Digits needed to print `n`, and at least `min`.
pub(super) fn id_width(n: usize, min: usize) -> usize {
    n.to_string().len().max(min)
}
