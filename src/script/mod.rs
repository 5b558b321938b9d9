//! Lua for the search filters `WHEREEVAL script numargs arg…` and `WHEREEVALSHA sha1 numargs
//! arg…`, and the script cache that `SCRIPT LOAD | EXISTS | FLUSH` manage, as in Tile38: a
//! script sees its arguments in the global `ARGV` (strings) and the object's fields in
//! `FIELDS` (numbers, strings, booleans; a field the object does not have is nil), and the
//! object passes when the script returns a true value (not nil or false, a non-zero number, a
//! non-empty string or a non-empty table).
//!
//! **Sandbox.** Each Lua state has the base, table, string and math libraries and a `tile38`
//! table with the pure helpers `sha1hex` and `distance_to`; no io, os, package or debug, no
//! `dofile`/`loadfile`/`print`, and new globals are refused (as Tile38 does). A call may run
//! `script-max-instructions` VM instructions and a state may hold `script-max-memory-bytes`:
//! past either the search ends with an error, so a script cannot stall the read lock or eat
//! the server's memory. Under `TIMEOUT` the hook also stops a call once the command's
//! deadline has passed ([`ScriptFilter::set_deadline`]). States are pooled (at most [`IDLE_STATES`] kept idle, at most
//! `script-max-states` in all: a search past that fails with Tile38's `no interpreters
//! available`).
//!
//! **Cache.** Sources are kept by SHA-1. SCRIPT LOAD's stay until SCRIPT FLUSH; those a
//! WHEREEVAL added are the newest `script-cache-max` only (older ones are evicted, as Redis
//! 7.4 does for EVAL), so clients sending ever-new scripts cannot grow it without bound.
//!
//! Owns the Lua states, the cache and the limits. Knows nothing of command syntax, the store,
//! locks or the AOF: a search hands [`ScriptFilter::matches`] an object's fields.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

mod fields;

use fields::FieldsTable;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, VmState};
use parking_lot::Mutex;

/// Idle Lua states kept for the next search; more are closed when returned.
pub const IDLE_STATES: usize = 16;
/// The hook runs every this many VM instructions to count them.
const HOOK_EVERY: u32 = 1000;

/// The error Tile38 gives for a WHEREEVALSHA of an unknown script.
pub const SHA_NOT_FOUND: &str = "sha not found";
/// ... and when every Lua state is in use (`script-max-states`).
pub const NO_STATES: &str = "no interpreters available";

/// Numbers for INFO.
#[derive(Debug, Default)]
pub struct ScriptCounters {
    /// Filter calls run, and calls that failed (an error in the script or a limit).
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    /// Calls stopped by `script-max-instructions` or `script-max-memory-bytes`.
    pub aborted: AtomicU64,
    /// WHEREEVAL scripts dropped from the cache by `script-cache-max`.
    pub evicted: AtomicU64,
}

/// The limits, changed by CONFIG SET.
#[derive(Debug)]
pub struct ScriptLimits {
    pub max_instructions: AtomicU64,
    pub max_memory_bytes: AtomicU64,
    pub cache_max: AtomicU64,
    pub max_states: AtomicU64,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_instructions: AtomicU64::new(1_000_000),
            max_memory_bytes: AtomicU64::new(64 << 20),
            cache_max: AtomicU64::new(500),
            max_states: AtomicU64::new(1000),
        }
    }
}

/// The script cache and the pool of Lua states.
#[derive(Default)]
pub struct Scripts {
    cache: Mutex<Cache>,
    idle: Mutex<Vec<State>>,
    /// Lua states that exist (idle or held by a search), bounded by `script-max-states`.
    live: Arc<AtomicUsize>,
    pub limits: ScriptLimits,
    pub counters: ScriptCounters,
}

#[derive(Default)]
struct Cache {
    /// Every cached script by SHA-1.
    sources: HashMap<String, Arc<str>>,
    /// The WHEREEVAL-added ones, oldest first: SCRIPT LOAD takes a script out of it, so that
    /// a loaded script stays until SCRIPT FLUSH.
    evals: VecDeque<String>,
}

