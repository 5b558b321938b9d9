//! Web-mercator map tiles as latitude/longitude rectangles: XYZ ("slippy map") tiles and Bing
//! quadkeys, computed the way Tile38's `bing` package does (pixel arithmetic at 256 pixels a
//! tile, world edges snapped to ±180 longitude and ±85.05112878 latitude).

use std::f64::consts::PI;
use std::fmt::Display;

use super::{GeoError, Rect};

/// The latitude limit of the web-mercator square (Tile38's `bing.MaxLatitude`).
pub const MERCATOR_MAX_LATITUDE: f64 = 85.05112878;

/// The deepest zoom level (and longest quadkey) accepted.
pub const MAX_ZOOM: u64 = 30;

fn invalid(arg: impl Display) -> GeoError {
    GeoError(format!("invalid argument '{arg}'"))
}

/// The rectangle of tile `x`/`y` at zoom `z`; `invalid argument '<value>'` for a zoom over
/// [`MAX_ZOOM`] or a column/row outside `0..2^z`.
pub(super) fn tile_rect(x: u64, y: u64, z: u64) -> Result<Rect, GeoError> {
    if z > MAX_ZOOM {
        return Err(invalid(z));
    }
    let size = 1u64 << z;
    if x >= size {
        return Err(invalid(x));
    }
    if y >= size {
        return Err(invalid(y));
    }
    Ok(bounds(x, y, z))
}

/// The rectangle of a Bing quadkey (one digit `0`-`3` a zoom level, `0` = north-west);
/// `invalid number of arguments` when empty, `invalid argument '<quadkey>'` for another
/// character or more than [`MAX_ZOOM`] digits.
pub(super) fn quadkey_rect(quadkey: &str) -> Result<Rect, GeoError> {
    if quadkey.is_empty() {
        return Err(GeoError("invalid number of arguments".into()));
    }
    let level = quadkey.len() as u64;
    if level > MAX_ZOOM {
        return Err(invalid(quadkey));
    }
    let (mut x, mut y) = (0u64, 0u64);
    for (i, digit) in quadkey.bytes().enumerate() {
        let mask = 1u64 << (level - 1 - i as u64);
        match digit {
            b'0' => {}
            b'1' => x |= mask,
            b'2' => y |= mask,
            b'3' => {
                x |= mask;
                y |= mask;
            }
            _ => return Err(invalid(quadkey)),
        }
    }
    Ok(bounds(x, y, level))
}

/// Tile38's `bing.TileXYToBounds` for an in-range tile.
fn bounds(x: u64, y: u64, z: u64) -> Rect {
    let last = (1u64 << z) - 1;
    let (mut max_lat, mut min_lon) = pixel_to_lat_lon(x << 8, y << 8, z);
    let (mut min_lat, mut max_lon) = pixel_to_lat_lon((x + 1) << 8, (y + 1) << 8, z);
    if x == 0 {
        min_lon = -180.0;
    }
    if x == last {
        max_lon = 180.0;
    }
    if y == 0 {
        max_lat = MERCATOR_MAX_LATITUDE;
    }
    if y == last {
        min_lat = -MERCATOR_MAX_LATITUDE;
    }
    Rect {
        min_lat,
        min_lon,
        max_lat,
        max_lon,
    }
}

/// Tile38's `bing.PixelXYToLatLong`: `(lat, lon)` of a pixel's corner at zoom `z`.
fn pixel_to_lat_lon(px: u64, py: u64, z: u64) -> (f64, f64) {
    let map = (256u64 << z) as f64;
    let x = (px as f64).clamp(0.0, map - 1.0) / map - 0.5;
    let y = 0.5 - (py as f64).clamp(0.0, map - 1.0) / map;
    let lat = 90.0 - 360.0 * (-y * 2.0 * PI).exp().atan() / PI;
    (lat, 360.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn world_tile() {
        let r = tile_rect(0, 0, 0).unwrap();
        assert_eq!(r.min_lon, -180.0);
        assert_eq!(r.max_lon, 180.0);
        assert_eq!(r.max_lat, 85.05112878);
        assert_eq!(r.min_lat, -85.05112878);
    }

    #[test]
    fn zoom_one_quadrants() {
        let nw = tile_rect(0, 0, 1).unwrap();
        assert_eq!((nw.min_lon, nw.max_lat), (-180.0, MERCATOR_MAX_LATITUDE));
        assert!(close(nw.max_lon, 0.0) && close(nw.min_lat, 0.0), "{nw:?}");
        let se = tile_rect(1, 1, 1).unwrap();
        assert_eq!((se.max_lon, se.min_lat), (180.0, -MERCATOR_MAX_LATITUDE));
        assert!(close(se.min_lon, 0.0) && close(se.max_lat, 0.0), "{se:?}");
        assert_eq!(quadkey_rect("0").unwrap(), nw);
        assert_eq!(quadkey_rect("3").unwrap(), se);
        assert_eq!(quadkey_rect("1").unwrap(), tile_rect(1, 0, 1).unwrap());
        assert_eq!(quadkey_rect("2").unwrap(), tile_rect(0, 1, 1).unwrap());
    }

    #[test]
    fn deeper_tile_matches_slippy_formula() {
        // Tile 1205/1539/12 (Phoenix): the OSM formulas give these edges.
        let (x, y, z) = (1205u64, 1539u64, 12u64);
        let r = tile_rect(x, y, z).unwrap();
        let n = (1u64 << z) as f64;
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        assert!(close(r.min_lon, lon(x as f64)), "{r:?}");
        assert!(close(r.max_lon, lon(x as f64 + 1.0)), "{r:?}");
        assert!(close(r.max_lat, lat(y as f64)), "{r:?}");
        assert!(close(r.min_lat, lat(y as f64 + 1.0)), "{r:?}");
        // Quadkey of the same tile, digit by digit.
        let qk: String = (1..=z)
            .rev()
            .map(|i| {
                let m = 1 << (i - 1);
                char::from(b'0' + u8::from(x & m != 0) + 2 * u8::from(y & m != 0))
            })
            .collect();
        assert_eq!(quadkey_rect(&qk).unwrap(), r);
    }

    #[test]
    fn errors() {
        let e = |s: &str| Err(GeoError(s.to_string()));
        assert_eq!(tile_rect(0, 0, 31), e("invalid argument '31'"));
        assert_eq!(tile_rect(2, 0, 1), e("invalid argument '2'"));
        assert_eq!(tile_rect(0, 4, 2), e("invalid argument '4'"));
        assert_eq!(quadkey_rect("0124"), e("invalid argument '0124'"));
        assert_eq!(quadkey_rect(""), e("invalid number of arguments"));
        assert_eq!(
            quadkey_rect(&"0".repeat(31)),
            e(&format!("invalid argument '{}'", "0".repeat(31)))
        );
        assert!(tile_rect((1 << 30) - 1, (1 << 30) - 1, 30).is_ok());
        assert!(quadkey_rect(&"3".repeat(30)).is_ok());
    }
}
