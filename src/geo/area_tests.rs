//! Tests of the search areas and distance bounds in `area.rs` (kept apart for length).

use super::*;
use crate::geo::cap::destination;
use crate::geo::{EARTH_RADIUS_METERS, MERCATOR_MAX_LATITUDE};
use proptest::prelude::*;

fn pt(lat: f64, lon: f64) -> Geometry {
    Geometry::Point { lat, lon }
}

fn bounds(min_lat: f64, min_lon: f64, max_lat: f64, max_lon: f64) -> Geometry {
    Geometry::bounds(min_lat, min_lon, max_lat, max_lon).unwrap()
}

fn rect(min_lat: f64, min_lon: f64, max_lat: f64, max_lon: f64) -> Rect {
    Rect {
        min_lat,
        min_lon,
        max_lat,
        max_lon,
    }
}

fn json(text: &str) -> Geometry {
    Geometry::from_geojson(text).unwrap()
}

fn shape(text: &str) -> Area {
    Area::shape(json(text))
}

/// The rings of a rectangular polygon `[lon0, lon1] x [lat0, lat1]` as GeoJSON coordinates.
fn rings(lat0: f64, lon0: f64, lat1: f64, lon1: f64) -> String {
    format!("[[[{lon0},{lat0}],[{lon1},{lat0}],[{lon1},{lat1}],[{lon0},{lat1}],[{lon0},{lat0}]]]")
}

/// A rectangular polygon `[lon0, lon1] x [lat0, lat1]` as GeoJSON.
fn square(lat0: f64, lon0: f64, lat1: f64, lon1: f64) -> String {
    let rings = rings(lat0, lon0, lat1, lon1);
    format!(r#"{{"type":"Polygon","coordinates":{rings}}}"#)
}

/// 10x10 degree square with a 4x4 hole in the middle (lon/lat 0..10, hole 3..7).
const HOLED: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[3,3],[7,3],[7,7],[3,7],[3,3]]]}"#;

fn both(area: &Area, g: &Geometry) -> (bool, bool) {
    (area.intersects(g), area.contains(g))
}

#[test]
fn point_area() {
    let a = Area::Point { lat: 5.0, lon: 1.0 };
    assert_eq!(both(&a, &pt(5.0, 1.0)), (true, true));
    assert_eq!(both(&a, &pt(5.0, 1.000001)), (false, false));
    assert_eq!(both(&a, &bounds(4.0, 0.0, 5.0, 1.0)), (true, false));
    assert_eq!(both(&a, &bounds(5.0, 1.0, 5.0, 1.0)), (true, true));
    assert_eq!(
        both(&a, &json(&square(0.0, 0.0, 10.0, 10.0))),
        (true, false)
    );
    assert_eq!(
        both(&a, &json(&square(6.0, 0.0, 10.0, 10.0))),
        (false, false)
    );
    let mp = r#"{"type":"MultiPoint","coordinates":[[1,5],[1,5]]}"#;
    assert_eq!(both(&a, &json(mp)), (true, true));
    assert_eq!(a.bbox(), Rect::point(5.0, 1.0));
    // A point held as a shape behaves the same.
    let s = shape(
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,5]},"properties":{}}"#,
    );
    assert_eq!(both(&s, &pt(5.0, 1.0)), (true, true));
    assert_eq!(
        both(&s, &json(&square(0.0, 0.0, 10.0, 10.0))),
        (true, false)
    );
}

#[test]
fn circle_points() {
    let a = Area::Circle {
        lat: 33.0,
        lon: -112.0,
        meters: 10_000.0,
    };
    let (lat, lon) = destination(33.0, -112.0, 9_999.0, 30.0, EARTH_RADIUS_METERS);
    assert_eq!(both(&a, &pt(lat, lon)), (true, true));
    let (lat, lon) = destination(33.0, -112.0, 10_001.0, 30.0, EARTH_RADIUS_METERS);
    assert_eq!(both(&a, &pt(lat, lon)), (false, false));
    assert_eq!(
        both(
            &a,
            &Geometry::PointZ {
                lat: 33.0,
                lon: -112.0,
                z: 9.0
            }
        ),
        (true, true)
    );
    let zero = Area::Circle {
        lat: 1.0,
        lon: 2.0,
        meters: 0.0,
    };
    assert_eq!(both(&zero, &pt(1.0, 2.0)), (true, true));
    assert!(!zero.intersects(&pt(1.0, 2.0000001)));
}

