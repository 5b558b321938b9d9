//! A collection (Tile38 "key"): objects by id in id order, their R-tree, their expiry order,
//! the collection-wide field-name list, counters and an order-independent digest.
//!
//! Invariant: after every public method returns, `objects`, `index` (unless indexing is
//! deferred for a bulk load), `expires`, `field_refs`, the counters and `digest` all describe
//! the same set of objects.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use compact_str::CompactString;

use super::field::FieldValue;
use super::index::{Entry, SpatialIndex};
use super::object::{Body, Object};
use crate::geo::{distance_to, point_rect_lower_bound_meters, Geometry, Rect};

/// One collection.
#[derive(Debug, Default)]
pub struct Collection {
    /// Boxed so the map's nodes stay small: a B-tree node holds eleven entries whether or not
    /// they are used, and a pointer is a third of an object.
    objects: BTreeMap<CompactString, Box<Object>>,
    /// Everything computed from `objects`, kept apart so it can be updated while an object in
    /// `objects` is borrowed.
    d: Derived,
}

/// The structures derived from a collection's objects.
#[derive(Debug, Default)]
struct Derived {
    index: SpatialIndex,
    /// True while a bulk load runs: the index is rebuilt once at the end.
    index_deferred: bool,
    expires: BTreeSet<(i64, CompactString)>,
    /// How many objects carry each field name (the JSON field list is the keys).
    field_refs: BTreeMap<CompactString, u32>,
    num_points: usize,
    num_strings: usize,
    mem_size: usize,
    digest: u64,
}

impl Derived {
    /// Adds (`add`) or subtracts an object's share of every derived structure.
    fn account(&mut self, id: &str, obj: &Object, add: bool) {
        let h = object_hash(id, obj);
        self.digest = if add {
            self.digest.wrapping_add(h)
        } else {
            self.digest.wrapping_sub(h)
        };
        let size = obj.mem_size(id.len());
        match &obj.body {
            Body::Geo(g) => {
                if add {
                    self.num_points += g.num_points();
                } else {
                    self.num_points -= g.num_points();
                }
                if !self.index_deferred {
                    self.update_index(id, &g.bbox(), add);
                }
            }
            Body::Str(_) if add => self.num_strings += 1,
            Body::Str(_) => self.num_strings -= 1,
        }
        if add {
            self.mem_size += size;
        } else {
            self.mem_size -= size;
        }
        self.account_fields_and_expiry(id, obj, add);
    }

    fn update_index(&mut self, id: &str, rect: &Rect, add: bool) {
        if add {
            self.index.insert(id, rect);
        } else {
            let removed = self.index.remove(id, rect);
            debug_assert!(removed, "index lost {id}");
        }
    }

    fn account_fields_and_expiry(&mut self, id: &str, obj: &Object, add: bool) {
        for (name, _) in obj.fields.iter() {
            if add {
                *self
                    .field_refs
                    .entry(CompactString::from(name))
                    .or_insert(0) += 1;
            } else if let Some(n) = self.field_refs.get_mut(name) {
                *n -= 1;
                if *n == 0 {
                    self.field_refs.remove(name);
                }
            }
        }
        if obj.expires_at_ms != 0 {
            let key = (obj.expires_at_ms, CompactString::from(id));
            if add {
                self.expires.insert(key);
            } else {
                self.expires.remove(&key);
            }
        }
    }
}

/// Counters reported by STATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionStats {
    pub num_objects: usize,
    pub num_points: usize,
    pub num_strings: usize,
    pub in_memory_size: usize,
}

impl Collection {
    /// An empty collection; `deferred` skips index upkeep until [`Collection::build_index`].
    pub fn new(deferred: bool) -> Collection {
        Collection {
            objects: BTreeMap::new(),
            d: Derived {
                index_deferred: deferred,
                ..Derived::default()
            },
        }
    }

