//! Ingest jobs: created with what they will do, fed a CSV file through a signed upload URL (staged in the lake's storage, streamed in bounded memory), then run in the background as Create, Append or Overwrite, each run a ledger event with the rows written.

use dwb_lake::{LakeError, RowQuery, TableSchema, WriteMode};
use dwb_store::{
    Dataset, IngestJob, IngestOperation, IngestStatus, JobOutcome, RowsChange, Workspace,
};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::datasets::{parse_filters, DataError};
use crate::ledger::{event, Actor, Resource};
use crate::state::AppState;

/// How long an upload URL holds.
pub const UPLOAD_MINUTES: i64 = 60;

/// The server path of a job's upload URL (what is signed).
pub fn upload_path(job: Uuid) -> String {
    format!("/upload/{job}")
}

/// What a new job will do.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub operation: IngestOperation,
    pub dataset_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub schema_version_id: Option<Uuid>,
    pub tags: Value,
    pub file_name: String,
    pub provider: String,
    pub start_automatically: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn job_resource(j: &IngestJob) -> Resource<'_> {
    Resource {
        kind: "ingest_job",
        id: j.id.to_string(),
        name: &j.dataset_name,
    }
}

/// The actor a job runs as: whoever created it.
pub(crate) fn actor_of(j: &IngestJob) -> Actor {
    Actor {
        kind: match j.principal_kind.as_str() {
            "person" => "person",
            "service_account" => "service_account",
            _ => "system",
        },
        id: j.principal_id,
        name: j.principal_name.clone(),
    }
}

/// Checks and records a job; for `Append`/`Overwrite` the target must be a base data set of `ws`.
pub async fn create_job(
    state: &AppState,
    actor: &Actor,
    ws: &Workspace,
    new: NewJob,
) -> Result<IngestJob, DataError> {
    let data = state.data();
    let (name, schema_version_id) = match new.operation {
        IngestOperation::Create => {
            let name = dwb_core::validate::Name::parse("datasetName", &new.name)
                .map_err(|e| invalid("datasetName", e.message))?;
            dwb_core::validate::Description::parse("datasetDescription", &new.description)
                .map_err(|e| invalid("datasetDescription", e.message))?;
            if let Some(v) = new.schema_version_id {
                data.version(ws, v).await.map_err(|e| match e {
                    DataError::NotFound(_) => invalid(
                        "schemaVersionId",
                        "no such schema version in this workspace",
                    ),
                    other => other,
                })?;
            }
            (name.into_string(), new.schema_version_id)
        }
        IngestOperation::Append | IngestOperation::Overwrite => {
            let id = new.dataset_id.ok_or_else(|| {
                invalid(
                    "datasetId",
                    "is required to append to or overwrite a data set",
                )
            })?;
            let d = state
                .store
                .dataset(id)
                .await?
                .filter(|d| d.workspace_id == ws.id)
                .ok_or_else(|| invalid("datasetId", "no such data set in this workspace"))?;
            if d.base_dataset_id.is_some() {
                return Err(invalid(
                    "datasetId",
                    "a derived data set is a view of its base data set and has no rows of its own",
                ));
            }
            let (version, _) =
                version_for(state, ws, &d, new.operation, new.schema_version_id).await?;
            (d.name, Some(version))
        }
    };
    let now = state.clock.now();
    let job = IngestJob {
        id: Uuid::new_v4(),
        workspace_id: ws.id,
        operation: new.operation,
        dataset_id: new.dataset_id,
        dataset_name: name,
        dataset_description: new.description.trim().to_string(),
        schema_version_id,
        tags: new.tags,
        file_name: new.file_name,
        provider: new.provider,
        start_automatically: new.start_automatically,
        status: IngestStatus::Created,
        row_count: None,
        errors: Vec::new(),
        principal_kind: actor.kind.into(),
        principal_id: actor.id,
        principal_name: actor.name.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut e = event(
        actor,
        ws.tenant_id,
        Some(ws.id),
        now,
        "IngestJobCreated",
        job_resource(&job),
    );
    e.detail = json!({"operation": job.operation.as_str(), "datasetId": job.dataset_id});
    state.store.create_ingest_job(&job, e).await?;
    Ok(job)
}

/// Stores the uploaded file of a `Created` job, marks it `Uploaded`, and
/// starts it when it starts automatically. A second upload is a conflict.
pub async fn receive<S, E>(state: &AppState, job: &IngestJob, body: S) -> Result<(), DataError>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if job.status != IngestStatus::Created {
        return Err(DataError::Conflict(format!(
            "the file of this job was already uploaded (status {})",
            job.status.as_str()
        )));
    }
    let name = job.id.to_string();
    let mut w = state.lake.stage_writer(&name)?;
    let mut body = body;
    let written = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| invalid("file", format!("the upload broke off: {e}")))?;
            w.write_all(&chunk)
                .await
                .map_err(|e| DataError::from(LakeError::from(e)))?;
        }
        w.shutdown()
            .await
            .map_err(|e| DataError::from(LakeError::from(e)))
    }
    .await;
    if let Err(e) = written {
        let _ = state.lake.unstage(&name).await;
        return Err(e);
    }
    let now = state.clock.now();
    if !state
        .store
        .transition_ingest_job(job.id, IngestStatus::Created, IngestStatus::Uploaded, now)
        .await?
    {
        return Err(DataError::Conflict(
            "the file of this job was already uploaded".into(),
        ));
    }
    if job.start_automatically {
        start(state, job.id).await?;
    }
    Ok(())
}

