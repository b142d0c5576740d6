//! [`AccountMap`]: the running totals of the sales pass, one per (client, manager, segment).
//!
//! The pass looks an account up once per sales line, so the lookup is a direct index rather
//! than a hash: a table indexed by client and segment holds the manager and index of the
//! first account of that pair, and the accounts of other managers of the same client and
//! segment (splits, a change of owner, a colleague's sale) chain from it. Most pairs have
//! one manager, so a lookup is one read of a small table and one comparison before the
//! totals themselves.

/// Key of one account's segment: (client, manager, segment index).
pub(crate) type WindowKey = (u32, u32, u16);

const NONE: u32 = u32::MAX;

/// Asks the CPU to start loading `value`'s first cache line (a hint: nothing when `None`).
#[inline]
pub(crate) fn prefetch<T>(value: Option<&T>) {
    if let Some(v) = value {
        prefetch_at((v as *const T).cast::<u8>());
    }
}

#[inline]
fn prefetch_at(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch(p.cast::<i8>(), _MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Values of type `V` per [`WindowKey`], for `clients` clients and `segments` segments.
pub(crate) struct AccountMap<V> {
    segments: usize,
    /// `client * segments + segment` → (manager, entry) of the pair's first entry, or
    /// `(_, NONE)`.
    heads: Vec<(u32, u32)>,
    /// Per entry: its key and the next entry of the same pair.
    keys: Vec<(WindowKey, u32)>,
    values: Vec<V>,
}

impl<V: Default> AccountMap<V> {
    pub(crate) fn new(clients: usize, segments: usize) -> AccountMap<V> {
        AccountMap {
            segments,
            heads: vec![(0, NONE); clients * segments],
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The value of `key`, made with `V::default()` when new.
    ///
    /// # Panics
    /// When the client or segment is past the sizes given to [`AccountMap::new`]; callers
    /// pass indices of the data set and the plan.
    #[inline]
    pub(crate) fn entry(&mut self, key: WindowKey) -> &mut V {
        let at = self.index(key);
        &mut self.values[at as usize]
    }

    /// The index of `key`'s value (made when new), for [`AccountMap::at`].
    #[inline]
    pub(crate) fn index(&mut self, key: WindowKey) -> u32 {
        let (client, manager, segment) = key;
        let head = client as usize * self.segments + segment as usize;
        let (first, mut at) = self.heads[head];
        if first == manager && at != NONE {
            return at;
        }
        while at != NONE {
            let (k, next) = self.keys[at as usize];
            if k.1 == manager {
                return at;
            }
            at = next;
        }
        self.push(head, key)
    }

    /// The value at `index` (from [`AccountMap::index`]).
    #[inline]
    pub(crate) fn at(&mut self, index: u32) -> &mut V {
        &mut self.values[index as usize]
    }

    /// Asks the CPU to start loading the value at `index` into its cache, so that a later
    /// [`AccountMap::at`] does not wait for memory: the totals of 100,000s of accounts do
    /// not fit a cache, and their loads are most of the pass's stalls.
    #[inline]
    pub(crate) fn prefetch(&self, index: u32) {
        if let Some(v) = self.values.get(index as usize) {
            let p = (v as *const V).cast::<u8>();
            for line in 0..std::mem::size_of::<V>().div_ceil(64).min(4) {
                prefetch_at(p.wrapping_add(64 * line));
            }
        }
    }

    /// Asks the CPU to start loading the head of `key`'s pair, for a later
    /// [`AccountMap::index`].
    #[inline]
    pub(crate) fn prefetch_head(&self, key: WindowKey) {
        let (client, _, segment) = key;
        prefetch(
            self.heads
                .get(client as usize * self.segments + segment as usize),
        );
    }

    /// Adds the entry of `key`, whose pair's slot in `heads` is `head`. The pair's first
    /// entry stays at the head and a new one goes second: a client's first line is most
    /// likely its usual manager's, so that a colleague's odd sale does not make every later
    /// line of the usual manager walk the chain (a memory load each).
    #[cold]
    fn push(&mut self, head: usize, key: WindowKey) -> u32 {
        let at = self.values.len() as u32;
        let (_, first) = self.heads[head];
        if first == NONE {
            self.keys.push((key, NONE));
            self.heads[head] = (key.1, at);
        } else {
            let second = std::mem::replace(&mut self.keys[first as usize].1, at);
            self.keys.push((key, second));
        }
        self.values.push(V::default());
        at
    }

    /// Number of accounts.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Every account with its key, in no particular order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (WindowKey, V)> {
        self.keys.into_iter().map(|(k, _)| k).zip(self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_of_one_client_and_segment_are_kept_apart() {
        let mut map: AccountMap<u32> = AccountMap::new(3, 2);
        *map.entry((2, 7, 1)) += 1;
        *map.entry((2, 8, 1)) += 10;
        *map.entry((2, 7, 1)) += 100;
        *map.entry((2, 7, 0)) += 1000;
        *map.entry((0, 7, 1)) += 5;
        assert_eq!(map.len(), 4);
        let mut all: Vec<_> = map.into_entries().collect();
        all.sort();
        assert_eq!(
            all,
            vec![
                ((0, 7, 1), 5),
                ((2, 7, 0), 1000),
                ((2, 7, 1), 101),
                ((2, 8, 1), 10)
            ]
        );
    }
}
