//! The AOF rewrite driver (AOFSHRINK and the automatic trigger): a fuzzy snapshot of the data
//! set taken in small chunks under the data read lock, followed by the live AOF's tail copied
//! from disk, swapped in by `Aof::install`.
//!
//! Why a fuzzy snapshot is correct: every logged record is canonical and absolute per object
//! (`SET … REPLACE … PXAT`, `DEL`, `PDEL`, `DROP`, `FLUSHDB`, per-field `FSET`, `PEXPIREAT`,
//! `PERSIST`). The snapshot of each object reflects its state at some instant after the mark,
//! and the copied tail holds every record from the mark on; replaying those records over any
//! such state converges to the live state. The one record that is not per object is `RENAME`
//! (it moves objects between keys the walk may already have passed), so a rename during the
//! walk restarts the rewrite.
//!
//! Bounded memory: one chunk of cloned objects (`aof-rewrite-chunk-objects` /
//! `aof-rewrite-chunk-bytes`), the temp file's write buffer and one copy buffer. Writes that
//! arrive meanwhile are read back from the live file, never queued.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use compact_str::CompactString;
use parking_lot::{Condvar, Mutex};

use super::Server;
use crate::aof::{self, Aof, RewriteFile};
use crate::cmd::keys::snapshot_set_args;
use crate::cmd::RewriteInfo;
use crate::store::{Db, Object};

/// Renames during the walk restart it; after this many attempts the rewrite reports failure.
const MAX_ATTEMPTS: u32 = 3;
/// Catch-up copies of the live tail before the final swap; the swap copies the rest.
const CATCH_UP_ROUNDS: u32 = 8;
/// A tail this small is left for the swap to copy while appends wait.
const SWAP_TAIL_BYTES: u64 = 256 * 1024;
/// After a failed automatic rewrite, wait this long before the trigger may fire again.
const AUTO_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Rewrite state shared by the worker, AOFSHRINK and INFO.
#[derive(Default)]
pub struct RewriteState {
    wake: Condvar,
    inner: Mutex<StateInner>,
}

#[derive(Default)]
struct StateInner {
    scheduled: bool,
    running_since: Option<Instant>,
    last_failure: Option<Instant>,
    /// AOF size after the last rewrite or at startup: the automatic trigger's baseline.
    base_size: u64,
    info: RewriteInfo,
}

/// Why a walk stopped early.
enum Abort {
    Renamed,
    Io(std::io::Error),
}

impl From<std::io::Error> for Abort {
    fn from(e: std::io::Error) -> Abort {
        Abort::Io(e)
    }
}

/// Where the walk is: inside `key` after `after_id`, or (key None) before the first key after
/// `prev_key`.
#[derive(Default)]
struct WalkCursor {
    prev_key: Option<CompactString>,
    key: Option<CompactString>,
    after_id: Option<CompactString>,
}

/// What one walk produced.
#[derive(Default)]
struct WalkStats {
    chunks: u64,
    objects: u64,
    max_hold: Duration,
    /// The final swap, during which appends wait.
    swap: Duration,
}

/// One chunk of copied objects.
type Chunk = Vec<(CompactString, CompactString, Object)>;

impl RewriteState {
    /// Sets the automatic trigger's baseline (the AOF size at startup).
    pub fn set_base_size(&self, size: u64) {
        self.inner.lock().base_size = size;
    }

    /// The numbers INFO shows.
    pub fn info(&self) -> RewriteInfo {
        let g = self.inner.lock();
        let mut info = g.info.clone();
        info.scheduled = g.scheduled;
        info.in_progress = g.running_since.is_some();
        info.current_ms = g
            .running_since
            .map_or(-1, |t| t.elapsed().as_millis() as i64);
        info.base_size = g.base_size;
        info
    }
}

impl Server {
    /// AOFSHRINK: schedules a rewrite for the worker. A second request while one is scheduled
    /// or running changes nothing.
    pub fn schedule_rewrite(&self) {
        let mut g = self.rewrite.inner.lock();
        if g.running_since.is_none() {
            g.scheduled = true;
            self.rewrite.wake.notify_one();
        }
    }

