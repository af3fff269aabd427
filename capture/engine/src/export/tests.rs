use super::*;

fn flags(syn: u64, ack: u64) -> FlagCounts {
    FlagCounts {
        syn,
        ack,
        ..FlagCounts::default()
    }
}

/// The record behind `odd_record.jsonl`/`.csv` (written by Python's writers, twice each; the
/// `continues_uid` column, which came after them, added by hand).
fn odd_record() -> FlowRecord {
    FlowRecord {
        ts: 1e-05,
        uid: "C=x".into(),
        orig_h: "10.0.0.1".into(),
        orig_p: 1,
        resp_h: "::1".into(),
        resp_p: 65535,
        duration: 1.5e16,
        resp_pkts: u64::MAX,
        orig_bytes: 3,
        resp_bytes: 4,
        orig_ip_bytes: 5,
        resp_ip_bytes: 6,
        conn_state: "S0",
        history: "-Sh,\"".into(),
        state_orig: "SYN_SENT",
        state_resp: "UNKNOWN",
        flags_orig: flags(1, 0),
        flags_resp: flags(0, 9),
        isn_orig: Some(u32::MAX),
        mss_orig: Some(1460),
        wscale_orig: Some(14),
        sack_perm: Some(false),
        rtt_syn_synack: Some(f64::INFINITY),
        rtt_synack_ack: Some(f64::NAN),
        syn_retries: 2,
        syn_retry_gaps: vec![1.0, 3.000001, f64::NEG_INFINITY],
        illegal_flags: vec![("syn+fin", 1), ("null", 2)],
        direction_inferred: true,
        vlan: vec![10, 4095],
        pid_orig: Some(u32::MAX),
        proc_orig: Some("a\"b\\c\n\r\t\u{1}\u{7f}\u{9f}\u{e9}\u{202e}\u{1F600} ,x".into()),
        proc_resp: Some("@cmd".into()),
        continues_uid: Some("CFPnExO2gvHCzSm7V2".into()),
        ..FlowRecord::default()
    }
}

fn written(format: Format, records: &[FlowRecord]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut w = RecordWriter::new(format, &mut out);
    for rec in records {
        w.write(rec).expect("write to a Vec");
    }
    w.flush().expect("flush to a Vec");
    let count = w.count();
    drop(w);
    (out, count)
}

#[test]
fn odd_record_as_python_writes_it() {
    let recs = [odd_record(), odd_record()];
    let (jsonl, n) = written(Format::Jsonl, &recs);
    assert_eq!(n, 2);
    assert_eq!(
        String::from_utf8_lossy(&jsonl),
        include_str!("odd_record.jsonl")
    );
    let (csv, n) = written(Format::Csv, &recs);
    assert_eq!(n, 2);
    assert_eq!(
        String::from_utf8_lossy(&csv),
        include_str!("odd_record.csv")
    );
}

#[test]
fn nothing_written_without_records() {
    assert_eq!(written(Format::Csv, &[]).0, b"");
    assert_eq!(written(Format::Jsonl, &[]).0, b"");
}

#[test]
fn csv_quotes_as_python() {
    let mut out = Vec::new();
    let mut line = CsvLine::new(&mut out);
    for f in [",", "\"", "\n", "\r", " x", "\t", "a\"b", ""] {
        line.field(f.as_bytes());
    }
    line.end();
    CsvLine::new(&mut out).end(); // writerow([]) -> "\n"
    let mut one = CsvLine::new(&mut out);
    one.field(b"");
    one.end(); // writerow([""]) -> '""\n'
    assert_eq!(out, b"\",\",\"\"\"\",\"\n\",\r, x,\t,\"a\"\"b\",\n\n\"\"\n");
}

#[test]
fn csv_cell_as_safetext() {
    let cell = |s: &str| {
        let mut out = Vec::new();
        csv_cell(s, &mut out);
        String::from_utf8(out).expect("utf-8")
    };
    assert_eq!(cell("=1+2"), "'=1+2");
    assert_eq!(cell("-"), "'-");
    assert_eq!(cell("\tx"), "\\x09x"); // escaped first, so no quote mark
    assert_eq!(
        cell("\u{feff}\u{2066}\u{61c}\u{85}"),
        "\\ufeff\\u2066\\u061c\\x85"
    );
    assert_eq!(cell(""), "");
}

proptest::proptest! {
    #[test]
    fn json_str_reads_back(s in ".*") {
        let mut out = Vec::new();
        json_str(&s, &mut out);
        proptest::prop_assert!(out.iter().all(|c| (0x20..0x7f).contains(c)));
        let back: String = serde_json::from_slice(&out).expect("valid JSON");
        proptest::prop_assert_eq!(back, s);
    }

    #[test]
    fn csv_cell_has_no_controls(s in ".*") {
        let mut out = Vec::new();
        csv_cell(&s, &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        proptest::prop_assert!(!text.chars().any(|c| c.is_control()));
    }
}
