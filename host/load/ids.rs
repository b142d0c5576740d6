//! [`IdMap`]: byte strings to dense ids for the per-line lookups of the sales pass.
//!
//! Ids of up to 15 bytes (client and manager codes, product codes, most category names) are
//! packed with their length into two words and hashed as integers, so a lookup compares two
//! integers instead of calling `memcmp` on strings. Longer ids fall back to a byte-string
//! map; both halves give the same answers.
//!
//! A map built at once from a table's ids ([`FromIterator`]) whose ids are all one prefix and
//! a number (`C00017`, `M042`, `100234`: most ERP exports) also gets a [`Numbered`] index:
//! the number indexes a dense table, a few kilobytes where the hash table takes close to a
//! megabyte for 20,000 clients, so a lookup stays in the cache. It answers exactly as the
//! hash map does: only the number's one spelling that the table's ids use is found.

use rustc_hash::FxHashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Byte strings mapped to `u32` ids.
#[derive(Clone, Debug, Default)]
pub struct IdMap {
    short: std::collections::HashMap<Key, u32, BuildHasherDefault<Packed>>,
    long: FxHashMap<Box<[u8]>, u32>,
    /// The same ids by number, when they all have one prefix ([`Numbered`]).
    numbered: Option<Numbered>,
}

/// Ids that are one prefix followed by a number of at most [`Numbered::MAX_DIGITS`] digits,
/// spelled either at one width (leading zeros allowed: `C00017`) or without leading zeros
/// (`17`), each id's index at its number. Every number has one spelling of that kind, so a
/// key is found exactly when it is one of the ids.
#[derive(Clone, Debug)]
struct Numbered {
    prefix: Box<[u8]>,
    /// `Some(w)`: every id has `w` digits; `None`: no id has a leading zero.
    width: Option<usize>,
    /// Index by number; `NONE` where no id has that number.
    ids: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Numbered {
    const MAX_DIGITS: usize = 9;

    /// The index of `keys`' ids, or `None` when they do not all have one prefix and a number
    /// of one spelling, or the numbers are too sparse for a table (past 8 entries per id).
    fn of(keys: &[(&[u8], u32)]) -> Option<Numbered> {
        let (first, _) = keys.first()?;
        let prefix = &first[..first.len() - trailing_digits(first)];
        let mut same_width = true;
        let mut no_leading_zero = true;
        let mut largest = 0u32;
        for (key, id) in keys {
            let digits = key.strip_prefix(prefix)?;
            if *id == NONE {
                return None;
            }
            if digits.is_empty() || digits.len() > Self::MAX_DIGITS || !all_digits(digits) {
                return None;
            }
            same_width &= digits.len() == first.len() - prefix.len();
            no_leading_zero &= digits[0] != b'0' || digits.len() == 1;
            largest = largest.max(number(digits));
        }
        let width = match (same_width, no_leading_zero) {
            (true, _) => Some(first.len() - prefix.len()),
            (false, true) => None,
            (false, false) => return None,
        };
        if largest as usize > 8 * keys.len() + 64 {
            return None;
        }
        let mut ids = vec![NONE; largest as usize + 1];
        for (key, id) in keys {
            ids[number(&key[prefix.len()..]) as usize] = *id;
        }
        Some(Numbered {
            prefix: prefix.into(),
            width,
            ids,
        })
    }

    #[inline]
    fn get(&self, key: &[u8]) -> Option<u32> {
        let digits = key.strip_prefix(&self.prefix[..])?;
        let spelled = match self.width {
            Some(w) => digits.len() == w,
            None => {
                (1..=Self::MAX_DIGITS).contains(&digits.len())
                    && (digits[0] != b'0' || digits.len() == 1)
            }
        };
        if !spelled || !all_digits(digits) {
            return None;
        }
        let id = *self.ids.get(number(digits) as usize)?;
        (id != NONE).then_some(id)
    }
}

/// The number of ASCII digits `b` ends with.
fn trailing_digits(b: &[u8]) -> usize {
    b.iter().rev().take_while(|c| c.is_ascii_digit()).count()
}

#[inline]
fn all_digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// The value of at most [`Numbered::MAX_DIGITS`] ASCII digits.
#[inline]
fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
}

/// A short key: its bytes and length in two words (8-byte aligned, so a table entry takes 24
/// bytes, not the 32 of a `u128` key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(u64, u64);

impl std::hash::Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
        state.write_u64(self.1);
    }
}

/// The hash of a packed key: its two words mixed by one multiplication (the words already
/// hold the key's bytes and length, so nothing is lost by not hashing them byte by byte).
#[derive(Default)]
struct Packed(u64);

impl Hasher for Packed {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(29) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

/// The bytes and length of a short key as one integer; `None` past 15 bytes. Built from
/// (overlapping) word loads rather than a copy, since it runs several times per sales line.
#[inline]
fn packed(key: &[u8]) -> Option<Key> {
    let n = key.len();
    if n > 15 {
        return None;
    }
    let (lo, hi) = if n >= 8 {
        (le_u64(&key[..8]), partial(&key[8..]))
    } else {
        (partial(key), 0)
    };
    Some(Key(lo, hi | ((n as u64) << 56)))
}

/// Up to 7 bytes as a little-endian integer.
#[inline]
fn partial(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        // Two overlapping 4-byte loads; the overlap has the same bytes in both.
        let first = u64::from(le_u32(&b[..4]));
        let last = u64::from(le_u32(&b[n - 4..]));
        first | (last << (8 * (n - 4)))
    } else {
        b.iter()
            .enumerate()
            .fold(0u64, |acc, (i, &x)| acc | (u64::from(x) << (8 * i)))
    }
}

