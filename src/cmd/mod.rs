//! Commands: the command table (from `proto/commands.json`), argument parsing and each
//! command's semantics.
//!
//! Every handler is pure with respect to its inputs: read handlers see `&Db`, write handlers
//! `&mut Db` plus a [`WriteCtx`] where they record the canonical form to log. Handlers must not
//! do IO, `.await`, take locks or know the wire format; `exec` does all of that around them.

pub mod areaexpr;
pub mod areatest;
pub mod args;
pub mod conn;
pub mod expr;
pub mod filter;
pub mod jsonpath;
pub mod keys;
pub mod keys_read;
pub mod scan;
pub mod search;
pub mod server;
pub mod sparse;
pub mod stream;
pub mod table;
pub mod timeout;
pub mod walk;

use std::sync::LazyLock;

use bytes::Bytes;

pub use args::Args;
pub use table::{lookup, CommandSpec, Kind, TABLE};

use crate::error::CmdResult;
use crate::protocol::{OutputFormat, Reply};
use crate::store::Db;

/// Per-connection state that commands may read or change.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub output: OutputFormat,
    pub resp3: bool,
    pub authenticated: bool,
    /// Set by QUIT: the connection closes after this reply.
    pub close: bool,
    pub name: Option<String>,
    /// Set: a search that needs more than one hold of the read lock returns after its first,
    /// pending, for the connection to drive one hold at a time (`exec::Server::resume_walk`)
    /// instead of blocking its thread until the walk ends; a hold goes on while no writer
    /// waits for at most this long.
    pub step_walks: Option<std::time::Duration>,
}

/// What a read command may know about the server besides the data.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    pub id: String,
    pub version: &'static str,
    pub pid: u32,
    pub port: u16,
    /// The connection loops (`threads`).
    pub threads: u64,
    pub uptime_secs: u64,
    pub aof_enabled: bool,
    pub aof_size: u64,
    pub rewrite: RewriteInfo,
    pub appendfsync: String,
    pub repl_id: String,
    pub repl_offset: u64,
    pub read_only: bool,
    pub connected_clients: u64,
    pub total_connections: u64,
    pub total_commands: u64,
    pub expired_objects: u64,
    /// Connections refused by `maxclients`.
    pub rejected_clients: u64,
    /// Connections closed for malformed or oversized requests.
    pub protocol_errors: u64,
    /// Non-search replies replaced by an error for exceeding `client-output-buffer-limit`.
    pub oversize_replies: u64,
    /// Search replies sent in batches, the batches rendered, the longest lock hold of one.
    pub streamed_replies: u64,
    pub stream_batches: u64,
    pub stream_max_batch_hold_us: u64,
    /// Bytes of streamed replies spooled (until their count was known), and those of them
    /// that went to a temp file.
    pub spooled_bytes: u64,
    pub spool_file_bytes: u64,
    /// Searches whose LIMIT was lowered to `search-max-hits`.
    pub capped_searches: u64,
    /// Read-lock holds used by walks that took more than one (`search-walk-batch`), the
    /// longest hold of any SCAN/WITHIN/INTERSECTS walk, and walks that started over in one
    /// hold (more inserts between two holds than a walk can track).
    pub walk_holds: u64,
    pub walk_max_hold_us: u64,
    /// The longest a writer waited for the data lock (µs).
    pub lock_max_write_wait_us: u64,
    pub walk_restarts: u64,
    pub rss_bytes: u64,
    /// The allocator settings (`allocator-thp`, `allocator-purge-delay-ms`).
    pub allocator_thp: bool,
    pub allocator_purge_delay_ms: u64,
    pub max_clients: u64,
    /// Connections moved between connection loops; each loop's clients and CPU share (‰).
    pub connections_moved: u64,
    pub loop_clients: Vec<u64>,
    pub loop_cpu_permille: Vec<u64>,
    pub loop_spin_permille: Vec<u64>,
    /// CPU to spare, per mille of one CPU (sampled with several loops): the machine's idle
    /// time, capped by the cgroup's CPU limit.
    pub machine_idle_permille: u64,
    /// The cgroup's CPU limit, per mille of one CPU (0: none).
    pub cpu_limit_permille: u64,
    /// Commands that failed with `timeout` (TIMEOUT).
    pub timeouts: u64,
    /// WHEREEVAL calls, their failures, the script cache.
    pub scripts: crate::script::ScriptStats,
}

