//! SCAN and the search options it shares with SEARCH and the spatial searches: CURSOR, LIMIT,
//! MATCH, WHERE/WHEREIN (clauses in [`super::filter`]), NOFIELDS, ASC/DESC, SPARSE, CLIP, the
//! output kinds and Tile38's checks of their combinations; plus turning matched objects into
//! [`SearchItem`]s and walking hits with a cursor.

use super::args::{Args, Upper};
use super::filter::{ScriptFields, Where, WhereEval, WhereIn};
use super::keys_read::field_value;
use super::walk::{Order, Walked};
use super::{ReadCtx, StreamLimits};
use crate::error::{CmdError, CmdResult};
use crate::geo::{clip_to_rect, geohash_encode, Geometry, Rect};
use crate::protocol::{
    HitRef, ItemBody, Reply, SearchItem, SearchOutput, SearchReply, SearchStream, Value,
};
use crate::script::ScriptFilter;
use crate::store::collection::object_hash;
use crate::store::{Body, Collection, ObjRef};
use std::borrow::Cow;
use std::sync::Arc;

/// Tile38's default LIMIT for searches that return items.
pub const DEFAULT_LIMIT: u64 = 100;

/// Which command parsed the options (Tile38 allows a few only for some).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchCmd {
    Scan,
    Search,
    Nearby,
    Within,
    Intersects,
}

impl SearchCmd {
    fn name(self) -> &'static str {
        match self {
            SearchCmd::Scan => "SCAN",
            SearchCmd::Search => "SEARCH",
            SearchCmd::Nearby => "NEARBY",
            SearchCmd::Within => "WITHIN",
            SearchCmd::Intersects => "INTERSECTS",
        }
    }
}

/// Options common to every search.
#[derive(Debug, Clone)]
pub struct SearchOpts {
    pub cursor: u64,
    pub limit: Option<u64>,
    /// MATCH patterns, compiled once per search rather than once per object.
    pub matches: Vec<wildmatch::WildMatch>,
    pub wheres: Vec<Where>,
    pub whereins: Vec<WhereIn>,
    /// WHEREEVAL/WHEREEVALSHA as parsed, then compiled by [`Self::validate`].
    pub evals: Vec<WhereEval>,
    pub scripts: Vec<Arc<ScriptFilter>>,
    pub no_fields: bool,
    pub desc: bool,
    /// ASC or DESC was given (they are refused for the spatial searches).
    pub order_given: bool,
    pub cursor_given: bool,
    /// `SPARSE n`: at most one object per cell of a 2^n by 2^n grid over the area.
    pub sparse: Option<u8>,
    /// `CLIP`: INTERSECTS clips objects to the area; the other searches ignore it, as Tile38.
    pub clip: bool,
    /// SEARCH: MATCH tests the string value instead of the id.
    pub match_values: bool,
    pub output: SearchOutput,
}

impl Default for SearchOpts {
    fn default() -> Self {
        SearchOpts {
            cursor: 0,
            limit: None,
            matches: Vec::new(),
            wheres: Vec::new(),
            whereins: Vec::new(),
            evals: Vec::new(),
            scripts: Vec::new(),
            no_fields: false,
            desc: false,
            order_given: false,
            cursor_given: false,
            sparse: None,
            clip: false,
            match_values: false,
            output: SearchOutput::Objects,
        }
    }
}

fn duplicate(word: &str) -> CmdError {
    CmdError::Other(format!(
        "duplicate argument '{}'",
        word.to_ascii_uppercase()
    ))
}

