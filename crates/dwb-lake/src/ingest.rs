//! CSV ingest: stream, validate every value, write Parquet, then commit one Delta transaction (or nothing).

use std::collections::HashMap;

use csv_async::{AsyncReaderBuilder, StringRecord};
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::operations::create::CreateBuilder;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, ObjectStore, Path};
use url::Url;

use crate::batch::BatchBuilder;
use crate::error::LakeError;
use crate::lake::Lake;
use crate::schema::TableSchema;
use crate::values::{self, Value};

/// Rows per record batch and Parquet row group: bounds the memory of an ingest.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Batches per Parquet file (about one million rows).
const BATCHES_PER_FILE: usize = 16;
/// Problems reported for a rejected file.
pub const MAX_ERRORS: usize = 20;

/// How an ingest treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the table; `Conflict` if it exists.
    Create,
    /// Add rows; `NotFound` if the table does not exist.
    Append,
    /// Replace all rows; `NotFound` if the table does not exist.
    Overwrite,
}

/// What an accepted file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Rows added by this file.
    pub rows: u64,
    /// The Delta table version committed.
    pub version: i64,
}

impl Lake {
    /// Ingests a CSV file (header line first) into `table`. The file is
    /// accepted or rejected as a whole: on any problem nothing becomes
    /// visible and the Parquet files written so far are deleted.
    pub async fn ingest_csv<R>(
        &self,
        table: &str,
        schema: &TableSchema,
        csv: R,
        mode: WriteMode,
    ) -> Result<IngestReport, LakeError>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        schema.validate()?;
        let url = self.table_path(table)?;
        let existing = self.load(table).await?;
        match (&existing, mode) {
            (Some(_), WriteMode::Create) => {
                return Err(LakeError::Conflict(format!("table {table} already exists")))
            }
            (None, WriteMode::Append | WriteMode::Overwrite) => {
                return Err(LakeError::NotFound(table.to_string()))
            }
            (Some(t), _) => check_same_columns(t, schema)?,
            (None, WriteMode::Create) => {}
        }
        if let Ok(path) = url.to_file_path() {
            tokio::fs::create_dir_all(&path).await?;
        }
        let result = write_and_commit(&url, existing.as_ref(), schema, csv, mode).await;
        if result.is_err() && existing.is_none() {
            if let Ok(path) = url.to_file_path() {
                // Only succeeds when the folder is empty, i.e. nothing else is there.
                let _ = tokio::fs::remove_dir(&path).await;
            }
        }
        result
    }
}

async fn write_and_commit<R>(
    url: &Url,
    existing: Option<&DeltaTable>,
    schema: &TableSchema,
    csv: R,
    mode: WriteMode,
) -> Result<IngestReport, LakeError>
where
    R: tokio::io::AsyncRead + Unpin + Send,
{
    let store = Lake::table_store(url)?;
    let mut staged = Staged::new(url, schema)?;
    let written = match staged.write_all(schema, csv).await {
        Ok(()) => staged.finish().await,
        Err(e) => Err(e),
    };
    let adds = match written {
        Ok(adds) => adds,
        Err(e) => {
            staged.abandon(store.as_ref()).await;
            return Err(e);
        }
    };
    match commit(url, existing, schema, adds.clone(), mode).await {
        Ok(version) => Ok(IngestReport {
            rows: staged.rows,
            version,
        }),
        Err(e) => {
            remove_files(store.as_ref(), &adds).await;
            Err(e)
        }
    }
}

/// Parquet files written but not yet committed.
struct Staged {
    writer: RecordBatchWriter,
    adds: Vec<Add>,
    batches_in_file: usize,
    rows: u64,
}

impl Staged {
    fn new(url: &Url, schema: &TableSchema) -> Result<Self, LakeError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS))
            .build();
        let writer = RecordBatchWriter::try_new(url.as_str(), schema.arrow_schema(), None, None)?
            .with_writer_properties(props);
        Ok(Staged {
            writer,
            adds: Vec::new(),
            batches_in_file: 0,
            rows: 0,
        })
    }

    /// Reads, validates and writes the whole file; `Rejected` on bad content.
    async fn write_all<R>(&mut self, schema: &TableSchema, csv: R) -> Result<(), LakeError>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        let mut reader = AsyncReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .create_reader(csv);
        let header = match reader.headers().await {
            Ok(h) => h.clone(),
            Err(e) => return Err(rejected(vec![csv_error(&e)])),
        };
        let positions = map_header(&header, schema).map_err(rejected)?;
        let mut errors = Vec::new();
        let mut batch = BatchBuilder::new(schema);
        let mut record = StringRecord::new();
        let mut data_line: u64 = 1;
        loop {
            match reader.read_record(&mut record).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    errors.push(csv_error(&e));
                    break;
                }
            }
            data_line += 1;
            let line = record.position().map_or(data_line, |p| p.line());
            if let Some(row) = check_row(&record, line, schema, &positions, &mut errors) {
                if errors.is_empty() {
                    batch.push_row(row);
                    self.rows += 1;
                    if batch.rows() >= BATCH_ROWS {
                        self.write_batch(&mut batch).await?;
                    }
                }
            }
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
        if !errors.is_empty() {
            errors.truncate(MAX_ERRORS);
            return Err(rejected(errors));
        }
        if batch.rows() > 0 {
            self.write_batch(&mut batch).await?;
        }
        Ok(())
    }

    async fn write_batch(&mut self, batch: &mut BatchBuilder) -> Result<(), LakeError> {
        self.writer.write(batch.finish()?).await?;
        self.batches_in_file += 1;
        if self.batches_in_file >= BATCHES_PER_FILE {
            self.adds.extend(self.writer.flush().await?);
            self.batches_in_file = 0;
        }
        Ok(())
    }

    /// Closes the last file; returns every file written.
    async fn finish(&mut self) -> Result<Vec<Add>, LakeError> {
        self.adds.extend(self.writer.flush().await?);
        Ok(self.adds.clone())
    }

    /// Deletes everything written so far (best effort: failures are logged).
    async fn abandon(&mut self, store: &dyn ObjectStore) {
        match self.writer.flush().await {
            Ok(more) => self.adds.extend(more),
            Err(e) => tracing::warn!(error = %e, "closing abandoned parquet files failed"),
        }
        remove_files(store, &self.adds).await;
        self.adds.clear();
    }
}

