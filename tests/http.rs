//! HTTP on the shared port: `GET /CMD+arg+arg` and `POST /` with the command as body, replies
//! in Tile38 JSON. Meridian answers errors with 4xx statuses (400 bad request, 401 auth,
//! 403 read only, 404 missing key/id, 409 NX conflict) where Tile38 always answers 200.

mod common;

use common::*;

const OK: &str = r#"{"ok":true}"#;

fn fail(err: &str) -> String {
    format!(r#"{{"ok":false,"err":"{err}"}}"#)
}

/// (status, body without elapsed) of a GET; checks the body framing.
fn get(s: &TestServer, path: &str) -> (u16, String) {
    let (status, body) = s.http_get(path);
    (status, json_body(&body))
}

/// (status, body without elapsed) of a POST of `cmd`.
fn post(s: &TestServer, cmd: &str) -> (u16, String) {
    let (status, body) = s.http_post(cmd);
    (status, json_body(&body))
}

fn json_body(body: &str) -> String {
    let json = body
        .strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("body without CRLF: {body:?}"));
    serde_json::from_str::<serde_json::Value>(json)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    strip_elapsed(json)
}

#[test]
fn get_and_post_commands() {
    let s = TestServer::start();
    assert_eq!(
        get(
            &s,
            "/SET+fleet+truck1+FIELD+speed+90+POINT+33.5123+-112.2693"
        ),
        (200, OK.to_string())
    );
    assert_eq!(
        get(&s, "/GET+fleet+truck1"),
        (
            200,
            r#"{"ok":true,"object":{"type":"Point","coordinates":[-112.2693,33.5123]}}"#.into()
        )
    );
    assert_eq!(
        get(&s, "/get+fleet+truck1+withfields+point"),
        (
            200,
            r#"{"ok":true,"point":{"lat":33.5123,"lon":-112.2693},"fields":{"speed":90}}"#.into()
        )
    );
    // POST: the command is the body.
    assert_eq!(
        post(&s, "SET fleet truck2 POINT 33.4626 -112.1695 10"),
        (200, OK.to_string())
    );
    assert_eq!(
        post(&s, "SCAN fleet IDS"),
        (
            200,
            r#"{"ok":true,"ids":["truck1","truck2"],"count":2,"cursor":0}"#.into()
        )
    );
    // GeoJSON in a URL-escaped path, and in a POST body.
    let point = r#"{"type":"Point","coordinates":[1,2]}"#;
    let escaped: String = point
        .chars()
        .map(|ch| match ch {
            '{' => "%7B".to_string(),
            '}' => "%7D".to_string(),
            '"' => "%22".to_string(),
            '[' => "%5B".to_string(),
            ']' => "%5D".to_string(),
            ':' => "%3A".to_string(),
            ',' => "%2C".to_string(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        get(&s, &format!("/SET+fleet+p1+OBJECT+{escaped}")),
        (200, OK.to_string())
    );
    assert_eq!(
        post(&s, &format!("SET fleet p2 OBJECT {point}")),
        (200, OK.to_string())
    );
    for id in ["p1", "p2"] {
        assert_eq!(
            get(&s, &format!("/GET+fleet+{id}")),
            (200, format!(r#"{{"ok":true,"object":{point}}}"#))
        );
    }
    // A path and a body together form one command.
    let r = s.http_with("/GET+fleet", &[], Some("truck2 POINT"));
    assert_eq!(r.status, 200);
    assert_eq!(
        json_body(&r.body),
        r#"{"ok":true,"point":{"lat":33.4626,"lon":-112.1695,"z":10}}"#
    );
    // What HTTP wrote, RESP reads.
    assert_eq!(s.wire().cmd(&["GET", "fleet", "p2"]), wire_bulk(point));
    // More commands, all answered in JSON.
    assert_eq!(
        get(&s, "/KEYS+*"),
        (200, r#"{"ok":true,"keys":["fleet"]}"#.into())
    );
    assert_eq!(get(&s, "/FSET+fleet+truck1+speed+50"), (200, OK.into()));
    assert_eq!(
        get(&s, "/FGET+fleet+truck1+speed"),
        (200, r#"{"ok":true,"value":50}"#.into())
    );
    assert_eq!(get(&s, "/EXPIRE+fleet+truck1+100"), (200, OK.into()));
    assert_eq!(get(&s, "/PERSIST+fleet+truck1"), (200, OK.into()));
    assert_eq!(
        get(&s, "/TTL+fleet+truck1"),
        (200, r#"{"ok":true,"ttl":-1}"#.into())
    );
    assert_eq!(
        get(&s, "/PING"),
        (200, r#"{"ok":true,"ping":"pong"}"#.into())
    );
    assert_eq!(get(&s, "/HEALTHZ"), (200, OK.into()));
    assert_eq!(
        get(&s, "/CONFIG+GET+keepalive"),
        (
            200,
            r#"{"ok":true,"properties":{"keepalive":"300"}}"#.into()
        )
    );
    let (status, server) = get(&s, "/SERVER");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&server).unwrap();
    assert_eq!(v["stats"]["num_objects"], 4);
    assert_eq!(get(&s, "/DEL+fleet+p1"), (200, OK.into()));
    assert_eq!(get(&s, "/DROP+fleet"), (200, OK.into()));
    assert_eq!(get(&s, "/KEYS+*"), (200, r#"{"ok":true,"keys":[]}"#.into()));
}

#[test]
fn statuses_and_headers() {
    let s = TestServer::start();
    let r = s.http_with("/SET+fleet+a+POINT+1+2", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Content-Length counts the trailing CRLF.
    assert_eq!(
        r.header("content-length").map(str::to_string),
        Some(r.body.len().to_string())
    );
    assert!(r.body.ends_with("}\r\n"));

    // 404: missing key or id.
    assert_eq!(get(&s, "/GET+fleet+nope"), (404, fail("id not found")));
    assert_eq!(get(&s, "/GET+nokey+a"), (404, fail("key not found")));
    assert_eq!(get(&s, "/TTL+fleet+nope"), (404, fail("id not found")));
    assert_eq!(get(&s, "/EXPIRE+fleet+nope+5"), (404, fail("id not found")));
    assert_eq!(
        get(&s, "/DEL+fleet+nope+ERRON404"),
        (404, fail("id not found"))
    );
    assert_eq!(get(&s, "/RENAME+nokey+x"), (404, fail("key not found")));
    assert_eq!(get(&s, "/FSET+fleet+nope+f+1"), (404, fail("id not found")));
    assert_eq!(
        get(&s, "/SET+fleet+b+XX+POINT+1+2"),
        (404, fail("id not found"))
    );
    assert_eq!(get(&s, "/BOUNDS+nokey"), (404, fail("key not found")));
    // 409: SET NX on an existing id.
    assert_eq!(
        get(&s, "/SET+fleet+a+NX+POINT+1+2"),
        (409, fail("id already exists"))
    );
    // 400: bad requests.
    assert_eq!(get(&s, "/BADCMD"), (400, fail("unknown command 'BADCMD'")));
    assert_eq!(
        get(&s, "/SET+fleet"),
        (400, fail("invalid number of arguments"))
    );
    assert_eq!(
        get(&s, "/SET+fleet+x+POINT+abc+1"),
        (400, fail("invalid argument 'abc'"))
    );
    assert_eq!(
        get(&s, "/SET+fleet+x+POINT+95+0"),
        (400, fail("invalid coordinates"))
    );
    assert_eq!(get(&s, "/"), (400, fail("invalid number of arguments")));
    // Nothing above changed the data.
    assert_eq!(
        get(&s, "/SCAN+fleet+IDS"),
        (
            200,
            r#"{"ok":true,"ids":["a"],"count":1,"cursor":0}"#.into()
        )
    );
    // 403: read only.
    assert_eq!(get(&s, "/READONLY+yes"), (200, OK.into()));
    assert_eq!(get(&s, "/SET+fleet+b+POINT+1+2"), (403, fail("read only")));
    assert_eq!(post(&s, "DEL fleet a"), (403, fail("read only")));
    assert_eq!(
        get(&s, "/EXISTS+fleet+a"),
        (200, r#"{"ok":true,"exists":true}"#.into())
    );
    assert_eq!(get(&s, "/READONLY+no"), (200, OK.into()));
    assert_eq!(get(&s, "/SET+fleet+b+POINT+1+2"), (200, OK.into()));
}

#[test]
fn http_auth_header() {
    let s = TestServer::start_with_password("secret");
    let r = s.http_with("/PING", &[], None);
    assert_eq!(
        (r.status, json_body(&r.body)),
        (401, fail("authentication required"))
    );
    let r = s.http_with(
        "/SET+fleet+a+POINT+1+2",
        &[("Authorization", "wrong")],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let r = s.http_with(
        "/SET+fleet+a+POINT+1+2",
        &[("Authorization", "secret")],
        None,
    );
    assert_eq!((r.status, json_body(&r.body)), (200, OK.into()));
    let r = s.http_with("/", &[("Authorization", "secret")], Some("GET fleet a"));
    assert_eq!(
        (r.status, json_body(&r.body)),
        (
            200,
            r#"{"ok":true,"object":{"type":"Point","coordinates":[2,1]}}"#.into()
        )
    );
    let r = s.http_with(
        "/EXISTS+fleet+a",
        &[("Authorization", "Bearer secret")],
        None,
    );
    assert_eq!(
        (r.status, json_body(&r.body)),
        (200, r#"{"ok":true,"exists":true}"#.into())
    );
    // Each request authenticates on its own.
    let (status, _) = s.http_get("/EXISTS+fleet+a");
    assert_eq!(status, 401);
}

#[test]
fn raw_http_and_telnet_share_the_port() {
    let s = TestServer::start();
    assert_eq!(
        s.wire().cmd(&["SET", "fleet", "a", "POINT", "1", "2"]),
        "+OK\r\n"
    );
    // A real HTTP/1.1 request line is HTTP...
    let reply = s.raw(b"GET /GET+fleet+a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(
        strip_elapsed(body.trim_end()),
        r#"{"ok":true,"object":{"type":"Point","coordinates":[2,1]}}"#
    );
    let reply = s.raw(b"POST / HTTP/1.0\r\nContent-Length: 13\r\n\r\nGET fleet nop");
    assert!(reply.starts_with("HTTP/1.0 404 Not Found\r\n"), "{reply}");
    // ...while a telnet line that starts with GET is a command.
    assert_eq!(
        s.raw(b"GET fleet a\r\n"),
        wire_bulk(r#"{"type":"Point","coordinates":[2,1]}"#)
    );
    assert_eq!(s.raw(b"GET fleet nope\r\n"), "$-1\r\n");
}
