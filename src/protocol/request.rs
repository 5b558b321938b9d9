//! A request: the argument vector of one command, whatever protocol carried it.

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

/// One command's arguments. `args[0]` is the command name, in the case the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub args: Vec<Bytes>,
}

impl Request {
    /// Builds a request from string arguments (tests, AOF replay of canonical forms).
    pub fn from_strs<S: AsRef<str>>(args: &[S]) -> Request {
        Request {
            args: args
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_ref().as_bytes()))
                .collect(),
        }
    }

    /// The command name, lower-cased.
    pub fn name_lower(&self) -> String {
        self.args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default()
    }
}
