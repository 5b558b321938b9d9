//! Request framing for RESP connections: RESP arrays of bulk strings and inline (telnet)
//! lines, turned into [`Request`]s.
//!
//! Array headers (`*count`, every `$len`) are checked against [`Limits`] as soon as they
//! arrive, before any payload is buffered, so an absurd length is rejected at once instead of
//! making the connection wait for gigabytes. The same scan records where every argument's
//! bytes are, so a complete request is parsed once and its arguments are views into one
//! buffer. (Before, the `redis-protocol` codec parsed every frame a second time; the scan
//! already did all of its work, and dropping the second parse halved the decode time.)

use bytes::{Buf, BytesMut};

use super::inline::split_line;
use super::request::Request;

/// Size limits applied while framing requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted bulk string (`$len`).
    pub max_bulk_len: usize,
    /// Largest accepted argument count (`*count`).
    pub max_args: usize,
    /// Longest accepted inline line, without its line ending.
    pub max_inline_len: usize,
}

impl Default for Limits {
    /// Redis' defaults: 512 MiB bulks, 1 Mi arguments, 64 KiB inline lines.
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A malformed request. The message is what the client is sent (as a RESP error) before the
/// connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Protocol(String),
}

impl DecodeError {
    fn protocol(what: &str) -> DecodeError {
        DecodeError::Protocol(format!("Protocol error: {what}"))
    }
}

/// The longest header line (`*count` / `$len` without CRLF) that can hold an `i64`.
const MAX_HEADER_DIGITS: usize = 20;

/// Removes one complete request from the front of `buf`: a RESP array of bulk strings (`*`)
/// or an inline (telnet) line. `Ok(None)` means more bytes are needed; an incomplete request
/// is left in `buf` untouched. Empty arrays (`*0`, `*-1`) and blank lines are consumed and
/// skipped.
pub fn decode_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Request>, DecodeError> {
    loop {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let step = if first == b'*' {
            decode_array(buf, limits)?
        } else {
            decode_inline(buf, limits)?
        };
        match step {
            Step::Request(request) => return Ok(Some(request)),
            Step::Incomplete => return Ok(None),
            Step::Skipped => {}
        }
    }
}

/// The outcome of looking at the front of the buffer.
enum Step {
    Request(Request),
    Incomplete,
    Skipped,
}

/// What the header scan found for an array at the front of the buffer.
enum Scan {
    /// More bytes are needed; every header seen so far is valid.
    Incomplete,
    /// An empty or null array of this many bytes.
    Empty(usize),
    /// A complete array of bulk strings of this many bytes.
    Complete(usize),
}

fn decode_array(buf: &mut BytesMut, limits: &Limits) -> Result<Step, DecodeError> {
    let mut ranges = Vec::new();
    let len = match scan_array(buf, limits, &mut ranges)? {
        Scan::Incomplete => return Ok(Step::Incomplete),
        Scan::Empty(len) => {
            buf.advance(len);
            return Ok(Step::Skipped);
        }
        Scan::Complete(len) => len,
    };
    // One frozen buffer for the whole request; the arguments are ranges of it.
    let frame = buf.split_to(len).freeze();
    Ok(Step::Request(Request::from_spans(frame, ranges)))
}

