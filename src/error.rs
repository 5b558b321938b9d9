//! Client-visible error texts, defined once. Clients and tests match on these strings, so they
//! are API: Tile38's wording where Tile38 has one.
//!
//! Only texts live here, never wire formats: `protocol` decides how an error is framed.

use std::fmt;

/// An error a command answers with. The connection stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// `ERR wrong number of arguments for 'x' command` (RESP) / `invalid number of arguments` (JSON).
    WrongArity(String),
    /// `invalid argument 'x'`.
    InvalidArg(String),
    KeyNotFound,
    IdNotFound,
    IdAlreadyExists,
    NotLeader,
    ReadOnly,
    CatchingUp,
    Loading,
    AuthRequired,
    InvalidPassword,
    UnknownCommand(String),
    /// A reply would exceed `client-output-buffer-limit` (the limit in bytes).
    ReplyTooLarge(u64),
    /// A `TIMEOUT` deadline passed before the command finished.
    Timeout,
    /// `TIMEOUT` wraps a command that is not a read (its lower-case name).
    TimeoutNotSupported(String),
    /// Any other message, verbatim.
    Other(String),
}

pub const LOADING_TEXT: &str = "LOADING Meridian is loading the dataset in memory";

impl CmdError {
    /// The message text without any protocol framing. `json` selects Tile38's JSON wording
    /// where it differs from the RESP one (wrong arity).
    pub fn text(&self, json: bool) -> String {
        match self {
            CmdError::WrongArity(cmd) if json => {
                let _ = cmd;
                "invalid number of arguments".to_string()
            }
            CmdError::WrongArity(cmd) => {
                format!(
                    "wrong number of arguments for '{}' command",
                    cmd.to_lowercase()
                )
            }
            CmdError::InvalidArg(a) => format!("invalid argument '{a}'"),
            CmdError::KeyNotFound => "key not found".into(),
            CmdError::IdNotFound => "id not found".into(),
            CmdError::IdAlreadyExists => "id already exists".into(),
            CmdError::NotLeader => "not the leader".into(),
            CmdError::ReadOnly => "read only".into(),
            CmdError::CatchingUp => "catching up to leader".into(),
            CmdError::Loading => LOADING_TEXT.into(),
            CmdError::AuthRequired => "authentication required".into(),
            CmdError::InvalidPassword => "invalid password".into(),
            CmdError::UnknownCommand(c) => format!("unknown command '{c}'"),
            CmdError::ReplyTooLarge(limit) => format!(
                "reply exceeds client-output-buffer-limit ({limit} bytes); use LIMIT or CURSOR"
            ),
            CmdError::Timeout => "timeout".into(),
            CmdError::TimeoutNotSupported(cmd) => format!("timeout not supported for '{cmd}'"),
            CmdError::Other(s) => s.clone(),
        }
    }

    /// Errors that AOF replay tolerates: the command's target was already gone when it was
    /// logged or re-applied (Tile38 ignores the same two on load).
    pub fn is_benign_on_replay(&self) -> bool {
        matches!(self, CmdError::KeyNotFound | CmdError::IdNotFound)
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(false))
    }
}

impl std::error::Error for CmdError {}

impl From<crate::geo::GeoError> for CmdError {
    fn from(e: crate::geo::GeoError) -> Self {
        CmdError::Other(e.0)
    }
}

/// Shorthand for command results.
pub type CmdResult<T> = Result<T, CmdError>;
