//! Write commands on keys and ids: SET, DEL, PDEL, DROP, FLUSHDB, RENAME(NX), FSET, EXPIRE,
//! PEXPIREAT, PERSIST, JSET, JDEL.
//!
//! Each handler validates everything before it changes anything, then records the canonical
//! form to log: absolute expiry (`PXAT`), merged fields, no NX/XX, so that replaying the log
//! (or a fuzzy snapshot followed by the log) always converges to the same state.

use bytes::Bytes;

use super::args::{Args, Upper};
use super::jsonpath;
use super::WriteCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{fmt_coord, Geometry};
use crate::protocol::Reply;
use crate::store::{Body, Db, FieldValue, ObjRef, Object};

/// The live (not expired) object at key/id.
pub fn live<'a>(db: &'a Db, key: &str, id: &str, now_ms: i64) -> Option<ObjRef<'a>> {
    db.get(key)?.get(id).filter(|o| !o.is_expired(now_ms))
}

fn coord(x: f64) -> Bytes {
    let mut s = String::new();
    fmt_coord(x, &mut s);
    Bytes::from(s)
}

fn text(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The canonical `SET` that recreates `obj` at key/id exactly (used by the log):
/// `REPLACE` (the fields are exactly these, not merged into a previous object's), the fields,
/// absolute expiry, then the compact body. Replaying it is idempotent.
pub fn set_args(key: &str, id: &str, obj: &Object) -> Vec<Bytes> {
    canonical_set(key, id, obj, true)
}

/// The `SET` an AOF rewrite writes into its snapshot: [`set_args`] without `REPLACE`, which
/// only matters when an object already exists. A snapshot is replayed onto an empty data set
/// and holds each object once, so the 14 bytes per object would buy nothing.
pub fn snapshot_set_args(key: &str, id: &str, obj: &Object) -> Vec<Bytes> {
    canonical_set(key, id, obj, false)
}

fn canonical_set(key: &str, id: &str, obj: &Object, replace: bool) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(b"SET"), text(key), text(id)];
    if replace {
        out.push(Bytes::from_static(b"REPLACE"));
    }
    for (name, value) in obj.fields.iter() {
        out.push(Bytes::from_static(b"FIELD"));
        out.push(text(name));
        out.push(Bytes::from(value.to_text()));
    }
    if obj.expires_at_ms != 0 {
        out.push(Bytes::from_static(b"PXAT"));
        out.push(Bytes::from(obj.expires_at_ms.to_string()));
    }
    match &obj.body {
        Body::Str(s) => {
            out.push(Bytes::from_static(b"STRING"));
            out.push(text(s));
        }
        Body::Geo(Geometry::Point { lat, lon }) => {
            out.extend([Bytes::from_static(b"POINT"), coord(*lat), coord(*lon)]);
        }
        Body::Geo(Geometry::PointZ { lat, lon, z }) => {
            out.extend([
                Bytes::from_static(b"POINT"),
                coord(*lat),
                coord(*lon),
                coord(*z),
            ]);
        }
        Body::Geo(Geometry::Bounds(r)) => {
            out.push(Bytes::from_static(b"BOUNDS"));
            out.extend([r.min_lat, r.min_lon, r.max_lat, r.max_lon].map(coord));
        }
        Body::Geo(Geometry::Object(o)) => {
            out.push(Bytes::from_static(b"OBJECT"));
            out.push(text(&o.json));
        }
    }
    out
}

/// Options of a SET before its body.
#[derive(Default)]
struct SetOptions<'a> {
    fields: Vec<(&'a str, FieldValue)>,
    expires_at_ms: i64,
    nx: bool,
    xx: bool,
    /// Do not merge the previous object's fields (Meridian extension; the canonical form).
    replace: bool,
}

