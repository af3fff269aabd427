//! `pyfloat::repr` against CPython on a generated fixture (not committed: make it with
//! `python xcheck/float_repr_fixture.py /tmp/tcpwatch-repr.txt 200000`; the path may be set in
//! `TCPWATCH_REPR_FIXTURE`). Without the fixture the test says so and passes.

use _engine::pyfloat::repr;

#[test]
fn repr_matches_cpython_fixture() {
    let path = std::env::var("TCPWATCH_REPR_FIXTURE")
        .unwrap_or_else(|_| "/tmp/tcpwatch-repr.txt".to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("no fixture at {path}: skipped (see this file's header)");
        return;
    };
    let mut bad = Vec::new();
    let mut checked = 0usize;
    for line in text.lines() {
        let Some((bits, want)) = line.split_once(' ') else {
            continue;
        };
        let Ok(bits) = u64::from_str_radix(bits, 16) else {
            continue;
        };
        let got = repr(f64::from_bits(bits));
        if got != want {
            bad.push(format!("{bits:016x}: python {want}, rust {got}"));
        }
        checked += 1;
    }
    eprintln!("{checked} values checked against {path}");
    assert!(
        bad.is_empty(),
        "{} differ: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}
