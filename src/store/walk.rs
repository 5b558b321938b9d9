//! Resumable walks over a collection, a bounded number of entries per step, with the
//! collection free to change between steps (exec releases the read lock in between): area
//! walks (the objects whose box meets a rectangle, by index page), value walks (the STRING
//! objects in (value, id) order, for SEARCH) and nearest walks (the spatial objects in
//! (distance, id) order from a point, for NEARBY). SCAN needs nothing of this: it resumes after
//! the last id it walked (`Collection::iter_from`), which is exact, since an id cannot move.
//!
//! **Guarantee:** an object present and unchanged for the whole walk is yielded exactly once;
//! an object inserted, changed or deleted during the walk may or may not be yielded, and no
//! handle, and no id, is yielded twice. How:
//! - the page walk (`index_walk.rs`) yields every entry that stays put or is moved by a split
//!   at least once; the value and nearest walks resume after the last (value, id) or
//!   (distance, id) they walked, where an unchanged object keeps its place;
//! - from the second step on, a visited bitset over handles (one bit per slab slot, allocated
//!   only once a walk needs a second step) drops repeats;
//! - an id keeps its handle while it exists (SET of an existing id replaces the slot's data in
//!   place), so an id could come back under another handle only by being deleted and
//!   inserted again; the collection logs the handles it allocates (only once some walk has
//!   asked, in a ring of [`ALLOC_LOG`]), and each step first marks the handles allocated since
//!   the previous one as visited: objects inserted during the walk are never yielded, so
//!   neither is an id twice. If more than [`ALLOC_LOG`] handles were allocated between two
//!   steps the walk cannot tell which, and the step answers [`Step::Lost`]: the caller starts
//!   over (exec does, in one hold).

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use super::index::PageWalk;
use super::{Collection, ObjRef};
use crate::geo::Rect;

/// Handles a collection remembers allocating, for walks that resume: more between two steps
/// of one walk make it start over.
pub const ALLOC_LOG: usize = 8192;

/// The handles a collection allocated lately (kept only once a walk has asked).
#[derive(Debug, Default)]
pub struct AllocLog {
    /// Handles allocated ever.
    count: u64,
    /// Set by a walk (under the read lock, hence atomic) that needs the log.
    wanted: AtomicBool,
    recent: VecDeque<u32>,
}

impl AllocLog {
    /// Records that `h` was handed out to a new object.
    pub fn note(&mut self, h: u32) {
        self.count += 1;
        if *self.wanted.get_mut() {
            if self.recent.len() == ALLOC_LOG {
                self.recent.pop_front();
            }
            self.recent.push_back(h);
        }
    }

    /// The handles allocated since `count` was `since`, or None if the log does not reach.
    fn since(&self, since: u64) -> Option<impl Iterator<Item = u32> + '_> {
        let n = usize::try_from(self.count - since).ok()?;
        if n > self.recent.len() {
            return None;
        }
        Some(self.recent.iter().skip(self.recent.len() - n).copied())
    }
}

/// One bit per handle.
#[derive(Debug, Default, Clone)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn with_span(span: usize) -> Bitset {
        Bitset(vec![0; span.div_ceil(64)])
    }

    /// Sets bit `h`; returns whether it was set already.
    fn test_and_set(&mut self, h: u32) -> bool {
        let (word, bit) = ((h / 64) as usize, 1u64 << (h % 64));
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let was = self.0[word] & bit != 0;
        self.0[word] |= bit;
        was
    }
}

/// The handles a walk must not yield again, kept from the end of its first step on (a walk
/// done in one step needs none): those it walked, and those allocated since it started.
#[derive(Debug, Default, Clone)]
struct Visited {
    seen: Option<Bitset>,
    allocs_seen: u64,
}

impl Visited {
    /// At the start of a step: marks the handles allocated since the last one. False when
    /// the log no longer reaches back that far (the walk is lost).
    fn catch_up(&mut self, allocs: &AllocLog) -> bool {
        let Some(seen) = &mut self.seen else {
            return true;
        };
        let Some(fresh) = allocs.since(self.allocs_seen) else {
            return false;
        };
        fresh.for_each(|h| {
            seen.test_and_set(h);
        });
        true
    }

    /// True when `h` was walked before; marks it. Always false during the first step.
    fn test_and_set(&mut self, h: u32) -> bool {
        self.seen.as_mut().is_some_and(|v| v.test_and_set(h))
    }

