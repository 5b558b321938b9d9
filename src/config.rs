//! Configuration: defaults, the TOML file, `MERIDIAN_*` environment overrides and the
//! tile38-server compatible command line, merged in that order (later wins); plus the names
//! CONFIG GET/SET understand and CONFIG REWRITE's output.
//!
//! Nothing else reads the config file or the environment.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde::{Deserialize, Serialize};

/// When the AOF is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before every write is acknowledged (survives power loss).
    Always,
    /// Once a second (a process crash loses nothing; power loss at most ~1 s).
    Everysec,
    /// Left to the OS (a process crash loses nothing).
    No,
}

impl Fsync {
    /// Parses `always|everysec|no`.
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::Everysec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    /// The config-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// Every setting. Keys are the kebab-case names used in TOML and by CONFIG GET/SET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub dir: PathBuf,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appendfsync: Fsync,
    pub requirepass: String,
    pub protected_mode: bool,
    pub maxclients: u64,
    pub proto_max_bulk_len: u64,
    pub max_request_args: u64,
    pub client_output_buffer_limit: u64,
    pub loglevel: String,
    pub keepalive: u64,
    pub aof_load_truncated: bool,
    /// Rewrite the AOF automatically when it has grown by this percentage since the last
    /// rewrite (or startup); 0 turns automatic rewrites off.
    pub auto_aof_rewrite_percentage: u64,
    /// ... and only once it is at least this big (bytes).
    pub auto_aof_rewrite_min_size: u64,
    /// Objects copied out per data-lock hold during a rewrite.
    pub aof_rewrite_chunk_objects: u64,
    /// Bytes of objects copied out per data-lock hold during a rewrite (the hold ends at
    /// whichever cap it reaches first; one object always fits).
    pub aof_rewrite_chunk_bytes: u64,
    /// Search items rendered per data-lock hold; a search with more is streamed in batches.
    pub search_batch_items: u64,
    /// Bytes of a streamed RESP reply kept in memory until its item count is known; the rest
    /// goes to an anonymous temp file in `dir`.
    pub search_spool_memory_bytes: u64,
    /// Most hits one search keeps (16-24 bytes each while it streams); a larger LIMIT stops
    /// there and answers a cursor to continue from.
    pub search_max_hits: u64,
    /// Entries (objects or index entries, hits or not) a search walks per data-lock hold;
    /// a longer walk releases the lock and resumes (every search).
    pub search_walk_batch: u64,
    /// Whether a walk releases the data lock after every batch even when no writer waits
    /// for it (by default it goes on, one batch at a time, until a writer waits).
    pub search_walk_yield_always: bool,
    pub read_only: bool,
    /// Let the allocator use transparent huge pages (startup only; see `allocator::configure`).
    pub allocator_thp: bool,
    /// Milliseconds the allocator keeps freed memory before returning it to the OS (startup
    /// only).
    pub allocator_purge_delay_ms: u64,
    /// Connection loops (threads serving connections); 0 = one per CPU the process may run
    /// on (startup only).
    pub threads: u64,
    /// A connection loop using at least this share of a CPU (per mille) is saturated, and
    /// hands connections to a loop with room while the machine has CPU to spare (startup
    /// only; `net::loops`).
    pub loop_saturated_permille: u64,
    /// The idle CPU (per mille of one CPU, the whole machine) below which connections stay
    /// packed on as few loops as possible (startup only).
    pub loop_spare_cpu_permille: u64,
    /// How long a busy connection loop keeps polling its sockets after a batch before it
    /// sleeps, in microseconds; 0 = never (startup only; `net::spin`).
    pub loop_spin_us: u64,
    /// A loop spins only while its work is at least this share of a CPU (per mille), and
    /// only on CPU the machine has idle (startup only).
    pub loop_spin_busy_permille: u64,
    /// VM instructions one WHEREEVAL call may run before the search fails (`script`).
    pub script_max_instructions: u64,
    /// Bytes one Lua state may allocate.
    pub script_max_memory_bytes: u64,
    /// WHEREEVAL-added scripts kept in the script cache (SCRIPT LOAD's are kept until
    /// SCRIPT FLUSH).
    pub script_cache_max: u64,
    /// Lua states that may exist at once (each search with WHEREEVAL holds one).
    pub script_max_states: u64,
    /// Leader to follow (replication; not implemented yet, startup refuses it).
    pub follow_host: String,
    pub follow_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 9851,
            dir: PathBuf::from("data"),
            appendonly: true,
            appendfilename: "appendonly.aof".into(),
            appendfsync: Fsync::Everysec,
            requirepass: String::new(),
            protected_mode: true,
            maxclients: 10_000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_request_args: 1024 * 1024,
            client_output_buffer_limit: 64 * 1024 * 1024,
            loglevel: "info".into(),
            keepalive: 300,
            aof_load_truncated: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            aof_rewrite_chunk_objects: 256,
            aof_rewrite_chunk_bytes: 256 * 1024,
            search_batch_items: 256,
            search_spool_memory_bytes: 4 * 1024 * 1024,
            search_max_hits: 1_000_000,
            search_walk_batch: 4096,
            search_walk_yield_always: false,
            read_only: false,
            allocator_thp: false,
            allocator_purge_delay_ms: 100,
            threads: 0,
            loop_saturated_permille: 900,
            loop_spare_cpu_permille: 400,
            loop_spin_us: 50,
            loop_spin_busy_permille: 500,
            script_max_instructions: 1_000_000,
            script_max_memory_bytes: 64 * 1024 * 1024,
            script_cache_max: 500,
            script_max_states: 1000,
            follow_host: String::new(),
            follow_port: 0,
        }
    }
}

