//! Exact row counts of a filter without reading the whole table: the
//! Parquet statistics of each row group settle the groups a filter keeps
//! whole or drops, per-row-group value counts (built once, then kept) settle
//! the groups a filter on a categorical column cuts, and only the row groups
//! left over are read. When too many are left, the caller counts with
//! DataFusion instead.
//!
//! A filter is a conjunction of one-column conditions ([`Conjunct`]). For
//! one row group, a condition is *none* when DataFusion's own pruning says
//! no row can match, *all* when it holds for the group's minimum and its
//! maximum, the column has no nulls and the condition is an interval (see
//! [`Conjunct::interval`]), and otherwise open. A group with one open
//! condition and the others all is counted from its value counts of that
//! column, when the column has at most [`MAX_DISTINCT`] values there.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use deltalake::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch,
};
use deltalake::arrow::datatypes::Int32Type;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::arrow::row::{RowConverter, Rows, SortField};
use deltalake::datafusion::common::{DFSchema, ScalarValue};
use deltalake::datafusion::logical_expr::Expr;
use deltalake::datafusion::physical_expr::PhysicalExpr;
use deltalake::datafusion::physical_optimizer::pruning::{
    PruningPredicate, PruningPredicateBuilder,
};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use deltalake::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use deltalake::parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use deltalake::parquet::file::metadata::ParquetMetaData;
use deltalake::ObjectStore;
use futures::TryStreamExt;
use object_store::path::Path;

use crate::error::LakeError;
use crate::row_groups::{as_dictionary, FileReader, RowGroupStats};

/// Most distinct values of one column in one row group that value counts
/// are kept for; a column with more in any group is not counted this way.
const MAX_DISTINCT: usize = 1024;
/// Most values held in all value counts; past it they start over.
const MAX_HELD_VALUES: usize = 2_000_000;
/// Most footers held per table; past it the table's start over.
const MAX_FOOTERS: usize = 4096;
/// Rows left to read past which (and past a quarter of the table) the
/// caller's parallel DataFusion count is faster.
pub(crate) const MAX_READ_ROWS: u64 = 1 << 18;

/// One condition of a filter, on one column.
#[derive(Debug, Clone)]
pub(crate) struct Conjunct {
    pub expr: Expr,
    /// The column's name in the Parquet files.
    pub column: String,
    /// True when the rows it keeps are an interval of the column's order
    /// (`>`, `>=`, `<`, `<=`, between, or equal to one value): then it holds
    /// for every value of a row group when it holds for the group's minimum
    /// and maximum.
    pub interval: bool,
}

/// What one condition says of one row group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Says {
    None,
    All,
    Open,
}

/// The values of one column in one row group, and how often each occurs
/// (a null is one of the values).
struct ValueCounts {
    values: ArrayRef,
    counts: Vec<u64>,
}

/// Footers and value counts kept between queries, per table. Parquet files
/// never change once written (a new version adds or removes files), so what
/// was read of a file stays true.
#[derive(Default)]
pub(crate) struct Tallies {
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_table: HashMap<String, Held>,
    /// Values held in every table's value counts (bounded by `MAX_HELD_VALUES`).
    values_held: usize,
}

impl Tables {
    fn drop_values(&mut self) {
        for h in self.by_table.values_mut() {
            h.values.clear();
        }
        self.values_held = 0;
    }
}

#[derive(Default)]
struct Held {
    footers: HashMap<Path, ArrowReaderMetadata>,
    /// `None`: more than [`MAX_DISTINCT`] values.
    values: HashMap<(Path, usize, String), Option<Arc<ValueCounts>>>,
    /// Columns found to have too many values to count this way.
    wide: HashSet<String>,
}

impl Tallies {
    /// Drops what is kept of `table` (it was deleted).
    pub(crate) fn forget(&self, table: &str) {
        if let Ok(mut m) = self.tables.lock() {
            if let Some(h) = m.by_table.remove(table) {
                let held: usize = h.values.values().flatten().map(|v| v.counts.len()).sum();
                m.values_held = m.values_held.saturating_sub(held);
            }
        }
    }

