//! How one object is stored, and the borrowed view of it that readers get.
//!
//! Owns the compact representation: a plain point with at most one numeric field and no
//! expiry (the common case by far) is 32 bytes inline, with the field's name as a number in the
//! collection's [`Names`]; anything else is a boxed [`Object`]. Must not know ids' order, the
//! index or the digest.

use std::borrow::Cow;
use std::num::NonZeroU64;

use super::field::{FieldValue, Fields, Names};
use super::id::Id;
use super::object::{Body, Object};
use crate::geo::{Geometry, Rect};

/// One slab slot (40 bytes): an id, whose tag is 1 + the number of a compact point's field
/// name (0 for none), and what it holds.
#[derive(Debug, Default)]
pub struct Slot {
    pub id: Id,
    pub data: Data,
}

/// The bits of a NaN, which no stored latitude has.
const NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

/// A latitude kept as its bits xor a NaN's: never zero for a real number, and that spare
/// value lets [`Data`] tell its variants apart without a separate 8-byte tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lat(NonZeroU64);

impl Lat {
    fn new(lat: f64) -> Option<Lat> {
        NonZeroU64::new(lat.to_bits() ^ NAN_BITS).map(Lat)
    }

    fn get(self) -> f64 {
        f64::from_bits(self.0.get() ^ NAN_BITS)
    }
}

/// A slot's content (24 bytes).
#[derive(Debug)]
pub enum Data {
    /// A 2D point with at most one numeric field (value `num`, name in the id's tag).
    Point { lat: Lat, lon: f64, num: f64 },
    /// Everything else.
    Boxed(Box<Object>),
}

impl Default for Data {
    /// What a free slot holds.
    fn default() -> Data {
        Data::Point {
            lat: Lat::new(0.0).expect("0 is not NaN"),
            lon: 0.0,
            num: 0.0,
        }
    }
}

impl Data {
    /// Stores `obj` compactly when it can, interning its field name. Returns the id tag and
    /// the data.
    pub fn store(obj: Object, names: &mut Names) -> (u16, Data) {
        let Body::Geo(Geometry::Point { lat, lon }) = obj.body else {
            return (0, Data::Boxed(Box::new(obj)));
        };
        let lat_bits = Lat::new(lat);
        if obj.expires_at_ms != 0 || obj.fields.len() > 1 || lat_bits.is_none() {
            return (0, Data::Boxed(Box::new(obj)));
        }
        let field = match obj.fields.iter().next() {
            None => Some((0, 0.0)),
            Some((name, FieldValue::Num(num))) => u16::try_from(names.intern(name) + 1)
                .ok()
                .map(|tag| (tag, *num)),
            Some(_) => None,
        };
        match (field, lat_bits) {
            (Some((tag, num)), Some(lat)) => (tag, Data::Point { lat, lon, num }),
            _ => (0, Data::Boxed(Box::new(obj))),
        }
    }
}

/// A borrowed stored object.
#[derive(Debug, Clone, Copy)]
pub struct ObjRef<'a> {
    data: &'a Data,
    /// The id's tag: 1 + the field name's number, for compact points.
    field: u16,
    /// The slab handle the object lives at ([`NO_HANDLE`] for data outside the slab); fits in
    /// the padding after `field`, so the view stays 24 bytes.
    handle: u32,
    names: &'a Names,
}

/// The handle of an [`ObjRef`] that does not view a slab slot (an object being replaced or
/// removed).
pub const NO_HANDLE: u32 = u32::MAX;

impl<'a> ObjRef<'a> {
    pub(super) fn new(data: &'a Data, field: u16, names: &'a Names) -> ObjRef<'a> {
        ObjRef {
            data,
            field,
            handle: NO_HANDLE,
            names,
        }
    }

    /// The same view, marked as living at slab handle `h`.
    pub(super) fn at(self, h: u32) -> ObjRef<'a> {
        ObjRef { handle: h, ..self }
    }

    /// The slab handle of the object, for [`super::Collection::same_object`]: a streamed
    /// search keeps the handle instead of the object and looks it up again later.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// The body (owned only for compact points, which cost nothing to build).
    pub fn body(&self) -> Cow<'a, Body> {
        match self.data {
            Data::Boxed(o) => Cow::Borrowed(&o.body),
            &Data::Point { lat, lon, .. } => Cow::Owned(Body::Geo(Geometry::Point {
                lat: lat.get(),
                lon,
            })),
        }
    }

    /// The value of a STRING object (None for spatial objects).
    pub fn as_str(&self) -> Option<&'a str> {
        match self.data {
            Data::Boxed(o) => match &o.body {
                Body::Str(s) => Some(s),
                Body::Geo(_) => None,
            },
            Data::Point { .. } => None,
        }
    }

    /// The geometry of a spatial object.
    pub fn geometry(&self) -> Option<Cow<'a, Geometry>> {
        match self.data {
            Data::Boxed(o) => o.geometry().map(Cow::Borrowed),
            &Data::Point { lat, lon, .. } => Some(Cow::Owned(Geometry::Point {
                lat: lat.get(),
                lon,
            })),
        }
    }

    /// The bounding box of a spatial object.
    pub fn bbox(&self) -> Option<Rect> {
        match self.data {
            Data::Boxed(o) => o.bbox(),
            &Data::Point { lat, lon, .. } => Some(Rect::point(lat.get(), lon)),
        }
    }

    /// The fields.
    pub fn fields(&self) -> FieldsRef<'a> {
        match self.data {
            Data::Boxed(o) => FieldsRef::Many(&o.fields),
            Data::Point { .. } if self.field == 0 => FieldsRef::None,
            &Data::Point { num, .. } => {
                FieldsRef::One(self.names.name(u32::from(self.field) - 1), num)
            }
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
        assert_eq!(std::mem::size_of::<Data>(), 24);
        assert_eq!(std::mem::size_of::<Slot>(), 40);
    }

    #[test]
    fn compact_and_boxed_read_the_same() {
        let mut names = Names::default();
        let mut o = Object::geo(Geometry::point(33.5, -112.25, None).unwrap());
        o.fields.set("speed", FieldValue::Num(45.0));
        let (tag, compact) = Data::store(o.clone(), &mut names);
        assert!(matches!(compact, Data::Point { .. }));
        let boxed = Data::Boxed(Box::new(o.clone()));
        for (d, tag) in [(&compact, tag), (&boxed, 0)] {
            let r = ObjRef::new(d, tag, &names);
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
        assert!(matches!(Data::store(o, &mut names), (0, Data::Boxed(_))));
        let nan = Object::geo(Geometry::Point {
            lat: f64::NAN,
            lon: 0.0,
        });
        assert!(matches!(Data::store(nan, &mut names), (0, Data::Boxed(_))));
        let plain = Object::geo(Geometry::point(-0.0, 0.0, None).unwrap());
        let (tag, d) = Data::store(plain.clone(), &mut names);
        assert_eq!(ObjRef::new(&d, tag, &names).to_object(), plain);
    }
}