impl SearchOpts {
    /// Parses one option word (already consumed) if it is a search option. Returns false when
    /// the word is not one, so the caller can try its own words.
    pub fn parse_word(&mut self, word: &str, a: &mut Args) -> CmdResult<bool> {
        match Upper::new(word).as_str() {
            "CURSOR" if self.cursor_given => return Err(duplicate(word)),
            "CURSOR" => {
                self.cursor = a.next_u64()?;
                self.cursor_given = true;
            }
            "LIMIT" if self.limit.is_some() => return Err(duplicate(word)),
            "LIMIT" => {
                let s = a.next_str()?;
                match s.parse::<u64>() {
                    Ok(n) if n > 0 => self.limit = Some(n),
                    _ => return Err(CmdError::InvalidArg(s.into())),
                }
            }
            "SPARSE" if self.sparse.is_some() => return Err(duplicate(word)),
            "SPARSE" => {
                let s = a.next_str()?;
                match s.parse::<u8>() {
                    Ok(n) if (1..=8).contains(&n) => self.sparse = Some(n),
                    _ => return Err(CmdError::InvalidArg(s.into())),
                }
            }
            "MATCH" => self.matches.push(wildmatch::WildMatch::new(a.next_str()?)),
            "WHERE" => self.wheres.push(Where::parse(a)?),
            "WHEREIN" => self.whereins.push(WhereIn::parse(a)?),
            "WHEREEVAL" => self.evals.push(WhereEval::parse(a, false)?),
            "WHEREEVALSHA" => self.evals.push(WhereEval::parse(a, true)?),
            "NOFIELDS" if self.no_fields => return Err(duplicate(word)),
            "NOFIELDS" => self.no_fields = true,
            "CLIP" if self.clip => return Err(duplicate(word)),
            "CLIP" => self.clip = true,
            "ASC" | "DESC" if self.order_given => return Err(duplicate(word)),
            "ASC" | "DESC" => {
                self.desc = word.eq_ignore_ascii_case("DESC");
                self.order_given = true;
            }
            "COUNT" => self.output = SearchOutput::Count,
            "IDS" => self.output = SearchOutput::Ids,
            "OBJECTS" => self.output = SearchOutput::Objects,
            "POINTS" => self.output = SearchOutput::Points,
            "BOUNDS" => self.output = SearchOutput::Bounds,
            "HASHES" => {
                let p = a.next_str()?;
                match p.parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => self.output = SearchOutput::Hashes(n),
                    _ => return Err(CmdError::InvalidArg(p.into())),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Tile38's checks of option combinations, once every option is parsed; compiles the
    /// WHEREEVAL scripts (an unknown WHEREEVALSHA or a syntax error fails here).
    pub fn validate(&mut self, cmd: SearchCmd, ctx: &super::ReadCtx) -> CmdResult<()> {
        let (host, deadline) = (ctx.host, ctx.stream.deadline);
        for eval in std::mem::take(&mut self.evals) {
            let filter = host
                .scripts()
                .filter(&eval.script, eval.is_sha, &eval.args)
                .map_err(CmdError::Other)?;
            filter.set_deadline(deadline);
            self.scripts.push(Arc::new(filter));
        }
        let not_allowed = |what: &str| {
            Err(CmdError::Other(format!(
                "{what} is not allowed for {}",
                cmd.name()
            )))
        };
        match cmd {
            SearchCmd::Scan | SearchCmd::Search if self.sparse.is_some() => {
                return not_allowed("SPARSE")
            }
            SearchCmd::Nearby | SearchCmd::Within | SearchCmd::Intersects if self.order_given => {
                return not_allowed(if self.desc { "DESC" } else { "ASC" })
            }
            _ => {}
        }
        if self.sparse.is_some() {
            if self.limit.is_some() {
                return Err(CmdError::Other(
                    "LIMIT is not allowed when SPARSE is specified".into(),
                ));
            }
            if self.cursor_given {
                return Err(CmdError::Other(
                    "CURSOR is not allowed when SPARSE is specified".into(),
                ));
            }
            // One object per cell: the grid bounds the reply (4^8 cells at most).
            self.limit = Some(u64::MAX);
        }
        Ok(())
    }

    /// The effective limit (COUNT has none).
    pub fn effective_limit(&self) -> u64 {
        match (self.output, self.limit) {
            (_, Some(l)) => l,
            (SearchOutput::Count, None) => u64::MAX,
            (_, None) => DEFAULT_LIMIT,
        }
    }

    /// True when an object passes MATCH (on the id, or the value for SEARCH), WHERE,
    /// WHEREIN and WHEREEVAL.
    pub fn accepts(&self, id: &str, obj: ObjRef<'_>) -> bool {
        let body;
        let subject = if self.match_values {
            body = obj.body();
            match &*body {
                Body::Str(s) => &**s,
                Body::Geo(_) => id,
            }
        } else {
            id
        };
        let id_ok = self.matches.is_empty() || self.matches.iter().any(|m| m.matches(subject));
        id_ok
            && self.wheres.iter().all(|w| w.matches(id, obj))
            && self.whereins.iter().all(|w| w.matches(obj))
            && self.scripts.iter().all(|s| s.matches(&ScriptFields(obj)))
    }

    /// The error a WHEREEVAL script raised, which ends the search.
    pub fn script_error(&self) -> Option<CmdError> {
        self.scripts
            .iter()
            .find_map(|s| s.error())
            .map(CmdError::Other)
    }
}

/// Collects search results: applies the limit, renders items and computes the cursor.
///
/// The first `batch_items` items (or `batch_bytes` of them) are rendered as they are found;
/// past that, a hit is kept only as a [`HitRef`] (16 bytes) and the reply becomes a
/// [`Reply::Stream`] whose remaining items are rendered later, batch by batch, each under
/// its own short read-lock hold (`super::stream`). So the walk's lock hold does no rendering
/// beyond one batch, and a big reply is never built whole in memory.
pub struct ResultWriter<'a> {
    output: SearchOutput,
    /// Copied only when the reply becomes a stream or the walk takes more than one hold:
    /// small searches allocate nothing for it.
    key: Cow<'a, str>,
    field_names: Vec<String>,
    items: Vec<SearchItem>,
    refs: Vec<HitRef>,
    distances: Vec<f64>,
    count: u64,
    /// The effective limit, capped by `search-max-hits`.
    limit: u64,
    /// The limit was lowered by `search-max-hits`.
    capped_limit: bool,
    /// CLIP: bodies are rendered from the object cut to this rectangle.
    clip: Option<Rect>,
    /// Estimated bytes of the rendered items so far.
    bytes: u64,
    limits: StreamLimits,
}

impl<'a> ResultWriter<'a> {
    /// A writer for the collection at `key` (`col` is None when it does not exist).
    pub fn new(
        opts: &SearchOpts,
        key: &'a str,
        col: Option<&Collection>,
        ctx: &ReadCtx,
    ) -> ResultWriter<'a> {
        // IDS and COUNT replies show no fields, so they are not gathered for them.
        let shows_fields = !matches!(opts.output, SearchOutput::Ids | SearchOutput::Count);
        let field_names = match (col, opts.no_fields) {
            (Some(c), false) if shows_fields => c.field_names().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let wanted = opts.effective_limit();
        // COUNT keeps no items, so only item outputs are capped.
        let max_hits = match opts.output {
            SearchOutput::Count => u64::MAX,
            _ => ctx.stream.max_hits.max(1),
        };
        ResultWriter {
            output: opts.output,
            key: Cow::Borrowed(key),
            field_names,
            items: Vec::new(),
            refs: Vec::new(),
            distances: Vec::new(),
            count: 0,
            limit: wanted.min(max_hits),
            capped_limit: wanted > max_hits,
            clip: None,
            bytes: 0,
            limits: ctx.stream,
        }
    }

    /// Renders every body from the object clipped to `r` (INTERSECTS … CLIP).
    pub fn clipped_to(mut self, r: Rect) -> ResultWriter<'a> {
        self.clip = Some(r);
        self
    }

    /// The same writer, owning its key (for a walk that goes on in another lock hold).
    pub fn into_owned(self) -> ResultWriter<'static> {
        ResultWriter {
            key: Cow::Owned(self.key.into_owned()),
            output: self.output,
            field_names: self.field_names,
            items: self.items,
            refs: self.refs,
            distances: self.distances,
            count: self.count,
            limit: self.limit,
            capped_limit: self.capped_limit,
            clip: self.clip,
            bytes: self.bytes,
            limits: self.limits,
        }
    }