/// SET key id [FIELD name value ...] [EX seconds|PXAT ms] [NX|XX] <body>
pub fn set(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    // >> Args
    let key = a.next_str()?;
    let id = a.next_str()?;
    let mut opts = SetOptions::default();
    let body = loop {
        let word = a.next_str()?;
        match Upper::new(word).as_str() {
            "FIELD" => {
                let name = field_name(a.next_str()?)?;
                let value = a.next_str()?;
                opts.fields.push((name, FieldValue::parse(value)));
            }
            "EX" => {
                let secs = a.next_f64()?;
                opts.expires_at_ms = ctx.now_ms + (secs * 1000.0).round() as i64;
            }
            "PXAT" => opts.expires_at_ms = a.next_i64()?,
            "REPLACE" => opts.replace = true,
            "NX" if !opts.xx => opts.nx = true,
            "XX" if !opts.nx => opts.xx = true,
            "OBJECT" | "POINT" | "BOUNDS" | "HASH" | "STRING" => break parse_body(word, a)?,
            _ => return Err(CmdError::InvalidArg(word.into())),
        }
    };
    a.finish()?;
    // >> Operation
    let old = live(db, key, id, ctx.now_ms);
    if opts.nx && old.is_some() {
        return Ok(Reply::Nil {
            err: "id already exists",
        });
    }
    if opts.xx && old.is_none() {
        return Ok(Reply::Nil {
            err: "id not found",
        });
    }
    let mut obj = Object {
        body,
        fields: match old {
            Some(o) if !opts.replace => o.fields().to_fields(),
            _ => Default::default(),
        },
        expires_at_ms: opts.expires_at_ms,
    };
    for (name, value) in opts.fields {
        obj.fields.set(name, value);
    }
    if ctx.logging {
        ctx.log.push(set_args(key, id, &obj));
    }
    db.get_or_create(key).set(id, obj);
    // >> Response
    Ok(Reply::Ok)
}

/// A field name, refusing the names Tile38 reserves for coordinates (`z`, `lat`, `lon`).
fn field_name(name: &str) -> CmdResult<&str> {
    match name {
        "z" | "lat" | "lon" => Err(CmdError::InvalidArg(name.into())),
        _ => Ok(name),
    }
}

/// Parses the body of a SET after its type word.
fn parse_body(word: &str, a: &mut Args) -> CmdResult<Body> {
    let geom = match Upper::new(word).as_str() {
        "STRING" => return Ok(Body::Str(a.next_str()?.into())),
        "POINT" => {
            let lat = a.next_f64()?;
            let lon = a.next_f64()?;
            let z = if a.remaining() == 1 {
                Some(a.next_f64()?)
            } else {
                None
            };
            Geometry::point(lat, lon, z)?
        }
        "BOUNDS" => {
            let v = [a.next_f64()?, a.next_f64()?, a.next_f64()?, a.next_f64()?];
            Geometry::bounds(v[0], v[1], v[2], v[3])?
        }
        "HASH" => Geometry::from_geohash(a.next_str()?)?,
        _ => Geometry::from_geojson(a.next_str()?)?,
    };
    Ok(Body::Geo(geom))
}

/// DEL key id [ERRON404]
pub fn del(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let erron404 = a.eat("ERRON404");
    a.finish()?;
    let Some(col) = db.get_mut(key) else {
        return if erron404 {
            Err(CmdError::KeyNotFound)
        } else {
            Ok(Reply::Count(0))
        };
    };
    let removed = col.remove(id);
    let was_live = removed.as_ref().is_some_and(|o| !o.is_expired(ctx.now_ms));
    if removed.is_some() {
        ctx.log([Bytes::from_static(b"DEL"), text(key), text(id)]);
        db.drop_if_empty(key);
    }
    if !was_live && erron404 {
        return Err(CmdError::IdNotFound);
    }
    Ok(Reply::Count(i64::from(was_live)))
}

