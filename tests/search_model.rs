//! Oracle tests for the spatial searches: random points and rectangles in a real server
//! (in-process, through exec), every query compared with a brute-force scan over all objects:
//! ids and order for NEARBY, ids for WITHIN and INTERSECTS (rectangles, circles, polygons with
//! holes, against points and rectangles), cursors paging through exactly the same set, and
//! WHERE/WHEREIN against a filter over the generated field values.

use std::collections::BTreeSet;

use meridian::cmd::Session;
use meridian::config::Config;
use meridian::exec::{Origin, Server};
use meridian::geo::haversine_meters;
use meridian::protocol::{Reply, Request, SearchReply};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Obj {
    Point(f64, f64),
    Rect(f64, f64, f64, f64),
}

fn point() -> impl Strategy<Value = Obj> {
    let lat = prop_oneof![3 => 30.0..31.0f64, 1 => -89.9..89.9f64];
    let lon = prop_oneof![3 => -100.0..-99.0f64, 1 => -180.0..180.0f64, 1 => 179.0..180.0f64];
    (lat, lon).prop_map(|(a, b)| Obj::Point(a, b))
}

fn obj() -> impl Strategy<Value = Obj> {
    // Mostly a small region (so searches find several), sometimes anywhere, including near
    // the antimeridian and the poles.
    let lat = prop_oneof![3 => 30.0..31.0f64, 1 => -89.9..89.9f64];
    let lon = prop_oneof![3 => -100.0..-99.0f64, 1 => -180.0..180.0f64, 1 => 179.0..180.0f64];
    prop_oneof![
        4 => (lat.clone(), lon.clone()).prop_map(|(a, b)| Obj::Point(a, b)),
        1 => (lat, lon, 0.0..0.5f64, 0.0..0.5f64).prop_map(|(a, b, h, w)| {
            Obj::Rect(a, b, (a + h).min(90.0), (b + w).min(180.0))
        }),
    ]
}

struct H {
    server: Server,
    session: Session,
}

impl H {
    fn new() -> H {
        let server = Server::new(Config::default(), "/nonexistent/meridian.toml".into());
        server.finish_loading(None);
        H {
            server,
            session: Session::default(),
        }
    }

    fn run(&mut self, args: &[String]) -> Reply {
        let req = Request::from_strs(args);
        self.server
            .execute(&req, &mut self.session, Origin::Client)
            .reply
    }

