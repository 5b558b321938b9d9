//! The area, value and nearest walks' guarantee against a brute-force model: walks in tiny steps
//! interleaved with inserts, moves (which split pages or change a value), re-inserts, deletes
//! and unchanged re-SETs.

use super::*;
use crate::geo::{haversine_meters, Geometry};
use crate::store::Object;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
enum Op {
    /// SET id at grid point (lat, lon) in hundredths of a degree.
    Set(u16, u16, u16),
    Del(u16),
    /// DEL, SET another new id (which takes the freed handle), SET again at the same place:
    /// the id comes back under another handle.
    Reinsert(u16),
    /// SET again with the same object: unchanged.
    Touch(u16),
    /// DEL every object with a latitude in [a, a + 0.5): empties pages, which later splits
    /// reuse (perhaps below the walk's frontier).
    Clear(u16),
}

fn op(ids: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..ids, 0u16..400, 0u16..400).prop_map(|(i, a, b)| Op::Set(i, a, b)),
        // Around the walked rectangle, to fill and split the pages it walks.
        3 => (0..ids, 40u16..310, 40u16..260).prop_map(|(i, a, b)| Op::Set(i, a, b)),
        2 => (0..ids).prop_map(Op::Del),
        1 => (0..ids).prop_map(Op::Reinsert),
        1 => (0..ids).prop_map(Op::Touch),
        1 => (0u16..350).prop_map(Op::Clear),
    ]
}

fn point(a: u16, b: u16) -> Object {
    Object::geo(Geometry::point(f64::from(a) / 100.0, f64::from(b) / 100.0, None).unwrap())
}

struct Model {
    col: Collection,
    at: BTreeMap<u16, (u16, u16)>,
    /// Ids inserted, changed or deleted since the walk started.
    touched: BTreeSet<u16>,
    ever: BTreeSet<u16>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        let id = |i: u16| format!("o{i}");
        match *op {
            Op::Set(i, a, b) => {
                self.col.set(&id(i), point(a, b));
                self.touched.insert(i);
                self.ever.insert(i);
                self.at.insert(i, (a, b));
            }
            Op::Del(i) => {
                self.col.remove(&id(i));
                self.touched.insert(i);
                self.at.remove(&i);
            }
            Op::Clear(a) => {
                let gone: Vec<u16> = self
                    .at
                    .iter()
                    .filter(|(_, p)| p.0 >= a && p.0 < a + 50)
                    .map(|(i, _)| *i)
                    .collect();
                for i in gone {
                    self.apply(&Op::Del(i));
                }
            }
            Op::Reinsert(i) | Op::Touch(i) => {
                let Some(&(a, b)) = self.at.get(&i) else {
                    return;
                };
                if matches!(op, Op::Reinsert(_)) {
                    self.col.remove(&id(i));
                    self.touched.insert(i);
                    let filler = 10_000 + i;
                    if self.at.insert(filler, (a, b)).is_none() {
                        self.col.set(&id(filler), point(a, b));
                        self.ever.insert(filler);
                        self.touched.insert(filler);
                    }
                }
                self.col.set(&id(i), point(a, b));
            }
        }
    }
}

const RECT: Rect = Rect {
    min_lat: 0.5,
    min_lon: 0.5,
    max_lat: 3.0,
    max_lon: 2.5,
};

fn inside(&(a, b): &(u16, u16)) -> bool {
    let (lat, lon) = (f64::from(a) / 100.0, f64::from(b) / 100.0);
    (RECT.min_lat..=RECT.max_lat).contains(&lat) && (RECT.min_lon..=RECT.max_lon).contains(&lon)
}

/// Every id (`o7` → 7) a walk yields, in order: `step(m, push)` takes one step, `between(m,
/// step)` runs after every step but the last.
fn steps<M>(
    m: &mut M,
    mut step: impl FnMut(&mut M, &mut dyn FnMut(&str)) -> Step,
    mut between: impl FnMut(&mut M, usize),
) -> Vec<u16> {
    let mut got = Vec::new();
    for n in 0.. {
        let s = step(m, &mut |id| got.push(id[1..].parse().unwrap()));
        assert_ne!(s, Step::Lost);
        if s == Step::Done {
            break;
        }
        between(m, n);
    }
    got
}

/// Every id an area walk of `RECT` yields, in order.
fn walk(m: &mut Model, budget: usize, between: impl FnMut(&mut Model, usize)) -> Vec<u16> {
    let mut w = m.col.area_walk(&RECT);
    let step = |m: &mut Model, push: &mut dyn FnMut(&str)| {
        m.col.area_walk_step(&mut w, budget, |id, _| {
            push(id);
            ControlFlow::Continue(())
        })
    };
    steps(m, step, between)
}

