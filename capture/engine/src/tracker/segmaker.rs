//! Hand-built `Segment`s for table-driven tests (Python: `tests/segmaker.py`).
//!
//! `Conv` plays both ends of one connection and keeps each side's next sequence number, so a
//! test writes only tcpdump's flag letters (`"S"`, `"S."`, `"."`, `"F."`, `"R."`) and a length.

use crate::segment::{Addr, Opts, Segment, ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};

/// tcpdump's flag letters (`S.`, `FP.`, `none`) to flag bits.
pub fn flag_bits(text: &str) -> u16 {
    if text == "none" {
        return 0;
    }
    text.chars()
        .map(|c| match c {
            'F' => FIN,
            'S' => SYN,
            'R' => RST,
            'P' => PSH,
            'U' => URG,
            'E' => ECE,
            'W' => CWR,
            '.' => ACK,
            _ => panic!("unknown flag letter {c}"),
        })
        .fold(0, |a, b| a | b)
}

/// An address from its text form.
pub fn addr(text: &str) -> Addr {
    let ip: std::net::IpAddr = text.parse().expect("test address");
    match ip {
        std::net::IpAddr::V4(a) => Addr::new(&a.octets()),
        std::net::IpAddr::V6(a) => Addr::new(&a.octets()),
    }
}

/// What a segment carries besides its endpoints and flags.
#[derive(Clone, Debug)]
pub struct Fields {
    pub seq: u32,
    pub ack: u32,
    pub ts: f64,
    pub frame_no: u64,
    pub payload_len: u32,
    pub window: u16,
    pub opts: Vec<u8>,
    pub vlan: Vec<u16>,
}

impl Default for Fields {
    fn default() -> Fields {
        Fields {
            seq: 0,
            ack: 0,
            ts: 0.0,
            frame_no: 1,
            payload_len: 0,
            window: 65535,
            opts: Vec::new(),
            vlan: Vec::new(),
        }
    }
}

/// One segment as the decoder would give it for a LINKTYPE_RAW frame (`make_segment`).
pub fn make_segment(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: u16,
    f: Fields,
) -> Segment {
    let (src, dst) = (addr(src), addr(dst));
    let mut opts = f.opts.clone();
    while !opts.len().is_multiple_of(4) {
        opts.push(0);
    }
    let tcp_len = 20 + opts.len() as u32;
    let v6 = src.is_v6();
    let ip_hlen = if v6 { 40 } else { 20 };
    let ip_len = ip_hlen + tcp_len + f.payload_len;
    Segment {
        frame_no: f.frame_no,
        ts: f.ts,
        linktype: 101,
        wire_len: ip_len,
        caplen: ip_len,
        truncated: false,
        ip_version: if v6 { 6 } else { 4 },
        ip_off: 0,
        src,
        dst,
        ip_len,
        ttl: 64,
        vlan: f.vlan.into(),
        tcp_off: ip_hlen,
        sport,
        dport,
        seq: f.seq,
        ack: f.ack,
        flags,
        window: f.window,
        urg_ptr: 0,
        opts: Opts::new(&opts),
        bad_opts: None,
        payload_len: f.payload_len,
        header_ok: true,
        ip_checksum_ok: true,
        tcp_checksum_ok: true,
    }
}

/// A typical SYN option list (MSS, SACK-permitted, timestamps, window scale).
pub fn syn_options(mss: u16, wscale: Option<u8>, sack: bool, ts: bool) -> Vec<u8> {
    let mut out = vec![2, 4];
    out.extend_from_slice(&mss.to_be_bytes());
    if sack {
        out.extend_from_slice(&[4, 2]);
    }
    if ts {
        out.extend_from_slice(&[8, 10]);
        out.extend_from_slice(&12345u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
    }
    if let Some(w) = wscale {
        out.extend_from_slice(&[1, 3, 3, w]);
    }
    out
}

/// Optional parts of one `Conv::send`.
#[derive(Clone, Debug, Default)]
pub struct Send {
    pub seq: Option<u32>,
    pub ack: Option<u32>,
    pub dt: Option<f64>,
    pub at: Option<f64>,
    pub opts: Vec<u8>,
    pub window: Option<u16>,
}

/// Both ends of one connection; `c(...)` sends from the client, `s(...)` from the server.
pub struct Conv {
    pub client: (String, u16),
    pub server: (String, u16),
    /// Next sequence number of the client and the server.
    pub nxt: [u32; 2],
    pub ts: f64,
    pub frame_no: u64,
    pub vlan: Vec<u16>,
}

impl Default for Conv {
    fn default() -> Conv {
        Conv::new(("10.0.0.1", 40000), ("10.0.0.2", 80))
    }
}

impl Conv {
    pub fn new(client: (&str, u16), server: (&str, u16)) -> Conv {
        Conv {
            client: (client.0.into(), client.1),
            server: (server.0.into(), server.1),
            nxt: [1000, 5000],
            ts: 1000.0,
            frame_no: 0,
            vlan: Vec::new(),
        }
    }

    pub fn isns(mut self, c: u32, s: u32) -> Conv {
        self.nxt = [c, s];
        self
    }

    pub fn t0(mut self, t0: f64) -> Conv {
        self.ts = t0;
        self
    }

    pub fn vlan(mut self, vlan: &[u16]) -> Conv {
        self.vlan = vlan.to_vec();
        self
    }

    /// A segment from the client.
    pub fn c(&mut self, flags: &str, length: u32) -> Segment {
        self.send(true, flags, length, Send::default())
    }

    /// A segment from the server.
    pub fn s(&mut self, flags: &str, length: u32) -> Segment {
        self.send(false, flags, length, Send::default())
    }

    /// A segment from the client or the server; seq/ack follow the conversation unless given.
    pub fn send(&mut self, client: bool, flags: &str, length: u32, kw: Send) -> Segment {
        let bits = flag_bits(flags);
        let (me, other) = if client { (0, 1) } else { (1, 0) };
        self.ts = kw.at.unwrap_or(self.ts + kw.dt.unwrap_or(0.001));
        self.frame_no += 1;
        let seq = kw.seq.unwrap_or(self.nxt[me]);
        let ack = kw
            .ack
            .unwrap_or(if bits & ACK != 0 { self.nxt[other] } else { 0 });
        let (src, dst) = if client {
            (&self.client, &self.server)
        } else {
            (&self.server, &self.client)
        };
        let seg = make_segment(
            &src.0,
            src.1,
            &dst.0,
            dst.1,
            bits,
            Fields {
                seq,
                ack,
                ts: self.ts,
                frame_no: self.frame_no,
                payload_len: length,
                window: kw.window.unwrap_or(65535),
                opts: kw.opts,
                vlan: self.vlan.clone(),
            },
        );
        let end = seq
            .wrapping_add(length)
            .wrapping_add(u32::from(bits & SYN != 0))
            .wrapping_add(u32::from(bits & FIN != 0));
        if end.wrapping_sub(self.nxt[me]) < 0x8000_0000 {
            self.nxt[me] = end;
        }
        seg
    }
}