    /// Inserts or replaces an object, returning the previous one.
    pub fn set(&mut self, id: &str, obj: Object) -> Option<Object> {
        // One tree walk when the id exists: replace in place.
        let (old, new) = match self.objects.get_mut(id) {
            Some(slot) => (Some(std::mem::replace(&mut **slot, obj)), &**slot),
            None => {
                let key = CompactString::from(id);
                let slot = self.objects.entry(key).or_insert_with(|| Box::new(obj));
                (None, &**slot)
            }
        };
        if let Some(o) = &old {
            self.d.account(id, o, false);
        }
        self.d.account(id, new, true);
        old
    }

    /// Changes an object in place through `change`, keeping every derived structure right.
    /// Returns None (and calls nothing) when the id is missing.
    pub fn modify<R>(&mut self, id: &str, change: impl FnOnce(&mut Object) -> R) -> Option<R> {
        let obj: &mut Object = self.objects.get_mut(id)?;
        self.d.account(id, obj, false);
        let result = change(obj);
        self.d.account(id, obj, true);
        Some(result)
    }

    /// Removes an object.
    pub fn remove(&mut self, id: &str) -> Option<Object> {
        self.take(id)
    }

    fn take(&mut self, id: &str) -> Option<Object> {
        let old = *self.objects.remove(id)?;
        self.d.account(id, &old, false);
        Some(old)
    }

    /// Rebuilds the R-tree from the objects in one bulk load and ends deferred indexing.
    pub fn build_index(&mut self) {
        let entries: Vec<Entry> = self
            .objects
            .iter()
            .filter_map(|(id, o)| o.bbox().map(|r| Entry::new(id, &r)))
            .collect();
        self.d.index = SpatialIndex::bulk_load(entries);
        self.d.index_deferred = false;
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&Object> {
        self.objects.get(id).map(|o| &**o)
    }

    /// Mutable access for in-place changes that keep geometry, fields' names and expiry
    /// unchanged is not offered: every change goes through `set`, so derived state stays right.
    pub fn contains(&self, id: &str) -> bool {
        self.objects.contains_key(id)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when there are no objects.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Objects in id order, starting after `after` (exclusive) or from the start.
    pub fn iter_from<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, &'a Object)> + 'a {
        let lower = match after {
            Some(a) => Bound::Excluded(CompactString::from(a)),
            None => Bound::Unbounded,
        };
        self.objects
            .range((lower, Bound::Unbounded))
            .map(|(k, v)| (k.as_str(), &**v))
    }

    /// Objects in descending id order, starting before `before` (exclusive) or from the end.
    pub fn iter_rev_from<'a>(
        &'a self,
        before: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, &'a Object)> + 'a {
        let upper = match before {
            Some(b) => Bound::Excluded(CompactString::from(b)),
            None => Bound::Unbounded,
        };
        self.objects
            .range((Bound::Unbounded, upper))
            .rev()
            .map(|(k, v)| (k.as_str(), &**v))
    }

    /// Ids whose bounding box intersects `rect` (candidates for an exact test).
    pub fn intersecting<'a>(&'a self, rect: &Rect) -> impl Iterator<Item = &'a str> + 'a {
        self.d.index.intersecting(rect)
    }

    /// Spatial objects in increasing geodesic distance (meters) from a point, as NEARBY
    /// reports it (distance to the object's centre).
    pub fn nearby(&self, lat: f64, lon: f64) -> impl Iterator<Item = (&str, &Object, f64)> + '_ {
        let bound = move |r: &Rect| point_rect_lower_bound_meters(lat, lon, r);
        let exact = move |id: &str| {
            self.objects
                .get(id)
                .and_then(|o| o.geometry())
                .map_or(f64::INFINITY, |g| distance_to(lat, lon, g))
        };
        self.d
            .index
            .nearest(bound, exact)
            .filter_map(move |(id, d)| {
                let (key, obj) = self.objects.get_key_value(id)?;
                Some((key.as_str(), &**obj, d))
            })
    }

