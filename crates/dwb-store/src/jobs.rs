//! Ingest jobs and their SQL: what an upload will do, and what it did.

use dwb_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::sql::{id, insert_event, ts};
use crate::{NewEvent, StoreError, StoreResult};

/// What an ingest job does with its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOperation {
    /// A new base data set.
    Create,
    /// Rows added to an existing base data set.
    Append,
    /// The rows of an existing base data set replaced.
    Overwrite,
}

impl IngestOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Append => "Append",
            Self::Overwrite => "Overwrite",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Create" => Some(Self::Create),
            "Append" => Some(Self::Append),
            "Overwrite" => Some(Self::Overwrite),
            _ => None,
        }
    }
}

/// Where a job is: `Created` → `Uploaded` → `Running` → `Succeeded` | `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestStatus {
    Created,
    Uploaded,
    Running,
    Succeeded,
    Failed,
}

impl IngestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Uploaded => "Uploaded",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Uploaded,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An ingest job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestJob {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub operation: IngestOperation,
    /// The target of `Append`/`Overwrite`; the new data set once a `Create` succeeded.
    pub dataset_id: Option<Uuid>,
    pub dataset_name: String,
    pub dataset_description: String,
    /// `None`: infer the schema from the file (`Create` only).
    pub schema_version_id: Option<Uuid>,
    /// `{key: [values]}`.
    pub tags: serde_json::Value,
    pub file_name: String,
    pub provider: String,
    pub start_automatically: bool,
    pub status: IngestStatus,
    /// Rows written by this job.
    pub row_count: Option<i64>,
    /// Why the job failed (for a rejected file: line and column of each problem).
    pub errors: Vec<String>,
    /// Who created the job (and in whose name it runs).
    pub principal_kind: String,
    pub principal_id: Option<Uuid>,
    pub principal_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, workspace_id, operation, dataset_id, dataset_name, dataset_description, \
    schema_version_id, tags, file_name, provider, start_automatically, status, row_count, errors, \
    principal_kind, principal_id, principal_name, created_at, updated_at";

fn opt_id(r: &AnyRow, col: &str) -> StoreResult<Option<Uuid>> {
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("{col}: {s}")))
    })
    .transpose()
}

fn job(r: &AnyRow) -> StoreResult<IngestJob> {
    let op: String = r.try_get("operation")?;
    let status: String = r.try_get("status")?;
    let tags: String = r.try_get("tags")?;
    let errors: String = r.try_get("errors")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("ingest_jobs.{what}"));
    Ok(IngestJob {
        id: id(r, "id")?,
        workspace_id: id(r, "workspace_id")?,
        operation: IngestOperation::parse(&op).ok_or_else(|| corrupt("operation"))?,
        dataset_id: opt_id(r, "dataset_id")?,
        dataset_name: r.try_get("dataset_name")?,
        dataset_description: r.try_get("dataset_description")?,
        schema_version_id: opt_id(r, "schema_version_id")?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("tags"))?,
        file_name: r.try_get("file_name")?,
        provider: r.try_get("provider")?,
        start_automatically: r.try_get::<i64, _>("start_automatically")? != 0,
        status: IngestStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        row_count: r.try_get("row_count")?,
        errors: serde_json::from_str(&errors).map_err(|_| corrupt("errors"))?,
        principal_kind: r.try_get("principal_kind")?,
        principal_id: opt_id(r, "principal_id")?,
        principal_name: r.try_get("principal_name")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub async fn create(pool: &AnyPool, j: &IngestJob, event: NewEvent) -> StoreResult<()> {
    let mut tx = crate::sql::begin_write(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO ingest_jobs ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19)"
    ))
    .bind(j.id.to_string())
    .bind(j.workspace_id.to_string())
    .bind(j.operation.as_str())
    .bind(j.dataset_id.map(|d| d.to_string()))
    .bind(&j.dataset_name)
    .bind(&j.dataset_description)
    .bind(j.schema_version_id.map(|v| v.to_string()))
    .bind(j.tags.to_string())
    .bind(&j.file_name)
    .bind(&j.provider)
    .bind(i64::from(j.start_automatically))
    .bind(j.status.as_str())
    .bind(j.row_count)
    .bind(serde_json::Value::from(j.errors.clone()).to_string())
    .bind(&j.principal_kind)
    .bind(j.principal_id.map(|p| p.to_string()))
    .bind(&j.principal_name)
    .bind(j.created_at.millis())
    .bind(j.updated_at.millis())
    .execute(&mut *tx)
    .await?;
    insert_event(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &AnyPool, job_id: Uuid) -> StoreResult<Option<IngestJob>> {
    let q = format!("SELECT {COLS} FROM ingest_jobs WHERE id = $1");
    let r = sqlx::query(&q)
        .bind(job_id.to_string())
        .fetch_optional(pool)
        .await?;
    r.as_ref().map(job).transpose()
}

/// Moves a job from `from` to `to`; `false` (and no change) when it was not at `from`.
pub async fn transition(
    pool: &AnyPool,
    job_id: Uuid,
    from: IngestStatus,
    to: IngestStatus,
    now: Timestamp,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE ingest_jobs SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now.millis())
    .bind(job_id.to_string())
    .bind(from.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how a job at `from` ended; `false` (and no change) when it was not at `from`.
pub async fn finish(
    pool: &AnyPool,
    job_id: Uuid,
    from: IngestStatus,
    outcome: JobOutcome,
    now: Timestamp,
) -> StoreResult<bool> {
    let status = if outcome.errors.is_empty() {
        IngestStatus::Succeeded
    } else {
        IngestStatus::Failed
    };
    let done = sqlx::query(
        "UPDATE ingest_jobs SET status = $1, dataset_id = COALESCE($2, dataset_id), row_count = $3, \
         errors = $4, updated_at = $5 WHERE id = $6 AND status = $7",
    )
    .bind(status.as_str())
    .bind(outcome.dataset_id.map(|d| d.to_string()))
    .bind(outcome.row_count)
    .bind(serde_json::Value::from(outcome.errors).to_string())
    .bind(now.millis())
    .bind(job_id.to_string())
    .bind(from.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Jobs at `status` not touched since before `before`, oldest first (at most 100).
pub async fn stale(
    pool: &AnyPool,
    status: IngestStatus,
    before: Timestamp,
) -> StoreResult<Vec<IngestJob>> {
    let q = format!(
        "SELECT {COLS} FROM ingest_jobs WHERE status = $1 AND updated_at < $2 \
         ORDER BY updated_at LIMIT 100"
    );
    let rows = sqlx::query(&q)
        .bind(status.as_str())
        .bind(before.millis())
        .fetch_all(pool)
        .await?;
    rows.iter().map(job).collect()
}

/// How a job ended: no errors means `Succeeded`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOutcome {
    pub dataset_id: Option<Uuid>,
    pub row_count: Option<i64>,
    pub errors: Vec<String>,
}
