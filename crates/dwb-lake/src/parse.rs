//! The CPU half of an ingest: raw CSV bytes arrive over a channel, are cut
//! into pieces of whole records (`split`), parsed on as many threads as the
//! machine has cores straight into Arrow builders (every value validated),
//! and the record batches go back over another channel in the file's order,
//! so that reading the upload, parsing and Parquet encoding overlap.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{sync_channel, Receiver as Reply, SyncSender};
use std::sync::Mutex;

use bytes::Bytes;
use csv::{ByteRecord, ReaderBuilder};
use deltalake::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc::{Receiver, Sender};

use crate::batch::BatchBuilder;
use crate::error::LakeError;
use crate::schema::TableSchema;
use crate::split::{Piece, SplitError, Splitter};

pub use crate::split::{MAX_LINE_BYTES, MAX_RECORD_BYTES};

/// Rows per record batch and Parquet row group: bounds the memory of an ingest.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Problems reported for a rejected file.
pub const MAX_ERRORS: usize = 20;
/// Least bytes of a piece handed to a parsing thread.
const PIECE_BYTES: usize = 2 * 1024 * 1024;
/// Most parsing threads of one ingest.
const MAX_THREADS: usize = 4;

/// A problem of a piece, placed by its line in the piece until the piece
/// is placed in the file.
struct Problem {
    line: u64,
    /// What follows "line N" in the message.
    what: String,
}

impl Problem {
    fn placed(self, first_line: u64) -> String {
        format!("line {}{}", first_line + self.line - 1, self.what)
    }
}

/// What a piece parsed to: its batches, or its problems (then no batches).
struct Parsed {
    batches: Vec<RecordBatch>,
    rows: u64,
    problems: Vec<Problem>,
}

/// A piece to parse and where its result goes.
type Work = (Piece, SyncSender<Result<Parsed, LakeError>>);

/// The file's columns: the schema's, where each is in the header, its format.
struct Layout<'a> {
    schema: &'a TableSchema,
    positions: Vec<usize>,
    formats: Vec<Option<&'a str>>,
}

/// Parses a whole CSV file (header first) from `chunks`, sending batches of
/// at most [`BATCH_ROWS`] rows to `batches` in the file's order; answers the
/// number of rows. On bad content it stops sending and answers `Rejected`
/// with the first [`MAX_ERRORS`] problems by line and column. When the
/// receiver of `batches` goes away it stops early (the caller failed).
pub(crate) fn parse_csv(
    chunks: Receiver<Bytes>,
    schema: &TableSchema,
    batches: Sender<RecordBatch>,
) -> Result<u64, LakeError> {
    let mut input = Input {
        chunks,
        split: Splitter::new(PIECE_BYTES),
        ended: false,
    };
    let header = input.next().map_err(|e| rejected(vec![e.to_string()]))?;
    let header = header_record(header.as_ref().map_or(&[][..], |h| &h.bytes))?;
    let layout = Layout {
        schema,
        positions: map_header(&header, schema).map_err(rejected)?,
        formats: schema.columns.iter().map(|c| c.format.as_deref()).collect(),
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_THREADS);
    let (work, queue) = sync_channel::<Work>(threads);
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (queue, layout) = (&queue, &layout);
            scope.spawn(move || parse_pieces(queue, layout));
        }
        let mut out = InOrder {
            batches: &batches,
            waiting: VecDeque::new(),
            problems: Vec::new(),
            rows: 0,
            gone: false,
        };
        while !out.stopped() {
            let piece = match input.next() {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(e) => {
                    // The problems of the lines before come first.
                    if let Some(piece) = input.split.held_records() {
                        out.dispatch(&work, piece)?;
                    }
                    out.take_all()?;
                    out.problems.push(e.to_string());
                    break;
                }
            };
            out.dispatch(&work, piece)?;
            if out.waiting.len() >= 2 * threads {
                out.take_oldest()?;
            }
        }
        drop(work);
        if !out.stopped() {
            out.take_all()?;
        }
        if out.problems.is_empty() {
            Ok(out.rows)
        } else {
            out.problems.truncate(MAX_ERRORS);
            Err(rejected(out.problems))
        }
    })
}

/// The file as pieces, header first.
struct Input {
    chunks: Receiver<Bytes>,
    split: Splitter,
    ended: bool,
}

impl Input {
    /// The next piece, `None` after the last.
    fn next(&mut self) -> Result<Option<Piece>, SplitError> {
        loop {
            if let Some(piece) = self.split.next_piece()? {
                return Ok(Some(piece));
            }
            if self.ended {
                return Ok(None);
            }
            match self.chunks.blocking_recv() {
                Some(bytes) => self.split.push(&bytes)?,
                None => {
                    self.ended = true;
                    return Ok(self.split.finish());
                }
            }
        }
    }
}

fn stopped() -> LakeError {
    LakeError::Storage("a CSV parsing thread stopped".into())
}

/// Results of the pieces handed out, taken in the file's order.
struct InOrder<'a> {
    batches: &'a Sender<RecordBatch>,
    /// Each piece's first line and where its result comes.
    waiting: VecDeque<(u64, Reply<Result<Parsed, LakeError>>)>,
    problems: Vec<String>,
    rows: u64,
    /// The receiver of the batches went away.
    gone: bool,
}

