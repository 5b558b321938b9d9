//! Key and id commands over RESP against the real binary: exact reply bytes for every command
//! (SET/GET of every body type, NX/XX, typed fields, expiry, DEL/PDEL/DROP/FLUSHDB, KEYS,
//! RENAME(NX), TYPE, EXISTS, BOUNDS, STATS), Tile38's error texts, and that a failed write
//! changes nothing. Fields and JSON paths are in `fields.rs`; server, connection and auth
//! commands in `server_cmds.rs`.

mod common;

use std::time::Duration;

use common::*;
use redis::Value;

const TRUCK1: &str = r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#;
const TRUCK2: &str = r#"{"type":"Point","coordinates":[-112.1695,33.4626,10]}"#;

#[test]
fn set_and_get_every_body_type() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "POINT", "33.5123", "-112.2693"]),
        OK
    );
    assert_eq!(
        c.cmd(&[
            "SET",
            "fleet",
            "truck2",
            "POINT",
            "33.4626",
            "-112.1695",
            "10"
        ]),
        OK
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "area", "BOUNDS", "33", "-113", "34", "-112"]),
        OK
    );
    assert_eq!(c.cmd(&["SET", "fleet", "hashed", "HASH", "9tbnt"]), OK);
    assert_eq!(
        c.cmd(&["SET", "fleet", "note", "STRING", "hello world"]),
        OK
    );

    // OBJECT (the default) renders GeoJSON; lat comes first on input, lon first in GeoJSON.
    assert_eq!(c.cmd(&["GET", "fleet", "truck1"]), b(TRUCK1));
    assert_eq!(c.cmd(&["GET", "fleet", "truck1", "OBJECT"]), b(TRUCK1));
    assert_eq!(c.cmd(&["GET", "fleet", "truck2"]), b(TRUCK2));
    let area =
        r#"{"type":"Polygon","coordinates":[[[-113,33],[-112,33],[-112,34],[-113,34],[-113,33]]]}"#;
    assert_eq!(c.cmd(&["GET", "fleet", "area"]), b(area));
    // A geohash is decoded to Tile38's rounded point inside the cell.
    assert_eq!(
        c.cmd(&["GET", "fleet", "hashed"]),
        b(r#"{"type":"Point","coordinates":[-112.28,33.49]}"#)
    );
    assert_eq!(c.cmd(&["GET", "fleet", "note"]), b("hello world"));
    // Telnet (inline) lines get the same RESP replies.
    assert_eq!(c.line("GET fleet truck1"), b(TRUCK1));
    assert_eq!(c.line("get FLEET truck1"), NIL, "keys are case-sensitive");

    // POINT: [lat, lon(, z)] as bulk strings.
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "POINT"]),
        arr(&[b("33.5123"), b("-112.2693")])
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck2", "POINT"]),
        arr(&[b("33.4626"), b("-112.1695"), b("10")])
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "area", "POINT"]),
        arr(&[b("33.5"), b("-112.5")])
    );
    // BOUNDS: [[minlat, minlon], [maxlat, maxlon]].
    assert_eq!(
        c.cmd(&["GET", "fleet", "area", "BOUNDS"]),
        arr(&[arr(&[b("33"), b("-113")]), arr(&[b("34"), b("-112")])])
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "BOUNDS"]),
        arr(&[
            arr(&[b("33.5123"), b("-112.2693")]),
            arr(&[b("33.5123"), b("-112.2693")])
        ])
    );
    // HASH precision: the geohash of the centre.
    assert_eq!(c.cmd(&["GET", "fleet", "truck1", "HASH", "5"]), b("9tbnt"));
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "HASH", "12"]),
        b("9tbnthxzr9w2")
    );
    assert_eq!(c.cmd(&["GET", "fleet", "truck2", "HASH", "5"]), b("9tbnr"));
    assert_eq!(c.cmd(&["GET", "fleet", "area", "HASH", "3"]), b("9tb"));
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "HASH", "13"]),
        err("invalid argument '13'")
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "HASH", "0"]),
        err("invalid argument '0'")
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "HASH"]),
        err("wrong number of arguments for 'get' command")
    );

    // Missing id and missing key are both nil in RESP.
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), NIL);
    assert_eq!(c.cmd(&["GET", "nokey", "truck1"]), NIL);
    assert_eq!(c.cmd(&["GET", "nokey", "truck1", "POINT"]), NIL);

    // The same through the redis crate.
    let mut con = s.redis();
    assert_eq!(
        q(&mut con, &["GET", "fleet", "truck1"]),
        Value::BulkString(TRUCK1.as_bytes().to_vec())
    );
    assert_eq!(q(&mut con, &["GET", "fleet", "nope"]), Value::Nil);
}

