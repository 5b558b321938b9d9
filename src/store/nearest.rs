//! The NEARBY walk over a [`SpatialIndex`]: best-first over rstar's nodes, the pages and
//! their entries, ordered by a caller-given lower bound, with every entry re-queued at its
//! exact distance before it is reported, so answers come out in exact distance order.
//!
//! Why runs: opening a node or a page puts its children with their bounds into `runs` and
//! queues only the run, at its smallest bound; taking a child re-queues the rest at the next
//! smallest. The heap therefore holds about one item per opened node instead of one per
//! child, and a small k (the common NEARBY … LIMIT 1) opens a node, a page and an entry per
//! level without paying to queue the thirty other entries of a page or the seven siblings of
//! a node. Nor does it pay to sort them: a run's first [`SELECTS`] children are found by a
//! scan for the smallest, and only a run taken from more often than that is sorted.
//! Lazy and unbounded: the caller takes as many answers as it needs. A child whose bound is
//! `+inf` is dropped unopened: a resumed walk (`store/walk.rs`) prunes with it the subtrees
//! wholly nearer than where it stopped. Owns no data and takes no locks; only
//! `SpatialIndex::nearest` builds it.
//!
//! **Order:** answers come in (distance, id, handle) order. At equal distance a run is opened
//! before an exact answer is taken, so every entry at that distance is exact in the heap, and
//! ordered by id, before the first of them is reported; a resumed walk relies on it to pick
//! up strictly after the last (distance, id) it reported.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rstar::{ParentNode, RTreeNode};

use super::{Bx, PageRef, SpatialIndex, PAGE_MAX};
use crate::geo::Rect;

/// The bounds a [`Nearest`] walk orders boxes by. A closure is a bound without refinement.
pub trait NearBounds {
    /// A lower bound of the distance to anything in the box, cheap: it is computed for every
    /// child of every node and page the walk opens. `+inf` drops the box.
    fn bound(&self, r: &Rect) -> f64;

    /// [`NearBounds::bound`] of the cover box of each point a page stores (lon, lat),
    /// `pts[i]`'s into `out[i]`: every entry of every opened page asks for one, so a bound may
    /// take a shortcut, and gets the whole page at once to run its loop in vector registers.
    fn point_bounds(&self, pts: &[([f32; 2], u32)], out: &mut [f64]) {
        cover_bounds(self, pts, out);
    }

    /// Whether a box about to be opened at bound `dist` may have a better bound
    /// ([`NearBounds::refine`]); a cheap test, since the walk asks it of every box it opens.
    fn refines_at(&self, _dist: f64) -> bool {
        false
    }

    /// A better lower bound for a box whose [`NearBounds::bound`] may be loose, computed only
    /// when the walk is about to open the box: if it is larger the box is queued again at it
    /// instead of opened (so a loose bound costs nothing until the walk gets that far, and
    /// then does not open every loosely bounded box at once).
    fn refine(&self, _r: &Rect) -> Option<f64> {
        None
    }
}

impl<F: Fn(&Rect) -> f64> NearBounds for F {
    fn bound(&self, r: &Rect) -> f64 {
        self(r)
    }
}

/// The iterator of [`SpatialIndex::nearest`]: yields `(handle, exact distance)`.
pub struct Nearest<'a, B, E> {
    index: &'a SpatialIndex,
    heap: BinaryHeap<Candidate<'a>>,
    /// Opened nodes' and pages' children as (bound, step), each opening's run sorted by bound.
    runs: Vec<(f64, Step<'a>)>,
    bound: B,
    exact: E,
}

/// Something a run leads to.
#[derive(Clone, Copy)]
enum Step<'a> {
    Node(&'a ParentNode<PageRef>),
    Page(u32),
    /// An entry whose exact distance is not known yet.
    Entry(u32),
}

enum Item<'a> {
    /// What is left of a run: `runs[next..end]`, queued at the bound of `next`, the smallest;
    /// `picks` children were taken from it so far ([`SORTED`]: the rest is sorted).
    Run { next: u32, end: u32, picks: u8 },
    /// An entry with its exact distance and id: when it is the smallest, it is the next answer.
    Exact(u32, &'a str),
}

