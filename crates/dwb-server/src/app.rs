//! `build_router(state)`: every route of the application, used by `serve` and by tests.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;

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
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            too_large_as_json(max_body, req, next)
        }))
        .layer(middleware::from_fn_with_state(state.clone(), mw::observe))
        .layer(middleware::from_fn(mw::security_headers))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// A body over `max_body_bytes` on `/api/` or `/oauth2/` gets 413 with a
/// JSON body in that API's error shape: refused up front when
/// `Content-Length` says so, and axum's plain-text 413 (a body without a
/// length that grew too big) is replaced. Other paths keep their own pages.
async fn too_large_as_json(max: usize, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let oauth = path.starts_with("/oauth2/");
    if !oauth && !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        // What the client sends is read and dropped (up to 16 times the
        // limit) before the answer: a connection closed with unread data is
        // reset, and the client could lose the 413 on the way.
        let _ = axum::body::to_bytes(req.into_body(), max.saturating_mul(16)).await;
        return too_large(oauth, max);
    }
    let resp = next.run(req).await;
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large(oauth, max);
    }
    resp
}

fn too_large(oauth: bool, max: usize) -> Response {
    let message =
        format!("the request body is larger than {max} bytes, the most this server accepts");
    let body = if oauth {
        json!({"error": "invalid_request", "error_description": message})
    } else {
        json!({"statusCode": 413, "message": message})
    };
    (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
}
