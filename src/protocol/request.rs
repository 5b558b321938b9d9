//! A request: the argument vector of one command, whatever protocol carried it.
//!
//! The arguments are byte ranges of one shared buffer (for RESP, the request's own bytes as
//! they were read), so decoding a request makes no copy and no per-argument reference count.

use bytes::Bytes;

/// The output format a connection asked for with `OUTPUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// RESP replies (RESP2 unless the connection said `HELLO 3`).
    #[default]
    Resp,
    /// Tile38 JSON replies (inside a RESP bulk string on RESP connections).
    Json,
}

/// One command's arguments. The first is the command name, in the case the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    frame: Bytes,
    spans: Vec<(usize, usize)>,
}

impl Request {
    /// A request whose arguments are `frame[start..end]` for each span (checked: a span out
    /// of bounds is a bug in the caller, and panics).
    pub fn from_spans(frame: Bytes, spans: Vec<(usize, usize)>) -> Request {
        assert!(spans.iter().all(|&(s, e)| s <= e && e <= frame.len()));
        Request { frame, spans }
    }

    /// Builds a request from string arguments (tests, HTTP and inline commands, AOF replay
    /// of canonical forms).
    pub fn from_strs<S: AsRef<str>>(args: &[S]) -> Request {
        let mut frame = Vec::with_capacity(args.iter().map(|a| a.as_ref().len()).sum());
        let mut spans = Vec::with_capacity(args.len());
        for a in args {
            let start = frame.len();
            frame.extend_from_slice(a.as_ref().as_bytes());
            spans.push((start, frame.len()));
        }
        Request {
            frame: Bytes::from(frame),
            spans,
        }
    }

    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        self.argv().get(i)
    }

    /// Every argument, the command name first.
    pub fn argv(&self) -> ArgList<'_> {
        ArgList {
            frame: &self.frame,
            spans: &self.spans,
        }
    }

    /// The command name, lower-cased.
    pub fn name_lower(&self) -> String {
        self.arg(0)
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// A borrowed run of a request's arguments.
#[derive(Debug, Clone, Copy)]
pub struct ArgList<'a> {
    frame: &'a [u8],
    spans: &'a [(usize, usize)],
}

impl<'a> ArgList<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let &(start, end) = self.spans.get(i)?;
        Some(&self.frame[start..end])
    }

    /// The arguments after the first `n`.
    pub fn skip(&self, n: usize) -> ArgList<'a> {
        ArgList {
            frame: self.frame,
            spans: self.spans.get(n..).unwrap_or(&[]),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let frame = self.frame;
        self.spans.iter().map(move |&(s, e)| &frame[s..e])
    }
}
