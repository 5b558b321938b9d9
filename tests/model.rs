//! Model test: random SET/DEL/PDEL/DROP/RENAME/FSET/EXPIRE/PERSIST sequences run through the
//! real command path (exec → cmd → store) and are checked against a plain map after every
//! step; then the AOF the run wrote is replayed into a fresh server, which must end with the
//! same DIGEST (the log is a faithful, canonical record of the state).

use std::collections::BTreeMap;
use std::sync::Arc;

use meridian::aof::{self, Aof, LoadOptions};
use meridian::cmd::Session;
use meridian::config::{Config, Fsync};
use meridian::exec::{Origin, Server};
use meridian::protocol::{Reply, Request, Value};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Set {
        key: u8,
        id: u8,
        lat: i32,
        lon: i32,
        speed: u8,
        ex: bool,
    },
    Del {
        key: u8,
        id: u8,
    },
    Pdel {
        key: u8,
        digit: u8,
    },
    Drop {
        key: u8,
    },
    Rename {
        from: u8,
        to: u8,
        nx: bool,
    },
    Fset {
        key: u8,
        id: u8,
        speed: u8,
    },
    Expire {
        key: u8,
        id: u8,
        past: bool,
    },
    Persist {
        key: u8,
        id: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..3;
    let i = 0u8..12;
    prop_oneof![
        6 => (k.clone(), i.clone(), -90_000i32..=90_000, -180_000i32..=180_000, 0u8..4, any::<bool>())
            .prop_map(|(key, id, lat, lon, speed, ex)| Op::Set { key, id, lat, lon, speed, ex }),
        2 => (k.clone(), i.clone()).prop_map(|(key, id)| Op::Del { key, id }),
        1 => (k.clone(), 0u8..2).prop_map(|(key, digit)| Op::Pdel { key, digit }),
        1 => k.clone().prop_map(|key| Op::Drop { key }),
        1 => (k.clone(), k.clone(), any::<bool>()).prop_map(|(from, to, nx)| Op::Rename { from, to, nx }),
        2 => (k.clone(), i.clone(), 0u8..4).prop_map(|(key, id, speed)| Op::Fset { key, id, speed }),
        1 => (k.clone(), i.clone(), any::<bool>()).prop_map(|(key, id, past)| Op::Expire { key, id, past }),
        1 => (k, i).prop_map(|(key, id)| Op::Persist { key, id }),
    ]
}

/// The model: key → id → (lat, lon, speed, has_expiry).
type Model = BTreeMap<String, BTreeMap<String, (f64, f64, u8, bool)>>;

fn key(k: u8) -> String {
    format!("k{k}")
}
fn id(i: u8) -> String {
    format!("i{i}")
}
fn coord(milli: i32) -> f64 {
    f64::from(milli) / 1000.0
}

struct Harness {
    server: Server,
    session: Session,
}

