//! Adding or replacing a base data set's rows within one request (the
//! portal's Add rows and Replace rows): the checks, the lake write and the
//! record of an ingest job's Append and Overwrite, without a job, a staged
//! file or a background task.

use dwb_lake::{TableSchema, WriteMode};
use dwb_store::{Dataset, IngestOperation, Workspace};
use tokio::io::AsyncRead;
use uuid::Uuid;

use crate::datasets::DataError;
use crate::ingest::{record_rows, version_for, RowsWritten};
use crate::ledger::Actor;
use crate::state::AppState;

/// A checked write, ready for its file.
#[derive(Debug, Clone)]
pub struct Planned {
    pub dataset: Dataset,
    pub operation: IngestOperation,
    /// The schema version the data set has after the write.
    pub version: Uuid,
    table: TableSchema,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Rows the file held.
    pub rows: u64,
    /// Rows the data set has now.
    pub total: i64,
    /// True when an overwrite brought another schema version.
    pub version_changed: bool,
}

/// Checks an `Append` or `Overwrite` of data set `d` of `ws` before its file
/// is read: `d` must be a base data set, and `version` (overwrite only)
/// another schema version of `ws` that its derived data sets still fit.
pub async fn plan(
    state: &AppState,
    ws: &Workspace,
    d: Dataset,
    operation: IngestOperation,
    version: Option<Uuid>,
) -> Result<Planned, DataError> {
    if operation == IngestOperation::Create {
        return Err(DataError::Invalid {
            field: "operation".into(),
            message: "must be Append or Overwrite".into(),
        });
    }
    if d.workspace_id != ws.id {
        return Err(DataError::NotFound("data set"));
    }
    if d.base_dataset_id.is_some() {
        return Err(DataError::Invalid {
            field: "datasetId".into(),
            message: "a derived data set is a view of its base data set and has no rows of its own"
                .into(),
        });
    }
    let (version, table) = version_for(state, ws, &d, operation, version).await?;
    Ok(Planned {
        dataset: d,
        operation,
        version,
        table,
    })
}

/// Streams `csv` into the data set as planned (all of it or nothing), then
/// records the new row count, the schema version and a ledger event.
pub async fn write<R>(
    state: &AppState,
    actor: &Actor,
    ws: &Workspace,
    p: &Planned,
    csv: R,
) -> Result<Written, DataError>
where
    R: AsyncRead + Unpin + Send,
{
    let mode = match p.operation {
        IngestOperation::Append => WriteMode::Append,
        _ => WriteMode::Overwrite,
    };
    let d = &p.dataset;
    let report = state
        .lake
        .ingest_csv_as(&d.id.to_string(), &p.table, csv, mode, None)
        .await?;
    let written = RowsWritten {
        actor: actor.clone(),
        operation: p.operation,
        job: None,
        version: p.version,
        rows: report.rows,
    };
    let total = record_rows(state, ws, d, &written).await?;
    Ok(Written {
        rows: report.rows,
        total,
        version_changed: p.version != d.schema_version_id,
    })
}
