//! Process-level measurements (resident memory) read from the OS.

/// Resident set size in bytes (Linux `/proc/self/statm`), or 0 where unavailable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
