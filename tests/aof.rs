//! The append-only file end to end (DESIGN contracts 2 and 6): what is written survives a
//! restart exactly, expiry is stored as absolute time, Tile38-written files load unchanged,
//! a torn tail is cut and kept, garbage in the middle stops startup without touching the file,
//! clients see LOADING while the file replays, and the fsync / appendonly settings work.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn ok(c: &mut RespClient, args: &[&str]) {
    assert_eq!(
        c.cmd(args).unwrap(),
        Resp::Simple("OK".into()),
        "{args:?} should answer OK"
    );
}

fn int(c: &mut RespClient, args: &[&str]) -> i64 {
    match c.cmd(args).unwrap() {
        Resp::Int(n) => n,
        other => panic!("{args:?} answered {other:?}"),
    }
}

fn get(c: &mut RespClient, key: &str, id: &str) -> Resp {
    c.cmd(&["GET", key, id]).unwrap()
}

/// Encodes a list of commands as an AOF (RESP arrays).
fn aof_bytes(cmds: &[&[&str]]) -> Vec<u8> {
    cmds.iter().flat_map(|c| resp_encode(c)).collect()
}

/// Byte offset of the first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs `queries` and returns their replies.
fn snapshot(c: &mut RespClient, queries: &[Vec<String>]) -> Vec<Resp> {
    queries.iter().map(|q| c.cmd(q).unwrap()).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Compares snapshots taken before and after a restart: equal, except that TTL replies may
/// have gone down (never up) by at most `slack` seconds.
fn assert_same_after_restart(queries: &[Vec<String>], before: &[Resp], after: &[Resp], slack: i64) {
    for ((q, b), a) in queries.iter().zip(before).zip(after) {
        if q[0] == "TTL" {
            let (b, a) = (b.int(), a.int());
            if b < 0 {
                assert_eq!(a, b, "{q:?}");
            } else {
                assert!(a <= b && a >= b - slack, "{q:?}: TTL {b} before, {a} after");
            }
        } else {
            assert_eq!(a, b, "{q:?} changed across the restart");
        }
    }
}

#[test]
fn every_kind_of_object_survives_a_restart() {
    let mut s = TestServer::start_loaded_tmp(&[]);
    let mut c = s.client();
    let polygon =
        r#"{"type":"Polygon","coordinates":[[[-112,33],[-111,33],[-111,34],[-112,34],[-112,33]]]}"#;
    let feature = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[-112.1,33.4]},"properties":{"name":"depot","n":7}}"#;
    let writes: Vec<Vec<&str>> = vec![
        vec!["SET", "fleet", "point", "POINT", "33.5123", "-112.2693"],
        vec![
            "SET", "fleet", "pointz", "POINT", "33.5", "-112.25", "1234.5",
        ],
        vec![
            "SET", "fleet", "bounds", "BOUNDS", "30", "-110", "31", "-109.5",
        ],
        vec!["SET", "fleet", "hash", "HASH", "9tbnthxzr"],
        vec!["SET", "fleet", "feature", "OBJECT", feature],
        vec!["SET", "zones", "poly", "OBJECT", polygon],
        vec!["SET", "notes", "str", "STRING", "hello world \u{e9}"],
        vec![
            "SET",
            "fleet",
            "fields",
            "FIELD",
            "speed",
            "90.5",
            "FIELD",
            "name",
            "bob",
            "FIELD",
            "on",
            "true",
            "FIELD",
            "off",
            "false",
            "FIELD",
            "meta",
            r#"{"a":[1,2]}"#,
            "FIELD",
            "neg",
            "-3",
            "POINT",
            "33",
            "-112",
        ],
        vec!["SET", "fleet", "ex1", "EX", "3600", "POINT", "1", "2"],
        vec![
            "SET", "notes", "ex2", "FIELD", "speed", "1", "EX", "7200.5", "STRING", "temp",
        ],
    ];
    for w in &writes {
        ok(&mut c, w);
    }
    // Spot checks that the writes did what we think, so an empty data set cannot pass.
    assert_eq!(
        get(&mut c, "fleet", "point"),
        Resp::bulk(r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#)
    );
    assert_eq!(
        get(&mut c, "fleet", "pointz"),
        Resp::bulk(r#"{"type":"Point","coordinates":[-112.25,33.5,1234.5]}"#)
    );
    assert_eq!(get(&mut c, "fleet", "feature"), Resp::bulk(feature));
    assert_eq!(
        get(&mut c, "notes", "str"),
        Resp::bulk("hello world \u{e9}")
    );
    assert_eq!(
        c.cmd(&["FGET", "fleet", "fields", "meta"]).unwrap(),
        Resp::bulk(r#"{"a":[1,2]}"#)
    );
    let ttl = int(&mut c, &["TTL", "fleet", "ex1"]);
    assert!((3595..=3600).contains(&ttl), "TTL {ttl}");

    let mut queries = vec![
        strs(&["KEYS", "*"]),
        strs(&["SCAN", "fleet"]),
        strs(&["SCAN", "notes"]),
        strs(&["SCAN", "zones"]),
        strs(&["GET", "fleet", "pointz", "POINT"]),
        strs(&["GET", "fleet", "bounds", "BOUNDS"]),
        strs(&["GET", "fleet", "hash", "HASH", "9"]),
        strs(&["GET", "zones", "poly", "BOUNDS"]),
    ];
    for w in &writes {
        let (key, id) = (w[1], w[2]);
        queries.push(strs(&["GET", key, id]));
        queries.push(strs(&["GET", key, id, "WITHFIELDS"]));
        queries.push(strs(&["TTL", key, id]));
        let mut i = 3;
        while i + 2 < w.len() {
            if w[i] == "FIELD" {
                queries.push(strs(&["FGET", key, id, w[i + 1]]));
                i += 3;
            } else {
                i += 1;
            }
        }
    }
    let before = snapshot(&mut c, &queries);
    let digest = digest_of(&mut c);
    assert_eq!(digest["num_objects"], writes.len().to_string());

    assert_eq!(s.stop(), Some(0), "SIGTERM must exit cleanly");
    let dir = s.dir.clone();
    let s2 = TestServer::start_loaded(&dir, &[]);
    let mut c2 = s2.client();
    let after = snapshot(&mut c2, &queries);
    assert_same_after_restart(&queries, &before, &after, 5);
    let digest2 = digest_of(&mut c2);
    assert_eq!(digest2["digest"], digest["digest"], "data digest changed");
    assert_eq!(digest2["num_objects"], digest["num_objects"]);
    // The replication position is the file's, not the process's (contract 4).
    assert_eq!(digest2["repl_id"], digest["repl_id"]);
    assert_eq!(digest2["repl_offset"], digest["repl_offset"]);
    drop(s);
}

#[test]
fn expiry_is_logged_as_absolute_time_and_never_extended_by_a_restart() {
    let mut s = TestServer::start_loaded_tmp(&[]);
    let mut c = s.client();
    let set_at = Instant::now();
    let before_ms = now_ms();
    ok(
        &mut c,
        &["SET", "fleet", "short", "EX", "2", "POINT", "33", "-112"],
    );
    let after_ms = now_ms();
    ok(
        &mut c,
        &["SET", "fleet", "long", "EX", "3600", "POINT", "34", "-112"],
    );
    ok(&mut c, &["SET", "fleet", "forever", "POINT", "35", "-112"]);

    let aof = std::fs::read(s.aof_path()).unwrap();
    assert!(
        find(&aof, b"$2\r\nEX\r\n").is_none(),
        "relative EX must not be logged"
    );
    let at = find(&aof, b"$4\r\nPXAT\r\n").expect("PXAT logged");
    let rest = &aof[at + 10..];
    let text = String::from_utf8_lossy(rest);
    let pxat: i64 = text.split("\r\n").nth(1).unwrap().parse().unwrap();
    assert!(
        (before_ms + 2000..=after_ms + 2000).contains(&pxat),
        "PXAT {pxat} not in [{}, {}]",
        before_ms + 2000,
        after_ms + 2000
    );

    assert_eq!(s.stop(), Some(0));
    // Stay down until the 2 s expiry has passed (plus margin).
    while set_at.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = s.dir.clone();
    let s2 = TestServer::start_loaded(&dir, &[]);
    let mut c2 = s2.client();
    assert_eq!(
        get(&mut c2, "fleet", "short"),
        Resp::Nil,
        "TTL was extended"
    );
    let ttl = int(&mut c2, &["TTL", "fleet", "long"]);
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
    assert_eq!(int(&mut c2, &["TTL", "fleet", "forever"]), -1);
    // The leader deletes the expired object and logs the delete (contract 6).
    let del = resp_encode(&["DEL", "fleet", "short"]);
    wait_until(Duration::from_secs(10), "expiry DEL in the AOF", || {
        find(&std::fs::read(s2.aof_path()).unwrap(), &del).map(|_| ())
    });
    drop(s);
}

#[test]
fn range_deletes_and_modifications_are_replayed() {
    let mut s = TestServer::start_loaded_tmp(&[]);
    let mut c = s.client();
    ok(&mut c, &["SET", "gone", "a", "POINT", "1", "1"]);
    ok(&mut c, &["SET", "fleet", "early", "POINT", "1", "1"]);
    ok(&mut c, &["FLUSHDB"]);
    for id in ["t1", "t2", "t3", "u1", "u2"] {
        ok(
            &mut c,
            &[
                "SET", "fleet", id, "FIELD", "speed", "10", "POINT", "33", "-112",
            ],
        );
    }
    assert_eq!(int(&mut c, &["PDEL", "fleet", "t*"]), 3);
    assert_eq!(
        int(
            &mut c,
            &["FSET", "fleet", "u1", "speed", "55", "color", "red"]
        ),
        2
    );
    assert_eq!(int(&mut c, &["DEL", "fleet", "u2"]), 1);
    ok(&mut c, &["SET", "tmp", "a", "POINT", "1", "1"]);
    assert_eq!(int(&mut c, &["DROP", "tmp"]), 1);
    ok(&mut c, &["SET", "old", "a", "STRING", "x"]);
    ok(&mut c, &["SET", "old", "b", "STRING", "y"]);
    ok(&mut c, &["RENAME", "old", "new"]);
    ok(&mut c, &["SET", "exp", "a", "EX", "100", "POINT", "1", "1"]);
    assert_eq!(int(&mut c, &["PERSIST", "exp", "a"]), 1);
    ok(&mut c, &["SET", "exp", "b", "POINT", "1", "1"]);
    assert_eq!(int(&mut c, &["EXPIRE", "exp", "b", "3600"]), 1);
    ok(&mut c, &["JSET", "doc", "1", "a.b", "5"]);
    ok(&mut c, &["JSET", "doc", "1", "c", "hello"]);
    assert_eq!(int(&mut c, &["JDEL", "doc", "1", "a.b"]), 1);
    ok(&mut c, &["JSET", "doc", "2", "x", "1"]);
    assert_eq!(int(&mut c, &["JDEL", "doc", "2", "x"]), 1);

    let keys = |c: &mut RespClient| c.cmd(&["KEYS", "*"]).unwrap();
    let expected_keys = Resp::Array(["doc", "exp", "fleet", "new"].map(Resp::bulk).to_vec());
    assert_eq!(keys(&mut c), expected_keys);
    let queries: Vec<Vec<String>> = vec![
        strs(&["KEYS", "*"]),
        strs(&["SCAN", "fleet"]),
        strs(&["SCAN", "new"]),
        strs(&["SCAN", "doc"]),
        strs(&["GET", "fleet", "u1", "WITHFIELDS"]),
        strs(&["GET", "fleet", "t1"]),
        strs(&["GET", "fleet", "u2"]),
        strs(&["GET", "new", "a"]),
        strs(&["GET", "new", "b"]),
        strs(&["GET", "old", "a"]),
        strs(&["TTL", "exp", "a"]),
        strs(&["TTL", "exp", "b"]),
        strs(&["JGET", "doc", "1", "a"]),
        strs(&["GET", "doc", "1"]),
        strs(&["GET", "doc", "2"]),
    ];
    let before = snapshot(&mut c, &queries);
    let expect = |q: &[&str]| &before[queries.iter().position(|x| x == &strs(q)).unwrap()];
    assert_eq!(
        expect(&["GET", "fleet", "u1", "WITHFIELDS"]),
        &Resp::Array(vec![
            Resp::bulk(r#"{"type":"Point","coordinates":[-112,33]}"#),
            Resp::Array(["color", "red", "speed", "55"].map(Resp::bulk).to_vec()),
        ])
    );
    assert_eq!(expect(&["GET", "fleet", "t1"]), &Resp::Nil);
    assert_eq!(expect(&["GET", "fleet", "u2"]), &Resp::Nil);
    assert_eq!(expect(&["GET", "new", "a"]), &Resp::bulk("x"));
    assert_eq!(expect(&["GET", "old", "a"]), &Resp::Nil);
    assert_eq!(expect(&["TTL", "exp", "a"]), &Resp::Int(-1));
    assert!((3595..=3600).contains(&expect(&["TTL", "exp", "b"]).int()));
    assert_eq!(
        expect(&["GET", "doc", "1"]),
        &Resp::bulk(r#"{"a":{},"c":"hello"}"#)
    );
    assert_eq!(expect(&["GET", "doc", "2"]), &Resp::bulk("{}"));
    let digest = digest_of(&mut c);

    let aof = std::fs::read(s.aof_path()).unwrap();
    for word in [
        "FLUSHDB",
        "PDEL",
        "FSET",
        "DROP",
        "RENAME",
        "PERSIST",
        "PEXPIREAT",
    ] {
        let needle = format!("${}\r\n{word}\r\n", word.len());
        assert!(find(&aof, needle.as_bytes()).is_some(), "{word} not logged");
    }

    assert_eq!(s.stop(), Some(0));
    let dir = s.dir.clone();
    let s2 = TestServer::start_loaded(&dir, &[]);
    let mut c2 = s2.client();
    let after = snapshot(&mut c2, &queries);
    assert_same_after_restart(&queries, &before, &after, 5);
    assert_eq!(digest_of(&mut c2), digest);
    drop(s);
}

#[test]
fn a_tile38_written_aof_loads_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let point = r#"{"type":"Point","coordinates":[-110,30]}"#;
    let feature =
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[-111,31]},"properties":{}}"#;
    // What Tile38 writes: the client's own arguments, in the client's own case, with
    // relative EX; lowercase AOFSHRINK-style lines; commands whose target is already gone.
    let cmds: Vec<Vec<&str>> = vec![
        vec!["set", "fleet", "truck1", "POINT", "33.5", "-112.2"],
        vec![
            "SET", "fleet", "truck1", "FIELD", "speed", "90", "POINT", "33.5", "-112.2",
        ],
        vec!["SET", "fleet", "truck2", "EX", "100", "POINT", "34", "-113"],
        vec![
            "Set", "fleet", "truck3", "FIELD", "speed", "20", "POINT", "35", "-114",
        ],
        vec!["del", "fleet", "truck3"],
        vec!["del", "fleet", "truck3"],
        vec!["jset", "user", "901", "name", "Tom"],
        vec!["JSET", "user", "901", "age", "46"],
        vec!["set", "tmp", "x", "string", "hello"],
        vec!["drop", "tmp"],
        vec!["fset", "fleet", "truck1", "speed", "95", "wheels", "18"],
        vec!["fset", "fleet", "nobody", "speed", "1"],
        vec!["SET", "fleet", "truck4", "OBJECT", point],
        vec![
            "set", "fleet", "truck5", "field", "speed", "7", "ex", "12.5", "object", feature,
        ],
        vec!["expire", "fleet", "truck4", "500"],
        vec!["SET", "fleet", "truck6", "POINT", "1", "2"],
        vec!["pdel", "fleet", "truck6*"],
    ];
    let refs: Vec<&[&str]> = cmds.iter().map(|c| c.as_slice()).collect();
    let body = aof_bytes(&refs);
    let mut file = body.clone();
    // Tile38 #230: a preallocated/crashed file can end in zero bytes.
    file.extend_from_slice(&[0u8; 100]);
    let path = tmp.path().join("appendonly.aof");
    std::fs::write(&path, &file).unwrap();

    let s = TestServer::start_loaded(tmp.path(), &[]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "WITHFIELDS"]).unwrap(),
        Resp::Array(vec![
            Resp::bulk(r#"{"type":"Point","coordinates":[-112.2,33.5]}"#),
            Resp::Array(["speed", "95", "wheels", "18"].map(Resp::bulk).to_vec()),
        ])
    );
    assert_eq!(
        get(&mut c, "fleet", "truck2"),
        Resp::bulk(r#"{"type":"Point","coordinates":[-113,34]}"#)
    );
    // Relative EX is read relative to load time.
    let ttl2 = int(&mut c, &["TTL", "fleet", "truck2"]);
    assert!((95..=100).contains(&ttl2), "truck2 TTL {ttl2}");
    assert_eq!(get(&mut c, "fleet", "truck3"), Resp::Nil);
    assert_eq!(get(&mut c, "fleet", "truck4"), Resp::bulk(point));
    let ttl4 = int(&mut c, &["TTL", "fleet", "truck4"]);
    assert!((495..=500).contains(&ttl4), "truck4 TTL {ttl4}");
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck5", "WITHFIELDS"]).unwrap(),
        Resp::Array(vec![
            Resp::bulk(feature),
            Resp::Array(["speed", "7"].map(Resp::bulk).to_vec())
        ])
    );
    let ttl5 = int(&mut c, &["TTL", "fleet", "truck5"]);
    assert!((8..=12).contains(&ttl5), "truck5 TTL {ttl5}");
    assert_eq!(get(&mut c, "fleet", "truck6"), Resp::Nil);
    assert_eq!(get(&mut c, "fleet", "nobody"), Resp::Nil);
    assert_eq!(
        get(&mut c, "user", "901"),
        Resp::bulk(r#"{"name":"Tom","age":46}"#)
    );
    assert_eq!(
        c.cmd(&["KEYS", "*"]).unwrap(),
        Resp::Array(["fleet", "user"].map(Resp::bulk).to_vec())
    );
    let d = digest_of(&mut c);
    assert_eq!(d["num_objects"], "5");

    // The Tile38 commands are kept byte for byte; the zero padding was cut off (and kept in a
    // side file) and only our stream record follows.
    let now = std::fs::read(&path).unwrap();
    assert_eq!(
        &now[..body.len()],
        &body[..],
        "the Tile38 part was rewritten"
    );
    let tail = String::from_utf8_lossy(&now[body.len()..]).into_owned();
    assert!(
        tail.starts_with("*4\r\n$15\r\nMERIDIAN.STREAM\r\n$1\r\n1\r\n$40\r\n"),
        "{tail:?}"
    );
    let torn = files_with_prefix(tmp.path(), "appendonly.aof.torn-");
    assert_eq!(torn.len(), 1, "{torn:?}");
    assert_eq!(std::fs::read(&torn[0]).unwrap(), vec![0u8; 100]);
}

/// A Tile38 file's relative `EX` is read relative to the first load; Meridian then logs the
/// absolute time, so later restarts never extend the TTL (contract 6).
#[test]
fn tile38_relative_expiry_is_not_extended_by_later_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = aof_bytes(&[&["SET", "fleet", "t", "EX", "3", "POINT", "1", "2"]]);
    std::fs::write(tmp.path().join("appendonly.aof"), &file).unwrap();
    let loaded_at = Instant::now();
    let mut s = TestServer::start_loaded(tmp.path(), &[]);
    assert_eq!(s.stop(), Some(0));
    while loaded_at.elapsed() < Duration::from_millis(3500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s2 = TestServer::start_loaded(tmp.path(), &[]);
    assert_eq!(get(&mut s2.client(), "fleet", "t"), Resp::Nil);
}

/// Writes a Meridian-style AOF (stream record + commands) and returns it with the offsets at
/// which each command starts.
fn meridian_aof(n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = resp_encode(&[
        "MERIDIAN.STREAM",
        "1",
        "0123456789abcdef0123456789abcdef01234567",
        "0",
    ]);
    let mut starts = Vec::new();
    for i in 0..n {
        starts.push(out.len());
        let id = format!("truck{i}");
        let lat = format!("{}", 30 + i % 10);
        out.extend(resp_encode(&["SET", "fleet", &id, "POINT", &lat, "-112"]));
    }
    (out, starts)
}

#[test]
fn a_torn_final_command_is_cut_and_kept_beside_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("appendonly.aof");
    let (good, _) = meridian_aof(20);
    let torn_cmd = resp_encode(&[
        "SET", "fleet", "torn", "FIELD", "speed", "9", "POINT", "1", "2",
    ]);
    // Every way a write can be cut: one byte, inside a header, inside a payload, before the
    // final LF.
    let cuts = [1, 4, 9, torn_cmd.len() / 2, torn_cmd.len() - 1];
    for (round, cut) in cuts.into_iter().enumerate() {
        let mut file = good.clone();
        file.extend_from_slice(&torn_cmd[..cut]);
        std::fs::write(&path, &file).unwrap();
        let s = TestServer::start_loaded(tmp.path(), &[]);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "cut {cut}: the file must end at the last complete command"
        );
        let mut c = s.client();
        assert_eq!(digest_of(&mut c)["num_objects"], "20");
        for i in [0, 7, 19] {
            let want = format!(r#"{{"type":"Point","coordinates":[-112,{}]}}"#, 30 + i % 10);
            assert_eq!(
                get(&mut c, "fleet", &format!("truck{i}")),
                Resp::bulk(&want)
            );
        }
        assert_eq!(get(&mut c, "fleet", "torn"), Resp::Nil);
        let log = s.log_text();
        assert!(
            log.contains(&format!("cut a torn final command at byte {}", good.len())),
            "{log}"
        );
        // Every torn tail so far is kept, each in its own side file with its exact bytes.
        let side = files_with_prefix(tmp.path(), "appendonly.aof.torn-");
        assert_eq!(side.len(), round + 1, "side files: {side:?}");
        let prefix = format!("appendonly.aof.torn-{}-", good.len());
        let mut contents: Vec<Vec<u8>> = side
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                assert!(name.starts_with(&prefix), "{name}");
                std::fs::read(p).unwrap()
            })
            .collect();
        contents.sort();
        let mut want: Vec<Vec<u8>> = cuts[..=round]
            .iter()
            .map(|&k| torn_cmd[..k].to_vec())
            .collect();
        want.sort();
        assert_eq!(contents, want);
    }
}

