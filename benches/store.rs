//! Micro-benchmarks of the hot store paths: inserting points (index upkeep included), bulk
//! loading the R-tree, a bounding-box query, the nearest-neighbour walk (in one step and in
//! resumed steps), a circle search with its exact predicate, and GeoJSON parsing.

use criterion::{criterion_group, criterion_main, Criterion};
use meridian::geo::{Geometry, Rect};
use meridian::store::walk::{NearWalk, Step};
use meridian::store::{Collection, Object};
use std::hint::black_box;
use std::ops::ControlFlow;

mod common;

fn points(n: usize) -> Vec<(String, Geometry)> {
    common::random_points(n)
        .enumerate()
        .map(|(i, (lat, lon))| (format!("p{i}"), Geometry::point(lat, lon, None).unwrap()))
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

/// A long NEARBY walk (the first 40960 of 1M points) in one step and in the steps of 4096 it
/// takes under the default `search-walk-batch`: the difference is what resuming costs.
fn bench_nearby_walk_steps(c: &mut Criterion) {
    let mut col = Collection::new(false);
    for (id, g) in points(1_000_000) {
        col.set(&id, Object::geo(g));
    }
    let walk = |budget: usize| {
        let mut w = NearWalk::new(60.094824, -0.078598);
        let mut got = 0usize;
        while col.near_walk_step(&mut w, budget, |_, _, _| {
            got += 1;
            match got {
                40_960 => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }) == Step::More
        {}
        got
    };
    let mut g = c.benchmark_group("nearby_walk_40960_of_1m");
    g.sample_size(10);
    g.bench_function("one_step", |b| b.iter(|| black_box(walk(usize::MAX))));
    g.bench_function("steps_of_4096", |b| b.iter(|| black_box(walk(4096))));
    g.finish();
}

criterion_group!(
    benches,
    bench_store,
    bench_small_queries,
    bench_nearby_walk_steps
);
criterion_main!(benches);
