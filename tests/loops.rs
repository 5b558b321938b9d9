//! Connection loops (`net::loops`): a connection that moves from one loop to another between
//! two batches loses, repeats and reorders no reply, and the client counts follow it; a loop
//! busy-polls (`net::spin`) only when it is busy enough, never under a light load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

fn info_field(c: &mut RespClient, name: &str) -> String {
    let text = c.cmd(&["INFO"]).expect("INFO").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO has no {name}: {text}"))
        .trim()
        .to_string()
}

fn info_num(c: &mut RespClient, name: &str) -> u64 {
    info_field(c, name).parse().unwrap()
}

/// The sum of a comma-separated INFO list (`loop_clients`).
fn info_sum(c: &mut RespClient, name: &str) -> u64 {
    let field = info_field(c, name);
    field.split(',').map(|n| n.parse::<u64>().unwrap()).sum()
}

/// Pipelines `batch` SET/GET pairs on its own connection until `stop`, checking every reply
/// exactly and in order; returns how many pairs it ran.
fn client(port: u16, me: usize, stop: Arc<AtomicBool>) -> usize {
    let mut c = RespClient::try_connect(port).expect("connect");
    let batch = 50;
    let mut done = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut out = Vec::new();
        for i in done..done + batch {
            let (id, value) = (format!("c{me}-{i}"), format!("v{me}-{i}"));
            out.extend(resp_encode(&["SET", "moves", &id, "STRING", &value]));
            out.extend(resp_encode(&["GET", "moves", &id]));
        }
        c.send_raw(&out).expect("send");
        for i in done..done + batch {
            assert_eq!(c.read().expect("SET reply"), Resp::Simple("OK".into()));
            let got = c.read().expect("GET reply");
            assert_eq!(
                got,
                Resp::bulk(&format!("v{me}-{i}")),
                "client {me}, pair {i}"
            );
        }
        done += batch;
    }
    done
}

#[test]
fn connections_move_between_loops_without_losing_a_reply() {
    let tmp = tempfile::tempdir().unwrap();
    // Thresholds of 0: every loop counts as saturated and the machine as having CPU to spare,
    // so connections keep moving between the two loops (each move also sends the one it
    // leaves under two clients back) while the clients run.
    let envs = [
        ("MERIDIAN_THREADS", "2"),
        ("MERIDIAN_LOOP_SATURATED_PERMILLE", "0"),
        ("MERIDIAN_LOOP_SPARE_CPU_PERMILLE", "0"),
    ];
    let s = TestServer::spawn_env(tmp.path(), &[], &envs);
    s.wait_ready();
    let mut admin = RespClient::try_connect(s.port).unwrap();
    assert_eq!(info_num(&mut admin, "connection_loops"), 2);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|me| {
            let (port, stop) = (s.port, stop.clone());
            std::thread::spawn(move || client(port, me, stop))
        })
        .collect();
    wait_until(Duration::from_secs(30), "20 connection moves", || {
        (info_num(&mut admin, "connections_moved") >= 20).then_some(())
    });
    // Moving connections stay counted once each: the four clients and this one.
    assert_eq!(info_num(&mut admin, "connected_clients"), 5);
    stop.store(true, Ordering::Relaxed);
    let pairs: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(pairs.iter().all(|&n| n > 0), "pairs per client: {pairs:?}");
    // Every write landed once, wherever its connection was.
    let total: usize = pairs.iter().sum();
    let count = admin.cmd(&["SCAN", "moves", "COUNT"]).unwrap();
    assert_eq!(count, Resp::Int(total as i64));
    // The clients are gone from both counts, on whichever loop they ended.
    wait_until(
        Duration::from_secs(10),
        "the clients to be uncounted",
        || {
            let open = info_num(&mut admin, "connected_clients");
            let seated = info_sum(&mut admin, "loop_clients");
            (open == 1 && seated == 1).then_some(())
        },
    );
}

