//! Searches (SCAN, SEARCH, NEARBY, WITHIN, INTERSECTS, SPARSE) walked in several read-lock holds
//! (`search-walk-batch`): with no writes (and `search-walk-yield-always`, a hold per batch) the
//! replies (RESP and JSON) are byte for byte those of a one-hold walk, CURSOR pages are the
//! same, and INFO counts the holds; by default a walk nobody waits for goes on in its second
//! hold to the end; with a writer on another connection, the writer is not held up (the walk
//! makes room at its next batch) and the walk keeps its guarantee (objects unchanged
//! throughout all reported, no id twice).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

fn id(i: usize) -> String {
    format!("p{i:05}")
}

fn pos(i: usize) -> (String, String) {
    let lat = 10.0 + (i % 150) as f64 * 0.01;
    let lon = 20.0 + (i / 150) as f64 * 0.01;
    (format!("{lat:.2}"), format!("{lon:.2}"))
}

/// SETs `n` points (ids `p00000…`, a `speed` field) in one pipelined write.
fn load(s: &TestServer, n: usize) {
    s.load_speed_points(n, pos);
}

/// SETs `n` STRING objects (ids `s00000…`, 50 distinct values, so the value order has ties).
fn load_strings(s: &TestServer, n: usize) {
    let reqs = (0..n).map(|i| {
        let (sid, value) = (format!("s{i:05}"), format!("v{:02}", (i * 7) % 50));
        resp_encode(&["SET", "big", &sid, "STRING", &value])
    });
    s.pipeline_ok(&reqs.collect::<Vec<_>>().concat(), n);
}

fn queries() -> Vec<Vec<&'static str>> {
    let q = |s: &'static str| s.split(' ').collect::<Vec<_>>();
    vec![
        q("SCAN big LIMIT 100000"),
        q("SCAN big DESC LIMIT 100000 IDS"),
        q("SCAN big COUNT"),
        q("SCAN big WHERE speed 999 999 COUNT"),
        q("SCAN big MATCH p0*5 LIMIT 100000 POINTS"),
        q("SCAN big WHERE speed 2 3 LIMIT 777 IDS"),
        q("SCAN big"),
        q("WITHIN big LIMIT 100000 IDS BOUNDS -90 -180 90 180"),
        q("WITHIN big LIMIT 100000 BOUNDS 10.3 20.2 11.1 20.5"),
        q("WITHIN big WHERE speed 999 999 COUNT BOUNDS -90 -180 90 180"),
        q("WITHIN big COUNT CIRCLE 10.5 20.1 20000"),
        q("INTERSECTS big LIMIT 100000 POINTS BOUNDS 10 20 12 22"),
        q("INTERSECTS big LIMIT 1234 HASHES 7 BOUNDS 10 20 12 22"),
        q("INTERSECTS big BOUNDS 10 20 12 22"),
        q("SEARCH big LIMIT 100000"),
        q("SEARCH big DESC LIMIT 100000 IDS"),
        q("SEARCH big MATCH v1* COUNT"),
        q("SEARCH big MATCH v2* DESC LIMIT 777 IDS"),
        // On a 0.01° grid: many equal distances, in different index pages.
        q("NEARBY big LIMIT 100000 IDS POINT 10.7 20.2"),
        q("NEARBY big LIMIT 100000 DISTANCE POINTS POINT 10.5 20.1 30000"),
        q("NEARBY big WHERE speed 999 999 COUNT POINT 10.5 20.1"),
        q("NEARBY big WHERE speed 2 3 LIMIT 777 IDS POINT 10 20"),
        q("NEARBY big COUNT POINT 10.5 20.1 20000"),
        // SPARSE goes on cell by cell.
        // (SPARSE takes no LIMIT, hence no CURSOR paging either.)
        q("WITHIN big SPARSE 5 IDS BOUNDS 10 20 12 22"),
        q("INTERSECTS big SPARSE 6 WHERE speed 2 5 COUNT BOUNDS 10 20 11 21"),
        q("NEARBY big SPARSE 4 DISTANCE POINTS POINT 10.5 20.1 30000"),
    ]
}

/// `query` without its LIMIT, with `opts` inserted after the key.
fn with_opts(query: &[&str], opts: &[String]) -> Vec<String> {
    let mut v: Vec<String> = query[..2].iter().map(|s| s.to_string()).collect();
    v.extend(opts.iter().cloned());
    let mut rest = query[2..].iter();
    while let Some(word) = rest.next() {
        if *word == "LIMIT" {
            rest.next();
        } else {
            v.push(word.to_string());
        }
    }
    v
}

