//! Tile38 JSON replies on a RESP connection after `OUTPUT json` (each reply is a RESP bulk
//! string holding the JSON): exact text for every command, with only the volatile `elapsed`
//! member stripped (and checked to be a Go duration, last in the object).

mod common;

use std::time::Duration;

use common::*;

const OK: &str = r#"{"ok":true}"#;

fn fail(err: &str) -> String {
    format!(r#"{{"ok":false,"err":"{err}"}}"#)
}

/// The value of `ttl` in a `{"ok":true,"ttl":x}` reply.
fn ttl_of(reply: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(reply).unwrap();
    v["ttl"]
        .as_f64()
        .unwrap_or_else(|| panic!("no ttl: {reply}"))
}

#[test]
fn output_switches_the_connection_format() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["OUTPUT"]), "+resp\r\n");
    // The reply to OUTPUT json is already JSON, in a bulk string whose length counts bytes
    // (`µs` is two bytes).
    let raw = c.cmd(&["OUTPUT", "json"]);
    let payload = unbulk(&raw);
    assert!(payload.starts_with(r#"{"ok":true,"elapsed":""#), "{raw}");
    assert!(payload.ends_with("s\"}"), "{raw}");
    assert_eq!(strip_elapsed(&payload), OK);
    assert_eq!(c.json(&["OUTPUT"]), r#"{"ok":true,"output":"json"}"#);
    assert_eq!(c.json(&["OUTPUT", "xml"]), fail("invalid argument 'xml'"));
    // Other connections are not affected.
    assert_eq!(s.wire().cmd(&["PING"]), "+PONG\r\n");
    // Back to RESP: the reply to OUTPUT resp is already RESP.
    assert_eq!(c.cmd(&["OUTPUT", "resp"]), "+OK\r\n");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    // Telnet lines too.
    assert_eq!(strip_elapsed(&unbulk(&c.line("OUTPUT json"))), OK);
    assert_eq!(
        strip_elapsed(&unbulk(&c.line("PING"))),
        r#"{"ok":true,"ping":"pong"}"#
    );
}

#[test]
fn set_and_get_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(
        c.json(&[
            "SET",
            "fleet",
            "truck1",
            "FIELD",
            "speed",
            "90",
            "POINT",
            "33.5123",
            "-112.2693"
        ]),
        OK
    );
    assert_eq!(
        c.json(&[
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
        ]),
        OK
    );
    assert_eq!(
        c.json(&["SET", "fleet", "note", "STRING", "hi \"there\""]),
        OK
    );
    assert_eq!(
        c.json(&["SET", "fleet", "area", "BOUNDS", "33", "-113", "34", "-112"]),
        OK
    );
    assert_eq!(
        c.json(&["GET", "fleet", "truck1"]),
        r#"{"ok":true,"object":{"type":"Point","coordinates":[-112.2693,33.5123]}}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "truck2", "WITHFIELDS"]),
        r#"{"ok":true,"object":{"type":"Point","coordinates":[-112.1695,33.4626,10]},"fields":{"speed":45,"wheels":18}}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "truck2", "WITHFIELDS", "POINT"]),
        r#"{"ok":true,"point":{"lat":33.4626,"lon":-112.1695,"z":10},"fields":{"speed":45,"wheels":18}}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "truck1", "POINT"]),
        r#"{"ok":true,"point":{"lat":33.5123,"lon":-112.2693}}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "area", "BOUNDS"]),
        r#"{"ok":true,"bounds":{"sw":{"lat":33,"lon":-113},"ne":{"lat":34,"lon":-112}}}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "truck2", "HASH", "5"]),
        r#"{"ok":true,"hash":"9tbnr"}"#
    );
    // A string object is a JSON string; WITHFIELDS without fields adds nothing.
    assert_eq!(
        c.json(&["GET", "fleet", "note", "WITHFIELDS"]),
        r#"{"ok":true,"object":"hi \"there\""}"#
    );
    assert_eq!(
        c.json(&["GET", "fleet", "area", "WITHFIELDS"]),
        r#"{"ok":true,"object":{"type":"Polygon","coordinates":[[[-113,33],[-112,33],[-112,34],[-113,34],[-113,33]]]}}"#
    );
    assert_eq!(c.json(&["GET", "fleet", "nope"]), fail("id not found"));
    assert_eq!(c.json(&["GET", "nokey", "truck1"]), fail("key not found"));
    assert_eq!(
        c.json(&["GET", "fleet", "truck1", "HASH", "13"]),
        fail("invalid argument '13'")
    );
    // A Feature keeps its properties verbatim.
    let feature = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"x"}}"#;
    assert_eq!(c.json(&["SET", "fleet", "f", "OBJECT", feature]), OK);
    assert_eq!(
        c.json(&["GET", "fleet", "f"]),
        format!(r#"{{"ok":true,"object":{feature}}}"#)
    );
    // NX/XX misses are errors in JSON.
    assert_eq!(
        c.json(&["SET", "fleet", "truck1", "NX", "POINT", "1", "2"]),
        fail("id already exists")
    );
    assert_eq!(
        c.json(&["SET", "fleet", "truck9", "XX", "POINT", "1", "2"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["SET", "fleet", "truck9", "NX", "POINT", "1", "2"]),
        OK
    );
    assert_eq!(
        c.json(&["SET", "fleet", "truck9", "XX", "POINT", "1", "2"]),
        OK
    );
    // Errors.
    assert_eq!(c.json(&["BADCMD"]), fail("unknown command 'BADCMD'"));
    assert_eq!(
        c.json(&["SET", "fleet"]),
        fail("invalid number of arguments")
    );
    assert_eq!(
        c.json(&["SET", "fleet", "x", "POINT", "abc", "def"]),
        fail("invalid argument 'abc'")
    );
    assert_eq!(
        c.json(&["SET", "fleet", "x", "POINT", "95", "0"]),
        fail("invalid coordinates")
    );
    assert_eq!(
        c.json(&["SET", "fleet", "x", "OBJECT", r#"{"type":"Nope"}"#]),
        fail("type 'Nope' is unknown")
    );
    assert_eq!(c.json(&["GET", "fleet", "x"]), fail("id not found"));
}

#[test]
fn fields_in_json_keep_their_types() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(
        c.json(&[
            "SET",
            "fleet",
            "t",
            "FIELD",
            "speed",
            "90.5",
            "FIELD",
            "name",
            "Andy",
            "FIELD",
            "active",
            "true",
            "FIELD",
            "meta",
            r#"{"a":[1,2]}"#,
            "POINT",
            "33",
            "-112",
        ]),
        OK
    );
    assert_eq!(
        c.json(&["GET", "fleet", "t", "WITHFIELDS"]),
        r#"{"ok":true,"object":{"type":"Point","coordinates":[-112,33]},"fields":{"active":true,"meta":{"a":[1,2]},"name":"Andy","speed":90.5}}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "t", "speed"]),
        r#"{"ok":true,"value":90.5}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "t", "name"]),
        r#"{"ok":true,"value":"Andy"}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "t", "active"]),
        r#"{"ok":true,"value":true}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "t", "meta"]),
        r#"{"ok":true,"value":{"a":[1,2]}}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "t", "nosuch"]),
        r#"{"ok":true,"value":0}"#
    );
    assert_eq!(
        c.json(&["FGET", "fleet", "nope", "name"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["FGET", "nokey", "nope", "name"]),
        fail("key not found")
    );
    assert_eq!(
        c.json(&["FEXISTS", "fleet", "t", "name"]),
        r#"{"ok":true,"exists":true}"#
    );
    assert_eq!(
        c.json(&["FEXISTS", "fleet", "t", "nosuch"]),
        r#"{"ok":true,"exists":false}"#
    );
    assert_eq!(
        c.json(&["FEXISTS", "fleet", "nope", "x"]),
        fail("id not found")
    );
    // FSET answers only ok in JSON, whatever changed.
    assert_eq!(
        c.json(&["FSET", "fleet", "t", "speed", "1", "name", "Bob"]),
        OK
    );
    assert_eq!(c.json(&["FSET", "fleet", "t", "speed", "1"]), OK);
    assert_eq!(c.json(&["FSET", "fleet", "nope", "XX", "speed", "1"]), OK);
    assert_eq!(
        c.json(&["FSET", "fleet", "nope", "speed", "1"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["FSET", "nokey", "nope", "speed", "1"]),
        fail("key not found")
    );
    assert_eq!(
        c.json(&["FSET", "fleet", "t", "z", "1"]),
        fail("invalid argument 'z'")
    );
    assert_eq!(
        c.json(&["FSET", "fleet", "t", "speed"]),
        fail("invalid number of arguments")
    );
    assert_eq!(
        c.json(&["GET", "fleet", "t", "WITHFIELDS", "POINT"]),
        r#"{"ok":true,"point":{"lat":33,"lon":-112},"fields":{"active":true,"meta":{"a":[1,2]},"name":"Bob","speed":1}}"#
    );
}

#[test]
fn expiry_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(
        c.json(&["SET", "fleet", "a", "EX", "100", "POINT", "1", "2"]),
        OK
    );
    assert_eq!(c.json(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    // TTL is fractional seconds in JSON.
    let ttl = ttl_of(&c.json(&["TTL", "fleet", "a"]));
    assert!((98.0..=100.0).contains(&ttl), "{ttl}");
    assert_eq!(c.json(&["TTL", "fleet", "b"]), r#"{"ok":true,"ttl":-1}"#);
    assert_eq!(c.json(&["TTL", "fleet", "nope"]), fail("id not found"));
    assert_eq!(c.json(&["TTL", "nokey", "nope"]), fail("key not found"));
    assert_eq!(c.json(&["EXPIRE", "fleet", "b", "0.5"]), OK);
    let ttl = ttl_of(&c.json(&["TTL", "fleet", "b"]));
    assert!((0.0..=0.5).contains(&ttl), "{ttl}");
    assert_eq!(
        c.json(&["EXPIRE", "fleet", "nope", "5"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["EXPIRE", "nokey", "nope", "5"]),
        fail("key not found")
    );
    assert_eq!(
        c.json(&["EXPIRE", "fleet", "a", "x"]),
        fail("invalid argument 'x'")
    );
    assert_eq!(c.json(&["PERSIST", "fleet", "a"]), OK);
    assert_eq!(c.json(&["TTL", "fleet", "a"]), r#"{"ok":true,"ttl":-1}"#);
    assert_eq!(c.json(&["PERSIST", "fleet", "a"]), OK);
    assert_eq!(c.json(&["PERSIST", "fleet", "nope"]), fail("id not found"));
    assert_eq!(c.json(&["PERSIST", "nokey", "nope"]), fail("key not found"));
    // b (EXPIRE 0.5) goes away.
    wait_until(Duration::from_secs(5), "b to expire", || {
        (c.json(&["GET", "fleet", "b"]) == fail("id not found")).then_some(())
    });
}

#[test]
fn keys_and_collections_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    for (key, id) in [
        ("fleet", "a1"),
        ("fleet", "a2"),
        ("fleet", "b1"),
        ("other", "x"),
    ] {
        assert_eq!(c.json(&["SET", key, id, "POINT", "33", "-112"]), OK);
    }
    assert_eq!(c.json(&["SET", "people", "p", "STRING", "x"]), OK);
    assert_eq!(
        c.json(&["KEYS", "*"]),
        r#"{"ok":true,"keys":["fleet","other","people"]}"#
    );
    assert_eq!(c.json(&["KEYS", "zz*"]), r#"{"ok":true,"keys":[]}"#);
    assert_eq!(c.json(&["TYPE", "fleet"]), r#"{"ok":true,"type":"hash"}"#);
    assert_eq!(c.json(&["TYPE", "nokey"]), r#"{"ok":true,"type":"none"}"#);
    assert_eq!(
        c.json(&["EXISTS", "fleet", "a1"]),
        r#"{"ok":true,"exists":true}"#
    );
    assert_eq!(
        c.json(&["EXISTS", "fleet", "zz"]),
        r#"{"ok":true,"exists":false}"#
    );
    assert_eq!(
        c.json(&["BOUNDS", "fleet"]),
        r#"{"ok":true,"bounds":{"type":"Polygon","coordinates":[[[-112,33],[-112,33],[-112,33],[-112,33],[-112,33]]]}}"#
    );
    assert_eq!(c.json(&["BOUNDS", "nokey"]), fail("key not found"));
    let stats = c.json(&["STATS", "fleet", "nokey"]);
    let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let size = v["stats"][0]["in_memory_size"].as_i64().unwrap();
    assert!(size > 0);
    assert_eq!(
        stats,
        format!(
            r#"{{"ok":true,"stats":[{{"in_memory_size":{size},"num_objects":3,"num_points":3,"num_strings":0}},null]}}"#
        )
    );
    // DEL, PDEL, DROP, RENAME, RENAMENX and FLUSHDB answer only ok (also on a miss).
    assert_eq!(c.json(&["DEL", "fleet", "a1"]), OK);
    assert_eq!(c.json(&["DEL", "fleet", "a1"]), OK);
    assert_eq!(c.json(&["DEL", "nokey", "a1"]), OK);
    assert_eq!(
        c.json(&["DEL", "fleet", "a1", "ERRON404"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["DEL", "nokey", "a1", "ERRON404"]),
        fail("key not found")
    );
    assert_eq!(c.json(&["PDEL", "fleet", "a*"]), OK);
    assert_eq!(c.json(&["PDEL", "fleet", "zz*"]), OK);
    assert_eq!(c.json(&["RENAME", "fleet", "fleet2"]), OK);
    assert_eq!(c.json(&["RENAME", "nokey", "x"]), fail("key not found"));
    assert_eq!(c.json(&["RENAMENX", "fleet2", "other"]), OK);
    assert_eq!(c.json(&["RENAMENX", "nokey", "x"]), fail("key not found"));
    assert_eq!(
        c.json(&["KEYS", "*"]),
        r#"{"ok":true,"keys":["fleet2","other","people"]}"#
    );
    assert_eq!(c.json(&["DROP", "other"]), OK);
    assert_eq!(c.json(&["DROP", "other"]), OK);
    assert_eq!(c.json(&["FLUSHDB"]), OK);
    assert_eq!(c.json(&["KEYS", "*"]), r#"{"ok":true,"keys":[]}"#);
}

#[test]
fn json_documents_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(c.json(&["JSET", "user", "901", "name", "Tom"]), OK);
    assert_eq!(c.json(&["JSET", "user", "901", "age", "46"]), OK);
    assert_eq!(c.json(&["JSET", "user", "901", "zip", "85001", "STR"]), OK);
    assert_eq!(
        c.json(&["JSET", "user", "901", "tags", r#"["a"]"#, "RAW"]),
        OK
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "name"]),
        r#"{"ok":true,"value":"Tom"}"#
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "age"]),
        r#"{"ok":true,"value":46}"#
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "zip"]),
        r#"{"ok":true,"value":"85001"}"#
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "tags"]),
        r#"{"ok":true,"value":["a"]}"#
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "nope"]),
        r#"{"ok":true,"value":null}"#
    );
    assert_eq!(
        c.json(&["JGET", "user", "999", "name"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["JGET", "nokey", "999", "name"]),
        fail("key not found")
    );
    assert_eq!(
        c.json(&["GET", "user", "901"]),
        r#"{"ok":true,"object":"{\"name\":\"Tom\",\"age\":46,\"zip\":\"85001\",\"tags\":[\"a\"]}"}"#
    );
    assert_eq!(c.json(&["JDEL", "user", "901", "age"]), OK);
    assert_eq!(
        c.json(&["JDEL", "user", "901", "age"]),
        fail("path not found")
    );
    assert_eq!(
        c.json(&["JDEL", "user", "999", "age"]),
        fail("id not found")
    );
    assert_eq!(
        c.json(&["JDEL", "nokey", "999", "age"]),
        fail("key not found")
    );
    assert_eq!(
        c.json(&["JSET", "user", "901", "x", "{", "RAW"]),
        fail("invalid argument '{'")
    );
    assert_eq!(
        c.json(&["JGET", "user", "901", "x"]),
        r#"{"ok":true,"value":null}"#
    );
}

#[test]
fn scan_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(
        c.json(&["SET", "fleet", "a", "FIELD", "speed", "10", "POINT", "10", "20"]),
        OK
    );
    assert_eq!(
        c.json(&[
            "SET", "fleet", "b", "FIELD", "speed", "20", "FIELD", "name", "bo", "POINT", "11",
            "21", "5"
        ]),
        OK
    );
    assert_eq!(c.json(&["SET", "fleet", "c", "STRING", "hello"]), OK);
    // One collection-wide field-name list, and positional values (0 for unset).
    assert_eq!(
        c.json(&["SCAN", "fleet"]),
        concat!(
            r#"{"ok":true,"fields":["name","speed"],"objects":["#,
            r#"{"id":"a","object":{"type":"Point","coordinates":[20,10]},"fields":[0,10]},"#,
            r#"{"id":"b","object":{"type":"Point","coordinates":[21,11,5]},"fields":["bo",20]},"#,
            r#"{"id":"c","object":"hello","fields":[0,0]}"#,
            r#"],"count":3,"cursor":0}"#
        )
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "LIMIT", "1"]),
        concat!(
            r#"{"ok":true,"fields":["name","speed"],"objects":["#,
            r#"{"id":"a","object":{"type":"Point","coordinates":[20,10]},"fields":[0,10]}"#,
            r#"],"count":1,"cursor":1}"#
        )
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "NOFIELDS", "CURSOR", "1", "LIMIT", "1", "DESC"]),
        r#"{"ok":true,"objects":[{"id":"b","object":{"type":"Point","coordinates":[21,11,5]}}],"count":1,"cursor":2}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "IDS"]),
        r#"{"ok":true,"ids":["a","b","c"],"count":3,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "COUNT"]),
        r#"{"ok":true,"count":3,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "WHERE", "speed", "15", "+inf", "COUNT"]),
        r#"{"ok":true,"count":1,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "MATCH", "a", "POINTS"]),
        r#"{"ok":true,"fields":["name","speed"],"points":[{"id":"a","point":{"lat":10,"lon":20},"fields":[0,10]}],"count":1,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "MATCH", "b", "POINTS"]),
        r#"{"ok":true,"fields":["name","speed"],"points":[{"id":"b","point":{"lat":11,"lon":21,"z":5},"fields":["bo",20]}],"count":1,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "LIMIT", "1", "BOUNDS"]),
        r#"{"ok":true,"fields":["name","speed"],"bounds":[{"id":"a","bounds":{"sw":{"lat":10,"lon":20},"ne":{"lat":10,"lon":20}},"fields":[0,10]}],"count":1,"cursor":1}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "LIMIT", "1", "HASHES", "5"]),
        r#"{"ok":true,"fields":["name","speed"],"hashes":[{"id":"a","hash":"s3y0z","fields":[0,10]}],"count":1,"cursor":1}"#
    );
    assert_eq!(
        c.json(&["SCAN", "nokey"]),
        r#"{"ok":true,"objects":[],"count":0,"cursor":0}"#
    );
    assert_eq!(
        c.json(&["SCAN", "fleet", "LIMIT", "x"]),
        fail("invalid argument 'x'")
    );
}

