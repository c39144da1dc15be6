//! `POST /oauth2/token`: the client-credentials grant of RFC 6749, with
//! client credentials in the form or in HTTP Basic, `resource` (as Azure AD
//! v1 clients send it) or `scope`, and RFC 6749 §5.2 errors. A wrong secret
//! and an unknown client id look and take the same.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dwb_core::credentials::{secret_matches, secret_state, SecretState};
use dwb_core::jwt::Claims;
use serde_json::json;
use uuid::Uuid;

use crate::api::types::iso;
use crate::ledger::{event, Actor, Resource};
use crate::state::AppState;
use crate::throttle::{Limit, PER_ADDRESS};

/// Failed client authentications allowed per client id before a pause.
const PER_CLIENT: Limit = Limit {
    failures: 10,
    window_secs: 15 * 60,
};

/// An RFC 6749 §5.2 error.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<i64>,
}

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status,
        error,
        description: description.into(),
        retry_after: None,
    }
}

fn invalid_client(description: &str) -> OAuthError {
    oauth(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"dwb\""),
            );
        }
        if let Some(s) = self
            .retry_after
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            r.headers_mut().insert(header::RETRY_AFTER, s);
        }
        r
    }
}

/// The form's parameters; a parameter given twice is an error (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
    })?;
    // A set, not a scan of the pairs before each: a form of 100,000 keys
    // must not cost 5 billion comparisons.
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    for (k, _) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the parameter {k} is given more than once"),
            ));
        }
    }
    Ok(pairs)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Client credentials from HTTP Basic (form-url-encoded id and secret) or from the form.
fn client_credentials(
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<(String, String), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let in_form = param(pairs, "client_secret").is_some();
    match basic {
        Some(b64) => {
            if in_form {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "send client credentials either in the Authorization header or in the form, not both",
                ));
            }
            let raw = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_client("the Basic authorization header is not valid base64 of client_id:client_secret"))?;
            let (id, secret) = raw.split_once(':').ok_or_else(|| {
                invalid_client("the Basic authorization header must hold client_id:client_secret")
            })?;
            let decode = |s: &str| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .map(|(_, v)| v)
                    .unwrap_or_else(|| s.to_string())
            };
            Ok((decode(id), decode(secret)))
        }
        None => {
            let id = param(pairs, "client_id").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id is missing",
                )
            })?;
            let secret = param(pairs, "client_secret").ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_secret is missing",
                )
            })?;
            Ok((id.to_string(), secret.to_string()))
        }
    }
}

/// The requested resource or scope, checked against the allowed audiences.
fn requested_resource(state: &AppState, pairs: &[(String, String)]) -> Result<String, OAuthError> {
    let requested = param(pairs, "resource")
        .map(str::to_string)
        .or_else(|| {
            param(pairs, "scope").map(|s| {
                s.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches("/.default")
                    .to_string()
            })
        })
        .filter(|s| !s.is_empty());
    let allowed = &state.settings.allowed_audiences;
    match requested {
        Some(r) if !allowed.is_empty() && !allowed.iter().any(|a| a == &r) => Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            format!(
                "the resource {r:?} is not served here; allowed: {}",
                allowed.join(", ")
            ),
        )),
        Some(r) => Ok(r),
        None => Ok(state.settings.audience().to_string()),
    }
}

#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "Authentication",
    summary = "Get an access token (OAuth2 client credentials)",
    request_body(content = crate::api::types::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer token for /api/v2", body = crate::api::types::TokenOut),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_target", body = crate::api::types::OAuthErrorOut),
        (status = 401, description = "invalid_client: wrong or expired credentials", body = crate::api::types::OAuthErrorOut),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::api::types::OAuthErrorOut),
    ),
    security((), ("oauth2" = []))
)]
pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match issue(&state, addr, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn issue(
    state: &AppState,
    addr: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    // Every grant is recorded: none is made while the ledger has no room.
    if !state
        .usage
        .wait_for_room(crate::auth::usage::ROOM_WAIT)
        .await
    {
        return Err(oauth(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the store cannot keep up with the ledger; try again",
        ));
    }
    let pairs = parse_form(body)?;
    match param(&pairs, "grant_type") {
        None => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            ))
        }
        Some("client_credentials") => {}
        Some(other) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use client_credentials"),
            ))
        }
    }
    let (client_id, secret) = client_credentials(headers, &pairs)?;
    let resource = requested_resource(state, &pairs)?;
    let now = state.clock.now();
    let client_key = format!("token-client:{client_id}");
    let addr_key = format!("token-addr:{}", addr.ip());
    for key in [&client_key, &addr_key] {
        if let Err(wait) = state.throttle.check(key, now) {
            let mut e = oauth(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!("too many failed client authentications; retry in {wait} seconds"),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
    }
    let account = match client_id.parse::<Uuid>() {
        Ok(id) => state
            .accounts
            .get(state.store.as_ref(), id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "token endpoint cannot read accounts");
                oauth(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the store is unavailable; try again",
                )
            })?,
        Err(_) => None,
    };
    // An unknown client checks against a digest that never matches: same work, same answer.
    let stored = account
        .as_ref()
        .map(|a| a.secret_digest.as_str())
        .unwrap_or("0");
    let ok = secret_matches(&secret, stored) && account.is_some();
    let Some(account) = account.filter(|_| ok) else {
        state.throttle.failed(&client_key, PER_CLIENT, now);
        state.throttle.failed(&addr_key, PER_ADDRESS, now);
        return Err(invalid_client(
            "the client id or the client secret is not correct",
        ));
    };
    let a = &account.account;
    if secret_state(a.secret_expires_at, now) == SecretState::Expired {
        return Err(invalid_client(&format!(
            "the service account secret expired on {}; regenerate it in the workspace's API management tab",
            iso(a.secret_expires_at)
        )));
    }
    state.throttle.succeeded(&client_key);
    let lifetime = state.settings.token_lifetime_secs;
    let claims = Claims {
        iss: state.settings.issuer().to_string(),
        sub: a.id.to_string(),
        aud: state.settings.audience().to_string(),
        iat: now.secs(),
        nbf: now.secs(),
        exp: now.secs() + lifetime,
        jti: Uuid::new_v4().to_string(),
        appid: a.id.to_string(),
        tid: a.tenant_id.to_string(),
        ws: a.workspace_id.to_string(),
        gen: a.secret_generation,
    };
    let token = state.keyring.signer().sign(&claims);
    let actor = Actor {
        kind: "service_account",
        id: Some(a.id),
        name: a.name.clone(),
    };
    let mut e = event(
        &actor,
        a.tenant_id,
        Some(a.workspace_id),
        now,
        "TokenIssued",
        Resource {
            kind: "service_account",
            id: a.id.to_string(),
            name: &a.name,
        },
    );
    e.detail = json!({"address": addr.ip().to_string(), "resource": resource});
    state.usage.record(None, e);
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "expires_on": (now.secs() + lifetime).to_string(),
            "not_before": now.secs().to_string(),
            "resource": resource,
        })),
    )
        .into_response())
}
