//! Geometry: the shapes objects are made of, parsing them from SET arguments and GeoJSON,
//! rendering them back to GeoJSON text, bounding boxes, centres, geohashes and distances.
//!
//! Pure code over `geo` and `serde_json` (geohash and the trigonometry are implemented here).
//! It must not know commands, the store, the AOF or any wire protocol; errors carry Tile38's
//! message text (without the `ERR ` prefix).

mod area;
mod cap;
mod cephes;
mod clip;
mod coords;
mod hash;
mod json;
mod locate;
mod rawjson;
mod shapes;
mod tile;

use std::borrow::Cow;
use std::fmt::Write as _;

pub use area::{
    distance_to, far_bound_meters, point_box_lower_bound_meters, point_box_lower_bounds_meters,
    point_rect_lower_bound_meters, point_rect_min_meters, point_rect_refined_lower_bound_meters,
    point_rect_upper_bound_meters, Area,
};
pub use clip::clip_to_rect;
pub use hash::{geohash_bounds, geohash_decode, geohash_decode_center, geohash_encode};
pub use tile::MERCATOR_MAX_LATITUDE;

/// A geometry error, with the message a client sees (e.g. `invalid coordinates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoError(pub String);

/// An axis-aligned rectangle in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

/// A parsed GeoJSON object that is not a plain point.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoObject {
    /// The geometry used for spatial predicates (for a Feature, its geometry; for a
    /// FeatureCollection or GeometryCollection, a GeometryCollection of the members).
    pub shape: geo::Geometry<f64>,
    /// The object rendered as compact GeoJSON text (Feature properties and member order kept).
    pub json: Box<str>,
    /// Bounding box of every coordinate.
    pub bbox: Rect,
    /// Number of coordinate positions (STATS num_points).
    pub num_points: usize,
}

/// A spatial object's geometry. Plain points are kept inline; everything else is boxed so the
/// common case stays small.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point { lat: f64, lon: f64 },
    PointZ { lat: f64, lon: f64, z: f64 },
    Bounds(Rect),
    Object(Box<GeoObject>),
}

/// Earth's mean radius in metres, as Tile38 uses it.
pub const EARTH_RADIUS_METERS: f64 = 6371e3;

impl std::fmt::Display for GeoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GeoError {}

fn invalid_coordinates() -> GeoError {
    GeoError("invalid coordinates".to_string())
}

fn valid_lat(lat: f64) -> bool {
    lat.is_finite() && (-90.0..=90.0).contains(&lat)
}

fn valid_lon(lon: f64) -> bool {
    lon.is_finite() && (-180.0..=180.0).contains(&lon)
}

impl Rect {
    /// A zero-size rectangle at one point.
    pub fn point(lat: f64, lon: f64) -> Rect {
        Rect {
            min_lat: lat,
            min_lon: lon,
            max_lat: lat,
            max_lon: lon,
        }
    }

    /// Appends the rectangle as a GeoJSON Polygon, ring counter-clockwise from the min corner.
    pub fn to_geojson_polygon(&self, out: &mut String) {
        let corners = [
            (self.min_lon, self.min_lat),
            (self.max_lon, self.min_lat),
            (self.max_lon, self.max_lat),
            (self.min_lon, self.max_lat),
            (self.min_lon, self.min_lat),
        ];
        out.push_str(r#"{"type":"Polygon","coordinates":[["#);
        for (i, (x, y)) in corners.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            fmt_coord(*x, out);
            out.push(',');
            fmt_coord(*y, out);
            out.push(']');
        }
        out.push_str("]]}");
    }

    /// The centre as `(lat, lon)`.
    pub fn center(&self) -> (f64, f64) {
        (
            (self.min_lat + self.max_lat) / 2.0,
            (self.min_lon + self.max_lon) / 2.0,
        )
    }

    /// The smallest rectangle covering both.
    pub fn union(&self, other: &Rect) -> Rect {
        Rect {
            min_lat: self.min_lat.min(other.min_lat),
            min_lon: self.min_lon.min(other.min_lon),
            max_lat: self.max_lat.max(other.max_lat),
            max_lon: self.max_lon.max(other.max_lon),
        }
    }

