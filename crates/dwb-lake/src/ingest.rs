//! CSV ingest: stream, validate every value (see `parse`), write Parquet, then commit one Delta transaction (or nothing).

use bytes::{Bytes, BytesMut};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, MetadataExt, StructType, Transaction};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::operations::create::CreateBuilder;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, ObjectStore, Path};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use url::Url;

use crate::cluster;
use crate::error::LakeError;
use crate::lake::Lake;
use crate::parse::{self, BATCH_ROWS};
use crate::schema::{ColumnType, TableSchema};

/// Rows per Parquet file (about one million).
const FILE_ROWS: usize = 16 * BATCH_ROWS;
/// Most bytes of batches held to be clustered into one file: wide rows make
/// smaller files rather than more memory.
const MAX_CLUSTER_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of the source handed to the parser at a time.
const CHUNK_BYTES: usize = 1024 * 1024;

/// How an ingest treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create the table; `Conflict` if it exists.
    Create,
    /// Add rows; `NotFound` if the table does not exist.
    Append,
    /// Replace all rows, and the columns when the schema differs;
    /// `NotFound` if the table does not exist.
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
        self.ingest_csv_as(table, schema, csv, mode, None).await
    }

    /// Like [`Lake::ingest_csv`], recording `writer` (an application id such
    /// as a job id) in the commit so that [`Lake::committed_by`] can tell,
    /// after a crash, whether this ingest became visible.
    pub async fn ingest_csv_as<R>(
        &self,
        table: &str,
        schema: &TableSchema,
        csv: R,
        mode: WriteMode,
        writer: Option<&str>,
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
            // Overwrite may bring new columns: the commit then changes the table's schema.
            (Some(_), WriteMode::Overwrite) => {}
            (Some(t), WriteMode::Append) => check_same_columns(t, schema)?,
            (None, WriteMode::Create) => {}
        }
        if let Ok(path) = url.to_file_path() {
            tokio::fs::create_dir_all(&path).await?;
        }
        let target = Target {
            lake: self,
            url: &url,
            existing: existing.as_ref(),
            schema,
            mode,
            writer,
        };
        let result = write_and_commit(&target, csv).await;
        if result.is_err() && existing.is_none() {
            if let Ok(path) = url.to_file_path() {
                // Only succeeds when the folder is empty, i.e. nothing else is there.
                let _ = tokio::fs::remove_dir(&path).await;
            }
        }
        result
    }
}

/// Where and how an ingest writes.
struct Target<'a> {
    lake: &'a Lake,
    url: &'a Url,
    existing: Option<&'a DeltaTable>,
    schema: &'a TableSchema,
    mode: WriteMode,
    writer: Option<&'a str>,
}

