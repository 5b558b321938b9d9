//! CLIP: an object cut to a rectangle (INTERSECTS … CLIP, TEST … INTERSECTS CLIP), with `geo`'s
//! boolean operations: polygons are intersected with the rectangle, lines clipped to it,
//! points outside it dropped. A Feature keeps its other members (properties, id) around the
//! clipped geometry, as in Tile38. Pure; knows nothing of searches.

use geo::{BooleanOps, Intersects};

use super::{fmt_coord, Geometry, Rect};

/// `g` clipped to `r`. When nothing of `g` is left (it only touches `r`), `g` is returned as
/// it is, since a search hit always meets the rectangle.
pub fn clip_to_rect(g: &Geometry, r: &Rect) -> Geometry {
    match g {
        Geometry::Point { .. } | Geometry::PointZ { .. } => g.clone(),
        Geometry::Bounds(b) => {
            let clipped = Rect {
                min_lat: b.min_lat.max(r.min_lat),
                min_lon: b.min_lon.max(r.min_lon),
                max_lat: b.max_lat.min(r.max_lat),
                max_lon: b.max_lon.min(r.max_lon),
            };
            if clipped.min_lat <= clipped.max_lat && clipped.min_lon <= clipped.max_lon {
                Geometry::Bounds(clipped)
            } else {
                g.clone()
            }
        }
        Geometry::Object(o) => {
            let window = r.to_geo().to_polygon();
            let json = match serde_json::from_str::<serde_json::Value>(&o.json) {
                Ok(doc) => clip_document(doc, &o.shape, &window),
                Err(_) => None,
            };
            json.and_then(|j| Geometry::from_geojson(&j).ok())
                .unwrap_or_else(|| g.clone())
        }
    }
}

/// The GeoJSON document with its geometry (or each feature's) clipped; None when nothing is
/// left.
fn clip_document(
    mut doc: serde_json::Value,
    shape: &geo::Geometry<f64>,
    window: &geo::Polygon<f64>,
) -> Option<String> {
    match doc.get("type").and_then(|t| t.as_str()) {
        Some("Feature") => {
            let clipped = clip_shape(shape, window)?;
            doc["geometry"] = serde_json::from_str(&clipped).ok()?;
        }
        Some("FeatureCollection") => {
            // The shape of a collection holds one member per feature, in order.
            let geo::Geometry::GeometryCollection(members) = shape else {
                return None;
            };
            let features = doc.get_mut("features")?.as_array_mut()?;
            for (f, m) in features.iter_mut().zip(members.iter()) {
                let clipped = clip_shape(m, window).unwrap_or_else(|| shape_json(m));
                f["geometry"] = serde_json::from_str(&clipped).ok()?;
            }
        }
        _ => return clip_shape(shape, window),
    }
    Some(doc.to_string())
}

/// A shape clipped to the window, as GeoJSON text; None when nothing is left.
fn clip_shape(shape: &geo::Geometry<f64>, window: &geo::Polygon<f64>) -> Option<String> {
    use geo::Geometry as G;
    let out = match shape {
        G::Point(p) => window.intersects(p).then_some(G::Point(*p))?,
        G::MultiPoint(m) => {
            let kept: Vec<_> = m
                .iter()
                .filter(|p| window.intersects(*p))
                .copied()
                .collect();
            single_or_multi_point(kept)?
        }
        G::Line(l) => lines(window, geo::MultiLineString::new(vec![(*l).into()]))?,
        G::LineString(l) => lines(window, geo::MultiLineString::new(vec![l.clone()]))?,
        G::MultiLineString(m) => lines(window, m.clone())?,
        G::Polygon(p) => polygons(p.intersection(window))?,
        G::MultiPolygon(m) => polygons(m.intersection(window))?,
        G::Rect(r) => polygons(r.to_polygon().intersection(window))?,
        G::Triangle(t) => polygons(t.to_polygon().intersection(window))?,
        G::GeometryCollection(c) => {
            let parts: Vec<String> = c.iter().filter_map(|m| clip_shape(m, window)).collect();
            if parts.is_empty() {
                return None;
            }
            return Some(format!(
                r#"{{"type":"GeometryCollection","geometries":[{}]}}"#,
                parts.join(",")
            ));
        }
    };
    Some(shape_json(&out))
}

fn single_or_multi_point(kept: Vec<geo::Point<f64>>) -> Option<geo::Geometry<f64>> {
    match kept.len() {
        0 => None,
        1 => Some(geo::Geometry::Point(kept[0])),
        _ => Some(geo::Geometry::MultiPoint(kept.into())),
    }
}

fn lines(window: &geo::Polygon<f64>, m: geo::MultiLineString<f64>) -> Option<geo::Geometry<f64>> {
    let mut out = window.clip(&m, false);
    out.0.retain(|l| l.0.len() >= 2);
    match out.0.len() {
        0 => None,
        1 => out.0.pop().map(geo::Geometry::LineString),
        _ => Some(geo::Geometry::MultiLineString(out)),
    }
}

fn polygons(mut m: geo::MultiPolygon<f64>) -> Option<geo::Geometry<f64>> {
    match m.0.len() {
        0 => None,
        1 => m.0.pop().map(geo::Geometry::Polygon),
        _ => Some(geo::Geometry::MultiPolygon(m)),
    }
}