    /// The key searched.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Forgets every hit, for a walk that starts over.
    pub fn clear(&mut self) {
        self.items.clear();
        self.refs.clear();
        self.distances.clear();
        self.count = 0;
        self.bytes = 0;
    }

    /// True once the limit is reached.
    pub fn full(&self) -> bool {
        self.count >= self.limit
    }

    /// Adds one accepted object.
    pub fn push(&mut self, id: &str, obj: ObjRef<'_>, distance: Option<f64>) {
        self.count += 1;
        if self.output == SearchOutput::Count {
            return;
        }
        let in_first_batch = self.refs.is_empty()
            && self.items.len() < self.limits.batch_items
            && self.bytes <= self.limits.batch_bytes;
        if in_first_batch {
            if self.items.capacity() == 0 {
                // Sized for a small LIMIT at once instead of regrown from 4 on the way.
                self.items.reserve_exact(self.limit.min(16) as usize);
            }
            let item = render_item(&self.render(), id, obj, distance);
            self.bytes += estimated_bytes(&item);
            self.items.push(item);
        } else {
            debug_assert!(obj.handle() != crate::store::slot::NO_HANDLE);
            self.refs.push(HitRef {
                fingerprint: object_hash(id, obj),
                handle: obj.handle(),
            });
            if let Some(d) = distance {
                self.distances.push(d);
            }
        }
    }

