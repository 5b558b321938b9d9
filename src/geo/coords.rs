//! GeoJSON coordinate arrays: validating positions, LineStrings and Polygon rings (Tile38's
//! rules plus a latitude/longitude range check), rendering them back as compact text with
//! [`fmt_coord`], and turning them into bounding boxes and `geo` shapes.

use geo::{Coord, LineString, Polygon};
use serde_json::Value;

use super::{fmt_coord, invalid_coordinates, valid_lat, valid_lon, GeoError, Rect};

/// One position: x = lon, y = lat, and up to two extra values (z, m).
#[derive(Clone, Copy)]
pub(super) struct Pos {
    pub x: f64,
    pub y: f64,
    pub extra: [f64; 2],
    /// How many of `extra` were given.
    pub dims: usize,
}

impl Pos {
    pub fn coord(&self) -> Coord<f64> {
        Coord {
            x: self.x,
            y: self.y,
        }
    }
}

/// The elements of a JSON array; `invalid coordinates` for anything else.
pub(super) fn items(v: &Value) -> Result<&[Value], GeoError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(invalid_coordinates)
}

/// One position: 2 to 4 numbers (more are ignored, as Tile38 does), lon/lat in range.
pub(super) fn position(v: &Value) -> Result<Pos, GeoError> {
    let mut nums = [0.0; 4];
    let mut count = 0;
    for item in items(v)?.iter().take(4) {
        nums[count] = item.as_f64().ok_or_else(invalid_coordinates)?;
        count += 1;
    }
    if count < 2 || !valid_lon(nums[0]) || !valid_lat(nums[1]) {
        return Err(invalid_coordinates());
    }
    if !nums[2..count].iter().all(|n| n.is_finite()) {
        return Err(invalid_coordinates());
    }
    Ok(Pos {
        x: nums[0],
        y: nums[1],
        extra: [nums[2], nums[3]],
        dims: count - 2,
    })
}

fn positions(v: &Value) -> Result<Vec<Pos>, GeoError> {
    items(v)?.iter().map(position).collect()
}

/// A LineString's positions: at least two.
pub(super) fn line(v: &Value) -> Result<Vec<Pos>, GeoError> {
    let ps = positions(v)?;
    if ps.len() < 2 {
        return Err(invalid_coordinates());
    }
    Ok(ps)
}

/// A Polygon's rings: at least one, each closed with at least four positions.
pub(super) fn rings(v: &Value) -> Result<Vec<Vec<Pos>>, GeoError> {
    let rings = items(v)?
        .iter()
        .map(positions)
        .collect::<Result<Vec<_>, _>>()?;
    if rings.is_empty() {
        return Err(invalid_coordinates());
    }
    for ring in &rings {
        let closed = match (ring.first(), ring.last()) {
            (Some(first), Some(last)) => first.x == last.x && first.y == last.y,
            _ => false,
        };
        if ring.len() < 4 || !closed {
            return Err(invalid_coordinates());
        }
    }
    Ok(rings)
}

pub(super) fn write_pos(out: &mut String, p: &Pos, dims: usize) {
    out.push('[');
    fmt_coord(p.x, out);
    out.push(',');
    fmt_coord(p.y, out);
    for i in 0..dims {
        out.push(',');
        fmt_coord(if i < p.dims { p.extra[i] } else { 0.0 }, out);
    }
    out.push(']');
}

/// Writes positions with the dimension count of the first one (Tile38 keeps one count per
/// series: later positions are padded with 0 or cut to match).
pub(super) fn write_series(out: &mut String, ps: &[Pos], dims: usize) {
    out.push('[');
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_pos(out, p, dims);
    }
    out.push(']');
}

pub(super) fn write_rings(out: &mut String, rings: &[Vec<Pos>]) {
    let dims = rings[0][0].dims;
    out.push('[');
    for (i, ring) in rings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_series(out, ring, dims);
    }
    out.push(']');
}

/// Writes `[a,b,...]` calling `each` for every item.
pub(super) fn write_list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

pub(super) fn bbox_of<'a>(ps: impl IntoIterator<Item = &'a Pos>) -> Option<Rect> {
    ps.into_iter().fold(None, |acc: Option<Rect>, p| {
        let r = Rect::point(p.y, p.x);
        Some(acc.map_or(r, |a| a.union(&r)))
    })
}

pub(super) fn union_opt(a: Option<Rect>, b: Option<Rect>) -> Option<Rect> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.union(&b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn line_shape(ps: &[Pos]) -> LineString<f64> {
    LineString(ps.iter().map(Pos::coord).collect())
}

pub(super) fn polygon_shape(rings: &[Vec<Pos>]) -> Polygon<f64> {
    let holes = rings[1..].iter().map(|r| line_shape(r)).collect();
    Polygon::new(line_shape(&rings[0]), holes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn position_keeps_up_to_two_extras() {
        let p = position(&value("[1,2,3,4,5]")).unwrap();
        assert_eq!((p.x, p.y, p.extra, p.dims), (1.0, 2.0, [3.0, 4.0], 2));
        let p = position(&value("[-180,90]")).unwrap();
        assert_eq!((p.x, p.y, p.dims), (-180.0, 90.0, 0));
        for bad in [
            "[1]",
            "[]",
            "[1,null]",
            "[1,2,\"z\"]",
            "[181,0]",
            "[0,-90.5]",
            "{}",
            "3",
        ] {
            assert!(position(&value(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn series_render_with_first_dims() {
        let ps = line(&value("[[1.5,2,9],[3,4],[5,6,7,8]]")).unwrap();
        let mut out = String::new();
        write_series(&mut out, &ps, ps[0].dims);
        assert_eq!(out, "[[1.5,2,9],[3,4,0],[5,6,7]]");
        assert_eq!(
            bbox_of(&ps),
            Some(Rect {
                min_lat: 2.0,
                min_lon: 1.5,
                max_lat: 6.0,
                max_lon: 5.0
            })
        );
        assert!(line(&value("[[1,2]]")).is_err());
    }

    #[test]
    fn rings_must_be_closed_with_four_positions() {
        let rs = rings(&value("[[[0,0],[1,0],[1,1],[0,0]]]")).unwrap();
        let mut out = String::new();
        write_rings(&mut out, &rs);
        assert_eq!(out, "[[[0,0],[1,0],[1,1],[0,0]]]");
        let shape = polygon_shape(&rs);
        assert_eq!(shape.exterior().0.len(), 4);
        assert!(rings(&value("[[[0,0],[1,0],[1,1],[0,1]]]")).is_err());
        assert!(rings(&value("[[[0,0],[1,0],[0,0]]]")).is_err());
        assert!(rings(&value("[]")).is_err());
        assert!(rings(&value("[[]]")).is_err());
    }

    #[test]
    fn write_list_separates_items() {
        let mut out = String::new();
        write_list(&mut out, &[1, 2, 3], |o, n| o.push_str(&n.to_string()));
        assert_eq!(out, "[1,2,3]");
        write_list(&mut out, &[] as &[u8], |_, _| {});
        assert_eq!(out, "[1,2,3][]");
    }
}
