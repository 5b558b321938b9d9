//! Acknowledged writes survive `kill -9` (DESIGN contract 1).
//!
//! Writer threads run SET / DEL / FSET / EXPIRE (far future) against a real server process,
//! each on its own collection, and keep a ledger of the writes the server ACKNOWLEDGED (recorded
//! only once the reply arrived). At a random instant the process is SIGKILLed; after a restart
//! in the same directory every acknowledged write must be there with its latest acknowledged
//! value, a write that was in flight at the kill may be either applied or not, and nothing else
//! may exist. Rounds repeat in the same directory, so later rounds also replay the torn tails
//! and restarts of the earlier ones.
//!
//! Environment:
//! - `MERIDIAN_CRASH_ROUNDS=<n>`: rounds of the long test (default 10; e.g. 200 for a soak run:
//!   `MERIDIAN_CRASH_ROUNDS=200 cargo test --release --test crash`).
//! - `MERIDIAN_SHRINK_CRASH_ROUNDS=<n>`: rounds of the rewrite variant (default 8; the soak run
//!   is `MERIDIAN_SHRINK_CRASH_ROUNDS=200 cargo test --release --test crash rewrite`). Each
//!   round starts an AOFSHRINK over a 60k-object filler collection and kills the server: in
//!   turn before the rewrite, at the rename (held open by the `MERIDIAN_TEST_REWRITE_PAUSE_MS`
//!   hook) and twice after a random delay (during the walk or the tail copy, or after the
//!   swap). The filler must come back unchanged, and the ledgers as above.
//! - `MERIDIAN_CRASH_SEED=<u64>`: replay a failing run's choices (the seed is printed and is
//!   part of every failure message; thread timing still varies).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const THREADS: usize = 4;
/// The rewrite variant's extra collection, written once, never touched by the writers.
const FILLER: &str = "filler";
const FILLER_OBJECTS: usize = 60_000;
const IDS: usize = 25;
/// EXPIRE seconds: far enough that nothing expires during the test.
const FAR: &str = "1000000";

/// One object as the client wrote it: a STRING body, two fields, and whether it has a TTL.
#[derive(Debug, Clone, PartialEq)]
struct Obj {
    val: String,
    f0: String,
    f1: String,
    expires: bool,
}

type State = Option<Obj>;

/// One writer's collection: acknowledged state per id, and the one write that may have been
/// in flight when the server died (its id and the state it would produce).
#[derive(Debug, Clone)]
struct Ledger {
    acked: Vec<State>,
    inflight: Option<(usize, State)>,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            acked: vec![None; IDS],
            inflight: None,
        }
    }
}

fn key(t: usize) -> String {
    format!("c{t}")
}

fn id(i: usize) -> String {
    format!("i{i}")
}

/// A write, the state it produces from `old` if acknowledged, and whether `reply` is the
/// reply the model expects.
struct Op {
    args: Vec<String>,
    next: State,
    old: State,
    kind: &'static str,
}

impl Op {
    fn reply_ok(&self, reply: &Resp) -> bool {
        let present = self.old.is_some();
        match (self.kind, reply) {
            ("SET", Resp::Simple(s)) => s == "OK",
            ("DEL", Resp::Int(n)) => *n == i64::from(present),
            ("FSET", Resp::Int(n)) => present && (0..=1).contains(n),
            ("FSET", Resp::Error(e)) => {
                !present && (e == "ERR id not found" || e == "ERR key not found")
            }
            ("EXPIRE", Resp::Int(n)) => *n == i64::from(present),
            _ => false,
        }
    }
}

