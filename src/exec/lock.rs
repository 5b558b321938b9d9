//! The data lock: a read-write lock over the [`Db`] that knows whether a writer is waiting
//! for it, so a long search walk holds it for one batch at a time only while somebody waits
//! (and goes on in the same hold otherwise, without paying to resume).
//!
//! Owns the lock and the count of waiting writers; knows nothing of commands. Every writer
//! goes through [`DataLock::write`], or the walks would not make room for it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::store::Db;

#[derive(Default)]
pub struct DataLock {
    db: RwLock<Db>,
    /// Writers between asking for the lock and getting it.
    waiting: AtomicUsize,
    /// The longest a writer waited for it, in microseconds (INFO `lock_max_write_wait_us`).
    max_wait_us: AtomicU64,
}

impl DataLock {
    pub fn read(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read()
    }

    /// The write lock, counted as waited for until it is taken: a walk holding the read lock
    /// sees the count at its next batch and releases it.
    pub fn write(&self) -> RwLockWriteGuard<'_, Db> {
        if let Some(g) = self.db.try_write() {
            return g;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let asked = Instant::now();
        let g = self.db.write();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let us = asked.elapsed().as_micros() as u64;
        self.max_wait_us.fetch_max(us, Ordering::Relaxed);
        g
    }

    /// The longest a writer waited for the lock, in microseconds.
    pub fn max_write_wait_us(&self) -> u64 {
        self.max_wait_us.load(Ordering::Relaxed)
    }

    /// True while a writer waits for the lock.
    pub fn writer_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }
}
