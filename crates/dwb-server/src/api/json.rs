//! JSON and query input of the API: malformed input gets the API's error
//! shape with the problem named, never axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::api::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            // A body that grew over the limit without announcing its length
            // (chunked): axum's 413, which the app's layer answers in JSON
            // with the limit, as it does for a declared length.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(e.into_response()),
            Err(e) => Err(ApiError::BadRequest {
                field: None,
                message: match e {
                    JsonRejection::MissingJsonContentType(_) => {
                        "the body must be JSON with Content-Type: application/json".into()
                    }
                    other => format!("the JSON body is not valid: {}", other.body_text()),
                },
            }
            .into_response()),
        }
    }
}

pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| ApiError::BadRequest {
                field: None,
                message: format!("the query string is not valid: {}", e.body_text()),
            })
    }
}
