//! The field filters of searches, with Tile38 1.30+ semantics: `WHERE field min max` over typed
//! values (`(` exclusive, `-inf`/`+inf`, strings), `WHERE field <op> value`, `WHERE "expr"`
//! (evaluated by [`super::expr`]), `WHEREIN field count v1 v2 …` and the parsing of
//! `WHEREEVAL`/`WHEREEVALSHA` (run by [`crate::script`]). Owns their parsing and the typed
//! comparison; knows nothing of search areas or output.
//!
//! Values compare as Tile38's `field.Value` does: first by kind, in the order
//! `null < false < number < string < true < JSON`, then numbers by value and strings
//! ASCII-case-insensitively; two values are equal when neither is less. A missing field is
//! the number 0, and `z` is the z coordinate of a point (0 otherwise).

use std::cmp::Ordering;

use super::args::Args;
use super::expr::{self, Expr, Resolver, Val};
use crate::error::{CmdError, CmdResult};
use crate::script::{FieldArg, FieldSource};
use crate::store::{Body, FieldValue, ObjRef};

/// A typed value, as Tile38's `field.ValueOf` reads an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Null,
    False,
    Num(f64),
    Str(String),
    True,
    Json(String),
}

impl Typed {
    /// Reads an argument: a JSON number (or `inf`/`nan` words) is a number, other valid JSON is
    /// its own kind (a JSON string gives its text), anything else is a string.
    pub fn parse(text: &str) -> Typed {
        let t = text.trim();
        if let Some(n) = special_number(t) {
            return Typed::Num(n);
        }
        match serde_json::from_str::<serde_json::Value>(t) {
            Ok(serde_json::Value::Number(n)) => Typed::Num(n.as_f64().unwrap_or(f64::NAN)),
            Ok(serde_json::Value::Null) => Typed::Null,
            Ok(serde_json::Value::Bool(true)) => Typed::True,
            Ok(serde_json::Value::Bool(false)) => Typed::False,
            Ok(serde_json::Value::String(s)) => {
                special_number(&s).map_or(Typed::Str(s), Typed::Num)
            }
            Ok(other) => Typed::Json(other.to_string()),
            Err(_) => Typed::Str(t.to_string()),
        }
    }

    fn of_field(v: &FieldValue) -> Typed {
        match v {
            FieldValue::Num(n) => Typed::Num(*n),
            FieldValue::Bool(true) => Typed::True,
            FieldValue::Bool(false) => Typed::False,
            FieldValue::Str(s) => Typed::Str(s.to_string()),
            FieldValue::Json(j) => Typed::Json(j.to_string()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Typed::Null => 0,
            Typed::False => 1,
            Typed::Num(_) => 2,
            Typed::Str(_) => 3,
            Typed::True => 4,
            Typed::Json(_) => 5,
        }
    }

    fn less(&self, other: &Typed) -> bool {
        match (self, other) {
            (Typed::Num(a), Typed::Num(b)) => a < b,
            (Typed::Str(a), Typed::Str(b)) => expr::cmp_nocase(a, b) == Ordering::Less,
            (Typed::Json(a), Typed::Json(b)) => a < b,
            _ => self.rank() < other.rank(),
        }
    }

    fn equals(&self, other: &Typed) -> bool {
        !self.less(other) && !other.less(self)
    }
}

/// `inf`, `+Infinity`, `-inf`, `NaN` and the like (Go's ParseFloat words), which are numbers
/// although not JSON.
fn special_number(t: &str) -> Option<f64> {
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        _ => None,
    }
}

/// The comparison of `WHERE field <op> value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// One WHERE clause.
#[derive(Debug, Clone)]
pub enum Where {
    /// `WHERE field min max`.
    Range {
        field: String,
        min: Typed,
        min_exclusive: bool,
        max: Typed,
        max_exclusive: bool,
    },
    /// `WHERE field <op> value`.
    Cmp {
        field: String,
        op: CmpOp,
        value: Typed,
    },
    /// `WHERE "expression"`.
    Expr(Expr),
}

/// One `WHEREIN field count v1 … vn` clause.
#[derive(Debug, Clone)]
pub struct WhereIn {
    pub field: String,
    pub values: Vec<Typed>,
}

/// One `WHEREEVAL script numargs arg…` or `WHEREEVALSHA sha1 numargs arg…` as parsed;
/// `SearchOpts::validate` compiles it (`crate::script`).
#[derive(Debug, Clone)]
pub struct WhereEval {
    pub script: String,
    pub is_sha: bool,
    pub args: Vec<String>,
}

