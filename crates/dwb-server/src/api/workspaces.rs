//! Tenants, workspaces, roles and the ledger under `/api/v2`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::paging::Page;
use dwb_core::policy::Action;
use dwb_core::principal::Principal;
use dwb_core::validate::{Description, Name, Region};
use dwb_store::{NewWorkspace, StoreError};
use uuid::Uuid;

use crate::access;
use crate::api::error::ApiError;
use crate::api::json::{ApiJson, ApiQuery};
use crate::api::types::{
    ledger_entry, ErrorBody, LedgerEntryOut, NewWorkspaceIn, PageParams, Paged, RoleOut,
    WorkspaceOut,
};
use crate::auth::gateway::ApiCaller;
use crate::ledger::{event, Resource};
use crate::state::AppState;

pub(crate) fn parse_id(field: &str, v: &str) -> Result<Uuid, ApiError> {
    v.parse()
        .map_err(|_| ApiError::NotFound(format!("{field} {v:?} not found")))
}

fn page_of(p: &PageParams) -> Result<Page, ApiError> {
    Ok(Page::parse(p.page_index, p.page_size)?)
}

fn paged<T: utoipa::ToSchema>(all: Vec<T>, page: Page) -> Paged<T> {
    let total = all.len() as i64;
    let result = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.size).unwrap_or(0))
        .collect();
    Paged {
        result,
        page_index: page.index,
        page_size: page.size,
        total_count: total,
        total_pages: page.total_pages(total),
    }
}

/// The workspaces of `tenant` the caller can see.
async fn visible(
    state: &AppState,
    who: &Principal,
    tenant: Uuid,
) -> Result<Vec<dwb_store::Workspace>, ApiError> {
    Ok(match who {
        Principal::ServiceAccount(a) => state
            .store
            .workspace(a.workspace_id)
            .await?
            .into_iter()
            .collect(),
        Principal::Person(p) if p.tenant_admin => state.store.tenant_workspaces(tenant).await?,
        Principal::Person(p) => state.store.user_workspaces(p.user_id).await?,
    })
}

#[utoipa::path(
    get,
    path = "/api/v2/tenants/{tenant_id}/workspaces",
    tag = "Workspaces",
    summary = "List the workspaces of a tenant",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "The workspaces the caller can see", body = Vec<WorkspaceOut>), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<WorkspaceOut>>, ApiError> {
    let tenant = parse_id("tenant", &tenant)?;
    access::tenant(&caller.principal, tenant, Action::ListWorkspaces)?;
    let list = visible(&state, &caller.principal, tenant).await?;
    Ok(Json(list.iter().map(WorkspaceOut::brief).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v2/tenants/{tenant_id}/workspaces",
    tag = "Workspaces",
    summary = "Create a workspace (tenant admins)",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    request_body = NewWorkspaceIn,
    responses((status = 201, description = "Created", body = WorkspaceOut), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(tenant): Path<String>,
    ApiJson(body): ApiJson<NewWorkspaceIn>,
) -> Result<Response, ApiError> {
    let tenant = parse_id("tenant", &tenant)?;
    access::tenant(&caller.principal, tenant, Action::CreateWorkspace)?;
    let name = Name::parse("name", &body.name)?;
    let description = Description::parse("description", &body.description)?;
    let region = Region::parse("region", &body.region)?;
    let id = Uuid::new_v4();
    let now = state.clock.now();
    let e = event(
        &caller.actor(),
        tenant,
        Some(id),
        now,
        "WorkspaceCreated",
        Resource {
            kind: "workspace",
            id: id.to_string(),
            name: name.as_str(),
        },
    );
    let ws = state
        .store
        .create_workspace(
            NewWorkspace {
                id,
                tenant_id: tenant,
                name: name.as_str().into(),
                description: description.into_string(),
                region: region.as_str().into(),
                created_by: None,
                now,
            },
            e,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::BadRequest {
                field: Some("name".into()),
                message: format!("name: a workspace named {:?} already exists", name.as_str()),
            },
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(WorkspaceOut::full(&ws))).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}",
    tag = "Workspaces",
    summary = "Get a workspace",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    responses((status = 200, description = "The workspace", body = WorkspaceOut), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
) -> Result<Json<WorkspaceOut>, ApiError> {
    let (ws, _) = super::workspace(
        &state,
        &caller,
        parse_id("workspace", &ws)?,
        Action::ViewWorkspace,
    )
    .await?;
    Ok(Json(WorkspaceOut::brief(&ws)))
}

#[utoipa::path(
    get,
    path = "/api/v2/tenants/{tenant_id}/users/roles",
    tag = "Roles",
    summary = "Roles across the tenant",
    params(("tenant_id" = String, Path, description = "Tenant id"), PageParams),
    responses((status = 200, description = "People and service accounts with their roles", body = Paged<RoleOut>), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn tenant_roles(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(tenant): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<Paged<RoleOut>>, ApiError> {
    let tenant = parse_id("tenant", &tenant)?;
    access::tenant(&caller.principal, tenant, Action::ViewTenantRoles)?;
    let page = page_of(&p)?;
    let ids: Vec<Uuid> = visible(&state, &caller.principal, tenant)
        .await?
        .iter()
        .map(|w| w.id)
        .collect();
    let holders = state.store.role_holders(&ids).await?;
    Ok(Json(paged(
        holders.iter().map(RoleOut::from).collect(),
        page,
    )))
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/users/roles",
    tag = "Roles",
    summary = "Roles in a workspace",
    params(("workspace_id" = String, Path, description = "Workspace id"), PageParams),
    responses((status = 200, description = "People and service accounts with their roles", body = Paged<RoleOut>), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn workspace_roles(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<Paged<RoleOut>>, ApiError> {
    let (ws, _) = super::workspace(
        &state,
        &caller,
        parse_id("workspace", &ws)?,
        Action::ViewMembers,
    )
    .await?;
    let page = page_of(&p)?;
    let holders = state.store.role_holders(&[ws.id]).await?;
    Ok(Json(paged(
        holders.iter().map(RoleOut::from).collect(),
        page,
    )))
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/ledger",
    tag = "Ledger",
    summary = "The workspace ledger",
    params(("workspace_id" = String, Path, description = "Workspace id"), PageParams),
    responses((status = 200, description = "Events, newest first", body = Paged<LedgerEntryOut>), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn ledger(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<Paged<LedgerEntryOut>>, ApiError> {
    let (ws, _) = super::workspace(
        &state,
        &caller,
        parse_id("workspace", &ws)?,
        Action::ViewLedger,
    )
    .await?;
    let page = page_of(&p)?;
    let (events, total) = state.store.workspace_events(ws.id, page).await?;
    Ok(Json(Paged {
        result: events.iter().map(ledger_entry).collect(),
        page_index: page.index,
        page_size: page.size,
        total_count: total,
        total_pages: page.total_pages(total),
    }))
}
