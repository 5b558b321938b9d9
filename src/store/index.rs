//! The spatial index of one collection: leaf pages of (rounded box, handle) entries, and an
//! rstar R-tree over the pages' envelopes.
//!
//! This is the only module that uses `rstar`. It knows handles (`u32`), never ids or objects.
//! Why pages: every rstar tree slot is an `RTreeNode`, as big as a parent node (40 bytes), so
//! one slot per object cost 40-90 bytes each. A page keeps its entries in plain vectors
//! (12 bytes per point, 20 per box) and rstar holds one slot per page of up to 32 entries.
//! Boxes are `f32` rounded outwards, so hits are candidates the caller checks exactly.
//!
//! Invariants: each handle is in exactly one page; a page's envelope covers the exact `f64`
//! box of each of its entries; the tree holds one `PageRef` per non-empty page, with the
//! page's envelope.

use rstar::{PointDistance, RTree, RTreeNode, RTreeObject, AABB};

use crate::geo::Rect;

/// Most entries in one page. Larger pages mean fewer tree slots but longer scans per hit.
const PAGE_MAX: usize = 32;

/// An `f32` box (x = lon, y = lat) that covers an exact `f64` box.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bx {
    min: [f32; 2],
    max: [f32; 2],
}

impl Bx {
    fn of(rect: &Rect) -> Bx {
        Bx {
            min: [down(rect.min_lon), down(rect.min_lat)],
            max: [up(rect.max_lon), up(rect.max_lat)],
        }
    }

    /// The box around a stored point: its nearest `f32` is within half an ulp of the exact
    /// value, so one ulp either side covers it.
    fn around(p: [f32; 2]) -> Bx {
        Bx {
            min: [p[0].next_down(), p[1].next_down()],
            max: [p[0].next_up(), p[1].next_up()],
        }
    }

    fn union(&self, o: &Bx) -> Bx {
        Bx {
            min: [self.min[0].min(o.min[0]), self.min[1].min(o.min[1])],
            max: [self.max[0].max(o.max[0]), self.max[1].max(o.max[1])],
        }
    }

    fn contains(&self, o: &Bx) -> bool {
        (0..2).all(|i| self.min[i] <= o.min[i] && self.max[i] >= o.max[i])
    }

    fn intersects(&self, o: &Bx) -> bool {
        (0..2).all(|i| self.min[i] <= o.max[i] && self.max[i] >= o.min[i])
    }

    fn center(&self, axis: usize) -> f32 {
        self.min[axis] / 2.0 + self.max[axis] / 2.0
    }

    fn rect(&self) -> Rect {
        Rect {
            min_lat: f64::from(self.min[1]),
            min_lon: f64::from(self.min[0]),
            max_lat: f64::from(self.max[1]),
            max_lon: f64::from(self.max[0]),
        }
    }

