//! The walk of SCAN, SEARCH, NEARBY, WITHIN and INTERSECTS (SPARSE too) in steps of at most
//! `search-walk-batch` walked entries (objects for SCAN and NEARBY, index entries for the area
//! searches, cells and index entries for SPARSE; hits or not), so that
//! exec can release the read lock between steps: a walk that fits one step answers
//! [`Walked::Done`] in the same single hold as always; a longer one answers
//! [`Walked::More`], and exec calls [`SearchWalk::resume`] under a new hold until done.
//!
//! The hits of every step go to the same [`ResultWriter`] (first batch rendered, the rest kept
//! as `HitRef`s and streamed afterwards), and CURSOR/LIMIT count walked hits across steps, so
//! with no concurrent writes the reply and its cursor are those of a one-step walk.
//! SCAN resumes strictly after (ASC) or before (DESC) the last id it walked: exact. SEARCH
//! resumes after the last (value, id) it walked, with the area walks' guarantee (a value can
//! change and move an object past that point), and NEARBY after the last (distance, id) it
//! walked, with the same guarantee (an object can move). The area
//! searches resume a [`crate::store::walk::AreaWalk`], whose guarantee (objects present and
//! unchanged throughout yielded exactly once, nothing twice) is stated in `store/walk.rs`; a
//! walk that cannot keep it starts over in one step. A walk whose key was dropped or
//! replaced meanwhile ends with the hits it has (read-committed). Pure: no locks, no IO.

use std::ops::ControlFlow;

use super::scan::{ResultWriter, SearchOpts};
use super::sparse::SparseWalk;
use super::ReadCtx;
use crate::error::CmdResult;
use crate::geo::Area;
use crate::protocol::Reply;
use crate::store::walk::{AreaWalk, Budget, NearWalk, Step, ValueWalk};
use crate::store::{Collection, Db, ObjRef};

/// What a walk step produced.
pub enum Walked {
    Done(Reply),
    /// Not finished: release the lock, then [`SearchWalk::resume`].
    More(Box<SearchWalk>),
}

/// A walk between two steps (it owns everything it needs).
pub type SearchWalk = Walk<'static>;

/// How a walk goes through the collection.
pub enum Order {
    /// Id order; `after` is the last id walked.
    Scan { desc: bool, after: Option<String> },
    /// The STRING objects in (value, id) order.
    Values(ValueWalk),
    /// The spatial objects in (distance, id) order from a point, up to `meters` if given;
    /// `distance` reports each hit's. `total` is the number of spatial objects when the walk
    /// started: without a radius every one is a hit, so once that many were walked the walk
    /// is known complete without looking for a next.
    Nearby {
        walk: NearWalk,
        meters: Option<f64>,
        distance: bool,
        total: u64,
    },
    /// SPARSE: one object from each cell of the area's box split `depth` times.
    Sparse(Box<SparseWalk>),
    /// The objects whose box meets the area's, tested exactly.
    Area {
        area: Area,
        within: bool,
        walk: Option<AreaWalk>,
    },
}

/// A search's walk: its options, where it stands and what it has found.
pub struct Walk<'k> {
    uid: u64,
    opts: SearchOpts,
    sink: Sink<'k>,
    order: Order,
}

/// The hits found so far, counted as `collect` counts them.
struct Sink<'k> {
    w: ResultWriter<'k>,
    /// Hits skipped for CURSOR so far.
    skipped: u64,
    /// The cursor to answer: CURSOR plus the hits walked after it.
    walked: u64,
    /// The limit was reached with another hit left.
    more: bool,
}

impl Sink<'_> {
    fn offer(
        &mut self,
        opts: &SearchOpts,
        (id, obj, distance): (&str, ObjRef<'_>, Option<f64>),
        now: i64,
    ) -> ControlFlow<()> {
        if self.skipped < opts.cursor {
            self.skipped += 1;
            return ControlFlow::Continue(());
        }
        if self.w.full() {
            self.more = true;
            return ControlFlow::Break(());
        }
        self.walked += 1;
        if !obj.is_expired(now) && opts.accepts(id, obj) {
            self.w.push(id, obj, distance);
        }
        ControlFlow::Continue(())
    }
}

/// Starts the walk of `col` in `order`, filling `w`, and takes its first step.
pub fn start(
    col: &Collection,
    opts: SearchOpts,
    w: ResultWriter<'_>,
    order: Order,
    ctx: &ReadCtx,
) -> CmdResult<Walked> {
    let walked = opts.cursor;
    let walk = Walk {
        uid: col.uid(),
        opts,
        sink: Sink {
            w,
            skipped: 0,
            walked,
            more: false,
        },
        order,
    };
    walk.run(col, ctx, true)
}

impl SearchWalk {
    /// The next step, under a new hold of the read lock.
    pub fn resume(self: Box<Self>, db: &Db, ctx: &ReadCtx) -> CmdResult<Walked> {
        match db.get(self.sink.w.key()) {
            Some(col) if col.uid() == self.uid => self.run(col, ctx, false),
            // Dropped or replaced: the walk ends with what it found.
            _ => Ok(Walked::Done(self.finish(ctx)?)),
        }
    }

    /// Runs the walk to its end without releasing anything (tests).
    pub fn complete(self: Box<Self>, db: &Db, ctx: &ReadCtx) -> CmdResult<Reply> {
        let mut step = self.resume(db, ctx)?;
        loop {
            match step {
                Walked::Done(r) => return Ok(r),
                Walked::More(w) => step = w.resume(db, ctx)?,
            }
        }
    }
}

