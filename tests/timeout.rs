//! TIMEOUT seconds COMMAND … against the real binary: Tile38's replies and error texts in RESP,
//! JSON and HTTP; a read that finishes in time answers exactly as without TIMEOUT; writes and
//! admin commands are refused and change nothing; a long search (a multi-hold walk, a
//! WHEREEVAL script that never returns) ends with `timeout` soon after its deadline while
//! the server goes on serving.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn loaded(n: usize) -> TestServer {
    let s = TestServer::start();
    s.load_speed_points(n, |i| {
        (
            format!("{}", (i % 170) as f64 / 2.0 - 40.0),
            format!("{}", (i % 340) as f64 - 170.0),
        )
    });
    s
}

#[test]
fn reads_in_time_answer_as_without_timeout() {
    let s = loaded(300);
    let mut c = s.wire();
    for query in [
        vec!["SCAN", "big", "LIMIT", "50", "IDS"],
        vec!["NEARBY", "big", "LIMIT", "7", "POINT", "10", "20"],
        vec!["WITHIN", "big", "BOUNDS", "-10", "-50", "20", "50"],
        vec!["SCAN", "big", "WHERE", "speed", "2", "3", "COUNT"],
        vec!["GET", "big", "p00007", "WITHFIELDS"],
    ] {
        let plain = c.cmd(&query);
        assert!(!plain.starts_with('-'), "{query:?}: {plain}");
        let timed: Vec<&str> = ["TIMEOUT", "30"].iter().chain(&query).copied().collect();
        assert_eq!(c.cmd(&timed), plain, "{query:?}");
    }
    // A TIMEOUT inside a TIMEOUT: the earlier deadline wins.
    let nested = ["TIMEOUT", "30", "TIMEOUT", "0", "SCAN", "big", "COUNT"];
    assert_eq!(c.cmd(&nested), "-ERR timeout\r\n");
    assert_eq!(
        c.cmd(&["TIMEOUT", "inf", "SCAN", "big", "COUNT"]),
        ":300\r\n"
    );
}

#[test]
fn errors_match_tile38_and_change_nothing() {
    let s = loaded(10);
    let mut c = s.wire();
    let cases: [(&[&str], &str); 9] = [
        // Tile38's deadline is checked at the command's end: 0 seconds always times out.
        (
            &["TIMEOUT", "0", "GET", "big", "p00001"],
            "-ERR timeout\r\n",
        ),
        (
            &["TIMEOUT", "0", "SCAN", "big", "COUNT"],
            "-ERR timeout\r\n",
        ),
        (
            &["TIMEOUT", "1", "SET", "big", "x", "POINT", "1", "2"],
            "-ERR timeout not supported for 'set'\r\n",
        ),
        (
            &["TIMEOUT", "1", "del", "big", "p00001"],
            "-ERR timeout not supported for 'del'\r\n",
        ),
        (
            &["TIMEOUT", "1", "CONFIG", "SET", "maxclients", "5"],
            "-ERR timeout not supported for 'config'\r\n",
        ),
        (
            &["TIMEOUT", "1"],
            "-ERR wrong number of arguments for 'timeout' command\r\n",
        ),
        (
            &["TIMEOUT", "soon", "GET", "big", "p1"],
            "-ERR invalid argument 'soon'\r\n",
        ),
        (
            &["TIMEOUT", "-1", "GET", "big", "p1"],
            "-ERR invalid argument '-1'\r\n",
        ),
        (&["TIMEOUT", "1", "NOPE"], "-ERR unknown command 'NOPE'\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(c.cmd(cmd), want, "{cmd:?}");
    }
    assert_eq!(
        c.cmd(&["TIMEOUT", "1", "GET", "big"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    // Nothing was written, and the config is unchanged.
    assert_eq!(c.cmd(&["GET", "big", "x"]), "$-1\r\n");
    assert_eq!(c.cmd(&["SCAN", "big", "COUNT"]), ":10\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        wire_array(&[wire_bulk("maxclients"), wire_bulk("10000")])
    );
    assert_eq!(c.info_stat("timeouts"), 2);

    let mut j = s.wire_json();
    assert_eq!(
        j.json(&["TIMEOUT", "0", "GET", "big", "p00001"]),
        r#"{"ok":false,"err":"timeout"}"#
    );
    assert_eq!(
        j.json(&["TIMEOUT", "1"]),
        r#"{"ok":false,"err":"invalid number of arguments"}"#
    );
    assert_eq!(
        j.json(&["TIMEOUT", "5", "GET", "big", "p00001", "POINT"]),
        r#"{"ok":true,"point":{"lat":-39.5,"lon":-169}}"#
    );
    // Tile38 answers 200 for errors; Meridian a status per error class (README).
    let (status, body) = s.http_get("/TIMEOUT+0+SCAN+big+COUNT");
    assert_eq!(status, 504);
    assert_eq!(
        strip_elapsed(body.trim_end()),
        r#"{"ok":false,"err":"timeout"}"#
    );
    let (status, body) = s.http_get("/TIMEOUT+1+SET+big+y+POINT+1+2");
    assert_eq!(status, 400);
    assert_eq!(
        strip_elapsed(body.trim_end()),
        r#"{"ok":false,"err":"timeout not supported for 'set'"}"#
    );
}

/// Sends `cmd`, expecting `timeout`, and returns how long the reply took.
fn times_out(c: &mut WireConn, cmd: &[&str]) -> Duration {
    let sent = Instant::now();
    assert_eq!(c.cmd(cmd), "-ERR timeout\r\n", "{cmd:?}");
    sent.elapsed()
}

#[test]
fn long_searches_stop_at_the_deadline_and_the_server_goes_on() {
    let n = 20_000;
    let s = loaded(n);
    let mut c = s.wire();
    // Many short holds, and scripts that may run for ever.
    let setup = [
        ["CONFIG", "SET", "search-walk-batch", "100"],
        ["CONFIG", "SET", "script-max-instructions", "100000000000"],
    ];
    for cmd in setup {
        assert_eq!(c.cmd(&cmd), "+OK\r\n");
    }
    // A script that never returns: stopped by its hook at the deadline, not by the
    // instruction cap (1e11 instructions would take minutes).
    let forever = [
        "TIMEOUT",
        "0.2",
        "SCAN",
        "big",
        "WHEREEVAL",
        "while true do end",
        "0",
        "COUNT",
    ];
    let took = times_out(&mut c, &forever);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A walk of many holds with a slow filter: its deadline ends it between holds.
    let slow = "local x = 0 for i = 1, 1000 do x = x + i end return (FIELDS.speed or 0) >= 0";
    let walk = ["SCAN", "big", "WHEREEVAL", slow, "0", "COUNT"];
    let timed: Vec<&str> = ["TIMEOUT", "0.05"].iter().chain(&walk).copied().collect();
    let holds_before = c.info_stat("walk_holds");
    let took = times_out(&mut c, &timed);
    let untimed = Instant::now();
    assert_eq!(c.cmd(&walk), format!(":{n}\r\n"));
    let full = untimed.elapsed();
    assert!(
        took < full,
        "the timed-out walk ({took:?}) took as long as the whole one ({full:?})"
    );
    assert!(c.info_stat("walk_holds") > holds_before);

    // Other clients were served, and the data is all there.
    let mut other = s.wire();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(other.cmd(&["SCAN", "big", "COUNT"]), format!(":{n}\r\n"));
    assert_eq!(c.info_stat("timeouts"), 2);
}
