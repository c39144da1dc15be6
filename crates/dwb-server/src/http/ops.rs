//! Operations endpoints: `/healthz` (process up), `/readyz` (store
//! reachable) and `/metrics` (Prometheus text).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            unavailable("the control store cannot be reached")
        }
        Err(_) => unavailable("the control store did not answer within 2 seconds"),
    }
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "reason": reason})),
    )
        .into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        // A store that falls behind the calls shows as a growing backlog
        // of ledger events (and the server's memory with it).
        state.metrics.render_with(&[
            (
                "dwb_usage_pending_events",
                "gauge",
                "API ledger events waiting to be written to the store.",
                state.usage.pending() as u64,
            ),
            (
                "dwb_usage_dropped_events_total",
                "counter",
                "API ledger events dropped (buffer full or refused by the store).",
                state.usage.dropped_total(),
            ),
        ]),
    )
        .into_response()
}
