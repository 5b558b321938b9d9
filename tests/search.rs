//! The spatial searches against the real binary: exact RESP and JSON replies for NEARBY,
//! WITHIN and INTERSECTS over every area kind, and error texts for bad areas and options.

mod common;

use common::*;

const PT1: &str = r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#;

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
            "wheels",
            "18",
            "POINT",
            "33.4626",
            "-112.1695",
            "10",
        ],
        &[
            "SET", "fleet", "zone", "BOUNDS", "33.4", "-112.3", "33.6", "-112.2",
        ],
        &["SET", "fleet", "far", "POINT", "40", "-100"],
        &["SET", "fleet", "note", "STRING", "not spatial"],
    ] {
        assert_eq!(c.cmd(cmd), "+OK\r\n");
    }
    c
}

#[test]
fn nearby_resp_replies_are_exact() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    // The zone contains the query point: distance 0, then truck1 (5.6 km); truck2 is 9.2 km.
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "DISTANCE", "IDS", "POINT", "33.462", "-112.268", "6000"]),
        "*2\r\n:0\r\n*2\r\n$4\r\nzone\r\n$6\r\ntruck1\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "LIMIT", "1", "MATCH", "truck*", "DISTANCE", "POINTS", "POINT", "33.462", "-112.268", "6000"]),
        "*2\r\n:0\r\n*1\r\n*4\r\n$6\r\ntruck1\r\n*2\r\n$7\r\n33.5123\r\n$9\r\n-112.2693\r\n*2\r\n$5\r\nspeed\r\n$2\r\n90\r\n$17\r\n5594.403978121274\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "COUNT", "POINT", "33.462", "-112.268"]),
        ":4\r\n"
    );
    // LIMIT stops the walk and returns the cursor to continue from.
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "LIMIT", "2", "IDS", "POINT", "33.462", "-112.268"]),
        "*2\r\n:2\r\n*2\r\n$4\r\nzone\r\n$6\r\ntruck1\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "NEARBY", "fleet", "CURSOR", "2", "LIMIT", "2", "IDS", "POINT", "33.462", "-112.268"
        ]),
        "*2\r\n:0\r\n*2\r\n$6\r\ntruck2\r\n$3\r\nfar\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "nokey", "IDS", "POINT", "33", "-112"]),
        "*2\r\n:0\r\n*0\r\n"
    );
}

#[test]
fn nearby_json_has_one_field_list_and_distances() {
    let s = TestServer::start();
    fleet(&s);
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&[
            "NEARBY", "fleet", "LIMIT", "1", "MATCH", "truck*", "DISTANCE", "POINTS", "POINT",
            "33.462", "-112.268", "6000"
        ]),
        r#"{"ok":true,"fields":["speed","wheels"],"points":[{"id":"truck1","point":{"lat":33.5123,"lon":-112.2693},"fields":[90,0],"distance":5594.403978121274}],"count":1,"cursor":0}"#
    );
    assert_eq!(
        j.json(&[
            "NEARBY", "fleet", "NOFIELDS", "LIMIT", "1", "MATCH", "truck*", "POINT", "33.462",
            "-112.268"
        ]),
        format!(
            r#"{{"ok":true,"objects":[{{"id":"truck1","object":{PT1}}}],"count":1,"cursor":2}}"#
        )
    );
}

