//! The one entry point for every command, whatever its source (clients, AOF replay, expiry):
//! look up the command table, check arity, auth, loading and role, take the data lock the
//! command's kind needs, apply, append the canonical change to the AOF while still holding the
//! lock, release, and return a typed reply.
//!
//! This is the only module that takes the data lock and the only caller of `Aof::append`. It
//! must not touch sockets, encode replies, or hold the lock across IO or `.await`.
//!
//! `rewrite` drives AOF rewrites from here for the same reason: it is a reader of the data set
//! that takes the lock in chunks.

mod lock;
mod read;
pub mod rewrite;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use crate::aof::Aof;
use crate::cmd::{self, Args, Handler, Host, Kind, ServerInfo, Session, StreamLimits, WriteCtx};
use crate::config::{Config, CONFIG_NAMES, RUNTIME_SETTABLE};
use crate::error::{CmdError, CmdResult};
use crate::protocol::{ArgList, OutputFormat, Reply, Request};
use crate::store::Db;

/// Where a command comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A client connection.
    Client,
    /// AOF replay at startup: not logged again, not gated by LOADING or READONLY.
    Replay,
}

/// What `execute` produced.
#[derive(Debug)]
pub struct Outcome {
    /// The reply; meaningless while `walk` is set.
    pub reply: Reply,
    /// The AOF length that must be durable before the reply is sent.
    pub durable_at: Option<u64>,
    /// A search that walks on past its first hold, left for the caller to drive with
    /// [`Server::resume_walk`] ([`Session::step_walks`] only).
    pub walk: Option<Box<PendingWalk>>,
}

impl Outcome {
    fn reply(reply: Reply) -> Outcome {
        Outcome {
            reply,
            durable_at: None,
            walk: None,
        }
    }

    /// The outcome of a search still walking (for [`Server::resume_walk`] to go on with).
    pub fn pending(walk: Box<PendingWalk>) -> Outcome {
        Outcome {
            walk: Some(walk),
            ..Outcome::reply(Reply::Ok)
        }
    }
}

/// A search walk between two holds of the read lock, with what its holds need.
pub struct PendingWalk {
    walk: Box<cmd::walk::SearchWalk>,
    output: OutputFormat,
    json: bool,
    stream: StreamLimits,
    /// Holds counted in `walk_holds` so far (its first is counted with its second).
    counted: bool,
}

impl std::fmt::Debug for PendingWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingWalk").finish_non_exhaustive()
    }
}

/// Counters shown by INFO and SERVER.
#[derive(Debug, Default)]
pub struct Counters {
    pub connected_clients: AtomicU64,
    pub total_connections: AtomicU64,
    /// Bumped per command by every connection loop, so sharded.
    pub total_commands: crate::metrics::ShardedCounter,
    pub expired_objects: AtomicU64,
    pub rejected_clients: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub oversize_replies: AtomicU64,
    /// Search replies sent in batches ([`Reply::Stream`]).
    pub streamed_replies: AtomicU64,
    /// Batches rendered for them, and the longest read-lock hold one took.
    pub stream_batches: AtomicU64,
    pub stream_max_batch_hold_us: AtomicU64,
    /// Bytes of streamed replies spooled before their header could be written, and how many
    /// of those went to a temp file.
    pub spooled_bytes: AtomicU64,
    pub spool_file_bytes: AtomicU64,
    /// Searches whose LIMIT was lowered to `search-max-hits`.
    pub capped_searches: AtomicU64,
    /// Holds used by multi-hold walks, the longest hold of any walk, walks started over.
    pub walk_holds: AtomicU64,
    pub walk_max_hold_us: AtomicU64,
    pub walk_restarts: AtomicU64,
    /// Connections handed from one connection loop to another (`net::loops`).
    pub connections_moved: AtomicU64,
    /// Each connection loop's load, published by `net::loops` (empty until they start).
    pub loops: std::sync::OnceLock<Box<[LoopLoad]>>,
    /// CPU left unused over the last sample, per mille of one CPU: the machine's idle time,
    /// or what the cgroup's CPU limit left unused if that is less.
    pub machine_idle_permille: AtomicU64,
    /// The cgroup's CPU limit, per mille of one CPU (0: none).
    pub cpu_limit_permille: AtomicU64,
    /// Commands that failed with `timeout` (TIMEOUT).
    pub timeouts: AtomicU64,
}

