//! Errors of the HTTP layer and their one mapping to responses. A 500 shows
//! only a correlation id; its cause goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_store::StoreError;

use crate::http::middleware::correlation_id;
use crate::portal::views::{render, ErrorPage};

/// What can go wrong while answering a portal page.
#[derive(Debug)]
pub enum PageError {
    /// No valid session: go to the sign-in page.
    SignIn,
    /// Signed in with a one-time password: change it first.
    MustChangePassword,
    NotFound,
    Forbidden(String),
    BadRequest(String),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The request body is larger than `max_body_bytes`.
    TooLarge,
    TooManyAttempts {
        retry_after_secs: i64,
    },
    Unavailable,
    /// A bug or a failure of ours; the text goes to the log only.
    Internal(String),
}

impl From<crate::access::Refusal> for PageError {
    fn from(r: crate::access::Refusal) -> Self {
        match r {
            crate::access::Refusal::NotFound => Self::NotFound,
            crate::access::Refusal::Forbidden(why) => {
                Self::Forbidden(format!("You cannot do that: {why}."))
            }
            crate::access::Refusal::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => Self::NotFound,
            StoreError::Conflict(what) => Self::BadRequest(format!("{what} already exists.")),
            StoreError::LastAdmin => {
                Self::BadRequest("A workspace must keep at least one admin.".into())
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

fn page(status: StatusCode, title: &str, message: String, correlation: bool) -> Response {
    let mut resp = render(&ErrorPage {
        nav: None,
        title: title.into(),
        message,
        correlation_id: correlation.then(correlation_id),
    });
    *resp.status_mut() = status;
    resp
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/").into_response(),
            Self::MustChangePassword => Redirect::to("/account/password").into_response(),
            Self::NotFound => page(
                StatusCode::NOT_FOUND,
                "Not found",
                "This page does not exist, or you do not have access to it.".into(),
                false,
            ),
            Self::Forbidden(why) => page(StatusCode::FORBIDDEN, "Not allowed", why, false),
            Self::BadRequest(why) => page(StatusCode::BAD_REQUEST, "Cannot do that", why, false),
            Self::Csrf => page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "The form was old or came from another site, so nothing was changed. Go back, reload the page and try again."
                    .into(),
                false,
            ),
            Self::TooLarge => page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "What you sent is larger than this server accepts.".into(),
                false,
            ),
            Self::TooManyAttempts { retry_after_secs } => {
                let mut r = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    format!("Too many failed sign-ins. Wait {retry_after_secs} seconds, then try again."),
                    false,
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Self::Unavailable => page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "dwb cannot reach its database right now. Try again in a moment.".into(),
                true,
            ),
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "Something went wrong on our side. Nothing you did caused it. Quote the correlation id below when you report it."
                        .into(),
                    true,
                )
            }
        }
    }
}
