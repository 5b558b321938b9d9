//! The read path: a read command under one hold of the data read lock, a search's walk in
//! holds (pending between them when a connection loop drives it), and the batches of a
//! streamed reply. A `TIMEOUT` deadline travels in [`StreamLimits`]. Takes only the read
//! lock; knows no wire format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{now_ms, off_worker, Outcome, PendingWalk, Server};
use crate::cmd::{self, Args, ReadCtx, Session, StreamLimits};
use crate::error::CmdResult;
use crate::protocol::{OutputFormat, Reply, SearchItem, SearchStream};
use crate::store::Db;

impl Server {
    /// Runs a read command under one hold of the read lock; past its deadline, `timeout`.
    pub(super) fn read(
        &self,
        f: cmd::ReadFn,
        args: &mut Args,
        session: &Session,
        deadline: Option<Instant>,
    ) -> CmdResult<Reply> {
        // Read before the data lock is taken, to keep its hold short.
        let stream = StreamLimits {
            deadline,
            ..self.stream_limits()
        };
        let db = self.db.read();
        let ctx = ReadCtx {
            now_ms: now_ms(),
            host: self,
            output: session.output,
            stream,
        };
        let result = f(&db, args, &ctx);
        drop(db);
        ctx.check_deadline()?;
        if let Ok(Reply::Stream(_)) = result {
            self.counters
                .streamed_replies
                .fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// The search batching limits from the running config.
    pub fn stream_limits(&self) -> StreamLimits {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StreamLimits {
            batch_items: load(&self.hot.batch_items) as usize,
            batch_bytes: load(&self.hot.batch_bytes),
            max_hits: load(&self.hot.max_hits),
            walk_batch: load(&self.hot.walk_batch) as usize,
            walk_yield_always: self.hot.walk_yield_always.load(Ordering::Relaxed),
            hold_for: None,
            deadline: None,
        }
    }

    /// Runs a search that walks in steps (`cmd::walk`): one read-lock hold per step of at
    /// most `search-walk-batch` walked entries, the lock released in between. With
    /// [`Session::step_walks`] a walk that needs more than its first hold is returned pending;
    /// otherwise its holds run here.
    pub(super) fn walk_search(
        &self,
        f: cmd::WalkFn,
        args: &mut Args,
        session: &Session,
        deadline: Option<Instant>,
    ) -> CmdResult<Outcome> {
        let stream = StreamLimits {
            hold_for: session.step_walks,
            deadline,
            ..self.stream_limits()
        };
        let output = session.output;
        let walk = match self.walk_hold(output, stream, |db, ctx| f(db, args, ctx))? {
            cmd::walk::Walked::Done(reply) => return Ok(self.walk_done(reply)),
            cmd::walk::Walked::More(walk) => walk,
        };
        let pending = Outcome::pending(Box::new(PendingWalk {
            walk,
            output,
            json: output == OutputFormat::Json,
            stream,
            counted: false,
        }));
        if session.step_walks.is_some() {
            return Ok(pending);
        }
        // Past its first hold a walk may take a while (callers without a connection loop):
        // off a runtime worker, so another thread goes on polling the sockets (and a
        // writer's request gets to wait for the lock, which is what makes the walk release
        // it).
        Ok(off_worker(|| {
            let mut outcome = pending;
            while let Some(walk) = outcome.walk.take() {
                outcome = self.resume_walk(*walk);
            }
            outcome
        }))
    }

    /// Takes the next hold of a walk [`Server::execute`] left pending: its outcome, with the
    /// walk pending again if it is still not done. One hold per call, so a connection loop
    /// serves its other connections in between.
    pub fn resume_walk(&self, p: PendingWalk) -> Outcome {
        let PendingWalk {
            walk,
            output,
            json,
            stream,
            counted,
        } = p;
        let holds = if counted { 1 } else { 2 };
        self.counters.walk_holds.fetch_add(holds, Ordering::Relaxed);
        match self.walk_hold(output, stream, |db, ctx| walk.resume(db, ctx)) {
            Ok(cmd::walk::Walked::Done(reply)) => self.walk_done(reply),
            Ok(cmd::walk::Walked::More(walk)) => Outcome::pending(Box::new(PendingWalk {
                walk,
                output,
                json,
                stream,
                counted: true,
            })),
            Err(e) => self.error_outcome(&e, json),
        }
    }

    /// The outcome of a finished walk, counted if it streams.
    fn walk_done(&self, reply: Reply) -> Outcome {
        if let Reply::Stream(_) = reply {
            self.counters
                .streamed_replies
                .fetch_add(1, Ordering::Relaxed);
        }
        Outcome::reply(reply)
    }

    /// Runs one step of a walk under one hold of the read lock, timing the hold.
    fn walk_hold<R>(
        &self,
        output: OutputFormat,
        stream: StreamLimits,
        step: impl FnOnce(&Db, &ReadCtx) -> R,
    ) -> R {
        let db = self.db.read();
        let held = Instant::now();
        let ctx = ReadCtx {
            now_ms: now_ms(),
            host: self,
            output,
            stream,
        };
        let result = step(&db, &ctx);
        let us = held.elapsed().as_micros() as u64;
        drop(db);
        // Checked before the write: a read leaves the line shared between the workers.
        if us > self.counters.walk_max_hold_us.load(Ordering::Relaxed) {
            self.counters
                .walk_max_hold_us
                .fetch_max(us, Ordering::Relaxed);
        }
        result
    }

    /// Renders the next batch of a streamed search under one read-lock hold (the connection
    /// encodes and writes it with the lock released). Objects deleted or changed since the
    /// search's walk are left out. Returns no items once [`cmd::stream::is_done`].
    pub fn stream_batch(&self, s: &mut SearchStream) -> Vec<SearchItem> {
        if cmd::stream::is_done(s) {
            return Vec::new();
        }
        let limits = self.stream_limits();
        let now = now_ms();
        let db = self.db.read();
        let held = Instant::now();
        let items = cmd::stream::render_batch(&db, s, now, limits);
        let us = held.elapsed().as_micros() as u64;
        // Counted before the lock is released, so a client that sees the count after its
        // write knows which batches were rendered before that write.
        self.counters.stream_batches.fetch_add(1, Ordering::Relaxed);
        drop(db);
        self.counters
            .stream_max_batch_hold_us
            .fetch_max(us, Ordering::Relaxed);
        items
    }
}