/// One connection loop's clients and the share of a CPU its thread used over the last tick.
#[derive(Debug, Default)]
pub struct LoopLoad {
    pub clients: AtomicU64,
    /// The loop's work: its thread's CPU minus the time it spun.
    pub cpu_permille: AtomicU64,
    /// The share of a CPU the loop spent polling with nothing to do (`net::spin`).
    pub spin_permille: AtomicU64,
}

/// Bytes rendered per read-lock hold of a streamed search at most (and less when
/// `client-output-buffer-limit` is lower): one item always fits.
const STREAM_BATCH_BYTES: u64 = 1 << 20;

/// The shared server state.
pub struct Server {
    db: lock::DataLock,
    aof: RwLock<Option<Arc<Aof>>>,
    config: RwLock<Config>,
    config_path: std::path::PathBuf,
    loading: AtomicBool,
    read_only: AtomicBool,
    id: String,
    started: Instant,
    pub counters: Counters,
    /// Bumped by every logged RENAME: a rewrite walking the data set restarts when it moves.
    renames: AtomicU64,
    rewrite: rewrite::RewriteState,
    hot: HotConfig,
    /// The Lua states and script cache of WHEREEVAL and SCRIPT.
    scripts: Arc<crate::script::Scripts>,
}

/// The config values every request reads, copied out of `config` whenever it changes: a
/// read of the config lock per request is an atomic write to a cache line every worker
/// thread shares, and these are plain loads.
#[derive(Debug, Default)]
struct HotConfig {
    requires_auth: AtomicBool,
    batch_items: AtomicU64,
    batch_bytes: AtomicU64,
    max_hits: AtomicU64,
    walk_batch: AtomicU64,
    walk_yield_always: AtomicBool,
}

impl HotConfig {
    fn refresh(&self, cfg: &Config) {
        let store = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        self.requires_auth
            .store(!cfg.requirepass.is_empty(), Ordering::Relaxed);
        store(&self.batch_items, cfg.search_batch_items.clamp(1, 1 << 20));
        store(
            &self.batch_bytes,
            STREAM_BATCH_BYTES.min(cfg.client_output_buffer_limit),
        );
        store(&self.max_hits, cfg.search_max_hits.max(1));
        store(&self.walk_batch, cfg.search_walk_batch.clamp(1, 1 << 30));
        self.walk_yield_always
            .store(cfg.search_walk_yield_always, Ordering::Relaxed);
    }
}

fn configure_scripts(scripts: &crate::script::Scripts, cfg: &Config) {
    scripts.configure([
        cfg.script_max_instructions,
        cfg.script_max_memory_bytes,
        cfg.script_cache_max,
        cfg.script_max_states,
    ]);
}

