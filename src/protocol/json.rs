//! Tile38 JSON rendering of a [`Reply`] (HTTP, `OUTPUT json` connections).
//!
//! Every reply is one object that starts with `"ok"` and ends with `"elapsed"`, the command's
//! duration in Go's `time.Duration` text form (`27µs`, `1.5s`). Owns JSON value rendering and
//! the Go duration format.

use std::fmt::Write as _;
use std::time::Duration;

use super::reply::{ItemBody, Reply, SearchItem, SearchOutput, SearchReply, Value};

/// Appends the Tile38 JSON rendering of `reply` to `out`.
pub fn encode_json(reply: &Reply, elapsed: Duration, out: &mut String) {
    match reply {
        Reply::Ok | Reply::Count(_) => out.push_str("{\"ok\":true"),
        Reply::Pong(_) => out.push_str("{\"ok\":true,\"ping\":\"pong\""),
        Reply::Nil { err } | Reply::Miss { err, .. } => write_failure(err, out),
        Reply::Error(text) => write_failure(text, out),
        Reply::Named { name, value } => {
            out.push_str("{\"ok\":true");
            write_member(name, value, out);
        }
        Reply::Fields(pairs, _) => {
            out.push_str("{\"ok\":true");
            pairs.iter().for_each(|(k, v)| write_member(k, v, out));
        }
        Reply::Split { json, .. } => {
            out.push_str("{\"ok\":true");
            json.iter().for_each(|(k, v)| write_member(k, v, out));
        }
        Reply::Hello(pairs) => {
            out.push_str("{\"ok\":true");
            pairs.iter().for_each(|(k, v)| write_member(k, v, out));
        }
        Reply::Search(search) => write_search(search, out),
        Reply::Stream(stream) => write_search(&stream.head, out),
    }
    write_reply_end(elapsed, out);
}

/// Writes what ends every reply: `,"elapsed":"…"}`.
pub(crate) fn write_reply_end(elapsed: Duration, out: &mut String) {
    out.push_str(",\"elapsed\":\"");
    write_elapsed(elapsed, out);
    out.push_str("\"}");
}

/// Go's `time.Duration.String()` form: `0s`, `561ns`, `49.724µs`, `1.2ms`, `1.5s`, `2m3.5s`,
/// `1h0m0s`.
pub fn format_elapsed(d: Duration) -> String {
    let mut out = String::new();
    write_elapsed(d, &mut out);
    out
}

fn write_elapsed(d: Duration, out: &mut String) {
    let nanos = d.as_nanos();
    if nanos == 0 {
        out.push_str("0s");
    } else if nanos < 1_000 {
        let _ = write!(out, "{nanos}ns");
    } else if nanos < 1_000_000 {
        write_frac(nanos, 3, out);
        out.push_str("µs");
    } else if nanos < 1_000_000_000 {
        write_frac(nanos, 6, out);
        out.push_str("ms");
    } else {
        let total_secs = nanos / 1_000_000_000;
        let (minutes, hours) = (total_secs / 60 % 60, total_secs / 3600);
        if hours > 0 {
            let _ = write!(out, "{hours}h");
        }
        if hours > 0 || minutes > 0 {
            let _ = write!(out, "{minutes}m");
        }
        write_frac(nanos % 60_000_000_000, 9, out);
        out.push('s');
    }
}

/// Writes `v / 10^prec` with up to `prec` fractional digits, trailing zeros (and a bare
/// decimal point) trimmed.
fn write_frac(v: u128, prec: u32, out: &mut String) {
    let scale = 10u128.pow(prec);
    let (whole, frac) = (v / scale, v % scale);
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let digits = format!("{frac:0width$}", width = prec as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn write_failure(err: &str, out: &mut String) {
    out.push_str("{\"ok\":false,\"err\":");
    write_str(err, out);
}

/// Writes `,"key":value`.
fn write_member(key: &str, value: &Value, out: &mut String) {
    out.push(',');
    write_str(key, out);
    out.push(':');
    write_value(value, out);
}

/// Writes a JSON string literal (escaping as serde_json does).
pub(crate) fn write_str(s: &str, out: &mut String) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        match serde_json::to_string(s) {
            Ok(quoted) => out.push_str(&quoted),
            Err(_) => out.push_str("\"\""),
        }
    }
}