fn loaded(n: u16) -> Model {
    let mut m = Model {
        col: Collection::new(false),
        at: BTreeMap::new(),
        touched: BTreeSet::new(),
        ever: BTreeSet::new(),
    };
    for i in 0..n {
        m.apply(&Op::Set(i, (i * 37) % 400, (i * 91) % 400));
    }
    m.touched.clear();
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_stepped_walk_keeps_its_guarantee(
        n in 50u16..600,
        budget in 1usize..80,
        ops in prop::collection::vec(prop::collection::vec(op(700), 0..30), 0..60),
    ) {
        let mut m = loaded(n);
        let start = m.at.clone();
        let got = walk(&mut m, budget, |m, step| {
            for op in ops.get(step).into_iter().flatten() {
                m.apply(op);
            }
        });
        let mut seen = BTreeSet::new();
        for id in &got {
            prop_assert!(seen.insert(*id), "{id} yielded twice");
            prop_assert!(m.ever.contains(id), "{id} never existed");
        }
        for (id, p) in &start {
            if inside(p) && !m.touched.contains(id) {
                prop_assert!(seen.contains(id), "unchanged {id} at {p:?} missed");
            }
        }
    }

    #[test]
    fn without_writes_a_stepped_walk_is_the_one_step_order(n in 1u16..800, budget in 1usize..100) {
        let mut m = loaded(n);
        let whole: Vec<u16> = m
            .col
            .intersecting(&RECT)
            .map(|(id, _)| id[1..].parse().unwrap())
            .collect();
        prop_assert_eq!(walk(&mut m, budget, |_, _| {}), whole);
    }
}

#[test]
fn too_many_inserts_between_steps_lose_the_walk() {
    let mut m = loaded(500);
    let mut w = m.col.area_walk(&RECT);
    let step = m
        .col
        .area_walk_step(&mut w, 1, |_, _| ControlFlow::Continue(()));
    assert_eq!(step, Step::More);
    for i in 0..=ALLOC_LOG as u16 {
        m.col.set(&format!("new{i}"), point(100, 100));
    }
    let step = m
        .col
        .area_walk_step(&mut w, 1, |_, _| ControlFlow::Continue(()));
    assert_eq!(step, Step::Lost);
}

/// Writes between the steps of a value walk (SEARCH), on STRING objects `s{i}`.
#[derive(Debug, Clone)]
enum ValueOp {
    /// SET a value: an existing object moves in the order (maybe past the walk).
    Set(u16, u8),
    Del(u16),
    /// DEL, SET a new filler id (it takes the freed handle), SET the id again: the id comes
    /// back under another handle.
    Reinsert(u16),
}

fn value_op(ids: u16) -> impl Strategy<Value = ValueOp> {
    prop_oneof![
        3 => (0..ids, 0u8..20).prop_map(|(i, v)| ValueOp::Set(i, v)),
        1 => (0..ids).prop_map(ValueOp::Del),
        1 => (0..ids).prop_map(ValueOp::Reinsert),
    ]
}

struct Strings {
    col: Collection,
    value: BTreeMap<u16, u8>,
    touched: BTreeSet<u16>,
    ever: BTreeSet<u16>,
}

impl Strings {
    fn set(&mut self, i: u16, v: u8) {
        self.col
            .set(&format!("s{i}"), Object::string(&format!("v{v:02}")));
        self.value.insert(i, v);
        self.ever.insert(i);
        self.touched.insert(i);
    }

    fn apply(&mut self, op: &ValueOp) {
        match *op {
            ValueOp::Set(i, v) => self.set(i, v),
            ValueOp::Del(i) => {
                self.col.remove(&format!("s{i}"));
                self.value.remove(&i);
                self.touched.insert(i);
            }
            ValueOp::Reinsert(i) => {
                let Some(&v) = self.value.get(&i) else {
                    return;
                };
                self.apply(&ValueOp::Del(i));
                self.set(10_000 + i, v);
                self.set(i, v);
            }
        }
    }
}

/// Every id a value walk yields, in order.
fn value_walk(
    m: &mut Strings,
    rev: bool,
    budget: usize,
    between: impl FnMut(&mut Strings, usize),
) -> Vec<u16> {
    let mut w = ValueWalk::new(rev);
    let step = |m: &mut Strings, push: &mut dyn FnMut(&str)| {
        m.col.value_walk_step(&mut w, budget, |id, _| {
            push(id);
            ControlFlow::Continue(())
        })
    };
    steps(m, step, between)
}

