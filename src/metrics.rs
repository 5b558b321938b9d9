//! Process-level measurements (resident memory) read from the OS, and counters cheap enough
//! to bump on every request.

/// Resident set size in bytes (Linux `/proc/self/statm`), or 0 where unavailable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Shards of a [`ShardedCounter`]: more than the worker threads of a small machine.
const SHARDS: usize = 8;

/// A counter bumped on every request by every worker thread. One shared `AtomicU64` would
/// move its cache line between cores on every increment; each thread adds to its own
/// cache-line-sized shard instead, and readers (INFO) sum the shards.
#[derive(Debug, Default)]
pub struct ShardedCounter {
    shards: [Shard; SHARDS],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

impl ShardedCounter {
    pub fn add(&self, n: u64) {
        self.shards[thread_shard()]
            .0
            .fetch_add(n, Ordering::Relaxed);
    }

    pub fn sum(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// This thread's shard, assigned round-robin on first use.
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharded_counter_sums_every_thread() {
        let c = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| (0..1000).for_each(|_| c.add(1)));
            }
        });
        c.add(5);
        assert_eq!(c.sum(), 12_005);
    }
}