    fn with<T>(&self, table: &str, f: impl FnOnce(&mut Held) -> T) -> Option<T> {
        let mut m = self.tables.lock().ok()?;
        Some(f(m.by_table.entry(table.to_string()).or_default()))
    }

    fn footer(&self, table: &str, path: &Path) -> Option<ArrowReaderMetadata> {
        self.with(table, |h| h.footers.get(path).cloned()).flatten()
    }

    fn keep_footer(&self, table: &str, path: &Path, meta: &ArrowReaderMetadata) {
        self.with(table, |h| {
            if h.footers.len() >= MAX_FOOTERS {
                h.footers.clear();
            }
            h.footers.insert(path.clone(), meta.clone());
        });
    }

    fn values(&self, table: &str, key: &(Path, usize, String)) -> Option<Option<Arc<ValueCounts>>> {
        self.with(table, |h| {
            if h.wide.contains(&key.2) {
                return Some(None);
            }
            h.values.get(key).cloned()
        })
        .flatten()
    }

    fn keep_values(&self, table: &str, key: (Path, usize, String), v: Option<Arc<ValueCounts>>) {
        let Ok(mut m) = self.tables.lock() else {
            return;
        };
        let adding = v.as_ref().map_or(0, |v| v.counts.len());
        if m.values_held + adding > MAX_HELD_VALUES {
            m.drop_values();
        }
        m.values_held += adding;
        let h = m.by_table.entry(table.to_string()).or_default();
        if v.is_none() {
            h.wide.insert(key.2.clone());
        }
        if let Some(Some(old)) = h.values.insert(key, v) {
            m.values_held = m.values_held.saturating_sub(old.counts.len());
        }
    }
}

/// A table's Parquet files and where to read them.
pub(crate) struct Files {
    pub store: Arc<dyn ObjectStore>,
    /// Path (in `store`) and size in bytes of each file.
    pub files: Vec<(Path, u64)>,
}

/// The conditions as physical expressions over one file schema.
pub(crate) struct Compiled {
    pub schema: SchemaRef,
    /// Per condition: its column's index in the schema.
    columns: Vec<usize>,
    /// Per condition: over a schema of its column alone (for statistics and
    /// value counts).
    alone: Vec<Arc<dyn PhysicalExpr>>,
    /// Per condition: DataFusion's row-group pruning, when it applies.
    pruning: Vec<Option<Arc<PruningPredicate>>>,
    /// The whole filter over the columns it reads, in file order.
    read: Arc<dyn PhysicalExpr>,
    read_columns: Vec<usize>,
}

fn column_alone(schema: &Schema, i: usize) -> SchemaRef {
    let f = schema.field(i);
    Arc::new(Schema::new(vec![Field::new(
        f.name(),
        f.data_type().clone(),
        true,
    )]))
}

