//! Micro-benchmarks of the geometry predicates a search runs per candidate: a point against a
//! polygon with a hole, a circle and a rectangle; a polygon and a line against a polygon area;
//! a circle's containment of a polygon; a point against a 2000-vertex polygon, edge-indexed
//! and not; and the NEARBY bounds (a box's, and a page's 32 points').

use criterion::{criterion_group, criterion_main, Criterion};
use meridian::geo::{
    point_box_lower_bounds_meters, point_rect_lower_bound_meters, Area, Geometry, Rect,
};
use std::hint::black_box;

const ZONE_WITH_HOLE: &str = r#"{"type":"Polygon","coordinates":[
    [[-112.3,33.3],[-111.9,33.3],[-111.9,33.7],[-112.3,33.7],[-112.3,33.3]],
    [[-112.15,33.45],[-112.05,33.45],[-112.05,33.55],[-112.15,33.55],[-112.15,33.45]]]}"#;

fn geometry(json: &str) -> Geometry {
    Geometry::from_geojson(json).expect("valid GeoJSON")
}

fn bench_predicates(c: &mut Criterion) {
    let zone = Area::shape(geometry(ZONE_WITH_HOLE));
    let inside = Geometry::point(33.35, -112.2, None).unwrap();
    let in_hole = Geometry::point(33.5, -112.1, None).unwrap();
    c.bench_function("polygon_with_hole_contains_point", |b| {
        b.iter(|| black_box(zone.contains(black_box(&inside)) ^ zone.contains(black_box(&in_hole))))
    });
    let line = geometry(
        r#"{"type":"LineString","coordinates":[[-112.5,33.5],[-112.0,33.6],[-111.5,33.2]]}"#,
    );
    c.bench_function("polygon_intersects_linestring", |b| {
        b.iter(|| black_box(zone.intersects(black_box(&line))))
    });
    let small = geometry(
        r#"{"type":"Polygon","coordinates":[[[-112.25,33.35],[-112.2,33.35],[-112.2,33.4],[-112.25,33.35]]]}"#,
    );
    c.bench_function("polygon_within_polygon_with_hole", |b| {
        b.iter(|| black_box(zone.contains(black_box(&small))))
    });
    let circle = Area::Circle {
        lat: 33.4,
        lon: -112.2,
        meters: 10_000.0,
    };
    c.bench_function("circle_contains_point", |b| {
        b.iter(|| black_box(circle.contains(black_box(&inside))))
    });
    c.bench_function("circle_contains_polygon", |b| {
        b.iter(|| black_box(circle.contains(black_box(&small))))
    });
    let rect = Area::Rect(Rect {
        min_lat: 33.3,
        min_lon: -112.3,
        max_lat: 33.7,
        max_lon: -111.9,
    });
    c.bench_function("rect_intersects_linestring", |b| {
        b.iter(|| black_box(rect.intersects(black_box(&line))))
    });
    let far = Rect {
        min_lat: 40.0,
        min_lon: 10.0,
        max_lat: 41.0,
        max_lon: 11.0,
    };
    let cos_lat = 33.4f64.to_radians().cos();
    c.bench_function("nearby_box_lower_bound", |b| {
        b.iter(|| {
            black_box(point_rect_lower_bound_meters(
                black_box(33.4),
                cos_lat,
                -112.2,
                &far,
            ))
        })
    });
    // A page of 32 stored points around the query, some across the antimeridian's far side.
    let page: Vec<([f32; 2], u32)> = (0..32u32)
        .map(|i| {
            let lon = -112.2 + f64::from(i % 8) * 0.3 + if i == 31 { 290.0 } else { 0.0 };
            ([lon as f32, (33.0 + f64::from(i / 8) * 0.2) as f32], i)
        })
        .collect();
    let mut out = [0.0; 32];
    c.bench_function("nearby_page_point_bounds_32", |b| {
        b.iter(|| {
            point_box_lower_bounds_meters(
                black_box(33.4),
                cos_lat,
                -112.2,
                black_box(&page),
                1.0 / 65536.0,
                &mut out,
            );
            black_box(out[31])
        })
    });
}

/// A wavy ring of `n` vertices (lon, lat) around (0, 40), as GeoJSON coordinates.
fn wavy_ring(n: usize) -> String {
    let pts: Vec<String> = (0..=n)
        .map(|i| {
            let t = std::f64::consts::TAU * (i % n) as f64 / n as f64;
            let r = 25.0 + 5.0 * (7.0 * t).sin() + 2.0 * (31.0 * t).cos();
            format!("[{:.6},{:.6}]", r * t.cos(), 40.0 + 0.8 * r * t.sin())
        })
        .collect();
    format!("[{}]", pts.join(","))
}

fn bench_large_polygon(c: &mut Criterion) {
    let polygon = format!(
        r#"{{"type":"Polygon","coordinates":[{}]}}"#,
        wavy_ring(2000)
    );
    let collection = format!(r#"{{"type":"GeometryCollection","geometries":[{polygon}]}}"#);
    let points: Vec<Geometry> = (0..64)
        .map(|i| Geometry::point(30.0 + i as f64 * 0.3, -20.0 + i as f64 * 0.6, None).unwrap())
        .collect();
    // The edge index (a Polygon of 64 edges or more), and geo's pass over every edge (the
    // same polygon in a collection, which is not indexed).
    for (name, json) in [("indexed", &polygon), ("unindexed", &collection)] {
        let area = Area::shape(geometry(json));
        c.bench_function(&format!("polygon_2000_contains_64_points_{name}"), |b| {
            b.iter(|| black_box(points.iter().filter(|p| area.contains(p)).count()))
        });
    }
}

criterion_group!(benches, bench_predicates, bench_large_polygon);
criterion_main!(benches);
