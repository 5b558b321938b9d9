//! Search areas and the spatial predicates of NEARBY, WITHIN and INTERSECTS (Tile38 1.37):
//! [`Area`] (POINT, CIRCLE, BOUNDS/TILE/QUADKEY/HASH rectangles, OBJECT/GET/SECTOR shapes,
//! BUFFER), its bounding box for the R-tree prefilter, and the distances the nearest-neighbour
//! walk orders and prunes by ([`distance_to`], [`point_rect_min_meters`]).
//!
//! Coordinates follow the rest of the module: `geo` shapes have x = longitude, y = latitude.
//! Rectangles and shapes are planar in longitude/latitude (as Tile38's are); circles and
//! distances are on the sphere of radius [`EARTH_RADIUS_METERS`](super::EARTH_RADIUS_METERS).

use std::borrow::Cow;
use std::f64::consts::{FRAC_PI_2, PI};
use std::sync::Arc;

use geo::{Covers, Intersects};

use super::cap::Cap;
use super::locate::LazyLocator;
use super::{
    geohash_bounds, haversine_meters, shapes, tile, GeoError, Geometry, Rect, EARTH_RADIUS_METERS,
};

/// The area of a WITHIN/INTERSECTS search (and NEARBY's optional radius).
#[derive(Debug, Clone)]
pub enum Area {
    /// `POINT lat lon`.
    Point { lat: f64, lon: f64 },
    /// `CIRCLE lat lon meters`: a geodesic radius.
    Circle { lat: f64, lon: f64, meters: f64 },
    /// `BOUNDS`, `TILE`, `QUADKEY`, `HASH`.
    Rect(Rect),
    /// `OBJECT geojson`, `GET key id`, `SECTOR` (as a polygon), a buffered shape; with the
    /// edge index of a large polygonal one ([`Area::shape`]).
    Shape(Box<Geometry>, Option<Arc<LazyLocator>>),
}

/// An area reduced to what its predicates need (a point or rectangle held as a shape is
/// treated as that point or rectangle).
enum View<'a> {
    Point(f64, f64),
    Cap(Cap),
    Rect(Rect),
    Shape(&'a geo::Geometry<f64>, Rect, Option<&'a LazyLocator>),
}

impl Area {
    /// A shape area; a polygon with many edges gets their index once a search has tested
    /// enough points against it (`super::locate`).
    pub fn shape(g: Geometry) -> Area {
        let locator = match &g {
            Geometry::Object(o) => LazyLocator::new(&o.shape).map(Arc::new),
            _ => None,
        };
        Area::Shape(Box::new(g), locator)
    }

    /// `TILE x y z`: the web-mercator (XYZ) tile; `invalid argument '<value>'` for a zoom over
    /// 30 or a column/row outside `0..2^z`.
    pub fn tile(x: u64, y: u64, z: u64) -> Result<Area, GeoError> {
        tile::tile_rect(x, y, z).map(Area::Rect)
    }

    /// `QUADKEY key`: the Bing tile; `invalid argument '<key>'` for a digit outside `0`-`3` or
    /// more than 30 digits, `invalid number of arguments` when empty.
    pub fn quadkey(qk: &str) -> Result<Area, GeoError> {
        tile::quadkey_rect(qk).map(Area::Rect)
    }

    /// `HASH geohash`: the geohash cell; `invalid geohash` for a bad hash.
    pub fn hash(h: &str) -> Result<Area, GeoError> {
        geohash_bounds(h).map(Area::Rect)
    }

    /// `SECTOR lat lon meters bearing1 bearing2`: Tile38's pie slice, clockwise from
    /// `bearing1` to `bearing2`. Errors: `equal bearings (b1 == b2), use CIRCLE instead`
    /// (Tile38 quotes the raw arguments there), `invalid argument '<value>'`.
    pub fn sector(
        lat: f64,
        lon: f64,
        meters: f64,
        bearing1: f64,
        bearing2: f64,
    ) -> Result<Area, GeoError> {
        let g = shapes::sector(lat, lon, meters, bearing1, bearing2)?;
        Ok(Area::shape(g))
    }