    /// At the end of a step the walk goes on from: the first time, starts the bitset with
    /// the handles `first_step` marks (everything walked so far) and asks for the log.
    fn step_ends(&mut self, col: &Collection, first_step: impl FnOnce(&mut Bitset)) {
        let allocs = col.alloc_log();
        if self.seen.is_none() {
            let mut v = Bitset::with_span(col.handle_span());
            first_step(&mut v);
            self.seen = Some(v);
            allocs.wanted.store(true, Ordering::Relaxed);
        }
        self.allocs_seen = allocs.count;
    }
}

/// Where an area walk stands.
#[derive(Debug, Clone)]
pub struct AreaWalk {
    pages: PageWalk,
    visited: Visited,
}

/// How far one step may walk: `batch` entries, then `batch` more at a time for as long as
/// the caller's `go_on` agrees (it answers whether anybody waits for the data lock; the store
/// knows no locks). A number is a fixed budget.
pub struct Budget<'a> {
    /// Entries walked before the next question.
    until: usize,
    batch: usize,
    go_on: Option<&'a dyn Fn() -> bool>,
}

impl<'a> Budget<'a> {
    /// `batch` entries, and more while `go_on()`.
    pub fn extensible(batch: usize, go_on: &'a dyn Fn() -> bool) -> Budget<'a> {
        Budget {
            go_on: Some(go_on),
            ..Budget::from(batch)
        }
    }

    /// True when a step that has walked `walked` entries must end here.
    pub fn spent(&mut self, walked: usize) -> bool {
        if walked < self.until {
            return false;
        }
        match self.go_on {
            Some(go_on) if go_on() => {
                self.until = walked.saturating_add(self.batch);
                false
            }
            _ => true,
        }
    }
}

impl From<usize> for Budget<'_> {
    fn from(batch: usize) -> Self {
        let batch = batch.max(1);
        Budget {
            until: batch,
            batch,
            go_on: None,
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The walk is complete (or the callback broke it off).
    Done,
    /// Call `area_walk_step` again (after releasing the lock, as the caller likes).
    More,
    /// Too many inserts since the last step to keep the guarantee: start over.
    Lost,
}

impl Collection {
    /// A walk of the objects whose box may meet `rect` (candidates for an exact test).
    pub fn area_walk(&self, rect: &Rect) -> AreaWalk {
        AreaWalk {
            pages: self.index().page_walk(rect),
            visited: Visited::default(),
        }
    }

    /// Walks whole index pages until at least `budget` entries were walked, calling `f` for
    /// each candidate not yielded before (see the module doc).
    pub fn area_walk_step<'a, 'b>(
        &'a self,
        w: &mut AreaWalk,
        budget: impl Into<Budget<'b>>,
        mut f: impl FnMut(&'a str, ObjRef<'a>) -> ControlFlow<()>,
    ) -> Step {
        if !w.visited.catch_up(self.alloc_log()) {
            return Step::Lost;
        }
        let visited = &mut w.visited;
        let done = self.index().walk_step(&mut w.pages, budget, |h| {
            if visited.test_and_set(h) {
                return ControlFlow::Continue(());
            }
            let (id, obj) = self.entry(h);
            f(id, obj)
        });
        if done {
            return Step::Done;
        }
        let pages = &w.pages;
        w.visited.step_ends(self, |v| {
            self.index().walked_handles(pages, |h| {
                v.test_and_set(h);
            })
        });
        Step::More
    }
}

/// Where a walk of the STRING objects in (value, id) order stands (SEARCH). It resumes after
/// the last key it walked; an object whose value changes keeps its handle and can move past
/// that key, so from the second step on the same visited bitset and allocation log as an
/// area walk keep the guarantee of the module doc.
#[derive(Debug, Clone)]
pub struct ValueWalk {
    rev: bool,
    /// The last (value, id) walked.
    after: Option<(String, String)>,
    visited: Visited,
}

impl ValueWalk {
    pub fn rev(&self) -> bool {
        self.rev
    }

    pub fn new(rev: bool) -> ValueWalk {
        ValueWalk {
            rev,
            after: None,
            visited: Visited::default(),
        }
    }
}

impl Collection {
    /// Walks up to `budget` STRING objects in (value, id) order after the last one walked,
    /// calling `f` for each not yielded before (see the module doc).
    pub fn value_walk_step<'a, 'b>(
        &'a self,
        w: &mut ValueWalk,
        budget: impl Into<Budget<'b>>,
        mut f: impl FnMut(&'a str, ObjRef<'a>) -> ControlFlow<()>,
    ) -> Step {
        if !w.visited.catch_up(self.alloc_log()) {
            return Step::Lost;
        }
        let mut budget = budget.into();
        let from = w.after.take();
        let from_ref = from.as_ref().map(|(v, id)| (v.as_str(), id.as_str()));
        // The handles walked, to mark as visited if the first step is not the last.
        let mut walked = Vec::new();
        let mut handles = self.value_handles(w.rev, from_ref).peekable();
        for h in handles.by_ref() {
            let (id, obj) = self.entry(h);
            walked.push(h);
            w.after = Some((obj.as_str().unwrap_or_default().into(), id.into()));
            if !w.visited.test_and_set(h) && f(id, obj).is_break() {
                return Step::Done;
            }
            if budget.spent(walked.len()) {
                break;
            }
        }
        if handles.peek().is_none() {
            return Step::Done;
        }
        w.visited.step_ends(self, |v| {
            walked.iter().for_each(|&h| {
                v.test_and_set(h);
            })
        });
        Step::More
    }
}

/// Where a NEARBY walk stands: the spatial objects in (distance, id) order from a point. It
/// resumes after the last (distance, id) it walked with a fresh best-first walk that skips
/// the subtrees wholly nearer than that distance (so a step costs its own entries plus the
/// ring of pages around the distance reached); an object that moves keeps its handle and can
/// land past that point, so from the second step on the visited bitset and allocation log
/// keep the guarantee of the module doc.
#[derive(Debug, Clone)]
pub struct NearWalk {
    lat: f64,
    lon: f64,
    /// The last (distance, id) walked.
    after: Option<(f64, String)>,
    visited: Visited,
}

impl NearWalk {
    pub fn new(lat: f64, lon: f64) -> NearWalk {
        NearWalk {
            lat,
            lon,
            after: None,
            visited: Visited::default(),
        }
    }

    pub fn point(&self) -> (f64, f64) {
        (self.lat, self.lon)
    }
}

/// True when `(d, id)` is at or before `after`, the last (distance, id) walked.
fn passed(after: &Option<(f64, String)>, d: f64, id: &str) -> bool {
    after
        .as_ref()
        .is_some_and(|(ad, aid)| d.total_cmp(ad).then_with(|| id.cmp(aid)).is_le())
}

impl Collection {
    /// Walks up to `budget` spatial objects in (distance, id) order after the last one walked,
    /// calling `f` with each not yielded before and its distance (see the module doc).
    pub fn near_walk_step<'a, 'b>(
        &'a self,
        w: &mut NearWalk,
        budget: impl Into<Budget<'b>>,
        mut f: impl FnMut(&'a str, ObjRef<'a>, f64) -> ControlFlow<()>,
    ) -> Step {
        if !w.visited.catch_up(self.alloc_log()) {
            return Step::Lost;
        }
        let mut budget = budget.into();
        let floor = w.after.as_ref().map(|(d, _)| *d);
        let (mut walked, mut last) = (0, None);
        let mut near = self.nearby_handles(w.lat, w.lon, floor).peekable();
        for (h, d) in near.by_ref() {
            let (id, obj) = self.entry(h);
            if passed(&w.after, d, id) {
                continue;
            }
            walked += 1;
            last = Some((d, id));
            if !w.visited.test_and_set(h) && f(id, obj, d).is_break() {
                return Step::Done;
            }
            if budget.spent(walked) {
                break;
            }
        }
        if near.peek().is_none() {
            return Step::Done;
        }
        w.after = last.map(|(d, id)| (d, id.to_string()));
        // The first step's handles are those up to where it stopped: walked again (once per
        // walk, and only for a walk that goes on) rather than recorded by every NEARBY.
        let (lat, lon, after) = (w.lat, w.lon, &w.after);
        w.visited.step_ends(self, |v| {
            self.nearby_handles(lat, lon, None)
                .take_while(|&(h, d)| passed(after, d, self.entry(h).0))
                .for_each(|(h, _)| {
                    v.test_and_set(h);
                })
        });
        Step::More
    }
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