fn random_op(rng: &mut StdRng, t: usize, seq: u64, ledger: &Ledger) -> (usize, Op) {
    let i = rng.gen_range(0..IDS);
    let old = ledger.acked[i].clone();
    let nonzero = |rng: &mut StdRng| rng.gen_range(1..100_000).to_string();
    let (k, ident) = (key(t), id(i));
    let op = match rng.gen_range(0..10) {
        0..=4 => {
            let obj = Obj {
                val: format!("v{t}-{seq}"),
                f0: nonzero(rng),
                f1: nonzero(rng),
                expires: false,
            };
            let args = vec![
                "SET".into(),
                k,
                ident,
                "FIELD".into(),
                "f0".into(),
                obj.f0.clone(),
                "FIELD".into(),
                "f1".into(),
                obj.f1.clone(),
                "STRING".into(),
                obj.val.clone(),
            ];
            Op {
                args,
                next: Some(obj),
                old,
                kind: "SET",
            }
        }
        5 | 6 => Op {
            args: vec!["DEL".into(), k, ident],
            next: None,
            old,
            kind: "DEL",
        },
        7 | 8 => {
            let field = if rng.gen_bool(0.5) { "f0" } else { "f1" };
            let value = nonzero(rng);
            let next = old.clone().map(|mut o| {
                if field == "f0" {
                    o.f0 = value.clone();
                } else {
                    o.f1 = value.clone();
                }
                o
            });
            Op {
                args: vec!["FSET".into(), k, ident, field.into(), value],
                next,
                old,
                kind: "FSET",
            }
        }
        _ => {
            let next = old.clone().map(|o| Obj { expires: true, ..o });
            Op {
                args: vec!["EXPIRE".into(), k, ident, FAR.into()],
                next,
                old,
                kind: "EXPIRE",
            }
        }
    };
    (i, op)
}

/// Writes until the connection fails (the kill). Returns the ledger.
fn writer(
    port: u16,
    t: usize,
    mut ledger: Ledger,
    seed: u64,
    acks: Arc<AtomicU64>,
    give_up: Arc<AtomicBool>,
) -> Ledger {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = RespClient::try_connect(port).expect("connect");
    let mut seq = 0u64;
    loop {
        assert!(
            !give_up.load(Ordering::Relaxed),
            "writer {t} still running at the deadline"
        );
        seq += 1;
        let (i, op) = random_op(&mut rng, t, seq, &ledger);
        ledger.inflight = Some((i, op.next.clone()));
        match c.cmd(&op.args) {
            Ok(reply) => {
                assert!(
                    op.reply_ok(&reply),
                    "seed {seed}: {:?} on {:?} answered {reply:?}",
                    op.args,
                    op.old
                );
                ledger.acked[i] = op.next;
                ledger.inflight = None;
                acks.fetch_add(1, Ordering::Relaxed);
            }
            // The server is gone: this write may or may not have been applied.
            Err(_) => return ledger,
        }
    }
}

/// Reads what the server holds for writer `t`'s collection.
fn observed(c: &mut RespClient, t: usize) -> Vec<State> {
    (0..IDS)
        .map(|i| {
            let (k, ident) = (key(t), id(i));
            let got = c.cmd(&["GET", &k, &ident, "WITHFIELDS"]).unwrap();
            let ttl = c.cmd(&["TTL", &k, &ident]).unwrap();
            match got {
                Resp::Nil => {
                    assert_eq!(ttl, Resp::Int(-2), "{k}/{ident}: TTL of a missing object");
                    None
                }
                Resp::Array(items) => {
                    let fields = match items.get(1) {
                        Some(Resp::Array(f)) => f.iter().map(Resp::text).collect::<Vec<_>>(),
                        _ => Vec::new(),
                    };
                    let field = |name: &str| {
                        fields
                            .chunks(2)
                            .find(|kv| kv[0] == name)
                            .map_or(String::new(), |kv| kv[1].clone())
                    };
                    assert_eq!(fields.len(), 4, "{k}/{ident}: fields {fields:?}");
                    let expires = match ttl {
                        Resp::Int(-1) => false,
                        Resp::Int(n) if n > 900_000 => true,
                        other => panic!("{k}/{ident}: TTL {other:?}"),
                    };
                    Some(Obj {
                        val: items[0].text(),
                        f0: field("f0"),
                        f1: field("f1"),
                        expires,
                    })
                }
                other => panic!("{k}/{ident}: GET answered {other:?}"),
            }
        })
        .collect()
}