    /// The R-tree, for searches that walk it directly.
    pub fn index(&self) -> &SpatialIndex {
        &self.d.index
    }

    /// The bounding box of every spatial object.
    pub fn bounds(&self) -> Option<Rect> {
        if self.d.index_deferred {
            return self
                .objects
                .values()
                .filter_map(|o| o.bbox())
                .reduce(|a, b| a.union(&b));
        }
        // The index holds f32 boxes; recompute exactly from the objects at the tree's corners
        // would need a walk, so union the exact boxes of the candidates on the border instead.
        let approx = self.d.index.bounds()?;
        self.intersecting(&approx)
            .filter_map(|id| self.objects.get(id).and_then(|o| o.bbox()))
            .reduce(|a, b| a.union(&b))
    }

    /// Field names used by at least one object, sorted.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.d.field_refs.keys().map(CompactString::as_str)
    }

    /// Up to `max` ids whose expiry is at or before `now_ms`, earliest first.
    pub fn expired(&self, now_ms: i64, max: usize) -> Vec<CompactString> {
        self.d
            .expires
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Every (expiry, id) in expiry order.
    pub fn expiring(&self) -> impl Iterator<Item = (i64, &str)> {
        self.d.expires.iter().map(|(at, id)| (*at, id.as_str()))
    }

    /// The earliest expiry, if any object expires.
    pub fn next_expiry(&self) -> Option<i64> {
        self.d.expires.iter().next().map(|(at, _)| *at)
    }

    /// STATS counters.
    pub fn stats(&self) -> CollectionStats {
        CollectionStats {
            num_objects: self.objects.len(),
            num_points: self.d.num_points,
            num_strings: self.d.num_strings,
            in_memory_size: self.d.mem_size,
        }
    }

    /// Order-independent digest of every object (id, body, fields, expiry).
    pub fn digest(&self) -> u64 {
        self.d.digest
    }
}

/// A stable 64-bit hash of one object, the same on every machine running this version.
pub fn object_hash(id: &str, obj: &Object) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    match &obj.body {
        Body::Str(s) => {
            h.update(b"s");
            h.update(s.as_bytes());
        }
        Body::Geo(g) => hash_geometry(&mut h, g),
    }
    for (name, value) in obj.fields.iter() {
        h.update(b"f");
        h.update(name.as_bytes());
        match value {
            // Numbers by their bits: no formatting on the write path.
            FieldValue::Num(n) => {
                h.update(b"#");
                h.update(&n.to_bits().to_le_bytes());
            }
            other => {
                h.update(b"=");
                h.update(other.to_text().as_bytes());
            }
        }
    }
    h.update(&obj.expires_at_ms.to_le_bytes());
    h.digest()
}