#[test]
fn set_geojson_objects_of_every_type() {
    let s = TestServer::start();
    let mut c = s.wire();
    // (input, canonical output): compact, `type` first, other members kept in input order.
    let cases = [
        (
            r#"{ "type" : "Point", "coordinates": [ -112.2693 , 33.5123 ] }"#,
            TRUCK1.to_string(),
        ),
        (
            r#"{"type":"Point","coordinates":[1,2,3]}"#,
            r#"{"type":"Point","coordinates":[1,2,3]}"#.into(),
        ),
        (
            r#"{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}"#,
            r#"{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}"#.into(),
        ),
        (
            r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#,
            r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#.into(),
        ),
        (
            r#"{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8]]]}"#,
            r#"{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8]]]}"#.into(),
        ),
        (
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}"#.into(),
        ),
        (
            r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}"#.into(),
        ),
        (
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[1,2],[3,4]]}]}"#,
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[1,2],[3,4]]}]}"#.into(),
        ),
        (
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"x","n":[1, 2]}}"#,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"x","n":[1,2]}}"#.into(),
        ),
        (
            r#"{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[1,2]}}"#,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"id":7,"properties":{}}"#.into(),
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1}},{"type":"Feature","geometry":{"type":"Point","coordinates":[3,4]},"properties":{}}]}"#,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1}},{"type":"Feature","geometry":{"type":"Point","coordinates":[3,4]},"properties":{}}]}"#.into(),
        ),
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        let id = format!("o{i}");
        assert_eq!(c.cmd(&["SET", "geo", &id, "OBJECT", input]), OK, "{input}");
        assert_eq!(c.cmd(&["GET", "geo", &id]), b(want), "{input}");
    }
    // POINT and BOUNDS of non-point objects: centre and bbox.
    assert_eq!(
        c.cmd(&["GET", "geo", "o5", "POINT"]),
        arr(&[b("5"), b("5")])
    );
    assert_eq!(
        c.cmd(&["GET", "geo", "o5", "BOUNDS"]),
        arr(&[arr(&[b("0"), b("0")]), arr(&[b("10"), b("10")])])
    );
    assert_eq!(
        c.cmd(&["GET", "geo", "o10", "BOUNDS"]),
        arr(&[arr(&[b("2"), b("1")]), arr(&[b("4"), b("3")])])
    );
    assert_eq!(
        c.cmd(&["GET", "geo", "o1", "POINT"]),
        arr(&[b("2"), b("1"), b("3")])
    );

    // Invalid GeoJSON, with Tile38's texts.
    let bad = [
        (r#"{"type":"Nope"}"#, "type 'Nope' is unknown"),
        (
            r#"{"type":"Point","coordinates":[1]}"#,
            "invalid coordinates",
        ),
        (
            r#"{"type":"Point","coordinates":[200,1]}"#,
            "invalid coordinates",
        ),
        ("not json", "invalid data"),
    ];
    for (input, text) in bad {
        assert_eq!(c.cmd(&["SET", "geo", "bad", "OBJECT", input]), err(text));
    }
    assert_eq!(c.cmd(&["EXISTS", "geo", "bad"]), int(0));
}

