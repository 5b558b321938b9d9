//! Connection loops: the threads that own client sockets. Each loop is a single-threaded
//! tokio runtime with its own epoll, running the tasks of the connections placed on it, so a
//! request on one connection wakes no other thread. (A work-stealing runtime wakes a second
//! worker for most batches of ready sockets; where clients share the server's CPUs those
//! wake-ups cost more than the requests: see bench/README.md.)
//!
//! **Placement packs, saturation spreads.** A new connection goes to the first loop, unless
//! the machine has CPU to spare and that loop is busy (at or above [`PLACE_BELOW`] of a CPU
//! over the last window): then to the next loop that is not. A loop that stays saturated
//! (`loop-saturated-permille`) for [`PRESSED_TICKS`] ticks in a row while the machine has
//! CPU to spare (`loop-spare-cpu-permille`: `/proc/stat`'s idle time, capped by a
//! cgroup CPU limit, see `super::cpu`) hands a quarter of its
//! connections to the least loaded loop, if that one has room ([`ROOM_BELOW`]). A loop above
//! the first that is nearly idle ([`IDLE_BELOW`]) hands its connections back to a lower one
//! they fit on ([`FITS_BELOW`]), so a load one thread can serve goes back to one thread. A
//! connection moves only between two batches of requests, with its session and any bytes
//! it has read but not run (`resp::Parked`); HTTP connections stay where they are.
//!
//! Why pack: on a machine whose clients share its CPUs (the benchmark's), a second loop only
//! adds wake-ups, since the clients are what keeps the other CPU busy; and a loop that is
//! never idle is woken by nobody.
//!
//! **What a loop must never do** is block for long: a search that needs several holds of the
//! read lock runs one hold per turn of the loop (`Session::step_walks`), and an fsync under
//! `appendfsync always` runs on the blocking pool (`super::make_durable`).
//!
//! Owns the loop threads, placement and moves. Knows no protocol (a RESP connection parks
//! itself), and must not touch the store, the AOF or the data lock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::cpu::CpuSource;
use crate::exec::{LoopLoad, Server};

/// How often each loop measures its thread's CPU time.
const TICK: Duration = Duration::from_millis(20);
/// Ticks a loop's load is measured over (and plans wait for after moving connections).
const WINDOW: usize = 5;
/// A saturated loop hands connections only to a loop below this.
pub const ROOM_BELOW: u64 = 700;
/// New connections go to the first loop below this.
pub const PLACE_BELOW: u64 = 850;
/// A loop above the first below this hands its connections to a lower loop, if the two
/// together stay below [`FITS_BELOW`].
pub const IDLE_BELOW: u64 = 250;
pub const FITS_BELOW: u64 = 600;
/// How often the CPU to spare is sampled (`super::cpu`).
const MACHINE_SAMPLE: Duration = Duration::from_millis(100);
/// Ticks in a row a loop must be saturated, with a CPU to spare, before it hands
/// connections away: a burst (or the start of a load, while the idle sample still shows
/// the quiet before it) moves nothing.
const PRESSED_TICKS: usize = 10;
/// How long one hold of a walk may go on while no writer waits, when other connections
/// share the walk's loop (they wait for the hold) ...
pub const SHARED_LOOP_HOLD: Duration = Duration::from_millis(2);
/// ... and when the walk's connection is alone on it: only a connection placed there
/// meanwhile waits, and a resumed NEARBY walk pays about a millisecond per hold to find its
/// place again (1M points, `NEARBY … WHERE … COUNT`: 1.35 s in holds of 2 ms, 0.69 s in one).
pub const OWN_LOOP_HOLD: Duration = Duration::from_millis(50);
/// Arrivals queued for one loop at most (the accept loop waits beyond it).
const QUEUE: usize = 1024;

/// What a loop is handed: a connection just accepted, or one another loop moved.
enum Arrival {
    New {
        stream: std::net::TcpStream,
        peer: SocketAddr,
        /// `connected_clients` with this one, when it was accepted.
        open: u64,
        client: ClientGuard,
    },
    Resp {
        parked: Box<super::resp::Parked>,
        client: ClientGuard,
    },
}