#[test]
fn circle_objects() {
    // ~1.1 km radius around (0, 0).
    let a = Area::Circle {
        lat: 0.0,
        lon: 0.0,
        meters: 1_112.0,
    };
    // All corners inside.
    assert_eq!(
        both(&a, &bounds(-0.005, -0.005, 0.005, 0.005)),
        (true, true)
    );
    // A strip crossing the circle with every corner outside it.
    assert_eq!(both(&a, &bounds(-0.005, -1.0, 0.005, 1.0)), (true, false));
    // Centre inside a big polygon whose vertices are all far away.
    assert_eq!(
        both(&a, &json(&square(-5.0, -5.0, 5.0, 5.0))),
        (true, false)
    );
    // A line through the circle with both ends outside.
    let line = r#"{"type":"LineString","coordinates":[[-1,0.001],[1,0.001]]}"#;
    assert_eq!(both(&a, &json(line)), (true, false));
    let short = r#"{"type":"LineString","coordinates":[[-0.001,0.001],[0.001,0.001]]}"#;
    assert_eq!(both(&a, &json(short)), (true, true));
    // Near but outside.
    assert_eq!(both(&a, &bounds(0.011, -1.0, 0.02, 1.0)), (false, false));
    // The circle inside a polygon's hole touches nothing.
    let in_hole = Area::Circle {
        lat: 5.0,
        lon: 5.0,
        meters: 100_000.0,
    };
    assert_eq!(both(&in_hole, &json(HOLED)), (false, false));
    let over_edge = Area::Circle {
        lat: 5.0,
        lon: 2.5,
        meters: 100_000.0,
    };
    assert_eq!(both(&over_edge, &json(HOLED)), (true, false));
}

#[test]
fn rect_area() {
    let a = Area::Rect(rect(0.0, 0.0, 10.0, 10.0));
    assert_eq!(both(&a, &pt(10.0, 0.0)), (true, true));
    assert_eq!(both(&a, &pt(10.0000001, 0.0)), (false, false));
    assert_eq!(both(&a, &bounds(1.0, 1.0, 2.0, 2.0)), (true, true));
    assert_eq!(both(&a, &bounds(9.0, 9.0, 12.0, 12.0)), (true, false));
    assert_eq!(both(&a, &bounds(10.0, 10.0, 12.0, 12.0)), (true, false));
    assert_eq!(both(&a, &bounds(11.0, 11.0, 12.0, 12.0)), (false, false));
    assert_eq!(both(&a, &json(&square(2.0, 2.0, 3.0, 3.0))), (true, true));
    assert_eq!(
        both(&a, &json(&square(10.0, 2.0, 11.0, 3.0))),
        (true, false)
    );
    // A triangle whose bbox overlaps the rect's corner but whose body does not.
    let tri = r#"{"type":"Polygon","coordinates":[[[9.5,12],[12,9.5],[12,12],[9.5,12]]]}"#;
    assert_eq!(both(&a, &json(tri)), (false, false));
    // Degenerate rect area (a vertical line).
    let line = Area::Rect(rect(0.0, 5.0, 10.0, 5.0));
    assert_eq!(
        both(&line, &json(&square(2.0, 4.0, 3.0, 6.0))),
        (true, false)
    );
    assert_eq!(both(&line, &pt(3.0, 5.0)), (true, true));
}

