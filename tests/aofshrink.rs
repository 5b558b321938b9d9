//! AOFSHRINK against the real binary: the rewritten file holds the same data in compact form at
//! the same stream position, writes during a rewrite converge with a server that never
//! rewrote, renames restart the walk, stray temp files are removed, and the automatic trigger
//! fires on growth and can be turned off. (Crash safety during rewrites: tests/crash.rs.)

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `INFO persistence` as name -> value.
fn persistence(c: &mut RespClient) -> BTreeMap<String, String> {
    let text = c.cmd(&["INFO", "persistence"]).unwrap().text();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn rewrites(c: &mut RespClient) -> u64 {
    persistence(c)["aof_rewrites"].parse().unwrap()
}

/// Waits until `aof_rewrites` reaches `n` (and no rewrite is scheduled or running).
fn wait_rewrites(c: &mut RespClient, n: u64) -> BTreeMap<String, String> {
    wait_until(Duration::from_secs(60), "rewrite finished", || {
        let p = persistence(c);
        let done = p["aof_rewrites"].parse::<u64>().unwrap() >= n
            && p["aof_rewrite_in_progress"] == "0"
            && p["aof_rewrite_scheduled"] == "0";
        done.then_some(p)
    })
}

/// Sends `cmds` pipelined and checks every reply is not an error.
fn pipeline(c: &mut RespClient, cmds: &[Vec<String>]) {
    for chunk in cmds.chunks(1000) {
        let mut bytes = Vec::new();
        for args in chunk {
            bytes.extend(resp_encode(args));
        }
        c.send_raw(&bytes).unwrap();
        for args in chunk {
            let r = c.read().unwrap();
            assert!(!matches!(r, Resp::Error(_)), "{args:?} -> {r:?}");
        }
    }
}

fn strs(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Data set digest fields (not the stream position).
fn data_digest(d: &BTreeMap<String, String>) -> (String, String, String) {
    (
        d["digest"].clone(),
        d["num_collections"].clone(),
        d["num_objects"].clone(),
    )
}

/// Points overwritten once each (so there is something to shrink), plus one of every kind.
fn varied_data_set(n: usize) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    for round in 0..2 {
        for i in 0..n {
            let lat = format!("{}", 33.0 + i as f64 * 1e-4 + round as f64 * 1e-5);
            cmds.push(strs(&[
                "SET",
                "fleet",
                &format!("p{i}"),
                "FIELD",
                "speed",
                &(i % 90).to_string(),
                "POINT",
                &lat,
                "-112.25",
            ]));
        }
    }
    for args in [
        &["SET", "fleet", "bounds", "BOUNDS", "1", "2", "3", "4"][..],
        &["SET", "fleet", "hash", "HASH", "9q8yy"],
        &[
            "SET",
            "fleet",
            "poly",
            "FIELD",
            "name",
            "lot",
            "OBJECT",
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[3,2],[3,3],[2,2]]]}"#,
        ],
        &["SET", "fleet", "z", "POINT", "1", "2", "300"],
        &["SET", "fleet", "ttl", "EX", "100000", "POINT", "5", "6"],
        &["SET", "names", "s1", "STRING", "hello world"],
        &["JSET", "names", "j1", "a.b", "7"],
        &["DEL", "fleet", "p0"],
        &["SET", "gone", "x", "POINT", "1", "1"],
        &["DROP", "gone"],
    ] {
        cmds.push(strs(args));
    }
    cmds
}