#[test]
fn a_quiet_server_keeps_its_connections_on_the_first_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::spawn_env(tmp.path(), &[], &[("MERIDIAN_THREADS", "2")]);
    s.wait_ready();
    let mut admin = RespClient::try_connect(s.port).unwrap();
    let mut others: Vec<RespClient> = (0..3)
        .map(|_| RespClient::try_connect(s.port).unwrap())
        .collect();
    for c in &mut others {
        assert_eq!(c.cmd(&["PING"]).unwrap(), Resp::Simple("PONG".into()));
    }
    // Placement packs: with nothing busy, every connection is on loop 0, and a light load
    // (one request at a time) moves none of them.
    assert_eq!(info_field(&mut admin, "loop_clients"), "4,0");
    for i in 0..500 {
        for c in &mut others {
            let id = format!("q{i}");
            let reply = c.cmd(&["SET", "quiet", &id, "STRING", "x"]).unwrap();
            assert_eq!(reply, Resp::Simple("OK".into()));
        }
    }
    assert_eq!(info_field(&mut admin, "loop_clients"), "4,0");
    assert_eq!(info_num(&mut admin, "connections_moved"), 0);
}

/// One request at a time on one connection until `stop`.
fn ping_pong(port: u16, stop: Arc<AtomicBool>) {
    let mut c = RespClient::try_connect(port).expect("connect");
    while !stop.load(Ordering::Relaxed) {
        assert_eq!(c.cmd(&["PING"]).unwrap(), Resp::Simple("PONG".into()));
    }
}

fn spin_sum(c: &mut RespClient) -> u64 {
    info_sum(c, "loop_spin_permille")
}

/// A client thread running until [`Load::stop`].
struct Load<T> {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<T>,
}

impl<T: Send + 'static> Load<T> {
    fn start(run: impl FnOnce(Arc<AtomicBool>) -> T + Send + 'static) -> Load<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || run(flag));
        Load { stop, thread }
    }

    fn stop(self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// A server with two loops and `envs`, and an admin connection to it.
fn two_loop_server(tmp: &std::path::Path, envs: &[(&str, &str)]) -> (TestServer, RespClient) {
    let envs: Vec<_> = [("MERIDIAN_THREADS", "2")]
        .into_iter()
        .chain(envs.iter().copied())
        .collect();
    let s = TestServer::spawn_env(tmp, &[], &envs);
    s.wait_ready();
    let admin = RespClient::try_connect(s.port).unwrap();
    (s, admin)
}

/// Any work counts as busy enough (the spin's other conditions still hold).
const ANY_WORK_IS_BUSY: (&str, &str) = ("MERIDIAN_LOOP_SPIN_BUSY_PERMILLE", "0");

#[test]
fn a_light_load_never_spins() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, mut admin) = two_loop_server(tmp.path(), &[]);
    let spin_us = admin.cmd(&["CONFIG", "GET", "loop-spin-us"]).unwrap();
    assert_eq!(
        spin_us,
        Resp::Array(vec![Resp::bulk("loop-spin-us"), Resp::bulk("50")])
    );
    // One connection, one request at a time: its loop works well under the default
    // `loop-spin-busy-permille` (500), so over a second of ticks it never spins.
    let port = s.port;
    let load = Load::start(move |stop| ping_pong(port, stop));
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            spin_sum(&mut admin),
            0,
            "{}",
            info_field(&mut admin, "loop_cpu_permille")
        );
    }
    load.stop();
}

#[test]
fn a_loop_busy_enough_spins_through_its_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    // The same light load spins while the machine has idle CPU for it (other tests may
    // take it for a while: hence the long deadline).
    let (s, mut admin) = two_loop_server(tmp.path(), &[ANY_WORK_IS_BUSY]);
    let port = s.port;
    let load = Load::start(move |stop| ping_pong(port, stop));
    wait_until(Duration::from_secs(60), "a loop to spin", || {
        (spin_sum(&mut admin) > 0).then_some(())
    });
    load.stop();
    // With no requests a spin ends after 50 µs: within a tick window the share is back to 0.
    wait_until(Duration::from_secs(10), "the spin to stop", || {
        (spin_sum(&mut admin) == 0).then_some(())
    });
}

#[test]
fn pipelined_clients_never_make_a_loop_spin() {
    let tmp = tempfile::tempdir().unwrap();
    // Busy enough at any load, as above, but the client pipelines 100 requests a batch.
    let (s, mut admin) = two_loop_server(tmp.path(), &[ANY_WORK_IS_BUSY]);
    let port = s.port;
    let load = Load::start(move |stop| client(port, 0, stop));
    // The first tick windows still hold the quiet before the load (single INFO requests).
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(spin_sum(&mut admin), 0);
    }
    assert!(load.stop() > 0);
}
