//! Sine, cosine and arcsine computed with the Cephes algorithms (Cody-Waite reduction by π/4
//! in three parts, then minimax polynomials; arcsine through a rational arctangent), the same
//! ones Go's `math` package uses on amd64. Tile38 reports distances with every digit, and the
//! platform libm differs from Go in the last bit for roughly a third of distances; these keep
//! [`super::haversine_meters`] bit-identical to Tile38. Constants are from the Cephes Math
//! Library by Stephen L. Moshier (freely usable).

use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, FRAC_PI_4};

const fn bits(b: u64) -> f64 {
    f64::from_bits(b)
}

const SIN: [f64; 6] = [
    bits(0x3de5_d8fd_1fd1_9ccd),
    bits(0xbe5a_e5e5_a929_1f5d),
    bits(0x3ec7_1de3_567d_48a1),
    bits(0xbf2a_01a0_19bf_df03),
    bits(0x3f81_1111_1110_f7d0),
    bits(0xbfc5_5555_5555_5548),
];

const COS: [f64; 6] = [
    bits(0xbda8_fa49_a086_1a9b),
    bits(0x3e21_ee9d_7b4e_3f05),
    bits(0xbe92_7e4f_7eac_4bc6),
    bits(0x3efa_01a0_19c8_44f5),
    bits(0xbf56_c16c_16c1_4f91),
    bits(0x3fa5_5555_5555_554b),
];

/// π/4 split so that `y * PI4A` and `y * PI4B` are exact for the octant counts used here.
const PI4A: f64 = bits(0x3fe9_21fb_4000_0000);
const PI4B: f64 = bits(0x3e64_442d_0000_0000);
const PI4C: f64 = bits(0x3ce8_4698_98cc_5170);

/// Beyond this the three-part reduction loses accuracy; such angles never occur here.
const REDUCE_LIMIT: f64 = (1u64 << 29) as f64;

fn poly_sin(z: f64, zz: f64) -> f64 {
    let p = ((((SIN[0] * zz + SIN[1]) * zz + SIN[2]) * zz + SIN[3]) * zz + SIN[4]) * zz + SIN[5];
    z + z * zz * p
}

fn poly_cos(zz: f64) -> f64 {
    let p = ((((COS[0] * zz + COS[1]) * zz + COS[2]) * zz + COS[3]) * zz + COS[4]) * zz + COS[5];
    1.0 - 0.5 * zz + zz * zz * p
}

/// Octant (0..8, with odd octants moved to the next even one) and the reduced angle of
/// `x >= 0`.
fn reduce(x: f64) -> (u64, f64) {
    let mut j = (x * (2.0 * FRAC_2_PI)) as u64;
    let mut y = j as f64;
    if j & 1 == 1 {
        j += 1;
        y += 1.0;
    }
    j &= 7;
    (j, ((x - y * PI4A) - y * PI4B) - y * PI4C)
}