fn refused_start(dir: &Path) -> (Option<i32>, String) {
    let mut s = TestServer::spawn(dir, &[]);
    let code = s.wait_exit();
    // The log readers may lag the exit by a moment.
    let log = wait_until(Duration::from_secs(5), "startup error in the log", || {
        let log = s.log_text();
        log.contains("invalid data at byte offset").then_some(log)
    });
    (code, log)
}

#[test]
fn garbage_in_the_middle_stops_startup_and_changes_nothing() {
    let (good, starts) = meridian_aof(10);
    let junks: [&[u8]; 4] = [
        b"hello world\r\n",
        b"*2\r\n$3\r\nGET\r\nxx\r\n",
        b"*abc\r\n",
        b"\0\0\0\0\0\0\0\0",
    ];
    for junk in junks {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("appendonly.aof");
        let at = starts[5];
        let mut file = good[..at].to_vec();
        file.extend_from_slice(junk);
        file.extend_from_slice(&good[at..]);
        std::fs::write(&path, &file).unwrap();

        let (code, log) = refused_start(tmp.path());
        assert_eq!(code, Some(1), "junk {junk:?} must refuse to start: {log}");
        let want = format!("{}: invalid data at byte offset {at}:", path.display());
        assert!(
            log.contains(&want),
            "junk {junk:?}: wanted {want:?} in:\n{log}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            file,
            "junk {junk:?}: the AOF was changed"
        );
        assert!(files_with_prefix(tmp.path(), "appendonly.aof.torn-").is_empty());
    }
}