/// The least `script-max-memory-bytes` may be: a Lua state with its libraries needs about
/// 30 KiB before running anything.
const SCRIPT_MIN_MEMORY: u64 = 256 * 1024;

/// The longest `loop-spin-us`: a spin is meant to fill gaps between requests, not idle time.
pub const MAX_SPIN_US: u64 = 10_000;

/// The most connection loops `threads` may ask for.
const MAX_THREADS: u64 = 1024;

/// Names CONFIG GET lists, in order.
pub const CONFIG_NAMES: &[&str] = &[
    "host",
    "port",
    "dir",
    "appendonly",
    "appendfilename",
    "appendfsync",
    "requirepass",
    "protected-mode",
    "maxclients",
    "proto-max-bulk-len",
    "max-request-args",
    "client-output-buffer-limit",
    "loglevel",
    "keepalive",
    "aof-load-truncated",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-rewrite-chunk-objects",
    "aof-rewrite-chunk-bytes",
    "search-batch-items",
    "search-spool-memory-bytes",
    "search-max-hits",
    "search-walk-batch",
    "search-walk-yield-always",
    "read-only",
    "allocator-thp",
    "allocator-purge-delay-ms",
    "threads",
    "loop-saturated-permille",
    "loop-spare-cpu-permille",
    "loop-spin-us",
    "loop-spin-busy-permille",
    "script-max-instructions",
    "script-max-memory-bytes",
    "script-cache-max",
    "script-max-states",
    "follow-host",
    "follow-port",
];

/// Names CONFIG SET may change at run time.
pub const RUNTIME_SETTABLE: &[&str] = &[
    "requirepass",
    "protected-mode",
    "maxclients",
    "proto-max-bulk-len",
    "max-request-args",
    "client-output-buffer-limit",
    "keepalive",
    "appendfsync",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-rewrite-chunk-objects",
    "aof-rewrite-chunk-bytes",
    "search-batch-items",
    "search-spool-memory-bytes",
    "search-max-hits",
    "search-walk-batch",
    "search-walk-yield-always",
    "read-only",
    "script-max-instructions",
    "script-max-memory-bytes",
    "script-cache-max",
    "script-max-states",
];

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parses sizes like `512mb`, `1gb`, `64kb` or plain bytes.
pub fn parse_size(v: &str) -> Option<u64> {
    let l = v.trim().to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n.to_string(), *m)))
    .unwrap_or((l.clone(), 1));
    num.trim().parse::<u64>().ok()?.checked_mul(mul)
}

