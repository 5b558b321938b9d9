//! Spherical caps: the CIRCLE search area (and NEARBY's radius) on the sphere of radius
//! [`EARTH_RADIUS_METERS`]. Points are tested exactly with [`haversine_meters`]; the bounding
//! box is the exact one of the cap (all longitudes when it holds a pole or crosses the
//! antimeridian); other objects are tested by their vertices (WITHIN), or by their vertices,
//! the centre and a 64-vertex polygon of the circle as Tile38 approximates it (INTERSECTS).

use geo::{Coord, CoordsIter, Intersects, LinesIter};

use super::area::predicate_shape;
use super::{haversine_meters, Geometry, Rect, EARTH_RADIUS_METERS};

/// Vertices of the circle polygon (Tile38's `defaultCircleSteps`).
const STEPS: usize = 64;

/// Slack added to the cap's bounding box, in degrees (about 0.1 mm), so that rounding in the
/// haversine formula never puts a point the cap contains outside its box.
const PAD_DEGREES: f64 = 1e-9;

/// A circle of `meters` around a centre, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cap {
    pub lat: f64,
    pub lon: f64,
    pub meters: f64,
}

/// The point `meters` from `(lat, lon)` along the initial `bearing` (degrees clockwise from
/// north) on a sphere of `radius` metres, as `(lat, lon)`. The longitude is not wrapped: it
/// stays within 180 degrees of `lon`.
pub(super) fn destination(
    lat: f64,
    lon: f64,
    meters: f64,
    bearing: f64,
    radius: f64,
) -> (f64, f64) {
    let (phi1, lambda1) = (lat.to_radians(), lon.to_radians());
    let (theta, delta) = (bearing.to_radians(), meters / radius);
    let (sin_phi1, cos_phi1) = phi1.sin_cos();
    let (sin_delta, cos_delta) = delta.sin_cos();
    let sin_phi2 = (sin_phi1 * cos_delta + cos_phi1 * sin_delta * theta.cos()).clamp(-1.0, 1.0);
    let phi2 = sin_phi2.asin();
    let lambda2 =
        lambda1 + (theta.sin() * sin_delta * cos_phi1).atan2(cos_delta - sin_phi1 * sin_phi2);
    (phi2.to_degrees(), lambda2.to_degrees())
}

/// Calls `f` with each edge of `s` until it returns false; false if it did.
pub(super) fn all_segments(
    s: &geo::Geometry<f64>,
    f: &mut impl FnMut(Coord, Coord) -> bool,
) -> bool {
    use geo::Geometry as G;
    let mut edge = |l: geo::Line<f64>| f(l.start, l.end);
    match s {
        G::Point(_) | G::MultiPoint(_) => true,
        G::Line(l) => edge(*l),
        G::LineString(ls) => ls.lines().all(edge),
        G::Polygon(p) => p.lines_iter().all(edge),
        G::MultiLineString(m) => m.lines_iter().all(edge),
        G::MultiPolygon(m) => m.lines_iter().all(edge),
        G::Rect(r) => r.lines_iter().all(edge),
        G::Triangle(t) => t.lines_iter().all(edge),
        G::GeometryCollection(c) => c.iter().all(|g| all_segments(g, f)),
    }
}

impl Cap {
    /// The angular radius in degrees.
    fn degrees(&self) -> f64 {
        (self.meters / EARTH_RADIUS_METERS).to_degrees()
    }

    /// Whether the point is within `meters` (haversine, edge included).
    pub fn contains_point(&self, lat: f64, lon: f64) -> bool {
        haversine_meters(self.lat, self.lon, lat, lon) <= self.meters
    }

    /// The smallest rectangle holding the cap (padded by [`PAD_DEGREES`]): all longitudes when
    /// it reaches a pole or crosses the antimeridian, latitudes clamped to ±90.
    pub fn bbox(&self) -> Rect {
        let r = self.degrees();
        let world = Rect {
            min_lat: -90.0,
            min_lon: -180.0,
            max_lat: 90.0,
            max_lon: 180.0,
        };
        if r.is_nan() || r >= 180.0 {
            return world;
        }
        let min_lat = self.lat - r - PAD_DEGREES;
        let max_lat = self.lat + r + PAD_DEGREES;
        if min_lat <= -90.0 || max_lat >= 90.0 {
            return Rect {
                min_lat: min_lat.max(-90.0),
                max_lat: max_lat.min(90.0),
                ..world
            };
        }
        let s = r.to_radians().sin() / self.lat.to_radians().cos();
        let d_lon = s.min(1.0).asin().to_degrees() + PAD_DEGREES;
        let (min_lon, max_lon) = (self.lon - d_lon, self.lon + d_lon);
        if s >= 1.0 || min_lon < -180.0 || max_lon > 180.0 {
            return Rect {
                min_lat,
                max_lat,
                ..world
            };
        }
        Rect {
            min_lat,
            min_lon,
            max_lat,
            max_lon,
        }
    }