/// Validates the headers of the array at the front of `buf` without waiting for payloads,
/// recording the byte range of every bulk's data in `ranges`.
fn scan_array(
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<Scan, DecodeError> {
    let bad_count = || DecodeError::protocol("invalid multibulk length");
    let Some((count, mut pos)) = read_header(buf, 1).map_err(|()| bad_count())? else {
        return Ok(Scan::Incomplete);
    };
    if count <= 0 {
        return Ok(Scan::Empty(pos));
    }
    if u64::try_from(count).map_or(true, |c| c > limits.max_args as u64) {
        return Err(bad_count());
    }
    // Reserve for what is plausibly buffered, not for what a header claims.
    ranges.reserve((count as usize).min(buf.len() / 4));
    for _ in 0..count {
        match buf.get(pos) {
            None => return Ok(Scan::Incomplete),
            Some(b'$') => {}
            Some(&other) => {
                let got = other as char;
                return Err(DecodeError::protocol(&format!("expected '$', got '{got}'")));
            }
        }
        let Some(data) = scan_bulk(buf, pos + 1, limits)? else {
            return Ok(Scan::Incomplete);
        };
        ranges.push(data);
        pos = data.1 + 2;
    }
    Ok(Scan::Complete(pos))
}

/// Checks the `$len` header starting at `start` (just after `$`); returns the byte range of
/// the bulk's data once the whole bulk and its trailing CRLF are buffered.
fn scan_bulk(
    buf: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize)>, DecodeError> {
    let bad_len = || DecodeError::protocol("invalid bulk length");
    let Some((len, data_start)) = read_header(buf, start).map_err(|()| bad_len())? else {
        return Ok(None);
    };
    let len = usize::try_from(len).map_err(|_| bad_len())?;
    if len > limits.max_bulk_len {
        return Err(bad_len());
    }
    let data_end = data_start.checked_add(len).ok_or_else(bad_len)?;
    let Some(crlf) = buf.get(data_end..data_end + 2) else {
        return Ok(None);
    };
    if crlf != b"\r\n" {
        return Err(DecodeError::protocol("expected CRLF after bulk data"));
    }
    Ok(Some((data_start, data_end)))
}

/// Reads a decimal header line (`123\r\n`) starting at `start`. `Ok(None)` when the line is
/// not complete yet; `Err` when it is not a valid integer (or too long to be one).
fn read_header(buf: &[u8], start: usize) -> Result<Option<(i64, usize)>, ()> {
    let rest = buf.get(start..).unwrap_or(&[]);
    let (negative, digits_at) = match rest.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let mut n: i64 = 0;
    for (i, &b) in rest.iter().enumerate().skip(digits_at) {
        match b {
            b'0'..=b'9' if i < MAX_HEADER_DIGITS => {
                let digit = i64::from(b - b'0');
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(digit))
                    .ok_or(())?;
            }
            b'\r' if i > digits_at => {
                return match rest.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some((if negative { -n } else { n }, start + i + 2))),
                    Some(_) => Err(()),
                };
            }
            _ => return Err(()),
        }
    }
    Ok(None)
}

