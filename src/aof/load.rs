//! Startup replay of the AOF: decode commands in bounded chunks, hand each to the caller, cut a
//! torn final command off (keeping its bytes beside the file), and stop with the byte offset on
//! anything that is not a valid command.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::BytesMut;

use super::format::STREAM_RECORD;
use crate::protocol::decode::{decode_request, Limits};
use crate::protocol::Request;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Cut a torn final command off (keeping it in a side file) instead of refusing to start.
    pub truncate_torn_tail: bool,
    /// Limits on one command (the same a client gets).
    pub limits: Limits,
}

/// What the load found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOutcome {
    /// Commands handed to the caller.
    pub commands: u64,
    /// File length after any truncation.
    pub file_len: u64,
    /// Replication id and offset at the end of the file, when it has a position record.
    pub stream: Option<(String, u64)>,
    /// Where a torn tail was cut and the file its bytes were saved to.
    pub torn_tail: Option<(u64, PathBuf)>,
}

/// Why the load stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid data at byte offset {offset}: {reason}; the file was not changed (inspect it, or cut it at that offset to keep what precedes)")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: incomplete command at byte offset {offset} (torn write) and aof-load-truncated is off")]
    Torn { path: PathBuf, offset: u64 },
    #[error("{path}: command at byte offset {offset} failed: {reason}")]
    Apply {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}

const CHUNK: usize = 1 << 20;

/// Commands per batch handed from the decoder thread to the applier.
const BATCH: usize = 512;

/// Decoded commands with their start offset and the offset just after them.
type Batch = Vec<(Request, u64, u64)>;

/// Decodes the whole file into batches. Stops early when the receiver is gone.
fn decode_batches(
    reader: &mut Reader<'_>,
    file: &mut File,
    opts: &LoadOptions,
    tx: &std::sync::mpsc::SyncSender<Result<Batch, LoadError>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let offset = reader.consumed;
        match reader.next(file, opts) {
            Ok(Some(req)) => {
                batch.push((req, offset, reader.consumed));
                if batch.len() == BATCH
                    && tx
                        .send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                        .is_err()
                {
                    return;
                }
            }
            Ok(None) => {
                let _ = tx.send(Ok(batch));
                return;
            }
            Err(e) => {
                let _ = tx.send(Ok(batch));
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// What replay found besides the commands: the last position record as
/// (replication id, offset, file position just after it).
type StreamMark = Option<(String, u64, u64)>;

/// Applies decoded batches in order; position records are kept, not applied.
fn apply_batches(
    rx: &std::sync::mpsc::Receiver<Result<Batch, LoadError>>,
    path: &Path,
    apply: &mut dyn FnMut(Request, u64) -> Result<(), String>,
) -> Result<(LoadOutcome, StreamMark), LoadError> {
    let mut out = LoadOutcome::default();
    let mut stream: StreamMark = None;
    for batch in rx {
        for (req, offset, after) in batch? {
            if is_stream_record(&req) {
                let (id, off, _) = parse_stream_record(&req, path, offset)?;
                stream = Some((id, off, after));
                continue;
            }
            out.commands += 1;
            apply(req, offset).map_err(|reason| LoadError::Apply {
                path: path.to_path_buf(),
                offset,
                reason,
            })?;
        }
    }
    Ok((out, stream))
}

/// Replays `path` through `apply` (which receives each command and its byte offset).
/// A missing file loads as empty.
pub fn load(
    path: &Path,
    opts: &LoadOptions,
    apply: &mut dyn FnMut(Request, u64) -> Result<(), String>,
) -> Result<LoadOutcome, LoadError> {
    let io_err = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LoadOutcome::default()),
        Err(e) => return Err(io_err(e)),
    };
    let total = file.metadata().map_err(io_err)?.len();
    let limit = data_end(&mut file, total).map_err(io_err)?;
    let mut reader = Reader {
        path,
        total,
        limit,
        read: 0,
        buf: BytesMut::with_capacity(CHUNK),
        consumed: 0,
        eof: false,
        zeros: 0,
        started: Instant::now(),
        last_log: Instant::now(),
    };
    // Decoding runs on its own thread, one batch ahead of `apply`: replay is CPU-bound and
    // the two halves take about the same time. The channel holds a few batches, so memory
    // stays bounded.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, LoadError>>(8);
    let (out, stream, reader) = std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            decode_batches(&mut reader, &mut file, opts, &tx);
            reader
        });
        let applied = apply_batches(&rx, path, apply);
        drop(rx);
        let reader = producer.join().expect("AOF decoder thread panicked");
        applied.map(|(out, stream)| (out, stream, reader))
    })?;
    let mut out = out;
    let end = reader.consumed;
    if end < total {
        if !opts.truncate_torn_tail {
            return Err(LoadError::Torn {
                path: path.to_path_buf(),
                offset: end,
            });
        }
        let saved = cut_tail(path, end).map_err(io_err)?;
        tracing::warn!(
            "{}: cut a torn final command at byte {end} ({} bytes kept in {})",
            path.display(),
            total - end,
            saved.display()
        );
        out.torn_tail = Some((end, saved));
    }
    out.file_len = end;
    out.stream = stream.map(|(id, base, at)| (id, base + (end - at)));
    Ok(out)
}