/// GeoJSON text of the shapes [`clip_shape`] builds (other shapes go through a clip to the
/// whole world, which turns them into those).
fn shape_json(shape: &geo::Geometry<f64>) -> String {
    let mut coords = String::new();
    match write_coords(shape, &mut coords) {
        Some(kind) => format!(r#"{{"type":"{kind}","coordinates":{coords}}}"#),
        None => clip_shape(shape, &world())
            .unwrap_or_else(|| r#"{"type":"GeometryCollection","geometries":[]}"#.to_string()),
    }
}

/// Writes the `coordinates` of a point, line or polygon shape; returns its GeoJSON type.
fn write_coords(shape: &geo::Geometry<f64>, out: &mut String) -> Option<&'static str> {
    use geo::Geometry as G;
    Some(match shape {
        G::Point(p) => {
            coord(p.0, out);
            "Point"
        }
        G::MultiPoint(m) => {
            list(out, m.iter(), |p, o| coord(p.0, o));
            "MultiPoint"
        }
        G::LineString(l) => {
            ring(l, out);
            "LineString"
        }
        G::MultiLineString(m) => {
            list(out, m.iter(), ring);
            "MultiLineString"
        }
        G::Polygon(p) => {
            polygon(p, out);
            "Polygon"
        }
        G::MultiPolygon(m) => {
            list(out, m.iter(), polygon);
            "MultiPolygon"
        }
        _ => return None,
    })
}

fn world() -> geo::Polygon<f64> {
    geo::Rect::new((-180.0, -90.0), (180.0, 90.0)).to_polygon()
}

fn list<'a, T: 'a>(out: &mut String, items: impl Iterator<Item = &'a T>, f: fn(&T, &mut String)) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(item, out);
    }
    out.push(']');
}

fn coord(c: geo::Coord<f64>, out: &mut String) {
    out.push('[');
    fmt_coord(c.x, out);
    out.push(',');
    fmt_coord(c.y, out);
    out.push(']');
}

fn ring(l: &geo::LineString<f64>, out: &mut String) {
    list(out, l.0.iter(), |c, o| coord(*c, o));
}

fn polygon(p: &geo::Polygon<f64>, out: &mut String) {
    list(
        out,
        std::iter::once(p.exterior()).chain(p.interiors()),
        ring,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(a: f64, b: f64, c: f64, d: f64) -> Rect {
        Rect {
            min_lat: a,
            min_lon: b,
            max_lat: c,
            max_lon: d,
        }
    }

    #[test]
    fn polygons_lines_and_rects_are_cut() {
        let square = Geometry::from_geojson(
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}"#,
        )
        .unwrap();
        let c = clip_to_rect(&square, &rect(5.0, 5.0, 20.0, 20.0));
        assert_eq!(c.bbox(), rect(5.0, 5.0, 10.0, 10.0));
        assert!(c
            .geojson_string()
            .starts_with(r#"{"type":"Polygon","coordinates":[[["#));
        let line = Geometry::from_geojson(r#"{"type":"LineString","coordinates":[[0,0],[10,0]]}"#)
            .unwrap();
        let c = clip_to_rect(&line, &rect(-1.0, 2.0, 1.0, 4.0));
        assert_eq!(
            c.geojson_string(),
            r#"{"type":"LineString","coordinates":[[2,0],[4,0]]}"#
        );
        let b = Geometry::Bounds(rect(0.0, 0.0, 10.0, 10.0));
        assert_eq!(
            clip_to_rect(&b, &rect(5.0, -5.0, 20.0, 5.0)),
            Geometry::Bounds(rect(5.0, 0.0, 10.0, 5.0))
        );
    }

    /// A U cut below its arms is two polygons (Tile38's per-ring Sutherland–Hodgman returns
    /// one ring joined by a zero-width bridge along the cut, an invalid polygon).
    #[test]
    fn a_concave_polygon_cut_in_two_is_a_multipolygon() {
        let u = Geometry::from_geojson(
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[7,10],[7,3],[3,3],[3,10],[0,10],[0,0]]]}"#,
        )
        .unwrap();
        let c = clip_to_rect(&u, &rect(5.0, -5.0, 20.0, 15.0));
        let doc: serde_json::Value = serde_json::from_str(&c.geojson_string()).unwrap();
        assert_eq!(doc["type"], "MultiPolygon");
        let mut parts: Vec<Rect> = doc["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Geometry::from_geojson(&format!(r#"{{"type":"Polygon","coordinates":{p}}}"#)))
            .map(|g| g.unwrap().bbox())
            .collect();
        parts.sort_by(|a, b| a.min_lon.total_cmp(&b.min_lon));
        assert_eq!(
            parts,
            [rect(5.0, 0.0, 10.0, 3.0), rect(5.0, 7.0, 10.0, 10.0)]
        );
    }

    #[test]
    fn features_keep_their_members() {
        let f = Geometry::from_geojson(
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[10,0]]},"properties":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(
            clip_to_rect(&f, &rect(-1.0, 0.0, 1.0, 5.0)).geojson_string(),
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[5,0]]},"properties":{"a":1}}"#
        );
    }
}
