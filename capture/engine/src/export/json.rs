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

/// `n` in decimal: two digits at a time from a table, most numbers of a record (counts,
/// ports) being a few digits long.
fn json_u64(mut n: u64, out: &mut Vec<u8>) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839404142434445464748495051525354555657585960616263\
        646566676869707172737475767778798081828384858687888990919293949596979899";
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// `Endpoint.flags` as a compact JSON object, keys in `Flow.record()`'s order.
pub fn json_flags(f: &FlagCounts, out: &mut Vec<u8>) {
    // The names are fixed and need no escape: each written with its punctuation at once.
    const KEYS: [&[u8]; 9] = [
        b"{\"syn\":",
        b",\"synack\":",
        b",\"fin\":",
        b",\"rst\":",
        b",\"psh\":",
        b",\"urg\":",
        b",\"ece\":",
        b",\"cwr\":",
        b",\"ack\":",
    ];
    for (key, (_, count)) in KEYS.iter().zip(f.named()) {
        out.extend_from_slice(key);
        json_u64(count, out);
    }
    out.push(b'}');
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

/// Writes an object's members, separated by `,` with no spaces. Each member's key comes with
/// its punctuation as one constant (`,"name":`), which the compiler copies in place: a record
/// has 47 of them.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
}

/// `,"name":` for a member after the first.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
}

impl Obj<'_> {
    #[inline(always)]
    fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        self.out.extend_from_slice(key);
        self.out
    }

    #[inline(always)]
    fn num(&mut self, key: &[u8], n: u64) {
        json_u64(n, self.key(key));
    }

    #[inline(always)]
    fn float(&mut self, key: &[u8], x: Option<f64>) {
        match x {
            Some(x) => json_f64(x, self.key(key)),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn text(&mut self, key: &[u8], s: Option<&str>) {
        match s {
            Some(s) => json_str(s, self.key(key)),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn opt_num<T: Into<u64>>(&mut self, key: &[u8], n: Option<T>) {
        match n {
            Some(n) => json_u64(n.into(), self.key(key)),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline(always)]
    fn boolean(&mut self, key: &[u8], b: Option<bool>) {
        let text: &[u8] = match b {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        };
        self.key(key).extend_from_slice(text);
    }
}

/// Room for a typical record (about a kilobyte) taken once, not grown piece by piece.
const RECORD_ROOM: usize = 1536;

/// Appends `rec` as one compact JSON object (no newline), byte for byte as Python writes it.
pub fn encode_json(rec: &FlowRecord, out: &mut Vec<u8>) {
    out.reserve(RECORD_ROOM);
    out.extend_from_slice(b"{\"ts\":");
    json_f64(rec.ts, out);
    let mut o = Obj { out };
    o.text(key!("uid"), Some(&rec.uid));
    o.text(key!("orig_h"), Some(&rec.orig_h));
    o.num(key!("orig_p"), rec.orig_p.into());
    o.text(key!("resp_h"), Some(&rec.resp_h));
    o.num(key!("resp_p"), rec.resp_p.into());
    o.float(key!("duration"), Some(rec.duration));
    o.num(key!("orig_pkts"), rec.orig_pkts);
    o.num(key!("resp_pkts"), rec.resp_pkts);
    o.num(key!("orig_bytes"), rec.orig_bytes);
    o.num(key!("resp_bytes"), rec.resp_bytes);
    o.num(key!("orig_ip_bytes"), rec.orig_ip_bytes);
    o.num(key!("resp_ip_bytes"), rec.resp_ip_bytes);
    o.text(key!("conn_state"), Some(rec.conn_state));
    o.text(key!("history"), Some(&rec.history));
    o.text(key!("state_orig"), Some(rec.state_orig));
    o.text(key!("state_resp"), Some(rec.state_resp));
    json_flags(&rec.flags_orig, o.key(key!("flags_orig")));
    json_flags(&rec.flags_resp, o.key(key!("flags_resp")));
    o.num(key!("payload_orig"), rec.payload_orig);
    o.num(key!("payload_resp"), rec.payload_resp);
    o.opt_num(key!("isn_orig"), rec.isn_orig);
    o.opt_num(key!("isn_resp"), rec.isn_resp);
    o.opt_num(key!("mss_orig"), rec.mss_orig);
    o.opt_num(key!("mss_resp"), rec.mss_resp);
    o.opt_num(key!("wscale_orig"), rec.wscale_orig);
    o.opt_num(key!("wscale_resp"), rec.wscale_resp);
    o.boolean(key!("sack_perm"), rec.sack_perm);
    o.boolean(key!("timestamps"), rec.timestamps);
    o.float(key!("irtt"), rec.irtt);
    o.float(key!("rtt_syn_synack"), rec.rtt_syn_synack);
    o.float(key!("rtt_synack_ack"), rec.rtt_synack_ack);
    o.num(key!("syn_retries"), rec.syn_retries);
    json_floats(&rec.syn_retry_gaps, o.key(key!("syn_retry_gaps")));
    o.num(key!("retrans_orig"), rec.retrans_orig);
    o.num(key!("retrans_resp"), rec.retrans_resp);
    o.num(key!("zero_window"), rec.zero_window);
    o.text(key!("closed_by"), Some(rec.closed_by));
    o.text(key!("close_kind"), Some(rec.close_kind));
    json_counts(&rec.illegal_flags, o.key(key!("illegal_flags")));
    o.boolean(key!("direction_inferred"), Some(rec.direction_inferred));
    json_ints(&rec.vlan, o.key(key!("vlan")));
    o.opt_num(key!("pid_orig"), rec.pid_orig);
    o.opt_num(key!("pid_resp"), rec.pid_resp);
    o.text(key!("proc_orig"), rec.proc_orig.as_deref());
    o.text(key!("proc_resp"), rec.proc_resp.as_deref());
    o.text(key!("continues_uid"), rec.continues_uid.as_deref());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The digit pairs write every number as Rust's own formatting does.
        #[test]
        fn numbers_as_decimal(n in proptest::num::u64::ANY, small in 0u64..100_000) {
            for n in [n, small, n >> 32] {
                let mut out = Vec::new();
                json_u64(n, &mut out);
                proptest::prop_assert_eq!(out, n.to_string().into_bytes());
            }
        }

        /// The fixed keys of the flag counts are `FlagCounts::named`'s names.
        #[test]
        fn flags_as_named(counts in proptest::array::uniform9(0u64..1_000_000)) {
            let [syn, synack, fin, rst, psh, urg, ece, cwr, ack] = counts;
            let f = FlagCounts { syn, synack, fin, rst, psh, urg, ece, cwr, ack };
            let (mut fixed, mut named) = (Vec::new(), Vec::new());
            json_flags(&f, &mut fixed);
            json_counts(&f.named(), &mut named);
            proptest::prop_assert_eq!(fixed, named);
        }
    }
}