/// AOF rewrite numbers for INFO persistence.
#[derive(Debug, Clone)]
pub struct RewriteInfo {
    pub in_progress: bool,
    pub scheduled: bool,
    /// Completed rewrites, and failed ones, since startup.
    pub rewrites: u64,
    pub failures: u64,
    /// True unless the last rewrite failed (Redis reports `ok` before the first one).
    pub last_status_ok: bool,
    /// Duration of the last rewrite and of the running one, -1 when there is none.
    pub last_duration_ms: i64,
    pub current_ms: i64,
    /// The longest data-lock hold of the last rewrite.
    pub last_max_hold_us: u64,
    /// How long the last rewrite's final swap made appends wait (tail copy, fsync, rename).
    pub last_swap_us: u64,
    pub last_chunks: u64,
    pub last_objects: u64,
    /// Size of the file the last rewrite produced.
    pub last_bytes_written: u64,
    /// Walk restarts caused by RENAME.
    pub last_restarts: u32,
    /// The automatic trigger's baseline size.
    pub base_size: u64,
}

impl Default for RewriteInfo {
    fn default() -> Self {
        RewriteInfo {
            in_progress: false,
            scheduled: false,
            rewrites: 0,
            failures: 0,
            last_status_ok: true,
            last_duration_ms: -1,
            last_swap_us: 0,
            current_ms: -1,
            last_max_hold_us: 0,
            last_chunks: 0,
            last_objects: 0,
            last_bytes_written: 0,
            last_restarts: 0,
            base_size: 0,
        }
    }
}

/// The server, as the admin and connection commands see it. `exec` implements it.
pub trait Host: Sync {
    /// A snapshot of server-level numbers.
    fn info(&self) -> ServerInfo;
    /// A config value by name (CONFIG GET), or None for an unknown name.
    fn config_get(&self, name: &str) -> Option<String>;
    /// Every config name, for `CONFIG GET *`.
    fn config_names(&self) -> Vec<&'static str>;
    /// CONFIG SET; the error text is the client's.
    fn config_set(&self, name: &str, value: &str) -> CmdResult<()>;
    /// CONFIG REWRITE: persist the running config to the config file.
    fn config_rewrite(&self) -> CmdResult<()>;
    /// READONLY yes|no.
    fn set_read_only(&self, on: bool) -> CmdResult<()>;
    /// True when `requirepass` is set.
    fn requires_auth(&self) -> bool;
    /// Checks a password against `requirepass`.
    fn check_password(&self, password: &str) -> bool;
    /// AOFSHRINK: schedules a background AOF rewrite (a no-op while one runs).
    fn request_rewrite(&self) -> CmdResult<()>;
    /// Counts a search whose LIMIT was lowered to `search-max-hits` (INFO `capped_searches`).
    fn note_capped_search(&self);
    /// Counts a walk that started over in one hold (INFO `walk_restarts`).
    fn note_walk_restart(&self);
    /// True when a writer waits for the data lock: a walk ends its hold at its next batch.
    fn writer_waiting(&self) -> bool;
    /// The Lua states and script cache (WHEREEVAL, SCRIPT).
    fn scripts(&self) -> &std::sync::Arc<crate::script::Scripts>;
}

/// Context of a read command.
pub struct ReadCtx<'a> {
    pub now_ms: i64,
    pub host: &'a dyn Host,
    /// The connection's output format (a few replies differ in content, not only in shape).
    pub output: OutputFormat,
    /// How a search splits its reply into batches.
    pub stream: StreamLimits,
}

impl ReadCtx<'_> {
    /// `Err(Timeout)` once the command's `TIMEOUT` deadline has passed.
    pub fn check_deadline(&self) -> CmdResult<()> {
        timeout::check(self.stream.deadline)
    }
}

/// How searches batch their replies (`search-batch-items`, `search-max-hits`).
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Items rendered per read-lock hold: a search with more becomes a streamed reply.
    pub batch_items: usize,
    /// Estimated bytes rendered per hold (one item always fits).
    pub batch_bytes: u64,
    /// Most hits a search keeps; a larger LIMIT stops there with a cursor to go on.
    pub max_hits: u64,
    /// Entries a search walks per read-lock hold (`search-walk-batch`) while a writer waits.
    pub walk_batch: usize,
    /// Release the lock after every batch even when no writer waits (`search-walk-yield-always`).
    pub walk_yield_always: bool,
    /// A hold that goes on while no writer waits ends anyway once it has lasted this long
    /// (a walk a connection loop drives: the loop's other connections wait for the hold).
    pub hold_for: Option<std::time::Duration>,
    /// The `TIMEOUT` deadline of the command: its walk fails with `timeout` once past it.
    pub deadline: Option<std::time::Instant>,
}

/// Context of a write command: the time it runs at and the canonical records it logs.
#[derive(Debug, Default)]
pub struct WriteCtx {
    pub now_ms: i64,
    /// Canonical commands to append to the AOF, in order. Empty means nothing changed.
    pub log: Vec<Vec<Bytes>>,
    /// False during AOF replay: the records would be thrown away, so costly ones (a whole
    /// object's canonical SET) are not built.
    pub logging: bool,
}

