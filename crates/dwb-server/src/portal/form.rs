//! Form input for state-changing portal requests: the body is read through
//! here, so every such request is refused unless it carries the CSRF token
//! of the signed-in session.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use dwb_core::secret::constant_time_eq;
use serde::de::DeserializeOwned;

use crate::error::PageError;
use crate::portal::session::SignedIn;
use crate::state::AppState;

/// A form posted by a signed-in person, with its CSRF token checked.
pub struct CsrfForm<T> {
    pub who: SignedIn,
    pub form: T,
}

/// Reads a url-encoded body within the configured size limit.
pub async fn read_form<T: DeserializeOwned>(
    body: axum::body::Body,
    state: &AppState,
) -> Result<(T, Option<String>), PageError> {
    let bytes = axum::body::to_bytes(body, state.settings.max_body_bytes)
        .await
        .map_err(|_| PageError::TooLarge)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
        PageError::BadRequest("The form could not be read. Reload the page and try again.".into())
    })?;
    let csrf = pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
    let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        PageError::BadRequest(format!(
            "The form could not be read ({e}). Reload the page and try again."
        ))
    })?;
    Ok((form, csrf))
}

/// The upload could not be read as a form.
pub(crate) fn unreadable<E>(_: E) -> PageError {
    PageError::BadRequest("The upload could not be read. Reload the page and try again.".into())
}

/// An upload form (multipart), refused unless its first field is the
/// session's CSRF token (the portal's forms put it first): checked before
/// anything else of the request is looked at or recorded.
pub async fn csrf_multipart(
    who: &SignedIn,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Multipart, PageError> {
    let mut form = form.map_err(unreadable)?;
    let given = match form.next_field().await.map_err(unreadable)? {
        Some(f) if f.name() == Some("csrf") => Some(f.text().await.map_err(unreadable)?),
        _ => None,
    };
    if !csrf_ok(given.as_deref(), &who.csrf) {
        return Err(PageError::Csrf);
    }
    Ok(form)
}

/// True when the form's token matches the expected one.
pub fn csrf_ok(given: Option<&str>, expected: &str) -> bool {
    matches!(given, Some(g) if !expected.is_empty() && constant_time_eq(g, expected))
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let who = SignedIn::from_request_parts(&mut parts, state).await?;
        let (form, csrf) = read_form(body, state).await?;
        if !csrf_ok(csrf.as_deref(), &who.csrf) {
            return Err(PageError::Csrf);
        }
        Ok(Self { who, form })
    }
}