/// The connection loops of one server.
pub struct Loops {
    inbox: Vec<mpsc::Sender<Arrival>>,
    /// Per loop: connections asked to move at their next chance, and where to.
    moves: Vec<(AtomicUsize, AtomicUsize)>,
    /// A loop at or above this share of a CPU (per mille) over a window is saturated
    /// (`loop-saturated-permille`).
    saturated: u64,
    /// A saturated loop hands connections away only while the machine has at least this much
    /// of a CPU idle, per mille (`loop-spare-cpu-permille`): with no CPU to spare, a second
    /// loop only adds wake-ups (clients on the same host are what keeps the CPUs busy).
    spare_cpu: u64,
    /// How long a loop polls after a batch before it sleeps (`loop-spin-us`; 0: never).
    spin_for: Duration,
    /// The least work (per mille of a CPU) of a loop that spins (`loop-spin-busy-permille`).
    spin_busy: u64,
    server: Arc<Server>,
}

impl Loops {
    /// Starts `n` loop threads (at least one) serving `server`'s connections.
    pub fn start(n: usize, server: Arc<Server>) -> Result<Arc<Loops>, String> {
        let n = n.max(1);
        let _ = server
            .counters
            .loops
            .set((0..n).map(|_| LoopLoad::default()).collect());
        let mut inbox = Vec::with_capacity(n);
        let mut boxes = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(QUEUE);
            inbox.push(tx);
            boxes.push(rx);
        }
        let moves = (0..n)
            .map(|_| (AtomicUsize::new(0), AtomicUsize::new(0)))
            .collect();
        let cfg = server.config();
        let loops = Arc::new(Loops {
            inbox,
            moves,
            saturated: cfg.loop_saturated_permille,
            spare_cpu: cfg.loop_spare_cpu_permille,
            spin_for: Duration::from_micros(cfg.loop_spin_us),
            spin_busy: cfg.loop_spin_busy_permille,
            server,
        });
        let source = CpuSource::detect();
        let limit = source.limit().map_or(0, |l| (l.cpus * 1000.0) as u64);
        let counters = &loops.server.counters;
        counters.cpu_limit_permille.store(limit, Ordering::Relaxed);
        if n > 1 || !loops.spin_for.is_zero() {
            // On the caller's runtime: a loop's own tick may be late when it is saturated.
            tokio::spawn(loops.clone().sample_machine(source));
        }
        for (at, rx) in boxes.into_iter().enumerate() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot build connection loop {at}: {e}"))?;
            let me = loops.clone();
            std::thread::Builder::new()
                .name(format!("conn-loop-{at}"))
                .spawn(move || rt.block_on(me.run(at, rx)))
                .map_err(|e| format!("cannot start connection loop {at}: {e}"))?;
        }
        Ok(loops)
    }

    fn load(&self, at: usize) -> &LoopLoad {
        &self.server.counters.loops.get().expect("set by start")[at]
    }

    fn cpu(&self, at: usize) -> u64 {
        self.load(at).cpu_permille.load(Ordering::Relaxed)
    }

    /// Whether the machine has CPU to spare for another loop (`loop-spare-cpu-permille`).
    fn spare_cpu(&self) -> bool {
        let idle = &self.server.counters.machine_idle_permille;
        idle.load(Ordering::Relaxed) >= self.spare_cpu
    }

    /// Counts a just-accepted connection and hands it to the first loop that is not busy
    /// (else the least busy one); to the first loop while the machine has no CPU to spare.
    pub async fn place(&self, stream: std::net::TcpStream, peer: SocketAddr) {
        let (client, open) = ClientGuard::count(self.server.clone());
        let n = self.inbox.len();
        let at = if self.spare_cpu() {
            (0..n)
                .find(|&i| self.cpu(i) < PLACE_BELOW)
                .unwrap_or_else(|| (0..n).min_by_key(|&i| self.cpu(i)).unwrap_or(0))
        } else {
            0
        };
        let arrival = Arrival::New {
            stream,
            peer,
            open,
            client,
        };
        let _ = self.inbox[at].send(arrival).await;
    }

    /// One loop: starts the connections it is handed, and its tick.
    async fn run(self: Arc<Self>, at: usize, mut inbox: mpsc::Receiver<Arrival>) {
        tokio::spawn(self.clone().tick(at));
        if !self.spin_for.is_zero() {
            tokio::spawn(super::spin::run(self.spin_for));
        }
        while let Some(arrival) = inbox.recv().await {
            match arrival {
                Arrival::New {
                    stream,
                    peer,
                    open,
                    client,
                } => {
                    let seat = Seat::new(self.clone(), at, client);
                    let server = self.server.clone();
                    tokio::spawn(super::connection(server, stream, peer, open, seat));
                }
                Arrival::Resp { parked, client } => {
                    let seat = Seat::new(self.clone(), at, client);
                    tokio::spawn(super::resp::resume(parked, seat));
                }
            }
        }
    }

    /// Every [`TICK`]: publishes the share of a CPU this loop's thread worked (and spun) over
    /// the last [`WINDOW`] ticks, lets it spin or not (`super::spin`), and once a window has
    /// passed since the last plan, plans moves.
    async fn tick(self: Arc<Self>, at: usize) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut window = std::collections::VecDeque::with_capacity(WINDOW + 1);
        let mut totals = super::spin::Totals::default();
        window.push_back((thread_cpu_ns(), totals, Instant::now()));
        // Ticks in a row that found this loop saturated with a CPU to spare.
        let mut pressed = 0;
        loop {
            every.tick().await;
            totals.add(super::spin::take());
            window.push_back((thread_cpu_ns(), totals, Instant::now()));
            let (cpu0, totals0, t0) = window[0];
            let (cpu, _, t) = window[window.len() - 1];
            let wall = t.duration_since(t0).as_nanos().max(1) as u64;
            let spun = totals.since(&totals0);
            let spin = (spun.spun_ns * 1000 / wall).min(1000);
            let work = (cpu.saturating_sub(cpu0) * 1000 / wall).min(1000);
            let work = work.saturating_sub(spin);
            let load = self.load(at);
            load.cpu_permille.store(work, Ordering::Relaxed);
            load.spin_permille.store(spin, Ordering::Relaxed);
            super::spin::allow(self.may_spin(work, &spun));
            if window.len() <= WINDOW {
                continue;
            }
            window.pop_front();
            pressed = if work >= self.saturated && self.spare_cpu() {
                pressed + 1
            } else {
                0
            };
            if self.plan(at, work, pressed >= PRESSED_TICKS) {
                // The next plan sees only what the loop did after these moves.
                window.drain(..window.len() - 1);
                pressed = 0;
            }
        }
    }

    /// Whether a loop that worked `work` per mille of a CPU, with `seen` over the same
    /// window, may spin through its gaps now ([`super::spin::allowed`], from the machine's
    /// idle CPU and what all loops spun).
    fn may_spin(&self, work: u64, seen: &super::spin::Totals) -> bool {
        if self.spin_for.is_zero() {
            return false;
        }
        let counters = &self.server.counters;
        let idle = counters.machine_idle_permille.load(Ordering::Relaxed);
        let loads = counters.loops.get().map_or(&[][..], |l| &l[..]);
        let spun = loads
            .iter()
            .map(|l| l.spin_permille.load(Ordering::Relaxed));
        let load = super::spin::Load {
            busy: self.spin_busy,
            work,
            idle: idle + spun.sum::<u64>(),
            batches: seen.batches,
            requests: seen.requests,
        };
        super::spin::allowed(&load)
    }

    /// Every [`MACHINE_SAMPLE`]: the CPU left unused over the last sample, on the machine
    /// or, if less, under the server's cgroup CPU limit (`super::cpu`).
    async fn sample_machine(self: Arc<Self>, source: CpuSource) {
        let mut every = tokio::time::interval(MACHINE_SAMPLE);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let ticks_per_sec = clock_ticks();
        let mut last = source.read();
        loop {
            every.tick().await;
            let now = source.read();
            if let Some(permille) = source.spare_permille(&last, &now, ticks_per_sec) {
                let idle = &self.server.counters.machine_idle_permille;
                idle.store(permille, Ordering::Relaxed);
            }
            last = now;
        }
    }

    /// Decides how many of loop `at`'s connections should move, and where; true if some.
    fn plan(&self, at: usize, cpu: u64, pressed: bool) -> bool {
        let n = self.inbox.len();
        let clients = self.load(at).clients.load(Ordering::Relaxed) as usize;
        let others = (0..n).filter(|&j| j != at);
        let (count, to) = if pressed && clients >= 2 {
            match others.min_by_key(|&j| self.cpu(j)) {
                Some(j) if self.cpu(j) < ROOM_BELOW => ((clients / 4).max(1), j),
                _ => (0, at),
            }
        } else if at > 0 && cpu < IDLE_BELOW {
            match (0..at).find(|&j| self.cpu(j) + cpu < FITS_BELOW) {
                Some(j) => (clients, j),
                None => (0, at),
            }
        } else {
            (0, at)
        };
        let (pending, target) = &self.moves[at];
        target.store(to, Ordering::Relaxed);
        pending.store(count, Ordering::Relaxed);
        count > 0
    }

    /// For a connection on loop `at` between two requests: the loop it should move to now.
    fn claim_move(&self, at: usize) -> Option<usize> {
        let (pending, target) = &self.moves[at];
        if pending.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let to = target.load(Ordering::Relaxed);
        let claimed = pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| p.checked_sub(1))
            .is_ok();
        (claimed && to != at && to < self.inbox.len()).then_some(to)
    }
}

