//! Read commands on keys and ids: GET, KEYS, TYPE, EXISTS, FEXISTS, FGET, TTL, JGET, BOUNDS,
//! STATS. Objects past their expiry read as missing even before the sweep removes them.

use super::args::{Args, Upper};
use super::keys::{document_of, live, missing};
use super::{jsonpath, ReadCtx};
use crate::error::{CmdError, CmdResult};
use crate::geo::{geohash_encode, Rect};
use crate::protocol::{Reply, Value};
use crate::store::{Body, Db, FieldValue, FieldsRef, ObjRef};

/// A field value as a reply value: numbers stay numbers in JSON and become text in RESP.
pub fn field_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Num(n) => Value::Float(*n),
        FieldValue::Bool(b) => Value::Json(b.to_string()),
        FieldValue::Str(s) => Value::Str(s.to_string()),
        FieldValue::Json(j) => Value::Json(j.to_string()),
    }
}

fn fields_map(fields: FieldsRef<'_>) -> Value {
    Value::Map(
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), field_value(&v)))
            .collect(),
    )
}

fn coord(x: f64) -> Value {
    Value::Float(x)
}

fn not_found(db: &Db, key: &str) -> Reply {
    Reply::Nil {
        err: missing(db, key),
    }
}

/// What GET renders.
enum GetKind {
    Object,
    Point,
    Bounds,
    Hash(usize),
}

/// GET key id [WITHFIELDS] [OBJECT|POINT|BOUNDS|HASH geohash]
pub fn get(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let with_fields = a.eat("WITHFIELDS");
    let kind = if a.is_empty() {
        GetKind::Object
    } else {
        let word = a.next_str()?;
        match Upper::new(word).as_str() {
            "OBJECT" => GetKind::Object,
            "POINT" => GetKind::Point,
            "BOUNDS" => GetKind::Bounds,
            "HASH" => {
                let p = a.next_str()?;
                match p.parse::<usize>() {
                    Ok(n) if (1..=12).contains(&n) => GetKind::Hash(n),
                    _ => return Err(CmdError::InvalidArg(p.into())),
                }
            }
            _ => return Err(CmdError::InvalidArg(word.into())),
        }
    };
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        return Ok(not_found(db, key));
    };
    let (json_name, body_resp, body_json) = render_get(obj, &kind);
    let mut resp = vec![body_resp];
    let mut json = vec![(json_name, body_json)];
    if with_fields && !obj.fields().is_empty() {
        resp.push(flat_fields(obj.fields()));
        json.push(("fields", fields_map(obj.fields())));
    }
    let resp = if with_fields {
        Value::List(resp)
    } else {
        resp.remove(0)
    };
    Ok(Reply::Split { resp, json })
}

fn flat_fields(fields: FieldsRef<'_>) -> Value {
    Value::List(
        fields
            .iter()
            .flat_map(|(n, v)| [Value::Str(n.to_string()), Value::Str(v.to_text())])
            .collect(),
    )
}

fn render_get(obj: ObjRef<'_>, kind: &GetKind) -> (&'static str, Value, Value) {
    let body = obj.body();
    let geom = match (&*body, kind) {
        (Body::Str(s), _) => {
            return (
                "object",
                Value::Str(s.to_string()),
                Value::Str(s.to_string()),
            );
        }
        (Body::Geo(g), _) => g,
    };
    match kind {
        GetKind::Object => {
            let j = geom.geojson_string();
            ("object", Value::Str(j.clone()), Value::Json(j))
        }
        GetKind::Point => {
            let (lat, lon) = geom.center();
            let mut resp = vec![coord(lat), coord(lon)];
            let mut json = vec![
                ("lat".to_string(), coord(lat)),
                ("lon".to_string(), coord(lon)),
            ];
            if let Some(z) = geom.z() {
                resp.push(coord(z));
                json.push(("z".to_string(), coord(z)));
            }
            ("point", Value::List(resp), Value::Map(json))
        }
        GetKind::Bounds => {
            let r = geom.bbox();
            ("bounds", bounds_resp(&r), bounds_json(&r))
        }
        GetKind::Hash(p) => {
            let (lat, lon) = geom.center();
            let h = geohash_encode(lat, lon, *p);
            ("hash", Value::Str(h.clone()), Value::Str(h))
        }
    }
}

/// RESP form of an object's bounds: `[[minlat, minlon], [maxlat, maxlon]]`.
pub fn bounds_resp(r: &Rect) -> Value {
    Value::List(vec![
        Value::List(vec![coord(r.min_lat), coord(r.min_lon)]),
        Value::List(vec![coord(r.max_lat), coord(r.max_lon)]),
    ])
}

