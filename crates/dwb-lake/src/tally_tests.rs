//! Counts from statistics and value counts against DataFusion's own count
//! of the same files, for any filters the API accepts: row groups kept
//! whole, dropped, cut on a categorical column, and left to read; nulls,
//! NaN, a column too wide for value counts, files of different row-group sizes.

use std::sync::Arc;

use deltalake::arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
use deltalake::arrow::array::{RecordBatch, TimestampMicrosecondArray};
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionContext};
use deltalake::parquet::arrow::ArrowWriter;
use deltalake::parquet::file::properties::WriterProperties;
use object_store::local::LocalFileSystem;
use proptest::prelude::*;
use serde_json::{json, Value as Json};

use super::*;
use crate::query::{Filter, FilterOp, RowQuery};
use crate::schema::{Column, ColumnType, TableSchema};
use crate::values::micros_to_rfc3339;

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
const CHANNELS: usize = 12;

fn schema() -> TableSchema {
    TableSchema::new(vec![
        Column::new("t", ColumnType::DateTime),
        Column::new("ch", ColumnType::String),
        Column::new("v", ColumnType::Double),
        Column::new("n", ColumnType::Int64),
        Column::new("b", ColumnType::Boolean),
    ])
    .unwrap()
}

fn channel(i: usize) -> String {
    format!("ch-{:02}", i % CHANNELS)
}

/// Row `i` of file `f`: time rising through the files (clustered), a
/// channel with some nulls, a value with NaN (file 0) or nulls (file 1),
/// a wide integer with nulls in file 1.
fn batch(f: usize, rows: std::ops::Range<usize>) -> RecordBatch {
    let base = f * 10_000;
    let t: Vec<i64> = rows
        .clone()
        .map(|i| T0 + ((base + i) as i64) * 1_000_000)
        .collect();
    let ch: Vec<Option<String>> = rows
        .clone()
        .map(|i| (i % 37 != 5 || f != 1).then(|| channel(i * (f + 1) / 3)))
        .collect();
    let v: Vec<Option<f64>> = rows
        .clone()
        .map(|i| match i % 41 {
            3 if f == 0 => Some(f64::NAN),
            7 if f == 1 => None,
            _ => Some(((i * 13 + f) % 100) as f64 / 4.0),
        })
        .collect();
    let n: Vec<Option<i64>> = rows
        .clone()
        .map(|i| (i % 53 != 9 || f != 1).then_some((i * 7919 + f) as i64))
        .collect();
    let b: Vec<bool> = rows.map(|i| i % 3 == 0).collect();
    RecordBatch::try_new(
        schema().arrow_schema(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(t).with_timezone("UTC")),
            Arc::new(StringArray::from(ch)),
            Arc::new(Float64Array::from(v)),
            Arc::new(Int64Array::from(n)),
            Arc::new(BooleanArray::from(b)),
        ],
    )
    .unwrap()
}

/// Three files (row groups of 50, 100 and 1,500 rows) in a folder.
fn write_files(dir: &std::path::Path) -> Vec<(Path, u64)> {
    let mut out = Vec::new();
    for (f, (rows, group)) in [(600, 50), (700, 100), (3000, 1500)]
        .into_iter()
        .enumerate()
    {
        let name = format!("part-{f}.parquet");
        let file = std::fs::File::create(dir.join(&name)).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let mut w = ArrowWriter::try_new(file, schema().arrow_schema(), Some(props)).unwrap();
        w.write(&batch(f, 0..rows)).unwrap();
        w.close().unwrap();
        let size = std::fs::metadata(dir.join(&name)).unwrap().len();
        out.push((Path::from(name), size));
    }
    out
}

