//! The append-only file: the canonical command log, its stream position, durability policy and
//! startup replay.
//!
//! Owns the AOF file handle and its on-disk format (RESP arrays plus `MERIDIAN.STREAM` position
//! records, see `proto/aof.md`). It must not interpret commands: it receives canonical argument
//! vectors from `exec` and hands loaded requests back to a caller-supplied function.
//!
//! Durability (the guarantees, written before the code):
//! 1. A write is acknowledged only after its bytes were handed to the OS with write(2)
//!    (`flush_to`), so a killed process never loses an acknowledged write.
//! 2. With `appendfsync always`, `flush_to` also fsyncs before returning, so acknowledged
//!    writes survive power loss. With `everysec`, a background thread fsyncs once a second.
//! 3. The file only ever grows by whole commands appended in apply order; a crash can leave at
//!    most one torn command at the end, which the loader cuts off and keeps beside the file.
//! 4. A rewrite never changes the live file: it writes a temp file, fsyncs it, renames it over
//!    the AOF and fsyncs the directory, with appends paused only for that last step. A crash
//!    leaves the old file or the new one, each holding every acknowledged write.

pub mod format;
pub mod load;
pub mod rewrite;
pub mod writer;

pub use format::{stream_record, STREAM_RECORD};
pub use load::{load, LoadError, LoadOptions, LoadOutcome};
pub use rewrite::RewriteFile;
pub use writer::{Aof, Mark};