fn physical(
    ctx: &SessionContext,
    expr: Expr,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>, LakeError> {
    let df = DFSchema::try_from(schema.clone())?;
    Ok(ctx.create_physical_expr(expr, &df)?)
}

impl Compiled {
    fn new(
        ctx: &SessionContext,
        schema: SchemaRef,
        conjuncts: &[Conjunct],
    ) -> Result<Option<Self>, LakeError> {
        let mut columns = Vec::with_capacity(conjuncts.len());
        let mut alone = Vec::with_capacity(conjuncts.len());
        let mut pruning = Vec::with_capacity(conjuncts.len());
        for c in conjuncts {
            let Ok(i) = schema.index_of(&c.column) else {
                return Ok(None);
            };
            columns.push(i);
            alone.push(physical(ctx, c.expr.clone(), &column_alone(&schema, i))?);
            let full = physical(ctx, c.expr.clone(), &schema)?;
            let builder = PruningPredicateBuilder::new().with_file_schema(schema.clone());
            pruning.push(builder.build(full));
        }
        let mut read_columns = columns.clone();
        read_columns.sort_unstable();
        read_columns.dedup();
        let read_schema = schema.project(&read_columns)?;
        let whole = conjuncts
            .iter()
            .map(|c| c.expr.clone())
            .reduce(Expr::and)
            .unwrap_or(Expr::Literal(ScalarValue::Boolean(Some(true)), None));
        let read = physical(ctx, whole, &read_schema)?;
        Ok(Some(Compiled {
            schema,
            columns,
            alone,
            pruning,
            read,
            read_columns,
        }))
    }
}

/// How many rows of `files` the conditions keep; `None` when more than
/// [`MAX_READ_ROWS`] rows (and a quarter of the table) would have to be
/// read, or the files do not all have the same schema.
pub(crate) async fn tally(
    tallies: &Tallies,
    table: &str,
    ctx: &SessionContext,
    files: &Files,
    conjuncts: &[Conjunct],
) -> Result<Option<u64>, LakeError> {
    if conjuncts.is_empty() {
        return Ok(None);
    }
    let Some((footers, compiled)) = prepare(tallies, table, ctx, files, conjuncts).await? else {
        return Ok(None);
    };
    let counted = group_counts(tallies, table, files, &footers, &compiled, conjuncts).await?;
    let mut kept = 0u64;
    let mut table_rows = 0u64;
    let mut to_read: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut read_rows = 0u64;
    for (f, groups) in counted.iter().enumerate() {
        let mut read_here = Vec::new();
        for (g, n) in groups.iter().enumerate() {
            let rows = group_rows(&footers[f], g);
            table_rows += rows;
            match n {
                Some(n) => kept += n,
                None => {
                    read_here.push(g);
                    read_rows += rows;
                }
            }
        }
        if !read_here.is_empty() {
            to_read.push((f, read_here));
        }
    }
    if read_rows > MAX_READ_ROWS && read_rows > table_rows / 4 {
        return Ok(None);
    }
    for (f, groups) in to_read {
        kept += read_and_count(files, f, &footers[f], &compiled, groups).await?;
    }
    tracing::debug!(
        table,
        rows = kept,
        read_rows,
        table_rows,
        "counted from statistics"
    );
    Ok(Some(kept))
}

fn group_rows(meta: &ArrowReaderMetadata, g: usize) -> u64 {
    u64::try_from(meta.metadata().row_group(g).num_rows()).unwrap_or(0)
}

/// The footers of `files` (read once, then kept) and the conditions compiled
/// over their schema; `None` when the files do not all have the same schema
/// or a condition's column is not in it.
pub(crate) async fn prepare(
    tallies: &Tallies,
    table: &str,
    ctx: &SessionContext,
    files: &Files,
    conjuncts: &[Conjunct],
) -> Result<Option<(Vec<ArrowReaderMetadata>, Compiled)>, LakeError> {
    if files.files.is_empty() {
        return Ok(None);
    }
    let mut footers = Vec::with_capacity(files.files.len());
    for (path, size) in &files.files {
        let meta = match tallies.footer(table, path) {
            Some(m) => m,
            None => {
                let mut reader = FileReader {
                    store: files.store.clone(),
                    path: path.clone(),
                    size: *size,
                };
                let m =
                    ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await?;
                tallies.keep_footer(table, path, &m);
                m
            }
        };
        footers.push(meta);
    }
    let schema = footers[0].schema().clone();
    if footers
        .iter()
        .any(|m| m.schema().fields() != schema.fields())
    {
        return Ok(None);
    }
    Ok(Compiled::new(ctx, schema, conjuncts)?.map(|c| (footers, c)))
}

/// Per file, per row group: the rows the conditions keep, when statistics
/// and value counts settle it without reading the group (`None`: they do not).
pub(crate) async fn group_counts(
    tallies: &Tallies,
    table: &str,
    files: &Files,
    footers: &[ArrowReaderMetadata],
    compiled: &Compiled,
    conjuncts: &[Conjunct],
) -> Result<Vec<Vec<Option<u64>>>, LakeError> {
    let mut out = Vec::with_capacity(footers.len());
    for (f, meta) in footers.iter().enumerate() {
        let md = meta.metadata();
        let says = conjuncts
            .iter()
            .enumerate()
            .map(|(k, c)| row_groups_say(compiled, k, c, md))
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = Vec::with_capacity(md.num_row_groups());
        for g in 0..md.num_row_groups() {
            let rows = group_rows(meta, g);
            if says.iter().any(|s| s[g] == Says::None) {
                counts.push(Some(0));
                continue;
            }
            let open: Vec<usize> = (0..conjuncts.len())
                .filter(|&k| says[k][g] == Says::Open)
                .collect();
            counts.push(match open.as_slice() {
                [] => Some(rows),
                [k] => {
                    let key = (files.files[f].0.clone(), g, conjuncts[*k].column.clone());
                    match value_counts(tallies, table, files, f, meta, compiled, *k, key).await? {
                        Some(v) => Some(v.matching(compiled, *k)?),
                        None => None,
                    }
                }
                _ => None,
            });
        }
        out.push(counts);
    }
    Ok(out)
}

/// What condition `k` says of each row group of a file.
fn row_groups_say(
    compiled: &Compiled,
    k: usize,
    c: &Conjunct,
    md: &ParquetMetaData,
) -> Result<Vec<Says>, LakeError> {
    let n = md.num_row_groups();
    let stats = RowGroupStats {
        md,
        schema: &compiled.schema,
    };
    let may = match &compiled.pruning[k] {
        Some(p) => p.prune(&stats)?,
        None => vec![true; n],
    };
    let field = compiled.schema.field(compiled.columns[k]);
    // Parquet statistics leave NaN out of a float column's minimum and
    // maximum, so they cannot show that every value holds.
    let bounded = c.interval && !matches!(field.data_type(), DataType::Float32 | DataType::Float64);
    let all = if bounded {
        holds_at_bounds(compiled, k, md)?
    } else {
        vec![false; n]
    };
    Ok((0..n)
        .map(|g| match (may.get(g), all.get(g)) {
            (Some(false), _) => Says::None,
            (_, Some(true)) => Says::All,
            _ => Says::Open,
        })
        .collect())
}

/// Per row group: the column of condition `k` has no nulls and the
/// condition holds for its minimum and its maximum.
fn holds_at_bounds(
    compiled: &Compiled,
    k: usize,
    md: &ParquetMetaData,
) -> Result<Vec<bool>, LakeError> {
    let name = compiled.schema.field(compiled.columns[k]).name();
    let conv = StatisticsConverter::try_new(
        name,
        compiled.schema.as_ref(),
        md.file_metadata().schema_descr(),
    )?;
    let groups = md.row_groups().iter();
    let mins = conv.row_group_mins(groups.clone())?;
    let maxes = conv.row_group_maxes(groups.clone())?;
    let nulls = conv.row_group_null_counts(groups)?;
    let alone = column_alone(&compiled.schema, compiled.columns[k]);
    let at = |bounds: ArrayRef| -> Result<BooleanArray, LakeError> {
        let batch = RecordBatch::try_new(alone.clone(), vec![bounds])?;
        truth(&compiled.alone[k], &batch)
    };
    let (low, high) = (at(mins)?, at(maxes)?);
    Ok((0..md.num_row_groups())
        .map(|g| {
            let yes = |b: &BooleanArray| b.is_valid(g) && b.value(g);
            nulls.is_valid(g) && nulls.value(g) == 0 && yes(&low) && yes(&high)
        })
        .collect())
}

/// The expression's value for each row of `batch` (null is false).
fn truth(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<BooleanArray, LakeError> {
    let v = expr.evaluate(batch)?.into_array(batch.num_rows())?;
    match v.as_boolean_opt() {
        Some(b) => Ok(b.clone()),
        None => Err(LakeError::Storage(
            "a filter did not give true or false".into(),
        )),
    }
}

impl ValueCounts {
    /// Rows whose value condition `k` keeps.
    fn matching(&self, compiled: &Compiled, k: usize) -> Result<u64, LakeError> {
        let schema = column_alone(&compiled.schema, compiled.columns[k]);
        let batch = RecordBatch::try_new(schema, vec![self.values.clone()])?;
        let keep = truth(&compiled.alone[k], &batch)?;
        Ok(self
            .counts
            .iter()
            .enumerate()
            .filter(|(i, _)| keep.is_valid(*i) && keep.value(*i))
            .map(|(_, n)| n)
            .sum())
    }
}

fn reader(files: &Files, f: usize) -> FileReader {
    let (path, size) = &files.files[f];
    FileReader {
        store: files.store.clone(),
        path: path.clone(),
        size: *size,
    }
}

/// The value counts of condition `k`'s column in row group `key.1` of file
/// `f`, built and kept on first use; `None` when it has too many values.
#[allow(clippy::too_many_arguments)]
async fn value_counts(
    tallies: &Tallies,
    table: &str,
    files: &Files,
    f: usize,
    meta: &ArrowReaderMetadata,
    compiled: &Compiled,
    k: usize,
    key: (Path, usize, String),
) -> Result<Option<Arc<ValueCounts>>, LakeError> {
    if let Some(known) = tallies.values(table, &key) {
        return Ok(known);
    }
    let column = compiled.columns[k];
    let field = compiled.schema.field(column);
    let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), [column]);
    let meta = as_dictionary(meta, &compiled.schema, column)?;
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader(files, f), meta)
        .with_projection(mask)
        .with_row_groups(vec![key.1])
        .with_batch_size(crate::parse::BATCH_ROWS)
        .build()?;
    let converter = RowConverter::new(vec![SortField::new(field.data_type().clone())])?;
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut wide = false;
    while let Some(batch) = stream.try_next().await? {
        let col = batch.column(0);
        if let Some(dict) = col.as_dictionary_opt::<Int32Type>() {
            // Strings come as the column chunk's dictionary and a key per
            // row: counting keys is far cheaper than hashing every string.
            let mut per_key = vec![0u64; dict.values().len()];
            let mut nulls = 0u64;
            for k in dict.keys().iter() {
                match k.and_then(|k| usize::try_from(k).ok()) {
                    Some(k) if k < per_key.len() => per_key[k] += 1,
                    _ => nulls += 1,
                }
            }
            let values = converter.convert_columns(&[dict.values().clone()])?;
            add(&mut counts, &values, |i| per_key[i]);
            let null = new_null_array(field.data_type(), 1);
            add(&mut counts, &converter.convert_columns(&[null])?, |_| nulls);
        } else {
            add(
                &mut counts,
                &converter.convert_columns(std::slice::from_ref(col))?,
                |_| 1,
            );
        }
        if counts.len() > MAX_DISTINCT {
            wide = true;
            break;
        }
    }
    let kept = if wide {
        None
    } else {
        let parser = converter.parser();
        let (keys, n): (Vec<Vec<u8>>, Vec<u64>) = counts.into_iter().unzip();
        let mut arrays = converter.convert_rows(keys.iter().map(|k| parser.parse(k)))?;
        let values = arrays
            .pop()
            .ok_or_else(|| LakeError::Storage("no column".into()))?;
        Some(Arc::new(ValueCounts { values, counts: n }))
    };
    tallies.keep_values(table, key, kept.clone());
    Ok(kept)
}