#[test]
fn aofshrink_rewrites_in_compact_form_at_the_same_stream_position() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_loaded(tmp.path(), &[]);
    let mut c = s.client();
    pipeline(&mut c, &varied_data_set(3000));
    let before = digest_of(&mut c);
    let ttl_before = c.cmd(&["TTL", "fleet", "ttl"]).unwrap().int();
    let size_before = std::fs::metadata(s.aof_path()).unwrap().len();

    assert_eq!(c.cmd(&["AOFSHRINK"]).unwrap(), Resp::Simple("OK".into()));
    let p = wait_rewrites(&mut c, 1);
    assert_eq!(p["aof_last_rewrite_status"], "ok");
    assert_eq!(p["aof_last_bgrewrite_status"], "ok");
    assert_eq!(p["aof_last_rewrite_objects"], "3006");
    let size_after = std::fs::metadata(s.aof_path()).unwrap().len();
    assert_eq!(p["aof_current_size"], size_after.to_string());
    assert_eq!(p["aof_last_rewrite_bytes_written"], size_after.to_string());
    assert!(
        size_after * 10 < size_before * 6,
        "{size_before} -> {size_after}"
    );
    // Same data, same replication id and offset: a rewrite is invisible to followers.
    assert_eq!(digest_of(&mut c), before);

    let text = String::from_utf8(std::fs::read(s.aof_path()).unwrap()).unwrap();
    assert!(
        !text.contains("\"type\":\"Point\""),
        "points became GeoJSON"
    );
    let lat = format!("{}", 33.0 + 2999.0 * 1e-4 + 1e-5);
    let point = format!(
        "$5\r\nPOINT\r\n${}\r\n{lat}\r\n$7\r\n-112.25\r\n",
        lat.len()
    );
    assert!(text.contains(&point), "{point:?} missing");
    assert!(text.contains("$4\r\nPXAT\r\n"));
    assert!(!text.contains("gone"));
    assert_eq!(text.matches("MERIDIAN.STREAM").count(), 1);
    assert!(text.starts_with("*8\r\n$3\r\nSET\r\n$5\r\nfleet\r\n$6\r\nbounds\r\n$6\r\nBOUNDS\r\n"));

    // Appends continue in the new file; a restart sees everything at the same position.
    c.cmd(&["SET", "fleet", "after", "POINT", "7", "8"])
        .unwrap();
    let live = digest_of(&mut c);
    assert_eq!(s.stop(), Some(0));
    let s2 = TestServer::start_loaded(tmp.path(), &[]);
    let mut c2 = s2.client();
    assert_eq!(digest_of(&mut c2), live);
    let ttl_after = c2.cmd(&["TTL", "fleet", "ttl"]).unwrap().int();
    assert!(ttl_after <= ttl_before && ttl_after > ttl_before - 60);
}

#[test]
fn aofshrink_while_running_is_a_noop_and_needs_the_aof() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn_env(
        tmp.path(),
        &[],
        &[("MERIDIAN_AOF_REWRITE_CHUNK_OBJECTS", "1")],
    );
    s.wait_loaded();
    let mut c = s.client();
    let cmds: Vec<Vec<String>> = (0..100_000)
        .map(|i| strs(&["SET", "k", &format!("{i}"), "POINT", "1", "2"]))
        .collect();
    pipeline(&mut c, &cmds);
    assert_eq!(c.cmd(&["AOFSHRINK"]).unwrap(), Resp::Simple("OK".into()));
    wait_until(Duration::from_secs(20), "rewrite running", || {
        (persistence(&mut c)["aof_rewrite_in_progress"] == "1").then_some(())
    });
    assert_eq!(c.cmd(&["AOFSHRINK"]).unwrap(), Resp::Simple("OK".into()));
    let p = wait_rewrites(&mut c, 1);
    assert_eq!(p["aof_rewrites"], "1");
    assert_eq!(p["aof_last_rewrite_chunks"], "100000");
    assert_eq!(p["aof_last_rewrite_objects"], "100000");
    // The second request was dropped, not queued: nothing runs during a worker tick or two.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let p = persistence(&mut c);
        assert_eq!(
            (
                p["aof_rewrites"].as_str(),
                p["aof_rewrite_in_progress"].as_str()
            ),
            ("1", "0")
        );
    }

    let off = TestServer::start_loaded_tmp(&["--appendonly", "no"]);
    let mut c = off.client();
    assert_eq!(
        c.cmd(&["AOFSHRINK"]).unwrap(),
        Resp::Error("ERR aof disabled".into())
    );
    assert_eq!(
        c.cmd(&["AOFSHRINK", "now"]).unwrap(),
        Resp::Error("ERR wrong number of arguments for 'aofshrink' command".into())
    );
    let mut w = WireConn::connect(off.port);
    w.cmd(&["OUTPUT", "json"]);
    assert_eq!(
        strip_elapsed(&w.json(&["AOFSHRINK"])),
        r#"{"ok":false,"err":"aof disabled"}"#
    );
}

