//! [`IdMap`]: byte strings to dense ids for the per-line lookups of the sales pass.
//!
//! Ids of up to 15 bytes (client and manager codes, product codes, most category names) are
//! packed with their length into two words and hashed as integers, so a lookup compares two
//! integers instead of calling `memcmp` on strings. Longer ids fall back to a byte-string
//! map; both halves give the same answers.

use rustc_hash::FxHashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Byte strings mapped to `u32` ids.
#[derive(Clone, Debug, Default)]
pub struct IdMap {
    short: std::collections::HashMap<Key, u32, BuildHasherDefault<Packed>>,
    long: FxHashMap<Box<[u8]>, u32>,
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
        match packed(key) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(key).copied(),
        }
    }

    /// Maps `key` to `id` (replacing any earlier id).
    pub fn insert(&mut self, key: &[u8], id: u32) {
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
        let mut map = IdMap::default();
        for (k, v) in iter {
            map.insert(k.as_bytes(), v);
        }
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
}
