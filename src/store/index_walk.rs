//! A resumable walk over the entries of the index that meet a box, a bounded number of
//! entries at a time, with the index free to change in between (each step runs under its own
//! read-lock hold; the caller releases the lock between steps).
//!
//! Order: the pages whose envelope meets the box, by ascending page number; a page's entries
//! in storage order. A step walks whole pages only (a delete reorders a page's entries by
//! `swap_remove`, so no position inside a page survives a step), until it has walked at least
//! its budget of entries (bbox-rejected entries count too).
//!
//! Resuming: the walk keeps its `frontier` (the lowest page number it has not walked yet),
//! the list of matching pages from its last look at the tree, and the index's `moves` counter
//! then. Entries change pages only by a split, which bumps `moves` and stamps the page the
//! entries moved into; so when `moves` has changed, the next step looks at the tree again and
//! walks, besides the pages at or past the frontier, the pages below it stamped since its last
//! look. Hence an entry present and unmoved-by-its-owner for the whole walk is yielded at least
//! once: it stays in its page unless a split moves it, and then its new page is either past
//! the frontier or stamped. It may be yielded again (a split can move walked entries past the
//! frontier, and re-walked pages hold walked entries too): callers that need each handle once
//! keep a visited set (`store/walk.rs`).

use super::{Bx, SpatialIndex};
use crate::geo::Rect;
use crate::store::walk::Budget;
use std::ops::ControlFlow;

/// Where a walk stands (see the module doc). Memory: one `u32` per matching page.
#[derive(Debug, Clone)]
pub struct PageWalk {
    query: Bx,
    /// Pages still to walk, ascending: re-walks below `frontier` first, then the rest.
    pages: Vec<u32>,
    pos: usize,
    /// Every page numbered below this has been walked (as it was when it was walked).
    frontier: u32,
    moves_seen: u64,
}

impl SpatialIndex {
    /// A walk of the entries whose box meets `rect`, not started.
    pub fn page_walk(&self, rect: &Rect) -> PageWalk {
        let query = Bx::of(rect);
        PageWalk {
            pages: self.matching_pages(&query),
            query,
            pos: 0,
            frontier: 0,
            moves_seen: self.moves,
        }
    }

    /// Walks whole pages from where `w` stopped until at least `budget` entries were walked,
    /// calling `f` with the handle of each entry whose box meets the query. Returns true when
    /// the walk is complete (or `f` broke it off).
    pub fn walk_step<'b>(
        &self,
        w: &mut PageWalk,
        budget: impl Into<Budget<'b>>,
        mut f: impl FnMut(u32) -> ControlFlow<()>,
    ) -> bool {
        if w.moves_seen != self.moves {
            self.look_again(w);
        }
        let (mut budget, mut walked) = (budget.into(), 0);
        while !budget.spent(walked) {
            let Some(&p) = w.pages.get(w.pos) else {
                return true;
            };
            w.pos += 1;
            w.frontier = w.frontier.max(p + 1);
            let Some(page) = self.pages.get(p as usize) else {
                continue;
            };
            walked += page.len();
            for (b, h) in page.entries() {
                if b.intersects(&w.query) && f(h).is_break() {
                    w.pos = w.pages.len();
                    return true;
                }
            }
        }
        w.pos >= w.pages.len()
    }

    /// Calls `f` with every handle in the pages `w` has walked so far in its current list
    /// (all of them for a walk that has taken one step).
    pub fn walked_handles(&self, w: &PageWalk, mut f: impl FnMut(u32)) {
        for &p in &w.pages[..w.pos] {
            if let Some(page) = self.pages.get(p as usize) {
                page.entries().for_each(|(_, h)| f(h));
            }
        }
    }

    /// Entries moved since the walk's last look: re-reads the matching pages, keeping those
    /// at or past the frontier, those below it stamped since, and re-walks still pending.
    fn look_again(&self, w: &mut PageWalk) {
        let pending = w.pages[w.pos..].iter().copied();
        let pending: Vec<u32> = pending.filter(|&p| p < w.frontier).collect();
        let stamped = |p: u32| {
            self.pages
                .get(p as usize)
                .is_some_and(|page| page.stamp > w.moves_seen)
        };
        let mut pages: Vec<u32> = self
            .matching_pages(&w.query)
            .into_iter()
            .filter(|&p| p >= w.frontier || stamped(p))
            .chain(pending)
            .collect();
        pages.sort_unstable();
        pages.dedup();
        w.pages = pages;
        w.pos = 0;
        w.moves_seen = self.moves;
    }
}
