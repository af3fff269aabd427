//! The bounded queue of handshake and teardown events a session publishes for the UI's feed.
//!
//! An event is noticed where a segment moved an endpoint (or retried a SYN), from the flow's
//! state right after the tracker took the segment; a full queue drops the oldest event and
//! counts it, so a reader that falls behind never slows capture.

use std::collections::VecDeque;

use crate::flow::Flow;
use crate::segment::{Segment, ACK, RST, SYN};
use crate::tcpstate::{Side, TcpState};

/// Events held at most; past it the oldest go (counted in `EventQueue::dropped`).
pub const EVENTS_KEPT: usize = 10_000;

/// What happened to a flow.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// Both ends ESTABLISHED; the handshake's RTT when its SYN was seen.
    Handshake { irtt: Option<f64> },
    /// The responder answered a SYN with an RST: nothing listens there.
    Refused,
    /// An RST from one end closed an established (or closing) connection.
    Reset { by: Side },
    /// The first FIN of one end.
    Fin { by: Side },
    /// One end entered TIME_WAIT.
    TimeWait { side: Side },
    /// The originator sent its SYN again (`n`-th retry, `gap` seconds after the previous try).
    SynRetry { n: u64, gap: f64 },
    /// The flow left the tracker at its cap (`evicted`) or after lingering closed.
    Gone { evicted: bool },
}

/// One event: when (capture time), which flow, what.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub ts: f64,
    pub flow_id: u64,
    pub kind: EventKind,
}

/// The queue (see the module docs).
#[derive(Default)]
pub struct EventQueue {
    queue: VecDeque<Event>,
    /// Events dropped because the queue was full.
    pub dropped: u64,
}

impl EventQueue {
    pub fn push(&mut self, event: Event) {
        if self.queue.len() >= EVENTS_KEPT {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(event);
    }

    /// The newest `at_most` queued events, oldest first, and how many older ones were passed
    /// over (a reader keeping no more than `at_most` would let them go unread); the queue is
    /// left empty.
    pub fn take(&mut self, at_most: usize) -> (Vec<Event>, usize) {
        let skipped = self.queue.len().saturating_sub(at_most);
        let newest = self.queue.drain(..).skip(skipped).collect();
        (newest, skipped)
    }
}

/// The events the segment `seg` tells of caused in `flow`, which the tracker has just given it
/// to.
pub fn notice(flow: &Flow, seg: &Segment, out: &mut EventQueue) {
    let flags = seg.flags;
    let at = |kind| Event {
        ts: seg.ts,
        flow_id: flow.id,
        kind,
    };
    if flags & (SYN | ACK) == SYN {
        if let Some(times) = flow.orig.syn_times() {
            let n = times.len() as u64 - 1;
            if n > 0 && times.last() == Some(&seg.ts) {
                let gap = times[times.len() - 1] - times[times.len() - 2];
                out.push(at(EventKind::SynRetry { n, gap }));
            }
        }
    }
    let moves = flow.transitions();
    let recent = &moves[moves.len().saturating_sub(4)..];
    // A handshake is one seen from its SYN (a flow picked up mid-stream only synchronises).
    let mut handshake = flow.orig.syn + flow.orig.synack + flow.resp.syn + flow.resp.synack > 0;
    for t in recent.iter().filter(|t| t.frame_no == seg.frame_no) {
        let kind = match t.new {
            TcpState::Established
                if handshake
                    && flow.state_orig() == TcpState::Established
                    && flow.state_resp() == TcpState::Established =>
            {
                handshake = false;
                Some(EventKind::Handshake { irtt: flow.irtt })
            }
            TcpState::FinWait1 | TcpState::LastAck => Some(EventKind::Fin { by: t.side }),
            TcpState::TimeWait => Some(EventKind::TimeWait { side: t.side }),
            TcpState::Closed if flags & RST != 0 && t.side != sender(flow, seg) => {
                if t.old == TcpState::SynSent {
                    Some(EventKind::Refused)
                } else {
                    Some(EventKind::Reset {
                        by: sender(flow, seg),
                    })
                }
            }
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(at(kind));
        }
    }
}

/// Which end sent `seg`.
fn sender(flow: &Flow, seg: &Segment) -> Side {
    if (seg.src, seg.sport) == flow.orig_end() {
        Side::Orig
    } else {
        Side::Resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_of(n: u64) -> EventQueue {
        let mut q = EventQueue::default();
        for i in 0..n {
            q.push(Event {
                ts: i as f64,
                flow_id: i,
                kind: EventKind::Refused,
            });
        }
        q
    }

    #[test]
    fn a_reader_takes_the_newest_events_it_keeps_and_learns_how_many_it_passed_over() {
        let mut q = queue_of(10);
        let (newest, skipped) = q.take(4);
        assert_eq!(
            newest.iter().map(|e| e.flow_id).collect::<Vec<_>>(),
            [6, 7, 8, 9]
        );
        assert_eq!(skipped, 6);
        assert_eq!(q.take(4), (Vec::new(), 0), "the queue is left empty");
        let mut q = queue_of(3);
        let (all, skipped) = q.take(usize::MAX);
        assert_eq!((all.len(), skipped), (3, 0));
        let mut full = queue_of(EVENTS_KEPT as u64 + 5);
        assert_eq!(
            full.dropped, 5,
            "a full queue drops its oldest, counted apart"
        );
        assert_eq!(full.take(EVENTS_KEPT).1, 0);
    }
}
