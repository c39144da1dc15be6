//! The `/api/v2` data API behind the gateway, with the hosted Data
//! Workbench's shapes (camelCase JSON, paged results), and its OpenAPI 3.1
//! description, generated from the same handler annotations that build the
//! router, so a route cannot exist without being described.

pub mod datasets;
pub mod derived;
pub mod error;
pub mod ingest;
pub mod json;
pub mod lake_files;
pub mod service_accounts;
pub mod types;
pub mod workspaces;

use std::sync::Arc;

use axum::routing::{any, get, put};
use axum::{middleware, Json, Router};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes,
    SecurityScheme,
};
use utoipa::openapi::{OpenApi, ServerBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::gateway::gateway;
use crate::auth::token;
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "dwb API",
        description = "The Data Workbench API v2 as dwb serves it. Every `/api/v2` call needs the \
                       `Ocp-Apim-Subscription-Key` header (the service account's API key) and \
                       `Authorization: Bearer <token>` from `/oauth2/token`.",
    ),
    tags(
        (name = "Authentication", description = "OAuth2 client credentials"),
        (name = "Workspaces"), (name = "Roles"), (name = "Ledger"), (name = "Service accounts"), (name = "Data sets"), (name = "Schemas"), (name = "Ingest"),
    )
)]
struct ApiDoc;

/// Workspace `id` when the API caller may do `action` in it (one cached read).
pub(crate) async fn workspace(
    state: &AppState,
    caller: &crate::auth::gateway::ApiCaller,
    id: uuid::Uuid,
    action: dwb_core::policy::Action,
) -> Result<(Arc<dwb_store::Workspace>, dwb_core::principal::Standing), error::ApiError> {
    Ok(crate::access::workspace(
        &state.workspaces,
        state.store.as_ref(),
        &caller.principal,
        id,
        action,
    )
    .await?)
}

/// The description, with security schemes and the public URL as server.
fn describe(mut doc: OpenApi, public_url: &str) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "subscriptionKey",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Ocp-Apim-Subscription-Key",
            "The service account's API key",
        ))),
    );
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "oauth2",
        SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(
            ClientCredentials::new(format!("{public_url}/oauth2/token"), Scopes::new()),
        )])),
    );
    doc.servers = Some(vec![ServerBuilder::new().url(public_url).build()]);
    doc
}

/// The routes under `/api/v2` (each passing the gateway), `/oauth2/token`
/// and `/api/v2/openapi.json`.
pub fn router(state: &AppState) -> Router<AppState> {
    use datasets as ds;
    use service_accounts as sa;
    let api = OpenApiRouter::<AppState>::new()
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(workspaces::tenant_roles))
        .routes(routes!(workspaces::get_one))
        .routes(routes!(workspaces::workspace_roles))
        .routes(routes!(workspaces::ledger))
        .routes(routes!(sa::list, sa::create))
        .routes(routes!(sa::get_one, sa::update, sa::delete))
        .routes(routes!(sa::regenerate))
        .routes(routes!(sa::api_key))
        .routes(routes!(sa::sample_python))
        .routes(routes!(ds::list))
        .routes(routes!(ds::catalogue))
        .routes(routes!(ds::get_one, ds::delete))
        .routes(routes!(ds::rows))
        .routes(routes!(ds::schemas))
        .routes(routes!(ds::add_schema))
        .routes(routes!(ds::schema, ds::patch_schema))
        .routes(routes!(ds::schema_version))
        .routes(routes!(ds::add_version))
        .routes(routes!(derived::derive))
        .routes(routes!(lake_files::sas))
        .routes(routes!(ingest::create))
        .routes(routes!(ingest::status))
        .routes(routes!(ingest::start))
        .route_layer(middleware::from_fn_with_state(state.clone(), gateway));
    // The handlers' paths include `/api/v2`: merged, not nested (a nested
    // router rewrites every request's URI on the way in).
    let (router, doc) =
        OpenApiRouter::<AppState>::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
            .merge(api)
            .routes(routes!(token::token))
            .split_for_parts();
    let doc = Arc::new(
        serde_json::to_value(describe(doc, state.settings.public_url())).unwrap_or_default(),
    );
    router
        .route(
            "/api/v2/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        // Signed links: the signature is the credential, so no gateway.
        .route("/upload/{job_id}", put(ingest::upload))
        .route("/lake/{dataset_id}", get(lake_files::list))
        .route("/lake/{dataset_id}/{*path}", get(lake_files::file))
        .route(
            "/api/v2/{*rest}",
            any(|| async { error::ApiError::NotFound("no such endpoint".into()) }),
        )
}
