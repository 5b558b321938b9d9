//! HELLO and RESP3 (a Meridian extension: Tile38 answers HELLO with an error). Clients such as
//! redis-py 8 open every connection with `HELLO 3`; after it, nil is `_`, booleans `#t`/`#f`
//! and maps `%n`. `HELLO 2` switches back.

mod common;

use common::*;
use redis::Value;

/// The HELLO map body (7 pairs) for `proto`, without its header.
fn hello_pairs(proto: u8) -> String {
    [
        b("server"),
        b("meridian"),
        b("version"),
        b(env!("CARGO_PKG_VERSION")),
        b("proto"),
        format!(":{proto}\r\n"),
        b("id"),
        ":0\r\n".into(),
        b("mode"),
        b("standalone"),
        b("role"),
        b("master"),
        b("modules"),
        "*0\r\n".into(),
    ]
    .concat()
}

#[test]
fn hello_3_switches_to_resp3_and_hello_2_back() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "FIELD", "speed", "5", "POINT", "1", "2"]),
        "+OK\r\n"
    );
    // HELLO without a version reports the current one (2) as a flat array.
    assert_eq!(c.cmd(&["HELLO"]), format!("*14\r\n{}", hello_pairs(2)));
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), "$-1\r\n");
    // HELLO 3: a RESP3 map, and RESP3 from now on.
    assert_eq!(c.cmd(&["HELLO", "3"]), format!("%7\r\n{}", hello_pairs(3)));
    assert_eq!(c.cmd(&["HELLO"]), format!("%7\r\n{}", hello_pairs(3)));
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), "_\r\n");
    assert_eq!(c.cmd(&["GET", "nokey", "nope"]), "_\r\n");
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "NX", "POINT", "1", "2"]),
        "_\r\n"
    );
    assert_eq!(c.cmd(&["BOUNDS", "nokey"]), "_\r\n");
    assert_eq!(c.cmd(&["JGET", "fleet", "a", "nope"]), "_\r\n");
    assert_eq!(c.cmd(&["EXISTS", "fleet", "a"]), "#t\r\n");
    assert_eq!(c.cmd(&["EXISTS", "fleet", "b"]), "#f\r\n");
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "a", "speed"]), "#t\r\n");
    // Unchanged in RESP3: statuses, integers, bulk strings, errors, search arrays.
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["TTL", "fleet", "a"]), ":-1\r\n");
    assert_eq!(c.cmd(&["DEL", "fleet", "zz"]), ":0\r\n");
    assert_eq!(
        c.cmd(&["GET", "fleet", "a", "WITHFIELDS"]),
        format!(
            "*2\r\n{}*2\r\n{}{}",
            b(r#"{"type":"Point","coordinates":[2,1]}"#),
            b("speed"),
            b("5")
        )
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "IDS"]),
        format!("*2\r\n:0\r\n*1\r\n{}", b("a"))
    );
    assert_eq!(c.cmd(&["SCAN", "fleet", "COUNT"]), ":1\r\n");
    assert_eq!(c.cmd(&["BADCMD"]), "-ERR unknown command 'BADCMD'\r\n");
    assert_eq!(
        c.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    // Maps: STATS entries (nil for a missing key), SERVER, DIGEST.
    let stats = c.cmd(&["STATS", "fleet", "nokey"]);
    assert!(
        stats.starts_with("*2\r\n%4\r\n$14\r\nin_memory_size\r\n:"),
        "{stats}"
    );
    assert!(
        stats.ends_with("$11\r\nnum_strings\r\n:0\r\n_\r\n"),
        "{stats}"
    );
    let server = c.cmd(&["SERVER"]);
    assert!(server.starts_with("%19\r\n$2\r\nid\r\n"), "{server}");
    assert!(
        server.contains("$14\r\nhttp_transport\r\n#t\r\n"),
        "{server}"
    );
    assert!(server.contains("$9\r\nread_only\r\n#f\r\n"), "{server}");
    assert!(c
        .cmd(&["DIGEST"])
        .starts_with("%5\r\n$6\r\ndigest\r\n$16\r\n"));
    // HELLO 2: back to RESP2.
    assert_eq!(c.cmd(&["HELLO", "2"]), format!("*14\r\n{}", hello_pairs(2)));
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), "$-1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "fleet", "a"]), ":1\r\n");
    assert!(c.cmd(&["SERVER"]).starts_with("*38\r\n"));
    // Other connections never left RESP2.
    assert_eq!(s.wire().cmd(&["GET", "fleet", "nope"]), "$-1\r\n");
}

