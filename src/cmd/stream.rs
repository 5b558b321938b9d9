//! The second phase of a streamed search: rendering the next batch of a [`SearchStream`]'s
//! hits from the data set as it is now.
//!
//! Read-committed: each hit is looked up again by its handle and fingerprint
//! ([`crate::store::Collection::same_object`]); one that was deleted, changed (body, fields,
//! expiry) or has expired since the walk is left out, so every item shown is an object in
//! exactly the state the search tested. Pure like every handler: no locks, no IO, no wire
//! format (exec holds the read lock around [`render_batch`]).

use super::scan::{estimated_bytes, render_item, Render};
use super::StreamLimits;
use crate::geo::Rect;
use crate::protocol::{SearchItem, SearchStream};
use crate::store::Db;

/// Renders the stream's next batch: up to `limits.batch_items` refs, or fewer once the items
/// pass `limits.batch_bytes`. Returns the items that still exist (possibly none even when
/// refs were consumed); the stream is done when `next == refs.len()`.
pub fn render_batch(
    db: &Db,
    s: &mut SearchStream,
    now_ms: i64,
    limits: StreamLimits,
) -> Vec<SearchItem> {
    let end = s.refs.len().min(s.next + limits.batch_items.max(1));
    let Some(col) = db.get(&s.key) else {
        // The collection was dropped: nothing is left to show.
        s.next = s.refs.len();
        return Vec::new();
    };
    let clip = s.clip.map(|[min_lat, min_lon, max_lat, max_lon]| Rect {
        min_lat,
        min_lon,
        max_lat,
        max_lon,
    });
    let render = Render {
        output: s.head.output,
        names: &s.head.field_names,
        clip: clip.as_ref(),
    };
    let mut items = Vec::with_capacity(end - s.next);
    let mut bytes = 0;
    while s.next < end && bytes <= limits.batch_bytes {
        let i = s.next;
        s.next += 1;
        let hit = s.refs[i];
        let Some((id, obj)) = col.same_object(hit.handle, hit.fingerprint) else {
            continue;
        };
        if obj.is_expired(now_ms) {
            continue;
        }
        let item = render_item(&render, id, obj, s.distances.get(i).copied());
        bytes += estimated_bytes(&item);
        items.push(item);
    }
    items
}

/// True when every ref has been rendered.
pub fn is_done(s: &SearchStream) -> bool {
    s.next >= s.refs.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{Host, ReadCtx, ServerInfo};
    use crate::error::CmdResult;
    use crate::protocol::{OutputFormat, Reply};
    use crate::store::Object;

    struct NoHost;
    impl Host for NoHost {
        fn info(&self) -> ServerInfo {
            ServerInfo::default()
        }
        fn config_get(&self, _: &str) -> Option<String> {
            None
        }
        fn config_names(&self) -> Vec<&'static str> {
            Vec::new()
        }
        fn config_set(&self, _: &str, _: &str) -> CmdResult<()> {
            Ok(())
        }
        fn config_rewrite(&self) -> CmdResult<()> {
            Ok(())
        }
        fn set_read_only(&self, _: bool) -> CmdResult<()> {
            Ok(())
        }
        fn requires_auth(&self) -> bool {
            false
        }
        fn check_password(&self, _: &str) -> bool {
            false
        }
        fn request_rewrite(&self) -> CmdResult<()> {
            Ok(())
        }
        fn note_capped_search(&self) {}
        fn note_walk_restart(&self) {}
        fn writer_waiting(&self) -> bool {
            false
        }
        fn scripts(&self) -> &std::sync::Arc<crate::script::Scripts> {
            unreachable!("these searches run no script")
        }
    }

    const LIMITS: StreamLimits = StreamLimits {
        batch_items: 3,
        batch_bytes: 1 << 20,
        max_hits: 1000,
        walk_batch: 4096,
        walk_yield_always: true,
        hold_for: None,
        deadline: None,
    };

    fn scan(db: &Db, args: &[&str]) -> Reply {
        let ctx = ReadCtx {
            now_ms: 0,
            host: &NoHost,
            output: OutputFormat::Resp,
            stream: LIMITS,
        };
        let req = crate::protocol::Request::from_strs(args);
        crate::cmd::scan::scan(db, &mut crate::cmd::Args::new("SCAN", req.argv()), &ctx)
            .and_then(|w| w.complete(db, &ctx))
            .unwrap()
    }

    fn point(lat: f64) -> Object {
        Object::geo(crate::geo::Geometry::point(lat, 1.0, None).unwrap())
    }

    /// Everything the stream yields, in order.
    fn drain(db: &Db, s: &mut SearchStream) -> Vec<String> {
        let mut ids: Vec<String> = s.head.items.iter().map(|i| i.id.to_string()).collect();
        while !is_done(s) {
            let batch = render_batch(db, s, 0, LIMITS);
            ids.extend(batch.into_iter().map(|i| i.id.to_string()));
        }
        ids
    }

    #[test]
    fn a_big_scan_streams_and_skips_what_changed_after_the_walk() {
        let mut db = Db::new();
        for i in 0..10 {
            db.get_or_create("k")
                .set(&format!("p{i}"), point(f64::from(i)));
        }
        assert!(matches!(scan(&db, &["k", "LIMIT", "3"]), Reply::Search(_)));
        let Reply::Stream(mut s) = scan(&db, &["k", "LIMIT", "100"]) else {
            panic!("expected a stream");
        };
        assert_eq!((s.head.items.len(), s.refs.len(), s.head.cursor), (3, 7, 0));
        let col = db.get_mut("k").unwrap();
        col.remove("p4");
        col.set("p5", point(50.0)); // replaced
        col.set("p6", point(6.0)); // replaced by an equal object: the same
        col.remove("p7");
        col.set("zz", point(7.0)); // may reuse p7's handle
        col.modify("p8", |o| o.expires_at_ms = 1); // expired since
        let ids = drain(&db, &mut s);
        assert_eq!(ids, ["p0", "p1", "p2", "p3", "p6", "p9"]);
    }

    #[test]
    fn a_dropped_collection_ends_the_stream() {
        let mut db = Db::new();
        for i in 0..10 {
            db.get_or_create("k")
                .set(&format!("p{i}"), point(f64::from(i)));
        }
        let Reply::Stream(mut s) = scan(&db, &["k", "LIMIT", "100"]) else {
            panic!("expected a stream");
        };
        db.drop_key("k");
        assert_eq!(drain(&db, &mut s), ["p0", "p1", "p2"]);
    }
}
