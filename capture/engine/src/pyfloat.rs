//! Floats as Python computes and writes them: `round(x, n)` and `repr(float)` (the JSON and
//! CSV outputs' numbers). `repr` TO BE PORTED (outputs helper).

/// Python's `round(x, ndigits)`: the float nearest to `x` correctly rounded to `ndigits`
/// decimals (Rust's fixed-precision formatting rounds the exact binary value, as CPython does).
pub fn round(x: f64, ndigits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.ndigits$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn rounds_as_python() {
        // Values whose naive `(x * 1e9).round() / 1e9` differs from CPython's round().
        assert_eq!(round(0.132768154, 9), 0.132768154);
        assert_eq!(round(2.675, 2), 2.67); // 2.675 is 2.67499999... in binary
        assert_eq!(
            round(1262893114.4742339 - 1262893114.3417149, 9),
            0.132519007
        );
    }
}
