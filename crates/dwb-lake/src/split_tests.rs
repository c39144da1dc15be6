//! The pieces, parsed one by one, are the records of the whole file with
//! the same line numbers, however the bytes arrive.

use proptest::prelude::*;

use super::*;

/// Splits `bytes` arriving `chunk` bytes at a time.
fn split(bytes: &[u8], chunk: usize, min_piece: usize) -> Result<Vec<Piece>, SplitError> {
    let mut s = Splitter::new(min_piece);
    let mut pieces = Vec::new();
    for c in bytes.chunks(chunk.max(1)) {
        s.push(c)?;
        while let Some(p) = s.next_piece()? {
            pieces.push(p);
        }
    }
    pieces.extend(s.finish());
    Ok(pieces)
}

/// Records (fields and line numbers) as csv reads them.
fn records(bytes: &[u8], first_line: u64) -> Vec<(u64, Vec<Vec<u8>>)> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    r.byte_records()
        .map(|rec| {
            let rec = rec.unwrap();
            let line = rec.position().unwrap().line() + first_line - 1;
            (line, rec.iter().map(<[u8]>::to_vec).collect())
        })
        .collect()
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,6}",
        Just("\"a,\"\"b\"\"\nc\"".to_string()),
        Just("\"\r\n\"".to_string()),
        Just("5\" pipe".to_string()),
        Just("\"".to_string()),
        Just("\"\"".to_string()),
        Just(String::new()),
    ]
}

proptest! {
    #[test]
    fn pieces_hold_the_records_of_the_whole_file(
        lines in proptest::collection::vec(proptest::collection::vec(cell(), 0..5), 0..30),
        ends in proptest::collection::vec(prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("\n\n")], 1..4),
        chunk in 1usize..64,
        min_piece in 1usize..48,
        last_end in any::<bool>(),
    ) {
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&l.join(","));
            if i + 1 < lines.len() || last_end {
                text.push_str(ends[i % ends.len()]);
            }
        }
        let pieces = split(text.as_bytes(), chunk, min_piece).unwrap();
        let joined: Vec<u8> = pieces.iter().flat_map(|p| p.bytes.to_vec()).collect();
        prop_assert_eq!(&joined, text.as_bytes());
        let mut got = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let recs = records(&p.bytes, p.first_line);
            if i == 0 {
                // The first piece is the header record alone.
                prop_assert!(recs.len() <= 1, "{:?}", p);
            }
            got.extend(recs);
        }
        prop_assert_eq!(got, records(text.as_bytes(), 1));
    }
}

#[test]
fn pieces_are_at_least_the_least_size_and_end_at_a_line_end() {
    let text = "h\n".to_string() + &"abc\n".repeat(1000);
    let pieces = split(text.as_bytes(), 100, 256).unwrap();
    assert_eq!(&pieces[0].bytes[..], b"h\n");
    for p in &pieces[1..pieces.len() - 1] {
        assert!(p.bytes.len() >= 256 && p.bytes.ends_with(b"\n"), "{p:?}");
    }
    let lines: Vec<u64> = pieces.iter().map(|p| p.first_line).collect();
    assert_eq!(lines[1], 2);
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn blank_lines_before_the_header_stay_with_it() {
    let pieces = split(b"\n\r\nh,i\n1,2\n", 3, 1).unwrap();
    assert_eq!(&pieces[0].bytes[..], b"\n\r\nh,i\n");
    assert_eq!(pieces[1].first_line, 4);
}

#[test]
fn a_long_line_is_refused_by_its_number_with_or_without_quotes() {
    for quote in ["", "\""] {
        let text = format!(
            "h\n{quote}a{quote}\nb\n{}\n",
            "x".repeat(MAX_LINE_BYTES + 1)
        );
        assert_eq!(
            split(text.as_bytes(), 64 * 1024, 1024).err(),
            Some(SplitError::LineTooLong(4)),
            "{quote}"
        );
        let longest = format!("h\n{quote}a{quote}\nb\n{}\n", "x".repeat(MAX_LINE_BYTES));
        assert!(split(longest.as_bytes(), 64 * 1024, 1024).is_ok());
    }
    // Without a line end, the header is the long line.
    let header = "x".repeat(MAX_LINE_BYTES + 1);
    assert_eq!(
        split(header.as_bytes(), 4096, 1024).err(),
        Some(SplitError::LineTooLong(1))
    );
}

#[test]
fn a_quote_left_open_is_refused_where_its_record_starts() {
    let mut text = "h\nok\n\"open\n".to_string();
    let line = "y".repeat(1000) + "\n";
    while text.len() <= MAX_RECORD_BYTES + 2000 {
        text.push_str(&line);
    }
    let err = split(text.as_bytes(), 1 << 20, 1 << 20).unwrap_err();
    assert_eq!(err, SplitError::RecordTooLong(3));
    assert!(err.to_string().contains("closing quote missing"), "{err}");
}
