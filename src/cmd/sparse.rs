//! SPARSE, walked in steps like the other searches (`super::walk`): the area's bounding box
//! is split into quadrants `depth` times (north-west, north-east, south-west, south-east,
//! Tile38's order), and each cell contributes the first object in index order that passes
//! the area test and was not taken from an earlier cell. As in Tile38, MATCH/WHERE are
//! applied afterwards (by the walk's sink), so a cell whose first object fails them
//! contributes nothing. A step handles cells until it has walked `budget` cells and index
//! entries, and the next step goes on at the next cell: no id is reported twice (the ids
//! taken are kept), and each cell is read in one hold. Pure: no locks, no IO.

use std::collections::HashSet;
use std::ops::ControlFlow;

use crate::geo::{distance_to, Area, Rect};
use crate::store::walk::{Budget, Step};
use crate::store::{Collection, ObjRef};

/// Where a SPARSE walk stands.
pub struct SparseWalk {
    area: Area,
    within: bool,
    /// NEARBY … DISTANCE: report each hit's distance from this point.
    distance_from: Option<(f64, f64)>,
    cells: Vec<Rect>,
    next: usize,
    /// Ids taken from earlier cells (at most one a cell, 4^8 at most).
    taken: HashSet<String>,
}

impl SparseWalk {
    /// The walk of `area` (WITHIN when `within`, else INTERSECTS) split `depth` times.
    pub fn new(area: Area, within: bool, depth: u8, distance_from: Option<(f64, f64)>) -> Self {
        let mut cells = vec![area.bbox()];
        for _ in 0..depth {
            cells = cells.iter().flat_map(quadrants).collect();
        }
        SparseWalk {
            area,
            within,
            distance_from,
            cells,
            next: 0,
            taken: HashSet::new(),
        }
    }

    /// Back to the first cell (a walk that starts over).
    pub fn restart(&mut self) {
        self.next = 0;
        self.taken.clear();
    }

    /// Handles cells until `budget` cells and index entries were walked, calling `f` with
    /// each cell's pick and its distance (when asked for).
    pub fn step<'a, 'b>(
        &mut self,
        col: &'a Collection,
        budget: impl Into<Budget<'b>>,
        now_ms: i64,
        mut f: impl FnMut(&'a str, ObjRef<'a>, Option<f64>) -> ControlFlow<()>,
    ) -> Step {
        let (mut budget, mut walked) = (budget.into(), 0usize);
        while let Some(cell) = self.cells.get(self.next) {
            if budget.spent(walked) {
                return Step::More;
            }
            self.next += 1;
            walked += 1;
            let (area, within, taken) = (&self.area, self.within, &self.taken);
            let pick = col
                .intersecting(cell)
                .inspect(|_| walked += 1)
                .filter(|(id, _)| !taken.contains(*id))
                .find(|(_, o)| {
                    !o.is_expired(now_ms)
                        && o.geometry().is_some_and(|g| match within {
                            true => area.contains(&g),
                            false => area.intersects(&g),
                        })
                });
            let Some((id, obj)) = pick else {
                continue;
            };
            self.taken.insert(id.to_string());
            let distance = self
                .distance_from
                .and_then(|(lat, lon)| obj.geometry().map(|g| distance_to(lat, lon, &g)));
            if f(id, obj, distance).is_break() {
                return Step::Done;
            }
        }
        Step::Done
    }
}

/// The four quadrants of a rectangle, north-west first, then north-east, south-west,
/// south-east.
fn quadrants(r: &Rect) -> [Rect; 4] {
    let (mid_lat, mid_lon) = (
        r.min_lat + (r.max_lat - r.min_lat) / 2.0,
        r.min_lon + (r.max_lon - r.min_lon) / 2.0,
    );
    let rect = |min_lat, min_lon, max_lat, max_lon| Rect {
        min_lat,
        min_lon,
        max_lat,
        max_lon,
    };
    [
        rect(mid_lat, r.min_lon, r.max_lat, mid_lon),
        rect(mid_lat, mid_lon, r.max_lat, r.max_lon),
        rect(r.min_lat, r.min_lon, mid_lat, mid_lon),
        rect(r.min_lat, mid_lon, mid_lat, r.max_lon),
    ]
}
