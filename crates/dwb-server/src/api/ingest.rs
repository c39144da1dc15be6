//! The ingest flow under `/api/v2/workspaces/{workspaceId}/ingest` (create a job with a signed upload URL, start it, poll it) and the upload URL itself, outside the gateway because its signature is the credential.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::policy::Action;
use dwb_store::{IngestJob, IngestOperation, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::api::json::ApiJson;
use crate::api::types::ErrorBody;
use crate::api::workspaces::parse_id;
use crate::auth::gateway::ApiCaller;
use crate::ingest::{self, upload_path, NewJob, UPLOAD_MINUTES};
use crate::signed::Signer;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestFile {
    #[serde(default)]
    pub file_name: String,
    /// `Create` (default), `Append` or `Overwrite`.
    #[serde(default)]
    pub operation: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestIn {
    /// Name of the new data set (`Create`).
    #[serde(default)]
    pub dataset_name: String,
    #[serde(default)]
    pub dataset_description: String,
    /// Schema version of the rows; missing: inferred from the file's header and first rows (`Create`).
    pub schema_version_id: Option<Uuid>,
    /// The data set to append to or overwrite (`Append`, `Overwrite`).
    pub dataset_id: Option<Uuid>,
    /// Exactly one file.
    #[serde(default)]
    pub files: Vec<IngestFile>,
    /// `[{Key, Values[]}]` (or `{key: [values]}`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub tags: Option<Value>,
    #[serde(default)]
    pub provider: Option<String>,
    /// Start as soon as the file is uploaded (default true).
    pub start_automatically: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestOut {
    pub job_id: Uuid,
    /// The URL to `PUT` the CSV file to; valid for 60 minutes.
    pub sas_token: String,
    pub expires_on: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobOut {
    pub job_id: Uuid,
    /// `Created`, `Uploaded`, `Running`, `Succeeded` or `Failed`.
    pub status: String,
    pub operation: String,
    pub dataset_id: Option<Uuid>,
    /// Rows written by the job.
    pub row_count: Option<i64>,
    /// For a rejected file, its first problems by line and column.
    pub errors: Vec<String>,
    pub file_name: String,
    pub created_on: String,
    pub last_modified_on: String,
}

fn job_out(j: &IngestJob) -> JobOut {
    JobOut {
        job_id: j.id,
        status: j.status.as_str().into(),
        operation: j.operation.as_str().into(),
        dataset_id: j.dataset_id,
        row_count: j.row_count,
        errors: j.errors.clone(),
        file_name: j.file_name.clone(),
        created_on: crate::api::types::iso(j.created_at),
        last_modified_on: crate::api::types::iso(j.updated_at),
    }
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        field: Some(field.into()),
        message: format!("{field}: {}", message.into()),
    }
}

/// `[{Key, Values}]` or `{key: [values]}` as `{key: [values]}`, within the
/// limits of `dwb_core::tags`.
fn tags(v: Option<Value>) -> Result<Value, ApiError> {
    let t = tag_map(v)?;
    dwb_core::tags::check("tags", &t)?;
    Ok(t)
}

fn tag_map(v: Option<Value>) -> Result<Value, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(m)) => Ok(Value::Object(m)),
        Some(Value::Array(list)) => {
            let mut out = serde_json::Map::new();
            for (i, t) in list.iter().enumerate() {
                let key = t
                    .get("Key")
                    .or_else(|| t.get("key"))
                    .and_then(Value::as_str);
                let key = key.ok_or_else(|| bad(&format!("tags[{i}].Key"), "is required"))?;
                let values = t.get("Values").or_else(|| t.get("values")).cloned();
                let values = match values {
                    Some(Value::Array(a)) => a,
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => return Err(bad(&format!("tags[{i}].Values"), "must be a list")),
                };
                out.insert(key.to_string(), Value::Array(values));
            }
            Ok(Value::Object(out))
        }
        Some(_) => Err(bad("tags", "must be a list of {Key, Values}")),
    }
}