pub(super) fn sin(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() || x.abs() >= REDUCE_LIMIT {
        return x.sin();
    }
    let (mut j, z) = reduce(x.abs());
    let mut negative = x < 0.0;
    if j > 3 {
        negative = !negative;
        j -= 4;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 {
        poly_cos(zz)
    } else {
        poly_sin(z, zz)
    };
    if negative {
        -y
    } else {
        y
    }
}

pub(super) fn cos(x: f64) -> f64 {
    if !x.is_finite() || x.abs() >= REDUCE_LIMIT {
        return x.cos();
    }
    let (mut j, z) = reduce(x.abs());
    let mut negative = false;
    if j > 3 {
        j -= 4;
        negative = !negative;
    }
    if j > 1 {
        negative = !negative;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 {
        poly_sin(z, zz)
    } else {
        poly_cos(zz)
    };
    if negative {
        -y
    } else {
        y
    }
}

/// Arctangent of `x` in `0..=0.66`.
fn xatan(x: f64) -> f64 {
    const P: [f64; 5] = [
        bits(0xbfec_007f_a1f7_2594),
        bits(0xc030_2854_5b6b_807a),
        bits(0xc052_c08c_3688_0273),
        bits(0xc05e_b8bf_2d05_ba25),
        bits(0xc050_3669_fd28_ec8e),
    ];
    const Q: [f64; 5] = [
        bits(0x4038_dbc4_5b14_603c),
        bits(0x4064_a0dd_43b8_fa25),
        bits(0x407b_0e18_d2e2_be3b),
        bits(0x407e_563f_13b0_49ea),
        bits(0x4068_519e_fbbd_62ec),
    ];
    let z = x * x;
    let num = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let den = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    x * (z * num / den) + x
}

/// Arctangent of `x >= 0`.
fn satan(x: f64) -> f64 {
    const MORE_BITS: f64 = bits(0x3c91_a626_3314_5c07); // π/2 = FRAC_PI_2 + MORE_BITS
    const TAN_3PI_8: f64 = bits(0x4003_504f_333f_9de6);
    if x <= 0.66 {
        xatan(x)
    } else if x > TAN_3PI_8 {
        FRAC_PI_2 - xatan(1.0 / x) + MORE_BITS
    } else {
        FRAC_PI_4 + xatan((x - 1.0) / (x + 1.0)) + 0.5 * MORE_BITS
    }
}

pub(super) fn asin(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a > 1.0 {
        return f64::NAN;
    }
    let t = (1.0 - a * a).sqrt();
    let r = if a > 0.7 {
        FRAC_PI_2 - satan(t / a)
    } else {
        satan(a / t)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values printed by Go's `math.Sin`, `math.Cos` and `math.Asin` (amd64), as
    /// bit patterns.
    const CASES: [(f64, u64, u64); 8] = [
        (0.5840238342679498, 0x3fe1a4f2bd2b11e6, 0x3feab22e947a0de2),
        (-1.9594493004326363, 0xbfed9d0b2048d6cb, 0xbfd84096c23eb168),
        (
            0.00021947514639030405,
            0x3f2cc45d230da45c,
            0x3feffffff311d404,
        ),
        (2.9, 0x3fce9fb8d64830e2, 0xbfef1216dba340c9),
        (
            -std::f64::consts::PI,
            0xbca1a62633145c00,
            0xbff0000000000000,
        ),
        (1e-9, 0x3e112e0be826d695, 0x3ff0000000000000),
        (FRAC_PI_4, 0x3fe6a09e667f3bcc, 0x3fe6a09e667f3bcd),
        (FRAC_PI_2, 0x3ff0000000000000, 0x3c91a62633145c00),
    ];

    #[test]
    fn sin_cos_match_go() {
        for (x, s, c) in CASES {
            assert_eq!(sin(x).to_bits(), s, "sin({x}) = {}", sin(x));
            assert_eq!(cos(x).to_bits(), c, "cos({x}) = {}", cos(x));
        }
    }

    #[test]
    fn asin_matches_go() {
        let cases: [(f64, u64); 7] = [
            (0.0004390522522669359, 0x3f3cc61320140616),
            (0.3, 0x3fd380159e14f6ff),
            (-0.75, 0xbfeb235315c680dc),
            (0.99, 0x3ff6de3c6f33d51d),
            (0.69, 0x3fe85e1e4a3a04f1),
            (0.71, 0x3fe94391bfac8e4b),
            (1.0, 0x3ff921fb54442d18),
        ];
        for (x, want) in cases {
            assert_eq!(asin(x).to_bits(), want, "asin({x}) = {}", asin(x));
        }
        assert!(asin(1.5).is_nan());
        assert_eq!(asin(1.0), FRAC_PI_2);
    }

    #[test]
    fn close_to_libm() {
        for i in -400..=400 {
            let x = f64::from(i) * 0.00785;
            assert!((sin(x) - x.sin()).abs() < 1e-15, "{x}");
            assert!((cos(x) - x.cos()).abs() < 1e-15, "{x}");
            let a = f64::from(i) / 400.0;
            assert!((asin(a) - a.asin()).abs() < 1e-15, "{a}");
        }
    }
}