#[test]
fn set_nx_and_xx() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["SET", "fleet", "a", "NX", "POINT", "1", "2"]), OK);
    // NX on an existing id: nil, object unchanged.
    assert_eq!(c.cmd(&["SET", "fleet", "a", "NX", "POINT", "3", "4"]), NIL);
    let a = r#"{"type":"Point","coordinates":[2,1]}"#;
    assert_eq!(c.cmd(&["GET", "fleet", "a"]), b(a));
    // XX on a missing id: nil, nothing created (not even the collection).
    assert_eq!(c.cmd(&["SET", "fleet", "b", "XX", "POINT", "3", "4"]), NIL);
    assert_eq!(c.cmd(&["EXISTS", "fleet", "b"]), int(0));
    assert_eq!(c.cmd(&["SET", "nokey", "b", "xx", "POINT", "3", "4"]), NIL);
    assert_eq!(c.cmd(&["KEYS", "*"]), arr(&[b("fleet")]));
    // XX on an existing id replaces it; options may come in any order before the body.
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "XX", "FIELD", "speed", "5", "POINT", "3", "4"]),
        OK
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "a", "WITHFIELDS"]),
        arr(&[
            b(r#"{"type":"Point","coordinates":[4,3]}"#),
            fields(&[("speed", "5")])
        ])
    );
    // NX and XX together are refused, naming the second.
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "NX", "XX", "POINT", "1", "2"]),
        err("invalid argument 'XX'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "XX", "NX", "POINT", "1", "2"]),
        err("invalid argument 'NX'")
    );
    // Through the redis crate: nil.
    let mut con = s.redis();
    assert_eq!(
        q(&mut con, &["SET", "fleet", "a", "NX", "POINT", "1", "2"]),
        Value::Nil
    );
    assert_eq!(
        q(&mut con, &["SET", "fleet", "z", "NX", "POINT", "1", "2"]),
        Value::Okay
    );
}

#[test]
fn expiry_ex_ttl_persist_expire() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "EX", "100", "POINT", "1", "2"]),
        OK
    );
    assert_eq!(c.cmd(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    // TTL: whole seconds left, -1 without expiry, -2 when missing.
    assert_int_in(&c.cmd(&["TTL", "fleet", "a"]), 98, 100);
    assert_eq!(c.cmd(&["TTL", "fleet", "b"]), int(-1));
    assert_eq!(c.cmd(&["TTL", "fleet", "nope"]), int(-2));
    assert_eq!(c.cmd(&["TTL", "nokey", "nope"]), int(-2));
    // PERSIST: 1 when a timeout was removed, 0 otherwise.
    assert_eq!(c.cmd(&["PERSIST", "fleet", "a"]), int(1));
    assert_eq!(c.cmd(&["TTL", "fleet", "a"]), int(-1));
    assert_eq!(c.cmd(&["PERSIST", "fleet", "a"]), int(0));
    assert_eq!(c.cmd(&["PERSIST", "fleet", "nope"]), int(0));
    assert_eq!(c.cmd(&["PERSIST", "nokey", "nope"]), int(0));
    // EXPIRE: 1 when set, 0 when the id is missing.
    assert_eq!(c.cmd(&["EXPIRE", "fleet", "b", "50"]), int(1));
    assert_int_in(&c.cmd(&["TTL", "fleet", "b"]), 48, 50);
    assert_eq!(c.cmd(&["EXPIRE", "fleet", "b", "2.5"]), int(1));
    assert_int_in(&c.cmd(&["TTL", "fleet", "b"]), 0, 2);
    // PEXPIREAT (the AOF's absolute form) takes unix milliseconds.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = (now_ms + 60_000).to_string();
    assert_eq!(c.cmd(&["PEXPIREAT", "fleet", "b", &at]), int(1));
    assert_int_in(&c.cmd(&["TTL", "fleet", "b"]), 58, 60);
    assert_eq!(c.cmd(&["PEXPIREAT", "fleet", "nope", &at]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "fleet", "nope", "5"]), int(0));
    assert_eq!(c.cmd(&["EXPIRE", "nokey", "nope", "5"]), int(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "fleet", "b", "abc"]),
        err("invalid argument 'abc'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "b", "EX", "abc", "POINT", "1", "2"]),
        err("invalid argument 'abc'")
    );
    // FSET and JSET keep the timeout; a new SET without EX clears it.
    assert_eq!(c.cmd(&["EXPIRE", "fleet", "b", "100"]), int(1));
    assert_eq!(c.cmd(&["FSET", "fleet", "b", "speed", "3"]), int(1));
    assert_int_in(&c.cmd(&["TTL", "fleet", "b"]), 98, 100);
    assert_eq!(c.cmd(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["TTL", "fleet", "b"]), int(-1));
    assert_eq!(c.cmd(&["FGET", "fleet", "b", "speed"]), b("3"));
    // Through the redis crate.
    let mut con = s.redis();
    assert_eq!(q(&mut con, &["TTL", "fleet", "b"]), Value::Int(-1));
    assert_eq!(q(&mut con, &["EXPIRE", "fleet", "b", "10"]), Value::Int(1));
}

