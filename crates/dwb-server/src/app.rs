//! `build_router(state)`: every route of the application, used by `serve` and by tests.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::auth::discovery;
use crate::http::{middleware as mw, ops};
use crate::portal::{
    activity, api_tab, assets, auth, dataset_rows, datasets, import, members, schemas, workspaces,
};
use crate::state::AppState;

pub fn build_router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/static/{file}", get(assets::file))
        .route("/api/docs", get(assets::api_docs))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .merge(crate::api::router(&state))
        .route("/", get(auth::home))
        .route("/signin", post(auth::sign_in))
        .route("/signout", post(auth::sign_out))
        .route(
            "/account/password",
            get(auth::password_page).post(auth::change_password),
        )
        .route(
            "/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route("/workspaces/{id}", get(workspaces::show))
        .route(
            "/workspaces/{id}/members",
            get(members::tab).post(members::add),
        )
        .route(
            "/workspaces/{id}/members/{user}/role",
            post(members::change_role),
        )
        .route(
            "/workspaces/{id}/members/{user}/remove",
            post(members::remove),
        )
        .route("/workspaces/{id}/activity", get(activity::tab))
        .route("/workspaces/{id}/api", get(api_tab::home))
        .route(
            "/workspaces/{id}/api/new",
            get(api_tab::new_form).post(api_tab::create),
        )
        .route("/workspaces/{id}/api/{acct}", get(api_tab::account))
        .route(
            "/workspaces/{id}/api/{acct}/details",
            post(api_tab::save_details),
        )
        .route(
            "/workspaces/{id}/api/{acct}/access",
            post(api_tab::save_access),
        )
        .route("/workspaces/{id}/api/{acct}/datasets", get(api_tab::pick))
        .route(
            "/workspaces/{id}/api/{acct}/secret",
            post(api_tab::regenerate),
        )
        .route("/workspaces/{id}/api/{acct}/delete", post(api_tab::delete))
        .route(
            "/workspaces/{id}/api/{acct}/python",
            get(api_tab::python_download).post(api_tab::python_with_secret),
        )
        .route(
            "/workspaces/{id}/schemas",
            get(schemas::tab).post(schemas::create),
        )
        .route(
            "/workspaces/{id}/schemas/{schema}/default",
            post(schemas::make_default),
        )
        .route("/workspaces/{id}/datasets", get(datasets::tab))
        .route(
            "/workspaces/{id}/datasets/import",
            post(import::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/workspaces/{id}/datasets/{ds}", get(datasets::page))
        .route(
            "/workspaces/{id}/datasets/{ds}/rows/add",
            post(dataset_rows::add).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/workspaces/{id}/datasets/{ds}/rows/replace",
            post(dataset_rows::replace).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/workspaces/{id}/datasets/{ds}/revoke/{acct}",
            post(datasets::revoke),
        )
        .route(
            "/workspaces/{id}/datasets/{ds}/derive",
            post(datasets::save_as),
        )
        .fallback(|| async { crate::error::PageError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), mw::observe))
        .layer(middleware::from_fn(mw::security_headers))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