impl Walked {
    /// The reply, walking to the end in this hold if needed (tests).
    pub fn complete(self, db: &Db, ctx: &ReadCtx) -> CmdResult<Reply> {
        match self {
            Walked::Done(r) => Ok(r),
            Walked::More(w) => w.complete(db, ctx),
        }
    }
}

impl<'k> Walk<'k> {
    /// One step: `search-walk-batch` entries, and a later step (not the first, which would
    /// have to record all it walked) goes on a batch at a time until a writer waits.
    /// A step past the `TIMEOUT` deadline fails with `timeout`, and a later step ends at it.
    fn run(mut self, col: &Collection, ctx: &ReadCtx, first: bool) -> CmdResult<Walked> {
        ctx.check_deadline()?;
        let batch = ctx.stream.walk_batch;
        // A later step only: the first is one batch, and most searches end in it.
        let started = (!first && ctx.stream.hold_for.is_some()).then(std::time::Instant::now);
        let in_time = || match (started, ctx.stream.hold_for) {
            (Some(t), Some(d)) => t.elapsed() < d,
            _ => true,
        };
        let no_writer = || !ctx.host.writer_waiting() && in_time() && ctx.check_deadline().is_ok();
        let budget = if first || ctx.stream.walk_yield_always {
            Budget::from(batch)
        } else {
            Budget::extensible(batch, &no_writer)
        };
        let step = self.step(col, ctx, budget);
        ctx.check_deadline()?;
        match step {
            Step::Done => Ok(Walked::Done(self.finish(ctx)?)),
            Step::More => Ok(Walked::More(Box::new(self.into_owned()))),
            Step::Lost => {
                // Too many inserts between two steps to keep the guarantee: start over, in
                // this hold and to the end.
                ctx.host.note_walk_restart();
                self.restart(col);
                let step = self.step(col, ctx, Budget::from(usize::MAX));
                debug_assert_eq!(step, Step::Done);
                ctx.check_deadline()?;
                Ok(Walked::Done(self.finish(ctx)?))
            }
        }
    }

    fn step(&mut self, col: &Collection, ctx: &ReadCtx, budget: Budget) -> Step {
        let Walk {
            opts, sink, order, ..
        } = self;
        let now = ctx.now_ms;
        match order {
            Order::Scan { desc, after } => scan_step(col, *desc, after, budget, |id, o| {
                sink.offer(opts, (id, o, None), now)
            }),
            Order::Values(walk) => {
                col.value_walk_step(walk, budget, |id, o| sink.offer(opts, (id, o, None), now))
            }
            Order::Nearby {
                walk,
                meters,
                distance,
                total,
            } => col.near_walk_step(walk, budget, |id, o, d| {
                if meters.is_some_and(|m| d > m) {
                    return ControlFlow::Break(());
                }
                sink.offer(opts, (id, o, distance.then_some(d)), now)?;
                if meters.is_none() && sink.w.full() {
                    // Every spatial object is a hit: more are left unless all were walked.
                    sink.more = sink.walked < *total;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            }),
            Order::Sparse(walk) => walk.step(col, budget, now, |id, o, d| {
                sink.offer(opts, (id, o, d), now)
            }),
            Order::Area { area, within, walk } => {
                let walk = walk.get_or_insert_with(|| col.area_walk(&area.bbox()));
                col.area_walk_step(walk, budget, |id, o| {
                    let hit = o.geometry().is_some_and(|g| match within {
                        true => area.contains(&g),
                        false => area.intersects(&g),
                    });
                    if hit {
                        sink.offer(opts, (id, o, None), now)
                    } else {
                        ControlFlow::Continue(())
                    }
                })
            }
        }
    }

    fn restart(&mut self, _col: &Collection) {
        self.sink.w.clear();
        self.sink.skipped = 0;
        self.sink.walked = self.opts.cursor;
        self.sink.more = false;
        match &mut self.order {
            Order::Scan { after, .. } => *after = None,
            Order::Values(walk) => *walk = ValueWalk::new(walk.rev()),
            Order::Nearby { walk, .. } => {
                let (lat, lon) = walk.point();
                *walk = NearWalk::new(lat, lon);
            }
            Order::Sparse(walk) => walk.restart(),
            Order::Area { walk, .. } => *walk = None,
        }
    }

    fn finish(self, ctx: &ReadCtx) -> CmdResult<Reply> {
        if let Some(e) = self.opts.script_error() {
            return Err(e);
        }
        let cursor = if self.sink.more { self.sink.walked } else { 0 };
        self.sink.w.finish(cursor, ctx.host)
    }

    fn into_owned(self) -> SearchWalk {
        Walk {
            uid: self.uid,
            opts: self.opts,
            sink: Sink {
                w: self.sink.w.into_owned(),
                skipped: self.sink.skipped,
                walked: self.sink.walked,
                more: self.sink.more,
            },
            order: self.order,
        }
    }
}

/// Walks up to `budget` objects in id order after (or, DESC, before) `after`.
fn scan_step<'a>(
    col: &'a Collection,
    desc: bool,
    after: &mut Option<String>,
    mut budget: Budget,
    mut f: impl FnMut(&'a str, ObjRef<'a>) -> ControlFlow<()>,
) -> Step {
    let from = after.take();
    let iter: Box<dyn Iterator<Item = (&'a str, ObjRef<'a>)>> = if desc {
        Box::new(col.iter_rev_from(from.as_deref()))
    } else {
        Box::new(col.iter_from(from.as_deref()))
    };
    let mut last = None;
    for (n, (id, obj)) in iter.enumerate() {
        if budget.spent(n) {
            *after = last.map(str::to_string);
            return Step::More;
        }
        last = Some(id);
        if f(id, obj).is_break() {
            return Step::Done;
        }
    }
    Step::Done
}