fn hash_geometry(h: &mut xxhash_rust::xxh3::Xxh3, g: &Geometry) {
    match g {
        Geometry::Point { lat, lon } => {
            h.update(b"p");
            h.update(&lat.to_bits().to_le_bytes());
            h.update(&lon.to_bits().to_le_bytes());
        }
        Geometry::PointZ { lat, lon, z } => {
            h.update(b"z");
            for v in [lat, lon, z] {
                h.update(&v.to_bits().to_le_bytes());
            }
        }
        Geometry::Bounds(r) => {
            h.update(b"b");
            for v in [r.min_lat, r.min_lon, r.max_lat, r.max_lon] {
                h.update(&v.to_bits().to_le_bytes());
            }
        }
        Geometry::Object(o) => {
            h.update(b"o");
            h.update(o.json.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::field::FieldValue;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        SetPoint(u8, i16, i16),
        SetBounds(u8, i16, i16, u8),
        SetString(u8),
        Remove(u8),
        SetField(u8, u8),
        Expire(u8, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..20, -900i16..900, -1800i16..1800).prop_map(|(i, a, b)| Op::SetPoint(i, a, b)),
            (0u8..20, -900i16..880, -1800i16..1780, 1u8..20)
                .prop_map(|(i, a, b, d)| Op::SetBounds(i, a, b, d)),
            (0u8..20).prop_map(Op::SetString),
            (0u8..20).prop_map(Op::Remove),
            (0u8..20, 0u8..3).prop_map(|(i, v)| Op::SetField(i, v)),
            (0u8..20, 0i64..3).prop_map(|(i, t)| Op::Expire(i, t)),
        ]
    }

    fn apply(c: &mut Collection, op: &Op) {
        let id = |i: &u8| format!("id{i}");
        match op {
            Op::SetPoint(i, a, b) => {
                let g = Geometry::point(f64::from(*a) / 10.0, f64::from(*b) / 10.0, None).unwrap();
                c.set(&id(i), Object::geo(g));
            }
            Op::SetBounds(i, a, b, d) => {
                let (lat, lon, d) = (f64::from(*a) / 10.0, f64::from(*b) / 10.0, f64::from(*d));
                let g = Geometry::bounds(lat, lon, lat + d / 10.0, lon + d / 10.0).unwrap();
                c.set(&id(i), Object::geo(g));
            }
            Op::SetString(i) => {
                c.set(&id(i), Object::string("hello"));
            }
            Op::Remove(i) => {
                c.remove(&id(i));
            }
            Op::SetField(i, v) => {
                c.modify(&id(i), |o| {
                    o.fields.set("speed", FieldValue::Num(f64::from(*v)))
                });
            }
            Op::Expire(i, t) => {
                c.modify(&id(i), |o| o.expires_at_ms = *t * 1000);
            }
        }
    }

    /// Every derived structure recomputed from the objects alone.
    fn check(c: &Collection) {
        let world = Rect {
            min_lat: -90.0,
            min_lon: -180.0,
            max_lat: 90.0,
            max_lon: 180.0,
        };
        let mut indexed: Vec<&str> = c.intersecting(&world).collect();
        indexed.sort_unstable();
        let spatial: Vec<&str> = c
            .iter_from(None)
            .filter(|(_, o)| o.geometry().is_some())
            .map(|(id, _)| id)
            .collect();
        assert_eq!(indexed, spatial);
        let sum = c
            .iter_from(None)
            .fold(0u64, |acc, (id, o)| acc.wrapping_add(object_hash(id, o)));
        assert_eq!(c.digest(), sum);
        let strings = c
            .iter_from(None)
            .filter(|(_, o)| o.geometry().is_none())
            .count();
        assert_eq!(c.stats().num_strings, strings);
        let expiring = c
            .iter_from(None)
            .filter(|(_, o)| o.expires_at_ms != 0)
            .count();
        assert_eq!(c.expired(i64::MAX, usize::MAX).len(), expiring);
        let with_field = c
            .iter_from(None)
            .filter(|(_, o)| !o.fields.is_empty())
            .count();
        let names: Vec<&str> = c.field_names().collect();
        assert_eq!(names.is_empty(), with_field == 0);
        if let Some(b) = c.bounds() {
            let exact = c
                .iter_from(None)
                .filter_map(|(_, o)| o.bbox())
                .reduce(|a, b| a.union(&b));
            assert_eq!(Some(b), exact);
        }
    }

    proptest! {
        #[test]
        fn derived_state_always_matches_the_objects(ops in proptest::collection::vec(op(), 1..80)) {
            let mut c = Collection::new(false);
            for op in &ops {
                apply(&mut c, op);
                check(&c);
            }
            // A bulk-loaded index over the same objects answers the same.
            let mut bulk = Collection::new(true);
            for (id, o) in c.iter_from(None) {
                bulk.set(id, o.clone());
            }
            bulk.build_index();
            check(&bulk);
            prop_assert_eq!(bulk.digest(), c.digest());
        }
    }
}
