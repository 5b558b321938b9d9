//! How one object is stored, and the borrowed view of it that readers get.
//!
//! Owns the compact representation: a plain point with at most one numeric field and no
//! expiry (the common case by far) is 32 bytes inline, with the field's name as a number in the
//! collection's [`Names`]; anything else is a boxed [`Object`]. Must not know ids' order, the
//! index or the digest.

use std::borrow::Cow;

use super::field::{FieldValue, Fields, Names};
use super::id::Id;
use super::object::{Body, Object};
use crate::geo::{Geometry, Rect};

/// One slab slot: an id and what it holds.
#[derive(Debug)]
pub struct Slot {
    pub id: Id,
    pub data: Data,
}

/// A slot's content.
#[derive(Debug)]
pub enum Data {
    /// An unused slot, linked into the slab's free list.
    Free { next: u32 },
    /// A 2D point; `field` is 1 + the number of its one numeric field's name, or 0 for none.
    Point {
        field: u32,
        lat: f64,
        lon: f64,
        num: f64,
    },
    /// Everything else.
    Boxed(Box<Object>),
}

impl Data {
    /// Stores `obj` compactly when it can, interning its field name.
    pub fn store(obj: Object, names: &mut Names) -> Data {
        let Body::Geo(Geometry::Point { lat, lon }) = obj.body else {
            return Data::Boxed(Box::new(obj));
        };
        if obj.expires_at_ms != 0 || obj.fields.len() > 1 {
            return Data::Boxed(Box::new(obj));
        }
        let field = match obj.fields.iter().next() {
            None => Some((0, 0.0)),
            Some((name, FieldValue::Num(num))) => Some((names.intern(name) + 1, *num)),
            Some(_) => None,
        };
        match field {
            Some((field, num)) => Data::Point {
                field,
                lat,
                lon,
                num,
            },
            None => Data::Boxed(Box::new(obj)),
        }
    }
}

/// A borrowed stored object.
#[derive(Debug, Clone, Copy)]
pub struct ObjRef<'a> {
    data: &'a Data,
    names: &'a Names,
}

impl<'a> ObjRef<'a> {
    pub(super) fn new(data: &'a Data, names: &'a Names) -> ObjRef<'a> {
        debug_assert!(
            !matches!(data, Data::Free { .. }),
            "a free slot has no object"
        );
        ObjRef { data, names }
    }

    /// The body (owned only for compact points, which cost nothing to build).
    pub fn body(&self) -> Cow<'a, Body> {
        match self.data {
            Data::Boxed(o) => Cow::Borrowed(&o.body),
            &Data::Point { lat, lon, .. } => Cow::Owned(Body::Geo(Geometry::Point { lat, lon })),
            Data::Free { .. } => Cow::Owned(Body::Str("".into())),
        }
    }

    /// The geometry of a spatial object.
    pub fn geometry(&self) -> Option<Cow<'a, Geometry>> {
        match self.data {
            Data::Boxed(o) => o.geometry().map(Cow::Borrowed),
            &Data::Point { lat, lon, .. } => Some(Cow::Owned(Geometry::Point { lat, lon })),
            Data::Free { .. } => None,
        }
    }

    /// The bounding box of a spatial object.
    pub fn bbox(&self) -> Option<Rect> {
        match self.data {
            Data::Boxed(o) => o.bbox(),
            &Data::Point { lat, lon, .. } => Some(Rect::point(lat, lon)),
            Data::Free { .. } => None,
        }
    }

    /// The fields.
    pub fn fields(&self) -> FieldsRef<'a> {
        match self.data {
            Data::Boxed(o) => FieldsRef::Many(&o.fields),
            &Data::Point { field: 0, .. } | Data::Free { .. } => FieldsRef::None,
            &Data::Point { field, num, .. } => FieldsRef::One(self.names.name(field - 1), num),
        }
    }

    /// Absolute expiry in Unix milliseconds; 0 means never.
    pub fn expires_at_ms(&self) -> i64 {
        match self.data {
            Data::Boxed(o) => o.expires_at_ms,
            _ => 0,
        }
    }

    /// True when the object has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        let at = self.expires_at_ms();
        at != 0 && at <= now_ms
    }

    /// The object as JSON text: GeoJSON for spatial objects, a JSON string for strings.
    pub fn to_json(&self) -> String {
        match self.data {
            Data::Boxed(o) => o.to_json(),
            _ => self.to_object().to_json(),
        }
    }

    /// An owned copy.
    pub fn to_object(&self) -> Object {
        match self.data {
            Data::Boxed(o) => (**o).clone(),
            _ => Object {
                body: self.body().into_owned(),
                fields: self.fields().to_fields(),
                expires_at_ms: 0,
            },
        }
    }

    /// Approximate bytes used, for STATS `in_memory_size` and rewrite chunk budgets: the slot
    /// itself plus what it owns on the heap.
    pub fn mem_size(&self) -> usize {
        let heap = match self.data {
            Data::Boxed(o) => o.mem_size(0),
            _ => 0,
        };
        std::mem::size_of::<Slot>() + heap
    }
}