    /// `BUFFER meters`: the area grown by `meters` (unchanged for zero, negative or NaN).
    /// A point becomes a circle and a circle a larger one (both exact); a rectangle grows to
    /// the rectangle holding every point within `meters` of it (exact bounds, square corners,
    /// all longitudes if that reaches a pole or the antimeridian); any other shape gets
    /// `geo`'s round-joined planar buffer in a local equirectangular projection about its
    /// bounding-box centre (close to `meters` for shapes spanning a few degrees; longitudes
    /// are not wrapped).
    pub fn with_buffer(self, meters: f64) -> Area {
        if meters.is_nan() || meters <= 0.0 {
            return self;
        }
        match self.view() {
            View::Point(lat, lon) => Area::Circle { lat, lon, meters },
            View::Cap(c) => Area::Circle {
                lat: c.lat,
                lon: c.lon,
                meters: c.meters + meters,
            },
            View::Rect(r) => Area::Rect(buffer_rect(&r, meters)),
            View::Shape(s, bbox, _) => Area::shape(shapes::buffered(s, &bbox, meters)),
        }
    }

    /// A rectangle covering the whole area (to query the R-tree). For a circle, the exact
    /// bounding box of the spherical cap (padded by about 0.1 mm), spanning all longitudes
    /// when it holds a pole or crosses the antimeridian.
    pub fn bbox(&self) -> Rect {
        match self.view() {
            View::Point(lat, lon) => Rect::point(lat, lon),
            View::Cap(c) => c.bbox(),
            View::Rect(r) => r,
            View::Shape(_, bbox, _) => bbox,
        }
    }

    /// INTERSECTS: does the object share any point with the area (edges included)?
    pub fn intersects(&self, g: &Geometry) -> bool {
        match self.view() {
            View::Point(lat, lon) => match g {
                Geometry::Point { .. } | Geometry::PointZ { .. } => g.center() == (lat, lon),
                Geometry::Bounds(r) => r.contains_point(lat, lon),
                Geometry::Object(o) => {
                    o.bbox.contains_point(lat, lon)
                        && o.shape.intersects(&geo::Point::new(lon, lat))
                }
            },
            View::Cap(c) => c.intersects(g),
            View::Rect(r) => match g {
                Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                    r.contains_point(*lat, *lon)
                }
                Geometry::Bounds(b) => r.intersects(b),
                Geometry::Object(o) => {
                    r.intersects(&o.bbox)
                        && (r.contains_rect(&o.bbox) || rect_shape(&r).intersects(&o.shape))
                }
            },
            View::Shape(s, bbox, locator) => {
                if !bbox.intersects(&g.bbox()) {
                    return false;
                }
                match g {
                    Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                        shape_covers_point(s, locator, *lat, *lon)
                    }
                    _ => s.intersects(&*predicate_shape(g)),
                }
            }
        }
    }

    /// WITHIN: is the object entirely inside the area (edges included)? For a circle, every
    /// vertex of the object must be within the radius (see [`Cap`]); for a rectangle, the
    /// object's bounding box must be inside it (exact); for a shape, every part of the object
    /// must be covered (`geo`'s `Covers`) by one member of the area, as Tile38 tests
    /// collections and multi-geometries.
    pub fn contains(&self, g: &Geometry) -> bool {
        match self.view() {
            View::Point(lat, lon) => g.bbox() == Rect::point(lat, lon),
            View::Cap(c) => c.contains(g),
            View::Rect(r) => r.contains_rect(&g.bbox()),
            View::Shape(s, bbox, locator) => {
                if !bbox.contains_rect(&g.bbox()) {
                    return false;
                }
                match g {
                    Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                        shape_covers_point(s, locator, *lat, *lon)
                    }
                    _ => covers_away_from_boundary(s, &g.bbox())
                        .unwrap_or_else(|| covers_parts(s, &predicate_shape(g))),
                }
            }
        }
    }

    /// The area as a geometry (TEST's first operand): a circle becomes Tile38's 64-sided
    /// polygon of points at the radius.
    pub fn to_geometry(&self) -> Geometry {
        match self {
            Area::Point { lat, lon } => Geometry::Point {
                lat: *lat,
                lon: *lon,
            },
            Area::Rect(r) => Geometry::Bounds(*r),
            Area::Shape(g, _) => (**g).clone(),
            Area::Circle { lat, lon, meters } => {
                const STEPS: usize = 64;
                let mut json = String::from(r#"{"type":"Polygon","coordinates":[["#);
                for i in 0..=STEPS {
                    let bearing = 360.0 * (i % STEPS) as f64 / STEPS as f64;
                    let (plat, plon) =
                        super::cap::destination(*lat, *lon, *meters, bearing, EARTH_RADIUS_METERS);
                    if i > 0 {
                        json.push(',');
                    }
                    json.push('[');
                    super::fmt_coord(plon, &mut json);
                    json.push(',');
                    super::fmt_coord(plat.clamp(-90.0, 90.0), &mut json);
                    json.push(']');
                }
                json.push_str("]]}");
                Geometry::from_geojson(&json).unwrap_or(Geometry::Point {
                    lat: *lat,
                    lon: *lon,
                })
            }
        }
    }

    fn view(&self) -> View<'_> {
        match self {
            Area::Point { lat, lon } => View::Point(*lat, *lon),
            Area::Circle { lat, lon, meters } => View::Cap(Cap {
                lat: *lat,
                lon: *lon,
                meters: *meters,
            }),
            Area::Rect(r) => View::Rect(*r),
            Area::Shape(g, locator) => match &**g {
                Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                    View::Point(*lat, *lon)
                }
                Geometry::Bounds(r) => View::Rect(*r),
                Geometry::Object(o) => match &o.shape {
                    geo::Geometry::Point(p) => View::Point(p.y(), p.x()),
                    s => View::Shape(s, o.bbox, locator.as_deref()),
                },
            },
        }
    }
}