/// A Tile38-style AOF of `n` SETs (about 75 bytes each) that takes a debug build a second or
/// two to load.
fn big_aof(n: usize) -> Vec<u8> {
    let mut file = Vec::with_capacity(n * 80);
    for i in 0..n {
        let id = format!("id{i}");
        let lat = format!("33.{}", i % 1000);
        file.extend(resp_encode(&["SET", "fleet", &id, "POINT", &lat, "-112.5"]));
    }
    file
}

/// Polls until a data command answers LOADING (panics if the load finished first).
fn wait_for_loading(s: &TestServer) {
    wait_until(Duration::from_secs(10), "LOADING", || {
        match s.client().cmd(&["GET", "fleet", "id0"]).unwrap() {
            Resp::Error(e) if e.starts_with("LOADING ") => Some(()),
            other => panic!("the load ended before it was observed: {other:?}"),
        }
    });
}

#[test]
fn sigterm_while_loading_exits_cleanly_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("appendonly.aof");
    let file = big_aof(200_000);
    std::fs::write(&path, &file).unwrap();
    let mut s = TestServer::spawn(tmp.path(), &[]);
    wait_for_loading(&s);
    assert_eq!(
        s.stop(),
        Some(0),
        "SIGTERM during the load:\n{}",
        s.log_text()
    );
    assert_eq!(std::fs::read(&path).unwrap(), file, "the AOF was changed");
    let s2 = TestServer::start_loaded(tmp.path(), &[]);
    assert_eq!(digest_of(&mut s2.client())["num_objects"], "200000");
}

