//! Process-level measurements (resident memory) read from the OS, and the one request made to
//! the allocator.

/// Resident set size in bytes (Linux `/proc/self/statm`), or 0 where unavailable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Asks the allocator (mimalloc, the global allocator) to return the memory freed so far to
/// the OS. Called once after the AOF load: replay and the bulk builds free their temporary
/// buffers in one go, on threads that are gone by then, and mimalloc would otherwise keep
/// those pages (measured on 1M points: RSS after a restart 141 MiB, against 105 MiB after the
/// same data was loaded by clients).
pub fn release_free_memory() {
    // SAFETY: mi_collect only walks mimalloc's own free lists; it takes no pointers from us and
    // is safe to call at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
