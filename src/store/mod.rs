//! The data set: collections of objects with fields and expiry, each with its R-tree.
//!
//! Pure, synchronous code. It must not know commands, protocols, the AOF, locks or tokio; it
//! cannot fail (callers validate input before they change anything).

pub mod collection;
pub mod field;
pub mod id;
pub mod index;
pub mod object;
pub mod order;
pub mod slab;
pub mod slot;
pub mod walk;

use std::collections::BTreeMap;

use compact_str::CompactString;

pub use collection::{Collection, CollectionStats};
pub use field::{FieldValue, Fields};
pub use object::{Body, Object};
pub use slot::{FieldsRef, ObjRef};

/// Every collection, by key, in key order.
#[derive(Debug, Default)]
pub struct Db {
    cols: BTreeMap<CompactString, Collection>,
    /// While true (AOF replay), new collections defer their R-tree to one bulk load.
    bulk_loading: bool,
}

impl Db {
    /// An empty data set.
    pub fn new() -> Db {
        Db::default()
    }

    /// Starts or ends a bulk load. Ending it builds every deferred R-tree in one pass each.
    pub fn set_bulk_loading(&mut self, on: bool) {
        if self.bulk_loading && !on {
            for col in self.cols.values_mut() {
                col.build_index();
            }
        }
        self.bulk_loading = on;
    }

    /// The collection at `key`.
    pub fn get(&self, key: &str) -> Option<&Collection> {
        self.cols.get(key)
    }

    /// The collection at `key`, if it exists.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Collection> {
        self.cols.get_mut(key)
    }

    /// The collection at `key`, created empty if missing.
    pub fn get_or_create(&mut self, key: &str) -> &mut Collection {
        let deferred = self.bulk_loading;
        self.cols
            .entry(CompactString::from(key))
            .or_insert_with(|| Collection::new(deferred))
    }

    /// Removes a collection when its last object is gone (Tile38 drops empty keys).
    pub fn drop_if_empty(&mut self, key: &str) {
        if self.cols.get(key).is_some_and(Collection::is_empty) {
            self.cols.remove(key);
        }
    }

    /// Removes a whole collection.
    pub fn drop_key(&mut self, key: &str) -> Option<Collection> {
        self.cols.remove(key)
    }

    /// Moves a collection to a new key, replacing whatever was there.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        match self.cols.remove(from) {
            Some(col) => {
                self.cols.insert(CompactString::from(to), col);
                true
            }
            None => false,
        }
    }

    /// Removes everything.
    pub fn flush(&mut self) {
        self.cols.clear();
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.cols.keys().map(CompactString::as_str)
    }

    /// Collections in key order.
    pub fn collections(&self) -> impl Iterator<Item = (&str, &Collection)> {
        self.cols.iter().map(|(k, c)| (k.as_str(), c))
    }

    /// Keys in order starting after `after` (exclusive), for chunked walks.
    pub fn keys_after(&self, after: Option<&str>, max: usize) -> Vec<CompactString> {
        use std::ops::Bound;
        let lower = match after {
            Some(a) => Bound::Excluded(CompactString::from(a)),
            None => Bound::Unbounded,
        };
        self.cols
            .range::<CompactString, _>((lower, Bound::Unbounded))
            .take(max)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Number of collections.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    /// True when there is no collection.
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// Digest of the whole data set: a hash over (key, collection digest) in key order.
    pub fn digest(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (key, col) in &self.cols {
            h.update(&(key.len() as u64).to_le_bytes());
            h.update(key.as_bytes());
            h.update(&col.digest().to_le_bytes());
        }
        h.digest()
    }

    /// Sum of every collection's counters.
    pub fn totals(&self) -> CollectionStats {
        let mut t = CollectionStats {
            num_objects: 0,
            num_points: 0,
            num_strings: 0,
            in_memory_size: 0,
        };
        for c in self.cols.values() {
            let s = c.stats();
            t.num_objects += s.num_objects;
            t.num_points += s.num_points;
            t.num_strings += s.num_strings;
            t.in_memory_size += s.in_memory_size;
        }
        t
    }
}