/// How many children of a run are found by a scan for the smallest before the rest is
/// sorted: a scan of a page costs about a tenth of its sort, and most runs a small k opens
/// give up one or two children.
const SELECTS: u8 = 3;

/// `picks` of a run whose rest is sorted.
const SORTED: u8 = u8::MAX;

struct Candidate<'a> {
    dist: f64,
    item: Item<'a>,
}

impl<'a, B, E> Nearest<'a, B, E>
where
    B: NearBounds,
    E: FnMut(u32) -> (f64, &'a str),
{
    pub(super) fn new(index: &'a SpatialIndex, bound: B, exact: E) -> Self {
        let mut walk = Nearest {
            index,
            // Enough for a small k without regrowing: a root-to-page descent and one page.
            heap: BinaryHeap::with_capacity(16),
            runs: Vec::with_capacity(128),
            bound,
            exact,
        };
        if index.tree.size() > 0 {
            walk.runs.push((0.0, Step::Node(index.tree.root())));
            walk.queue_rest(0, 1, SORTED);
        }
        walk
    }

    /// Takes the next step of the run at `next`, queues the rest of the run, and returns what
    /// the step produced (a new run or an exact entry) for the caller to queue.
    fn take_step(&mut self, next: u32, end: u32, picks: u8) -> Option<Candidate<'a>> {
        let (dist, step) = self.runs[next as usize];
        self.queue_rest(next + 1, end, picks);
        if self.bound.refines_at(dist) {
            if let Some(later) = self.refined(dist, step) {
                return Some(later);
            }
        }
        let start = self.runs.len();
        match step {
            Step::Entry(h) => {
                let (dist, id) = (self.exact)(h);
                return Some(Candidate {
                    dist,
                    item: Item::Exact(h, id),
                });
            }
            Step::Page(p) => {
                let bound = &self.bound;
                let page = &self.index.pages[p as usize];
                let mut bounds = [0.0; PAGE_MAX];
                // Pruned children (`+inf`) are dropped unopened.
                for pts in page.pts.chunks(PAGE_MAX) {
                    let bounds = &mut bounds[..pts.len()];
                    bound.point_bounds(pts, bounds);
                    let pts = bounds.iter().zip(pts);
                    let kept = pts.filter(|(&b, _)| b != f64::INFINITY);
                    self.runs
                        .extend(kept.map(|(&b, &(_, h))| (b, Step::Entry(h))));
                }
                let boxes = page
                    .rects
                    .iter()
                    .map(|(b, h)| (bound.bound(&b.rect()), Step::Entry(*h)));
                self.runs.extend(boxes.filter(|c| c.0 != f64::INFINITY));
            }
            Step::Node(node) => {
                let bound = &self.bound;
                let children = node.children().iter().map(|child| match child {
                    RTreeNode::Leaf(r) => (bound.bound(&r.env.rect()), Step::Page(r.page)),
                    RTreeNode::Parent(p) => (bound.bound(&envelope_rect(p)), Step::Node(p)),
                });
                let kept = children.filter(|c| c.0 != f64::INFINITY);
                self.runs.extend(kept);
            }
        }
        let (next, end) = (start as u32, self.runs.len() as u32);
        (next < end).then(|| self.run_from(next, end, 0))
    }

    /// The candidate for what is left of a run, `runs[next..end]` (not empty), `picks`
    /// children having been taken from it: its smallest child is brought to `next`, by a scan
    /// while `picks` is under [`SELECTS`], by sorting the rest once it reaches it.
    fn run_from(&mut self, next: u32, end: u32, picks: u8) -> Candidate<'a> {
        let rest = &mut self.runs[next as usize..end as usize];
        let picks = match picks {
            SORTED => SORTED,
            p if p < SELECTS => {
                let smallest =
                    (1..rest.len()).fold(0, |m, i| if rest[i].0 < rest[m].0 { i } else { m });
                rest.swap(0, smallest);
                p + 1
            }
            _ => {
                rest.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
                SORTED
            }
        };
        Candidate {
            dist: rest[0].0,
            item: Item::Run { next, end, picks },
        }
    }

    /// A node or page about to be opened at `dist` whose refined bound is larger: queued
    /// again at that bound, as a run of one (taken again, it refines to the same, and opens).
    #[cold]
    #[inline(never)]
    fn refined(&mut self, dist: f64, step: Step<'a>) -> Option<Candidate<'a>> {
        let rect = match step {
            Step::Node(node) => envelope_rect(node),
            Step::Page(p) => self.index.pages[p as usize].env.rect(),
            Step::Entry(_) => return None,
        };
        let later = self.bound.refine(&rect).filter(|&b| b > dist)?;
        let at = self.runs.len() as u32;
        self.runs.push((later, step));
        Some(Candidate {
            dist: later,
            item: Item::Run {
                next: at,
                end: at + 1,
                picks: SORTED,
            },
        })
    }

    /// Queues what is left of a run, at its smallest bound.
    fn queue_rest(&mut self, next: u32, end: u32, picks: u8) {
        if next < end {
            let rest = self.run_from(next, end, picks);
            self.heap.push(rest);
        }
    }
}