impl WriteCtx {
    /// A context at `now_ms`.
    pub fn new(now_ms: i64) -> WriteCtx {
        WriteCtx {
            now_ms,
            log: Vec::new(),
            logging: true,
        }
    }

    /// Records one canonical command.
    pub fn log<I, S>(&mut self, args: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<Bytes>,
    {
        self.log.push(args.into_iter().map(Into::into).collect());
    }
}

/// A read handler.
pub type ReadFn = fn(&Db, &mut Args, &ReadCtx) -> CmdResult<Reply>;
/// A read handler that walks in steps, one read-lock hold each (`walk`).
pub type WalkFn = fn(&Db, &mut Args, &ReadCtx) -> CmdResult<walk::Walked>;
/// A write handler.
pub type WriteFn = fn(&mut Db, &mut Args, &mut WriteCtx) -> CmdResult<Reply>;
/// An admin handler (no data access).
pub type AdminFn = fn(&dyn Host, &mut Args) -> CmdResult<Reply>;
/// A connection handler.
pub type ConnFn = fn(&dyn Host, &mut Session, &mut Args) -> CmdResult<Reply>;

/// A command's implementation, by kind.
#[derive(Clone, Copy)]
pub enum Handler {
    Read(ReadFn),
    Walk(WalkFn),
    Write(WriteFn),
    Admin(AdminFn),
    Conn(ConnFn),
    /// `TIMEOUT seconds COMMAND ...`: exec runs the read command that follows with a
    /// deadline (`timeout`).
    Timeout,
}

/// The table entry and implementation of a command name in any case, resolved with one
/// hash lookup (dispatch runs this for every request).
pub fn resolve(name: &str) -> Option<(&'static CommandSpec, Handler)> {
    static HANDLERS: LazyLock<Vec<Option<Handler>>> =
        LazyLock::new(|| TABLE.commands.iter().map(|c| handler(&c.name)).collect());
    let i = table::index_of(name)?;
    Some((&TABLE.commands[i], HANDLERS[i]?))
}

/// The implementation of a command in the table (by upper-case name).
pub fn handler(name: &str) -> Option<Handler> {
    use Handler::*;
    Some(match name {
        "SET" => Write(keys::set),
        "DEL" => Write(keys::del),
        "PDEL" => Write(keys::pdel),
        "DROP" => Write(keys::drop),
        "FLUSHDB" => Write(keys::flushdb),
        "RENAME" => Write(keys::rename),
        "RENAMENX" => Write(keys::renamenx),
        "FSET" => Write(keys::fset),
        "EXPIRE" => Write(keys::expire),
        "PEXPIREAT" => Write(keys::pexpireat),
        "PERSIST" => Write(keys::persist),
        "JSET" => Write(keys::jset),
        "JDEL" => Write(keys::jdel),
        "GET" => Read(keys_read::get),
        "KEYS" => Read(keys_read::keys),
        "TYPE" => Read(keys_read::type_),
        "EXISTS" => Read(keys_read::exists),
        "FEXISTS" => Read(keys_read::fexists),
        "FGET" => Read(keys_read::fget),
        "TTL" => Read(keys_read::ttl),
        "JGET" => Read(keys_read::jget),
        "BOUNDS" => Read(keys_read::bounds),
        "STATS" => Read(keys_read::stats),
        "SCAN" => Walk(scan::scan),
        "SEARCH" => Walk(scan::search),
        "TEST" => Read(areatest::test),
        "NEARBY" => Walk(search::nearby),
        "WITHIN" => Walk(search::within),
        "INTERSECTS" => Walk(search::intersects),
        "SERVER" => Read(server::server),
        "INFO" => Read(server::info),
        "DIGEST" => Read(server::digest),
        "HEALTHZ" => Read(server::healthz),
        "CONFIG" => Admin(server::config),
        "READONLY" => Admin(server::readonly),
        "GC" => Admin(server::gc),
        "AOFSHRINK" => Admin(server::aofshrink),
        "HELP" => Admin(server::help),
        "COMMAND" => Admin(server::command),
        "SCRIPT" => Admin(server::script),
        "PING" => Conn(conn::ping),
        "ECHO" => Conn(conn::echo),
        "QUIT" => Conn(conn::quit),
        "AUTH" => Conn(conn::auth),
        "OUTPUT" => Conn(conn::output),
        "HELLO" => Conn(conn::hello),
        "CLIENT" => Conn(conn::client),
        "TIMEOUT" => Timeout,
        _ => return None,
    })
}
