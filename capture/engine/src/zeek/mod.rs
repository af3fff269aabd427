//! Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes` and `resp_bytes`
//! (Python: `capture.zeek`, `capture.zeek_machine`, `capture.zeek_endpoint`).
//! TO BE PORTED (zeek helper).
