//! A cursor over a command's arguments with Tile38's error conventions: running out of
//! arguments is a wrong-arity error, an argument of the wrong shape is `invalid argument 'x'`.

use crate::protocol::request::ArgList;

use crate::error::{CmdError, CmdResult};

/// Arguments after the command name.
pub struct Args<'a> {
    name: &'a str,
    args: ArgList<'a>,
    pos: usize,
}

impl<'a> Args<'a> {
    /// Wraps `args` (which excludes the command name) for command `name`.
    pub fn new(name: &'a str, args: ArgList<'a>) -> Args<'a> {
        Args { name, args, pos: 0 }
    }

    /// The command name as the client sent it.
    pub fn command(&self) -> &'a str {
        self.name
    }

    /// The error for a missing argument.
    pub fn arity_error(&self) -> CmdError {
        CmdError::WrongArity(self.name.to_string())
    }

    /// Number of arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    /// True when every argument has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument as raw bytes.
    pub fn next_bytes(&mut self) -> CmdResult<&'a [u8]> {
        let a = self.args.get(self.pos).ok_or_else(|| self.arity_error())?;
        self.pos += 1;
        Ok(a)
    }

    /// The next argument as text.
    pub fn next_str(&mut self) -> CmdResult<&'a str> {
        let b = self.next_bytes()?;
        std::str::from_utf8(b).map_err(|_| CmdError::InvalidArg(String::from_utf8_lossy(b).into()))
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&'a str> {
        self.args
            .get(self.pos)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The argument `n` places after the next one, without consuming anything.
    pub fn peek_at(&self, n: usize) -> Option<&'a str> {
        self.args
            .get(self.pos + n)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Consumes the next argument if it equals `word` (ASCII case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        if self.peek().is_some_and(|p| p.eq_ignore_ascii_case(word)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The next argument as a finite float.
    pub fn next_f64(&mut self) -> CmdResult<f64> {
        let s = self.next_str()?;
        parse_f64(s).ok_or_else(|| CmdError::InvalidArg(s.into()))
    }

    /// The next argument as a signed integer.
    pub fn next_i64(&mut self) -> CmdResult<i64> {
        let s = self.next_str()?;
        s.parse().map_err(|_| CmdError::InvalidArg(s.into()))
    }

    /// The next argument as an unsigned integer.
    pub fn next_u64(&mut self) -> CmdResult<u64> {
        let s = self.next_str()?;
        s.parse().map_err(|_| CmdError::InvalidArg(s.into()))
    }

    /// Fails with `invalid argument` naming the first extra argument, if any remain.
    pub fn finish(&self) -> CmdResult<()> {
        match self.args.get(self.pos) {
            None => Ok(()),
            Some(b) => Err(CmdError::InvalidArg(String::from_utf8_lossy(b).into())),
        }
    }
}

/// Parses a finite decimal float.
pub fn parse_f64(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A word upper-cased on the stack, to match against keywords without allocating (a search
/// or SET parses several per request). A word longer than any keyword reads as `""`, which
/// matches none.
pub struct Upper {
    buf: [u8; Upper::MAX],
    len: usize,
}

impl Upper {
    /// Longer than the longest keyword (`WHEREEVALSHA`).
    const MAX: usize = 16;

    pub fn new(word: &str) -> Upper {
        let mut up = Upper {
            buf: [0; Upper::MAX],
            len: 0,
        };
        if let Some(dst) = up.buf.get_mut(..word.len()) {
            dst.copy_from_slice(word.as_bytes());
            dst.make_ascii_uppercase();
            up.len = word.len();
        }
        up
    }

    pub fn as_str(&self) -> &str {
        // ASCII upper-casing keeps UTF-8 valid, so this never falls back.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Request;

    fn args(v: &[&str]) -> Request {
        Request::from_strs(v)
    }

    #[test]
    fn errors_follow_tile38() {
        let raw = args(&["33.5", "abc"]);
        let mut a = Args::new("SET", raw.argv());
        assert_eq!(a.next_f64().unwrap(), 33.5);
        assert_eq!(a.next_f64(), Err(CmdError::InvalidArg("abc".into())));
        assert_eq!(a.next_str(), Err(CmdError::WrongArity("SET".into())));
    }

    #[test]
    fn eat_is_case_insensitive_and_finish_names_extras() {
        let raw = args(&["withFields", "extra"]);
        let mut a = Args::new("GET", raw.argv());
        assert!(!a.eat("OBJECT"));
        assert!(a.eat("WITHFIELDS"));
        assert_eq!(a.finish(), Err(CmdError::InvalidArg("extra".into())));
    }

    #[test]
    fn upper_cases_short_words_and_blanks_long_ones() {
        assert_eq!(Upper::new("nearBy").as_str(), "NEARBY");
        assert_eq!(Upper::new("").as_str(), "");
        assert_eq!(Upper::new("wheREEVALSHA").as_str(), "WHEREEVALSHA");
        assert_eq!(Upper::new("ü-point").as_str(), "ü-POINT");
        assert_eq!(Upper::new("sixteen-chars-xy").as_str(), "SIXTEEN-CHARS-XY");
        assert_eq!(Upper::new("seventeen-chars-x").as_str(), "");
    }
}
