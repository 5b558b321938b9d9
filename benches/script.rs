//! Micro-benchmark of one WHEREEVAL call, what a scripted search pays per candidate: refilling
//! `FIELDS` with an object's fields (a number and a string) and running a short script.

use criterion::{criterion_group, criterion_main, Criterion};
use meridian::script::{FieldArg, FieldSource, Scripts};
use std::hint::black_box;
use std::sync::Arc;

struct Truck(f64);

impl FieldSource for Truck {
    fn each(&self, visit: &mut dyn FnMut(&str, FieldArg<'_>)) {
        visit("speed", FieldArg::Num(self.0));
        visit("driver", FieldArg::Str("alice"));
    }
}

fn bench_filter(c: &mut Criterion) {
    let scripts = Arc::new(Scripts::default());
    let script = "return FIELDS.speed ~= nil and FIELDS.speed > tonumber(ARGV[1])";
    let filter = scripts
        .filter(script, false, &["50".to_string()])
        .expect("compiles");
    let (fast, slow) = (Truck(90.0), Truck(10.0));
    c.bench_function("whereeval_call_two_fields", |b| {
        b.iter(|| black_box(filter.matches(black_box(&fast)) ^ filter.matches(black_box(&slow))))
    });
}

criterion_group!(benches, bench_filter);
criterion_main!(benches);
