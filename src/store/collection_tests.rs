//! The collection's derived-state proptest: every structure recomputed from the objects.

use super::*;
use crate::store::field::FieldValue;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    SetPoint(u8, i16, i16),
    SetBounds(u8, i16, i16, u8),
    SetString(u8, u8),
    Remove(u8),
    SetField(u8, u8, u8),
    SetText(u8),
    Expire(u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..20, -900i16..900, -1800i16..1800).prop_map(|(i, a, b)| Op::SetPoint(i, a, b)),
        (0u8..20, -900i16..880, -1800i16..1780, 1u8..20)
            .prop_map(|(i, a, b, d)| Op::SetBounds(i, a, b, d)),
        (0u8..20, 0u8..4).prop_map(|(i, v)| Op::SetString(i, v)),
        (0u8..20).prop_map(Op::Remove),
        (0u8..20, 0u8..3, 0u8..3).prop_map(|(i, f, v)| Op::SetField(i, f, v)),
        (0u8..20).prop_map(Op::SetText),
        (0u8..20, 0i64..3).prop_map(|(i, t)| Op::Expire(i, t)),
    ]
}

/// Short ids stay inline, every third one is long enough for the heap.
fn id(i: u8) -> String {
    if i.is_multiple_of(3) {
        format!("a-rather-long-object-id-{i}")
    } else {
        format!("id{i}")
    }
}

fn apply(c: &mut Collection, op: &Op) {
    match op {
        Op::SetPoint(i, a, b) => {
            let g = Geometry::point(f64::from(*a) / 10.0, f64::from(*b) / 10.0, None).unwrap();
            c.set(&id(*i), Object::geo(g));
        }
        Op::SetBounds(i, a, b, d) => {
            let (lat, lon, d) = (f64::from(*a) / 10.0, f64::from(*b) / 10.0, f64::from(*d));
            let g = Geometry::bounds(lat, lon, lat + d / 10.0, lon + d / 10.0).unwrap();
            c.set(&id(*i), Object::geo(g));
        }
        Op::SetString(i, v) => {
            // Few values, so the value order has ties for the id to break.
            c.set(&id(*i), Object::string(&format!("v{v}")));
        }
        Op::Remove(i) => {
            c.remove(&id(*i));
        }
        Op::SetField(i, f, v) => {
            let name = ["speed", "age", "fuel"][usize::from(*f)];
            c.modify(&id(*i), |o| {
                o.fields.set(name, FieldValue::Num(f64::from(*v)))
            });
        }
        Op::SetText(i) => {
            c.modify(&id(*i), |o| {
                o.fields.set("name", FieldValue::Str("x".into()))
            });
        }
        Op::Expire(i, t) => {
            c.modify(&id(*i), |o| o.expires_at_ms = *t * 1000);
        }
    }
}

