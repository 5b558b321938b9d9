//! Server commands: SERVER, INFO, DIGEST, HEALTHZ (reads), CONFIG, READONLY, GC, HELP and
//! COMMAND (admin, no data access).

use super::args::Args;
use super::table::TABLE;
use super::{Host, ReadCtx, ServerInfo};
use crate::error::{CmdError, CmdResult};
use crate::protocol::{Reply, Value};
use crate::store::Db;

fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// SERVER [EXT]
pub fn server(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    a.eat("EXT");
    a.finish()?;
    let info = ctx.host.info();
    let t = db.totals();
    let avg = t.in_memory_size.checked_div(t.num_objects).unwrap_or(0);
    let stats = vec![
        ("id".into(), Value::Str(info.id.clone())),
        ("aof_size".into(), int(info.aof_size)),
        ("avg_item_size".into(), int(avg)),
        (
            "cpus".into(),
            int(std::thread::available_parallelism().map_or(1, |n| n.get())),
        ),
        ("http_transport".into(), Value::Bool(true)),
        ("in_memory_size".into(), int(t.in_memory_size)),
        ("mem_alloc".into(), int(info.rss_bytes)),
        ("num_collections".into(), int(db.len())),
        ("num_hooks".into(), int(0)),
        ("num_objects".into(), int(t.num_objects)),
        ("num_points".into(), int(t.num_points)),
        ("num_strings".into(), int(t.num_strings)),
        ("pid".into(), int(info.pid)),
        ("pointer_size".into(), int(std::mem::size_of::<usize>())),
        ("read_only".into(), Value::Bool(info.read_only)),
        ("repl_id".into(), Value::Str(info.repl_id.clone())),
        ("repl_offset".into(), int(info.repl_offset)),
        ("uptime_in_seconds".into(), int(info.uptime_secs)),
        ("version".into(), Value::Str(info.version.into())),
    ];
    Ok(Reply::Named {
        name: "stats",
        value: Value::Map(stats),
    })
}

/// The INFO sections, in order, as (name, pairs).
fn info_sections(db: &Db, info: &ServerInfo) -> Vec<(&'static str, Vec<(String, Value)>)> {
    let t = db.totals();
    let s = |k: &str, v: Value| (k.to_string(), v);
    vec![
        (
            "server",
            vec![
                s("meridian_version", Value::Str(info.version.into())),
                s("redis_version", Value::Str("7.0.0".into())),
                s("process_id", int(info.pid)),
                s("tcp_port", int(info.port)),
                s("threads", int(info.threads)),
                s("uptime_in_seconds", int(info.uptime_secs)),
                s("server_id", Value::Str(info.id.clone())),
            ],
        ),
        (
            "clients",
            vec![
                s("connected_clients", int(info.connected_clients)),
                s("maxclients", int(info.max_clients)),
                s("connection_loops", int(info.loop_clients.len() as u64)),
                s("loop_clients", Value::Str(joined(&info.loop_clients))),
                s(
                    "loop_cpu_permille",
                    Value::Str(joined(&info.loop_cpu_permille)),
                ),
                s(
                    "loop_spin_permille",
                    Value::Str(joined(&info.loop_spin_permille)),
                ),
                s("machine_idle_permille", int(info.machine_idle_permille)),
                s("cpu_limit_permille", int(info.cpu_limit_permille)),
            ],
        ),
        (
            "memory",
            vec![
                s("used_memory", int(t.in_memory_size)),
                s("used_memory_rss", int(info.rss_bytes)),
                s("allocator_thp", int(u8::from(info.allocator_thp))),
                s(
                    "allocator_purge_delay_ms",
                    int(info.allocator_purge_delay_ms),
                ),
            ],
        ),
        (
            "persistence",
            vec![
                s("loading", int(0)),
                s("aof_enabled", int(u8::from(info.aof_enabled))),
                s("aof_current_size", int(info.aof_size)),
                s("aof_fsync", Value::Str(info.appendfsync.clone())),
            ]
            .into_iter()
            .chain(rewrite_fields(&info.rewrite))
            .collect(),
        ),
        (
            "stats",
            vec![
                s("total_connections_received", int(info.total_connections)),
                s("connections_moved", int(info.connections_moved)),
                s("total_commands_processed", int(info.total_commands)),
                s("expired_keys", int(info.expired_objects)),
                s("rejected_connections", int(info.rejected_clients)),
                s("protocol_errors", int(info.protocol_errors)),
                s("timeouts", int(info.timeouts)),
                s("oversize_replies", int(info.oversize_replies)),
                s("streamed_replies", int(info.streamed_replies)),
                s("stream_batches", int(info.stream_batches)),
                s(
                    "stream_max_batch_hold_us",
                    int(info.stream_max_batch_hold_us),
                ),
                s("spooled_bytes", int(info.spooled_bytes)),
                s("spool_file_bytes", int(info.spool_file_bytes)),
                s("capped_searches", int(info.capped_searches)),
                s("walk_holds", int(info.walk_holds)),
                s("walk_max_hold_us", int(info.walk_max_hold_us)),
                s("lock_max_write_wait_us", int(info.lock_max_write_wait_us)),
                s("walk_restarts", int(info.walk_restarts)),
                s("scripts_cached", int(info.scripts.cached)),
                s("script_states", int(info.scripts.states)),
                s("script_calls", int(info.scripts.calls)),
                s("script_errors", int(info.scripts.errors)),
                s("script_aborted", int(info.scripts.aborted)),
                s("scripts_evicted", int(info.scripts.evicted)),
            ],
        ),
        (
            "replication",
            vec![
                s("role", Value::Str("master".into())),
                s("connected_slaves", int(0)),
                s("master_replid", Value::Str(info.repl_id.clone())),
                s("master_repl_offset", int(info.repl_offset)),
            ],
        ),
        (
            "keyspace",
            vec![
                s("num_collections", int(db.len())),
                s("num_objects", int(t.num_objects)),
            ],
        ),
    ]
}