/// PDEL key pattern
pub fn pdel(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let pattern = a.next_str()?;
    a.finish()?;
    let Some(col) = db.get_mut(key) else {
        return Ok(Reply::Count(0));
    };
    let matcher = wildmatch::WildMatch::new(pattern);
    let ids: Vec<String> = col
        .iter_from(None)
        .filter(|(id, _)| matcher.matches(id))
        .map(|(id, _)| id.to_string())
        .collect();
    let mut live_count = 0;
    for id in &ids {
        if col.remove(id).is_some_and(|o| !o.is_expired(ctx.now_ms)) {
            live_count += 1;
        }
    }
    if !ids.is_empty() {
        ctx.log([Bytes::from_static(b"PDEL"), text(key), text(pattern)]);
        db.drop_if_empty(key);
    }
    Ok(Reply::Count(live_count))
}

/// DROP key
pub fn drop(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    a.finish()?;
    if db.drop_key(key).is_none() {
        return Ok(Reply::Count(0));
    }
    ctx.log([Bytes::from_static(b"DROP"), text(key)]);
    Ok(Reply::Count(1))
}

/// FLUSHDB
pub fn flushdb(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    a.finish()?;
    db.flush();
    ctx.log([Bytes::from_static(b"FLUSHDB")]);
    Ok(Reply::Ok)
}

/// RENAME key newkey
pub fn rename(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    rename_impl(db, a, ctx, false)
}

/// RENAMENX key newkey
pub fn renamenx(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    rename_impl(db, a, ctx, true)
}

fn rename_impl(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx, nx: bool) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let new_key = a.next_str()?;
    a.finish()?;
    if db.get(key).is_none() {
        return Err(CmdError::KeyNotFound);
    }
    if nx && db.get(new_key).is_some() {
        return Ok(Reply::Count(0));
    }
    if key != new_key {
        db.rename(key, new_key);
        ctx.log([Bytes::from_static(b"RENAME"), text(key), text(new_key)]);
    }
    Ok(if nx { Reply::Count(1) } else { Reply::Ok })
}

/// FSET key id [XX] field value [field value ...]
pub fn fset(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let xx = a.eat("XX");
    if a.remaining() < 2 || !a.remaining().is_multiple_of(2) {
        return Err(a.arity_error());
    }
    let mut pairs = Vec::with_capacity(a.remaining() / 2);
    while !a.is_empty() {
        pairs.push((field_name(a.next_str()?)?, FieldValue::parse(a.next_str()?)));
    }
    if db.get(key).is_none() {
        return Err(CmdError::KeyNotFound);
    }
    if live(db, key, id, ctx.now_ms).is_none() {
        return if xx {
            Ok(Reply::Count(0))
        } else {
            Err(CmdError::IdNotFound)
        };
    }
    let mut log = vec![Bytes::from_static(b"FSET"), text(key), text(id)];
    for (name, value) in &pairs {
        log.push(text(name));
        log.push(Bytes::from(value.to_text()));
    }
    let col = db.get_mut(key).expect("checked above");
    let changed = col
        .modify(id, |o| {
            pairs
                .into_iter()
                .filter(|(n, v)| o.fields.set(n, v.clone()))
                .count()
        })
        .unwrap_or(0);
    if changed > 0 {
        ctx.log.push(log);
    }
    Ok(Reply::Count(changed as i64))
}

/// The error for a missing object: whether its key or only its id is missing.
pub fn missing(db: &Db, key: &str) -> &'static str {
    if db.get(key).is_none() {
        "key not found"
    } else {
        "id not found"
    }
}

fn miss(db: &Db, key: &str) -> Reply {
    Reply::Miss {
        resp: 0,
        err: missing(db, key),
    }
}

/// EXPIRE key id seconds
pub fn expire(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let secs = a.next_f64()?;
    a.finish()?;
    let at = ctx.now_ms + (secs * 1000.0).round() as i64;
    set_expiry(db, key, id, at, ctx)
}

