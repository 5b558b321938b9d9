//! Point location in a large polygonal search area: an R-tree (rstar) of the area's edges,
//! so that WITHIN/INTERSECTS of points in a polygon with many vertices (a country, a
//! coastline) costs a tree query per point instead of a pass over every edge (Tile38 builds
//! the same kind of index for polygons of 64 points or more, `T38IDXGEOM`; its users report
//! complex polygons as slow, tile38#291, #267).
//!
//! [`PointLocator::covers`] answers exactly what `geo`'s `Intersects<Point>` does for the
//! area's (multi)polygons: true inside or on the boundary of a polygon's exterior ring and
//! not strictly inside one of its holes, with `geo`'s robust orientation test, ring by ring
//! (so overlapping members or holes give `geo`'s answer too). Planar in lon/lat, as the
//! other shape predicates. [`LazyLocator`] builds the index only once a search has tested
//! [`BUILD_AFTER`] points against the area, so a TEST, or a search with few candidates,
//! does not pay for it. Owns its edges; pure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use geo::kernels::RobustKernel;
use geo::{Coord, Kernel, Orientation};
use rstar::{RTree, RTreeObject, AABB};

/// Areas with fewer edges than this are tested edge by edge (`geo`): the index does not pay.
pub const MIN_EDGES: usize = 64;

/// Point tests answered edge by edge before the index is built: building costs about as
/// much as this many such tests of a large polygon (n log n against n).
pub const BUILD_AFTER: u32 = 16;

/// The edge index of an area, built on its [`BUILD_AFTER`]-th point test.
pub struct LazyLocator {
    tests: AtomicU32,
    built: OnceLock<PointLocator>,
}

impl std::fmt::Debug for LazyLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyLocator")
            .field("built", &self.built.get())
            .finish()
    }
}

impl LazyLocator {
    /// For a Polygon or MultiPolygon of at least [`MIN_EDGES`] edges; None otherwise.
    pub fn new(g: &geo::Geometry<f64>) -> Option<LazyLocator> {
        polygons(g).map(|_| LazyLocator {
            tests: AtomicU32::new(0),
            built: OnceLock::new(),
        })
    }

    /// The index of `g` (the geometry this was made for), once enough points were tested.
    pub fn get(&self, g: &geo::Geometry<f64>) -> Option<&PointLocator> {
        if let Some(l) = self.built.get() {
            return Some(l);
        }
        if self.tests.fetch_add(1, Ordering::Relaxed) < BUILD_AFTER {
            return None;
        }
        let polygons = polygons(g)?;
        Some(self.built.get_or_init(|| PointLocator::build(&polygons)))
    }
}

/// The members of a Polygon or MultiPolygon of at least [`MIN_EDGES`] edges.
fn polygons(g: &geo::Geometry<f64>) -> Option<Vec<&geo::Polygon<f64>>> {
    let polygons: Vec<&geo::Polygon<f64>> = match g {
        geo::Geometry::Polygon(p) => vec![p],
        geo::Geometry::MultiPolygon(m) => m.iter().collect(),
        _ => return None,
    };
    let ring_len = |r: &geo::LineString<f64>| r.0.len();
    let count: usize = polygons
        .iter()
        .map(|p| ring_len(p.exterior()) + p.interiors().iter().map(ring_len).sum::<usize>())
        .sum();
    (count >= MIN_EDGES).then_some(polygons)
}

/// An edge of one ring of the area.
struct Edge {
    a: Coord<f64>,
    b: Coord<f64>,
    /// The ring, numbered across the whole area.
    ring: u32,
}

impl RTreeObject for Edge {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners([self.a.x, self.a.y], [self.b.x, self.b.y])
    }
}

/// A ring's role in its polygon.
#[derive(Clone, Copy)]
struct Ring {
    polygon: u32,
    hole: bool,
}

/// The edge index of a polygonal area.
pub struct PointLocator {
    edges: RTree<Edge>,
    rings: Vec<Ring>,
    polygons: usize,
    max_x: f64,
}

impl std::fmt::Debug for PointLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointLocator")
            .field("edges", &self.edges.size())
            .field("polygons", &self.polygons)
            .finish()
    }
}

impl PointLocator {
    /// The index of a Polygon or MultiPolygon with at least [`MIN_EDGES`] edges; None for
    /// other geometries (lines, points, collections) and small polygons.
    pub fn new(g: &geo::Geometry<f64>) -> Option<PointLocator> {
        polygons(g).map(|p| PointLocator::build(&p))
    }

    fn build(polygons: &[&geo::Polygon<f64>]) -> PointLocator {
        let (mut edges, mut rings) = (Vec::new(), Vec::new());
        let mut max_x = f64::NEG_INFINITY;
        for (i, p) in polygons.iter().enumerate() {
            let all = std::iter::once((p.exterior(), false))
                .chain(p.interiors().iter().map(|r| (r, true)));
            for (ring, hole) in all {
                let id = rings.len() as u32;
                rings.push(Ring {
                    polygon: i as u32,
                    hole,
                });
                for l in ring.lines() {
                    max_x = max_x.max(l.start.x).max(l.end.x);
                    edges.push(Edge {
                        a: l.start,
                        b: l.end,
                        ring: id,
                    });
                }
            }
        }
        PointLocator {
            edges: RTree::bulk_load(edges),
            rings,
            polygons: polygons.len(),
            max_x,
        }
    }

