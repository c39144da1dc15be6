//! Clusters ingested rows on the schema's key columns, one Parquet file at a time, and says so in the file.
//!
//! Each file dwb writes holds its rows sorted by the key columns (ascending,
//! nulls last: the order a query sorting on them asks for) and records that
//! order in its row groups' `sorting_columns`. DataFusion reads it from the
//! footers: a page sorted on the key stops reading as soon as it has its
//! rows instead of sorting every match, and row groups of a key range are
//! pruned by their statistics. Rows arriving already in key order (time
//! series usually do) are written as they came, without a copy.

use deltalake::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use deltalake::arrow::compute::{
    concat_batches, lexsort_to_indices, take_record_batch, SortColumn, SortOptions,
};
use deltalake::arrow::datatypes::{
    DataType, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::row::{OwnedRow, RowConverter, SortField};
use deltalake::parquet::file::metadata::SortingColumn;

use crate::schema::{ColumnType, TableSchema};

/// The order of the key columns in every written file.
const KEY_ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

/// Positions of the schema's key columns, in schema order (empty: no clustering).
pub(crate) fn key_columns(schema: &TableSchema) -> Vec<usize> {
    schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.key)
        .map(|(i, _)| i)
        .collect()
}

/// The Parquet `sorting_columns` of a file clustered on `key`.
pub(crate) fn sorting_columns(key: &[usize]) -> Vec<SortingColumn> {
    key.iter()
        .map(|&i| SortingColumn {
            column_idx: i32::try_from(i).unwrap_or(i32::MAX),
            descending: KEY_ORDER.descending,
            nulls_first: KEY_ORDER.nulls_first,
        })
        .collect()
}

/// About how many batches of `batch_rows` rows of `schema` fit in `bytes`
/// (strings counted at 24 bytes).
pub(crate) fn batches_within(schema: &TableSchema, bytes: usize, batch_rows: usize) -> usize {
    let row: usize = schema
        .columns
        .iter()
        .map(|c| match c.ty {
            ColumnType::Boolean => 1,
            ColumnType::Int32 => 4,
            ColumnType::Int64 | ColumnType::Decimal | ColumnType::Double | ColumnType::DateTime => 8,
            ColumnType::String => 24,
        } + 1)
        .sum();
    bytes / batch_rows.max(1).saturating_mul(row.max(1))
}

/// The rows of `batches` (one file's worth) sorted on `key`, in batches of
/// at most `batch_rows` rows. Already sorted input comes back unchanged.
pub(crate) fn clustered(
    batches: Vec<RecordBatch>,
    key: &[usize],
    batch_rows: usize,
) -> Result<Vec<RecordBatch>, ArrowError> {
    if key.is_empty() || batches.is_empty() || in_key_order(&batches, key)? {
        return Ok(batches);
    }
    let all = concat_batches(&batches[0].schema(), &batches)?;
    drop(batches);
    let columns: Vec<SortColumn> = key
        .iter()
        .map(|&i| SortColumn {
            values: all.column(i).clone(),
            options: Some(KEY_ORDER),
        })
        .collect();
    let order = lexsort_to_indices(&columns, None)?;
    let sorted = take_record_batch(&all, &order)?;
    drop(all);
    let rows = sorted.num_rows();
    let step = batch_rows.max(1);
    Ok((0..rows)
        .step_by(step)
        .map(|at| sorted.slice(at, step.min(rows - at)))
        .collect())
}

/// True when the rows of `batches`, read in turn, never go down in key order.
fn in_key_order(batches: &[RecordBatch], key: &[usize]) -> Result<bool, ArrowError> {
    if let [column] = key {
        if let Some(answer) = one_column_in_order(batches, *column) {
            return Ok(answer);
        }
    }
    rows_in_order(batches, key)
}

/// [`in_key_order`] for any key: each row's key encoded as bytes that
/// compare in key order.
fn rows_in_order(batches: &[RecordBatch], key: &[usize]) -> Result<bool, ArrowError> {
    let schema = batches[0].schema();
    let fields = key
        .iter()
        .map(|&i| SortField::new_with_options(schema.field(i).data_type().clone(), KEY_ORDER))
        .collect();
    let converter = RowConverter::new(fields)?;
    let mut last: Option<OwnedRow> = None;
    for b in batches {
        let cols: Vec<ArrayRef> = key.iter().map(|&i| b.column(i).clone()).collect();
        let rows = converter.convert_columns(&cols)?;
        if let (Some(l), Some(first)) = (&last, rows.iter().next()) {
            if l.row() > first {
                return Ok(false);
            }
        }
        if rows.iter().zip(rows.iter().skip(1)).any(|(a, b)| a > b) {
            return Ok(false);
        }
        if let Some(r) = rows.iter().next_back() {
            last = Some(r.owned());
        }
    }
    Ok(true)
}

/// [`in_key_order`] for a key of one integer or date-time column without
/// nulls, compared as numbers (the general path encodes every row for the
/// comparison: a tenth of a second of the encoder's thread per 10 million
/// rows); `None` for any other key.
fn one_column_in_order(batches: &[RecordBatch], column: usize) -> Option<bool> {
    let mut last: Option<i64> = None;
    for b in batches {
        let values = b.column(column);
        if values.null_count() > 0 {
            return None;
        }
        let ordered = match values.data_type() {
            DataType::Int32 => ascending(values.as_primitive::<Int32Type>().values(), &mut last),
            DataType::Int64 => ascending(values.as_primitive::<Int64Type>().values(), &mut last),
            DataType::Timestamp(TimeUnit::Microsecond, _) => ascending(
                values.as_primitive::<TimestampMicrosecondType>().values(),
                &mut last,
            ),
            _ => return None,
        };
        if !ordered {
            return Some(false);
        }
    }
    Some(true)
}

