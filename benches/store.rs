//! Micro-benchmarks of the hot store paths: inserting points (index upkeep included), bulk
//! loading the R-tree, a bounding-box query, the nearest-neighbour walk, a circle search with
//! its exact predicate, and GeoJSON parsing.

use criterion::{criterion_group, criterion_main, Criterion};
use meridian::geo::{Geometry, Rect};
use meridian::store::{Collection, Object};
use std::hint::black_box;

fn points(n: usize) -> Vec<(String, Geometry)> {
    // A fixed LCG keeps runs comparable without a dependency.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let g = Geometry::point(next() * 170.0 - 85.0, next() * 360.0 - 180.0, None).unwrap();
            (format!("p{i}"), g)
        })
        .collect()
}

fn bench_store(c: &mut Criterion) {
    let pts = points(100_000);
    c.bench_function("collection_set_100k_points", |b| {
        b.iter(|| {
            let mut col = Collection::new(false);
            for (id, g) in &pts {
                col.set(id, Object::geo(g.clone()));
            }
            black_box(col.len())
        })
    });
    c.bench_function("collection_bulk_load_100k_points", |b| {
        b.iter(|| {
            let mut col = Collection::new(true);
            for (id, g) in &pts {
                col.set(id, Object::geo(g.clone()));
            }
            col.build_index();
            black_box(col.len())
        })
    });
    let mut col = Collection::new(false);
    for (id, g) in &pts {
        col.set(id, Object::geo(g.clone()));
    }
    let q = Rect {
        min_lat: 10.0,
        min_lon: 10.0,
        max_lat: 12.0,
        max_lon: 12.0,
    };
    c.bench_function("index_intersecting_2x2_degrees_of_100k", |b| {
        b.iter(|| black_box(col.intersecting(&q).count()))
    });
    c.bench_function("nearby_10_of_100k", |b| {
        b.iter(|| {
            black_box(
                col.nearby(black_box(30.0), black_box(-100.0))
                    .take(10)
                    .count(),
            )
        })
    });
    let circle = meridian::geo::Area::Circle {
        lat: 30.0,
        lon: -100.0,
        meters: 100_000.0,
    };
    c.bench_function("within_circle_100km_of_100k", |b| {
        b.iter(|| {
            let bbox = circle.bbox();
            black_box(
                col.intersecting(&bbox)
                    .filter_map(|(_, o)| o.geometry())
                    .filter(|g| circle.contains(g))
                    .count(),
            )
        })
    });
    let poly = r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-112.1,33.4],[-112.0,33.4],[-112.0,33.5],[-112.1,33.5],[-112.1,33.4]]]},"properties":{"name":"zone"}}"#;
    c.bench_function("geojson_parse_feature_polygon", |b| {
        b.iter(|| black_box(Geometry::from_geojson(black_box(poly)).unwrap()))
    });
}

/// The whole-server benchmark's small queries (`bench/search.sh`: 1M points, a dense spot) on
/// a tree built by inserts, as a pipelined load builds it.
fn bench_small_queries(c: &mut Criterion) {
    let mut col = Collection::new(false);
    for (id, g) in points(1_000_000) {
        col.set(&id, Object::geo(g));
    }
    let (lat, lon) = (60.094824, -0.078598);
    for k in [1, 10, 100] {
        c.bench_function(&format!("nearby_{k}_of_1m"), |b| {
            b.iter(|| black_box(col.nearby(black_box(lat), black_box(lon)).take(k).count()))
        });
    }
    for km in [1.0, 10.0] {
        let circle = meridian::geo::Area::Circle {
            lat,
            lon,
            meters: km * 1000.0,
        };
        c.bench_function(&format!("within_circle_{km}km_of_1m"), |b| {
            b.iter(|| {
                black_box(
                    col.intersecting(&circle.bbox())
                        .filter_map(|(_, o)| o.geometry())
                        .filter(|g| circle.contains(g))
                        .count(),
                )
            })
        });
    }
}

criterion_group!(benches, bench_store, bench_small_queries);
criterion_main!(benches);
