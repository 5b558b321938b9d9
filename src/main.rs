//! The `meridian` binary: parse flags, resolve the config, set up logging, run the server
//! until SIGTERM/SIGINT.

use clap::Parser;

#[global_allocator]
static GLOBAL: meridian::allocator::Mimalloc = meridian::allocator::Mimalloc;

fn main() {
    // Before anything is allocated: see `allocator::init`.
    meridian::allocator::init();
    let cli = meridian::config::Cli::parse();
    let (cfg, config_path) = match cli.resolve(std::env::vars().collect::<Vec<_>>().into_iter()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meridian: {e}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.loglevel));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    meridian::allocator::configure(cfg.allocator_thp, cfg.allocator_purge_delay_ms);
    // Connections run on their own loops (`net::loops`, `threads` of them); this runtime only
    // accepts, loads the AOF and runs the timers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        // Register the handlers before serving anything, so a SIGTERM during the AOF load is a
        // clean shutdown rather than the default kill.
        let signals = shutdown_signal();
        meridian::run::run(cfg, config_path, signals).await
    });
    if let Err(e) = result {
        tracing::error!("{e}");
        eprintln!("meridian: {e}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

/// Installs the SIGTERM/SIGINT handlers now and returns a future that completes on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