/// The SHA-1 of a script, in lower-case hex (the script's name in the cache).
pub fn sha1_hex(source: &str) -> String {
    sha1_smol::Sha1::from(source).digest().to_string()
}

/// A snapshot of the numbers, for INFO.
#[derive(Debug, Clone, Default)]
pub struct ScriptStats {
    pub cached: u64,
    /// Lua states that exist, idle or in use.
    pub states: u64,
    pub calls: u64,
    pub errors: u64,
    pub aborted: u64,
    pub evicted: u64,
}

impl Scripts {
    /// Applies `script-max-instructions`, `script-max-memory-bytes`, `script-cache-max` and
    /// `script-max-states`, in that order (to states taken and scripts cached from now on).
    pub fn configure(&self, limits: [u64; 4]) {
        let [max_instructions, max_memory_bytes, cache_max, max_states] = limits;
        let l = &self.limits;
        l.max_instructions
            .store(max_instructions, Ordering::Relaxed);
        l.max_memory_bytes
            .store(max_memory_bytes, Ordering::Relaxed);
        l.cache_max.store(cache_max, Ordering::Relaxed);
        l.max_states.store(max_states, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ScriptStats {
        let c = &self.counters;
        ScriptStats {
            cached: self.cached() as u64,
            states: self.live.load(Ordering::Relaxed) as u64,
            calls: c.calls.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            aborted: c.aborted.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
        }
    }

    /// SCRIPT LOAD: checks that the script compiles and keeps it; its SHA-1.
    pub fn load(&self, source: &str) -> Result<String, String> {
        let sha = sha1_hex(source);
        let state = self.take_state()?;
        let compiled = state.compile(source, &sha);
        self.put_state(state);
        compiled?;
        let mut cache = self.cache.lock();
        cache.evals.retain(|s| *s != sha);
        cache.sources.insert(sha.clone(), source.into());
        Ok(sha)
    }

    /// SCRIPT EXISTS for one SHA-1.
    pub fn exists(&self, sha: &str) -> bool {
        self.cache
            .lock()
            .sources
            .contains_key(&sha.to_ascii_lowercase())
    }

    /// SCRIPT FLUSH.
    pub fn flush(&self) {
        let mut cache = self.cache.lock();
        cache.sources.clear();
        cache.evals.clear();
    }

    /// Scripts in the cache.
    pub fn cached(&self) -> usize {
        self.cache.lock().sources.len()
    }

    /// The filter for `WHEREEVAL source` (`is_sha` false) or `WHEREEVALSHA source`, with
    /// its `ARGV`. Compiles the script in a pooled state, which the filter holds until it
    /// is dropped.
    pub fn filter(
        self: &Arc<Self>,
        script: &str,
        is_sha: bool,
        args: &[String],
    ) -> Result<ScriptFilter, String> {
        let (sha, source) = if is_sha {
            let sha = script.to_ascii_lowercase();
            let source = self.source(&sha).ok_or_else(|| SHA_NOT_FOUND.to_string())?;
            (sha, source)
        } else {
            (sha1_hex(script), Arc::from(script))
        };
        let state = self.take_state()?;
        let function = match state.compile(&source, &sha) {
            Ok(f) => f,
            Err(e) => {
                self.put_state(state);
                return Err(e);
            }
        };
        if !is_sha {
            self.remember_eval(sha, source);
        }
        let argv = state
            .lua
            .create_sequence_from(args.iter().map(String::as_str))
            .map_err(|e| lua_error_text(&e))?;
        state.globals_set("ARGV", argv)?;
        let fields = FieldsTable::new(&state.lua).map_err(|e| lua_error_text(&e))?;
        Ok(ScriptFilter {
            scripts: self.clone(),
            state: Some(state),
            function,
            fields: Mutex::new(fields),
            error: Mutex::new(None),
        })
    }

    fn source(&self, sha: &str) -> Option<Arc<str>> {
        self.cache.lock().sources.get(sha).cloned()
    }

    /// Caches a WHEREEVAL script, evicting the oldest past `script-cache-max`.
    fn remember_eval(&self, sha: String, source: Arc<str>) {
        let max = self.limits.cache_max.load(Ordering::Relaxed) as usize;
        let mut cache = self.cache.lock();
        if cache.sources.contains_key(&sha) {
            return;
        }
        cache.sources.insert(sha.clone(), source);
        cache.evals.push_back(sha);
        while cache.evals.len() > max {
            let Some(old) = cache.evals.pop_front() else {
                break;
            };
            cache.sources.remove(&old);
            self.counters.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn take_state(&self) -> Result<State, String> {
        let idle = self.idle.lock().pop();
        let state = match idle {
            Some(state) => state,
            None => {
                let max = self.limits.max_states.load(Ordering::Relaxed) as usize;
                if self.live.load(Ordering::Relaxed) >= max {
                    return Err(NO_STATES.into());
                }
                State::new(self.live.clone())?
            }
        };
        let memory = self.limits.max_memory_bytes.load(Ordering::Relaxed) as usize;
        state
            .lua
            .set_memory_limit(memory)
            .map_err(|e| lua_error_text(&e))?;
        let budget = self.limits.max_instructions.load(Ordering::Relaxed);
        state.budget.store(budget, Ordering::Relaxed);
        Ok(state)
    }

    fn put_state(&self, state: State) {
        state.deadline.store(NO_DEADLINE, Ordering::Relaxed);
        let globals = state.lua.globals();
        let cleared = ["ARGV", "FIELDS"]
            .iter()
            .all(|name| globals.raw_set(*name, mlua::Value::Nil).is_ok());
        let mut idle = self.idle.lock();
        if cleared && idle.len() < IDLE_STATES {
            idle.push(state);
        }
    }
}

/// One sandboxed Lua state and the instruction budget its hook counts down.
struct State {
    lua: Lua,
    /// Instructions each call may run (`script-max-instructions` when the state was taken).
    budget: AtomicU64,
    /// Instructions left when the call began (`i64` so that the hook can go below zero).
    left: Arc<AtomicI64>,
    /// The command's deadline ([`deadline_ticks`]), or [`NO_DEADLINE`].
    deadline: Arc<AtomicU64>,
    /// The pool's count of states, which this one is part of until dropped.
    live: Arc<AtomicUsize>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl State {
    fn new(live: Arc<AtomicUsize>) -> Result<State, String> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        let lua = Lua::new_with(libs, LuaOptions::default()).map_err(|e| lua_error_text(&e))?;
        live.fetch_add(1, Ordering::Relaxed);
        let state = State {
            lua,
            budget: AtomicU64::new(0),
            left: Arc::new(AtomicI64::new(0)),
            deadline: Arc::new(AtomicU64::new(NO_DEADLINE)),
            live,
        };
        state.sandbox().map_err(|e| lua_error_text(&e))?;
        let (left, deadline) = (state.left.clone(), state.deadline.clone());
        state
            .lua
            .set_hook(
                HookTriggers::new().every_nth_instruction(HOOK_EVERY),
                move |_, _| {
                    if left.fetch_sub(i64::from(HOOK_EVERY), Ordering::Relaxed) <= 0 {
                        return Err(mlua::Error::RuntimeError(INSTRUCTIONS_EXCEEDED.into()));
                    }
                    let until = deadline.load(Ordering::Relaxed);
                    if until != NO_DEADLINE && deadline_ticks(Instant::now()) >= until {
                        return Err(mlua::Error::RuntimeError(DEADLINE_PASSED.into()));
                    }
                    Ok(VmState::Continue)
                },
            )
            .map_err(|e| lua_error_text(&e))?;
        Ok(state)
    }

    /// Removes what reads files or writes to stdout, adds the `tile38` helpers and refuses
    /// new globals.
    fn sandbox(&self) -> mlua::Result<()> {
        let lua = &self.lua;
        let globals = lua.globals();
        for name in ["dofile", "loadfile", "print", "load", "loadstring"] {
            globals.raw_set(name, mlua::Value::Nil)?;
        }
        let tile38 = lua.create_table()?;
        tile38.raw_set(
            "sha1hex",
            lua.create_function(|_, s: mlua::LuaString| Ok(sha1_hex(&s.to_string_lossy())))?,
        )?;
        tile38.raw_set(
            "distance_to",
            lua.create_function(|_, (lat1, lon1, lat2, lon2): (f64, f64, f64, f64)| {
                Ok(crate::geo::haversine_meters(lat1, lon1, lat2, lon2))
            })?,
        )?;
        globals.raw_set("tile38", tile38)?;
        // In Lua, so that `error(…, 2)` names the script's line as Tile38's message does.
        lua.load(LOCK_GLOBALS).set_name("=sandbox").exec()?;
        Ok(())
    }

    fn compile(&self, source: &str, sha: &str) -> Result<mlua::Function, String> {
        self.lua
            .load(source)
            .set_name(format!("=f_{sha}"))
            .into_function()
            .map_err(|e| lua_error_text(&e))
    }

    fn globals_set(&self, name: &str, value: Table) -> Result<(), String> {
        self.lua
            .globals()
            .raw_set(name, value)
            .map_err(|e| lua_error_text(&e))
    }
}

/// Refuses new globals (`ARGV` and `FIELDS` are set with raw sets, which it does not see).
const LOCK_GLOBALS: &str = r#"
setmetatable(_G, { __newindex = function(_, name)
    error("attempt to create global variable '" .. tostring(name) .. "'", 2)
end })
"#;

const INSTRUCTIONS_EXCEEDED: &str = "script exceeded script-max-instructions";
/// The hook's error once the command's deadline has passed (the search answers `timeout`).
const DEADLINE_PASSED: &str = "script stopped at the command's timeout";
/// A state's deadline when its command has none.
const NO_DEADLINE: u64 = u64::MAX;

/// An instant as the hook compares it: nanoseconds since the first use.
fn deadline_ticks(t: Instant) -> u64 {
    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
    t.saturating_duration_since(*EPOCH).as_nanos() as u64
}

/// A field's value as a script sees it.
pub enum FieldArg<'a> {
    Num(f64),
    Bool(bool),
    Str(&'a str),
}

/// An object's fields, visited one by one.
pub trait FieldSource {
    fn each(&self, visit: &mut dyn FnMut(&str, FieldArg<'_>));
}

/// One search's compiled WHEREEVAL: a Lua state from the pool (returned when dropped), the
/// script's function, and the first error a call raised.
pub struct ScriptFilter {
    scripts: Arc<Scripts>,
    state: Option<State>,
    function: mlua::Function,
    fields: Mutex<FieldsTable>,
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for ScriptFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptFilter").finish_non_exhaustive()
    }
}

impl ScriptFilter {
    /// Runs the script for one object's fields. False (and the error kept for
    /// [`Self::error`]) once a call fails: the search then ends with that error.
    pub fn matches(&self, fields: &dyn FieldSource) -> bool {
        if self.error.lock().is_some() {
            return false;
        }
        let Some(state) = &self.state else {
            return false;
        };
        let counters = &self.scripts.counters;
        counters.calls.fetch_add(1, Ordering::Relaxed);
        let budget = state.budget.load(Ordering::Relaxed);
        state
            .left
            .store(budget.min(i64::MAX as u64) as i64, Ordering::Relaxed);
        match self.call(state, fields) {
            Ok(pass) => pass,
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                let text = lua_error_text(&e);
                let limit = [INSTRUCTIONS_EXCEEDED, DEADLINE_PASSED];
                if limit.iter().any(|l| text.contains(l))
                    || matches!(e, mlua::Error::MemoryError(_))
                {
                    counters.aborted.fetch_add(1, Ordering::Relaxed);
                }
                *self.error.lock() = Some(text);
                false
            }
        }
    }

    fn call(&self, state: &State, fields: &dyn FieldSource) -> mlua::Result<bool> {
        let lua = &state.lua;
        let mut table = self.fields.lock();
        table.clear(lua)?;
        let mut filled = Ok(());
        fields.each(&mut |name, value| {
            if filled.is_ok() {
                filled = table.set(lua, name, value);
            }
        });
        filled?;
        drop(table);
        let ret: mlua::Value = self.function.call(())?;
        truthy(&ret)
    }

    /// Stops every later call once `deadline` has passed (TIMEOUT; None: no deadline).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        if let Some(state) = &self.state {
            let ticks = deadline.map_or(NO_DEADLINE, |d| deadline_ticks(d).min(NO_DEADLINE - 1));
            state.deadline.store(ticks, Ordering::Relaxed);
        }
    }

    /// The error that stopped the filter, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().clone()
    }
}

impl Drop for ScriptFilter {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.scripts.put_state(state);
        }
    }
}

