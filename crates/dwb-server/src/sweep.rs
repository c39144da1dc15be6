//! Cleanup after stopped servers and abandoned work: ingest jobs a server
//! stopped in the middle of, jobs whose upload never came or that were
//! never started, staged files no job will read, and lake files that no
//! data set or table version needs. Every node runs it; each step is safe
//! to run twice or on two nodes at once.

use dwb_core::Timestamp;
use dwb_lake::RowQuery;
use dwb_store::{Dataset, IngestJob, IngestOperation, IngestStatus, JobOutcome, RowsChange};
use serde_json::json;
use uuid::Uuid;

use crate::datasets::DataError;
use crate::ingest::{record_failure, record_rows, RowsWritten, HEARTBEAT_SECS, UPLOAD_MINUTES};
use crate::ledger::{event, Actor, Resource};
use crate::state::AppState;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// A running job not heard from for this long belongs to a stopped server
/// (the default of `ingest_stopped_after_secs`).
pub const STOPPED_AFTER_MS: i64 = 6 * HEARTBEAT_SECS as i64 * 1000;
/// A created job whose file has not arrived this long after its upload URL expired.
pub const UPLOAD_GIVEN_UP_MS: i64 = (UPLOAD_MINUTES + 5) * MINUTE_MS;
/// An uploaded job nobody started.
pub const UNSTARTED_GIVEN_UP_MS: i64 = 24 * HOUR_MS;
/// Lake files no version needs, and staged files no job owns, are kept this
/// long (for readers of an older version, and for work still in flight).
pub const KEEP_FILES_MS: i64 = HOUR_MS;
/// Files an overwrite replaced (and those a stopped ingest left) are kept this
/// long for readers of the older version (the default of `lake_keep_unreferenced_secs`).
pub const KEEP_REPLACED_MS: i64 = 24 * HOUR_MS;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Jobs of a stopped server whose commit had landed: recorded as succeeded.
    pub jobs_completed: usize,
    /// Jobs ended as failed (stopped, never uploaded, never started).
    pub jobs_failed: usize,
    pub staged_removed: usize,
    /// Tables no data set owns, removed.
    pub tables_removed: usize,
    /// Unreferenced data files removed from tables.
    pub files_removed: usize,
    /// Data sets whose stored row count was put right.
    pub recounted: usize,
}

/// Ends the jobs that will never end by themselves.
pub async fn sweep_jobs(state: &AppState, now: Timestamp) -> Result<Swept, DataError> {
    let mut swept = Swept::default();
    let store = &state.store;
    let stopped = store
        .stale_ingest_jobs(
            IngestStatus::Running,
            Timestamp(now.0 - state.settings.stopped_after_ms),
        )
        .await?;
    for job in stopped {
        if let Some(rows) = committed_rows(state, &job).await? {
            let outcome = JobOutcome {
                dataset_id: job.dataset_id,
                row_count: Some(i64::try_from(rows).unwrap_or(i64::MAX)),
                errors: Vec::new(),
            };
            if store
                .finish_ingest_job(job.id, IngestStatus::Running, outcome, now)
                .await?
            {
                complete(state, &job, rows).await?;
                swept.jobs_completed += 1;
            }
            continue;
        }
        let why = "the server stopped while this job ran; nothing of its file became visible \
                   and the data set is as it was; create a new job to try again";
        if fail(state, &job, IngestStatus::Running, why, now).await? {
            swept.jobs_failed += 1;
        }
    }
    let never_uploaded = store
        .stale_ingest_jobs(IngestStatus::Created, Timestamp(now.0 - UPLOAD_GIVEN_UP_MS))
        .await?;
    for job in never_uploaded {
        let why = "no file arrived before the upload URL expired; create a new job";
        if fail(state, &job, IngestStatus::Created, why, now).await? {
            swept.jobs_failed += 1;
        }
    }
    let never_started = store
        .stale_ingest_jobs(
            IngestStatus::Uploaded,
            Timestamp(now.0 - UNSTARTED_GIVEN_UP_MS),
        )
        .await?;
    for job in never_started {
        let why = "the job was not started within 24 hours of its upload and its file was \
                   removed; create a new job";
        if fail(state, &job, IngestStatus::Uploaded, why, now).await? {
            swept.jobs_failed += 1;
        }
    }
    Ok(swept)
}

/// The rows a stopped `Append`/`Overwrite` job committed, if its commit landed.
async fn committed_rows(state: &AppState, job: &IngestJob) -> Result<Option<u64>, DataError> {
    match (job.operation, job.dataset_id) {
        (IngestOperation::Append | IngestOperation::Overwrite, Some(d)) => Ok(state
            .lake
            .committed_by(&d.to_string(), &job.id.to_string())
            .await?),
        // A `Create` records its data set after the commit; a table it left
        // without one is never visible and is removed by `sweep_lake`.
        _ => Ok(None),
    }
}

/// Records the data set side of a job whose commit landed before its server stopped.
async fn complete(state: &AppState, job: &IngestJob, rows: u64) -> Result<(), DataError> {
    let Some(d) = job.dataset_id else {
        return Ok(());
    };
    let ws = state.store.workspace(job.workspace_id).await?;
    let d = state.store.dataset(d).await?;
    if let (Some(ws), Some(d)) = (ws, d) {
        record_rows(state, &ws, &d, &RowsWritten::by_job(job, &d, rows)).await?;
    }
    state.lake.unstage(&job.id.to_string()).await?;
    Ok(())
}

