//! Object ids as stored: 16 bytes that keep ids of up to 12 bytes inline, plus a 16-bit tag
//! for the slot's use (the number of a compact object's field name), which fills bytes an id
//! would otherwise leave as padding.
//!
//! Owns only the representation of one id. It must not know collections or ordering beyond
//! byte order (which is `str` order, so comparisons never decode UTF-8).

use std::fmt;

/// Longest id kept inline.
const INLINE: usize = 12;

/// One id and its tag. Ids are many (one per object) and mostly short (`truck12`,
/// `p123456`), so the common case needs no allocation and two thirds of a `CompactString`'s
/// 24 bytes. Longer ids (UUIDs) pay one thin pointer to a boxed `str`.
#[derive(Clone, PartialEq, Eq)]
pub struct Id(Repr);

/// Private, so only [`Id::new`] makes one (which `Id::as_str` relies on).
#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline {
        len: u8,
        tag: u16,
        bytes: [u8; INLINE],
    },
    /// Boxed twice so the variant is one word and the whole enum stays 16 bytes.
    Heap { tag: u16, id: Box<Box<str>> },
}

impl Id {
    /// The id for `s`, with tag 0.
    pub fn new(s: &str) -> Id {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Id(Repr::Inline {
                len: s.len() as u8,
                tag: 0,
                bytes,
            })
        } else {
            Id(Repr::Heap {
                tag: 0,
                id: Box::new(s.into()),
            })
        }
    }

    /// The id's bytes (UTF-8), for hashing and ordering.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes, .. } => &bytes[..usize::from(*len)],
            Repr::Heap { id, .. } => id.as_bytes(),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Not checked again: the check was 2.6% of a NEARBY … LIMIT 10 request (every
            // exact candidate's id and every match's).
            // SAFETY: `Id::new` is the only way to make an `Inline` (`Repr` is private to
            // this module, and `len` and `bytes` never change after), and it copies exactly
            // `len` bytes of a `&str`, so `bytes[..len]` is valid UTF-8.
            Repr::Inline { len, bytes, .. } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..usize::from(*len)])
            },
            Repr::Heap { id, .. } => id,
        }
    }

    /// The tag.
    pub fn tag(&self) -> u16 {
        match &self.0 {
            Repr::Inline { tag, .. } | Repr::Heap { tag, .. } => *tag,
        }
    }

    /// Changes the tag.
    pub fn set_tag(&mut self, t: u16) {
        match &mut self.0 {
            Repr::Inline { tag, .. } | Repr::Heap { tag, .. } => *tag = t,
        }
    }

    /// Heap bytes beyond the 16 inline ones, for STATS.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap { id, .. } => std::mem::size_of::<Box<str>>() + id.len(),
        }
    }
}

impl Default for Id {
    fn default() -> Id {
        Id::new("")
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn is_two_words() {
        assert_eq!(std::mem::size_of::<Id>(), 16);
    }

    proptest! {
        #[test]
        fn round_trips_and_orders_like_str(a in "\\PC{0,20}", b in "\\PC{0,20}", t: u16) {
            let (mut ia, ib) = (Id::new(&a), Id::new(&b));
            prop_assert_eq!(ia.tag(), 0);
            ia.set_tag(t);
            prop_assert_eq!(ia.tag(), t);
            prop_assert_eq!(ia.as_str(), a.as_str());
            prop_assert_eq!(ia.as_bytes().cmp(ib.as_bytes()), a.cmp(&b));
            prop_assert_eq!(ia.as_bytes() == ib.as_bytes(), a == b);
        }
    }
}