impl InOrder<'_> {
    fn stopped(&self) -> bool {
        self.gone || self.problems.len() >= MAX_ERRORS
    }

    /// Hands `piece` to a parsing thread; its result is taken in turn.
    fn dispatch(&mut self, work: &SyncSender<Work>, piece: Piece) -> Result<(), LakeError> {
        let (reply, result) = sync_channel(1);
        let first_line = piece.first_line;
        work.send((piece, reply)).map_err(|_| stopped())?;
        self.waiting.push_back((first_line, result));
        Ok(())
    }

    /// Waits for the oldest piece: its batches go on while the file has no
    /// problem; its problems are placed in the file.
    fn take_oldest(&mut self) -> Result<(), LakeError> {
        let Some((first_line, result)) = self.waiting.pop_front() else {
            return Ok(());
        };
        let parsed = result.recv().map_err(|_| stopped())??;
        if self.problems.len() < MAX_ERRORS {
            let placed = parsed.problems.into_iter().map(|p| p.placed(first_line));
            self.problems.extend(placed);
        }
        if self.problems.is_empty() && !self.gone {
            self.rows += parsed.rows;
            for batch in parsed.batches {
                if self.batches.blocking_send(batch).is_err() {
                    self.gone = true;
                    break;
                }
            }
        }
        Ok(())
    }

    fn take_all(&mut self) -> Result<(), LakeError> {
        while !self.waiting.is_empty() {
            self.take_oldest()?;
        }
        Ok(())
    }
}

/// A parsing thread: takes pieces until there are no more.
fn parse_pieces(queue: &Mutex<std::sync::mpsc::Receiver<Work>>, layout: &Layout) {
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok((piece, reply)) = next else { return };
        // The coordinator may have stopped waiting (a problem elsewhere).
        let _ = reply.send(parse_piece(&piece.bytes, layout));
    }
}

/// Parses the records of one piece (lines numbered from 1 in the piece);
/// after its first problem values are only checked, not kept.
fn parse_piece(bytes: &[u8], layout: &Layout) -> Result<Parsed, LakeError> {
    // A line of its own first, read and dropped: csv drops a byte-order
    // mark at the start of what it reads, which only the file's start may
    // lose. Its lines are then numbered from 2.
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::Read::chain(&b"-\n"[..], bytes));
    let mut record = ByteRecord::new();
    let local = |line: u64| line.saturating_sub(1).max(1);
    if let Err(e) = reader.read_byte_record(&mut record) {
        return Err(LakeError::Storage(format!("the CSV reader failed: {e}")));
    }
    let Layout {
        schema,
        positions,
        formats,
    } = layout;
    let mut problems = Vec::new();
    let mut batches = Vec::new();
    let mut batch = BatchBuilder::new(schema);
    let mut rows: u64 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = local(e.position().map_or(2, |p| p.line()));
                problems.push(Problem {
                    line,
                    what: format!(": {e}"),
                });
                break;
            }
        }
        let line = local(record.position().map_or(2, |p| p.line()));
        // One check of the whole record instead of one per value.
        let whole = std::str::from_utf8(record.as_slice()).ok();
        if record.len() != positions.len() {
            problems.push(Problem {
                line,
                what: format!(
                    ": expected {} values, found {}",
                    positions.len(),
                    record.len()
                ),
            });
        } else {
            for (c, (&i, column)) in positions.iter().zip(&schema.columns).enumerate() {
                let problem = |what: String| Problem {
                    line,
                    what: format!(", column {}: {what}", column.name),
                };
                let text = match whole {
                    Some(w) => record.range(i).and_then(|r| w.get(r)),
                    None => std::str::from_utf8(record.get(i).unwrap_or_default()).ok(),
                };
                let Some(text) = text else {
                    problems.push(problem("the value is not valid UTF-8".into()));
                    continue;
                };
                let value = (!is_blank(text)).then_some(text);
                if value.is_none() && column.required {
                    problems.push(problem("a value is required".into()));
                    continue;
                }
                let ok = if problems.is_empty() {
                    batch.push(c, formats[c], value)
                } else {
                    value.is_none_or(|t| crate::values::is_value(column.ty, formats[c], t))
                };
                if !ok {
                    let shown: String = text.chars().take(100).collect();
                    problems.push(problem(format!("'{shown}' is not a {}", column.ty)));
                }
            }
        }
        if problems.is_empty() {
            batch.end_row();
            rows += 1;
            if batch.rows() >= BATCH_ROWS {
                batches.push(batch.finish()?);
            }
        } else if problems.len() >= MAX_ERRORS {
            break;
        }
    }
    if !problems.is_empty() {
        batches.clear();
    } else if batch.rows() > 0 {
        batches.push(batch.finish()?);
    }
    Ok(Parsed {
        batches,
        rows,
        problems,
    })
}

/// Whether a value is empty or blank; decided by its first byte when that
/// is a visible ASCII character (the usual case).
fn is_blank(text: &str) -> bool {
    match text.as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => text.trim().is_empty(),
    }
}

/// The header record read by csv (its first line).
fn header_record(bytes: &[u8]) -> Result<csv::StringRecord, LakeError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    reader
        .headers()
        .cloned()
        .map_err(|e| rejected(vec![csv_error(&e)]))
}

fn rejected(errors: Vec<String>) -> LakeError {
    LakeError::Rejected { errors }
}

fn csv_error(e: &csv::Error) -> String {
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