/// Whether a point is in a shape or on its boundary: by the shape's edge index once it has
/// one ([`LazyLocator`]), else edge by edge.
fn shape_covers_point(
    s: &geo::Geometry<f64>,
    locator: Option<&LazyLocator>,
    lat: f64,
    lon: f64,
) -> bool {
    match locator.and_then(|l| l.get(s)) {
        Some(index) => index.covers(lon, lat),
        None => s.intersects(&geo::Point::new(lon, lat)),
    }
}

/// Whether every part of `g` (the members of collections and multi-geometries) is covered by
/// one member of `area`.
/// WITHIN a polygonal area for an object whose bounding box no edge of the area touches: the
/// box is then wholly inside the area or wholly outside it, so one point of it decides, with
/// no DE-9IM matrix (`Covers` between polygons costs microseconds; this costs a box test per
/// edge). None when an edge comes near the box, or the area is not polygons (a point or line
/// member would not be an edge of a region).
fn covers_away_from_boundary(area: &geo::Geometry<f64>, bbox: &Rect) -> Option<bool> {
    use geo::{BoundingRect, LinesIter};
    let near = |l: geo::Line<f64>| {
        let e = l.bounding_rect();
        e.min().x <= bbox.max_lon
            && e.max().x >= bbox.min_lon
            && e.min().y <= bbox.max_lat
            && e.max().y >= bbox.min_lat
    };
    let touched = match area {
        geo::Geometry::Polygon(p) => p.lines_iter().any(near),
        geo::Geometry::MultiPolygon(m) => m.lines_iter().any(near),
        _ => return None,
    };
    if touched {
        return None;
    }
    let (lat, lon) = bbox.center();
    Some(area.intersects(&geo::Point::new(lon, lat)))
}

fn covers_parts(area: &geo::Geometry<f64>, g: &geo::Geometry<f64>) -> bool {
    use geo::Geometry as G;
    match g {
        G::GeometryCollection(c) => c.iter().all(|m| covers_parts(area, m)),
        G::MultiPolygon(m) => m.iter().all(|p| member_covers(area, p)),
        G::MultiLineString(m) => m.iter().all(|l| member_covers(area, l)),
        G::MultiPoint(m) => m.iter().all(|p| member_covers(area, p)),
        other => member_covers(area, other),
    }
}

