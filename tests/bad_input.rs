//! Bad input (DESIGN contract 9): every malformed request gets a clear error, changes nothing,
//! and the server keeps serving other clients. Each case asserts the exact reply, that a
//! connection opened before the bad input still works, and that DIGEST (data and replication
//! offset, i.e. nothing was logged) is unchanged.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const TRUCK1: &str = r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#;

/// A server with a little data, a connection opened before any bad input, and the digest.
struct Fixture {
    s: TestServer,
    other: RespClient,
    digest: BTreeMap<String, String>,
    _tmp: tempfile::TempDir,
}

fn fixture_env(envs: &[(&str, &str)]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn_env(tmp.path(), &[], envs);
    s.wait_loaded();
    let mut other = s.client();
    for (id, lat) in [("truck1", "33.5123"), ("truck2", "34")] {
        let r = other
            .cmd(&[
                "SET",
                "fleet",
                id,
                "FIELD",
                "speed",
                "90",
                "POINT",
                lat,
                "-112.2693",
            ])
            .unwrap();
        assert_eq!(r, Resp::Simple("OK".into()));
    }
    let r = other
        .cmd(&["SET", "notes", "n1", "STRING", "hello"])
        .unwrap();
    assert_eq!(r, Resp::Simple("OK".into()));
    let digest = digest_of(&mut other);
    assert_eq!(digest["num_objects"], "3");
    Fixture {
        s,
        other,
        digest,
        _tmp: tmp,
    }
}

fn fixture() -> Fixture {
    fixture_env(&[])
}

impl Fixture {
    /// The already-open connection still works and nothing changed.
    fn assert_unchanged(&mut self, case: &str) {
        let got = self.other.cmd(&["GET", "fleet", "truck1"]).unwrap();
        assert_eq!(got, Resp::bulk(TRUCK1), "{case}: other client");
        assert_eq!(
            digest_of(&mut self.other),
            self.digest,
            "{case}: data or AOF changed"
        );
    }

    /// Sends `input` on a new connection; expects exactly `reply` and the server to close it
    /// (a framing error leaves the stream unsynchronised).
    fn closes_with(&mut self, input: &[u8], reply: &str) {
        let case = String::from_utf8_lossy(input).into_owned();
        let mut s = self.s.connect();
        s.write_all(input).unwrap();
        let (got, closed) = read_until_close(&mut s, Duration::from_secs(5));
        assert_eq!(String::from_utf8_lossy(&got), reply, "{case:?}");
        assert!(closed, "{case:?}: connection left open");
        self.assert_unchanged(&case);
    }

    /// Sends `args` on a new connection; expects the error reply `error` and the same
    /// connection to keep working.
    fn errors_with<S: AsRef<[u8]>>(&mut self, args: &[S], error: &str) {
        let case = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = self.s.client();
        assert_eq!(c.cmd(args).unwrap(), Resp::Error(error.into()), "{case}");
        assert_eq!(
            c.cmd(&["PING"]).unwrap(),
            Resp::Simple("PONG".into()),
            "{case}"
        );
        self.assert_unchanged(&case);
    }

    /// Like `errors_with` for a telnet (inline) line.
    fn inline_errors_with(&mut self, line: &str, error: &str) {
        let mut c = self.s.client();
        c.send_raw(format!("{line}\r\n").as_bytes()).unwrap();
        assert_eq!(c.read().unwrap(), Resp::Error(error.into()), "{line}");
        assert_eq!(
            c.cmd(&["PING"]).unwrap(),
            Resp::Simple("PONG".into()),
            "{line}"
        );
        self.assert_unchanged(line);
    }
}