/// A random write for the convergence test. Ids are shared between kinds so every command
/// meets objects of every state.
fn random_write(rng: &mut StdRng, now_ms: i64) -> Vec<String> {
    let keys = ["a", "b", "c"];
    let key = keys[rng.gen_range(0..keys.len())].to_string();
    let id = format!("o{}", rng.gen_range(0..400));
    let num = |rng: &mut StdRng| rng.gen_range(-50..50).to_string();
    if rng.gen_ratio(1, 3000) {
        // Rare: each one during a walk restarts it (see a_rename_during_the_walk_restarts_it).
        let to = keys[rng.gen_range(0..keys.len())];
        return strs(&["RENAME", &key, to]);
    }
    match rng.gen_range(0..100) {
        0..=39 => {
            let (lat, lon) = (
                rng.gen_range(-80.0..80.0f64),
                rng.gen_range(-170.0..170.0f64),
            );
            let f = num(rng);
            strs(&[
                "SET",
                &key,
                &id,
                "FIELD",
                "f",
                &f,
                "POINT",
                &lat.to_string(),
                &lon.to_string(),
            ])
        }
        40..=44 => strs(&["SET", &key, &id, "STRING", &num(rng)]),
        45..=59 => strs(&["DEL", &key, &id]),
        60..=71 => strs(&["FSET", &key, &id, "g", &num(rng)]),
        72..=77 => {
            // Absolute expiry, the same on both servers: some objects expire during the test.
            // They have ids of their own that nothing else writes: a write that reached one
            // server just before an object's expiry and the other just after would rightly
            // give different results.
            let at = now_ms + rng.gen_range(200..3000);
            let eid = format!("e{}", rng.gen_range(0..400));
            strs(&[
                "SET",
                &key,
                &eid,
                "PXAT",
                &at.to_string(),
                "POINT",
                "1",
                "2",
            ])
        }
        78..=81 => strs(&["PERSIST", &key, &id]),
        82..=85 => strs(&["PDEL", &key, &format!("o{}*", rng.gen_range(1..10))]),
        86..=88 => strs(&["JSET", &key, &id, "x.y", &num(rng)]),
        89 => strs(&["DROP", &key]),
        // Far in the future, and absolute: a relative EXPIRE would land on each server's own
        // millisecond.
        _ => strs(&["PEXPIREAT", &key, &id, &(now_ms + 100_000_000).to_string()]),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Sends `cmd` to both servers; the replies must agree except where an object's expiry
/// instant fell between the two sends.
fn both(a: &mut RespClient, b: &mut RespClient, cmd: &[String]) {
    let ra = a.cmd(cmd).unwrap();
    let rb = b.cmd(cmd).unwrap();
    if matches!(cmd[0].as_str(), "SET" | "PDEL" | "DROP" | "RENAME" | "JSET") {
        assert!(
            !matches!(ra, Resp::Error(_)) || ra == rb,
            "{cmd:?}: {ra:?} / {rb:?}"
        );
    }
}

#[test]
fn writes_during_rewrites_converge_with_a_server_that_never_rewrote() {
    let seed: u64 = rand::thread_rng().gen();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir_a = tempfile::tempdir().unwrap();
    let env = [
        ("MERIDIAN_AOF_REWRITE_CHUNK_OBJECTS", "1"),
        ("MERIDIAN_AUTO_AOF_REWRITE_PERCENTAGE", "0"),
    ];
    let mut a = TestServer::spawn_env(dir_a.path(), &[], &env);
    a.wait_loaded();
    let b = TestServer::start_loaded_tmp(&[]);
    let (mut ca, mut cb) = (a.client(), b.client());
    // A bulk the walk takes a while over, in its own key, so writes land mid-walk.
    let bulk: Vec<Vec<String>> = (0..100_000)
        .map(|i| strs(&["SET", "bulk", &format!("{i}"), "POINT", "10", "10"]))
        .collect();
    pipeline(&mut ca, &bulk);
    pipeline(&mut cb, &bulk);

    let mut overlapped = 0;
    for round in 1..=4u64 {
        assert_eq!(ca.cmd(&["AOFSHRINK"]).unwrap(), Resp::Simple("OK".into()));
        let mut sent = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let cmd = random_write(&mut rng, now_ms());
            both(&mut ca, &mut cb, &cmd);
            sent += 1;
            if sent % 10 == 0 {
                let p = persistence(&mut ca);
                if p["aof_rewrites"].parse::<u64>().unwrap()
                    + p["aof_rewrite_failures"].parse::<u64>().unwrap()
                    >= round
                {
                    break;
                }
                if p["aof_rewrite_in_progress"] == "1" {
                    overlapped += 1;
                }
            }
            assert!(Instant::now() < deadline, "rewrite {round} did not finish");
        }
    }
    assert!(overlapped > 0, "no write ran during a rewrite");
    let p = persistence(&mut ca);
    assert!(p["aof_rewrites"].parse::<u64>().unwrap() >= 1, "{p:?}");

    // Both servers expire objects themselves (and log those deletes); every expiry time sent
    // is before `horizon`, so once it has passed and both have swept (every 100 ms; a second
    // leaves ten sweeps), they must agree. Agreeing earlier is no proof: both may still hold
    // the same expired objects, which a restart would not count.
    let horizon = now_ms() + 3000 + 1000;
    let want = wait_until(Duration::from_secs(20), "the servers to agree", || {
        let (da, db) = (
            data_digest(&digest_of(&mut ca)),
            data_digest(&digest_of(&mut cb)),
        );
        (now_ms() > horizon && da == db).then_some(db)
    });
    // And the rewritten AOF replays to the same data, even after a kill.
    a.kill9();
    let a2 = TestServer::start_loaded(dir_a.path(), &[]);
    let got = data_digest(&a2.digest());
    if got != want {
        let diff = object_diff(&mut a2.client(), &mut cb);
        panic!(
            "seed {seed}: after restart {got:?} != {want:?}; objects (restarted, other): {diff:?}"
        );
    }
}

/// The objects that differ between two servers: (key, id) -> (GET on `a`, GET on `b`).
fn object_diff(a: &mut RespClient, b: &mut RespClient) -> Vec<(String, String, Resp, Resp)> {
    let ids = |c: &mut RespClient| {
        let mut out = BTreeMap::new();
        let Resp::Array(keys) = c.cmd(&["KEYS", "*"]).unwrap() else {
            panic!("KEYS")
        };
        for key in keys.iter().map(Resp::text) {
            let reply = c.cmd(&["SCAN", &key, "LIMIT", "10000000", "IDS"]).unwrap();
            let Resp::Array(parts) = reply else {
                panic!("SCAN")
            };
            let Resp::Array(list) = &parts[1] else {
                panic!("SCAN ids")
            };
            for id in list {
                let got = c.cmd(&["GET", &key, &id.text(), "WITHFIELDS"]).unwrap();
                out.insert((key.clone(), id.text()), got);
            }
        }
        out
    };
    let (in_a, in_b) = (ids(a), ids(b));
    let keys: std::collections::BTreeSet<_> = in_a.keys().chain(in_b.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (in_a.get(&k).cloned(), in_b.get(&k).cloned());
            (x != y).then(|| {
                let none = || Resp::Nil;
                (k.0, k.1, x.unwrap_or_else(none), y.unwrap_or_else(none))
            })
        })
        .collect()
}

