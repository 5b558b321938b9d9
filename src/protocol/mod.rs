//! The wire protocols: the only module that knows RESP and JSON bytes.
//!
//! - [`request`] / [`reply`]: the protocol-independent contract (what a command receives and
//!   answers).
//! - [`decode`]: framing of RESP connections (RESP arrays and inline/telnet lines) into
//!   [`Request`]s, with early rejection of oversized or malformed headers.
//! - [`inline`]: splitting telnet lines and Tile38 HTTP paths into arguments.
//! - [`resp`]: rendering a [`Reply`] as RESP2/RESP3 bytes.
//! - [`json`]: rendering a [`Reply`] as Tile38 JSON, including Go-style `elapsed` durations.
//! - [`stream`]: the same bytes for a streamed search reply ([`Reply::Stream`]), in pieces.

pub mod decode;
pub mod inline;
pub mod json;
pub mod reply;
pub mod request;
pub mod resp;
pub mod stream;

pub use reply::*;
pub use request::*;

use std::time::Duration;

use bytes::{BufMut, BytesMut};

/// Renders a reply for a RESP connection in the format it asked for: RESP2/RESP3, or Tile38
/// JSON carried inside a RESP bulk string (`OUTPUT json`).
pub fn encode_for_connection(
    reply: &Reply,
    output: OutputFormat,
    resp3: bool,
    elapsed: Duration,
    out: &mut BytesMut,
) {
    match output {
        OutputFormat::Resp => {
            let v = if resp3 {
                resp::RespVersion::V3
            } else {
                resp::RespVersion::V2
            };
            resp::encode_resp(reply, v, out);
        }
        OutputFormat::Json => {
            let mut text = String::with_capacity(64);
            json::encode_json(reply, elapsed, &mut text);
            out.put_u8(b'$');
            out.extend_from_slice(text.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Renders a reply as the body of an HTTP response (JSON, newline-terminated).
pub fn encode_http_body(reply: &Reply, elapsed: Duration) -> String {
    let mut text = String::with_capacity(64);
    json::encode_json(reply, elapsed, &mut text);
    text.push_str("\r\n");
    text
}

/// Splits a Tile38 HTTP request (URL path plus optional body) into arguments.
pub fn http_request_args(path: &str, body: &str) -> Vec<String> {
    let mut line = inline::url_path_to_line(path);
    if !body.trim().is_empty() {
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(body.trim());
    }
    inline::split_native_line(&line)
}