#[inline]
fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

#[inline]
fn le_u32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(b);
    u32::from_le_bytes(w)
}

impl IdMap {
    /// The id of `key`, if known.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        if let Some(n) = &self.numbered {
            return n.get(key);
        }
        match packed(key) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(key).copied(),
        }
    }

    /// Maps `key` to `id` (replacing any earlier id).
    pub fn insert(&mut self, key: &[u8], id: u32) {
        self.numbered = None; // built only by from_iter
        match packed(key) {
            Some(k) => {
                self.short.insert(k, id);
            }
            None => {
                self.long.insert(key.into(), id);
            }
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> FromIterator<(&'a str, u32)> for IdMap {
    fn from_iter<I: IntoIterator<Item = (&'a str, u32)>>(iter: I) -> IdMap {
        let keys: Vec<(&[u8], u32)> = iter.into_iter().map(|(k, v)| (k.as_bytes(), v)).collect();
        let mut map = IdMap::default();
        for &(k, v) in &keys {
            map.insert(k, v);
        }
        map.numbered = Numbered::of(&keys);
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_are_told_apart() {
        let map: IdMap = [
            ("C1", 0),
            ("C1\0", 1),
            ("", 2),
            ("exactly-15-byte", 3),
            ("sixteen-bytes-id", 4),
            ("a much longer identifier than that", 5),
        ]
        .into_iter()
        .collect();
        assert_eq!(map.get(b"C1"), Some(0));
        assert_eq!(map.get(b"C1\0"), Some(1));
        assert_eq!(map.get(b""), Some(2));
        assert_eq!(map.get(b"exactly-15-byte"), Some(3));
        assert_eq!(map.get(b"sixteen-bytes-id"), Some(4));
        assert_eq!(map.get(b"a much longer identifier than that"), Some(5));
        assert_eq!(map.get(b"C2"), None);
        assert_eq!(map.get(b"sixteen-bytes-iD"), None);
        assert_eq!(map.len(), 6);
    }

    #[test]
    fn every_short_length_packs_to_a_distinct_key() {
        let text = b"abcdefghijklmno";
        let mut seen = std::collections::HashSet::new();
        for n in 0..=15 {
            let key = packed(&text[..n]).unwrap();
            assert!(seen.insert(key), "length {n} collides");
            // The same bytes in another order pack differently.
            let mut rev = text[..n].to_vec();
            rev.reverse();
            if n > 1 {
                assert_ne!(packed(&rev), Some(key), "length {n}");
            }
            // Every byte position counts.
            for i in 0..n {
                let mut changed = text[..n].to_vec();
                changed[i] ^= 0x20;
                assert_ne!(packed(&changed), Some(key), "length {n}, byte {i}");
            }
        }
        assert_eq!(packed(b"sixteen-bytes-id"), None);
    }
    /// The numbered index answers as the hash map does, for the ids and for keys near them
    /// (other widths, leading zeros, other prefixes, non-digits, numbers past the table).
    #[test]
    fn numbered_ids_are_found_exactly_as_by_hashing() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let prefixes = ["", "C", "CL-", "9A", "M"];
        let mut with_index = 0;
        for round in 0..400 {
            let prefix = prefixes[next(prefixes.len() as u64) as usize];
            let count = 1 + next(300) as usize;
            let spread = 1 + next(12);
            let padded = next(3);
            let mut keys = Vec::new();
            for i in 0..count {
                let n = next(count as u64 * spread + 1);
                let key = match padded {
                    0 => format!("{prefix}{n:05}"),
                    1 => format!("{prefix}{n}"),
                    _ if i % 7 == 3 => format!("{prefix}0{n}"),
                    _ => format!("{prefix}{n}"),
                };
                keys.push((key, (i as u32) * 3 + round % 5));
            }
            let map: IdMap = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            with_index += usize::from(map.numbered.is_some());
            let truth: std::collections::HashMap<&str, u32> =
                keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let mut probes: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            for _ in 0..200 {
                let n = next(count as u64 * spread * 2 + 3);
                let p = prefixes[next(prefixes.len() as u64) as usize];
                probes.extend([
                    format!("{p}{n}"),
                    format!("{p}{n:05}"),
                    format!("{p}0{n}"),
                    format!("{p}{n}x"),
                    format!("{p}{n:04}"),
                    format!("{p}-{n}"),
                    format!("{p}{n}{n}{n}{n}"),
                ]);
            }
            probes.extend(["", "C", "0", "00", "C0", "C 1", "C+1", "C00001 "].map(String::from));
            for probe in &probes {
                assert_eq!(
                    map.get(probe.as_bytes()),
                    truth.get(probe.as_str()).copied(),
                    "round {round}, key {probe:?}, index {:?}",
                    map.numbered.as_ref().map(|n| (&n.prefix, n.width))
                );
            }
        }
        assert!(with_index > 150, "only {with_index} maps were numbered");
    }

    #[test]
    fn a_later_insert_drops_the_numbered_index() {
        let mut map: IdMap = [("C01", 0), ("C02", 1)].into_iter().collect();
        assert!(map.numbered.is_some());
        map.insert(b"X", 2);
        assert_eq!(map.get(b"X"), Some(2));
        assert_eq!(map.get(b"C02"), Some(1));
    }
}