    /// WITHIN: every vertex of the object, and every point where one of its edges crosses the
    /// meridian opposite the centre (where an edge can bulge out of a cap holding a pole), is
    /// within the circle. Exact for points, rectangles and edges along parallels or meridians.
    pub fn contains(&self, g: &Geometry) -> bool {
        if let Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } = g {
            return self.contains_point(*lat, *lon);
        }
        if !self.bbox().contains_rect(&g.bbox()) {
            return false;
        }
        let shape = predicate_shape(g);
        if !shape.coords_iter().all(|c| self.contains_point(c.y, c.x)) {
            return false;
        }
        let opposite = if self.lon > 0.0 {
            self.lon - 180.0
        } else {
            self.lon + 180.0
        };
        let meridians = [opposite, opposite - 360.0, opposite + 360.0];
        all_segments(&shape, &mut |a, b| {
            meridians.iter().all(|&x| {
                let crosses = (a.x - x) * (b.x - x) < 0.0;
                !crosses || self.contains_point(a.y + (x - a.x) / (b.x - a.x) * (b.y - a.y), x)
            })
        })
    }

    /// INTERSECTS: a vertex within the circle, the centre inside the object, or (failing both)
    /// the object meeting the 64-vertex polygon of the circle.
    pub fn intersects(&self, g: &Geometry) -> bool {
        if let Geometry::Point { lat, lon } | Geometry::PointZ { lat, lon, .. } = g {
            return self.contains_point(*lat, *lon);
        }
        if !self.bbox().intersects(&g.bbox()) {
            return false;
        }
        let shape = predicate_shape(g);
        if shape.coords_iter().any(|c| self.contains_point(c.y, c.x)) {
            return true;
        }
        if shape.intersects(&geo::Point::new(self.lon, self.lat)) {
            return true;
        }
        self.polygon().intersects(&*shape)
    }

    /// The circle as polygons in longitude/latitude with vertices every 360/64 degrees of
    /// bearing: one ring (plus copies shifted by 360 degrees when it crosses the antimeridian),
    /// a band from the boundary to the pole when it holds one pole, or the whole world when it
    /// holds both.
    pub fn polygon(&self) -> geo::MultiPolygon<f64> {
        let r = self.degrees();
        let lat = self.lat.abs();
        if r.is_nan() || r >= 90.0 + lat {
            return geo::MultiPolygon(vec![world().to_polygon()]);
        }
        if r >= 90.0 - lat {
            return geo::MultiPolygon(vec![self.polar_band()]);
        }
        let ring: Vec<Coord> = (0..STEPS)
            .map(|i| self.vertex(i))
            .map(|(y, x)| Coord { x, y })
            .collect();
        let min_x = ring.iter().map(|c| c.x).fold(f64::INFINITY, f64::min);
        let max_x = ring.iter().map(|c| c.x).fold(f64::NEG_INFINITY, f64::max);
        let mut polys = vec![polygon(ring.clone())];
        for (beyond, shift) in [(min_x < -180.0, 360.0), (max_x > 180.0, -360.0)] {
            if beyond {
                let moved = ring.iter().map(|c| Coord {
                    x: c.x + shift,
                    y: c.y,
                });
                polys.push(polygon(moved.collect()));
            }
        }
        geo::MultiPolygon(polys)
    }

    fn vertex(&self, i: usize) -> (f64, f64) {
        let bearing = i as f64 * 360.0 / STEPS as f64;
        destination(
            self.lat,
            self.lon,
            self.meters,
            bearing,
            EARTH_RADIUS_METERS,
        )
    }

    /// A cap holding one pole: the region between its boundary (a function of longitude) and
    /// that pole.
    fn polar_band(&self) -> geo::Polygon<f64> {
        let north = 90.0 - self.lat <= self.degrees();
        let pole = if north { 90.0 } else { -90.0 };
        let mut pts: Vec<Coord> = (0..STEPS)
            .map(|i| self.vertex(i))
            .map(|(y, x)| Coord { x: wrap(x), y })
            .collect();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        let (first, last) = (pts[0], pts[pts.len() - 1]);
        let gap = first.x + 360.0 - last.x;
        let seam = if gap > 0.0 {
            last.y + (first.y - last.y) * (180.0 - last.x) / gap
        } else {
            first.y
        };
        let mut ring = vec![Coord { x: -180.0, y: seam }];
        ring.extend(pts);
        ring.extend([
            Coord { x: 180.0, y: seam },
            Coord { x: 180.0, y: pole },
            Coord { x: -180.0, y: pole },
        ]);
        polygon(ring)
    }
}

