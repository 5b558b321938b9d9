//! A collection (Tile38 "key"): objects by id, their id order, their R-tree, their expiry
//! order, the collection's field names, counters and an order-independent digest.
//!
//! Invariant: after every public method returns, the slab, `order`, `values` and `index`
//! (unless deferred for a bulk load), `expires`, the field-name counts, the counters and `digest` all
//! describe the same set of objects. Every structure refers to an object by its slab handle;
//! the id is stored once, in the slab.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use compact_str::CompactString;

use super::field::{FieldValue, Names};
use super::index::{cover_bounds, NearBounds, SpatialIndex, POINT_COVER_SLACK};
use super::object::{Body, Object};
use super::order::IdOrder;
use super::slab::Slab;
use super::slot::{Data, ObjRef, Slot};
use super::walk::AllocLog;
use crate::geo::{
    far_bound_meters, point_box_lower_bounds_meters, point_rect_lower_bound_meters,
    point_rect_min_meters, point_rect_refined_lower_bound_meters, point_rect_upper_bound_meters,
    Geometry, HaversineFrom, Rect,
};

/// One collection.
#[derive(Debug, Default)]
pub struct Collection {
    slab: Slab,
    names: Names,
    /// Handles in id order; rebuilt by one sort at the end of a bulk load.
    order: IdOrder,
    /// The STRING objects' handles by (value, id), for SEARCH; rebuilt like `order`.
    values: IdOrder,
    d: Derived,
    /// Handles handed out lately, for resumable walks (`walk.rs`).
    allocs: AllocLog,
    /// Unique per collection ever created in this process: a walk resuming under the same
    /// key checks it still walks the same collection.
    uid: u64,
}

/// A handle's place in the value order: the STRING object's value (empty for any other
/// object, which is never in that order), then its id.
fn value_key(slab: &Slab, h: u32) -> (&[u8], &[u8]) {
    let slot = slab.get(h);
    (
        string_value(&slot.data).unwrap_or_default(),
        slot.id.as_bytes(),
    )
}

fn string_value(data: &Data) -> Option<&[u8]> {
    match data {
        Data::Boxed(o) => match &o.body {
            Body::Str(v) => Some(v.as_bytes()),
            Body::Geo(_) => None,
        },
        Data::Point { .. } => None,
    }
}

/// Source of [`Collection::uid`].
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

/// The structures derived from a collection's objects, kept apart from the slab so they can
/// be updated while a slot is borrowed.
#[derive(Debug, Default)]
struct Derived {
    index: SpatialIndex,
    /// True while a bulk load runs: the index and the order are rebuilt once at the end.
    deferred: bool,
    expires: BTreeSet<(i64, u32)>,
    num_points: usize,
    num_strings: usize,
    /// Heap bytes owned by objects beyond their slots (boxed objects, long ids).
    heap: usize,
    digest: u64,
}

/// What one object adds to the derived structures, computed while it is borrowed.
#[derive(Debug, PartialEq)]
struct Share {
    hash: u64,
    bbox: Option<Rect>,
    points: usize,
    heap: usize,
    expires_at_ms: i64,
}

impl Share {
    fn of(id: &str, heap_id: usize, obj: ObjRef<'_>) -> Share {
        let geometry = obj.geometry();
        Share {
            hash: object_hash(id, obj),
            bbox: geometry.as_ref().map(|g| g.bbox()),
            points: geometry.map_or(0, |g| g.num_points()),
            heap: obj.mem_size() - std::mem::size_of::<Slot>() + heap_id,
            expires_at_ms: obj.expires_at_ms(),
        }
    }
}

impl Derived {
    /// Adds (`add`) or subtracts an object's share of every derived structure but the index.
    fn account(&mut self, h: u32, s: &Share, add: bool) {
        let sign = |x: usize| if add { x as i64 } else { -(x as i64) };
        self.digest = if add {
            self.digest.wrapping_add(s.hash)
        } else {
            self.digest.wrapping_sub(s.hash)
        };
        self.num_points = (self.num_points as i64 + sign(s.points)) as usize;
        if s.bbox.is_none() {
            self.num_strings = (self.num_strings as i64 + sign(1)) as usize;
        }
        self.heap = (self.heap as i64 + sign(s.heap)) as usize;
        if s.expires_at_ms != 0 {
            if add {
                self.expires.insert((s.expires_at_ms, h));
            } else {
                self.expires.remove(&(s.expires_at_ms, h));
            }
        }
    }