/// The borrowed fields of a stored object.
#[derive(Debug, Clone, Copy)]
pub enum FieldsRef<'a> {
    None,
    /// A compact object's one numeric field.
    One(&'a str, f64),
    Many(&'a Fields),
}

impl<'a> FieldsRef<'a> {
    /// The value of one field.
    pub fn get(&self, name: &str) -> Option<Cow<'a, FieldValue>> {
        match *self {
            FieldsRef::None => None,
            FieldsRef::One(n, v) => (n == name).then_some(Cow::Owned(FieldValue::Num(v))),
            FieldsRef::Many(f) => f.get(name).map(Cow::Borrowed),
        }
    }

    /// Fields in name order.
    pub fn iter(&self) -> FieldsIter<'a> {
        match *self {
            FieldsRef::None => FieldsIter::One(None),
            FieldsRef::One(n, v) => FieldsIter::One(Some((n, v))),
            FieldsRef::Many(f) => FieldsIter::Many(f.entries().iter()),
        }
    }

    /// Number of set fields.
    pub fn len(&self) -> usize {
        match *self {
            FieldsRef::None => 0,
            FieldsRef::One(..) => 1,
            FieldsRef::Many(f) => f.len(),
        }
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An owned copy.
    pub fn to_fields(&self) -> Fields {
        match *self {
            FieldsRef::Many(f) => f.clone(),
            _ => {
                let mut out = Fields::new();
                for (n, v) in self.iter() {
                    out.set(n, v.into_owned());
                }
                out
            }
        }
    }
}

/// The iterator of [`FieldsRef::iter`].
pub enum FieldsIter<'a> {
    One(Option<(&'a str, f64)>),
    Many(std::slice::Iter<'a, (compact_str::CompactString, FieldValue)>),
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, Cow<'a, FieldValue>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            FieldsIter::One(one) => one.take().map(|(n, v)| (n, Cow::Owned(FieldValue::Num(v)))),
            FieldsIter::Many(it) => it.next().map(|(n, v)| (n.as_str(), Cow::Borrowed(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compact_point_is_small() {
        assert_eq!(std::mem::size_of::<Data>(), 32);
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    #[test]
    fn compact_and_boxed_read_the_same() {
        let mut names = Names::default();
        let mut o = Object::geo(Geometry::point(33.5, -112.25, None).unwrap());
        o.fields.set("speed", FieldValue::Num(45.0));
        let compact = Data::store(o.clone(), &mut names);
        assert!(matches!(compact, Data::Point { .. }));
        let boxed = Data::Boxed(Box::new(o.clone()));
        for d in [&compact, &boxed] {
            let r = ObjRef::new(d, &names);
            assert_eq!(r.to_object(), o);
            assert_eq!(
                r.fields().get("speed").as_deref(),
                Some(&FieldValue::Num(45.0))
            );
            assert_eq!(r.fields().get("nope"), None);
            assert_eq!(r.bbox(), o.bbox());
            assert_eq!(r.to_json(), o.to_json());
        }
        o.expires_at_ms = 5;
        assert!(matches!(Data::store(o, &mut names), Data::Boxed(_)));
    }
}
