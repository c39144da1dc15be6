//! Read URLs of data sets: `GET .../datasets/{id}/sas` signs a time-limited link, and `GET /lake/{datasetId}/…` (outside the gateway; the signature is the credential) lists and streams the Delta table's files read-only.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access;
use crate::api::error::ApiError;
use crate::api::types::{iso, ErrorBody};
use crate::api::workspaces::parse_id;
use crate::auth::gateway::ApiCaller;
use crate::ledger::{event, Resource};
use crate::signed::Signer;
use crate::state::AppState;

/// Longest read URL lifetime: one day.
pub const MAX_MINUTES: i64 = 1440;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SasParams {
    /// 1 to 1440; default 60.
    pub duration_in_minutes: Option<i64>,
    /// `dfs` (default) or `blob`: both give the same link.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SasOut {
    /// The signed URL of the table folder `{public URL}/lake/{datasetId}`: a
    /// `GET` lists its files as JSON (`{paths:[{name, contentLength,
    /// lastModified}]}`); a `GET` of `/lake/{datasetId}/{name}?{query}`
    /// downloads one file.
    pub sas_token: String,
    /// The same URL.
    pub url: String,
    /// The query string to append to a file's URL under the folder.
    pub query: String,
    pub expires_on: String,
}

fn lake_prefix(dataset: Uuid) -> String {
    format!("/lake/{dataset}/")
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/datasets/{dataset_id}/sas", tag = "Data sets", summary = "A time-limited read URL of a base data set's Delta table",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("dataset_id" = String, Path, description = "Data set id"), SasParams),
    responses((status = 200, description = "The signed URL", body = SasOut), (status = 400, description = "Bad duration or type, or a derived data set", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn sas(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SasOut>, ApiError> {
    let bad = |field: &str, message: String| ApiError::BadRequest {
        field: Some(field.into()),
        message: format!("{field}: {message}"),
    };
    let (ws, id) = (parse_id("workspace", &ws)?, parse_id("data set", &id)?);
    let (workspace, d) = access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &caller.principal,
        ws,
        id,
    )
    .await?;
    let minutes = match params.get("durationInMinutes") {
        None => 60,
        Some(m) => m
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=MAX_MINUTES).contains(m))
            .ok_or_else(|| {
                bad(
                    "durationInMinutes",
                    format!("must be a whole number from 1 to {MAX_MINUTES}"),
                )
            })?,
    };
    match params.get("type").map(String::as_str) {
        None | Some("dfs" | "blob") => {}
        Some(_) => return Err(bad("type", "must be dfs or blob".into())),
    }
    if d.base_dataset_id.is_some() {
        return Err(bad(
            "datasetId",
            "a derived data set has no files: its rows are a view of its base data set (query them instead)".into(),
        ));
    }
    let now = state.clock.now();
    let expires = now.millis() / 1000 + minutes * 60;
    let prefix = lake_prefix(d.id);
    let query = Signer::new(&state.master).query("GET", &prefix, expires);
    let url = format!("{}/lake/{}?{query}", state.settings.public_url(), d.id);
    let mut e = event(
        &caller.actor(),
        workspace.tenant_id,
        Some(workspace.id),
        now,
        "DatasetReadUrlIssued",
        Resource {
            kind: "dataset",
            id: d.id.to_string(),
            name: &d.name,
        },
    );
    e.detail = json!({"minutes": minutes});
    state.usage.record(None, e);
    Ok(Json(SasOut {
        sas_token: url.clone(),
        url,
        query,
        expires_on: iso(Timestamp(expires * 1000)),
    }))
}

/// `GET /lake/{datasetId}`: the table's files as JSON.
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (id, expires) = check(&state, &id, query.as_deref()).await?;
    let files = state
        .lake
        .table_files(&id.to_string())
        .await
        .map_err(missing)?;
    // On a cloud lake each file also gets a presigned object-store URL that
    // holds as long as this link does.
    let left = (expires * 1000 - state.clock.now().0).max(1000) / 1000;
    let left = std::time::Duration::from_secs(u64::try_from(left).unwrap_or(1));
    let mut paths = Vec::with_capacity(files.len());
    for f in &files {
        let mut p = json!({"name": f.path, "contentLength": f.size, "isDirectory": false,
                           "lastModified": iso(Timestamp(f.modified_ms))});
        if let Some(url) = state
            .lake
            .presign_file(&id.to_string(), &f.path, left)
            .await
            .map_err(missing)?
        {
            p["url"] = json!(url.as_str());
        }
        paths.push(p);
    }
    Ok(Json(json!({"paths": paths})).into_response())
}

/// `GET /lake/{datasetId}/{path}`: one file of the table, streamed.
pub async fn file(
    State(state): State<AppState>,
    Path((id, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (id, _) = check(&state, &id, query.as_deref()).await?;
    if path.is_empty() {
        return list(State(state), Path(id.to_string()), RawQuery(query)).await;
    }
    let f = state
        .lake
        .table_file(&id.to_string(), &path)
        .await
        .map_err(missing)?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, f.size.to_string()),
        ],
        Body::from_stream(f.bytes),
    )
        .into_response())
}

fn missing(e: dwb_lake::LakeError) -> ApiError {
    match e {
        dwb_lake::LakeError::NotFound(_) | dwb_lake::LakeError::BadInput { .. } => {
            ApiError::NotFound("no such file".into())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// Checks the signature for the data set's folder; answers the data set id
/// and when the link expires (seconds since the Unix epoch).
async fn check(state: &AppState, id: &str, query: Option<&str>) -> Result<(Uuid, i64), ApiError> {
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let refused = |m: &str| ApiError::Forbidden(format!("read refused: {m}"));
    let id: Uuid = id.parse().map_err(|_| refused("not a data set link"))?;
    Signer::new(&state.master)
        .verify(
            "GET",
            &lake_prefix(id),
            q.get("expires").map(String::as_str),
            q.get("sig").map(String::as_str),
            state.clock.now(),
        )
        .map_err(|r| refused(r.message()))?;
    // A data set deleted since the link was made is gone.
    state
        .store
        .dataset(id)
        .await?
        .filter(|d| d.base_dataset_id.is_none())
        .ok_or_else(|| ApiError::NotFound("data set not found".into()))?;
    let expires = q
        .get("expires")
        .and_then(|e| e.parse().ok())
        .unwrap_or_default();
    Ok((id, expires))
}
