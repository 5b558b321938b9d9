//! Fields and JSON paths over RESP against the real binary: exact replies of SET … FIELD with
//! every value type, FSET (XX), FGET, FEXISTS, WITHFIELDS, and JSET/JGET/JDEL.

mod common;

use common::*;
use redis::Value;

#[test]
fn fields_of_every_type() {
    let s = TestServer::start();
    let mut c = s.wire();
    let meta = r#"{"a":[1,2]}"#;
    assert_eq!(
        c.cmd(&[
            "SET", "fleet", "t", "FIELD", "speed", "90", "FIELD", "name", "Andy", "FIELD",
            "active", "true", "FIELD", "meta", meta, "FIELD", "ratio", "1.50", "POINT", "33",
            "-112",
        ]),
        OK
    );
    let obj = b(r#"{"type":"Point","coordinates":[-112,33]}"#);
    // WITHFIELDS: fields in name order; RESP gives every value as a string.
    assert_eq!(
        c.cmd(&["GET", "fleet", "t", "WITHFIELDS"]),
        arr(&[
            obj.clone(),
            fields(&[
                ("active", "true"),
                ("meta", meta),
                ("name", "Andy"),
                ("ratio", "1.5"),
                ("speed", "90"),
            ])
        ])
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "t", "WITHFIELDS", "POINT"]),
        arr(&[
            arr(&[b("33"), b("-112")]),
            fields(&[
                ("active", "true"),
                ("meta", meta),
                ("name", "Andy"),
                ("ratio", "1.5"),
                ("speed", "90"),
            ])
        ])
    );
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "speed"]), b("90"));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "name"]), b("Andy"));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "active"]), b("true"));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "meta"]), b(meta));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "ratio"]), b("1.5"));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "nosuch"]), b("0"));
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "t", "name"]), int(1));
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "t", "nosuch"]), int(0));

    // A SET without FIELD keeps the previous fields; a SET with FIELD merges.
    assert_eq!(c.cmd(&["SET", "fleet", "t", "POINT", "33", "-112"]), OK);
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "name"]), b("Andy"));
    assert_eq!(
        c.cmd(&["SET", "fleet", "t", "FIELD", "speed", "50", "POINT", "33", "-112"]),
        OK
    );
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "speed"]), b("50"));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "active"]), b("true"));

    // FSET: the number of fields that changed.
    assert_eq!(
        c.cmd(&["FSET", "fleet", "t", "speed", "60", "name", "Bob"]),
        int(2)
    );
    assert_eq!(
        c.cmd(&["FSET", "fleet", "t", "speed", "60", "name", "Bob"]),
        int(0)
    );
    assert_eq!(c.cmd(&["FSET", "fleet", "t", "flag", "false"]), int(1));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "flag"]), b("false"));
    assert_eq!(c.cmd(&["FSET", "fleet", "t", "XX", "speed", "61"]), int(1));
    assert_eq!(
        c.cmd(&["FSET", "fleet", "nope", "XX", "speed", "61"]),
        int(0)
    );
    assert_eq!(c.cmd(&["EXISTS", "fleet", "nope"]), int(0));
    assert_eq!(
        c.cmd(&["FSET", "fleet", "nope", "speed", "61"]),
        err("id not found")
    );
    assert_eq!(
        c.cmd(&["FSET", "nokey", "nope", "speed", "61"]),
        err("key not found")
    );
    assert_eq!(
        c.cmd(&["FSET", "fleet", "t", "speed"]),
        err("wrong number of arguments for 'fset' command")
    );
    assert_eq!(
        c.cmd(&["FSET", "fleet", "t", "speed", "1", "name"]),
        err("wrong number of arguments for 'fset' command")
    );
    // Zero means unset, as in Tile38: setting a field to 0 removes it.
    assert_eq!(c.cmd(&["FSET", "fleet", "t", "speed", "0"]), int(1));
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "t", "speed"]), int(0));
    assert_eq!(c.cmd(&["FGET", "fleet", "t", "speed"]), b("0"));
    assert_eq!(
        c.cmd(&["GET", "fleet", "t", "WITHFIELDS"]),
        arr(&[
            obj.clone(),
            fields(&[
                ("active", "true"),
                ("flag", "false"),
                ("meta", meta),
                ("name", "Bob"),
                ("ratio", "1.5"),
            ])
        ])
    );
    // Reserved field names.
    for name in ["z", "lat", "lon"] {
        assert_eq!(
            c.cmd(&["SET", "fleet", "t", "FIELD", name, "1", "POINT", "1", "2"]),
            err(&format!("invalid argument '{name}'"))
        );
        assert_eq!(
            c.cmd(&["FSET", "fleet", "t", name, "1"]),
            err(&format!("invalid argument '{name}'"))
        );
    }
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "t", "z"]), int(0));
    // Missing key or id.
    assert_eq!(c.cmd(&["FGET", "fleet", "nope", "name"]), NIL);
    assert_eq!(c.cmd(&["FGET", "nokey", "nope", "name"]), NIL);
    assert_eq!(c.cmd(&["FEXISTS", "fleet", "nope", "name"]), NIL);

    // An object without fields: WITHFIELDS gives a one-element array (as Tile38 does).
    assert_eq!(c.cmd(&["SET", "fleet", "bare", "POINT", "1", "2"]), OK);
    assert_eq!(
        c.cmd(&["GET", "fleet", "bare", "WITHFIELDS"]),
        arr(&[b(r#"{"type":"Point","coordinates":[2,1]}"#)])
    );

    // Through the redis crate.
    let mut con = s.redis();
    assert_eq!(
        q(&mut con, &["FGET", "fleet", "t", "name"]),
        Value::BulkString(b"Bob".to_vec())
    );
    assert_eq!(
        q(&mut con, &["FEXISTS", "fleet", "t", "name"]),
        Value::Int(1)
    );
}

/// `:<n>\r\n` with n in `lo..=hi`.

#[test]
fn jset_jget_jdel() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["JSET", "user", "901", "name", "Tom"]), OK);
    assert_eq!(c.cmd(&["JSET", "user", "901", "age", "46"]), OK);
    assert_eq!(c.cmd(&["JSET", "user", "901", "props.active", "true"]), OK);
    assert_eq!(c.cmd(&["JSET", "user", "901", "zip", "85001", "STR"]), OK);
    assert_eq!(
        c.cmd(&["JSET", "user", "901", "tags", r#"["a","b"]"#, "RAW"]),
        OK
    );
    let doc = r#"{"name":"Tom","age":46,"props":{"active":true},"zip":"85001","tags":["a","b"]}"#;
    assert_eq!(c.cmd(&["GET", "user", "901"]), b(doc));
    assert_eq!(c.cmd(&["JGET", "user", "901", "name"]), b("Tom"));
    assert_eq!(c.cmd(&["JGET", "user", "901", "name", "RAW"]), b("\"Tom\""));
    assert_eq!(c.cmd(&["JGET", "user", "901", "age"]), b("46"));
    assert_eq!(c.cmd(&["JGET", "user", "901", "zip"]), b("85001"));
    assert_eq!(
        c.cmd(&["JGET", "user", "901", "props"]),
        b(r#"{"active":true}"#)
    );
    assert_eq!(c.cmd(&["JGET", "user", "901", "tags.1"]), b("b"));
    assert_eq!(c.cmd(&["JGET", "user", "901", "nope"]), NIL);
    assert_eq!(c.cmd(&["JGET", "user", "999", "name"]), NIL);
    assert_eq!(c.cmd(&["JGET", "nokey", "901", "name"]), NIL);
    assert_eq!(
        c.cmd(&["JGET", "user", "901"]),
        err("wrong number of arguments for 'jget' command")
    );
    // JDEL: 1 when a value was removed, 0 otherwise.
    assert_eq!(c.cmd(&["JDEL", "user", "901", "props.active"]), int(1));
    assert_eq!(c.cmd(&["JDEL", "user", "901", "props.active"]), int(0));
    assert_eq!(c.cmd(&["JDEL", "user", "999", "name"]), int(0));
    assert_eq!(c.cmd(&["JDEL", "nokey", "999", "name"]), int(0));
    assert_eq!(
        c.cmd(&["GET", "user", "901"]),
        b(r#"{"name":"Tom","age":46,"props":{},"zip":"85001","tags":["a","b"]}"#)
    );
    // A bad RAW value changes nothing.
    assert_eq!(
        c.cmd(&["JSET", "user", "901", "name", "{bad", "RAW"]),
        err("invalid argument '{bad'")
    );
    assert_eq!(c.cmd(&["JGET", "user", "901", "name"]), b("Tom"));
    // On a GeoJSON object JSET edits the document, which stays spatial; fields and TTL stay.
    let feature =
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}}"#;
    assert_eq!(
        c.cmd(&["SET", "fleet", "f", "FIELD", "speed", "7", "EX", "100", "OBJECT", feature]),
        OK
    );
    assert_eq!(
        c.cmd(&["JSET", "fleet", "f", "properties.color", "red"]),
        OK
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "f", "WITHFIELDS"]),
        arr(&[
            b(
                r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"color":"red"}}"#
            ),
            fields(&[("speed", "7")])
        ])
    );
    assert_eq!(
        c.cmd(&["GET", "fleet", "f", "POINT"]),
        arr(&[b("2"), b("1")])
    );
    assert_eq!(c.cmd(&["JGET", "fleet", "f", "geometry.type"]), b("Point"));
    assert_int_in(&c.cmd(&["TTL", "fleet", "f"]), 98, 100);
}
