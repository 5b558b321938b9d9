//! Streamed search replies: a search with more items than `search-batch-items` renders them
//! in batches after its walk and writes them in pieces. The replies must be exactly what
//! paging through the same walk by CURSOR gives (pages of at most one batch are not
//! streamed), in RESP2, RESP3 and JSON; replies stay in pipeline order; writes are not held
//! up by a slow reader; batch size and spooling to a file change nothing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Points on a 200-wide grid with ids `p00000…` (id order = number order) and a speed field.
const N: usize = 20_000;

fn lat(i: usize) -> f64 {
    10.0 + (i % 200) as f64 * 0.01
}

fn lon(i: usize) -> f64 {
    20.0 + (i / 200) as f64 * 0.01
}

fn id(i: usize) -> String {
    format!("p{i:05}")
}

/// SETs `n` points in one pipelined write and waits for every `+OK`.
fn load(s: &TestServer, n: usize) {
    s.load_speed_points(n, |i| (format!("{:.2}", lat(i)), format!("{:.2}", lon(i))));
}

/// The header lines of a RESP search page (`*2`, `:cursor`, `*n`) and its items' bytes.
fn split_page(reply: &str) -> (u64, usize, &str) {
    let mut parts = reply.splitn(4, "\r\n");
    assert_eq!(parts.next(), Some("*2"), "{reply:.200}");
    let cursor = parts
        .next()
        .unwrap()
        .strip_prefix(':')
        .unwrap()
        .parse()
        .unwrap();
    let n = parts
        .next()
        .unwrap()
        .strip_prefix('*')
        .unwrap()
        .parse()
        .unwrap();
    (cursor, n, parts.next().unwrap())
}

/// The whole walk paged by CURSOR, `page` items at a time (small pages are not streamed), as
/// the one RESP reply a single search should give.
fn paged_resp(c: &mut WireConn, query: &[&str], page: usize) -> String {
    let (mut cursor, mut total, mut body) = (0u64, 0usize, String::new());
    loop {
        let (cur, lim) = (cursor.to_string(), page.to_string());
        let args = with_opts(query, &["CURSOR", &cur, "LIMIT", &lim]);
        let reply = c.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let (next, n, items) = split_page(&reply);
        total += n;
        body.push_str(items);
        if next == 0 {
            return format!("*2\r\n:0\r\n*{total}\r\n{body}");
        }
        cursor = next;
    }
}

/// The same walk in JSON pages, joined into the one JSON reply (without `elapsed`).
fn paged_json(c: &mut WireConn, query: &[&str], page: usize, kind: &str) -> String {
    let (mut cursor, mut count, mut items) = (0u64, 0u64, Vec::new());
    loop {
        let (cur, lim) = (cursor.to_string(), page.to_string());
        let args = with_opts(query, &["CURSOR", &cur, "LIMIT", &lim]);
        let json = c.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let open = format!("\"{kind}\":[");
        let at = json.find(&open).unwrap() + open.len();
        let end = json.rfind("],\"count\":").unwrap();
        let head = &json[..at];
        if end > at {
            items.push(json[at..end].to_string());
        }
        let tail: serde_json::Value = serde_json::from_str(&format!("{{{}", &json[end + 2..]))
            .unwrap_or_else(|e| panic!("{e}: {json:.300}"));
        count += tail["count"].as_u64().unwrap();
        cursor = tail["cursor"].as_u64().unwrap();
        if cursor == 0 {
            return format!(
                "{head}{}],\"count\":{count},\"cursor\":0}}",
                items.join(",")
            );
        }
    }
}

/// `query` with `opts` inserted after the key.
fn with_opts(query: &[&str], opts: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = query[..2].iter().map(|s| s.to_string()).collect();
    v.extend(opts.iter().map(|s| s.to_string()));
    v.extend(query[2..].iter().map(|s| s.to_string()));
    v
}

