//! Busy-polling of a connection loop: after a batch of requests a busy loop keeps polling
//! its sockets (epoll with a zero timeout) for up to `loop-spin-us` before it sleeps.
//!
//! Why: a request that reaches a loop asleep in `epoll_wait` pays for waking its thread,
//! and on loopback the *sender* pays it (the kernel's wake-up runs in the client's `send`).
//! With the benchmark client on the same 2-core box, the client's CPU is what bounds a
//! `-P 1` run, and polling through the gaps between requests took the server's sleeps from
//! about 0.08 to 0.007 per request and the client's CPU per request down by about a
//! microsecond (bench/README.md).
//!
//! **When it spins.** Only on CPU that would be idle otherwise: the loop's own work (its
//! thread's CPU minus the time it spun) must be at least `loop-spin-busy-permille` of a
//! CPU, and the machine's idle CPU plus what all loops spun must cover the rest of this
//! loop's CPU. So a quiet server never spins, a loop that is mostly busy fills its gaps, and
//! when the CPUs are all wanted (pipelined clients on the same host) nothing spins. Each
//! spin ends `loop-spin-us` after the last batch. The decision is made by the loop's tick
//! (`super::loops`), from what this module measured ([`take_spun_ns`]).
//!
//! Owns the per-thread spin state (a loop is one thread). Knows no protocol and touches no
//! data: connections only report that they ran a batch ([`note_batch`]).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

thread_local! {
    /// Batches run on this thread's loop, ever (wrapping).
    static BATCHES: Cell<u64> = const { Cell::new(0) };
    /// Whether the loop's tick allows spinning now.
    static ALLOWED: Cell<bool> = const { Cell::new(false) };
    /// Nanoseconds spent polling with nothing to do since the tick last asked.
    static SPUN_NS: Cell<u64> = const { Cell::new(0) };
    /// The spinner, while it waits for the next batch.
    static WAITING: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

/// Notes that a connection on this thread's loop ran a batch of requests; starts the
/// loop's spinner if it is allowed and waiting.
pub fn note_batch() {
    BATCHES.set(BATCHES.get().wrapping_add(1));
    if ALLOWED.get() {
        if let Some(waker) = WAITING.take() {
            waker.wake();
        }
    }
}

/// Whether a loop that worked `work` per mille of a CPU may spin, `busy` being the least
/// work of a loop that spins (None: spinning is off) and `idle` the machine's idle CPU plus
/// what all loops spun: the CPU its spin would fill must be at least half idle otherwise.
/// (Not all of it: interrupts and steal time are neither a loop's work nor idle; on the
/// 2-core benchmark box a -P 1 run left 100‰ idle of its loop's 180‰ gap, a -P 16 run none.)
pub fn allowed(busy: Option<u64>, work: u64, idle: u64) -> bool {
    busy.is_some_and(|busy| work >= busy && 2 * idle >= 1000u64.saturating_sub(work))
}

/// Lets the loop on this thread spin, or stops it (from the loop's tick).
pub fn allow(allowed: bool) {
    ALLOWED.set(allowed);
}

/// Nanoseconds this thread's loop spent polling with nothing to do since the last call.
pub fn take_spun_ns() -> u64 {
    SPUN_NS.replace(0)
}

/// The spinner of the loop on this thread: waits for a batch, then polls until
/// `spin_for` has passed without one (or spinning is no longer allowed), for ever.
pub async fn run(spin_for: Duration) {
    loop {
        next_batch().await;
        spin(spin_for).await;
    }
}

/// Waits until [`note_batch`] takes the waker this registers (only while allowed).
async fn next_batch() {
    let mut registered = false;
    poll_fn(move |cx| {
        if registered && WAITING.with(|w| w.borrow().is_none()) {
            return Poll::Ready(());
        }
        WAITING.set(Some(cx.waker().clone()));
        registered = true;
        Poll::Pending
    })
    .await
}

/// Polls the loop's sockets until `spin_for` passes with no batch run.
async fn spin(spin_for: Duration) {
    let mut seen = BATCHES.get();
    let mut last_batch = Instant::now();
    let mut before = last_batch;
    while ALLOWED.get() {
        // Yielding makes the runtime poll epoll without sleeping before it polls this
        // task again, and run the connections that became ready meanwhile.
        tokio::task::yield_now().await;
        let now = Instant::now();
        let batches = BATCHES.get();
        if batches != seen {
            seen = batches;
            last_batch = now;
        } else {
            let idle = now.duration_since(before).as_nanos() as u64;
            SPUN_NS.set(SPUN_NS.get() + idle);
            if now.duration_since(last_batch) >= spin_for {
                return;
            }
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_only_when_busy_and_the_gap_is_mostly_idle() {
        // Off.
        assert!(!allowed(None, 900, 2000));
        // Too little work.
        assert!(!allowed(Some(500), 499, 2000));
        // A -P 1 run: 820‰ of work, 100‰ idle of its 180‰ gap.
        assert!(allowed(Some(500), 820, 100));
        // A -P 16 run: the CPUs are all wanted.
        assert!(!allowed(Some(500), 820, 0));
        assert!(!allowed(Some(500), 800, 99));
        assert!(allowed(Some(500), 800, 100));
        // A saturated loop has no gap to fill: spinning costs nothing.
        assert!(allowed(Some(500), 1000, 0));
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_batch_starts_a_spin_that_ends_after_spin_for() {
        runtime().block_on(async {
            allow(true);
            tokio::spawn(run(Duration::from_millis(2)));
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take_spun_ns(), 0, "no batch, no spin");
            note_batch();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let spun = take_spun_ns();
            assert!(
                (1_500_000..15_000_000).contains(&spun),
                "spun {spun} ns after one batch"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take_spun_ns(), 0, "the spin ended");
        });
    }

    #[test]
    fn a_loop_not_allowed_does_not_spin() {
        runtime().block_on(async {
            allow(false);
            tokio::spawn(run(Duration::from_millis(2)));
            tokio::time::sleep(Duration::from_millis(5)).await;
            note_batch();
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take_spun_ns(), 0);
            // Allowed while spinning stops it at the next poll.
            allow(true);
            note_batch();
            tokio::time::sleep(Duration::from_micros(500)).await;
            allow(false);
            tokio::time::sleep(Duration::from_millis(10)).await;
            take_spun_ns();
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take_spun_ns(), 0, "stopped when no longer allowed");
        });
    }
}