#[test]
fn clients_see_loading_until_the_aof_is_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    const N: usize = 200_000;
    std::fs::write(tmp.path().join("appendonly.aof"), big_aof(N)).unwrap();

    let s = TestServer::spawn(tmp.path(), &[]);
    let mut saw_loading = 0;
    let last = format!("id{}", N - 1);
    let reply = wait_until(Duration::from_secs(60), "load to finish", || {
        let mut c = s.client();
        match c.cmd(&["GET", "fleet", &last]).unwrap() {
            Resp::Error(e) => {
                assert!(e.starts_with("LOADING "), "{e}");
                // PING says LOADING too: PONG means ready.
                let p = c.cmd(&["PING"]).unwrap();
                assert!(
                    matches!(&p, Resp::Error(e) if e.starts_with("LOADING "))
                        || p == Resp::Simple("PONG".into()),
                    "{p:?}"
                );
                // A write during the load is refused too and must not land.
                let w = c
                    .cmd(&["SET", "fleet", "intruder", "POINT", "1", "1"])
                    .unwrap();
                assert!(
                    matches!(&w, Resp::Error(e) if e.starts_with("LOADING ")),
                    "{w:?}"
                );
                saw_loading += 1;
                None
            }
            other => Some(other),
        }
    });
    assert!(
        saw_loading > 0,
        "never observed LOADING: the file loaded before the first probe"
    );
    assert_eq!(
        s.client().cmd(&["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    assert_eq!(
        reply,
        Resp::bulk(&format!(
            r#"{{"type":"Point","coordinates":[-112.5,33.{}]}}"#,
            (N - 1) % 1000
        ))
    );
    let mut c = s.client();
    assert_eq!(get(&mut c, "fleet", "intruder"), Resp::Nil);
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "COUNT"]).unwrap(),
        Resp::Int(N as i64)
    );
    assert_eq!(digest_of(&mut c)["num_objects"], N.to_string());
}