/// Tile38's truth of a script's result.
fn truthy(v: &mlua::Value) -> mlua::Result<bool> {
    Ok(match v {
        mlua::Value::Nil => false,
        mlua::Value::Boolean(b) => *b,
        mlua::Value::Integer(n) => *n != 0,
        mlua::Value::Number(n) => *n != 0.0,
        mlua::Value::String(s) => !s.as_bytes().is_empty(),
        mlua::Value::Table(t) => {
            t.raw_len() != 0 || t.pairs::<mlua::Value, mlua::Value>().next().is_some()
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "script returned value of type {}",
                other.type_name()
            )))
        }
    })
}

/// The message of a Lua error on one line (RESP errors cannot hold newlines), without
/// mlua's wrapping or the traceback.
pub fn lua_error_text(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(_) => "script exceeded script-max-memory-bytes".to_string(),
        mlua::Error::CallbackError { cause, .. } => return lua_error_text(cause),
        other => other.to_string(),
    };
    let message = text.split("\nstack traceback:").next().unwrap_or_default();
    message.replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(scripts: &Arc<Scripts>, src: &str, args: &[&str]) -> ScriptFilter {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        scripts.filter(src, false, &args).expect("compiles")
    }

    struct Speed(f64);

    impl FieldSource for Speed {
        fn each(&self, visit: &mut dyn FnMut(&str, FieldArg<'_>)) {
            visit("speed", FieldArg::Num(self.0));
            visit("name", FieldArg::Str("bus"));
        }
    }

    fn speed(n: f64) -> &'static Speed {
        Box::leak(Box::new(Speed(n)))
    }

    #[test]
    fn fields_and_argv_decide() {
        let scripts = Arc::new(Scripts::default());
        let f = filter(&scripts, "return FIELDS.speed > tonumber(ARGV[1])", &["10"]);
        assert!(f.matches(speed(11.0)));
        assert!(!f.matches(speed(10.0)));
        let f = filter(
            &scripts,
            "return FIELDS.name == 'bus' and FIELDS.missing == nil",
            &[],
        );
        assert!(f.matches(speed(0.0)));
        assert!(f.error().is_none());
    }

    #[test]
    fn no_object_sees_anothers_fields() {
        struct Only(&'static str);
        impl FieldSource for Only {
            fn each(&self, visit: &mut dyn FnMut(&str, FieldArg<'_>)) {
                visit(self.0, FieldArg::Bool(true));
            }
        }
        let scripts = Arc::new(Scripts::default());
        // A script that writes into FIELDS must not leak the write to the next object.
        let src = "local seen = FIELDS.extra FIELDS.extra = 1 FIELDS.a = nil return seen == nil";
        let f = filter(&scripts, src, &[]);
        for _ in 0..3 {
            assert!(f.matches(&Only("a")), "{:?}", f.error());
        }
        let f = filter(&scripts, "return FIELDS.a == nil and FIELDS.b == true", &[]);
        assert!(!f.matches(&Only("a")));
        assert!(f.matches(&Only("b")));
        assert!(!f.matches(&Only("a")));
    }

    #[test]
    fn truth_is_tile38s() {
        let scripts = Arc::new(Scripts::default());
        for (src, want) in [
            ("return nil", false),
            ("return false", false),
            ("return 0", false),
            ("return 2", true),
            ("return ''", false),
            ("return 'x'", true),
            ("return {}", false),
            ("return {1}", true),
            ("return {a=1}", true),
        ] {
            assert_eq!(
                filter(&scripts, src, &[]).matches(speed(1.0)),
                want,
                "{src}"
            );
        }
        let f = filter(&scripts, "return function() end", &[]);
        assert!(!f.matches(speed(1.0)));
        assert_eq!(f.error().unwrap(), "script returned value of type function");
    }

    #[test]
    fn errors_and_limits_stop_the_filter() {
        let scripts = Arc::new(Scripts::default());
        let err = scripts.filter("return (", false, &[]).unwrap_err();
        assert!(err.starts_with("f_"), "{err}");
        let f = filter(&scripts, "return FIELDS.nope.x", &[]);
        assert!(!f.matches(speed(1.0)));
        assert!(
            f.error().unwrap().contains("attempt to index"),
            "{:?}",
            f.error()
        );
        scripts
            .limits
            .max_instructions
            .store(50_000, Ordering::Relaxed);
        let f = filter(&scripts, "while true do end", &[]);
        assert!(!f.matches(speed(1.0)));
        assert_eq!(f.error().unwrap(), INSTRUCTIONS_EXCEEDED);
        assert_eq!(scripts.counters.aborted.load(Ordering::Relaxed), 1);
        let f = filter(&scripts, "x = 1 return true", &[]);
        assert!(!f.matches(speed(1.0)));
        assert!(f
            .error()
            .unwrap()
            .contains("attempt to create global variable 'x'"));
        let f = filter(
            &scripts,
            "return io == nil and os == nil and dofile == nil",
            &[],
        );
        assert!(f.matches(speed(1.0)));
        scripts
            .limits
            .max_instructions
            .store(u64::MAX, Ordering::Relaxed);
        scripts
            .limits
            .max_memory_bytes
            .store(1 << 20, Ordering::Relaxed);
        let f = filter(
            &scripts,
            "local t = {} for i = 1, 1e7 do t[i] = i end return true",
            &[],
        );
        assert!(!f.matches(speed(1.0)));
        assert_eq!(
            f.error().unwrap(),
            "script exceeded script-max-memory-bytes"
        );
    }

    #[test]
    fn the_cache_keeps_loaded_scripts_and_bounds_the_rest() {
        let scripts = Arc::new(Scripts::default());
        let sha = scripts.load("return true").unwrap();
        assert_eq!(sha, sha1_hex("return true"));
        assert_eq!(sha.len(), 40);
        assert!(scripts.exists(&sha.to_ascii_uppercase()));
        assert!(scripts.filter(&sha, true, &[]).unwrap().matches(speed(1.0)));
        assert_eq!(scripts.filter("00", true, &[]).unwrap_err(), SHA_NOT_FOUND);
        scripts.limits.cache_max.store(2, Ordering::Relaxed);
        for i in 0..5 {
            drop(filter(&scripts, &format!("return {i}"), &[]));
        }
        assert_eq!(scripts.cached(), 3, "the loaded one and the newest two");
        assert_eq!(scripts.counters.evicted.load(Ordering::Relaxed), 3);
        assert!(scripts.exists(&sha1_hex("return 4")));
        assert!(!scripts.exists(&sha1_hex("return 0")));
        scripts.flush();
        assert!(!scripts.exists(&sha));
        assert!(scripts.load("return (").is_err());
    }

    #[test]
    fn states_are_bounded() {
        let scripts = Arc::new(Scripts::default());
        scripts.limits.max_states.store(2, Ordering::Relaxed);
        let a = filter(&scripts, "return true", &[]);
        let b = filter(&scripts, "return true", &[]);
        assert_eq!(
            scripts.filter("return true", false, &[]).unwrap_err(),
            NO_STATES
        );
        assert_eq!(scripts.stats().states, 2);
        drop((a, b));
        assert_eq!(scripts.stats().states, 2, "kept idle");
        scripts.idle.lock().clear();
        assert_eq!(scripts.stats().states, 0);
        assert!(scripts.filter("return true", false, &[]).is_ok());
    }

    #[test]
    fn states_are_reused_and_cleaned() {
        let scripts = Arc::new(Scripts::default());
        drop(filter(&scripts, "return ARGV[1] == 'a'", &["a"]));
        assert_eq!(scripts.idle.lock().len(), 1);
        let f = filter(&scripts, "return ARGV[1] == nil and FIELDS.speed == 3", &[]);
        assert_eq!(scripts.idle.lock().len(), 0, "the filter holds the state");
        assert!(f.matches(speed(3.0)));
    }
}