#[test]
fn malformed_resp_gets_a_protocol_error() {
    let mut f = fixture();
    f.closes_with(
        b"*2\r\n$3\r\nGET\r\nxx\r\n",
        "-ERR Protocol error: expected '$', got 'x'\r\n",
    );
    f.closes_with(
        b"*abc\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    f.closes_with(
        b"*1\r\n:5\r\n",
        "-ERR Protocol error: expected '$', got ':'\r\n",
    );
    f.closes_with(
        b"*1\r\n$3\r\nabcde\r\n",
        "-ERR Protocol error: expected CRLF after bulk data\r\n",
    );
    f.closes_with(
        b"*1\r\n$-5\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    // More arguments than max-request-args (1 Mi).
    f.closes_with(
        b"*2000000\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    // A valid command before the bad frame is answered first; the one after is never run.
    let mut input = resp_encode(&["PING"]);
    input.extend_from_slice(b"*1\r\n$x\r\n");
    input.extend(resp_encode(&["SET", "fleet", "after", "POINT", "1", "1"]));
    f.closes_with(
        &input,
        "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
    );
    // `$3` at the top level is an inline line, i.e. a command named `$3`.
    f.inline_errors_with("$3", "ERR unknown command '$3'");
}

#[test]
fn an_absurd_bulk_length_is_refused_at_once() {
    let mut f = fixture();
    for input in [
        &b"*1\r\n$1099511627776\r\n"[..],
        &b"*3\r\n$3\r\nSET\r\n$5\r\nfleet\r\n$1099511627776\r\n"[..],
        &b"*1\r\n$99999999999999999999999\r\n"[..],
    ] {
        let mut s = f.s.connect();
        let started = Instant::now();
        s.write_all(input).unwrap();
        let (got, closed) = read_until_close(&mut s, Duration::from_secs(5));
        assert_eq!(
            String::from_utf8_lossy(&got),
            "-ERR Protocol error: invalid bulk length\r\n"
        );
        assert!(closed);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the reply waited for the payload ({:?})",
            started.elapsed()
        );
        f.assert_unchanged("2^40 bulk");
    }
}

#[test]
fn a_two_mib_argument_works_by_default() {
    let mut f = fixture();
    let big: String = (0..2 * 1024 * 1024 + 17)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let mut c = f.s.client();
    assert_eq!(
        c.cmd(&["SET", "notes", "big", "STRING", &big]).unwrap(),
        Resp::Simple("OK".into())
    );
    assert_eq!(c.cmd(&["GET", "notes", "big"]).unwrap(), Resp::bulk(&big));
    let got = f.other.cmd(&["GET", "notes", "big"]).unwrap();
    assert_eq!(got, Resp::bulk(&big));
}

#[test]
fn arguments_above_proto_max_bulk_len_are_refused() {
    const LIMIT: usize = 1024 * 1024;
    let mut f = fixture_env(&[("MERIDIAN_PROTO_MAX_BULK_LEN", "1048576")]);
    assert_eq!(
        f.other
            .cmd(&["CONFIG", "GET", "proto-max-bulk-len"])
            .unwrap(),
        Resp::Array(vec![
            Resp::bulk("proto-max-bulk-len"),
            Resp::bulk("1048576")
        ])
    );
    // One byte over: refused as soon as the header arrives, without the payload.
    let header = format!(
        "*5\r\n$3\r\nSET\r\n$5\r\nnotes\r\n$3\r\nbig\r\n$6\r\nSTRING\r\n${}\r\n",
        LIMIT + 1
    );
    let started = Instant::now();
    f.closes_with(
        header.as_bytes(),
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // With the payload sent in full the answer is the same (the server stops reading).
    let over = "x".repeat(LIMIT + 1);
    let input = resp_encode(&["SET", "notes", "big", "STRING", &over]);
    let mut s = f.s.connect();
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&input); // may fail once the server has closed
        })
    };
    let (got, closed) = read_until_close(&mut s, Duration::from_secs(5));
    writer.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(closed);
    f.assert_unchanged("bulk over the limit");
    // Exactly at the limit is fine.
    let at = "y".repeat(LIMIT);
    let mut c = f.s.client();
    assert_eq!(
        c.cmd(&["SET", "notes", "big", "STRING", &at]).unwrap(),
        Resp::Simple("OK".into())
    );
    assert_eq!(c.cmd(&["GET", "notes", "big"]).unwrap(), Resp::bulk(&at));
    // HTTP bodies have the same limit.
    let mut f = fixture_env(&[("MERIDIAN_PROTO_MAX_BULK_LEN", "1048576")]);
    let body = format!("SET notes big STRING {}", "z".repeat(LIMIT + 10));
    let (status, text) = f.s.http_post(&body);
    assert_eq!(status, 400, "{text}");
    assert!(
        text.starts_with(r#"{"ok":false,"err":"request body too large","elapsed":""#),
        "{text}"
    );
    f.assert_unchanged("HTTP body over the limit");
    // An inline line longer than 64 KiB is refused without waiting for its end.
    let long = format!("SET notes big STRING {}", "w".repeat(70 * 1024));
    f.closes_with(
        long.as_bytes(),
        "-ERR Protocol error: too big inline request\r\n",
    );
}