/// Adds `times(i)` occurrences of each row `i` of `rows` to `counts`.
fn add(counts: &mut HashMap<Vec<u8>, u64>, rows: &Rows, times: impl Fn(usize) -> u64) {
    for (i, row) in rows.iter().enumerate() {
        let n = times(i);
        if n == 0 {
            continue;
        }
        match counts.get_mut(row.as_ref()) {
            Some(c) => *c += n,
            None => {
                counts.insert(row.as_ref().to_vec(), n);
            }
        }
    }
}

/// Reads `groups` of file `f` and counts the rows the whole filter keeps.
pub(crate) async fn read_and_count(
    files: &Files,
    f: usize,
    meta: &ArrowReaderMetadata,
    compiled: &Compiled,
    groups: Vec<usize>,
) -> Result<u64, LakeError> {
    let mask = ProjectionMask::roots(
        meta.metadata().file_metadata().schema_descr(),
        compiled.read_columns.iter().copied(),
    );
    let mut stream =
        ParquetRecordBatchStreamBuilder::new_with_metadata(reader(files, f), meta.clone())
            .with_projection(mask)
            .with_row_groups(groups)
            .with_batch_size(crate::parse::BATCH_ROWS)
            .build()?;
    let mut kept = 0u64;
    while let Some(batch) = stream.try_next().await? {
        kept += truth(&compiled.read, &batch)?.true_count() as u64;
    }
    Ok(kept)
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