#[test]
fn server_commands_in_json() {
    let s = TestServer::start();
    let mut c = s.wire_json();
    assert_eq!(c.json(&["SET", "fleet", "a", "POINT", "1", "2"]), OK);
    assert_eq!(c.json(&["PING"]), r#"{"ok":true,"ping":"pong"}"#);
    assert_eq!(c.json(&["ECHO", "hi"]), r#"{"ok":true,"message":"hi"}"#);
    assert_eq!(c.json(&["HEALTHZ"]), OK);
    assert_eq!(c.json(&["GC"]), OK);
    // SERVER: one "stats" object with typed members.
    let server: serde_json::Value = serde_json::from_str(&c.json(&["SERVER"])).unwrap();
    assert_eq!(server["ok"], true);
    let stats = server["stats"].as_object().unwrap();
    for name in [
        "aof_size",
        "avg_item_size",
        "cpus",
        "in_memory_size",
        "mem_alloc",
        "num_collections",
        "num_hooks",
        "num_objects",
        "num_points",
        "num_strings",
        "pid",
        "pointer_size",
        "repl_offset",
        "uptime_in_seconds",
    ] {
        assert!(stats[name].is_u64(), "{name}: {}", stats[name]);
    }
    for name in ["id", "repl_id", "version"] {
        assert!(stats[name].is_string(), "{name}");
    }
    assert_eq!(stats["http_transport"], true);
    assert_eq!(stats["read_only"], false);
    assert_eq!(stats["num_objects"], 1);
    // INFO: the pairs of the asked sections.
    assert_eq!(
        c.json(&["INFO", "keyspace"]),
        r#"{"ok":true,"info":{"num_collections":1,"num_objects":1}}"#
    );
    let info: serde_json::Value = serde_json::from_str(&c.json(&["INFO"])).unwrap();
    assert_eq!(info["info"]["aof_enabled"], 1);
    assert_eq!(info["info"]["role"], "master");
    // DIGEST.
    let digest: serde_json::Value = serde_json::from_str(&c.json(&["DIGEST"])).unwrap();
    let d = digest["digest"].as_object().unwrap();
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        [
            "digest",
            "num_collections",
            "num_objects",
            "repl_id",
            "repl_offset"
        ]
    );
    assert_eq!(d["digest"].as_str().unwrap().len(), 16);
    // CONFIG.
    assert_eq!(
        c.json(&["CONFIG", "GET", "keepalive"]),
        r#"{"ok":true,"properties":{"keepalive":"300"}}"#
    );
    assert_eq!(c.json(&["CONFIG", "SET", "keepalive", "60"]), OK);
    assert_eq!(
        c.json(&["CONFIG", "GET", "keepalive"]),
        r#"{"ok":true,"properties":{"keepalive":"60"}}"#
    );
    assert_eq!(
        c.json(&["CONFIG", "SET", "nosuch", "1"]),
        fail("Unsupported CONFIG parameter: nosuch")
    );
    assert_eq!(c.json(&["CONFIG", "REWRITE"]), OK);
    // READONLY.
    assert_eq!(c.json(&["READONLY", "yes"]), OK);
    assert_eq!(
        c.json(&["SET", "fleet", "b", "POINT", "1", "2"]),
        fail("read only")
    );
    assert_eq!(c.json(&["DEL", "fleet", "a"]), fail("read only"));
    assert_eq!(c.json(&["READONLY", "no"]), OK);
    assert_eq!(c.json(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    // Errors.
    assert_eq!(
        c.json(&["HEALTHZ", "x"]),
        fail("invalid number of arguments")
    );
    assert_eq!(c.json(&["NOPE"]), fail("unknown command 'NOPE'"));
    // QUIT answers, then the connection closes.
    assert_eq!(c.json(&["QUIT"]), OK);
    assert!(c.closed_by_server());
}

#[test]
fn auth_in_json() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.wire_json();
    assert_eq!(c.json(&["PING"]), fail("authentication required"));
    assert_eq!(
        c.json(&["GET", "fleet", "a"]),
        fail("authentication required")
    );
    assert_eq!(c.json(&["AUTH", "nope"]), fail("invalid password"));
    assert_eq!(c.json(&["AUTH", "secret"]), OK);
    assert_eq!(c.json(&["PING"]), r#"{"ok":true,"ping":"pong"}"#);
}
