//! An order of object handles sorted by a unique key, in blocks: a collection's id order, and
//! its value order of STRING objects (by value, then id).
//!
//! Owns only the order. It stores no key: every comparison asks the caller's `key` function
//! for a handle's key (borrowed from the slab), so the order costs 4 bytes per object instead
//! of a second copy of each id or value. It must not know what a handle points at. A handle's
//! key must not change while it is in the order: callers remove it first.

use std::cmp::Ordering;

/// Most handles in one block. Inserting moves at most this many `u32`s (4 KiB); a search
/// is a binary search over the blocks' first ids (few and hot in cache), then one in a block.
const MAX: usize = 1024;

/// Handles sorted by their keys. Keys are unique (ids are, and a value order breaks ties by
/// id), so every handle has one place.
#[derive(Debug, Default)]
pub struct IdOrder {
    /// Never holds an empty block. Blocks grow by `STEP` handles, not by doubling, which
    /// would leave them a third empty on average.
    blocks: Vec<Vec<u32>>,
    len: usize,
}

/// Growth of a block's capacity; a reallocation copies at most 4 KiB.
const STEP: usize = 64;

fn block_from(handles: &[u32]) -> Vec<u32> {
    let mut b = Vec::with_capacity(handles.len().div_ceil(STEP) * STEP);
    b.extend_from_slice(handles);
    b
}

/// A key an order can hold: totally ordered, with a cheap 8-byte prefix for bulk sorts.
pub trait OrderKey: Ord {
    /// A number ordered like the key's start: `a < b` implies `a.prefix() <= b.prefix()`.
    fn prefix(&self) -> u64;
}

/// An id.
impl OrderKey for &[u8] {
    fn prefix(&self) -> u64 {
        let mut p = [0u8; 8];
        let n = self.len().min(8);
        p[..n].copy_from_slice(&self[..n]);
        u64::from_be_bytes(p)
    }
}

/// A STRING object's (value, id).
impl OrderKey for (&[u8], &[u8]) {
    fn prefix(&self) -> u64 {
        self.0.prefix()
    }
}

