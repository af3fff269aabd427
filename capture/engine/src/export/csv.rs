//! One flow record as a CSV row, as `CsvWriter` writes it: Python's
//! `csv.writer(out, lineterminator="\n")` over `export._cell` of each field.

use super::json::{json_counts, json_flags, json_floats, json_ints};
use super::text::csv_cell;
use super::{FlowRecord, FIELDS};
use crate::pyfloat::repr_into;
use std::io::Write as _;

/// Builds one CSV line with QUOTE_MINIMAL quoting, as CPython 3.11's `_csv` writes it.
pub struct CsvLine<'a> {
    out: &'a mut Vec<u8>,
    fields: usize,
    empty: bool,
}

impl<'a> CsvLine<'a> {
    /// A line appended to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> CsvLine<'a> {
        CsvLine {
            out,
            fields: 0,
            empty: true,
        }
    }

    /// One field. `_csv` quotes it when it holds the delimiter, the quote character or a
    /// character of the line terminator (3.11: `\n` only; 3.12 adds `\r`, which `csv_cell`
    /// never leaves), and doubles the quotes inside.
    pub fn field(&mut self, text: &[u8]) {
        if self.fields > 0 {
            self.out.push(b',');
        }
        self.fields += 1;
        self.empty &= text.is_empty();
        if !text.iter().any(|c| matches!(c, b',' | b'"' | b'\n')) {
            self.out.extend_from_slice(text);
            return;
        }
        self.out.push(b'"');
        for &c in text {
            if c == b'"' {
                self.out.push(b'"');
            }
            self.out.push(c);
        }
        self.out.push(b'"');
    }

    /// Ends the line. A row of one empty field is written `""` (an empty line would read back
    /// as no field at all).
    pub fn end(self) {
        if self.fields == 1 && self.empty {
            self.out.extend_from_slice(b"\"\"");
        }
        self.out.push(b'\n');
    }
}

/// The header line: the record's field names.
pub fn encode_csv_header(out: &mut Vec<u8>) {
    let mut line = CsvLine::new(out);
    for name in FIELDS {
        line.field(name.as_bytes());
    }
    line.end();
}

/// `_cell` of each value, into reused buffers.
struct Cells<'a, 'b> {
    line: CsvLine<'a>,
    cell: &'b mut Vec<u8>,
    json: &'b mut Vec<u8>,
}

impl Cells<'_, '_> {
    fn num<T: Into<u64>>(&mut self, n: Option<T>) {
        self.cell.clear();
        if let Some(n) = n {
            let _ = write!(self.cell, "{}", n.into());
        }
        self.line.field(self.cell);
    }

    fn float(&mut self, x: Option<f64>) {
        self.cell.clear();
        if let Some(x) = x {
            repr_into(x, self.cell);
        }
        self.line.field(self.cell);
    }

    fn text(&mut self, s: Option<&str>) {
        self.cell.clear();
        if let Some(s) = s {
            csv_cell(s, self.cell);
        }
        self.line.field(self.cell);
    }

    fn boolean(&mut self, b: Option<bool>) {
        self.line.field(match b {
            Some(true) => b"T",
            Some(false) => b"F",
            None => b"",
        });
    }

    /// A dict or list: `csv_cell(json.dumps(value, separators=(",", ":")))`.
    fn nested(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.json.clear();
        encode(self.json);
        self.cell.clear();
        // ensure_ascii JSON is ASCII, hence UTF-8.
        csv_cell(
            std::str::from_utf8(self.json).unwrap_or_default(),
            self.cell,
        );
        self.line.field(self.cell);
    }
}

/// Appends `rec` as one CSV line (with its `\n`); `cell` and `json` are scratch buffers.
pub fn encode_csv(rec: &FlowRecord, out: &mut Vec<u8>, cell: &mut Vec<u8>, json: &mut Vec<u8>) {
    let mut c = Cells {
        line: CsvLine::new(out),
        cell,
        json,
    };
    c.float(Some(rec.ts));
    c.text(Some(&rec.uid));
    c.text(Some(&rec.orig_h));
    c.num(Some(rec.orig_p));
    c.text(Some(&rec.resp_h));
    c.num(Some(rec.resp_p));
    c.float(Some(rec.duration));
    for n in [
        rec.orig_pkts,
        rec.resp_pkts,
        rec.orig_bytes,
        rec.resp_bytes,
        rec.orig_ip_bytes,
        rec.resp_ip_bytes,
    ] {
        c.num(Some(n));
    }
    for s in [rec.conn_state, &rec.history, rec.state_orig, rec.state_resp] {
        c.text(Some(s));
    }
    c.nested(|j| json_flags(&rec.flags_orig, j));
    c.nested(|j| json_flags(&rec.flags_resp, j));
    c.num(Some(rec.payload_orig));
    c.num(Some(rec.payload_resp));
    c.num(rec.isn_orig);
    c.num(rec.isn_resp);
    c.num(rec.mss_orig);
    c.num(rec.mss_resp);
    c.num(rec.wscale_orig);
    c.num(rec.wscale_resp);
    c.boolean(rec.sack_perm);
    c.boolean(rec.timestamps);
    c.float(rec.irtt);
    c.float(rec.rtt_syn_synack);
    c.float(rec.rtt_synack_ack);
    c.num(Some(rec.syn_retries));
    c.nested(|j| json_floats(&rec.syn_retry_gaps, j));
    c.num(Some(rec.retrans_orig));
    c.num(Some(rec.retrans_resp));
    c.num(Some(rec.zero_window));
    c.text(Some(rec.closed_by));
    c.text(Some(rec.close_kind));
    c.nested(|j| json_counts(&rec.illegal_flags, j));
    c.boolean(Some(rec.direction_inferred));
    c.nested(|j| json_ints(&rec.vlan, j));
    c.num(rec.pid_orig);
    c.num(rec.pid_resp);
    c.text(rec.proc_orig.as_deref());
    c.text(rec.proc_resp.as_deref());
    c.text(rec.continues_uid.as_deref());
    c.line.end();
}