/// A connection's place on a loop: counted in the loop's clients while it is there.
pub struct Seat {
    loops: Arc<Loops>,
    at: usize,
    client: Option<ClientGuard>,
}

impl Seat {
    fn new(loops: Arc<Loops>, at: usize, client: ClientGuard) -> Seat {
        loops.load(at).clients.fetch_add(1, Ordering::Relaxed);
        Seat {
            loops,
            at,
            client: Some(client),
        }
    }

    /// How long a hold of this connection's walks may go on ([`SHARED_LOOP_HOLD`],
    /// [`OWN_LOOP_HOLD`]).
    pub fn walk_hold(&self) -> Duration {
        let clients = self.loops.load(self.at).clients.load(Ordering::Relaxed);
        if clients > 1 {
            SHARED_LOOP_HOLD
        } else {
            OWN_LOOP_HOLD
        }
    }

    /// Where this connection should move now, if anywhere (asked between two requests).
    pub fn wants_move(&self) -> Option<usize> {
        self.loops.claim_move(self.at)
    }

    /// Hands a parked RESP connection to loop `to`; it goes on there.
    pub async fn move_to(mut self, to: usize, parked: Box<super::resp::Parked>) {
        let Some(client) = self.client.take() else {
            return;
        };
        let server = &self.loops.server;
        server
            .counters
            .connections_moved
            .fetch_add(1, Ordering::Relaxed);
        let _ = self.loops.inbox[to]
            .send(Arrival::Resp { parked, client })
            .await;
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let clients = &self.loops.load(self.at).clients;
        clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a connection in `connected_clients` from its accept until it closes, whichever
/// loop it is on by then.
pub struct ClientGuard(Arc<Server>);

impl ClientGuard {
    /// Counts a new connection (`total_connections`, `connected_clients`); returns the guard
    /// and the number of connections open with it.
    fn count(server: Arc<Server>) -> (ClientGuard, u64) {
        let counters = &server.counters;
        counters.total_connections.fetch_add(1, Ordering::Relaxed);
        let open = counters.connected_clients.fetch_add(1, Ordering::Relaxed) + 1;
        (ClientGuard(server), open)
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let open = &self.0.counters.connected_clients;
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// CPU time this thread has used (user and system), in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Clock ticks per second (`USER_HZ`), the unit of `/proc/stat`.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}