/// Checks the restarted server against the ledgers and settles in-flight writes to what the
/// server kept.
fn verify(s: &TestServer, ledgers: &mut [Ledger], seed: u64, round: usize) {
    let mut c = s.client();
    let mut collections = BTreeSet::new();
    let keys = c.cmd(&["KEYS", "*"]).unwrap();
    let Resp::Array(keys) = keys else {
        panic!("KEYS answered {keys:?}")
    };
    let mut keys: BTreeSet<String> = keys.iter().map(Resp::text).collect();
    keys.remove(FILLER);
    for (t, ledger) in ledgers.iter_mut().enumerate() {
        let got = observed(&mut c, t);
        for (i, actual) in got.iter().enumerate() {
            let acked = &ledger.acked[i];
            let inflight = match &ledger.inflight {
                Some((j, st)) if *j == i => Some(st),
                _ => None,
            };
            assert!(
                actual == acked || Some(actual) == inflight,
                "seed {seed} round {round}: {}/{} is {actual:?}; acknowledged {acked:?}, in flight {inflight:?}",
                key(t),
                id(i)
            );
            ledger.acked[i] = actual.clone();
        }
        ledger.inflight = None;
        let present = got.iter().filter(|s| s.is_some()).count() as i64;
        let count = c.cmd(&["SCAN", &key(t), "COUNT"]).unwrap();
        assert_eq!(
            count,
            Resp::Int(present),
            "seed {seed} round {round}: {} holds objects nobody wrote",
            key(t)
        );
        if present > 0 {
            collections.insert(key(t));
        }
    }
    assert_eq!(keys, collections, "seed {seed} round {round}: collections");
}

fn seed() -> u64 {
    let seed = std::env::var("MERIDIAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test seed {seed} (MERIDIAN_CRASH_SEED={seed} to reuse)");
    seed
}

/// How the rounds run.
struct Scenario<'a> {
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    rounds: usize,
    /// Start an AOFSHRINK each round over a filler collection, and kill during it.
    rewrite: bool,
}

/// Where a kill landed relative to the round's rewrite, read off the data dir after the kill.
#[derive(Debug, Default)]
struct Phases {
    before: usize,
    during: usize,
    at_rename: usize,
    after: usize,
}

const PAUSE_LINE: &str = "pausing 400 ms before the rename";

/// When a rewrite round kills the server.
#[derive(Clone, Copy, PartialEq, Debug)]
enum KillPlan {
    BeforeRewrite,
    AtRename,
    RandomDelay,
}

impl KillPlan {
    const ALL: [KillPlan; 4] = [
        KillPlan::BeforeRewrite,
        KillPlan::AtRename,
        KillPlan::RandomDelay,
        KillPlan::RandomDelay,
    ];
}

/// Kills the server around an AOFSHRINK as `plan` says: before it, at the rename (the server
/// was started with the pause hook), or after a random delay. Records where the kill landed.
fn kill_around_a_rewrite(
    s: &mut TestServer,
    dir: &Path,
    plan: KillPlan,
    rng: &mut StdRng,
    phases: &mut Phases,
) {
    let inode = aof_inode(dir);
    if plan == KillPlan::BeforeRewrite {
        s.kill9();
    } else {
        assert_eq!(
            s.client().cmd(&["AOFSHRINK"]).unwrap(),
            Resp::Simple("OK".into())
        );
        if plan == KillPlan::AtRename {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s.log_text().contains(PAUSE_LINE) {
                assert!(
                    Instant::now() < deadline,
                    "the rewrite never reached the rename"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..250_000)));
        }
        s.kill9();
    }
    let temp_left = !common::files_with_prefix(dir, "appendonly.aof.rewrite.tmp").is_empty();
    let renamed = aof_inode(dir) != inode;
    let phase = match (temp_left, renamed) {
        (false, false) => &mut phases.before,
        (true, _) if s.log_text().contains(PAUSE_LINE) => &mut phases.at_rename,
        (true, _) => &mut phases.during,
        (false, true) => &mut phases.after,
    };
    *phase += 1;
}

fn aof_inode(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir.join("appendonly.aof")).unwrap().ino()
}