    /// Whether the two rectangles share any point (edges included).
    pub fn intersects(&self, other: &Rect) -> bool {
        self.min_lat <= other.max_lat
            && self.max_lat >= other.min_lat
            && self.min_lon <= other.max_lon
            && self.max_lon >= other.min_lon
    }

    /// Whether `other` lies entirely inside this rectangle (edges included).
    pub fn contains_rect(&self, other: &Rect) -> bool {
        self.min_lat <= other.min_lat
            && self.max_lat >= other.max_lat
            && self.min_lon <= other.min_lon
            && self.max_lon >= other.max_lon
    }

    /// Whether the point lies inside this rectangle (edges included).
    pub fn contains_point(&self, lat: f64, lon: f64) -> bool {
        self.contains_rect(&Rect::point(lat, lon))
    }

    /// The rectangle as a `geo` shape (x = lon, y = lat).
    pub fn to_geo(&self) -> geo::Rect<f64> {
        geo::Rect::new(
            geo::Coord {
                x: self.min_lon,
                y: self.min_lat,
            },
            geo::Coord {
                x: self.max_lon,
                y: self.max_lat,
            },
        )
    }
}

impl Geometry {
    /// `POINT lat lon [z]`. Errors with `invalid coordinates` for non-finite values or a
    /// latitude/longitude out of range; callers wanting Tile38's `invalid argument '...'`
    /// text map the error themselves, as they hold the raw argument.
    pub fn point(lat: f64, lon: f64, z: Option<f64>) -> Result<Geometry, GeoError> {
        if !valid_lat(lat) || !valid_lon(lon) {
            return Err(invalid_coordinates());
        }
        match z {
            None => Ok(Geometry::Point { lat, lon }),
            Some(z) if z.is_finite() => Ok(Geometry::PointZ { lat, lon, z }),
            Some(_) => Err(invalid_coordinates()),
        }
    }

    /// `BOUNDS minlat minlon maxlat maxlon`; `invalid coordinates` when out of range or
    /// when a minimum exceeds its maximum.
    pub fn bounds(
        min_lat: f64,
        min_lon: f64,
        max_lat: f64,
        max_lon: f64,
    ) -> Result<Geometry, GeoError> {
        let in_range =
            valid_lat(min_lat) && valid_lat(max_lat) && valid_lon(min_lon) && valid_lon(max_lon);
        if !in_range || min_lat > max_lat || min_lon > max_lon {
            return Err(invalid_coordinates());
        }
        Ok(Geometry::Bounds(Rect {
            min_lat,
            min_lon,
            max_lat,
            max_lon,
        }))
    }

    /// `HASH geohash`: the point Tile38 stores for a geohash, which is its decoder's rounded
    /// point inside the cell (see [`geohash_decode`]); `invalid geohash` for a bad hash.
    pub fn from_geohash(hash: &str) -> Result<Geometry, GeoError> {
        let (lat, lon) = geohash_decode(hash)?;
        Ok(Geometry::Point { lat, lon })
    }

    /// Parses any GeoJSON object. A bare `Point` (only `type` and `coordinates`, 2 or 3
    /// values) becomes [`Geometry::Point`]/[`Geometry::PointZ`]; everything else an object.
    pub fn from_geojson(text: &str) -> Result<Geometry, GeoError> {
        json::from_geojson(text)
    }

    /// Appends the geometry as compact GeoJSON text.
    pub fn to_geojson(&self, out: &mut String) {
        match self {
            Geometry::Point { lat, lon } => write_point_json(*lon, *lat, None, out),
            Geometry::PointZ { lat, lon, z } => write_point_json(*lon, *lat, Some(*z), out),
            Geometry::Bounds(r) => r.to_geojson_polygon(out),
            Geometry::Object(o) => out.push_str(&o.json),
        }
    }

    /// The geometry as compact GeoJSON text.
    pub fn geojson_string(&self) -> String {
        let mut out = String::new();
        self.to_geojson(&mut out);
        out
    }