async fn writable(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
) -> Result<Arc<Workspace>, ApiError> {
    let ws = parse_id("workspace", ws)?;
    let (ws, _) = super::workspace(state, caller, ws, Action::ManageDatasets).await?;
    Ok(ws)
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/ingest/dataset", tag = "Ingest", summary = "Create an ingest job and get its upload URL",
    description = "Answers `{jobId, sasToken}`: `PUT` the CSV file to `sasToken` (valid 60 minutes). With `startAutomatically` (the default) the job then runs; otherwise call `.../ingest/jobs/{jobId}/start`.",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body = IngestIn,
    responses((status = 201, description = "The job and its upload URL", body = IngestOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<IngestIn>,
) -> Result<Response, ApiError> {
    let ws = writable(&state, &caller, &ws).await?;
    let file = match body.files.as_slice() {
        [f] => f,
        [] => return Err(bad("files", "one file is required")),
        _ => return Err(bad("files", "one file per job")),
    };
    let operation = IngestOperation::parse(file.operation.as_deref().unwrap_or("Create"))
        .ok_or_else(|| bad("files[0].operation", "must be Create, Append or Overwrite"))?;
    let new = NewJob {
        operation,
        dataset_id: body.dataset_id,
        name: body.dataset_name,
        description: body.dataset_description,
        schema_version_id: body.schema_version_id,
        tags: tags(body.tags)?,
        file_name: file.file_name.trim().to_string(),
        provider: body.provider.unwrap_or_default(),
        start_automatically: body.start_automatically.unwrap_or(true),
    };
    let job = ingest::create_job(&state, &caller.actor(), &ws, new).await?;
    let expires = state.clock.now().millis() / 1000 + UPLOAD_MINUTES * 60;
    let path = upload_path(job.id);
    let query = Signer::new(&state.master).query("PUT", &path, expires);
    let out = IngestOut {
        job_id: job.id,
        sas_token: format!("{}{path}?{query}", state.settings.public_url()),
        expires_on: crate::api::types::iso(dwb_core::Timestamp(expires * 1000)),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn job_of(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
    id: &str,
) -> Result<IngestJob, ApiError> {
    let ws = writable(state, caller, ws).await?;
    let id = parse_id("job", id)?;
    state
        .store
        .ingest_job(id)
        .await?
        .filter(|j| j.workspace_id == ws.id)
        .ok_or_else(|| ApiError::NotFound("ingest job not found".into()))
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/ingest/jobs/{job_id}", tag = "Ingest", summary = "The status of an ingest job",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("job_id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = JobOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<JobOut>, ApiError> {
    Ok(Json(job_out(&job_of(&state, &caller, &ws, &id).await?)))
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/ingest/jobs/{job_id}/start", tag = "Ingest", summary = "Start an ingest job whose file is uploaded",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("job_id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job, now Running", body = JobOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "No file yet, or already started", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<JobOut>, ApiError> {
    let job = job_of(&state, &caller, &ws, &id).await?;
    ingest::start(&state, job.id).await?;
    let job = state.store.ingest_job(job.id).await?.unwrap_or(job);
    Ok(Json(job_out(&job)))
}

/// `PUT /upload/{jobId}?expires=…&sig=…`: the CSV file of a job, streamed into staging.
pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let signer = Signer::new(&state.master);
    signer
        .verify(
            "PUT",
            &format!("/upload/{id}"),
            q.get("expires").map(String::as_str),
            q.get("sig").map(String::as_str),
            state.clock.now(),
        )
        .map_err(|r| ApiError::Forbidden(format!("upload refused: {}", r.message())))?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound("ingest job not found".into()))?;
    let job = state
        .store
        .ingest_job(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("ingest job not found".into()))?;
    ingest::receive(&state, &job, body.into_data_stream()).await?;
    let job = state.store.ingest_job(id).await?.unwrap_or(job);
    Ok((StatusCode::CREATED, Json(job_out(&job))).into_response())
}
