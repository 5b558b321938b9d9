//! Scratch measurement: RSS of one collection of N points with one numeric field, built by
//! inserts (as a pipelined load does) and by a bulk load (as AOF replay does).
//!
//!   cargo run --release --example store_mem -- 1000000

use meridian::geo::Geometry;
use meridian::metrics::rss_bytes;
use meridian::store::{Collection, FieldValue, Object};
use std::time::Instant;

// The server's allocator, so the numbers match what it would hold.
#[global_allocator]
static GLOBAL: meridian::allocator::Mimalloc = meridian::allocator::Mimalloc;

#[path = "../benches/common/mod.rs"]
mod points;

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn build(n: usize, deferred: bool) -> Collection {
    let mut col = Collection::new(deferred);
    for (i, (lat, lon)) in points::random_points(n).enumerate() {
        let g = Geometry::point(lat, lon, None).unwrap();
        let mut o = Object::geo(g);
        o.fields.set("speed", FieldValue::Num((i % 100 + 1) as f64));
        col.set(&format!("p{i}"), o);
    }
    if deferred {
        col.build_index();
    }
    col
}

fn main() {
    // The server's allocator settings (its defaults), before anything is allocated.
    meridian::allocator::init();
    let cfg = meridian::config::Config::default();
    meridian::allocator::configure(cfg.allocator_thp, cfg.allocator_purge_delay_ms);
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mode = std::env::args().nth(2).unwrap_or_else(|| "insert".into());
    let base = rss_bytes();
    let t = Instant::now();
    let col = build(n, mode == "bulk");
    if mode == "bulk" {
        // As the server does after the AOF load.
        meridian::allocator::release_free_memory();
    }
    let took = t.elapsed();
    let rss = rss_bytes() - base;
    println!(
        "{mode}: {n} points in {took:.2?}: {:.1} MiB ({} B/object), stats in_memory_size {:.1} MiB",
        mib(rss),
        rss / n as u64,
        mib(col.stats().in_memory_size as u64)
    );
}
