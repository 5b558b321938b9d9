//! WHEREEVAL / WHEREEVALSHA and SCRIPT LOAD | EXISTS | FLUSH against the real binary: scripts
//! filter every search by `FIELDS` and `ARGV` with Tile38's truth, the cache answers in RESP
//! and JSON, bad scripts and limits give clear errors and change nothing, and a filtered walk
//! that takes several read-lock holds gives the same answer as a brute-force count.

mod common;

use common::*;

/// SHA-1s from `echo -n '<script>' | sha1sum`, not from the server's own code.
const SHA_RETURN_TRUE: &str = "b36f6a251a4827a53c13e202f3feb7d9f4350dee";
const SHA_SYNTAX_ERROR: &str = "728acb63e2aaef0ee859ece5db586bff5d800d1e";
const SHA_NEW_GLOBAL: &str = "692686ab66f0d273a9648e17e0e1d283f449b60e";

fn fleet(s: &TestServer) -> WireConn {
    let mut c = s.wire();
    let sets: [&[&str]; 4] = [
        &[
            "SET",
            "fleet",
            "truck1",
            "FIELD",
            "speed",
            "90",
            "FIELD",
            "driver",
            "alice",
            "POINT",
            "33.5123",
            "-112.2693",
        ],
        &[
            "SET",
            "fleet",
            "truck2",
            "FIELD",
            "speed",
            "45",
            "FIELD",
            "driver",
            "bob",
            "POINT",
            "33.4626",
            "-112.1695",
        ],
        &[
            "SET", "fleet", "truck3", "FIELD", "speed", "-5", "POINT", "33.5", "-112.5",
        ],
        &["SET", "fleet", "depot", "POINT", "33.4", "-112.3"],
    ];
    for cmd in sets {
        assert_eq!(c.cmd(cmd), "+OK\r\n", "{cmd:?}");
    }
    c
}

fn with_args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

#[test]
fn scripts_filter_every_search_by_fields_and_argv() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    let faster = "return FIELDS.speed ~= nil and FIELDS.speed > tonumber(ARGV[1])";
    let eval = ["WHEREEVAL", faster, "1", "40"];
    assert_eq!(
        c.cmd(&with_args(&["SCAN", "fleet"], &with_args(&eval, &["IDS"]))),
        wire_ids(&["truck1", "truck2"])
    );
    // Distance order is kept, and LIMIT counts the objects that pass.
    let nearby = with_args(&["NEARBY", "fleet", "LIMIT", "1"], &eval);
    assert_eq!(
        c.cmd(&with_args(&nearby, &["IDS", "POINT", "33.46", "-112.17"])),
        format!("*2\r\n:1\r\n{}", wire_array(&[wire_bulk("truck2")]))
    );
    let within = with_args(&["WITHIN", "fleet"], &eval);
    assert_eq!(
        c.cmd(&with_args(
            &within,
            &["COUNT", "BOUNDS", "33", "-113", "34", "-112"]
        )),
        ":2\r\n"
    );
    let intersects = with_args(&["INTERSECTS", "fleet"], &eval);
    let area = ["IDS", "CIRCLE", "33.5123", "-112.2693", "1000"];
    assert_eq!(c.cmd(&with_args(&intersects, &area)), wire_ids(&["truck1"]));
    // Strings, missing fields (nil), several scripts (all must pass) and WHERE together.
    let by_driver = ["WHEREEVAL", "return FIELDS.driver == ARGV[1]", "1", "bob"];
    assert_eq!(
        c.cmd(&with_args(
            &["SCAN", "fleet"],
            &with_args(&by_driver, &["IDS"])
        )),
        wire_ids(&["truck2"])
    );
    let no_fields = ["WHEREEVAL", "return next(FIELDS) == nil", "0", "IDS"];
    assert_eq!(
        c.cmd(&with_args(&["SCAN", "fleet"], &no_fields)),
        wire_ids(&["depot"])
    );
    let both = with_args(&["SCAN", "fleet", "WHERE", "speed", "0", "100"], &eval);
    let both = with_args(
        &both,
        &["WHEREEVAL", "return ARGV[1] ~= ARGV[2]", "2", "a", "b"],
    );
    assert_eq!(
        c.cmd(&with_args(&both, &["IDS"])),
        wire_ids(&["truck1", "truck2"])
    );
    // Tile38's truth: 0, "" and {} are false; a number, a string or a table with a member
    // true.
    for (script, want) in [
        ("return FIELDS.speed", vec!["truck1", "truck2", "truck3"]),
        ("return 0", vec![]),
        ("return ''", vec![]),
        ("return {}", vec![]),
        ("return {x=1}", vec!["depot", "truck1", "truck2", "truck3"]),
    ] {
        let got = c.cmd(&["SCAN", "fleet", "WHEREEVAL", script, "0", "IDS"]);
        assert_eq!(got, wire_ids(&want), "{script}");
    }
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&with_args(&["SCAN", "fleet"], &with_args(&eval, &["IDS"]))),
        r#"{"ok":true,"ids":["truck1","truck2"],"count":2,"cursor":0}"#
    );
    let (status, body) = s.http_get("/SCAN+fleet+WHEREEVAL+return(FIELDS.speed==90)+0+IDS");
    assert_eq!(status, 200);
    assert_eq!(
        strip_elapsed(body.trim_end()),
        r#"{"ok":true,"ids":["truck1"],"count":1,"cursor":0}"#
    );
}

