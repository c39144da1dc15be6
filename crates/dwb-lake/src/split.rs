//! Cuts a CSV byte stream into pieces that end where a record ends, so that
//! several threads can parse a file at once; on the way it refuses a line
//! longer than [`MAX_LINE_BYTES`] without looking at every byte (files
//! without quotes are searched from the end of each chunk with `memchr`).

use bytes::{Bytes, BytesMut};

/// Longest line of a CSV file, in bytes: a longer one rejects the file
/// before it is held in memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Longest record, in bytes: a quoted value may span lines, but one that
/// runs on past this (a closing quote missing) rejects the file.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Where csv's reader would be after the bytes seen so far (comma, double
/// quotes doubled inside quoted values, no escape character; `\r` and `\n`
/// end records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before a record: line ends here are blank lines, which csv skips.
    RecordStart,
    FieldStart,
    InField,
    InQuotes,
    /// A quote seen inside quotes: the value's end, or the first of `""`.
    QuoteInQuotes,
}

/// A run of whole records (the last one may be cut by the end of the file).
#[derive(Debug, Clone)]
pub struct Piece {
    pub bytes: Bytes,
    /// The 1-based line number of its first byte.
    pub first_line: u64,
}

/// Why the stream cannot be split: the file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// The line of this number is longer than [`MAX_LINE_BYTES`].
    LineTooLong(u64),
    /// The record starting on this line is longer than [`MAX_RECORD_BYTES`].
    RecordTooLong(u64),
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::LineTooLong(line) => write!(
                f,
                "line {line}: longer than {MAX_LINE_BYTES} bytes (1 MiB), the longest line accepted"
            ),
            SplitError::RecordTooLong(line) => write!(
                f,
                "line {line}: a quoted value runs on for more than {} MiB; is its closing quote missing?",
                MAX_RECORD_BYTES >> 20
            ),
        }
    }
}

/// Holds the bytes not yet handed out and knows where records end in them.
pub struct Splitter {
    buf: BytesMut,
    /// Bytes of `buf` looked at: all of it, except after the header's end
    /// until the header is cut.
    scanned: usize,
    at: At,
    /// End of the last record found in `buf` (0: none yet).
    boundary: usize,
    /// Where the line being read starts in `buf`.
    line_start: usize,
    /// Line number of `buf[0]`.
    first_line: u64,
    /// Least bytes of a piece (except the header and the last piece).
    min_piece: usize,
    /// The first record (the header) is still to be cut, alone.
    header: bool,
}

impl Splitter {
    pub fn new(min_piece: usize) -> Self {
        Splitter {
            buf: BytesMut::new(),
            scanned: 0,
            at: At::RecordStart,
            boundary: 0,
            line_start: 0,
            first_line: 1,
            min_piece,
            header: true,
        }
    }

