//! Busy-polling of a connection loop: after a batch of requests a busy loop keeps polling
//! its sockets (epoll with a zero timeout) for up to `loop-spin-us` before it sleeps.
//!
//! Why: a request that reaches a loop asleep in `epoll_wait` pays for waking its thread,
//! and on loopback the *sender* pays it (the kernel's wake-up runs in the client's `send`).
//! With the benchmark client on the same 2-core box, the client's CPU is what bounds a
//! `-P 1` run, and polling through the gaps between requests took the server's sleeps from
//! 0.06–0.09 to 0.005–0.011 per request and the client's CPU per request down by 0.5–1 µs
//! (bench/README.md).
//!
//! **When it spins** ([`allowed`]): the loop's own work (its thread's CPU minus the time it
//! spun) must be at least `loop-spin-busy-permille` of a CPU, its clients must send about
//! a request at a time (pipelined batches already share a wake-up), and the CPU its spin
//! would fill must be mostly idle otherwise (the machine's idle CPU plus what all loops spun
//! covers at least half of the rest of this loop's CPU). So a quiet server never spins, a
//! busy request/response loop fills its gaps, and pipelined clients or a machine whose CPUs
//! are all wanted make nothing spin. Each spin ends `loop-spin-us` after the last batch.
//! The loop's tick (`super::loops`) decides, every 20 ms over the last 100 ms, from what
//! this module measured ([`take`]).
//!
//! Owns the per-thread spin state (a loop is one thread). Knows no protocol and touches no
//! data: connections only report that they ran a batch ([`note_batch`]).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

thread_local! {
    /// Whether a batch ran since the spinner last looked.
    static RAN_SINCE_POLL: Cell<bool> = const { Cell::new(false) };
    /// Batches and requests run since the tick last asked.
    static RAN: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// Whether the loop's tick allows spinning now.
    static ALLOWED: Cell<bool> = const { Cell::new(false) };
    /// Nanoseconds spent polling with nothing to do since the tick last asked.
    static SPUN_NS: Cell<u64> = const { Cell::new(0) };
    /// The spinner, while it waits for the next batch.
    static WAITING: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

/// Notes that a connection on this thread's loop ran a batch of `requests` requests; starts
/// the loop's spinner if it is allowed and waiting.
pub fn note_batch(requests: usize) {
    RAN_SINCE_POLL.set(true);
    let (batches, ran) = RAN.get();
    RAN.set((batches + 1, ran + requests as u64));
    if ALLOWED.get() {
        if let Some(waker) = WAITING.take() {
            waker.wake();
        }
    }
}

/// What a loop's tick knows when it decides whether the loop may spin.
pub struct Load {
    /// The least work of a loop that spins (`loop-spin-busy-permille`).
    pub busy: u64,
    /// The loop's work over the last window, per mille of a CPU (its spin excluded).
    pub work: u64,
    /// The machine's idle CPU plus what all loops spun, per mille of a CPU.
    pub idle: u64,
    /// Batches and requests the loop ran over the same window.
    pub batches: u64,
    pub requests: u64,
}

/// Pipelined clients (more requests per batch than this, on average) make a loop stop
/// spinning: a spin saves a wake-up per batch, which a batch of 16 requests already shares,
/// while its extra polls and the CPU it keeps took 5–8% off -P 16 runs on the 2-core box.
pub const SPIN_MAX_REQUESTS_PER_BATCH: u64 = 2;

/// Whether a loop may spin: it is busy enough, its clients send a request at a time (or
/// nearly), and the CPU its spin would fill is at least half idle otherwise. (Not all of it:
/// interrupts and steal time are neither a loop's work nor idle; on the 2-core benchmark box
/// a -P 1 run left 100‰ idle of its loop's 180‰ gap.)
pub fn allowed(load: &Load) -> bool {
    let gap = 1000u64.saturating_sub(load.work);
    load.work >= load.busy
        && load.requests <= SPIN_MAX_REQUESTS_PER_BATCH * load.batches
        && 2 * load.idle >= gap
}

/// What [`take`] hands the tick; the tick sums them ([`Totals::add`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Nanoseconds spent polling with nothing to do.
    pub spun_ns: u64,
    pub batches: u64,
    pub requests: u64,
}

impl Totals {
    pub fn add(&mut self, more: Totals) {
        self.spun_ns += more.spun_ns;
        self.batches += more.batches;
        self.requests += more.requests;
    }

    /// What was added since `earlier` (an earlier value of the same sum).
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            spun_ns: self.spun_ns - earlier.spun_ns,
            batches: self.batches - earlier.batches,
            requests: self.requests - earlier.requests,
        }
    }
}

/// Lets the loop on this thread spin, or stops it (from the loop's tick).
pub fn allow(allowed: bool) {
    ALLOWED.set(allowed);
}

/// What this thread's loop spun and ran since the last call.
pub fn take() -> Totals {
    let (batches, requests) = RAN.replace((0, 0));
    Totals {
        spun_ns: SPUN_NS.replace(0),
        batches,
        requests,
    }
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
    RAN_SINCE_POLL.set(false);
    let mut last_batch = Instant::now();
    let mut before = last_batch;
    while ALLOWED.get() {
        // Yielding makes the runtime poll epoll without sleeping before it polls this
        // task again, and run the connections that became ready meanwhile.
        tokio::task::yield_now().await;
        let now = Instant::now();
        if RAN_SINCE_POLL.replace(false) {
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

    fn load(work: u64, idle: u64, requests_per_batch: u64) -> Load {
        Load {
            busy: 500,
            work,
            idle,
            batches: 1000,
            requests: 1000 * requests_per_batch,
        }
    }

    #[test]
    fn spins_only_when_busy_unpipelined_and_the_gap_is_mostly_idle() {
        // Too little work.
        assert!(!allowed(&load(499, 2000, 1)));
        // A -P 1 run: 820‰ of work, 100‰ idle of its 180‰ gap.
        assert!(allowed(&load(820, 100, 1)));
        // The CPUs are all wanted.
        assert!(!allowed(&load(820, 0, 1)));
        assert!(!allowed(&load(800, 99, 1)));
        assert!(allowed(&load(800, 100, 1)));
        // Pipelined clients.
        assert!(allowed(&load(800, 1000, 2)));
        assert!(!allowed(&load(800, 1000, 16)));
        // A saturated loop has no gap to fill: spinning costs nothing.
        assert!(allowed(&load(1000, 0, 1)));
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
            assert_eq!(take().spun_ns, 0, "no batch, no spin");
            note_batch(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let spun = take().spun_ns;
            assert!(
                (1_500_000..15_000_000).contains(&spun),
                "spun {spun} ns after one batch"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take().spun_ns, 0, "the spin ended");
        });
    }

    #[test]
    fn a_loop_not_allowed_does_not_spin() {
        runtime().block_on(async {
            allow(false);
            tokio::spawn(run(Duration::from_millis(2)));
            tokio::time::sleep(Duration::from_millis(5)).await;
            note_batch(1);
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take().spun_ns, 0);
            // Allowed while spinning stops it at the next poll.
            allow(true);
            note_batch(1);
            tokio::time::sleep(Duration::from_micros(500)).await;
            allow(false);
            tokio::time::sleep(Duration::from_millis(10)).await;
            take();
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(take().spun_ns, 0, "stopped when no longer allowed");
        });
    }
}
