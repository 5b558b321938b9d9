//! RESP2/RESP3 rendering of a [`Reply`].
//!
//! Bytes are written straight into the connection's output buffer (no intermediate frames).
//! Scalars follow the Tile38 server: numbers nested in replies are bulk strings of their
//! shortest decimal text, floats stay bulk strings in RESP3 too (Tile38 clients parse
//! strings), and search results use Tile38's `[cursor, [item...]]` layout.

use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};

use super::reply::{ItemBody, Reply, RespShape, SearchItem, SearchOutput, SearchReply, Value};

/// The RESP dialect a connection speaks (`HELLO 3` switches to RESP3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RespVersion {
    /// RESP2: nil is `$-1`, maps are flat arrays, booleans are integers.
    #[default]
    V2,
    /// RESP3: nil is `_`, maps are `%n`, booleans are `#t`/`#f`.
    V3,
}

/// Appends the RESP rendering of `reply` to `out`.
pub fn encode_resp(reply: &Reply, version: RespVersion, out: &mut BytesMut) {
    let mut w = Writer {
        out,
        v3: version == RespVersion::V3,
    };
    match reply {
        Reply::Ok => w.status("OK"),
        Reply::Pong(None) => w.status("PONG"),
        Reply::Pong(Some(msg)) => w.bulk(msg.as_bytes()),
        Reply::Count(n) => w.int(*n),
        Reply::Nil { .. } => w.nil(),
        Reply::Named { value, .. } => w.value(value),
        Reply::Fields(vals, RespShape::First) => match vals.first() {
            Some((_, v)) => w.value(v),
            None => w.nil(),
        },
        Reply::Fields(vals, RespShape::Array) => {
            w.header(b'*', vals.len());
            vals.iter().for_each(|(_, v)| w.value(v));
        }
        Reply::Search(search) => w.search(search),
        Reply::Stream(stream) => w.search(&stream.head),
        Reply::Hello(pairs) => w.map(pairs),
        Reply::Split { resp, .. } => w.value(resp),
        Reply::Miss { resp, .. } => w.int(*resp),
        Reply::Error(text) => w.error(text),
    }
}

/// Appends the head of a search reply of `items` items (not COUNT): `*2`, the cursor, `*n`.
/// With [`encode_search_items`] it writes the same bytes as [`encode_resp`] of the
/// [`SearchReply`], in pieces (`protocol::stream`).
pub fn encode_search_header(cursor: u64, items: usize, out: &mut BytesMut) {
    Writer { out, v3: false }.search_header(cursor, items);
}

/// Appends search items without the reply's head.
pub fn encode_search_items(
    output: SearchOutput,
    names: &[String],
    items: &[SearchItem],
    version: RespVersion,
    out: &mut BytesMut,
) {
    let mut w = Writer {
        out,
        v3: version == RespVersion::V3,
    };
    w.search_items(output, names, items);
}

/// Whether a search field value counts as unset (left out of RESP field arrays).
fn is_zero_field(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Int(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        _ => false,
    }
}

/// Whether the first word of an error text is an error code (all capital letters), in which
/// case no `ERR ` prefix is added.
fn has_error_code(text: &str) -> bool {
    let word = text
        .split(|c: char| c.is_ascii_whitespace())
        .next()
        .unwrap_or("");
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase())
}

/// Renders RESP pieces into the output buffer.
struct Writer<'a> {
    out: &'a mut BytesMut,
    v3: bool,
}