    fn aabb(&self) -> AABB<[f32; 2]> {
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

/// One entry on its way into a page (split and bulk load sort these).
#[derive(Debug, Clone, Copy)]
struct Loose {
    bx: Bx,
    /// Set for points, stored as their nearest `f32` (12 bytes instead of 20); the point is
    /// the box's centre, one ulp in from each side (see [`Bx::around`]).
    is_pt: bool,
    handle: u32,
}

impl Loose {
    fn new(handle: u32, rect: &Rect) -> Loose {
        if rect.min_lat == rect.max_lat && rect.min_lon == rect.max_lon {
            let p = [rect.min_lon as f32, rect.min_lat as f32];
            Loose {
                bx: Bx::around(p),
                is_pt: true,
                handle,
            }
        } else {
            Loose {
                bx: Bx::of(rect),
                is_pt: false,
                handle,
            }
        }
    }

    fn pt(&self) -> Option<[f32; 2]> {
        self.is_pt
            .then(|| [self.bx.min[0].next_up(), self.bx.min[1].next_up()])
    }
}

/// A leaf page.
#[derive(Debug, Default)]
struct Page {
    env: Bx,
    pts: Vec<([f32; 2], u32)>,
    rects: Vec<(Bx, u32)>,
    /// The index's `moves` when existing entries were last moved into this page (0: never):
    /// a resumable walk re-walks pages stamped after its last look (see `index_walk.rs`).
    stamp: u64,
}

impl Default for Bx {
    fn default() -> Bx {
        Bx {
            min: [0.0; 2],
            max: [0.0; 2],
        }
    }
}

impl Page {
    fn len(&self) -> usize {
        self.pts.len() + self.rects.len()
    }

    fn entries(&self) -> impl Iterator<Item = (Bx, u32)> + '_ {
        let pts = self.pts.iter().map(|&(p, h)| (Bx::around(p), h));
        pts.chain(self.rects.iter().copied())
    }

    fn push(&mut self, e: Loose) {
        match e.pt() {
            Some(p) => push_capped(&mut self.pts, (p, e.handle)),
            None => push_capped(&mut self.rects, (e.bx, e.handle)),
        }
    }

    fn loose(&self) -> impl Iterator<Item = Loose> + '_ {
        let pts = self.pts.iter().map(|&(p, handle)| Loose {
            bx: Bx::around(p),
            is_pt: true,
            handle,
        });
        pts.chain(self.rects.iter().map(|&(bx, handle)| Loose {
            bx,
            is_pt: false,
            handle,
        }))
    }

    fn exact_env(&self) -> Option<Bx> {
        self.entries().map(|(b, _)| b).reduce(|a, b| a.union(&b))
    }

    /// A page of `entries`, its vectors sized to them (rounded up to the growth step), not
    /// to what collecting would leave: that doubles, so the 17-entry half of a split page
    /// got room for 32.
    fn from_loose(entries: &[Loose]) -> Page {
        let n_pts = entries.iter().filter(|e| e.is_pt).count();
        let sized = |n: usize| n.next_multiple_of(GROW);
        let mut page = Page {
            pts: Vec::with_capacity(sized(n_pts)),
            rects: Vec::with_capacity(sized(entries.len() - n_pts)),
            ..Page::default()
        };
        page.pts
            .extend(entries.iter().filter_map(|e| e.pt().map(|p| (p, e.handle))));
        page.rects.extend(
            entries
                .iter()
                .filter(|e| !e.is_pt)
                .map(|e| (e.bx, e.handle)),
        );
        page.env = page.exact_env().unwrap_or_default();
        page
    }
}

/// Growth step of a page's vectors, in entries.
const GROW: usize = 4;

/// Pushes growing capacity `GROW` entries at a time: a doubling would leave pages a quarter
/// empty on average (and could pass `PAGE_MAX`); the reallocations are of a few hundred bytes.
fn push_capped<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(GROW);
    }
    v.push(x);
}

/// A page as the R-tree sees it.
#[derive(Debug, Clone, PartialEq)]
struct PageRef {
    env: Bx,
    page: u32,
}

impl RTreeObject for PageRef {
    type Envelope = AABB<[f32; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.env.aabb()
    }
}

impl PointDistance for PageRef {
    fn distance_2(&self, point: &[f32; 2]) -> f32 {
        self.env.aabb().distance_2(point)
    }
}

/// Node sizes of the tree over pages (rstar's defaults are 3/6/2). Measured when the tree
/// held objects directly: 4/8/3 used less memory and inserted faster with the same NEARBY.
pub struct Params;