/// INFO persistence's rewrite fields: Redis's names, plus Meridian's own measurements.
fn rewrite_fields(r: &crate::cmd::RewriteInfo) -> Vec<(String, Value)> {
    let status = |ok: bool| Value::Str(if ok { "ok" } else { "err" }.into());
    let secs = |ms: i64| if ms < 0 { -1 } else { ms / 1000 };
    [
        ("aof_rewrite_in_progress", int(u8::from(r.in_progress))),
        ("aof_rewrite_scheduled", int(u8::from(r.scheduled))),
        ("aof_last_rewrite_time_sec", int(secs(r.last_duration_ms))),
        ("aof_current_rewrite_time_sec", int(secs(r.current_ms))),
        ("aof_last_bgrewrite_status", status(r.last_status_ok)),
        ("aof_last_rewrite_status", status(r.last_status_ok)),
        ("aof_base_size", int(r.base_size)),
        ("aof_rewrites", int(r.rewrites)),
        ("aof_rewrite_failures", int(r.failures)),
        ("aof_last_rewrite_duration_ms", int(r.last_duration_ms)),
        ("aof_last_rewrite_max_lock_hold_us", int(r.last_max_hold_us)),
        ("aof_last_rewrite_swap_us", int(r.last_swap_us)),
        ("aof_last_rewrite_chunks", int(r.last_chunks)),
        ("aof_last_rewrite_objects", int(r.last_objects)),
        ("aof_last_rewrite_bytes_written", int(r.last_bytes_written)),
        ("aof_last_rewrite_restarts", int(r.last_restarts)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Str(s) | Value::Status(s) => s.clone(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => format!("{other:?}"),
    }
}

/// INFO [section ...]
pub fn info(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let mut wanted = Vec::new();
    while !a.is_empty() {
        wanted.push(a.next_str()?.to_ascii_lowercase());
    }
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything");
    let mut text = String::new();
    let mut pairs = Vec::new();
    for (name, section) in info_sections(db, &ctx.host.info()) {
        if !all && !wanted.iter().any(|w| w == name) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let mut title = name.to_string();
        title[..1].make_ascii_uppercase();
        text.push_str(&format!("# {title}\r\n"));
        for (k, v) in section {
            text.push_str(&format!("{k}:{}\r\n", value_text(&v)));
            pairs.push((k, v));
        }
    }
    Ok(Reply::Split {
        resp: Value::Str(text),
        json: vec![("info", Value::Map(pairs))],
    })
}

/// DIGEST [key ...]: the data set's digest with the replication position it was taken at.
pub fn digest(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let info = ctx.host.info();
    let hex = |d: u64| Value::Str(format!("{d:016x}"));
    let mut out = Vec::new();
    if a.is_empty() {
        out.push(("digest".to_string(), hex(db.digest())));
        out.push(("num_collections".to_string(), int(db.len())));
        out.push(("num_objects".to_string(), int(db.totals().num_objects)));
    }
    while !a.is_empty() {
        let key = a.next_str()?;
        let v = db.get(key).map_or(Value::Null, |c| hex(c.digest()));
        out.push((key.to_string(), v));
    }
    out.push(("repl_id".to_string(), Value::Str(info.repl_id)));
    out.push(("repl_offset".to_string(), int(info.repl_offset)));
    Ok(Reply::Named {
        name: "digest",
        value: Value::Map(out),
    })
}

/// HEALTHZ
pub fn healthz(_db: &Db, a: &mut Args, _ctx: &ReadCtx) -> CmdResult<Reply> {
    a.finish()?;
    Ok(Reply::Ok)
}

/// CONFIG GET pattern | CONFIG SET name [value] | CONFIG REWRITE
pub fn config(host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    let sub = a.next_str()?;
    match sub.to_ascii_uppercase().as_str() {
        "GET" => {
            let pattern = a.next_str()?;
            a.finish()?;
            let m = wildmatch::WildMatch::new(&pattern.to_ascii_lowercase());
            let mut flat = Vec::new();
            let mut props = Vec::new();
            for name in host.config_names() {
                if m.matches(name) {
                    let v = host.config_get(name).unwrap_or_default();
                    flat.push(Value::Str(name.into()));
                    flat.push(Value::Str(v.clone()));
                    props.push((name.to_string(), Value::Str(v)));
                }
            }
            Ok(Reply::Split {
                resp: Value::List(flat),
                json: vec![("properties", Value::Map(props))],
            })
        }
        "SET" => {
            let name = a.next_str()?;
            let value = if a.is_empty() { "" } else { a.next_str()? };
            a.finish()?;
            host.config_set(&name.to_ascii_lowercase(), value)?;
            Ok(Reply::Ok)
        }
        "REWRITE" => {
            a.finish()?;
            host.config_rewrite()?;
            Ok(Reply::Ok)
        }
        _ => Err(CmdError::InvalidArg(sub.into())),
    }
}

/// READONLY yes|no
pub fn readonly(host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    let v = a.next_str()?;
    a.finish()?;
    let on = match v.to_ascii_lowercase().as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(CmdError::InvalidArg(v.into())),
    };
    host.set_read_only(on)?;
    Ok(Reply::Ok)
}

/// GC: as in Tile38, gives freed memory back; here that is asking the allocator to return
/// its free pages to the OS (after a large DROP or FLUSHDB, say).
pub fn gc(_host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    a.finish()?;
    crate::allocator::release_free_memory();
    Ok(Reply::Ok)
}

/// AOFSHRINK: replies at once; the rewrite runs in the background.
pub fn aofshrink(host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    a.finish()?;
    host.request_rewrite()?;
    Ok(Reply::Ok)
}

/// HELP [command]: syntax lines from the command table.
pub fn help(_host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    let only = if a.is_empty() {
        None
    } else {
        Some(a.next_str()?.to_ascii_uppercase())
    };
    a.finish()?;
    let lines: Vec<Value> = TABLE
        .commands
        .iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.name))
        .map(|c| Value::Str(format!("{} -- {}", c.syntax, c.summary)))
        .collect();
    if lines.is_empty() {
        return Err(CmdError::UnknownCommand(only.unwrap_or_default()));
    }
    Ok(Reply::Named {
        name: "commands",
        value: Value::List(lines),
    })
}

