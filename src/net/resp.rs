//! RESP and telnet connections: read, decode every complete request in the buffer
//! (pipelining), execute each, make the AOF durable for the batch's writes, then write the
//! batch's replies in one go.

use crate::error::CmdError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cmd::Session;
use crate::exec::{Origin, Server};
use crate::protocol::decode::decode_request;
use crate::protocol::{encode_for_connection, Reply};

/// Replies buffered beyond this size are written out before more requests run, so one
/// pipeline cannot make the server hold an unbounded output buffer.
const OUT_HIGH_WATER: usize = 1 << 20;

/// Serves one RESP/telnet connection until it closes or QUITs.
pub async fn serve(server: Arc<Server>, mut stream: TcpStream) {
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut session = Session::default();
    let limits = super::limits(&server);
    let reply_limit = server.config().client_output_buffer_limit as usize;
    loop {
        let mut durable = None;
        let mut close = false;
        let mut stopped_early = false;
        loop {
            match decode_request(&mut inbuf, &limits) {
                Ok(Some(req)) => {
                    let started = Instant::now();
                    let o = server.execute(&req, &mut session, Origin::Client);
                    durable = durable.max(o.durable_at);
                    let (fmt, resp3) = (session.output, session.resp3);
                    let mark = out.len();
                    encode_for_connection(&o.reply, fmt, resp3, started.elapsed(), &mut out);
                    if out.len() - mark > reply_limit {
                        // One reply larger than the cap is replaced by an error instead of
                        // being held in memory and sent.
                        out.truncate(mark);
                        server
                            .counters
                            .oversize_replies
                            .fetch_add(1, Ordering::Relaxed);
                        let err =
                            Reply::Error(CmdError::ReplyTooLarge(reply_limit as u64).text(false));
                        encode_for_connection(&err, fmt, resp3, started.elapsed(), &mut out);
                    }
                    if session.close {
                        close = true;
                        break;
                    }
                    if out.len() >= OUT_HIGH_WATER {
                        stopped_early = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    server
                        .counters
                        .protocol_errors
                        .fetch_add(1, Ordering::Relaxed);
                    // A framing error leaves the stream unsynchronised: answer and close.
                    let reply = Reply::Error(e.to_string());
                    encode_for_connection(
                        &reply,
                        session.output,
                        session.resp3,
                        Default::default(),
                        &mut out,
                    );
                    close = true;
                    break;
                }
            }
        }
        if let Some(end) = durable {
            // Acknowledge only what the OS has (and, under `always`, what is fsynced).
            tokio::task::block_in_place(|| server.make_durable(end));
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
            if out.capacity() > 4 * OUT_HIGH_WATER {
                out = BytesMut::with_capacity(16 * 1024);
            }
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        if stopped_early {
            continue;
        }
        match stream.read_buf(&mut inbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
