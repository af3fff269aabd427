//! tcpwatch's native engine: everything that touches each packet.
//!
//! `reader` walks pcap/pcapng (gzip or not) records, `decode` turns a frame into a `Segment`,
//! `tracker` builds flows (`flow`, with `tcpstate` for RFC 9293 states and `zeek` for Zeek's
//! bookkeeping), and `print`/`export` write the headless outputs: `headless` runs a whole
//! capture to them, `session` runs one on its own thread into flows the UI reads. `python`
//! (feature `python`)
//! exposes it all to the `capture` package as `capture._engine`, with the GIL released for
//! every per-packet loop.

pub mod decode;
pub mod export;
pub mod filter;
pub mod flow;
pub mod headless;
pub mod live;
pub mod pcapwrite;
pub mod print;
pub mod pyfloat;
pub mod reader;
pub mod segment;
pub mod session;
pub mod tcpstate;
pub mod tracker;
pub mod zeek;

#[cfg(feature = "python")]
mod python;