    fn index_add(&mut self, h: u32, s: &Share) {
        if let (Some(r), false) = (&s.bbox, self.deferred) {
            self.index.insert(h, r);
        }
    }

    fn index_remove(&mut self, h: u32, s: &Share) {
        if let (Some(r), false) = (&s.bbox, self.deferred) {
            let removed = self.index.remove(h, r);
            debug_assert!(removed, "index lost handle {h}");
        }
    }

    /// Moves an object from share `old` to `new`, touching the index only if its box moved.
    fn reaccount(&mut self, h: u32, old: &Share, new: &Share) {
        self.account(h, old, false);
        self.account(h, new, true);
        if old.bbox != new.bbox {
            self.index_remove(h, old);
            self.index_add(h, new);
        }
    }
}

/// Counts (`add`) or uncounts the field names an object (id tag and data) carries.
fn count_fields(names: &mut Names, tag: u16, data: &Data, add: bool) {
    match data {
        Data::Point { .. } if tag > 0 => names.count_number(u32::from(tag) - 1, add),
        Data::Boxed(o) => {
            for (name, _) in o.fields.iter() {
                names.count(name, add);
            }
        }
        _ => {}
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
    /// An empty collection; `deferred` skips index and order upkeep until
    /// [`Collection::build_index`].
    pub fn new(deferred: bool) -> Collection {
        Collection {
            d: Derived {
                deferred,
                ..Derived::default()
            },
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            ..Collection::default()
        }
    }

    /// This collection's identity (distinct for every collection created).
    pub fn uid(&self) -> u64 {
        self.uid
    }

    pub(super) fn index(&self) -> &SpatialIndex {
        &self.d.index
    }

    pub(super) fn alloc_log(&self) -> &AllocLog {
        &self.allocs
    }

    /// One past the highest handle in use or free.
    pub(super) fn handle_span(&self) -> usize {
        self.slab.span()
    }

    fn share(&self, h: u32) -> Share {
        let slot = self.slab.get(h);
        let obj = ObjRef::new(&slot.data, slot.id.tag(), &self.names);
        Share::of(slot.id.as_str(), slot.id.heap_size(), obj)
    }

    /// Inserts or replaces an object. Returns true when it replaced one.
    pub fn set(&mut self, id: &str, obj: Object) -> bool {
        let (tag, data) = Data::store(obj, &mut self.names);
        match self.slab.find(id) {
            Some(h) => {
                let (old_tag, old) = self.replace_data(h, tag, data);
                self.replaced(h, old_tag, &old);
                true
            }
            None => {
                let h = self.slab.insert(id, tag, data);
                self.allocs.note(h);
                if !self.d.deferred {
                    let slab = &self.slab;
                    self.order.insert(h, |x| slab.key(x));
                    self.value_order_upkeep(h, true);
                }
                count_fields(&mut self.names, tag, &self.slab.get(h).data, true);
                let s = self.share(h);
                self.d.account(h, &s, true);
                self.d.index_add(h, &s);
                false
            }
        }
    }

    /// Puts new data in slot `h`, keeping the value order right: a handle leaves it under its
    /// old value and comes back under its new one.
    fn replace_data(&mut self, h: u32, tag: u16, data: Data) -> (u16, Data) {
        self.value_order_upkeep(h, false);
        let old = self.slab.replace(h, tag, data);
        self.value_order_upkeep(h, true);
        old
    }

    /// Adds (`add`) or removes handle `h` in the value order if it holds a STRING object.
    fn value_order_upkeep(&mut self, h: u32, add: bool) {
        if self.d.deferred || string_value(&self.slab.get(h).data).is_none() {
            return;
        }
        let slab = &self.slab;
        if add {
            self.values.insert(h, |x| value_key(slab, x));
        } else {
            let removed = self.values.remove(h, |x| value_key(slab, x));
            debug_assert!(removed, "value order lost handle {h}");
        }
    }

    /// Accounts for slot `h` now holding new data in place of `old`.
    fn replaced(&mut self, h: u32, old_tag: u16, old: &Data) {
        let id = &self.slab.get(h).id;
        let old_obj = ObjRef::new(old, old_tag, &self.names);
        let old_share = Share::of(id.as_str(), id.heap_size(), old_obj);
        count_fields(&mut self.names, old_tag, old, false);
        let slot = self.slab.get(h);
        count_fields(&mut self.names, slot.id.tag(), &slot.data, true);
        let new_share = self.share(h);
        self.d.reaccount(h, &old_share, &new_share);
    }

    /// Changes an object in place through `change`, keeping every derived structure right.
    /// Returns None (and calls nothing) when the id is missing.
    pub fn modify<R>(&mut self, id: &str, change: impl FnOnce(&mut Object) -> R) -> Option<R> {
        let h = self.slab.find(id)?;
        let mut obj = self.get_handle(h).to_object();
        let result = change(&mut obj);
        let (tag, data) = Data::store(obj, &mut self.names);
        let (old_tag, old) = self.replace_data(h, tag, data);
        self.replaced(h, old_tag, &old);
        Some(result)
    }

    /// Removes an object.
    pub fn remove(&mut self, id: &str) -> Option<Object> {
        let h = self.slab.find(id)?;
        let s = self.share(h);
        self.d.account(h, &s, false);
        self.d.index_remove(h, &s);
        if !self.d.deferred {
            let slab = &self.slab;
            let removed = self.order.remove(h, |x| slab.key(x));
            debug_assert!(removed, "order lost {id}");
            self.value_order_upkeep(h, false);
        }
        let (tag, data) = self.slab.remove(h);
        count_fields(&mut self.names, tag, &data, false);
        Some(match data {
            Data::Boxed(o) => *o,
            other => ObjRef::new(&other, tag, &self.names).to_object(),
        })
    }

    /// Rebuilds the R-tree and the id order from the objects in one pass each, and ends
    /// deferred upkeep.
    pub fn build_index(&mut self) {
        let handles: Vec<u32> = self.slab.handles().collect();
        let entries = handles
            .iter()
            .filter_map(|&h| Some((h, self.get_handle(h).bbox()?)));
        self.d.index = SpatialIndex::bulk_load(entries);
        let slab = &self.slab;
        let strings = handles
            .iter()
            .copied()
            .filter(|&h| string_value(&slab.get(h).data).is_some())
            .collect();
        self.values.rebuild(strings, |x| value_key(slab, x));
        self.order.rebuild(handles, |x| slab.key(x));
        self.d.deferred = false;
    }

    fn get_handle(&self, h: u32) -> ObjRef<'_> {
        let slot = self.slab.get(h);
        ObjRef::new(&slot.data, slot.id.tag(), &self.names).at(h)
    }

    pub(super) fn entry(&self, h: u32) -> (&str, ObjRef<'_>) {
        let slot = self.slab.get(h);
        (
            slot.id.as_str(),
            ObjRef::new(&slot.data, slot.id.tag(), &self.names).at(h),
        )
    }

    /// The object at handle `h` if it is still the one whose [`object_hash`] was
    /// `fingerprint`: None when the handle is free, or holds another id, or the object was
    /// changed in any way (body, fields, expiry) since the fingerprint was taken. Streamed
    /// searches keep `(handle, fingerprint)` per hit and render through this later, so an
    /// object deleted or replaced in between is left out rather than shown in a state the
    /// search never tested. (64-bit hash: a changed object passes with probability 2^-64.)
    pub fn same_object(&self, h: u32, fingerprint: u64) -> Option<(&str, ObjRef<'_>)> {
        if !self.slab.is_live(h) {
            return None;
        }
        let (id, obj) = self.entry(h);
        (object_hash(id, obj) == fingerprint).then_some((id, obj))
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<ObjRef<'_>> {
        self.slab.find(id).map(|h| self.get_handle(h))
    }

    /// True when an object has this id.
    pub fn contains(&self, id: &str) -> bool {
        self.slab.find(id).is_some()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Number of spatial objects (those in the R-tree).
    pub fn spatial_len(&self) -> usize {
        self.d.index.len()
    }

    /// True when there are no objects.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Handles in id order; during a bulk load (no order yet) sorted on demand.
    fn ordered<'a>(&'a self, bound: Option<&str>, rev: bool) -> Box<dyn Iterator<Item = u32> + 'a> {
        let slab = &self.slab;
        let key = move |x: u32| slab.key(x);
        let bound_bytes = bound.map(str::as_bytes);
        if !self.d.deferred {
            return if rev {
                Box::new(self.order.iter_before(bound_bytes, key))
            } else {
                Box::new(self.order.iter_after(bound_bytes, key))
            };
        }
        let mut all: Vec<u32> = slab
            .handles()
            .filter(|&h| match bound_bytes {
                None => true,
                Some(b) if rev => key(h) < b,
                Some(b) => key(h) > b,
            })
            .collect();
        all.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
        if rev {
            all.reverse();
        }
        Box::new(all.into_iter())
    }

    /// Objects in id order, starting after `after` (exclusive) or from the start.
    pub fn iter_from<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, ObjRef<'a>)> + 'a {
        self.ordered(after, false).map(|h| self.entry(h))
    }

    /// Objects in descending id order, starting before `before` (exclusive) or from the end.
    pub fn iter_rev_from<'a>(
        &'a self,
        before: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, ObjRef<'a>)> + 'a {
        self.ordered(before, true).map(|h| self.entry(h))
    }

    /// The STRING objects by value (ties by id), ascending or descending (`rev`), starting
    /// after (or, `rev`, before) the object with value and id `from`, exclusive.
    pub fn iter_values<'a>(
        &'a self,
        rev: bool,
        from: Option<(&str, &str)>,
    ) -> impl Iterator<Item = (&'a str, ObjRef<'a>)> + 'a {
        self.value_handles(rev, from).map(|h| self.entry(h))
    }

    /// The handles of [`Collection::iter_values`]; during a bulk load (no value order yet)
    /// sorted on demand.
    pub(super) fn value_handles<'a>(
        &'a self,
        rev: bool,
        from: Option<(&str, &str)>,
    ) -> Box<dyn Iterator<Item = u32> + 'a> {
        let slab = &self.slab;
        let key = move |x: u32| value_key(slab, x);
        let from = from.map(|(v, id)| (v.as_bytes(), id.as_bytes()));
        match (self.d.deferred, rev) {
            (false, false) => Box::new(self.values.iter_after(from, key)),
            (false, true) => Box::new(self.values.iter_before(from, key)),
            (true, _) => {
                let mut all: Vec<u32> = slab
                    .handles()
                    .filter(|&h| string_value(&slab.get(h).data).is_some())
                    .filter(|&h| from.is_none_or(|f| (key(h) > f) != rev && key(h) != f))
                    .collect();
                all.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
                if rev {
                    all.reverse();
                }
                Box::new(all.into_iter())
            }
        }
    }

    /// Objects whose bounding box may intersect `rect` (candidates for an exact test).
    pub fn intersecting<'a>(
        &'a self,
        rect: &Rect,
    ) -> impl Iterator<Item = (&'a str, ObjRef<'a>)> + 'a {
        self.d.index.intersecting(rect).map(|h| self.entry(h))
    }

    /// Spatial objects in increasing geodesic distance (meters) from a point, as NEARBY
    /// reports it (distance to the object's centre), ties by id.
    pub fn nearby(&self, lat: f64, lon: f64) -> impl Iterator<Item = (&str, ObjRef<'_>, f64)> {
        self.nearby_handles(lat, lon, None).map(move |(h, d)| {
            let (id, obj) = self.entry(h);
            (id, obj, d)
        })
    }

    /// [`Collection::nearby`] as `(handle, distance)`. With a `floor`, subtrees wholly nearer
    /// than it are skipped (a resumed walk, `store/walk.rs`): every entry at or beyond the
    /// floor is still yielded, in the same order, and maybe some nearer ones.
    pub(super) fn nearby_handles(
        &self,
        lat: f64,
        lon: f64,
        floor: Option<f64>,
    ) -> impl Iterator<Item = (u32, f64)> + '_ {
        let bounds = GeoBounds {
            lat,
            lon,
            cos_lat: lat.to_radians().cos(),
            floor: floor.unwrap_or(f64::NEG_INFINITY),
            far: far_bound_meters(lat),
        };
        // As `geo::distance_to` (to the object's centre), the query's cosine computed once.
        let from = HaversineFrom::new(lat, lon);
        let exact = move |h: u32| {
            let (id, obj) = self.entry(h);
            let d = obj.geometry().map_or(f64::INFINITY, |g| {
                let (clat, clon) = g.center();
                from.meters(clat, clon)
            });
            (d, id)
        };
        self.d.index.nearest(bounds, exact)
    }

    /// The bounding box of every spatial object.
    pub fn bounds(&self) -> Option<Rect> {
        if self.d.deferred {
            return self
                .slab
                .handles()
                .filter_map(|h| self.get_handle(h).bbox())
                .reduce(|a, b| a.union(&b));
        }
        // The index holds f32 boxes; the exact answer is the union of the exact boxes of the
        // candidates inside the index's (rounded-out) bounds, which are all spatial objects.
        let approx = self.d.index.bounds()?;
        self.intersecting(&approx)
            .filter_map(|(_, o)| o.bbox())
            .reduce(|a, b| a.union(&b))
    }

    /// Field names used by at least one object, sorted.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.names.live()
    }

    /// Up to `max` ids whose expiry is at or before `now_ms`, earliest first.
    pub fn expired(&self, now_ms: i64, max: usize) -> Vec<CompactString> {
        self.d
            .expires
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .take(max)
            .map(|&(_, h)| CompactString::from(self.slab.get(h).id.as_str()))
            .collect()
    }

    /// Every (expiry, id) in expiry order.
    pub fn expiring(&self) -> impl Iterator<Item = (i64, &str)> {
        self.d
            .expires
            .iter()
            .map(|&(at, h)| (at, self.slab.get(h).id.as_str()))
    }

    /// The earliest expiry, if any object expires.
    pub fn next_expiry(&self) -> Option<i64> {
        self.d.expires.iter().next().map(|(at, _)| *at)
    }

    /// STATS counters. `in_memory_size` is what the structures hold: slots, id table, order,
    /// index and expiry set, plus what objects own on the heap.
    pub fn stats(&self) -> CollectionStats {
        let expires = self.d.expires.len() * std::mem::size_of::<(i64, u32)>();
        CollectionStats {
            num_objects: self.slab.len(),
            num_points: self.d.num_points,
            num_strings: self.d.num_strings,
            in_memory_size: self.slab.heap_size()
                + self.order.heap_size()
                + self.values.heap_size()
                + self.d.index.heap_size()
                + expires
                + self.d.heap,
        }
    }

    /// Order-independent digest of every object (id, body, fields, expiry).
    pub fn digest(&self) -> u64 {
        self.d.digest
    }
}

