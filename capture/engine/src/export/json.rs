//! One flow record as `json.JSONEncoder(separators=(",", ":")).encode(flow.record())` writes it.

use super::text::json_str;
use super::{FlagCounts, FlowRecord};
use crate::pyfloat::repr_into;

/// A float as Python's `json` writes it: `repr`, or `NaN`/`Infinity`/`-Infinity`.
pub fn json_f64(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        repr_into(x, out);
    }
}

fn json_u64(n: u64, out: &mut Vec<u8>) {
    crate::print::text::push_dec(out, n);
}

/// `Endpoint.flags` as a compact JSON object, keys in `Flow.record()`'s order.
pub fn json_flags(f: &FlagCounts, out: &mut Vec<u8>) {
    json_counts(&f.named(), out);
}

/// `{"name":count,...}` in the given order (`illegal_flags`, the flag counts).
pub fn json_counts(pairs: &[(&str, u64)], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (name, count)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(name, out);
        out.push(b':');
        json_u64(*count, out);
    }
    out.push(b'}');
}

/// A JSON list of floats (`syn_retry_gaps`).
pub fn json_floats(xs: &[f64], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_f64(*x, out);
    }
    out.push(b']');
}

/// A JSON list of integers (`vlan`).
pub fn json_ints(xs: &[u16], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_u64(u64::from(*x), out);
    }
    out.push(b']');
}

/// Writes an object's members, separated by `,` with no spaces.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Obj<'_> {
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        // The names are the record's own field names: plain ASCII, nothing to escape.
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn num(&mut self, name: &str, n: u64) {
        json_u64(n, self.key(name));
    }

    fn float(&mut self, name: &str, x: Option<f64>) {
        match x {
            Some(x) => json_f64(x, self.key(name)),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    fn text(&mut self, name: &str, s: Option<&str>) {
        match s {
            Some(s) => json_str(s, self.key(name)),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    fn opt_num<T: Into<u64>>(&mut self, name: &str, n: Option<T>) {
        match n {
            Some(n) => json_u64(n.into(), self.key(name)),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    fn boolean(&mut self, name: &str, b: Option<bool>) {
        let text: &[u8] = match b {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        };
        self.key(name).extend_from_slice(text);
    }
}

/// Appends `rec` as one compact JSON object (no newline), byte for byte as Python writes it.
pub fn encode_json(rec: &FlowRecord, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut o = Obj { out, first: true };
    o.float("ts", Some(rec.ts));
    o.text("uid", Some(&rec.uid));
    o.text("orig_h", Some(&rec.orig_h));
    o.num("orig_p", rec.orig_p.into());
    o.text("resp_h", Some(&rec.resp_h));
    o.num("resp_p", rec.resp_p.into());
    o.float("duration", Some(rec.duration));
    o.num("orig_pkts", rec.orig_pkts);
    o.num("resp_pkts", rec.resp_pkts);
    o.num("orig_bytes", rec.orig_bytes);
    o.num("resp_bytes", rec.resp_bytes);
    o.num("orig_ip_bytes", rec.orig_ip_bytes);
    o.num("resp_ip_bytes", rec.resp_ip_bytes);
    o.text("conn_state", Some(rec.conn_state));
    o.text("history", Some(&rec.history));
    o.text("state_orig", Some(rec.state_orig));
    o.text("state_resp", Some(rec.state_resp));
    json_flags(&rec.flags_orig, o.key("flags_orig"));
    json_flags(&rec.flags_resp, o.key("flags_resp"));
    o.num("payload_orig", rec.payload_orig);
    o.num("payload_resp", rec.payload_resp);
    o.opt_num("isn_orig", rec.isn_orig);
    o.opt_num("isn_resp", rec.isn_resp);
    o.opt_num("mss_orig", rec.mss_orig);
    o.opt_num("mss_resp", rec.mss_resp);
    o.opt_num("wscale_orig", rec.wscale_orig);
    o.opt_num("wscale_resp", rec.wscale_resp);
    o.boolean("sack_perm", rec.sack_perm);
    o.boolean("timestamps", rec.timestamps);
    o.float("irtt", rec.irtt);
    o.float("rtt_syn_synack", rec.rtt_syn_synack);
    o.float("rtt_synack_ack", rec.rtt_synack_ack);
    o.num("syn_retries", rec.syn_retries);
    json_floats(&rec.syn_retry_gaps, o.key("syn_retry_gaps"));
    o.num("retrans_orig", rec.retrans_orig);
    o.num("retrans_resp", rec.retrans_resp);
    o.num("zero_window", rec.zero_window);
    o.text("closed_by", Some(rec.closed_by));
    o.text("close_kind", Some(rec.close_kind));
    json_counts(&rec.illegal_flags, o.key("illegal_flags"));
    o.boolean("direction_inferred", Some(rec.direction_inferred));
    json_ints(&rec.vlan, o.key("vlan"));
    o.opt_num("pid_orig", rec.pid_orig);
    o.opt_num("pid_resp", rec.pid_resp);
    o.text("proc_orig", rec.proc_orig.as_deref());
    o.text("proc_resp", rec.proc_resp.as_deref());
    o.text("continues_uid", rec.continues_uid.as_deref());
    out.push(b'}');
}