impl rstar::RTreeParams for Params {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 8;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// The index of a collection.
#[derive(Debug, Default)]
pub struct SpatialIndex {
    tree: RTree<PageRef, Params>,
    /// Pages by number; emptied pages are listed in `free` and reused.
    pages: Vec<Page>,
    free: Vec<u32>,
    len: usize,
    /// Bumped whenever existing entries move into another page (a split).
    moves: u64,
}

impl SpatialIndex {
    /// Builds an index in one pass: sort-tile-recursive packing into full pages, then one
    /// rstar bulk load over them. `entries` are (handle, exact box).
    pub fn bulk_load(entries: impl Iterator<Item = (u32, Rect)>) -> SpatialIndex {
        let mut loose: Vec<Loose> = entries.map(|(h, r)| Loose::new(h, &r)).collect();
        let mut idx = SpatialIndex {
            len: loose.len(),
            ..SpatialIndex::default()
        };
        let pages = loose.len().div_ceil(PAGE_MAX);
        let slices = (pages as f64).sqrt().ceil().max(1.0) as usize;
        let per_slice = pages.div_ceil(slices) * PAGE_MAX;
        loose.sort_unstable_by(|a, b| a.bx.center(0).total_cmp(&b.bx.center(0)));
        for slice in loose.chunks_mut(per_slice.max(1)) {
            slice.sort_unstable_by(|a, b| a.bx.center(1).total_cmp(&b.bx.center(1)));
            for chunk in slice.chunks(PAGE_MAX) {
                idx.pages.push(Page::from_loose(chunk));
            }
        }
        let refs = idx
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| PageRef {
                env: p.env,
                page: i as u32,
            })
            .collect();
        idx.tree = RTree::bulk_load_with_params(refs);
        idx
    }

    /// Adds `handle` with exact box `rect`.
    pub fn insert(&mut self, handle: u32, rect: &Rect) {
        let e = Loose::new(handle, rect);
        self.len += 1;
        let at = [e.bx.center(0), e.bx.center(1)];
        let nearest = self
            .tree
            .nearest_neighbor(&at)
            .or_else(|| self.tree.iter().next())
            .map(|r| r.page);
        let Some(p) = nearest else {
            let page = self.new_page(Page::from_loose(&[e]));
            self.tree.insert(PageRef {
                env: self.pages[page as usize].env,
                page,
            });
            return;
        };
        if self.pages[p as usize].len() >= PAGE_MAX {
            self.split(p, e);
            return;
        }
        let page = &mut self.pages[p as usize];
        page.push(e);
        if !page.env.contains(&e.bx) {
            let env = page.env.union(&e.bx);
            self.set_env(p, env);
        }
    }

    fn new_page(&mut self, page: Page) -> u32 {
        match self.free.pop() {
            Some(p) => {
                self.pages[p as usize] = page;
                p
            }
            None => {
                self.pages.push(page);
                (self.pages.len() - 1) as u32
            }
        }
    }

    /// Moves page `p` to envelope `env` in the tree.
    fn set_env(&mut self, p: u32, env: Bx) {
        let page = &mut self.pages[p as usize];
        let old = PageRef {
            env: page.env,
            page: p,
        };
        let removed = self.tree.remove(&old);
        debug_assert!(removed.is_some(), "page {p} missing from the tree");
        page.env = env;
        self.tree.insert(PageRef { env, page: p });
    }

    /// Splits full page `p` plus `extra` in two at the median of the page's longer axis.
    fn split(&mut self, p: u32, extra: Loose) {
        let old = &self.pages[p as usize];
        let mut all: Vec<Loose> = old.loose().chain([extra]).collect();
        let env = old.env.union(&extra.bx);
        let axis = usize::from(env.max[1] - env.min[1] > env.max[0] - env.min[0]);
        all.sort_unstable_by(|a, b| a.bx.center(axis).total_cmp(&b.bx.center(axis)));
        let (left, right) = all.split_at(all.len() / 2);
        let removed = self.tree.remove(&PageRef {
            env: old.env,
            page: p,
        });
        debug_assert!(removed.is_some(), "page {p} missing from the tree");
        self.pages[p as usize] = Page::from_loose(left);
        // The right half moves to another page, perhaps a reused one numbered below a
        // resumable walk's position: stamp it so the walk looks at it again.
        self.moves += 1;
        let q = self.new_page(Page {
            stamp: self.moves,
            ..Page::from_loose(right)
        });
        for page in [p, q] {
            let env = self.pages[page as usize].env;
            self.tree.insert(PageRef { env, page });
        }
    }