#[test]
fn expired_objects_vanish() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "short", "EX", "1", "POINT", "1", "2"]),
        OK
    );
    // Within its second the object is there.
    assert_eq!(c.cmd(&["EXISTS", "fleet", "short"]), int(1));
    assert_eq!(
        c.cmd(&["SET", "fleet", "frac", "EX", "0.2", "POINT", "1", "2"]),
        OK
    );
    assert_eq!(c.cmd(&["SET", "fleet", "keep", "POINT", "1", "2"]), OK);
    assert_eq!(
        c.cmd(&["SET", "gone", "x", "EX", "0.2", "STRING", "bye"]),
        OK
    );
    assert_eq!(c.cmd(&["SET", "later", "x", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["EXPIRE", "later", "x", "0.2"]), int(1));
    wait_until(Duration::from_secs(5), "EX objects to vanish", || {
        (c.cmd(&["GET", "fleet", "short"]) == NIL && c.cmd(&["GET", "fleet", "frac"]) == NIL)
            .then_some(())
    });
    assert_eq!(c.cmd(&["TTL", "fleet", "short"]), int(-2));
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "IDS"]),
        arr(&[int(0), arr(&[b("keep")])])
    );
    // The sweep removes them (and collections left empty) for good.
    wait_until(Duration::from_secs(5), "empty collections to go", || {
        (c.cmd(&["KEYS", "*"]) == arr(&[b("fleet")])).then_some(())
    });
    assert_eq!(c.cmd(&["GET", "later", "x"]), NIL);
    // Every expired object is counted once the sweep has removed it.
    wait_until(Duration::from_secs(5), "expired_keys:4", || {
        let info = c.cmd(&["INFO", "stats"]);
        let expired: u64 = info
            .split("expired_keys:")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no expired_keys in {info:?}"));
        assert!(expired <= 4, "{info}");
        (expired == 4).then_some(())
    });
    assert_eq!(c.cmd(&["DEL", "fleet", "short"]), int(0));
}

#[test]
fn del_pdel_drop_flushdb() {
    let s = TestServer::start();
    let mut c = s.wire();
    for id in ["a1", "a2", "a10", "b1"] {
        assert_eq!(c.cmd(&["SET", "fleet", id, "POINT", "1", "2"]), OK);
    }
    assert_eq!(c.cmd(&["SET", "other", "x", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["SET", "third", "x", "STRING", "s"]), OK);
    // DEL: 1 when deleted, 0 when absent; ERRON404 turns absence into an error.
    assert_eq!(c.cmd(&["DEL", "fleet", "a1"]), int(1));
    assert_eq!(c.cmd(&["DEL", "fleet", "a1"]), int(0));
    assert_eq!(c.cmd(&["DEL", "nokey", "a1"]), int(0));
    assert_eq!(
        c.cmd(&["DEL", "fleet", "a1", "ERRON404"]),
        err("id not found")
    );
    assert_eq!(
        c.cmd(&["DEL", "nokey", "a1", "ERRON404"]),
        err("key not found")
    );
    assert_eq!(c.cmd(&["DEL", "fleet", "a2", "erron404"]), int(1));
    assert_eq!(
        c.cmd(&["DEL", "fleet", "b1", "extra"]),
        err("invalid argument 'extra'")
    );
    // PDEL: the number of ids deleted; glob patterns.
    assert_eq!(c.cmd(&["SET", "fleet", "a2", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["PDEL", "fleet", "a?"]), int(1));
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "IDS"]),
        arr(&[int(0), arr(&[b("a10"), b("b1")])])
    );
    assert_eq!(c.cmd(&["PDEL", "fleet", "zz*"]), int(0));
    assert_eq!(c.cmd(&["PDEL", "nokey", "*"]), int(0));
    assert_eq!(c.cmd(&["PDEL", "fleet", "a*"]), int(1));
    // Deleting the last id removes the collection.
    assert_eq!(c.cmd(&["DEL", "fleet", "b1"]), int(1));
    assert_eq!(c.cmd(&["KEYS", "*"]), arr(&[b("other"), b("third")]));
    assert_eq!(c.cmd(&["TYPE", "fleet"]), "+none\r\n");
    // DROP: 1 when the collection existed.
    assert_eq!(c.cmd(&["DROP", "other"]), int(1));
    assert_eq!(c.cmd(&["DROP", "other"]), int(0));
    assert_eq!(c.cmd(&["GET", "other", "x"]), NIL);
    // FLUSHDB removes everything.
    assert_eq!(c.cmd(&["SET", "other", "x", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["FLUSHDB"]), OK);
    assert_eq!(c.cmd(&["KEYS", "*"]), "*0\r\n");
    assert_eq!(c.cmd(&["FLUSHDB"]), OK);
    assert_eq!(
        c.cmd(&["FLUSHDB", "now"]),
        err("wrong number of arguments for 'flushdb' command")
    );
    let mut con = s.redis();
    assert_eq!(q(&mut con, &["DROP", "nokey"]), Value::Int(0));
}

