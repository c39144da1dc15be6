//! Runs a checked row query in DataFusion and turns the Arrow result into JSON rows.

use deltalake::arrow::array::{Array, ArrayRef, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use deltalake::arrow::record_batch::RecordBatch;
use std::sync::Arc;

use deltalake::datafusion::catalog::TableProvider;
use deltalake::datafusion::datasource::file_format::parquet::ParquetFormat;
use deltalake::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use deltalake::datafusion::prelude::{ident, SessionContext};
use deltalake::DeltaTable;
use serde_json::{Map, Number, Value as Json};

use crate::error::LakeError;
use crate::lake::Lake;
use crate::query::{RowPage, RowQuery};
use crate::schema::{Column, ColumnType, TableSchema};
use crate::seek::{seek, Seek};
use crate::tally::{tally, Conjunct, Files};
use crate::values::micros_to_rfc3339;

impl Lake {
    /// One page of `table`'s rows matching `q`. Filters are pushed into the
    /// Parquet scan; sorting, paging and the total count run in DataFusion
    /// on the same filtered plan.
    pub async fn query(
        &self,
        table: &str,
        schema: &TableSchema,
        q: &RowQuery,
    ) -> Result<RowPage, LakeError> {
        schema.validate()?;
        let plan = q.plan(schema)?;
        let t = self.load_existing(table).await?;
        crate::ingest::check_same_columns(&t, schema)?;
        // Without a sort, one partition keeps the scan order stable from page to page.
        let ctx = self.session_for(&t, plan.sort.is_empty())?;
        let mut df = ctx.read_table(self.files_provider(table, &t, &ctx).await?)?;
        // A committed version never changes: the count of one filter at one
        // version is taken once, and paging through it costs the page only.
        let version = t.version();
        let filter_key = plan
            .filter
            .as_ref()
            .map(|f| format!("{f:?}"))
            .unwrap_or_default();
        if let Some(f) = plan.filter {
            df = df.filter(f)?;
        }
        let known = self.counts.get(table, version, &filter_key);
        // When not known, the count and the page are two scans of the same
        // filtered plan; they run at once.
        let count = {
            let counted = df.clone();
            let (counts, key, conjuncts, ctx) = (&self.counts, &filter_key, &plan.conjuncts, &ctx);
            let t = &t;
            async move {
                if let Some(n) = known {
                    return Ok(n);
                }
                let n = match self.tally(table, t, ctx, conjuncts).await {
                    Some(n) => n,
                    None => counted.count().await? as u64,
                };
                counts.put(table, version, key, n);
                Ok::<u64, LakeError>(n)
            }
        };
        let offset = (plan.page_index - 1).saturating_mul(plan.page_size);
        // The page (after its seek, see `seek.rs`) runs beside the count.
        let (sort, columns, seek) = (plan.sort, &plan.columns, &plan.seek);
        let (conjuncts, page_size) = (&plan.conjuncts, plan.page_size);
        let (t, ctx) = (&t, &ctx);
        let page = async move {
            let mut skip = u64::try_from(offset).unwrap_or(u64::MAX);
            if let Some((column, descending)) = seek {
                if let Some(s) = self
                    .seek(table, t, ctx, conjuncts, column, *descending, skip)
                    .await
                {
                    df = df.filter(s.from)?;
                    skip -= s.skipped;
                }
            }
            if !sort.is_empty() {
                df = df.sort(sort)?;
            }
            let projection = columns.iter().map(|c| ident(c.physical_name()));
            df = df.select(projection)?;
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            let fetch = usize::try_from(page_size).unwrap_or(usize::MAX);
            df = df.limit(skip, Some(fetch))?;
            Ok::<_, LakeError>(df.collect().await?)
        };
        let (count, batches) = tokio::try_join!(count, page)?;
        let total_count = i64::try_from(count).unwrap_or(i64::MAX);
        let total_pages = (total_count + plan.page_size - 1) / plan.page_size;
        let mut rows = Vec::new();
        for batch in batches {
            batch_to_json(&batch, &plan.columns, &mut rows)?;
        }
        Ok(RowPage {
            rows,
            page_index: plan.page_index,
            page_size: plan.page_size,
            total_count,
            total_pages,
        })
    }
}

impl Lake {
    /// The rows `conjuncts` keep, counted from statistics and value counts
    /// (see `tally`), or `None` when DataFusion should count them. A failure
    /// here is logged and left to DataFusion's count, which reads the same files.
    async fn tally(
        &self,
        table: &str,
        t: &DeltaTable,
        ctx: &SessionContext,
        conjuncts: &[Conjunct],
    ) -> Option<u64> {
        if conjuncts.is_empty() {
            return None;
        }
        let files = files(t)?;
        match tally(&self.tallies, table, ctx, &files, conjuncts).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, table, "counting from statistics failed; counting rows instead");
                None
            }
        }
    }

    /// Where a page `offset` rows in may start instead (see `seek`), or
    /// `None` when it reads from the start. A failure here is logged and
    /// the page read from the start.
    #[allow(clippy::too_many_arguments)]
    async fn seek(
        &self,
        table: &str,
        t: &DeltaTable,
        ctx: &SessionContext,
        conjuncts: &[Conjunct],
        column: &str,
        descending: bool,
        offset: u64,
    ) -> Option<Seek> {
        if offset == 0 {
            return None;
        }
        let files = files(t)?;
        let tallies = &self.tallies;
        match seek(
            tallies, table, ctx, &files, conjuncts, column, descending, offset,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, table, "seeking by statistics failed; reading from the start");
                None
            }
        }
    }

    /// The Parquet files of the table's current version as a plain
    /// DataFusion listing table: dwb's tables have no partitions, deletion
    /// vectors or column mapping, so the files are the whole table, and the
    /// standard Parquet scan prunes row groups and pages by statistics and
    /// decodes filters first, with footers cached across queries.
    pub(crate) async fn files_provider(
        &self,
        table: &str,
        t: &DeltaTable,
        ctx: &SessionContext,
    ) -> Result<Arc<dyn TableProvider>, LakeError> {
        // The file list and schema of a version never change: built once per version.
        let version = t.version();
        if let Some(p) = self.provider(table, version) {
            return Ok(p);
        }
        let root = self.table_path(table)?;
        let mut urls = Vec::new();
        for f in t.snapshot()?.log_data().iter() {
            let url = root
                .join(&f.path())
                .map_err(|e| crate::error::storage(e.to_string()))?;
            urls.push(ListingTableUrl::parse(url.as_str())?);
        }
        if urls.is_empty() {
            return Ok(t.table_provider().await?);
        }
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await?;
        let provider: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
        self.remember_provider(table, version, &provider);
        Ok(provider)
    }
}