#[test]
fn shape_area_with_hole() {
    let a = shape(HOLED);
    assert_eq!(both(&a, &pt(1.0, 1.0)), (true, true));
    assert_eq!(both(&a, &pt(5.0, 5.0)), (false, false)); // in the hole
    assert_eq!(both(&a, &pt(0.0, 5.0)), (true, true)); // on the outer boundary
    assert_eq!(both(&a, &pt(3.0, 5.0)), (true, true)); // on the hole's boundary
    assert_eq!(both(&a, &pt(11.0, 5.0)), (false, false));
    assert_eq!(both(&a, &json(&square(1.0, 1.0, 2.0, 2.0))), (true, true));
    assert_eq!(both(&a, &bounds(1.0, 1.0, 2.0, 2.0)), (true, true));
    // Spanning the hole: intersects, not within.
    assert_eq!(both(&a, &json(&square(1.0, 1.0, 9.0, 9.0))), (true, false));
    // Touching only along an edge, from outside.
    assert_eq!(
        both(&a, &json(&square(10.0, 2.0, 12.0, 4.0))),
        (true, false)
    );
    // Touching at one corner.
    assert_eq!(both(&a, &bounds(10.0, 10.0, 11.0, 11.0)), (true, false));
    // Inside the hole entirely.
    assert_eq!(both(&a, &bounds(4.0, 4.0, 6.0, 6.0)), (false, false));
    // The area itself is within itself.
    assert_eq!(both(&a, &json(HOLED)), (true, true));
}

#[test]
fn shape_area_collections() {
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{},"properties":{{}}}},{{"type":"Feature","geometry":{},"properties":{{}}}}]}}"#,
        square(0.0, 0.0, 1.0, 1.0),
        square(0.0, 1.0, 1.0, 2.0)
    );
    let a = shape(&fc);
    assert_eq!(both(&a, &pt(0.5, 1.5)), (true, true));
    assert_eq!(both(&a, &pt(0.5, 2.5)), (false, false));
    // As in Tile38, each part of the object must lie within one member: a line crossing from
    // one member into the other is not within, a multipoint with a point in each is.
    let line = r#"{"type":"LineString","coordinates":[[0.5,0.5],[1.5,0.5]]}"#;
    assert_eq!(both(&a, &json(line)), (true, false));
    let line = r#"{"type":"LineString","coordinates":[[1.5,0.5],[1.6,0.5]]}"#;
    assert_eq!(both(&a, &json(line)), (true, true));
    let mpt = r#"{"type":"MultiPoint","coordinates":[[0.5,0.5],[1.5,0.5]]}"#;
    assert_eq!(both(&a, &json(mpt)), (true, true));
    let gc = format!(
        r#"{{"type":"GeometryCollection","geometries":[{},{}]}}"#,
        square(0.1, 0.1, 0.2, 0.2),
        square(0.1, 1.1, 0.2, 1.2)
    );
    assert_eq!(both(&a, &json(&gc)), (true, true));
    let mp = format!(
        r#"{{"type":"MultiPolygon","coordinates":[{},{}]}}"#,
        rings(0.0, 0.0, 1.0, 1.0),
        rings(5.0, 5.0, 6.0, 6.0)
    );
    let m = shape(&mp);
    assert_eq!(both(&m, &pt(5.5, 5.5)), (true, true));
    assert_eq!(both(&m, &pt(3.0, 3.0)), (false, false));
    assert_eq!(both(&m, &bounds(0.5, 0.5, 5.5, 5.5)), (true, false));
    assert_eq!(m.bbox(), rect(0.0, 0.0, 6.0, 6.0));
    // A rectangle held as a shape behaves as a rect area.
    let r = Area::shape(bounds(0.0, 0.0, 1.0, 1.0));
    assert_eq!(both(&r, &pt(1.0, 1.0)), (true, true));
}