#[test]
fn within_and_intersects_every_area_kind() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    // WITHIN/INTERSECTS return hits in R-tree order: compare id lists sorted.
    let ids = |c: &mut WireConn, args: &[&str]| sorted_ids_reply(&c.cmd(args));
    let both = "*2\r\n:0\r\n*2\r\n$6\r\ntruck1\r\n$6\r\ntruck2\r\n";
    let t1 = "*2\r\n:0\r\n*1\r\n$6\r\ntruck1\r\n";
    for area in [
        &["BOUNDS", "33.4", "-112.3", "33.6", "-112.1"][..],
        &["CIRCLE", "33.48", "-112.22", "10000"],
        &[
            "OBJECT",
            r#"{"type":"Polygon","coordinates":[[[-112.3,33.4],[-112.1,33.4],[-112.1,33.6],[-112.3,33.6],[-112.3,33.4]]]}"#,
        ],
        &["GET", "fleet", "zone"],
    ] {
        let mut args = vec!["WITHIN", "fleet", "MATCH", "truck*", "IDS"];
        args.extend_from_slice(area);
        let expected = if area[0] == "GET" { t1 } else { both };
        assert_eq!(ids(&mut c, &args), expected, "{area:?}");
    }
    // A polygon with a hole around truck1.
    let holed = r#"{"type":"Polygon","coordinates":[[[-112.3,33.4],[-112.1,33.4],[-112.1,33.6],[-112.3,33.6],[-112.3,33.4]],[[-112.28,33.50],[-112.26,33.50],[-112.26,33.52],[-112.28,33.52],[-112.28,33.50]]]}"#;
    assert_eq!(
        ids(
            &mut c,
            &["WITHIN", "fleet", "MATCH", "truck*", "IDS", "OBJECT", holed]
        ),
        "*2\r\n:0\r\n*1\r\n$6\r\ntruck2\r\n"
    );
    // Tiles, quadkeys and geohashes are rectangles; the world tile holds every spatial object.
    assert_eq!(
        ids(
            &mut c,
            &["INTERSECTS", "fleet", "COUNT", "TILE", "0", "0", "0"]
        ),
        ":4\r\n"
    );
    assert_eq!(
        ids(&mut c, &["INTERSECTS", "fleet", "COUNT", "QUADKEY", "0"]),
        ":4\r\n"
    );
    assert_eq!(
        ids(&mut c, &["INTERSECTS", "fleet", "COUNT", "HASH", "9"]),
        ":4\r\n"
    );
    // INTERSECTS with a point: only what covers it.
    assert_eq!(
        ids(
            &mut c,
            &["INTERSECTS", "fleet", "IDS", "POINT", "33.5", "-112.25"]
        ),
        "*2\r\n:0\r\n*1\r\n$4\r\nzone\r\n"
    );
    // The zone intersects a small box at its corner but is not within it.
    let corner = ["33.55", "-112.25", "33.7", "-112.0"];
    let mut w = vec!["WITHIN", "fleet", "MATCH", "zone", "COUNT", "BOUNDS"];
    w.extend_from_slice(&corner);
    assert_eq!(ids(&mut c, &w), ":0\r\n");
    w[0] = "INTERSECTS";
    assert_eq!(ids(&mut c, &w), ":1\r\n");
    // SECTOR and BUFFER.
    assert_eq!(
        ids(
            &mut c,
            &[
                "WITHIN", "fleet", "MATCH", "truck*", "IDS", "SECTOR", "33.462", "-112.268",
                "10000", "0", "90"
            ]
        ),
        "*2\r\n:0\r\n*1\r\n$6\r\ntruck2\r\n"
    );
    assert_eq!(
        ids(
            &mut c,
            &[
                "WITHIN", "fleet", "MATCH", "truck*", "BUFFER", "6000", "IDS", "POINT", "33.462",
                "-112.268"
            ]
        ),
        t1
    );
}

/// An IDS search reply with its ids sorted (other replies unchanged).
fn sorted_ids_reply(reply: &str) -> String {
    let Some(rest) = reply.strip_prefix("*2\r\n:0\r\n*") else {
        return reply.to_string();
    };
    let (n, items) = rest.split_once("\r\n").unwrap();
    let parts: Vec<&str> = items.split("\r\n").collect();
    let mut ids: Vec<&str> = parts
        .iter()
        .skip(1)
        .step_by(2)
        .copied()
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort_unstable();
    let body: String = ids
        .iter()
        .map(|id| format!("${}\r\n{id}\r\n", id.len()))
        .collect();
    format!("*2\r\n:0\r\n*{n}\r\n{body}")
}