fn big_limit(query: &[&str]) -> Vec<String> {
    with_opts(query, &["LIMIT", "100000"])
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

const BOX: [&str; 4] = ["10.3", "20.2", "11.5", "20.9"];

fn queries() -> Vec<(Vec<&'static str>, &'static str)> {
    let bounds = |cmd| {
        let mut q = vec![cmd, "big", "BOUNDS"];
        q.extend(BOX);
        q
    };
    vec![
        (vec!["SCAN", "big"], "objects"),
        (vec!["SCAN", "big", "IDS"], "ids"),
        (bounds("WITHIN"), "objects"),
        (bounds("INTERSECTS"), "objects"),
        (
            vec![
                "INTERSECTS",
                "big",
                "POINTS",
                "BOUNDS",
                "10",
                "20",
                "12",
                "22",
            ],
            "points",
        ),
        (
            vec!["NEARBY", "big", "DISTANCE", "POINT", "10.5", "20.5"],
            "objects",
        ),
        (
            vec!["NEARBY", "big", "IDS", "POINT", "10.5", "20.5", "30000"],
            "ids",
        ),
    ]
}

/// Ids of the objects inside `BOX`, by brute force.
fn in_box() -> Vec<String> {
    let b: Vec<f64> = BOX.iter().map(|v| v.parse().unwrap()).collect();
    (0..N)
        .filter(|&i| {
            let (la, lo) = (
                format!("{:.2}", lat(i)).parse::<f64>().unwrap(),
                format!("{:.2}", lon(i)).parse::<f64>().unwrap(),
            );
            la >= b[0] && la <= b[2] && lo >= b[1] && lo <= b[3]
        })
        .map(id)
        .collect()
}

/// Every query in RESP2, RESP3 and JSON: one streamed reply equals the CURSOR pages joined.
fn check_all(s: &TestServer, expect: &mut Vec<String>) {
    let mut r2 = s.wire();
    let mut r3 = s.wire();
    assert!(r3.cmd(&["HELLO", "3"]).starts_with('%'));
    let mut js = s.wire_json();
    let mut got = Vec::new();
    for (q, kind) in queries() {
        let big = big_limit(&q);
        let want = paged_resp(&mut r2, &q, 250);
        assert_eq!(r2.cmd(&strs(&big)), want, "RESP2 {q:?}");
        // Search items hold no nil or map, so RESP3 bytes are the same.
        assert_eq!(r3.cmd(&strs(&big)), want, "RESP3 {q:?}");
        let want_json = paged_json(&mut js, &q, 250, kind);
        assert_eq!(js.json(&strs(&big)), want_json, "JSON {q:?}");
        let http = s.http_get(&format!("/{}", big.join("+")));
        assert_eq!(http.0, 200);
        assert_eq!(strip_elapsed(http.1.trim_end()), want_json, "HTTP {q:?}");
        got.push(want);
        got.push(want_json);
    }
    if expect.is_empty() {
        *expect = got;
    } else {
        assert!(*expect == got, "replies changed with the settings");
    }
}

#[test]
fn streamed_replies_equal_cursor_paging_in_every_protocol() {
    let s = TestServer::start();
    load(&s, N);
    let mut c = s.wire();
    // Independent checks of two of the walks.
    let scan = c.cmd(&["SCAN", "big", "LIMIT", "100000", "IDS"]);
    let all: Vec<String> = (0..N).map(id).collect();
    let want: Vec<String> = all.iter().map(|i| b(i)).collect();
    assert_eq!(scan, format!("*2\r\n:0\r\n{}", arr(&want)));
    let within = c.cmd(
        &["WITHIN", "big", "LIMIT", "100000", "IDS", "BOUNDS"]
            .iter()
            .copied()
            .chain(BOX)
            .collect::<Vec<_>>(),
    );
    let (cursor, n, _) = split_page(&within);
    let mut ids: Vec<String> = within
        .lines()
        .skip(3)
        .filter(|l| l.starts_with('p'))
        .map(String::from)
        .collect();
    ids.sort();
    assert_eq!((cursor, n, ids), (0, in_box().len(), in_box()));
    assert!(in_box().len() > 2000);
    let streamed = c.info_stat("streamed_replies");
    assert!(streamed >= 2, "{streamed}");

    let mut expect = Vec::new();
    check_all(&s, &mut expect);
    // Tiny batches, and a spool that goes to a file almost at once: the same bytes.
    assert_eq!(c.cmd(&["CONFIG", "SET", "search-batch-items", "7"]), OK);
    check_all(&s, &mut expect);
    assert_eq!(c.info_stat("spool_file_bytes"), 0);
    let cfg = ["CONFIG", "SET", "search-spool-memory-bytes", "1000"];
    assert_eq!(c.cmd(&cfg), OK);
    check_all(&s, &mut expect);
    assert!(c.info_stat("spool_file_bytes") > 1_000_000);
    assert!(c.info_stat("spooled_bytes") > c.info_stat("spool_file_bytes"));
    assert_eq!(c.info_stat("oversize_replies"), 0);
}

#[test]
fn batch_size_from_the_config_file_gives_the_same_replies() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("m.toml");
    std::fs::write(
        &cfg,
        "search-batch-items = 3\nsearch-spool-memory-bytes = 4096\n",
    )
    .unwrap();
    let s = TestServer::start_with(&["--config", cfg.to_str().unwrap()]);
    load(&s, 3000);
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "search-batch-items"]),
        arr(&[b("search-batch-items"), b("3")])
    );
    for q in [
        vec!["SCAN", "big"],
        vec!["NEARBY", "big", "DISTANCE", "POINT", "10.5", "20.5"],
    ] {
        let want = paged_resp(&mut c, &q, 3);
        assert_eq!(c.cmd(&strs(&big_limit(&q))), want, "{q:?}");
    }
    assert!(c.info_stat("stream_batches") >= 2 * 3000 / 3 - 2);
}

