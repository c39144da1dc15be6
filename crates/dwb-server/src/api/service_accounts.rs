//! The management API for service accounts:
//! `/api/v2/workspaces/{workspaceId}/serviceaccounts[/{id}[/secret|/apikey]]`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dwb_core::access::Access;
use dwb_core::policy::Action;
use dwb_core::CoreError;
use dwb_store::Workspace;
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::api::json::ApiJson;
use crate::api::types::{
    iso, ApiKeyOut, CreatedServiceAccountOut, CredentialsOut, ErrorBody, NewServiceAccountIn,
    SecretOut, ServiceAccountOut, ServiceAccountPatch,
};
use crate::api::workspaces::parse_id as parse_path_id;
use crate::auth::gateway::ApiCaller;
use crate::service_accounts::{endpoints_base_url, token_url, OpError, Ops};
use crate::state::AppState;

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(e) => e.into(),
            OpError::Store(e) => e.into(),
            OpError::Sealed(m) => ApiError::Internal(m),
        }
    }
}

fn ops(state: &AppState) -> Ops<'_> {
    Ops {
        store: state.store.as_ref(),
        master: &state.master,
        now: state.clock.now(),
    }
}

async fn workspace(
    state: &AppState,
    caller: &ApiCaller,
    ws: &str,
    action: Action,
) -> Result<Arc<Workspace>, ApiError> {
    let id = parse_path_id("workspace", ws)?;
    Ok(super::workspace(state, caller, id, action).await?.0)
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts",
    tag = "Service accounts",
    summary = "List service accounts",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    responses((status = 200, description = "The workspace's service accounts", body = Vec<ServiceAccountOut>), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
) -> Result<Json<Vec<ServiceAccountOut>>, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ViewServiceAccounts).await?;
    let list = state.store.service_accounts(ws.id).await?;
    Ok(Json(list.iter().map(ServiceAccountOut::from).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts",
    tag = "Service accounts",
    summary = "Create a service account",
    params(("workspace_id" = String, Path, description = "Workspace id")),
    request_body = NewServiceAccountIn,
    responses((status = 201, description = "Created; the secret is shown only here", body = CreatedServiceAccountOut), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<NewServiceAccountIn>,
) -> Result<Response, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let access = body.access.map(|a| a.parse()).transpose()?;
    let (account, creds) = ops(&state)
        .create(
            &caller.actor(),
            &ws,
            &body.name,
            &body.contact_email,
            access,
        )
        .await?;
    let public = state.settings.public_url();
    let out = CreatedServiceAccountOut {
        account: ServiceAccountOut::from(&account),
        credentials: CredentialsOut {
            service_account_id: creds.client_id,
            service_account_secret: creds.secret.expose().to_string(),
            api_key: creds.api_key.expose().to_string(),
            token_url: token_url(public),
            endpoints_base_url: endpoints_base_url(public, ws.id),
            secret_expires_at: iso(account.secret_expires_at),
        },
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

fn account_id(v: &str) -> Result<Uuid, ApiError> {
    parse_path_id("service account", v)
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}",
    tag = "Service accounts",
    summary = "Get a service account",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    responses((status = 200, description = "The account", body = ServiceAccountOut), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<ServiceAccountOut>, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ViewServiceAccounts).await?;
    let a = ops(&state).get(&ws, account_id(&id)?).await?;
    Ok(Json(ServiceAccountOut::from(&a)))
}

#[utoipa::path(
    patch,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}",
    tag = "Service accounts",
    summary = "Change name, contact email or access",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    request_body = ServiceAccountPatch,
    responses((status = 200, description = "The changed account", body = ServiceAccountOut), (status = 400, description = "Invalid input; names the field", body = ErrorBody), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(patch): ApiJson<ServiceAccountPatch>,
) -> Result<Json<ServiceAccountOut>, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let id = account_id(&id)?;
    let o = ops(&state);
    let current = o.get(&ws, id).await?;
    let mut access = patch.access.map(|a| a.parse()).transpose()?;
    if !patch.add_dataset_ids.is_empty() || !patch.remove_dataset_ids.is_empty() {
        let base = access.clone().unwrap_or_else(|| current.access.clone());
        let Access::Datasets(mut ids) = base else {
            return Err(CoreError::new(
                "addDatasetIds",
                "applies only to accounts with selected data sets; change access to type datasets first",
            )
            .into());
        };
        ids.extend(patch.add_dataset_ids.iter().copied());
        ids.retain(|d| !patch.remove_dataset_ids.contains(d));
        access = Some(Access::datasets("addDatasetIds", ids)?);
    }
    let a = o
        .update(
            &caller.actor(),
            &ws,
            id,
            patch.name.as_deref(),
            patch.contact_email.as_deref(),
            access,
        )
        .await?;
    state.accounts.invalidate(id);
    Ok(Json(ServiceAccountOut::from(&a)))
}

#[utoipa::path(
    post,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}/secret",
    tag = "Service accounts",
    summary = "Regenerate the secret",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    responses((status = 200, description = "A new secret, shown once; the old one and its tokens stop working", body = SecretOut), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn regenerate(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<SecretOut>, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let id = account_id(&id)?;
    let (a, secret) = ops(&state).regenerate(&caller.actor(), &ws, id).await?;
    state.accounts.invalidate(id);
    Ok(Json(SecretOut {
        service_account_id: a.id,
        service_account_secret: secret.expose().to_string(),
        secret_expires_at: iso(a.secret_expires_at),
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}",
    tag = "Service accounts",
    summary = "Delete a service account",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    responses((status = 204, description = "Deleted; its credentials and tokens stop working"), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let id = account_id(&id)?;
    ops(&state).delete(&caller.actor(), &ws, id).await?;
    state.accounts.invalidate(id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}/apikey",
    tag = "Service accounts",
    summary = "Show the API key again",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    responses((status = 200, description = "The API key", body = ApiKeyOut), (status = 401, description = "Missing or invalid API key or token", body = ErrorBody), (status = 403, description = "Authenticated, not allowed; says what access is needed", body = ErrorBody), (status = 404, description = "Not found, or not visible to the caller", body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn api_key(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Json<ApiKeyOut>, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let key = ops(&state).api_key(&ws, account_id(&id)?).await?;
    Ok(Json(ApiKeyOut {
        api_key: key.expose().to_string(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v2/workspaces/{workspace_id}/serviceaccounts/{account_id}/sample-python",
    tag = "Service accounts",
    summary = "The ready-to-run Python script of an account (reads the secret from DWB_CLIENT_SECRET)",
    params(("workspace_id" = String, Path, description = "Workspace id"), ("account_id" = String, Path, description = "Service account ID")),
    responses((status = 200, description = "A Python script", content_type = "text/x-python", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("subscriptionKey" = [], "bearer" = []))
)]
pub async fn sample_python(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ws = workspace(&state, &caller, &ws, Action::ManageServiceAccounts).await?;
    let o = ops(&state);
    let a = o.get(&ws, account_id(&id)?).await?;
    let key = o.api_key(&ws, a.id).await?;
    let script = crate::sample_python::render(&crate::sample_python::Sample {
        public_url: state.settings.public_url(),
        workspace_id: ws.id,
        client_id: a.id,
        api_key: key.expose(),
        secret: None,
        account_name: &a.name,
    });
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/x-python; charset=utf-8",
        )],
        script,
    )
        .into_response())
}