/// Starts an `Uploaded` job in the background; a job elsewhere is a conflict.
pub async fn start(state: &AppState, job_id: Uuid) -> Result<(), DataError> {
    let now = state.clock.now();
    if !state
        .store
        .transition_ingest_job(job_id, IngestStatus::Uploaded, IngestStatus::Running, now)
        .await?
    {
        let job = state
            .store
            .ingest_job(job_id)
            .await?
            .ok_or(DataError::NotFound("ingest job"))?;
        return Err(DataError::Conflict(match job.status {
            IngestStatus::Created => "upload the file to the job's sasToken URL first".into(),
            s => format!("the job has already started (status {})", s.as_str()),
        }));
    }
    let job = state
        .store
        .ingest_job(job_id)
        .await?
        .ok_or(DataError::NotFound("ingest job"))?;
    let state = state.clone();
    tokio::spawn(async move { run(&state, job).await });
    Ok(())
}

/// How often a running job tells the store it is alive.
pub const HEARTBEAT_SECS: u64 = 20;

/// Runs a job to its end and records how it ended; the staged file is removed.
/// While it runs, its `updated_at` moves every [`HEARTBEAT_SECS`], so that a
/// job whose server stopped can be told from one still running (see `sweep`).
async fn run(state: &AppState, job: IngestJob) {
    let work = ingest(state, &job);
    tokio::pin!(work);
    let mut beat = tokio::time::interval(std::time::Duration::from_secs(HEARTBEAT_SECS));
    beat.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = beat.tick() => {
                let now = state.clock.now();
                let alive = state
                    .store
                    .transition_ingest_job(job.id, IngestStatus::Running, IngestStatus::Running, now)
                    .await;
                if let Err(cause) = alive {
                    tracing::warn!(%cause, job = %job.id, "cannot record that an ingest job is alive");
                }
            }
        }
    };
    let outcome = match result {
        Ok((dataset_id, rows)) => JobOutcome {
            dataset_id: Some(dataset_id),
            row_count: Some(rows),
            errors: Vec::new(),
        },
        Err(e) => {
            let errors = match e {
                DataError::Rejected(errors) => errors,
                DataError::Lake(cause) => {
                    tracing::error!(%cause, job = %job.id, "ingest failed");
                    vec!["internal error while writing the data set; see the server log".into()]
                }
                DataError::Store(cause) => {
                    tracing::error!(%cause, job = %job.id, "ingest failed");
                    vec!["internal error while recording the data set; see the server log".into()]
                }
                other => vec![other.to_string()],
            };
            record_failure(state, &job, &errors).await;
            JobOutcome {
                dataset_id: None,
                row_count: None,
                errors,
            }
        }
    };
    match state
        .store
        .finish_ingest_job(job.id, IngestStatus::Running, outcome, state.clock.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %job.id, "an ingest job ended after it was declared stopped")
        }
        Err(cause) => {
            tracing::error!(%cause, job = %job.id, "cannot record the end of an ingest job")
        }
    }
    if let Err(cause) = state.lake.unstage(&job.id.to_string()).await {
        tracing::warn!(%cause, job = %job.id, "cannot remove a staged upload");
    }
}

