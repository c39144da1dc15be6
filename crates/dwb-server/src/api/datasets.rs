//! Data sets and schemas under `/api/v2/workspaces/{workspaceId}`: the
//! catalogue, rows, deletion, and versioned schemas.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::paging::Page;
use dwb_core::policy::Action;
use dwb_lake::{RowQuery, Sort};
use dwb_store::{Dataset, NewSchemaVersion, SchemaChange, SchemaRecord, SchemaVersion, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access;
use crate::api::error::ApiError;
use crate::api::json::ApiJson;
use crate::api::types::{iso, ErrorBody, Paged};
use crate::api::workspaces::parse_id;
use crate::auth::gateway::ApiCaller;
use crate::datasets::{columns_json, parse_columns, parse_filters, DataError};
use crate::ledger::{event, Resource};
use crate::state::AppState;

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::Invalid { field, message } => ApiError::BadRequest {
                message: format!("{field}: {message}"),
                field: Some(field),
            },
            DataError::Rejected(errors) => ApiError::BadRequest {
                field: Some("file".into()),
                message: format!("the file was rejected: {}", errors.join("; ")),
            },
            DataError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            DataError::Conflict(m) => ApiError::Conflict(m),
            DataError::Store(e) => e.into(),
            DataError::Unwritable(u) => ApiError::Unwritable(u),
            DataError::Lake(m) => ApiError::Internal(m),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaInfo {
    pub schema_version_id: Uuid,
    pub schema_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetOut {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub workspace_id: Uuid,
    pub created_by: String,
    pub created_on: String,
    pub last_modified_by: String,
    pub last_modified_on: String,
    pub schema_info: SchemaInfo,
    /// Row filters of a derived data set.
    #[schema(value_type = Vec<Object>)]
    pub queries: Value,
    /// Column subset of a derived data set (empty: all columns).
    #[schema(value_type = Vec<String>)]
    pub columns: Value,
    pub is_base_dataset: bool,
    #[schema(value_type = Object)]
    pub tags: Value,
    pub row_count: i64,
}

pub async fn dataset_out(state: &AppState, d: &Dataset) -> Result<DatasetOut, ApiError> {
    let schema_name = match state.store.schema_version(d.schema_version_id).await? {
        Some(v) => state
            .store
            .schema(v.schema_id)
            .await?
            .map(|s| s.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(DatasetOut {
        id: d.id,
        name: d.name.clone(),
        description: d.description.clone(),
        workspace_id: d.workspace_id,
        created_by: d.created_by.clone(),
        created_on: iso(d.created_at),
        last_modified_by: d.modified_by.clone(),
        last_modified_on: iso(d.modified_at),
        schema_info: SchemaInfo {
            schema_version_id: d.schema_version_id,
            schema_name,
        },
        queries: d.queries.clone(),
        columns: d.columns.clone(),
        is_base_dataset: d.base_dataset_id.is_none(),
        tags: d.tags.clone(),
        row_count: d.row_count,
    })
}

/// The data sets of `ws` the caller may see.
async fn visible(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
) -> Result<(Arc<Workspace>, Vec<Dataset>), ApiError> {
    let ws = parse_id("workspace", ws)?;
    let (ws, st) = super::workspace(state, caller, ws, Action::ListDatasets).await?;
    let all = state.store.datasets(ws.id).await?;
    let list = all
        .into_iter()
        .filter(|d| access::sees_dataset(&caller.principal, st, d.id))
        .collect();
    Ok((ws, list))
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/datasets", tag = "Data sets", summary = "List the data sets the caller can see",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    responses((status = 200, description = "Data sets", body = Vec<DatasetOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
) -> Result<Json<Vec<DatasetOut>>, ApiError> {
    let (_, list) = visible(&state, &caller, &ws).await?;
    let mut out = Vec::with_capacity(list.len());
    for d in &list {
        out.push(dataset_out(&state, d).await?);
    }
    Ok(Json(out))
}

/// The catalogue query; every field is optional and the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueQuery {
    pub is_base_dataset: Option<bool>,
    pub page_index: Option<i64>,
    pub page_size: Option<i64>,
    /// `name`, `createdOn` or `lastModifiedOn`.
    pub sort_column: Option<String>,
    /// `Ascending` or `Descending`.
    pub sort_direction: Option<String>,
    /// Part of the name, ignoring case.
    pub dataset_name: Option<String>,
    /// `{key: [values]}`: each key must have one of its values.
    #[schema(value_type = Object)]
    pub tags: Option<Value>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub schema_version_ids: Option<Vec<Uuid>>,
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("the JSON body is not valid: {e}"),
    })
}

fn parse_time(field: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    v.as_deref()
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| ApiError::BadRequest {
                    field: Some(field.into()),
                    message: format!(
                        "{field}: must be an RFC 3339 time such as 2026-01-31T00:00:00Z"
                    ),
                })
        })
        .transpose()
}

