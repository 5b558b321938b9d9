//! The first end-to-end check: the binary starts, answers RESP and HTTP, and keeps data
//! across a restart.

mod common;

use common::*;

#[test]
fn set_get_over_resp_http_and_restart() {
    let mut s = TestServer::start();
    let mut c = s.redis();
    assert_eq!(
        q(
            &mut c,
            &["SET", "fleet", "truck1", "POINT", "33.5123", "-112.2693"]
        ),
        redis::Value::Okay
    );
    let got = s.raw(b"GET fleet truck1\r\n");
    assert_eq!(
        got,
        "$50\r\n{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]}\r\n"
    );
    let (status, body) = s.http_get("/GET+fleet+truck1");
    assert_eq!(status, 200);
    assert!(body.starts_with("{\"ok\":true,\"object\":{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]},\"elapsed\":\""), "{body}");
    assert_eq!(s.stop(), Some(0));
    let s2 = TestServer::start_in(&s.dir.clone(), &[]);
    assert_eq!(s2.raw(b"GET fleet truck1\r\n"), got);
}
