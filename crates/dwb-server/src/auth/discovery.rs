//! `/.well-known/jwks.json` and the OpenID / OAuth authorization-server
//! metadata, so that standard OAuth2 libraries configure themselves.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keyring.with_verifying(|k| k.jwks())),
    )
        .into_response()
}

pub async fn metadata(State(state): State<AppState>) -> Response {
    let base = state.settings.public_url();
    Json(json!({
        "issuer": state.settings.issuer(),
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "scopes_supported": [state.settings.audience(), format!("{}/.default", state.settings.audience())],
        "service_documentation": format!("{base}/api/v2/openapi.json"),
    }))
    .into_response()
}