#[test]
fn a_rename_during_the_walk_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn_env(
        dir.path(),
        &[],
        &[("MERIDIAN_AOF_REWRITE_CHUNK_OBJECTS", "1")],
    );
    s.wait_loaded();
    let mut c = s.client();
    let cmds: Vec<Vec<String>> = (0..100_000)
        .map(|i| strs(&["SET", "m", &format!("{i}"), "POINT", "1", "2"]))
        .collect();
    pipeline(&mut c, &cmds);
    c.cmd(&["SET", "r1", "x", "STRING", "moving"]).unwrap();
    assert_eq!(c.cmd(&["AOFSHRINK"]).unwrap(), Resp::Simple("OK".into()));
    wait_until(Duration::from_secs(20), "rewrite running", || {
        (persistence(&mut c)["aof_rewrite_in_progress"] == "1").then_some(())
    });
    // Renames until the rewrite ends: each one during the walk restarts it.
    let mut n = 0;
    loop {
        let (from, to) = if n % 2 == 0 {
            ("r1", "r2")
        } else {
            ("r2", "r1")
        };
        assert_eq!(
            c.cmd(&["RENAME", from, to]).unwrap(),
            Resp::Simple("OK".into())
        );
        n += 1;
        let p = persistence(&mut c);
        if p["aof_rewrite_in_progress"] == "0" && p["aof_rewrite_scheduled"] == "0" {
            let restarts: u32 = p["aof_last_rewrite_restarts"].parse().unwrap();
            assert!(restarts >= 1, "{p:?}");
            // Either it finished on a later attempt, or it gave up and left the AOF alone.
            assert!(
                p["aof_rewrites"] == "1" || p["aof_rewrite_failures"] == "1",
                "{p:?}"
            );
            break;
        }
    }
    let want = digest_of(&mut c);
    s.kill9();
    let s2 = TestServer::start_loaded(dir.path(), &[]);
    assert_eq!(data_digest(&s2.digest()), data_digest(&want));
}