#[test]
fn appendfsync_always_and_no_keep_writes_across_kill9() {
    for policy in ["always", "no"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = TestServer::start_loaded(tmp.path(), &["--appendfsync", policy]);
        let mut c = s.client();
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "appendfsync"]).unwrap(),
            Resp::Array(vec![Resp::bulk("appendfsync"), Resp::bulk(policy)])
        );
        for i in 0..50 {
            let id = format!("t{i}");
            ok(
                &mut c,
                &[
                    "SET",
                    "fleet",
                    &id,
                    "FIELD",
                    "n",
                    &(i + 1).to_string(),
                    "POINT",
                    "33",
                    "-112",
                ],
            );
        }
        assert_eq!(int(&mut c, &["DEL", "fleet", "t0"]), 1);
        let digest = digest_of(&mut c);
        s.kill9();
        let s2 = TestServer::start_loaded(tmp.path(), &["--appendfsync", policy]);
        let mut c2 = s2.client();
        assert_eq!(digest_of(&mut c2), digest, "policy {policy}");
        assert_eq!(
            c2.cmd(&["FGET", "fleet", "t49", "n"]).unwrap(),
            Resp::bulk("50")
        );
        assert_eq!(get(&mut c2, "fleet", "t0"), Resp::Nil);
    }
}