/// Runs `f` through `block_in_place` on a multi-threaded runtime's worker (the worker's
/// other tasks and the I/O driver move to another thread meanwhile), else inline.
fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Tile38 commands that can appear in its AOF but that Meridian does not implement yet.
fn is_tile38_feature_not_built(name: &str) -> bool {
    const NAMES: [&str; 6] = [
        "sethook", "delhook", "pdelhook", "setchan", "delchan", "pdelchan",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Commands a client may send before AUTH, and while the AOF is loading.
fn allowed_before_auth(name: &str) -> bool {
    matches!(name, "AUTH" | "HELLO" | "QUIT" | "OUTPUT")
}

impl Server {
    /// A server with an empty data set, marked as loading until `finish_loading`.
    pub fn new(config: Config, config_path: std::path::PathBuf) -> Server {
        let read_only = config.read_only;
        let hot = HotConfig::default();
        hot.refresh(&config);
        let scripts = Arc::new(crate::script::Scripts::default());
        configure_scripts(&scripts, &config);
        Server {
            db: lock::DataLock::default(),
            aof: RwLock::new(None),
            config: RwLock::new(config),
            config_path,
            loading: AtomicBool::new(true),
            read_only: AtomicBool::new(read_only),
            id: crate::aof::format::new_repl_id()[..16].to_string(),
            started: Instant::now(),
            counters: Counters::default(),
            renames: AtomicU64::new(0),
            rewrite: rewrite::RewriteState::default(),
            hot,
            scripts,
        }
    }

    /// A copy of the running config.
    pub fn config(&self) -> Config {
        self.config.read().clone()
    }

    /// Starts a bulk load (AOF replay): R-trees are built once at the end.
    pub fn begin_loading(&self) {
        self.db.write().set_bulk_loading(true);
    }

    /// Ends loading: builds the R-trees, attaches the AOF and starts answering clients.
    pub fn finish_loading(&self, aof: Option<Arc<Aof>>) {
        self.db.write().set_bulk_loading(false);
        self.rewrite
            .set_base_size(aof.as_ref().map_or(0, |a| a.size()));
        *self.aof.write() = aof;
        self.loading.store(false, Ordering::Release);
    }

    /// True while the AOF is being replayed.
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// The AOF, when enabled and loaded.
    pub fn aof(&self) -> Option<Arc<Aof>> {
        self.aof.read().clone()
    }

    /// Runs one command.
    pub fn execute(&self, req: &Request, session: &mut Session, origin: Origin) -> Outcome {
        if origin == Origin::Client {
            self.counters.total_commands.add(1);
        }
        let json = session.output == OutputFormat::Json;
        match self.dispatch(req.argv(), session, origin, None) {
            Ok(outcome) => outcome,
            Err(e) => self.error_outcome(&e, json),
        }
    }

    /// The reply to a failed command (counted in INFO `timeouts` if it timed out).
    fn error_outcome(&self, e: &CmdError, json: bool) -> Outcome {
        if *e == CmdError::Timeout {
            self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::reply(Reply::Error(e.text(json)))
    }

    fn dispatch(
        &self,
        argv: ArgList,
        session: &mut Session,
        origin: Origin,
        deadline: Option<Instant>,
    ) -> CmdResult<Outcome> {
        let Some(first) = argv.get(0) else {
            return Err(CmdError::UnknownCommand(String::new()));
        };
        let sent = String::from_utf8_lossy(first);
        let (spec, handler) =
            cmd::resolve(&sent).ok_or_else(|| CmdError::UnknownCommand(sent.to_string()))?;
        spec.check_arity(argv.len(), &sent)?;
        if origin == Origin::Client {
            self.gate(spec.name.as_str(), spec.kind, session)?;
        }
        if deadline.is_some() && spec.kind != Kind::Read {
            return Err(CmdError::TimeoutNotSupported(sent.to_ascii_lowercase()));
        }
        let mut args = Args::new(&sent, argv.skip(1));
        let reply_only = |reply| Ok(Outcome::reply(reply));
        match handler {
            Handler::Read(f) => reply_only(self.read(f, &mut args, session, deadline)?),
            Handler::Walk(f) => self.walk_search(f, &mut args, session, deadline),
            Handler::Write(f) => self.write(f, &mut args, origin),
            Handler::Admin(f) => reply_only(f(self, &mut args)?),
            Handler::Conn(f) => reply_only(f(self, session, &mut args)?),
            Handler::Timeout => {
                let own = cmd::timeout::deadline(argv.get(1).unwrap_or_default(), Instant::now())?;
                let deadline = cmd::timeout::earliest(deadline, own);
                self.dispatch(argv.skip(2), session, origin, deadline)
            }
        }
    }

    /// Auth, loading and read-only checks for client commands.
    fn gate(&self, name: &str, kind: Kind, session: &Session) -> CmdResult<()> {
        if !session.authenticated && self.requires_auth() && !allowed_before_auth(name) {
            return Err(CmdError::AuthRequired);
        }
        // Like Redis (and unlike Tile38, which answers PING), everything but connection setup
        // answers LOADING, so a PONG means the data set is ready.
        if self.is_loading() && !allowed_before_auth(name) {
            return Err(CmdError::Loading);
        }
        if kind == Kind::Write && self.read_only.load(Ordering::Acquire) {
            return Err(CmdError::ReadOnly);
        }
        Ok(())
    }

    fn write(&self, f: cmd::WriteFn, args: &mut Args, origin: Origin) -> CmdResult<Outcome> {
        let mut ctx = WriteCtx::new(now_ms());
        ctx.logging = origin != Origin::Replay;
        let mut db = self.db.write();
        let reply = f(&mut db, args, &mut ctx)?;
        let mut durable_at = None;
        if origin != Origin::Replay {
            if let Some(aof) = self.aof.read().as_ref() {
                for rec in &ctx.log {
                    if rec.first().is_some_and(|name| name.as_ref() == b"RENAME") {
                        self.renames.fetch_add(1, Ordering::AcqRel);
                    }
                    durable_at = Some(aof.append(rec));
                }
            }
        }
        drop(db);
        Ok(Outcome {
            durable_at,
            ..Outcome::reply(reply)
        })
    }

    /// Whether [`Server::make_durable`] may wait for an fsync (else it is one `write` at most).
    pub fn durable_waits_for_fsync(&self) -> bool {
        self.aof().is_some_and(|a| a.syncs_each_write())
    }

    /// Makes the AOF durable up to `end` (per the fsync policy) before a reply goes out.
    pub fn make_durable(&self, end: u64) {
        if let Some(aof) = self.aof() {
            aof.flush_to(end);
        }
    }

    /// Deletes up to `max` expired objects and logs a DEL for each (leader only). Returns how
    /// many were deleted and the AOF length to make durable.
    pub fn expire_tick(&self, max: usize) -> (usize, Option<u64>) {
        if self.is_loading() {
            return (0, None);
        }
        let now = now_ms();
        let due = |db: &Db| {
            db.collections()
                .any(|(_, col)| col.next_expiry().is_some_and(|at| at <= now))
        };
        // Asked under the read lock first: a tick with nothing due neither waits for a long
        // walk nor makes it release the lock.
        if !due(&self.db.read()) {
            return (0, None);
        }
        let mut db = self.db.write();
        let mut victims = Vec::new();
        for (key, col) in db.collections() {
            if col.next_expiry().is_some_and(|at| at <= now) {
                for id in col.expired(now, max - victims.len()) {
                    victims.push((key.to_string(), id));
                }
            }
            if victims.len() >= max {
                break;
            }
        }
        let aof = self.aof.read().clone();
        let mut end = None;
        for (key, id) in &victims {
            if let Some(col) = db.get_mut(key) {
                col.remove(id);
            }
            db.drop_if_empty(key);
            if let Some(aof) = &aof {
                end = Some(aof.append(&["DEL", key.as_str(), id.as_str()]));
            }
        }
        drop(db);
        self.counters
            .expired_objects
            .fetch_add(victims.len() as u64, Ordering::Relaxed);
        (victims.len(), end)
    }

    /// Logs `PEXPIREAT` for every object that expires. Used once after loading a Tile38 AOF,
    /// whose `EX` is relative to each load: from then on the absolute time is in the file, so a
    /// later restart never extends the TTL. Flushes as it goes, so memory stays bounded.
    pub fn log_absolute_expiries(&self, aof: &Aof) -> u64 {
        let db = self.db.read();
        let mut n = 0u64;
        for (key, col) in db.collections() {
            for (at, id) in col.expiring() {
                let end = aof.append(&[
                    b"PEXPIREAT",
                    key.as_bytes(),
                    id.as_bytes(),
                    at.to_string().as_bytes(),
                ]);
                n += 1;
                if n.is_multiple_of(4096) {
                    aof.flush_to(end);
                }
            }
        }
        n
    }

    /// Replays one loaded AOF command. Errors other than "already gone" stop the load.
    pub fn replay(&self, req: &Request) -> Result<(), String> {
        let mut session = Session {
            authenticated: true,
            ..Session::default()
        };
        let json = false;
        match self.dispatch(req.argv(), &mut session, Origin::Replay, None) {
            Ok(_) => Ok(()),
            Err(e) if e.is_benign_on_replay() => Ok(()),
            Err(CmdError::UnknownCommand(name)) if is_tile38_feature_not_built(&name) => {
                // Hooks and channels from a Tile38 AOF: not supported yet. The bytes stay in
                // the file; the data set loads.
                tracing::warn!(
                    "AOF: skipped Tile38 '{name}' (hooks/channels are not supported yet)"
                );
                Ok(())
            }
            Err(e) => Err(e.text(json)),
        }
    }
}

impl Server {
    /// One number of each connection loop's load.
    fn loop_loads(&self, f: impl Fn(&LoopLoad) -> &AtomicU64) -> Vec<u64> {
        let loads = self.counters.loops.get().map_or(&[][..], |l| &l[..]);
        loads.iter().map(|l| f(l).load(Ordering::Relaxed)).collect()
    }
}

impl Host for Server {
    fn info(&self) -> ServerInfo {
        let cfg = self.config.read();
        let aof = self.aof();
        ServerInfo {
            id: self.id.clone(),
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            port: cfg.port,
            threads: cfg.worker_threads() as u64,
            uptime_secs: self.started.elapsed().as_secs(),
            aof_enabled: cfg.appendonly,
            aof_size: aof.as_ref().map_or(0, |a| a.size()),
            rewrite: self.rewrite.info(),
            appendfsync: cfg.appendfsync.as_str().into(),
            repl_id: aof
                .as_ref()
                .map_or_else(String::new, |a| a.repl_id().to_string()),
            repl_offset: aof.as_ref().map_or(0, |a| a.stream_offset()),
            read_only: self.read_only.load(Ordering::Acquire),
            connected_clients: self.counters.connected_clients.load(Ordering::Relaxed),
            total_connections: self.counters.total_connections.load(Ordering::Relaxed),
            total_commands: self.counters.total_commands.sum(),
            expired_objects: self.counters.expired_objects.load(Ordering::Relaxed),
            rejected_clients: self.counters.rejected_clients.load(Ordering::Relaxed),
            protocol_errors: self.counters.protocol_errors.load(Ordering::Relaxed),
            oversize_replies: self.counters.oversize_replies.load(Ordering::Relaxed),
            streamed_replies: self.counters.streamed_replies.load(Ordering::Relaxed),
            stream_batches: self.counters.stream_batches.load(Ordering::Relaxed),
            stream_max_batch_hold_us: self
                .counters
                .stream_max_batch_hold_us
                .load(Ordering::Relaxed),
            spooled_bytes: self.counters.spooled_bytes.load(Ordering::Relaxed),
            spool_file_bytes: self.counters.spool_file_bytes.load(Ordering::Relaxed),
            capped_searches: self.counters.capped_searches.load(Ordering::Relaxed),
            walk_holds: self.counters.walk_holds.load(Ordering::Relaxed),
            walk_max_hold_us: self.counters.walk_max_hold_us.load(Ordering::Relaxed),
            lock_max_write_wait_us: self.db.max_write_wait_us(),
            walk_restarts: self.counters.walk_restarts.load(Ordering::Relaxed),
            rss_bytes: crate::metrics::rss_bytes(),
            allocator_thp: cfg.allocator_thp,
            allocator_purge_delay_ms: cfg.allocator_purge_delay_ms,
            max_clients: cfg.maxclients,
            connections_moved: self.counters.connections_moved.load(Ordering::Relaxed),
            loop_clients: self.loop_loads(|l| &l.clients),
            loop_cpu_permille: self.loop_loads(|l| &l.cpu_permille),
            loop_spin_permille: self.loop_loads(|l| &l.spin_permille),
            machine_idle_permille: self.counters.machine_idle_permille.load(Ordering::Relaxed),
            cpu_limit_permille: self.counters.cpu_limit_permille.load(Ordering::Relaxed),
            timeouts: self.counters.timeouts.load(Ordering::Relaxed),
            scripts: self.scripts.stats(),
        }
    }

    fn config_get(&self, name: &str) -> Option<String> {
        self.config.read().get(name)
    }

    fn config_names(&self) -> Vec<&'static str> {
        CONFIG_NAMES.to_vec()
    }

    fn config_set(&self, name: &str, value: &str) -> CmdResult<()> {
        if !CONFIG_NAMES.contains(&name) {
            return Err(CmdError::Other(format!(
                "Unsupported CONFIG parameter: {name}"
            )));
        }
        if !RUNTIME_SETTABLE.contains(&name) {
            return Err(CmdError::Other(format!(
                "'{name}' cannot be changed at run time: set it in the config file and restart"
            )));
        }
        let mut cfg = self.config.write();
        cfg.set(name, value).map_err(CmdError::Other)?;
        self.read_only.store(cfg.read_only, Ordering::Release);
        self.hot.refresh(&cfg);
        configure_scripts(&self.scripts, &cfg);
        if let Some(aof) = self.aof() {
            aof.set_policy(cfg.appendfsync);
        }
        Ok(())
    }

    fn config_rewrite(&self) -> CmdResult<()> {
        let text = self.config.read().to_toml();
        crate::fsutil::write_atomic(&self.config_path, text.as_bytes())
            .map_err(|e| CmdError::Other(format!("CONFIG REWRITE failed: {e}")))
    }

    fn set_read_only(&self, on: bool) -> CmdResult<()> {
        self.config.write().read_only = on;
        self.read_only.store(on, Ordering::Release);
        // READONLY is persisted at once, as in Tile38.
        self.config_rewrite()
    }

    fn requires_auth(&self) -> bool {
        self.hot.requires_auth.load(Ordering::Relaxed)
    }

    fn check_password(&self, password: &str) -> bool {
        let cfg = self.config.read();
        !cfg.requirepass.is_empty() && cfg.requirepass == password
    }

    fn note_capped_search(&self) {
        self.counters
            .capped_searches
            .fetch_add(1, Ordering::Relaxed);
    }

    fn note_walk_restart(&self) {
        self.counters.walk_restarts.fetch_add(1, Ordering::Relaxed);
    }

    fn writer_waiting(&self) -> bool {
        self.db.writer_waiting()
    }

    fn scripts(&self) -> &Arc<crate::script::Scripts> {
        &self.scripts
    }

    fn request_rewrite(&self) -> CmdResult<()> {
        if !self.config.read().appendonly {
            return Err(CmdError::Other("aof disabled".into()));
        }
        self.schedule_rewrite();
        Ok(())
    }
}

impl Server {
    /// Stops writes and makes every acknowledged (and buffered) write durable. The data lock
    /// stays held until the process exits, so no write can slip in after the final fsync.
    pub fn shutdown(&self) {
        let guard = self.db.write();
        if let Some(aof) = self.aof() {
            aof.flush_and_sync();
        }
        std::mem::forget(guard);
    }
}