async fn write_and_commit<R>(target: &Target<'_>, csv: R) -> Result<IngestReport, LakeError>
where
    R: tokio::io::AsyncRead + Unpin + Send,
{
    let store = target.lake.table_store(target.url)?;
    let staged = Staged::new(target.lake, target.url, target.schema)?;
    let (staged, written) = staged.write_all(target.schema, csv).await;
    let (adds, rows) = match written {
        Ok(done) => done,
        Err(e) => {
            if let Some(mut staged) = staged {
                staged.abandon(store.as_ref()).await;
            }
            return Err(e);
        }
    };
    match commit(target, adds.clone(), rows).await {
        Ok(version) => Ok(IngestReport { rows, version }),
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
    rows_in_file: usize,
    /// The key columns each file is clustered on (see `cluster`); empty
    /// when the schema has no key, and batches are then written as they come.
    key: Vec<usize>,
    /// The next file's batches, held until it is full to be clustered.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
}

impl Staged {
    fn new(lake: &Lake, url: &Url, schema: &TableSchema) -> Result<Self, LakeError> {
        let key = cluster::key_columns(schema);
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS));
        if !key.is_empty() {
            props = props.set_sorting_columns(Some(cluster::sorting_columns(&key)));
        }
        // Measurements and times are mostly all different: a dictionary of
        // them is built, then given up, row group by row group.
        for c in &schema.columns {
            if matches!(
                c.ty,
                ColumnType::Double | ColumnType::Decimal | ColumnType::DateTime
            ) {
                let path = ColumnPath::new(vec![c.physical_name()]);
                props = props.set_column_dictionary_enabled(path, false);
            }
        }
        let options = Some(lake.options().clone());
        let writer =
            RecordBatchWriter::try_new(url.as_str(), schema.arrow_schema(), None, options)?
                .with_writer_properties(props.build());
        Ok(Staged {
            writer,
            adds: Vec::new(),
            rows_in_file: 0,
            key,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
        })
    }

    /// Reads, validates and writes the whole file, answering every file
    /// written and the rows; `Rejected` on bad content. The source is read here while
    /// blocking threads parse (see `parse`) and another encodes Parquet as
    /// batches come back (off the runtime's threads, so that an import does
    /// not hold up requests, nor the reading of its own source). The
    /// `Staged` comes back (`None` only if its thread panicked) so that a
    /// failure can delete what it wrote.
    async fn write_all<R>(
        self,
        schema: &TableSchema,
        csv: R,
    ) -> (Option<Self>, Result<(Vec<Add>, u64), LakeError>)
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(4);
        // While a clustered file is sorted and encoded, the parser goes on
        // with the next one: room for a file's batches (bounded in bytes).
        let room = if self.key.is_empty() {
            2
        } else {
            cluster::batches_within(schema, MAX_CLUSTER_BYTES, BATCH_ROWS)
                .clamp(2, FILE_ROWS / BATCH_ROWS)
        };
        let (batch_tx, batch_rx) = mpsc::channel::<RecordBatch>(room);
        let owned = schema.clone();
        let parser =
            tokio::task::spawn_blocking(move || parse::parse_csv(chunk_rx, &owned, batch_tx));
        let runtime = tokio::runtime::Handle::current();
        let mut this = self;
        let encoder = tokio::task::spawn_blocking(move || {
            let written = this.encode(batch_rx, &runtime);
            (this, written)
        });
        let feed = async move {
            let mut csv = csv;
            let mut buf = BytesMut::with_capacity(CHUNK_BYTES);
            loop {
                if buf.capacity() - buf.len() < CHUNK_BYTES / 4 {
                    buf.reserve(CHUNK_BYTES);
                }
                if csv.read_buf(&mut buf).await? == 0 {
                    break;
                }
                if buf.len() >= CHUNK_BYTES && chunk_tx.send(buf.split().freeze()).await.is_err() {
                    // The parser stopped early: it says why.
                    return Ok(());
                }
            }
            if !buf.is_empty() {
                let _ = chunk_tx.send(buf.freeze()).await;
            }
            Ok::<(), std::io::Error>(())
        };
        let fed = feed.await;
        let parsed = parser.await;
        let (this, written) = match encoder.await {
            Ok((this, written)) => (Some(this), written),
            Err(e) => (
                None,
                Err(LakeError::Storage(format!(
                    "the Parquet writer stopped: {e}"
                ))),
            ),
        };
        let result = (|| {
            let rows =
                parsed.map_err(|e| LakeError::Storage(format!("the CSV parser stopped: {e}")))?;
            // A broken source must never look like a shorter file.
            fed.map_err(|e| LakeError::Rejected {
                errors: vec![format!("the file could not be read to its end: {e}")],
            })?;
            Ok((written?, rows?))
        })();
        (this, result)
    }

    /// Encodes the batches as they come, then closes the last file; on the
    /// encoder's own thread, `runtime` running the writes to storage.
    fn encode(
        &mut self,
        mut batches: mpsc::Receiver<RecordBatch>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Vec<Add>, LakeError> {
        while let Some(batch) = batches.blocking_recv() {
            runtime.block_on(self.write_batch(batch))?;
        }
        // The batches end with the file, or early when the parser refused
        // it: the caller then deletes every file written.
        runtime.block_on(self.finish())
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<(), LakeError> {
        if !self.key.is_empty() {
            self.pending_bytes += batch.get_array_memory_size();
            self.pending_rows += batch.num_rows();
            self.pending.push(batch);
            if self.pending_rows >= FILE_ROWS || self.pending_bytes >= MAX_CLUSTER_BYTES {
                self.write_clustered_file().await?;
            }
            return Ok(());
        }
        self.rows_in_file += batch.num_rows();
        self.writer.write(batch).await?;
        if self.rows_in_file >= FILE_ROWS {
            self.adds.extend(self.writer.flush().await?);
            self.rows_in_file = 0;
        }
        Ok(())
    }

    /// Writes the held batches as one file sorted on the key.
    async fn write_clustered_file(&mut self) -> Result<(), LakeError> {
        let batches = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.pending_rows = 0;
        if batches.is_empty() {
            return Ok(());
        }
        for batch in cluster::clustered(batches, &self.key, BATCH_ROWS)? {
            self.writer.write(batch).await?;
        }
        self.adds.extend(self.writer.flush().await?);
        Ok(())
    }

    /// Closes the last file; returns every file written.
    async fn finish(&mut self) -> Result<Vec<Add>, LakeError> {
        self.write_clustered_file().await?;
        self.adds.extend(self.writer.flush().await?);
        Ok(self.adds.clone())
    }

    /// Deletes everything written so far (best effort: failures are logged).
    async fn abandon(&mut self, store: &dyn ObjectStore) {
        self.pending.clear();
        match self.writer.flush().await {
            Ok(more) => self.adds.extend(more),
            Err(e) => tracing::warn!(error = %e, "closing abandoned parquet files failed"),
        }
        remove_files(store, &self.adds).await;
        self.adds.clear();
    }
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
/// The writer, if any, is recorded as an application transaction whose
/// version is the number of rows written.
async fn commit(target: &Target<'_>, adds: Vec<Add>, rows: u64) -> Result<i64, LakeError> {
    let Target {
        lake,
        url,
        existing,
        schema,
        mode,
        writer,
    } = *target;
    let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
    if let Some(w) = writer {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        actions.push(Action::Txn(Transaction::new(txn_app_id(w), rows)));
    }
    let Some(t) = existing else {
        let created = CreateBuilder::new()
            .with_location(url.as_str())
            .with_storage_options(lake.options().clone())
            .with_columns(schema.delta_fields())
            .with_save_mode(SaveMode::ErrorIfExists)
            .with_actions(actions)
            .await?;
        return version_of(created.version());
    };
    let snapshot = t.snapshot()?;
    let save_mode = if mode == WriteMode::Overwrite {
        if check_same_columns(t, schema).is_err() {
            let kernel = |e: &dyn std::fmt::Display| LakeError::Storage(e.to_string());
            let columns = StructType::try_new(schema.delta_fields()).map_err(|e| kernel(&e))?;
            let metadata = snapshot
                .metadata()
                .clone()
                .with_schema(&columns)
                .map_err(|e| kernel(&e))?;
            actions.push(Action::Metadata(metadata));
        }
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

/// The Delta application id under which `writer` commits.
fn txn_app_id(writer: &str) -> String {
    format!("dwb-ingest-{writer}")
}

impl Lake {
    /// The rows that `writer` committed to `table` (see [`Lake::ingest_csv_as`]),
    /// or `None` when it never committed (or the table is gone).
    pub async fn committed_by(&self, table: &str, writer: &str) -> Result<Option<u64>, LakeError> {
        let Some(t) = self.load(table).await? else {
            return Ok(None);
        };
        let rows = t
            .snapshot()?
            .transaction_version(t.log_store().as_ref(), txn_app_id(writer))
            .await?;
        Ok(rows.map(|r| u64::try_from(r).unwrap_or(0)))
    }
}