/// Writes a float as a JSON number: shortest decimal, no exponent, whole numbers without
/// `.0`; NaN and infinities (not representable) become `null`.
pub(crate) fn write_float(f: f64, out: &mut String) {
    if f.is_finite() {
        let _ = write!(out, "{f}");
    } else {
        out.push_str("null");
    }
}

/// Writes a [`Value`] as JSON. Raw JSON text is inlined verbatim.
pub fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) | Value::Status(s) => write_str(s, out),
        Value::Bytes(b) => write_str(&String::from_utf8_lossy(b), out),
        Value::Json(raw) if raw.trim().is_empty() => out.push_str("null"),
        Value::Json(raw) => out.push_str(raw),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(pairs) => {
            out.push('{');
            for (i, (k, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// The list key of a search output (`None` for COUNT).
fn search_kind(output: SearchOutput) -> Option<&'static str> {
    match output {
        SearchOutput::Count => None,
        SearchOutput::Ids => Some("ids"),
        SearchOutput::Objects => Some("objects"),
        SearchOutput::Points => Some("points"),
        SearchOutput::Bounds => Some("bounds"),
        SearchOutput::Hashes(_) => Some("hashes"),
    }
}

fn write_search(s: &SearchReply, out: &mut String) {
    write_search_head(s.output, &s.field_names, out);
    for (i, item) in s.items.iter().enumerate() {
        write_search_item(s.output, &s.field_names, item, i == 0, out);
    }
    write_search_end(s.output, s.count, s.cursor, out);
}

/// Whether a search reply shows its field names (and each item's values).
fn shows_fields(output: SearchOutput, names: &[String]) -> bool {
    !names.is_empty() && output != SearchOutput::Ids
}

/// Writes a search reply up to its first item: `{"ok":true`, the field names, `"<kind>":[`.
/// With [`write_search_item`] and [`write_search_end`] it writes the same text as
/// [`encode_json`] of the [`SearchReply`] (but `elapsed`), in pieces (`protocol::stream`):
/// Tile38 puts `count` and `cursor` after the items, so the head does not depend on them.
pub(crate) fn write_search_head(output: SearchOutput, names: &[String], out: &mut String) {
    out.push_str("{\"ok\":true");
    if let Some(kind) = search_kind(output) {
        if shows_fields(output, names) {
            out.push_str(",\"fields\":[");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(name, out);
            }
            out.push(']');
        }
        let _ = write!(out, ",\"{kind}\":[");
    }
}

/// Writes one item of a search reply; `first` leaves out the separating comma.
pub(crate) fn write_search_item(
    output: SearchOutput,
    names: &[String],
    item: &SearchItem,
    first: bool,
    out: &mut String,
) {
    if !first {
        out.push(',');
    }
    if output == SearchOutput::Ids {
        write_str(&item.id, out);
    } else {
        let with_fields = shows_fields(output, names);
        write_item(item, with_fields.then_some(names.len()), out);
    }
}

/// Writes what follows a search reply's items: `]`, `count` and `cursor`.
pub(crate) fn write_search_end(output: SearchOutput, count: u64, cursor: u64, out: &mut String) {
    if search_kind(output).is_some() {
        out.push(']');
    }
    let _ = write!(out, ",\"count\":{count},\"cursor\":{cursor}");
}

/// Writes one search match; `field_count` is the number of field names when fields are shown.
fn write_item(item: &SearchItem, field_count: Option<usize>, out: &mut String) {
    out.push_str("{\"id\":");
    write_str(&item.id, out);
    write_body(&item.body, out);
    if let Some(n) = field_count {
        out.push_str(",\"fields\":[");
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            match item.fields.get(i) {
                None | Some(Value::Null) => out.push('0'),
                Some(v) => write_value(v, out),
            }
        }
        out.push(']');
    }
    if let Some(d) = item.distance {
        out.push_str(",\"distance\":");
        write_float(d, out);
    }
    out.push('}');
}