/// COMMAND [COUNT|DOCS|INFO|LIST]: enough for Redis clients that ask at connect time.
pub fn command(_host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    let sub = if a.is_empty() {
        String::new()
    } else {
        a.next_str()?.to_ascii_uppercase()
    };
    let value = match sub.as_str() {
        "COUNT" => int(TABLE.commands.len()),
        "DOCS" => Value::Map(Vec::new()),
        "LIST" => Value::List(
            TABLE
                .commands
                .iter()
                .map(|c| Value::Str(c.name.to_ascii_lowercase()))
                .collect(),
        ),
        _ => Value::List(
            TABLE
                .commands
                .iter()
                .map(|c| {
                    let flag = format!("{:?}", c.kind).to_ascii_lowercase();
                    Value::List(vec![
                        Value::Str(c.name.to_ascii_lowercase()),
                        int(c.arity),
                        Value::List(vec![Value::Status(flag)]),
                    ])
                })
                .collect(),
        ),
    };
    Ok(Reply::Named {
        name: "commands",
        value,
    })
}

/// Numbers as `1,2,3` (one INFO line for a list).
fn joined(v: &[u64]) -> String {
    let parts: Vec<String> = v.iter().map(u64::to_string).collect();
    parts.join(",")
}

/// SCRIPT LOAD script | SCRIPT EXISTS sha1 … | SCRIPT FLUSH: the cache WHEREEVALSHA reads.
pub fn script(host: &dyn Host, a: &mut Args) -> CmdResult<Reply> {
    let sub = a.next_str()?;
    let scripts = host.scripts();
    match sub.to_ascii_uppercase().as_str() {
        "LOAD" => {
            let source = a.next_str()?;
            a.finish()?;
            if source.is_empty() {
                return Err(a.arity_error());
            }
            let sha = scripts.load(source).map_err(CmdError::Other)?;
            Ok(Reply::Named {
                name: "result",
                value: Value::Str(sha),
            })
        }
        "EXISTS" => {
            let mut found = Vec::with_capacity(a.remaining());
            while !a.is_empty() {
                found.push(int(u8::from(scripts.exists(a.next_str()?))));
            }
            Ok(Reply::Named {
                name: "result",
                value: Value::List(found),
            })
        }
        "FLUSH" => {
            a.finish()?;
            scripts.flush();
            Ok(Reply::Ok)
        }
        _ => Err(CmdError::InvalidArg(sub.into())),
    }
}
