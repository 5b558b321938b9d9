//! SCAN and the search options it shares with the spatial searches: CURSOR, LIMIT, MATCH,
//! WHERE, NOFIELDS, ASC/DESC and the output kinds; plus turning matched objects into
//! [`SearchItem`]s.

use super::args::Args;
use super::keys_read::field_value;
use super::ReadCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{geohash_encode, Geometry};
use crate::protocol::{ItemBody, Reply, SearchItem, SearchOutput, SearchReply, Value};
use crate::store::{Body, Collection, ObjRef};

/// Tile38's default LIMIT for searches that return items.
pub const DEFAULT_LIMIT: u64 = 100;

/// A `WHERE field min max` range.
#[derive(Debug, Clone)]
pub struct WhereRange {
    pub field: String,
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

impl WhereRange {
    fn matches(&self, obj: ObjRef<'_>) -> bool {
        let v = obj.fields().get(&self.field).map_or(0.0, |f| f.as_number());
        let above = if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        };
        let below = if self.max_exclusive {
            v < self.max
        } else {
            v <= self.max
        };
        above && below
    }
}

/// Options common to every search.
#[derive(Debug, Clone)]
pub struct SearchOpts {
    pub cursor: u64,
    pub limit: Option<u64>,
    pub matches: Vec<String>,
    pub wheres: Vec<WhereRange>,
    pub no_fields: bool,
    pub desc: bool,
    pub output: SearchOutput,
}

impl Default for SearchOpts {
    fn default() -> Self {
        SearchOpts {
            cursor: 0,
            limit: None,
            matches: Vec::new(),
            wheres: Vec::new(),
            no_fields: false,
            desc: false,
            output: SearchOutput::Objects,
        }
    }
}

fn parse_bound(s: &str) -> CmdResult<(f64, bool)> {
    let (exclusive, num) = match s.strip_prefix('(') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v = match num.to_ascii_lowercase().as_str() {
        "-inf" => f64::NEG_INFINITY,
        "+inf" | "inf" => f64::INFINITY,
        other => other
            .parse::<f64>()
            .ok()
            .filter(|v| !v.is_nan())
            .ok_or_else(|| CmdError::InvalidArg(s.into()))?,
    };
    Ok((v, exclusive))
}

impl SearchOpts {
    /// Parses one option word (already consumed) if it is a search option. Returns false when
    /// the word is not one, so the caller can try its own words.
    pub fn parse_word(&mut self, word: &str, a: &mut Args) -> CmdResult<bool> {
        match word.to_ascii_uppercase().as_str() {
            "CURSOR" => self.cursor = a.next_u64()?,
            "LIMIT" => self.limit = Some(a.next_u64()?),
            "MATCH" => self.matches.push(a.next_str()?.to_string()),
            "WHERE" => {
                let field = a.next_str()?.to_string();
                let (min, min_exclusive) = parse_bound(a.next_str()?)?;
                let (max, max_exclusive) = parse_bound(a.next_str()?)?;
                self.wheres.push(WhereRange {
                    field,
                    min,
                    min_exclusive,
                    max,
                    max_exclusive,
                });
            }
            "NOFIELDS" => self.no_fields = true,
            "ASC" => self.desc = false,
            "DESC" => self.desc = true,
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

    /// The effective limit (COUNT has none).
    pub fn effective_limit(&self) -> u64 {
        match (self.output, self.limit) {
            (_, Some(l)) => l,
            (SearchOutput::Count, None) => u64::MAX,
            (_, None) => DEFAULT_LIMIT,
        }
    }

    /// True when an object passes MATCH and WHERE.
    pub fn accepts(&self, id: &str, obj: ObjRef<'_>) -> bool {
        let id_ok = self.matches.is_empty()
            || self
                .matches
                .iter()
                .any(|m| m == "*" || wildmatch::WildMatch::new(m).matches(id));
        id_ok && self.wheres.iter().all(|w| w.matches(obj))
    }
}

/// Collects search results: applies the limit, renders items and computes the cursor.
pub struct ResultWriter<'a> {
    opts: &'a SearchOpts,
    field_names: Vec<String>,
    items: Vec<SearchItem>,
    count: u64,
    limit: u64,
}

impl<'a> ResultWriter<'a> {
    /// A writer for `col` (None when the key does not exist).
    pub fn new(opts: &'a SearchOpts, col: Option<&Collection>) -> ResultWriter<'a> {
        let field_names = match (col, opts.no_fields) {
            (Some(c), false) => c.field_names().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        ResultWriter {
            opts,
            field_names,
            items: Vec::new(),
            count: 0,
            limit: opts.effective_limit(),
        }
    }

    /// True once the limit is reached.
    pub fn full(&self) -> bool {
        self.count >= self.limit
    }

    /// Adds one accepted object.
    pub fn push(&mut self, id: &str, obj: ObjRef<'_>, distance: Option<f64>) {
        self.count += 1;
        if self.opts.output == SearchOutput::Count {
            return;
        }
        let fields = self
            .field_names
            .iter()
            .map(|n| {
                obj.fields()
                    .get(n)
                    .map_or(Value::Float(0.0), |v| field_value(&v))
            })
            .collect();
        self.items.push(SearchItem {
            id: id.to_string(),
            body: item_body(obj, self.opts.output),
            fields,
            distance,
        });
    }

    /// The finished reply; `cursor` is 0 when the walk is complete.
    pub fn finish(self, cursor: u64) -> Reply {
        Reply::Search(Box::new(SearchReply {
            output: self.opts.output,
            field_names: self.field_names,
            items: self.items,
            count: self.count,
            cursor,
        }))
    }
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

/// SCAN key [opts] [ASC|DESC] [output]
pub fn scan(db: &crate::store::Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let key = a.next_str()?;
    let mut opts = SearchOpts::default();
    while !a.is_empty() {
        let word = a.next_str()?;
        if !opts.parse_word(word, a)? {
            return Err(CmdError::InvalidArg(word.into()));
        }
    }
    let col = db.get(key);
    let w = ResultWriter::new(&opts, col);
    let Some(col) = col else {
        return Ok(w.finish(0));
    };
    let iter: Box<dyn Iterator<Item = (&str, ObjRef<'_>)>> = if opts.desc {
        Box::new(col.iter_rev_from(None))
    } else {
        Box::new(col.iter_from(None))
    };
    Ok(collect(
        w,
        &opts,
        iter.map(|(id, o)| (id, o, None)),
        ctx.now_ms,
    ))
}

/// Applies the cursor, expiry, MATCH/WHERE and the limit to a search's hits (in the order the
/// search walks them). The next cursor counts walked hits; it is 0 when the walk is complete.
pub fn collect<'a>(
    mut w: ResultWriter<'_>,
    opts: &SearchOpts,
    hits: impl Iterator<Item = (&'a str, ObjRef<'a>, Option<f64>)>,
    now_ms: i64,
) -> Reply {
    let mut walked = opts.cursor;
    let mut more = false;
    for (id, obj, distance) in hits.skip(opts.cursor as usize) {
        if w.full() {
            more = true;
            break;
        }
        walked += 1;
        if !obj.is_expired(now_ms) && opts.accepts(id, obj) {
            w.push(id, obj, distance);
        }
    }
    w.finish(if more { walked } else { 0 })
}
