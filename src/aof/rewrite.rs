//! The file side of an AOF rewrite: a temp file beside the AOF written through a fixed-size
//! buffer, byte-range copies from the live file (the writes that arrived during the rewrite are
//! read back from disk, never queued in memory), and the crash-safe commit (fsync, atomic
//! rename over the AOF, fsync of the directory).
//!
//! It must not interpret commands or touch the data set: the executor walks the store and
//! hands canonical argument vectors in; `Aof::install` swaps the result in.
//!
//! Crash safety: until the rename the AOF is untouched and the temp file is garbage, which the
//! next startup deletes ([`remove_stray`]). The rename is atomic, and the file renamed is
//! complete and fsynced, so a crash at any instant leaves either the old file or the new one.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::encode_command;

/// Size of the temp file's write buffer and of the copy buffer (a constant, whatever the data).
pub const BUFFER_BYTES: usize = 1 << 20;

/// The temp file a rewrite writes to: `<aof>.rewrite.tmp`.
pub fn temp_path(aof_path: &Path) -> PathBuf {
    let mut name = aof_path.as_os_str().to_owned();
    name.push(".rewrite.tmp");
    PathBuf::from(name)
}

/// Deletes a temp file left by a rewrite that was killed. Returns true when there was one.
pub fn remove_stray(aof_path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(temp_path(aof_path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A rewrite in progress. Dropping it without [`RewriteFile::commit`] deletes the temp file.
pub struct RewriteFile {
    temp: PathBuf,
    out: Option<BufWriter<File>>,
    encoded: Vec<u8>,
    written: u64,
}

impl RewriteFile {
    /// Creates the temp file beside `aof_path`, replacing a stale one.
    pub fn create(aof_path: &Path) -> std::io::Result<RewriteFile> {
        remove_stray(aof_path)?;
        let temp = temp_path(aof_path);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&temp)?;
        Ok(RewriteFile {
            temp,
            out: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            encoded: Vec::with_capacity(4096),
            written: 0,
        })
    }

    fn out(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("rewrite file used after commit")
    }

    /// Appends one command.
    pub fn write_command<B: AsRef<[u8]>>(&mut self, args: &[B]) -> std::io::Result<()> {
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        encode_command(args, &mut encoded);
        let result = self.write_raw(&encoded);
        if encoded.capacity() > BUFFER_BYTES {
            encoded = Vec::with_capacity(4096);
        }
        self.encoded = encoded;
        result
    }

    /// Appends bytes as they are.
    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out().write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Writes out the buffer and fsyncs, so the final step under the lock has little to sync.
    pub fn sync(&mut self) -> std::io::Result<()> {
        let out = self.out();
        out.flush()?;
        out.get_ref().sync_data()
    }

    /// Makes the file durable and renames it over `aof_path`, then fsyncs the directory.
    /// Returns the file (open for appending) and its length.
    pub fn commit(mut self, aof_path: &Path) -> std::io::Result<(File, u64)> {
        self.sync()?;
        pause_before_rename();
        let file = self
            .out
            .take()
            .expect("rewrite file used after commit")
            .into_inner()
            .map_err(|e| e.into_error())?;
        std::fs::rename(&self.temp, aof_path)?;
        let dir = aof_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::fsutil::sync_dir(dir)?;
        Ok((file, self.written))
    }
}

/// Test hook for the crash tests: with `MERIDIAN_TEST_REWRITE_PAUSE_MS` set, a rewrite waits
/// that long with its file complete and fsynced, just before the rename (appends wait too), so
/// a test can kill the process at exactly that instant. Read once; unset in production.
fn pause_before_rename() {
    static PAUSE_MS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let pause = PAUSE_MS.get_or_init(|| {
        std::env::var("MERIDIAN_TEST_REWRITE_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(ms) = *pause {
        tracing::warn!("AOF rewrite: pausing {ms} ms before the rename (test hook)");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

impl Drop for RewriteFile {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Copies bytes `[from, to)` of `src` to the end of `out` through a fixed-size buffer.
pub fn copy_range(
    src: &mut File,
    from: u64,
    to: u64,
    out: &mut RewriteFile,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; BUFFER_BYTES.min((to.saturating_sub(from)) as usize)];
    let mut pos = from;
    while pos < to {
        let want = buf.len().min((to - pos) as usize);
        let n = src.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the live AOF ended at {pos}, before {to}"),
            ));
        }
        out.write_raw(&buf[..n])?;
        pos += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_rewrite_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let aof = dir.path().join("appendonly.aof");
        std::fs::write(&aof, b"live").unwrap();
        {
            let mut rw = RewriteFile::create(&aof).unwrap();
            rw.write_command(&["DROP", "x"]).unwrap();
            assert!(temp_path(&aof).exists());
        }
        assert!(!temp_path(&aof).exists());
        assert_eq!(std::fs::read(&aof).unwrap(), b"live");
    }

    #[test]
    fn commit_replaces_the_aof_and_copies_ranges_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let aof = dir.path().join("appendonly.aof");
        std::fs::write(&aof, b"0123456789").unwrap();
        let mut rw = RewriteFile::create(&aof).unwrap();
        rw.write_raw(b"new:").unwrap();
        copy_range(&mut File::open(&aof).unwrap(), 3, 7, &mut rw).unwrap();
        assert!(copy_range(&mut File::open(&aof).unwrap(), 8, 20, &mut rw).is_err());
        let (_, len) = rw.commit(&aof).unwrap();
        let text = std::fs::read(&aof).unwrap();
        assert!(text.starts_with(b"new:3456"));
        assert_eq!(len, text.len() as u64);
        assert!(!temp_path(&aof).exists());
    }

    #[test]
    fn stray_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let aof = dir.path().join("appendonly.aof");
        assert!(!remove_stray(&aof).unwrap());
        std::fs::write(temp_path(&aof), b"half a snapshot").unwrap();
        assert!(remove_stray(&aof).unwrap());
        assert!(!temp_path(&aof).exists());
    }
}
