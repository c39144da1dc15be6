//! Middleware around every request: a correlation id (taken from or returned
//! in `X-Correlation-ID`), one tracing span keyed on the matched route,
//! metrics, `Retry-After` on every 503, and the security headers every page
//! carries.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::state::AppState;

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Seconds a client is told to wait after a 503 (the store unavailable):
/// long enough not to hammer a recovering database, short enough that a
/// client is back soon after it returns.
pub const RETRY_AFTER_SECS: &str = "5";

tokio::task_local! {
    /// The correlation id of the request being answered, for error pages.
    pub static CORRELATION_ID: String;
}

/// The current request's correlation id, or "-" outside a request.
pub fn correlation_id() -> String {
    CORRELATION_ID
        .try_with(|c| c.clone())
        .unwrap_or_else(|_| "-".into())
}

fn incoming_id(req: &Request) -> Option<String> {
    let v = req.headers().get(CORRELATION_HEADER)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    ok.then(|| v.to_string())
}

pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let span = tracing::info_span!("request", %method, %route, correlation_id = %id);
    let mut resp = CORRELATION_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state.metrics.observe(&method, &route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(status, latency_ms = elapsed * 1000.0, "answered");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(CORRELATION_HEADER, v);
    }
    // Whoever answered 503 (the API, the portal, the token endpoint,
    // `/readyz`), the client learns when to try again.
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key(header::RETRY_AFTER)
    {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    resp
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    // Checked once, at compile time: `from_static` checks every byte when
    // it runs, and the policy is long (4,000 instructions on every request).
    const SET: [(HeaderName, HeaderValue); 4] = [
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(CSP),
        ),
        (
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ),
        (
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ),
        (
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in SET {
        h.insert(k, v);
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
