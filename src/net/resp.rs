//! RESP and telnet connections: read, decode every complete request in the buffer
//! (pipelining), execute each, make the AOF durable for the batch's writes, then write the
//! batch's replies in one go. A streamed search reply ends the batch: what is buffered goes
//! out first, then the stream is written completely (`super::stream`), then the remaining
//! requests run, so replies stay in request order. A search that needs several holds of the
//! read lock ends the batch too, and is driven one hold per turn of the loop. Between two
//! batches a connection may park itself (`Parked`) to move to another loop (`super::loops`).

use crate::error::CmdError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::loops::Seat;
use crate::cmd::Session;
use crate::exec::{Origin, Outcome, PendingWalk, Server};
use crate::protocol::decode::{decode_request, Limits};
use crate::protocol::resp::RespVersion;
use crate::protocol::stream::Framing;
use crate::protocol::{encode_for_connection, OutputFormat, Reply, SearchStream};

/// Replies buffered beyond this size are written out before more requests run, so one
/// pipeline cannot make the server hold an unbounded output buffer.
const OUT_HIGH_WATER: usize = 1 << 20;

/// What running the buffered requests left to do.
#[derive(Default)]
struct Batch {
    /// The AOF length to make durable before the replies go out.
    durable: Option<u64>,
    /// Close after writing (QUIT, framing error).
    close: bool,
    /// Stopped at the output high-water mark: requests may be left in the buffer.
    stopped_early: bool,
    /// Requests run (more than one: the client pipelines).
    requests: usize,
    /// A streamed reply to write after the buffered ones (requests may be left too).
    stream: Option<(Box<SearchStream>, Framing, Instant)>,
    /// A search to drive to its end before its reply is encoded (requests may be left too).
    walk: Option<(Box<PendingWalk>, Option<Instant>)>,
}

/// A connection between two batches, on its way to another loop: its socket (off any
/// runtime), its session and the bytes it has read but not run.
pub struct Parked {
    sock: std::net::TcpStream,
    conn: Conn,
    inbuf: BytesMut,
}

/// Per-connection state.
struct Conn {
    server: Arc<Server>,
    session: Session,
    limits: Limits,
    reply_limit: usize,
}

impl Conn {
    /// Decodes and executes the complete requests in `inbuf`, encoding replies into `out`,
    /// until the buffer runs dry, the output passes the high-water mark, the connection must
    /// close, or a reply is a stream.
    fn run(&mut self, inbuf: &mut BytesMut, out: &mut BytesMut) -> Batch {
        let mut batch = Batch::default();
        loop {
            let req = match decode_request(inbuf, &self.limits) {
                Ok(Some(req)) => req,
                Ok(None) => return batch,
                Err(e) => {
                    self.server
                        .counters
                        .protocol_errors
                        .fetch_add(1, Ordering::Relaxed);
                    // A framing error leaves the stream unsynchronised: answer and close.
                    let reply = Reply::Error(e.to_string());
                    let (fmt, resp3) = (self.session.output, self.session.resp3);
                    encode_for_connection(&reply, fmt, resp3, Default::default(), out);
                    batch.close = true;
                    return batch;
                }
            };
            batch.requests += 1;
            // Only JSON replies carry the time taken: RESP ones skip the two clock reads.
            let started = (self.session.output == OutputFormat::Json).then(Instant::now);
            let mut o = self.server.execute(&req, &mut self.session, Origin::Client);
            if let Some(walk) = o.walk.take() {
                batch.walk = Some((walk, started));
                return batch;
            }
            if !self.finish(o, started, &mut batch, out) {
                return batch;
            }
        }
    }

    /// Takes a request's outcome into the batch: its reply encoded, or its stream noted.
    /// False when the batch must end here.
    fn finish(
        &mut self,
        o: Outcome,
        started: Option<Instant>,
        batch: &mut Batch,
        out: &mut BytesMut,
    ) -> bool {
        batch.durable = batch.durable.max(o.durable_at);
        let (fmt, resp3) = (self.session.output, self.session.resp3);
        if let Reply::Stream(s) = o.reply {
            let started = started.unwrap_or_else(Instant::now);
            batch.stream = Some((s, framing(fmt, resp3), started));
            return false;
        }
        self.encode(&o.reply, started, out);
        if self.session.close {
            batch.close = true;
            return false;
        }
        if out.len() >= OUT_HIGH_WATER {
            batch.stopped_early = true;
            return false;
        }
        true
    }

