//! Floats as Python computes and writes them: `round(x, n)` and `repr(float)` (the JSON and
//! CSV outputs' numbers).

use std::io::Write as _;

/// Python's `round(x, ndigits)`: the float nearest to `x` correctly rounded to `ndigits`
/// decimals (Rust's fixed-precision formatting rounds the exact binary value, as CPython does).
pub fn round(x: f64, ndigits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    round_scaled(x, ndigits).unwrap_or_else(|| round_by_text(x, ndigits))
}

/// `round` through the decimal text: exact for every value, but formatting and parsing cost
/// about a microsecond (four of these per exported record).
fn round_by_text(x: f64, ndigits: usize) -> f64 {
    format!("{x:.ndigits$}").parse().unwrap_or(x)
}

/// Powers of ten that are exact doubles, as far as `round_scaled` uses them.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `round` in floating point, when that is provably exact; None when the text must decide.
///
/// y = x * 10**n carries one rounding error, at most half a unit in its last place (less than
/// |y| * 2**-52). Unless y lies within that much of a half-integer, the exact x * 10**n rounds
/// to the same integer k as y does (so no tie arises, and round-half-even plays no part). k
/// (below 2**52) and 10**n are exact doubles, so k / 10**n is correctly rounded: the double
/// nearest to the decimal k * 10**-n, which is what CPython's round returns (it parses the
/// correctly rounded decimal digits back). The sign is x's, as CPython keeps it for a zero.
fn round_scaled(x: f64, ndigits: usize) -> Option<f64> {
    let scale = *POW10.get(ndigits)?;
    let y = (x * scale).abs(); // x is finite: y is no NaN
    if y >= TWO_52 {
        return None;
    }
    let floor = y.floor();
    let frac = y - floor; // exact: y and its floor share an exponent range
    if (frac - 0.5).abs() <= y * EPSILON_2 {
        return None;
    }
    let k = if frac > 0.5 { floor + 1.0 } else { floor };
    Some((k / scale).copysign(x))
}

/// 2**52: from here on every double is an integer.
const TWO_52: f64 = 4_503_599_627_370_496.0;
/// A bound of y's rounding error relative to y, with room to spare (2**-50).
const EPSILON_2: f64 = 4.0 * f64::EPSILON;

/// Python's `repr(float)`: the shortest digits that read back as `x` (`1.5`, `5.0`, `1e-05`,
/// `1.5e+16`, `inf`, `nan`).
pub fn repr(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    repr_into(x, &mut out);
    // Only ASCII digits, signs, '.', 'e' and the words inf/nan are ever written.
    String::from_utf8(out).unwrap_or_default()
}

/// `repr(x)` appended to `out`, without allocating beyond `out` itself.
pub fn repr_into(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        // CPython writes every NaN as "nan", whatever its sign bit.
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if let Some((k, places)) = on_decimal_grid(x) {
        if x.is_sign_negative() {
            out.push(b'-');
        }
        let mut digits = [0u8; 20];
        let len = dec_digits(k, &mut digits);
        let decpt = len as i32 - places;
        let kept = digits[..len]
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(1, |i| i + 1);
        layout(&digits[..kept], decpt, out);
        return;
    }
    repr_by_fmt(x, out);
}

/// The grids of decimals `on_decimal_grid` tries: (places, the bound below which doubles lie
/// closer together than the grid's step 10**-places). Nanoseconds are what `round(x, 9)` gives
/// (durations, round-trip times); microseconds, what most captures' timestamps are.
const GRIDS: [(i32, f64, f64); 2] = [
    // 10**-9 > 2**-30, the spacing of doubles below 2**23.
    (9, 1e9, 8_388_608.0),
    // 10**-6 > 2**-20, the spacing of doubles below 2**33.
    (6, 1e6, 8_589_934_592.0),
];

/// (k, places) when |x| is the double nearest to k * 10**-places for a whole k > 0, where
/// doubles lie closer together than the grid (see `GRIDS`).
///
/// Then x's repr is k's digits without their trailing zeros. The doubles around x being closer
/// together than 10**-places, the decimals that read back as x (an interval no wider than that
/// spacing) hold only one multiple of 10**-places: k's. Every decimal of as many significant
/// digits as k or fewer, in x's decade, is such a multiple; so the shortest text that reads back
/// as x, which CPython's repr writes, is k's, without a tie. (k < 2**53, so k and 10**places
/// are exact doubles, and their quotient is correctly rounded, as parsing is.)
fn on_decimal_grid(x: f64) -> Option<(u64, i32)> {
    let ax = x.abs();
    for (places, scale, below) in GRIDS {
        if ax < below {
            let k = (ax * scale).round();
            if k >= 1.0 && k / scale == ax {
                return Some((k as u64, places));
            }
        }
    }
    None
}

