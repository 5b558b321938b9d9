//! Meridian: a Tile38-compatible spatial database server.
//!
//! Module map (see ARCHITECTURE.md for the invariants):
//! - [`net`]: sockets, protocol sniffing, connection limits. Talks only to [`exec`].
//! - [`protocol`]: the only code that knows RESP and JSON bytes.
//! - [`exec`]: the single entry point for commands; the only taker of the data lock and the
//!   only caller of the AOF writer.
//! - [`cmd`]: the command table and each command's semantics (pure over the store).
//! - [`store`]: collections, objects, fields, expiry, R-trees (pure, synchronous).
//! - [`geo`]: geometry parsing, rendering and math (pure).
//! - [`aof`]: the append-only file: format, appending with fsync policy, startup replay.
//! - [`config`]: defaults, file, environment and flags.
//! - [`run`]: startup and shutdown.
//! - [`script`]: Lua for WHEREEVAL and the SCRIPT cache (sandboxed, pooled states).
//! - [`allocator`]: mimalloc's settings (huge pages, purge delay) and free-memory release.

pub mod allocator;
pub mod aof;
pub mod cmd;
pub mod config;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod geo;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod run;
pub mod script;
pub mod store;