    /// Takes in the next bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SplitError> {
        self.buf.extend_from_slice(bytes);
        self.scan()
    }

    /// The next piece: the header record alone, then runs of whole records
    /// of at least the least size; `None` until the bytes held make one.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, SplitError> {
        if self.header {
            if self.boundary == 0 {
                return Ok(None);
            }
            let piece = self.cut(self.boundary);
            self.header = false;
            self.scan()?;
            return Ok(Some(piece));
        }
        Ok((self.boundary >= self.min_piece).then(|| self.cut(self.boundary)))
    }

    /// After an error: the whole records before it (their problems come
    /// before the error's), if any.
    pub fn held_records(&mut self) -> Option<Piece> {
        (!self.header && self.boundary > 0).then(|| self.cut(self.boundary))
    }

    /// The rest at the end of the stream, once [`Splitter::next_piece`]
    /// has nothing more: `None` when nothing is left. (A file without a
    /// line end is all header.)
    pub fn finish(&mut self) -> Option<Piece> {
        self.header = false;
        (!self.buf.is_empty()).then(|| self.cut(self.buf.len()))
    }

    fn cut(&mut self, at: usize) -> Piece {
        let bytes = self.buf.split_to(at).freeze();
        let first_line = self.first_line;
        self.first_line += newlines(&bytes);
        self.scanned -= at;
        self.boundary = 0;
        self.line_start = self.line_start.saturating_sub(at);
        Piece { bytes, first_line }
    }

    /// Looks at the bytes not yet seen: record ends, line lengths, the
    /// length of a quoted value.
    fn scan(&mut self) -> Result<(), SplitError> {
        let (from, end) = (self.scanned, self.buf.len());
        if self.header && self.boundary > 0 {
            // The header's end is known; the rest is seen once it is cut.
            return Ok(());
        }
        let unquoted = !self.header
            && self.at != At::InQuotes
            && memchr::memchr(b'"', &self.buf[from..end]).is_none();
        if unquoted {
            self.scan_unquoted(from, end)?;
        } else {
            self.scan_bytes(from, end)?;
        }
        if self.at == At::InQuotes && self.scanned - self.boundary > MAX_RECORD_BYTES {
            return Err(SplitError::RecordTooLong(self.line_at(self.boundary)));
        }
        Ok(())
    }

    /// Without quotes every line end ends a record: find the last one, and
    /// check line lengths by jumping from line end to line end a line's
    /// most bytes at a time.
    fn scan_unquoted(&mut self, from: usize, end: usize) -> Result<(), SplitError> {
        let mut start = self.line_start;
        while end - start > MAX_LINE_BYTES {
            let window = &self.buf[start..=start + MAX_LINE_BYTES];
            match memchr::memrchr2(b'\n', b'\r', window) {
                Some(i) => start += i + 1,
                None => {
                    // Every line before it ends a record (no quotes here).
                    self.boundary = self.boundary.max(start);
                    return Err(SplitError::LineTooLong(self.line_at(start)));
                }
            }
        }
        if let Some(i) = memchr::memrchr2(b'\n', b'\r', &self.buf[from..end]) {
            let last = from + i;
            self.line_start = last + 1;
            // A record ends at the first line end of a run (the rest are
            // blank lines, or the `\n` of `\r\n`): csv numbers the next
            // record's line from there, so pieces are cut there too. A run
            // from the start of the buffer ends no record (a cut was made
            // at its first line end).
            let run = self.buf[..=last]
                .iter()
                .rposition(|b| *b != b'\n' && *b != b'\r')
                .map(|before| before + 1);
            if let Some(first) = run {
                self.boundary = self.boundary.max(first + 1);
            }
        }
        if end > from {
            self.at = match self.buf[end - 1] {
                b'\n' | b'\r' => At::RecordStart,
                b',' => At::FieldStart,
                _ => At::InField,
            };
        }
        self.scanned = end;
        Ok(())
    }

    /// Byte by byte, as csv's reader goes (files with quotes, and the
    /// header, which ends at its first record end).
    fn scan_bytes(&mut self, from: usize, end: usize) -> Result<(), SplitError> {
        for i in from..end {
            let b = self.buf[i];
            let line_end = b == b'\n' || b == b'\r';
            if line_end {
                if i - self.line_start > MAX_LINE_BYTES {
                    return Err(SplitError::LineTooLong(self.line_at(self.line_start)));
                }
                self.line_start = i + 1;
            }
            self.at = match (self.at, b) {
                (At::InQuotes, b'"') => At::QuoteInQuotes,
                (At::InQuotes, _) => At::InQuotes,
                // Blank lines (or the `\n` of `\r\n`): csv skips them.
                (At::RecordStart, b'\n' | b'\r') => At::RecordStart,
                (_, b'\n' | b'\r') => {
                    self.boundary = i + 1;
                    if self.header {
                        self.at = At::RecordStart;
                        self.scanned = i + 1;
                        return Ok(());
                    }
                    At::RecordStart
                }
                (At::RecordStart | At::FieldStart | At::QuoteInQuotes, b'"') => At::InQuotes,
                (_, b',') => At::FieldStart,
                _ => At::InField,
            };
        }
        self.scanned = end;
        if end - self.line_start > MAX_LINE_BYTES {
            return Err(SplitError::LineTooLong(self.line_at(self.line_start)));
        }
        Ok(())
    }

    /// The line number of `buf[pos]`.
    fn line_at(&self, pos: usize) -> u64 {
        self.first_line + newlines(&self.buf[..pos])
    }
}

/// How many `\n` the bytes hold (csv numbers lines by `\n` alone).
fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