struct Setup {
    _dir: tempfile::TempDir,
    path: String,
    files: Files,
    rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let list = write_files(dir.path());
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    Setup {
        path: format!("{}/", dir.path().display()),
        _dir: dir,
        files: Files { store, files: list },
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}

impl Setup {
    /// The count from `tally` and DataFusion's count of the same filter.
    fn both(&self, tallies: &Tallies, filters: Vec<Filter>) -> (Option<u64>, u64) {
        let schema = schema();
        let q = RowQuery {
            filters,
            ..RowQuery::default()
        };
        let plan = q.plan(&schema).unwrap();
        self.rt.block_on(async {
            let ctx = SessionContext::new();
            let ours = tally(tallies, "t", &ctx, &self.files, &plan.conjuncts)
                .await
                .unwrap();
            let mut df = ctx
                .read_parquet(&self.path, ParquetReadOptions::default())
                .await
                .unwrap();
            if let Some(f) = plan.filter {
                df = df.filter(f).unwrap();
            }
            (ours, df.count().await.unwrap() as u64)
        })
    }
}

fn filter(column: &str, op: FilterOp, values: Vec<Json>) -> Filter {
    Filter {
        column: column.into(),
        op,
        values,
    }
}

fn time(i: i64) -> Json {
    json!(micros_to_rfc3339(T0 + i * 1_000_000).unwrap())
}

#[test]
fn counts_match_datafusion_for_kept_dropped_cut_and_read_row_groups() {
    let s = setup();
    let tallies = Tallies::default();
    let cases = vec![
        // Whole row groups kept and dropped by the time range, the edges read.
        vec![filter(
            "t",
            FilterOp::Between,
            vec![time(130), time(20_420)],
        )],
        // Cut on the channel inside the range: value counts.
        vec![
            filter("t", FilterOp::GreaterOrEqual, vec![time(100)]),
            filter("t", FilterOp::Less, vec![time(10_650)]),
            filter("ch", FilterOp::Equals, vec![json!("ch-03")]),
        ],
        vec![filter(
            "ch",
            FilterOp::List,
            vec![json!("ch-01"), json!("ch-07")],
        )],
        vec![filter("ch", FilterOp::Contains, vec![json!("-1")])],
        // NaN is left out of float statistics; nulls never match.
        vec![filter("v", FilterOp::Less, vec![json!(1000)])],
        vec![filter("v", FilterOp::Greater, vec![json!(10)])],
        // Too many values per row group for value counts: read.
        vec![filter("n", FilterOp::Greater, vec![json!(100_000)])],
        vec![filter("n", FilterOp::Equals, vec![json!(7919 * 3)])],
        vec![filter("b", FilterOp::Equals, vec![json!(true)])],
        vec![filter("t", FilterOp::Less, vec![time(-5)])],
    ];
    for filters in cases {
        let (ours, theirs) = s.both(&tallies, filters.clone());
        assert_eq!(ours, Some(theirs), "{filters:?}");
        // Again, from what the first count kept.
        let (again, _) = s.both(&tallies, filters.clone());
        assert_eq!(again, Some(theirs), "second time: {filters:?}");
    }
    let held = tallies.tables.lock().unwrap();
    let t = held.by_table.get("t").unwrap();
    let counted: usize = t.values.values().flatten().map(|v| v.counts.len()).sum();
    assert_eq!(
        held.values_held, counted,
        "the running total of held values"
    );
    assert!(
        t.values.values().any(Option::is_some),
        "no value counts kept"
    );
    assert!(t.wide.contains("n"), "the wide column was not noticed");
    assert_eq!(t.footers.len(), 3);
}

fn any_filter() -> impl Strategy<Value = Filter> {
    let ops = prop_oneof![
        Just(FilterOp::Equals),
        Just(FilterOp::List),
        Just(FilterOp::Greater),
        Just(FilterOp::GreaterOrEqual),
        Just(FilterOp::Less),
        Just(FilterOp::LessOrEqual),
        Just(FilterOp::Between),
        Just(FilterOp::Contains),
    ];
    (
        0usize..5,
        ops,
        proptest::collection::vec(0i64..40_000, 1..4),
    )
        .prop_map(|(c, op, picks)| {
            let column = ["t", "ch", "v", "n", "b"][c];
            let op = match (column, op) {
                ("b", _) => FilterOp::Equals,
                (c, FilterOp::Contains) if c != "ch" => FilterOp::List,
                (_, op) => op,
            };
            let n = match op {
                FilterOp::Equals | FilterOp::List | FilterOp::Contains => picks.len(),
                FilterOp::Between => 2,
                _ => 1,
            };
            let values = picks
                .iter()
                .cycle()
                .take(n)
                .map(|&p| match column {
                    "t" => time(p - 100),
                    "ch" if op == FilterOp::Contains => json!(format!("{}", p % 13)),
                    "ch" => json!(channel(p as usize)),
                    "v" => json!((p % 110) as f64 / 4.0),
                    "n" => json!(p * 7),
                    _ => json!(p % 2 == 0),
                })
                .collect();
            filter(column, op, values)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
    ))]
    #[test]
    fn any_filter_counts_the_same_as_datafusion(filters in proptest::collection::vec(any_filter(), 1..4)) {
        thread_local! {
            static SETUP: Setup = setup();
            static TALLIES: Tallies = Tallies::default();
        }
        let (ours, theirs) = SETUP.with(|s| TALLIES.with(|t| s.both(t, filters.clone())));
        prop_assert_eq!(ours, Some(theirs), "{:?}", filters);
    }
}