#[test]
fn keys_rename_renamenx_type_exists() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["SET", "fleet", "a", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet2", "b", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["SET", "people", "c", "STRING", "x"]), OK);
    assert_eq!(
        c.cmd(&["KEYS", "*"]),
        arr(&[b("fleet"), b("fleet2"), b("people")])
    );
    assert_eq!(c.cmd(&["KEYS", "fleet*"]), arr(&[b("fleet"), b("fleet2")]));
    assert_eq!(c.cmd(&["KEYS", "f?eet"]), arr(&[b("fleet")]));
    assert_eq!(c.cmd(&["KEYS", "none*"]), "*0\r\n");
    assert_eq!(
        c.cmd(&["KEYS"]),
        err("wrong number of arguments for 'keys' command")
    );
    // TYPE: hash for a collection, none otherwise.
    assert_eq!(c.cmd(&["TYPE", "fleet"]), "+hash\r\n");
    assert_eq!(c.cmd(&["TYPE", "nokey"]), "+none\r\n");
    // EXISTS: 1/0.
    assert_eq!(c.cmd(&["EXISTS", "fleet", "a"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "fleet", "zz"]), int(0));
    assert_eq!(c.cmd(&["EXISTS", "nokey", "zz"]), int(0));
    // RENAME moves a collection, replacing the target.
    assert_eq!(c.cmd(&["RENAME", "fleet", "fleet3"]), OK);
    assert_eq!(c.cmd(&["GET", "fleet", "a"]), NIL);
    assert_eq!(
        c.cmd(&["GET", "fleet3", "a"]),
        b(r#"{"type":"Point","coordinates":[2,1]}"#)
    );
    assert_eq!(c.cmd(&["RENAME", "fleet3", "fleet2"]), OK);
    assert_eq!(
        c.cmd(&["SCAN", "fleet2", "IDS"]),
        arr(&[int(0), arr(&[b("a")])])
    );
    assert_eq!(c.cmd(&["RENAME", "nokey", "x"]), err("key not found"));
    assert_eq!(c.cmd(&["RENAME", "fleet2", "fleet2"]), OK);
    // RENAMENX: 0 when the target exists (nothing changes), 1 when renamed.
    assert_eq!(c.cmd(&["RENAMENX", "fleet2", "people"]), int(0));
    assert_eq!(
        c.cmd(&["SCAN", "people", "IDS"]),
        arr(&[int(0), arr(&[b("c")])])
    );
    assert_eq!(c.cmd(&["RENAMENX", "fleet2", "fresh"]), int(1));
    assert_eq!(c.cmd(&["KEYS", "*"]), arr(&[b("fresh"), b("people")]));
    assert_eq!(c.cmd(&["RENAMENX", "nokey", "x"]), err("key not found"));
    assert_eq!(
        c.cmd(&["RENAME", "fresh"]),
        err("wrong number of arguments for 'rename' command")
    );
    let mut con = s.redis();
    assert_eq!(
        q(&mut con, &["TYPE", "people"]),
        Value::SimpleString("hash".into())
    );
    assert_eq!(q(&mut con, &["RENAME", "people", "p2"]), Value::Okay);
}

#[test]
fn bounds_and_stats() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["SET", "fleet", "a", "POINT", "33", "-112"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet", "b", "POINT", "34.5", "-111"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet", "c", "STRING", "x"]), OK);
    // BOUNDS key: [[minlon, minlat], [maxlon, maxlat]] (lon first, as in Tile38).
    assert_eq!(
        c.cmd(&["BOUNDS", "fleet"]),
        arr(&[arr(&[b("-112"), b("33")]), arr(&[b("-111"), b("34.5")])])
    );
    assert_eq!(c.cmd(&["BOUNDS", "nokey"]), NIL);
    assert_eq!(
        c.cmd(&["BOUNDS"]),
        err("wrong number of arguments for 'bounds' command")
    );
    // STATS: one entry per key, nil for a missing key.
    let reply = c.cmd(&["STATS", "fleet", "nokey"]);
    let size: i64 = reply
        .split("$14\r\nin_memory_size\r\n:")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no in_memory_size in {reply:?}"));
    assert!(size > 0);
    let entry = arr(&[
        b("in_memory_size"),
        int(size),
        b("num_objects"),
        int(3),
        b("num_points"),
        int(2),
        b("num_strings"),
        int(1),
    ]);
    assert_eq!(reply, arr(&[entry, NIL.to_string()]));
    assert_eq!(
        c.cmd(&["STATS"]),
        err("wrong number of arguments for 'stats' command")
    );
}

