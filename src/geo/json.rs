//! GeoJSON parsing and canonical rendering for every GeoJSON type (Point, MultiPoint,
//! LineString, MultiLineString, Polygon, MultiPolygon, GeometryCollection, Feature,
//! FeatureCollection), following Tile38's parser: the same validation and error texts, and the
//! same compact output (`type` first, then `coordinates`/`geometry`/`geometries`/`features`,
//! then every other member verbatim in input order; coordinates re-rendered with
//! [`super::fmt_coord`]; a Feature without `properties` gets `"properties":{}`). Unlike Tile38,
//! latitudes outside ±90 and longitudes outside ±180 are rejected.

use geo::{MultiLineString, MultiPoint, MultiPolygon};
use serde_json::Value;

use super::coords::{bbox_of, items, line, line_shape, polygon_shape, position, rings, union_opt};
use super::coords::{write_list, write_pos, write_rings, write_series};
use super::rawjson::{array_elements, compact_into, object_members};
use super::{GeoError, GeoObject, Geometry, Rect};

fn err(msg: &str) -> GeoError {
    GeoError(msg.to_string())
}

fn invalid_data() -> GeoError {
    err("invalid data")
}

/// One parsed GeoJSON object of any type.
struct Parsed {
    json: String,
    shape: geo::Geometry<f64>,
    /// `None` when the object holds no position (an empty collection).
    bbox: Option<Rect>,
    num_points: usize,
    /// Set for a bare Point that renders the same as an inline point geometry.
    simple: Option<Geometry>,
}

/// The interesting members of one GeoJSON object, as raw text.
#[derive(Default)]
struct Keys<'a> {
    typ: Option<&'a str>,
    coordinates: Option<&'a str>,
    geometries: Option<&'a str>,
    geometry: Option<&'a str>,
    features: Option<&'a str>,
    /// Every other member, compacted, each preceded by a comma.
    members: String,
    has_properties: bool,
}

/// Parses GeoJSON text into a geometry (see [`Geometry::from_geojson`]).
pub(super) fn from_geojson(text: &str) -> Result<Geometry, GeoError> {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Err(invalid_data());
    }
    let parsed = parse_object(text)?;
    if let Some(simple) = parsed.simple {
        return Ok(simple);
    }
    let empty = Rect::point(0.0, 0.0);
    Ok(Geometry::Object(Box::new(GeoObject {
        shape: parsed.shape,
        json: parsed.json.into_boxed_str(),
        bbox: parsed.bbox.unwrap_or(empty),
        num_points: parsed.num_points,
    })))
}

fn collect_keys(text: &str) -> Result<Keys<'_>, GeoError> {
    let members = object_members(text).ok_or_else(invalid_data)?;
    let mut keys = Keys::default();
    for m in members {
        match m.key.as_str() {
            "type" => keys.typ = Some(m.value),
            "coordinates" => keys.coordinates = Some(m.value),
            "geometries" => keys.geometries = Some(m.value),
            "geometry" => keys.geometry = Some(m.value),
            "features" => keys.features = Some(m.value),
            other => {
                keys.has_properties |= other == "properties";
                keys.members.push(',');
                compact_into(m.key_raw, &mut keys.members);
                keys.members.push(':');
                compact_into(m.value, &mut keys.members);
            }
        }
    }
    Ok(keys)
}

fn parse_object(text: &str) -> Result<Parsed, GeoError> {
    let keys = collect_keys(text)?;
    let raw_type = keys.typ.ok_or_else(|| err("missing type"))?;
    if !raw_type.starts_with('"') {
        return Err(err("invalid type"));
    }
    let typ: String = serde_json::from_str(raw_type).map_err(|_| invalid_data())?;
    match typ.as_str() {
        "Point" => parse_point(&keys),
        "MultiPoint" => parse_multi_point(&keys),
        "LineString" => parse_line_string(&keys),
        "MultiLineString" => parse_multi_line_string(&keys),
        "Polygon" => parse_polygon(&keys),
        "MultiPolygon" => parse_multi_polygon(&keys),
        "GeometryCollection" => parse_collection(&keys, "GeometryCollection", "geometries"),
        "FeatureCollection" => parse_collection(&keys, "FeatureCollection", "features"),
        "Feature" => parse_feature(&keys),
        other => Err(GeoError(format!("type '{other}' is unknown"))),
    }
}

/// The `coordinates` member, parsed.
fn coordinates(keys: &Keys) -> Result<Value, GeoError> {
    let raw = keys.coordinates.ok_or_else(|| err("missing coordinates"))?;
    serde_json::from_str(raw).map_err(|_| invalid_data())
}

