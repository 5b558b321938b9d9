//! SEARCH over STRING objects and SCAN order against the real binary: value order, ASC/DESC,
//! MATCH on values, CURSOR/LIMIT, WHERE, COUNT/IDS/OBJECTS, in RESP and JSON, and errors.

mod common;

use common::*;

fn names(s: &TestServer) -> WireConn {
    let mut c = s.wire();
    for cmd in [
        &["SET", "names", "a", "STRING", "Carol"][..],
        &["SET", "names", "b", "STRING", "alice"],
        &["SET", "names", "c", "FIELD", "age", "30", "STRING", "Bob"],
        &["SET", "names", "p", "POINT", "1", "1"],
    ] {
        assert_eq!(c.cmd(cmd), "+OK\r\n", "{cmd:?}");
    }
    c
}

fn ids(cursor: u64, list: &[&str]) -> String {
    let items: Vec<String> = list.iter().map(|id| wire_bulk(id)).collect();
    format!("*2\r\n:{cursor}\r\n{}", wire_array(&items))
}

#[test]
fn search_walks_string_values_in_order() {
    let s = TestServer::start();
    let mut c = names(&s);
    // Byte order of the values: "Bob" < "Carol" < "alice"; spatial objects are not strings.
    assert_eq!(c.cmd(&["SEARCH", "names", "IDS"]), ids(0, &["c", "a", "b"]));
    assert_eq!(
        c.cmd(&["SEARCH", "names", "ASC", "IDS"]),
        ids(0, &["c", "a", "b"])
    );
    assert_eq!(
        c.cmd(&["SEARCH", "names", "DESC", "IDS"]),
        ids(0, &["b", "a", "c"])
    );
    assert_eq!(c.cmd(&["SEARCH", "names", "COUNT"]), ":3\r\n");
    // MATCH applies to the value, not the id.
    assert_eq!(
        c.cmd(&["SEARCH", "names", "MATCH", "*o*", "IDS"]),
        ids(0, &["c", "a"])
    );
    assert_eq!(
        c.cmd(&["SEARCH", "names", "MATCH", "a", "IDS"]),
        ids(0, &[])
    );
    assert_eq!(
        c.cmd(&["SEARCH", "names", "WHERE", "age", "20", "40", "IDS"]),
        ids(0, &["c"])
    );
    // Cursor paging.
    assert_eq!(
        c.cmd(&["SEARCH", "names", "LIMIT", "2", "IDS"]),
        ids(2, &["c", "a"])
    );
    assert_eq!(
        c.cmd(&["SEARCH", "names", "CURSOR", "2", "LIMIT", "2", "IDS"]),
        ids(0, &["b"])
    );
    // OBJECTS: the value, then the fields that are set.
    assert_eq!(
        c.cmd(&["SEARCH", "names", "MATCH", "B*"]),
        "*2\r\n:0\r\n*1\r\n*3\r\n$1\r\nc\r\n$3\r\nBob\r\n*2\r\n$3\r\nage\r\n$2\r\n30\r\n"
    );
    assert_eq!(c.cmd(&["SEARCH", "nokey", "IDS"]), "*2\r\n:0\r\n*0\r\n");
    let mut j = s.wire_json();
    assert_eq!(
        j.json(&["SEARCH", "names", "DESC", "LIMIT", "1", "IDS"]),
        r#"{"ok":true,"ids":["b"],"count":1,"cursor":1}"#
    );
    assert_eq!(
        j.json(&["SEARCH", "names", "MATCH", "B*", "OBJECTS"]),
        r#"{"ok":true,"fields":["age"],"objects":[{"id":"c","object":"Bob","fields":[30]}],"count":1,"cursor":0}"#
    );
}

#[test]
fn search_errors_follow_tile38() {
    let s = TestServer::start();
    let mut c = names(&s);
    let mut j = s.wire_json();
    assert_eq!(
        c.cmd(&["SEARCH", "names", "SPARSE", "1"]),
        "-SPARSE is not allowed for SEARCH\r\n"
    );
    assert_eq!(
        j.json(&["SEARCH", "names", "SPARSE", "1"]),
        r#"{"ok":false,"err":"SPARSE is not allowed for SEARCH"}"#
    );
    for args in [
        &["SEARCH", "names", "NOPE"][..],
        &["SEARCH", "names", "POINTS"],
        &["SEARCH"],
    ] {
        assert_eq!(
            c.cmd(args),
            "-ERR wrong number of arguments for 'search' command\r\n",
            "{args:?}"
        );
        assert_eq!(
            j.json(args),
            r#"{"ok":false,"err":"invalid number of arguments"}"#
        );
    }
}

#[test]
fn scan_walks_ids_both_ways() {
    let s = TestServer::start();
    let mut c = names(&s);
    assert_eq!(
        c.cmd(&["SCAN", "names", "IDS"]),
        ids(0, &["a", "b", "c", "p"])
    );
    assert_eq!(
        c.cmd(&["SCAN", "names", "DESC", "IDS"]),
        ids(0, &["p", "c", "b", "a"])
    );
    assert_eq!(
        c.cmd(&["SCAN", "names", "DESC", "LIMIT", "3", "IDS"]),
        ids(3, &["p", "c", "b"])
    );
    assert_eq!(
        c.cmd(&["SCAN", "names", "DESC", "CURSOR", "3", "IDS"]),
        ids(0, &["a"])
    );
}