#[test]
fn appendonly_no_writes_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_loaded(tmp.path(), &["--appendonly", "no"]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]).unwrap(),
        Resp::Array(vec![Resp::bulk("appendonly"), Resp::bulk("no")])
    );
    ok(&mut c, &["SET", "fleet", "t1", "POINT", "33", "-112"]);
    assert_eq!(
        get(&mut c, "fleet", "t1"),
        Resp::bulk(r#"{"type":"Point","coordinates":[-112,33]}"#)
    );
    assert_eq!(s.stop(), Some(0));
    let files: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("aof"))
        .collect();
    assert!(files.is_empty(), "AOF files written: {files:?}");
    let s2 = TestServer::start_loaded(tmp.path(), &["--appendonly", "no"]);
    assert_eq!(get(&mut s2.client(), "fleet", "t1"), Resp::Nil);
}

#[test]
fn a_torn_command_followed_by_zero_padding_is_a_torn_tail() {
    // After a power loss a file can end in a partly written command followed by zeros (the
    // file size was updated, the last blocks were not): that is a torn tail too (Tile38 #230).
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("appendonly.aof");
    let (good, _) = meridian_aof(20);
    let torn_cmd = resp_encode(&["SET", "fleet", "torn", "POINT", "1", "2"]);
    let mut tail = torn_cmd[..torn_cmd.len() / 2].to_vec();
    tail.extend_from_slice(&[0u8; 3000]);
    let mut file = good.clone();
    file.extend_from_slice(&tail);
    std::fs::write(&path, &file).unwrap();
    let s = TestServer::start_loaded(tmp.path(), &[]);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert_eq!(digest_of(&mut s.client())["num_objects"], "20");
    let side = files_with_prefix(tmp.path(), "appendonly.aof.torn-");
    assert_eq!(side.len(), 1, "{side:?}");
    assert_eq!(std::fs::read(&side[0]).unwrap(), tail);
}