/// n's decimal digits at the start of `buf`; their count.
fn dec_digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut tmp = [0u8; 20];
    let mut at = tmp.len();
    loop {
        at -= 1;
        tmp[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = tmp.len() - at;
    buf[..len].copy_from_slice(&tmp[at..]);
    len
}

/// `repr_into` of a finite x through Rust's shortest formatting (any finite x).
fn repr_by_fmt(x: f64, out: &mut Vec<u8>) {
    // Rust's `{:e}` gives the shortest round-trip digits closest to x, as CPython's dtoa mode 0
    // does; they differ only on an exact tie (`half_even`) and in the layout.
    let mut sci = [0u8; 40];
    let len = {
        let mut cur = &mut sci[..];
        let room = cur.len();
        if write!(cur, "{x:e}").is_err() {
            return;
        }
        room - cur.len()
    };
    let sci = &sci[..len];
    let (negative, body) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let e_at = body.iter().position(|&c| c == b'e').unwrap_or(body.len());
    let (mantissa, exp_text) = (&body[..e_at], body.get(e_at + 1..).unwrap_or(&[]));
    let mut digits = [0u8; 20];
    let mut n = 0;
    for &c in mantissa.iter().filter(|c| c.is_ascii_digit()) {
        if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let exp = parse_exp(exp_text);
    half_even(x.abs(), &mut digits[..n], exp + 1);
    if negative {
        out.push(b'-');
    }
    layout(&digits[..n], exp + 1, out);
}

/// On an exact tie between two shortest candidates (x = ...0.125 with 16 digits to keep), Rust
/// rounds the last digit up and CPython's dtoa (round-half-even, `ROUND_BIASED` unset) picks the
/// even one: make an odd last digit even when x lies exactly half a unit from it.
fn half_even(x: f64, digits: &mut [u8], decpt: i32) {
    let Some(last) = digits.last().copied() else {
        return;
    };
    if (last - b'0').is_multiple_of(2) || digits.len() > 17 {
        return;
    }
    let d = digits
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    // x = 0.DIGITS * 10**decpt, so one unit of the last digit is 10**p10 with:
    let p10 = decpt - digits.len() as i32 - 1;
    let (m, e2) = mantissa_exp(x);
    let even = if equals_decimal(m, e2, d * 10 - 5, p10) {
        last - 1
    } else if last < b'9' && equals_decimal(m, e2, d * 10 + 5, p10) {
        last + 1
    } else {
        return;
    };
    // At a power of two the interval below x is half as wide: the even neighbour may then
    // read back as another float, and dtoa keeps the odd digit.
    if reads_back(x, digits, even, decpt) {
        if let Some(slot) = digits.last_mut() {
            *slot = even;
        }
    }
}

/// Whether 0.DIGITS (last digit replaced by `last`) * 10**decpt reads back as x.
fn reads_back(x: f64, digits: &[u8], last: u8, decpt: i32) -> bool {
    let mut text = [0u8; 40];
    let len = {
        let mut cur = &mut text[..];
        let room = cur.len();
        let head = &digits[..digits.len() - 1];
        let ok = cur.write_all(b"0.").is_ok()
            && cur.write_all(head).is_ok()
            && cur.write_all(&[last]).is_ok()
            && write!(cur, "e{decpt}").is_ok();
        if !ok {
            return false;
        }
        room - cur.len()
    };
    std::str::from_utf8(&text[..len])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        == Some(x)
}

/// x (finite, >= 0) as m * 2**e2.
fn mantissa_exp(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let frac = bits & ((1 << 52) - 1);
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), biased - 1075)
    }
}

/// Whether m * 2**e2 == k * 10**p exactly (m < 2**53, 0 < k < 10**18), in integers: both sides
/// as odd * 2**n, where 5**|p| must stay small for the odd parts to meet.
fn equals_decimal(m: u64, e2: i32, k: u64, p: i32) -> bool {
    if m == 0 || k == 0 || p.unsigned_abs() > 27 {
        return false;
    }
    let five = 5u128.pow(p.unsigned_abs());
    let (m_odd, m_twos) = (
        u128::from(m >> m.trailing_zeros()),
        m.trailing_zeros() as i32,
    );
    let (k_odd, k_twos) = (
        u128::from(k >> k.trailing_zeros()),
        k.trailing_zeros() as i32,
    );
    let (left, right) = if p >= 0 {
        (m_odd, k_odd * five)
    } else {
        (m_odd * five, k_odd)
    };
    left == right && e2 + m_twos == p + k_twos
}

fn parse_exp(text: &[u8]) -> i32 {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        _ => (1, text),
    };
    sign * digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c - b'0'))
}

/// CPython's `format_float_short` for repr: `digits` stand for 0.DIGITS * 10**decpt;
/// exponent form when decpt <= -4 or decpt > 16.
fn layout(digits: &[u8], decpt: i32, out: &mut Vec<u8>) {
    let n = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        out.push(digits.first().copied().unwrap_or(b'0'));
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        // At least two digits ("1e-05"), three past 99 (|e| <= 324), without the formatter:
        // the round-trip times of a LAN are written this way.
        let e = e.unsigned_abs();
        if e >= 100 {
            out.push(b'0' + (e / 100) as u8);
        }
        out.push(b'0' + (e / 10 % 10) as u8);
        out.push(b'0' + (e % 10) as u8);
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(digits);
    } else if decpt >= n {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (decpt - n) as usize));
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    }
}

#[cfg(test)]
mod tests;