/// Every query's reply in RESP and JSON, and the ids of its walk paged by CURSOR.
fn replies(s: &TestServer) -> Vec<String> {
    let mut r = s.wire();
    let mut js = s.wire_json();
    let mut out = Vec::new();
    for q in queries() {
        out.push(r.cmd(&q));
        out.push(js.json(&q));
        if q.contains(&"COUNT") || q.contains(&"SPARSE") {
            assert!(
                !out.last().unwrap().starts_with('-'),
                "{q:?}: {:?}",
                out.last()
            );
            continue;
        }
        let mut cursor = 0u64;
        loop {
            let opts = [
                "CURSOR".into(),
                cursor.to_string(),
                "LIMIT".into(),
                "333".into(),
            ];
            let page = with_opts(&q, &opts);
            let page: Vec<&str> = page.iter().map(String::as_str).collect();
            let reply = r.cmd(&page);
            let second = reply
                .lines()
                .nth(1)
                .unwrap_or_else(|| panic!("{page:?}: {reply}"));
            cursor = second[1..].parse().unwrap();
            out.push(reply);
            if cursor == 0 {
                break;
            }
        }
    }
    out
}

#[test]
fn walks_in_many_holds_give_the_one_hold_replies() {
    let s = TestServer::start();
    load(&s, 6000);
    load_strings(&s, 3000);
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "search-walk-batch"]),
        arr(&[b("search-walk-batch"), b("4096")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "search-walk-yield-always"]),
        arr(&[b("search-walk-yield-always"), b("no")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "search-walk-yield-always", "yes"]),
        OK
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "search-walk-batch", "1000000000"]),
        OK
    );
    let one_hold = replies(&s);
    assert_eq!(c.info_stat("walk_holds"), 0);
    for batch in ["7", "4096", "1"] {
        assert_eq!(c.cmd(&["CONFIG", "SET", "search-walk-batch", batch]), OK);
        let before = c.info_stat("walk_holds");
        let many = replies(&s);
        assert_eq!(many.len(), one_hold.len());
        for (i, (a, b)) in many.iter().zip(&one_hold).enumerate() {
            assert!(
                a == b,
                "batch {batch}: reply {i} differs: {a:.300} vs {b:.300}"
            );
        }
        let holds = c.info_stat("walk_holds") - before;
        // 4096: only the walks over more than 4096 entries take a second hold.
        let least = if batch == "4096" { 10 } else { 6000 / 32 };
        assert!(holds > least, "batch {batch}: {holds} holds");
    }
    assert_eq!(c.info_stat("walk_restarts"), 0);
    // The whole world, counted: every object, in one reply.
    let all = c.cmd(&[
        "WITHIN", "big", "COUNT", "BOUNDS", "-90", "-180", "90", "180",
    ]);
    assert_eq!(all, int(6000));
}

/// The ids of a RESP `IDS` search reply, in order.
fn ids_of(reply: &str) -> Vec<String> {
    reply
        .lines()
        .skip(3)
        .filter(|l| !l.starts_with(['$', '*', ':']))
        .map(String::from)
        .collect()
}

/// A server with `n` points, walking 64 entries per hold, and a connection to it.
fn loaded_with_batch_64(n: usize) -> (TestServer, WireConn) {
    let s = TestServer::start();
    load(&s, n);
    let mut c = s.wire();
    assert_eq!(c.cmd(&["CONFIG", "SET", "search-walk-batch", "64"]), OK);
    (s, c)
}

