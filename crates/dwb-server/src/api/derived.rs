//! `POST /workspaces/{ws}/datasets/{id}/derive`: saves a view (filters and columns) of a data set as a derived data set.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::policy::Action;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::access;
use crate::api::datasets::{dataset_out, DatasetOut};
use crate::api::error::ApiError;
use crate::api::json::ApiJson;
use crate::api::types::ErrorBody;
use crate::api::workspaces::parse_id;
use crate::auth::gateway::ApiCaller;
use crate::derived::NewDerived;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeriveIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Row filters `[{column, filterType, filterValues}]`, on filterable columns.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub queries: Value,
    /// The columns the view shows (empty or missing: all the source shows).
    #[serde(default)]
    pub columns: Vec<String>,
    /// `{key: [values]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tags: Value,
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/datasets/{dataset_id}/derive", tag = "Data sets", summary = "Save a view of a data set as a derived data set",
    description = "The new data set has `isBaseDataset: false`; its `queries` and `columns` always apply. Deriving from a derived data set keeps its filters too (and its columns bound the new ones).",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("dataset_id" = String, Path, description = "The source data set")),
    request_body = DeriveIn,
    responses((status = 201, description = "The derived data set", body = DatasetOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn derive(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DeriveIn>,
) -> Result<Response, ApiError> {
    let (ws, id) = (parse_id("workspace", &ws)?, parse_id("data set", &id)?);
    let (workspace, _) = super::workspace(&state, &caller, ws, Action::ManageDatasets).await?;
    let (_, source) = access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &caller.principal,
        ws,
        id,
    )
    .await?;
    let new = NewDerived {
        name: body.name,
        description: body.description,
        queries: body.queries,
        columns: body.columns,
        tags: body.tags,
    };
    let d = state
        .data()
        .derive(&caller.actor(), &workspace, &source, new)
        .await?;
    Ok((StatusCode::CREATED, Json(dataset_out(&state, &d).await?)).into_response())
}
