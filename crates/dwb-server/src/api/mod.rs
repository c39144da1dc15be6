//! The `/api/v2` data API behind the gateway, with the hosted Data
//! Workbench's shapes (camelCase JSON, paged results).

pub mod error;
pub mod json;
pub mod service_accounts;
pub mod types;
pub mod workspaces;

use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::auth::gateway::gateway;
use crate::state::AppState;

/// The routes under `/api/v2`; every one passes the gateway first.
pub fn router(state: &AppState) -> Router<AppState> {
    use service_accounts as sa;
    Router::new()
        .route(
            "/tenants/{tenant_id}/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/tenants/{tenant_id}/users/roles",
            get(workspaces::tenant_roles),
        )
        .route("/workspaces/{workspace_id}", get(workspaces::get_one))
        .route(
            "/workspaces/{workspace_id}/users/roles",
            get(workspaces::workspace_roles),
        )
        .route("/workspaces/{workspace_id}/ledger", get(workspaces::ledger))
        .route(
            "/workspaces/{workspace_id}/serviceaccounts",
            get(sa::list).post(sa::create),
        )
        .route(
            "/workspaces/{workspace_id}/serviceaccounts/{account_id}",
            get(sa::get_one).patch(sa::update).delete(sa::delete),
        )
        .route(
            "/workspaces/{workspace_id}/serviceaccounts/{account_id}/secret",
            post(sa::regenerate),
        )
        .route(
            "/workspaces/{workspace_id}/serviceaccounts/{account_id}/apikey",
            get(sa::api_key),
        )
        .fallback(|| async { error::ApiError::NotFound("no such endpoint".into()) })
        .route_layer(middleware::from_fn_with_state(state.clone(), gateway))
}