#[test]
fn antimeridian() {
    let a = Area::Circle {
        lat: 0.0,
        lon: 179.9,
        meters: 30_000.0,
    };
    let far_side = pt(0.0, -179.9);
    assert_eq!(both(&a, &far_side), (true, true));
    assert!(a.bbox().contains_point(0.0, -179.9));
    // A tall thin rect on the other side whose corners are all outside the circle.
    let strip = bounds(-1.0, -179.95, 1.0, -179.94);
    assert_eq!(both(&a, &strip), (true, false));
    // A rect straddling the seam from the other side, entirely inside.
    assert_eq!(
        both(&a, &bounds(-0.01, -180.0, 0.01, -179.95)),
        (true, true)
    );
    // Bound: from lon 179.9 to a box starting at -180 is 0.1 degrees of longitude.
    let r = rect(-1.0, -180.0, 1.0, -179.5);
    let d = point_rect_min_meters(0.0, 179.9, &r);
    let want = haversine_meters(0.0, 179.9, 0.0, 180.0);
    assert!((d - want).abs() < 1e-3 && d <= want, "{d} {want}");
    let r = rect(-1.0, 179.5, 1.0, 180.0);
    assert_eq!(point_rect_min_meters(0.5, -180.0, &r), 0.0);
    let d = point_rect_min_meters(0.0, -179.9, &r);
    assert!((d - want).abs() < 1e-3, "{d} {want}");
}

#[test]
fn poles() {
    let a = Area::Circle {
        lat: 89.9,
        lon: 10.0,
        meters: 50_000.0,
    };
    let other_side = pt(89.9, -170.0);
    assert_eq!(both(&a, &other_side), (true, true));
    let b = a.bbox();
    assert_eq!((b.min_lon, b.max_lon, b.max_lat), (-180.0, 180.0, 90.0));
    assert!(b.contains_point(89.9, -170.0));
    assert!(!a.intersects(&pt(89.0, -170.0)));
    // A cap over the pole contains the cap of latitude 89.8 it surrounds, and meets (without
    // holding) a box reaching from 89.7 down to 89.5 opposite the centre.
    let ring = bounds(89.8, -180.0, 90.0, 180.0);
    assert_eq!(both(&a, &ring), (true, true));
    let band = bounds(89.5, -175.0, 89.7, -165.0);
    assert_eq!(both(&a, &band), (true, false));
    // An edge crossing the meridian opposite the centre bulges outside the cap even when
    // both its ends are inside.
    let c = Area::Circle {
        lat: 89.9,
        lon: 10.0,
        meters: 55_580.0,
    };
    let d_end = haversine_meters(89.9, 10.0, 89.6, -175.0);
    let d_mid = haversine_meters(89.9, 10.0, 89.6, -170.0);
    assert!(d_end < 55_580.0 && d_mid > 55_580.0, "{d_end} {d_mid}");
    let line = r#"{"type":"LineString","coordinates":[[-175,89.6],[-165,89.6]]}"#;
    assert_eq!(both(&c, &json(line)), (true, false));
    // Distance bound to a box over the pole from the other side goes over the pole.
    let polar = rect(89.0, 0.0, 90.0, 20.0);
    let d = point_rect_min_meters(89.0, -170.0, &polar);
    let want = haversine_meters(89.0, -170.0, 90.0, 0.0);
    assert!((d - want).abs() < 1e-3, "{d} {want}");
}

#[test]
fn tiles_quadkeys_hashes() {
    let Area::Rect(w) = Area::tile(0, 0, 0).unwrap() else {
        panic!()
    };
    assert_eq!(
        w,
        rect(-MERCATOR_MAX_LATITUDE, -180.0, MERCATOR_MAX_LATITUDE, 180.0)
    );
    assert!((w.max_lat - 85.0511).abs() < 1e-4);
    let Area::Rect(nw) = Area::quadkey("0").unwrap() else {
        panic!()
    };
    assert_eq!((nw.min_lon, nw.max_lat), (-180.0, MERCATOR_MAX_LATITUDE));
    assert!(nw.max_lon.abs() < 1e-9 && nw.min_lat.abs() < 1e-9, "{nw:?}");
    assert!(Area::quadkey("04").is_err());
    assert_eq!(Area::tile(0, 0, 31).unwrap_err().0, "invalid argument '31'");
    let cell = crate::geo::geohash_encode(33.462, -112.268, 5);
    let Area::Rect(h) = Area::hash(&cell).unwrap() else {
        panic!()
    };
    assert!(h.contains_point(33.462, -112.268), "{h:?}");
    assert_eq!(h, geohash_bounds(&cell).unwrap());
    assert!(both(&Area::Rect(h), &pt(33.462, -112.268)).1);
    assert!(Area::hash("").is_err());
}

