//! Writing a streamed search reply ([`Reply::Stream`](crate::protocol::Reply::Stream)):
//! batch after batch, ask exec to render the next items (it holds the read lock for that
//! only), have `protocol::stream` encode them with the lock released, and move the bytes:
//! through a [`Spool`] on RESP connections (the header needs the final count), straight into
//! the HTTP body otherwise.
//!
//! Owns the loop only: no lock, no store, no wire format here.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spool::Spool;
use crate::cmd::stream::is_done;
use crate::exec::Server;
use crate::protocol::stream::{Framing, StreamEncoder};
use crate::protocol::SearchStream;

/// Renders and encodes every item of `s` into `spool`, then writes header, spool and tail to
/// `out`. Between batches the task yields, so other connections (and writers waiting for the
/// lock) get their turn.
pub async fn write_spooled<W: AsyncWrite + Unpin>(
    server: &Server,
    out: &mut W,
    mut s: Box<SearchStream>,
    framing: Framing,
    started: Instant,
) -> io::Result<()> {
    let cfg = server.config();
    let mut spool = Spool::new(cfg.search_spool_memory_bytes as usize, cfg.dir.clone());
    let mut enc = StreamEncoder::new(framing, &s.head);
    let mut buf = BytesMut::new();
    let first = std::mem::take(&mut s.head.items);
    enc.items(&first, &mut buf);
    drop(first);
    loop {
        spool.write(&buf)?;
        buf.clear();
        if is_done(&s) {
            break;
        }
        tokio::task::yield_now().await;
        let items = server.stream_batch(&mut s);
        enc.items(&items, &mut buf);
    }
    drop(s.refs);
    let (head, tail) = enc.close(s.head.cursor, spool.len(), started.elapsed());
    let counters = &server.counters;
    counters
        .spooled_bytes
        .fetch_add(spool.len(), Ordering::Relaxed);
    counters
        .spool_file_bytes
        .fetch_add(spool.file_len(), Ordering::Relaxed);
    out.write_all(&head).await?;
    spool.copy_to(out).await?;
    out.write_all(&tail).await
}

/// Streams `s` as an HTTP body: returns the receiving end of a channel that a spawned task
/// fills with the JSON head, each batch's items and the tail. The channel holds two pieces,
/// so a slow client stops the rendering (never the lock: it is released between batches).
pub fn http_body(
    server: Arc<Server>,
    mut s: Box<SearchStream>,
    started: Instant,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        let mut enc = StreamEncoder::new(Framing::Http, &s.head);
        if tx.send(Bytes::from(enc.open())).await.is_err() {
            return;
        }
        let mut buf = BytesMut::new();
        let first = std::mem::take(&mut s.head.items);
        enc.items(&first, &mut buf);
        drop(first);
        loop {
            if !buf.is_empty() && tx.send(buf.split().freeze()).await.is_err() {
                return; // the client went away
            }
            if is_done(&s) {
                break;
            }
            let items = server.stream_batch(&mut s);
            enc.items(&items, &mut buf);
        }
        let (_, tail) = enc.close(s.head.cursor, 0, started.elapsed());
        let _ = tx.send(Bytes::from(tail)).await;
    });
    rx
}