/// Every derived structure recomputed from the objects alone, and the model's view.
fn check(c: &Collection, model: &std::collections::BTreeMap<String, Object>) {
    let all: Vec<(String, Object)> = c
        .iter_from(None)
        .map(|(id, o)| (id.to_string(), o.to_object()))
        .collect();
    let want: Vec<(String, Object)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all, want);
    let mut rev: Vec<&str> = c.iter_rev_from(None).map(|(id, _)| id).collect();
    rev.reverse();
    assert_eq!(rev, model.keys().map(String::as_str).collect::<Vec<_>>());
    for (id, o) in model {
        assert_eq!(c.get(id).map(|r| r.to_object()).as_ref(), Some(o));
    }
    assert_eq!(c.len(), model.len());
    let world = Rect {
        min_lat: -90.0,
        min_lon: -180.0,
        max_lat: 90.0,
        max_lon: 180.0,
    };
    let mut indexed: Vec<&str> = c.intersecting(&world).map(|(id, _)| id).collect();
    indexed.sort_unstable();
    let spatial: Vec<&str> = c
        .iter_from(None)
        .filter(|(_, o)| o.geometry().is_some())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(indexed, spatial);
    let sum = c
        .iter_from(None)
        .fold(0u64, |acc, (id, o)| acc.wrapping_add(object_hash(id, o)));
    assert_eq!(c.digest(), sum);
    let strings = c
        .iter_from(None)
        .filter(|(_, o)| o.geometry().is_none())
        .count();
    assert_eq!(c.stats().num_strings, strings);
    let mut by_value: Vec<(&str, &str)> = model
        .iter()
        .filter_map(|(id, o)| match &o.body {
            Body::Str(v) => Some((&**v, id.as_str())),
            Body::Geo(_) => None,
        })
        .collect();
    by_value.sort_unstable();
    let values: Vec<(&str, &str)> = c
        .iter_values(false, None)
        .map(|(id, o)| (o.as_str().unwrap(), id))
        .collect();
    assert_eq!(values, by_value);
    let mut rev: Vec<(&str, &str)> = c
        .iter_values(true, None)
        .map(|(id, o)| (o.as_str().unwrap(), id))
        .collect();
    rev.reverse();
    assert_eq!(rev, by_value);
    check_values_from(c, &by_value);
    let expiring = c
        .iter_from(None)
        .filter(|(_, o)| o.expires_at_ms() != 0)
        .count();
    assert_eq!(c.expired(i64::MAX, usize::MAX).len(), expiring);
    let mut names: Vec<String> = model
        .values()
        .flat_map(|o| {
            o.fields
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(c.field_names().collect::<Vec<_>>(), names);
    if let Some(b) = c.bounds() {
        let exact = c
            .iter_from(None)
            .filter_map(|(_, o)| o.bbox())
            .reduce(|a, b| a.union(&b));
        assert_eq!(Some(b), exact);
    }
}

/// The value order resumed from every (value, id) it holds, and from keys it does not.
fn check_values_from(c: &Collection, by_value: &[(&str, &str)]) {
    let probes = by_value
        .iter()
        .copied()
        .chain([("v1", "~"), ("", ""), ("v9", "")]);
    for probe in probes {
        let walk = |rev| -> Vec<(&str, &str)> {
            c.iter_values(rev, Some(probe))
                .map(|(id, o)| (o.as_str().unwrap(), id))
                .collect()
        };
        let after: Vec<_> = by_value.iter().copied().filter(|&k| k > probe).collect();
        let mut before: Vec<_> = by_value.iter().copied().filter(|&k| k < probe).collect();
        before.reverse();
        assert_eq!(walk(false), after, "after {probe:?}");
        assert_eq!(walk(true), before, "before {probe:?}");
    }
}

/// The same op on a plain map of owned objects.
fn apply_model(m: &mut std::collections::BTreeMap<String, Object>, c: &Collection, op: &Op) {
    let key = op_id(op);
    match c.get(&key) {
        Some(o) => m.insert(key, o.to_object()),
        None => m.remove(&key),
    };
}

proptest! {
    #[test]
    fn derived_state_always_matches_the_objects(ops in proptest::collection::vec(op(), 1..80)) {
        let mut c = Collection::new(false);
        let mut model = std::collections::BTreeMap::new();
        for op in &ops {
            let before = model.clone();
            apply(&mut c, op);
            apply_model(&mut model, &c, op);
            // Only the op's own id may change.
            let changed = before.iter().filter(|(k, v)| model.get(*k) != Some(v)).count()
                + model.keys().filter(|k| !before.contains_key(*k)).count();
            prop_assert!(changed <= 1);
            check(&c, &model);
        }
        // A bulk-loaded index and order over the same objects answer the same, and ordered
        // reads work before the order is built.
        let mut bulk = Collection::new(true);
        for (id, o) in c.iter_from(None) {
            bulk.set(id, o.to_object());
        }
        let during: Vec<&str> = bulk.iter_from(None).map(|(id, _)| id).collect();
        let values_during: Vec<&str> = bulk.iter_values(false, None).map(|(id, _)| id).collect();
        let values: Vec<&str> = c.iter_values(false, None).map(|(id, _)| id).collect();
        prop_assert_eq!(values_during, values);
        let by_value: Vec<(&str, &str)> = c
            .iter_values(false, None)
            .map(|(id, o)| (o.as_str().unwrap(), id))
            .collect();
        check_values_from(&bulk, &by_value);
        prop_assert_eq!(during, model.keys().map(String::as_str).collect::<Vec<_>>());
        bulk.build_index();
        check(&bulk, &model);
        prop_assert_eq!(bulk.digest(), c.digest());
    }
}

#[test]
fn set_reports_replacement() {
    let mut c = Collection::new(false);
    let p = Object::geo(Geometry::point(1.0, 2.0, None).unwrap());
    assert!(!c.set("a", p.clone()));
    assert!(c.set("a", p));
    assert_eq!(c.len(), 1);
}

fn op_id(op: &Op) -> String {
    match op {
        Op::SetPoint(i, ..)
        | Op::SetBounds(i, ..)
        | Op::SetString(i, _)
        | Op::Remove(i)
        | Op::SetField(i, ..)
        | Op::SetText(i)
        | Op::Expire(i, _) => id(*i),
    }
}

proptest! {
    /// `same_object` on (handle, fingerprint) pairs taken before some ops: an object no op
    /// touched is found, and whatever is found is the snapshot's id with the snapshot's
    /// content (a deleted, changed or re-created-elsewhere object is not).
    #[test]
    fn same_object_finds_exactly_the_untouched_objects(
        before in proptest::collection::vec(op(), 1..60),
        after in proptest::collection::vec(op(), 0..40),
    ) {
        let mut c = Collection::new(false);
        for op in &before {
            apply(&mut c, op);
        }
        let snapshot: Vec<(u32, u64, String, Object)> = c
            .iter_from(None)
            .map(|(id, o)| (o.handle(), object_hash(id, o), id.to_string(), o.to_object()))
            .collect();
        let mut touched = std::collections::HashSet::new();
        for op in &after {
            apply(&mut c, op);
            touched.insert(op_id(op));
        }
        for (h, fp, id, obj) in &snapshot {
            match c.same_object(*h, *fp) {
                Some((found, o)) => {
                    prop_assert_eq!(found, id.as_str());
                    prop_assert_eq!(&o.to_object(), obj);
                    prop_assert_eq!(o.handle(), *h);
                }
                None => prop_assert!(touched.contains(id), "{} untouched but not found", id),
            }
        }
        prop_assert!(c.same_object(u32::MAX - 1, 0).is_none());
    }
}