    fn render(&self) -> Render<'_> {
        Render {
            output: self.output,
            names: &self.field_names,
            clip: self.clip.as_ref(),
        }
    }

    /// The finished reply; `cursor` is 0 when the walk is complete. A plain search reply
    /// when every item was rendered during the walk, else a stream.
    pub fn finish(self, cursor: u64, host: &dyn super::Host) -> CmdResult<Reply> {
        if self.capped_limit && cursor != 0 && self.count >= self.limit {
            host.note_capped_search();
        }
        let head = SearchReply {
            output: self.output,
            field_names: self.field_names,
            items: self.items,
            count: self.count,
            cursor,
        };
        if self.refs.is_empty() {
            return Ok(Reply::Search(Box::new(head)));
        }
        Ok(Reply::Stream(Box::new(SearchStream {
            head,
            key: self.key.into_owned(),
            refs: self.refs,
            distances: self.distances,
            clip: self
                .clip
                .map(|r| [r.min_lat, r.min_lon, r.max_lat, r.max_lon]),
            next: 0,
        })))
    }
}

/// What rendering an item needs besides the object.
pub struct Render<'a> {
    pub output: SearchOutput,
    pub names: &'a [String],
    pub clip: Option<&'a Rect>,
}

/// Renders one matched object as a search item.
pub fn render_item(r: &Render, id: &str, obj: ObjRef<'_>, distance: Option<f64>) -> SearchItem {
    let fields = r
        .names
        .iter()
        .map(|n| {
            obj.fields()
                .get(n)
                .map_or(Value::Float(0.0), |v| field_value(&v))
        })
        .collect();
    SearchItem {
        id: id.into(),
        body: match (obj.geometry(), r.clip) {
            (Some(g), Some(rect)) => geometry_body(&clip_to_rect(&g, rect), r.output),
            _ => item_body(obj, r.output),
        },
        fields,
        distance,
    }
}

