//! Polygons built for search areas rather than parsed from clients: Tile38's SECTOR pie slice
//! and the BUFFER of a shape, wrapped as [`GeoObject`]s (GeoJSON text, bounding box and point
//! count filled in) so the area code can treat them like any stored object.

use geo::{BoundingRect, Buffer, Coord, CoordsIter, MapCoords};

use super::cap::destination;
use super::EARTH_RADIUS_METERS;
use super::{fmt_coord, valid_lat, valid_lon, GeoError, GeoObject, Geometry, Rect};

/// Earth radius the `sectr` package (used by Tile38's SECTOR) works with.
const SECTOR_EARTH_RADIUS: f64 = 6371008.8;

/// Arc vertices a full turn of a sector has (`sectr`'s fixed step count).
const SECTOR_STEPS: i64 = 64;

fn invalid(arg: f64) -> GeoError {
    GeoError(format!("invalid argument '{arg}'"))
}

/// Tile38's SECTOR: a polygon from the centre to the arc at `meters`, clockwise from
/// `bearing1` to `bearing2` (degrees from north), arc vertices at whole-degree steps of
/// 360/64 and at the end bearing, rounded to 1e-8 degrees, longitudes not wrapped. Errors:
/// `equal bearings (b1 == b2), use CIRCLE instead`, or `invalid argument '<value>'` for a
/// bad coordinate, a negative or non-finite radius or a non-finite bearing.
pub(super) fn sector(
    lat: f64,
    lon: f64,
    meters: f64,
    bearing1: f64,
    bearing2: f64,
) -> Result<Geometry, GeoError> {
    for (ok, v) in [
        (valid_lat(lat), lat),
        (valid_lon(lon), lon),
        (meters.is_finite() && meters >= 0.0, meters),
        (bearing1.is_finite(), bearing1),
        (bearing2.is_finite(), bearing2),
    ] {
        if !ok {
            return Err(invalid(v));
        }
    }
    if bearing1 == bearing2 {
        return Err(GeoError(format!(
            "equal bearings ({bearing1} == {bearing2}), use CIRCLE instead"
        )));
    }
    let point = |bearing: f64| {
        let (y, x) = destination(lat, lon, meters, bearing, SECTOR_EARTH_RADIUS);
        Coord {
            x: round8(x),
            y: round8(y),
        }
    };
    let start = bearing1.rem_euclid(360.0);
    let angle2 = bearing2.rem_euclid(360.0);
    let end = if start < angle2 {
        angle2
    } else {
        angle2 + 360.0
    };
    let center = Coord { x: lon, y: lat };
    let mut ring = vec![center];
    let mut alpha = start;
    for i in 1.. {
        if alpha < end {
            ring.push(point(alpha));
            alpha = start + ((i * 360) / SECTOR_STEPS) as f64;
        }
        if alpha >= end {
            break;
        }
    }
    ring.extend([point(end), center]);
    let poly = geo::Polygon::new(geo::LineString(ring), vec![]);
    Ok(object_from_shape(geo::Geometry::Polygon(poly)))
}

fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

/// The shape grown by `meters`: `geo`'s planar buffer (round joins) computed in a local
/// equirectangular projection about the centre of `bbox` (longitudes scaled by the cosine of
/// its latitude), so the growth is close to `meters` in every direction for shapes of modest
/// extent; latitudes are clamped to ±90 and longitudes are not wrapped.
pub(super) fn buffered(shape: &geo::Geometry<f64>, bbox: &Rect, meters: f64) -> Geometry {
    let (clat, clon) = bbox.center();
    let k = clat.to_radians().cos().max(1e-6);
    let projected = shape.map_coords(|c| Coord {
        x: (c.x - clon) * k,
        y: c.y,
    });
    let grown = projected.buffer((meters / EARTH_RADIUS_METERS).to_degrees());
    let back = grown.map_coords(|c| Coord {
        x: c.x / k + clon,
        y: c.y.clamp(-90.0, 90.0),
    });
    object_from_shape(geo::Geometry::MultiPolygon(back))
}