fn strings(n: u16) -> Strings {
    let mut m = Strings {
        col: Collection::new(false),
        value: BTreeMap::new(),
        touched: BTreeSet::new(),
        ever: BTreeSet::new(),
    };
    for i in 0..n {
        m.set(i, ((i * 7) % 20) as u8);
    }
    m.touched.clear();
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_stepped_value_walk_keeps_its_guarantee(
        n in 1u16..300,
        rev: bool,
        budget in 1usize..40,
        ops in prop::collection::vec(prop::collection::vec(value_op(350), 0..20), 0..40),
    ) {
        let mut m = strings(n);
        let start: Vec<u16> = m.value.keys().copied().collect();
        let got = value_walk(&mut m, rev, budget, |m, step| {
            for op in ops.get(step).into_iter().flatten() {
                m.apply(op);
            }
        });
        let mut seen = BTreeSet::new();
        for id in &got {
            prop_assert!(seen.insert(*id), "{id} yielded twice");
            prop_assert!(m.ever.contains(id), "{id} never existed");
        }
        for id in start.iter().filter(|id| !m.touched.contains(id)) {
            prop_assert!(seen.contains(id), "unchanged {id} missed");
        }
    }

    #[test]
    fn without_writes_a_stepped_value_walk_is_the_value_order(
        n in 1u16..300,
        rev: bool,
        budget in 1usize..50,
    ) {
        let mut m = strings(n);
        let whole: Vec<u16> = m
            .col
            .iter_values(rev, None)
            .map(|(id, _)| id[1..].parse().unwrap())
            .collect();
        prop_assert_eq!(value_walk(&mut m, rev, budget, |_, _| {}), whole);
    }
}

/// Every id a nearest walk from grid point `q` yields, in order.
fn near_walk(
    m: &mut Model,
    q: (u16, u16),
    budget: usize,
    between: impl FnMut(&mut Model, usize),
) -> Vec<u16> {
    let mut w = NearWalk::new(f64::from(q.0) / 100.0, f64::from(q.1) / 100.0);
    let step = |m: &mut Model, push: &mut dyn FnMut(&str)| {
        m.col.near_walk_step(&mut w, budget, |id, _, _| {
            push(id);
            ControlFlow::Continue(())
        })
    };
    steps(m, step, between)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_stepped_nearest_walk_keeps_its_guarantee(
        n in 50u16..600,
        q in (0u16..400, 0u16..400),
        budget in 1usize..80,
        ops in prop::collection::vec(prop::collection::vec(op(700), 0..30), 0..60),
    ) {
        let mut m = loaded(n);
        let start = m.at.clone();
        let got = near_walk(&mut m, q, budget, |m, step| {
            for op in ops.get(step).into_iter().flatten() {
                m.apply(op);
            }
        });
        let mut seen = BTreeSet::new();
        for id in &got {
            prop_assert!(seen.insert(*id), "{id} yielded twice");
            prop_assert!(m.ever.contains(id), "{id} never existed");
        }
        for id in start.keys().filter(|id| !m.touched.contains(id)) {
            prop_assert!(seen.contains(id), "unchanged {id} missed");
        }
    }

    /// Up to 800 objects on a 400-point cycle: many share a point, and the query is often one
    /// of them, so equal distances (0 included) fall in different pages.
    #[test]
    fn without_writes_a_stepped_nearest_walk_is_the_distance_order(
        n in 1u16..800,
        q in prop_oneof![(0u16..400, 0u16..400), (0u16..400).prop_map(|i| ((i * 37) % 400, (i * 91) % 400))],
        budget in 1usize..100,
    ) {
        let mut m = loaded(n);
        let (lat, lon) = (f64::from(q.0) / 100.0, f64::from(q.1) / 100.0);
        let mut want: Vec<(f64, String)> = m
            .at
            .iter()
            .map(|(i, &(a, b))| {
                let d = haversine_meters(lat, lon, f64::from(a) / 100.0, f64::from(b) / 100.0);
                (d, format!("o{i}"))
            })
            .collect();
        want.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        let want: Vec<u16> = want.iter().map(|(_, id)| id[1..].parse().unwrap()).collect();
        prop_assert_eq!(near_walk(&mut m, q, budget, |_, _| {}), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Points over the whole globe, queries anywhere: boxes more than 90° of longitude away
    /// (whose cheap bound is refined), the antimeridian and the poles, in steps of any size.
    #[test]
    fn a_stepped_nearest_walk_over_the_globe_is_the_distance_order(
        pts in prop::collection::vec((-90.0..=90.0f64, -180.0..=180.0f64), 1..700),
        q in (-90.0..=90.0f64, -180.0..=180.0f64),
        budget in prop_oneof![1usize..20, Just(usize::MAX)],
    ) {
        let mut col = Collection::new(false);
        for (i, &(lat, lon)) in pts.iter().enumerate() {
            col.set(&format!("g{i}"), Object::geo(Geometry::point(lat, lon, None).unwrap()));
        }
        let mut want: Vec<(f64, String)> = pts
            .iter()
            .enumerate()
            .map(|(i, &(lat, lon))| (haversine_meters(q.0, q.1, lat, lon), format!("g{i}")))
            .collect();
        want.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        let mut w = NearWalk::new(q.0, q.1);
        let mut got = Vec::new();
        while col.near_walk_step(&mut w, budget, |id, _, d| {
            got.push((d, id.to_string()));
            ControlFlow::Continue(())
        }) == Step::More {}
        prop_assert_eq!(got, want);
    }
}