/// JSON form of an object's bounds: `{"sw":{"lat","lon"},"ne":{...}}`.
pub fn bounds_json(r: &Rect) -> Value {
    let corner =
        |lat, lon| Value::Map(vec![("lat".into(), coord(lat)), ("lon".into(), coord(lon))]);
    Value::Map(vec![
        ("sw".into(), corner(r.min_lat, r.min_lon)),
        ("ne".into(), corner(r.max_lat, r.max_lon)),
    ])
}

/// KEYS pattern
pub fn keys(db: &Db, a: &mut Args, _ctx: &ReadCtx) -> CmdResult<Reply> {
    let pattern = a.next_str()?;
    a.finish()?;
    let m = wildmatch::WildMatch::new(pattern);
    let keys = db
        .keys()
        .filter(|k| m.matches(k))
        .map(|k| Value::Str(k.to_string()))
        .collect();
    Ok(Reply::Named {
        name: "keys",
        value: Value::List(keys),
    })
}

/// TYPE key
pub fn type_(db: &Db, a: &mut Args, _ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    a.finish()?;
    let t = if db.get(key).is_some() {
        "hash"
    } else {
        "none"
    };
    Ok(Reply::Named {
        name: "type",
        value: Value::Status(t.into()),
    })
}

/// EXISTS key id
pub fn exists(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    a.finish()?;
    let found = live(db, key, id, ctx.now_ms).is_some();
    Ok(Reply::Named {
        name: "exists",
        value: Value::Bool(found),
    })
}

/// FEXISTS key id field
pub fn fexists(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let field = a.next_str()?;
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        return Ok(not_found(db, key));
    };
    Ok(Reply::Named {
        name: "exists",
        value: Value::Bool(obj.fields().get(field).is_some()),
    })
}

/// FGET key id field
pub fn fget(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let field = a.next_str()?;
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        return Ok(not_found(db, key));
    };
    let value = obj
        .fields()
        .get(field)
        .map_or(Value::Float(0.0), |v| field_value(&v));
    Ok(Reply::Named {
        name: "value",
        value,
    })
}

/// TTL key id
pub fn ttl(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        let err = missing(db, key);
        return Ok(Reply::Miss { resp: -2, err });
    };
    if obj.expires_at_ms() == 0 {
        return Ok(Reply::Split {
            resp: Value::Int(-1),
            json: vec![("ttl", Value::Int(-1))],
        });
    }
    let left_ms = (obj.expires_at_ms() - ctx.now_ms).max(0);
    Ok(Reply::Split {
        resp: Value::Int(left_ms / 1000),
        json: vec![("ttl", Value::Float((left_ms / 10) as f64 / 100.0))],
    })
}

/// JGET key id path [RAW]
pub fn jget(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let path = a.next_str()?;
    let raw = a.eat("RAW");
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        return Ok(not_found(db, key));
    };
    let doc = document_of(obj);
    let Some(v) = jsonpath::get(&doc, path) else {
        return Ok(Reply::Split {
            resp: Value::Null,
            json: vec![("value", Value::Null)],
        });
    };
    let resp = match v {
        serde_json::Value::String(s) if !raw => Value::Str(s.clone()),
        other => Value::Str(other.to_string()),
    };
    Ok(Reply::Split {
        resp,
        json: vec![("value", Value::Json(v.to_string()))],
    })
}

/// BOUNDS key
pub fn bounds(db: &Db, a: &mut Args, _ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    a.finish()?;
    let Some(r) = db.get(key).and_then(|c| c.bounds()) else {
        return Ok(Reply::Nil {
            err: "key not found",
        });
    };
    let resp = Value::List(vec![
        Value::List(vec![coord(r.min_lon), coord(r.min_lat)]),
        Value::List(vec![coord(r.max_lon), coord(r.max_lat)]),
    ]);
    let mut poly = String::new();
    r.to_geojson_polygon(&mut poly);
    Ok(Reply::Split {
        resp,
        json: vec![("bounds", Value::Json(poly))],
    })
}

/// STATS key [key ...]
pub fn stats(db: &Db, a: &mut Args, _ctx: &ReadCtx) -> CmdResult<Reply> {
    let mut out = Vec::new();
    while !a.is_empty() {
        let key = a.next_str()?;
        out.push(match db.get(key) {
            None => Value::Null,
            Some(c) => {
                let s = c.stats();
                Value::Map(vec![
                    ("in_memory_size".into(), Value::Int(s.in_memory_size as i64)),
                    ("num_objects".into(), Value::Int(s.num_objects as i64)),
                    ("num_points".into(), Value::Int(s.num_points as i64)),
                    ("num_strings".into(), Value::Int(s.num_strings as i64)),
                ])
            }
        });
    }
    Ok(Reply::Named {
        name: "stats",
        value: Value::List(out),
    })
}