    /// Encodes one reply, replacing a non-search reply larger than the cap by an error
    /// instead of holding it in memory and sending it. Search replies are exempt: past one
    /// batch (at most the cap) they are streamed instead.
    fn encode(&self, reply: &Reply, started: Option<Instant>, out: &mut BytesMut) {
        let (fmt, resp3) = (self.session.output, self.session.resp3);
        let elapsed = || started.map_or(Duration::ZERO, |t| t.elapsed());
        let mark = out.len();
        encode_for_connection(reply, fmt, resp3, elapsed(), out);
        let search = matches!(reply, Reply::Search(_));
        if out.len() - mark > self.reply_limit && !search {
            out.truncate(mark);
            self.server
                .counters
                .oversize_replies
                .fetch_add(1, Ordering::Relaxed);
            let limit = self.reply_limit as u64;
            let err = Reply::Error(CmdError::ReplyTooLarge(limit).text(false));
            encode_for_connection(&err, fmt, resp3, elapsed(), out);
        }
    }
}

/// Serves one RESP/telnet connection until it closes, QUITs or moves to another loop.
pub async fn serve(server: Arc<Server>, sock: TcpStream, seat: Seat) {
    let conn = Conn {
        limits: super::limits(&server),
        reply_limit: server.config().client_output_buffer_limit as usize,
        session: Session::default(),
        server,
    };
    drive(conn, sock, BytesMut::with_capacity(16 * 1024), seat).await;
}

/// Goes on serving a connection another loop parked.
pub async fn resume(parked: Box<Parked>, seat: Seat) {
    let Parked { sock, conn, inbuf } = *parked;
    if let Ok(sock) = TcpStream::from_std(sock) {
        drive(conn, sock, inbuf, seat).await;
    }
}

async fn drive(mut conn: Conn, mut sock: TcpStream, mut inbuf: BytesMut, seat: Seat) {
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        conn.session.step_walks = Some(seat.walk_hold());
        let mut batch = conn.run(&mut inbuf, &mut out);
        super::spin::note_batch(batch.requests);
        if let Some((walk, started)) = batch.walk.take() {
            let o = super::finish_walk(&conn.server, Outcome::pending(walk)).await;
            // Requests after it may be buffered already: run them before reading.
            if conn.finish(o, started, &mut batch, &mut out) {
                batch.stopped_early = true;
            }
        }
        if let Some(end) = batch.durable {
            // Acknowledge only what the OS has (and, under `always`, what is fsynced).
            super::make_durable(&conn.server, end).await;
        }
        if write_out(&mut sock, &mut out, batch.requests)
            .await
            .is_err()
        {
            return;
        }
        if let Some((s, framing, started)) = batch.stream {
            let sent = super::stream::write_spooled(&conn.server, &mut sock, s, framing, started);
            if sent.await.is_err() {
                return;
            }
            // Requests after it may be buffered already.
            continue;
        }
        if batch.close {
            let _ = sock.shutdown().await;
            return;
        }
        if batch.stopped_early {
            continue;
        }
        if let Some(to) = seat.wants_move() {
            match sock.into_std() {
                Ok(sock) => {
                    let parked = Box::new(Parked { sock, conn, inbuf });
                    return seat.move_to(to, parked).await;
                }
                Err(_) => return,
            }
        }
        match sock.read_buf(&mut inbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes the batch's buffered replies, if any.
async fn write_out(
    sock: &mut TcpStream,
    out: &mut BytesMut,
    requests: usize,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    if requests > 1 {
        // A pipelined batch's replies wait one turn of the scheduler, so that the replies of
        // the other connections ready now go out in the same burst: a client on the same
        // host is woken by each write, and on a busy server those wake-ups (not the work)
        // were what its throughput paid for (see README).
        tokio::task::yield_now().await;
    }
    sock.write_all(out).await?;
    out.clear();
    if out.capacity() > 4 * OUT_HIGH_WATER {
        *out = BytesMut::with_capacity(16 * 1024);
    }
    Ok(())
}

/// How a streamed reply is framed for a connection's output format and RESP version.
fn framing(output: OutputFormat, resp3: bool) -> Framing {
    match (output, resp3) {
        (OutputFormat::Json, _) => Framing::JsonInResp,
        (OutputFormat::Resp, true) => Framing::Resp(RespVersion::V3),
        (OutputFormat::Resp, false) => Framing::Resp(RespVersion::V2),
    }
}