fn rejected(errors: Vec<String>) -> LakeError {
    LakeError::Rejected { errors }
}

fn csv_error(e: &csv_async::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: {}", p.line(), e),
        None => format!("unreadable CSV: {e}"),
    }
}

/// For each schema column, its index in the CSV header. Every header name
/// must be a schema column and every schema column must be present.
fn map_header(header: &StringRecord, schema: &TableSchema) -> Result<Vec<usize>, Vec<String>> {
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

/// The row's values in schema order, or `None` with problems added to `errors`.
fn check_row(
    record: &StringRecord,
    line: u64,
    schema: &TableSchema,
    positions: &[usize],
    errors: &mut Vec<String>,
) -> Option<Vec<Option<Value>>> {
    if record.len() != positions.len() {
        errors.push(format!(
            "line {line}: expected {} values, found {}",
            positions.len(),
            record.len()
        ));
        return None;
    }
    let before = errors.len();
    let mut row = Vec::with_capacity(positions.len());
    for (c, &i) in schema.columns.iter().zip(positions) {
        let text = record.get(i).unwrap_or("");
        if text.trim().is_empty() {
            if c.required {
                errors.push(format!(
                    "line {line}, column {}: a value is required",
                    c.name
                ));
            }
            row.push(None);
            continue;
        }
        match values::parse(c.ty, c.format.as_deref(), text) {
            Some(v) => row.push(Some(v)),
            None => {
                let shown: String = text.chars().take(100).collect();
                errors.push(format!(
                    "line {line}, column {}: '{shown}' is not a {}",
                    c.name, c.ty
                ));
                row.push(None);
            }
        }
    }
    (errors.len() == before).then_some(row)
}

/// The table must hold the schema's columns, same names and types, same order.
pub(crate) fn check_same_columns(t: &DeltaTable, schema: &TableSchema) -> Result<(), LakeError> {
    let have = t.snapshot()?.schema();
    let want = schema.delta_fields();
    let same = have.fields().len() == want.len()
        && have
            .fields()
            .zip(&want)
            .all(|(h, w)| h.name() == w.name() && h.data_type() == w.data_type());
    if same {
        Ok(())
    } else {
        Err(LakeError::Conflict(
            "the table's columns differ from the schema's".to_string(),
        ))
    }
}

/// Commits the written files as one Delta transaction; returns the new version.
async fn commit(
    url: &Url,
    existing: Option<&DeltaTable>,
    schema: &TableSchema,
    adds: Vec<Add>,
    mode: WriteMode,
) -> Result<i64, LakeError> {
    let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
    let Some(t) = existing else {
        let created = CreateBuilder::new()
            .with_location(url.as_str())
            .with_columns(schema.delta_fields())
            .with_save_mode(SaveMode::ErrorIfExists)
            .with_actions(actions)
            .await?;
        return version_of(created.version());
    };
    let snapshot = t.snapshot()?;
    let save_mode = if mode == WriteMode::Overwrite {
        actions.extend(
            snapshot
                .log_data()
                .iter()
                .map(|f| Action::Remove(f.remove_action(true))),
        );
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    let op = DeltaOperation::Write {
        mode: save_mode,
        partition_by: None,
        predicate: None,
    };
    let done = CommitBuilder::default()
        .with_actions(actions)
        .build(Some(snapshot), t.log_store(), op)
        .await?;
    version_of(Some(done.version()))
}

fn version_of<V: TryInto<i64>>(v: Option<V>) -> Result<i64, LakeError> {
    v.and_then(|v| v.try_into().ok())
        .ok_or_else(|| LakeError::Storage("the commit has no version".to_string()))
}

/// Deletes data files that will never be committed (best effort).
async fn remove_files(store: &dyn ObjectStore, adds: &[Add]) {
    for a in adds {
        if let Err(e) = store.delete(&Path::from(a.path.as_str())).await {
            tracing::warn!(path = %a.path, error = %e, "removing an uncommitted parquet file failed");
        }
    }
}