#[test]
fn sector_area() {
    let a = Area::sector(33.0, -112.0, 10_000.0, 0.0, 90.0).unwrap();
    let (lat, lon) = destination(33.0, -112.0, 5_000.0, 45.0, EARTH_RADIUS_METERS);
    assert_eq!(both(&a, &pt(lat, lon)), (true, true));
    let (lat, lon) = destination(33.0, -112.0, 5_000.0, 180.0, EARTH_RADIUS_METERS);
    assert_eq!(both(&a, &pt(lat, lon)), (false, false));
    assert_eq!(both(&a, &pt(33.0, -112.0)), (true, true));
    assert!(Area::sector(33.0, -112.0, 10.0, 5.0, 5.0).is_err());
    // The eastward arc dips a little south of the centre's latitude (a great circle).
    let b = a.bbox();
    assert!(
        b.min_lat > 32.9999 && b.min_lon == -112.0 && b.max_lat > 33.08,
        "{b:?}"
    );
}

#[test]
fn buffers() {
    let p = Area::Point { lat: 1.0, lon: 2.0 }.with_buffer(100.0);
    assert!(matches!(p, Area::Circle { meters, .. } if meters == 100.0));
    let c = p.with_buffer(50.0);
    assert!(matches!(c, Area::Circle { meters, .. } if meters == 150.0));
    let same = Area::Rect(rect(0.0, 0.0, 1.0, 1.0)).with_buffer(0.0);
    assert!(matches!(same, Area::Rect(r) if r == rect(0.0, 0.0, 1.0, 1.0)));
    let Area::Rect(grown) = Area::Rect(rect(40.0, 10.0, 41.0, 11.0)).with_buffer(1_000.0) else {
        panic!()
    };
    let north = haversine_meters(41.0, 10.5, grown.max_lat, 10.5);
    assert!((north - 1_000.0).abs() < 0.01, "{north}");
    let east = haversine_meters(41.0, 11.0, 41.0, grown.max_lon);
    assert!((east - 1_000.0).abs() < 1.0, "{east}");
    let polar = Area::Rect(rect(89.99, 0.0, 89.995, 1.0))
        .with_buffer(10_000.0)
        .bbox();
    assert_eq!(
        (polar.min_lon, polar.max_lon, polar.max_lat),
        (-180.0, 180.0, 90.0)
    );
    // A polygon grows by about the distance on every side.
    let s = shape(&square(50.0, 10.0, 50.1, 10.1)).with_buffer(1_000.0);
    let (lat, lon) = destination(50.1, 10.05, 900.0, 0.0, EARTH_RADIUS_METERS);
    assert_eq!(both(&s, &pt(lat, lon)), (true, true));
    let (lat, lon) = destination(50.05, 10.0, 900.0, 270.0, EARTH_RADIUS_METERS);
    assert!(s.contains(&pt(lat, lon)));
    let (lat, lon) = destination(50.05, 10.0, 1_100.0, 270.0, EARTH_RADIUS_METERS);
    assert!(!s.intersects(&pt(lat, lon)));
    assert!(s.contains(&json(&square(50.0, 10.0, 50.1, 10.1))));
    // A point held as a shape becomes a circle.
    let g = Area::shape(pt(3.0, 4.0)).with_buffer(10.0);
    assert!(
        matches!(g, Area::Circle { lat, lon, meters } if (lat, lon, meters) == (3.0, 4.0, 10.0))
    );
}

