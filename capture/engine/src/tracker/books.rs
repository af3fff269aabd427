//! What a segment does to its flow beyond the steady fast path (Python: `FlowTracker._account`
//! and `_slow`), and the bookkeeping shared by every flow: kept frames, the closing queue, the
//! eviction order, the changed ids and the flows that left.

use std::collections::{HashSet, VecDeque};

use super::departed::Departed;
use super::eviction::EvictionOrder;
use super::rings::FrameRings;
use super::updates::{
    analyze, check_illegal, count_rare, illegal_names, on_ack, on_fin, on_rst, on_syn, seq_space,
};
use crate::flow::Flow;
use crate::segment::{Segment, ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};
use crate::tcpstate::{advance_into, append_log, TcpState, Transition};

/// Segments that moved an endpoint (handshake, teardown) always kept per flow, at most.
pub const KEEP_SPECIAL: usize = 32;

/// The tracker's state that is not the flows themselves.
#[derive(Debug)]
pub(crate) struct Books {
    pub rings: FrameRings,
    pub linger: Option<f64>,
    pub verify_checksums: bool,
    /// Flows that closed, with the time they may be let go, roughly in time order.
    pub closing: VecDeque<(f64, u64)>,
    pub order: EvictionOrder,
    /// None until the first `take_changed`: a headless run that never asks keeps no ids.
    pub changed: Option<HashSet<u64>>,
    /// Where the next bounded take of changed ids starts (`take_changed_upto`).
    pub changed_from: u64,
    /// Flows evicted or released, in the order they left.
    /// Boxed as they were tracked: a flow is moved out whole no more (it is about a kilobyte).
    #[allow(
        clippy::vec_box,
        reason = "a Flow is about a kilobyte: moved once, as a pointer"
    )]
    pub gone: Vec<Box<Flow>>,
    /// The keys of the flows that left, for a while (see `departed`).
    pub departed: Departed,
    /// The seed of every flow's uid (`TrackerConfig::uid_seed`).
    pub uid_seed: u64,
    /// Scratch for one segment's transitions.
    moves: Vec<Transition>,
    /// The segment accounted last moved an endpoint of its flow (`FlowTracker::moved`).
    pub moved: bool,
}

impl Books {
    pub fn new(
        rings: FrameRings,
        linger: Option<f64>,
        verify_checksums: bool,
        uid_seed: u64,
    ) -> Books {
        Books {
            rings,
            linger,
            verify_checksums,
            closing: VecDeque::new(),
            order: EvictionOrder::default(),
            changed: None,
            changed_from: 0,
            gone: Vec::new(),
            departed: Departed::default(),
            uid_seed,
            moves: Vec::new(),
            moved: false,
        }
    }

    /// Note a changed flow (when someone listens). Inlined: it is on every segment's path,
    /// and nothing listens in a headless run.
    #[inline]
    pub fn touch(&mut self, id: u64) {
        if let Some(changed) = &mut self.changed {
            changed.insert(id);
        }
    }

    /// `touch` of a tracked flow: its `noted` mark says it is in the set already, which saves
    /// a lookup in the set at every segment of a busy flow (the take clears the marks).
    #[inline]
    pub fn touch_flow(&mut self, flow: &mut Flow) {
        if let Some(changed) = &mut self.changed {
            if !flow.noted {
                flow.noted = true;
                changed.insert(flow.id);
            }
        }
    }

    /// A flow leaves the tracker (evicted or released): note it, hand it over.
    pub fn hand_over(&mut self, flow: Box<Flow>) {
        self.touch(flow.id);
        self.departed.remember(&flow);
        self.gone.push(flow);
    }

    /// Queue a flow that just closed (or was superseded) for release after `linger`.
    pub fn watch_close(&mut self, last_ts: f64, id: u64) {
        if let Some(linger) = self.linger {
            self.closing.push_back((last_ts + linger, id));
        }
        self.order.closed(last_ts, id);
    }