    /// Removes `handle`, whose exact box was `rect`. Returns false if it was not there.
    pub fn remove(&mut self, handle: u32, rect: &Rect) -> bool {
        let q = Bx::of(rect);
        let found = self
            .tree
            .locate_in_envelope_intersecting(&q.aabb())
            .map(|r| r.page)
            .find(|&p| self.pages[p as usize].entries().any(|(_, h)| h == handle));
        let Some(p) = found else { return false };
        let page = &mut self.pages[p as usize];
        if let Some(i) = page.pts.iter().position(|e| e.1 == handle) {
            page.pts.swap_remove(i);
        } else if let Some(i) = page.rects.iter().position(|e| e.1 == handle) {
            page.rects.swap_remove(i);
        }
        self.len -= 1;
        match page.exact_env() {
            None => {
                let env = page.env;
                *page = Page::default();
                self.tree.remove(&PageRef { env, page: p });
                self.free.push(p);
            }
            // Shrink so envelopes stay tight as objects move away.
            Some(env) if env != page.env => self.set_env(p, env),
            Some(_) => {}
        }
        true
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes, for STATS: page vectors and the tree's slots (one per page and a few more
    /// for parents).
    pub fn heap_size(&self) -> usize {
        let pages: usize = self
            .pages
            .iter()
            .map(|p| p.pts.capacity() * 12 + p.rects.capacity() * 20)
            .sum();
        let slot = std::mem::size_of::<RTreeNode<PageRef>>();
        pages
            + self.pages.capacity() * std::mem::size_of::<Page>()
            + self.tree.size() * slot * 5 / 4
    }

    /// Handles whose box intersects `rect` (candidates: exact tests are the caller's), in
    /// walk order: matching pages by ascending number, entries in page order (the order a
    /// resumable walk, `index_walk.rs`, yields them in).
    pub fn intersecting<'a>(&'a self, rect: &Rect) -> impl Iterator<Item = u32> + 'a {
        let q = Bx::of(rect);
        self.matching_pages(&q).into_iter().flat_map(move |p| {
            self.pages[p as usize]
                .entries()
                .filter(move |(b, _)| b.intersects(&q))
                .map(|(_, h)| h)
        })
    }

    /// The numbers of the pages whose envelope meets `q`, ascending.
    fn matching_pages(&self, q: &Bx) -> Vec<u32> {
        let mut pages: Vec<u32> = self
            .tree
            .locate_in_envelope_intersecting(&q.aabb())
            .map(|r| r.page)
            .collect();
        pages.sort_unstable();
        pages
    }

    /// Entries in increasing order of distance from a point: a best-first walk of the tree.
    /// `bound(rect)` must be a lower bound of the distance to anything inside `rect`;
    /// `exact(h)` is an entry's real distance (at least its box's bound) and its id, which
    /// orders equal distances. Yields `(handle, d)`.
    pub fn nearest<'a, B, E>(&'a self, bound: B, exact: E) -> Nearest<'a, B, E>
    where
        B: NearBounds,
        E: FnMut(u32) -> (f64, &'a str),
    {
        Nearest::new(self, bound, exact)
    }

    /// A box covering every entry, or None when empty.
    pub fn bounds(&self) -> Option<Rect> {
        if self.tree.size() == 0 {
            return None;
        }
        let env = self.tree.root().envelope();
        Some(Bx {
            min: env.lower(),
            max: env.upper(),
        })
        .map(|b| b.rect())
    }
}

#[path = "nearest.rs"]
mod nearest;
pub use nearest::{cover_bounds, point_cover, NearBounds, Nearest, POINT_COVER_SLACK};

#[path = "index_walk.rs"]
mod index_walk;
pub use index_walk::PageWalk;

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
