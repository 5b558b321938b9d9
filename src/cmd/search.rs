//! The spatial searches: NEARBY (distance-ordered, best-first over the R-tree), WITHIN and
//! INTERSECTS (R-tree prefilter on the area's bounding box, then an exact test), with the
//! search options and outputs shared with SCAN; all three walk in steps (`super::walk`),
//! SPARSE too (`super::sparse`).

use super::args::{Args, Upper};
use super::keys::{live, missing};
use super::scan::{ResultWriter, SearchCmd, SearchOpts};
use super::sparse::SparseWalk;
use super::walk::{Order, Walked};
use super::ReadCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{Area, Geometry};
use crate::store::walk::NearWalk;
use crate::store::Db;

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
        match Upper::new(word).as_str() {
            "DISTANCE" if nearby && extra.distance => {
                return Err(CmdError::Other("duplicate argument 'DISTANCE'".into()))
            }
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
            "ROAM" | "WHEREEVAL" | "WHEREEVALSHA" => {
                return Err(CmdError::Other(format!(
                    "the {} option is not supported yet",
                    word.to_ascii_uppercase()
                )))
            }
            _ => return Ok(word),
        }
    }
}

/// Parses a search area (after its keyword) as Tile38 names them; arguments after it are left
/// for the caller.
pub(super) fn parse_area(db: &Db, word: &str, a: &mut Args, now_ms: i64) -> CmdResult<Area> {
    let area = match Upper::new(word).as_str() {
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
                other => Area::shape(other),
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
    Ok(area)
}

fn area_of(g: Geometry) -> Area {
    match g {
        Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
            Area::Point { lat, lon }
        }
        Geometry::Bounds(r) => Area::Rect(r),
        other => Area::shape(other),
    }
}

/// NEARBY key [opts] [DISTANCE] [output] POINT lat lon [meters], walked in steps
/// (`super::walk`).
pub fn nearby(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Walked> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    let mut extra = Extra::default();
    let word = parse_options(a, &mut opts, &mut extra, true)?;
    opts.validate(SearchCmd::Nearby, ctx)?;
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
    if opts.sparse.is_some() && meters.is_none() {
        return Err(CmdError::Other(
            "cannot use SPARSE without a point distance".into(),
        ));
    }
    let col = db.get(key);
    let w = ResultWriter::new(&opts, key, col, ctx);
    let Some(col) = col else {
        return Ok(Walked::Done(w.finish(0, ctx.host)?));
    };
    if let (Some(depth), Some(meters)) = (opts.sparse, meters) {
        // Tile38 answers NEARBY … SPARSE as an INTERSECTS of the circle, cell by cell.
        let area = Area::Circle { lat, lon, meters };
        let from = extra.distance.then_some((lat, lon));
        let order = Order::Sparse(Box::new(SparseWalk::new(area, false, depth, from)));
        return super::walk::start(col, opts, w, order, ctx);
    }
    let order = Order::Nearby {
        walk: NearWalk::new(lat, lon),
        meters,
        distance: extra.distance,
        total: col.spatial_len() as u64,
    };
    super::walk::start(col, opts, w, order, ctx)
}

/// WITHIN key [opts] [BUFFER m] [output] <area>, walked in steps (`super::walk`).
pub fn within(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Walked> {
    area_search(db, a, ctx, Predicate::Within)
}

/// INTERSECTS key [opts] [BUFFER m] [output] <area>, walked in steps (`super::walk`).
pub fn intersects(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Walked> {
    area_search(db, a, ctx, Predicate::Intersects)
}

fn area_search(db: &Db, a: &mut Args, ctx: &ReadCtx, pred: Predicate) -> CmdResult<Walked> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    let mut extra = Extra::default();
    let word = parse_options(a, &mut opts, &mut extra, false)?;
    opts.validate(
        match pred {
            Predicate::Within => SearchCmd::Within,
            Predicate::Intersects => SearchCmd::Intersects,
        },
        ctx,
    )?;
    if opts.clip {
        check_clip_area(word)?;
    }
    let mut area = parse_area(db, word, a, ctx.now_ms)?;
    a.finish()?;
    if let Some(m) = extra.buffer {
        area = area.with_buffer(m);
    }
    let col = db.get(key);
    let mut w = ResultWriter::new(&opts, key, col, ctx);
    if let (true, Predicate::Intersects, Area::Rect(r)) = (opts.clip, pred, &area) {
        w = w.clipped_to(*r);
    }
    let Some(col) = col else {
        return Ok(Walked::Done(w.finish(0, ctx.host)?));
    };
    let within = pred == Predicate::Within;
    if let Some(depth) = opts.sparse {
        let order = Order::Sparse(Box::new(SparseWalk::new(area, within, depth, None)));
        return super::walk::start(col, opts, w, order, ctx);
    }
    let order = Order::Area {
        area,
        within,
        walk: None,
    };
    super::walk::start(col, opts, w, order, ctx)
}

/// Tile38 clips only to rectangles and points: CIRCLE, SECTOR, OBJECT and GET are refused
/// (`invalid argument 'cannot clip with circle'`).
fn check_clip_area(word: &str) -> CmdResult<()> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "circle" | "sector" | "object" | "get" => {
            Err(CmdError::InvalidArg(format!("cannot clip with {lower}")))
        }
        _ => Ok(()),
    }
}
