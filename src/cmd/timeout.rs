//! `TIMEOUT seconds COMMAND [arg ...]`: the deadline a read command runs under.
//!
//! Owns parsing the seconds and the deadline check. exec (`Server::dispatch`) resolves the
//! wrapped command, refuses one that is not a read (`timeout not supported for 'set'`: a
//! write or an admin command cannot be undone once it has taken effect, so a late
//! `timeout` would misreport it) and runs it with the deadline in its
//! [`super::StreamLimits`]. A read command fails with `timeout` when the deadline has passed
//! at its end (Tile38's rule, so `TIMEOUT 0` always times out); a search's walk also checks
//! it between its read-lock holds and ends a hold at it, and a WHEREEVAL script is stopped
//! by its instruction hook (`crate::script`). A streamed reply whose walk finished in time
//! is sent whole: the deadline bounds the search, not the client's reading of its reply.

use std::time::{Duration, Instant};

use crate::error::{CmdError, CmdResult};

/// The deadline `seconds` after `now`, from TIMEOUT's first argument: a non-negative number
/// (`invalid argument` otherwise, NaN included). None when it is too far away to represent
/// (`inf`): no deadline.
pub fn deadline(seconds: &[u8], now: Instant) -> CmdResult<Option<Instant>> {
    let text = String::from_utf8_lossy(seconds);
    if text.is_empty() {
        // Tile38 takes an empty number for a missing one.
        return Err(CmdError::WrongArity("timeout".into()));
    }
    let invalid = || CmdError::InvalidArg(text.to_string());
    let secs: f64 = text.parse().map_err(|_| invalid())?;
    if secs.is_nan() || secs < 0.0 {
        return Err(invalid());
    }
    Ok(Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| now.checked_add(d)))
}

/// `Err(Timeout)` when `deadline` has passed.
pub fn check(deadline: Option<Instant>) -> CmdResult<()> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(CmdError::Timeout),
        _ => Ok(()),
    }
}

/// The earlier of two deadlines (a TIMEOUT inside a TIMEOUT).
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_a_non_negative_number() {
        let now = Instant::now();
        assert_eq!(
            deadline(b"1.5", now),
            Ok(Some(now + Duration::from_millis(1500)))
        );
        assert_eq!(deadline(b"0", now), Ok(Some(now)));
        assert_eq!(
            deadline(b"1e-3", now),
            Ok(Some(now + Duration::from_millis(1)))
        );
        assert_eq!(deadline(b"inf", now), Ok(None));
        for bad in ["-1", "abc", "NaN", "1s"] {
            assert_eq!(
                deadline(bad.as_bytes(), now),
                Err(CmdError::InvalidArg(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            deadline(b"", now),
            Err(CmdError::WrongArity("timeout".into()))
        );
    }

    #[test]
    fn a_passed_deadline_is_a_timeout() {
        let now = Instant::now();
        assert_eq!(check(None), Ok(()));
        assert_eq!(check(Some(now)), Err(CmdError::Timeout));
        assert_eq!(check(Some(now + Duration::from_secs(60))), Ok(()));
        let later = Some(now + Duration::from_secs(1));
        assert_eq!(earliest(later, Some(now)), Some(now));
        assert_eq!(earliest(None, later), later);
        assert_eq!(earliest(None, None), None);
    }
}