fn polygon(ring: Vec<Coord>) -> geo::Polygon<f64> {
    geo::Polygon::new(geo::LineString(ring), vec![])
}

fn world() -> geo::Rect<f64> {
    geo::Rect::new(
        Coord {
            x: -180.0,
            y: -90.0,
        },
        Coord { x: 180.0, y: 90.0 },
    )
}

/// A longitude brought into `[-180, 180]`.
pub(super) fn wrap(lon: f64) -> f64 {
    if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;

    fn cap(lat: f64, lon: f64, meters: f64) -> Cap {
        Cap { lat, lon, meters }
    }

    #[test]
    fn destination_round_trip() {
        for bearing in [0.0, 45.0, 90.0, 200.0, 359.0] {
            let (lat, lon) = destination(33.0, -112.0, 10_000.0, bearing, EARTH_RADIUS_METERS);
            let d = haversine_meters(33.0, -112.0, lat, lon);
            assert!((d - 10_000.0).abs() < 1e-6, "{bearing}: {d}");
        }
        let (lat, lon) = destination(0.0, 179.99, 10_000.0, 90.0, EARTH_RADIUS_METERS);
        assert!(lat.abs() < 1e-9 && lon > 180.0, "{lat} {lon}");
        assert!((wrap(lon) + 179.92).abs() < 0.01, "{}", wrap(lon));
    }

    #[test]
    fn wrap_longitudes() {
        assert_eq!(wrap(180.0), 180.0);
        assert_eq!(wrap(-180.0), -180.0);
        assert!((wrap(190.0) + 170.0).abs() < 1e-12);
        assert!((wrap(-190.0) - 170.0).abs() < 1e-12);
        assert!((wrap(540.0).abs() - 180.0).abs() < 1e-12);
    }

    #[test]
    fn bbox_cases() {
        let b = cap(0.0, 0.0, 111_194.92664455873).bbox(); // one degree on the equator
        assert!(
            (b.max_lat - 1.0).abs() < 1e-6 && (b.max_lon - 1.0).abs() < 1e-6,
            "{b:?}"
        );
        let polar = cap(89.9, 10.0, 50_000.0).bbox();
        assert_eq!(
            (polar.min_lon, polar.max_lon, polar.max_lat),
            (-180.0, 180.0, 90.0)
        );
        let seam = cap(10.0, 179.9, 50_000.0).bbox();
        assert_eq!((seam.min_lon, seam.max_lon), (-180.0, 180.0));
        assert!(seam.max_lat < 10.5 && seam.min_lat > 9.5, "{seam:?}");
        let huge = cap(0.0, 0.0, 3e7).bbox();
        assert_eq!(huge, world_rect());
    }

    fn world_rect() -> Rect {
        Rect {
            min_lat: -90.0,
            min_lon: -180.0,
            max_lat: 90.0,
            max_lon: 180.0,
        }
    }

    #[test]
    fn polygon_shapes() {
        let c = cap(33.0, -112.0, 10_000.0);
        let p = c.polygon();
        assert_eq!(p.0.len(), 1);
        assert_eq!(p.0[0].exterior().0.len(), STEPS + 1);
        assert!(p.contains(&geo::Point::new(-112.0, 33.0)));
        let seam = cap(0.0, 179.95, 20_000.0).polygon();
        assert_eq!(seam.0.len(), 2);
        assert!(seam.contains(&geo::Point::new(-179.99, 0.0)));
        assert!(seam.contains(&geo::Point::new(179.99, 0.0)));
        let polar = cap(89.9, 0.0, 50_000.0).polygon();
        assert!(polar.contains(&geo::Point::new(180.0 - 1e-9, 89.8)));
        assert!(polar.contains(&geo::Point::new(-90.0, 89.9)));
        assert!(!polar.contains(&geo::Point::new(0.0, 89.0)));
        let both = cap(0.0, 0.0, 1.5e7).polygon();
        assert!(both.contains(&geo::Point::new(100.0, 0.0)));
    }
}
