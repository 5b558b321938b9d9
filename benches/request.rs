//! The whole per-request path of a RESP connection without the sockets: decode a request
//! from the read buffer, execute it against 1M points, encode the reply. These are the
//! `bench/search.sh` small-result lines, where the server's own CPU per request decides
//! the unpipelined throughput; `decode_*` isolates the framing.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion};
use meridian::cmd::Session;
use meridian::config::Config;
use meridian::exec::{Origin, Server};
use meridian::protocol::decode::{decode_request, Limits};
use meridian::protocol::{encode_for_connection, Request};
use std::hint::black_box;
use std::time::Duration;

mod common;

const LAT: &str = "60.094824";
const LON: &str = "-0.078598";

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn loaded_server() -> Server {
    let server = Server::new(Config::default(), "/nonexistent/meridian.toml".into());
    server.finish_loading(None);
    let mut session = Session::default();
    for (i, (lat, lon)) in common::random_points(1_000_000).enumerate() {
        let (id, lat, lon) = (format!("p{i}"), lat.to_string(), lon.to_string());
        let args = [
            "SET", "bench", &id, "FIELD", "speed", "1", "POINT", &lat, &lon,
        ];
        server.execute(&Request::from_strs(&args), &mut session, Origin::Client);
    }
    server
}

fn bench_request_path(c: &mut Criterion) {
    let nearby = resp(&["NEARBY", "bench", "LIMIT", "1", "IDS", "POINT", LAT, LON]);
    let limits = Limits::default();
    c.bench_function("decode_nearby_request", |b| {
        let mut buf = BytesMut::with_capacity(nearby.len());
        b.iter(|| {
            buf.extend_from_slice(&nearby);
            black_box(decode_request(&mut buf, &limits).unwrap().unwrap())
        })
    });
    let server = loaded_server();
    let lines: [(&str, Vec<u8>); 4] = [
        ("nearby_1", nearby.clone()),
        (
            "nearby_10",
            resp(&["NEARBY", "bench", "LIMIT", "10", "IDS", "POINT", LAT, LON]),
        ),
        (
            "within_circle_1km",
            resp(&["WITHIN", "bench", "IDS", "CIRCLE", LAT, LON, "1000"]),
        ),
        (
            "within_circle_10km",
            resp(&["WITHIN", "bench", "IDS", "CIRCLE", LAT, LON, "10000"]),
        ),
    ];
    for (name, bytes) in lines {
        let mut session = Session::default();
        let mut buf = BytesMut::with_capacity(bytes.len());
        let mut out = BytesMut::with_capacity(4096);
        c.bench_function(&format!("request_{name}_of_1m"), |b| {
            b.iter(|| {
                buf.extend_from_slice(&bytes);
                let req = decode_request(&mut buf, &limits).unwrap().unwrap();
                let o = server.execute(&req, &mut session, Origin::Client);
                out.clear();
                encode_for_connection(&o.reply, session.output, false, Duration::ZERO, &mut out);
                black_box(out.len())
            })
        });
    }
}

criterion_group!(benches, bench_request_path);
criterion_main!(benches);
