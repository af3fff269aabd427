//! The writer's bytes equal pcapio.py `PcapWriter`'s for the same records (timestamps with
//! rounding ties and carries, snap-length cuts, empty frames).
//!
//! The reference Python is `$TCPWATCH_REF_PYTHON` (default /work/refvenv/bin/python) with the
//! repository on PYTHONPATH; without it the comparison is skipped with a message.

use std::path::Path;
use std::process::Command;

use _engine::pcapwrite::PcapWriter;

const TIMES: [f64; 8] = [
    0.0,
    1.0000005,
    2.9999999,
    0.0000025,
    1_700_000_000.123_456_7,
    1_700_000_000.999_999_6,
    1_733_500_000.000_000_5,
    4_294_967_295.25,
];

#[test]
fn bytes_equal_pcapio_py() {
    let python = std::env::var("TCPWATCH_REF_PYTHON")
        .unwrap_or_else(|_| "/work/refvenv/bin/python".to_string());
    if !Path::new(&python).exists() {
        eprintln!("SKIPPED bytes_equal_pcapio_py: no reference Python at {python}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tcpwatch-xcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (ours, theirs) = (dir.join("rust.pcap"), dir.join("python.pcap"));
    let mut w = PcapWriter::create(&ours, 113, 100).expect("create");
    for (n, ts) in TIMES.iter().enumerate() {
        let frame: Vec<u8> = (0..n * 37).map(|i| i as u8).collect();
        w.write(*ts, &frame, (n * 37 + 5) as u32).expect("write");
    }
    w.close().expect("close");
    let times: Vec<String> = TIMES.iter().map(|t| format!("{t:?}")).collect();
    let code = format!(
        "from capture.pcapio import PcapWriter\n\
         w = PcapWriter({:?}, 113, 100)\n\
         for n, ts in enumerate([{}]):\n    \
             w.write(ts, bytes(i % 256 for i in range(n * 37)), n * 37 + 5)\n\
         w.close()\n",
        theirs.display().to_string(),
        times.join(", ")
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(&python)
        .args(["-c", &code])
        .env("PYTHONPATH", repo)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the same bytes as pcapio.py");
}