fn has_tags(d: &Dataset, wanted: &Value) -> bool {
    wanted.as_object().is_none_or(|m| {
        m.iter().all(|(k, vals)| {
            let have = d.tags.get(k).and_then(Value::as_array);
            match (have, vals.as_array()) {
                (Some(h), Some(w)) => w.is_empty() || w.iter().any(|v| h.contains(v)),
                (Some(_), None) => true,
                (None, _) => false,
            }
        })
    })
}

/// Most schema version ids in one catalogue query.
pub const MAX_SCHEMA_VERSION_IDS: usize = 1000;

/// The catalogue query's lists and texts are bounded like what they match.
fn check_catalogue_bounds(q: &CatalogueQuery) -> Result<(), ApiError> {
    if let Some(tags) = &q.tags {
        dwb_core::tags::check("tags", tags)?;
    }
    let name_chars = q.dataset_name.as_deref().map_or(0, |n| n.chars().count());
    if name_chars > dwb_core::validate::MAX_NAME_LEN {
        return Err(ApiError::BadRequest {
            field: Some("datasetName".into()),
            message: format!(
                "datasetName: at most {} characters, the longest a name can be",
                dwb_core::validate::MAX_NAME_LEN
            ),
        });
    }
    let ids = q.schema_version_ids.as_ref().map_or(0, Vec::len);
    if ids > MAX_SCHEMA_VERSION_IDS {
        return Err(ApiError::BadRequest {
            field: Some("schemaVersionIds".into()),
            message: format!("schemaVersionIds: at most {MAX_SCHEMA_VERSION_IDS} ids, got {ids}"),
        });
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/datasets/query", tag = "Data sets", summary = "Search the data catalogue",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body(content = Option<CatalogueQuery>, description = "May be empty"),
    responses((status = 200, description = "A page of data sets", body = Paged<DatasetOut>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn catalogue(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    body: Bytes,
) -> Result<Json<Paged<DatasetOut>>, ApiError> {
    let q: CatalogueQuery = parse_body(&body)?;
    let index = q.page_index.filter(|i| *i > 0);
    let page = Page::parse(index, q.page_size).map_err(ApiError::from)?;
    let after = parse_time("createdAfter", &q.created_after)?;
    let before = parse_time("createdBefore", &q.created_before)?;
    check_catalogue_bounds(&q)?;
    let (_, mut list) = visible(&state, &caller, &ws).await?;
    let needle = q.dataset_name.as_deref().map(str::to_lowercase);
    list.retain(|d| {
        q.is_base_dataset
            .is_none_or(|b| b == d.base_dataset_id.is_none())
            && needle
                .as_deref()
                .is_none_or(|n| d.name.to_lowercase().contains(n))
            && after.is_none_or(|a| d.created_at.millis() > a)
            && before.is_none_or(|b| d.created_at.millis() < b)
            && q.schema_version_ids
                .as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&d.schema_version_id))
            && q.tags.as_ref().is_none_or(|t| has_tags(d, t))
    });
    match q.sort_column.as_deref().unwrap_or("name") {
        "name" | "Name" => list.sort_by_key(|d| d.name.to_lowercase()),
        "createdOn" | "CreatedOn" => list.sort_by_key(|d| d.created_at),
        "lastModifiedOn" | "LastModifiedOn" => list.sort_by_key(|d| d.modified_at),
        other => {
            return Err(ApiError::BadRequest {
                field: Some("sortColumn".into()),
                message: format!(
                    "sortColumn: {other:?} is not one of name, createdOn, lastModifiedOn"
                ),
            })
        }
    }
    match q.sort_direction.as_deref().unwrap_or("Ascending") {
        "Ascending" | "ascending" | "asc" => {}
        "Descending" | "descending" | "desc" => list.reverse(),
        other => {
            return Err(ApiError::BadRequest {
                field: Some("sortDirection".into()),
                message: format!("sortDirection: {other:?} must be Ascending or Descending"),
            })
        }
    }
    let total = list.len() as i64;
    let mut result = Vec::new();
    for d in list
        .iter()
        .skip(page.offset() as usize)
        .take(page.size as usize)
    {
        result.push(dataset_out(&state, d).await?);
    }
    Ok(Json(Paged {
        result,
        page_index: page.index,
        page_size: page.size,
        total_count: total,
        total_pages: page.total_pages(total),
    }))
}

async fn one(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
    id: &str,
) -> Result<(Arc<Workspace>, Dataset), ApiError> {
    let ws = parse_id("workspace", ws)?;
    let id = parse_id("data set", id)?;
    Ok(access::dataset(
        &state.workspaces,
        state.store.as_ref(),
        &caller.principal,
        ws,
        id,
    )
    .await?)
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/datasets/{dataset_id}", tag = "Data sets", summary = "Get a data set",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("dataset_id" = String, Path, description = "Data set id")),
    responses((status = 200, description = "The data set", body = DatasetOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<DatasetOut>, ApiError> {
    let (_, d) = one(&state, &caller, &ws, &id).await?;
    Ok(Json(dataset_out(&state, &d).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sorting {
    pub column: String,
    /// `Ascending` or `Descending`.
    #[serde(default)]
    pub order: Option<String>,
}

/// A query for rows; every field is optional and the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowQueryIn {
    /// From 1; 0 or missing means 1.
    pub page_index: Option<i64>,
    /// Default 100, at most 10,000.
    pub page_size: Option<i64>,
    /// The columns to return (default: all).
    pub column_filter: Option<Vec<String>>,
    /// `[{column, filterType, filterValues}]`, all of which must hold.
    #[schema(value_type = Vec<Object>)]
    pub query_filters: Option<Value>,
    pub sorting: Option<Sorting>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page_index: i64,
    pub page_size: i64,
    pub total_pages: i64,
    pub total_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowsOut {
    /// Rows as objects, values in their schema types (DateTime as RFC 3339 UTC).
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<serde_json::Map<String, Value>>,
    pub pagination: Pagination,
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/datasets/{dataset_id}/query", tag = "Data sets", summary = "Query the rows of a data set",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("dataset_id" = String, Path, description = "Data set id")),
    request_body(content = Option<RowQueryIn>, description = "May be empty"),
    responses((status = 200, description = "A page of rows", body = RowsOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn rows(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RowsOut>, ApiError> {
    let q: RowQueryIn = parse_body(&body)?;
    let (workspace, d) = one(&state, &caller, &ws, &id).await?;
    let filters = parse_filters(
        q.query_filters.as_ref().unwrap_or(&Value::Null),
        "queryFilters",
    )?;
    let sort = match q.sorting {
        Some(s) => Some(Sort {
            column: s.column,
            descending: match s.order.as_deref().unwrap_or("Ascending") {
                "Ascending" | "ascending" | "asc" => false,
                "Descending" | "descending" | "desc" => true,
                other => {
                    return Err(ApiError::BadRequest {
                        field: Some("sorting.order".into()),
                        message: format!(
                            "sorting.order: {other:?} must be Ascending or Descending"
                        ),
                    })
                }
            },
        }),
        None => None,
    };
    let query = RowQuery {
        page_index: q.page_index.unwrap_or(1),
        page_size: q.page_size.unwrap_or(dwb_lake::DEFAULT_PAGE_SIZE),
        columns: q.column_filter.filter(|c| !c.is_empty()),
        filters,
        sort,
    };
    let page = state.data().rows(&workspace, &d, query).await?;
    let mut e = event(
        &caller.actor(),
        workspace.tenant_id,
        Some(workspace.id),
        state.clock.now(),
        "DatasetQueried",
        Resource {
            kind: "dataset",
            id: d.id.to_string(),
            name: &d.name,
        },
    );
    e.detail = serde_json::json!({"rows": page.rows.len()});
    state.usage.record(None, e);
    Ok(Json(RowsOut {
        data: page.rows,
        pagination: Pagination {
            page_index: page.page_index,
            page_size: page.page_size,
            total_pages: page.total_pages,
            total_count: page.total_count,
        },
    }))
}

#[utoipa::path(delete, path = "/api/v2/workspaces/{workspace_id}/datasets/{dataset_id}", tag = "Data sets", summary = "Delete a data set (and its derived data sets)",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("dataset_id" = String, Path, description = "Data set id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let wsid = parse_id("workspace", &ws)?;
    let (workspace, _) = super::workspace(&state, &caller, wsid, Action::ManageDatasets).await?;
    let (_, d) = one(&state, &caller, &ws, &id).await?;
    state.data().delete(&caller.actor(), &workspace, &d).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaVersionOut {
    pub id: Uuid,
    pub schema_id: Uuid,
    pub version: i64,
    pub schema_version_name: String,
    pub description: String,
    #[schema(value_type = Vec<Object>)]
    pub columns: Value,
    pub created_on: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaOut {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub default_schema_version_id: Option<Uuid>,
    pub created_by: String,
    pub created_on: String,
    pub schema_versions: Vec<SchemaVersionOut>,
}

fn version_out(v: &SchemaVersion) -> SchemaVersionOut {
    SchemaVersionOut {
        id: v.id,
        schema_id: v.schema_id,
        version: v.version,
        schema_version_name: v.name.clone(),
        description: v.description.clone(),
        columns: v.columns.clone(),
        created_on: iso(v.created_at),
    }
}

fn schema_out(s: &SchemaRecord) -> SchemaOut {
    SchemaOut {
        id: s.id,
        workspace_id: s.workspace_id,
        name: s.name.clone(),
        short_name: s.short_name.clone(),
        description: s.description.clone(),
        default_schema_version_id: s.default_version_id,
        created_by: s.created_by.clone(),
        created_on: iso(s.created_at),
        schema_versions: s.versions.iter().map(version_out).collect(),
    }
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/schemas", tag = "Schemas", summary = "List schemas",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    responses((status = 200, description = "Schemas with their versions", body = Vec<SchemaOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn schemas(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
) -> Result<Json<Vec<SchemaOut>>, ApiError> {
    let ws = parse_id("workspace", &ws)?;
    let (ws, _) = super::workspace(&state, &caller, ws, Action::ViewSchemas).await?;
    Ok(Json(
        state
            .store
            .schemas(ws.id)
            .await?
            .iter()
            .map(schema_out)
            .collect(),
    ))
}

async fn schema_of(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
    id: &str,
    action: Action,
) -> Result<(Arc<Workspace>, SchemaRecord), ApiError> {
    let ws = parse_id("workspace", ws)?;
    let (ws, _) = super::workspace(state, caller, ws, action).await?;
    let id = parse_id("schema", id)?;
    let s = state
        .store
        .schema(id)
        .await?
        .filter(|s| s.workspace_id == ws.id)
        .ok_or_else(|| ApiError::NotFound("schema not found".into()))?;
    Ok((ws, s))
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/schemas/{schema_id}", tag = "Schemas", summary = "Get a schema",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("schema_id" = String, Path, description = "Schema id")),
    responses((status = 200, description = "The schema", body = SchemaOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn schema(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<SchemaOut>, ApiError> {
    let (_, s) = schema_of(&state, &caller, &ws, &id, Action::ViewSchemas).await?;
    Ok(Json(schema_out(&s)))
}

#[utoipa::path(get, path = "/api/v2/workspaces/{workspace_id}/schemas/schemaversions/{version_id}", tag = "Schemas", summary = "Get a schema version",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("version_id" = String, Path, description = "Schema version id")),
    responses((status = 200, description = "The version", body = SchemaVersionOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn schema_version(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<SchemaVersionOut>, ApiError> {
    let wsid = parse_id("workspace", &ws)?;
    let (ws, _) = super::workspace(&state, &caller, wsid, Action::ViewSchemas).await?;
    let known = state
        .data()
        .version(&ws, parse_id("schema version", &id)?)
        .await?;
    Ok(Json(version_out(&known.version)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSchemaIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub short_name: String,
    #[serde(default)]
    pub description: String,
    /// `[{name, displayName, type, format, isRequired, isSortable, isFilterable, isKey, description, order}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub columns: Value,
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/schemas/add", tag = "Schemas", summary = "Create a schema (version 1 becomes the default)",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body = NewSchemaIn,
    responses((status = 201, description = "Created", body = SchemaOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn add_schema(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<NewSchemaIn>,
) -> Result<Response, ApiError> {
    let ws = parse_id("workspace", &ws)?;
    let (ws, _) = super::workspace(&state, &caller, ws, Action::ManageSchemas).await?;
    let s = state
        .data()
        .create_schema(
            &caller.actor(),
            &ws,
            &body.name,
            &body.short_name,
            &body.description,
            &body.columns,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(schema_out(&s))).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaPatch {
    pub name: Option<String>,
    pub short_name: Option<String>,
    pub description: Option<String>,
    /// Makes this version the default.
    pub default_schema_version_id: Option<Uuid>,
}

#[utoipa::path(patch, path = "/api/v2/workspaces/{workspace_id}/schemas/{schema_id}", tag = "Schemas", summary = "Change name, short name, description or default version",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("schema_id" = String, Path, description = "Schema id")),
    request_body = SchemaPatch,
    responses((status = 200, description = "The schema", body = SchemaOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn patch_schema(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SchemaPatch>,
) -> Result<Json<SchemaOut>, ApiError> {
    let (ws, s) = schema_of(&state, &caller, &ws, &id, Action::ManageSchemas).await?;
    let name = body
        .name
        .as_deref()
        .map(|n| dwb_core::validate::Name::parse("name", n))
        .transpose()?
        .map(|n| n.into_string());
    let now = state.clock.now();
    let e = event(
        &caller.actor(),
        ws.tenant_id,
        Some(ws.id),
        now,
        "SchemaUpdated",
        Resource {
            kind: "schema",
            id: s.id.to_string(),
            name: &s.name,
        },
    );
    let change = SchemaChange {
        name,
        short_name: body.short_name,
        description: body.description,
        default_version_id: body.default_schema_version_id,
    };
    Ok(Json(schema_out(
        &state.store.update_schema(s.id, change, now, e).await?,
    )))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSchemaVersionIn {
    pub schema_id: Uuid,
    #[serde(default)]
    pub schema_version_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub columns: Value,
}

#[utoipa::path(post, path = "/api/v2/workspaces/{workspace_id}/schemas/schemaversions/add", tag = "Schemas", summary = "Add a version to a schema",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body = NewSchemaVersionIn,
    responses((status = 201, description = "Created", body = SchemaVersionOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = [])))]
pub async fn add_version(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<NewSchemaVersionIn>,
) -> Result<Response, ApiError> {
    let (ws, s) = schema_of(
        &state,
        &caller,
        &ws,
        &body.schema_id.to_string(),
        Action::ManageSchemas,
    )
    .await?;
    let table = parse_columns(&body.columns)?;
    let name = if body.schema_version_name.trim().is_empty() {
        format!("Version {}", s.versions.len() + 1)
    } else {
        body.schema_version_name.trim().to_string()
    };
    let now = state.clock.now();
    let e = event(
        &caller.actor(),
        ws.tenant_id,
        Some(ws.id),
        now,
        "SchemaVersionAdded",
        Resource {
            kind: "schema",
            id: s.id.to_string(),
            name: &s.name,
        },
    );
    let v = state
        .store
        .add_schema_version(
            s.id,
            NewSchemaVersion {
                id: Uuid::new_v4(),
                name,
                description: body.description,
                columns: columns_json(&table),
            },
            now,
            e,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(version_out(&v))).into_response())
}
