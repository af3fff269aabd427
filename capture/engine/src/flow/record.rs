//! A flow's export record and its uid (Python: `Flow.record()`, `_uid`).

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

use super::Flow;
use crate::export::FlowRecord;
use crate::pyfloat::round;
use crate::tcpstate::Side as Dir;

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Flow {
    /// The export record (Zeek's field names where Zeek has them), as `Flow.record()`.
    pub fn record(&self) -> FlowRecord {
        let (o, r, z) = (&self.orig, &self.resp, &self.zeek);
        let (orig_h, orig_p) = self.orig_end();
        let (resp_h, resp_p) = self.resp_end();
        let po = self.proc(Dir::Orig);
        let pr = self.proc(Dir::Resp);
        FlowRecord {
            ts: self.first_ts,
            uid: self.uid(),
            continues_uid: self.continues_uid(),
            orig_h: addr_text(&orig_h),
            orig_p,
            resp_h: addr_text(&resp_h),
            resp_p,
            duration: round(self.last_ts - self.first_ts, 9),
            orig_pkts: o.pkts,
            resp_pkts: r.pkts,
            orig_bytes: z.orig_bytes(),
            resp_bytes: z.resp_bytes(),
            orig_ip_bytes: o.ip_bytes,
            resp_ip_bytes: r.ip_bytes,
            conn_state: z.conn_state(),
            history: z.history().to_string(),
            state_orig: o.ep.state.name(),
            state_resp: r.ep.state.name(),
            flags_orig: o.flags(),
            flags_resp: r.flags(),
            payload_orig: o.payload,
            payload_resp: r.payload,
            isn_orig: o.ep.isn,
            isn_resp: r.ep.isn,
            mss_orig: o.mss,
            mss_resp: r.mss,
            wscale_orig: o.wscale,
            wscale_resp: r.wscale,
            sack_perm: self.sack_perm(),
            timestamps: self.timestamps(),
            irtt: self.irtt.map(|x| round(x, 9)),
            rtt_syn_synack: self.rtt_syn_synack.map(|x| round(x, 9)),
            rtt_synack_ack: self.rtt_synack_ack.map(|x| round(x, 9)),
            syn_retries: self.syn_retries(),
            syn_retry_gaps: self.syn_retry_gaps(),
            retrans_orig: o.retrans,
            retrans_resp: r.retrans,
            zero_window: o.zero_window + r.zero_window,
            closed_by: self.closed_by_name(),
            close_kind: self.close_kind(),
            illegal_flags: self.illegal.as_deref().cloned().unwrap_or_default(),
            direction_inferred: self.direction_inferred,
            vlan: self.key.vlan.to_vec(),
            pid_orig: po.map(|p| p.0),
            pid_resp: pr.map(|p| p.0),
            proc_orig: po.map(|p| p.1.to_string()),
            proc_resp: pr.map(|p| p.1.to_string()),
        }
    }
}

/// Zeek-style uid: "C" and 17 base62 characters of blake2b-104 over the run's `seed` (its
/// big-endian bytes without leading zeros: none for 0) and then the flow id's 8 bytes. Ids are
/// unique within a run, so uids are; seeds differ between runs unless `--seed` fixes one, so
/// uids do too (as Zeek's). Seed 0 hashes the id alone: the uids tcpwatch made before seeds.
pub fn uid(seed: u64, fid: u64) -> String {
    let mut digest = [0u8; 13];
    let mut hasher = Blake2bVar::new(13).expect("13 is a valid blake2b digest size");
    let seed_bytes = seed.to_be_bytes();
    hasher.update(&seed_bytes[(seed.leading_zeros() / 8) as usize..]);
    hasher.update(&fid.to_be_bytes());
    hasher
        .finalize_variable(&mut digest)
        .expect("the buffer is the digest's size");
    let mut n = digest.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
    let mut out = String::with_capacity(18);
    out.push('C');
    // Two base62 digits at a time, least significant first, as Python's pair table.
    for _ in 0..8 {
        let r = (n % 3844) as usize;
        n /= 3844;
        out.push(B62[r % 62] as char);
        out.push(B62[r / 62] as char);
    }
    out.push(B62[(n % 62) as usize] as char);
    out
}

/// A seed from the operating system's randomness (std's `RandomState` keys come from it), for
/// a run that was given none.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0x7463_7077_6174_6368u64)
}

/// An address's text (as `Addr`'s Display writes it) without the formatting machinery: two of
/// these per exported record.
fn addr_text(addr: &crate::segment::Addr) -> String {
    let mut out = Vec::with_capacity(40);
    crate::print::text::write_addr(&mut out, addr);
    String::from_utf8(out).unwrap_or_default()
}
