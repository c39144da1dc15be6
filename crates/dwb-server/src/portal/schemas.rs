//! The Schemas tab (admins): each schema with its versions and columns,
//! creating a schema from one line per column, and choosing the default version.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use dwb_core::policy::Action;
use dwb_store::SchemaChange;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::datasets::DataError;
use crate::error::PageError;
use crate::ledger::{event, Resource};
use crate::portal::form::CsrfForm;
use crate::portal::session::SignedIn;
use crate::portal::views::{render, SchemaView, SchemasPage, VersionView, WsView};
use crate::portal::workspaces::{open, Opened};
use crate::state::AppState;

/// `name, type[, required][, key]` lines as API columns.
pub fn parse_lines(text: &str) -> Value {
    Value::Array(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let parts: Vec<&str> = l.split(',').map(str::trim).collect();
                let has = |w: &str| parts.iter().skip(2).any(|p| p.eq_ignore_ascii_case(w));
                json!({"name": parts[0], "type": parts.get(1).copied().unwrap_or(""),
                       "isRequired": has("required"), "isKey": has("key")})
            })
            .collect(),
    )
}

fn describe_columns(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let mut s = format!(
                        "{} ({})",
                        c["name"].as_str().unwrap_or(""),
                        c["type"].as_str().unwrap_or("")
                    );
                    if c["isRequired"].as_bool() == Some(true) {
                        s.push_str(", required");
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct FormState {
    notice: Option<String>,
    error: Option<String>,
    name: String,
    short: String,
    description: String,
    columns: String,
}

async fn page(
    state: &AppState,
    who: &SignedIn,
    o: &Opened,
    f: FormState,
) -> Result<Response, PageError> {
    let schemas = state
        .store
        .schemas(o.ws.id)
        .await?
        .iter()
        .map(|s| SchemaView {
            id: s.id.to_string(),
            name: s.name.clone(),
            short_name: s.short_name.clone(),
            description: s.description.clone(),
            versions: s
                .versions
                .iter()
                .map(|v| VersionView {
                    id: v.id.to_string(),
                    name: v.name.clone(),
                    columns: describe_columns(&v.columns),
                    default: s.default_version_id == Some(v.id),
                })
                .collect(),
        })
        .collect();
    let status = if f.error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut resp = render(&SchemasPage {
        nav: who.nav(),
        ws: WsView::from(o.ws.as_ref()),
        tab: "schemas",
        ws_admin: true,
        csrf: who.csrf.clone(),
        schemas,
        notice: f.notice,
        error: f.error,
        form_name: f.name,
        form_short: f.short,
        form_description: f.description,
        form_columns: f.columns,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    created: Option<String>,
    default: Option<String>,
}

pub async fn tab(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Result<Response, PageError> {
    let o = open(&state, &who, &id, Action::ManageSchemas).await?;
    let notice = n.created.map(|s| format!("Created the schema {s}.")).or(n
        .default
        .map(|s| format!("Changed the default version of {s}.")));
    page(
        &state,
        &who,
        &o,
        FormState {
            notice,
            ..Default::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct NewSchemaForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    short_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    columns: String,
}

pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<NewSchemaForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    let o = open(&state, &who, &id, Action::ManageSchemas).await?;
    let columns = parse_lines(&form.columns);
    match state
        .data()
        .create_schema(
            &who.actor(),
            &o.ws,
            &form.name,
            &form.short_name,
            &form.description,
            &columns,
        )
        .await
    {
        Ok(s) => {
            let q = serde_urlencoded::to_string([("created", s.name.as_str())]).unwrap_or_default();
            Ok(Redirect::to(&format!("/workspaces/{}/schemas?{q}", o.ws.id)).into_response())
        }
        Err(DataError::Invalid { field, message }) => {
            let f = FormState {
                error: Some(format!("Not created: {field} {message}.")),
                name: form.name,
                short: form.short_name,
                description: form.description,
                columns: form.columns,
                ..Default::default()
            };
            page(&state, &who, &o, f).await
        }
        Err(DataError::Store(e)) => Err(e.into()),
        Err(other) => Err(PageError::Internal(other.to_string())),
    }
}

#[derive(Debug, Deserialize)]
pub struct DefaultForm {
    #[serde(default)]
    version: String,
}

pub async fn make_default(
    State(state): State<AppState>,
    Path((id, schema)): Path<(String, String)>,
    f: CsrfForm<DefaultForm>,
) -> Result<Response, PageError> {
    let (who, form) = (f.who, f.form);
    let o = open(&state, &who, &id, Action::ManageSchemas).await?;
    let schema: Uuid = schema.parse().map_err(|_| PageError::NotFound)?;
    let version: Uuid = form.version.parse().map_err(|_| PageError::NotFound)?;
    let s = state
        .store
        .schema(schema)
        .await?
        .filter(|s| s.workspace_id == o.ws.id)
        .ok_or(PageError::NotFound)?;
    let now = state.clock.now();
    let e = event(
        &who.actor(),
        o.ws.tenant_id,
        Some(o.ws.id),
        now,
        "SchemaUpdated",
        Resource {
            kind: "schema",
            id: s.id.to_string(),
            name: &s.name,
        },
    );
    let change = SchemaChange {
        default_version_id: Some(version),
        ..Default::default()
    };
    state.store.update_schema(s.id, change, now, e).await?;
    let q = serde_urlencoded::to_string([("default", s.name.as_str())]).unwrap_or_default();
    Ok(Redirect::to(&format!("/workspaces/{}/schemas?{q}", o.ws.id)).into_response())
}