#[test]
fn distances() {
    assert_eq!(distance_to(1.0, 2.0, &pt(1.0, 2.0)), 0.0);
    let d = distance_to(0.0, 0.0, &bounds(-1.0, 1.0, 1.0, 3.0));
    assert_eq!(d, haversine_meters(0.0, 0.0, 0.0, 2.0));
    let poly = json(&square(10.0, 10.0, 12.0, 14.0));
    assert_eq!(
        distance_to(0.0, 0.0, &poly),
        haversine_meters(0.0, 0.0, 11.0, 12.0)
    );
    let r = rect(10.0, 10.0, 12.0, 14.0);
    assert_eq!(point_rect_min_meters(11.0, 12.0, &r), 0.0);
    assert_eq!(point_rect_min_meters(12.0, 14.0, &r), 0.0);
    let d = point_rect_min_meters(20.0, 12.0, &r);
    assert!((d - haversine_meters(20.0, 12.0, 12.0, 12.0)).abs() < 1e-3);
    assert!(point_rect_min_meters(0.0, 0.0, &r) <= distance_to(0.0, 0.0, &poly));
}

/// Points spread over `r`: a grid including the corners and edges.
fn samples(r: &Rect, n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let t = i as f64 / (n - 1) as f64;
            let u = j as f64 / (n - 1) as f64;
            let lat = r.min_lat + t * (r.max_lat - r.min_lat);
            let lon = r.min_lon + u * (r.max_lon - r.min_lon);
            out.push((lat.min(r.max_lat), lon.min(r.max_lon)));
        }
    }
    out
}

