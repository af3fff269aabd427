use super::{repr, round};

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

#[test]
fn repr_layout_as_python() {
    assert_eq!(repr(5.0), "5.0");
    assert_eq!(repr(-0.0), "-0.0");
    assert_eq!(repr(1e-5), "1e-05");
    assert_eq!(repr(0.0001), "0.0001");
    assert_eq!(repr(1.5e16), "1.5e+16");
    assert_eq!(repr(9999999999999998.0), "9999999999999998.0");
    assert_eq!(repr(1e100), "1e+100");
    assert_eq!(repr(f64::INFINITY), "inf");
    assert_eq!(repr(f64::NEG_INFINITY), "-inf");
    assert_eq!(repr(-f64::NAN), "nan");
}

/// Values CPython 3.11 wrote (`cases.txt`); the full fixture test is `tests/pyfloat_repr.rs`.
#[test]
fn repr_matches_cpython_cases() {
    let mut checked = 0;
    for line in include_str!("cases.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let (bits, want) = line.split_once(' ').expect("case line");
        let x = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
        assert_eq!(repr(x), want, "bits {bits}");
        checked += 1;
    }
    assert!(checked > 250);
}

proptest::proptest! {
    #[test]
    fn repr_reads_back(bits in proptest::num::u64::ANY) {
        let x = f64::from_bits(bits);
        let text = repr(x);
        if x.is_finite() {
            proptest::prop_assert_eq!(text.parse::<f64>().ok().map(f64::to_bits), Some(bits));
        }
    }
}

/// `repr_into` through Rust's formatting alone, the reference of the fast path.
fn repr_slow(x: f64) -> String {
    let mut out = Vec::new();
    if x.is_finite() {
        super::repr_by_fmt(x, &mut out);
    } else {
        super::repr_into(x, &mut out);
    }
    String::from_utf8(out).expect("ASCII")
}

#[test]
fn fast_paths_agree_on_edges() {
    // Exact ties of x * 1e9 (1/1024 s = 976562.5 ns), zeros, signs, the ends of the fast range.
    for x in [
        0.0,
        -0.0,
        1.0 / 1024.0,
        -1.0 / 1024.0,
        3.0 / 2048.0,
        0.5e-9,
        1.5e-9,
        2.5e-9,
        -1e-12,
        1e-9,
        999_999.999_999_999,
        1e6,
        1e15,
        4_503_599.627_370_496,
        0.132768154,
        1262893114.4742339 - 1262893114.3417149,
        f64::MIN_POSITIVE,
        f64::MAX,
    ] {
        for n in [0, 2, 6, 9, 15] {
            let (fast, slow) = (round(x, n), super::round_by_text(x, n));
            assert_eq!(fast.to_bits(), slow.to_bits(), "round({x:e}, {n})");
        }
        assert_eq!(repr(x), repr_slow(x), "repr({x:e})");
        assert_eq!(
            repr(round(x, 9)),
            repr_slow(round(x, 9)),
            "repr(round({x:e}, 9))"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(20_000))]

    /// Any double: the scaled rounding, when it answers, answers as the text does.
    #[test]
    fn round_fast_is_exact_on_any_double(bits in proptest::num::u64::ANY, n in 0usize..16) {
        let x = f64::from_bits(bits);
        if x.is_finite() {
            proptest::prop_assert_eq!(round(x, n).to_bits(), super::round_by_text(x, n).to_bits());
        }
    }

    /// Capture-like differences of two timestamps (microseconds or nanoseconds apart), and
    /// the ties and near-ties of halves of a nanosecond.
    #[test]
    fn round_fast_is_exact_on_durations(
        base in 0u64..2_000_000_000,
        a in 0u64..1_000_000_000,
        b in 0u64..1_000_000_000,
        span in 0u64..100_000,
        micro in proptest::bool::ANY,
    ) {
        let unit = if micro { 1e-6 } else { 1e-9 };
        let (a, b) = if micro { (a / 1000, b / 1000) } else { (a, b) };
        let first = base as f64 + a as f64 * unit;
        let last = (base + span) as f64 + b as f64 * unit;
        for x in [last - first, first - last, (2 * a + 1) as f64 * 0.5e-9] {
            proptest::prop_assert_eq!(round(x, 9).to_bits(), super::round_by_text(x, 9).to_bits());
            let r = round(x, 9);
            proptest::prop_assert_eq!(repr(r), repr_slow(r));
            proptest::prop_assert_eq!(repr(x), repr_slow(x));
        }
    }

    /// Any double, and every whole number of nanoseconds below the fast path's limit.
    #[test]
    fn repr_fast_is_exact(bits in proptest::num::u64::ANY, k in 1u64..1_000_000_000_000_000) {
        let x = f64::from_bits(bits);
        proptest::prop_assert_eq!(repr(x), repr_slow(x));
        let x = k as f64 / 1e9;
        proptest::prop_assert_eq!(repr(x), repr_slow(x));
        proptest::prop_assert_eq!(repr(-x), repr_slow(-x));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(50_000))]

    /// Capture timestamps (seconds and microseconds as the readers add them, or exact), every
    /// whole number of microseconds below the grid's bound, and their neighbours.
    #[test]
    fn repr_fast_is_exact_on_timestamps(
        sec in 0u64..8_589_934_592,
        usec in 0u64..1_000_000,
        k in 1u64..8_589_934_592_000_000,
    ) {
        let ts = sec as f64 + usec as f64 * 1e-6;
        let exact = k as f64 / 1e6;
        for x in [ts, exact, f64::from_bits(exact.to_bits() + 1), f64::from_bits(ts.to_bits() - 1)] {
            proptest::prop_assert_eq!(repr(x), repr_slow(x));
        }
    }
}
