//! Per-flow records as JSON lines or CSV, with Zeek's field names (Python: `capture.export`
//! and `Flow.record()`). TO BE PORTED (outputs helper).
