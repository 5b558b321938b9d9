//! Geohash encoding and decoding (base32 alphabet `0123456789bcdefghjkmnpqrstuvwxyz`, up to 12
//! characters), computed the way Tile38's geohash library does: each coordinate is scaled to a
//! 32-bit integer and the bits are interleaved, longitude first.

use super::{GeoError, Rect};

const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
const MAX_PRECISION: usize = 12;
const EXP_2_32: f64 = 4_294_967_296.0;

fn invalid_geohash() -> GeoError {
    GeoError("invalid geohash".to_string())
}

/// Position of `x` within `-r..=r` as a 32-bit integer (saturating at the top edge).
fn encode_range(x: f64, r: f64) -> u32 {
    let p = (x + r) / (2.0 * r);
    (p * EXP_2_32) as u32
}

/// The low edge of the 32-bit cell `v` within `-r..=r`.
fn decode_range(v: u32, r: f64) -> f64 {
    let p = f64::from(v) / EXP_2_32;
    2.0 * r * p - r
}

/// Spreads the 32 bits of `x` onto the even bit positions of a u64.
fn spread(x: u32) -> u64 {
    let mut x = u64::from(x);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into a u32 (inverse of [`spread`]).
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    ((x | (x >> 16)) & 0x0000_0000_ffff_ffff) as u32
}

/// Encodes a point as a geohash of `precision` characters (clamped to 1..=12).
pub fn geohash_encode(lat: f64, lon: f64, precision: usize) -> String {
    let chars = precision.clamp(1, MAX_PRECISION);
    let full = spread(encode_range(lat, 90.0)) | (spread(encode_range(lon, 180.0)) << 1);
    let hash = full >> (64 - 5 * chars);
    (0..chars)
        .map(|i| {
            let shift = 5 * (chars - 1 - i);
            char::from(ALPHABET[((hash >> shift) & 0x1f) as usize])
        })
        .collect()
}

/// The hash's bits, right-aligned, and their count. Case-insensitive.
fn hash_bits(hash: &str) -> Result<(u64, u32), GeoError> {
    if hash.is_empty() || hash.len() > MAX_PRECISION {
        return Err(invalid_geohash());
    }
    let mut bits = 0u64;
    for b in hash.bytes() {
        let b = b.to_ascii_lowercase();
        let v = ALPHABET
            .iter()
            .position(|&c| c == b)
            .ok_or_else(invalid_geohash)?;
        bits = (bits << 5) | v as u64;
    }
    Ok((bits, 5 * hash.len() as u32))
}

/// The cell a geohash names; `invalid geohash` for an empty hash, one longer than 12
/// characters or one with a character outside the alphabet.
pub fn geohash_bounds(hash: &str) -> Result<Rect, GeoError> {
    let (bits, n) = hash_bits(hash)?;
    let full = bits << (64 - n);
    let lat = decode_range(squash(full), 90.0);
    let lon = decode_range(squash(full >> 1), 180.0);
    let lat_bits = (n / 2) as i32;
    let lon_bits = n as i32 - lat_bits;
    let lat_err = 180.0 * 2f64.powi(-lat_bits);
    let lon_err = 360.0 * 2f64.powi(-lon_bits);
    Ok(Rect {
        min_lat: lat,
        min_lon: lon,
        max_lat: lat + lat_err,
        max_lon: lon + lon_err,
    })
}

/// The centre of the geohash cell as `(lat, lon)`.
pub fn geohash_decode_center(hash: &str) -> Result<(f64, f64), GeoError> {
    Ok(geohash_bounds(hash)?.center())
}

/// Largest power of ten not above `r` (computed as Go's `math.Pow10` does, so negative
/// powers are `1 / 10^k`).
fn max_decimal_power(r: f64) -> f64 {
    let m = r.log10().floor() as i32;
    if m >= 0 {
        10f64.powi(m)
    } else {
        1.0 / 10f64.powi(-m)
    }
}