/// Whether one member of `area` (itself, if it is not a collection or multi-geometry) covers
/// `part`.
fn member_covers<P>(area: &geo::Geometry<f64>, part: &P) -> bool
where
    geo::Geometry<f64>: Covers<P>,
    geo::Polygon<f64>: Covers<P>,
    geo::LineString<f64>: Covers<P>,
    geo::Point<f64>: Covers<P>,
{
    use geo::Geometry as G;
    match area {
        G::GeometryCollection(c) => c.iter().any(|m| member_covers(m, part)),
        G::MultiPolygon(m) => m.iter().any(|p| p.covers(part)),
        G::MultiLineString(m) => m.iter().any(|l| l.covers(part)),
        G::MultiPoint(m) => m.iter().any(|p| p.covers(part)),
        other => other.covers(part),
    }
}

/// The rectangle holding every point within `meters` of `r`: the union of `r` with the cap
/// boxes of its corners (the widest longitude reach is at a corner's latitude).
fn buffer_rect(r: &Rect, meters: f64) -> Rect {
    [
        (r.min_lat, r.min_lon),
        (r.min_lat, r.max_lon),
        (r.max_lat, r.min_lon),
        (r.max_lat, r.max_lon),
    ]
    .into_iter()
    .map(|(lat, lon)| Cap { lat, lon, meters }.bbox())
    .fold(*r, |acc, b| acc.union(&b))
}

/// A rectangle as the simplest `geo` shape (a zero-size one as a point or line, which `geo`'s
/// predicates handle more robustly than a degenerate rectangle).
fn rect_shape(r: &Rect) -> geo::Geometry<f64> {
    let (min, max) = (
        geo::Coord {
            x: r.min_lon,
            y: r.min_lat,
        },
        geo::Coord {
            x: r.max_lon,
            y: r.max_lat,
        },
    );
    if min == max {
        geo::Geometry::Point(min.into())
    } else if min.x == max.x || min.y == max.y {
        geo::Geometry::Line(geo::Line::new(min, max))
    } else {
        geo::Geometry::Rect(r.to_geo())
    }
}

/// The object's shape for `geo` predicates (rectangles via [`rect_shape`]).
pub(super) fn predicate_shape(g: &Geometry) -> Cow<'_, geo::Geometry<f64>> {
    match g {
        Geometry::Bounds(r) => Cow::Owned(rect_shape(r)),
        other => other.shape(),
    }
}

/// Lower bound, in metres on the sphere (same haversine as [`haversine_meters`]), of the
/// distance from `(lat, lon)` to any point of `r`; 0 when the point is inside. Longitudes are
/// compared the shortest way round (across the antimeridian too). The closest point of a
/// latitude/longitude box is on the point's own meridian when the box spans its longitude,
/// else on one of the box's two meridian edges, where it is found in closed form.
pub fn point_rect_min_meters(lat: f64, lon: f64, r: &Rect) -> f64 {
    if !(r.min_lat <= r.max_lat && r.min_lon <= r.max_lon) {
        return 0.0;
    }
    let d = if spans_lon(r, lon) {
        let nearest = lat.clamp(r.min_lat, r.max_lat);
        if nearest == lat {
            return 0.0;
        }
        haversine_meters(lat, lon, nearest, lon)
    } else {
        meridian_min(lat, lon, r.min_lon, r).min(meridian_min(lat, lon, r.max_lon, r))
    };
    shave(d)
}

/// A cheaper lower bound than [`point_rect_min_meters`], for the NEARBY walk, which computes
/// one for every child of every node it opens, so it does no trigonometry: `cos_lat` is the
/// query latitude's cosine, computed once per query. When the box spans the point's longitude
/// it is the same as the exact bound (R·|Δφ|); when the box is at most 90° of longitude away it
/// is the larger of the latitude gap and a lower bound of the distance to the great circle of
/// the box's nearest meridian edge, asin(cos φ · sin Δλ) ≥ cos φ · (Δλ − Δλ³/6) (no point of
/// the box is closer than that circle, asin x ≥ x and sin x ≥ x − x³/6). That is exact for
/// boxes level with the point and at worst about √2 below the true minimum at a corner.
/// A box more than 90° of longitude away lies beyond the great circle through the poles 90°
/// from the point, which is π/2 − |φ| away; that constant (with the latitude gap) bounds it.
/// It is loose for such boxes, but they matter only when the answers are a quarter of the
/// globe away, and the exact minimum costs an atan2, sines and cosines per box.
pub fn point_rect_lower_bound_meters(lat: f64, cos_lat: f64, lon: f64, r: &Rect) -> f64 {
    if !(r.min_lat <= r.max_lat && r.min_lon <= r.max_lon) {
        return 0.0;
    }
    let lat_gap = (lat.clamp(r.min_lat, r.max_lat) - lat).abs().to_radians();
    gaps_lower_bound_meters(lat, cos_lat, lat_gap, lon_gap(r, lon).unwrap_or(0.0))
}

