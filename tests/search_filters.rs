//! Search filters and sampling against the real binary: typed WHERE ranges (exclusive bounds,
//! infinities, strings), WHERE comparisons and expressions, WHEREIN, SPARSE, and Tile38's
//! errors for bad or conflicting options, in RESP and JSON.

mod common;

use common::*;

fn fleet(s: &TestServer) -> WireConn {
    let mut c = s.wire();
    for cmd in [
        &[
            "SET",
            "fleet",
            "truck1",
            "FIELD",
            "speed",
            "90",
            "FIELD",
            "driver",
            "Alice",
            "POINT",
            "33.5123",
            "-112.2693",
        ][..],
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
            "10",
        ],
        &[
            "SET", "fleet", "truck3", "FIELD", "speed", "-5", "POINT", "33.5", "-112.5",
        ],
        &[
            "SET",
            "fleet",
            "depot",
            "OBJECT",
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[-112.3,33.4]},"properties":{"kind":"depot","bays":4}}"#,
        ],
    ] {
        assert_eq!(c.cmd(cmd), "+OK\r\n", "{cmd:?}");
    }
    c
}

fn scan_ids(c: &mut WireConn, filter: &[&str]) -> String {
    let mut args = vec!["SCAN", "fleet"];
    args.extend_from_slice(filter);
    args.push("IDS");
    c.cmd(&args)
}

#[test]
fn where_ranges_are_typed() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    // Numbers, exclusive bounds and infinities; a missing field is 0 (the depot).
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "speed", "(45", "+inf"]),
        wire_ids(&["truck1"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "speed", "-inf", "(45"]),
        wire_ids(&["depot", "truck3"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "speed", "45", "90"]),
        wire_ids(&["truck1", "truck2"])
    );
    // Strings compare as strings, ignoring case; JSON quoting makes a bound a string.
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "driver", "\"a\"", "\"b\""]),
        wire_ids(&["truck1"])
    );
    // Numbers sort before strings: every driver name is above any number.
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "driver", "0", "+inf"]),
        wire_ids(&["depot", "truck3"])
    );
    // `z` is the point's z coordinate.
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "z", "5", "20"]),
        wire_ids(&["truck2"])
    );
    // Several clauses must all hold.
    assert_eq!(
        scan_ids(
            &mut c,
            &["WHERE", "speed", "0", "100", "WHERE", "speed", "-inf", "50"]
        ),
        wire_ids(&["depot", "truck2"])
    );
}

#[test]
fn where_comparisons_and_expressions() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "speed", ">", "50"]),
        wire_ids(&["truck1"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "driver", "==", "ALICE"]),
        wire_ids(&["truck1"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHERE", "speed", "!=", "0"]),
        wire_ids(&["truck1", "truck2", "truck3"])
    );
    for (expr, expect) in [
        ("speed > 10 && driver == 'bob'", &["truck2"][..]),
        ("speed < 0 || driver.match('al*')", &["truck1", "truck3"]),
        ("!(speed >= 0)", &["truck3"]),
        (
            "properties.kind == 'DEPOT' && properties.bays * 2 == 8",
            &["depot"],
        ),
        ("type == 'Feature' || id == 'truck2'", &["depot", "truck2"]),
        ("driver =~ '^[AB]'", &["truck1"]),
        (
            "speed + 10 > 90 ? true : id == 'truck3'",
            &["truck1", "truck3"],
        ),
    ] {
        assert_eq!(
            scan_ids(&mut c, &["WHERE", expr]),
            wire_ids(expect),
            "{expr}"
        );
    }
    // An expression is one argument even when it is the last one before the output.
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHERE", "speed > 80"]),
        format!(
            "*2\r\n:0\r\n*1\r\n*3\r\n$6\r\ntruck1\r\n{}*4\r\n$6\r\ndriver\r\n$5\r\nAlice\r\n$5\r\nspeed\r\n$2\r\n90\r\n",
            wire_bulk(r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#)
        )
    );
    // Spatial searches take the same filters.
    assert_eq!(
        c.cmd(&[
            "WITHIN",
            "fleet",
            "WHERE",
            "speed > 40",
            "COUNT",
            "BOUNDS",
            "33",
            "-112.4",
            "34",
            "-112"
        ]),
        ":2\r\n"
    );
}