#[test]
fn bad_areas_and_options_get_clear_errors() {
    let s = TestServer::start();
    let mut c = fleet(&s);
    assert_eq!(
        c.cmd(&["WITHIN", "fleet", "IDS", "NOPE", "1"]),
        "-ERR invalid argument 'NOPE'\r\n"
    );
    assert_eq!(
        c.cmd(&["WITHIN", "fleet", "BOUNDS", "33", "-112", "abc", "-111"]),
        "-ERR invalid argument 'abc'\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "POINT", "95", "0"]),
        "-ERR invalid coordinates\r\n"
    );
    assert_eq!(
        c.cmd(&["WITHIN", "fleet", "GET", "fleet", "nobody"]),
        "-ERR id not found\r\n"
    );
    assert_eq!(
        c.cmd(&["WITHIN", "fleet", "OBJECT", r#"{"type":"Nope"}"#]),
        "-ERR type 'Nope' is unknown\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "LIMIT", "x", "POINT", "1", "2"]),
        "-ERR invalid argument 'x'\r\n"
    );
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "POINT", "1"]),
        "-ERR wrong number of arguments for 'nearby' command\r\n"
    );
    assert_eq!(
        c.cmd(&["INTERSECTS", "fleet", "CLIP", "CIRCLE", "1", "2", "3"]),
        "-ERR invalid argument 'cannot clip with circle'\r\n"
    );
    // The connection keeps working.
    assert_eq!(
        c.cmd(&["NEARBY", "fleet", "COUNT", "POINT", "33.462", "-112.268"]),
        ":4\r\n"
    );
}

#[test]
fn searches_past_the_reply_limit_are_streamed_and_other_replies_refused() {
    let s = TestServer::start();
    let mut c = s.wire();
    for i in 0..3000 {
        let set = format!("SET big p{i:04} FIELD speed {i} POINT 10.{i} 20.5");
        assert_eq!(c.line(&set), "+OK\r\n");
    }
    let text = "x".repeat(30_000);
    assert_eq!(c.cmd(&["SET", "big", "s", "STRING", &text]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "20000"]),
        "+OK\r\n"
    );
    // A search bigger than the limit is written in batches, whole.
    let scan = c.cmd(&["SCAN", "big", "LIMIT", "100000", "IDS"]);
    let mut ids: Vec<String> = (0..3000).map(|i| format!("p{i:04}")).collect();
    ids.push("s".into());
    let want: Vec<String> = ids.iter().map(|i| b(i)).collect();
    assert_eq!(scan, format!("*2\r\n:0\r\n{}", arr(&want)));
    let within = c.cmd(&[
        "WITHIN", "big", "LIMIT", "100000", "BOUNDS", "0", "0", "50", "50",
    ]);
    assert!(within.starts_with("*2\r\n:0\r\n*3000\r\n"), "{within:.100}");
    let nearby = c.cmd(&["NEARBY", "big", "LIMIT", "100000", "POINT", "10", "20"]);
    assert!(nearby.starts_with("*2\r\n:0\r\n*3000\r\n"), "{nearby:.100}");
    assert_eq!(c.info_stat("oversize_replies"), 0);
    assert_eq!(c.info_stat("streamed_replies"), 3);
    // Any other reply past the limit is replaced by an error (connections read the limit
    // when they open).
    let too_big =
        "-ERR reply exceeds client-output-buffer-limit (20000 bytes); use LIMIT or CURSOR\r\n";
    let get = s.wire().cmd(&["GET", "big", "s"]);
    assert!(get == too_big, "{get:.100}");
    assert_eq!(c.info_stat("oversize_replies"), 1);
    // COUNT holds no items, and a page that fits is answered as usual.
    assert_eq!(
        c.cmd(&["SCAN", "big", "LIMIT", "100000", "COUNT"]),
        ":3001\r\n"
    );
    assert_eq!(
        c.cmd(&["SCAN", "big", "LIMIT", "2", "IDS"]),
        "*2\r\n:2\r\n*2\r\n$5\r\np0000\r\n$5\r\np0001\r\n"
    );
    assert_eq!(c.info_stat("streamed_replies"), 3);
}