impl Harness {
    fn run(&mut self, args: &[String]) -> Reply {
        let out = self
            .server
            .execute(&Request::from_strs(args), &mut self.session, Origin::Client);
        if let Some(end) = out.durable_at {
            self.server.make_durable(end);
        }
        out.reply
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn apply(h: &mut Harness, m: &mut Model, op: &Op) {
    match *op {
        Op::Set {
            key: k,
            id: i,
            lat,
            lon,
            speed,
            ex,
        } => {
            let (lat, lon) = (coord(lat), coord(lon));
            let mut args = s(&["SET", &key(k), &id(i), "FIELD", "speed", &speed.to_string()]);
            if ex {
                args.extend(s(&["EX", "100000"]));
            }
            args.extend(s(&["POINT", &lat.to_string(), &lon.to_string()]));
            assert_eq!(h.run(&args), Reply::Ok);
            // Tile38 semantics: SET merges fields into the previous object's fields; speed is
            // always given here, so it simply wins. Expiry is replaced.
            m.entry(key(k))
                .or_default()
                .insert(id(i), (lat, lon, speed, ex));
        }
        Op::Del { key: k, id: i } => {
            let existed = m.get_mut(&key(k)).and_then(|c| c.remove(&id(i))).is_some();
            assert_eq!(
                h.run(&s(&["DEL", &key(k), &id(i)])),
                Reply::Count(existed.into())
            );
        }
        Op::Pdel { key: k, digit } => {
            let pattern = format!("i{digit}*");
            let mut n = 0;
            if let Some(c) = m.get_mut(&key(k)) {
                let before = c.len();
                c.retain(|id, _| !id.starts_with(&format!("i{digit}")));
                n = before - c.len();
            }
            assert_eq!(
                h.run(&s(&["PDEL", &key(k), &pattern])),
                Reply::Count(n as i64)
            );
        }
        Op::Drop { key: k } => {
            let existed = m.remove(&key(k)).is_some_and(|c| !c.is_empty());
            assert_eq!(h.run(&s(&["DROP", &key(k)])), Reply::Count(existed.into()));
        }
        Op::Rename { from, to, nx } => rename(h, m, from, to, nx),
        Op::Fset {
            key: k,
            id: i,
            speed,
        } => fset(h, m, k, i, speed),
        Op::Expire {
            key: k,
            id: i,
            past,
        } => expire(h, m, k, i, past),
        Op::Persist { key: k, id: i } => {
            let entry = m.get_mut(&key(k)).and_then(|c| c.get_mut(&id(i)));
            let reply = h.run(&s(&["PERSIST", &key(k), &id(i)]));
            match entry {
                None => assert!(matches!(reply, Reply::Miss { resp: 0, .. }), "{reply:?}"),
                Some(e) => {
                    assert_eq!(reply, Reply::Count(e.3.into()));
                    e.3 = false;
                }
            }
        }
    }
    m.retain(|_, c| !c.is_empty());
}

fn rename(h: &mut Harness, m: &mut Model, from: u8, to: u8, nx: bool) {
    let cmd = if nx { "RENAMENX" } else { "RENAME" };
    let reply = h.run(&s(&[cmd, &key(from), &key(to)]));
    if !m.contains_key(&key(from)) {
        assert_eq!(reply, Reply::Error("key not found".into()));
        return;
    }
    if nx && m.contains_key(&key(to)) {
        assert_eq!(reply, Reply::Count(0));
        return;
    }
    assert_eq!(reply, if nx { Reply::Count(1) } else { Reply::Ok });
    let col = m.remove(&key(from)).unwrap();
    m.insert(key(to), col);
}

fn fset(h: &mut Harness, m: &mut Model, k: u8, i: u8, speed: u8) {
    let reply = h.run(&s(&["FSET", &key(k), &id(i), "speed", &speed.to_string()]));
    match m.get_mut(&key(k)) {
        None => assert_eq!(reply, Reply::Error("key not found".into())),
        Some(c) => match c.get_mut(&id(i)) {
            None => assert_eq!(reply, Reply::Error("id not found".into())),
            Some(e) => {
                assert_eq!(reply, Reply::Count((e.2 != speed).into()));
                e.2 = speed;
            }
        },
    }
}

fn expire(h: &mut Harness, m: &mut Model, k: u8, i: u8, past: bool) {
    let secs = if past { "-1" } else { "100000" };
    let reply = h.run(&s(&["EXPIRE", &key(k), &id(i), secs]));
    let Some(e) = m.get_mut(&key(k)).and_then(|c| c.get_mut(&id(i))) else {
        assert!(matches!(reply, Reply::Miss { resp: 0, .. }), "{reply:?}");
        return;
    };
    assert_eq!(reply, Reply::Count(1));
    if past {
        m.get_mut(&key(k)).unwrap().remove(&id(i));
        // The leader's sweep deletes it (and logs a DEL).
        let (n, end) = h.server.expire_tick(1000);
        assert_eq!(n, 1);
        h.server.make_durable(end.unwrap());
    } else {
        e.3 = true;
    }
}

/// Every key, id, position and field in the server equals the model.
fn check(h: &mut Harness, m: &Model) {
    let keys: Vec<Value> = m.keys().map(|k| Value::Str(k.clone())).collect();
    assert_eq!(
        h.run(&s(&["KEYS", "*"])),
        Reply::Named {
            name: "keys",
            value: Value::List(keys)
        }
    );
    for (k, col) in m {
        let Reply::Search(r) = h.run(&s(&["SCAN", k, "LIMIT", "1000", "IDS"])) else {
            panic!()
        };
        let ids: Vec<&str> = r.items.iter().map(|it| it.id.as_str()).collect();
        assert_eq!(ids, col.keys().map(String::as_str).collect::<Vec<_>>());
        for (i, &(lat, lon, speed, ex)) in col {
            let point = h.run(&s(&["GET", k, i, "POINT"]));
            let Reply::Split {
                resp: Value::List(p),
                ..
            } = point
            else {
                panic!("{point:?}")
            };
            assert_eq!(p, vec![Value::Float(lat), Value::Float(lon)]);
            let f = h.run(&s(&["FGET", k, i, "speed"]));
            assert_eq!(
                f,
                Reply::Named {
                    name: "value",
                    value: Value::Float(f64::from(speed))
                }
            );
            let ttl = h.run(&s(&["TTL", k, i]));
            let Reply::Split {
                resp: Value::Int(t),
                ..
            } = ttl
            else {
                panic!("{ttl:?}")
            };
            assert_eq!(t == -1, !ex, "ttl {t} for {k}/{i}");
        }
    }
}

fn digest(h: &mut Harness) -> Value {
    let Reply::Named {
        value: Value::Map(pairs),
        ..
    } = h.run(&s(&["DIGEST"]))
    else {
        panic!()
    };
    pairs.into_iter().find(|(k, _)| k == "digest").unwrap().1
}

fn server_with_aof(dir: &std::path::Path) -> Harness {
    let path = dir.join("appendonly.aof");
    let server = Server::new(Config::default(), dir.join("meridian.toml"));
    server.begin_loading();
    let opts = LoadOptions {
        truncate_torn_tail: false,
        limits: Default::default(),
    };
    let out = aof::load(&path, &opts, &mut |req, _| server.replay(&req)).unwrap();
    let (rid, off) = out.stream.unwrap_or(("model".into(), 0));
    let writer = Aof::open(&path, rid, off, Fsync::No).unwrap();
    server.finish_loading(Some(Arc::new(writer)));
    Harness {
        server,
        session: Session::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_a_plain_map_and_the_log_replays_to_the_same_digest(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut h = server_with_aof(dir.path());
        let mut m = Model::new();
        for op in &ops {
            apply(&mut h, &mut m, op);
            check(&mut h, &m);
        }
        let before = digest(&mut h);
        drop(h);
        let mut replayed = server_with_aof(dir.path());
        check(&mut replayed, &m);
        prop_assert_eq!(digest(&mut replayed), before);
    }
}
