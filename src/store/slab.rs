//! The objects of a collection: a slab of slots addressed by `u32` handles, and a hash table
//! from id to handle.
//!
//! Owns slot allocation and id lookup. The table holds handles only and hashes the id stored
//! in the slot, so each id exists once. Must not know the order, the index or what a slot's
//! data means.

use hashbrown::HashTable;

use super::id::Id;
use super::slot::{Data, Slot};

fn hash(id: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id)
}

/// Slots by handle, and handles by id.
#[derive(Debug)]
pub struct Slab {
    slots: Vec<Slot>,
    /// Free slots (reused first, so handles stay below the peak count). A stack rather than
    /// a list threaded through the slots, which have no room for a link.
    free: Vec<u32>,
    by_id: HashTable<u32>,
}

impl Default for Slab {
    fn default() -> Slab {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashTable::new(),
        }
    }
}

impl Slab {
    /// Number of objects.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there is no object.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The handle of `id`.
    pub fn find(&self, id: &str) -> Option<u32> {
        let slots = &self.slots;
        self.by_id
            .find(hash(id.as_bytes()), |&h| {
                slots[h as usize].id.as_bytes() == id.as_bytes()
            })
            .copied()
    }

    /// True when `h` is a handle in use (not free, not past the end). A free slot keeps an
    /// empty id, so liveness is checked through the id table, which holds only live handles.
    pub fn is_live(&self, h: u32) -> bool {
        self.slots
            .get(h as usize)
            .is_some_and(|slot| self.find(slot.id.as_str()) == Some(h))
    }

    /// The slot of a live handle.
    pub fn get(&self, h: u32) -> &Slot {
        &self.slots[h as usize]
    }

    /// Replaces the content (tag and data) of a live handle, returning the old one.
    pub fn replace(&mut self, h: u32, tag: u16, data: Data) -> (u16, Data) {
        let slot = &mut self.slots[h as usize];
        let old_tag = slot.id.tag();
        slot.id.set_tag(tag);
        (old_tag, std::mem::replace(&mut slot.data, data))
    }

    /// One past the highest handle ever handed out.
    pub fn span(&self) -> usize {
        self.slots.len()
    }

    /// The id bytes of a live handle (the order's key).
    pub fn key(&self, h: u32) -> &[u8] {
        self.slots[h as usize].id.as_bytes()
    }

    /// Adds an object under `id`, which must not be present, and returns its handle.
    pub fn insert(&mut self, id: &str, tag: u16, data: Data) -> u32 {
        debug_assert!(self.find(id).is_none(), "{id} already present");
        let mut slot = Slot {
            id: Id::new(id),
            data,
        };
        slot.id.set_tag(tag);
        let h = match self.free.pop() {
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
            Some(h) => {
                self.slots[h as usize] = slot;
                h
            }
        };
        let slots = &self.slots;
        self.by_id.insert_unique(hash(id.as_bytes()), h, |&x| {
            hash(slots[x as usize].id.as_bytes())
        });
        h
    }

    /// Removes a live handle and returns what it held (tag and data).
    pub fn remove(&mut self, h: u32) -> (u16, Data) {
        let slots = &self.slots;
        let key = slots[h as usize].id.as_bytes();
        if let Ok(e) = self.by_id.find_entry(hash(key), |&x| x == h) {
            e.remove();
        }
        let slot = std::mem::take(&mut self.slots[h as usize]);
        self.free.push(h);
        (slot.id.tag(), slot.data)
    }

    /// Every live handle, in no particular order.
    pub fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_id.iter().copied()
    }

    /// Heap bytes, for STATS: the slots (free ones included), the table, long ids.
    pub fn heap_size(&self) -> usize {
        let ids: usize = self.by_id.iter().map(|&h| self.get(h).id.heap_size()).sum();
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.by_id.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.free.capacity() * std::mem::size_of::<u32>()
            + ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Data told apart by its field value.
    fn point(n: f64) -> Data {
        let Data::Point { lat, lon, .. } = Data::default() else {
            unreachable!()
        };
        Data::Point { lat, lon, num: n }
    }

    fn lat(d: &Data) -> f64 {
        match d {
            Data::Point { num, .. } => *num,
            Data::Boxed(_) => f64::NAN,
        }
    }

    proptest! {
        #[test]
        fn matches_a_hashmap(ops in proptest::collection::vec((0u8..60, any::<bool>()), 1..500)) {
            let mut slab = Slab::default();
            let mut model: HashMap<String, f64> = HashMap::new();
            for (step, (i, add)) in ops.iter().enumerate() {
                // Long and short ids both: the long ones live on the heap.
                let id = if i.is_multiple_of(2) { format!("id{i}") } else { format!("a-long-identifier-{i}") };
                match (slab.find(&id), *add) {
                    (None, true) => {
                        slab.insert(&id, (step % 7) as u16, point(step as f64));
                        model.insert(id, step as f64);
                    }
                    (Some(h), false) => {
                        let (tag, data) = slab.remove(h);
                        let want = model.remove(&id).unwrap();
                        prop_assert_eq!(lat(&data), want);
                        prop_assert_eq!(tag, (want as usize % 7) as u16);
                    }
                    (found, _) => prop_assert_eq!(found.is_some(), model.contains_key(&id)),
                }
                prop_assert_eq!(slab.len(), model.len());
            }
            for (id, v) in &model {
                let h = slab.find(id).unwrap();
                prop_assert_eq!(slab.get(h).id.as_str(), id.as_str());
                prop_assert_eq!(lat(&slab.get(h).data), *v);
            }
            let mut handles: Vec<u32> = slab.handles().collect();
            handles.sort_unstable();
            handles.dedup();
            prop_assert_eq!(handles.len(), model.len());
            // Freed slots are reused: no more slots than the peak number of objects.
            prop_assert!(slab.slots.len() <= ops.len());
        }
    }
}