/// The table's files, for reading their footers and row groups.
fn files(t: &DeltaTable) -> Option<Files> {
    Some(Files {
        store: t.object_store(),
        files: t
            .snapshot()
            .ok()?
            .log_data()
            .iter()
            .map(|f| (f.object_store_path(), u64::try_from(f.size()).unwrap_or(0)))
            .collect(),
    })
}

/// Appends the batch's rows as JSON objects keyed by API column name.
fn batch_to_json(
    batch: &RecordBatch,
    columns: &[&Column],
    out: &mut Vec<Map<String, Json>>,
) -> Result<(), LakeError> {
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Ok(cast(batch.column(i), &c.ty.arrow_type())?))
        .collect::<Result<Vec<ArrayRef>, LakeError>>()?;
    for row in 0..batch.num_rows() {
        let mut obj = Map::with_capacity(columns.len());
        for (c, a) in columns.iter().zip(&arrays) {
            obj.insert(c.name.clone(), json_value(c.ty, a, row));
        }
        out.push(obj);
    }
    Ok(())
}

/// The value at `row`, as JSON of the column's type (null when absent).
fn json_value(ty: ColumnType, a: &ArrayRef, row: usize) -> Json {
    if a.is_null(row) {
        return Json::Null;
    }
    match ty {
        ColumnType::String => Json::String(a.as_string::<i32>().value(row).to_string()),
        ColumnType::Int32 => Json::from(a.as_primitive::<Int32Type>().value(row)),
        ColumnType::Int64 => Json::from(a.as_primitive::<Int64Type>().value(row)),
        ColumnType::Decimal | ColumnType::Double => {
            Number::from_f64(a.as_primitive::<Float64Type>().value(row))
                .map_or(Json::Null, Json::Number)
        }
        ColumnType::Boolean => Json::Bool(a.as_boolean().value(row)),
        ColumnType::DateTime => {
            micros_to_rfc3339(a.as_primitive::<TimestampMicrosecondType>().value(row))
                .map_or(Json::Null, Json::String)
        }
    }
}