fn decode_inline(buf: &mut BytesMut, limits: &Limits) -> Result<Step, DecodeError> {
    let window = &buf[..buf.len().min(limits.max_inline_len.saturating_add(2))];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() > limits.max_inline_len.saturating_add(1) {
            Err(DecodeError::protocol("too big inline request"))
        } else {
            Ok(Step::Incomplete)
        };
    };
    let line_len = if newline > 0 && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    if line_len > limits.max_inline_len {
        return Err(DecodeError::protocol("too big inline request"));
    }
    let raw = buf.split_to(newline + 1);
    // Replacing invalid bytes (lossy decoding) would silently store data the client did not
    // send; refuse the line instead, as a RESP argument that is not UTF-8 is refused.
    let text = std::str::from_utf8(&raw[..line_len])
        .map_err(|_| DecodeError::protocol("invalid UTF-8 in inline request"))?;
    let args = split_line(text).map_err(DecodeError::Protocol)?;
    if args.is_empty() {
        return Ok(Step::Skipped);
    }
    Ok(Step::Request(Request::from_strs(&args)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn decode(buf: &mut BytesMut) -> Result<Option<Vec<String>>, DecodeError> {
        let request = decode_request(buf, &limits())?;
        Ok(request.map(|r| {
            r.argv()
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        }))
    }

    fn err(text: &str) -> Result<Option<Vec<String>>, DecodeError> {
        Err(DecodeError::Protocol(text.to_string()))
    }

    #[test]
    fn single_array() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nfleet\r\n"[..]);
        assert_eq!(
            decode(&mut buf),
            Ok(Some(vec!["GET".into(), "fleet".into()]))
        );
        assert!(buf.is_empty());
        assert_eq!(decode(&mut buf), Ok(None));
    }

    #[test]
    fn pipelined_arrays() {
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*1"[..]);
        assert_eq!(decode(&mut buf), Ok(Some(vec!["PING".into()])));
        assert_eq!(
            decode(&mut buf),
            Ok(Some(vec!["ECHO".into(), String::new()]))
        );
        assert_eq!(decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"*1");
    }

    #[test]
    fn binary_payload_is_kept() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$4\r\na\r\n\xff\r\n"[..]);
        let request = decode_request(&mut buf, &limits())
            .expect("ok")
            .expect("some");
        assert_eq!(request.arg(1).unwrap(), b"a\r\n\xff");
    }

    #[test]
    fn partial_frames_leave_buffer_untouched() {
        let full = b"*3\r\n$3\r\nSET\r\n$5\r\nfleet\r\n$6\r\ntruck1\r\n";
        for cut in 1..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(decode(&mut buf), Ok(None), "cut at {cut}");
            assert_eq!(&buf[..], &full[..cut]);
        }
        let mut buf = BytesMut::from(&full[..]);
        assert_eq!(
            decode(&mut buf),
            Ok(Some(vec!["SET".into(), "fleet".into(), "truck1".into()]))
        );
    }

    #[test]
    fn huge_bulk_length_is_rejected_at_once() {
        let mut buf = BytesMut::from(&b"*1\r\n$1099511627776\r\n"[..]);
        assert_eq!(decode(&mut buf), err("Protocol error: invalid bulk length"));
        let small = Limits {
            max_bulk_len: 4,
            ..limits()
        };
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\n"[..]);
        assert!(decode_request(&mut buf, &small).is_err());
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nabcd\r\n"[..]);
        assert!(decode_request(&mut buf, &small).expect("ok").is_some());
    }

    #[test]
    fn bad_headers() {
        let cases: [(&[u8], &str); 10] = [
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$+5\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$111111111111111111111111",
                "Protocol error: invalid bulk length",
            ),
            (b"*1\r\n$3\rX", "Protocol error: invalid bulk length"),
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*99999999999\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (b"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"),
            (b"*1\r\nx", "Protocol error: expected '$', got 'x'"),
            (
                b"*1\r\n$3\r\nabcde\r\n",
                "Protocol error: expected CRLF after bulk data",
            ),
        ];
        for (input, message) in cases {
            let mut buf = BytesMut::from(input);
            assert_eq!(
                decode(&mut buf),
                err(message),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let few = Limits {
            max_args: 2,
            ..limits()
        };
        let mut buf = BytesMut::from(&b"*3\r\n"[..]);
        assert_eq!(
            decode_request(&mut buf, &few),
            Err(DecodeError::Protocol(
                "Protocol error: invalid multibulk length".into()
            ))
        );
    }

    #[test]
    fn empty_arrays_are_skipped() {
        let mut buf = BytesMut::from(&b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"[..]);
        assert_eq!(decode(&mut buf), Ok(Some(vec!["PING".into()])));
        assert!(buf.is_empty());
        let mut buf = BytesMut::from(&b"*0\r\n"[..]);
        assert_eq!(decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn inline_lines() {
        let mut buf = BytesMut::from(&b"PING\r\n\r\n  \nGET fleet \"truck 1\"\nSCAN"[..]);
        assert_eq!(decode(&mut buf), Ok(Some(vec!["PING".into()])));
        assert_eq!(
            decode(&mut buf),
            Ok(Some(vec!["GET".into(), "fleet".into(), "truck 1".into()]))
        );
        assert_eq!(decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"SCAN");
    }

    #[test]
    fn inline_json_argument() {
        let line = b"SET fleet truck1 OBJECT {\"type\":\"Point\",\"coordinates\":[1,2]}\r\n";
        let mut buf = BytesMut::from(&line[..]);
        let expected = [
            "SET",
            "fleet",
            "truck1",
            "OBJECT",
            "{\"type\":\"Point\",\"coordinates\":[1,2]}",
        ];
        assert_eq!(
            decode(&mut buf),
            Ok(Some(expected.iter().map(|s| s.to_string()).collect()))
        );
    }

    #[test]
    fn inline_errors() {
        let mut buf = BytesMut::from(&b"GET \"fleet\r\n"[..]);
        assert_eq!(
            decode(&mut buf),
            err("Protocol error: unbalanced quotes in request")
        );
        let tight = Limits {
            max_inline_len: 8,
            ..limits()
        };
        let too_big = Err(DecodeError::Protocol(
            "Protocol error: too big inline request".into(),
        ));
        let mut buf = BytesMut::from(&b"PING 1234"[..]);
        assert_eq!(decode_request(&mut buf, &tight), Ok(None));
        let mut buf = BytesMut::from(&b"PING 12345"[..]);
        assert_eq!(decode_request(&mut buf, &tight), too_big);
        let mut buf = BytesMut::from(&b"PING 1234\r\n"[..]);
        assert_eq!(decode_request(&mut buf, &tight), too_big);
        let mut buf = BytesMut::from(&b"PING 123\r\n"[..]);
        assert!(decode_request(&mut buf, &tight).expect("ok").is_some());
        let mut buf = BytesMut::from(&b"SET a b STRING \xff\xfe\r\nPING\r\n"[..]);
        assert_eq!(
            decode(&mut buf),
            err("Protocol error: invalid UTF-8 in inline request")
        );
    }

    #[test]
    fn mixed_inline_and_array() {
        let mut buf = BytesMut::from(&b"PING\n*1\r\n$4\r\nPING\r\n"[..]);
        assert_eq!(decode(&mut buf), Ok(Some(vec!["PING".into()])));
        assert_eq!(decode(&mut buf), Ok(Some(vec!["PING".into()])));
        assert!(buf.is_empty());
    }
}
