//! Appending to the AOF: an in-memory buffer filled under the data lock (so file order is apply
//! order), written to the OS by `flush_to` before replies go out, and fsynced by policy.
//!
//! Positions handed to callers are *sequence numbers*: bytes appended since the file was opened
//! by this process, across rewrites. They only grow, so a write acknowledged against the old
//! file stays acknowledged after a rewrite swapped the file underneath (file lengths do not).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::format::encode_command;
use super::rewrite::{copy_range, RewriteFile};
use crate::config::Fsync;

struct Pending {
    buf: Vec<u8>,
    /// File length once `buf` is written.
    file_end: u64,
    /// Sequence number at the end of `buf`.
    seq_end: u64,
    /// Stream offset at the end of the appended commands.
    stream_offset: u64,
}

struct FileState {
    file: File,
    /// A spare buffer swapped with `Pending::buf`, so steady state allocates nothing.
    spare: Vec<u8>,
}

/// Where the log stood at one instant: a rewrite copies the live file from `file_pos` on, and
/// the stream was at `stream_offset` there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub file_pos: u64,
    pub stream_offset: u64,
}

/// The open AOF.
pub struct Aof {
    path: PathBuf,
    repl_id: String,
    policy: AtomicU8,
    pending: Mutex<Pending>,
    file: Mutex<FileState>,
    /// Sequence number written to the OS, and fsynced.
    written_seq: AtomicU64,
    synced_seq: AtomicU64,
    /// Length of the file on disk (bytes handed to the OS).
    file_len: AtomicU64,
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
    /// Opens `path` for appending; `stream_offset` is the replication offset at its end.
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
                file_end: len,
                seq_end: 0,
                stream_offset,
            }),
            file: Mutex::new(FileState {
                file,
                spare: Vec::with_capacity(64 * 1024),
            }),
            written_seq: AtomicU64::new(0),
            synced_seq: AtomicU64::new(0),
            file_len: AtomicU64::new(len),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one canonical command and returns the sequence number that includes it. Called
    /// while the data lock is held, so the file order is the apply order.
    pub fn append<B: AsRef<[u8]>>(&self, args: &[B]) -> u64 {
        let mut p = self.pending.lock();
        let before = p.buf.len();
        encode_command(args, &mut p.buf);
        let added = (p.buf.len() - before) as u64;
        p.file_end += added;
        p.seq_end += added;
        p.stream_offset += added;
        p.seq_end
    }

    /// Buffers raw bytes that are not stream commands (a position record).
    pub fn append_record(&self, bytes: &[u8]) -> u64 {
        let mut p = self.pending.lock();
        p.buf.extend_from_slice(bytes);
        p.file_end += bytes.len() as u64;
        p.seq_end += bytes.len() as u64;
        p.seq_end
    }

    /// Where the log stands now, buffered commands included.
    pub fn mark(&self) -> Mark {
        let p = self.pending.lock();
        Mark {
            file_pos: p.file_end,
            stream_offset: p.stream_offset,
        }
    }

    /// Makes everything up to sequence number `seq` durable per the policy: written to the OS
    /// always, fsynced too under `appendfsync always`. Group commit: one caller writes for all.
    pub fn flush_to(&self, seq: u64) {
        let always = self.policy.load(Ordering::Relaxed) == 0;
        let done = |s: &Self| {
            s.written_seq.load(Ordering::Acquire) >= seq
                && (!always || s.synced_seq.load(Ordering::Acquire) >= seq)
        };
        if done(self) {
            return;
        }
        let mut fs = self.file.lock();
        if self.written_seq.load(Ordering::Acquire) < seq {
            self.write_pending(&mut fs);
        }
        if always && self.synced_seq.load(Ordering::Acquire) < seq {
            let target = self.written_seq.load(Ordering::Acquire);
            if let Err(e) = fs.file.sync_data() {
                fatal("fsync", &self.path, &e);
            }
            self.synced_seq.store(target, Ordering::Release);
        }
    }

    /// Writes the whole pending buffer to the file. The caller holds the file lock; appends go
    /// on while the bytes are written.
    fn write_pending(&self, fs: &mut FileState) {
        let (seq, len) = Self::take_pending(&mut self.pending.lock(), &mut fs.spare);
        self.write_spare(fs, seq, len);
    }

    /// Moves the pending bytes into `spare`; returns the sequence number and file length they
    /// end at.
    fn take_pending(p: &mut Pending, spare: &mut Vec<u8>) -> (u64, u64) {
        std::mem::swap(&mut p.buf, spare);
        (p.seq_end, p.file_end)
    }

    fn write_spare(&self, fs: &mut FileState, new_seq: u64, new_len: u64) {
        let FileState { file, spare } = fs;
        if let Err(e) = file.write_all(spare) {
            fatal("write", &self.path, &e);
        }
        spare.clear();
        if spare.capacity() > 4 << 20 {
            spare.shrink_to(64 * 1024);
        }
        self.file_len.store(new_len, Ordering::Release);
        self.written_seq.store(new_seq, Ordering::Release);
    }

    /// Writes everything buffered and fsyncs (shutdown, everysec tick).
    pub fn flush_and_sync(&self) {
        let seq = self.pending.lock().seq_end;
        self.flush_to(seq);
        self.sync_written();
    }

    /// fsyncs what has been written, without holding the write path's lock during the fsync.
    pub fn sync_written(&self) {
        let target = self.written_seq.load(Ordering::Acquire);
        if self.synced_seq.load(Ordering::Acquire) >= target {
            return;
        }
        // A clone taken after `target` was read holds every byte up to it: a rewrite swaps the
        // file under the file lock only after copying everything written into the new one.
        let file = match self.file.lock().file.try_clone() {
            Ok(f) => f,
            Err(e) => fatal("fsync", &self.path, &e),
        };
        if let Err(e) = file.sync_data() {
            fatal("fsync", &self.path, &e);
        }
        self.synced_seq.fetch_max(target, Ordering::AcqRel);
    }

    /// Replaces the live file with a rewritten one that already holds everything up to live
    /// file position `copied_to`. Under the AOF's own locks (appends wait, so nothing can slip
    /// between the copy and the swap): write what is buffered, copy the rest of the live file,
    /// fsync, rename over the live path, fsync the directory, and append to the new file from
    /// then on. An error before the rename leaves the live file in charge and is returned; an
    /// error after it is fatal (memory and the file on disk would no longer agree).
    pub fn install(&self, mut rewrite: RewriteFile, copied_to: u64) -> std::io::Result<u64> {
        let mut fs = self.file.lock();
        let mut p = self.pending.lock();
        let (seq, live_len) = Self::take_pending(&mut p, &mut fs.spare);
        self.write_spare(&mut fs, seq, live_len);
        let mut reader = File::open(&self.path)?;
        copy_range(&mut reader, copied_to, live_len, &mut rewrite)?;
        let (file, new_len) = rewrite.commit(&self.path)?;
        // Renamed: the new file is the AOF now.
        p.file_end = new_len;
        fs.file = file;
        self.file_len.store(new_len, Ordering::Release);
        self.synced_seq
            .store(self.written_seq.load(Ordering::Acquire), Ordering::Release);
        Ok(new_len)
    }

    /// The file's real size: bytes handed to the OS.
    pub fn size(&self) -> u64 {
        self.file_len.load(Ordering::Acquire)
    }

    /// The replication id this file's stream belongs to.
    pub fn repl_id(&self) -> &str {
        &self.repl_id
    }

    /// The replication offset at the end of everything appended.
    pub fn stream_offset(&self) -> u64 {
        self.pending.lock().stream_offset
    }

    /// Whether making an append durable waits for an fsync (`appendfsync always`).
    pub fn syncs_each_write(&self) -> bool {
        self.policy.load(Ordering::Relaxed) == 0
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
        let seq = aof.append(&["DROP", "fleet"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        aof.flush_to(seq);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"*2\r\n$4\r\nDROP\r\n$5\r\nfleet\r\n"
        );
        assert_eq!(aof.size(), seq);
        assert_eq!(aof.stream_offset(), 100 + seq);
    }

    #[test]
    fn install_swaps_in_the_rewrite_plus_everything_after_the_copy_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.aof");
        std::fs::write(&path, b"old-prefix|").unwrap();
        let aof = Aof::open(&path, "id".into(), 0, Fsync::Everysec).unwrap();
        let before = aof.mark();
        assert_eq!(before.file_pos, 11);
        let first = aof.append(&["DEL", "a", "1"]);
        aof.flush_to(first);
        let copied = aof.mark().file_pos;
        // Buffered, not yet written: install must still carry it over.
        let second = aof.append(&["DEL", "a", "2"]);
        let mut rw = RewriteFile::create(&path).unwrap();
        rw.write_raw(b"snapshot|").unwrap();
        let mut reader = File::open(&path).unwrap();
        copy_range(&mut reader, before.file_pos, copied, &mut rw).unwrap();
        let new_len = aof.install(rw, copied).unwrap();
        let expected: &[u8] =
            b"snapshot|*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\n2\r\n";
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(new_len, expected.len() as u64);
        // Later appends go to the new file, and old sequence numbers count as durable.
        aof.flush_to(second);
        let third = aof.append(&["DROP", "b"]);
        aof.flush_to(third);
        let after = std::fs::read(&path).unwrap();
        assert!(after.ends_with(b"*2\r\n$4\r\nDROP\r\n$1\r\nb\r\n"));
        assert_eq!(aof.size(), after.len() as u64);
    }
}
