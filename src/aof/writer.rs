//! Appending to the AOF: an in-memory buffer filled under the data lock (so file order is apply
//! order), written to the OS by `flush_to` before replies go out, and fsynced by policy.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::format::encode_command;
use crate::config::Fsync;

struct Pending {
    buf: Vec<u8>,
    /// File length once `buf` is written.
    end: u64,
    /// Stream offset at the end of the appended commands.
    stream_offset: u64,
}

struct FileState {
    file: File,
    /// A spare buffer swapped with `Pending::buf`, so steady state allocates nothing.
    spare: Vec<u8>,
}

/// The open AOF.
pub struct Aof {
    path: PathBuf,
    repl_id: String,
    policy: AtomicU8,
    pending: Mutex<Pending>,
    file: Mutex<FileState>,
    written: AtomicU64,
    synced: AtomicU64,
}

fn policy_code(p: Fsync) -> u8 {
    match p {
        Fsync::Always => 0,
        Fsync::Everysec => 1,
        Fsync::No => 2,
    }
}

/// An AOF write or fsync failed: memory and disk have diverged, so acknowledging anything more
/// would be a lie. Stop the process (as Tile38 and Redis do).
fn fatal(what: &str, path: &Path, e: &std::io::Error) -> ! {
    tracing::error!("fatal: AOF {what} failed on {}: {e}", path.display());
    eprintln!("fatal: AOF {what} failed on {}: {e}", path.display());
    std::process::exit(1)
}

impl Aof {
    /// Opens `path` for appending. `file_len` must be its current length and `stream_offset`
    /// the replication offset at its end.
    pub fn open(
        path: &Path,
        repl_id: String,
        stream_offset: u64,
        policy: Fsync,
    ) -> std::io::Result<Aof> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Aof {
            path: path.to_path_buf(),
            repl_id,
            policy: AtomicU8::new(policy_code(policy)),
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(64 * 1024),
                end: len,
                stream_offset,
            }),
            file: Mutex::new(FileState {
                file,
                spare: Vec::with_capacity(64 * 1024),
            }),
            written: AtomicU64::new(len),
            synced: AtomicU64::new(len),
        })
    }

    /// Buffers one canonical command and returns the file length that includes it. Called
    /// while the data lock is held, so the file order is the apply order.
    pub fn append<B: AsRef<[u8]>>(&self, args: &[B]) -> u64 {
        let mut p = self.pending.lock();
        let before = p.buf.len();
        encode_command(args, &mut p.buf);
        let added = (p.buf.len() - before) as u64;
        p.end += added;
        p.stream_offset += added;
        p.end
    }

    /// Buffers raw bytes that are not stream commands (a position record).
    pub fn append_record(&self, bytes: &[u8]) -> u64 {
        let mut p = self.pending.lock();
        p.buf.extend_from_slice(bytes);
        p.end += bytes.len() as u64;
        p.end
    }

    /// Makes everything up to file length `end` durable per the policy: written to the OS
    /// always, fsynced too under `appendfsync always`. Group commit: one caller writes for all.
    pub fn flush_to(&self, end: u64) {
        let always = self.policy.load(Ordering::Relaxed) == 0;
        let done = |s: &Self| {
            s.written.load(Ordering::Acquire) >= end
                && (!always || s.synced.load(Ordering::Acquire) >= end)
        };
        if done(self) {
            return;
        }
        let mut fs = self.file.lock();
        if self.written.load(Ordering::Acquire) < end {
            let FileState { file, spare } = &mut *fs;
            let new_end = {
                let mut p = self.pending.lock();
                std::mem::swap(&mut p.buf, spare);
                p.end
            };
            if let Err(e) = file.write_all(spare) {
                fatal("write", &self.path, &e);
            }
            spare.clear();
            if spare.capacity() > 4 << 20 {
                spare.shrink_to(64 * 1024);
            }
            self.written.store(new_end, Ordering::Release);
        }
        if always && self.synced.load(Ordering::Acquire) < end {
            let target = self.written.load(Ordering::Acquire);
            if let Err(e) = fs.file.sync_data() {
                fatal("fsync", &self.path, &e);
            }
            self.synced.store(target, Ordering::Release);
        }
    }

    /// Writes everything buffered and fsyncs (shutdown, everysec tick).
    pub fn flush_and_sync(&self) {
        let end = self.pending.lock().end;
        self.flush_to(end);
        self.sync_written();
    }

    /// fsyncs what has been written, without holding the write path's lock during the fsync.
    pub fn sync_written(&self) {
        let target = self.written.load(Ordering::Acquire);
        if self.synced.load(Ordering::Acquire) >= target {
            return;
        }
        let file = match self.file.lock().file.try_clone() {
            Ok(f) => f,
            Err(e) => fatal("fsync", &self.path, &e),
        };
        if let Err(e) = file.sync_data() {
            fatal("fsync", &self.path, &e);
        }
        self.synced.fetch_max(target, Ordering::AcqRel);
    }

    /// Bytes handed to the OS (the file's real size, less anything still buffered).
    pub fn size(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The replication id this file's stream belongs to.
    pub fn repl_id(&self) -> &str {
        &self.repl_id
    }

    /// The replication offset at the end of everything appended.
    pub fn stream_offset(&self) -> u64 {
        self.pending.lock().stream_offset
    }

    /// Changes the fsync policy at run time.
    pub fn set_policy(&self, p: Fsync) {
        self.policy.store(policy_code(p), Ordering::Relaxed);
    }

    /// Starts the once-a-second fsync thread used by `appendfsync everysec`.
    pub fn spawn_everysec(self: &Arc<Self>) {
        let aof = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(aof) = aof.upgrade() else { return };
                if aof.policy.load(Ordering::Relaxed) == 1 {
                    aof.sync_written();
                }
            })
            .expect("spawn fsync thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_bytes_reach_the_file_only_when_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.aof");
        let aof = Aof::open(&path, "id".into(), 100, Fsync::Always).unwrap();
        let end = aof.append(&["DROP", "fleet"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        aof.flush_to(end);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"*2\r\n$4\r\nDROP\r\n$5\r\nfleet\r\n"
        );
        assert_eq!(aof.size(), end);
        assert_eq!(aof.stream_offset(), 100 + end);
    }
}