fn is_stream_record(req: &Request) -> bool {
    req.arg(0) == Some(STREAM_RECORD.as_bytes())
}

fn parse_stream_record(
    req: &Request,
    path: &Path,
    offset: u64,
) -> Result<(String, u64, u64), LoadError> {
    let bad = |reason: &str| LoadError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    };
    if req.len() != 4 || req.arg(1) != Some(b"1") {
        return Err(bad("unsupported MERIDIAN.STREAM record"));
    }
    let id = String::from_utf8_lossy(req.arg(2).unwrap_or_default()).to_string();
    let off = std::str::from_utf8(req.arg(3).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad offset in MERIDIAN.STREAM record"))?;
    Ok((id, off, 0))
}

/// Copies bytes `[at, end)` to a side file, then truncates the AOF at `at` and fsyncs both.
fn cut_tail(path: &Path, at: u64) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut src = File::open(path)?;
    src.seek(SeekFrom::Start(at))?;
    // Never overwrite an earlier side file (two cuts at the same offset within one second):
    // each torn tail is kept.
    let mut n = 0u32;
    let (side, mut dst) = loop {
        let side = if n == 0 {
            PathBuf::from(format!("{}.torn-{at}-{stamp}", path.display()))
        } else {
            PathBuf::from(format!("{}.torn-{at}-{stamp}-{n}", path.display()))
        };
        match OpenOptions::new().write(true).create_new(true).open(&side) {
            Ok(f) => break (side, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    };
    std::io::copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(at)?;
    f.sync_all()?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
    Ok(side)
}

/// The file's length without trailing zero bytes. A crash or power loss can leave zeros at the
/// end (preallocated or unwritten blocks), possibly right after a partly written command; every
/// command ends in `\r\n`, so no complete command is cut by ignoring them, and they are kept
/// with the torn tail.
fn data_end(file: &mut File, total: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = total;
    while end > 0 {
        let n = end.min(buf.len() as u64) as usize;
        file.seek(SeekFrom::Start(end - n as u64))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(p) = buf[..n].iter().rposition(|&b| b != 0) {
            end = end - n as u64 + p as u64 + 1;
            break;
        }
        end -= n as u64;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(end)
}

struct Reader<'a> {
    path: &'a Path,
    total: u64,
    /// Where the data ends (trailing zero bytes are not read).
    limit: u64,
    /// Bytes read from the file so far.
    read: u64,
    buf: BytesMut,
    /// Bytes of the file consumed as complete commands.
    consumed: u64,
    eof: bool,
    /// Zero bytes seen (and dropped) after the last command.
    zeros: u64,
    started: Instant,
    last_log: Instant,
}

impl Reader<'_> {
    /// The next complete command, or None at the end (a torn tail stays unconsumed).
    fn next(&mut self, file: &mut File, opts: &LoadOptions) -> Result<Option<Request>, LoadError> {
        loop {
            if !self.buf.is_empty() && (self.buf[0] != b'*' || self.zeros > 0) {
                // Zero padding at the end (a preallocated or torn file) is a torn tail;
                // anything else that is not a command is corruption.
                if !self.buf.iter().all(|&b| b == 0) {
                    return Err(self.corrupt("expected '*' (start of a command)"));
                }
                if self.eof {
                    return Ok(None);
                }
                self.zeros += self.buf.len() as u64;
                self.buf.clear();
                self.fill(file)?;
                continue;
            }
            let before = self.buf.len();
            match decode_request(&mut self.buf, &opts.limits) {
                Ok(Some(req)) => {
                    self.consumed += (before - self.buf.len()) as u64;
                    self.progress();
                    return Ok(Some(req));
                }
                Ok(None) if before != self.buf.len() => {
                    self.consumed += (before - self.buf.len()) as u64;
                }
                Ok(None) if self.eof => return Ok(None),
                Ok(None) => self.fill(file)?,
                Err(e) => return Err(self.corrupt(&e.to_string())),
            }
        }
    }

    fn fill(&mut self, file: &mut File) -> Result<(), LoadError> {
        let want = CHUNK.min((self.limit - self.read) as usize);
        if want == 0 {
            self.eof = true;
            return Ok(());
        }
        let len = self.buf.len();
        self.buf.resize(len + want, 0);
        let n = file
            .read(&mut self.buf[len..])
            .map_err(|source| LoadError::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.buf.truncate(len + n);
        self.read += n as u64;
        self.eof = n == 0;
        Ok(())
    }

    fn corrupt(&self, reason: &str) -> LoadError {
        LoadError::Corrupt {
            path: self.path.to_path_buf(),
            offset: self.consumed,
            reason: reason.into(),
        }
    }

    fn progress(&mut self) {
        if self.last_log.elapsed().as_secs() >= 2 {
            self.last_log = Instant::now();
            let pct = self.consumed as f64 * 100.0 / self.total.max(1) as f64;
            tracing::info!(
                "loading {}: {} of {} bytes ({pct:.1}%) in {:.1}s",
                self.path.display(),
                self.consumed,
                self.total,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
