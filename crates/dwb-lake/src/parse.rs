//! The CPU half of an ingest, on a blocking thread: raw CSV bytes arrive
//! over a channel, every value is validated and parsed straight into Arrow
//! builders, and record batches go back over another channel, so that
//! reading the upload, parsing and Parquet encoding overlap.

use std::collections::HashMap;
use std::io::Read;

use bytes::Bytes;
use csv::{ByteRecord, ReaderBuilder};
use deltalake::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc::{Receiver, Sender};

use crate::batch::BatchBuilder;
use crate::error::LakeError;
use crate::schema::TableSchema;

/// Rows per record batch and Parquet row group: bounds the memory of an ingest.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Problems reported for a rejected file.
pub const MAX_ERRORS: usize = 20;
/// Longest line of a CSV file, in bytes: a longer one rejects the file
/// before it is held in memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Bytes handed to the CSV reader at a time; far below [`MAX_LINE_BYTES`],
/// so only a line that spans reads can be too long.
const READ_BYTES: usize = 64 * 1024;

/// Bytes arriving over a channel, read as a `std::io::Read` (blocking),
/// refusing a line longer than [`MAX_LINE_BYTES`].
struct ChannelReader {
    rx: Receiver<Bytes>,
    current: Bytes,
    /// 1-based number of the line being read.
    line: u64,
    /// Bytes of that line read so far.
    line_bytes: usize,
}

/// The error a too-long line gives, as the CSV reader passes it on.
#[derive(Debug)]
struct LineTooLong(u64);

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: longer than {MAX_LINE_BYTES} bytes (1 MiB), the longest line accepted",
            self.0
        )
    }
}

impl std::error::Error for LineTooLong {}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len()).min(READ_BYTES);
        let chunk = self.current.split_to(n);
        // `\r` ends a line too (old Mac files); only `\n` counts lines.
        let ends = |b: &u8| *b == b'\n' || *b == b'\r';
        let first = chunk.iter().position(ends);
        if self.line_bytes + first.unwrap_or(n) > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineTooLong(self.line),
            ));
        }
        match chunk.iter().rposition(ends) {
            Some(last) => {
                self.line += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.line_bytes = n - last - 1;
            }
            None => self.line_bytes += n,
        }
        buf[..n].copy_from_slice(&chunk);
        Ok(n)
    }
}

/// Parses a whole CSV file (header first) from `chunks`, sending a batch of
/// [`BATCH_ROWS`] rows at a time to `batches`; answers the number of rows.
/// On bad content it stops sending and answers `Rejected` with the first
/// [`MAX_ERRORS`] problems by line and column. When the receiver of
/// `batches` goes away it stops early (the caller failed).
pub(crate) fn parse_csv(
    chunks: Receiver<Bytes>,
    schema: &TableSchema,
    batches: Sender<RecordBatch>,
) -> Result<u64, LakeError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(ChannelReader {
            rx: chunks,
            current: Bytes::new(),
            line: 1,
            line_bytes: 0,
        });
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(rejected(vec![csv_error(&e)])),
    };
    let positions = map_header(&header, schema).map_err(rejected)?;
    let formats: Vec<Option<&str>> = schema.columns.iter().map(|c| c.format.as_deref()).collect();
    let mut errors = Vec::new();
    let mut batch = BatchBuilder::new(schema);
    let mut record = ByteRecord::new();
    let mut rows: u64 = 0;
    let mut data_line: u64 = 1;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                errors.push(csv_error(&e));
                break;
            }
        }
        data_line += 1;
        let line = record.position().map_or(data_line, |p| p.line());
        if record.len() != positions.len() {
            errors.push(format!(
                "line {line}: expected {} values, found {}",
                positions.len(),
                record.len()
            ));
        } else {
            for (c, (&i, column)) in positions.iter().zip(&schema.columns).enumerate() {
                let raw = record.get(i).unwrap_or_default();
                let Ok(text) = std::str::from_utf8(raw) else {
                    errors.push(format!(
                        "line {line}, column {}: the value is not valid UTF-8",
                        column.name
                    ));
                    continue;
                };
                let value = (!text.trim().is_empty()).then_some(text);
                if value.is_none() && column.required {
                    errors.push(format!(
                        "line {line}, column {}: a value is required",
                        column.name
                    ));
                    continue;
                }
                // After the first problem values are only checked, not kept.
                let ok = if errors.is_empty() {
                    batch.push(c, formats[c], value)
                } else {
                    value.is_none_or(|t| crate::values::is_value(column.ty, formats[c], t))
                };
                if !ok {
                    let shown: String = text.chars().take(100).collect();
                    errors.push(format!(
                        "line {line}, column {}: '{shown}' is not a {}",
                        column.name, column.ty
                    ));
                }
            }
        }
        if errors.is_empty() {
            batch.end_row();
            rows += 1;
            if batch.rows() >= BATCH_ROWS && batches.blocking_send(batch.finish()?).is_err() {
                return Ok(rows);
            }
        } else if errors.len() >= MAX_ERRORS {
            break;
        }
    }
    if !errors.is_empty() {
        errors.truncate(MAX_ERRORS);
        return Err(rejected(errors));
    }
    if batch.rows() > 0 {
        let _ = batches.blocking_send(batch.finish()?);
    }
    Ok(rows)
}

fn rejected(errors: Vec<String>) -> LakeError {
    LakeError::Rejected { errors }
}

fn csv_error(e: &csv::Error) -> String {
    if let csv::ErrorKind::Io(io) = e.kind() {
        if let Some(long) = io.get_ref().and_then(|i| i.downcast_ref::<LineTooLong>()) {
            return long.to_string();
        }
    }
    match e.position() {
        Some(p) => format!("line {}: {}", p.line(), e),
        None => format!("unreadable CSV: {e}"),
    }
}

/// For each schema column, its index in the CSV header. Every header name
/// must be a schema column and every schema column must be present.
fn map_header(header: &csv::StringRecord, schema: &TableSchema) -> Result<Vec<usize>, Vec<String>> {
    let mut errors = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let name = if i == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let name = name.trim();
        if by_name.insert(name, i).is_some() {
            errors.push(format!(
                "line 1: column '{name}' appears twice in the header"
            ));
        } else if schema.column(name).is_none() {
            errors.push(format!("line 1: column '{name}' is not in the schema"));
        }
    }
    let mut positions = Vec::with_capacity(schema.columns.len());
    for c in &schema.columns {
        match by_name.get(c.name.as_str()) {
            Some(&i) => positions.push(i),
            None => errors.push(format!(
                "line 1: column '{}' is missing from the header",
                c.name
            )),
        }
    }
    if errors.is_empty() {
        Ok(positions)
    } else {
        errors.truncate(MAX_ERRORS);
        Err(errors)
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