/// The point Tile38 stores for `SET ... HASH`: inside the cell, rounded to the fewest decimal
/// places the cell size allows (its geohash library's `Decode`), as `(lat, lon)`.
pub fn geohash_decode(hash: &str) -> Result<(f64, f64), GeoError> {
    let b = geohash_bounds(hash)?;
    let x = max_decimal_power(b.max_lat - b.min_lat);
    let lat = (b.min_lat / x).ceil() * x;
    let x = max_decimal_power(b.max_lon - b.min_lon);
    let lon = (b.min_lon / x).ceil() * x;
    Ok((lat, lon))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_known_vectors() {
        assert_eq!(geohash_encode(57.64911, 10.40744, 11), "u4pruydqqvj");
        assert_eq!(geohash_encode(42.6, -5.6, 5), "ezs42");
        assert_eq!(geohash_encode(33.5123, -112.2693, 9), "9tbnthxzr");
        assert_eq!(geohash_encode(0.0, 0.0, 1), "s");
        assert_eq!(geohash_encode(-90.0, -180.0, 12), "000000000000");
        assert_eq!(geohash_encode(90.0, 180.0, 12), "zzzzzzzzzzzz");
    }

    #[test]
    fn encode_clamps_precision() {
        assert_eq!(geohash_encode(57.64911, 10.40744, 0), "u");
        assert_eq!(geohash_encode(57.64911, 10.40744, 20).len(), 12);
    }

    #[test]
    fn decode_center_known_vector() {
        let (lat, lon) = geohash_decode_center("ezs42").unwrap();
        assert!((lat - 42.60498046875).abs() < 1e-12, "{lat}");
        assert!((lon - -5.60302734375).abs() < 1e-12, "{lon}");
        let (lat, lon) = geohash_decode_center("EZS42").unwrap();
        assert!((lat - 42.605).abs() < 1e-3 && (lon - -5.603).abs() < 1e-3);
    }

    #[test]
    fn bounds_known_vector() {
        let b = geohash_bounds("ezs42").unwrap();
        assert_eq!(b.min_lat, 42.5830078125);
        assert_eq!(b.max_lat, 42.626953125);
        assert_eq!(b.min_lon, -5.625);
        assert_eq!(b.max_lon, -5.5810546875);
    }

    #[test]
    fn rounded_decode_is_inside_cell() {
        let (lat, lon) = geohash_decode("ezs42").unwrap();
        assert_eq!((lat, lon), (4259.0 * 0.01, -562.0 * 0.01));
        for hash in [
            "u4pruydqqvj",
            "9tbnthxzr",
            "s",
            "zzzzzzzzzzzz",
            "000000000000",
        ] {
            let (lat, lon) = geohash_decode(hash).unwrap();
            let b = geohash_bounds(hash).unwrap();
            assert!(
                b.contains_point(lat, lon),
                "{hash}: {lat},{lon} not in {b:?}"
            );
        }
    }

    #[test]
    fn tile38_hash_vectors() {
        assert_eq!(geohash_encode(33.0, -115.0, 7), "9my5xp7");
        let (lat, lon) = geohash_decode("9my5xp7").unwrap();
        assert_eq!(geohash_encode(lat, lon, 7), "9my5xp7");
    }

    #[test]
    fn rounded_decode_re_encodes_to_same_hash() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let lat = (seed % 1_800_000) as f64 / 10_000.0 - 90.0;
            let lon = ((seed >> 21) % 3_600_000) as f64 / 10_000.0 - 180.0;
            let chars = (seed >> 43) as usize % 12 + 1;
            let h = geohash_encode(lat, lon, chars);
            let (dlat, dlon) = geohash_decode(&h).unwrap();
            assert_eq!(geohash_encode(dlat, dlon, chars), h, "{lat},{lon}");
        }
    }

    #[test]
    fn round_trip_every_precision() {
        for chars in 1..=12 {
            let h = geohash_encode(-33.8688, 151.2093, chars);
            let (lat, lon) = geohash_decode_center(&h).unwrap();
            assert_eq!(geohash_encode(lat, lon, chars), h);
        }
    }

    #[test]
    fn invalid_hashes() {
        let err = Err(GeoError("invalid geohash".into()));
        assert_eq!(geohash_decode_center(""), err);
        assert_eq!(geohash_decode_center("ezs42a"), err); // 'a' is not in the alphabet
        assert_eq!(geohash_decode_center("ezs4i"), err);
        assert_eq!(geohash_decode_center("0123456789bcd"), err); // 13 chars
        assert_eq!(geohash_bounds("é"), Err(GeoError("invalid geohash".into())));
        assert_eq!(
            geohash_decode("ezs 2"),
            Err(GeoError("invalid geohash".into()))
        );
    }
}
