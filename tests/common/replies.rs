//! Short builders of expected RESP reply bytes, shared by the tests that assert exact replies.

use super::{wire_array, wire_bulk};

/// A bulk string reply.
pub fn b(s: &str) -> String {
    wire_bulk(s)
}

/// An array reply of already-encoded items.
pub fn arr(items: &[String]) -> String {
    wire_array(items)
}

/// An `-ERR` reply.
pub fn err(text: &str) -> String {
    format!("-ERR {text}\r\n")
}

/// An integer reply.
pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

pub const OK: &str = "+OK\r\n";
pub const NIL: &str = "$-1\r\n";

/// RESP fields array `[name, value, ...]` of bulk strings.
pub fn fields(pairs: &[(&str, &str)]) -> String {
    let items: Vec<String> = pairs.iter().flat_map(|(n, v)| [b(n), b(v)]).collect();
    arr(&items)
}

/// Asserts an integer reply within `lo..=hi` (a TTL, which depends on the clock).
#[allow(dead_code)]
pub fn assert_int_in(reply: &str, lo: i64, hi: i64) {
    let n: i64 = reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"));
    assert!((lo..=hi).contains(&n), "{n} not in {lo}..={hi}");
}