impl WhereEval {
    /// Parses the arguments after `WHEREEVAL` (or `WHEREEVALSHA`).
    pub fn parse(a: &mut Args, is_sha: bool) -> CmdResult<WhereEval> {
        let script = a.next_str()?.to_string();
        let n = a.next_str()?;
        if script.is_empty() || n.is_empty() {
            return Err(a.arity_error());
        }
        let count: usize = n.parse().map_err(|_| CmdError::InvalidArg(n.into()))?;
        if count > a.remaining() {
            // Checked before allocating: the count comes from the client.
            return Err(a.arity_error());
        }
        let mut args = Vec::with_capacity(count);
        for _ in 0..count {
            let arg = a.next_str()?;
            if arg.is_empty() {
                return Err(a.arity_error());
            }
            args.push(arg.to_string());
        }
        Ok(WhereEval {
            script,
            is_sha,
            args,
        })
    }
}

/// An object's fields as a WHEREEVAL script sees them (`FIELDS`): JSON values as their text.
pub struct ScriptFields<'a>(pub ObjRef<'a>);

impl FieldSource for ScriptFields<'_> {
    fn each(&self, visit: &mut dyn FnMut(&str, FieldArg<'_>)) {
        for (name, value) in self.0.fields().iter() {
            match &*value {
                FieldValue::Num(n) => visit(name, FieldArg::Num(*n)),
                FieldValue::Bool(b) => visit(name, FieldArg::Bool(*b)),
                FieldValue::Str(s) | FieldValue::Json(s) => visit(name, FieldArg::Str(s)),
            }
        }
    }
}

/// Tile38's test for the expression form: a lone argument, or one whose next argument begins
/// with a letter (an option keyword, not a bound) other than `inf`.
fn is_expression(a: &Args) -> bool {
    match a.remaining() {
        0 => false,
        1 => true,
        _ => {
            let next = a.peek_at(1).unwrap_or("");
            if next.is_empty() {
                return a.remaining() == 2;
            }
            next.as_bytes()[0].is_ascii_alphabetic() && !next.eq_ignore_ascii_case("inf")
        }
    }
}

impl Where {
    /// Parses the arguments after `WHERE`.
    pub fn parse(a: &mut Args) -> CmdResult<Where> {
        if is_expression(a) {
            let text = a.next_str()?;
            let e = Expr::parse(text).map_err(|_| CmdError::InvalidArg(text.into()))?;
            return Ok(Where::Expr(e));
        }
        let field = a.next_str()?.to_string();
        // Tile38 lower-cases both bounds (string comparisons ignore case anyway).
        let min = a.next_str()?.to_ascii_lowercase();
        let mut max = a.next_str()?.to_ascii_lowercase();
        let op = match min.as_str() {
            "<" => Some(CmpOp::Lt),
            "<=" => Some(CmpOp::Le),
            ">" => Some(CmpOp::Gt),
            ">=" => Some(CmpOp::Ge),
            "==" => Some(CmpOp::Eq),
            "!=" => Some(CmpOp::Ne),
            _ => None,
        };
        if let Some(op) = op {
            let value = Typed::parse(&max);
            return Ok(Where::Cmp { field, op, value });
        }
        let (min_exclusive, min) = match min.strip_prefix('(') {
            Some(rest) => (true, rest.to_string()),
            None => (false, min),
        };
        let max_exclusive = max.starts_with('(');
        if max_exclusive {
            max.remove(0);
        }
        Ok(Where::Range {
            field,
            min: Typed::parse(&min),
            min_exclusive,
            max: Typed::parse(&max),
            max_exclusive,
        })
    }

    /// True when the object passes the clause.
    pub fn matches(&self, id: &str, obj: ObjRef<'_>) -> bool {
        match self {
            Where::Range {
                field,
                min,
                min_exclusive,
                max,
                max_exclusive,
            } => {
                let v = field_typed(obj, field);
                let above = if *min_exclusive {
                    min.less(&v)
                } else {
                    !v.less(min)
                };
                let below = if *max_exclusive {
                    v.less(max)
                } else {
                    !max.less(&v)
                };
                above && below
            }
            Where::Cmp { field, op, value } => {
                let v = field_typed(obj, field);
                match op {
                    CmpOp::Lt => v.less(value),
                    CmpOp::Le => !value.less(&v),
                    CmpOp::Gt => value.less(&v),
                    CmpOp::Ge => !v.less(value),
                    CmpOp::Eq => v.equals(value),
                    CmpOp::Ne => !v.equals(value),
                }
            }
            Where::Expr(e) => e.matches(&ObjectRef { id, obj }),
        }
    }
}

impl WhereIn {
    /// Parses the arguments after `WHEREIN`.
    pub fn parse(a: &mut Args) -> CmdResult<WhereIn> {
        let field = a.next_str()?.to_string();
        let n = a.next_str()?;
        let count: usize = n.parse().map_err(|_| CmdError::InvalidArg(n.into()))?;
        if count > a.remaining() {
            // Checked before allocating: the count comes from the client.
            return Err(a.arity_error());
        }
        let values = (0..count)
            .map(|_| a.next_str().map(Typed::parse))
            .collect::<CmdResult<Vec<_>>>()?;
        Ok(WhereIn { field, values })
    }