/// A box covering the exact point stored as `p`, cheaper to make than [`Bx::around`]'s
/// ulp box (no `next_up`/`next_down`, which branch on special values): every coordinate is
/// under 256 in magnitude, where an `f32` ulp is at most 2^-16, so the stored value is
/// within 2^-17 of the exact one. (The box is at most 2^-16° ≈ 1.7 m wider each way.)
pub fn point_cover(p: [f32; 2]) -> Rect {
    let (lon, lat) = (f64::from(p[0]), f64::from(p[1]));
    Rect {
        min_lat: lat - POINT_COVER_SLACK,
        min_lon: lon - POINT_COVER_SLACK,
        max_lat: lat + POINT_COVER_SLACK,
        max_lon: lon + POINT_COVER_SLACK,
    }
}

/// [`NearBounds::bound`] of each point's [`point_cover`] box: the default
/// [`NearBounds::point_bounds`], for bounds that take a shortcut only some of the time.
pub fn cover_bounds<B: NearBounds + ?Sized>(bound: &B, pts: &[([f32; 2], u32)], out: &mut [f64]) {
    for (o, &(p, _)) in out.iter_mut().zip(pts) {
        *o = bound.bound(&point_cover(p));
    }
}

/// How far [`point_cover`] reaches either way of the stored point, in degrees.
pub const POINT_COVER_SLACK: f64 = 1.0 / 65536.0;

fn envelope_rect(p: &ParentNode<PageRef>) -> Rect {
    let e = p.envelope();
    Bx {
        min: e.lower(),
        max: e.upper(),
    }
    .rect()
}

impl<'a, B, E> Iterator for Nearest<'a, B, E>
where
    B: NearBounds,
    E: FnMut(u32) -> (f64, &'a str),
{
    type Item = (u32, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let mut c = self.heap.pop()?;
        loop {
            let (next, end, picks) = match c.item {
                Item::Exact(h, _) => return Some((h, c.dist)),
                Item::Run { next, end, picks } => (next, end, picks),
            };
            // What a step produces is usually the next smallest item (a descent goes on into
            // the nearest child): then it is taken at once instead of queued and popped.
            let Some(made) = self.take_step(next, end, picks) else {
                c = self.heap.pop()?;
                continue;
            };
            c = match self.heap.peek_mut() {
                Some(mut top) if *top > made => std::mem::replace(&mut *top, made),
                _ => made,
            };
        }
    }
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
    /// Reversed (the heap is a max-heap); at equal distance runs come first (see the module
    /// doc), then exact answers by id (then handle).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| match (&self.item, &other.item) {
                (Item::Exact(h1, id1), Item::Exact(h2, id2)) => (id2, h2).cmp(&(id1, h1)),
                (Item::Exact(..), Item::Run { .. }) => Ordering::Less,
                (Item::Run { .. }, Item::Exact(..)) => Ordering::Greater,
                (Item::Run { next: a, .. }, Item::Run { next: b, .. }) => b.cmp(a),
            })
    }
}
