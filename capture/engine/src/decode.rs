//! Turn one captured frame into a `Segment` (Python: `capture.decode.Decoder`).
//! TO BE PORTED (decoder helper).