/// [`point_rect_lower_bound_meters`] of the box reaching `slack` degrees either way of the
/// point `(plat, plon)` (a stored point's cover box), the same quantity without building the
/// box or testing its wrap: the NEARBY walk bounds every entry of every page it opens.
/// Branch-free, so a loop over a page's points ([`point_box_lower_bounds_meters`]) runs in
/// vector registers.
#[inline(always)]
pub fn point_box_lower_bound_meters(
    lat: f64,
    cos_lat: f64,
    lon: f64,
    (plat, plon): (f64, f64),
    slack: f64,
) -> f64 {
    let lat_gap = ((plat - lat).abs() - slack).max(0.0).to_radians();
    let d_lon = shortest_lon_gap(lon, plon) - slack;
    gaps_lower_bound_meters(lat, cos_lat, lat_gap, d_lon)
}

/// [`point_box_lower_bound_meters`] of each stored point `(lon, lat)` of `pts`, into `out`.
pub fn point_box_lower_bounds_meters(
    lat: f64,
    cos_lat: f64,
    lon: f64,
    pts: &[([f32; 2], u32)],
    slack: f64,
    out: &mut [f64],
) {
    for (o, &(p, _)) in out.iter_mut().zip(pts) {
        let at = (f64::from(p[1]), f64::from(p[0]));
        *o = point_box_lower_bound_meters(lat, cos_lat, lon, at, slack);
    }
}

/// The cheap bound from a point at `lat` to a box `lat_gap` radians of latitude and `d_lon`
/// degrees of longitude away (`d_lon` ≤ 0: the box spans the point's meridian, and the
/// latitude gap is the bound). Branch-free: the choices are selects.
#[inline(always)]
fn gaps_lower_bound_meters(lat: f64, cos_lat: f64, lat_gap: f64, d_lon: f64) -> f64 {
    let x = d_lon.max(0.0).to_radians();
    let near = cos_lat * (x - x * x * x * (1.0 / 6.0));
    let far = FRAC_PI_2 - lat.abs().to_radians();
    let circle = if d_lon > 90.0 { far } else { near };
    shave(EARTH_RADIUS_METERS * lat_gap.max(circle))
}

/// Upper bound, in metres on the sphere, of the distance from `(lat, lon)` to any point of
/// `r`, for a resumed NEARBY walk that prunes what is wholly nearer than where it stopped.
/// The farthest point of the box is the one nearest the antipode, so for a box of some size
/// it is πR less the exact lower bound from the antipode ([`point_rect_min_meters`]). A small
/// box (a stored point's) takes a cheaper one, the haversine distance to its centre plus a
/// path from the centre to any point of the box, along the centre's meridian and then a
/// parallel, at most R·(half height + half width) in radians long. Inflated a hair so
/// rounding cannot bring it below the true maximum.
pub fn point_rect_upper_bound_meters(lat: f64, lon: f64, r: &Rect) -> f64 {
    let extent = (r.max_lat - r.min_lat) + (r.max_lon - r.min_lon);
    let d = if extent < SMALL_BOX_DEGREES {
        let (clat, clon) = r.center();
        haversine_meters(lat, lon, clat, clon) + EARTH_RADIUS_METERS * extent.to_radians() / 2.0
    } else {
        let anti_lon = if lon > 0.0 { lon - 180.0 } else { lon + 180.0 };
        EARTH_RADIUS_METERS * PI - point_rect_min_meters(-lat, anti_lon, r)
    };
    if d.is_nan() {
        f64::INFINITY
    } else {
        d * (1.0 + 1e-9) + 1e-6
    }
}