#[test]
fn the_script_cache_loads_answers_and_flushes() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    assert_eq!(
        c.cmd(&["SCRIPT", "LOAD", "return true"]),
        wire_bulk(SHA_RETURN_TRUE)
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", SHA_RETURN_TRUE, "00"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    let upper = SHA_RETURN_TRUE.to_ascii_uppercase();
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHEREEVALSHA", &upper, "0", "COUNT"]),
        ":4\r\n"
    );
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&["SCRIPT", "EXISTS", SHA_RETURN_TRUE]),
        r#"{"ok":true,"result":[1]}"#
    );
    assert_eq!(
        j.json(&["SCRIPT", "LOAD", "return true"]),
        format!(r#"{{"ok":true,"result":"{SHA_RETURN_TRUE}"}}"#)
    );
    // A WHEREEVAL caches its script too, so its SHA-1 works afterwards.
    c.cmd(&[
        "SCAN",
        "fleet",
        "WHEREEVAL",
        "x = 1 return true",
        "0",
        "COUNT",
    ]);
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", SHA_NEW_GLOBAL]), "*1\r\n:1\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(j.json(&["SCRIPT", "FLUSH"]), r#"{"ok":true}"#);
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", SHA_RETURN_TRUE, SHA_NEW_GLOBAL]),
        "*2\r\n:0\r\n:0\r\n"
    );
    let flushed = [
        "SCAN",
        "fleet",
        "WHEREEVALSHA",
        SHA_RETURN_TRUE,
        "0",
        "COUNT",
    ];
    assert_eq!(c.cmd(&flushed), "-ERR sha not found\r\n");
    assert_eq!(j.json(&flushed), r#"{"ok":false,"err":"sha not found"}"#);
    assert_eq!(
        c.cmd(&["SCRIPT", "LOAD", "return ("]),
        format!("-ERR f_{SHA_SYNTAX_ERROR}:1: unexpected symbol near '<eof>'\r\n")
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", SHA_SYNTAX_ERROR]),
        "*1\r\n:0\r\n"
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "NOPE"]),
        "-ERR invalid argument 'NOPE'\r\n"
    );
}

#[test]
fn bad_scripts_and_limits_fail_the_search_and_nothing_else() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    let scan = |script: &'static str| ["SCAN", "fleet", "WHEREEVAL", script, "0", "IDS"];
    assert_eq!(
        c.cmd(&scan("return (")),
        format!("-ERR f_{SHA_SYNTAX_ERROR}:1: unexpected symbol near '<eof>'\r\n")
    );
    assert_eq!(
        c.cmd(&scan("x = 1 return true")),
        format!("-ERR f_{SHA_NEW_GLOBAL}:1: attempt to create global variable 'x'\r\n")
    );
    let err = c.cmd(&scan("return FIELDS.speed > 0"));
    assert!(
        err.starts_with("-ERR f_e2b84c70ba61076ff308853fea044e6997425b0b:1: attempt to compare")
            && err.ends_with("nil\r\n")
            && !err.contains("traceback"),
        "{err:?}"
    );
    // The sandbox has no io, os or file loading.
    let sandbox = "return io == nil and os == nil and dofile == nil and loadfile == nil";
    assert_eq!(
        c.cmd(&scan(sandbox)),
        wire_ids(&["depot", "truck1", "truck2", "truck3"])
    );
    // An endless script is stopped by script-max-instructions; a greedy one by the memory cap.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "script-max-instructions", "100000"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&scan("while true do end")),
        "-ERR script exceeded script-max-instructions\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "script-max-instructions", "100000000"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "script-max-memory-bytes", "1mb"]),
        "+OK\r\n"
    );
    let greedy = "local t = {} for i = 1, 1e8 do t[i] = i end return true";
    assert_eq!(
        c.cmd(&scan(greedy)),
        "-ERR script exceeded script-max-memory-bytes\r\n"
    );
    // Argument errors, Tile38's.
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHEREEVAL", "return true", "2", "x"]),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHEREEVAL", "return true", "-1", "IDS"]),
        "-ERR invalid argument '-1'\r\n"
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHEREEVAL", "return true"]),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    // The server goes on serving, the data is unchanged and INFO counts the failures.
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["SCAN", "fleet", "COUNT"]), ":4\r\n");
    let stats = c.cmd(&["INFO", "stats"]);
    for line in ["script_aborted:2", "script_errors:4"] {
        assert!(stats.contains(line), "{line} in {stats}");
    }
}

#[test]
fn a_filtered_walk_over_many_holds_matches_a_brute_force_count() {
    let s = TestServer::start_with(&[]);
    let n = 20_000;
    s.load_speed_points(n, |i| {
        let lat = 10.0 + (i % 150) as f64 * 0.01;
        let lon = 20.0 + (i / 150) as f64 * 0.01;
        (format!("{lat:.2}"), format!("{lon:.2}"))
    });
    let mut c = s.wire();
    for (name, value) in [
        ("search-walk-batch", "100"),
        ("search-walk-yield-always", "yes"),
    ] {
        assert_eq!(c.cmd(&["CONFIG", "SET", name, value]), "+OK\r\n");
    }
    // A zero field is no field (Tile38), so FIELDS.speed is nil for speed 0.
    let script = "return (FIELDS.speed or 0) % 2 == tonumber(ARGV[1])";
    let expected = (0..n).filter(|i| (i % 7) % 2 == 1).count();
    assert_eq!(
        c.cmd(&["SCAN", "big", "WHEREEVAL", script, "1", "1", "COUNT"]),
        format!(":{expected}\r\n")
    );
    let within = [
        "WITHIN",
        "big",
        "WHEREEVAL",
        script,
        "1",
        "1",
        "COUNT",
        "BOUNDS",
        "0",
        "0",
        "90",
        "90",
    ];
    assert_eq!(c.cmd(&within), format!(":{expected}\r\n"));
    // Every walked object ran the script once per search, through several holds.
    let stats = c.cmd(&["INFO", "stats"]);
    let calls: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("script_calls:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no script_calls in {stats}"));
    assert_eq!(calls, 2 * n as u64);
}