    fn search(&mut self, args: &[String]) -> SearchReply {
        match self.run(args) {
            Reply::Search(r) => *r,
            other => panic!("{args:?} -> {other:?}"),
        }
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn load(h: &mut H, objs: &[Obj]) {
    for (i, o) in objs.iter().enumerate() {
        let id = format!("o{i:03}");
        let mut args = strs(&["SET", "k", &id]);
        match *o {
            Obj::Point(a, b) => args.extend(strs(&["POINT", &a.to_string(), &b.to_string()])),
            Obj::Rect(a, b, c, d) => args.extend(
                [
                    "BOUNDS",
                    &a.to_string(),
                    &b.to_string(),
                    &c.to_string(),
                    &d.to_string(),
                ]
                .map(String::from),
            ),
        }
        assert_eq!(h.run(&args), Reply::Ok);
    }
}

fn center(o: &Obj) -> (f64, f64) {
    match *o {
        Obj::Point(a, b) => (a, b),
        Obj::Rect(a, b, c, d) => ((a + c) / 2.0, (b + d) / 2.0),
    }
}

fn ids(r: &SearchReply) -> Vec<String> {
    r.items.iter().map(|i| i.id.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Points only: for other shapes NEARBY measures to the nearest point of the shape, and a
    /// brute force of that would be the code under test.
    #[test]
    fn nearby_matches_a_sorted_brute_force(
        objs in proptest::collection::vec(point(), 1..120),
        q in (29.5..31.5f64, -100.5..-98.5f64),
        k in 1usize..30,
        radius in prop_oneof![Just(None), (1000.0..200_000.0f64).prop_map(Some)],
    ) {
        let mut h = H::new();
        load(&mut h, &objs);
        let mut expect: Vec<(f64, String)> = objs.iter().enumerate().map(|(i, o)| {
            let (a, b) = center(o);
            (haversine_meters(q.0, q.1, a, b), format!("o{i:03}"))
        }).collect();
        expect.retain(|(d, _)| radius.is_none_or(|r| *d <= r));
        expect.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        expect.truncate(k);
        let mut args = strs(&["NEARBY", "k", "LIMIT", &k.to_string(), "DISTANCE", "IDS", "POINT", &q.0.to_string(), &q.1.to_string()]);
        if let Some(r) = radius {
            args.push(r.to_string());
        }
        let got = h.search(&args);
        prop_assert_eq!(ids(&got), expect.iter().map(|e| e.1.clone()).collect::<Vec<_>>());
        for (item, (d, _)) in got.items.iter().zip(&expect) {
            prop_assert!((item.distance.unwrap() - d).abs() < 1e-6);
        }
    }

    #[test]
    fn within_and_intersects_bounds_and_circles_match_brute_force(
        objs in proptest::collection::vec(obj(), 1..120),
        q in (29.8..31.0f64, -100.2..-99.0f64, 0.05..0.8f64, 0.05..0.8f64),
        meters in 1000.0..80_000.0f64,
    ) {
        let mut h = H::new();
        load(&mut h, &objs);
        let (a, b, c, d) = (q.0, q.1, q.0 + q.2, q.1 + q.3);
        let in_rect = |lat: f64, lon: f64| lat >= a && lat <= c && lon >= b && lon <= d;
        let mut within = BTreeSet::new();
        let mut inter = BTreeSet::new();
        let mut circle = BTreeSet::new();
        for (i, o) in objs.iter().enumerate() {
            let id = format!("o{i:03}");
            match *o {
                Obj::Point(la, lo) => {
                    if in_rect(la, lo) { within.insert(id.clone()); inter.insert(id.clone()); }
                    if haversine_meters(a, b, la, lo) <= meters { circle.insert(id); }
                }
                Obj::Rect(la, lo, la2, lo2) => {
                    if in_rect(la, lo) && in_rect(la2, lo2) { within.insert(id.clone()); }
                    if la <= c && la2 >= a && lo <= d && lo2 >= b { inter.insert(id); }
                }
            }
        }
        let bounds = [a, b, c, d].map(|v| v.to_string());
        let mut w = strs(&["WITHIN", "k", "LIMIT", "1000", "IDS", "BOUNDS"]);
        w.extend(bounds.iter().cloned());
        prop_assert_eq!(ids(&h.search(&w)).into_iter().collect::<BTreeSet<_>>(), within);
        let mut x = strs(&["INTERSECTS", "k", "LIMIT", "1000", "IDS", "BOUNDS"]);
        x.extend(bounds.iter().cloned());
        prop_assert_eq!(ids(&h.search(&x)).into_iter().collect::<BTreeSet<_>>(), inter);
        // Circles: points only (the oracle for shapes would be the code under test).
        let circ = h.search(&strs(&["WITHIN", "k", "LIMIT", "1000", "IDS", "CIRCLE", &a.to_string(), &b.to_string(), &meters.to_string()]));
        let got: BTreeSet<String> = ids(&circ).into_iter()
            .filter(|id| matches!(objs[id[1..].parse::<usize>().unwrap()], Obj::Point(..)))
            .collect();
        prop_assert_eq!(got, circle);
    }

    #[test]
    fn cursors_page_through_exactly_the_same_set(
        objs in proptest::collection::vec(obj(), 1..150),
        page in 1usize..20,
    ) {
        let mut h = H::new();
        load(&mut h, &objs);
        let full = |h: &mut H| ids(&h.search(&strs(&["INTERSECTS", "k", "LIMIT", "100000", "IDS", "BOUNDS", "-90", "-180", "90", "180"])));
        let all = full(&mut h);
        prop_assert_eq!(all.len(), objs.len());
        for cmd in ["INTERSECTS", "NEARBY", "SCAN"] {
            let mut seen = Vec::new();
            let mut cursor = 0u64;
            let mut requests = 0;
            loop {
                requests += 1;
                let mut args = strs(&[cmd, "k", "CURSOR", &cursor.to_string(), "LIMIT", &page.to_string(), "IDS"]);
                match cmd {
                    "INTERSECTS" => args.extend(strs(&["BOUNDS", "-90", "-180", "90", "180"])),
                    "NEARBY" => args.extend(strs(&["POINT", "30.5", "-99.5"])),
                    _ => {}
                }
                let r = h.search(&args);
                prop_assert!(r.items.len() <= page);
                seen.extend(ids(&r));
                if r.cursor == 0 { break; }
                cursor = r.cursor;
            }
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), seen.len(), "{} repeated an id", cmd);
            prop_assert_eq!(seen.len(), objs.len(), "{} missed ids", cmd);
            // Cursor 0 comes with the last page: no trailing empty request.
            prop_assert_eq!(requests, objs.len().div_ceil(page), "{} pages", cmd);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// WHERE ranges (inclusive/exclusive, infinite), the same range as an expression, and
    /// WHEREIN, against a filter over the generated values (an unset field is 0).
    #[test]
    fn where_and_wherein_match_brute_force(
        speeds in proptest::collection::vec(-4i32..5, 1..60),
        lo in -5i32..5, hi in -5i32..5,
        lo_x in any::<bool>(), hi_x in any::<bool>(), inf in 0u8..3,
        set in proptest::collection::vec(-4i32..5, 0..4),
    ) {
        let mut h = H::new();
        for (i, v) in speeds.iter().enumerate() {
            let args = strs(&["SET", "k", &format!("o{i:03}"), "FIELD", "speed", &v.to_string(), "POINT", "30", "-100"]);
            prop_assert_eq!(h.run(&args), Reply::Ok);
        }
        let (lo_f, hi_f) = match inf {
            0 => (lo as f64, hi as f64),
            1 => (f64::NEG_INFINITY, hi as f64),
            _ => (lo as f64, f64::INFINITY),
        };
        let bound = |x: f64, excl: bool, neg: &str| {
            let s = if x.is_infinite() { neg.to_string() } else { x.to_string() };
            if excl && x.is_finite() { format!("({s}") } else { s }
        };
        let in_range = |v: f64| {
            (if lo_x && lo_f.is_finite() { v > lo_f } else { v >= lo_f })
                && (if hi_x && hi_f.is_finite() { v < hi_f } else { v <= hi_f })
        };
        let expect: Vec<String> = speeds.iter().enumerate()
            .filter(|(_, v)| in_range(**v as f64))
            .map(|(i, _)| format!("o{i:03}")).collect();
        let got = h.search(&strs(&["SCAN", "k", "LIMIT", "1000", "WHERE", "speed", &bound(lo_f, lo_x, "-inf"), &bound(hi_f, hi_x, "+inf"), "IDS"]));
        prop_assert_eq!(ids(&got), expect.clone());
        let lo_op = if lo_x && lo_f.is_finite() { ">" } else { ">=" };
        let hi_op = if hi_x && hi_f.is_finite() { "<" } else { "<=" };
        let num = |x: f64| if x.is_infinite() { if x > 0.0 { "Infinity".to_string() } else { "-Infinity".to_string() } } else { x.to_string() };
        let expr = format!("speed {lo_op} {} && speed {hi_op} {}", num(lo_f), num(hi_f));
        let got = h.search(&strs(&["SCAN", "k", "LIMIT", "1000", "WHERE", &expr, "IDS"]));
        prop_assert_eq!(ids(&got), expect, "{}", expr);
        let mut args = strs(&["SCAN", "k", "LIMIT", "1000", "WHEREIN", "speed", &set.len().to_string()]);
        args.extend(set.iter().map(|v| v.to_string()));
        args.push("IDS".into());
        let expect_in: Vec<String> = speeds.iter().enumerate()
            .filter(|(_, v)| set.contains(v))
            .map(|(i, _)| format!("o{i:03}")).collect();
        prop_assert_eq!(ids(&h.search(&args)), expect_in);
    }
}

/// Closed-rectangle tests for the oracles below: (min_lat, min_lon, max_lat, max_lon).
type Bx = (f64, f64, f64, f64);

fn obj_box(o: &Obj) -> Bx {
    match *o {
        Obj::Point(a, b) => (a, b, a, b),
        Obj::Rect(a, b, c, d) => (a, b, c, d),
    }
}

/// The smallest and largest haversine distance from `(lat, lon)` to a box, by sampling its
/// boundary densely (0 when the point is inside).
fn sampled_distances(lat: f64, lon: f64, r: Bx) -> (f64, f64) {
    let inside = lat >= r.0 && lat <= r.2 && lon >= r.1 && lon <= r.3;
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    let n = 400;
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let la = r.0 + (r.2 - r.0) * t;
        let lo_ = r.1 + (r.3 - r.1) * t;
        for (x, y) in [(la, r.1), (la, r.3), (r.0, lo_), (r.2, lo_)] {
            let d = haversine_meters(lat, lon, x, y);
            lo = lo.min(d);
            hi = hi.max(d);
        }
    }
    (if inside { 0.0 } else { lo }, hi)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// WITHIN/INTERSECTS a polygon with a rectangular hole, for points and rectangles, against
    /// set arithmetic on boxes: inside the outer ring and not in the hole's open interior.
    #[test]
    fn polygons_with_holes_match_box_arithmetic(
        objs in proptest::collection::vec(obj(), 1..100),
        q in (29.8..30.4f64, -100.2..-99.6f64, 0.3..0.9f64, 0.3..0.9f64),
        hole in (0.1..0.45f64, 0.1..0.45f64, 0.1..0.45f64, 0.1..0.45f64),
    ) {
        let mut h = H::new();
        load(&mut h, &objs);
        let outer: Bx = (q.0, q.1, q.0 + q.2, q.1 + q.3);
        let hl: Bx = (
            outer.0 + q.2 * hole.0 / 2.0,
            outer.1 + q.3 * hole.1 / 2.0,
            outer.2 - q.2 * hole.2 / 2.0,
            outer.3 - q.3 * hole.3 / 2.0,
        );
        let ring = |b: Bx| format!("[[{1},{0}],[{3},{0}],[{3},{2}],[{1},{2}],[{1},{0}]]", b.0, b.1, b.2, b.3);
        let poly = format!(r#"{{"type":"Polygon","coordinates":[{},{}]}}"#, ring(outer), ring(hl));
        let mut within = BTreeSet::new();
        let mut inter = BTreeSet::new();
        for (i, o) in objs.iter().enumerate() {
            let r = obj_box(o);
            let in_outer = r.0 >= outer.0 && r.2 <= outer.2 && r.1 >= outer.1 && r.3 <= outer.3;
            let meets_outer = r.0 <= outer.2 && r.2 >= outer.0 && r.1 <= outer.3 && r.3 >= outer.1;
            let meets_hole_open = r.0 < hl.2 && r.2 > hl.0 && r.1 < hl.3 && r.3 > hl.1;
            let in_hole_open = r.0 > hl.0 && r.2 < hl.2 && r.1 > hl.1 && r.3 < hl.3;
            let id = format!("o{i:03}");
            if in_outer && !meets_hole_open { within.insert(id.clone()); }
            if meets_outer && !in_hole_open { inter.insert(id); }
        }
        let w = h.search(&strs(&["WITHIN", "k", "LIMIT", "1000", "IDS", "OBJECT", &poly]));
        prop_assert_eq!(ids(&w).into_iter().collect::<BTreeSet<_>>(), within);
        let x = h.search(&strs(&["INTERSECTS", "k", "LIMIT", "1000", "IDS", "OBJECT", &poly]));
        prop_assert_eq!(ids(&x).into_iter().collect::<BTreeSet<_>>(), inter);
    }

    /// Circles against rectangles (and points): INTERSECTS when the nearest point of the box
    /// is within the radius, WITHIN when the farthest is; cases within 1% of the radius are
    /// left out, as the oracle samples the boundary.
    #[test]
    fn circles_against_rectangles_match_sampled_distances(
        objs in proptest::collection::vec(obj(), 1..60),
        c in (29.8..31.0f64, -100.2..-99.0f64),
        meters in 2000.0..80_000.0f64,
    ) {
        let mut h = H::new();
        load(&mut h, &objs);
        let (lat, lon, m) = (c.0.to_string(), c.1.to_string(), meters.to_string());
        let w: BTreeSet<String> = ids(&h.search(&strs(&["WITHIN", "k", "LIMIT", "1000", "IDS", "CIRCLE", &lat, &lon, &m]))).into_iter().collect();
        let x: BTreeSet<String> = ids(&h.search(&strs(&["INTERSECTS", "k", "LIMIT", "1000", "IDS", "CIRCLE", &lat, &lon, &m]))).into_iter().collect();
        for (i, o) in objs.iter().enumerate() {
            let id = format!("o{i:03}");
            let (near, far) = sampled_distances(c.0, c.1, obj_box(o));
            if near < meters * 0.99 { prop_assert!(x.contains(&id), "{} {:?} should intersect", id, o); }
            if near > meters * 1.01 { prop_assert!(!x.contains(&id), "{} {:?} should not intersect", id, o); }
            if far < meters * 0.99 { prop_assert!(w.contains(&id), "{} {:?} should be within", id, o); }
            if far > meters * 1.01 { prop_assert!(!w.contains(&id), "{} {:?} should not be within", id, o); }
        }
    }
}