/// PEXPIREAT key id unix-ms (the logged form of EXPIRE)
pub fn pexpireat(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let at = a.next_i64()?;
    a.finish()?;
    set_expiry(db, key, id, at, ctx)
}

fn set_expiry(db: &mut Db, key: &str, id: &str, at: i64, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    if live(db, key, id, ctx.now_ms).is_none() {
        return Ok(miss(db, key));
    }
    let col = db.get_mut(key).expect("live object has a collection");
    col.modify(id, |o| o.expires_at_ms = at);
    ctx.log([
        Bytes::from_static(b"PEXPIREAT"),
        text(key),
        text(id),
        Bytes::from(at.to_string()),
    ]);
    Ok(Reply::Count(1))
}

/// PERSIST key id
pub fn persist(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    a.finish()?;
    let Some(obj) = live(db, key, id, ctx.now_ms) else {
        return Ok(miss(db, key));
    };
    if obj.expires_at_ms() == 0 {
        return Ok(Reply::Count(0));
    }
    let col = db.get_mut(key).expect("live object has a collection");
    col.modify(id, |o| o.expires_at_ms = 0);
    ctx.log([Bytes::from_static(b"PERSIST"), text(key), text(id)]);
    Ok(Reply::Count(1))
}

/// JSET key id path value [RAW|STR]
pub fn jset(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let path = a.next_str()?;
    let raw_value = a.next_str()?;
    let value = if a.eat("RAW") {
        serde_json::from_str(raw_value).map_err(|_| CmdError::InvalidArg(raw_value.into()))?
    } else if a.eat("STR") {
        serde_json::Value::String(raw_value.into())
    } else {
        jsonpath::auto_value(raw_value)
    };
    a.finish()?;
    let old = live(db, key, id, ctx.now_ms);
    let mut doc = old
        .map(document_of)
        .unwrap_or_else(|| serde_json::json!({}));
    jsonpath::set(&mut doc, path, value).map_err(|_| CmdError::InvalidArg(path.into()))?;
    store_document(db, key, id, &doc, ctx);
    Ok(Reply::Ok)
}

/// JDEL key id path
pub fn jdel(db: &mut Db, a: &mut Args, ctx: &mut WriteCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let id = a.next_str()?;
    let path = a.next_str()?;
    a.finish()?;
    let Some(old) = live(db, key, id, ctx.now_ms) else {
        return Ok(miss(db, key));
    };
    let mut doc = document_of(old);
    if !jsonpath::delete(&mut doc, path) {
        // Tile38: RESP 0, JSON `path not found`.
        return Ok(Reply::Miss {
            resp: 0,
            err: "path not found",
        });
    }
    store_document(db, key, id, &doc, ctx);
    Ok(Reply::Count(1))
}

/// The JSON document an object stands for (a string object's text when it is JSON).
pub fn document_of(obj: ObjRef<'_>) -> serde_json::Value {
    match &*obj.body() {
        Body::Str(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string())),
        Body::Geo(g) => serde_json::from_str(&g.geojson_string()).unwrap_or_default(),
    }
}

/// Stores an edited document: as GeoJSON when it is valid GeoJSON, else as a string. Fields
/// and expiry are kept; the whole object is logged as a canonical SET.
fn store_document(db: &mut Db, key: &str, id: &str, doc: &serde_json::Value, ctx: &mut WriteCtx) {
    let text = doc.to_string();
    let body = match Geometry::from_geojson(&text) {
        Ok(g) => Body::Geo(g),
        Err(_) => Body::Str(text.into()),
    };
    let old = live(db, key, id, ctx.now_ms);
    let obj = Object {
        body,
        fields: old.map(|o| o.fields().to_fields()).unwrap_or_default(),
        expires_at_ms: old.map_or(0, |o| o.expires_at_ms()),
    };
    if ctx.logging {
        ctx.log.push(set_args(key, id, &obj));
    }
    db.get_or_create(key).set(id, obj);
}