    /// Bounding box of every coordinate.
    pub fn bbox(&self) -> Rect {
        match self {
            Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                Rect::point(*lat, *lon)
            }
            Geometry::Bounds(r) => *r,
            Geometry::Object(o) => o.bbox,
        }
    }

    /// `(lat, lon)`: the point itself for points, else the bounding box centre.
    pub fn center(&self) -> (f64, f64) {
        match self {
            Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => (*lat, *lon),
            Geometry::Bounds(r) => r.center(),
            Geometry::Object(o) => match &o.shape {
                geo::Geometry::Point(p) => (p.y(), p.x()),
                _ => o.bbox.center(),
            },
        }
    }

    /// Number of coordinate positions, as Tile38 counts them (a rectangle counts 2).
    pub fn num_points(&self) -> usize {
        match self {
            Geometry::Point { .. } | Geometry::PointZ { .. } => 1,
            Geometry::Bounds(_) => 2,
            Geometry::Object(o) => o.num_points,
        }
    }

    /// True for the inline point variants (a GeoJSON Point carrying extra members or an M
    /// value is an [`Geometry::Object`] and answers false).
    pub fn is_point(&self) -> bool {
        matches!(self, Geometry::Point { .. } | Geometry::PointZ { .. })
    }

    /// The z value of a [`Geometry::PointZ`]; `None` for everything else.
    pub fn z(&self) -> Option<f64> {
        match self {
            Geometry::PointZ { z, .. } => Some(*z),
            _ => None,
        }
    }

    /// The shape for spatial predicates (x = lon, y = lat); borrowed for objects.
    pub fn shape(&self) -> Cow<'_, geo::Geometry<f64>> {
        match self {
            Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } => {
                Cow::Owned(geo::Geometry::Point(geo::Point::new(*lon, *lat)))
            }
            Geometry::Bounds(r) => Cow::Owned(geo::Geometry::Rect(r.to_geo())),
            Geometry::Object(o) => Cow::Borrowed(&o.shape),
        }
    }
}

