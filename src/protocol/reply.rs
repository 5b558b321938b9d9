//! Typed replies: what a command answers, independent of the wire format.
//!
//! Commands build a [`Reply`]; `protocol::resp` and `protocol::json` render it. Nothing here knows
//! RESP or JSON bytes; each variant documents how it is rendered so the two encoders agree.

use compact_str::CompactString;

/// A value inside a reply. RESP renders scalars as the Tile38 server does (numbers inside
/// arrays as bulk strings, booleans as integers); JSON keeps their types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// RESP2 `$-1`, RESP3 `_`; JSON `null`.
    Null,
    /// RESP `:1`/`:0` (RESP3 `#t`/`#f`); JSON `true`/`false`.
    Bool(bool),
    /// RESP integer `:n`; JSON number.
    Int(i64),
    /// RESP bulk string of the shortest decimal form (no exponent); JSON number.
    Float(f64),
    /// RESP bulk string; JSON string.
    Str(String),
    /// RESP simple string `+text`; JSON string.
    Status(String),
    /// Binary-safe bytes (ECHO). RESP bulk string of the bytes; JSON string (lossy UTF-8).
    Bytes(Vec<u8>),
    /// Raw JSON text (a GeoJSON object, a JSON field value). RESP bulk string of the text;
    /// JSON inlined verbatim.
    Json(String),
    /// RESP array; JSON array.
    List(Vec<Value>),
    /// Ordered pairs. RESP2 flat array `[k1, v1, k2, v2]`, RESP3 map; JSON object.
    Map(Vec<(String, Value)>),
}

/// A command's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// RESP `+OK`; JSON `{"ok":true}`.
    Ok,
    /// RESP `+PONG` (or the bulk message of `PING msg`); JSON `{"ok":true,"ping":"pong"}`.
    Pong(Option<String>),
    /// A count whose JSON form is only `{"ok":true}` (DEL, DROP, PDEL, FSET, PERSIST, ...).
    /// RESP integer.
    Count(i64),
    /// A missing object or key. RESP2 `$-1` (RESP3 `_`); JSON `{"ok":false,"err":<err>}`.
    Nil { err: &'static str },
    /// One named value. RESP renders `value` alone; JSON renders `{"ok":true,<name>:<value>}`.
    Named { name: &'static str, value: Value },
    /// Several named values. RESP renders the values in order as an array (or the single value
    /// when there is one); JSON renders `{"ok":true,<name1>:<v1>,...}`.
    Fields(Vec<(&'static str, Value)>, RespShape),
    /// Objects found by a search (SCAN, SEARCH, NEARBY, WITHIN, INTERSECTS).
    Search(Box<SearchReply>),
    /// A search with more items than one batch: rendered, encoded and written in batches by
    /// the connection after the command returns (`protocol::stream`). The plain encoders
    /// render only its first batch; connections must drive it instead.
    Stream(Box<SearchStream>),
    /// A reply already shaped for a specific protocol state (HELLO): RESP renders `resp`,
    /// JSON renders `{"ok":true,<pairs>}`.
    Hello(Vec<(String, Value)>),
    /// A reply whose RESP and JSON forms differ in content (GET POINT, BOUNDS, TTL, INFO,
    /// CONFIG GET, ...): RESP renders `resp`; JSON renders `{"ok":true,<name1>:<v1>,...}`.
    Split {
        resp: Value,
        json: Vec<(&'static str, Value)>,
    },
    /// A miss that RESP reports as an integer and JSON as an error (EXPIRE, PERSIST, TTL of a
    /// missing id): RESP `:resp`; JSON `{"ok":false,"err":<err>}`.
    Miss { resp: i64, err: &'static str },
    /// A client error. RESP `-ERR text` (no `ERR ` when the first word is all capitals);
    /// JSON `{"ok":false,"err":"text"}`.
    Error(String),
}

/// How [`Reply::Fields`] is rendered in RESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespShape {
    /// Only the first value.
    First,
    /// An array of all values, in order.
    Array,
}

/// The output kind a search asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutput {
    /// Only the number of matches.
    Count,
    /// Ids only.
    Ids,
    /// Full objects (GeoJSON or string values).
    Objects,
    /// Centre points.
    Points,
    /// Bounding boxes.
    Bounds,
    /// Geohashes of the centre at the given precision.
    Hashes(u8),
}

/// One search match. `body` is filled according to [`SearchOutput`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchItem {
    /// Inline up to 24 bytes: most ids cost no allocation per match.
    pub id: CompactString,
    pub body: ItemBody,
    /// Field values aligned with [`SearchReply::field_names`]; empty when the search asked
    /// NOFIELDS or the collection has no fields.
    pub fields: Vec<Value>,
    /// Meters from the query point (NEARBY ... DISTANCE).
    pub distance: Option<f64>,
}

/// The rendered part of a search match.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemBody {
    /// IDS output.
    None,
    /// OBJECTS output: GeoJSON text, or a plain string for STRING objects.
    Object { json: String, is_string: bool },
    /// POINTS output.
    Point { lat: f64, lon: f64, z: Option<f64> },
    /// BOUNDS output.
    Bounds {
        min_lat: f64,
        min_lon: f64,
        max_lat: f64,
        max_lon: f64,
    },
    /// HASHES output.
    Hash(String),
}

/// The result of a search command.
///
/// RESP: COUNT → integer; otherwise `[cursor, [item...]]` where an item is `id` (IDS) or
/// `[id, body, [f1, v1, ...]?, distance?]` (the fields array is left out when every value is
/// zero/unset). JSON: `{"ok":true,"fields":[names]?,"<kind>":[...],"count":n,"cursor":c}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchReply {
    pub output: SearchOutput,
    pub field_names: Vec<String>,
    pub items: Vec<SearchItem>,
    pub count: u64,
    pub cursor: u64,
}

/// One search hit kept for later rendering: where the object lives and a fingerprint of it
/// as the search saw it. Opaque to the protocol; exec resolves it against the store, which
/// leaves the hit out if the object is gone or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitRef {
    pub fingerprint: u64,
    pub handle: u32,
}

/// A search reply whose items are rendered in batches after the search's walk.
///
/// `head` holds the output kind, the field names, the cursor and the items rendered during
/// the walk (the first batch); `refs` are the remaining hits in reply order. Its wire form is
/// the one of a [`SearchReply`] with every item still present at render time, and `count` the
/// number of items actually written.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchStream {
    pub head: SearchReply,
    /// The collection the hits are in.
    pub key: String,
    pub refs: Vec<HitRef>,
    /// NEARBY … DISTANCE: the distance of each ref (aligned with `refs`), else empty.
    pub distances: Vec<f64>,
    /// INTERSECTS … CLIP: bodies are cut to this rectangle (min lat, min lon, max lat,
    /// max lon).
    pub clip: Option<[f64; 4]>,
    /// How many refs have been rendered so far.
    pub next: usize,
}
