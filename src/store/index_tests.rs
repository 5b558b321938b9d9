//! Tests of the paged spatial index against a brute-force list of boxes.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn rect(lat: f64, lon: f64, d: f64) -> Rect {
    Rect {
        min_lat: lat,
        min_lon: lon,
        max_lat: lat + d,
        max_lon: lon + d,
    }
}

/// Checks the module's invariants and that every query answers like the brute force.
fn check(idx: &SpatialIndex, model: &BTreeMap<u32, Rect>, q: &Rect, at: (f64, f64)) {
    assert_eq!(idx.len(), model.len());
    let mut seen = Vec::new();
    let mut live_pages = 0;
    for (i, page) in idx.pages.iter().enumerate() {
        if page.len() == 0 {
            continue;
        }
        live_pages += 1;
        assert!(page.len() <= PAGE_MAX);
        assert!(page.pts.capacity() <= PAGE_MAX && page.rects.capacity() <= PAGE_MAX);
        let r = PageRef {
            env: page.env,
            page: i as u32,
        };
        assert!(idx.tree.iter().any(|t| *t == r), "page {i} not in the tree");
        for (_, h) in page.entries() {
            let exact = Bx::of(&model[&h]);
            assert!(page.env.contains(&exact), "page {i} does not cover {h}");
            seen.push(h);
        }
    }
    assert_eq!(idx.tree.size(), live_pages);
    seen.sort_unstable();
    assert_eq!(seen, model.keys().copied().collect::<Vec<_>>());
    // Candidates: a superset of the exact hits, and nothing far away.
    let mut hits: Vec<u32> = idx.intersecting(q).collect();
    hits.sort_unstable();
    let exact: Vec<u32> = model
        .iter()
        .filter(|(_, r)| r.intersects(q))
        .map(|(h, _)| *h)
        .collect();
    assert!(exact.iter().all(|h| hits.binary_search(h).is_ok()));
    let loose = Bx::of(q);
    assert!(hits
        .iter()
        .all(|h| Bx::of(&model[h]).intersects(&loose) || model[h].min_lat == model[h].max_lat));
    // Nearest: exact order with a planar distance in degrees.
    let dist = |r: &Rect| {
        let dy = (r.min_lat - at.0).max(at.0 - r.max_lat).max(0.0);
        let dx = (r.min_lon - at.1).max(at.1 - r.max_lon).max(0.0);
        dx.hypot(dy)
    };
    let names: BTreeMap<u32, String> = model.keys().map(|h| (*h, format!("id{h}"))).collect();
    let got: Vec<(u32, f64)> = idx
        .nearest(dist, |h| (dist(&model[&h]), names[&h].as_str()))
        .collect();
    let mut want: Vec<(u32, f64)> = model.iter().map(|(h, r)| (*h, dist(r))).collect();
    want.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then_with(|| names[&a.0].cmp(&names[&b.0]))
    });
    assert_eq!(got, want);
}

#[derive(Debug, Clone)]
enum Op {
    Point(u16, i16, i16),
    Box(u16, i16, i16, u8),
    Remove(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..300, -900i16..900, -1800i16..1800).prop_map(|(h, a, b)| Op::Point(h, a, b)),
        1 => (0u16..300, -900i16..880, -1800i16..1780, 0u8..20)
            .prop_map(|(h, a, b, d)| Op::Box(h, a, b, d)),
        2 => (0u16..300).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn matches_brute_force(
        bulk in proptest::collection::vec((-900i16..900, -1800i16..1800), 0..200),
        ops in proptest::collection::vec(op(), 1..400),
        q in (-900i16..880, -1800i16..1780, 1u8..200),
        at in (-900i16..900, -1800i16..1800),
    ) {
        let mut model = BTreeMap::new();
        for (i, (a, b)) in bulk.iter().enumerate() {
            model.insert(1000 + i as u32, rect(f64::from(*a) / 10.0, f64::from(*b) / 10.0, 0.0));
        }
        let mut idx = SpatialIndex::bulk_load(model.iter().map(|(h, r)| (*h, *r)));
        for op in &ops {
            let (h, r) = match *op {
                Op::Point(h, a, b) => (h, rect(f64::from(a) / 10.0, f64::from(b) / 10.0, 0.0)),
                Op::Box(h, a, b, d) => {
                    (h, rect(f64::from(a) / 10.0, f64::from(b) / 10.0, f64::from(d) / 10.0))
                }
                Op::Remove(h) => {
                    let was = model.remove(&u32::from(h));
                    prop_assert_eq!(idx.remove(u32::from(h), &was.unwrap_or(rect(0.0, 0.0, 0.0))), was.is_some());
                    continue;
                }
            };
            if let Some(old) = model.insert(u32::from(h), r) {
                prop_assert!(idx.remove(u32::from(h), &old));
            }
            idx.insert(u32::from(h), &r);
        }
        let q = rect(f64::from(q.0) / 10.0, f64::from(q.1) / 10.0, f64::from(q.2) / 10.0);
        check(&idx, &model, &q, (f64::from(at.0) / 10.0, f64::from(at.1) / 10.0));
    }
}

#[test]
fn rounding_always_contains_the_exact_box() {
    for &(lat, lon) in &[(33.5123, -112.2693), (0.1, 0.2), (-89.999999, 179.999999)] {
        let r = rect(lat, lon, 0.0);
        let e = Loose::new(0, &r);
        let p = e.pt().unwrap();
        assert_eq!(p, [lon as f32, lat as f32]);
        assert!(Bx::around(p).contains(&Bx::of(&r)));
    }
}

#[test]
fn a_page_slot_is_small() {
    // The reason for pages: a tree slot costs this much whatever the entry.
    assert!(std::mem::size_of::<RTreeNode<PageRef>>() <= 48);
    assert_eq!(std::mem::size_of::<([f32; 2], u32)>(), 12);
    assert_eq!(std::mem::size_of::<Loose>(), 24);
}

/// A split that moves entries not walked yet into a reused page below the walk's frontier:
/// the walk must look at that page again (its stamp), or it misses them.
#[test]
fn a_walk_rewalks_a_reused_page_below_its_frontier() {
    let pt = |i: u32| rect(f64::from(i) * 0.5, f64::from(i) * 0.5, 0.0);
    // Bulk-loaded, 4 full pages: page k holds handles 32k..32k+31.
    let mut idx = SpatialIndex::bulk_load((0..128).map(|i| (i, pt(i))));
    let all = rect(-1.0, -1.0, 100.0);
    let mut w = idx.page_walk(&all);
    let mut got = Vec::new();
    let done = idx.walk_step(&mut w, 1, |h| {
        got.push(h);
        std::ops::ControlFlow::Continue(())
    });
    assert!(!done);
    assert_eq!(got, (0..32).collect::<Vec<_>>());
    for h in 0..32 {
        assert!(idx.remove(h, &pt(h)));
    }
    // Page 3 is full: one more point there splits it into page 3 and the freed page 0.
    idx.insert(1000, &rect(63.3, 63.3, 0.0));
    assert!(idx.pages[0].len() > 0 && idx.pages[0].stamp > 0);
    while !idx.walk_step(&mut w, 1, |h| {
        got.push(h);
        std::ops::ControlFlow::Continue(())
    }) {}
    got.sort_unstable();
    got.dedup();
    for h in 32..128 {
        assert!(got.contains(&h), "{h} missed");
    }
}
