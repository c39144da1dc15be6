//! Hostile CSV: any bytes, cut anywhere, with any schema, give rows or
//! problems by line and column, never a panic; long lines are refused.

use bytes::Bytes;
use deltalake::arrow::array::{Array, Int64Array, StringArray};
use proptest::prelude::*;
use tokio::sync::mpsc;

use super::*;
use crate::schema::{Column, ColumnType};

/// Parses `bytes` sent in pieces of `piece` bytes; answers the result and the batches.
fn parse(
    bytes: &[u8],
    piece: usize,
    schema: &TableSchema,
) -> (Result<u64, LakeError>, Vec<RecordBatch>) {
    let piece = piece.max(1);
    let (tx, rx) = mpsc::channel(bytes.len() / piece + 2);
    for c in bytes.chunks(piece) {
        tx.try_send(Bytes::copy_from_slice(c)).unwrap();
    }
    drop(tx);
    let (btx, mut brx) = mpsc::channel(1024);
    let result = parse_csv(rx, schema, btx);
    let mut batches = Vec::new();
    while let Ok(b) = brx.try_recv() {
        batches.push(b);
    }
    (result, batches)
}

fn schema() -> TableSchema {
    TableSchema::new(vec![
        Column::new("s", ColumnType::String),
        Column::new("i", ColumnType::Int32).required(),
        Column::new("d", ColumnType::Double),
        Column::new("b", ColumnType::Boolean),
        Column::new("t", ColumnType::DateTime),
        Column::new("q\"u;o ../", ColumnType::String),
    ])
    .unwrap()
}

/// Every problem is placed by line (or says the file cannot be read).
fn assert_placed(result: &Result<u64, LakeError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => {}
        Err(LakeError::Rejected { errors }) => {
            prop_assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS);
            for e in errors {
                prop_assert!(
                    e.starts_with("line ") || e.starts_with("unreadable CSV"),
                    "{e}"
                );
            }
        }
        Err(other) => prop_assert!(false, "not a rejection: {other}"),
    }
    Ok(())
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        "[0-9]{1,12}",
        Just("\"a,\"\"b\"\"\nc\"".to_string()),
        Just("'; DROP TABLE x;--".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("true".to_string()),
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("\u{feff}".to_string()),
        Just("\"".to_string()),
    ]
}

proptest! {
    #[test]
    fn any_bytes_give_rows_or_placed_problems(bytes in proptest::collection::vec(any::<u8>(), 0..600), piece in 1usize..64) {
        let (result, _) = parse(&bytes, piece, &schema());
        assert_placed(&result)?;
    }

    #[test]
    fn a_right_header_with_any_lines_gives_rows_or_placed_problems(
        lines in proptest::collection::vec(proptest::collection::vec(cell(), 0..8), 0..12),
        piece in 1usize..128,
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("i,s,d,b,t,\"q\"\"u;o ../\"{end}");
        for l in &lines {
            text.push_str(&l.join(","));
            text.push_str(end);
        }
        let (result, batches) = parse(text.as_bytes(), piece, &schema());
        assert_placed(&result)?;
        if let Ok(n) = result {
            prop_assert!(n as usize <= lines.len());
            prop_assert_eq!(batches.iter().map(|b| b.num_rows() as u64).sum::<u64>(), n);
        }
    }

    #[test]
    fn any_string_values_come_back_exactly(values in proptest::collection::vec(".{1,20}", 1..20), piece in 1usize..64) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["v"]).unwrap();
        for v in &values {
            w.write_record([v]).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let schema = TableSchema::new(vec![Column::new("v", ColumnType::String)]).unwrap();
        let (result, batches) = parse(&bytes, piece, &schema);
        // Blank values are nulls; everything else is kept verbatim.
        let expected: Vec<Option<&str>> = values
            .iter()
            .map(|v| (!v.trim().is_empty()).then_some(v.as_str()))
            .collect();
        prop_assert_eq!(result.ok(), Some(values.len() as u64));
        let col = batches[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<&str>> = (0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i))).collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn a_line_longer_than_the_limit_is_refused_by_number() {
    let schema = TableSchema::new(vec![Column::new("v", ColumnType::String)]).unwrap();
    let longest = format!("v\nshort\n{}\nend\n", "x".repeat(MAX_LINE_BYTES));
    let (result, _) = parse(longest.as_bytes(), 1 << 20, &schema);
    assert_eq!(result.ok(), Some(3));

    for piece in [1000, 1 << 16, 3 << 20] {
        let too_long = format!("v\nshort\n{}\nend\n", "x".repeat(MAX_LINE_BYTES + 1));
        match parse(too_long.as_bytes(), piece, &schema).0 {
            Err(LakeError::Rejected { errors }) => {
                assert_eq!(errors.len(), 1);
                assert!(
                    errors[0].starts_with("line 3: longer than 1048576 bytes"),
                    "{errors:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A header without an end of line is a line too.
    let (result, _) = parse("x".repeat(MAX_LINE_BYTES + 10).as_bytes(), 1 << 16, &schema);
    assert!(
        matches!(result, Err(LakeError::Rejected { errors }) if errors[0].starts_with("line 1: longer"))
    );
    // A quoted value spanning lines counts line by line.
    let spanning = format!("v\n\"{}\"\n", "ab\n".repeat(MAX_LINE_BYTES / 2));
    assert_eq!(parse(spanning.as_bytes(), 1 << 16, &schema).0.ok(), Some(1));
}

#[test]
fn a_file_of_many_pieces_keeps_its_order_and_its_line_numbers() {
    let schema = TableSchema::new(vec![
        Column::new("s", ColumnType::String),
        Column::new("n", ColumnType::Int64).required(),
    ])
    .unwrap();
    let rows = PIECE_BYTES / 4;
    let mut text = String::from("s,n\n");
    for i in 0..rows {
        text.push_str(&format!("\"r\n{i}\",{i}\n"));
    }
    for piece in [64 * 1024, 1 << 20] {
        let (result, batches) = parse(text.as_bytes(), piece, &schema);
        assert_eq!(result.ok(), Some(rows as u64));
        let mut next = 0;
        for b in &batches {
            assert!(b.num_rows() <= BATCH_ROWS);
            let n = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for v in n.iter() {
                assert_eq!(v, Some(next));
                next += 1;
            }
        }
        assert_eq!(next, rows as i64);
    }

    // Problems in several pieces come in the file's order, by the file's
    // line numbers (each row takes two lines: its string holds a line end).
    let bad = [7, rows / 2, rows - 1];
    let mut text = String::from("s,n\n");
    for i in 0..rows {
        let n = if bad.contains(&i) {
            "x".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("\"r\n{i}\",{n}\n"));
    }
    let expected: Vec<String> = bad
        .iter()
        .map(|i| format!("line {}, column n: 'x' is not a Int64", 2 + 2 * i))
        .collect();
    match parse(text.as_bytes(), 1 << 20, &schema).0 {
        Err(LakeError::Rejected { errors }) => assert_eq!(errors, expected),
        other => panic!("{other:?}"),
    }
}