/// Records in the ledger that `job` failed with `errors`.
pub(crate) async fn record_failure(state: &AppState, job: &IngestJob, errors: &[String]) {
    let Some(ws) = state.store.workspace(job.workspace_id).await.ok().flatten() else {
        return;
    };
    let mut e = event(
        &actor_of(job),
        ws.tenant_id,
        Some(ws.id),
        state.clock.now(),
        "IngestFailed",
        job_resource(job),
    );
    e.outcome = "failed".into();
    e.detail = json!({"rows": 0, "errors": errors.len(), "operation": job.operation.as_str()});
    if let Err(cause) = state.store.append_event(e).await {
        tracing::warn!(%cause, "cannot record a failed ingest");
    }
}

/// The ingest itself: the data set written and the rows the file held.
async fn ingest(state: &AppState, job: &IngestJob) -> Result<(Uuid, i64), DataError> {
    let ws = state
        .store
        .workspace(job.workspace_id)
        .await?
        .ok_or(DataError::NotFound("workspace"))?;
    let csv = state.lake.stage_reader(&job.id.to_string()).await?;
    let actor = actor_of(job);
    let data = state.data();
    let mode = match job.operation {
        IngestOperation::Create => {
            let d = data
                .import_csv(
                    &actor,
                    &ws,
                    &job.dataset_name,
                    &job.dataset_description,
                    job.tags.clone(),
                    job.schema_version_id,
                    csv,
                )
                .await?;
            return Ok((d.id, d.row_count));
        }
        IngestOperation::Append => WriteMode::Append,
        IngestOperation::Overwrite => WriteMode::Overwrite,
    };
    let id = job.dataset_id.ok_or(DataError::NotFound("data set"))?;
    let d = state
        .store
        .dataset(id)
        .await?
        .ok_or(DataError::NotFound("data set"))?;
    // An overwrite may bring another schema version (checked when the job was
    // created, and again now: a derived data set may have come since).
    let requested = match job.operation {
        IngestOperation::Overwrite => job.schema_version_id,
        // An append writes with the data set's version of now; the lake checks the columns.
        _ => None,
    };
    let (_, table) = version_for(state, &ws, &d, job.operation, requested).await?;
    let writer = job.id.to_string();
    let report = state
        .lake
        .ingest_csv_as(&id.to_string(), &table, csv, mode, Some(&writer))
        .await?;
    record_rows(state, &ws, &d, &RowsWritten::by_job(job, &d, report.rows)).await?;
    Ok((id, i64::try_from(report.rows).unwrap_or(i64::MAX)))
}

/// What a committed `Append`/`Overwrite` wrote, for [`record_rows`].
#[derive(Debug, Clone)]
pub(crate) struct RowsWritten {
    pub actor: Actor,
    pub operation: IngestOperation,
    /// The ingest job that wrote them; `None` when the portal wrote them at once.
    pub job: Option<Uuid>,
    /// The data set's schema version from now on.
    pub version: Uuid,
    /// The rows the file held.
    pub rows: u64,
}

impl RowsWritten {
    /// What `job` wrote into data set `d` (only an overwrite brings another schema version).
    pub(crate) fn by_job(job: &IngestJob, d: &Dataset, rows: u64) -> Self {
        let version = match job.operation {
            IngestOperation::Overwrite => job.schema_version_id,
            _ => None,
        };
        Self {
            actor: actor_of(job),
            operation: job.operation,
            job: Some(job.id),
            version: version.unwrap_or(d.schema_version_id),
            rows,
        }
    }
}