/// Ends `job` (if still at `from`) as failed for `why`, records it, removes its file.
async fn fail(
    state: &AppState,
    job: &IngestJob,
    from: IngestStatus,
    why: &str,
    now: Timestamp,
) -> Result<bool, DataError> {
    let errors = vec![why.to_string()];
    let outcome = JobOutcome {
        errors: errors.clone(),
        ..JobOutcome::default()
    };
    if !state
        .store
        .finish_ingest_job(job.id, from, outcome, now)
        .await?
    {
        return Ok(false);
    }
    record_failure(state, job, &errors).await;
    state.lake.unstage(&job.id.to_string()).await?;
    Ok(true)
}

/// Removes staged files no unfinished job owns, tables no data set owns,
/// and data files no table version needs, each once older than it must be kept.
pub async fn sweep_lake(state: &AppState, now: Timestamp) -> Result<Swept, DataError> {
    let mut swept = Swept::default();
    for f in state.lake.staged().await? {
        if now.0 - f.modified_ms < KEEP_FILES_MS {
            continue;
        }
        let owner = match f.name.parse::<Uuid>() {
            Ok(id) => state.store.ingest_job(id).await?,
            Err(_) => None,
        };
        let wanted = owner.is_some_and(|j| {
            matches!(
                j.status,
                IngestStatus::Created | IngestStatus::Uploaded | IngestStatus::Running
            )
        });
        if !wanted {
            state.lake.unstage(&f.name).await?;
            swept.staged_removed += 1;
        }
    }
    for t in state.lake.tables().await? {
        // Folders that are not data set ids are not dwb's: leave them.
        let Ok(id) = t.name.parse::<Uuid>() else {
            continue;
        };
        if let Some(d) = state.store.dataset(id).await? {
            swept.files_removed += state
                .lake
                .sweep_table(&t.name, state.settings.keep_unreferenced_ms, now.0)
                .await?;
            swept.recounted += recount(state, &d, true, now).await?;
        } else if now.0 - t.modified_ms >= KEEP_FILES_MS {
            // An import that stopped before its data set was recorded (or a
            // delete that stopped halfway).
            state.lake.purge_table(&t.name).await?;
            swept.tables_removed += 1;
        }
    }
    Ok(swept)
}

/// Puts right the stored row counts of base data set `base` and of its
/// derived data sets: a write whose server stopped between its commit and
/// its record, and derived data sets whose base has changed since.
/// With `with_base` false only the derived data sets are counted (the
/// caller has just recorded the base's count itself).
pub(crate) async fn recount(
    state: &AppState,
    base: &Dataset,
    with_base: bool,
    now: Timestamp,
) -> Result<usize, DataError> {
    let Some(ws) = state.store.workspace(base.workspace_id).await? else {
        return Ok(0);
    };
    let mut fixed = 0;
    let mut counted_once = None;
    for d in state.store.datasets(ws.id).await? {
        let wanted = if d.id == base.id {
            with_base
        } else {
            d.base_dataset_id == Some(base.id)
        };
        if !wanted {
            continue;
        }
        let probe = RowQuery {
            page_size: 1,
            ..RowQuery::default()
        };
        // The base table's version is read first (once): a derived count is
        // of that version or a newer one, never older.
        let counted = match counted_once {
            Some(c) => c,
            None => *counted_once.insert(state.lake.counted(&base.id.to_string()).await?),
        };
        let rows = if d.id == base.id {
            i64::try_from(counted.rows).unwrap_or(i64::MAX)
        } else {
            state.data().rows(&ws, &d, probe).await?.total_count
        };
        if rows == d.row_count {
            continue;
        }
        let actor = Actor {
            kind: "system",
            id: None,
            name: "dwb".into(),
        };
        let resource = Resource {
            kind: "dataset",
            id: d.id.to_string(),
            name: &d.name,
        };
        let mut e = event(
            &actor,
            ws.tenant_id,
            Some(ws.id),
            now,
            "DatasetRecounted",
            resource,
        );
        e.detail = json!({"from": d.row_count, "to": rows});
        state
            .store
            .set_dataset_rows(d.id, change(rows, counted.version), &actor.name, now, e)
            .await?;
        fixed += 1;
    }
    Ok(fixed)
}

fn change(rows: i64, version: u64) -> RowsChange {
    RowsChange {
        rows,
        lake_version: i64::try_from(version).ok(),
        schema_version_id: None,
    }
}

/// Runs the sweeps: jobs every minute, the lake every hour, both at once at start.
pub fn spawn(state: &AppState) {
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            let now = s.clock.now();
            match sweep_jobs(&s, now).await {
                Ok(w) if w != Swept::default() => tracing::info!(?w, "ingest jobs swept"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot sweep ingest jobs"),
            }
            if n.is_multiple_of(60) {
                match sweep_lake(&s, now).await {
                    Ok(w) if w != Swept::default() => tracing::info!(?w, "lake swept"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot sweep the lake"),
                }
            }
            n += 1;
        }
    });
}
