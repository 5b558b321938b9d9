//! WITHIN and INTERSECTS with a polygon of many vertices (a hole included) against the real
//! binary: the edge-indexed point test (`geo/locate.rs`, used from 64 edges) returns exactly
//! the ids a brute-force `geo` test of every point gives, points on the polygon's vertices
//! included, and the same as the unindexed path (the polygon inside a GeometryCollection).

mod common;

use common::*;
use geo::Intersects;

/// A wavy ring of `n` vertices around (lon 10, lat 20).
fn ring(n: usize, scale: f64) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            let r = scale * (8.0 + 2.0 * (5.0 * t).sin() + 0.7 * (17.0 * t).cos());
            let round = |v: f64| (v * 1e6).round() / 1e6;
            (round(10.0 + r * t.cos()), round(20.0 + r * t.sin()))
        })
        .collect();
    pts.push(pts[0]);
    pts
}

fn coords(r: &[(f64, f64)]) -> String {
    let p: Vec<String> = r.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
    format!("[{}]", p.join(","))
}

#[test]
fn many_vertex_polygons_match_a_brute_force_test() {
    let s = TestServer::start();
    // A 0.25° grid over the polygon's box, plus points on some of its vertices.
    let (outer, hole) = (ring(300, 1.0), ring(40, 0.3));
    let grid = (0..=100)
        .flat_map(|i| (0..=100).map(move |j| (-3.0 + i as f64 * 0.25, 7.0 + j as f64 * 0.25)));
    let on_vertices = outer
        .iter()
        .step_by(7)
        .chain(hole.iter().step_by(5))
        .copied();
    let points: Vec<(f64, f64)> = grid.chain(on_vertices).collect();
    let lat_lon = |i: usize| (points[i].1.to_string(), points[i].0.to_string());
    s.load_speed_points(points.len(), lat_lon);

    let reversed: Vec<(f64, f64)> = hole.iter().rev().copied().collect();
    let polygon = format!(
        r#"{{"type":"Polygon","coordinates":[{},{}]}}"#,
        coords(&outer),
        coords(&reversed)
    );
    let shape = geo::Polygon::new(
        outer
            .iter()
            .map(|&(x, y)| geo::coord! { x: x, y: y })
            .collect(),
        vec![reversed
            .iter()
            .map(|&(x, y)| geo::coord! { x: x, y: y })
            .collect()],
    );
    let mut expect: Vec<String> = (0..points.len())
        .filter(|&i| shape.intersects(&geo::Point::new(points[i].0, points[i].1)))
        .map(|i| format!("p{i:05}"))
        .collect();
    expect.sort();
    assert!(
        expect.len() > 1000 && expect.len() < points.len() - 1000,
        "{}",
        expect.len()
    );

    let collection = format!(r#"{{"type":"GeometryCollection","geometries":[{polygon}]}}"#);
    let mut c = s.wire();
    for cmd in ["WITHIN", "INTERSECTS"] {
        for area in [&polygon, &collection] {
            let reply = c.cmd(&[cmd, "big", "LIMIT", "100000", "IDS", "OBJECT", area]);
            let mut got = reply_ids(&reply);
            got.sort();
            assert_eq!(got, expect, "{cmd} {}", &area[..20]);
        }
    }
}

/// The ids of a `*2 :cursor *n $id…` reply.
fn reply_ids(reply: &str) -> Vec<String> {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    assert_eq!(lines[1], ":0", "{}", &reply[..reply.len().min(200)]);
    lines[3..]
        .iter()
        .filter(|l| !l.starts_with('$') && !l.is_empty())
        .map(|l| l.to_string())
        .collect()
}