#[test]
fn errors_use_tile38_texts() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["BADCMD"]), err("unknown command 'BADCMD'"));
    assert_eq!(c.line("badcmd x y"), err("unknown command 'badcmd'"));
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "POINT", "abc", "def"]),
        err("invalid argument 'abc'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "POINT", "1", "def"]),
        err("invalid argument 'def'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "POINT", "95", "0"]),
        err("invalid coordinates")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "BOUNDS", "3", "2", "1", "4"]),
        err("invalid coordinates")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "HASH", "!!"]),
        err("invalid geohash")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "BLAH", "POINT", "1", "2"]),
        err("invalid argument 'BLAH'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "POINT", "1", "2", "3", "4"]),
        err("invalid argument '3'")
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "truck1", "BOUNDS", "1", "2", "3"]),
        err("wrong number of arguments for 'set' command")
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "truck1", "BLAH"]),
        err("invalid argument 'BLAH'")
    );
    assert_eq!(c.cmd(&["OUTPUT", "xml"]), err("invalid argument 'xml'"));
    // Commands are case-insensitive; the arity error names the command in lower case.
    assert_eq!(c.cmd(&["set", "fleet", "x", "point", "1", "2"]), OK);
    assert_eq!(
        c.cmd(&["Set", "fleet"]),
        err("wrong number of arguments for 'set' command")
    );
    // Every command in the table refuses too few (or, at a fixed arity, too many) arguments.
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../proto/commands.json")).unwrap();
    let mut checked = 0;
    for cmd in table["commands"].as_array().unwrap() {
        let name = cmd["name"].as_str().unwrap();
        let arity = cmd["arity"].as_i64().unwrap();
        let argc = if arity > 0 { arity + 1 } else { -arity - 1 };
        if argc < 1 {
            continue;
        }
        let mut args = vec![name];
        args.extend(std::iter::repeat_n("x", argc as usize - 1));
        let want = err(&format!(
            "wrong number of arguments for '{}' command",
            name.to_lowercase()
        ));
        assert_eq!(c.cmd(&args), want, "{args:?}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
    // The connection is still fine after all that.
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    // The redis crate sees the same texts.
    let mut con = s.redis();
    let e = q_err(&mut con, &["SET", "fleet", "x", "POINT", "abc", "1"]);
    assert!(e.contains("invalid argument 'abc'"), "{e}");
    let e = q_err(&mut con, &["BADCMD"]);
    assert!(e.contains("unknown command 'BADCMD'"), "{e}");
}

#[test]
fn failed_writes_change_nothing() {
    let s = TestServer::start();
    let mut c = s.wire();
    let truck = r#"{"type":"Point","coordinates":[-112,33]}"#;
    assert_eq!(
        c.cmd(&["SET", "fleet", "t", "FIELD", "speed", "9", "EX", "1000", "POINT", "33", "-112"]),
        OK
    );
    assert_eq!(c.cmd(&["JSET", "user", "1", "name", "Tom"]), OK);
    let before = c.cmd(&["DIGEST"]);
    let bad: &[&[&str]] = &[
        &["SET", "fleet", "x", "POINT", "95", "0"],
        &["SET", "fleet", "t", "POINT", "95", "0"],
        &["SET", "fleet", "t", "OBJECT", r#"{"type":"Nope"}"#],
        &[
            "SET", "fleet", "t", "FIELD", "speed", "1", "OBJECT", "{oops",
        ],
        &[
            "SET",
            "fleet",
            "t",
            "FIELD",
            "speed",
            "1",
            "EX",
            "5",
            "OBJECT",
            r#"{"type":"Point","coordinates":[500,0]}"#,
        ],
        &["SET", "fleet", "t", "FIELD", "z", "1", "POINT", "1", "2"],
        &["SET", "fleet", "t", "EX", "soon", "POINT", "1", "2"],
        &["SET", "fleet", "t", "NX", "XX", "POINT", "1", "2"],
        &["SET", "fleet", "t", "POINT", "1", "2", "extra"],
        &["SET", "fleet", "t", "HASH", "!!"],
        &["SET", "new", "x", "POINT", "95", "0"],
        &["FSET", "fleet", "t", "speed", "1", "odd"],
        &["FSET", "fleet", "t", "lat", "1"],
        &["FSET", "fleet", "gone", "speed", "1"],
        &["FSET", "nokey", "gone", "speed", "1"],
        &["EXPIRE", "fleet", "t", "abc"],
        &["DEL", "fleet", "t", "extra"],
        &["DEL", "fleet", "gone", "ERRON404"],
        &["RENAME", "nokey", "fleet"],
        &["JSET", "user", "1", "name", "{bad", "RAW"],
        &["JSET", "user", "1", "name", "x", "BAD"],
        &["PDEL", "fleet"],
        &["DROP"],
        &["FLUSHDB", "x"],
    ];
    for args in bad {
        let reply = c.cmd(args);
        assert!(reply.starts_with("-ERR "), "{args:?} answered {reply:?}");
        assert_eq!(c.cmd(&["DIGEST"]), before, "{args:?} changed the data");
    }
    // Misses that are not errors change nothing either.
    let misses: &[&[&str]] = &[
        &["SET", "fleet", "t", "NX", "POINT", "1", "2"],
        &["SET", "fleet", "x", "XX", "POINT", "1", "2"],
        &["DEL", "fleet", "gone"],
        &["PDEL", "fleet", "zz*"],
        &["DROP", "nokey"],
        &["EXPIRE", "fleet", "gone", "5"],
        &["PERSIST", "fleet", "gone"],
        &["JDEL", "user", "1", "nope"],
        &["FSET", "fleet", "t", "speed", "9"],
        &["RENAMENX", "fleet", "user"],
    ];
    for args in misses {
        c.cmd(args);
        assert_eq!(c.cmd(&["DIGEST"]), before, "{args:?} changed the data");
    }
    assert_eq!(c.cmd(&["GET", "fleet", "x"]), NIL);
    assert_eq!(c.cmd(&["KEYS", "*"]), arr(&[b("fleet"), b("user")]));
    assert_eq!(
        c.cmd(&["GET", "fleet", "t", "WITHFIELDS"]),
        arr(&[b(truck), fields(&[("speed", "9")])])
    );
    assert_int_in(&c.cmd(&["TTL", "fleet", "t"]), 990, 1000);
}
