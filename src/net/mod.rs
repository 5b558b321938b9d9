//! Sockets: the listener, per-connection limits (client count, protected mode, keepalive) and
//! sniffing which protocol a connection speaks (HTTP or RESP/telnet) on the shared port.
//!
//! Owns sockets only. It must not touch the store, the AOF or the data lock, and knows no
//! command semantics: every request goes to `exec::Server::execute`.

pub mod cpu;
pub mod http;
pub mod loops;
pub mod resp;
pub mod spin;
pub mod spool;
pub mod stream;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::exec::{Outcome, Server};
use crate::protocol::decode::Limits;
use loops::{Loops, Seat};

/// Request limits from the running config.
pub fn limits(server: &Server) -> Limits {
    let cfg = server.config();
    Limits {
        max_bulk_len: cfg.proto_max_bulk_len as usize,
        max_args: cfg.max_request_args as usize,
        max_inline_len: 64 * 1024,
    }
}

/// Accepts connections and hands each to a connection loop, until the task is dropped.
pub async fn accept_loop(listener: TcpListener, loops: Arc<Loops>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Off this runtime's epoll, to be registered with the loop's.
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        loops.place(stream, peer).await;
    }
}

/// A connection's task on its loop, from its first byte.
async fn connection(
    server: Arc<Server>,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    open: u64,
    seat: Seat,
) {
    let Ok(mut stream) = TcpStream::from_std(stream) else {
        return;
    };
    let cfg = server.config();
    let _ = stream.set_nodelay(true);
    if cfg.keepalive > 0 {
        let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(cfg.keepalive));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    if open > cfg.maxclients {
        server
            .counters
            .rejected_clients
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    if cfg.protected_mode && cfg.requirepass.is_empty() && !peer.ip().is_loopback() {
        let _ = stream.write_all(PROTECTED_MSG.as_bytes()).await;
        return;
    }
    if is_http(&stream).await {
        http::serve(server, stream).await;
        drop(seat);
    } else {
        resp::serve(server, stream, seat).await;
    }
}

/// Waits until the AOF holds (and under `appendfsync always` has fsynced) everything up to
/// `end`. An fsync runs on the blocking pool, so the loop's other connections go on (and
/// share it); otherwise this is one `write` at most, cheaper done here than handed off.
pub async fn make_durable(server: &Arc<Server>, end: u64) {
    if server.durable_waits_for_fsync() {
        let s = server.clone();
        let _ = tokio::task::spawn_blocking(move || s.make_durable(end)).await;
    } else {
        server.make_durable(end);
    }
}

/// Drives a search that `execute` left pending to its end: one hold of the read lock per
/// turn of the loop, so the loop's other connections are served in between.
pub async fn finish_walk(server: &Server, mut outcome: Outcome) -> Outcome {
    while let Some(walk) = outcome.walk.take() {
        tokio::task::yield_now().await;
        outcome = server.resume_walk(*walk);
    }
    outcome
}

const PROTECTED_MSG: &str = "-DENIED Meridian is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. Set a password with --requirepass, or disable protected mode with --protected-mode no.\r\n";

const HTTP_METHODS: [&[u8]; 6] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
];

/// Longest request line we wait for while sniffing.
const SNIFF_MAX: usize = 8192;

/// Peeks at the first line: an HTTP method and a line ending in ` HTTP/1.x` means HTTP (as in
/// Tile38); `GET key id` typed on a telnet line stays a command.
async fn is_http(stream: &TcpStream) -> bool {
    let mut buf = vec![0u8; SNIFF_MAX];
    for _ in 0..1000 {
        let n = match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let seen = &buf[..n];
        let method = HTTP_METHODS
            .iter()
            .any(|m| seen.starts_with(m) || m.starts_with(seen));
        if !method {
            return false;
        }
        if let Some(eol) = seen.iter().position(|&b| b == b'\n') {
            let line = seen[..eol].strip_suffix(b"\r").unwrap_or(&seen[..eol]);
            return line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0");
        }
        if n == SNIFF_MAX {
            return false;
        }
        // Part of the first line has arrived: wait for the rest.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}
