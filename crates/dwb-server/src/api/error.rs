//! The API's one error type and its mapping to HTTP: a JSON body
//! `{statusCode, message, field?}`; 500s show only a correlation id.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dwb_core::CoreError;
use dwb_store::StoreError;
use serde_json::json;

use crate::access::Refusal;
use crate::http::middleware::correlation_id;

#[derive(Debug)]
pub enum ApiError {
    /// Invalid input; names the field.
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// Missing or invalid credentials; `bearer` adds `WWW-Authenticate: Bearer error="invalid_token"`.
    Unauthorized {
        message: String,
        bearer: bool,
    },
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    Unavailable,
    /// The lake's disk is full (507) or read-only (503).
    Unwritable(dwb_lake::Unwritable),
    Internal(String),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        Self::BadRequest {
            field: Some(e.field.to_string()),
            message: e.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::LastAdmin => {
                Self::Conflict("a workspace must keep at least one admin".into())
            }
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "store unavailable");
                Self::Unavailable
            }
            other @ (StoreError::Open { .. } | StoreError::Corrupt(_) | StoreError::Failed(_)) => {
                Self::Internal(other.to_string())
            }
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => Self::NotFound("not found, or not visible to this caller".into()),
            Refusal::Forbidden(why) => Self::Forbidden(format!("forbidden: {why}")),
            Refusal::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, field) = match self {
            Self::BadRequest { field, message } => (StatusCode::BAD_REQUEST, message, field),
            Self::Unauthorized { message, bearer } => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"statusCode": 401, "message": message})),
                )
                    .into_response();
                let challenge = if bearer {
                    format!(
                        "Bearer realm=\"dwb\", error=\"invalid_token\", error_description=\"{}\"",
                        message.replace('"', "'")
                    )
                } else {
                    "Bearer realm=\"dwb\"".to_string()
                };
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return r;
            }
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m, None),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m, None),
            Self::Conflict(m) => (StatusCode::CONFLICT, m, None),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the control store is unavailable; try again shortly".into(),
                None,
            ),
            Self::Unwritable(u) => {
                tracing::error!(cause = %u, "the lake refuses writes");
                let status = match u {
                    dwb_lake::Unwritable::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
                    dwb_lake::Unwritable::ReadOnly => StatusCode::SERVICE_UNAVAILABLE,
                };
                (status, u.to_string(), None)
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                let id = correlation_id();
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal error; correlation id {id}"),
                    None,
                )
            }
        };
        let mut body = json!({"statusCode": status.as_u16(), "message": message});
        if let Some(f) = field {
            body["field"] = json!(f);
        }
        (status, Json(body)).into_response()
    }
}
