//! Guessing a schema from the first lines of a CSV file, to propose one when a data set is created.

use crate::error::LakeError;
use crate::schema::{Column, ColumnType, TableSchema};
use crate::values;

/// A schema for a CSV sample (the header and some rows). Each column gets
/// the narrowest of Int64, Double, Boolean (`true`/`false`), DateTime
/// (RFC 3339 or `YYYY-MM-DD HH:MM:SS`) and String that holds all its
/// non-empty values. Columns are optional, filterable and sortable. A last
/// line without a line break is taken as cut off and ignored.
pub fn infer_schema(header_and_first_rows: &str) -> Result<TableSchema, LakeError> {
    let sample = header_and_first_rows.trim_start_matches('\u{feff}');
    let complete = match sample.rfind('\n') {
        Some(i) if !sample.ends_with('\n') => &sample[..=i],
        _ => sample,
    };
    // A sample that is only a header without a line break is still a header.
    let text = if complete.is_empty() {
        sample
    } else {
        complete
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| LakeError::bad("csv", format!("unreadable header: {e}")))?
        .clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(LakeError::bad("csv", "the header is empty"));
    }
    let mut guesses: Vec<Option<ColumnType>> = vec![None; header.len()];
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| LakeError::bad("csv", format!("line {}: {e}", n + 2)))?;
        if record.len() != header.len() {
            return Err(LakeError::bad(
                "csv",
                format!(
                    "line {}: expected {} values, found {}",
                    n + 2,
                    header.len(),
                    record.len()
                ),
            ));
        }
        for (g, v) in guesses.iter_mut().zip(record.iter()) {
            let v = v.trim();
            if !v.is_empty() {
                *g = Some(widen(*g, v));
            }
        }
    }
    let columns = header
        .iter()
        .zip(guesses)
        .enumerate()
        .map(|(i, (name, g))| {
            let mut c = Column::new(name.trim(), g.unwrap_or(ColumnType::String));
            c.order = i32::try_from(i).unwrap_or(i32::MAX);
            c
        })
        .collect();
    TableSchema::new(columns)
}

/// The narrowest type holding both what was seen so far and `v`.
fn widen(seen: Option<ColumnType>, v: &str) -> ColumnType {
    let fits = |t: ColumnType| match t {
        ColumnType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        t => values::parse(t, None, v).is_some(),
    };
    let order: &[ColumnType] = match seen {
        None | Some(ColumnType::Int64) => &[ColumnType::Int64, ColumnType::Double],
        Some(ColumnType::Double) => &[ColumnType::Double],
        Some(ColumnType::Boolean) => &[ColumnType::Boolean],
        Some(ColumnType::DateTime) => &[ColumnType::DateTime],
        Some(_) => &[],
    };
    let first_look = [
        ColumnType::Int64,
        ColumnType::Double,
        ColumnType::Boolean,
        ColumnType::DateTime,
    ];
    let candidates: &[ColumnType] = if seen.is_none() { &first_look } else { order };
    candidates
        .iter()
        .copied()
        .find(|t| fits(*t))
        .unwrap_or(ColumnType::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(sample: &str) -> Vec<ColumnType> {
        infer_schema(sample)
            .map(|s| s.columns.iter().map(|c| c.ty).collect())
            .unwrap_or_default()
    }

    #[test]
    fn numbers_widen_from_int_to_double_to_string() {
        assert_eq!(
            types("a,b,c\n1,1,1\n2,2.5,x\n"),
            vec![ColumnType::Int64, ColumnType::Double, ColumnType::String]
        );
    }

    #[test]
    fn booleans_dates_and_empty_columns() {
        assert_eq!(
            types("ok,at,e\ntrue,2026-01-02 03:04:05,\nFALSE,2026-01-02T03:04:05Z,\n"),
            vec![
                ColumnType::Boolean,
                ColumnType::DateTime,
                ColumnType::String
            ]
        );
    }

    #[test]
    fn a_cut_off_last_line_is_ignored() {
        assert_eq!(
            types("n,s\n1,a\n2,b\n3.7,xyz-cut"),
            vec![ColumnType::Int64, ColumnType::String]
        );
    }

    #[test]
    fn ragged_rows_are_bad_input() {
        assert!(matches!(
            infer_schema("a,b\n1\n"),
            Err(LakeError::BadInput { .. })
        ));
    }
}