#[test]
fn a_writer_goes_on_during_a_long_walk_and_the_walk_keeps_its_guarantee() {
    let n = 30_000;
    let (s, mut c) = loaded_with_batch_64(n);
    let stop = Arc::new(AtomicBool::new(false));
    // The writer moves every 10th object, deletes and re-inserts every 10th + 1, and adds
    // and deletes objects of its own; the rest never change.
    let writer = {
        let stop = stop.clone();
        let mut con = s.redis();
        std::thread::spawn(move || {
            let (mut ops, mut worst) = (0u64, Duration::ZERO);
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let i = (k * 7919) % n;
                let (la, lo) = pos((i * 13) % n);
                let started = Instant::now();
                let moved = id(i - i % 10);
                q(&mut con, &["SET", "big", &moved, "POINT", &la, &lo]);
                let again = id(i - i % 10 + 1);
                q(&mut con, &["DEL", "big", &again]);
                q(&mut con, &["SET", "big", &again, "POINT", &la, &lo]);
                let own = format!("w{k}");
                q(&mut con, &["SET", "big", &own, "POINT", &la, &lo]);
                if k.is_multiple_of(2) {
                    q(&mut con, &["DEL", "big", &format!("w{}", k / 2)]);
                }
                worst = worst.max(started.elapsed());
                ops += 5;
                k += 1;
            }
            (ops, worst)
        })
    };
    let searches = [
        vec![
            "WITHIN", "big", "LIMIT", "1000000", "IDS", "BOUNDS", "-90", "-180", "90", "180",
        ],
        vec![
            "INTERSECTS",
            "big",
            "LIMIT",
            "1000000",
            "IDS",
            "BOUNDS",
            "10",
            "20",
            "12",
            "22",
        ],
        vec!["SCAN", "big", "LIMIT", "1000000", "IDS"],
        vec!["SCAN", "big", "DESC", "LIMIT", "1000000", "IDS"],
        vec![
            "NEARBY", "big", "LIMIT", "1000000", "IDS", "POINT", "10.7", "20.2",
        ],
    ];
    let holds_before = c.info_stat("walk_holds");
    for round in 0..3 {
        for search in &searches {
            let reply = c.cmd(search);
            let ids = ids_of(&reply);
            let mut seen = HashSet::new();
            for i in &ids {
                assert!(seen.insert(i.as_str()), "{search:?}: {i} twice");
            }
            for i in (0..n).filter(|i| i % 10 >= 2) {
                assert!(
                    seen.contains(id(i).as_str()),
                    "{search:?} {round}: {} missed",
                    id(i)
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (ops, worst) = writer.join().unwrap();
    assert!(ops > 100, "the writer did {ops} writes");
    assert!(worst < Duration::from_secs(1), "a write waited {worst:?}");
    // Each walk took a second hold at least, and more where it made room for the writer.
    let holds = c.info_stat("walk_holds") - holds_before;
    assert!(holds > 3 * 5 * 2 + 10, "{holds} holds");
    // Writes never waited for a whole walk. (A writer on the walk's own connection loop runs
    // between two of its holds, so it may never have waited for the lock at all.)
    let waited = c.info_stat("lock_max_write_wait_us");
    assert!(waited < 1_000_000, "{waited} µs");
}

#[test]
fn a_walk_nobody_waits_for_takes_few_holds() {
    let n = 30_000;
    let (_server, mut c) = loaded_with_batch_64(n);
    let searches = [
        "NEARBY big LIMIT 1000000 IDS POINT 10.7 20.2",
        "NEARBY big WHERE speed 999 999 COUNT POINT 10.7 20.2",
        "SCAN big LIMIT 1000000 IDS",
        "WITHIN big COUNT BOUNDS -90 -180 90 180",
    ];
    // Area walks step by whole index pages, so they may walk more than a batch per hold.
    // Without yield-always a hold goes on while nobody waits, for up to 2 ms (a connection
    // loop's other clients wait for it): far fewer holds than one per batch.
    let per_batch = n as u64 / 64 / 2;
    for (yield_always, least, most) in [("no", 2, per_batch / 4), ("yes", per_batch, u64::MAX)] {
        let set = ["CONFIG", "SET", "search-walk-yield-always", yield_always];
        assert_eq!(c.cmd(&set), OK);
        for search in searches {
            let before = c.info_stat("walk_holds");
            let reply = c.cmd(&search.split(' ').collect::<Vec<_>>());
            let holds = c.info_stat("walk_holds") - before;
            // The expiry tick takes the write lock every 100 ms: a walk may make room for it.
            assert!(
                (least..=most).contains(&holds),
                "{search} (yield always {yield_always}): {holds} holds, {reply:.200}"
            );
        }
    }
}

/// A long walk gives its connection loop back between holds: a client that connects during
/// it gets its write done before the walk ends. (Before, a walk that blocked the thread that
/// polled the sockets made the write wait for the whole walk.) One connection loop, so that
/// no other thread would poll them.
#[test]
fn a_new_client_writes_during_a_long_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::spawn_env(tmp.path(), &[], &[("MERIDIAN_THREADS", "1")]);
    s.wait_ready();
    load(&s, 200_000);
    let mut c = s.wire();
    let before = c.info_stat("walk_holds");
    let walk_started = Instant::now();
    let walker = {
        let mut w = s.wire();
        std::thread::spawn(move || {
            let reply = w.cmd(&[
                "NEARBY", "big", "WHERE", "speed", "999", "999", "COUNT", "POINT", "10.7", "20.2",
            ]);
            (reply, Instant::now())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.info_stat("walk_holds") == before {
        assert!(
            Instant::now() < deadline,
            "the walk never took a second hold"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut fresh = s.wire();
    assert_eq!(fresh.cmd(&["SET", "big", "new", "POINT", "1", "1"]), OK);
    let written = Instant::now();
    let (reply, walked) = walker.join().unwrap();
    assert!(reply.ends_with(":0\r\n"), "{reply}");
    assert!(written < walked, "the write waited for the walk");
    // Whatever the write waited for the lock, it was not the rest of the walk.
    let waited = Duration::from_micros(c.info_stat("lock_max_write_wait_us"));
    assert!(waited < walked - walk_started, "{waited:?}");
}