fn any_rect() -> impl Strategy<Value = Rect> {
    (
        -90.0..=90.0f64,
        0.0..40.0f64,
        -180.0..=180.0f64,
        0.0..90.0f64,
    )
        .prop_map(|(lat, h, lon, w)| Rect {
            min_lat: lat,
            max_lat: (lat + h).min(90.0),
            min_lon: lon,
            max_lon: (lon + w).min(180.0),
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Boxes of every size, small ones (a stored point's cover) included.
    #[test]
    fn rect_upper_bound_is_an_upper_bound(
        r in prop_oneof![
            any_rect(),
            (-89.9..89.9f64, -179.9..179.9f64, 0.0..0.004f64)
                .prop_map(|(a, b, e)| Rect { min_lat: a, min_lon: b, max_lat: a + e, max_lon: b + e }),
        ],
        lat in -90.0..=90.0f64,
        lon in -180.0..=180.0f64,
    ) {
        let bound = point_rect_upper_bound_meters(lat, lon, &r);
        let sampled = samples(&r, 24)
            .into_iter()
            .map(|(qlat, qlon)| haversine_meters(lat, lon, qlat, qlon))
            .fold(0.0, f64::max);
        prop_assert!(bound >= sampled, "{} < {}", bound, sampled);
        let cheap = point_rect_lower_bound_meters(lat, lat.to_radians().cos(), lon, &r);
        if let Some(refined) = point_rect_refined_lower_bound_meters(lat, lon, &r) {
            prop_assert_eq!(refined, point_rect_min_meters(lat, lon, &r));
            prop_assert!(refined * (1.0 + 1e-9) + 1e-6 >= cheap);
            // The walk asks for a refinement only from this bound on.
            prop_assert!(cheap >= far_bound_meters(lat), "{} < {}", cheap, far_bound_meters(lat));
        }
    }


    #[test]
    fn rect_bound_is_a_lower_bound(
        r in any_rect(),
        lat in -90.0..=90.0f64,
        lon in -180.0..=180.0f64,
    ) {
        let bound = point_rect_min_meters(lat, lon, &r);
        prop_assert!(bound >= 0.0);
        let sampled = samples(&r, 24)
            .into_iter()
            .map(|(qlat, qlon)| haversine_meters(lat, lon, qlat, qlon))
            .fold(f64::INFINITY, f64::min);
        prop_assert!(bound <= sampled + 1e-6, "{} > {}", bound, sampled);
        if r.contains_point(lat, lon) {
            prop_assert_eq!(bound, 0.0);
        }
    }

    #[test]
    fn the_cheap_rect_bound_is_a_lower_bound_too(
        r in any_rect(),
        lat in -90.0..=90.0f64,
        lon in -180.0..=180.0f64,
    ) {
        let cheap = point_rect_lower_bound_meters(lat, lat.to_radians().cos(), lon, &r);
        let exact = point_rect_min_meters(lat, lon, &r);
        prop_assert!(cheap >= 0.0);
        prop_assert!(cheap <= exact * (1.0 + 1e-9) + 1e-6, "{} > {}", cheap, exact);
        // Close by and away from the poles it is at worst a corner's √2 below the exact bound
        // (a little more on the sphere), which is what keeps the walk short.
        if exact < 100_000.0 && lat.abs() < 60.0 {
            prop_assert!(cheap * 1.5 + 1e-6 >= exact, "{} far below {}", cheap, exact);
        }
        let sampled = samples(&r, 24)
            .into_iter()
            .map(|(qlat, qlon)| haversine_meters(lat, lon, qlat, qlon))
            .fold(f64::INFINITY, f64::min);
        prop_assert!(cheap <= sampled + 1e-6, "{} > {}", cheap, sampled);
    }

    #[test]
    fn rect_bound_of_inside_points_is_zero(r in any_rect(), t in 0.0..=1.0f64, u in 0.0..=1.0f64) {
        let lat = (r.min_lat + t * (r.max_lat - r.min_lat)).min(r.max_lat);
        let lon = (r.min_lon + u * (r.max_lon - r.min_lon)).min(r.max_lon);
        prop_assert_eq!(point_rect_min_meters(lat, lon, &r), 0.0);
    }

    #[test]
    fn rect_bound_is_tight(
        r in any_rect(),
        lat in -90.0..=90.0f64,
        lon in -180.0..=180.0f64,
    ) {
        // Outside the box the nearest point is on its boundary: sample the four edges
        // densely and allow for the spacing between samples.
        prop_assume!(!r.contains_point(lat, lon));
        let n = 400;
        let edge = |a: (f64, f64), b: (f64, f64)| {
            (0..=n).map(move |i| {
                let t = i as f64 / n as f64;
                (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
            })
        };
        let (lo, hi) = ((r.min_lat, r.min_lon), (r.max_lat, r.max_lon));
        let pts: Vec<(f64, f64)> = edge(lo, (lo.0, hi.1))
            .chain(edge(lo, (hi.0, lo.1)))
            .chain(edge((hi.0, lo.1), hi))
            .chain(edge((lo.0, hi.1), hi))
            .collect();
        let dense = pts
            .iter()
            .map(|&(qlat, qlon)| haversine_meters(lat, lon, qlat, qlon))
            .fold(f64::INFINITY, f64::min);
        let step_lat = haversine_meters(r.min_lat, 0.0, r.max_lat, 0.0) / n as f64;
        let step_lon = haversine_meters(0.0, r.min_lon, 0.0, r.max_lon) / n as f64;
        let bound = point_rect_min_meters(lat, lon, &r);
        prop_assert!(bound <= dense + 1e-6);
        prop_assert!(bound >= dense - step_lat.max(step_lon) - 1e-6, "{} < {}", bound, dense);
    }

    #[test]
    fn circle_contains_matches_haversine(
        lat in prop_oneof![-90.0..=90.0f64, 85.0..=90.0f64, -90.0..=-85.0f64],
        lon in prop_oneof![-180.0..=180.0f64, 175.0..=180.0f64, -180.0..=-175.0f64],
        meters in prop_oneof![0.0..1.0f64, 1.0..10_000.0f64, 10_000.0..3_000_000.0f64],
        bearing in 0.0..360.0f64,
        factor in 0.98..1.02f64,
    ) {
        let area = Area::Circle { lat, lon, meters };
        let (qlat, qlon) = destination(lat, lon, meters * factor, bearing, EARTH_RADIUS_METERS);
        let qlon = crate::geo::cap::wrap(qlon);
        let q = pt(qlat, qlon);
        let inside = haversine_meters(lat, lon, qlat, qlon) <= meters;
        prop_assert_eq!(area.contains(&q), inside);
        prop_assert_eq!(area.intersects(&q), inside);
        if inside {
            prop_assert!(area.bbox().contains_point(qlat, qlon), "{:?} {} {}", area.bbox(), qlat, qlon);
        }
    }
}

/// A star-shaped ring (so it is simple) of `radii.len()` vertices around `(cx, cy)`.
fn star_ring(cx: f64, cy: f64, radii: &[f64]) -> geo::LineString<f64> {
    let n = radii.len();
    let mut pts: Vec<(f64, f64)> = radii
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    pts.push(pts[0]);
    geo::LineString::from(pts)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The point shortcut of the NEARBY walk's box bound is the box bound (to rounding), for
    /// points anywhere and near the query, across the antimeridian and at the poles.
    #[test]
    fn point_box_bound_is_the_box_bound(
        lat in prop_oneof![-90.0..=90.0f64, prop::sample::select(vec![-90.0, 90.0, 0.0])],
        lon in prop_oneof![-180.0..=180.0f64, prop::sample::select(vec![-180.0, 180.0])],
        near in prop::bool::ANY,
        (dlat, dlon) in (-0.001..0.001f64, -0.001..0.001f64),
        (far_lat, far_lon) in (-90.0..=90.0f64, -180.0..=180.0f64),
        slack in prop::sample::select(vec![1.0 / 65536.0, 0.01]),
    ) {
        let (plat, plon) = if near {
            let plon = lon + dlon;
            let plon = if plon > 180.0 { plon - 360.0 } else if plon < -180.0 { plon + 360.0 } else { plon };
            ((lat + dlat).clamp(-90.0, 90.0), plon)
        } else {
            (far_lat, far_lon)
        };
        let cos_lat = lat.to_radians().cos();
        let r = rect(plat - slack, plon - slack, plat + slack, plon + slack);
        let boxed = point_rect_lower_bound_meters(lat, cos_lat, lon, &r);
        let point = point_box_lower_bound_meters(lat, cos_lat, lon, (plat, plon), slack);
        prop_assert!((point - boxed).abs() <= 1e-6 + boxed * 1e-12, "{} vs {}", point, boxed);
    }

    /// The shortcut for WITHIN a polygon far from its edges agrees with `geo`'s `Covers`
    /// whenever it answers, for star polygons with a star hole and triangles anywhere around.
    #[test]
    fn covers_shortcut_agrees_with_covers(
        outer in prop::collection::vec(4.0..10.0f64, 5..9),
        hole in prop::collection::vec(0.5..2.0f64, 3..7),
        tri in ((-12.0..12.0f64, -12.0..12.0f64), (0.01..3.0f64, 0.01..3.0f64), 0.0..1.0f64),
    ) {
        let area = geo::Geometry::Polygon(geo::Polygon::new(
            star_ring(0.0, 0.0, &outer),
            vec![star_ring(0.0, 0.0, &hole)],
        ));
        let ((x, y), (w, h), skew) = tri;
        let object = geo::Geometry::Polygon(geo::Polygon::new(
            geo::LineString::from(vec![(x, y), (x + w, y), (x + skew * w, y + h), (x, y)]),
            vec![],
        ));
        let bbox = Rect { min_lat: y, min_lon: x, max_lat: y + h, max_lon: x + w };
        if let Some(fast) = covers_away_from_boundary(&area, &bbox) {
            prop_assert_eq!(fast, covers_parts(&area, &object));
        }
    }
}