/// Applies `parse` to every element of the `coordinates` array.
fn each_coordinate<T>(
    keys: &Keys,
    parse: fn(&Value) -> Result<T, GeoError>,
) -> Result<Vec<T>, GeoError> {
    items(&coordinates(keys)?)?.iter().map(parse).collect()
}

/// A coordinates-bearing object: `{"type":KIND,"coordinates":...<members>}`.
fn coords_parsed(
    kind: &str,
    keys: &Keys,
    write_coords: impl FnOnce(&mut String),
    shape: geo::Geometry<f64>,
    bbox: Option<Rect>,
    num_points: usize,
) -> Parsed {
    let mut json = String::with_capacity(64 + keys.members.len());
    json.push_str(r#"{"type":""#);
    json.push_str(kind);
    json.push_str(r#"","coordinates":"#);
    write_coords(&mut json);
    json.push_str(&keys.members);
    json.push('}');
    Parsed {
        json,
        shape,
        bbox,
        num_points,
        simple: None,
    }
}

fn parse_point(keys: &Keys) -> Result<Parsed, GeoError> {
    let p = position(&coordinates(keys)?)?;
    let shape = geo::Geometry::Point(geo::Point(p.coord()));
    let bbox = Some(Rect::point(p.y, p.x));
    let mut parsed = coords_parsed("Point", keys, |o| write_pos(o, &p, p.dims), shape, bbox, 1);
    if keys.members.is_empty() {
        parsed.simple = match p.dims {
            0 => Some(Geometry::Point { lat: p.y, lon: p.x }),
            1 => Some(Geometry::PointZ {
                lat: p.y,
                lon: p.x,
                z: p.extra[0],
            }),
            _ => None,
        };
    }
    Ok(parsed)
}

fn parse_multi_point(keys: &Keys) -> Result<Parsed, GeoError> {
    let ps = each_coordinate(keys, position)?;
    let shape = MultiPoint(ps.iter().map(|p| geo::Point(p.coord())).collect());
    let write = |o: &mut String| write_list(o, &ps, |o, p| write_pos(o, p, p.dims));
    Ok(coords_parsed(
        "MultiPoint",
        keys,
        write,
        shape.into(),
        bbox_of(&ps),
        ps.len(),
    ))
}

fn parse_line_string(keys: &Keys) -> Result<Parsed, GeoError> {
    let ps = line(&coordinates(keys)?)?;
    let write = |o: &mut String| write_series(o, &ps, ps[0].dims);
    let shape = line_shape(&ps).into();
    Ok(coords_parsed(
        "LineString",
        keys,
        write,
        shape,
        bbox_of(&ps),
        ps.len(),
    ))
}

fn parse_multi_line_string(keys: &Keys) -> Result<Parsed, GeoError> {
    let lines = each_coordinate(keys, line)?;
    let shape = MultiLineString(lines.iter().map(|l| line_shape(l)).collect());
    let write = |o: &mut String| write_list(o, &lines, |o, l| write_series(o, l, l[0].dims));
    let n = lines.iter().map(Vec::len).sum();
    let bbox = bbox_of(lines.iter().flatten());
    Ok(coords_parsed(
        "MultiLineString",
        keys,
        write,
        shape.into(),
        bbox,
        n,
    ))
}

fn parse_polygon(keys: &Keys) -> Result<Parsed, GeoError> {
    let rs = rings(&coordinates(keys)?)?;
    let shape = polygon_shape(&rs).into();
    let n = rs.iter().map(Vec::len).sum();
    let bbox = bbox_of(rs.iter().flatten());
    Ok(coords_parsed(
        "Polygon",
        keys,
        |o| write_rings(o, &rs),
        shape,
        bbox,
        n,
    ))
}

fn parse_multi_polygon(keys: &Keys) -> Result<Parsed, GeoError> {
    let polys = each_coordinate(keys, rings)?;
    let shape = MultiPolygon(polys.iter().map(|p| polygon_shape(p)).collect());
    let write = |o: &mut String| write_list(o, &polys, |o, p| write_rings(o, p));
    let n = polys.iter().flatten().map(Vec::len).sum();
    let bbox = bbox_of(polys.iter().flatten().flatten());
    Ok(coords_parsed(
        "MultiPolygon",
        keys,
        write,
        shape.into(),
        bbox,
        n,
    ))
}

/// GeometryCollection (`member` = `geometries`) or FeatureCollection (`features`): every
/// element is parsed as a GeoJSON object of any type, as Tile38 does.
fn parse_collection(keys: &Keys, kind: &str, member: &str) -> Result<Parsed, GeoError> {
    let raw = if member == "features" {
        keys.features
    } else {
        keys.geometries
    };
    let raw = raw.ok_or_else(|| GeoError(format!("missing {member}")))?;
    let elems = array_elements(raw).ok_or_else(|| GeoError(format!("invalid {member}")))?;
    let mut json = format!(r#"{{"type":"{kind}","{member}":["#);
    let mut shapes = Vec::with_capacity(elems.len());
    let (mut bbox, mut num_points) = (None, 0);
    for (i, elem) in elems.iter().enumerate() {
        let child = parse_object(elem)?;
        if i > 0 {
            json.push(',');
        }
        json.push_str(&child.json);
        shapes.push(child.shape);
        bbox = union_opt(bbox, child.bbox);
        num_points += child.num_points;
    }
    json.push(']');
    json.push_str(&keys.members);
    json.push('}');
    let shape = geo::Geometry::GeometryCollection(geo::GeometryCollection(shapes));
    Ok(Parsed {
        json,
        shape,
        bbox,
        num_points,
        simple: None,
    })
}

fn parse_feature(keys: &Keys) -> Result<Parsed, GeoError> {
    let raw = keys.geometry.ok_or_else(|| err("missing geometry"))?;
    let child = parse_object(raw)?;
    let mut json = String::with_capacity(40 + child.json.len() + keys.members.len());
    json.push_str(r#"{"type":"Feature","geometry":"#);
    json.push_str(&child.json);
    json.push_str(&keys.members);
    if !keys.has_properties {
        json.push_str(r#","properties":{}"#);
    }
    json.push('}');
    Ok(Parsed {
        json,
        shape: child.shape,
        bbox: child.bbox,
        num_points: child.num_points,
        simple: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::LineString;

    fn render(text: &str) -> String {
        Geometry::from_geojson(text).unwrap().geojson_string()
    }

    fn object(text: &str) -> GeoObject {
        match Geometry::from_geojson(text).unwrap() {
            Geometry::Object(o) => *o,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn error(text: &str) -> String {
        Geometry::from_geojson(text).unwrap_err().0
    }

    #[test]
    fn bare_point_normalises() {
        let g = Geometry::from_geojson(r#"{"type":"Point","coordinates":[-112.2693,33.5123]}"#);
        assert_eq!(
            g,
            Ok(Geometry::Point {
                lat: 33.5123,
                lon: -112.2693
            })
        );
        let g = Geometry::from_geojson(r#" {"coordinates": [1.0, 2.5, 30], "type": "Point"} "#);
        assert_eq!(
            g,
            Ok(Geometry::PointZ {
                lat: 2.5,
                lon: 1.0,
                z: 30.0
            })
        );
        assert_eq!(
            render(r#"{"coordinates": [1.0, 2.5, 30], "type": "Point"}"#),
            r#"{"type":"Point","coordinates":[1,2.5,30]}"#
        );
    }

    #[test]
    fn point_with_members_or_m_is_object() {
        let o = object(r#"{"type":"Point","coordinates":[1,2],"bbox":[1, 2,1,2],"x":"a  b"}"#);
        assert_eq!(
            &*o.json,
            r#"{"type":"Point","coordinates":[1,2],"bbox":[1,2,1,2],"x":"a  b"}"#
        );
        assert_eq!(o.num_points, 1);
        assert_eq!(o.shape, geo::Geometry::Point(geo::Point::new(1.0, 2.0)));
        let g = Geometry::from_geojson(r#"{"type":"Point","coordinates":[1,2]," ":1}"#).unwrap();
        assert_eq!(g.center(), (2.0, 1.0));
        let o = object(r#"{"type":"Point","coordinates":[1,2,3,4,5]}"#);
        assert_eq!(&*o.json, r#"{"type":"Point","coordinates":[1,2,3,4]}"#);
    }

    #[test]
    fn multi_point_round_trip() {
        let o = object(r#"{"type":"MultiPoint","coordinates":[[1,2],[3.5,-4,10]]}"#);
        assert_eq!(
            &*o.json,
            r#"{"type":"MultiPoint","coordinates":[[1,2],[3.5,-4,10]]}"#
        );
        assert_eq!(o.num_points, 2);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: -4.0,
                min_lon: 1.0,
                max_lat: 2.0,
                max_lon: 3.5
            }
        );
        let empty = object(r#"{"type":"MultiPoint","coordinates":[]}"#);
        assert_eq!(&*empty.json, r#"{"type":"MultiPoint","coordinates":[]}"#);
        assert_eq!(empty.num_points, 0);
    }

    #[test]
    fn line_string_round_trip() {
        let o = object(r#"{ "type" : "LineString", "coordinates" : [ [1.0,2], [3,4.25] ] }"#);
        assert_eq!(
            &*o.json,
            r#"{"type":"LineString","coordinates":[[1,2],[3,4.25]]}"#
        );
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 2.0,
                min_lon: 1.0,
                max_lat: 4.25,
                max_lon: 3.0
            }
        );
        assert_eq!(o.num_points, 2);
        let expected: LineString<f64> = vec![(1.0, 2.0), (3.0, 4.25)].into();
        assert_eq!(o.shape, geo::Geometry::LineString(expected));
        // dimensions follow the first position
        let o = object(r#"{"type":"LineString","coordinates":[[1,2,7],[3,4],[5,6,8,9]]}"#);
        assert_eq!(
            &*o.json,
            r#"{"type":"LineString","coordinates":[[1,2,7],[3,4,0],[5,6,8]]}"#
        );
    }

    #[test]
    fn multi_line_string_round_trip() {
        let text =
            r#"{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[5,6],[7,8],[9,10]]]}"#;
        let o = object(text);
        assert_eq!(&*o.json, text);
        assert_eq!(o.num_points, 5);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 2.0,
                min_lon: 1.0,
                max_lat: 10.0,
                max_lon: 9.0
            }
        );
        assert!(matches!(o.shape, geo::Geometry::MultiLineString(ref m) if m.0.len() == 2));
    }

    #[test]
    fn polygon_with_hole_round_trip() {
        let text = concat!(
            r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],"#,
            r#"[[2,2],[4,2],[4,4],[2,4],[2,2]]]}"#
        );
        let o = object(text);
        assert_eq!(&*o.json, text);
        assert_eq!(o.num_points, 10);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 0.0,
                min_lon: 0.0,
                max_lat: 10.0,
                max_lon: 10.0
            }
        );
        match &o.shape {
            geo::Geometry::Polygon(p) => {
                assert_eq!(p.exterior().0.len(), 5);
                assert_eq!(p.interiors().len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let g = Geometry::from_geojson(text).unwrap();
        assert_eq!(g.center(), (5.0, 5.0));
        assert_eq!(g.num_points(), 10);
    }

    #[test]
    fn polygon_z_round_trip() {
        let text = r#"{"type":"Polygon","coordinates":[[[0,0,1],[1,0,2],[1,1,3],[0,0,1]]]}"#;
        assert_eq!(render(text), text);
    }

    #[test]
    fn multi_polygon_round_trip() {
        let text = concat!(
            r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],"#,
            r#"[[[5,5],[6,5],[6,6],[5,5]]]]}"#
        );
        let o = object(text);
        assert_eq!(&*o.json, text);
        assert_eq!(o.num_points, 8);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 0.0,
                min_lon: 0.0,
                max_lat: 6.0,
                max_lon: 6.0
            }
        );
        assert!(matches!(o.shape, geo::Geometry::MultiPolygon(ref m) if m.0.len() == 2));
    }

    #[test]
    fn geometry_collection_round_trip() {
        let text = concat!(
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},"#,
            r#"{"type":"LineString","coordinates":[[3,4],[5,6]]}]}"#
        );
        let o = object(text);
        assert_eq!(&*o.json, text);
        assert_eq!(o.num_points, 3);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 2.0,
                min_lon: 1.0,
                max_lat: 6.0,
                max_lon: 5.0
            }
        );
        match &o.shape {
            geo::Geometry::GeometryCollection(c) => assert_eq!(c.0.len(), 2),
            other => panic!("{other:?}"),
        }
        let empty = object(r#"{"type":"GeometryCollection","geometries":[]}"#);
        assert_eq!(empty.bbox, Rect::point(0.0, 0.0));
    }

    #[test]
    fn feature_keeps_members_in_order() {
        let text = r#"{"id":"truck1", "type":"Feature","properties":{"speed":10.50,"name":"A \"b\"","n":null},"geometry":{"type":"Point","coordinates":[-112.2693,33.5123]}}"#;
        let o = object(text);
        assert_eq!(
            &*o.json,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[-112.2693,33.5123]},"id":"truck1","properties":{"speed":10.50,"name":"A \"b\"","n":null}}"#
        );
        assert_eq!(o.num_points, 1);
        assert_eq!(o.bbox, Rect::point(33.5123, -112.2693));
        assert_eq!(
            o.shape,
            geo::Geometry::Point(geo::Point::new(-112.2693, 33.5123))
        );
        let g = Geometry::from_geojson(text).unwrap();
        assert_eq!(g.center(), (33.5123, -112.2693));
        assert!(!g.is_point());
    }

    #[test]
    fn feature_without_properties_gets_empty_object() {
        let text =
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}}"#;
        assert_eq!(
            render(text),
            r#"{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]},"properties":{}}"#
        );
    }

    #[test]
    fn feature_collection_round_trip() {
        let text = concat!(
            r#"{"type":"FeatureCollection","features":["#,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"a":1}},"#,
            r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,0]]]},"properties":{}}"#,
            r#"],"name":"fc"}"#
        );
        let o = object(text);
        assert_eq!(&*o.json, text);
        assert_eq!(o.num_points, 5);
        assert_eq!(
            o.bbox,
            Rect {
                min_lat: 0.0,
                min_lon: 0.0,
                max_lat: 4.0,
                max_lon: 4.0
            }
        );
        match &o.shape {
            geo::Geometry::GeometryCollection(c) => {
                assert!(matches!(c.0[0], geo::Geometry::Point(_)));
                assert!(matches!(c.0[1], geo::Geometry::Polygon(_)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(error("not json"), "invalid data");
        assert_eq!(
            error(r#"{"type":"Point","coordinates":[1,2]"#),
            "invalid data"
        );
        assert_eq!(error("[1,2]"), "invalid data");
        assert_eq!(error(r#"{"coordinates":[1,2]}"#), "missing type");
        assert_eq!(error(r#"{"type":5,"coordinates":[1,2]}"#), "invalid type");
        assert_eq!(
            error(r#"{"type":"Nope","coordinates":[1,2]}"#),
            "type 'Nope' is unknown"
        );
        assert_eq!(error(r#"{"type":"Point"}"#), "missing coordinates");
        assert_eq!(
            error(r#"{"type":"Feature","properties":{}}"#),
            "missing geometry"
        );
        assert_eq!(
            error(r#"{"type":"Feature","geometry":null}"#),
            "invalid data"
        );
        assert_eq!(error(r#"{"type":"FeatureCollection"}"#), "missing features");
        assert_eq!(
            error(r#"{"type":"FeatureCollection","features":{}}"#),
            "invalid features"
        );
        assert_eq!(
            error(r#"{"type":"GeometryCollection"}"#),
            "missing geometries"
        );
        assert_eq!(
            error(r#"{"type":"GeometryCollection","geometries":1}"#),
            "invalid geometries"
        );
    }

    #[test]
    fn bad_coordinates() {
        let cases = [
            r#"{"type":"Point","coordinates":[1]}"#,
            r#"{"type":"Point","coordinates":"1,2"}"#,
            r#"{"type":"Point","coordinates":[1,"2"]}"#,
            r#"{"type":"Point","coordinates":[[1,2]]}"#,
            r#"{"type":"Point","coordinates":[0,95]}"#,
            r#"{"type":"Point","coordinates":[-180.5,0]}"#,
            r#"{"type":"MultiPoint","coordinates":[1,2]}"#,
            r#"{"type":"LineString","coordinates":[[1,2]]}"#,
            r#"{"type":"LineString","coordinates":[1,2]}"#,
            r#"{"type":"MultiLineString","coordinates":[[[1,2]]]}"#,
            r#"{"type":"Polygon","coordinates":[]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#,
            r#"{"type":"Polygon","coordinates":[[]]}"#,
            r#"{"type":"Polygon","coordinates":[[0,0],[1,0],[1,1],[0,0]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[]]}"#,
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[0,91]}}"#,
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[]}]}"#,
        ];
        for case in cases {
            assert_eq!(error(case), "invalid coordinates", "{case}");
        }
    }

    #[test]
    fn nested_errors_propagate() {
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Bogus"}]}"#;
        assert_eq!(error(text), "type 'Bogus' is unknown");
    }

    #[test]
    fn coordinates_render_canonically() {
        assert_eq!(
            render(r#"{"type":"LineString","coordinates":[[1e1,-0.50],[1.000,2E-3]]}"#),
            r#"{"type":"LineString","coordinates":[[10,-0.5],[1,0.002]]}"#
        );
    }
}