#[test]
fn a_stray_temp_file_is_removed_and_the_aof_used() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_loaded(tmp.path(), &[]);
    s.client()
        .cmd(&["SET", "fleet", "a", "POINT", "1", "2"])
        .unwrap();
    let want = s.digest();
    assert_eq!(s.stop(), Some(0));
    let stray = tmp.path().join("appendonly.aof.rewrite.tmp");
    std::fs::write(
        &stray,
        resp_encode(&["SET", "fleet", "b", "POINT", "3", "4"]),
    )
    .unwrap();
    let s2 = TestServer::start_loaded(tmp.path(), &[]);
    assert!(!stray.exists());
    assert_eq!(s2.digest(), want);
    assert!(s2.log_text().contains("appendonly.aof.rewrite.tmp"));
}

fn aof_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("appendonly.aof")).unwrap().len()
}

#[test]
fn the_automatic_trigger_fires_on_growth_and_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn_env(
        tmp.path(),
        &[],
        &[
            ("MERIDIAN_AUTO_AOF_REWRITE_MIN_SIZE", "256kb"),
            ("MERIDIAN_AUTO_AOF_REWRITE_PERCENTAGE", "100"),
        ],
    );
    s.wait_loaded();
    let mut c = s.client();
    let overwrite = |c: &mut RespClient, round: usize| {
        let cmds: Vec<Vec<String>> = (0..4000)
            .map(|i| {
                let v = (round * 10_000 + i).to_string();
                strs(&[
                    "SET",
                    "fleet",
                    &format!("{}", i % 50),
                    "FIELD",
                    "v",
                    &v,
                    "POINT",
                    "1",
                    "2",
                ])
            })
            .collect();
        pipeline(c, &cmds);
    };
    overwrite(&mut c, 0);
    assert!(aof_len(tmp.path()) > 256 * 1024);
    let p = wait_rewrites(&mut c, 1);
    assert!(
        p["aof_current_size"].parse::<u64>().unwrap() < 64 * 1024,
        "{p:?}"
    );
    assert_eq!(p["aof_base_size"], p["aof_last_rewrite_bytes_written"]);
    let want = digest_of(&mut c);

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "auto-aof-rewrite-percentage", "0"])
            .unwrap(),
        Resp::Simple("OK".into())
    );
    overwrite(&mut c, 1);
    let grown = aof_len(tmp.path());
    assert!(grown > 256 * 1024);
    // The worker checks twice a second: three checks' worth of time, and nothing ran.
    let deadline = Instant::now() + Duration::from_millis(1600);
    while Instant::now() < deadline {
        assert_eq!(rewrites(&mut c), 1);
    }
    assert!(aof_len(tmp.path()) >= grown);
    assert_ne!(digest_of(&mut c), want);
}