#[test]
fn a_streamed_reply_in_a_pipeline_keeps_the_order() {
    let s = TestServer::start();
    load(&s, 5000);
    let mut c = s.wire();
    let big = c.cmd(&["SCAN", "big", "LIMIT", "100000"]);
    let small = c.cmd(&["SCAN", "big", "LIMIT", "2", "IDS"]);
    let mut conn = s.connect();
    let mut req = Vec::new();
    req.extend_from_slice(&resp_encode(&["PING"]));
    req.extend_from_slice(&resp_encode(&["SCAN", "big", "LIMIT", "100000"]));
    req.extend_from_slice(&resp_encode(&["SET", "other", "a", "POINT", "1", "2"]));
    req.extend_from_slice(&resp_encode(&["SCAN", "big", "LIMIT", "100000"]));
    req.extend_from_slice(&resp_encode(&["SCAN", "big", "LIMIT", "2", "IDS"]));
    req.extend_from_slice(&resp_encode(&["GET", "other", "a", "POINT"]));
    conn.write_all(&req).unwrap();
    let want = format!(
        "+PONG\r\n{big}+OK\r\n{big}{small}{}",
        arr(&[b("1"), b("2")])
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < want.len() && Instant::now() < deadline {
        let k = conn.read(&mut buf).unwrap();
        assert!(k > 0);
        got.extend_from_slice(&buf[..k]);
    }
    assert!(
        String::from_utf8(got).unwrap() == want,
        "pipelined replies differ"
    );
}

/// A connection with a small receive buffer, so a big reply backs up into the server.
fn slow_reader(port: u16) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect(&addr.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads an HTTP/1.1 response with a chunked body to its end; returns (head, body).
fn read_chunked(s: &mut TcpStream) -> (String, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    while !raw.ends_with(b"\r\n0\r\n\r\n") {
        let k = s.read(&mut buf).expect("read http");
        assert!(k > 0, "closed early");
        raw.extend_from_slice(&buf[..k]);
    }
    let text = String::from_utf8(raw).unwrap();
    let (head, mut rest) = text.split_once("\r\n\r\n").unwrap();
    let mut body = String::new();
    loop {
        let (len, after) = rest.split_once("\r\n").unwrap();
        let len = usize::from_str_radix(len, 16).unwrap();
        if len == 0 {
            return (head.to_string(), body);
        }
        body.push_str(&after[..len]);
        rest = &after[len + 2..];
    }
}

#[test]
fn writes_go_on_while_a_slow_client_reads_a_huge_streamed_reply() {
    let s = TestServer::start();
    let n = 40_000;
    load(&s, n);
    let mut c = s.wire();
    let total_batches = n.div_ceil(256) as u64 - 1;
    for http in [false, true] {
        let before = c.info_stat("stream_batches");
        let mut slow = slow_reader(s.port);
        if http {
            let req = "GET /SCAN+big+LIMIT+100000 HTTP/1.1\r\nHost: x\r\n\r\n";
            slow.write_all(req.as_bytes()).unwrap();
        } else {
            slow.write_all(&resp_encode(&["SCAN", "big", "LIMIT", "100000"]))
                .unwrap();
        }
        wait_until(Duration::from_secs(10), "the stream to start", || {
            (c.info_stat("stream_batches") > before).then_some(())
        });
        // The reader reads nothing; a writer must not wait for it.
        let started = Instant::now();
        assert_eq!(c.cmd(&["SET", "big", "zz-new", "POINT", "1", "1"]), OK);
        assert_eq!(c.cmd(&["DEL", "big", &id(n - 1)]), int(1));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let rendered_all = c.info_stat("stream_batches") - before >= total_batches;
        let (body, items) = if http {
            let (head, body) = read_chunked(&mut slow);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"));
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let items = v["objects"].as_array().unwrap().len() as u64;
            assert_eq!(v["count"].as_u64(), Some(items));
            (body, items)
        } else {
            let mut r = WireConn::from_stream(slow);
            let body = r.reply();
            let (cursor, items, _) = split_page(&body);
            assert_eq!(cursor, 0);
            (body, items as u64)
        };
        // Read-committed: the new object came after the walk; the deleted one is left out
        // unless its batch was rendered before the DEL.
        assert!(!body.contains("zz-new"));
        if !rendered_all {
            assert_eq!(items, n as u64 - 1, "http={http}");
            assert!(!body.contains(&id(n - 1)));
        } else {
            assert!(items == n as u64 || items == n as u64 - 1);
        }
        assert_eq!(c.cmd(&["DEL", "big", "zz-new"]), int(1));
        let p = id(n - 1);
        let (la, lo) = (format!("{:.2}", lat(n - 1)), format!("{:.2}", lon(n - 1)));
        let set = ["SET", "big", &p, "FIELD", "speed", "3", "POINT", &la, &lo];
        assert_eq!(c.cmd(&set), OK);
    }
}

#[test]
fn search_max_hits_caps_a_limit_and_answers_a_cursor() {
    let s = TestServer::start();
    load(&s, 1000);
    let mut c = s.wire();
    assert_eq!(c.cmd(&["CONFIG", "SET", "search-max-hits", "300"]), OK);
    let page = c.cmd(&["SCAN", "big", "LIMIT", "100000", "IDS"]);
    let (cursor, n, _) = split_page(&page);
    assert_eq!((cursor, n), (300, 300));
    assert_eq!(c.info_stat("capped_searches"), 1);
    // COUNT is not capped, and a LIMIT under the cap is not counted.
    assert_eq!(c.cmd(&["SCAN", "big", "COUNT"]), int(1000));
    let (cursor, n, _) = split_page(&c.cmd(&["SCAN", "big", "LIMIT", "300", "IDS"]));
    assert_eq!((cursor, n), (300, 300));
    assert_eq!(c.info_stat("capped_searches"), 1);
}
