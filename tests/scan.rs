//! SCAN over RESP against the real binary: every option and output kind with exact reply
//! bytes, and cursors paging through a collection exactly once.

mod common;

use common::*;
use redis::Value;

/// A SCAN OBJECTS item: `[id, object(, fields)]`.
fn item(id: &str, body: String, f: &[(&str, &str)]) -> String {
    if f.is_empty() {
        arr(&[b(id), body])
    } else {
        arr(&[b(id), body, fields(f)])
    }
}

#[test]
fn scan_options_and_outputs() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "FIELD", "speed", "10", "POINT", "10", "20"]),
        OK
    );
    assert_eq!(
        c.cmd(&[
            "SET", "fleet", "b", "FIELD", "speed", "20", "FIELD", "name", "bo", "POINT", "11",
            "21", "5"
        ]),
        OK
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "c", "BOUNDS", "1", "2", "3", "4"]),
        OK
    );
    assert_eq!(
        c.cmd(&["SET", "fleet", "d", "FIELD", "speed", "30", "POINT", "2", "3"]),
        OK
    );
    let pa = b(r#"{"type":"Point","coordinates":[20,10]}"#);
    let pb = b(r#"{"type":"Point","coordinates":[21,11,5]}"#);
    let pc = b(r#"{"type":"Polygon","coordinates":[[[2,1],[4,1],[4,3],[2,3],[2,1]]]}"#);
    let pd = b(r#"{"type":"Point","coordinates":[3,2]}"#);
    let ia = item("a", pa.clone(), &[("speed", "10")]);
    let ib = item("b", pb.clone(), &[("name", "bo"), ("speed", "20")]);
    let ic = item("c", pc.clone(), &[]);
    let id = item("d", pd.clone(), &[("speed", "30")]);
    let all = [ia.clone(), ib.clone(), ic.clone(), id.clone()];

    // OBJECTS (default): [cursor, [[id, object, [fields]]...]], unset fields left out.
    assert_eq!(c.cmd(&["SCAN", "fleet"]), arr(&[int(0), arr(&all)]));
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "OBJECTS"]),
        arr(&[int(0), arr(&all)])
    );
    assert_eq!(c.cmd(&["SCAN", "fleet", "ASC"]), arr(&[int(0), arr(&all)]));
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(c.cmd(&["SCAN", "fleet", "DESC"]), arr(&[int(0), arr(&rev)]));
    // LIMIT and CURSOR.
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "LIMIT", "2"]),
        arr(&[int(2), arr(&all[..2])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "CURSOR", "2", "LIMIT", "1"]),
        arr(&[int(3), arr(&all[2..3])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "CURSOR", "3", "LIMIT", "5"]),
        arr(&[int(0), arr(&all[3..])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "LIMIT", "4"]),
        arr(&[int(0), arr(&all)])
    );
    // MATCH on the id, WHERE on a field (inclusive, exclusive, infinities).
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "MATCH", "a", "MATCH", "b"]),
        arr(&[int(0), arr(&all[..2])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHERE", "speed", "20", "30"]),
        arr(&[int(0), arr(&[ib.clone(), id.clone()])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHERE", "speed", "(20", "+inf", "IDS"]),
        arr(&[int(0), arr(&[b("d")])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHERE", "speed", "-inf", "(20", "IDS"]),
        arr(&[int(0), arr(&[b("a"), b("c")])])
    );
    // Tile38 1.30+ compares typed values: a string sorts above every number, +inf included.
    assert_eq!(
        c.cmd(&[
            "SCAN", "fleet", "MATCH", "*", "WHERE", "speed", "15", "25", "WHERE", "name", "-inf",
            "+inf", "IDS"
        ]),
        arr(&[int(0), arr(&[])])
    );
    assert_eq!(
        c.cmd(&[
            "SCAN", "fleet", "WHERE", "speed", "15", "25", "WHERE", "name", "\"a\"", "\"c\"", "IDS"
        ]),
        arr(&[int(0), arr(&[b("b")])])
    );
    // Output kinds.
    assert_eq!(c.cmd(&["SCAN", "fleet", "COUNT"]), int(4));
    assert_eq!(c.cmd(&["SCAN", "fleet", "MATCH", "a*", "COUNT"]), int(1));
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "IDS"]),
        arr(&[int(0), arr(&[b("a"), b("b"), b("c"), b("d")])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "DESC", "LIMIT", "2", "IDS"]),
        arr(&[int(2), arr(&[b("d"), b("c")])])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "POINTS"]),
        arr(&[
            int(0),
            arr(&[
                item("a", arr(&[b("10"), b("20")]), &[("speed", "10")]),
                item(
                    "b",
                    arr(&[b("11"), b("21"), b("5")]),
                    &[("name", "bo"), ("speed", "20")]
                ),
                item("c", arr(&[b("2"), b("3")]), &[]),
                item("d", arr(&[b("2"), b("3")]), &[("speed", "30")]),
            ])
        ])
    );
    let corner = |lat: &str, lon: &str| arr(&[b(lat), b(lon)]);
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "BOUNDS", "LIMIT", "3"]),
        arr(&[
            int(3),
            arr(&[
                item(
                    "a",
                    arr(&[corner("10", "20"), corner("10", "20")]),
                    &[("speed", "10")]
                ),
                item(
                    "b",
                    arr(&[corner("11", "21"), corner("11", "21")]),
                    &[("name", "bo"), ("speed", "20")]
                ),
                item("c", arr(&[corner("1", "2"), corner("3", "4")]), &[]),
            ])
        ])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "HASHES", "5"]),
        arr(&[
            int(0),
            arr(&[
                item("a", b("s3y0z"), &[("speed", "10")]),
                item("b", b("s3yyt"), &[("name", "bo"), ("speed", "20")]),
                item("c", b("s065k"), &[]),
                item("d", b("s065k"), &[("speed", "30")]),
            ])
        ])
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "NOFIELDS", "LIMIT", "2"]),
        arr(&[int(2), arr(&[item("a", pa, &[]), item("b", pb, &[])])])
    );
    // A missing key scans as empty.
    assert_eq!(
        c.cmd(&["SCAN", "nokey"]),
        arr(&[int(0), "*0\r\n".to_string()])
    );
    assert_eq!(c.cmd(&["SCAN", "nokey", "COUNT"]), int(0));
    // Bad options.
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "LIMIT", "x"]),
        err("invalid argument 'x'")
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "HASHES", "13"]),
        err("invalid argument '13'")
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "WHERE", "speed", "a", "b"]),
        err("invalid argument 'a'")
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "BLAH"]),
        err("invalid argument 'BLAH'")
    );
    assert_eq!(
        c.cmd(&["SCAN", "fleet", "LIMIT"]),
        err("wrong number of arguments for 'scan' command")
    );
    // Through the redis crate: [cursor, items].
    let mut con = s.redis();
    assert_eq!(
        q(&mut con, &["SCAN", "fleet", "LIMIT", "1", "IDS"]),
        Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::BulkString(b"a".to_vec())])
        ])
    );
}