impl Config {
    /// The value of a setting as CONFIG GET shows it.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "host" => self.host.clone(),
            "port" => self.port.to_string(),
            "dir" => self.dir.display().to_string(),
            "appendonly" => yes_no(self.appendonly),
            "appendfilename" => self.appendfilename.clone(),
            "appendfsync" => self.appendfsync.as_str().into(),
            "requirepass" => self.requirepass.clone(),
            "protected-mode" => yes_no(self.protected_mode),
            "maxclients" => self.maxclients.to_string(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "max-request-args" => self.max_request_args.to_string(),
            "client-output-buffer-limit" => self.client_output_buffer_limit.to_string(),
            "loglevel" => self.loglevel.clone(),
            "keepalive" => self.keepalive.to_string(),
            "aof-load-truncated" => yes_no(self.aof_load_truncated),
            "auto-aof-rewrite-percentage" => self.auto_aof_rewrite_percentage.to_string(),
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size.to_string(),
            "aof-rewrite-chunk-objects" => self.aof_rewrite_chunk_objects.to_string(),
            "aof-rewrite-chunk-bytes" => self.aof_rewrite_chunk_bytes.to_string(),
            "search-batch-items" => self.search_batch_items.to_string(),
            "search-spool-memory-bytes" => self.search_spool_memory_bytes.to_string(),
            "search-max-hits" => self.search_max_hits.to_string(),
            "search-walk-batch" => self.search_walk_batch.to_string(),
            "search-walk-yield-always" => yes_no(self.search_walk_yield_always),
            "read-only" => yes_no(self.read_only),
            "allocator-thp" => yes_no(self.allocator_thp),
            "allocator-purge-delay-ms" => self.allocator_purge_delay_ms.to_string(),
            "threads" => self.threads.to_string(),
            "loop-saturated-permille" => self.loop_saturated_permille.to_string(),
            "loop-spare-cpu-permille" => self.loop_spare_cpu_permille.to_string(),
            "loop-spin-us" => self.loop_spin_us.to_string(),
            "loop-spin-busy-permille" => self.loop_spin_busy_permille.to_string(),
            "script-max-instructions" => self.script_max_instructions.to_string(),
            "script-max-memory-bytes" => self.script_max_memory_bytes.to_string(),
            "script-cache-max" => self.script_cache_max.to_string(),
            "script-max-states" => self.script_max_states.to_string(),
            "follow-host" => self.follow_host.clone(),
            "follow-port" => self.follow_port.to_string(),
            _ => return None,
        })
    }

    /// Changes a setting from its text form. `Err` carries the client's error text.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let bad = || format!("Invalid argument '{value}' for CONFIG SET '{name}'");
        let size = || parse_size(value).ok_or_else(bad);
        let flag = || parse_bool(value).ok_or_else(bad);
        match name {
            "host" => self.host = value.into(),
            "port" => self.port = value.parse().map_err(|_| bad())?,
            "dir" => self.dir = PathBuf::from(value),
            "appendonly" => self.appendonly = flag()?,
            "appendfilename" => self.appendfilename = value.into(),
            "appendfsync" => self.appendfsync = Fsync::parse(value).ok_or_else(bad)?,
            "requirepass" => self.requirepass = value.into(),
            "protected-mode" => self.protected_mode = flag()?,
            "maxclients" => self.maxclients = size()?,
            "proto-max-bulk-len" => self.proto_max_bulk_len = size()?,
            "max-request-args" => self.max_request_args = size()?,
            "client-output-buffer-limit" => self.client_output_buffer_limit = size()?,
            "loglevel" => self.loglevel = value.into(),
            "keepalive" => self.keepalive = value.parse().map_err(|_| bad())?,
            "aof-load-truncated" => self.aof_load_truncated = flag()?,
            "auto-aof-rewrite-percentage" => {
                self.auto_aof_rewrite_percentage = value.parse().map_err(|_| bad())?
            }
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size = size()?,
            "aof-rewrite-chunk-objects" => {
                self.aof_rewrite_chunk_objects = size()?.max(1);
            }
            "aof-rewrite-chunk-bytes" => self.aof_rewrite_chunk_bytes = size()?.max(1),
            "search-batch-items" => self.search_batch_items = size()?.max(1),
            "search-spool-memory-bytes" => self.search_spool_memory_bytes = size()?,
            "search-max-hits" => self.search_max_hits = size()?.max(1),
            "search-walk-batch" => self.search_walk_batch = size()?.max(1),
            "search-walk-yield-always" => self.search_walk_yield_always = flag()?,
            "read-only" => self.read_only = flag()?,
            "allocator-thp" => self.allocator_thp = flag()?,
            "allocator-purge-delay-ms" => {
                self.allocator_purge_delay_ms = value.parse().map_err(|_| bad())?
            }
            "threads" => {
                self.threads = value.parse().map_err(|_| bad())?;
                if self.threads > MAX_THREADS {
                    return Err(bad());
                }
            }
            "loop-saturated-permille" => {
                self.loop_saturated_permille = value.parse().map_err(|_| bad())?
            }
            "loop-spare-cpu-permille" => {
                self.loop_spare_cpu_permille = value.parse().map_err(|_| bad())?
            }
            "loop-spin-us" => {
                self.loop_spin_us = value.parse().map_err(|_| bad())?;
                if self.loop_spin_us > MAX_SPIN_US {
                    return Err(bad());
                }
            }
            "loop-spin-busy-permille" => {
                self.loop_spin_busy_permille = value.parse().map_err(|_| bad())?
            }
            "script-max-instructions" => self.script_max_instructions = size()?.max(1000),
            "script-max-memory-bytes" => {
                self.script_max_memory_bytes = size()?.max(SCRIPT_MIN_MEMORY)
            }
            "script-cache-max" => self.script_cache_max = size()?,
            "script-max-states" => self.script_max_states = size()?.max(1),
            "follow-host" => self.follow_host = value.into(),
            "follow-port" => self.follow_port = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("Unsupported CONFIG parameter: {name}")),
        }
        Ok(())
    }

    /// The connection loops: `threads`, or one per CPU the process may run on.
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }

    /// Path of the AOF.
    pub fn aof_path(&self) -> PathBuf {
        self.dir.join(&self.appendfilename)
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config {}: {e}", path.display()))
    }

    /// Applies `MERIDIAN_<NAME>` environment variables (`MERIDIAN_PROTECTED_MODE=no`).
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), String> {
        for (k, v) in vars {
            let Some(name) = k.strip_prefix("MERIDIAN_") else {
                continue;
            };
            let name = name.to_ascii_lowercase().replace('_', "-");
            if CONFIG_NAMES.contains(&name.as_str()) {
                self.set(&name, &v).map_err(|e| format!("{k}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The TOML text CONFIG REWRITE writes.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!("# Written by Meridian (CONFIG REWRITE / READONLY). Keys: config/README.md\n{body}")
    }
}

/// Command-line flags, compatible with tile38-server where they overlap.
#[derive(Debug, Parser, Default)]
#[command(
    name = "meridian",
    version,
    about = "Meridian: a Tile38-compatible spatial database",
    disable_help_flag = true
)]
pub struct Cli {
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Host (address) to listen on.
    #[arg(short = 'h', long = "host")]
    pub host: Option<String>,
    /// Port to listen on.
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// Data directory.
    #[arg(short = 'd', long = "dir")]
    pub dir: Option<PathBuf>,
    /// Quiet logging (warnings and errors only).
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Verbose logging (debug).
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Turn the append-only file on or off.
    #[arg(long = "appendonly", value_parser = ["yes", "no"])]
    pub appendonly: Option<String>,
    /// AOF file name inside the data directory.
    #[arg(long = "appendfilename")]
    pub appendfilename: Option<String>,
    /// fsync policy: always, everysec or no.
    #[arg(long = "appendfsync", value_parser = ["always", "everysec", "no"])]
    pub appendfsync: Option<String>,
    /// Protected mode: refuse non-loopback clients unless a password is set.
    #[arg(long = "protected-mode", value_parser = ["yes", "no"])]
    pub protected_mode: Option<String>,
    /// Password clients must AUTH with.
    #[arg(long = "requirepass")]
    pub requirepass: Option<String>,
    /// Leader host to follow (replication has not landed yet: startup refuses it).
    #[arg(long = "follow-host")]
    pub follow_host: Option<String>,
    /// Leader port to follow.
    #[arg(long = "follow-port")]
    pub follow_port: Option<String>,
    /// TOML config file (defaults to <dir>/meridian.toml when that exists).
    #[arg(long = "config")]
    pub config: Option<PathBuf>,
}

impl Cli {
    /// Builds the effective config: defaults < file < environment < flags. Returns the config
    /// and the file CONFIG REWRITE writes to.
    pub fn resolve(
        &self,
        env: impl Iterator<Item = (String, String)> + Clone,
    ) -> Result<(Config, PathBuf), String> {
        let mut probe = Config::default();
        probe.apply_env(env.clone())?;
        let dir = self.dir.clone().unwrap_or(probe.dir);
        let path = self
            .config
            .clone()
            .unwrap_or_else(|| dir.join("meridian.toml"));
        let mut cfg = if path.exists() {
            Config::from_file(&path)?
        } else if self.config.is_some() {
            return Err(format!("config file {} does not exist", path.display()));
        } else {
            Config::default()
        };
        cfg.apply_env(env)?;
        self.apply_flags(&mut cfg)?;
        Ok((cfg, path))
    }

    fn apply_flags(&self, cfg: &mut Config) -> Result<(), String> {
        if let Some(h) = &self.host {
            cfg.host = h.clone();
        }
        if let Some(p) = self.port {
            cfg.port = p;
        }
        if let Some(d) = &self.dir {
            cfg.dir = d.clone();
        }
        let pairs = [
            ("appendonly", &self.appendonly),
            ("appendfilename", &self.appendfilename),
            ("appendfsync", &self.appendfsync),
            ("protected-mode", &self.protected_mode),
            ("requirepass", &self.requirepass),
            ("follow-host", &self.follow_host),
            ("follow-port", &self.follow_port),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                cfg.set(name, v)?;
            }
        }
        if self.quiet {
            cfg.loglevel = "warn".into();
        }
        if self.verbose {
            cfg.loglevel = "debug".into();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_env_beat_defaults() {
        let cli =
            Cli::try_parse_from(["meridian", "-p", "7000", "--appendfsync", "always"]).unwrap();
        let env = vec![
            ("MERIDIAN_PORT".to_string(), "7001".to_string()),
            ("MERIDIAN_PROTECTED_MODE".to_string(), "no".to_string()),
            (
                "MERIDIAN_DIR".to_string(),
                "/nonexistent-meridian".to_string(),
            ),
        ];
        let (cfg, path) = cli.resolve(env.into_iter()).unwrap();
        assert_eq!(cfg.port, 7000);
        assert!(!cfg.protected_mode);
        assert_eq!(cfg.appendfsync, Fsync::Always);
        assert_eq!(path, PathBuf::from("/nonexistent-meridian/meridian.toml"));
    }

    #[test]
    fn config_set_validates_and_round_trips_through_toml() {
        let mut c = Config::default();
        assert!(c.set("maxclients", "12").is_ok());
        assert_eq!(c.get("maxclients").as_deref(), Some("12"));
        assert!(c.set("proto-max-bulk-len", "1mb").is_ok());
        assert_eq!(c.proto_max_bulk_len, 1 << 20);
        assert_eq!(
            c.set("nope", "1"),
            Err("Unsupported CONFIG parameter: nope".to_string())
        );
        assert!(c.set("appendfsync", "sometimes").is_err());
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }
}