impl Writer<'_> {
    fn crlf(&mut self) {
        self.out.put_slice(b"\r\n");
    }

    /// Writes `prefix` followed by `n` and CRLF (`*3\r\n`, `$5\r\n`, ...).
    fn header(&mut self, prefix: u8, n: usize) {
        self.out.put_u8(prefix);
        put_u64(self.out, n as u64);
        self.crlf();
    }

    fn int(&mut self, n: i64) {
        self.out.put_u8(b':');
        put_i64(self.out, n);
        self.crlf();
    }

    fn nil(&mut self) {
        let bytes: &[u8] = if self.v3 { b"_\r\n" } else { b"$-1\r\n" };
        self.out.put_slice(bytes);
    }

    fn bool(&mut self, b: bool) {
        let bytes: &[u8] = match (self.v3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        self.out.put_slice(bytes);
    }

    fn bulk(&mut self, data: &[u8]) {
        self.out.reserve(data.len() + 16);
        self.header(b'$', data.len());
        self.out.put_slice(data);
        self.crlf();
    }

    /// A line-based text (`+status`, `-error`) with CR/LF replaced by spaces.
    fn line(&mut self, text: &str) {
        let start = self.out.len();
        self.out.put_slice(text.as_bytes());
        for b in &mut self.out[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.crlf();
    }

    fn status(&mut self, text: &str) {
        self.out.put_u8(b'+');
        self.line(text);
    }

    fn error(&mut self, text: &str) {
        self.out.put_u8(b'-');
        if !has_error_code(text) {
            self.out.put_slice(b"ERR ");
        }
        self.line(text);
    }

    fn float_bulk(&mut self, f: f64) {
        let text = float_text(f);
        self.bulk(text.as_bytes());
    }

    fn map_header(&mut self, pairs: usize) {
        if self.v3 {
            self.header(b'%', pairs);
        } else {
            self.header(b'*', pairs * 2);
        }
    }

    fn map(&mut self, pairs: &[(String, Value)]) {
        self.map_header(pairs.len());
        for (k, v) in pairs {
            self.bulk(k.as_bytes());
            self.value(v);
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.nil(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(n) => self.int(*n),
            Value::Float(f) => self.float_bulk(*f),
            Value::Str(s) | Value::Json(s) => self.bulk(s.as_bytes()),
            Value::Bytes(b) => self.bulk(b),
            Value::Status(s) => self.status(s),
            Value::List(items) => {
                self.header(b'*', items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Map(pairs) => self.map(pairs),
        }
    }

    /// A field value inside a search item: always a bulk string.
    fn field_bulk(&mut self, v: &Value) {
        match v {
            Value::Null => self.bulk(b"0"),
            Value::Bool(b) => self.bulk(if *b { b"true" } else { b"false" }),
            Value::Int(n) => {
                let text = number_text(format_args!("{n}"));
                self.bulk(text.as_bytes());
            }
            Value::Float(f) => self.float_bulk(*f),
            Value::Str(s) | Value::Status(s) | Value::Json(s) => self.bulk(s.as_bytes()),
            Value::Bytes(b) => self.bulk(b),
            Value::List(_) | Value::Map(_) => {
                let mut text = String::new();
                super::json::write_value(v, &mut text);
                self.bulk(text.as_bytes());
            }
        }
    }

    fn search(&mut self, s: &SearchReply) {
        if s.output == SearchOutput::Count {
            self.int(clamp_i64(s.count));
            return;
        }
        self.search_header(s.cursor, s.items.len());
        self.search_items(s.output, &s.field_names, &s.items);
    }

    fn search_header(&mut self, cursor: u64, items: usize) {
        self.header(b'*', 2);
        self.int(clamp_i64(cursor));
        self.header(b'*', items);
    }

    fn search_items(&mut self, output: SearchOutput, names: &[String], items: &[SearchItem]) {
        for item in items {
            if output == SearchOutput::Ids {
                self.bulk(item.id.as_bytes());
            } else {
                self.search_item(names, item);
            }
        }
    }

    fn search_item(&mut self, names: &[String], item: &SearchItem) {
        let set_fields = names
            .iter()
            .zip(&item.fields)
            .filter(|(_, v)| !is_zero_field(v))
            .count();
        let len = 2 + usize::from(set_fields > 0) + usize::from(item.distance.is_some());
        self.header(b'*', len);
        self.bulk(item.id.as_bytes());
        self.item_body(&item.body);
        if set_fields > 0 {
            self.header(b'*', set_fields * 2);
            for (name, v) in names.iter().zip(&item.fields) {
                if !is_zero_field(v) {
                    self.bulk(name.as_bytes());
                    self.field_bulk(v);
                }
            }
        }
        if let Some(d) = item.distance {
            self.float_bulk(d);
        }
    }

    fn item_body(&mut self, body: &ItemBody) {
        match body {
            ItemBody::None => self.nil(),
            ItemBody::Object { json, .. } => self.bulk(json.as_bytes()),
            ItemBody::Point { lat, lon, z } => {
                self.header(b'*', if z.is_some() { 3 } else { 2 });
                self.float_bulk(*lat);
                self.float_bulk(*lon);
                if let Some(z) = z {
                    self.float_bulk(*z);
                }
            }
            ItemBody::Bounds {
                min_lat,
                min_lon,
                max_lat,
                max_lon,
            } => {
                self.header(b'*', 2);
                for (lat, lon) in [(min_lat, min_lon), (max_lat, max_lon)] {
                    self.header(b'*', 2);
                    self.float_bulk(*lat);
                    self.float_bulk(*lon);
                }
            }
            ItemBody::Hash(hash) => self.bulk(hash.as_bytes()),
        }
    }
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn put_u64(out: &mut BytesMut, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

fn put_i64(out: &mut BytesMut, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

/// The shortest decimal text of a float, without exponent (`90.0` → `90`).
fn float_text(f: f64) -> NumText {
    if f.is_nan() {
        number_text(format_args!("nan"))
    } else if f.is_infinite() {
        number_text(format_args!("{}", if f > 0.0 { "inf" } else { "-inf" }))
    } else {
        number_text(format_args!("{f}"))
    }
}

fn number_text(args: fmt::Arguments<'_>) -> NumText {
    let mut text = NumText {
        buf: [0; 48],
        len: 0,
        heap: Vec::new(),
    };
    // Writing into NumText never fails.
    let _ = text.write_fmt(args);
    text
}

/// Number text on the stack, spilling to the heap for very long floats (e.g. `1e300`).
struct NumText {
    buf: [u8; 48],
    len: usize,
    heap: Vec<u8>,
}

impl NumText {
    fn as_bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.buf[..self.len]
        } else {
            &self.heap
        }
    }
}

impl fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        if self.heap.is_empty() && self.len + b.len() <= self.buf.len() {
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.buf[..self.len]);
            }
            self.heap.extend_from_slice(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(reply: &Reply, version: RespVersion) -> String {
        let mut out = BytesMut::new();
        encode_resp(reply, version, &mut out);
        String::from_utf8(out.to_vec()).expect("utf8")
    }

    fn both(reply: &Reply) -> (String, String) {
        (enc(reply, RespVersion::V2), enc(reply, RespVersion::V3))
    }

    fn same(reply: Reply, expected: &str) {
        assert_eq!(both(&reply), (expected.to_string(), expected.to_string()));
    }

    #[test]
    fn simple_replies() {
        same(Reply::Ok, "+OK\r\n");
        same(Reply::Pong(None), "+PONG\r\n");
        same(Reply::Pong(Some("hi there".into())), "$8\r\nhi there\r\n");
        same(Reply::Count(42), ":42\r\n");
        same(Reply::Count(-7), ":-7\r\n");
        same(Reply::Count(i64::MIN), ":-9223372036854775808\r\n");
        let nil = Reply::Nil {
            err: "id not found",
        };
        assert_eq!(both(&nil), ("$-1\r\n".into(), "_\r\n".into()));
    }

    #[test]
    fn errors() {
        same(
            Reply::Error("key not found".into()),
            "-ERR key not found\r\n",
        );
        same(Reply::Error("LOADING data".into()), "-LOADING data\r\n");
        same(
            Reply::Error("NOAUTH Authentication required.".into()),
            "-NOAUTH Authentication required.\r\n",
        );
        same(Reply::Error("WRONGPASS".into()), "-WRONGPASS\r\n");
        same(Reply::Error("Bad thing".into()), "-ERR Bad thing\r\n");
        same(Reply::Error("ERR already".into()), "-ERR already\r\n");
        same(
            Reply::Error("line1\nline2\r\nx".into()),
            "-ERR line1 line2  x\r\n",
        );
        same(
            Reply::Error("OK: not a code".into()),
            "-ERR OK: not a code\r\n",
        );
    }

    #[test]
    fn named_values() {
        let named = |value| Reply::Named { name: "x", value };
        same(named(Value::Int(5)), ":5\r\n");
        same(named(Value::Float(90.0)), "$2\r\n90\r\n");
        same(named(Value::Float(33.5123)), "$7\r\n33.5123\r\n");
        same(named(Value::Float(-0.25)), "$5\r\n-0.25\r\n");
        same(
            named(Value::Float(1e21)),
            "$22\r\n1000000000000000000000\r\n",
        );
        same(named(Value::Str("abc".into())), "$3\r\nabc\r\n");
        same(named(Value::Str(String::new())), "$0\r\n\r\n");
        same(named(Value::Status("fine".into())), "+fine\r\n");
        same(
            named(Value::Json("{\"a\":1}".into())),
            "$7\r\n{\"a\":1}\r\n",
        );
        assert_eq!(
            both(&named(Value::Null)),
            ("$-1\r\n".into(), "_\r\n".into())
        );
        assert_eq!(
            both(&named(Value::Bool(true))),
            (":1\r\n".into(), "#t\r\n".into())
        );
        assert_eq!(
            both(&named(Value::Bool(false))),
            (":0\r\n".into(), "#f\r\n".into())
        );
    }

    #[test]
    fn long_float_spills_to_heap() {
        let text = float_text(1e300);
        assert_eq!(text.as_bytes().len(), 301);
        assert!(text.as_bytes().starts_with(b"1000"));
        assert_eq!(float_text(f64::NAN).as_bytes(), b"nan");
        assert_eq!(float_text(f64::NEG_INFINITY).as_bytes(), b"-inf");
    }

    #[test]
    fn nested_list_and_map() {
        let value = Value::List(vec![
            Value::Int(1),
            Value::Null,
            Value::Map(vec![("k".into(), Value::Bool(true))]),
        ]);
        let reply = Reply::Named { name: "x", value };
        assert_eq!(
            both(&reply),
            (
                "*3\r\n:1\r\n$-1\r\n*2\r\n$1\r\nk\r\n:1\r\n".into(),
                "*3\r\n:1\r\n_\r\n%1\r\n$1\r\nk\r\n#t\r\n".into()
            )
        );
    }

    #[test]
    fn fields_shapes() {
        let vals = vec![("a", Value::Int(1)), ("b", Value::Str("x".into()))];
        same(Reply::Fields(vals.clone(), RespShape::First), ":1\r\n");
        same(
            Reply::Fields(vals, RespShape::Array),
            "*2\r\n:1\r\n$1\r\nx\r\n",
        );
        same(Reply::Fields(vec![], RespShape::Array), "*0\r\n");
        assert_eq!(
            both(&Reply::Fields(vec![], RespShape::First)),
            ("$-1\r\n".into(), "_\r\n".into())
        );
    }

    #[test]
    fn split_and_miss() {
        let split = Reply::Split {
            resp: Value::List(vec![Value::Float(33.5), Value::Float(-115.0)]),
            json: vec![("point", Value::Null)],
        };
        same(split, "*2\r\n$4\r\n33.5\r\n$4\r\n-115\r\n");
        same(
            Reply::Miss {
                resp: -2,
                err: "id not found",
            },
            ":-2\r\n",
        );
    }

    #[test]
    fn hello_is_a_map() {
        let reply = Reply::Hello(vec![
            ("server".into(), Value::Str("tile38".into())),
            ("proto".into(), Value::Int(3)),
        ]);
        let body = "$6\r\nserver\r\n$6\r\ntile38\r\n$5\r\nproto\r\n:3\r\n";
        assert_eq!(
            both(&reply),
            (format!("*4\r\n{body}"), format!("%2\r\n{body}"))
        );
    }

    fn point(id: &str, lat: f64, lon: f64, fields: Vec<Value>, d: f64) -> SearchItem {
        SearchItem {
            id: id.into(),
            body: ItemBody::Point { lat, lon, z: None },
            fields,
            distance: Some(d),
        }
    }

    fn search(output: SearchOutput, names: &[&str], items: Vec<SearchItem>) -> Reply {
        Reply::Search(Box::new(SearchReply {
            output,
            field_names: names.iter().map(|n| n.to_string()).collect(),
            count: items.len() as u64,
            items,
            cursor: 3,
        }))
    }

    #[test]
    fn nearby_points_with_distance() {
        let items = vec![
            point("truck3", 33.5, -112.5, vec![Value::Int(0)], 0.0),
            point("truck2", 33.6, -112.4, vec![Value::Null], 12.5),
            point(
                "truck1",
                33.5123,
                -112.2693,
                vec![Value::Float(90.0)],
                5594.403978121982,
            ),
        ];
        let reply = search(SearchOutput::Points, &["speed"], items);
        let expected = concat!(
            "*2\r\n:3\r\n*3\r\n",
            "*3\r\n$6\r\ntruck3\r\n*2\r\n$4\r\n33.5\r\n$6\r\n-112.5\r\n$1\r\n0\r\n",
            "*3\r\n$6\r\ntruck2\r\n*2\r\n$4\r\n33.6\r\n$6\r\n-112.4\r\n$4\r\n12.5\r\n",
            "*4\r\n$6\r\ntruck1\r\n*2\r\n$7\r\n33.5123\r\n$9\r\n-112.2693\r\n",
            "*2\r\n$5\r\nspeed\r\n$2\r\n90\r\n$17\r\n5594.403978121982\r\n",
        );
        same(reply, expected);
    }

    #[test]
    fn search_fields_skip_zero_values() {
        let item = SearchItem {
            id: "a".into(),
            body: ItemBody::Object {
                json: "{\"type\":\"Point\",\"coordinates\":[1,2]}".into(),
                is_string: false,
            },
            fields: vec![
                Value::Float(0.0),
                Value::Int(4),
                Value::Null,
                Value::Json("[1]".into()),
                Value::Bool(true),
                Value::Str("s".into()),
            ],
            distance: None,
        };
        let reply = search(
            SearchOutput::Objects,
            &["z", "w", "n", "j", "b", "s"],
            vec![item],
        );
        let expected = concat!(
            "*2\r\n:3\r\n*1\r\n*3\r\n$1\r\na\r\n",
            "$36\r\n{\"type\":\"Point\",\"coordinates\":[1,2]}\r\n",
            "*8\r\n$1\r\nw\r\n$1\r\n4\r\n$1\r\nj\r\n$3\r\n[1]\r\n",
            "$1\r\nb\r\n$4\r\ntrue\r\n$1\r\ns\r\n$1\r\ns\r\n",
        );
        same(reply, expected);
    }

    #[test]
    fn search_other_outputs() {
        let item = |id: &str, body| SearchItem {
            id: id.into(),
            body,
            fields: vec![],
            distance: None,
        };
        let ids = search(
            SearchOutput::Ids,
            &["speed"],
            vec![item("a", ItemBody::None), item("bb", ItemBody::None)],
        );
        same(ids, "*2\r\n:3\r\n*2\r\n$1\r\na\r\n$2\r\nbb\r\n");
        let count = search(SearchOutput::Count, &[], vec![item("a", ItemBody::None)]);
        same(count, ":1\r\n");
        let hash = search(
            SearchOutput::Hashes(5),
            &[],
            vec![item("a", ItemBody::Hash("9tbnt".into()))],
        );
        same(hash, "*2\r\n:3\r\n*1\r\n*2\r\n$1\r\na\r\n$5\r\n9tbnt\r\n");
        let bounds = ItemBody::Bounds {
            min_lat: 1.0,
            min_lon: 2.5,
            max_lat: 3.0,
            max_lon: 4.0,
        };
        let reply = search(SearchOutput::Bounds, &[], vec![item("a", bounds)]);
        let expected = concat!(
            "*2\r\n:3\r\n*1\r\n*2\r\n$1\r\na\r\n*2\r\n",
            "*2\r\n$1\r\n1\r\n$3\r\n2.5\r\n*2\r\n$1\r\n3\r\n$1\r\n4\r\n",
        );
        same(reply, expected);
        let z = ItemBody::Point {
            lat: 1.0,
            lon: 2.0,
            z: Some(-3.5),
        };
        let reply = search(SearchOutput::Points, &[], vec![item("p", z)]);
        let expected =
            "*2\r\n:3\r\n*1\r\n*2\r\n$1\r\np\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$4\r\n-3.5\r\n";
        same(reply, expected);
        same(
            search(SearchOutput::Objects, &[], vec![]),
            "*2\r\n:3\r\n*0\r\n",
        );
    }
}
