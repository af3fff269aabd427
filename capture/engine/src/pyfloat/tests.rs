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
