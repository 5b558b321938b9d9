//! Startup and shutdown: bind the port, serve `LOADING` while the AOF replays, open the AOF
//! for appending, start background tasks (fsync, expiry), and on SIGTERM/SIGINT flush and
//! fsync the AOF before exiting.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::aof::{self, Aof, LoadOptions};
use crate::config::{Config, Fsync};
use crate::exec::Server;

/// Objects deleted per expiry tick at most, so one tick never holds the lock for long.
const EXPIRE_BATCH: usize = 1000;

/// Runs the server until `shutdown` completes. Returns an error message for startup failures.
pub async fn run(
    cfg: Config,
    config_path: PathBuf,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    // The caller installs its signal handlers before calling us (see main.rs), so a SIGTERM
    // during a long AOF load is caught here instead of killing the process.
    let mut shutdown = std::pin::pin!(shutdown);
    if !cfg.follow_host.is_empty() {
        return Err(format!(
            "follow-host {}:{} is set, but this version of Meridian cannot follow a leader yet \
             (replication has not landed); refusing to start rather than serve data that is not \
             replicated",
            cfg.follow_host, cfg.follow_port
        ));
    }
    std::fs::create_dir_all(&cfg.dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", cfg.dir.display()))?;
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("listening on {local}");
    // `-p 0` picks a free port: report the real one (INFO, CONFIG GET port).
    let mut cfg = cfg;
    cfg.port = local.port();
    let server = Arc::new(Server::new(cfg.clone(), config_path));
    let loops = crate::net::loops::Loops::start(cfg.worker_threads(), server.clone())?;
    let accept = tokio::spawn(crate::net::accept_loop(listener, loops));
    let loader = server.clone();
    let loading = tokio::task::spawn_blocking(move || load_and_open(&loader, &cfg));
    let aof = tokio::select! {
        loaded = loading => loaded.map_err(|e| format!("loader panicked: {e}"))??,
        () = shutdown.as_mut() => {
            // Stopping mid-load loses nothing: no write was acknowledged yet, and the loader's
            // only changes to the file (cutting a torn tail after saving it aside, appending a
            // position record) are safe to interrupt like a crash.
            tracing::info!("shutting down during the AOF load");
            accept.abort();
            return Ok(());
        }
    };
    if let Some(aof) = &aof {
        aof.spawn_everysec();
        let worker = server.clone();
        std::thread::Builder::new()
            .name("aof-rewrite".into())
            .spawn(move || worker.rewrite_worker())
            .map_err(|e| format!("cannot start the AOF rewrite thread: {e}"))?;
    }
    server.finish_loading(aof);
    crate::allocator::release_free_memory();
    tracing::info!("ready to accept connections");
    let expirer = tokio::spawn(expire_loop(server.clone()));
    shutdown.await;
    tracing::info!("shutting down: flushing the AOF");
    accept.abort();
    expirer.abort();
    server.shutdown();
    tracing::info!("bye");
    Ok(())
}

/// Replays the AOF into the server and opens it for appending (None with appendonly off).
fn load_and_open(server: &Server, cfg: &Config) -> Result<Option<Arc<Aof>>, String> {
    if !cfg.appendonly {
        return Ok(None);
    }
    let path = cfg.aof_path();
    let opts = LoadOptions {
        truncate_torn_tail: cfg.aof_load_truncated,
        limits: crate::protocol::decode::Limits {
            max_bulk_len: cfg.proto_max_bulk_len as usize,
            max_args: cfg.max_request_args as usize,
            max_inline_len: 64 * 1024,
        },
    };
    match aof::rewrite::remove_stray(&path) {
        Ok(true) => tracing::warn!(
            "removed {}: a rewrite was interrupted; {} is complete and used as is",
            aof::rewrite::temp_path(&path).display(),
            path.display()
        ),
        Ok(false) => {}
        Err(e) => return Err(format!("cannot remove a stale rewrite temp file: {e}")),
    }
    let started = Instant::now();
    server.begin_loading();
    let outcome = aof::load(&path, &opts, &mut |req, _offset| server.replay(&req))
        .map_err(|e| e.to_string())?;
    tracing::info!(
        "loaded {} commands ({} bytes) from {} in {:.3}s",
        outcome.commands,
        outcome.file_len,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let (repl_id, offset, needs_record) = match outcome.stream {
        Some((id, off)) => (id, off, false),
        None => (aof::format::new_repl_id(), 0, true),
    };
    let aof = Aof::open(&path, repl_id.clone(), offset, cfg.appendfsync)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if needs_record {
        // A new file, or one written by Tile38: start our stream here.
        aof.append_record(&aof::stream_record(&repl_id, offset));
        if outcome.commands > 0 {
            // Tile38's relative EX: write the absolute times down once.
            server.log_absolute_expiries(&aof);
        }
        aof.flush_and_sync();
        if let Some(dir) = path.parent() {
            let _ = crate::fsutil::sync_dir(dir);
        }
    }
    if cfg.appendfsync == Fsync::Always {
        aof.sync_written();
    }
    Ok(Some(Arc::new(aof)))
}

/// Deletes expired objects every 100 ms (Tile38's cadence), logging a DEL for each.
async fn expire_loop(server: Arc<Server>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        loop {
            let (n, end) = server.expire_tick(EXPIRE_BATCH);
            if let Some(end) = end {
                tokio::task::block_in_place(|| server.make_durable(end));
            }
            if n < EXPIRE_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
