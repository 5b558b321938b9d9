//! One stored object: its body (a geometry or a string), its fields and its absolute expiry.

use super::field::Fields;
use crate::geo::{Geometry, Rect};

/// What an object holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A spatial object, indexed in the R-tree.
    Geo(Geometry),
    /// A `STRING` value: not spatial, found by SEARCH.
    Str(Box<str>),
}

/// A stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub body: Body,
    pub fields: Fields,
    /// Absolute expiry in Unix milliseconds; 0 means never.
    pub expires_at_ms: i64,
}

impl Object {
    /// A spatial object without fields or expiry.
    pub fn geo(geometry: Geometry) -> Object {
        Object {
            body: Body::Geo(geometry),
            fields: Fields::new(),
            expires_at_ms: 0,
        }
    }

    /// A string object without fields or expiry.
    pub fn string(value: &str) -> Object {
        Object {
            body: Body::Str(value.into()),
            fields: Fields::new(),
            expires_at_ms: 0,
        }
    }

    /// The bounding box of a spatial object.
    pub fn bbox(&self) -> Option<Rect> {
        match &self.body {
            Body::Geo(g) => Some(g.bbox()),
            Body::Str(_) => None,
        }
    }

    /// The geometry of a spatial object.
    pub fn geometry(&self) -> Option<&Geometry> {
        match &self.body {
            Body::Geo(g) => Some(g),
            Body::Str(_) => None,
        }
    }

    /// True when the object has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }

    /// The object as JSON text: GeoJSON for spatial objects, a JSON string for strings.
    pub fn to_json(&self) -> String {
        match &self.body {
            Body::Geo(g) => g.geojson_string(),
            Body::Str(s) => serde_json::Value::String(s.to_string()).to_string(),
        }
    }

    /// Approximate bytes used, for STATS `in_memory_size`.
    pub fn mem_size(&self, id_len: usize) -> usize {
        let body = match &self.body {
            Body::Geo(Geometry::Object(o)) => o.json.len() + o.num_points * 16,
            Body::Geo(_) => 0,
            Body::Str(s) => s.len(),
        };
        std::mem::size_of::<Object>() + id_len + body + self.fields.heap_size()
    }
}
