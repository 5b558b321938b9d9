//! TEST (area against area) and INTERSECTS … CLIP against the real binary: exact RESP and JSON
//! replies, clipped geometries, and Tile38's errors for areas that cannot clip.

mod common;

use common::*;

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}"#;
const LINE: &str = r#"{"type":"LineString","coordinates":[[0,0],[10,0]]}"#;

fn shapes(s: &TestServer) -> WireConn {
    let mut c = s.wire();
    for cmd in [
        &["SET", "shapes", "square", "OBJECT", SQUARE][..],
        &["SET", "shapes", "line", "OBJECT", LINE],
        &["SET", "shapes", "box", "BOUNDS", "0", "0", "10", "10"],
        &[
            "SET", "shapes", "pt", "FIELD", "speed", "5", "POINT", "0.5", "3",
        ],
        &[
            "SET",
            "shapes",
            "road",
            "OBJECT",
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0.5],[10,0.5]]},"properties":{"name":"A1"}}"#,
        ],
    ] {
        assert_eq!(c.cmd(cmd), "+OK\r\n", "{cmd:?}");
    }
    c
}

#[test]
fn test_answers_area_predicates() {
    let s = TestServer::start();
    let mut c = shapes(&s);
    let mut j = s.wire_json();
    for (args, hit) in [
        (
            &[
                "TEST", "POINT", "5", "5", "WITHIN", "BOUNDS", "0", "0", "10", "10",
            ][..],
            true,
        ),
        (
            &[
                "TEST", "BOUNDS", "0", "0", "10", "10", "WITHIN", "POINT", "5", "5",
            ],
            false,
        ),
        (
            &[
                "TEST",
                "BOUNDS",
                "0",
                "0",
                "10",
                "10",
                "INTERSECTS",
                "POINT",
                "5",
                "5",
            ],
            true,
        ),
        (
            &[
                "TEST", "CIRCLE", "5", "5", "1000", "WITHIN", "OBJECT", SQUARE,
            ],
            true,
        ),
        (
            &[
                "TEST", "CIRCLE", "5", "10", "1000", "WITHIN", "OBJECT", SQUARE,
            ],
            false,
        ),
        (
            &[
                "TEST",
                "CIRCLE",
                "5",
                "10",
                "1000",
                "INTERSECTS",
                "OBJECT",
                SQUARE,
            ],
            true,
        ),
        (
            &[
                "TEST", "GET", "shapes", "line", "WITHIN", "GET", "shapes", "box",
            ],
            true,
        ),
        (
            &[
                "TEST",
                "GET",
                "shapes",
                "line",
                "intersects",
                "BOUNDS",
                "1",
                "0",
                "2",
                "10",
            ],
            false,
        ),
        (
            &["TEST", "OBJECT", LINE, "INTERSECTS", "TILE", "0", "0", "0"],
            true,
        ),
        (&["TEST", "HASH", "6", "INTERSECTS", "QUADKEY", "1"], false),
        // Edges count: the geohash cell touches the quadkey's tile at the equator.
        (&["TEST", "HASH", "s0", "INTERSECTS", "QUADKEY", "3"], true),
    ] {
        assert_eq!(
            c.cmd(args),
            if hit { ":1\r\n" } else { ":0\r\n" },
            "{args:?}"
        );
        assert_eq!(
            j.json(args),
            format!(r#"{{"ok":true,"result":{hit}}}"#),
            "{args:?}"
        );
    }
}

#[test]
fn test_clip_returns_the_clipped_object() {
    let s = TestServer::start();
    let mut c = shapes(&s);
    let mut j = s.wire_json();
    let clipped = r#"{"type":"LineString","coordinates":[[2,0],[4,0]]}"#;
    let args = [
        "TEST",
        "OBJECT",
        LINE,
        "INTERSECTS",
        "CLIP",
        "BOUNDS",
        "-1",
        "2",
        "1",
        "4",
    ];
    assert_eq!(c.cmd(&args), format!("*2\r\n:1\r\n{}", wire_bulk(clipped)));
    assert_eq!(
        j.json(&args),
        format!(r#"{{"ok":true,"result":true,"object":{clipped}}}"#)
    );
    // No hit: no object.
    let miss = [
        "TEST",
        "OBJECT",
        LINE,
        "INTERSECTS",
        "CLIP",
        "BOUNDS",
        "5",
        "5",
        "6",
        "6",
    ];
    assert_eq!(c.cmd(&miss), ":0\r\n");
    assert_eq!(j.json(&miss), r#"{"ok":true,"result":false}"#);
    for (args, err) in [
        (
            &[
                "TEST", "POINT", "1", "1", "WITHIN", "CLIP", "BOUNDS", "0", "0", "2", "2",
            ][..],
            "invalid argument 'CLIP'",
        ),
        (
            &[
                "TEST",
                "POINT",
                "1",
                "1",
                "INTERSECTS",
                "CLIP",
                "CIRCLE",
                "1",
                "1",
                "10",
            ],
            "invalid clip type 'CIRCLE'",
        ),
        (
            &["TEST", "POINT", "1", "1", "NEAR", "POINT", "1", "1"],
            "invalid argument 'NEAR'",
        ),
        (
            &[
                "TEST", "GET", "shapes", "nobody", "WITHIN", "POINT", "1", "1",
            ],
            "id not found",
        ),
    ] {
        assert_eq!(c.cmd(args), format!("-ERR {err}\r\n"), "{args:?}");
        assert_eq!(j.json(args), format!(r#"{{"ok":false,"err":"{err}"}}"#));
    }
    assert_eq!(
        c.cmd(&["TEST", "POINT", "1", "1", "WITHIN", "POINT", "1", "1", "extra"]),
        "-ERR wrong number of arguments for 'test' command\r\n"
    );
}

#[test]
fn intersects_clip_cuts_objects_to_the_rectangle() {
    let s = TestServer::start();
    let mut c = shapes(&s);
    let area = ["BOUNDS", "-1", "2", "1", "4"];
    let mut args = vec!["INTERSECTS", "shapes", "CLIP", "MATCH", "line"];
    args.extend_from_slice(&area);
    assert_eq!(
        c.cmd(&args),
        format!(
            "*2\r\n:0\r\n*1\r\n*2\r\n$4\r\nline\r\n{}",
            wire_bulk(r#"{"type":"LineString","coordinates":[[2,0],[4,0]]}"#)
        )
    );
    // A rectangle becomes the overlap; a point inside stays, with its fields.
    let mut args = vec!["INTERSECTS", "shapes", "CLIP", "MATCH", "box"];
    args.extend_from_slice(&["BOUNDS", "5", "-5", "20", "5"]);
    assert_eq!(
        c.cmd(&args),
        format!(
            "*2\r\n:0\r\n*1\r\n*2\r\n$3\r\nbox\r\n{}",
            wire_bulk(r#"{"type":"Polygon","coordinates":[[[0,5],[5,5],[5,10],[0,10],[0,5]]]}"#)
        )
    );
    let mut j = s.wire_json();
    let mut args = vec!["INTERSECTS", "shapes", "CLIP", "MATCH", "pt", "POINTS"];
    args.extend_from_slice(&area);
    assert_eq!(
        j.json(&args),
        r#"{"ok":true,"fields":["speed"],"points":[{"id":"pt","point":{"lat":0.5,"lon":3},"fields":[5]}],"count":1,"cursor":0}"#
    );
    // A Feature keeps its properties around the clipped geometry.
    let mut args = vec!["INTERSECTS", "shapes", "CLIP", "NOFIELDS", "MATCH", "road"];
    args.extend_from_slice(&area);
    assert_eq!(
        j.json(&args),
        r#"{"ok":true,"objects":[{"id":"road","object":{"type":"Feature","geometry":{"type":"LineString","coordinates":[[2,0.5],[4,0.5]]},"properties":{"name":"A1"}}}],"count":1,"cursor":0}"#
    );
    // The clipped square is the 2x2 overlap (vertex order is geo's).
    let mut args = vec![
        "INTERSECTS",
        "shapes",
        "CLIP",
        "NOFIELDS",
        "MATCH",
        "square",
        "BOUNDS",
    ];
    args.extend_from_slice(&area);
    assert_eq!(
        j.json(&args),
        r#"{"ok":true,"bounds":[{"id":"square","bounds":{"sw":{"lat":0,"lon":2},"ne":{"lat":1,"lon":4}}}],"count":1,"cursor":0}"#
    );
    for (args, err) in [
        (
            &["INTERSECTS", "shapes", "CLIP", "CIRCLE", "1", "1", "100"][..],
            "invalid argument 'cannot clip with circle'",
        ),
        (
            &["INTERSECTS", "shapes", "CLIP", "OBJECT", SQUARE],
            "invalid argument 'cannot clip with object'",
        ),
        (
            &["WITHIN", "shapes", "CLIP", "GET", "shapes", "box"],
            "invalid argument 'cannot clip with get'",
        ),
        (
            &[
                "INTERSECTS",
                "shapes",
                "CLIP",
                "CLIP",
                "BOUNDS",
                "0",
                "0",
                "1",
                "1",
            ],
            "duplicate argument 'CLIP'",
        ),
    ] {
        assert_eq!(c.cmd(args), format!("-ERR {err}\r\n"), "{args:?}");
    }
}

/// `text` split on spaces, with `TEST` in front.
fn test_cmd(text: &str) -> Vec<&str> {
    std::iter::once("TEST").chain(text.split(' ')).collect()
}

#[test]
fn test_takes_area_expressions() {
    let s = TestServer::start();
    let mut c = shapes(&s);
    let mut j = s.wire_json();
    for (text, hit) in [
        (
            "POINT 5 5 WITHIN ( BOUNDS 0 0 10 10 AND NOT CIRCLE 5 5 1000 )",
            false,
        ),
        (
            "POINT 5 5 WITHIN ( BOUNDS 0 0 10 10 AND NOT CIRCLE 1 1 1000 )",
            true,
        ),
        (
            "POINT 5 5 WITHIN BOUNDS 20 20 30 30 OR GET shapes box",
            true,
        ),
        // AND binds tighter than OR (Tile38 reads this as three ORs and answers 1).
        (
            "POINT 5 5 WITHIN BOUNDS 0 0 10 10 AND BOUNDS 20 20 30 30 OR BOUNDS 40 40 50 50",
            false,
        ),
        (
            "POINT 5 5 WITHIN ( BOUNDS 0 0 10 10 OR BOUNDS 40 40 50 50 ) AND BOUNDS 20 20 30 30",
            false,
        ),
        (
            "POINT 5 5 OR POINT 50 50 INTERSECTS GET shapes square",
            true,
        ),
        (
            "POINT 5 5 AND POINT 50 50 INTERSECTS GET shapes square",
            false,
        ),
        // A NOT before the whole left side negates the test.
        (
            "NOT POINT 5 5 WITHIN BOUNDS 0 0 10 10 OR BOUNDS 40 40 50 50",
            false,
        ),
        ("NOT ( POINT 50 50 ) INTERSECTS BOUNDS 0 0 10 10", true),
    ] {
        let args = test_cmd(text);
        let want = if hit { ":1\r\n" } else { ":0\r\n" };
        assert_eq!(c.cmd(&args), want, "{text}");
        assert_eq!(
            j.json(&args),
            format!(r#"{{"ok":true,"result":{hit}}}"#),
            "{text}"
        );
    }
    for (text, err) in [
        (
            "AND POINT 1 1 WITHIN BOUNDS 0 0 2 2",
            "-ERR invalid argument 'and'\r\n",
        ),
        (
            "POINT 1 1 ) WITHIN BOUNDS 0 0 2 2",
            "-ERR invalid argument ')'\r\n",
        ),
        (
            "POINT 1 1 WITHIN ( BOUNDS 0 0 2 2",
            "-ERR wrong number of arguments for 'test' command\r\n",
        ),
        (
            "POINT 1 1 INTERSECTS CLIP ( BOUNDS 0 0 2 2 OR BOUNDS 3 3 4 4 )",
            "-ERR invalid argument 'clip'\r\n",
        ),
    ] {
        assert_eq!(c.cmd(&test_cmd(text)), err, "{text}");
    }
    // A plain clip still works next to expressions.
    assert_eq!(
        c.cmd(&test_cmd("POINT 1 1 INTERSECTS CLIP BOUNDS 0 0 2 2")),
        format!(
            "*2\r\n:1\r\n{}",
            wire_bulk(r#"{"type":"Point","coordinates":[1,1]}"#)
        )
    );
}
