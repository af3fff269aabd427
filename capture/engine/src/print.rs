//! The tcpdump-like line per segment (Python: `capture.printer`). TO BE PORTED (outputs helper).