/// Wraps a built polygon or multipolygon as an object (other shapes render as an empty
/// GeometryCollection, which this module never builds).
fn object_from_shape(shape: geo::Geometry<f64>) -> Geometry {
    let bbox = shape
        .bounding_rect()
        .map_or(Rect::point(0.0, 0.0), |r| Rect {
            min_lat: r.min().y,
            min_lon: r.min().x,
            max_lat: r.max().y,
            max_lon: r.max().x,
        });
    let mut json = String::new();
    match &shape {
        geo::Geometry::Polygon(p) => {
            json.push_str(r#"{"type":"Polygon","coordinates":"#);
            write_polygon(p, &mut json);
            json.push('}');
        }
        geo::Geometry::MultiPolygon(m) => {
            json.push_str(r#"{"type":"MultiPolygon","coordinates":["#);
            for (i, p) in m.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                write_polygon(p, &mut json);
            }
            json.push_str("]}");
        }
        _ => json.push_str(r#"{"type":"GeometryCollection","geometries":[]}"#),
    }
    Geometry::Object(Box::new(GeoObject {
        num_points: shape.coords_count(),
        shape,
        json: json.into_boxed_str(),
        bbox,
    }))
}

fn write_polygon(p: &geo::Polygon<f64>, out: &mut String) {
    out.push('[');
    for (i, ring) in std::iter::once(p.exterior())
        .chain(p.interiors())
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, c) in ring.coords().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            fmt_coord(c.x, out);
            out.push(',');
            fmt_coord(c.y, out);
            out.push(']');
        }
        out.push(']');
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::haversine_meters;

    fn object(g: &Geometry) -> &GeoObject {
        match g {
            Geometry::Object(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sector_ring() {
        let g = sector(33.0, -112.0, 10_000.0, 0.0, 90.0).unwrap();
        let o = object(&g);
        let geo::Geometry::Polygon(p) = &o.shape else {
            panic!("{:?}", o.shape)
        };
        let ring = &p.exterior().0;
        // centre, bearings 0,5,11,...,84 (16 of them), 90, centre.
        assert_eq!(ring.len(), 1 + 16 + 1 + 1);
        assert_eq!(ring[0], Coord { x: -112.0, y: 33.0 });
        assert_eq!(ring[ring.len() - 1], ring[0]);
        for c in &ring[1..ring.len() - 1] {
            let d = haversine_meters(33.0, -112.0, c.y, c.x);
            assert!((d - 10_000.0 * EARTH_RADIUS_METERS / SECTOR_EARTH_RADIUS).abs() < 0.01);
            assert!(c.x >= -112.0 - 1e-8 && c.y > 32.999, "{c:?}");
        }
        assert_eq!(o.num_points, ring.len());
        assert!(o
            .json
            .starts_with(r#"{"type":"Polygon","coordinates":[[[-112,33],[-112,33.0"#));
        assert_eq!(Geometry::from_geojson(&o.json).unwrap().bbox(), o.bbox);
    }

    #[test]
    fn sector_wraps_through_north() {
        let g = sector(0.0, 0.0, 100_000.0, 350.0, 10.0).unwrap();
        let b = g.bbox();
        assert!(
            b.min_lon < 0.0 && b.max_lon > 0.0 && b.min_lat == 0.0,
            "{b:?}"
        );
        let g = sector(0.0, 0.0, 100_000.0, -10.0, 370.0).unwrap();
        assert_eq!(g.bbox(), b);
    }

    #[test]
    fn sector_errors() {
        let e = sector(0.0, 0.0, 10.0, 45.0, 45.0).unwrap_err();
        assert_eq!(e.0, "equal bearings (45 == 45), use CIRCLE instead");
        assert_eq!(
            sector(91.0, 0.0, 1.0, 0.0, 1.0).unwrap_err().0,
            "invalid argument '91'"
        );
        assert_eq!(
            sector(0.0, 0.0, -1.0, 0.0, 1.0).unwrap_err().0,
            "invalid argument '-1'"
        );
        assert!(sector(0.0, 0.0, 1.0, f64::NAN, 1.0).is_err());
    }

    #[test]
    fn buffer_grows_polygon() {
        let square = Geometry::from_geojson(
            r#"{"type":"Polygon","coordinates":[[[10,50],[10.1,50],[10.1,50.1],[10,50.1],[10,50]]]}"#,
        )
        .unwrap();
        let o = object(&square);
        let grown = buffered(&o.shape, &o.bbox, 1000.0);
        let b = grown.bbox();
        let north = haversine_meters(50.1, 10.05, b.max_lat, 10.05);
        let east = haversine_meters(50.05, 10.1, 50.05, b.max_lon);
        assert!((north - 1000.0).abs() < 20.0, "{north}");
        assert!((east - 1000.0).abs() < 20.0, "{east}");
        assert!(object(&grown)
            .json
            .starts_with(r#"{"type":"MultiPolygon","coordinates":[[[["#));
    }
}