    /// The rewrite worker: runs scheduled rewrites and fires the automatic trigger. Blocking;
    /// runs on its own thread for the life of the process.
    pub fn rewrite_worker(&self) {
        loop {
            {
                let mut g = self.rewrite.inner.lock();
                if !g.scheduled {
                    self.rewrite
                        .wake
                        .wait_for(&mut g, Duration::from_millis(500));
                }
            }
            let Some(aof) = self.aof() else { continue };
            if self.is_loading() || !(self.take_scheduled() || self.auto_rewrite_due(&aof)) {
                continue;
            }
            self.run_rewrite(&aof);
        }
    }

    fn take_scheduled(&self) -> bool {
        std::mem::take(&mut self.rewrite.inner.lock().scheduled)
    }

    /// Redis's rule: the AOF is at least the minimum size and has grown by the percentage
    /// since the last rewrite (or startup).
    fn auto_rewrite_due(&self, aof: &Aof) -> bool {
        let (pct, min) = {
            let cfg = self.config.read();
            (
                cfg.auto_aof_rewrite_percentage,
                cfg.auto_aof_rewrite_min_size,
            )
        };
        let g = self.rewrite.inner.lock();
        if pct == 0
            || g.last_failure
                .is_some_and(|t| t.elapsed() < AUTO_RETRY_AFTER)
        {
            return false;
        }
        let size = aof.size();
        let base = g.base_size;
        size >= min && size.saturating_sub(base) >= base.saturating_mul(pct) / 100
    }

    /// Runs one rewrite to completion and records the outcome.
    fn run_rewrite(&self, aof: &Aof) {
        let started = Instant::now();
        self.rewrite.inner.lock().running_since = Some(started);
        let before = aof.size();
        let result = self.rewrite_attempts(aof);
        let mut g = self.rewrite.inner.lock();
        g.running_since = None;
        let info = &mut g.info;
        info.last_duration_ms = started.elapsed().as_millis() as i64;
        match result {
            Ok((walk, written, restarts)) => {
                info.rewrites += 1;
                info.last_status_ok = true;
                info.last_max_hold_us = walk.max_hold.as_micros() as u64;
                info.last_swap_us = walk.swap.as_micros() as u64;
                info.last_chunks = walk.chunks;
                info.last_objects = walk.objects;
                info.last_bytes_written = written;
                info.last_restarts = restarts;
                g.base_size = written;
                g.last_failure = None;
                tracing::info!(
                    "AOF rewrite done in {:.3}s: {before} -> {written} bytes, {} objects in {} \
                     chunks, longest lock hold {} us, swap {} us",
                    started.elapsed().as_secs_f64(),
                    walk.objects,
                    walk.chunks,
                    walk.max_hold.as_micros(),
                    walk.swap.as_micros()
                );
            }
            Err((e, restarts)) => {
                info.failures += 1;
                info.last_restarts = restarts;
                info.last_status_ok = false;
                g.last_failure = Some(Instant::now());
                tracing::error!("AOF rewrite failed (the live AOF is unchanged): {e}");
            }
        }
    }

    /// Tries up to `MAX_ATTEMPTS` times (a rename during the walk restarts it).
    /// The error carries the number of restarts too.
    fn rewrite_attempts(&self, aof: &Aof) -> Result<(WalkStats, u64, u32), (String, u32)> {
        for attempt in 0..MAX_ATTEMPTS {
            match self.rewrite_once(aof) {
                Ok((walk, written)) => return Ok((walk, written, attempt)),
                Err(Abort::Renamed) => {
                    tracing::info!("AOF rewrite restarts: a RENAME ran during the walk");
                }
                Err(Abort::Io(e)) => return Err((e.to_string(), attempt)),
            }
        }
        Err((
            format!("gave up after {MAX_ATTEMPTS} attempts: RENAME kept running during the walk"),
            MAX_ATTEMPTS,
        ))
    }

    /// One attempt: mark, walk, write the position record, copy the tail, swap.
    fn rewrite_once(&self, aof: &Aof) -> Result<(WalkStats, u64), Abort> {
        let renames = self.renames.load(Ordering::Acquire);
        let mut live = std::fs::File::open(aof.path())?;
        let mut out = RewriteFile::create(aof.path())?;
        let mark = aof.mark();
        let mut walk = self.walk(&mut out, renames)?;
        out.write_raw(&aof::stream_record(aof.repl_id(), mark.stream_offset))?;
        let mut copied = mark.file_pos;
        for _ in 0..CATCH_UP_ROUNDS {
            let end = aof.size();
            if end <= copied + SWAP_TAIL_BYTES {
                break;
            }
            aof::rewrite::copy_range(&mut live, copied, end, &mut out)?;
            copied = end;
        }
        out.sync()?;
        let swap_started = Instant::now();
        let written = aof.install(out, copied)?;
        walk.swap = swap_started.elapsed();
        Ok((walk, written))
    }