    /// Everything a segment that is not a steady flow's common one does to its flow. `frame`:
    /// the captured bytes, kept when the tracker keeps frames. True when the frame rings went
    /// over a budget (the caller then trims them).
    pub fn account(&mut self, flow: &mut Flow, seg: &Segment, is_orig: bool, frame: &[u8]) -> bool {
        let flags = seg.flags;
        let plen = seg.payload_len;
        let snd = if is_orig {
            &mut flow.orig
        } else {
            &mut flow.resp
        };
        snd.pkts += 1;
        snd.ip_bytes += u64::from(seg.ip_len);
        snd.payload += u64::from(plen);
        if flags & PSH != 0 {
            snd.psh += 1;
        }
        if flags & (URG | ECE | CWR) != 0 {
            count_rare(snd, flags);
        }
        if plen != 0 || flags & (SYN | FIN) != 0 {
            seq_space(snd, seg.seq, plen, flags);
        }
        if seg.window == 0 && flags & (SYN | FIN | RST) == 0 {
            snd.zero_window += 1;
        }
        if flags & (SYN | RST) == 0 {
            snd.zero_window_open = seg.window == 0;
        }
        flow.last_ts = seg.ts;
        let moved = self.slow(flow, seg, is_orig);
        self.moved = moved;
        let marks = analyze(flow, seg, is_orig);
        flow.zeek.update(is_orig, seg);
        if self.rings.per_flow == 0 {
            self.touch_flow(flow);
            return false;
        }
        let special = (flags & (SYN | FIN | RST) != 0 || moved).then_some(KEEP_SPECIAL);
        let over = self.rings.keep(flow, seg, frame, marks, special);
        self.touch_flow(flow);
        over
    }

    /// Handshake, teardown or an unsettled flow; true when an endpoint changed state.
    fn slow(&mut self, flow: &mut Flow, seg: &Segment, is_orig: bool) -> bool {
        let flags = seg.flags;
        let open_before = flags & (FIN | RST) != 0 && !flow.closed();
        let (snd, rcv) = if is_orig {
            (&mut flow.orig, &mut flow.resp)
        } else {
            (&mut flow.resp, &mut flow.orig)
        };
        if snd.base.is_none() {
            snd.base = Some(if flags & SYN != 0 {
                seg.seq
            } else {
                seg.seq.wrapping_sub(1)
            });
            snd.base_from_seq = flags & SYN == 0;
        }
        if flags & ACK != 0 {
            if rcv.base.is_none() {
                rcv.base = Some(seg.ack.wrapping_sub(1));
            }
        } else {
            snd.noack += 1;
        }
        if illegal_names(flags).next().is_some() {
            check_illegal(flow, flags);
        }
        if flags & SYN != 0 {
            on_syn(flow, seg, is_orig);
        } else if flags & ACK != 0
            && (flow.irtt.is_none() || (is_orig && flow.rtt_synack_ack.is_none()))
        {
            on_ack(flow, seg, is_orig);
        }
        if flags & FIN != 0 {
            on_fin(flow, seg, is_orig);
        }
        if flags & RST != 0 {
            on_rst(flow, is_orig);
        }
        let moves = &mut self.moves;
        moves.clear();
        if is_orig {
            advance_into(&mut flow.orig.ep, &mut flow.resp.ep, seg, moves);
        } else {
            advance_into(&mut flow.resp.ep, &mut flow.orig.ep, seg, moves);
        }
        let moved = !moves.is_empty();
        if moved {
            append_log(&mut flow.moves, moves);
        }
        if open_before && flow.closed() {
            self.watch_close(flow.last_ts, flow.id);
        }
        flow.steady = flow.orig.ep.state == TcpState::Established
            && flow.resp.ep.state == TcpState::Established
            && (flow.irtt.is_some() || flow.mru_syn < 0.0)
            && (flow.rtt_synack_ack.is_some() || flow.mru_synack < 0.0);
        moved
    }
}
