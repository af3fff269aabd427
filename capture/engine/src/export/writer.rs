//! The record writers (Python: `JsonlWriter`, `CsvWriter`, `make_writer`): records gathered in
//! a buffer and written out in large pieces, as Python batches 256 records per write.

use super::csv::{encode_csv, encode_csv_header};
use super::json::encode_json;
use super::FlowRecord;
use std::io::{self, Write};

/// Bytes gathered before one write to the output.
pub const BATCH_BYTES: usize = 64 * 1024;

/// Which format a `RecordWriter` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One compact JSON object per line.
    Jsonl,
    /// A header line, then one CSV row per record.
    Csv,
}

/// Writes flow records as JSON lines or CSV to any `Write` (pass `&mut out` to keep `out`);
/// buffered: `flush` pushes the records out and reports errors (dropping flushes quietly).
pub struct RecordWriter<W: Write> {
    out: W,
    format: Format,
    buf: Vec<u8>,
    cell: Vec<u8>,
    json: Vec<u8>,
    count: u64,
}

impl<W: Write> RecordWriter<W> {
    /// A writer of `format` to `out`.
    pub fn new(format: Format, out: W) -> RecordWriter<W> {
        RecordWriter {
            out,
            format,
            buf: Vec::with_capacity(BATCH_BYTES + 4096),
            cell: Vec::new(),
            json: Vec::new(),
            count: 0,
        }
    }

    /// JSON lines to `out` (Python's `JsonlWriter`).
    pub fn jsonl(out: W) -> RecordWriter<W> {
        RecordWriter::new(Format::Jsonl, out)
    }

    /// CSV to `out` (Python's `CsvWriter`): the header comes before the first record.
    pub fn csv(out: W) -> RecordWriter<W> {
        RecordWriter::new(Format::Csv, out)
    }

    /// Records written so far (Python's `writer.count`).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Write one record (buffered).
    pub fn write(&mut self, rec: &FlowRecord) -> io::Result<()> {
        self.encode(rec);
        if self.buf.len() >= BATCH_BYTES {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Encode one record into the gathered bytes, and no more: `take_encoded` takes them out
    /// (an encoder thread hands them on so instead of copying them into a writer).
    pub fn encode(&mut self, rec: &FlowRecord) {
        match self.format {
            Format::Jsonl => {
                encode_json(rec, &mut self.buf);
                self.buf.push(b'\n');
            }
            Format::Csv => {
                if self.count == 0 {
                    encode_csv_header(&mut self.buf);
                }
                encode_csv(rec, &mut self.buf, &mut self.cell, &mut self.json);
            }
        }
        self.count += 1;
    }

    /// Bytes encoded and not yet written or taken.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes encoded and not yet written, taken out; the writer gathers anew.
    pub fn take_encoded(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_BYTES + 4096))
    }

    /// The output, once `flush` has pushed everything into it (a `Vec<u8>` to drain, say).
    pub fn output_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Write out the gathered records and flush the output.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.out.flush()
    }
}

impl<W: Write> Drop for RecordWriter<W> {
    /// What is still gathered goes out (errors then have no one to go to: call `flush`).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