    /// Writes a canonical SET for every object, chunk by chunk.
    fn walk(&self, out: &mut RewriteFile, renames: u64) -> Result<WalkStats, Abort> {
        let (max_objects, max_bytes) = {
            let cfg = self.config.read();
            (
                cfg.aof_rewrite_chunk_objects as usize,
                cfg.aof_rewrite_chunk_bytes as usize,
            )
        };
        let mut cursor = WalkCursor::default();
        let mut stats = WalkStats::default();
        let mut chunk: Chunk = Vec::with_capacity(max_objects.min(4096));
        loop {
            let (done, held) = {
                let db = self.db.read();
                let since = Instant::now();
                let done = next_chunk(&db, &mut cursor, max_objects, max_bytes, &mut chunk);
                (done, since.elapsed())
            };
            stats.max_hold = stats.max_hold.max(held);
            stats.chunks += 1;
            stats.objects += chunk.len() as u64;
            for (key, id, obj) in chunk.drain(..) {
                out.write_command(&snapshot_set_args(&key, &id, &obj))?;
            }
            if self.renames.load(Ordering::Acquire) != renames {
                return Err(Abort::Renamed);
            }
            if done {
                return Ok(stats);
            }
        }
    }
}

/// Copies the next objects (at most `max_objects`, and `max_bytes` of them unless a single
/// object is bigger) into `chunk`, advancing `cursor`. Returns true when the walk is complete.
fn next_chunk(
    db: &Db,
    cursor: &mut WalkCursor,
    max_objects: usize,
    max_bytes: usize,
    chunk: &mut Chunk,
) -> bool {
    let mut bytes = 0usize;
    loop {
        let key = match &cursor.key {
            Some(k) => k.clone(),
            None => match db.keys_after(cursor.prev_key.as_deref(), 1).pop() {
                Some(k) => {
                    cursor.key = Some(k.clone());
                    cursor.after_id = None;
                    k
                }
                None => return true,
            },
        };
        if let Some(col) = db.get(&key) {
            for (id, obj) in col.iter_from(cursor.after_id.as_deref()) {
                if chunk.len() >= max_objects || (bytes >= max_bytes && !chunk.is_empty()) {
                    return false;
                }
                bytes += obj.mem_size() + id.len();
                chunk.push((key.clone(), CompactString::from(id), obj.to_object()));
                cursor.after_id = Some(CompactString::from(id));
            }
        }
        cursor.prev_key = cursor.key.take();
        cursor.after_id = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Geometry;

    fn point(lat: f64) -> Object {
        Object::geo(Geometry::Point { lat, lon: 0.0 })
    }

    #[test]
    fn chunks_visit_every_object_once_in_key_then_id_order() {
        let mut db = Db::new();
        for key in ["a", "b", "c"] {
            for i in 0..5 {
                db.get_or_create(key)
                    .set(&format!("id{i}"), point(i as f64));
            }
        }
        let mut cursor = WalkCursor::default();
        let mut chunk = Chunk::new();
        let mut seen = Vec::new();
        let mut chunks = 0;
        loop {
            let done = next_chunk(&db, &mut cursor, 4, usize::MAX, &mut chunk);
            assert!(chunk.len() <= 4);
            chunks += 1;
            seen.extend(chunk.drain(..).map(|(k, id, _)| format!("{k}/{id}")));
            if done {
                break;
            }
        }
        let expected: Vec<String> = ["a", "b", "c"]
            .iter()
            .flat_map(|k| (0..5).map(move |i| format!("{k}/id{i}")))
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(chunks, 4);
    }

    #[test]
    fn the_byte_cap_ends_a_chunk_but_one_object_always_fits() {
        let mut db = Db::new();
        for i in 0..3 {
            db.get_or_create("k").set(&format!("{i}"), point(1.0));
        }
        let mut cursor = WalkCursor::default();
        let mut chunk = Chunk::new();
        assert!(!next_chunk(&db, &mut cursor, 100, 1, &mut chunk));
        assert_eq!(chunk.len(), 1);
    }
}
