use meridian::geo::point_rect_lower_bound_meters;
use meridian::geo::Rect;
use meridian::store::index::SpatialIndex;

#[global_allocator]
static GLOBAL: meridian::allocator::Mimalloc = meridian::allocator::Mimalloc;

fn main() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let pts: Vec<(f64, f64)> = (0..1_000_000)
        .map(|_| (next() * 170.0 - 85.0, next() * 360.0 - 180.0))
        .collect();
    let rect = |&(la, lo): &(f64, f64)| Rect {
        min_lat: la,
        max_lat: la,
        min_lon: lo,
        max_lon: lo,
    };
    let mut idx = SpatialIndex::default();
    for (i, p) in pts.iter().enumerate() {
        idx.insert(i as u32, &rect(p));
    }
    let (lat, lon): (f64, f64) = (60.094824, -0.078598);
    let cos_lat = lat.to_radians().cos();
    let rounds: usize = std::env::args().nth(1).map_or(3, |a| a.parse().unwrap());
    for round in 0..rounds {
        for k in [1usize, 10, 100] {
            let iters = 2_000_000 / k.max(5);
            let t = std::time::Instant::now();
            let mut tot = 0;
            for _ in 0..iters {
                let b = |r: &Rect| point_rect_lower_bound_meters(lat, cos_lat, lon, r);
                let e = |h: u32| {
                    let p = pts[h as usize];
                    (meridian::geo::haversine_meters(lat, lon, p.0, p.1), "")
                };
                tot += std::hint::black_box(idx.nearest(b, e).take(k).count());
            }
            let _ = round;
            println!(
                "k={k} {:.3} us/q ({tot})",
                t.elapsed().as_secs_f64() / iters as f64 * 1e6
            );
        }
    }
}