/// The ids of a SCAN ... IDS reply and its cursor.
fn ids_page(reply: &str) -> (u64, Vec<String>) {
    let (head, rest) = reply
        .strip_prefix("*2\r\n:")
        .and_then(|r| r.split_once("\r\n"))
        .unwrap_or_else(|| panic!("not a scan reply: {reply:?}"));
    let cursor = head.parse().unwrap();
    let mut lines = rest.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    let ids = (0..n)
        .map(|_| {
            lines.next().unwrap();
            lines.next().unwrap().to_string()
        })
        .collect();
    (cursor, ids)
}

#[test]
fn scan_cursor_pages_through_everything_once() {
    let s = TestServer::start();
    let mut c = s.wire();
    let mut all = Vec::new();
    for i in 0..25 {
        let id = format!("p{i:02}");
        let speed = (i % 3).to_string();
        assert_eq!(
            c.cmd(&["SET", "fleet", &id, "FIELD", "speed", &speed, "POINT", "1", "2"]),
            OK
        );
        all.push(id);
    }
    // Default LIMIT is 100: everything in one page.
    let (cursor, ids) = ids_page(&c.cmd(&["SCAN", "fleet", "IDS"]));
    assert_eq!((cursor, &ids), (0, &all));
    for (order, expected) in [
        ("ASC", all.clone()),
        ("DESC", all.iter().rev().cloned().collect()),
    ] {
        let mut seen = Vec::new();
        let mut cursor = 0u64;
        let mut pages = 0;
        loop {
            let cur = cursor.to_string();
            let (next, ids) =
                ids_page(&c.cmd(&["SCAN", "fleet", "CURSOR", &cur, "LIMIT", "10", order, "IDS"]));
            seen.extend(ids);
            pages += 1;
            if next == 0 {
                break;
            }
            assert_eq!(next, cursor + 10);
            cursor = next;
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected, "{order}");
    }
    // With a filter, the cursor counts the ids walked, and paging still sees each match once.
    let matches: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(_, id)| id.clone())
        .collect();
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    loop {
        let cur = cursor.to_string();
        let (next, ids) = ids_page(&c.cmd(&[
            "SCAN", "fleet", "CURSOR", &cur, "LIMIT", "3", "WHERE", "speed", "1", "1", "IDS",
        ]));
        seen.extend(ids);
        if next == 0 {
            break;
        }
        assert!(next > cursor);
        cursor = next;
    }
    assert_eq!(seen, matches);
}