/// About what an item costs in memory and on the wire: its id, its body and its fields.
pub fn estimated_bytes(item: &SearchItem) -> u64 {
    let body = match &item.body {
        ItemBody::None => 0,
        ItemBody::Object { json, .. } => json.len(),
        ItemBody::Hash(h) => h.len(),
        ItemBody::Point { .. } | ItemBody::Bounds { .. } => 64,
    };
    (32 + item.id.len() + body + 24 * item.fields.len()) as u64
}

fn item_body(obj: ObjRef<'_>, output: SearchOutput) -> ItemBody {
    let body = obj.body();
    let geom = match &*body {
        Body::Str(s) => {
            return match output {
                SearchOutput::Ids | SearchOutput::Count => ItemBody::None,
                _ => ItemBody::Object {
                    json: s.to_string(),
                    is_string: true,
                },
            }
        }
        Body::Geo(g) => g,
    };
    geometry_body(geom, output)
}

/// The rendered body of a spatial object for an output kind.
pub fn geometry_body(geom: &Geometry, output: SearchOutput) -> ItemBody {
    match output {
        SearchOutput::Ids | SearchOutput::Count => ItemBody::None,
        SearchOutput::Objects => ItemBody::Object {
            json: geom.geojson_string(),
            is_string: false,
        },
        SearchOutput::Points => {
            let (lat, lon) = geom.center();
            ItemBody::Point {
                lat,
                lon,
                z: geom.z(),
            }
        }
        SearchOutput::Bounds => {
            let r = geom.bbox();
            ItemBody::Bounds {
                min_lat: r.min_lat,
                min_lon: r.min_lon,
                max_lat: r.max_lat,
                max_lon: r.max_lon,
            }
        }
        SearchOutput::Hashes(p) => {
            let (lat, lon) = geom.center();
            ItemBody::Hash(geohash_encode(lat, lon, usize::from(p)))
        }
    }
}

/// SCAN key [opts] [ASC|DESC] [output], walked in steps (`super::walk`).
pub fn scan(db: &crate::store::Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Walked> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    while !a.is_empty() {
        let word = a.next_str()?;
        if !opts.parse_word(word, a)? {
            return Err(CmdError::InvalidArg(word.into()));
        }
    }
    opts.validate(SearchCmd::Scan, ctx)?;
    let col = db.get(key);
    let w = ResultWriter::new(&opts, key, col, ctx);
    let Some(col) = col else {
        return Ok(Walked::Done(w.finish(0, ctx.host)?));
    };
    let order = Order::Scan {
        desc: opts.desc,
        after: None,
    };
    super::walk::start(col, opts, w, order, ctx)
}

/// SEARCH key [opts] [ASC|DESC] [COUNT|IDS|OBJECTS]: the STRING objects in value order (ties
/// by id), MATCH applied to the value.
pub fn search(db: &crate::store::Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Walked> {
    let key = a.next_str()?;
    let mut opts = SearchOpts {
        match_values: true,
        ..SearchOpts::default()
    };
    while !a.is_empty() {
        let word = a.next_str()?;
        // Tile38 treats anything it cannot read here as a wrong argument count.
        if !opts.parse_word(word, a)? {
            return Err(a.arity_error());
        }
    }
    opts.validate(SearchCmd::Search, ctx)?;
    if !matches!(
        opts.output,
        SearchOutput::Count | SearchOutput::Ids | SearchOutput::Objects
    ) {
        // Strings have no geometry to render as points, bounds or hashes.
        return Err(a.arity_error());
    }
    let col = db.get(key);
    let w = ResultWriter::new(&opts, key, col, ctx);
    let Some(col) = col else {
        return Ok(Walked::Done(w.finish(0, ctx.host)?));
    };
    // The collection keeps its STRING objects ordered by (value, id): ids are unique, so
    // that is a total order, cursors are stable and a walk resumes after its last key.
    let order = Order::Values(crate::store::walk::ValueWalk::new(opts.desc));
    super::walk::start(col, opts, w, order, ctx)
}