impl IdOrder {
    /// Replaces the order with `handles`, sorted by one sort (for a bulk load).
    pub fn rebuild<K: OrderKey>(&mut self, mut handles: Vec<u32>, key: impl Fn(u32) -> K) {
        // Sorting (prefix, handle) pairs reads each key once; ties on the prefix (keys sharing
        // their first 8 bytes) are settled by the whole key.
        let mut keyed: Vec<(u64, u32)> = handles.iter().map(|&h| (key(h).prefix(), h)).collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(&key(b.1))));
        handles.clear();
        handles.extend(keyed.iter().map(|&(_, h)| h));
        drop(keyed);
        self.len = handles.len();
        // Leave room in each block so the first inserts after a load do not split at once.
        self.blocks = handles.chunks(MAX * 7 / 8).map(block_from).collect();
    }

    /// Number of handles.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes, for STATS.
    pub fn heap_size(&self) -> usize {
        let handles: usize = self.blocks.iter().map(Vec::capacity).sum();
        handles * 4 + self.blocks.capacity() * std::mem::size_of::<Vec<u32>>()
    }

    /// The block that holds (or would hold) `k`: the last whose first id is at most `k`.
    fn block_of<K: Ord>(&self, k: &K, key: &impl Fn(u32) -> K) -> usize {
        self.blocks
            .partition_point(|b| key(b[0]) <= *k)
            .saturating_sub(1)
    }

    /// Adds `h`, whose key (`key(h)`) must not be in the order yet.
    pub fn insert<K: Ord>(&mut self, h: u32, key: impl Fn(u32) -> K) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(block_from(&[h]));
            return;
        }
        let k = key(h);
        let bi = self.block_of(&k, &key);
        let block = &mut self.blocks[bi];
        let at = block.partition_point(|&x| key(x) < k);
        if block.len() == block.capacity() {
            block.reserve_exact(STEP);
        }
        block.insert(at, h);
        if block.len() == MAX {
            let tail = block_from(&block[MAX / 2..]);
            block.truncate(MAX / 2);
            block.shrink_to(MAX / 2);
            self.blocks.insert(bi + 1, tail);
        }
    }

    /// Removes `h` (found by its key). Returns false when it was not there.
    pub fn remove<K: Ord>(&mut self, h: u32, key: impl Fn(u32) -> K) -> bool {
        if self.blocks.is_empty() {
            return false;
        }
        let k = key(h);
        let bi = self.block_of(&k, &key);
        let block = &mut self.blocks[bi];
        let at = block.partition_point(|&x| key(x) < k);
        if block.get(at) != Some(&h) {
            return false;
        }
        block.remove(at);
        let left = block.len();
        self.len -= 1;
        if left == 0 {
            self.blocks.remove(bi);
        } else if bi + 1 < self.blocks.len() && left + self.blocks[bi + 1].len() <= MAX / 2 {
            // Merge sparse neighbours so deletes cannot leave many near-empty 4 KiB blocks.
            let next = self.blocks.remove(bi + 1);
            self.blocks[bi].extend_from_slice(&next);
        }
        true
    }

    /// Position of the first handle whose key is greater than `after` (or the start).
    fn first_after<K: Ord>(&self, after: Option<K>, key: &impl Fn(u32) -> K) -> (usize, usize) {
        let Some(k) = after else { return (0, 0) };
        if self.blocks.is_empty() {
            return (0, 0);
        }
        let bi = self.block_of(&k, key);
        let at = self.blocks[bi].partition_point(|&x| key(x) <= k);
        (bi, at)
    }

    /// Handles in key order, starting after the key `after` (exclusive) or from the start.
    pub fn iter_after<'a, K: Ord>(
        &'a self,
        after: Option<K>,
        key: impl Fn(u32) -> K,
    ) -> impl Iterator<Item = u32> + 'a {
        let (bi, at) = self.first_after(after, &key);
        self.blocks
            .get(bi..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(i, b)| b[if i == 0 { at } else { 0 }..].iter().copied())
    }

    /// Handles in descending key order, starting before the key `before` (exclusive) or
    /// from the end.
    pub fn iter_before<'a, K: Ord>(
        &'a self,
        before: Option<K>,
        key: impl Fn(u32) -> K,
    ) -> impl Iterator<Item = u32> + 'a {
        // Everything before the first handle whose key is at least `before`.
        let (bi, at) = match before {
            None => (self.blocks.len(), 0),
            Some(k) if !self.blocks.is_empty() => {
                let bi = self.block_of(&k, &key);
                (
                    bi,
                    self.blocks[bi].partition_point(|&x| key(x).cmp(&k) == Ordering::Less),
                )
            }
            Some(_) => (0, 0),
        };
        let partial = self.blocks.get(bi).map_or(&[][..], |b| &b[..at]);
        partial
            .iter()
            .rev()
            .chain(self.blocks[..bi].iter().rev().flat_map(|b| b.iter().rev()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
    }

    /// Handle `h` has id `format!("{h}")`, so numeric and id order differ (10 < 9).
    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|h| h.to_string()).collect()
    }

    fn check(o: &IdOrder, model: &BTreeSet<String>, names: &[String], probe: &str) {
        let key = |h: u32| names[h as usize].as_bytes();
        let all: Vec<&str> = o
            .iter_after(None, key)
            .map(|h| names[h as usize].as_str())
            .collect();
        let want: Vec<&str> = model.iter().map(String::as_str).collect();
        assert_eq!(all, want);
        assert_eq!(o.len(), model.len());
        let after: Vec<&str> = o
            .iter_after(Some(probe.as_bytes()), key)
            .map(|h| names[h as usize].as_str())
            .collect();
        let want: Vec<&str> = model
            .range::<str, _>((std::ops::Bound::Excluded(probe), std::ops::Bound::Unbounded))
            .map(String::as_str)
            .collect();
        assert_eq!(after, want);
        let before: Vec<&str> = o
            .iter_before(Some(probe.as_bytes()), key)
            .map(|h| names[h as usize].as_str())
            .collect();
        let want: Vec<&str> = model
            .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(probe)))
            .rev()
            .map(String::as_str)
            .collect();
        assert_eq!(before, want);
        let rev: Vec<&str> = o
            .iter_before(None, key)
            .map(|h| names[h as usize].as_str())
            .collect();
        let want: Vec<&str> = model.iter().rev().map(String::as_str).collect();
        assert_eq!(rev, want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_a_btreeset(
            start in 0usize..3000,
            ops in proptest::collection::vec(
                prop_oneof![(0u16..4000).prop_map(Op::Insert), (0u16..4000).prop_map(Op::Remove)],
                1..3000,
            ),
            probe in 0u16..4000,
        ) {
            let names = ids(4000);
            let key = |h: u32| names[h as usize].as_bytes();
            let mut o = IdOrder::default();
            let mut model = BTreeSet::new();
            // Start from a bulk-built order, as after an AOF replay.
            o.rebuild((0..start as u32).collect(), key);
            model.extend(names[..start].iter().cloned());
            for op in &ops {
                match *op {
                    Op::Insert(h) => {
                        if model.insert(names[h as usize].clone()) {
                            o.insert(u32::from(h), key);
                        }
                    }
                    Op::Remove(h) => {
                        let was = model.remove(&names[h as usize]);
                        prop_assert_eq!(o.remove(u32::from(h), key), was);
                    }
                }
            }
            check(&o, &model, &names, &probe.to_string());
            prop_assert!(o.blocks.iter().all(|b| !b.is_empty() && b.len() < MAX));
        }
    }
}