/// Writes the filler collection and returns its digest.
fn load_filler(s: &TestServer) -> String {
    let mut c = s.client();
    for chunk in (0..FILLER_OBJECTS).collect::<Vec<_>>().chunks(5000) {
        let mut bytes = Vec::new();
        for i in chunk {
            let (id, lat) = (format!("f{i}"), format!("{}", (*i as f64) * 1e-3 % 80.0));
            bytes.extend(resp_encode(&[
                "SET", FILLER, &id, "FIELD", "n", "1", "POINT", &lat, "5",
            ]));
        }
        c.send_raw(&bytes).unwrap();
        for _ in chunk {
            assert_eq!(c.read().unwrap(), Resp::Simple("OK".into()));
        }
    }
    filler_digest(s)
}

fn filler_digest(s: &TestServer) -> String {
    let reply = s.client().cmd(&["DIGEST", FILLER]).unwrap();
    let Resp::Array(items) = reply else {
        panic!("DIGEST {FILLER} answered {reply:?}")
    };
    items[1].text()
}

/// Runs the scenario's write/kill/restart rounds in `dir`, then a final check.
fn crash_rounds(dir: &Path, sc: &Scenario, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ledgers = vec![Ledger::new(); THREADS];
    let mut total_acks = 0;
    let mut filler = None;
    let mut phases = Phases::default();
    let start = |dir: &Path, pause_at_rename: bool| {
        let mut env = sc.env.to_vec();
        if pause_at_rename {
            env.push(("MERIDIAN_TEST_REWRITE_PAUSE_MS", "400"));
        }
        let mut s = TestServer::spawn_env(dir, sc.args, &env);
        s.wait_loaded();
        s
    };
    for round in 0..sc.rounds {
        // The rewrite rounds take turns: kill before AOFSHRINK, at the rename, and (twice) after
        // a random delay, during the walk or the tail copy or after the swap.
        let plan = KillPlan::ALL[round % KillPlan::ALL.len()];
        let pause_at_rename = sc.rewrite && plan == KillPlan::AtRename;
        let mut s = start(dir, pause_at_rename);
        verify(&s, &mut ledgers, seed, round);
        if sc.rewrite {
            let want = filler.get_or_insert_with(|| load_filler(&s)).clone();
            assert_eq!(filler_digest(&s), want, "seed {seed} round {round}: filler");
        }
        let acks = Arc::new(AtomicU64::new(0));
        let give_up = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = ledgers
            .drain(..)
            .enumerate()
            .map(|(t, ledger)| {
                let (acks, give_up) = (acks.clone(), give_up.clone());
                let wseed = rng.gen();
                let port = s.port;
                std::thread::spawn(move || writer(port, t, ledger, wseed, acks, give_up))
            })
            .collect();
        // The random instant: after a random number of acknowledged writes, and in the
        // rewrite variant a random delay after AOFSHRINK.
        let target = if sc.rewrite {
            rng.gen_range(50..500u64)
        } else {
            rng.gen_range(100..4000u64)
        };
        wait_for_acks(&acks, target, &handles, seed, round);
        if sc.rewrite {
            kill_around_a_rewrite(&mut s, dir, plan, &mut rng, &mut phases);
        } else {
            s.kill9();
        }
        ledgers = join_writers(handles, &give_up);
        total_acks += acks.load(Ordering::Relaxed);
    }
    let s = start(dir, false);
    verify(&s, &mut ledgers, seed, sc.rounds);
    if let Some(want) = filler {
        assert_eq!(filler_digest(&s), want, "seed {seed}: filler at the end");
        assert!(common::files_with_prefix(dir, "appendonly.aof.rewrite.tmp").is_empty());
        eprintln!("kills relative to the rewrite: {phases:?}");
        if sc.rounds >= KillPlan::ALL.len() {
            assert!(phases.before > 0 && phases.at_rename > 0, "{phases:?}");
            assert!(phases.during + phases.after > 0, "{phases:?}");
        }
    }
    let live: usize = ledgers
        .iter()
        .map(|l| l.acked.iter().filter(|o| o.is_some()).count())
        .sum();
    eprintln!(
        "{} rounds, {total_acks} acknowledged writes, {live} objects at the end",
        sc.rounds
    );
    assert!(total_acks >= 50 * sc.rounds as u64);
}