/// A box at most this wide plus high (degrees) is small: [`point_rect_upper_bound_meters`]
/// takes its cheap form.
const SMALL_BOX_DEGREES: f64 = 0.01;

/// The least [`point_rect_lower_bound_meters`] from latitude `lat` of a box more than 90° of
/// longitude away (R·(π/2 − |φ|), shaved): nearer bounds need no refining.
pub fn far_bound_meters(lat: f64) -> f64 {
    shave(EARTH_RADIUS_METERS * (FRAC_PI_2 - lat.abs().to_radians())) * (1.0 - 1e-9)
}

/// The exact lower bound ([`point_rect_min_meters`]) for a box that
/// [`point_rect_lower_bound_meters`] bounds loosely, more than 90° of longitude away (there
/// the cheap bound is one constant for every box, and a walk that reaches it would open them
/// all); None for the others, where the cheap bound is within a corner's √2.
pub fn point_rect_refined_lower_bound_meters(lat: f64, lon: f64, r: &Rect) -> Option<f64> {
    let d_lon = lon_gap(r, lon)?;
    (d_lon > 90.0).then(|| point_rect_min_meters(lat, lon, r))
}

/// Degrees of longitude from `lon` to the nearer meridian edge of `r`, the shortest way
/// round; None when `r` spans `lon`.
fn lon_gap(r: &Rect, lon: f64) -> Option<f64> {
    if spans_lon(r, lon) {
        return None;
    }
    Some(shortest_lon_gap(lon, r.min_lon).min(shortest_lon_gap(lon, r.max_lon)))
}

/// True when `r` spans longitude `lon`, taken the shortest way round.
#[inline]
fn spans_lon(r: &Rect, lon: f64) -> bool {
    // `&` and `|`, not `&&` and `||`: six compares beat three unpredictable branches in
    // the NEARBY walk, which asks this of every child of every node it opens.
    let spans = |x: f64| (r.min_lon <= x) & (x <= r.max_lon);
    spans(lon) | spans(lon - 360.0) | spans(lon + 360.0)
}

/// Shaves a hair off a bound so rounding can never lift it above the true minimum.
#[inline(always)]
fn shave(d: f64) -> f64 {
    let shaved = d * (1.0 - 1e-12);
    if d.is_nan() {
        0.0
    } else {
        shaved
    }
}

/// Degrees of longitude from `a` to `b` the shortest way round, in [0, 180] (both in
/// [-180, 180], as stored longitudes are).
#[inline]
fn shortest_lon_gap(a: f64, b: f64) -> f64 {
    let g = (b - a).abs();
    // `g` itself up to 180°, else the way round (a select, not a branch).
    g.min(360.0 - g)
}

/// The smallest haversine distance from `(lat, lon)` to the meridian segment at `edge_lon`
/// between `r`'s latitudes. Along a meridian, cos(distance) = A·sin ψ + B·cos ψ, which peaks
/// at ψ0 = atan2(A, B); the segment's minimum is at ψ0 if it lies inside, else at an end.
fn meridian_min(lat: f64, lon: f64, edge_lon: f64, r: &Rect) -> f64 {
    let phi = lat.to_radians();
    let a = phi.sin();
    let b = phi.cos() * (edge_lon - lon).to_radians().cos();
    let peak = a.atan2(b).to_degrees();
    let at = |psi: f64| haversine_meters(lat, lon, psi, edge_lon);
    let ends = at(r.min_lat).min(at(r.max_lat));
    if (r.min_lat..=r.max_lat).contains(&peak) {
        ends.min(at(peak))
    } else {
        ends
    }
}

/// Distance in metres from `(lat, lon)` to a geometry as NEARBY reports it (Tile38): the
/// haversine distance to the object's centre (the point itself, or its bounding-box centre).
pub fn distance_to(lat: f64, lon: f64, g: &Geometry) -> f64 {
    let (clat, clon) = g.center();
    haversine_meters(lat, lon, clat, clon)
}

#[cfg(test)]
#[path = "area_tests.rs"]
mod tests;