/// True when `values` never go down, starting from `last` (moved to the
/// last value).
fn ascending<T: Copy + Into<i64>>(values: &[T], last: &mut Option<i64>) -> bool {
    let mut prev = *last;
    for &v in values {
        let v: i64 = v.into();
        if prev.is_some_and(|p| p > v) {
            return false;
        }
        prev = Some(v);
    }
    *last = prev;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;
    use deltalake::arrow::array::{Int64Array, StringArray};
    use deltalake::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(ks: &[Option<&str>], ns: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ks.to_vec())),
                Arc::new(Int64Array::from(ns.to_vec())),
            ],
        )
        .unwrap()
    }

    fn rows(batches: &[RecordBatch]) -> Vec<(Option<String>, i64)> {
        let mut out = Vec::new();
        for b in batches {
            let k = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let n = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                out.push(((!k.is_null(i)).then(|| k.value(i).to_string()), n.value(i)));
            }
        }
        out
    }

    #[test]
    fn rows_are_sorted_on_the_key_across_batches_with_nulls_last() {
        let input = vec![
            batch(&[Some("b"), None, Some("a")], &[1, 2, 3]),
            batch(&[Some("c"), Some("a")], &[4, 5]),
        ];
        let out = clustered(input, &[0, 1], 2).unwrap();
        assert_eq!(
            out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let got = rows(&out);
        let want = [
            (Some("a"), 3),
            (Some("a"), 5),
            (Some("b"), 1),
            (Some("c"), 4),
            (None, 2),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, n)| (k.map(String::from), *n))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn sorted_input_and_no_key_come_back_unchanged() {
        let input = vec![
            batch(&[Some("a"), Some("a")], &[1, 2]),
            batch(&[Some("b"), None], &[1, 0]),
        ];
        // Already in order across the batch boundary: the very same batches.
        let out = clustered(input.clone(), &[0, 1], 1).unwrap();
        assert_eq!(out, input);
        let out = clustered(input.clone(), &[], 1).unwrap();
        assert_eq!(out, input);
        // Out of order only across the boundary is still out of order.
        let across = vec![batch(&[Some("b")], &[1]), batch(&[Some("a")], &[2])];
        assert!(!in_key_order(&across, &[0]).unwrap());
        let out = clustered(across, &[0], 8).unwrap();
        assert_eq!(rows(&out), [(Some("a".into()), 2), (Some("b".into()), 1)]);
    }

    #[test]
    fn a_numeric_key_is_checked_as_numbers_as_the_general_path_does() {
        let none = |n: usize| vec![None; n];
        let cases = [
            // Ties, also across a batch boundary.
            (
                vec![batch(&none(2), &[1, 2]), batch(&none(2), &[2, 2])],
                true,
            ),
            // Down only across the boundary.
            (vec![batch(&none(2), &[1, 3]), batch(&none(1), &[2])], false),
            (vec![batch(&none(2), &[-5, -7])], false),
            (vec![batch(&none(2), &[i64::MIN, i64::MAX])], true),
            (vec![batch(&none(0), &[]), batch(&none(1), &[0])], true),
        ];
        for (input, want) in cases {
            assert_eq!(one_column_in_order(&input, 1), Some(want), "{input:?}");
            assert_eq!(rows_in_order(&input, &[1]).unwrap(), want, "{input:?}");
            assert_eq!(in_key_order(&input, &[1]).unwrap(), want);
        }
        // Strings, several columns and nulls take the general path.
        let strings = [batch(&[Some("a")], &[1])];
        assert_eq!(one_column_in_order(&strings, 0), None);
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let with_null = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        assert_eq!(
            one_column_in_order(std::slice::from_ref(&with_null), 0),
            None
        );
        assert!(in_key_order(&[with_null], &[0]).unwrap(), "nulls last");
    }

    #[test]
    fn int32_and_date_time_keys_are_checked_as_numbers_too() {
        use deltalake::arrow::array::{Int32Array, TimestampMicrosecondArray};
        let one = |column: ArrayRef| {
            let field = Field::new("k", column.data_type().clone(), false);
            RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![column]).unwrap()
        };
        let ints = |v: Vec<i32>| one(Arc::new(Int32Array::from(v)));
        let times = |v: Vec<i64>| {
            one(Arc::new(
                TimestampMicrosecondArray::from(v).with_timezone("UTC"),
            ))
        };
        for (input, want) in [
            ([ints(vec![-3, 0, 0]), ints(vec![0, i32::MAX])], true),
            ([ints(vec![1, 2]), ints(vec![1])], false),
            ([times(vec![-1, 5]), times(vec![5, 6])], true),
            ([times(vec![7, 5]), times(vec![9])], false),
        ] {
            assert_eq!(one_column_in_order(&input, 0), Some(want), "{input:?}");
            assert_eq!(rows_in_order(&input, &[0]).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn the_key_is_the_schemas_key_columns_in_order() {
        let mut a = Column::new("a", ColumnType::String);
        a.key = true;
        let mut t = Column::new("t", ColumnType::DateTime);
        t.key = true;
        let s = TableSchema::new(vec![Column::new("x", ColumnType::Int32), a, t]).unwrap();
        let key = key_columns(&s);
        assert_eq!(key, [1, 2]);
        let sc = sorting_columns(&key);
        assert_eq!(sc.len(), 2);
        assert!(sc.iter().all(|c| !c.descending && !c.nulls_first));
        assert_eq!(sc[1].column_idx, 2);
        // 3 columns: 5 + 25 + 9 bytes a row.
        assert_eq!(batches_within(&s, 39 * 1000, 100), 10);
    }
}