    /// Whether the point (x = longitude, y = latitude) is in the area or on its boundary.
    pub fn covers(&self, x: f64, y: f64) -> bool {
        let p = Coord { x, y };
        let here = AABB::from_point([x, y]);
        let on_edge = |e: &Edge| {
            RobustKernel::orient2d(e.a, e.b, p) == Orientation::Collinear
                && e.a.x.min(e.b.x) <= x
                && x <= e.a.x.max(e.b.x)
                && e.a.y.min(e.b.y) <= y
                && y <= e.a.y.max(e.b.y)
        };
        if self
            .edges
            .locate_in_envelope_intersecting(&here)
            .any(on_edge)
        {
            return true;
        }
        // Crossings of the ray east of the point, per ring (half-open in y, so a vertex on
        // the ray counts once); a ring is around the point when they are odd.
        let ray = AABB::from_corners([x, y], [self.max_x.max(x), y]);
        let mut odd: Vec<u32> = Vec::new();
        for e in self.edges.locate_in_envelope_intersecting(&ray) {
            if (e.a.y > y) == (e.b.y > y) {
                continue;
            }
            let side = RobustKernel::orient2d(e.a, e.b, p);
            let east = if e.b.y > e.a.y {
                side == Orientation::CounterClockwise
            } else {
                side == Orientation::Clockwise
            };
            if east {
                match odd.iter().position(|&r| r == e.ring) {
                    Some(i) => {
                        odd.swap_remove(i);
                    }
                    None => odd.push(e.ring),
                }
            }
        }
        self.inside(&odd)
    }

    /// Inside a polygon: inside its exterior ring and in none of its holes.
    fn inside(&self, odd: &[u32]) -> bool {
        let ring = |r: &u32| self.rings[*r as usize];
        odd.iter().map(ring).any(|outer| {
            !outer.hole
                && !odd
                    .iter()
                    .map(ring)
                    .any(|r| r.hole && r.polygon == outer.polygon)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Intersects;
    use proptest::prelude::*;

    /// A star-shaped ring of `n` vertices around (cx, cy) with radii from `radii`.
    fn star(cx: f64, cy: f64, radii: &[f64]) -> geo::LineString<f64> {
        let n = radii.len();
        let mut pts: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / n as f64;
                (cx + radii[i] * t.cos(), cy + radii[i] * t.sin())
            })
            .collect();
        pts.push(pts[0]);
        pts.into()
    }

    fn polygon_with_hole(radii: &[f64], hole: f64) -> geo::Polygon<f64> {
        let inner = star(0.0, 0.0, &[hole; 8]);
        geo::Polygon::new(star(0.0, 0.0, radii), vec![inner])
    }

    #[test]
    fn small_or_non_polygonal_areas_are_not_indexed() {
        let small = geo::Geometry::Polygon(polygon_with_hole(&[5.0; 10], 1.0));
        assert!(PointLocator::new(&small).is_none());
        let line = geo::Geometry::LineString(star(0.0, 0.0, &[5.0; 100]));
        assert!(PointLocator::new(&line).is_none());
        let big = geo::Geometry::Polygon(polygon_with_hole(&[5.0; 100], 1.0));
        assert!(PointLocator::new(&big).is_some());
    }

    #[test]
    fn the_lazy_index_is_built_on_the_sixteenth_test() {
        let g = geo::Geometry::Polygon(polygon_with_hole(&[5.0; 100], 1.0));
        let lazy = LazyLocator::new(&g).unwrap();
        for _ in 0..BUILD_AFTER {
            assert!(lazy.get(&g).is_none());
        }
        assert!(lazy.get(&g).unwrap().covers(3.0, 0.0));
        let small = geo::Geometry::Polygon(polygon_with_hole(&[5.0; 10], 1.0));
        assert!(LazyLocator::new(&small).is_none());
    }

    #[test]
    fn vertices_edges_and_holes_agree_with_geo() {
        let radii: Vec<f64> = (0..120).map(|i| 4.0 + (i % 7) as f64 * 0.5).collect();
        let poly = polygon_with_hole(&radii, 1.5);
        let g = geo::Geometry::Polygon(poly.clone());
        let loc = PointLocator::new(&g).unwrap();
        let rings = std::iter::once(poly.exterior()).chain(poly.interiors());
        for ring in rings {
            for l in ring.lines() {
                // A vertex is on the boundary; a midpoint is rounded off the edge, a hair
                // inside or outside: geo decides.
                assert!(loc.covers(l.start.x, l.start.y), "{:?}", l.start);
                let mid = (l.start + l.end) / 2.0;
                let want = g.intersects(&geo::Point::from(mid));
                assert_eq!(loc.covers(mid.x, mid.y), want, "{mid:?}");
            }
        }
        for (x, y, want) in [(0.0, 0.0, false), (3.0, 0.0, true), (20.0, 0.0, false)] {
            assert_eq!(loc.covers(x, y), want, "({x}, {y})");
            assert_eq!(g.intersects(&geo::Point::new(x, y)), want);
        }
    }

    proptest! {
        #[test]
        fn covers_is_geo_intersects(
            radii in proptest::collection::vec(1.0f64..10.0, 64..200),
            hole in 0.2f64..0.9,
            second in any::<bool>(),
            points in proptest::collection::vec((-12.0f64..12.0, -12.0f64..12.0), 1..200),
        ) {
            let mut members = vec![polygon_with_hole(&radii, hole)];
            if second {
                // A second member overlapping the first, without a hole.
                members.push(geo::Polygon::new(star(6.0, 2.0, &radii[..64]), vec![]));
            }
            let g = geo::Geometry::MultiPolygon(geo::MultiPolygon(members));
            let loc = PointLocator::new(&g).unwrap();
            for (x, y) in points {
                prop_assert_eq!(loc.covers(x, y), g.intersects(&geo::Point::new(x, y)), "({}, {})", x, y);
            }
        }
    }
}
