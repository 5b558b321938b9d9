//! The benchmarks' data: the same pseudo-random points every run, shared by the benches and
//! `examples/store_mem.rs` so their numbers describe the same data set.

/// `n` points as (lat, lon), uniform in lat ±85 and lon ±180 degrees. A fixed LCG keeps runs
/// comparable without a dependency.
pub fn random_points(n: usize) -> impl Iterator<Item = (f64, f64)> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n).map(move |_| (next() * 170.0 - 85.0, next() * 360.0 - 180.0))
}