#[test]
fn wherein_matches_typed_values() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    assert_eq!(
        scan_ids(&mut c, &["WHEREIN", "speed", "3", "45", "100", "-5"]),
        wire_ids(&["truck2", "truck3"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHEREIN", "driver", "2", "ALICE", "carol"]),
        wire_ids(&["truck1"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHEREIN", "speed", "1", "0"]),
        wire_ids(&["depot"])
    );
    assert_eq!(
        scan_ids(&mut c, &["WHEREIN", "speed", "0"]),
        "*2\r\n:0\r\n*0\r\n"
    );
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&[
            "SCAN",
            "fleet",
            "WHEREIN",
            "speed",
            "2",
            "90",
            "45",
            "WHERE",
            "driver < 'b'",
            "IDS"
        ]),
        r#"{"ok":true,"ids":["truck1"],"count":1,"cursor":0}"#
    );
}

#[test]
fn bad_filters_get_tile38_errors() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    let mut j = s.wire_json();
    for (args, err) in [
        (
            &["SCAN", "fleet", "WHERE", "speed >", "IDS"][..],
            "invalid argument 'speed >'",
        ),
        (
            &["SCAN", "fleet", "WHERE", "(speed > 1", "IDS"],
            "invalid argument '(speed > 1'",
        ),
        (
            &["SCAN", "fleet", "WHEREIN", "speed", "x", "1"],
            "invalid argument 'x'",
        ),
        (&["SCAN", "fleet", "LIMIT", "0"], "invalid argument '0'"),
        (
            &["SCAN", "fleet", "LIMIT", "1", "LIMIT", "2"],
            "duplicate argument 'LIMIT'",
        ),
        (
            &["SCAN", "fleet", "cursor", "1", "CURSOR", "2"],
            "duplicate argument 'CURSOR'",
        ),
        (
            &["SCAN", "fleet", "ASC", "DESC"],
            "duplicate argument 'DESC'",
        ),
        (
            &["SCAN", "fleet", "SPARSE", "2"],
            "SPARSE is not allowed for SCAN",
        ),
        (
            &["NEARBY", "fleet", "DESC", "POINT", "33", "-112"],
            "DESC is not allowed for NEARBY",
        ),
        (
            &["WITHIN", "fleet", "ASC", "BOUNDS", "1", "2", "3", "4"],
            "ASC is not allowed for WITHIN",
        ),
    ] {
        assert_eq!(c.cmd(args), resp_error(err), "{args:?}");
        assert_eq!(
            j.json(args),
            format!(r#"{{"ok":false,"err":"{err}"}}"#),
            "{args:?}"
        );
    }
    // A WHEREIN count beyond the arguments is an arity error.
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHEREIN", "speed", "3", "1", "2"]),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    assert_eq!(
        j.json(&["SCAN", "fleet", "WHEREIN", "speed", "3", "1", "2"]),
        r#"{"ok":false,"err":"invalid number of arguments"}"#
    );
}

/// Tile38's RESP error: `ERR ` is left out when the message starts with an upper-case word
/// (`-SPARSE is not allowed for SCAN`).
fn resp_error(err: &str) -> String {
    let first = err.split(' ').next().unwrap_or("");
    if first.chars().all(|c| c.is_ascii_uppercase()) {
        format!("-{err}\r\n")
    } else {
        format!("-ERR {err}\r\n")
    }
}

fn grid(s: &TestServer) -> WireConn {
    let mut c = s.wire();
    // One point per quadrant of the box 0,0..10,10 and a second one in the south-east.
    for (id, lat, lon) in [
        ("nw", "7", "2"),
        ("ne", "7", "7"),
        ("sw", "2", "2"),
        ("se1", "2", "7"),
        ("se2", "3", "8"),
    ] {
        assert_eq!(c.cmd(&["SET", "grid", id, "POINT", lat, lon]), "+OK\r\n");
    }
    c
}

#[test]
fn sparse_takes_one_object_per_cell_in_quadrant_order() {
    let s = TestServer::start();
    let mut c = grid(&s);
    let reply = c.cmd(&[
        "WITHIN", "grid", "SPARSE", "1", "IDS", "BOUNDS", "0", "0", "10", "10",
    ]);
    let head = "*2\r\n:0\r\n*4\r\n$2\r\nnw\r\n$2\r\nne\r\n$2\r\nsw\r\n";
    assert!(
        reply == format!("{head}$3\r\nse1\r\n") || reply == format!("{head}$3\r\nse2\r\n"),
        "{reply:?}"
    );
    assert_eq!(
        c.cmd(&[
            "INTERSECTS",
            "grid",
            "SPARSE",
            "1",
            "COUNT",
            "BOUNDS",
            "0",
            "0",
            "10",
            "10"
        ]),
        ":4\r\n"
    );
    // Finer cells separate the two south-east points.
    assert_eq!(
        c.cmd(&[
            "INTERSECTS",
            "grid",
            "SPARSE",
            "2",
            "COUNT",
            "BOUNDS",
            "0",
            "0",
            "10",
            "10"
        ]),
        ":5\r\n"
    );
    // NEARBY … SPARSE is an intersection with the circle (all points here are within reach).
    assert_eq!(
        c.cmd(&["NEARBY", "grid", "SPARSE", "1", "COUNT", "POINT", "5", "5", "2000000"]),
        ":4\r\n"
    );
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&[
            "WITHIN", "grid", "SPARSE", "1", "MATCH", "n*", "IDS", "BOUNDS", "0", "0", "10", "10"
        ]),
        r#"{"ok":true,"ids":["nw","ne"],"count":2,"cursor":0}"#
    );
    for (args, err) in [
        (
            &[
                "WITHIN", "grid", "SPARSE", "1", "LIMIT", "5", "IDS", "BOUNDS", "0", "0", "1", "1",
            ][..],
            "LIMIT is not allowed when SPARSE is specified",
        ),
        (
            &[
                "WITHIN", "grid", "CURSOR", "1", "SPARSE", "1", "BOUNDS", "0", "0", "1", "1",
            ],
            "CURSOR is not allowed when SPARSE is specified",
        ),
        (
            &[
                "WITHIN", "grid", "SPARSE", "9", "BOUNDS", "0", "0", "1", "1",
            ],
            "invalid argument '9'",
        ),
        (
            &[
                "WITHIN", "grid", "SPARSE", "0", "BOUNDS", "0", "0", "1", "1",
            ],
            "invalid argument '0'",
        ),
        (
            &["NEARBY", "grid", "SPARSE", "1", "POINT", "5", "5"],
            "cannot use SPARSE without a point distance",
        ),
    ] {
        assert_eq!(c.cmd(args), resp_error(err), "{args:?}");
        assert_eq!(
            j.json(args),
            format!(r#"{{"ok":false,"err":"{err}"}}"#),
            "{args:?}"
        );
    }
}
