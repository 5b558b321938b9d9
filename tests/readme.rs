//! The README's quick-start examples, run as printed against the real binary with the real
//! `redis-cli` (installed by `.ci/run`) and an HTTP client, so the documentation cannot drift.

mod common;

use common::*;
use std::process::Command;

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli must be installed (.ci/run installs redis-tools)");
    assert!(out.status.success(), "{:?}", out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn quick_start_examples_work_as_printed() {
    let s = TestServer::start();
    let p = s.port;
    let set = [
        "SET",
        "fleet",
        "truck1",
        "FIELD",
        "speed",
        "90",
        "POINT",
        "33.5123",
        "-112.2693",
    ];
    assert_eq!(redis_cli(p, &set), "OK\n");
    // redis-cli prints raw replies when stdout is not a terminal.
    assert_eq!(
        redis_cli(p, &["GET", "fleet", "truck1", "WITHFIELDS"]),
        "{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]}\nspeed\n90\n"
    );
    assert_eq!(redis_cli(p, &["SCAN", "fleet", "IDS"]), "0\ntruck1\n");
    let (status, body) = s.http_get("/GET+fleet+truck1");
    assert_eq!(status, 200);
    assert_eq!(
        strip_elapsed(&body),
        strip_elapsed(
            "{\"ok\":true,\"object\":{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]},\"elapsed\":\"1µs\"}\r\n"
        )
    );
    let (status, body) = s.http_post("SET fleet truck2 EX 60 POINT 33.46 -112.16");
    assert_eq!(
        (status, strip_elapsed(&body)),
        (200, strip_elapsed("{\"ok\":true,\"elapsed\":\"1µs\"}\r\n"))
    );
    let (status, body) = s.http_get("/TTL+fleet+truck2");
    assert_eq!(status, 200);
    let ttl: f64 = body
        .split("\"ttl\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no ttl in {body}"));
    assert!((55.0..=60.0).contains(&ttl), "{body}");
}