fn write_lat_lon(lat: f64, lon: f64, out: &mut String) {
    out.push_str("{\"lat\":");
    write_float(lat, out);
    out.push_str(",\"lon\":");
    write_float(lon, out);
}

fn write_body(body: &ItemBody, out: &mut String) {
    match body {
        ItemBody::None => {}
        ItemBody::Object { json, is_string } => {
            out.push_str(",\"object\":");
            if *is_string {
                write_str(json, out);
            } else if json.trim().is_empty() {
                out.push_str("null");
            } else {
                out.push_str(json);
            }
        }
        ItemBody::Point { lat, lon, z } => {
            out.push_str(",\"point\":");
            write_lat_lon(*lat, *lon, out);
            if let Some(z) = z {
                out.push_str(",\"z\":");
                write_float(*z, out);
            }
            out.push('}');
        }
        ItemBody::Bounds {
            min_lat,
            min_lon,
            max_lat,
            max_lon,
        } => {
            out.push_str(",\"bounds\":{\"sw\":");
            write_lat_lon(*min_lat, *min_lon, out);
            out.push_str("},\"ne\":");
            write_lat_lon(*max_lat, *max_lon, out);
            out.push_str("}}");
        }
        ItemBody::Hash(hash) => {
            out.push_str(",\"hash\":");
            write_str(hash, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply::RespShape;
    use super::*;

    const US27: Duration = Duration::from_micros(27);

    fn enc(reply: &Reply) -> String {
        let mut out = String::new();
        encode_json(reply, US27, &mut out);
        out
    }

    fn ok_with(members: &str) -> String {
        format!("{{\"ok\":true{members},\"elapsed\":\"27µs\"}}")
    }

    #[test]
    fn elapsed_formats() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(561), "561ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_micros(1), "1µs"),
            (Duration::from_micros(27), "27µs"),
            (Duration::from_nanos(49_724), "49.724µs"),
            (Duration::from_nanos(67_250), "67.25µs"),
            (Duration::from_nanos(1_200_000), "1.2ms"),
            (Duration::from_nanos(1_000_001), "1.000001ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_nanos(1_000_000_001), "1.000000001s"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_millis(123_500), "2m3.5s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(3_723_250), "1h2m3.25s"),
            (Duration::from_secs(100 * 3600), "100h0m0s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_elapsed(d), text, "{d:?}");
        }
    }

    #[test]
    fn simple_replies() {
        assert_eq!(enc(&Reply::Ok), "{\"ok\":true,\"elapsed\":\"27µs\"}");
        let mut out = String::new();
        encode_json(&Reply::Pong(None), Duration::from_nanos(561), &mut out);
        assert_eq!(out, "{\"ok\":true,\"ping\":\"pong\",\"elapsed\":\"561ns\"}");
        assert_eq!(
            enc(&Reply::Pong(Some("x".into()))),
            ok_with(",\"ping\":\"pong\"")
        );
        assert_eq!(enc(&Reply::Count(5)), ok_with(""));
        assert_eq!(
            enc(&Reply::Nil {
                err: "id not found"
            }),
            "{\"ok\":false,\"err\":\"id not found\",\"elapsed\":\"27µs\"}"
        );
        assert_eq!(
            enc(&Reply::Error("bad \"quote\"\n".into())),
            "{\"ok\":false,\"err\":\"bad \\\"quote\\\"\\n\",\"elapsed\":\"27µs\"}"
        );
    }

    #[test]
    fn named_and_fields() {
        let named = Reply::Named {
            name: "object",
            value: Value::Json("{\"type\":\"Point\",\"coordinates\":[1,2]}".into()),
        };
        assert_eq!(
            enc(&named),
            ok_with(",\"object\":{\"type\":\"Point\",\"coordinates\":[1,2]}")
        );
        let pairs = vec![
            ("a", Value::Int(-3)),
            ("b", Value::Float(90.0)),
            ("c", Value::Float(0.5)),
            ("d", Value::Float(f64::NAN)),
            ("e", Value::Str("s\u{1}".into())),
            ("f", Value::Status("OK".into())),
            ("g", Value::Null),
            ("h", Value::Bool(false)),
        ];
        let expected = ",\"a\":-3,\"b\":90,\"c\":0.5,\"d\":null,\"e\":\"s\\u0001\",\"f\":\"OK\",\"g\":null,\"h\":false";
        assert_eq!(
            enc(&Reply::Fields(pairs.clone(), RespShape::First)),
            ok_with(expected)
        );
        assert_eq!(
            enc(&Reply::Fields(pairs, RespShape::Array)),
            ok_with(expected)
        );
        let nested = Value::List(vec![
            Value::Map(vec![("k".into(), Value::List(vec![]))]),
            Value::Map(vec![]),
            Value::Json(String::new()),
        ]);
        let reply = Reply::Named {
            name: "v",
            value: nested,
        };
        assert_eq!(enc(&reply), ok_with(",\"v\":[{\"k\":[]},{},null]"));
    }

    #[test]
    fn split_and_miss() {
        let split = Reply::Split {
            resp: Value::Int(1),
            json: vec![
                ("point", Value::Json("{\"lat\":33.5,\"lon\":-115}".into())),
                ("ttl", Value::Float(-1.0)),
            ],
        };
        assert_eq!(
            enc(&split),
            ok_with(",\"point\":{\"lat\":33.5,\"lon\":-115},\"ttl\":-1")
        );
        let miss = Reply::Miss {
            resp: 0,
            err: "key not found",
        };
        assert_eq!(
            enc(&miss),
            "{\"ok\":false,\"err\":\"key not found\",\"elapsed\":\"27µs\"}"
        );
    }

    #[test]
    fn hello() {
        let reply = Reply::Hello(vec![
            ("server".into(), Value::Str("tile38".into())),
            ("proto".into(), Value::Int(2)),
        ]);
        assert_eq!(enc(&reply), ok_with(",\"server\":\"tile38\",\"proto\":2"));
    }

    fn search(output: SearchOutput, names: &[&str], items: Vec<SearchItem>, cursor: u64) -> Reply {
        Reply::Search(Box::new(SearchReply {
            output,
            field_names: names.iter().map(|n| n.to_string()).collect(),
            count: items.len() as u64,
            items,
            cursor,
        }))
    }

    fn item(id: &str, body: ItemBody, fields: Vec<Value>) -> SearchItem {
        SearchItem {
            id: id.into(),
            body,
            fields,
            distance: None,
        }
    }

    #[test]
    fn search_objects() {
        let object = ItemBody::Object {
            json: "{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]}".into(),
            is_string: false,
        };
        let found = item("truck1", object, vec![Value::Float(90.0), Value::Int(0)]);
        let reply = search(SearchOutput::Objects, &["speed", "wheels"], vec![found], 0);
        let expected = concat!(
            "{\"ok\":true,\"fields\":[\"speed\",\"wheels\"],\"objects\":[{\"id\":\"truck1\",",
            "\"object\":{\"type\":\"Point\",\"coordinates\":[-112.2693,33.5123]},",
            "\"fields\":[90,0]}],\"count\":1,\"cursor\":0,\"elapsed\":\"27µs\"}"
        );
        assert_eq!(enc(&reply), expected);
        let string = ItemBody::Object {
            json: "hello \"w\"".into(),
            is_string: true,
        };
        let reply = search(
            SearchOutput::Objects,
            &[],
            vec![item("s", string, vec![])],
            0,
        );
        let expected = "{\"ok\":true,\"objects\":[{\"id\":\"s\",\"object\":\"hello \\\"w\\\"\"}],\"count\":1,\"cursor\":0,\"elapsed\":\"27µs\"}";
        assert_eq!(enc(&reply), expected);
    }

    #[test]
    fn search_points_example() {
        let mut found = item(
            "truck3",
            ItemBody::Point {
                lat: 33.5,
                lon: -112.5,
                z: None,
            },
            vec![Value::Null, Value::Float(0.0), Value::Int(0)],
        );
        found.distance = Some(0.0);
        let reply = search(
            SearchOutput::Points,
            &["nosuch", "speed", "wheels"],
            vec![found],
            1,
        );
        let mut out = String::new();
        encode_json(&reply, Duration::from_nanos(67_250), &mut out);
        let expected = concat!(
            "{\"ok\":true,\"fields\":[\"nosuch\",\"speed\",\"wheels\"],\"points\":[{\"id\":\"truck3\",",
            "\"point\":{\"lat\":33.5,\"lon\":-112.5},\"fields\":[0,0,0],\"distance\":0}],",
            "\"count\":1,\"cursor\":1,\"elapsed\":\"67.25µs\"}"
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn search_other_outputs() {
        let ids = search(
            SearchOutput::Ids,
            &["speed"],
            vec![
                item("a", ItemBody::None, vec![]),
                item("b", ItemBody::None, vec![]),
            ],
            0,
        );
        assert_eq!(
            enc(&ids),
            "{\"ok\":true,\"ids\":[\"a\",\"b\"],\"count\":2,\"cursor\":0,\"elapsed\":\"27µs\"}"
        );
        let mut count = search(SearchOutput::Count, &["speed"], vec![], 0);
        if let Reply::Search(s) = &mut count {
            s.count = 4;
        }
        assert_eq!(
            enc(&count),
            "{\"ok\":true,\"count\":4,\"cursor\":0,\"elapsed\":\"27µs\"}"
        );
        let bounds = ItemBody::Bounds {
            min_lat: 1.0,
            min_lon: 2.0,
            max_lat: 3.5,
            max_lon: 4.0,
        };
        let reply = search(
            SearchOutput::Bounds,
            &[],
            vec![item("a", bounds, vec![])],
            0,
        );
        let expected = "{\"ok\":true,\"bounds\":[{\"id\":\"a\",\"bounds\":{\"sw\":{\"lat\":1,\"lon\":2},\"ne\":{\"lat\":3.5,\"lon\":4}}}],\"count\":1,\"cursor\":0,\"elapsed\":\"27µs\"}";
        assert_eq!(enc(&reply), expected);
        let hash = ItemBody::Hash("9tbnt".into());
        let reply = search(
            SearchOutput::Hashes(5),
            &["f"],
            vec![item("a", hash, vec![])],
            0,
        );
        let expected = "{\"ok\":true,\"fields\":[\"f\"],\"hashes\":[{\"id\":\"a\",\"hash\":\"9tbnt\",\"fields\":[0]}],\"count\":1,\"cursor\":0,\"elapsed\":\"27µs\"}";
        assert_eq!(enc(&reply), expected);
        let z = ItemBody::Point {
            lat: 1.0,
            lon: 2.0,
            z: Some(7.25),
        };
        let reply = search(SearchOutput::Points, &[], vec![item("p", z, vec![])], 0);
        let expected = "{\"ok\":true,\"points\":[{\"id\":\"p\",\"point\":{\"lat\":1,\"lon\":2,\"z\":7.25}}],\"count\":1,\"cursor\":0,\"elapsed\":\"27µs\"}";
        assert_eq!(enc(&reply), expected);
    }

    #[test]
    fn string_escaping_matches_serde() {
        for s in [
            "plain",
            "é ü 中",
            "a\"b",
            "back\\slash",
            "\t\r\n\u{7}",
            "</script>",
        ] {
            let mut out = String::new();
            write_str(s, &mut out);
            assert_eq!(out, serde_json::to_string(s).expect("json"));
        }
    }
}