fn wait_for_acks(
    acks: &AtomicU64,
    target: u64,
    handles: &[std::thread::JoinHandle<Ledger>],
    seed: u64,
    round: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.load(Ordering::Relaxed) < target {
        assert!(
            Instant::now() < deadline,
            "seed {seed} round {round}: only {} acks",
            acks.load(Ordering::Relaxed)
        );
        if handles.iter().any(|h| h.is_finished()) {
            break; // a writer failed: join reports why
        }
        std::thread::yield_now();
    }
}

/// Waits for every writer to notice the kill and returns their ledgers.
fn join_writers(
    handles: Vec<std::thread::JoinHandle<Ledger>>,
    give_up: &AtomicBool,
) -> Vec<Ledger> {
    let stop_by = Instant::now() + Duration::from_secs(15);
    let mut ledgers = Vec::new();
    for h in handles {
        while !h.is_finished() {
            if Instant::now() > stop_by {
                give_up.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        ledgers.push(h.join().expect("writer panicked"));
    }
    ledgers
}

fn rounds_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn acknowledged_writes_survive_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = Scenario {
        args: &[],
        env: &[],
        rounds: rounds_from_env("MERIDIAN_CRASH_ROUNDS", 10),
        rewrite: false,
    };
    crash_rounds(tmp.path(), &sc, seed());
}

#[test]
fn acknowledged_writes_survive_kill9_during_aof_rewrites() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = Scenario {
        args: &[],
        // Small chunks make the walk long enough to be killed in; no automatic rewrites.
        env: &[
            ("MERIDIAN_AOF_REWRITE_CHUNK_OBJECTS", "8"),
            ("MERIDIAN_AUTO_AOF_REWRITE_PERCENTAGE", "0"),
        ],
        rounds: rounds_from_env("MERIDIAN_SHRINK_CRASH_ROUNDS", 8),
        rewrite: true,
    };
    crash_rounds(tmp.path(), &sc, seed());
}

#[test]
fn acknowledged_writes_survive_kill9_with_appendfsync_always() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = Scenario {
        args: &["--appendfsync", "always"],
        env: &[],
        rounds: 1,
        rewrite: false,
    };
    crash_rounds(tmp.path(), &sc, seed());
}

#[test]
fn kill9_while_loading_loses_nothing() {
    // A big AOF with a torn tail, killed while it replays: the file must be untouched (the
    // tail is only cut once the whole file has been read) and the next start loads it all.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("appendonly.aof");
    const N: usize = 200_000;
    let mut file = Vec::with_capacity(N * 80);
    for i in 0..N {
        let id = format!("id{i}");
        file.extend(resp_encode(&["SET", "fleet", &id, "POINT", "33", "-112"]));
    }
    let good = file.len();
    let torn = resp_encode(&["DEL", "fleet", "id0"]);
    file.extend_from_slice(&torn[..torn.len() - 3]);
    std::fs::write(&path, &file).unwrap();
    let mut s = TestServer::spawn(tmp.path(), &[]);
    wait_until(Duration::from_secs(10), "LOADING", || {
        match s.client().cmd(&["GET", "fleet", "id0"]).unwrap() {
            Resp::Error(e) if e.starts_with("LOADING ") => Some(()),
            other => panic!("the load ended before it was observed: {other:?}"),
        }
    });
    s.kill9();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        file,
        "changed by a killed load"
    );
    assert!(files_with_prefix(tmp.path(), "appendonly.aof.torn-").is_empty());
    let s2 = TestServer::start_loaded(tmp.path(), &[]);
    let mut c = s2.client();
    assert_eq!(digest_of(&mut c)["num_objects"], N.to_string());
    assert_eq!(
        c.cmd(&["GET", "fleet", "id0"]).unwrap(),
        Resp::bulk(r#"{"type":"Point","coordinates":[-112,33]}"#)
    );
    // Cut exactly after the last complete command; only our position record follows.
    let now = std::fs::read(&path).unwrap();
    assert_eq!(&now[..good], &file[..good]);
    assert!(now[good..].starts_with(b"*4\r\n$15\r\nMERIDIAN.STREAM\r\n"));
    let side = files_with_prefix(tmp.path(), "appendonly.aof.torn-");
    assert_eq!(side.len(), 1);
    assert_eq!(std::fs::read(&side[0]).unwrap(), &torn[..torn.len() - 3]);
}
