//! Field values attached to objects (`FIELD name value`), typed as in Tile38 1.30+: numbers,
//! strings, booleans and JSON. A zero number or an empty string means "unset", so setting a
//! field to 0 removes it, as in Tile38.

use std::collections::BTreeMap;

use compact_str::CompactString;

/// One field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Num(f64),
    Bool(bool),
    Str(Box<str>),
    /// A JSON object or array, kept as its text.
    Json(Box<str>),
}

impl FieldValue {
    /// Types a value the way Tile38's `field.ValueOf` does: a number if it parses as one,
    /// `true`/`false` as booleans, a JSON object/array if it is valid JSON, else a string.
    pub fn parse(text: &str) -> FieldValue {
        if let Some(n) = parse_number(text) {
            return FieldValue::Num(n);
        }
        match text {
            "true" => return FieldValue::Bool(true),
            "false" => return FieldValue::Bool(false),
            _ => {}
        }
        let trimmed = text.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        {
            return FieldValue::Json(text.into());
        }
        FieldValue::Str(text.into())
    }

    /// True for values that mean "unset" (0 and the empty string).
    pub fn is_zero(&self) -> bool {
        match self {
            FieldValue::Num(n) => *n == 0.0,
            FieldValue::Str(s) => s.is_empty(),
            _ => false,
        }
    }

    /// The canonical text form (what the AOF stores and RESP returns).
    pub fn to_text(&self) -> String {
        match self {
            FieldValue::Num(n) => format_number(*n),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Str(s) | FieldValue::Json(s) => s.to_string(),
        }
    }

    /// The number used by `WHERE min max`: numbers themselves, booleans as 0/1, strings that do
    /// not parse as 0.
    pub fn as_number(&self) -> f64 {
        match self {
            FieldValue::Num(n) => *n,
            FieldValue::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }
    }

    /// Approximate heap bytes, for STATS `in_memory_size`.
    pub fn heap_size(&self) -> usize {
        match self {
            FieldValue::Str(s) | FieldValue::Json(s) => s.len(),
            _ => 0,
        }
    }
}

/// Parses a decimal number as Tile38 does (`strconv.ParseFloat`, plus `inf` forms).
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let first = t.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b'i' | b'I')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| !n.is_nan())
}

/// Shortest decimal form of a number without exponent notation (`90`, `33.5123`).
pub fn format_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    format!("{n}")
}

/// An object's fields, sorted by name; at most one entry per name and never a zero value.
/// A boxed slice (two words, no spare capacity): objects are many and fields rarely change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Box<[(CompactString, FieldValue)]>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields(Box::default())
    }

    /// Sets (or, for a zero value, removes) one field. Returns true if anything changed.
    pub fn set(&mut self, name: &str, value: FieldValue) -> bool {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_zero() => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.remove(i);
                self.0 = v.into_boxed_slice();
                true
            }
            Ok(i) => {
                let changed = self.0[i].1 != value;
                self.0[i].1 = value;
                changed
            }
            Err(_) if value.is_zero() => false,
            Err(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.insert(i, (CompactString::from(name), value));
                self.0 = v.into_boxed_slice();
                true
            }
        }
    }

    /// The value of one field.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of set fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, for the store's borrowed views.
    pub(crate) fn entries(&self) -> &[(CompactString, FieldValue)] {
        &self.0
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.0
            .iter()
            .map(|(n, v)| {
                std::mem::size_of::<(CompactString, FieldValue)>() + n.len() + v.heap_size()
            })
            .sum()
    }
}

/// A collection's field names: each name stored once, with how many objects carry it.
/// Compact objects refer to a name by its number, so the number of a name never changes
/// (a name whose count drops to 0 keeps its number; distinct names are few).
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<CompactString>,
    refs: Vec<u32>,
    by_name: BTreeMap<CompactString, u32>,
}

impl Names {
    /// The number of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(CompactString::from(name));
        self.refs.push(0);
        self.by_name.insert(CompactString::from(name), i);
        i
    }

    /// The name numbered `i`.
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    /// Counts one more (`add`) or one fewer object carrying `name`.
    pub fn count(&mut self, name: &str, add: bool) {
        let i = self.intern(name);
        self.count_number(i, add);
    }

    /// Counts one more (`add`) or one fewer object carrying the name numbered `i`.
    pub fn count_number(&mut self, i: u32, add: bool) {
        let i = i as usize;
        if add {
            self.refs[i] += 1;
        } else {
            self.refs[i] = self.refs[i].saturating_sub(1);
        }
    }

    /// Names carried by at least one object, sorted.
    pub fn live(&self) -> impl Iterator<Item = &str> {
        self.by_name
            .iter()
            .filter(|(_, &i)| self.refs[i as usize] > 0)
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_like_tile38() {
        assert_eq!(FieldValue::parse("90"), FieldValue::Num(90.0));
        assert_eq!(FieldValue::parse("-1.5"), FieldValue::Num(-1.5));
        assert_eq!(FieldValue::parse("true"), FieldValue::Bool(true));
        assert_eq!(FieldValue::parse("Andy"), FieldValue::Str("Andy".into()));
        assert_eq!(
            FieldValue::parse("{\"a\":1}"),
            FieldValue::Json("{\"a\":1}".into())
        );
        assert_eq!(FieldValue::parse("{bad"), FieldValue::Str("{bad".into()));
        assert_eq!(FieldValue::parse("nan"), FieldValue::Str("nan".into()));
    }

    #[test]
    fn zero_unsets_and_names_stay_sorted() {
        let mut f = Fields::new();
        assert!(f.set("wheels", FieldValue::Num(18.0)));
        assert!(f.set("speed", FieldValue::Num(45.0)));
        assert!(!f.set("speed", FieldValue::Num(45.0)));
        let names: Vec<_> = f.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["speed", "wheels"]);
        assert!(f.set("speed", FieldValue::Num(0.0)));
        assert_eq!(f.get("speed"), None);
        assert!(!f.set("nothing", FieldValue::Num(0.0)));
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn numbers_format_without_exponent() {
        assert_eq!(format_number(90.0), "90");
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(1e21), "1000000000000000000000");
    }
}
