//! Reading Parquet files straight from the object store, for counts that
//! need no DataFusion plan: a ranged reader of one file, a row group's
//! statistics as DataFusion's pruning reads them, and string columns read
//! as their column chunk's dictionary.

use std::collections::HashSet;
use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, BooleanArray, UInt64Array};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::common::pruning::PruningStatistics;
use deltalake::datafusion::common::{Column as DfColumn, ScalarValue};
use deltalake::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use deltalake::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use deltalake::parquet::arrow::async_reader::AsyncFileReader;
use deltalake::parquet::errors::ParquetError;
use deltalake::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use deltalake::ObjectStore;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::error::LakeError;

/// One Parquet file of an object store, read by ranges.
pub(crate) struct FileReader {
    pub store: Arc<dyn ObjectStore>,
    pub path: Path,
    pub size: u64,
}

fn parquet_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for FileReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, deltalake::parquet::errors::Result<bytes::Bytes>> {
        self.store
            .get_range(&self.path, range)
            .map_err(parquet_error)
            .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, deltalake::parquet::errors::Result<Vec<bytes::Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, deltalake::parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// `meta` reading a string column as a dictionary (the Parquet column
/// chunk's own), other columns as they are.
pub(crate) fn as_dictionary(
    meta: &ArrowReaderMetadata,
    schema: &SchemaRef,
    column: usize,
) -> Result<ArrowReaderMetadata, LakeError> {
    if schema.field(column).data_type() != &DataType::Utf8 {
        return Ok(meta.clone());
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = f.as_ref().clone();
            if i == column {
                let ty = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                f.with_data_type(ty)
            } else {
                f
            }
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    Ok(ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        options,
    )?)
}

/// The statistics of a file's row groups, as DataFusion's pruning reads them.
pub(crate) struct RowGroupStats<'a> {
    pub md: &'a ParquetMetaData,
    pub schema: &'a Schema,
}

impl RowGroupStats<'_> {
    fn converter(&self, column: &DfColumn) -> Option<StatisticsConverter<'_>> {
        StatisticsConverter::try_new(
            &column.name,
            self.schema,
            self.md.file_metadata().schema_descr(),
        )
        .ok()
    }
}

impl PruningStatistics for RowGroupStats<'_> {
    fn min_values(&self, column: &DfColumn) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_mins(self.md.row_groups().iter())
            .ok()
    }

    fn max_values(&self, column: &DfColumn) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_maxes(self.md.row_groups().iter())
            .ok()
    }

    fn num_containers(&self) -> usize {
        self.md.num_row_groups()
    }

    fn null_counts(&self, column: &DfColumn) -> Option<ArrayRef> {
        let n = self
            .converter(column)?
            .row_group_null_counts(self.md.row_groups().iter())
            .ok()?;
        Some(Arc::new(n))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows: Vec<u64> = self
            .md
            .row_groups()
            .iter()
            .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
            .collect();
        Some(Arc::new(UInt64Array::from(rows)))
    }

    #[allow(clippy::mutable_key_type)]
    fn contained(&self, _: &DfColumn, _: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}