#[test]
fn hello_options_and_errors() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        c.cmd(&["HELLO", "3", "BOGUS"]),
        "-ERR invalid argument 'BOGUS'\r\n"
    );
    // A failed HELLO leaves the protocol alone.
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), "$-1\r\n");
    // SETNAME sets the connection name.
    assert_eq!(
        c.cmd(&["HELLO", "3", "SETNAME", "conn1"]),
        format!("%7\r\n{}", hello_pairs(3))
    );
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), b("conn1"));
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "conn2"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), b("conn2"));
    assert_eq!(s.wire().cmd(&["CLIENT", "GETNAME"]), "$-1\r\n");
    // Inline HELLO works too.
    let mut t = s.wire();
    assert_eq!(t.line("HELLO 3"), format!("%7\r\n{}", hello_pairs(3)));
    assert_eq!(t.line("GET fleet nope"), "_\r\n");
}

#[test]
fn hello_3_with_auth() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.wire();
    // HELLO is allowed before AUTH; it can authenticate, or fail with the password error.
    assert_eq!(
        c.cmd(&["HELLO", "3", "AUTH", "default", "wrong"]),
        "-ERR invalid password\r\n"
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "a"]),
        "-ERR authentication required\r\n"
    );
    assert_eq!(
        c.cmd(&["HELLO", "3", "AUTH", "default", "secret"]),
        format!("%7\r\n{}", hello_pairs(3))
    );
    assert_eq!(c.cmd(&["GET", "fleet", "a"]), "_\r\n");
    // HELLO 3 alone switches the protocol but does not authenticate.
    let mut d = s.wire();
    assert_eq!(d.cmd(&["HELLO", "3"]), format!("%7\r\n{}", hello_pairs(3)));
    assert_eq!(
        d.cmd(&["GET", "fleet", "a"]),
        "-ERR authentication required\r\n"
    );
    assert_eq!(d.cmd(&["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(d.cmd(&["GET", "fleet", "a"]), "_\r\n");
}

#[test]
fn json_output_on_a_resp3_connection() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["HELLO", "3"]), format!("%7\r\n{}", hello_pairs(3)));
    // OUTPUT json still carries JSON in bulk strings.
    assert_eq!(c.json(&["OUTPUT", "json"]), r#"{"ok":true}"#);
    assert_eq!(
        c.json(&["GET", "fleet", "nope"]),
        r#"{"ok":false,"err":"key not found"}"#
    );
    assert_eq!(
        c.json(&["HELLO", "3"]),
        format!(
            r#"{{"ok":true,"server":"meridian","version":"{}","proto":3,"id":0,"mode":"standalone","role":"master","modules":[]}}"#,
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(c.cmd(&["OUTPUT", "resp"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "fleet", "nope"]), "_\r\n");
}

#[test]
fn redis_crate_over_resp3() {
    let s = TestServer::start();
    // The crate sends HELLO 3 when it connects with protocol=resp3.
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", s.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(
        q(
            &mut con,
            &["SET", "fleet", "a", "FIELD", "speed", "5", "POINT", "1", "2"]
        ),
        Value::Okay
    );
    assert_eq!(q(&mut con, &["GET", "fleet", "nope"]), Value::Nil);
    assert_eq!(q(&mut con, &["EXISTS", "fleet", "a"]), Value::Boolean(true));
    assert_eq!(
        q(&mut con, &["EXISTS", "fleet", "b"]),
        Value::Boolean(false)
    );
    let Value::Map(pairs) = q(&mut con, &["SERVER"]) else {
        panic!("SERVER is not a map over RESP3");
    };
    let num_objects = pairs
        .iter()
        .find(|(k, _)| *k == Value::BulkString(b"num_objects".to_vec()))
        .map(|(_, v)| v.clone());
    assert_eq!(num_objects, Some(Value::Int(1)));
    let Value::Map(hello) = q(&mut con, &["HELLO", "3"]) else {
        panic!("HELLO 3 is not a map");
    };
    assert!(hello.contains(&(Value::BulkString(b"proto".to_vec()), Value::Int(3))));
    assert_eq!(
        q(&mut con, &["FGET", "fleet", "a", "speed"]),
        Value::BulkString(b"5".to_vec())
    );
    // RESP2 clients are unaffected.
    let mut con2 = s.redis();
    assert_eq!(q(&mut con2, &["EXISTS", "fleet", "a"]), Value::Int(1));
}