    /// True when the field equals one of the values.
    pub fn matches(&self, obj: ObjRef<'_>) -> bool {
        let v = field_typed(obj, &self.field);
        self.values.iter().any(|x| x.equals(&v))
    }
}

/// A field's typed value: `z` is the point's z coordinate, a missing field is 0.
fn field_typed(obj: ObjRef<'_>, name: &str) -> Typed {
    if name == "z" {
        return Typed::Num(obj.geometry().and_then(|g| g.z()).unwrap_or(0.0));
    }
    obj.fields()
        .get(name)
        .map_or(Typed::Num(0.0), |f| Typed::of_field(&f))
}

/// Resolves expression identifiers for one object the way Tile38 does: a top-level member of
/// the object's GeoJSON (e.g. a Feature's `properties`), then `id`, `type`, a field, else 0.
struct ObjectRef<'a> {
    id: &'a str,
    obj: ObjRef<'a>,
}

impl Resolver for ObjectRef<'_> {
    fn root(&self, name: &str) -> Val {
        if let Some(v) = self.geojson_member(name) {
            return v;
        }
        match name {
            "id" => Val::Str(self.id.to_string()),
            "type" => geometry_type(self.obj).map_or(Val::Undef, |t| Val::Str(t.to_string())),
            _ => match self.obj.fields().get(name).as_deref() {
                Some(FieldValue::Num(n)) => Val::Num(*n),
                Some(FieldValue::Bool(b)) => Val::Bool(*b),
                Some(FieldValue::Str(s)) => Val::Str(s.to_string()),
                Some(FieldValue::Json(j)) => serde_json::from_str(j)
                    .map(|j| expr::from_json(&j))
                    .unwrap_or(Val::Undef),
                None => Val::Num(0.0),
            },
        }
    }
}

impl ObjectRef<'_> {
    fn geojson_member(&self, name: &str) -> Option<Val> {
        let body = self.obj.body();
        let Body::Geo(crate::geo::Geometry::Object(o)) = &*body else {
            return None;
        };
        // Members other than the geometry itself; the substring test avoids parsing the
        // object's JSON for the usual field names.
        if matches!(
            name,
            "type" | "coordinates" | "geometry" | "geometries" | "features"
        ) || !o.json.contains(&format!("\"{name}\""))
        {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&o.json).ok()?;
        doc.get(name).map(expr::from_json)
    }
}

/// The GeoJSON type Tile38 reports for an object (rectangles and circles are polygons).
fn geometry_type(obj: ObjRef<'_>) -> Option<&'static str> {
    use crate::geo::Geometry as G;
    let g = obj.geometry()?;
    Some(match &*g {
        G::Point { .. } | G::PointZ { .. } => "Point",
        G::Bounds(_) => "Polygon",
        G::Object(o) => {
            let head = &o.json[..o.json.len().min(40)];
            [
                "FeatureCollection",
                "Feature",
                "GeometryCollection",
                "MultiPolygon",
                "MultiLineString",
                "MultiPoint",
                "LineString",
                "Polygon",
                "Point",
            ]
            .into_iter()
            .find(|t| head.contains(&format!("\"type\":\"{t}\"")))
            .unwrap_or("Feature")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_like_tile38() {
        assert_eq!(Typed::parse("10"), Typed::Num(10.0));
        assert_eq!(Typed::parse("-inf"), Typed::Num(f64::NEG_INFINITY));
        assert_eq!(Typed::parse("+Inf"), Typed::Num(f64::INFINITY));
        assert_eq!(Typed::parse("abc"), Typed::Str("abc".into()));
        assert_eq!(Typed::parse("\"abc\""), Typed::Str("abc".into()));
        assert_eq!(Typed::parse("true"), Typed::True);
        assert_eq!(Typed::parse("null"), Typed::Null);
        assert_eq!(Typed::parse("[1, 2]"), Typed::Json("[1,2]".into()));
        // Not JSON numbers: strings, as in Tile38.
        assert_eq!(Typed::parse("007"), Typed::Str("007".into()));
    }

    #[test]
    fn kinds_order_then_values() {
        let order = [
            Typed::Null,
            Typed::False,
            Typed::Num(-1.0),
            Typed::Num(5.0),
            Typed::Str("apple".into()),
            Typed::Str("Banana".into()),
            Typed::True,
            Typed::Json("{}".into()),
        ];
        for w in order.windows(2) {
            assert!(w[0].less(&w[1]) && !w[1].less(&w[0]), "{w:?}");
        }
        assert!(Typed::Str("ABC".into()).equals(&Typed::Str("abc".into())));
    }
}