fn write_point_json(lon: f64, lat: f64, z: Option<f64>, out: &mut String) {
    out.push_str(r#"{"type":"Point","coordinates":["#);
    fmt_coord(lon, out);
    out.push(',');
    fmt_coord(lat, out);
    if let Some(z) = z {
        out.push(',');
        fmt_coord(z, out);
    }
    out.push_str("]}");
}

/// Appends `x` as the shortest decimal that round-trips, never in exponent notation (Go's
/// `strconv.FormatFloat(x, 'f', -1, 64)`). Non-finite values, which valid geometry never
/// holds, render as JSON `null` as Tile38 does.
pub fn fmt_coord(x: f64, out: &mut String) {
    if x.is_finite() {
        let _ = write!(out, "{x}");
    } else {
        out.push_str("null");
    }
}

/// Great-circle distance in metres by the haversine formula (Tile38's `geo.DistanceTo`),
/// bit-identical to Tile38's result (sine, cosine and arcsine follow Go's `math`).
pub fn haversine_meters(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    HaversineFrom::new(lat1, lon1).meters(lat2, lon2)
}

/// [`haversine_meters`] from one point to many, with that point's cosine computed once
/// (NEARBY's exact distances); the same operations in the same order, so the same bits.
#[derive(Debug, Clone, Copy)]
pub struct HaversineFrom {
    p1: f64,
    lon1: f64,
    cos_p1: f64,
}

impl HaversineFrom {
    pub fn new(lat1: f64, lon1: f64) -> HaversineFrom {
        let p1 = lat1.to_radians();
        HaversineFrom {
            p1,
            lon1: lon1.to_radians(),
            cos_p1: cephes::cos(p1),
        }
    }

    /// Metres to `(lat2, lon2)`.
    pub fn meters(&self, lat2: f64, lon2: f64) -> f64 {
        let p2 = lat2.to_radians();
        let d_lat = p2 - self.p1;
        let d_lon = lon2.to_radians() - self.lon1;
        let s_lat = cephes::sin(d_lat / 2.0);
        let s_lon = cephes::sin(d_lon / 2.0);
        let h = s_lat * s_lat + self.cos_p1 * cephes::cos(p2) * s_lon * s_lon;
        EARTH_RADIUS_METERS * 2.0 * cephes::asin(h.sqrt())
    }
}

/// The bounding box of the circle of `meters` around a point (Tile38's
/// `geo.RectFromCenter`): clamped at the poles, widened to all longitudes when it wraps.
pub fn rect_from_center(lat: f64, lon: f64, meters: f64) -> Rect {
    use std::f64::consts::{FRAC_PI_2, PI};
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    let r = meters / EARTH_RADIUS_METERS;
    let (mut min_lat, mut max_lat) = (lat - r, lat + r);
    let (mut min_lon, mut max_lon) = (lon, lon);
    let r_cos = r.cos();
    if r_cos <= 0.999999999999999 {
        let (lat_sin, lat_cos) = lat.sin_cos();
        let lat_t = (lat_sin / r_cos).asin();
        let (lat_t_sin, lat_t_cos) = lat_t.sin_cos();
        let lon_d = ((r_cos - lat_t_sin * lat_sin) / (lat_t_cos * lat_cos)).acos();
        (min_lon, max_lon) = (lon - lon_d, lon + lon_d);
    } else {
        (min_lat, max_lat) = (lat, lat);
    }
    if max_lat > FRAC_PI_2 {
        (min_lon, max_lat, max_lon) = (-PI, FRAC_PI_2, PI);
    }
    if min_lat < -FRAC_PI_2 {
        (min_lat, min_lon, max_lon) = (-FRAC_PI_2, -PI, PI);
    }
    if min_lon < -PI || max_lon > PI || min_lon.is_nan() || max_lon.is_nan() {
        (min_lon, max_lon) = (-PI, PI);
    }
    Rect {
        min_lat: min_lat.to_degrees(),
        min_lon: min_lon.to_degrees(),
        max_lat: max_lat.to_degrees(),
        max_lon: max_lon.to_degrees(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coord(x: f64) -> String {
        let mut s = String::new();
        fmt_coord(x, &mut s);
        s
    }

    #[test]
    fn fmt_coord_cases() {
        assert_eq!(coord(33.0), "33");
        assert_eq!(coord(33.5123), "33.5123");
        assert_eq!(coord(-112.2693), "-112.2693");
        assert_eq!(coord(1e-7), "0.0000001");
        assert_eq!(coord(1e21), "1000000000000000000000");
        assert_eq!(coord(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(coord(f64::NAN), "null");
    }

    #[test]
    fn point_constructor_and_render() {
        let p = Geometry::point(33.5123, -112.2693, None).unwrap();
        assert_eq!(
            p.geojson_string(),
            r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#
        );
        assert!(p.is_point());
        assert_eq!(p.z(), None);
        assert_eq!(p.num_points(), 1);
        assert_eq!(p.center(), (33.5123, -112.2693));
        assert_eq!(p.bbox(), Rect::point(33.5123, -112.2693));

        let pz = Geometry::point(33.0, -112.0, Some(120.5)).unwrap();
        assert_eq!(
            pz.geojson_string(),
            r#"{"type":"Point","coordinates":[-112,33,120.5]}"#
        );
        assert_eq!(pz.z(), Some(120.5));
    }

    #[test]
    fn point_constructor_errors() {
        let bad = GeoError("invalid coordinates".into());
        assert_eq!(Geometry::point(95.0, 0.0, None), Err(bad.clone()));
        assert_eq!(Geometry::point(0.0, -180.5, None), Err(bad.clone()));
        assert_eq!(Geometry::point(f64::NAN, 0.0, None), Err(bad.clone()));
        assert_eq!(Geometry::point(0.0, 0.0, Some(f64::INFINITY)), Err(bad));
        assert!(Geometry::point(-90.0, 180.0, None).is_ok());
    }

    #[test]
    fn bounds_constructor_and_render() {
        let b = Geometry::bounds(33.0, -112.5, 34.25, -111.0).unwrap();
        assert_eq!(
            b.geojson_string(),
            r#"{"type":"Polygon","coordinates":[[[-112.5,33],[-111,33],[-111,34.25],[-112.5,34.25],[-112.5,33]]]}"#
        );
        assert_eq!(b.center(), (33.625, -111.75));
        assert_eq!(b.num_points(), 2);
        assert!(!b.is_point());
        let degenerate = Geometry::bounds(33.0, -115.0, 33.0, -115.0).unwrap();
        assert_eq!(
            degenerate.geojson_string(),
            r#"{"type":"Polygon","coordinates":[[[-115,33],[-115,33],[-115,33],[-115,33],[-115,33]]]}"#
        );
        assert_eq!(degenerate.center(), (33.0, -115.0));
        let bad = Err(GeoError("invalid coordinates".into()));
        assert_eq!(Geometry::bounds(34.0, 0.0, 33.0, 1.0), bad);
        assert_eq!(Geometry::bounds(0.0, 2.0, 1.0, 1.0), bad);
        assert_eq!(Geometry::bounds(-91.0, 0.0, 1.0, 1.0), bad);
    }

    #[test]
    fn rect_ops() {
        let a = Rect {
            min_lat: 0.0,
            min_lon: 0.0,
            max_lat: 1.0,
            max_lon: 1.0,
        };
        let b = Rect {
            min_lat: -1.0,
            min_lon: 0.5,
            max_lat: 0.5,
            max_lon: 2.0,
        };
        let u = a.union(&b);
        assert_eq!(
            u,
            Rect {
                min_lat: -1.0,
                min_lon: 0.0,
                max_lat: 1.0,
                max_lon: 2.0
            }
        );
        assert!(a.intersects(&b));
        assert!(u.contains_rect(&a));
        assert!(!a.contains_rect(&u));
        assert!(a.contains_point(1.0, 0.0));
        assert!(!a.contains_point(1.1, 0.0));
    }

    #[test]
    fn haversine_known_distance() {
        let d = haversine_meters(33.462, -112.268, 33.5123, -112.2693);
        assert!((d - 5594.403978121982).abs() < 1e-6, "{d}");
        // Exact values from Tile38's formula run in Go (amd64); libm's sin/cos would miss the
        // last digit of the last three.
        assert_eq!(coord(d), "5594.403978121274");
        let go = [
            (
                (37.42110000000001, -82.926, 38.16825000000001, -83.652934),
                "104794.38491548492",
            ),
            (
                (-57.34998, -76.59828, -58.259948, -75.863328),
                "110153.21782380779",
            ),
            (
                (-42.78636, -129.70368, -43.432574, -130.26655599999998),
                "85152.85586142611",
            ),
        ];
        for ((a, b, c, e), want) in go {
            assert_eq!(coord(haversine_meters(a, b, c, e)), want);
        }
        assert_eq!(haversine_meters(10.0, 20.0, 10.0, 20.0), 0.0);
    }

    #[test]
    fn rect_from_center_covers_circle() {
        let r = rect_from_center(33.462, -112.268, 10_000.0);
        let north = haversine_meters(33.462, -112.268, r.max_lat, -112.268);
        assert!((north - 10_000.0).abs() < 1e-3, "{north}");
        assert!(r.min_lon < -112.268 && r.max_lon > -112.268);
        assert!(r.contains_point(33.462, -112.268));
        let polar = rect_from_center(89.99, 0.0, 10_000.0);
        assert_eq!(
            (polar.max_lat, polar.min_lon, polar.max_lon),
            (90.0, -180.0, 180.0)
        );
        let tiny = rect_from_center(1.0, 2.0, 0.0);
        assert_eq!(tiny, Rect::point(1.0, 2.0));
    }

    #[test]
    fn shape_of_inline_variants() {
        let p = Geometry::point(1.0, 2.0, None).unwrap();
        assert_eq!(*p.shape(), geo::Geometry::Point(geo::Point::new(2.0, 1.0)));
        let b = Geometry::bounds(0.0, 0.0, 1.0, 2.0).unwrap();
        match &*b.shape() {
            geo::Geometry::Rect(r) => assert_eq!(r.max(), geo::Coord { x: 2.0, y: 1.0 }),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn geo_error_display() {
        assert_eq!(
            GeoError("invalid geohash".into()).to_string(),
            "invalid geohash"
        );
    }
}