#[test]
fn a_torn_tail_with_aof_load_truncated_off_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("appendonly.aof");
    let (mut file, _) = meridian_aof(5);
    let good_len = file.len();
    file.extend_from_slice(b"*3\r\n$3\r\nDEL\r\n$5\r\nfle");
    std::fs::write(&path, &file).unwrap();
    let mut s = TestServer::spawn_env(tmp.path(), &[], &[("MERIDIAN_AOF_LOAD_TRUNCATED", "no")]);
    assert_eq!(s.wait_exit(), Some(1));
    let want = format!(
        "{}: incomplete command at byte offset {good_len} (torn write)",
        path.display()
    );
    let log = wait_until(Duration::from_secs(5), "startup error", || {
        let log = s.log_text();
        log.contains(&want).then_some(log)
    });
    assert!(log.contains(&want));
    assert_eq!(std::fs::read(&path).unwrap(), file, "the AOF was changed");
    assert!(files_with_prefix(tmp.path(), "appendonly.aof.torn-").is_empty());
}

/// Hooks and channels in a Tile38 AOF are not supported yet: they are skipped with a warning,
/// the data set still loads, and the file keeps their bytes.
#[test]
fn tile38_hooks_in_the_aof_are_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let file = aof_bytes(&[
        &[
            "SETHOOK",
            "warehouse",
            "http://10.0.0.1/hook",
            "NEARBY",
            "fleet",
            "FENCE",
            "POINT",
            "33",
            "-115",
            "500",
        ],
        &["SET", "fleet", "t1", "POINT", "33.5", "-115.5"],
        &[
            "SETCHAN", "ch", "WITHIN", "fleet", "FENCE", "BOUNDS", "1", "2", "3", "4",
        ],
    ]);
    std::fs::write(tmp.path().join("appendonly.aof"), &file).unwrap();
    let s = TestServer::start_loaded(tmp.path(), &[]);
    assert_eq!(
        get(&mut s.client(), "fleet", "t1"),
        Resp::Bulk(br#"{"type":"Point","coordinates":[-115.5,33.5]}"#.to_vec())
    );
    let log = s.log_text();
    assert!(log.contains("skipped Tile38 'SETHOOK'"), "{log}");
    assert!(log.contains("skipped Tile38 'SETCHAN'"), "{log}");
    let now = std::fs::read(tmp.path().join("appendonly.aof")).unwrap();
    assert_eq!(&now[..file.len()], &file[..]);
}