/// A stable 64-bit hash of one object, the same on every machine running this version.
pub fn object_hash(id: &str, obj: ObjRef<'_>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    match &*obj.body() {
        Body::Str(s) => {
            h.update(b"s");
            h.update(s.as_bytes());
        }
        Body::Geo(g) => hash_geometry(&mut h, g),
    }
    for (name, value) in obj.fields().iter() {
        h.update(b"f");
        h.update(name.as_bytes());
        match &*value {
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
    h.update(&obj.expires_at_ms().to_le_bytes());
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

/// The geodesic bounds of a NEARBY walk from `(lat, lon)`; with a `floor` (a resumed walk),
/// boxes wholly nearer than it are dropped.
struct GeoBounds {
    lat: f64,
    lon: f64,
    cos_lat: f64,
    /// `-inf` for a first walk (nothing is below it).
    floor: f64,
    /// The least cheap bound of a box more than 90° of longitude away (see `refine`).
    far: f64,
}

impl NearBounds for GeoBounds {
    fn bound(&self, r: &Rect) -> f64 {
        let cheap = point_rect_lower_bound_meters(self.lat, self.cos_lat, self.lon, r);
        let f = self.floor;
        if cheap < f && point_rect_upper_bound_meters(self.lat, self.lon, r) < f {
            return f64::INFINITY;
        }
        cheap
    }

    /// A first walk's point bounds skip building the cover boxes (a resumed walk's may prune).
    fn point_bounds(&self, pts: &[([f32; 2], u32)], out: &mut [f64]) {
        if self.floor > f64::NEG_INFINITY {
            return cover_bounds(self, pts, out);
        }
        let (lat, cos_lat, lon) = (self.lat, self.cos_lat, self.lon);
        point_box_lower_bounds_meters(lat, cos_lat, lon, pts, POINT_COVER_SLACK, out);
    }

    fn refines_at(&self, dist: f64) -> bool {
        dist >= self.far || dist < self.floor
    }

    /// Far boxes, and in a resumed walk the boxes the cheap bound puts nearer than the floor
    /// (which would otherwise all open at once, a ring as wide as the bound is loose there).
    fn refine(&self, r: &Rect) -> Option<f64> {
        let refined = point_rect_refined_lower_bound_meters(self.lat, self.lon, r);
        if refined.is_none() && self.bound(r) < self.floor {
            return Some(point_rect_min_meters(self.lat, self.lon, r));
        }
        refined
    }
}

#[cfg(test)]
#[path = "collection_tests.rs"]
mod tests;