/// Records what a committed `Append`/`Overwrite` did to data set `d`: its
/// new row count (from the table's statistics, and answered), its schema
/// version if the write brought another, and a ledger event.
pub(crate) async fn record_rows(
    state: &AppState,
    ws: &Workspace,
    d: &Dataset,
    w: &RowsWritten,
) -> Result<i64, DataError> {
    let counted = state.lake.counted(&d.id.to_string()).await?;
    let total = i64::try_from(counted.rows).unwrap_or(i64::MAX);
    let written = i64::try_from(w.rows).unwrap_or(i64::MAX);
    let changed = (w.version != d.schema_version_id).then_some(w.version);
    let now = state.clock.now();
    let action = if w.operation == IngestOperation::Append {
        "DatasetAppended"
    } else {
        "DatasetOverwritten"
    };
    let mut e = event(
        &w.actor,
        ws.tenant_id,
        Some(ws.id),
        now,
        action,
        Resource {
            kind: "dataset",
            id: d.id.to_string(),
            name: &d.name,
        },
    );
    e.detail =
        json!({"rows": written, "rowCount": total, "job": w.job, "schemaVersionId": w.version});
    let change = RowsChange {
        rows: total,
        lake_version: i64::try_from(counted.version).ok(),
        schema_version_id: changed,
    };
    state
        .store
        .set_dataset_rows(d.id, change, &w.actor.name, now, e)
        .await?;
    // Derived data sets are views of these rows: their counts follow.
    crate::sweep::recount(state, d, false, now).await?;
    Ok(total)
}

/// The schema version an `Append`/`Overwrite` of base data set `d` writes
/// with, and its lake schema: the data set's own, or (overwrite only)
/// `requested`, another version of `ws` in which every derived data set of
/// `d` still finds its columns and filters.
pub(crate) async fn version_for(
    state: &AppState,
    ws: &Workspace,
    d: &Dataset,
    operation: IngestOperation,
    requested: Option<Uuid>,
) -> Result<(Uuid, TableSchema), DataError> {
    let data = state.data();
    match requested {
        Some(v) if v != d.schema_version_id => {
            if operation != IngestOperation::Overwrite {
                return Err(invalid(
                    "schemaVersionId",
                    "must be the data set's own schema version (or left out) to append; \
                     overwrite the data set to change its schema version",
                ));
            }
            let known = data.version(ws, v).await.map_err(|e| match e {
                DataError::NotFound(_) => invalid(
                    "schemaVersionId",
                    "no such schema version in this workspace",
                ),
                other => other,
            })?;
            derived_fit(state, ws, d, &known.table).await?;
            Ok((v, known.table.clone()))
        }
        _ => {
            let known = data.version(ws, d.schema_version_id).await?;
            Ok((d.schema_version_id, known.table.clone()))
        }
    }
}

/// Every derived data set of `base` must still find its columns and filters
/// in `table`, the schema an overwrite brings.
async fn derived_fit(
    state: &AppState,
    ws: &Workspace,
    base: &Dataset,
    table: &TableSchema,
) -> Result<(), DataError> {
    for d in state.store.datasets(ws.id).await? {
        if d.base_dataset_id != Some(base.id) {
            continue;
        }
        let check = RowQuery {
            page_index: 1,
            page_size: 1,
            columns: Some(crate::derived::names(&d.columns)),
            filters: parse_filters(&d.queries, "queries")?,
            sort: None,
        };
        if let Err(e) = check.check(table) {
            let used = check.columns.iter().flatten();
            let mut missing: Vec<&str> = Vec::new();
            for c in used.chain(check.filters.iter().map(|f| &f.column)) {
                if table.column(c).is_none() && !missing.contains(&c.as_str()) {
                    missing.push(c);
                }
            }
            let why = match missing.as_slice() {
                [] => e.to_string(),
                [one] => format!("it uses column '{one}', which this version lacks"),
                many => format!(
                    "it uses columns '{}', which this version lacks",
                    many.join("', '")
                ),
            };
            return Err(invalid(
                "schemaVersionId",
                format!(
                    "the derived data set '{}' would no longer work with this schema version ({why}); \
                     delete it or choose a version that keeps its columns",
                    d.name
                ),
            ));
        }
    }
    Ok(())
}
