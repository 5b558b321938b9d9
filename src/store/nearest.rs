//! The NEARBY walk over a [`SpatialIndex`]: best-first over rstar's nodes, the pages and
//! their entries, ordered by a caller-given lower bound, with every entry re-queued at its
//! exact distance before it is reported, so answers come out in exact distance order.
//!
//! Why runs: opening a node or a page sorts its children by bound into `runs` and queues only
//! the run, at its first child's bound; taking a child re-queues the rest at the next bound.
//! The heap therefore holds about one item per opened node instead of one per child, and a
//! small k (the common NEARBY … LIMIT 1) opens a node, a page and an entry per level without
//! paying to queue the thirty other entries of a page or the seven siblings of a node.
//! Lazy and unbounded: the caller takes as many answers as it needs. Owns no data and takes
//! no locks; only `SpatialIndex::nearest` builds it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rstar::{ParentNode, RTreeNode};

use super::{Bx, PageRef, SpatialIndex};
use crate::geo::Rect;

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
    /// What is left of a run: `runs[next..end]`, queued at the bound of `next`, the smallest.
    Run { next: u32, end: u32 },
    /// An entry with its exact distance and id: when it is the smallest, it is the next answer.
    Exact(u32, &'a str),
}

struct Candidate<'a> {
    dist: f64,
    item: Item<'a>,
}

impl<'a, B, E> Nearest<'a, B, E>
where
    B: Fn(&Rect) -> f64,
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
            walk.queue_rest(0, 1);
        }
        walk
    }

    /// Takes the next step of the run at `next` and queues the rest of the run.
    fn take_step(&mut self, next: u32, end: u32) {
        let (_, step) = self.runs[next as usize];
        self.queue_rest(next + 1, end);
        let start = self.runs.len();
        match step {
            Step::Entry(h) => {
                let (dist, id) = (self.exact)(h);
                self.heap.push(Candidate {
                    dist,
                    item: Item::Exact(h, id),
                });
                return;
            }
            Step::Page(p) => {
                let bound = &self.bound;
                let page = &self.index.pages[p as usize];
                let children = page
                    .entries()
                    .map(|(b, h)| (bound(&b.rect()), Step::Entry(h)));
                self.runs.extend(children);
            }
            Step::Node(node) => {
                let bound = &self.bound;
                let children = node.children().iter().map(|child| match child {
                    RTreeNode::Leaf(r) => (bound(&r.env.rect()), Step::Page(r.page)),
                    RTreeNode::Parent(p) => (bound(&envelope_rect(p)), Step::Node(p)),
                });
                self.runs.extend(children);
            }
        }
        self.queue_new_run(start as u32, self.runs.len() as u32);
    }

    /// Sorts a run just opened by bound and queues it.
    fn queue_new_run(&mut self, start: u32, end: u32) {
        self.runs[start as usize..end as usize].sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
        self.queue_rest(start, end);
    }

    /// Queues what is left of a run, at the bound of its next step.
    fn queue_rest(&mut self, next: u32, end: u32) {
        if next < end {
            self.heap.push(Candidate {
                dist: self.runs[next as usize].0,
                item: Item::Run { next, end },
            });
        }
    }
}

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
    B: Fn(&Rect) -> f64,
    E: FnMut(u32) -> (f64, &'a str),
{
    type Item = (u32, f64);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(c) = self.heap.pop() {
            match c.item {
                Item::Exact(h, _) => return Some((h, c.dist)),
                Item::Run { next, end } => self.take_step(next, end),
            }
        }
        None
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
    /// Reversed (the heap is a max-heap); at equal distance exact answers come first, by id
    /// (then handle), so ties are reported in a stable order.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| match (&self.item, &other.item) {
                (Item::Exact(h1, id1), Item::Exact(h2, id2)) => (id2, h2).cmp(&(id1, h1)),
                (Item::Exact(..), Item::Run { .. }) => Ordering::Greater,
                (Item::Run { .. }, Item::Exact(..)) => Ordering::Less,
                (Item::Run { next: a, .. }, Item::Run { next: b, .. }) => b.cmp(a),
            })
    }
}
