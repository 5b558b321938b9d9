//! The spatial searches: NEARBY (distance-ordered, best-first over the R-tree), WITHIN and
//! INTERSECTS (R-tree prefilter on the area's bounding box, then an exact test), with the
//! search options and outputs shared with SCAN.

use super::args::Args;
use super::keys::{live, missing};
use super::scan::{collect, ResultWriter, SearchOpts};
use super::ReadCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{Area, Geometry};
use crate::protocol::Reply;
use crate::store::{Collection, Db, ObjRef};

/// Which predicate a WITHIN/INTERSECTS search applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Predicate {
    Within,
    Intersects,
}

/// Options only some searches take.
#[derive(Default)]
struct Extra {
    distance: bool,
    buffer: Option<f64>,
}

/// Parses the options before the area; returns the area keyword.
fn parse_options<'a>(
    a: &mut Args<'a>,
    opts: &mut SearchOpts,
    extra: &mut Extra,
    nearby: bool,
) -> CmdResult<&'a str> {
    loop {
        let word = a.next_str()?;
        // `BOUNDS` is both an output kind and an area; followed by a number it is the area.
        let is_area_bounds = word.eq_ignore_ascii_case("BOUNDS")
            && a.peek().is_some_and(|n| n.parse::<f64>().is_ok());
        if !is_area_bounds && opts.parse_word(word, a)? {
            continue;
        }
        match word.to_ascii_uppercase().as_str() {
            "DISTANCE" if nearby => extra.distance = true,
            "BUFFER" if !nearby => {
                let m = a.next_f64()?;
                if m < 0.0 {
                    return Err(CmdError::InvalidArg(m.to_string()));
                }
                extra.buffer = Some(m);
            }
            "FENCE" | "DETECT" | "COMMANDS" => {
                return Err(CmdError::Other(
                    "live geofences (FENCE) are not supported yet".into(),
                ))
            }
            "CLIP" | "SPARSE" | "ROAM" | "WHEREIN" | "WHEREEVAL" | "WHEREEVALSHA" => {
                return Err(CmdError::Other(format!(
                    "the {} option is not supported yet",
                    word.to_ascii_uppercase()
                )))
            }
            _ => return Ok(word),
        }
    }
}

/// Parses a search area (after its keyword) as Tile38 names them.
fn parse_area(db: &Db, word: &str, a: &mut Args, now_ms: i64) -> CmdResult<Area> {
    let area = match word.to_ascii_uppercase().as_str() {
        "POINT" => {
            let (lat, lon) = (a.next_f64()?, a.next_f64()?);
            Geometry::point(lat, lon, None)?;
            Area::Point { lat, lon }
        }
        "CIRCLE" => {
            let (lat, lon) = (a.next_f64()?, a.next_f64()?);
            let meters = a.next_f64()?;
            Geometry::point(lat, lon, None)?;
            if meters < 0.0 {
                return Err(CmdError::InvalidArg(meters.to_string()));
            }
            Area::Circle { lat, lon, meters }
        }
        "BOUNDS" => {
            let v = [a.next_f64()?, a.next_f64()?, a.next_f64()?, a.next_f64()?];
            match Geometry::bounds(v[0], v[1], v[2], v[3])? {
                Geometry::Bounds(r) => Area::Rect(r),
                other => Area::Shape(Box::new(other)),
            }
        }
        "OBJECT" => area_of(Geometry::from_geojson(a.next_str()?)?),
        "GET" => {
            let (key, id) = (a.next_str()?, a.next_str()?);
            let obj = live(db, key, id, now_ms)
                .ok_or_else(|| CmdError::Other(missing(db, key).into()))?;
            let geom = obj
                .geometry()
                .ok_or_else(|| CmdError::Other("object is not spatial".into()))?;
            area_of(geom.into_owned())
        }
        "TILE" => Area::tile(a.next_u64()?, a.next_u64()?, a.next_u64()?)?,
        "QUADKEY" => Area::quadkey(a.next_str()?)?,
        "HASH" => Area::hash(a.next_str()?)?,
        "SECTOR" => {
            let v = [
                a.next_f64()?,
                a.next_f64()?,
                a.next_f64()?,
                a.next_f64()?,
                a.next_f64()?,
            ];
            Area::sector(v[0], v[1], v[2], v[3], v[4])?
        }
        _ => return Err(CmdError::InvalidArg(word.into())),
    };
    a.finish()?;
    Ok(area)
}

fn area_of(g: Geometry) -> Area {
    match g {
        Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
            Area::Point { lat, lon }
        }
        Geometry::Bounds(r) => Area::Rect(r),
        other => Area::Shape(Box::new(other)),
    }
}

/// NEARBY key [opts] [DISTANCE] [output] POINT lat lon [meters]
pub fn nearby(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    let mut extra = Extra::default();
    let word = parse_options(a, &mut opts, &mut extra, true)?;
    if !word.eq_ignore_ascii_case("POINT") {
        return Err(CmdError::InvalidArg(word.into()));
    }
    let (lat, lon) = (a.next_f64()?, a.next_f64()?);
    Geometry::point(lat, lon, None)?;
    let meters = if a.is_empty() {
        None
    } else {
        Some(a.next_f64()?)
    };
    a.finish()?;
    if meters.is_some_and(|m| m < 0.0) {
        return Err(CmdError::InvalidArg(meters.unwrap_or_default().to_string()));
    }
    let col = db.get(key);
    let w = ResultWriter::new(&opts, col);
    let Some(col) = col else {
        return Ok(w.finish(0));
    };
    let limit = meters.unwrap_or(f64::INFINITY);
    let hits = col
        .nearby(lat, lon)
        .take_while(|(_, _, d)| *d <= limit)
        .map(|(id, o, d)| (id, o, extra.distance.then_some(d)));
    Ok(collect(w, &opts, hits, ctx.now_ms))
}

/// WITHIN key [opts] [BUFFER m] [output] <area>
pub fn within(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    area_search(db, a, ctx, Predicate::Within)
}

/// INTERSECTS key [opts] [BUFFER m] [output] <area>
pub fn intersects(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    area_search(db, a, ctx, Predicate::Intersects)
}

fn area_search(db: &Db, a: &mut Args, ctx: &ReadCtx, pred: Predicate) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    let mut extra = Extra::default();
    let word = parse_options(a, &mut opts, &mut extra, false)?;
    let mut area = parse_area(db, word, a, ctx.now_ms)?;
    if let Some(m) = extra.buffer {
        area = area.with_buffer(m);
    }
    let col = db.get(key);
    let w = ResultWriter::new(&opts, col);
    let Some(col) = col else {
        return Ok(w.finish(0));
    };
    let hits = candidates(col, &area).filter(|(_, o)| {
        o.geometry().is_some_and(|g| match pred {
            Predicate::Within => area.contains(&g),
            Predicate::Intersects => area.intersects(&g),
        })
    });
    Ok(collect(
        w,
        &opts,
        hits.map(|(id, o)| (id, o, None)),
        ctx.now_ms,
    ))
}

/// Objects whose bounding box meets the area's, in R-tree order.
fn candidates<'a>(
    col: &'a Collection,
    area: &Area,
) -> impl Iterator<Item = (&'a str, ObjRef<'a>)> + 'a {
    col.intersecting(&area.bbox())
}