/// Sends a raw HTTP request on a new connection and returns what arrives within a second.
fn http_raw(s: &TestServer, input: &[u8]) -> String {
    let mut c: TcpStream = s.connect();
    c.write_all(input).unwrap();
    let (got, _) = read_until_close(&mut c, Duration::from_secs(1));
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn bad_http_gets_400() {
    let mut f = fixture();
    for input in [
        &b"GET / HTTP/1.1\r\nHost\r\n\r\n"[..],
        b"GET /a b HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
    ] {
        let got = http_raw(&f.s, input);
        assert!(
            got.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{:?} -> {got:?}",
            String::from_utf8_lossy(input)
        );
        f.assert_unchanged(&String::from_utf8_lossy(input));
    }
    let body = b"SET fleet x STRING \xff";
    let mut input =
        format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    input.extend_from_slice(body);
    let got = http_raw(&f.s, &input);
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got:?}");
    assert!(
        got.contains(r#"{"ok":false,"err":"invalid argument: body is not UTF-8","#),
        "{got:?}"
    );
    f.assert_unchanged("non-UTF-8 HTTP body");
    for (path, err) in [
        ("/SET+fleet+x+POINT+95+0", "invalid coordinates"),
        ("/GET+fleet", "invalid number of arguments"),
        ("/NOPE", "unknown command 'NOPE'"),
    ] {
        let (status, body) = f.s.http_get(path);
        assert_eq!(status, 400, "{path}: {body}");
        let want = format!(r#"{{"ok":false,"err":"{err}","elapsed":""#);
        assert!(body.starts_with(&want), "{path}: {body}");
        f.assert_unchanged(path);
    }
}

#[test]
fn invalid_geojson_is_refused() {
    let mut f = fixture();
    for (json, err) in [
        (r#"{"type":"Nope"}"#, "ERR type 'Nope' is unknown"),
        (
            r#"{"type":"Point","coordinates":[1]}"#,
            "ERR invalid coordinates",
        ),
        (
            r#"{"type":"Point","coordinates":[200,0]}"#,
            "ERR invalid coordinates",
        ),
        (
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}"#,
            "ERR invalid coordinates",
        ),
        (r#"{"type":"Point""#, "ERR invalid data"),
        ("not json", "ERR invalid data"),
    ] {
        f.errors_with(&["SET", "fleet", "bad", "OBJECT", json], err);
        f.errors_with(&["SET", "fleet", "truck1", "OBJECT", json], err);
    }
}

#[test]
fn out_of_range_coordinates_are_refused() {
    let mut f = fixture();
    let cases: [&[&str]; 7] = [
        &["POINT", "95", "0"],
        &["POINT", "-90.5", "0"],
        &["POINT", "0", "181"],
        &["BOUNDS", "95", "0", "96", "1"],
        &["BOUNDS", "10", "0", "5", "1"],
        &["POINT", "nan", "0"],
        &["HASH", "!!"],
    ];
    let errors = [
        "ERR invalid coordinates",
        "ERR invalid coordinates",
        "ERR invalid coordinates",
        "ERR invalid coordinates",
        "ERR invalid coordinates",
        "ERR invalid argument 'nan'",
        "ERR invalid geohash",
    ];
    for (body, err) in cases.iter().zip(errors) {
        let mut args = vec!["SET", "fleet", "truck1"];
        args.extend_from_slice(body);
        f.errors_with(&args, err);
    }
}

#[test]
fn wrong_arity_and_unknown_commands_are_refused() {
    let mut f = fixture();
    let cases: [&[&str]; 13] = [
        &["SET", "fleet", "truck1"],
        &["SET", "fleet", "truck1", "POINT", "1"],
        &["GET", "fleet"],
        &["DEL", "fleet"],
        &["DROP"],
        &["DROP", "fleet", "notes"],
        &["FLUSHDB", "now"],
        &["TTL", "fleet"],
        &["FSET", "fleet", "truck1", "speed"],
        &["EXPIRE", "fleet", "truck1"],
        &["RENAME", "fleet"],
        &["JSET", "fleet", "truck1", "a"],
        &["PDEL", "fleet"],
    ];
    for args in cases {
        let err = format!(
            "ERR wrong number of arguments for '{}' command",
            args[0].to_lowercase()
        );
        f.errors_with(args, &err);
    }
    f.errors_with(&["NOPE", "fleet"], "ERR unknown command 'NOPE'");
    f.errors_with(
        &["SET", "fleet", "truck1", "FOO", "POINT", "1", "2"],
        "ERR invalid argument 'FOO'",
    );
    f.errors_with(
        &["SET", "fleet", "truck1", "EX", "soon", "POINT", "1", "2"],
        "ERR invalid argument 'soon'",
    );
    f.inline_errors_with("nope a b", "ERR unknown command 'nope'");
    f.inline_errors_with(
        "GET fleet",
        "ERR wrong number of arguments for 'get' command",
    );
}

#[test]
fn an_unbalanced_quote_in_an_inline_line_is_refused() {
    let mut f = fixture();
    f.closes_with(
        b"SET fleet truck1 STRING \"abc\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    f.closes_with(
        b"SET fleet truck1 STRING 'abc\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    f.closes_with(
        b"SET fleet truck1 STRING \"abc\"def\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
}

#[test]
fn non_utf8_arguments_are_refused_not_mangled() {
    let mut f = fixture();
    let bad: &[u8] = b"\xff\xfe";
    let args: [&[u8]; 5] = [b"SET", b"notes", b"n1", b"STRING", bad];
    f.errors_with(&args, "ERR invalid argument '\u{fffd}\u{fffd}'");
    let args: [&[u8]; 6] = [b"SET", b"fleet", bad, b"POINT", b"1", b"2"];
    f.errors_with(&args, "ERR invalid argument '\u{fffd}\u{fffd}'");
    // Inline lines are not decoded lossily (that would store U+FFFD the client never sent).
    f.closes_with(
        b"SET notes n1 STRING \xff\xfe\r\n",
        "-ERR Protocol error: invalid UTF-8 in inline request\r\n",
    );
    let got = f.other.cmd(&["GET", "notes", "n1"]).unwrap();
    assert_eq!(got, Resp::bulk("hello"));
}
