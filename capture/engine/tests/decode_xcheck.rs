//! Cross-check against Python's decoder: every frame of the dump written by
//! `xcheck/decode_dump.py` decodes to the same outcome and the same Segment fields, and every
//! group ends with the same counters and kept malformed frames, with and without checksum
//! verification.
//!
//! ```text
//! PYTHONPATH=. .venv/bin/python capture/engine/xcheck/decode_dump.py /tmp/decode-xcheck.tsv
//! cd capture/engine && DECODE_XCHECK=/tmp/decode-xcheck.tsv cargo test --test decode_xcheck -- --ignored
//! ```

use _engine::decode::Decoder;
use _engine::segment::Segment;

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Segment as the dump writes it (Python's FIELDS, then caplen and the three checks).
fn fields(seg: &Segment, ts_text: &str, ts: f64) -> Vec<String> {
    let ts = if seg.ts.to_bits() == ts.to_bits() {
        ts_text.to_string()
    } else {
        format!("{:?}", seg.ts)
    };
    let vlan: Vec<String> = seg.vlan.iter().map(u16::to_string).collect();
    let b = |x: bool| u8::from(x).to_string();
    vec![
        seg.frame_no.to_string(),
        ts,
        seg.linktype.to_string(),
        seg.wire_len.to_string(),
        b(seg.truncated),
        seg.ip_version.to_string(),
        seg.ip_off.to_string(),
        hex(seg.src.as_slice()),
        hex(seg.dst.as_slice()),
        seg.ip_len.to_string(),
        seg.ttl.to_string(),
        vlan.join(","),
        seg.tcp_off.to_string(),
        seg.sport.to_string(),
        seg.dport.to_string(),
        seg.seq.to_string(),
        seg.ack.to_string(),
        seg.flags.to_string(),
        seg.window.to_string(),
        seg.urg_ptr.to_string(),
        hex(seg.opts.as_slice()),
        seg.bad_opts.as_deref().unwrap_or("").to_string(),
        seg.payload_len.to_string(),
        seg.caplen.to_string(),
        b(seg.header_ok),
        b(seg.ip_checksum_ok),
        b(seg.tcp_checksum_ok),
    ]
}

/// What happened to the last frame, from the counters it moved.
fn outcome(d: &Decoder, before: (u64, u64, u64, u64)) -> String {
    if d.tcp != before.0 {
        "tcp".into()
    } else if d.non_tcp != before.1 {
        "non_tcp".into()
    } else if d.fragments != before.2 {
        "fragment".into()
    } else if d.malformed_total() != before.3 {
        let last = d.malformed_frames.back().expect("a kept frame");
        format!("malformed:{}", last.reason)
    } else {
        "uncounted".into()
    }
}

struct Check {
    verify: bool,
    decoder: Decoder,
    group: String,
    frames: u64,
    mismatches: Vec<String>,
}

impl Check {
    fn mismatch(&mut self, what: String) {
        if self.mismatches.len() < 20 {
            self.mismatches
                .push(format!("[verify={}] {}: {what}", self.verify, self.group));
        } else if self.mismatches.len() == 20 {
            self.mismatches.push("...".into());
        }
    }

    fn line(&mut self, cols: &[&str]) {
        match cols[0] {
            "G" => {
                self.group = cols[1].to_string();
                self.decoder = Decoder::new(self.verify);
            }
            "F" => self.frame(cols),
            "C" => {
                let d = &self.decoder;
                let reasons: Vec<String> = d
                    .malformed
                    .iter()
                    .map(|(r, c)| format!("{r}={c}"))
                    .collect();
                let ours = format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    d.frames,
                    d.tcp,
                    d.non_tcp,
                    d.fragments,
                    d.truncated,
                    reasons.join("|")
                );
                if ours != cols[1..].join("\t") {
                    self.mismatch(format!("counters {ours:?} != {:?}", cols[1..].join("\t")));
                }
            }
            "K" => {
                let kept: Vec<String> = self
                    .decoder
                    .malformed_frames
                    .iter()
                    .map(|k| format!("{}:{}", k.frame_no, k.reason))
                    .collect();
                if kept.join("|") != cols.get(1).copied().unwrap_or("") {
                    self.mismatch("kept malformed frames differ".into());
                }
            }
            other => panic!("unknown line {other}"),
        }
    }

    fn frame(&mut self, cols: &[&str]) {
        self.frames += 1;
        let frame_no: u64 = cols[1].parse().expect("frame_no");
        let ts: f64 = cols[2].parse().expect("ts");
        let wire_len: u32 = cols[3].parse().expect("wire_len");
        let linktype: i32 = cols[4].parse().expect("linktype");
        let data = unhex(cols[5]);
        let d = &self.decoder;
        let before = (d.tcp, d.non_tcp, d.fragments, d.malformed_total());
        let seg = self.decoder.decode(&data, ts, wire_len, linktype, frame_no);
        let got = outcome(&self.decoder, before);
        if got != cols[6] || seg.is_some() != (got == "tcp") {
            self.mismatch(format!(
                "frame {frame_no} ({linktype}, {}): {got} != {}",
                cols[5], cols[6]
            ));
            return;
        }
        let Some(seg) = seg else { return };
        let mut want: Vec<String> = cols[7..].iter().map(|s| s.to_string()).collect();
        if !self.verify {
            let n = want.len();
            want[n - 2] = "1".into();
            want[n - 1] = "1".into();
        }
        let ours = fields(&seg, cols[2], ts);
        if ours != want {
            self.mismatch(format!(
                "frame {frame_no} ({}):\n  rust   {ours:?}\n  python {want:?}",
                cols[5]
            ));
        }
    }
}

#[test]
#[ignore = "needs DECODE_XCHECK=<dump from xcheck/decode_dump.py>"]
fn rust_decoder_matches_python_frame_by_frame() {
    let path = std::env::var("DECODE_XCHECK").expect("DECODE_XCHECK=<dump path>");
    let text = std::fs::read_to_string(&path).expect("the dump");
    for verify in [false, true] {
        let mut check = Check {
            verify,
            decoder: Decoder::new(verify),
            group: String::new(),
            frames: 0,
            mismatches: Vec::new(),
        };
        for line in text.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            check.line(&cols);
        }
        eprintln!(
            "verify={verify}: {} frames compared, {} mismatches",
            check.frames,
            check.mismatches.len()
        );
        assert!(
            check.mismatches.is_empty(),
            "{}",
            check.mismatches.join("\n")
        );
        assert!(check.frames > 0);
    }
}
