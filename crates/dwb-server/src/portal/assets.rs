//! The portal's vendored static files, compiled into the binary.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::PageError;

const FILES: [(&str, &str, &str); 3] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "apidocs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/apidocs.js"),
    ),
];

pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *body,
        )
            .into_response(),
        None => PageError::NotFound.into_response(),
    }
}

#[derive(askama::Template)]
#[template(path = "apidocs.html")]
struct ApiDocsPage {
    public_url: String,
}

/// `/api/docs`: the API description rendered by the vendored `apidocs.js`.
pub async fn api_docs(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Response {
    crate::portal::views::render(&ApiDocsPage {
        public_url: state.settings.public_url().to_string(),
    })
}
